"""The pretrained base: built from a (here tiny, hand-written) corpus with a vector per speaker, resumed to the same
weights, refused when it does not fit, and the start of every bot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import bot.base as base_module
from bot.base import PretrainOptions, corpus_pairs, load_base, pretrain, start_from_base
from bot.cli import app
from bot.model import Seq2Seq
from bot.store import load_bot
from bot.train import TrainOptions, train
from tests.conftest import PATTERNS

TINY = {"embed_dim": 16, "encoder_units": 16, "decoder_units": 16, "dropout": 0.1, "speaker_dim": 4}
OPTIONS = dict(exclude_speakers=("eve",), max_vocab=300, min_count=1, validation_share=0.25, batch_size=8,
               learning_rate=2e-2, patience=10, max_prompt_len=8, max_reply_len=8, model=TINY)


def _turn(sender: str, *texts: str) -> list[dict]:
    return [{"text": t, "sender": sender, "timestamp": "2018-05-02T19:38:15Z"} for t in texts]


def corpus() -> dict:
    """12 conversations among 4 speakers; 'eve' takes part in two of them."""
    people = ["ann", "bob", "cid", "dee"]
    convos = {}
    for k in range(12):
        a, b = people[k % 4], people[(k + 1) % 4]
        if k in (3, 7):
            b = "eve"
        turns = []
        for prompt, reply in PATTERNS:
            turns += [_turn(a, prompt), _turn(b, *reply.split(" ", 1)) if k % 2 else _turn(b, reply)]
        convos[f"c{k:02d}"] = {"messages": turns}
    return convos


@pytest.fixture
def tiny_corpus(monkeypatch):
    monkeypatch.setattr(base_module, "corpus_conversations", corpus)


def test_corpus_pairs_leave_out_every_conversation_of_an_excluded_speaker():
    pairs, left_out = corpus_pairs(corpus(), exclude=("eve",))
    assert left_out == 2 and "eve" not in set(pairs["speaker_id"])
    assert pairs["conversation"].nunique() == 10 and len(pairs) == 10 * (2 * len(PATTERNS) - 1)
    burst = pairs[pairs["conversation"] == "c01"].iloc[0]
    assert burst["reply"] == PATTERNS[0][1].replace(" ", "\n", 1)  # one speaker's messages in a row: one turn


def test_a_resumed_build_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, tiny_corpus):
    whole = pretrain(tmp_path / "whole", PretrainOptions(epochs=3, **OPTIONS))
    pretrain(tmp_path / "cut", PretrainOptions(epochs=1, **OPTIONS))  # stopped after its first epoch
    resumed = pretrain(tmp_path / "cut", PretrainOptions(epochs=3, resume=True, **OPTIONS))
    assert resumed.resumed_at == "pretrain:1" and whole.epochs == resumed.epochs == 3
    a, b = Seq2Seq(load_base(tmp_path / "whole").config), Seq2Seq(load_base(tmp_path / "cut").config)
    a.load_weights(tmp_path / "whole" / "model.weights.h5")
    b.load_weights(tmp_path / "cut" / "model.weights.h5")
    for wa, wb in zip(a.training.get_weights(), b.training.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, atol=1e-5)
    meta = json.loads((tmp_path / "cut" / "meta.json").read_text())
    assert meta["speakers"] == ["ann", "bob", "cid", "dee"] and meta["conversations_excluded"] == 2


def test_a_bot_starts_from_the_base_with_a_voice_of_its_own(tmp_path, tiny_corpus, convo_workspace):
    pretrain(tmp_path / "base", PretrainOptions(epochs=2, **OPTIONS))
    base = load_base(tmp_path / "base")
    source = Seq2Seq(base.config)
    source.load_weights(tmp_path / "base" / "model.weights.h5")
    model = Seq2Seq(base_module.bot_config(base, max_reply_len=16))
    start_from_base(model, base)
    table = source.speaker.get_weights()[0]
    assert table.shape[0] == 4 and model.speaker.get_weights()[0].shape[0] == 1
    np.testing.assert_allclose(model.speaker.get_weights()[0][0], table.mean(0), rtol=1e-6)
    np.testing.assert_array_equal(model.decoder.get_weights()[0], source.decoder.get_weights()[0])

    opts = TrainOptions(epochs=2, batch_size=8, base=str(tmp_path / "base"), quotes=False, match=False,
                        tensorboard=False)
    mine = train(convo_workspace, "me", opts)
    assert mine.base == "base" and mine.vocab_size == len(base.vocab)
    assert mine.warnings and "base" in mine.warnings[0]  # a few dozen pairs: mostly the base, and told so
    bot = load_bot(mine.folder)
    assert bot.meta["base"]["vocabulary"] == base.vocab.fingerprint and bot.model.config.speakers == 1
    assert isinstance(bot.messages("hello there"), list)
    friend = train(convo_workspace, "Kim Lee", opts)
    assert friend.pairs_pretrain == 0  # the base, not the whole workspace, is what a friend's bot starts from


def _run_train(ws, *args):
    return CliRunner().invoke(app, ["train", "--epochs", "1", "--no-quotes", "--no-match", "--data", str(ws.root),
                                    *args])


def shouted() -> dict:
    """The same conversations in capitals: another vocabulary."""
    return {k: {"messages": [[{**u, "text": u["text"].upper()} for u in turn] for turn in c["messages"]]}
            for k, c in corpus().items()}


def test_a_base_of_another_version_or_vocabulary_is_refused_with_one_line(tmp_path, tiny_corpus, convo_workspace,
                                                                           monkeypatch):
    folder = tmp_path / "base"
    pretrain(folder, PretrainOptions(epochs=1, **OPTIONS))
    meta = json.loads((folder / "meta.json").read_text())

    (folder / "meta.json").write_text(json.dumps({**meta, "base_format": 99}))
    res = _run_train(convo_workspace, "--base", str(folder))
    assert res.exit_code == 5 and "format v99" in res.output and "Traceback" not in res.output

    (folder / "meta.json").write_text(json.dumps({**meta, "vocabulary": "0123456789abcdef"}))
    res = _run_train(convo_workspace, "--base", str(folder))
    assert res.exit_code == 5 and "not the vocabulary" in res.output

    (folder / "meta.json").write_text(json.dumps(meta))
    assert _run_train(convo_workspace, "--base", str(folder)).exit_code == 0
    other = tmp_path / "other"
    monkeypatch.setattr(base_module, "corpus_conversations", shouted)
    pretrain(other, PretrainOptions(epochs=1, **OPTIONS))
    res = _run_train(convo_workspace, "--base", str(other), "--resume")
    assert res.exit_code == 5 and "not trained from the base" in res.output

    res = _run_train(convo_workspace, "--base", str(tmp_path / "nowhere"))
    assert res.exit_code == 2 and "no pretrained base" in res.output and "Traceback" not in res.output


def test_pretrain_command_builds_and_resumes_a_base(tmp_path, tiny_corpus, monkeypatch):
    monkeypatch.setattr(base_module, "PretrainOptions",
                        lambda **kw: PretrainOptions(**{**OPTIONS, **kw, "exclude_speakers": ("eve",)}))
    out = tmp_path / "b"
    res = CliRunner().invoke(app, ["pretrain", "--out", str(out), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    assert "next: talklike train --base" in res.output and load_base(out).meta["epochs"] == 1
    res = CliRunner().invoke(app, ["pretrain", "--out", str(out), "--epochs", "2", "--resume"])
    assert res.exit_code == 0 and "resumed from pretrain:1" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["pretrain", "--out", str(tmp_path / "none"), "--resume"])
    assert res.exit_code == 4 and "no pretraining checkpoint" in res.output


def test_the_shipped_base_is_whole_small_and_never_saw_the_evaluation_speakers(convo_workspace, monkeypatch):
    monkeypatch.delenv("TALKLIKE_BASE")
    base = load_base(base_module.DEFAULT_BASE)  # checks format, vocabulary and weights' checksum
    assert set(base.meta["excluded_speakers"]) == set(base_module.EVALUATION_SPEAKERS)
    assert not set(base.meta["speakers"]) & set(base_module.EVALUATION_SPEAKERS)
    assert (base.folder / "model.weights.h5").stat().st_size <= 30e6
    assert base.vocab.kind == "bpe" and base.config.speaker_dim > 0
    res = _run_train(convo_workspace)  # the default: the shipped base
    assert res.exit_code == 0, res.output
    assert load_bot(convo_workspace.root / "bots" / "me").meta["base"]["name"] == "chitchat"
