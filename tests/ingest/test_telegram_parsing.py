"""Telegram result.json: bad input, duplicates and the rules the golden fixtures do not pin down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.adapters import telegram
from ingest.errors import IngestError
from ingest.source import open_source


def _msg(i: int, text="hi", **extra) -> dict:
    return {"id": i, "type": "message", "date": "2021-01-01T00:00:00", "date_unixtime": str(1609459200 + i),
            "from": "Ana", "from_id": "user42", "text": text, **extra}


def _read(tmp_path: Path, doc, name: str = "result.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    with open_source(path) as source:
        return telegram.read(source)


def test_truncated_json_names_file_and_place(tmp_path):
    text = json.dumps({"name": "Ana", "type": "personal_chat", "id": 42, "messages": [_msg(1, "segredo")]})
    with pytest.raises(IngestError) as err:
        _read(tmp_path, text[:-30])
    message = err.value.one_line()
    assert "result.json" in message and "line 1 column" in message and "not valid JSON" in message
    assert "segredo" not in message


@pytest.mark.parametrize(("doc", "place"), [
    ({"personal_information": {"user_id": 1}, "chats": {"list": {"oops": 1}}}, "chats.list"),
    ({"personal_information": {"user_id": 1}, "chats": {"list": [{"name": "x", "messages": "no"}]}},
     "chats.list[0].messages"),
    ({"personal_information": {"user_id": 1}, "chats": [1, 2]}, "chats.list"),
])
def test_wrong_structure_is_one_clear_error(tmp_path, doc, place):
    with pytest.raises(IngestError) as err:
        _read(tmp_path, doc)
    assert err.value.place == f"key {place}"


def test_top_level_must_be_an_object(tmp_path):
    with pytest.raises(IngestError, match="no top-level object"):
        _read(tmp_path, '["date_unixtime"]')


def test_a_full_export_without_chats_is_refused(tmp_path):
    with pytest.raises(IngestError, match="holds no chats"):
        _read(tmp_path, {"personal_information": {"user_id": 1}, "contacts": {"list": []}})


def test_an_export_without_any_readable_date_is_refused(tmp_path):
    doc = {"name": "Ana", "type": "personal_chat", "id": 42,
           "messages": [{k: v for k, v in _msg(1).items() if k not in ("date_unixtime", "date")}]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_source(path) as source:
        assert telegram.detect(source)  # by its name and layout
        with pytest.raises(IngestError, match="no readable date_unixtime or date"):
            telegram.read(source)


def test_bad_records_among_good_ones_are_counted(tmp_path):
    messages = [_msg(1), _msg(2, text=17), _msg(3, date_unixtime="yesterday"), _msg(4, **{"from": None}) | {"from_id": None},
                _msg(5, text=["a", 3]), 7, _msg(6)]
    frame = _read(tmp_path, {"name": "Ana", "type": "personal_chat", "id": 42, "messages": messages})
    assert frame["text"].tolist() == ["hi", "hi"]
    assert frame.attrs["skipped"] == {"bad_record": 5}


def test_the_same_message_in_two_files_is_a_duplicate(tmp_path):
    doc = {"name": "Ana", "type": "personal_chat", "id": 42, "messages": [_msg(1), _msg(2, "yo")]}
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    with open_source(tmp_path) as source:
        frame = telegram.read(source)
    assert len(frame) == 2
    assert frame.attrs["skipped"] == {"duplicate": 2}


def test_replies_to_another_chat_are_not_linked(tmp_path):
    messages = [_msg(1), _msg(2, "re", reply_to_message_id=1, reply_to_peer_id="channel9")]
    frame = _read(tmp_path, {"name": "Ana", "type": "personal_chat", "id": 42, "messages": messages})
    assert frame["reply_to"].isna().all()


def test_detect_ignores_other_json(tmp_path):
    (tmp_path / "message_1.json").write_text(json.dumps({"participants": [], "messages": []}), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("date_unixtime", encoding="utf-8")
    with open_source(tmp_path) as source:
        assert not telegram.detect(source)
        with pytest.raises(IngestError, match=r"no Telegram result\.json"):
            telegram.read(source)
