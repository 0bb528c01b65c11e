"""``eval`` figures on crafted cases whose answers are known, the baselines, and the command."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.eval import ModelSystem, evaluate, read_pairs_file
from bot.eval.baselines import ReferenceConfig, Retrieval, train_reference
from bot.eval.figures import draw_candidates, generation_figures, recall_at_1
from bot.vocab import Vocabulary
from ingest.errors import TalklikeError
from ingest.pairs import PairOptions, pair_options_from_config
from tests.conftest import TINY_MODEL

# 12 pairs with 12 different one-word-per-token replies (no punctuation: tokens == words)
WORDS = ["red", "blue", "green", "black", "white", "pink", "grey", "gold", "teal", "navy", "lime", "plum"]
PAIRS = pd.DataFrame({"prompt": [f"say {w}" for w in WORDS], "reply": [f"{w} it is" for w in WORDS],
                      "conversation": [str(i) for i in range(len(WORDS))]})


class Copier:
    """Replies with the prompt; its log-likelihood is 0 for a reply equal to the prompt, else -5 a token."""

    name = "copier"

    def replies(self, prompts, strategy="greedy", **_):
        return list(prompts)

    def log_likelihood(self, prompts, replies):
        n = np.array([len(r.split()) + 1 for r in replies])
        same = np.array([p == r for p, r in zip(prompts, replies, strict=True)])
        return np.where(same, 0.0, -5.0 * n), n


class Constant:
    """Every reply equally likely: a uniform distribution over a vocabulary of ``v`` tokens per token."""

    name = "constant"

    def __init__(self, v: int):
        self.v = v

    def replies(self, prompts, strategy="greedy", **_):
        return ["ok"] * len(prompts)

    def log_likelihood(self, prompts, replies):
        n = np.array([len(r.split()) + 1 for r in replies])
        return -n * math.log(self.v), n


def test_recall_tie_rule_perfect_and_constant_scores():
    assert recall_at_1(np.array([[1.0, 0, 0], [2.0, 1, 1]])) == 1.0
    assert recall_at_1(np.zeros((7, 10))) == pytest.approx(0.1)  # chance, exactly
    assert recall_at_1(np.array([[1.0, 1, 0, 0], [0.0, 1, 0, 0]])) == pytest.approx(0.25)  # tie of 2, beaten
    assert recall_at_1(np.array([[np.nan, 0.0]])) == 0.0


def test_candidates_are_seeded_and_never_the_same_text():
    replies = ["lol", "LOL ", "yes", "no", "maybe", "sure", "ok", "k", "fine", "why", "who"]
    cand = draw_candidates(replies, seed=1)
    assert (cand == draw_candidates(replies, seed=1)).all() and not (cand == draw_candidates(replies, seed=2)).all()
    assert (cand[:, 0] == np.arange(len(replies))).all()
    assert 1 not in cand[0, 1:] and 0 not in cand[1, 1:]  # "lol" and "LOL " are the same reply
    assert all(len(set(row)) == 10 for row in cand)


def test_a_model_that_copies_the_prompt():
    said = [f"please say the word {w}" for w in WORDS]  # 4-grams, so that BLEU-4 is defined
    r = evaluate(Copier(), pd.DataFrame({"prompt": said, "reply": said}), baselines=())
    s = r.systems["copier"]
    assert s.recall["loglik"] == 1.0
    assert s.perplexity == 1.0  # log p = 0
    assert s.bleu == pytest.approx(100.0) and s.chrf == pytest.approx(100.0)
    assert s.distinct_1 == pytest.approx(16 / 60) and s.top_reply_share == pytest.approx(1 / 12)
    assert s.avg_words == r.real_avg_words == 5.0


def test_a_uniform_model_has_the_vocabulary_s_perplexity_and_chance_recall():
    r = evaluate(Constant(50), PAIRS, baselines=())
    s = r.systems["constant"]
    # every reply: 3 words, 4 tokens with the end token -> exp(log 50 * 4 / 3)
    assert s.perplexity == pytest.approx(50 ** (4 / 3))
    assert s.recall["loglik"] == pytest.approx(0.1)
    assert s.top_reply_share == 1.0 and s.distinct_1 == pytest.approx(1 / 12)


def test_distinct_n_and_generation_figures_on_hand_made_replies():
    g = generation_figures(["a b", "a c", "a b"], ["a b", "a c", "x y"])
    assert g["distinct_1"] == pytest.approx(3 / 6) and g["distinct_2"] == pytest.approx(2 / 3)
    assert g["top_reply_share"] == pytest.approx(2 / 3) and g["avg_words"] == 2.0
    assert g["bleu"] == 0.0  # corpus BLEU-4: no 4-gram in two-word replies
    assert 0 < g["chrf"] < 100


def test_retrieval_answers_like_the_nearest_training_message():
    r = Retrieval(PAIRS)
    assert r.replies(["please say teal", "nothing in common"]) == ["teal it is", "red it is"]  # fallback: the most frequent (first)
    train = PAIRS.assign(reply=[f"{w} it is for sure" for w in WORDS])
    test = train.assign(prompt=[f"can you say {w}" for w in WORDS])
    report = evaluate(Copier(), test, train_pairs=train, baselines=("retrieval",))
    ret = report.systems["retrieval"]
    assert ret.perplexity is None and ret.bleu == pytest.approx(100.0)
    assert next(iter(ret.recall.values())) == 1.0


def test_model_system_scores_whole_replies_with_one_forward_pass():
    """Teacher forcing on a fresh tiny model equals the step-by-step probabilities, replies never cut."""
    from bot.decoding import forced_logprobs
    from bot.model import ModelConfig, Seq2Seq

    vocab = Vocabulary.build(PAIRS["prompt"].tolist() + PAIRS["reply"].tolist(), min_count=1)
    model = Seq2Seq(ModelConfig(vocab_size=len(vocab), **TINY_MODEL))
    system = ModelSystem("tiny", model, vocab, max_prompt_len=8)
    long = " ".join(WORDS)  # 12 words: longer than max_reply_len 6
    logp, n = system.log_likelihood(["say red", "say blue"], ["red it is", long])
    assert n.tolist() == [4, 13]
    step = forced_logprobs(model, system.encode_prompts(["say red", "say blue"]),
                           [vocab.ids("red it is"), vocab.ids(long)])
    np.testing.assert_allclose(logp, step, rtol=1e-4)
    calls = []
    model.training.predict_on_batch = lambda x: calls.append(x) or np.zeros((*x["reply_in"].shape, len(vocab)))
    logp, _ = system.log_likelihood(PAIRS["prompt"].tolist(), PAIRS["reply"].tolist())
    assert len(calls) == 1  # 12 pairs: one batch
    np.testing.assert_allclose(logp, -4 * math.log(len(vocab)))


def test_reference_model_trains_decodes_and_scores():
    vocab = Vocabulary.build(PAIRS["prompt"].tolist() + PAIRS["reply"].tolist(), min_count=1)
    cfg = ReferenceConfig(vocab_size=len(vocab), embed_dim=8, units=16, max_prompt_len=6, max_reply_len=5)
    ref = train_reference(PAIRS, vocab, epochs=2, minutes=1, config=cfg, validation=PAIRS)
    assert ref.run.epochs == 2 and len(ref.run.epoch_seconds) == 2 and "val_loss" in ref.run.history
    assert ref.run.tokens_per_second > 0
    system = ModelSystem("reference", ref, vocab, max_prompt_len=6)
    assert len(system.replies(["say red"], "beam", width=2)) == 1
    logp, n = system.log_likelihood(["say red"], ["red it is"])
    assert logp[0] < 0 and n[0] == 4


def test_pair_options_come_back_from_the_bot_config():
    opts = PairOptions(context_turns=2, max_words=40, with_people=("Kim Lee",))
    stored = {k: str(v) for k, v in asdict(opts).items()}  # how bot.train writes them
    assert pair_options_from_config(stored) == opts
    assert pair_options_from_config({}) == PairOptions()


def test_a_bad_pairs_file_is_named_without_its_text(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "hi", "reply": "yo"}\n{"prompt": "secret words"}\n')
    with pytest.raises(TalklikeError) as e:
        read_pairs_file(f)
    assert "p.jsonl:2" in str(e.value) and "secret" not in str(e.value)
    f.write_text('{"prompt": "hi", "reply": "yo", "context": ["secret turn", 3]}\n')
    with pytest.raises(TalklikeError) as e:
        read_pairs_file(f)
    assert "p.jsonl:1" in str(e.value) and "context" in str(e.value) and "secret" not in str(e.value)


def test_a_pairs_file_may_carry_the_turns_before_each_prompt(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "hi", "reply": "yo", "context": ["earlier", "later"]}\n{"prompt": "a", "reply": "b"}\n')
    pairs = read_pairs_file(f)
    assert pairs["context"].tolist() == [["earlier", "later"], []]


@pytest.mark.slow
def test_eval_command_on_a_tiny_bot(tmp_path, convo_workspace):
    from bot.train import TrainOptions, train

    train(convo_workspace, "me", TrainOptions(epochs=30, batch_size=8, learning_rate=2e-2, validation_share=0.3,
                                              min_count=1, model=TINY_MODEL))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": p, "reply": r}) + "\n" for p, r in
                             zip(PAIRS["prompt"], PAIRS["reply"], strict=True)))
    root = str(convo_workspace.root)
    res = CliRunner().invoke(app, ["eval", "--as", "me", "--pairs", str(pairs), "--json", "--data", root])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out["systems"]) == {"hybrid", "seq2seq", "retrieval"} and out["pairs"] == 12
    assert out["systems"]["seq2seq"]["perplexity"] > 1 and "loglik" in out["systems"]["seq2seq"]["recall"]
    assert out["systems"]["hybrid"]["perplexity"] is None and "ranker" in out["systems"]["hybrid"]["recall"]
    res = CliRunner().invoke(app, ["eval", "--as", "me", "--strategy", "beam", "--beam-width", "2",
                                   "--baselines", "none", "--data", root])
    assert res.exit_code == 0, res.output
    assert "perplexity per word" in res.output and "beam" in res.output
    sheet = tmp_path / "blind.csv"
    res = CliRunner().invoke(app, ["eval", "--as", "me", "--pairs", str(pairs), "--blind", str(sheet),
                                   "--baselines", "none", "--data", root])
    assert res.exit_code == 0, res.output
    assert "real-or-bot accuracy" in res.output and "Style profile" in res.output and "next:" in res.output
    key = tmp_path / "blind.key.csv"
    assert sheet.exists() and key.exists() and oct(sheet.stat().st_mode & 0o777) == "0o600"
    with key.open(encoding="utf-8-sig") as fh:
        answers = list(csv.DictReader(fh))
    assert len(answers) == 12 and {a["real"] for a in answers} <= {"A", "B"}
    with sheet.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    real = set(PAIRS["reply"])
    for row, answer in zip(rows, answers, strict=True):  # the key names the side that holds the real reply
        assert row[f"reply {answer['real']}"] in real
    res = CliRunner().invoke(app, ["eval", "--as", "me", "--strategy", "nope", "--data", root])
    assert res.exit_code != 0 and "greedy" in res.output
