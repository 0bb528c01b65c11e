"""One writer at a time: an OS lock on a file of the workspace, which dies with its process.

Two locks guard a workspace (see :class:`ingest.workspace.Workspace`):

- ``DATA/.lock``: the table, ``report.json``, ``workspace.json`` and the word vectors. Taken by
  ``ingest``, ``embed`` and ``export`` into the workspace folder.
- ``DATA/bots/.<key>.lock``: one bot folder. Taken by ``train`` of that person, so that two people's
  bots can train at once, and alongside an ingest.

The lock is ``fcntl.flock`` on the lock file: the kernel drops it when its holder dies, however it
dies, so a stale lock is simply taken by the next writer (which rewrites the note). The file holds a
small JSON note (command, pid, start time) so that a second writer can say who holds it; it is
never deleted (deleting a lock file lets two writers hold two different files).

A second writer waits up to ``TALKLIKE_LOCK_WAIT`` seconds (default 10; 0: not at all), saying once
that it waits, then raises :class:`~ingest.errors.BusyError` (exit 75). Readers never take the lock:
:func:`probe` tells whether a live writer holds it, and :func:`unheld` holds it shared for the
moment a reader repairs something (a bot folder half-swapped by a killed run), so that no writer
starts in between.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.errors import BusyError

WAIT_ENV = "TALKLIKE_LOCK_WAIT"
DEFAULT_WAIT = 10.0  # seconds a second writer waits before saying busy
POLL = 0.1

_held: dict[str, tuple[int, int]] = {}  # path -> (fd, depth): a process re-entering its own lock
_guard = threading.Lock()


@dataclass
class Holder:
    """Who holds a lock, from its note (fields may be missing when the note could not be read)."""

    command: str = "another command"
    pid: int | None = None
    started: str | None = None  # ISO 8601, local time

    def line(self) -> str:
        since = ""
        if self.started:
            with contextlib.suppress(ValueError):
                since = f" since {datetime.fromisoformat(self.started).strftime('%H:%M')}"
        pid = f", pid {self.pid}" if self.pid else ""
        return f"{self.command} running{since}{pid}"


def default_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


def _open(path: Path) -> int:
    from ingest.workspace import disk_error, private_mkdir

    if not path.parent.is_dir():
        private_mkdir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise disk_error(path, exc) from None
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)
    return fd


def _note(fd: int) -> Holder:
    try:
        raw = os.pread(fd, 4096, 0)
        note = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        return Holder()
    if not isinstance(note, dict):
        return Holder()
    pid = note.get("pid")
    return Holder(command=str(note.get("command") or "another command")[:40],
                  pid=pid if isinstance(pid, int) else None, started=note.get("started"))


def _write_note(fd: int, command: str) -> None:
    note = json.dumps({"command": command, "pid": os.getpid(),
                       "started": datetime.now().astimezone().isoformat(timespec="seconds")}).encode()
    with contextlib.suppress(OSError):  # the note only informs; the flock is what locks
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)


def _say_waiting(line: str) -> None:
    print(f"waiting for the workspace: {line}", file=sys.stderr, flush=True)


def held_here(path: Path) -> bool:
    """This process holds the lock at ``path``."""
    return str(Path(path).absolute()) in _held


@contextlib.contextmanager
def hold(path: Path, command: str, *, wait: float | None = None,
         waiting: Callable[[str], None] | None = _say_waiting) -> Iterator[None]:
    """Hold the writers' lock at ``path`` for the block (re-entrant within this process).

    ``wait``: seconds to wait for another writer (None: :func:`default_wait`); then
    :class:`BusyError`. ``waiting`` is told once, with who holds it, when the lock is not free."""
    key = str(Path(path).absolute())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return
    fd = _open(Path(path))
    try:
        _acquire(fd, default_wait() if wait is None else wait, waiting)
        _write_note(fd, command)
        with _guard:
            _held[key] = (fd, 1)
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # (closing the file releases the flock)


def _acquire(fd: int, wait: float, waiting: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _note(fd)
        if time.monotonic() >= deadline:
            raise BusyError(f"workspace busy: {holder.line()}",
                            hint=f"wait for it to finish (or set {WAIT_ENV} to wait longer)")
        if not told and waiting is not None and wait > 1:
            waiting(f"{holder.line()}; waiting up to {wait:g} s")
            told = True
        time.sleep(POLL)


def probe(path: Path) -> Holder | None:
    """Who holds the lock at ``path`` (another live process), without taking it; None when nobody."""
    path = Path(path)
    if held_here(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # no lock file: nobody ever wrote here
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _note(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def unheld(path: Path) -> Iterator[Holder | None]:
    """For a reader about to repair what a killed writer left: yields None while holding the lock shared
    (no writer can start meanwhile), or the live writer's :class:`Holder` (then repair nothing)."""
    path = Path(path)
    if held_here(path):
        yield None
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        yield None  # no lock file: no writer ever ran, none runs now
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield _note(fd)
            return
        yield None
    finally:
        os.close(fd)
