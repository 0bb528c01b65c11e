"""Telegram: exports from before date_unixtime (local ``date`` read in --tz), forum topics as threads,
empty chats reported, the owner and participants a full export states."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from ingest import schema
from ingest.adapters import telegram
from ingest.source import open_source

LISBON = ZoneInfo("Europe/Lisbon")


def _old(i: int, date: str, text: str = "hi", **extra) -> dict:
    """A message as Telegram Desktop 1.x-2.x wrote it: local date, bare from_id, no date_unixtime."""
    return {"id": i, "type": "message", "date": date, "edited": "1970-01-01T01:00:00", "from": "Ana",
            "from_id": 42, "text": text, **extra}


def _read(tmp_path: Path, doc, tz=None, name: str = "result.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_source(path, tz=tz) as source:
        assert telegram.detect(source)
        return telegram.read(source)


def _chat(messages, **extra) -> dict:
    return {"name": "Ana", "type": "personal_chat", "id": 42, "messages": messages, **extra}


def test_old_export_reads_the_local_date_in_the_zone_and_keeps_ids_from_the_wall_clock(tmp_path):
    doc = _chat([_old(1, "2019-01-05T10:00:00"), _old(2, "2019-07-05T10:00:00", "verão")])
    in_lisbon = _read(tmp_path, doc, tz=LISBON)
    in_utc = _read(tmp_path, doc)
    assert [t.value // 1_000_000 for t in in_lisbon["timestamp"]] == [1546682400000, 1562317200000]
    assert [t.value // 1_000_000 for t in in_utc["timestamp"]] == [1546682400000, 1562320800000]
    assert in_lisbon["message_id"].tolist() == in_utc["message_id"].tolist()
    # the id is the one of the wall-clock time as written
    assert in_lisbon["message_id"][1] == schema.message_id("telegram", "telegram:42", "user42", 1562320800000, "verão")
    assert in_lisbon["sender_id"].tolist() == ["user42", "user42"]  # bare from_id of 1.x-2.6


def test_summer_time_gap_and_repeated_hour(tmp_path):
    doc = _chat([_old(1, "2019-03-31T01:30:00"), _old(2, "2019-10-27T01:30:00")])
    frame = _read(tmp_path, doc, tz=LISBON)
    # 01:30 does not exist on 31 March (moved to the end of the gap); on 27 October: the first 01:30
    assert [t.isoformat() for t in frame["timestamp"]] == ["2019-03-31T01:00:00+00:00", "2019-10-27T00:30:00+00:00"]


def test_date_unixtime_stays_the_truth_and_keeps_todays_ids(tmp_path):
    msg = {"id": 1, "type": "message", "date": "2021-09-01T11:00:05", "date_unixtime": "1630490405",
           "from": "Ana", "from_id": "user42", "text": "oi"}
    frame = _read(tmp_path, _chat([msg]), tz=LISBON)
    assert frame["timestamp"][0].value // 1_000_000 == 1630490405000
    assert frame["message_id"][0] == schema.message_id("telegram", "telegram:42", "user42", 1630490405000, "oi")


def test_old_records_without_a_readable_date_are_bad_records(tmp_path):
    messages = [_old(1, "2019-01-05T10:00:00"), _old(2, "ontem"), _old(3, 20190105),
                {k: v for k, v in _old(4, "x").items() if k != "date"} | {"edited": "2019-01-05T10:00:00"}]
    frame = _read(tmp_path, _chat(messages), tz=LISBON)
    assert len(frame) == 1
    assert frame.attrs["skipped"] == {"bad_record": 3}


def test_a_renamed_old_export_is_recognised(tmp_path):
    frame = _read(tmp_path, _chat([_old(1, "2019-01-05T10:00:00")]), name="ana_2019.json")
    assert frame["thread_id"].tolist() == ["telegram:42"]


def test_old_channel_posts_have_no_from(tmp_path):
    doc = {"name": "Trilhos", "type": "public_channel", "id": 77,
           "messages": [{"id": 1, "type": "message", "date": "2019-06-01T12:00:00", "text": "aberto"}]}
    frame = _read(tmp_path, doc)
    assert frame[["sender", "sender_id"]].values.tolist() == [["Trilhos", "channel77"]]


def _forum(messages) -> dict:
    return {"name": "Clube", "type": "private_supergroup", "id": 9, "messages": messages}


def _new(i: int, text: str = "hi", **extra) -> dict:
    return {"id": i, "type": "message", "date": "2023-01-01T00:00:00", "date_unixtime": str(1672531200 + i),
            "from": "Ana", "from_id": "user42", "text": text, **extra}


def _topic(i: int, title: str) -> dict:
    return {"id": i, "type": "service", "date": "2023-01-01T00:00:00", "date_unixtime": str(1672531200 + i),
            "actor": "Ana", "actor_id": "user42", "action": "topic_created", "title": title, "text": ""}


def test_forum_topics_are_threads_and_replies_stay_in_their_topic(tmp_path):
    frame = _read(tmp_path, _forum([
        _new(1, "geral"), _topic(2, "Treinos"), _new(3, "t1", reply_to_message_id=2),
        _new(4, "t2", reply_to_message_id=3), _new(5, "g2", reply_to_message_id=1),
        _new(6, "perdida", reply_to_message_id=999),
    ]))
    assert frame["thread_id"].tolist() == ["telegram:9:1", "telegram:9:2", "telegram:9:2", "telegram:9:1",
                                           "telegram:9:1"]
    assert frame["thread_title"].tolist() == ["Clube / General", "Clube / Treinos", "Clube / Treinos",
                                              "Clube / General", "Clube / General"]
    mid = dict(zip(frame["text"], frame["message_id"], strict=True))
    replies = [None if pd.isna(x) else x for x in frame["reply_to"]]
    assert replies == [None, None, mid["t1"], mid["geral"], None]  # a topic's first message answers no one
    assert frame.attrs["skipped"] == {"system": 1}


def test_explicit_topic_fields_are_accepted(tmp_path):
    frame = _read(tmp_path, _forum([
        _topic(2, "Provas"), _new(3, "a", topic_id=2), _new(4, "b", message_thread_id="2"),
        _new(5, "c", reply_to_top_id=7), _new(6, "d", topic_id=1),
    ]))
    assert frame["thread_id"].tolist() == ["telegram:9:2", "telegram:9:2", "telegram:9:7", "telegram:9:1"]
    assert frame["thread_title"].tolist() == ["Clube / Provas", "Clube / Provas", "Clube / Topic 7",
                                              "Clube / General"]


def test_a_topic_rename_applies_only_when_its_topic_is_known(tmp_path):
    rename = {"id": 4, "type": "service", "date_unixtime": "1672531204", "action": "topic_edit",
              "new_title": "Provas 2023", "text": ""}
    frame = _read(tmp_path, _forum([_topic(2, "Provas"), _new(3, "a", reply_to_message_id=2), rename,
                                    rename | {"id": 5, "topic_id": 2, "new_title": "Provas 2024"}]))
    assert frame["thread_title"].tolist() == ["Clube / Provas 2024"]


def test_a_chat_without_topics_keeps_its_thread_id(tmp_path):
    frame = _read(tmp_path, _forum([_new(1), _new(2, "re", reply_to_message_id=1)]))
    assert set(frame["thread_id"]) == {"telegram:9"}
    assert frame["reply_to"][1] == frame["message_id"][0]


def test_an_empty_one_chat_export_is_reported_by_its_file(tmp_path):
    frame = _read(tmp_path, _chat([]))
    assert frame.empty
    assert frame.attrs["empty_files"] == ["result.json"]


def test_owner_and_participants_of_a_full_export(tmp_path):
    doc = {"personal_information": {"user_id": 1001, "first_name": "Rui", "last_name": "Costa"},
           "chats": {"list": [_chat([_new(1)]), {"type": "saved_messages", "id": 1001,
                                                  "messages": [_new(2) | {"from": "Rui Costa", "from_id": "user1001"}]},
                              _forum([_new(3)])]}}
    frame = _read(tmp_path, doc)
    assert frame.attrs["me"] == ["user1001"]
    assert frame.attrs["participants"] == {"telegram:42": ["Ana", "Rui Costa"], "telegram:1001": ["Rui Costa"]}
    assert frame["is_me"].tolist() == [False, True, False]


def test_owner_named_without_user_id(tmp_path):
    doc = {"personal_information": {"first_name": "Rui", "last_name": "Costa"}, "chats": {"list": [_chat([_new(1)])]}}
    assert _read(tmp_path, doc).attrs["me"] == ["Rui Costa"]

