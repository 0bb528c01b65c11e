"""No silent loss: empty sources are errors, files no adapter read are counted, one bad source in a
batch does not drop the others, and the same Messenger chat read from JSON and from HTML is kept once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from ingest.errors import IngestError
from ingest.pipeline import ingest
from ingest.workspace import Workspace
from tests.conftest import ME, T0, conversation_export, write_fb_thread

runner = CliRunner()
KIM = "Kim Lee"
# (sender, ms after T0, text): T0 is 2020-09-13 12:26:40 UTC; two identical "ok" in one minute
CHAT = [(KIM, 0, "hello there"), (ME, 5_000, "hi Kim"), (ME, 10_000, "ok"), (ME, 15_000, "ok"),
        (KIM, 70_000, "bye now")]


def _fb_json(root: Path) -> Path:
    write_fb_thread(root, "kimlee_10", KIM, [(s, T0 + dt, x) for s, dt, x in CHAT], [ME, KIM])
    return root


def _fb_html(root: Path) -> Path:
    """The same chat as Facebook's DYI HTML (2019-2023): newest first, times to the minute, no zone."""
    from datetime import UTC, datetime

    blocks = []
    for sender, dt, text in reversed(CHAT):
        when = datetime.fromtimestamp((T0 + dt) / 1000, UTC).strftime("%b %d, %Y, %I:%M %p")
        blocks.append(f'<div class="pam _3-95"><div class="_3-96 _2pio">{sender}</div><div class="_3-96 _2let">'
                      f'<div><div></div><div>{text}</div></div></div><div class="_3-94 _2lem">{when}</div></div>')
    folder = root / "messages" / "inbox" / "kimlee_10"
    folder.mkdir(parents=True)
    (folder / "message_1.html").write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8" /><title>{KIM}</title></head><body>'
        f'<div class="_3b0d">{KIM}</div><div class="_2lek">Participants: {KIM}</div>{"".join(blocks)}'
        "</body></html>", encoding="utf-8")
    return root


# --- the same chat downloaded as JSON and as HTML ---------------------------------------------------

def test_the_same_chat_as_json_and_html_is_kept_once(tmp_path):
    ws = Workspace(tmp_path / "d")
    result = ingest([_fb_json(tmp_path / "json"), _fb_html(tmp_path / "html")], workspace=ws, me=[ME])
    table = ws.messages()
    assert len(table) == len(CHAT) == result.added
    assert table["thread_id"].nunique() == 1
    assert list(table["text"]) == [x for _, _, x in CHAT]  # both "ok" stay: repeated in one file
    assert list(table["platform"]) == ["facebook"] * len(CHAT)  # the JSON copy, to the second, is kept
    html = next(r for r in result.sources if r.platform == "facebook_html")
    assert html.read == len(CHAT) and html.kept == 0 and html.skipped == {"duplicate": len(CHAT)}


def test_html_ingested_after_json_adds_nothing_and_json_after_html_neither(tmp_path):
    ws = Workspace(tmp_path / "d")
    ingest([_fb_json(tmp_path / "json")], workspace=ws, me=[ME])
    later = ingest([_fb_html(tmp_path / "html")], workspace=ws)
    assert later.added == 0 and later.sources[0].skipped == {"duplicate": len(CHAT)}

    ws2 = Workspace(tmp_path / "d2")
    ingest([tmp_path / "html"], workspace=ws2, me=[ME])
    later = ingest([tmp_path / "json"], workspace=ws2)
    assert later.added == 0 and len(ws2.messages()) == len(CHAT)


def test_a_message_only_in_the_html_is_kept(tmp_path):
    _fb_json(tmp_path / "json")
    html = _fb_html(tmp_path / "html") / "messages" / "inbox" / "kimlee_10" / "message_1.html"
    extra = ('<div class="pam"><div class="_3-96">Kim Lee</div><div class="_3-96"><div><div></div>'
             '<div>one more thing</div></div></div><div class="_3-94">Sep 13, 2020, 01:00 PM</div></div>')
    text = html.read_text(encoding="utf-8")
    html.write_text(text.replace('</div><div class="pam', f"</div>{extra}<div class=\"pam", 1), encoding="utf-8")
    ws = Workspace(tmp_path / "d")
    ingest([tmp_path / "json", tmp_path / "html"], workspace=ws, me=[ME])
    assert "one more thing" in set(ws.messages()["text"]) and len(ws.messages()) == len(CHAT) + 1


