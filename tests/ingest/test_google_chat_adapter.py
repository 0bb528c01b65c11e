"""Google Chat adapter: Takeout dates in every spelling, odd records, and damaged files."""

from __future__ import annotations

import json
import locale
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.adapters import google_chat
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURE = Path(__file__).parents[1] / "fixtures" / "google_chat" / "takeout_2023" / "input"


def _ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("text", "expected"), [
    ("Wednesday, April 15, 2015 at 12:51:41 AM UTC", _ms(2015, 4, 15, 0, 51, 41)),
    ("Wednesday, April 15, 2015 at 12:51:41 PM UTC", _ms(2015, 4, 15, 12, 51, 41)),
    ("Monday, February 10, 2025 at 3:45:22\u202fPM UTC", _ms(2025, 2, 10, 15, 45, 22)),
    ("Monday, February 10, 2025 at 3:45:22\u00a0AM UTC", _ms(2025, 2, 10, 3, 45, 22)),
    ("Monday, February 10, 2025 at 11:59:59 PM UTC", _ms(2025, 2, 10, 23, 59, 59)),
    ("February 10, 2025 at 3:45 PM UTC", _ms(2025, 2, 10, 15, 45)),
    ("Mon, Feb 10, 2025, 3:45:22 PM UTC", _ms(2025, 2, 10, 15, 45, 22)),
    ("Monday, February 10, 2025 at 15:45:22 UTC", _ms(2025, 2, 10, 15, 45, 22)),
    ("Monday, February 10, 2025 at 3:45:22 PM GMT+2", _ms(2025, 2, 10, 13, 45, 22)),
    ("Monday, February 10, 2025 at 3:45:22 PM GMT-05:30", _ms(2025, 2, 10, 21, 15, 22)),
    ("Monday, February 10, 2025 at 3:45:22 PM", _ms(2025, 2, 10, 15, 45, 22)),  # no zone: UTC
])
def test_parse_date(text, expected):
    assert google_chat.parse_date(text) == expected


@pytest.mark.parametrize("text", [
    None, 1423580722, "", "yesterday", "Monday, Febtober 10, 2025 at 3:45:22 PM UTC",
    "Monday, February 30, 2025 at 3:45:22 PM UTC", "Monday, February 10, 2025 at 13:45:22 PM UTC",
    "Monday, February 10, 2025 at 3:45:22 PM PST", "2025-02-10T15:45:22Z",
])
def test_unreadable_dates_are_none(text):
    assert google_chat.parse_date(text) is None


def test_parse_date_ignores_the_machines_locale():
    saved = locale.setlocale(locale.LC_TIME)
    for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8"):
        try:
            locale.setlocale(locale.LC_TIME, name)
        except locale.Error:
            continue
        try:
            assert google_chat.parse_date("Monday, February 10, 2025 at 3:45:22\u202fPM UTC") == \
                _ms(2025, 2, 10, 15, 45, 22)
        finally:
            locale.setlocale(locale.LC_TIME, saved)


def _export(tmp_path: Path, messages, *, info=None, owner="me@example.com", folder="DM abc123") -> Path:
    root = tmp_path / "Takeout" / "Google Chat"
    group = root / "Groups" / folder
    group.mkdir(parents=True)
    text = messages if isinstance(messages, str) else json.dumps({"messages": messages})
    (group / "messages.json").write_text(text, encoding="utf-8")
    if info is not None:
        (group / "group_info.json").write_text(json.dumps(info), encoding="utf-8")
    if owner:
        user = root / "Users" / "User 42"
        user.mkdir(parents=True)
        (user / "user_info.json").write_text(json.dumps({"user": {"name": "Me", "email": owner}}), encoding="utf-8")
    return tmp_path


def _msg(name="Friend One", email="friend@example.org", date="Monday, February 10, 2025 at 3:45:22 PM UTC",
         text="hello", **extra) -> dict:
    msg = {"creator": {"name": name, "email": email, "user_type": "Human"}, "created_date": date, "text": text}
    msg.update(extra)
    return msg


def _read(path: Path):
    with open_source(path) as source:
        assert google_chat.detect(source)
        return google_chat.read(source)


def test_reads_inside_a_zip(tmp_path):
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in FIXTURE.rglob("*"):
            if f.is_file():
                zf.write(f, f.relative_to(FIXTURE).as_posix())
    with open_source(archive) as source:
        assert google_chat.detect(source)
        frame = google_chat.read(source)
    assert len(frame) == 11
    assert frame.attrs["me"] == ["rosa.diaz@example.com"]


def test_detect_ignores_other_exports():
    with open_source(FIXTURE.parents[2] / "facebook" / "dyi_2020" / "input") as source:
        assert not google_chat.detect(source)


def test_emails_are_compared_without_case(tmp_path):
    frame = _read(_export(tmp_path, [_msg(name="Me", email="Me@Example.com")]))
    assert list(frame["sender_id"]) == ["me@example.com"]
    assert list(frame["is_me"]) == [True]


