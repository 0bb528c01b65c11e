"""`talklike export`: every format written and read back equal, byte-identical reruns, redaction, pair options."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.options import make_pair_options, parse_when
from ingest.errors import EXIT_UNKNOWN_PERSON, OptionError, UnknownPersonError
from ingest.export import (
    COLUMNS,
    FORMATS,
    chat_messages,
    export,
    export_table,
    prompt_to_reply,
    read_export,
)
from ingest.pairs import PairOptions, build_pairs
from ingest.pipeline import ingest
from tests.conftest import ME, T0, write_fb_thread

runner = CliRunner()
MIN = 60_000
HOUR = 60 * MIN

PRIVATE = ["kim.lee@example.com", "ana@example.org", "(415) 555-2671", "+44 7911 123456", "07911 123456",
           "https://example.com/party?x=1", "Ana Beatriz", "Bo Chen"]


@pytest.fixture
def ws(tmp_path, workspace):
    """Two threads written by hand: private values, awkward characters, a repeated prompt, a group chat."""
    root = tmp_path / "export"
    write_fb_thread(root, "kimlee_1", "Kim Lee", [
        ("Kim Lee", T0, "my email is kim.lee@example.com\nand my cell (415) 555-2671"),
        (ME, T0 + MIN, "got it\tthanks, mine is +44 7911 123456"),
        ("Kim Lee", T0 + 2 * MIN, "see https://example.com/party?x=1"),
        (ME, T0 + 3 * MIN, "cool \\o/ see you"),
        ("Kim Lee", T0 + 5 * HOUR, "hello there"),
        (ME, T0 + 5 * HOUR + MIN, "hi"),
        ("Kim Lee", T0 + 10 * HOUR, "hello there"),
        (ME, T0 + 10 * HOUR + MIN, "hey Kim, ask Ana Beatriz: ana@example.org"),
    ], [ME, "Kim Lee"])
    write_fb_thread(root, "climbing_2", "climbing", [
        ("Ana Beatriz", T0 + 20 * HOUR, "climbing saturday? call 07911 123456"),
        ("Bo Chen", T0 + 20 * HOUR + MIN, "count me in"),
        (ME, T0 + 20 * HOUR + 2 * MIN, "me too, Bo Chen and Ana"),
        ("Kim Lee", T0 + 20 * HOUR + 3 * MIN, "kim.lee@example.com has the keys"),
        (ME, T0 + 20 * HOUR + 4 * MIN, "thanks Kim"),
    ], [ME, "Kim Lee", "Ana Beatriz", "Bo Chen"])
    ingest([root], workspace=workspace, me=[ME])
    return workspace


def expected_table(ws, person="me", opts=PairOptions()):
    messages = ws.messages()
    return export_table(build_pairs(messages, person, opts))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_tabular_formats_round_trip(ws, tmp_path, fmt):
    opts = PairOptions(context_turns=2)
    out = tmp_path / f"pairs{FORMATS[fmt].suffix}"
    result = export(ws, "me", out, fmt, opts)
    back = read_export(out, fmt)
    expected = expected_table(ws, "me", opts)
    assert result.pairs == len(expected) == 6
    assert list(back.columns) == [c for c in COLUMNS if c != "schema_version"]
    pd.testing.assert_frame_equal(back, expected)
    assert any("\n" in p for p in back["prompt"]) and any("\t" in r for r in back["reply"])
    assert any(len(c) == 2 for c in back["context"])


def test_schema_version_is_recorded(ws, tmp_path):
    export(ws, "me", tmp_path / "p.csv", "csv")
    export(ws, "me", tmp_path / "p.jsonl", "jsonl")
    export(ws, "me", tmp_path / "p.parquet", "parquet")
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").startswith("schema_version,thread,platform,")
    assert all(json.loads(line)["schema_version"] == 1 for line in (tmp_path / "p.jsonl").open())
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "p.parquet").metadata[b"talklike.schema_version"] == b"1"
    lines = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace('"schema_version": 1', '"schema_version": 99')
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(OptionError, match="schema version"):
        read_export(tmp_path / "p.jsonl", "jsonl")


def test_chat_jsonl_round_trip_and_roles(ws, tmp_path):
    opts = PairOptions(context_turns=3)
    out = tmp_path / "chat.jsonl"
    export(ws, "me", out, "chat-jsonl", opts)
    back = read_export(out, "chat-jsonl")
    table = expected_table(ws, "me", opts)
    system = f"You are {ME}. Reply the way {ME} writes in chats."
    assert back == [chat_messages(row, system) for row in table.itertuples(index=False)]
    for msgs, row in zip(back, table.itertuples(index=False), strict=True):
        assert msgs[0] == {"role": "system", "content": system}
        assert msgs[-2:] == [{"role": "user", "content": row.prompt}, {"role": "assistant", "content": row.reply}]
        roles = [m["role"] for m in msgs[1:-2]]
        assert roles == ["assistant" if s == ME else "user" for s in row.context_senders]
    group = next(m for m in back if m[-2]["content"] == "kim.lee@example.com has the keys")  # Ana, Bo, me, Kim
    assert [m["role"] for m in group] == ["system", "user", "user", "assistant", "user", "assistant"]
    export(ws, "me", out, "chat-jsonl", system="")
    assert read_export(out, "chat-jsonl")[0][0]["role"] == "user"


def test_txt_one_pair_per_line_with_escapes(ws, tmp_path):
    out = tmp_path / "pairs.txt"
    export(ws, "me", out, "txt")
    table = expected_table(ws)
    raw = out.read_text(encoding="utf-8")
    assert raw.count("\n") == len(table) and raw.count("\t") == len(table)
    assert "my email is kim.lee@example.com\\nand my cell" in raw and "got it\\tthanks" in raw
    assert "cool \\\\o/" in raw
    assert read_export(out, "txt") == list(zip(table["prompt"], table["reply"], strict=True))


def test_npy_is_the_messenger_bot_dictionary_keeping_the_most_recent_reply(ws, tmp_path):
    out = tmp_path / "conversationDictionary.npy"
    export(ws, "me", out, "npy")
    loaded = np.load(out, allow_pickle=True).item()  # exactly how Facebook-Messenger-Bot reads it
    table = expected_table(ws)
    assert loaded == read_export(out, "npy") == prompt_to_reply(table)
    assert set(loaded) == set(table["prompt"])
    assert loaded["hello there"] == "hey Kim, ask Ana Beatriz: ana@example.org"  # later of its two replies
    assert len(loaded) == len(table) - 1


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "hf"])  # hf (a folder): test_export_splits.py
def test_same_export_twice_is_byte_identical(ws, tmp_path, fmt):
    args = ["export", "--as", "me", "--format", fmt, "--context", "2", "--redact-names", "--data", str(ws.root)]
    first, second = tmp_path / "a" / f"one{FORMATS[fmt].suffix}", tmp_path / "b" / f"two{FORMATS[fmt].suffix}"
    for out in (first, second):
        res = runner.invoke(app, [*args, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert "Exported" in res.output and f"{out.stat().st_size:,} bytes" in res.output.replace("\n", " ")
    assert first.read_bytes() == second.read_bytes()
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600


def test_redaction_in_an_export(ws, tmp_path):
    out = tmp_path / "shared.jsonl"
    result = export(ws, "me", out, "jsonl", PairOptions(context_turns=3), redact_names=True)
    raw = out.read_text(encoding="utf-8")
    for value in PRIVATE:
        assert value not in raw, value
    rows = [json.loads(line) for line in raw.splitlines()]
    assert {r["reply_sender"] for r in rows} == {ME}  # you are kept
    assert {r["prompt_sender"] for r in rows} <= {"<NAME_1>", "<NAME_2>", "<NAME_3>"}
    assert {r["thread"] for r in rows} == {"<THREAD_1>", "<THREAD_2>"}
    # one value, one placeholder, everywhere in the file
    first = next(r for r in rows if r["prompt"].startswith("my email is"))
    keys = next(r for r in rows if r["prompt"].endswith("has the keys"))
    kim_email = re.findall(r"<EMAIL_\d+>", first["prompt"])[0]
    assert keys["prompt"] == f"{kim_email} has the keys"
    uk = re.findall(r"<PHONE_\d+>", first["reply"])[0]
    assert keys["context"][0] == f"climbing saturday? call {uk}"  # "+44 7911 123456" and "07911 123456" are one number
    assert keys["reply"] == f"thanks {keys['prompt_sender']}"  # Kim's name in the text and as sender: one placeholder
    assert result.redacted == {"URL": 1, "EMAIL": 2, "PHONE": 2, "NAME": 3, "THREAD": 2}


def test_redact_keeps_names_and_as_person(ws, tmp_path):
    out = tmp_path / "kim.jsonl"
    export(ws, "Kim", out, "jsonl", redact=True)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert "kim.lee@example.com" not in out.read_text(encoding="utf-8")
    assert {r["reply_sender"] for r in rows} == {"Kim Lee"}
    export(ws, "Kim", out, "jsonl", redact_names=True)
    text = out.read_text(encoding="utf-8")
    assert "Kim Lee" in text and "Bo Chen" not in text


def test_cli_pair_options_reach_the_library(ws, tmp_path):
    out = tmp_path / "p.parquet"
    res = runner.invoke(app, ["export", "--format", "parquet", "--out", str(out), "--data", str(ws.root),
                              "--with", "kim", "--context", "1", "--min-words", "2", "--max-words", "8",
                              "--session-gap", "6", "--until", "1970-01-01", "--since", "1970-01-01"])
    assert res.exit_code != 0  # nothing in that range
    res = runner.invoke(app, ["export", "--format", "parquet", "--out", str(out), "--data", str(ws.root),
                              "--with", "kim", "--context", "1", "--min-words", "2", "--max-words", "8",
                              "--session-gap", "6"])
    assert res.exit_code == 0, res.output
    opts = make_pair_options(session_gap=6, context=1, min_words=2, max_words=8, with_=["Kim Lee"])
    pd.testing.assert_frame_equal(read_export(out, "parquet"), expected_table(ws, "me", opts))
    assert "Kim Lee" in res.output and "Ana Beatriz" not in res.output


def test_train_takes_the_same_pair_options():
    res = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    for option in ("--session-gap", "--context", "--min-words", "--max-words", "--attachments", "--links",
                   "--with", "--since", "--until"):
        assert option in res.output


def test_unknown_with_is_one_line(ws, tmp_path):
    res = runner.invoke(app, ["export", "--with", "Zed", "--out", str(tmp_path / "x.csv"), "--format", "csv",
                              "--data", str(ws.root)])
    assert res.exit_code == EXIT_UNKNOWN_PERSON
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Zed" in lines[0] and "--as me" not in lines[0]
    with pytest.raises(UnknownPersonError, match="--with"):
        build_pairs(ws.messages(), "me", PairOptions(with_people=("me",)))


def test_dates_until_includes_its_day():
    assert parse_when("2021-03-04") == datetime(2021, 3, 4, tzinfo=UTC)
    assert parse_when("2021-03-04", end=True) == datetime(2021, 3, 5, tzinfo=UTC)
    assert parse_when("2021-03-04T10:30") == datetime(2021, 3, 4, 10, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_when("04/03/2021")


def test_bad_format_and_folder_out(ws, tmp_path):
    with pytest.raises(OptionError, match="xlsx") as caught:
        export(ws, "me", tmp_path / "x", "xlsx")
    assert "csv, jsonl, parquet, chat-jsonl, txt, npy" in caught.value.one_line()
    with pytest.raises(OptionError, match="is a folder"):
        export(ws, "me", tmp_path, "csv")


def test_existing_folder_keeps_its_permissions(ws, tmp_path):
    shared = tmp_path / "desktop"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    export(ws, "me", shared / "p.csv", "csv")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(shared / "p.csv").st_mode) == 0o600
