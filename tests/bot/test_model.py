"""The seq2seq model on a tiny vocabulary: a training step, save/load, and replies."""

from __future__ import annotations

import numpy as np
import pytest

from bot.data import encode_pairs
from bot.model import ModelConfig, Seq2Seq
from bot.store import bot_folder, load_bot
from bot.train import TrainOptions, train
from bot.vocab import EOS_ID, Vocabulary, WordVocabulary, detokenize
from ingest.pairs import build_pairs
from tests.conftest import PATTERNS, TINY_MODEL


def test_word_vocabulary_round_trip_and_unknown_words():
    v = WordVocabulary.build(["lol ok", "ok see you", "lol"], min_count=1)
    assert v.decode(v.ids("ok lol")) == "ok lol"
    assert v.decode(v.ids("zebra")) == "<unk>"
    dec_in, target = v.encode_reply("ok lol", 5)
    assert dec_in.tolist()[:3] == [2, v.index["ok"], v.index["lol"]] and target.tolist()[2] == EOS_ID
    assert detokenize(["ok", ",", "see", "you", "!"]) == "ok, see you!"


def test_one_training_step_lowers_the_loss():
    cfg = ModelConfig(vocab_size=30, **TINY_MODEL)
    model = Seq2Seq(cfg)
    model.compile(1e-2)
    rng = np.random.default_rng(0)
    x = {"prompt": rng.integers(5, 30, (16, 8)).astype("int32"), "reply_in": rng.integers(5, 30, (16, 6)).astype("int32")}
    y = np.roll(x["reply_in"], -1, axis=1)
    before = model.training.evaluate(x, y, verbose=0)
    model.training.train_on_batch(x, y)
    assert model.training.evaluate(x, y, verbose=0) < before


def test_padding_does_not_count_in_the_loss(convo_workspace):
    pairs = build_pairs(convo_workspace.messages())
    v = Vocabulary.build(pairs["prompt"].tolist() + pairs["reply"].tolist(), min_count=1)
    cfg = ModelConfig(vocab_size=len(v), **TINY_MODEL)
    model = Seq2Seq(cfg)
    model.compile()
    x, y = encode_pairs(pairs, v, cfg)
    logits = np.asarray(model.training.predict_on_batch(x), dtype=np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    assert model.training.evaluate(x, y, verbose=0, batch_size=len(y)) == pytest.approx(nll[y != 0].mean(), rel=1e-4)


@pytest.mark.slow
def test_trained_bot_saves_loads_and_replies_like_me(convo_workspace):
    opts = TrainOptions(epochs=60, batch_size=8, learning_rate=2e-2, validation_share=0.0, min_count=1,
                        model=TINY_MODEL)
    result = train(convo_workspace, "me", opts)
    assert result.folder.name == "me" and (result.folder / "learning_curves.png").exists()
    bot = load_bot(bot_folder(convo_workspace, "me"))
    replies = bot.replies([p for p, _ in PATTERNS], "greedy")
    assert replies == [r for _, r in PATTERNS]
    # a reloaded bot is the same bot
    again = load_bot(bot_folder(convo_workspace, "me"))
    assert again.replies([p for p, _ in PATTERNS], "greedy") == replies
    assert bot.meta["person"] == "me" and bot.meta["pairs_train"] == result.pairs_train
