"""The terminal chat as a person uses it: the real ``talklike chat`` in a pseudo-terminal, keys typed one by one.

The command runs in a fresh process, as from a terminal. A spy around ``Conversation.reply`` (set up in that
process before ``main()``, like the interrupt moments of tests/bot/test_interrupts.py) writes each message the
bot was asked to answer, with the turns it had and the strategy, to a file: so the tests can tell what reached
the bot (a /command must not, an arrow key must edit the line rather than arrive as ``^[[D``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import pexpect
import pytest

from bot.train import TrainOptions, train
from ingest.pipeline import ingest
from ingest.workspace import Workspace
from tests.conftest import ME, TINY_MODEL, conversation_export

ROOT = Path(__file__).resolve().parents[2]
LOAD = 180  # seconds the bot may take to load on a busy machine (TensorFlow's import)
STEP = 60
LEFT, UP = "\x1b[D", "\x1b[A"
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours, cursor moves: what the tests read is the text

WITH_SPY = r"""
import json, os, sys
from bot import chat

def spy(reply, record=os.environ["RECORD"]):
    def recorded(self, text):
        turns, burst = len(self.turns), reply(self, text)
        with open(record, "a", encoding="utf-8") as f:
            f.write(json.dumps({"text": text, "turns": turns, "strategy": self.strategy, "burst": burst}) + "\n")
        return burst
    return recorded

chat.Conversation.reply = spy(chat.Conversation.reply)
sys.argv = ["talklike", *sys.argv[1:]]
from bot.cli import main
main()
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A workspace with my tiny bot trained on the PATTERNS conversations (greedy answers them exactly)."""
    root = tmp_path_factory.mktemp("repl")
    conversation_export(root / "export")
    workspace = Workspace(root / "data")
    ingest([root / "export"], workspace=workspace, me=[ME])
    train(workspace, "me", TrainOptions(epochs=60, batch_size=8, learning_rate=2e-2, validation_share=0.0,
                                        min_count=1, model=TINY_MODEL, tensorboard=False))
    return workspace.root


class Chat:
    """``talklike chat`` in a pseudo-terminal; ``record`` lists what the bot was asked, in order."""

    def __init__(self, data: Path, tmp_path: Path, term: str = "xterm-256color") -> None:
        self.record = tmp_path / "asked.jsonl"
        env = {k: v for k, v in os.environ.items() if k != "TALKLIKE_DEBUG"}
        # PROMPT_TOOLKIT_NO_CPR: this terminal does not answer prompt_toolkit's cursor-position queries
        env.update(TERM=term, RECORD=str(self.record), TALKLIKE_BASE="none", PROMPT_TOOLKIT_NO_CPR="1",
                   COLUMNS="120", LINES="30")
        self.child = pexpect.spawn(sys.executable, ["-c", WITH_SPY, "chat", "--as", "me", "--data", str(data)],
                                   cwd=str(ROOT), env=env, encoding="utf-8", timeout=STEP, dimensions=(30, 120),
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.child.expect("/help for the commands", timeout=LOAD)
        self.prompt()

    def prompt(self) -> str:
        """Wait for the next prompt; what was printed since the one before. (A new prompt starts a line;
        prompt_toolkit also draws the prompt again, on its own line, as each key edits it.)"""
        self.child.expect("\n[^\n]*you ›")
        return ESCAPES.sub("", self.child.before)

    def line(self, text: str) -> str:
        """Type a line, Enter; what it printed before the next prompt."""
        self.child.send(text + "\r")
        return self.prompt()

    def asked(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines()]

    def end(self) -> tuple[int | None, str]:
        self.child.expect(pexpect.EOF)
        rest = self.child.before
        self.child.close()
        return self.child.exitstatus, rest


def test_line_editing_history_and_commands(data, tmp_path):
    chat = Chat(data, tmp_path)
    shown = chat.line("/help")
    for command in ("/help", "/reset", "/strategy", "/who", "/quit"):
        assert command in shown
    assert chat.asked() == []  # a command never reaches the bot

    shown = chat.line("/strategy")
    assert "hybrid" in shown and "greedy, beam, sample, mmi" in shown
    shown = chat.line("/strategy nope")
    assert "error: unknown decoding strategy 'nope'" in shown and "choose one of" in shown
    shown = chat.line("/strategy greedy")
    assert "strategy: greedy" in shown

    chat.child.send("helo")  # a typo, mended with the arrow key: the bot reads "hello there"
    chat.child.send(LEFT)
    chat.child.send("l")
    chat.child.send("\x1b[F")  # End
    shown = chat.line(" there")
    assert "me › hi friend" in shown  # the burst, line by line, with the bot's name
    shown = chat.line(UP)  # the line before, recalled from the history
    assert "me › hi friend" in shown

    shown = chat.line("/bogus")
    assert "unknown command /bogus" in shown and "/help" in shown
    shown = chat.line("/who")
    assert str(data / "bots" / "me") in shown and "24" in shown  # its folder, and the pairs it learnt from
    chat.line("/reset")
    chat.line("//help")  # "//" sends a line that begins with "/"
    chat.child.sendcontrol("d")
    code, _ = chat.end()
    assert code == 0
    assert chat.asked() == [
        {"text": "hello there", "turns": 0, "strategy": "greedy", "burst": ["hi friend"]},
        {"text": "hello there", "turns": 2, "strategy": "greedy", "burst": ["hi friend"]},  # the turns before
        {"text": "/help", "turns": 0, "strategy": "greedy", "burst": chat.asked()[-1]["burst"]},  # after /reset
    ]


@pytest.mark.parametrize("term", ["xterm-256color", "dumb"])
def test_ctrl_c_is_interrupted_and_130(data, tmp_path, term):
    """At prompt_toolkit's prompt, and at plain input() (TERM=dumb), where the terminal sends SIGINT."""
    chat = Chat(data, tmp_path, term)
    assert "me › " in chat.line("want pizza")
    chat.child.sendcontrol("c")
    code, rest = chat.end()
    assert code == 130
    assert "interrupted" in rest and "Traceback" not in rest
    assert [a["text"] for a in chat.asked()] == ["want pizza"]


def test_a_dumb_terminal_reads_plain_lines_and_quit_leaves(data, tmp_path):
    chat = Chat(data, tmp_path, "dumb")
    assert "/strategy" in chat.line("/help")
    chat.child.send("/quit\r")
    code, _ = chat.end()
    assert code == 0 and chat.asked() == []
