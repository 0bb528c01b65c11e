"""Private by construction: owner-only files, no network at run time, no message text in errors.

The commands run as a user would run them (``bot.cli:main`` in a fresh process) with a permissive
umask (022) inherited from the shell, so any file the tool leaves world- or group-readable shows,
and with every internet socket blocked by a ``sitecustomize`` that records any attempt.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ME, PATTERNS, conversation_export

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = '''
"""Test harness: any internet connection or name lookup is recorded and refused."""
import os, socket
_LOG = os.environ["TALKLIKE_NET_LOG"]
_INET = (socket.AF_INET, socket.AF_INET6)

def _record(what):
    with open(_LOG, "a") as fh:
        fh.write(what + "\\n")

def _guard(name):
    real = getattr(socket.socket, name)
    def guarded(self, *args):
        if self.family in _INET:
            _record(f"{name} {args[-1] if name == 'sendto' else args[0]!r}")
            raise OSError(101, "network blocked by the test")
        return real(self, *args)
    setattr(socket.socket, name, guarded)

for _name in ("connect", "connect_ex", "sendto"):
    _guard(_name)

def _no_lookup(host, *args, **kwargs):
    _record(f"getaddrinfo {host!r}")
    raise socket.gaierror(-2, "name lookups blocked by the test")
socket.getaddrinfo = _no_lookup
'''


@pytest.fixture
def sandbox(tmp_path):
    """Runs ``talklike ARGS`` with umask 022, sockets blocked; returns (run, log of network attempts)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = tmp_path / "network-attempts.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "TALKLIKE_NET_LOG": str(log),
           "TALKLIKE_DATA": str(tmp_path / "data"), "MPLBACKEND": "Agg"}
    env.pop("TALKLIKE_DEBUG", None)

    def run(*args: str, stdin: str = "", code: str = "from bot.cli import main; main()") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, input=stdin, capture_output=True,
                              text=True, env=env, timeout=300, preexec_fn=lambda: os.umask(0o022))

    return run, log


def test_the_blocker_works(sandbox):
    run, log = sandbox
    res = run(code="import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
                   "except OSError as e:\n    print('refused', e)")
    assert "refused" in res.stdout and log.exists()


def _modes(root: Path) -> dict[str, int]:
    out = {str(root): stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        if not p.is_symlink():
            out[str(p.relative_to(root))] = stat.S_IMODE(p.stat().st_mode)
    return out


@pytest.mark.slow
def test_every_command_writes_owner_only_files_and_opens_no_connection(tmp_path, sandbox):
    run, log = sandbox
    conversation_export(tmp_path / "export")
    texts = {t for pair in PATTERNS for t in pair}
    steps = [
        ("ingest", str(tmp_path / "export"), "--me", ME),
        ("stats", "--plot", str(tmp_path / "data" / "plots" / "months.png")),
        ("export", "--format", "csv", "--out", str(tmp_path / "data" / "exports" / "pairs.csv")),
        ("embed", "--dim", "8", "--epochs", "1", "--min-count", "1"),
        ("train", "--epochs", "2", "--batch-size", "8"),
    ]
    from bot.cli import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    for args in steps:
        if args[0] not in commands:  # a command still being written elsewhere
            continue
        res = run(*args)
        assert res.returncode == 0, (args, res.stdout[-3000:], res.stderr[-3000:])
        assert not any(t in res.stderr for t in texts), (args, "message text on stderr")
    res = run("chat", stdin="hello there\nhow are you\n")
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(res.stdout.splitlines()) == 2 and not any(t in res.stderr for t in texts)

    assert not log.exists(), f"network use at run time: {log.read_text()}"
    data = tmp_path / "data"
    modes = _modes(data)
    assert any(k.startswith("bots/me/") and k.endswith(".weights.h5") for k in modes)
    for must in ("messages.parquet", "report.json", "workspace.json", "plots/months.png", "exports/pairs.csv",
                 "bots/me/meta.json", "bots/me/learning_curves.png"):
        assert must in modes, f"{must} was not written"
    loose = {k: oct(m) for k, m in modes.items() if m & 0o077}
    assert not loose, f"readable by others: {loose}"


def test_pretty_exceptions_are_off():
    from bot.cli import app

    assert app.pretty_exceptions_enable is False


def test_an_unexpected_error_prints_no_message_text_and_no_traceback(tmp_path, sandbox):
    """A bug deep inside ingest, whose message and locals hold chat text: one line, no text, exit 70."""
    run, _ = sandbox
    conversation_export(tmp_path / "export")
    code = ("import ingest.pipeline as p\n"
            "def boom(table, **kw):\n"
            "    secret = table['text'].iloc[0]\n"
            "    raise ValueError('cannot handle ' + secret)\n"
            "p.resolve_me = boom\n"
            "from bot.cli import main; main()")
    res = run("ingest", str(tmp_path / "export"), code=code)
    assert res.returncode == 70
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("internal error: ValueError at "), res.stderr
    assert "Traceback" not in res.stderr and "cannot handle" not in res.stderr and "secret" not in res.stderr
    assert not any(t in res.stderr + res.stdout for pair in PATTERNS for t in pair)
