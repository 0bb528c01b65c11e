"""Hangouts adapter: streaming versus plain json, zips, and damaged or odd Hangouts.json files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from ingest.adapters import hangouts
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hangouts"
POST_2018 = FIXTURES / "takeout_2019" / "input" / "Takeout" / "Hangouts" / "Hangouts.json"
PRE_2018 = FIXTURES / "takeout_2016" / "input" / "Hangouts.json"

OWNER = {"gaia_id": "1", "chat_id": "1"}
FRIEND = {"gaia_id": "200000000000000009876", "chat_id": "200000000000000009876"}


def _event(sender=FRIEND, ts="1500000000000000", text="hello", **extra) -> dict:
    ev = {"sender_id": sender, "timestamp": ts, "event_type": "REGULAR_CHAT_MESSAGE", "event_id": f"e{ts}",
          "chat_message": {"message_content": {"segment": [{"type": "TEXT", "text": text}]}}}
    ev.update(extra)
    return ev


def _export(events, conv_type="STICKY_ONE_TO_ONE", participants=None) -> dict:
    participants = participants if participants is not None else [
        {"id": OWNER, "fallback_name": "Me Myself"}, {"id": FRIEND, "fallback_name": "A Friend"}]
    return {"conversations": [{
        "conversation": {"conversation_id": {"id": "Ugx1"}, "conversation": {
            "id": {"id": "Ugx1"}, "type": conv_type, "participant_data": participants,
            "self_conversation_state": {"self_read_state": {"participant_id": OWNER}}}},
        "events": events}]}


def _read(tmp_path: Path, doc_or_text) -> object:
    path = tmp_path / "Hangouts.json"
    path.write_text(doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text), encoding="utf-8")
    with open_source(path) as source:
        return hangouts.read(source)


@pytest.mark.parametrize("path", [POST_2018, PRE_2018], ids=["post_2018", "pre_2018"])
def test_plain_json_fallback_reads_the_same_table(path, monkeypatch):
    with open_source(path) as source:
        streamed = hangouts.read(source)
    monkeypatch.setattr(hangouts, "_ijson", lambda: None)
    with open_source(path) as source:
        loaded = hangouts.read(source)
    assert streamed.equals(loaded)
    assert streamed.attrs == loaded.attrs


def test_reads_inside_a_zip_without_extracting(tmp_path):
    archive = tmp_path / "takeout-20190101.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(POST_2018, "Takeout/Hangouts/Hangouts.json")
    with open_source(archive) as source:
        assert hangouts.detect(source)
        frame = hangouts.read(source)
    assert len(frame) == 10
    assert set(frame["source"]) == {"Takeout/Hangouts/Hangouts.json"}


def test_utf8_bom_is_tolerated(tmp_path):
    path = tmp_path / "Hangouts.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_export([_event()])).encode())
    with open_source(path) as source:
        assert list(hangouts.read(source)["text"]) == ["hello"]


def test_detect(tmp_path):
    with open_source(FIXTURES.parent / "facebook" / "dyi_2020" / "input") as source:
        assert not hangouts.detect(source)
    renamed = tmp_path / "my-hangouts-backup.json"
    renamed.write_text(json.dumps(_export([_event()])), encoding="utf-8")
    with open_source(renamed) as source:
        assert hangouts.detect(source)
        assert len(hangouts.read(source)) == 1
    other = tmp_path / "result.json"
    other.write_text('{"name": "x", "messages": []}', encoding="utf-8")
    with open_source(other) as source:
        assert not hangouts.detect(source)


def test_owner_from_self_read_state_marks_is_me(tmp_path):
    frame = _read(tmp_path, _export([_event(sender=OWNER, text="mine"), _event(ts="1500000000000001")]))
    assert list(frame["is_me"]) == [True, False]
    assert frame.attrs["me"] == ["1"]
    assert list(frame["thread_title"].unique()) == ["A Friend"]


def test_missing_names_get_a_readable_placeholder(tmp_path):
    frame = _read(tmp_path, _export([_event()], participants=[{"id": OWNER}, {"id": FRIEND}]))
    assert list(frame["sender"]) == ["Unknown 9876"]
    assert list(frame["sender_id"]) == ["200000000000000009876"]
    assert list(frame["thread_title"]) == ["Unknown 9876"]


def test_unknown_conversation_type_counts_people(tmp_path):
    third = {"gaia_id": "3", "chat_id": "3"}
    doc = _export([_event(), _event(sender=third, ts="1500000000000005")], conv_type=None)
    assert list(_read(tmp_path, doc)["is_group"]) == [True, True]
    doc = _export([_event()], conv_type=None)
    assert list(_read(tmp_path, doc)["is_group"]) == [False]


def test_bad_events_are_counted_not_fatal(tmp_path):
    events = [
        _event(),
        "not an event",
        _event(ts="yesterday"),
        _event(sender={}),
        {**_event(ts="1500000000000009"), "chat_message": {"message_content": {"segment": "oops"}}},
        _event(ts="1500000000000010", event_type="VOICEMAIL"),
        _event(ts="1500000000000011", event_type="GROUP_LINK_SHARING_MODIFICATION"),
    ]
    frame = _read(tmp_path, _export(events))
    assert list(frame["text"]) == ["hello"]
    assert frame.attrs["skipped"] == {"bad_record": 4, "system": 2}


def test_link_segment_without_text_uses_its_target(tmp_path):
    seg = [{"type": "LINK", "link_data": {"link_target": "https://example.org/a"}}]
    ev = _event()
    ev["chat_message"]["message_content"]["segment"] = seg
    frame = _read(tmp_path, _export([ev]))
    assert list(frame["text"]) == ["https://example.org/a"]
    assert list(frame["kind"]) == ["link"]


def _error(tmp_path: Path, text: str) -> IngestError:
    with pytest.raises(IngestError) as info:
        _read(tmp_path, text)
    return info.value


@pytest.mark.parametrize("stream", [True, False], ids=["ijson", "json"])
def test_truncated_file_is_one_clear_error(tmp_path, monkeypatch, stream):
    if not stream:
        monkeypatch.setattr(hangouts, "_ijson", lambda: None)
    text = json.dumps(_export([_event(text="secret words")]))
    err = _error(tmp_path, text[: len(text) // 2])
    assert "Hangouts.json" in err.file
    assert "ends early" in err.problem
    assert "secret" not in err.one_line()
    assert err.hint


@pytest.mark.parametrize("stream", [True, False], ids=["ijson", "json"])
def test_garbage_is_not_valid_json(tmp_path, monkeypatch, stream):
    if not stream:
        monkeypatch.setattr(hangouts, "_ijson", lambda: None)
    err = _error(tmp_path, '{"conversations": [{"conversation": secret}]}')
    assert "not valid JSON" in err.problem
    assert "secret" not in err.one_line()


@pytest.mark.parametrize("text", ['[1, 2]', '{"other": []}', '{"conversations": {"a": 1}}', '"x"'])
def test_wrong_shape_names_what_is_missing(tmp_path, text):
    err = _error(tmp_path, text)
    assert "'conversations' or 'conversation_state'" in err.problem


def test_conversation_without_id_or_with_odd_events(tmp_path):
    doc = _export([_event()])
    del doc["conversations"][0]["conversation"]["conversation_id"]
    err = _error(tmp_path, json.dumps(doc))
    assert err.place == "conversation 0"
    doc = _export([_event()])
    doc["conversations"][0]["events"] = {"0": _event()}
    assert "not a list" in _error(tmp_path, json.dumps(doc)).problem


def test_conversations_without_events_are_empty_files(tmp_path: Path):
    doc = _export([_event()])
    quiet = json.loads(json.dumps(doc["conversations"][0]))
    quiet["conversation"]["conversation_id"]["id"] = "Ugx2"
    quiet["events"] = []
    named = json.loads(json.dumps(quiet))
    named["conversation"]["conversation_id"]["id"] = "Ugx3"
    named["conversation"]["conversation"]["name"] = "Trip"
    del named["events"]
    same_title = json.loads(json.dumps(quiet))
    same_title["conversation"]["conversation_id"]["id"] = "Ugx4"
    only_a_call = json.loads(json.dumps(quiet))
    only_a_call["conversation"]["conversation_id"]["id"] = "Ugx5"
    only_a_call["events"] = [_event(event_type="HANGOUT_EVENT", chat_message=None)]
    doc["conversations"] += [quiet, named, same_title, only_a_call]
    frame = _read(tmp_path, doc)
    assert len(frame) == 1
    assert frame.attrs["empty_files"] == ["Hangouts.json#A Friend", "Hangouts.json#A Friend (Ugx4)",
                                          "Hangouts.json#Trip"]
    assert frame.attrs["skipped"] == {"system": 1}


def test_pre_2018_conversation_without_events_is_an_empty_file(tmp_path: Path):
    doc = {"continuation_end_timestamp": "1500000000000000", "conversation_state": [{
        "conversation_id": {"id": "UgxOld"},
        "conversation_state": {"conversation": {"type": "GROUP", "name": "Old group"}, "event": []}}]}
    frame = _read(tmp_path, doc)
    assert frame.empty and frame.attrs["empty_files"] == ["Hangouts.json#Old group"]
