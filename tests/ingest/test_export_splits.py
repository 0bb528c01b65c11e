"""`talklike export`: the format from --out's suffix, standard output, train / validation / test by session (the
bot's own held-out split when there is a bot), the folder Hugging Face datasets loads, and strict chat turns."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from ingest.errors import EXIT_USAGE, OptionError
from ingest.export import (
    FOLDER_FORMATS,
    FORMATS,
    alternating_messages,
    export,
    export_table,
    plan_output,
    read_export,
    read_pairs,
    suffix_format,
)
from ingest.pairs import PairOptions, build_pairs
from ingest.pipeline import ingest
from ingest.splits import SPLITS, SplitOptions, is_held_out, is_tune, split_sides
from tests.conftest import ME, T0, TINY_MODEL, conversation_export, write_fb_thread

runner = CliRunner()
MIN = 60_000
HOUR = 60 * MIN
FILE_FORMATS = [f for f in FORMATS if f != "hf"]


@pytest.fixture
def ws(tmp_path, workspace):
    """Many sessions with two friends (conftest's conversations) and a group chat where several friends speak
    before I answer, and where I speak first."""
    conversation_export(tmp_path / "export", rounds=20)
    write_fb_thread(tmp_path / "export", "climbing_9", "climbing", [
        (ME, T0 - 10 * HOUR, "anyone climbing?"),
        ("Ana Beatriz", T0 - 10 * HOUR + MIN, "climbing saturday?"),
        ("Bo Chen", T0 - 10 * HOUR + 2 * MIN, "count me in"),
        ("Kim Lee", T0 - 10 * HOUR + 3 * MIN, "me too"),
        (ME, T0 - 10 * HOUR + 4 * MIN, "great, 10am"),
        ("Bo Chen", T0 - 10 * HOUR + 5 * MIN, "see you"),
        (ME, T0 - 10 * HOUR + 6 * MIN, "bye"),
    ], [ME, "Kim Lee", "Ana Beatriz", "Bo Chen"])
    ingest([tmp_path / "export"], workspace=workspace, me=[ME])
    return workspace


def keys(frame: pd.DataFrame) -> set:
    return set(zip(frame["thread"], frame["session"], strict=True))


# --- the format from the suffix ---------------------------------------------------------------

def test_every_suffix_names_its_format(ws, tmp_path):
    for fmt in FILE_FORMATS:
        out = tmp_path / f"pairs{FORMATS[fmt].suffix}"
        assert suffix_format(out.name) == fmt
        assert export(ws, "me", out).format == fmt
    assert pq.read_table(tmp_path / "pairs.parquet").num_rows > 0  # the bug: it was JSONL in a .parquet file
    assert read_export(tmp_path / "pairs.chat.jsonl", "chat-jsonl")[0][-1]["role"] == "assistant"
    assert "schema_version" in json.loads((tmp_path / "pairs.jsonl").read_text().splitlines()[0])


@pytest.mark.parametrize(("name", "fmt", "split", "want"), [
    ("p.jsonl", "chat-jsonl", False, ("chat-jsonl", "file")),  # a chat-jsonl file may end in .jsonl
    ("p.tsv", "txt", False, ("txt", "file")),  # a suffix that names no format contradicts nothing
    ("p.csv", None, True, ("csv", "files")),
    ("p.chat.jsonl", None, True, ("chat-jsonl", "files")),
    ("folder", None, False, ("parquet", "folder")),
    ("folder", "jsonl", True, ("jsonl", "folder")),
    ("folder", "hf", False, ("parquet", "folder")),
])
def test_plan_output(tmp_path, name, fmt, split, want):
    plan = plan_output(tmp_path / name, fmt, split=split)
    assert (plan.format, plan.layout) == want


@pytest.mark.parametrize(("name", "fmt", "split", "says"), [
    ("p.parquet", "csv", False, "does not match p.parquet"),
    ("p.chat.jsonl", "jsonl", False, "does not match"),
    ("p.dat", None, False, "cannot tell the format"),
    ("folder", "txt", True, "a split folder holds"),
    ("p.jsonl", "hf", False, None),  # hf is a folder: p.jsonl becomes one, unless it is a file (below)
])
def test_contradictions_are_option_errors(tmp_path, name, fmt, split, says):
    if says is None:
        (tmp_path / name).write_text("")
        says = "is a file"
    with pytest.raises(OptionError, match=says) as caught:
        plan_output(tmp_path / name, fmt, split=split)
    assert caught.value.exit_code == EXIT_USAGE and "\n" not in caught.value.one_line()
    with pytest.raises(OptionError, match="several files"):
        plan_output(io.BytesIO(), None, split=True)


def test_a_mismatch_exits_2_before_any_work(tmp_path):
    missing = tmp_path / "no workspace here"  # any work would fail with exit 4
    res = runner.invoke(app, ["export", "--out", str(tmp_path / "p.parquet"), "--format", "csv", "--data", str(missing)])
    assert res.exit_code == 2, res.output
    assert "does not match p.parquet" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(app, ["export", "--out", str(tmp_path / "p.jsonl"), "--alternate", "--data", str(missing)])
    assert res.exit_code == 2 and "--alternate" in res.stderr


# --- standard output --------------------------------------------------------------------------

def test_out_dash_writes_to_standard_output(ws, tmp_path):
    base = ["export", "--as", "me", "--out", "-", "--data", str(ws.root)]
    res = runner.invoke(app, base)
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    expected = export_table(build_pairs(ws.messages(), "me", PairOptions()))
    assert [r["reply"] for r in rows] == expected["reply"].tolist()
    assert "Exported" in res.stderr and not Path("-").exists()
    res = runner.invoke(app, [*base, "--format", "parquet"])
    assert res.exit_code == 0, res.stderr
    back = pq.read_table(io.BytesIO(res.stdout_bytes)).to_pandas()
    assert back["reply"].tolist() == expected["reply"].tolist()
    res = runner.invoke(app, [*base, "--format", "chat-jsonl", "--alternate"])
    assert all(json.loads(line)["messages"][-1]["role"] == "assistant" for line in res.stdout.splitlines())


def test_binary_formats_refuse_a_terminal(ws):
    class Terminal(io.BytesIO):
        def isatty(self):
            return True

    for fmt in ("parquet", "npy"):
        with pytest.raises(OptionError, match="terminal"):
            export(ws, "me", Terminal(), fmt)
    tty = Terminal()
    export(ws, "me", tty, "csv")
    assert tty.getvalue().startswith(b"schema_version,")


# --- splits -----------------------------------------------------------------------------------

def test_the_hashes_are_the_bot_s():
    from bot.data import is_validation
    from bot.eval.run import TUNE_SHARE
    from bot.eval.run import is_tune as eval_is_tune
    from bot.train import TrainOptions

    assert SplitOptions().held_out == TrainOptions().validation_share and SplitOptions().tune == TUNE_SHARE
    for i in range(500):
        key = f"thread {i}#{i % 7}"
        assert is_held_out(key, 0.2, i % 3) == is_validation(key, 0.2, i % 3)
        assert is_tune(key) == eval_is_tune(key)


def test_split_by_session_deterministic_and_complete(ws, tmp_path):
    opts = PairOptions(context_turns=2)
    shares = SplitOptions.from_shares(0.2, 0.3)
    first = export(ws, "me", tmp_path / "a" / "p.jsonl", pairs=opts, split=shares)
    second = export(ws, "me", tmp_path / "b" / "p.jsonl", pairs=opts, split=shares)
    assert [p.name for p in first.files] == ["p.train.jsonl", "p.validation.jsonl", "p.test.jsonl"]
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes()
    parts = {s: read_export(p, "jsonl") for s, p in zip(SPLITS, first.files, strict=True)}
    assert all(len(parts[s]) == first.splits[s] > 0 for s in SPLITS)
    for s in SPLITS:  # no session in two splits
        for t in SPLITS:
            assert s == t or not keys(parts[s]) & keys(parts[t])
    whole = export_table(build_pairs(ws.messages(), "me", opts))
    together = pd.concat(parts.values()).sort_values(["thread", "session", "reply_time"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, whole.sort_values(["thread", "session", "reply_time"])
                                  .reset_index(drop=True))
    assert "no trained bot" in first.split_note


def test_split_sides_hold_out_the_last_session_of_tiny_data():
    sides = split_sides(pd.Series(["a#1", "a#1", "b#1"]), SplitOptions(held_out=1e-9))
    assert sides[:2].tolist() == ["train", "train"] and sides[2] in ("validation", "test")


@pytest.mark.slow
def test_the_split_is_the_trained_bot_s_held_out_split(tmp_path, workspace):
    """The exported test set is exactly what `talklike eval` reports on, and validation what it tunes on."""
    from bot.data import split_pairs
    from bot.eval.run import is_tune as eval_is_tune
    from bot.train import TrainOptions, train

    conversation_export(tmp_path / "export", rounds=20)
    ingest([tmp_path / "export"], workspace=workspace, me=[ME])
    opts = TrainOptions(epochs=1, batch_size=8, min_count=1, model=TINY_MODEL, tensorboard=False, base=None,
                        match=False, quotes=False, validation_share=0.4, seed=3, pairs=PairOptions(context_turns=1))
    train(workspace, "me", opts)
    result = export(workspace, "me", tmp_path / "split", pairs=PairOptions(context_turns=1))
    assert "held-out split of me's trained bot" in result.split_note and "seed 3" in result.split_note
    pairs = build_pairs(workspace.messages(), "me", opts.pair_options())
    trained, held = split_pairs(pairs, opts.validation_share, opts.seed)
    tune = held["conversation"].map(eval_is_tune).to_numpy(dtype=bool)
    want = {"train": trained, "validation": held[tune], "test": held[~tune]}
    got = read_export(tmp_path / "split", "hf")
    for s in SPLITS:
        mine = got[got["split"] == s]
        assert sorted(mine["reply_time"]) == sorted(pd.to_datetime(want[s]["reply_time"], utc=True).dt.floor("us"))
    assert len(want["test"]) > 0 and len(want["validation"]) > 0
    other = export(workspace, "me", tmp_path / "other", split=SplitOptions(held_out=0.4, seed=4))
    assert "NOT the held-out split" in other.split_note


# --- the folder Hugging Face datasets loads ---------------------------------------------------

LOAD = """
import json, sys
from datasets import load_dataset
folder, cache = sys.argv[1], sys.argv[2]
files = {s: f"{folder}/data/{s}.parquet" for s in ("train", "validation", "test")}
by_files = load_dataset("parquet", data_files=files, cache_dir=cache)
by_folder = load_dataset(folder, cache_dir=cache)
print(json.dumps({"files": {s: by_files[s].num_rows for s in by_files},
                  "folder": {s: by_folder[s].num_rows for s in by_folder},
                  "columns": by_folder["train"].column_names,
                  "first": by_folder["test"][0]["reply"]}))
"""


def test_the_split_folder_loads_in_datasets_offline(ws, tmp_path):
    folder = tmp_path / "my dataset"
    res = runner.invoke(app, ["export", "--as", "me", "--out", str(folder), "--context", "2", "--data", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "README.md", "data/test.parquet", "data/train.parquet", "data/validation.parquet"]
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n")
    assert "do not upload" in card and '"context_turns": 2' in card and "| test |" in card
    assert f"# {ME}'s replies" in card
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets")}
    run = subprocess.run([sys.executable, "-c", LOAD, str(folder), str(tmp_path / "cache")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    counts = {s: len(read_export(folder / "data" / f"{s}.parquet", "parquet")) for s in SPLITS}
    assert loaded["files"] == loaded["folder"] == counts and sum(counts.values()) > 0
    assert "prompt" in loaded["columns"] and "context" in loaded["columns"]
    assert read_pairs(folder)["reply"].iloc[0] == loaded["first"]  # eval --pairs FOLDER takes its test split


@pytest.mark.parametrize("fmt", [f for f in FOLDER_FORMATS if f != "parquet"])
def test_a_split_folder_in_other_formats(ws, tmp_path, fmt):
    first = export(ws, "me", tmp_path / "a", fmt, split=True)
    second = export(ws, "me", tmp_path / "b", fmt, split=True)
    suffix = FORMATS[fmt].suffix
    assert [p.relative_to(tmp_path / "a").as_posix() for p in first.files] == [
        *(f"data/{s}{suffix}" for s in SPLITS), "README.md"]
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert f"path: data/test{suffix}" in (tmp_path / "a" / "README.md").read_text()


# --- chat-jsonl --alternate -------------------------------------------------------------------

def assert_alternates(messages: list[dict]) -> None:
    roles = [m["role"] for m in messages]
    if roles and roles[0] == "system":
        roles = roles[1:]
    assert roles and roles[0] == "user" and roles[-1] == "assistant"
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert "system" not in roles


def test_alternate_on_group_chats_with_context(ws, tmp_path):
    out = tmp_path / "chat.chat.jsonl"
    export(ws, "me", out, pairs=PairOptions(context_turns=4), alternate=True)
    chats = read_export(out, "chat-jsonl")
    for chat in chats:
        assert_alternates(chat)
    group = next(c for c in chats if c[-1]["content"] == "great, 10am")  # I asked, three friends answered
    assert [m["role"] for m in group] == ["system", "user", "assistant"]
    assert group[1]["content"] == "climbing saturday?\ncount me in\nme too"  # my opening turn left out
    plain = tmp_path / "plain.jsonl"
    export(ws, "me", plain, "chat-jsonl", PairOptions(context_turns=4))
    roles = [[m["role"] for m in c] for c in read_export(plain, "chat-jsonl")]
    assert ["system", "assistant", "user", "user", "user", "assistant"] in roles  # without --alternate: as before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["me", "kim", "ana"]), max_size=8), st.booleans(), st.data())
def test_alternate_always_alternates(senders, system, data):
    texts = data.draw(st.lists(st.text(max_size=5), min_size=len(senders), max_size=len(senders)))
    row = SimpleNamespace(context_senders=senders, context=texts, reply_sender="me", prompt="p", reply="r")
    msgs = alternating_messages(row, "sys" if system else None)
    assert_alternates(msgs)
    assert msgs[-1]["content"] == "r" and msgs[-2]["content"].endswith("p")
    # every user text of the context after the person's first reply is kept, in order
    kept = "\n".join(m["content"] for m in msgs if m["role"] != "system")
    assert kept.endswith("p\nr")


def test_a_folder_of_other_files_is_never_written_into(ws, tmp_path):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "README.md").write_text("my own notes")
    with pytest.raises(OptionError, match="holds other files"):
        export(ws, "me", mine)
    assert (mine / "README.md").read_text() == "my own notes" and not (mine / "data").exists()
    folder = tmp_path / "dataset"
    export(ws, "me", folder)
    export(ws, "me", folder, "jsonl", split=True)  # written again, in another format: nothing stale is left
    assert sorted(p.name for p in (folder / "data").iterdir()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    assert len(read_pairs(folder)) == len(read_export(folder / "data" / "test.jsonl", "jsonl"))
