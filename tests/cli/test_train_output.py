"""A scripted terminal session trains a friend's bot: the output shows one bar over the time budget with its
ETA, the phases by name, the few-pairs warning before the training, and no C++ log lines."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import ME, conversation_export

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_training_a_friend_s_bot_in_a_terminal(tmp_path):
    from ingest.pipeline import ingest
    from ingest.workspace import Workspace

    conversation_export(tmp_path / "export")
    ingest([tmp_path / "export"], workspace=Workspace(tmp_path / "data"), me=[ME])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "TALKLIKE_", "GRPC_", "GLOG_"))}
    env.update(TALKLIKE_BASE="none", PYTHONPATH=str(ROOT), COLUMNS="120", LINES="40", TERM="xterm-256color")
    child = pexpect.spawn(sys.executable, ["-c", "from bot.cli import main; main()", "train", "--as", "kim",
                                           "--minutes", "0.25", "--no-quotes", "--no-match", "--data",
                                           str(tmp_path / "data")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=300, dimensions=(40, 120))
    child.expect(pexpect.EOF)
    child.close()
    screen = ANSI.sub("", child.before).replace("\r", "\n")
    assert child.exitstatus == 0, screen[-3000:]

    warning = screen.index("warning: only ")
    assert "pairs and no base: the bot will mostly echo" in screen and "export more chats" in screen
    assert warning < screen.index("pre-training on everyone")  # said before the training, not after it
    assert screen.index("pre-training on everyone") < screen.index("fine-tuning on Kim Lee")
    assert re.search(r"\d:\d\d of 0:15", screen), screen[-3000:]  # the time budget, not epochs
    assert re.search(r"ETA \d+:\d\d", screen), screen[-3000:]
    assert not re.search(r"Epoch \d+/|/30\b", screen), screen[-3000:]  # no Keras lines, no "/30" epochs
    for chatter in ("E0000", "I0000", "W0000", "oneDNN", "absl", "cpu_feature_guard", "Traceback"):
        assert chatter not in screen, screen[-3000:]
    assert "next: talklike chat --as 'Kim Lee' --data " in " ".join(screen.split())


def test_the_caption_claims_tensorboard_logs_only_when_they_were_written(convo_workspace, monkeypatch):
    from typer.testing import CliRunner

    import bot.train
    from bot.cli import app
    from bot.train import TrainOptions, TrainResult, tensorboard_logs

    def trained(workspace, person, opts, progress=None, warn=None):
        return TrainResult(folder=workspace.root / "bots" / "me", person="me", pairs_train=400, pairs_validation=40,
                           vocab_size=100, epochs=3, seconds=60.0, train_loss=1.0, val_loss=1.0,
                           tokens_per_second=10.0, logs=logs)

    monkeypatch.setattr(bot.train, "train", trained)
    for logs in (None, convo_workspace.root / "bots" / "me" / "logs"):
        res = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["train", "--data", str(convo_workspace.root)])
        assert res.exit_code == 0, res.output
        assert ("TensorBoard logs: logs/" in res.output) == (logs is not None), res.output
        assert f"next: talklike chat --as me --data {convo_workspace.root}" in res.output
    monkeypatch.setattr(bot.train.importlib.util, "find_spec", lambda name: None)  # tensorboard not installed
    assert not tensorboard_logs(TrainOptions())


def test_a_hint_names_the_person_as_the_shell_takes_it_and_carries_data(convo_workspace):
    from typer.testing import CliRunner

    from bot.cli import app

    res = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["chat", "--as", "kim", "--data", str(convo_workspace.root)],
                                                   input="hi\n")
    assert res.exit_code == 4, res.output
    assert f"run `talklike train --as 'Kim Lee' --data {convo_workspace.root}` first" in res.output, res.output
