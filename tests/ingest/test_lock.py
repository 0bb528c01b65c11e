"""The writers' lock: one writer at a time, a clear "busy" for the second, and a dead holder's lock taken over."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest import lock
from ingest.errors import EXIT_BUSY, BusyError
from ingest.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
TALKLIKE = Path(sys.executable).with_name("talklike")  # the installed entry point

HOLDER = """
import pathlib, sys, time
from ingest import lock
with lock.hold(pathlib.Path(sys.argv[1]), sys.argv[2], wait=0):
    pathlib.Path(sys.argv[3]).write_text("held")
    time.sleep(120)
"""


def hold_in_child(path: Path, command: str, tmp_path: Path) -> subprocess.Popen:
    ready = tmp_path / f"ready-{command}"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLDER), str(path), command, str(ready)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "the holder ended before taking the lock"
        assert time.monotonic() < deadline, "the holder never took the lock"
        time.sleep(0.05)
    return proc


def test_a_second_writer_says_who_holds_the_lock_and_exits_75(tmp_path):
    path = tmp_path / "ws" / ".lock"
    proc = hold_in_child(path, "ingest", tmp_path)
    try:
        with pytest.raises(BusyError) as err, lock.hold(path, "embed", wait=0):
            pass
        assert err.value.exit_code == EXIT_BUSY == 75
        line = err.value.one_line()
        assert line.startswith("workspace busy: ingest running since ")
        assert f"pid {proc.pid}" in line and "\n" not in line
        assert lock.probe(path).pid == proc.pid
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        proc.kill()
        proc.wait()


def test_a_waiting_writer_says_so_then_takes_the_lock_when_the_holder_ends(tmp_path):
    path = tmp_path / ".lock"
    proc = hold_in_child(path, "train", tmp_path)
    told = []
    try:
        os.kill(proc.pid, signal.SIGTERM)  # (it ends while the second writer waits)
        with lock.hold(path, "ingest", wait=60, waiting=told.append):
            note = json.loads(path.read_text())
            assert note["command"] == "ingest" and note["pid"] == os.getpid()
    finally:
        proc.kill()
        proc.wait()


def test_a_dead_holders_lock_is_taken_over_and_its_note_rewritten(tmp_path):
    path = tmp_path / ".lock"
    proc = hold_in_child(path, "train", tmp_path)
    proc.kill()  # SIGKILL: no clean-up ran; the note still names the dead process
    proc.wait()
    assert json.loads(path.read_text())["pid"] == proc.pid
    assert lock.probe(path) is None  # the kernel dropped the flock with its holder
    with lock.hold(path, "ingest", wait=0):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_the_lock_is_reentrant_in_one_process_and_free_after(tmp_path):
    path = tmp_path / ".lock"
    with lock.hold(path, "ingest", wait=0), lock.hold(path, "export", wait=0):
        assert lock.held_here(path)
    assert not lock.held_here(path)
    assert lock.probe(path) is None


def test_ingest_into_a_workspace_held_by_a_live_writer_says_busy(tmp_path, monkeypatch):
    from ingest.pipeline import ingest
    from tests.conftest import ME, conversation_export

    ws = Workspace(tmp_path / "data").create()
    monkeypatch.setenv(lock.WAIT_ENV, "0")
    proc = hold_in_child(ws.lock_path, "embed", tmp_path)
    try:
        with pytest.raises(BusyError, match="workspace busy: embed running"):
            ingest([conversation_export(tmp_path / "export")], workspace=ws, me=[ME])
        assert not ws.has_messages()
    finally:
        proc.kill()
        proc.wait()
    ingest([tmp_path / "export"], workspace=ws, me=[ME])  # the holder gone, it goes through
    assert ws.has_messages()


def test_the_cli_prints_one_busy_line_and_exits_75(tmp_path):
    from tests.conftest import conversation_export

    ws = Workspace(tmp_path / "data").create()
    proc = hold_in_child(ws.lock_path, "ingest", tmp_path)
    try:
        res = subprocess.run([str(TALKLIKE), "ingest", str(conversation_export(tmp_path / "x")),
                              "--data", str(ws.root)], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, lock.WAIT_ENV: "0"}, timeout=300)
    finally:
        proc.kill()
        proc.wait()
    assert res.returncode == 75, res.stderr
    assert "workspace busy: ingest running since" in res.stderr + res.stdout
    assert "Traceback" not in res.stderr
