"""Slack export: what the golden fixtures do not show (zips, damaged files, markup, DM titles)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from ingest.adapters import slack
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "slack"


def _read(path: Path):
    with open_source(path) as source:
        return slack.read(source)


def _export(tmp_path: Path, files: dict[str, object]) -> Path:
    root = tmp_path / "export"
    for rel, doc in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return root


USERS = [{"id": "U1", "name": "ana", "profile": {"display_name": "Ana"}},
         {"id": "U2", "name": "bo", "real_name": "Bo Berg", "profile": {"display_name": ""}},
         {"id": "U3", "name": "cy", "profile": {}}]


def test_zip_reads_like_the_folder(tmp_path: Path):
    folder = FIXTURES / "standard_2016" / "input"
    archive = tmp_path / "Acme Slack export Jan 14 2016 - Jan 16 2016.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*.json")):
            zf.write(f, f.relative_to(folder).as_posix())
    from_zip, from_dir = _read(archive), _read(folder)
    assert from_zip.equals(from_dir)
    assert from_zip.attrs == from_dir.attrs


def test_damaged_day_file_names_file_and_place_not_text(tmp_path: Path):
    root = tmp_path / "export"
    shutil.copytree(FIXTURES / "standard_2016" / "input", root)
    day = root / "random" / "2016-01-16.json"
    day.write_text(day.read_text()[:120])  # cut short in the middle of a message
    with pytest.raises(IngestError) as err:
        _read(root)
    message = err.value.one_line()
    assert "random/2016-01-16.json" in message and "line" in message and "JSON" in message
    assert "cats" not in message


@pytest.mark.parametrize(("rel", "doc", "problem"), [
    ("general/2016-01-01.json", {"messages": []}, "not a list of messages"),
    ("channels.json", "[{", "not valid JSON"),
    ("users.json", {"members": []}, "not a list of users"),
])
def test_files_of_the_wrong_shape(tmp_path: Path, rel: str, doc, problem: str):
    files = {"users.json": USERS, "channels.json": [{"id": "C1", "name": "general", "members": ["U1"]}],
             "general/2016-01-02.json": [{"user": "U1", "text": "hi", "ts": "1451736000.000100"}]}
    files[rel] = doc
    with pytest.raises(IngestError, match=problem):
        _read(_export(tmp_path, files))


def test_detect(tmp_path: Path):
    with open_source(_export(tmp_path / "a", {"users.json": USERS})) as source:
        assert not slack.detect(source)  # no day files
    with open_source(FIXTURES.parent / "linkedin" / "export_2026" / "input") as source:
        assert not slack.detect(source)
    with open_source(FIXTURES / "full_export_2025" / "input") as source:
        assert slack.detect(source)


def test_names_and_dm_titles(tmp_path: Path):
    root = _export(tmp_path, {
        "users.json": USERS,
        "dms.json": [{"id": "D1", "members": ["U1", "U2"]}, {"id": "D2", "user": "U3"},
                     {"id": "D3", "members": ["U3", "U3"]}],
        "D1/2020-01-01.json": [{"user": "U1", "text": "hi", "ts": "1577880000.000100"}],
        "D2/2020-01-01.json": [{"user": "U3", "text": "yo", "ts": 1577880000.5}],
        "D3/2020-01-01.json": [{"user": "U3", "text": "note to self", "ts": "1577880000.000100"}],
        "orphan/2020-01-01.json": [{"user": "U2", "text": "from a folder no index names", "ts": "1577880000.0001"}],
    })
    frame = _read(root).set_index("thread_id")
    # nobody is in every DM (D3 is cy's note to self), so both names make the title
    assert frame.loc["slack:D1", "thread_title"] == "Ana, Bo Berg"
    assert frame.loc["slack:D2", "thread_title"] == "cy"
    assert frame.loc["slack:D3", "thread_title"] == "cy"
    assert frame.loc["slack:orphan", "thread_title"] == "orphan"
    assert not frame["is_group"].any() and not frame["is_me"].any()
    assert frame.loc["slack:D2", "timestamp"].value // 1_000_000 == 1577880000500


@pytest.mark.parametrize(("text", "rendered"), [
    ("<@U1> and <@U2|bo> and <@U9|gone> and <@U8>", "@Ana and @Bo Berg and @gone and @U8"),
    ("<#C1> / <#C1|renamed> / <#C9>", "#general / #renamed / #C9"),
    ("<!here> <!channel> <!everyone> <!here|here>", "@here @channel @everyone @here"),
    ("<!subteam^S1|@devs> <!subteam^S2>", "@devs @S2"),
    ("<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
    ("<https://x.org/a?b=1&amp;c=2|the docs> <https://x.org> <https://x.org|https://x.org>",
     "the docs (https://x.org/a?b=1&c=2) https://x.org https://x.org"),
    ("<mailto:a@x.org|a@x.org> <tel:123|call me>", "a@x.org call me"),
    ("1 &lt; 2 &amp;&amp; 3 &gt; 2 &amp;lt;", "1 < 2 && 3 > 2 &lt;"),
])
def test_markup(text: str, rendered: str):
    names = slack._Names({"U1": "Ana", "U2": "Bo Berg"}, {"C1": "general"})
    assert names.render(text) == rendered


def test_reply_to_a_parent_that_was_not_kept_has_no_reply_to(tmp_path: Path):
    root = _export(tmp_path, {
        "users.json": USERS,
        "channels.json": [{"id": "C1", "name": "general", "members": ["U1", "U2"]}],
        "general/2020-01-01.json": [
            {"subtype": "bot_message", "bot_id": "B1", "text": "build failed", "ts": "1577880000.000100",
             "thread_ts": "1577880000.000100"},
            {"user": "U1", "text": "looking", "ts": "1577880060.000200", "thread_ts": "1577880000.000100"},
            {"user": "U2", "text": "thanks", "ts": "1577880120.000300", "thread_ts": "1577880060.000200"},
        ],
    })
    frame = _read(root)
    assert frame["reply_to"].isna().iloc[0]
    assert frame["reply_to"].iloc[1] == frame["message_id"].iloc[0]
    assert frame.attrs["skipped"] == {"bot": 1}


def test_bad_field_types_are_bad_records(tmp_path: Path):
    root = _export(tmp_path, {
        "users.json": USERS,
        "channels.json": [{"id": "C1", "name": "general", "members": ["U1"]}],
        "general/2020-01-01.json": [
            {"user": "U1", "text": ["not", "a", "string"], "ts": "1577880000.000100"},
            {"user": {"id": "U1"}, "text": "x", "ts": "1577880000.000200"},
            {"user": "U1", "text": "x", "ts": None},
            {"user": "U1", "text": "kept", "ts": "1577880000.000300"},
        ],
    })
    frame = _read(root)
    assert list(frame["text"]) == ["kept"]
    assert frame.attrs["skipped"] == {"bad_record": 3}


def test_a_folder_whose_day_files_hold_nothing_is_an_empty_file(tmp_path: Path):
    join = {"type": "message", "subtype": "channel_join", "user": "U1", "text": "<@U1> has joined", "ts": "1.000001"}
    root = _export(tmp_path, {
        "users.json": USERS,
        "channels.json": [{"id": "C1", "name": "general"}, {"id": "C2", "name": "quiet"},
                          {"id": "C3", "name": "joins"}],
        "general/2020-01-01.json": [{"type": "message", "user": "U1", "text": "hi", "ts": "1577836800.000100"}],
        "quiet/2020-01-01.json": [], "quiet/2020-01-02.json": "[\n]\n",
        "joins/2020-01-01.json": [join],  # a notice is something: skipped, not empty
    })
    frame = _read(root)
    assert frame["text"].tolist() == ["hi"]
    assert frame.attrs["empty_files"] == ["quiet/"]
    assert frame.attrs["skipped"] == {"system": 1}
