"""The reply matcher: a soft word overlap before training, learned associations after."""

from __future__ import annotations

import numpy as np

from bot.match import build_matcher, train_matcher


def _ids(rows: list[list[int]], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width), np.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def test_untrained_score_is_word_overlap():
    m = build_matcher(50, 16)
    prompt = _ids([[5, 6, 7], [5, 6, 7], [5, 6, 7]], 6)
    reply = _ids([[7, 6, 5], [8, 9], [5, 20]], 6)
    s = m.score(prompt, reply)
    assert abs(s[0] - 2.0) < 1e-3  # every word matches itself on both sides: 1 + 1
    assert s[0] > s[2] > s[1]  # all words shared > one shared > none


def test_padding_changes_nothing():
    m = build_matcher(50, 16, np.random.default_rng(0).normal(size=(50, 16)))
    prompt, reply = [[3, 4, 5], [9]], [[4, 11], [12, 13, 14]]
    a = m.score(_ids(prompt, 3), _ids(reply, 3))
    b = m.score(_ids(prompt, 12), _ids(reply, 9))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_learns_associations_without_shared_words():
    """Messages about topic t (words 10+t, 30+t) are answered with words 50+t, 70+t: no word is shared,
    so the untrained matcher ranks at chance, and the trained one ranks the right topic first."""
    rng = np.random.default_rng(0)
    topics = rng.integers(0, 8, 800)
    prompt = _ids([[10 + t, 30 + t] for t in topics], 4)
    reply = _ids([[50 + t, 70 + t] for t in topics], 4)
    m = build_matcher(100, 16, rng.normal(size=(100, 16)))

    def recall() -> float:
        probe = _ids([[10 + t, 30 + t] for t in range(8)], 4)
        answers = _ids([[50 + t, 70 + t] for t in range(8)], 4)
        scores = np.stack([m.score(probe, np.roll(answers, -k, axis=0)) for k in range(8)], axis=1)
        return float((scores.argmax(1) == 0).mean())

    before = recall()
    history = train_matcher(m, prompt, reply, seconds=60, epochs=15, batch_size=16)
    assert history["loss"][-1] < history["loss"][0]
    assert recall() == 1.0 > before
