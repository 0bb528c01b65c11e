"""messenger_e2ee: bad input, and not claiming (nor being claimed by) the DYI JSON export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.adapters import facebook, messenger_e2ee
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_dyi_json_export_is_not_ours_and_ours_is_not_facebooks():
    with open_source(FIXTURES / "facebook" / "dyi_2020" / "input") as s:
        assert not messenger_e2ee.detect(s)
    with open_source(FIXTURES / "messenger_e2ee" / "secure_storage_2024" / "input") as s:
        assert not facebook.detect(s)


def test_cut_short_file(tmp_path):
    _write(tmp_path, "Bruno_1.json", '{"participants": ["A", "B"], "threadName": "Bruno", "messages": [{"senderName": "A", ')
    with open_source(tmp_path) as s, pytest.raises(IngestError) as err:
        messenger_e2ee.read(s)
    assert "Bruno_1.json: line 1 column" in err.value.one_line()


def test_messages_not_a_list(tmp_path):
    _write(tmp_path, "Bruno_1.json", json.dumps({"threadName": "Bruno", "messages": {"senderName": "x"}}))
    with open_source(tmp_path) as s, pytest.raises(IngestError, match="'messages'"):
        messenger_e2ee.read(s)


def test_bad_records_among_good_ones(tmp_path):
    msgs = [{"senderName": "A", "text": "ok", "timestamp": 1700000000000},
            {"senderName": "A", "text": "bool time", "timestamp": True},
            {"senderName": 7, "text": "number sender", "timestamp": 1700000000001},
            "not an object",
            {"senderName": "B", "text": "seconds, not ms", "timestamp": 10**15}]
    _write(tmp_path, "x_1.json", json.dumps({"participants": ["A", "B"], "threadName": "x", "messages": msgs}))
    with open_source(tmp_path) as s:
        frame = messenger_e2ee.read(s)
    assert list(frame["text"]) == ["ok"]
    assert frame.attrs["skipped"] == {"bad_record": 4}


def test_no_e2ee_files(tmp_path):
    _write(tmp_path, "notes_1.json", '{"a": 1}')
    with open_source(tmp_path) as s:
        assert not messenger_e2ee.detect(s)
        with pytest.raises(IngestError) as err:
            messenger_e2ee.read(s)
    assert "secure_storage" in err.value.one_line()
