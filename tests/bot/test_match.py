"""The reply matcher: TF-IDF cosine overlap before training, learned weights and associations after."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.match import MatchConfig, build_matcher, encode_texts, idf, token_id, train_matcher

TEXTS = ["pizza tonight", "pizza or tacos", "i am hungry", "see you at the gym", "gym later", "ok"]


def _exact(m):
    m.log_gamma.assign(-60.0)  # no soft part: the score is exact word overlap only
    return m


def _tfidf_cosine(a: str, b: str, weights: np.ndarray, buckets: int) -> float:
    def vec(text):
        v: dict[int, float] = {}
        for t in text.split():
            i = token_id(t, buckets)
            v[i] = v.get(i, 0.0) + weights[i]
        return v
    va, vb = vec(a), vec(b)
    dot = sum(x * vb.get(i, 0.0) for i, x in va.items())
    return dot / math.sqrt(sum(x * x for x in va.values()) * sum(x * x for x in vb.values()))


def test_untrained_score_is_tfidf_cosine():
    cfg = MatchConfig(dim=8, buckets=4096, context_turns=0)
    m = _exact(build_matcher(cfg, TEXTS))
    weights = idf(TEXTS, cfg.buckets)
    prompts = ["pizza tonight ?", "pizza pizza gym", "hello there", "gym"]
    replies = ["pizza tonight ?", "gym", "hello", "tacos"]
    got = m.scores(prompts, replies)
    want = [_tfidf_cosine(p, r, weights, cfg.buckets) for p, r in zip(prompts, replies, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got[0] == pytest.approx(1.0, abs=1e-5) and abs(got[3]) < 1e-9


def test_unseen_words_weigh_most():
    """A word the training texts never hold gets the highest idf: sharing it beats sharing a common word."""
    cfg = MatchConfig(dim=8, buckets=4096, context_turns=0)
    weights = idf(TEXTS, cfg.buckets)
    assert weights[token_id("zanzibar", cfg.buckets)] == pytest.approx(math.log(len(TEXTS) + 1) + 1)
    assert weights[token_id("zanzibar", cfg.buckets)] > weights[token_id("pizza", cfg.buckets)]
    m = _exact(build_matcher(cfg, TEXTS))
    s = m.scores(["pizza in zanzibar", "pizza in zanzibar"], ["zanzibar is far", "pizza is far"])
    assert s[0] > s[1] > 0


def test_context_adds_its_overlap_and_empty_context_adds_nothing():
    cfg = MatchConfig(dim=8, buckets=4096, context_turns=2)
    m = _exact(build_matcher(cfg, TEXTS))
    alone = _exact(build_matcher(MatchConfig(dim=8, buckets=4096, context_turns=0), TEXTS))
    prompts, replies = ["what now", "what now"], ["gym later ok", "gym later ok"]
    with_ctx = m.scores(prompts, replies, [["old turn", "see you at the gym"], []])
    np.testing.assert_allclose(with_ctx[1], alone.scores(prompts[:1], replies[:1])[0], atol=1e-6)
    assert with_ctx[0] > with_ctx[1]  # the turns before share "gym" with the reply
    # only the last context_turns turns count
    three = m.scores(prompts[:1], replies[:1], [["gym gym", "old turn", "see you at the gym"]])
    np.testing.assert_allclose(three, with_ctx[:1], atol=1e-6)


def test_padding_changes_nothing():
    m = build_matcher(MatchConfig(dim=8, buckets=4096, context_turns=1), TEXTS)
    x = m.encode(["pizza tonight", "gym"], ["i am hungry", "ok gym"], [["pizza"], ["see you"]])
    wide = {k: np.pad(v, ((0, 0), (0, 7))) for k, v in x.items()}
    np.testing.assert_allclose(np.asarray(m.pair_scores(x)), np.asarray(m.pair_scores(wide)), atol=1e-5)


def test_encoding_keeps_the_last_words():
    ids = encode_texts(["a b c d e"], 3, 4096)
    assert ids.tolist() == [[token_id(t, 4096) for t in ["c", "d", "e"]]]


def test_training_learns_associations_without_shared_words():
    """Messages about topic t (words pt, qt) are answered with words rt, st: no word is shared, so the
    untrained matcher ranks at about chance, and the trained one ranks the right topic first."""
    rng = np.random.default_rng(0)
    topics = rng.integers(0, 8, 800)
    prompts = [f"p{t} q{t}" for t in topics]
    replies = [f"r{t} s{t}" for t in topics]
    m = build_matcher(MatchConfig(dim=16, buckets=4096, context_turns=0), prompts + replies)

    def recall() -> float:
        probe = [f"p{t} q{t}" for t in range(8)]
        answers = [f"r{t} s{t}" for t in range(8)]
        scores = np.stack([m.scores(probe, list(np.roll(answers, -k))) for k in range(8)], axis=1)
        return float((scores.argmax(1) == 0).mean())

    before = recall()
    history = train_matcher(m, m.encode(prompts, replies), seconds=60, epochs=15, batch_size=16)
    assert history["loss"][-1] < history["loss"][0]
    assert recall() == 1.0 > before