def test_without_user_info_nobody_is_me_and_the_title_comes_from_senders(tmp_path):
    frame = _read(_export(tmp_path, [_msg()], owner=None))
    assert list(frame["is_me"]) == [False]
    assert frame.attrs["me"] == []
    assert list(frame["thread_title"]) == ["Friend One"]
    assert list(frame["is_group"]) == [False]


def test_odd_records_are_counted_not_fatal(tmp_path):
    messages = [
        _msg(),
        "not a message",
        _msg(date="someday"),
        {"created_date": "Monday, February 10, 2025 at 3:46:00 PM UTC", "text": "who wrote this?"},
        _msg(text={"rich": "text"}),
        _msg(text="", annotations=[{"start_index": 0, "length": 0}]),
        _msg(name="Giphy", email=None, text="a cat gif"),
        {**_msg(text="again"), "message_id": "X/1/1"},
        {**_msg(text="again"), "message_id": "X/1/1"},
        {"message_state": "DELETED", "deleted_date": "Monday, February 10, 2025 at 4:00:00 PM UTC"},
    ]
    messages[6]["creator"]["user_type"] = "Bot"  # integrations write as bots
    frame = _read(_export(tmp_path, messages))
    assert list(frame["text"]) == ["hello", "again"]
    assert frame.attrs["skipped"] == {"bad_record": 4, "empty": 1, "bot": 1, "duplicate": 1, "unsent": 1}


def test_creator_without_name_takes_it_from_the_members(tmp_path):
    info = {"members": [{"name": "Friend One", "email": "friend@example.org"}, {"name": "Me", "email": "me@example.com"}]}
    frame = _read(_export(tmp_path, [_msg(name=None)], info=info))
    assert list(frame["sender"]) == ["Friend One"]


def test_space_without_threads_has_no_replies(tmp_path):
    msgs = [_msg(topic_id="a"), _msg(text="x", date="Monday, February 10, 2025 at 3:46:00 PM UTC", topic_id="b")]
    frame = _read(_export(tmp_path, msgs, folder="Space AAAA1"))
    assert frame["reply_to"].isna().all()
    assert frame["is_group"].all()


def test_dm_messages_sharing_a_topic_are_not_replies(tmp_path):
    msgs = [_msg(topic_id="a"), _msg(text="x", date="Monday, February 10, 2025 at 3:46:00 PM UTC", topic_id="a")]
    assert _read(_export(tmp_path, msgs))["reply_to"].isna().all()


def _error(path: Path) -> IngestError:
    with pytest.raises(IngestError) as info:
        _read(path)
    return info.value


def test_truncated_messages_json(tmp_path):
    text = json.dumps({"messages": [_msg(text="secret words")]})
    err = _error(_export(tmp_path, text[: len(text) - 20]))
    assert err.file.endswith("Groups/DM abc123/messages.json")
    assert err.place.startswith("line 1 column")
    assert "ends early" in err.problem
    assert "secret" not in err.one_line()


def test_invalid_messages_json(tmp_path):
    err = _error(_export(tmp_path, '{"messages": [secret]}'))
    assert "not valid JSON" in err.problem
    assert "secret" not in err.one_line()


@pytest.mark.parametrize("text", ['[]', '{"messages": {"a": 1}}'])
def test_messages_of_the_wrong_shape(tmp_path, text):
    assert "'messages' list" in _error(_export(tmp_path, text)).problem


def test_damaged_group_info_and_user_info(tmp_path):
    path = _export(tmp_path / "a", [_msg()])
    (path / "Takeout/Google Chat/Groups/DM abc123/group_info.json").write_text('{"members": [', encoding="utf-8")
    assert _error(path).file.endswith("group_info.json")
    path = _export(tmp_path / "b", [_msg()])
    (path / "Takeout/Google Chat/Users/User 42/user_info.json").write_text("[1]", encoding="utf-8")
    assert _error(path).file.endswith("user_info.json")


def test_a_folder_without_chat_is_refused(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "x")
    for f in (tmp_path / "x").rglob("messages.json"):
        f.unlink()
    with open_source(tmp_path / "x") as source:
        assert not google_chat.detect(source)
        with pytest.raises(IngestError):
            google_chat.read(source)


def test_groups_with_no_message_are_empty_files(tmp_path: Path):
    groups = tmp_path / "Takeout" / "Google Chat" / "Groups"
    docs = {"DM a": {"messages": [{"creator": {"name": "Ana", "email": "ana@x.org", "user_type": "Human"},
                                   "created_date": "Monday, February 10, 2025 at 3:45:22 PM UTC", "text": "oi"}]},
            "DM b": {"messages": []}, "Space c": {},
            "DM d": {"messages": [{"message_state": "DELETED"}]}}  # a deleted message is something: unsent
    for folder, doc in docs.items():
        (groups / folder).mkdir(parents=True)
        (groups / folder / "messages.json").write_text(json.dumps(doc), encoding="utf-8")
    with open_source(tmp_path) as source:
        frame = google_chat.read(source)
    assert frame["text"].tolist() == ["oi"]
    assert frame.attrs["empty_files"] == ["Takeout/Google Chat/Groups/DM b/messages.json",
                                          "Takeout/Google Chat/Groups/Space c/messages.json"]
    assert frame.attrs["skipped"] == {"unsent": 1}
