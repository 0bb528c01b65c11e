"""Training killed with SIGKILL in the middle of an epoch resumes from its last checkpoint and finishes.

A real training process (tiny model) is made to stall inside its third epoch, after two epoch
checkpoints, and is killed there. ``talklike train --resume`` then continues from epoch 2 (the
model and vocabulary come from the checkpoint), finishes, and the bot loads and replies.
"""

from __future__ import annotations

import pytest

from tests.conftest import PATTERNS, TINY_MODEL
from tests.test_atomic import kill_mid_write

EPOCHS = 6
OPTIONS = dict(epochs=EPOCHS, batch_size=8, learning_rate=2e-2, min_count=1, model=TINY_MODEL, tensorboard=False)

KILLED_RUN = """
    import bot.callbacks as c
    import bot.train as t
    from ingest.workspace import Workspace
    from tests.conftest import TINY_MODEL
    done = {{"epochs": 0}}
    checkpoint = c.Checkpoints.on_epoch_end
    def on_epoch_end(self, epoch, logs=None):
        checkpoint(self, epoch, logs)
        done["epochs"] += 1
    c.Checkpoints.on_epoch_end = on_epoch_end
    batch_end = c.TimeBudget.on_train_batch_end
    def on_train_batch_end(self, batch, logs=None):
        if done["epochs"] >= 2 and batch >= 1:  # inside epoch 3, a step already taken
            stall()
        batch_end(self, batch, logs)
    c.TimeBudget.on_train_batch_end = on_train_batch_end
    t.train(Workspace({root!r}), "me", t.TrainOptions(**{options!r}))
"""


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_and_the_bot_replies(tmp_path, convo_workspace):
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.store import bot_folder, load_bot
    from ingest.workspace import read_json

    kill_mid_write(KILLED_RUN.format(root=str(convo_workspace.root), options=OPTIONS), tmp_path, timeout=240)

    folder = bot_folder(convo_workspace, "me")
    state = read_json(folder / "checkpoints" / "state.json")
    assert state["epoch"] == 2 and (folder / "checkpoints" / f"{state['latest']}.weights.h5").exists()
    assert not (folder / "meta.json").exists()  # the killed run never got to save a bot

    res = CliRunner().invoke(app, ["train", "--resume", "--epochs", str(EPOCHS), "--batch-size", "8",
                                   "--data", str(convo_workspace.root)])
    assert res.exit_code == 0, res.output
    assert "resumed from train:2" in " ".join(res.output.split())
    bot = load_bot(bot_folder(convo_workspace, "me"))
    assert 2 < bot.meta["epochs"] <= EPOCHS  # two before the kill, the rest after (early stopping may end it)
    replies = bot.replies([p for p, _ in PATTERNS])
    assert len(replies) == len(PATTERNS) and all(isinstance(r, str) for r in replies)
    assert bot.meta["resumed_at"] == "train:2"
