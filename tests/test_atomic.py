"""Killed at any moment, a command leaves the previous good state readable, and the next run works.

Each test starts a real process, makes its writer stall half-way through a write (a patched slow
writer touches a marker file, then sleeps), kills it with SIGKILL, and checks what is on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.workspace import STALE_SECONDS, Workspace, atomic_write
from tests.conftest import ME, T0, conversation_export, write_fb_thread

ROOT = Path(__file__).resolve().parent.parent

STALL = """
import os, pathlib, sys, time
MARKER = pathlib.Path(os.environ["MARKER"])
def stall(fh=None):
    if fh is not None:
        fh.write(b"half of a file, never finished")
        fh.flush()
    MARKER.write_text("mid-write")
    time.sleep(120)
"""


def kill_mid_write(code: str, tmp_path: Path, timeout: float = 60) -> None:
    """Run ``code`` (after STALL's helpers) and SIGKILL it once it reports being half-way through a write."""
    marker = tmp_path / "mid-write"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", STALL + textwrap.dedent(code)], cwd=ROOT,
                            env={**os.environ, "MARKER": str(marker)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the process ended before the write (rc {proc.returncode}): {out[-2000:]}{err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the process never reached the write")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def test_atomic_write_killed_half_way_keeps_the_previous_file(tmp_path):
    target = tmp_path / "state.json"
    target.write_text('{"good": true}')
    kill_mid_write(f"""
        from pathlib import Path
        from ingest.workspace import atomic_write
        with atomic_write(Path({str(target)!r})) as fh:
            stall(fh)
    """, tmp_path)
    assert target.read_text() == '{"good": true}'
    leftovers = list(tmp_path.glob(".state.json.*.tmp"))
    assert len(leftovers) == 1  # what the killed run was writing; never read, removed once stale
    with atomic_write(target, "w") as fh:
        fh.write("next")
    assert target.read_text() == "next"


def test_stale_temporaries_of_killed_runs_are_removed_and_fresh_ones_kept(tmp_path):
    target = tmp_path / "messages.parquet"
    stale, fresh = tmp_path / ".messages.parquet.abc.tmp", tmp_path / ".messages.parquet.def.tmp"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - STALE_SECONDS - 10
    os.utime(stale, (old, old))
    with atomic_write(target) as fh:
        fh.write(b"table")
    assert not stale.exists() and fresh.exists() and target.read_bytes() == b"table"


def test_ingest_killed_while_saving_the_table_keeps_the_previous_table(tmp_path):
    conversation_export(tmp_path / "export")
    ws = Workspace(tmp_path / "data")
    from ingest.pipeline import ingest

    ingest([tmp_path / "export"], workspace=ws, me=[ME])
    before = ws.messages()
    meta_before = ws.meta_path.read_bytes()

    write_fb_thread(tmp_path / "more", "zoe_9", "Zoe", [("Zoe", T0, "hello there"), (ME, T0 + 1000, "hi friend")])
    kill_mid_write(f"""
        import pandas as pd
        pd.DataFrame.to_parquet = lambda self, fh, *a, **k: stall(fh)
        sys.argv = ["talklike", "ingest", {str(tmp_path / "more")!r}, "--data", {str(ws.root)!r}]
        from bot.cli import main
        main()
    """, tmp_path)

    after = Workspace(ws.root)
    assert after.messages().equals(before)
    assert after.meta_path.read_bytes() == meta_before
    # the next run works and adds the new thread
    result = ingest([tmp_path / "more"], workspace=after, me=[ME])
    assert result.added == 2 and len(after.messages()) == len(before) + 2


SAVE_BOT = """
    import json
    from pathlib import Path
    from bot.model import ModelConfig, Seq2Seq
    from bot.store import save_bot
    from bot.vocab import load_vocabulary
    folder = Path({folder!r})
    vocab = load_vocabulary(json.loads((folder / "vocab.json").read_text()))
    cfg = json.loads((folder / "config.json").read_text())["model"]
    model = Seq2Seq(ModelConfig.from_json(cfg))
    {patch}
    save_bot(folder, model, vocab, meta={{"person": "me", "killed": "never saved"}}, config={{}})
"""


@pytest.mark.parametrize("moment", ["writing the weights", "between the two renames"])
def test_a_bot_killed_while_saving_keeps_the_previous_bot(tmp_path, moment):
    from bot.model import ModelConfig, Seq2Seq
    from bot.store import bot_folder, load_bot, save_bot
    from bot.vocab import Vocabulary
    from tests.conftest import TINY_MODEL

    ws = Workspace(tmp_path / "data")
    vocab = Vocabulary.build(["hello there", "hi friend", "how are you", "good thanks"], min_count=1)
    model = Seq2Seq(ModelConfig(vocab_size=len(vocab), **TINY_MODEL))
    folder = save_bot(bot_folder(ws, "me"), model, vocab, meta={"person": "me"}, config={})
    replies = load_bot(folder).replies(["hello there", "how are you"], "greedy")

    if moment == "writing the weights":
        patch = "Seq2Seq.save_weights = lambda self, path: stall(open(path, 'wb'))"
    else:  # the old folder moved aside, the new one not yet in place
        patch = textwrap.dedent("""
            import os
            real = os.replace
            def replace(a, b):
                if str(b) == str(folder):
                    stall()
                real(a, b)
            os.replace = replace
        """).replace("\n", "\n    ")
    kill_mid_write(SAVE_BOT.format(folder=str(folder), patch=patch), tmp_path)

    restored = load_bot(bot_folder(ws, "me"))
    assert restored.meta.get("killed") is None and restored.replies(["hello there", "how are you"], "greedy") == replies
    # the next save works
    save_bot(bot_folder(ws, "me"), model, vocab, meta={"person": "me", "run": 2}, config={})
    assert load_bot(bot_folder(ws, "me")).meta["run"] == 2


# --- the table and its report commit together ---------------------------------------------------------

@pytest.mark.parametrize("crash", ["before the journal", "between the renames"])
def test_a_crash_between_the_table_and_the_report_leaves_them_in_step(tmp_path, workspace, monkeypatch, crash):
    from ingest import workspace as ws_module
    from ingest.pipeline import ingest

    conversation_export(tmp_path / "one", friends=("Kim Lee",))
    conversation_export(tmp_path / "two", friends=("Ana Beatriz",))
    ingest([tmp_path / "one"], workspace=workspace, me=[ME])
    first = len(workspace.messages())

    class Killed(BaseException):
        pass

    with monkeypatch.context() as m:
        if crash == "before the journal":  # the table written, the report not yet
            real = ws_module.atomic_write

            def atomic_write(path, mode="wb"):
                if "report" in path.name:
                    raise Killed
                return real(path, mode)

            m.setattr(ws_module, "atomic_write", atomic_write)
        else:  # the journal written, the table renamed into place, the report not yet
            real_replace = os.replace

            def replace(a, b):
                if str(b).endswith("report.json"):
                    raise Killed
                real_replace(a, b)

            m.setattr(ws_module.os, "replace", replace)
        with pytest.raises(Killed):
            ingest([tmp_path / "two"], workspace=workspace, me=[ME])

    fresh = Workspace(workspace.root)  # the next command: the table and the report agree
    table, report = fresh.messages(), fresh.report()
    assert report["runs"][-1]["messages"] == len(table)
    assert not (fresh.root / "commit.json").exists()
    assert not list(fresh.root.glob(".*.pending"))
    result = ingest([tmp_path / "two"], workspace=fresh, me=[ME])
    latest = fresh.report()["runs"][-1]
    assert latest["messages"] == len(fresh.messages()) == first + 36
    assert result.added == latest["added"] == (0 if crash == "between the renames" else 36)
    account = fresh.report()["sources"][f"{(tmp_path / 'two').resolve()} [facebook]"]
    assert account["kept"] + account["skipped"].get("duplicate", 0) == 36


# --- leftovers -------------------------------------------------------------------------------------------

def test_leftovers_older_than_an_hour_go_when_a_command_opens_the_workspace(tmp_path, convo_workspace):
    root = convo_workspace.root
    corpus = root / ".embeddings.k1ll3d"
    corpus.mkdir()
    (corpus / "corpus.txt").write_text("every message tokenised\n")
    tmp = root / ".messages.parquet.abc.tmp"
    tmp.write_bytes(b"half")
    half_bot = root / "bots" / ".me.x1y2"
    half_bot.mkdir(parents=True)
    fresh = root / ".report.json.new.tmp"
    fresh.write_text("{")
    old = time.time() - STALE_SECONDS - 60
    for p in (corpus / "corpus.txt", corpus, tmp, half_bot):
        os.utime(p, (old, old))

    Workspace(root).messages()  # any command that opens the workspace
    assert not corpus.exists() and not tmp.exists() and not half_bot.exists()
    assert fresh.exists()  # a live run's temporary, under an hour old, stays


# --- re-ingest on stable thread ids --------------------------------------------------------------------

def test_a_group_renamed_between_two_exports_is_one_thread_and_nothing_is_added_twice(tmp_path, workspace):
    from ingest.pipeline import ingest

    people = [ME, "Kim Lee", "Ana Beatriz"]
    msgs = [(people[i % 3], T0 + i * 60_000, f"message {i}") for i in range(30)]
    write_fb_thread(tmp_path / "old", "hikingclub_4815162342", "Hiking club", msgs[:20], people)
    write_fb_thread(tmp_path / "new", "mountainfriends_4815162342", "Mountain friends", msgs, people)

    ingest([tmp_path / "old"], workspace=workspace, me=[ME])
    result = ingest([tmp_path / "new"], workspace=workspace, me=[ME])
    table = workspace.messages()
    assert result.added == 10 and len(table) == 30
    assert table["thread_id"].nunique() == 1 and set(table["thread_title"]) == {"Mountain friends"}
    assert result.sources[0].skipped == {"duplicate": 20}

    both = Workspace(tmp_path / "both")  # both exports in one run
    ingest([tmp_path / "old", tmp_path / "new"], workspace=both, me=[ME])
    table = both.messages()
    assert len(table) == 30 and table["thread_id"].nunique() == 1
    assert set(table["thread_title"]) == {"Mountain friends"}


def test_embed_on_a_full_disk_is_a_disk_error_and_leaves_no_corpus(convo_workspace, monkeypatch):
    import errno

    from embeddings import vectors
    from ingest.errors import DiskError

    def full(sentences, path):
        path.write_text("part of the corpus\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vectors, "write_corpus_file", full)
    with pytest.raises(DiskError, match="the disk is full") as err:
        vectors.train_vectors(convo_workspace, vectors.EmbedOptions(min_count=1, epochs=1, workers=1))
    assert err.value.exit_code == 6
    assert not list(convo_workspace.root.glob(".embeddings.*"))


# --- a full disk while training saves ------------------------------------------------------------------

def _tiny_bot():
    from bot.model import ModelConfig, Seq2Seq
    from bot.vocab import Vocabulary
    from tests.conftest import TINY_MODEL

    vocab = Vocabulary.build(["hello there", "hi friend", "how are you", "good thanks"], min_count=1)
    return Seq2Seq(ModelConfig(vocab_size=len(vocab), **TINY_MODEL)), vocab


def test_a_checkpoint_on_a_full_disk_is_a_disk_error_before_h5py_writes(tmp_path, monkeypatch):
    """h5py writing to a full disk can kill the process (exit 139): the space is checked first."""
    from collections import namedtuple

    from bot import callbacks
    from ingest.errors import DiskError

    model, _ = _tiny_bot()
    path = tmp_path / "train-0001.weights.h5"
    callbacks.save_weights_atomic(model.training, path)
    before = path.read_bytes()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(callbacks.shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1000))
    with pytest.raises(DiskError, match="the disk is full"):
        callbacks.save_weights_atomic(model.training, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_failed_save_keeps_the_checkpoints_for_resume(tmp_path, monkeypatch):
    import errno

    from bot import store
    from bot.store import bot_folder, save_bot
    from ingest.errors import DiskError

    ws = Workspace(tmp_path / "data")
    model, vocab = _tiny_bot()
    folder = bot_folder(ws, "me")
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "state.json").write_text("{}")

    def full(new, old):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "replace_folder", full)
    with pytest.raises(DiskError, match="the disk is full"):
        save_bot(folder, model, vocab, meta={"person": "me"}, config={})
    assert (folder / "checkpoints" / "state.json").read_text() == "{}"
    assert not list(folder.parent.glob(f".{folder.name}.*"))
