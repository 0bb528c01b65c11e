"""The bot on every installed Keras backend.

A GPU machine runs the model with ``KERAS_BACKEND=jax`` (TensorFlow is the default here), so the whole
path (train with the matcher, save, load, every decoding strategy, eval's scores) runs in a subprocess
under each other installed backend, in float32 and in the mixed float16 precision a GPU trains in. The
bot folder it writes must then load under this process's backend (TensorFlow unless told otherwise) and give the same log-likelihoods,
match scores and greedy and beam replies: a bot trained on a GPU machine chats on a laptop.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PATTERNS

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [p for p, _ in PATTERNS]
REPLIES = [r for _, r in PATTERNS]
COMPARED = ("greedy", "beam")  # deterministic strategies: the same replies on every backend

SCRIPT = """
import json, sys
import keras
from bot.eval import ModelSystem
from bot.store import load_bot
from bot.train import TrainOptions, train
from ingest.workspace import Workspace
from tests.conftest import PATTERNS, TINY_MODEL

prompts, replies = [p for p, _ in PATTERNS], [r for _, r in PATTERNS]
# a speaker vector, as bots from a base have; whole words, so that mmi (fragile on a model this small) still
# answers the patterns: the vocabulary is numpy and tokenizers, the same on every backend
opts = TrainOptions(epochs=25, batch_size=8, min_count=1, learning_rate=2e-2, model={**TINY_MODEL, "speaker_dim": 4},
                    tensorboard=False, patience=25, match_epochs=3, mixed_precision=sys.argv[2], vocabulary="words")
result = train(Workspace(sys.argv[1]), "me", opts)
bot = load_bot(result.folder)
system = ModelSystem.from_bot(bot)
logp, tokens = system.log_likelihood(prompts, replies)
print(json.dumps({
    "backend": keras.backend.backend(), "meta": {k: bot.meta[k] for k in ("backend", "mixed_precision")},
    "loss": result.train_loss, "logp": logp.tolist(), "tokens": tokens.tolist(),
    "match": system.match_scores(prompts, replies).tolist(),
    "replies": {s: bot.replies(prompts, s, **({"seed": 0} if s == "sample" else {}))
                for s in ("greedy", "beam", "sample", "mmi")},
}))
"""


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


@pytest.mark.slow
@pytest.mark.parametrize("backend,precision", [
    ("jax", "off"),
    ("jax", "on"),
    ("torch", "off"),
    ("tensorflow", "on"),
])
def test_a_bot_trained_on_another_backend_chats_the_same_here(convo_workspace, backend, precision):
    if not _installed(backend):
        pytest.skip(f"{backend} is not installed (the dev extra installs jax)")
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(convo_workspace.root), precision], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there["backend"] == there["meta"]["backend"] == backend
    assert there["meta"]["mixed_precision"] is (precision == "on")
    assert np.isfinite(there["loss"])
    # it learnt the patterns (float16 compute included), with every strategy
    for strategy, got in there["replies"].items():
        assert got == REPLIES, (backend, precision, strategy, got)

    from bot.chat import load_person
    from bot.eval import ModelSystem

    bot = load_person(convo_workspace, "me")
    system = ModelSystem.from_bot(bot)
    logp, tokens = system.log_likelihood(PROMPTS, REPLIES)
    assert tokens.tolist() == there["tokens"]
    np.testing.assert_allclose(logp, there["logp"], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(system.match_scores(PROMPTS, REPLIES), there["match"], rtol=1e-4, atol=1e-4)
    for strategy in COMPARED:
        assert bot.replies(PROMPTS, strategy) == there["replies"][strategy]