# --- a source with no messages, files not read, one bad source in a batch ----------------------------

def test_a_source_with_no_messages_at_all_is_an_error(tmp_path):
    thread = tmp_path / "export" / "messages" / "inbox" / "kimlee_1"
    thread.mkdir(parents=True)
    (thread / "message_1.json").write_text(json.dumps({"participants": [{"name": KIM}], "messages": [],
                                                       "title": KIM, "thread_path": "inbox/kimlee_1"}))
    with pytest.raises(IngestError, match="holds no messages"):
        ingest([tmp_path / "export"], workspace=Workspace(tmp_path / "d"))
    res = runner.invoke(app, ["ingest", str(tmp_path / "export"), "--data", str(tmp_path / "d")])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 3 and len(lines) == 1 and lines[0].startswith("error: ") and "holds no messages" in lines[0]
    assert not (tmp_path / "d" / "messages.parquet").exists()


def test_files_no_adapter_read_are_counted(tmp_path):
    export = conversation_export(tmp_path / "export")
    (export / "notes").mkdir()
    (export / "notes" / "todo.json").write_text("{}")
    (export / "messages" / "inbox" / "kimlee_0" / "photos").mkdir()
    (export / "messages" / "inbox" / "kimlee_0" / "photos" / "1.jpg").write_bytes(b"\xff\xd8")
    result = ingest([export], workspace=Workspace(tmp_path / "d"), me=[ME])
    assert result.not_read == {str(export): ["notes/todo.json"]}
    assert result.media_not_read == {str(export): 1}
    res = runner.invoke(app, ["ingest", str(export), "--data", str(tmp_path / "d2"), "--me", ME])
    assert res.exit_code == 0, res.output
    assert "1 file not read: 'notes/todo.json' (and 1 photos, videos and other media)" in res.output
    assert "next: talklike people --data" in res.output


def test_one_unreadable_source_does_not_drop_the_others(tmp_path):
    good = conversation_export(tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "todo.txt").write_text("buy milk\n")
    ws = Workspace(tmp_path / "d")
    result = ingest([good, bad], workspace=ws, me=[ME])
    assert len(ws.messages()) == result.added > 0
    assert len(result.failed) == 1 and str(bad) in result.failed[0].one_line()
    assert json.loads(ws.report_path.read_text())["runs"][-1]["failed"] == [result.failed[0].one_line()]

    res = runner.invoke(app, ["ingest", str(good), str(bad), "--data", str(tmp_path / "d2"), "--me", ME])
    assert res.exit_code == 3
    assert "Ingested" in res.output and f"error: {bad}" in res.output
    assert "the other sources were stored" in res.output


def test_when_no_source_can_be_read_the_command_says_nothing_was_stored(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "todo.txt").write_text("buy milk\n")
    with pytest.raises(IngestError, match="not recognised") as info:
        ingest([tmp_path / "a", tmp_path / "b"], workspace=Workspace(tmp_path / "d"))
    assert "none of the 2 sources could be read: nothing was stored" in info.value.one_line()
    assert not (tmp_path / "d" / "messages.parquet").exists()


def test_messages_stored_under_ids_of_an_older_version_are_not_added_again(tmp_path):
    """Ids computed by an older version (pandas 3 once gave the derived ids seconds, not ms; WhatsApp
    texts kept their bidi marks): the same messages ingested again are duplicates, repeats included."""
    export = conversation_export(tmp_path / "export")
    ws = Workspace(tmp_path / "d")
    first = ingest([export], workspace=ws, me=[ME])
    table = ws.messages()
    table["message_id"] = pd.array([f"{i:016x}" for i in range(len(table))], dtype="string")  # another version
    ws.save_messages(table)
    again = ingest([export], workspace=ws)
    assert again.added == 0 and len(ws.messages()) == first.messages
    assert sum(r.skipped.get("duplicate", 0) for r in again.sources) == first.added


def test_an_html_copy_beside_its_json_is_accounted_for_not_unread(tmp_path):
    export = _fb_json(tmp_path / "both")
    html = _fb_html(tmp_path / "html") / "messages" / "inbox" / "kimlee_10" / "message_1.html"
    (export / "messages" / "inbox" / "kimlee_10" / "message_1.html").write_bytes(html.read_bytes())
    result = ingest([export], workspace=Workspace(tmp_path / "d"), me=[ME])
    assert result.not_read == {} and result.added == len(CHAT)
    assert [r.platform for r in result.sources] == ["facebook"]
