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
