"""Ctrl-C at any moment of a command is one line, "interrupted" (for train: how to resume), and exit 130.

The commands run as a user runs them (``bot.cli:main`` in a fresh process). The interrupt is a real SIGINT,
sent by the process to itself at a chosen moment (when a module is imported, when a function is called) or by
this test once the process has reached a phase (a library mapped into its memory).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot import interrupts
from bot.cli import app
from bot.decoding import greedy

ROOT = Path(__file__).resolve().parents[2]
TRAIN_HINT = "interrupted (run the same `talklike train` with --resume to continue from its latest checkpoint)"
# once train's own code runs, the line also names the command that continues: "...checkpoint: talklike train
# --as me --resume --data DIR)"
TRAIN_RESUME = re.compile(re.escape(TRAIN_HINT[:-1]) + r": talklike train --as \S+ --resume --data \S+\)")

# INTERRUPT_AT = "import:NAME" (when NAME is first imported), "call:NAME" (when a function NAME is first called,
# after bot.cli is imported), or "swallow:NAME" (at NAME's import, inside code that catches the KeyboardInterrupt
# and goes on, as some libraries do)
AT_A_MOMENT = r"""
import os, signal, sys, time
kind, _, name = os.environ["INTERRUPT_AT"].partition(":")
fired = []

def interrupt():
    fired.append(True)
    if kind != "swallow":
        os.kill(os.getpid(), signal.SIGINT)
        return
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)
    except KeyboardInterrupt:
        pass

class AtImport:
    def find_spec(self, fullname, path=None, target=None):
        if fullname == name and not fired:
            interrupt()
        return None

def at_call(frame, event, arg):
    if event == "call" and frame.f_code.co_name == name and not fired:
        sys.setprofile(None)
        interrupt()

if kind in ("import", "swallow"):
    sys.meta_path.insert(0, AtImport())
sys.argv = ["talklike", *sys.argv[1:]]
from bot.cli import main
if kind == "call":
    sys.setprofile(at_call)
main()
"""


def _sigint_as_at_a_terminal() -> None:
    """A command started from a terminal gets SIGINT at its default; one started in the background by a
    non-interactive shell (``make test &``, some CI runners) inherits it ignored, as POSIX says, and then
    rightly ignores Ctrl-C. The commands under test are started as from a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_interrupted_at(moment: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, INTERRUPT_AT=moment, TALKLIKE_BASE="none")
    env.pop("TALKLIKE_DEBUG", None)
    return subprocess.run([sys.executable, "-c", AT_A_MOMENT, *args], cwd=ROOT, env=env, input="hello\n",
                          preexec_fn=_sigint_as_at_a_terminal,
                          capture_output=True, text=True, timeout=300)


def _assert_interrupted(res, line: str = "interrupted") -> None:
    assert res.returncode == 130, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    if line == TRAIN_HINT and len(lines) == 1 and TRAIN_RESUME.fullmatch(lines[0]):
        return  # the interrupt came once train's own code ran: the line names the command to resume with
    assert lines == [line], res.stderr[-3000:]


@pytest.mark.parametrize("moment", [
    "import:typer",  # bot.cli's own imports, before main() runs
    "import:pandas",  # deeper in them (bot.cli.options -> ingest.pairs -> pandas)
    "call:make_context",  # typer parsing the command line
])
def test_an_interrupt_while_starting_is_one_line_and_130(tmp_path, moment):
    _assert_interrupted(_run_interrupted_at(moment, "chat", "--data", str(tmp_path / "none")))


@pytest.mark.parametrize("command,line", [("chat", "interrupted"), ("eval", "interrupted"), ("train", TRAIN_HINT)])
def test_an_interrupt_while_keras_is_imported_is_one_line_and_130(tmp_path, command, line):
    _assert_interrupted(_run_interrupted_at("import:keras", command, "--data", str(tmp_path / "none")), line)


def test_an_interrupt_deep_in_tensorflow_s_import(tmp_path):
    _assert_interrupted(_run_interrupted_at("import:keras.src.models", "train", "--data", str(tmp_path / "none")),
                        TRAIN_HINT)


def test_an_interrupt_a_library_swallows_still_ends_the_command(tmp_path):
    # the command would go on to "nothing ingested" (exit 4): the swallowed interrupt stops it first
    _assert_interrupted(_run_interrupted_at("swallow:keras", "chat", "--data", str(tmp_path / "none")))


def _mapped(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="phases are read from /proc")
@pytest.mark.parametrize("phase", ["_multiarray_umath", "tensorflow"])  # bot.cli's imports; TensorFlow's import
def test_ctrl_c_from_outside_while_train_starts(convo_workspace, phase):
    env = dict(os.environ, TALKLIKE_BASE="none")
    env.pop("TALKLIKE_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "train", "--epochs", "1000",
                             "--data", str(convo_workspace.root)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_at_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not _mapped(proc.pid, phase) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_interrupted(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), TRAIN_HINT)


def test_a_command_s_interrupt_is_130_and_train_says_how_to_resume(convo_workspace, monkeypatch):
    import bot.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bot.train, "train", interrupted)
    res = CliRunner().invoke(app, ["train", "--as", "kim lee", "--data", str(convo_workspace.root)])
    assert res.exit_code == 130
    assert res.output.strip() == f"{TRAIN_HINT[:-1]}: talklike train --as 'kim lee' --resume --data " \
        f"{convo_workspace.root})"


def test_a_swallowed_interrupt_stops_decoding_at_the_next_step(monkeypatch):
    class Model:  # a model whose every step prefers word 5
        class config:
            max_reply_len = 4

        def decode_start(self, prompt_ids):
            return (np.zeros(len(prompt_ids)),)

        def decode_step(self, tokens, ctx):
            return np.tile(np.array([0, 0, 0, 0, 0, 5.0, 1.0]), (len(tokens), 1)), ctx

    prompts = np.ones((1, 2), dtype=np.int32)
    assert greedy(Model(), prompts, no_repeat_ngram=0) == [[5, 5, 5, 5]]
    monkeypatch.setattr(interrupts, "_state", {"signals": 1, "raised_again": 0, "said": False})
    with pytest.raises(KeyboardInterrupt):
        greedy(Model(), prompts)
    assert greedy(Model(), prompts, no_repeat_ngram=0) == [[5, 5, 5, 5]]  # raised once per signal
    monkeypatch.setattr(interrupts, "_state", {"signals": 1, "raised_again": 0, "said": True})
    assert greedy(Model(), prompts, no_repeat_ngram=0) == [[5, 5, 5, 5]]  # already handled: nothing raised


def test_main_called_in_process_leaves_ctrl_c_working_for_the_caller_and_its_children(tmp_path, monkeypatch):
    """A caller that catches main()'s SystemExit goes on: it must not be left ignoring SIGINT, nor hand an
    ignored SIGINT down to the processes it starts (they would never see a Ctrl-C)."""
    from bot.cli import main

    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a process started from a terminal
    monkeypatch.setattr(sys, "argv", ["talklike", "people", "--data", str(tmp_path / "none")])
    try:
        with pytest.raises(SystemExit):
            main()
        assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        child = subprocess.run([sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT))"],
                               capture_output=True, text=True, timeout=60)
        assert "default_int_handler" in child.stdout
    finally:
        signal.signal(signal.SIGINT, before)
