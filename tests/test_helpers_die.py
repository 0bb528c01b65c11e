"""The Facebook adapter's helper processes die with the ingest that forked them, whatever ends it.

A large export is read by forked helpers. Killed, the ingest used to leave them behind for good:
blocked on their pipe, holding a share of the messages, and holding the caller's stdout open, so
that `talklike ingest ... | tee` never ended. Here an ingest runs in a child (``_SCRIPT``) with the
export counted as large and its main process held in a read, so the helpers are up, either still
reading or blocked sending what they read; the ingest is then killed (SIGKILL, SIGTERM). No process
of it may be left, and whoever reads its stdout and stderr must see them end. ``mode`` "poll" takes
Linux's parent-death signal away, for the portable fallback (a helper polling its parent's pid).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.ingest import write_facebook

ROOT = Path(__file__).parents[1]
HELPERS = 2  # _cores() is made 3: two helpers beside the main process

_SCRIPT = """
import os, sys, time
from multiprocessing import connection
from pathlib import Path

from ingest.adapters import facebook

export, data, marks, mode, where = sys.argv[1:6]
facebook.PARALLEL_BYTES = 0  # every export is large
facebook._TASK_BYTES = 1  # a task per thread
facebook._cores = lambda: 3
if mode == "poll":
    facebook._prctl = lambda: None
main = os.getpid()
read_part = facebook._read_part
send = connection.Connection.send


def mark(what):
    Path(marks, f"{what}-{os.getpid()}").touch()


def part(source, items):
    if os.getpid() == main:  # the helpers are forked: the main process stays in a long read
        mark("main")
        time.sleep(3600)
    if where == "reading":
        mark("helper")
        time.sleep(3600)
    return read_part(source, items)


def sending(self, obj):  # a helper that read every task but the main one's: it blocks, nobody reads
    if os.getpid() != main:
        mark("helper")
    return send(self, obj)


facebook._read_part = part
connection.Connection.send = sending
sys.argv = ["talklike", "ingest", export, "--data", data]
from bot.cli import main as cli

cli()
"""


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fb") / "export"
    write_facebook(root, 6000, 40)
    return root


def _alive(proc: psutil.Process) -> bool:
    """Running, a zombie not counted: it holds no memory and no descriptor, and its reaping is up to
    whoever adopted it (pid 1 in a container may never reap)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group(pgid: int) -> list[psutil.Process]:
    """The live processes of process group ``pgid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and _alive(proc):
                found.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return found


def _start(export: Path, tmp_path: Path, mode: str, where: str):
    """The ingest, with its helpers up and at ``where``: (the ingest, its helpers, the read end of
    a pipe whose write end the ingest inherited, as a shell's `3>&1` would pass it)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    passed_r, passed_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(export), str(tmp_path / "data"), str(marks), mode, where],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, pass_fds=(passed_w,))
    finally:
        os.close(passed_w)
    deadline = time.monotonic() + 120  # a bound for a broken run, not a timing
    while not (len(list(marks.glob("main-*"))) == 1 and len(list(marks.glob("helper-*"))) == HELPERS):
        if proc.poll() is not None:
            _, errs = proc.communicate()
            pytest.fail(f"the ingest ended ({proc.returncode}) before its helpers were up: {errs.decode()[-2000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the helpers never came up")
        time.sleep(0.05)
    helpers = psutil.Process(proc.pid).children(recursive=True)
    assert sorted(p.pid for p in helpers) == sorted(int(m.name.split("-")[1]) for m in marks.glob("helper-*"))
    return proc, helpers, passed_r


def _ends(fd: int, seconds: float) -> bool:
    """Whether a read of ``fd`` reaches end of file within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0] and os.read(fd, 65536) == b"":
            return True
    return False


@pytest.mark.parametrize("where", ["reading", "sending"])
@pytest.mark.parametrize("mode", ["prctl", "poll"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_helpers_die_with_a_killed_ingest(export, tmp_path, sig, mode, where):
    if mode == "prctl" and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    proc, helpers, passed = _start(export, tmp_path, mode, where)
    try:
        os.kill(proc.pid, sig)
        # Whoever reads its stdout, its stderr or a pipe it was given sees them end: no helper holds them.
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("stdout or stderr of the killed ingest stayed open")
        assert _ends(passed, 30), "a pipe the ingest was given stayed open"
        deadline = time.monotonic() + 10
        while any(_alive(h) for h in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [h.pid for h in helpers if _alive(h)] == []
        assert _group(proc.pid) == []
    finally:
        os.close(passed)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a failing run left behind


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/<pid>/fd")
@pytest.mark.parametrize("where", ["reading", "sending"])
def test_helpers_hold_no_descriptor_of_the_caller(export, tmp_path, where):
    """While they work, a helper's stdin, stdout and stderr are /dev/null, and the only pipe it holds
    is its own write end: not the caller's stdout, not another helper's pipe, not a pipe the caller
    passed down."""
    proc, helpers, passed = _start(export, tmp_path, "prctl", where)
    try:
        for helper in helpers:
            links = {}
            for name in os.listdir(f"/proc/{helper.pid}/fd"):
                with contextlib.suppress(FileNotFoundError):
                    links[int(name)] = os.readlink(f"/proc/{helper.pid}/fd/{name}")
            assert [links.get(fd) for fd in (0, 1, 2)] == [os.devnull] * 3
            assert len([link for link in links.values() if link.startswith(("pipe:", "socket:"))]) == 1, links
    finally:
        os.close(passed)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
