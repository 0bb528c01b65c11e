"""The reply index and the hybrid strategy, over a bag-of-words stand-in for the sentence encoder (fast,
exact cosines); the real encoder is tested in test_encoder.py and with a trained bot in test_training.py."""

from __future__ import annotations

import math
import stat
import zlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bot.encoder import EncoderInfo
from bot.eval.figures import recall_at_1
from bot.hybrid import FEATURES, Hybrid, Ranker, fit_ranker
from bot.index import EncodingCache, ReplyIndex, build_index, excluded_threads

DIM = 256


class BagEncoder:
    """Unit bag-of-words vectors: the cosine of two texts is their word overlap."""

    info = EncoderInfo(name="bag", dim=DIM, fingerprint="bag-1", max_len=64, licence="test")

    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts, *, batch_size=64, progress=None):
        self.encoded += list(texts)
        out = np.zeros((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            for w in str(t).lower().split():
                out[i, zlib.crc32(w.encode()) % DIM] += 1.0
        n = np.linalg.norm(out, axis=1, keepdims=True)
        if progress:
            progress(len(texts), len(texts))
        return out / np.where(n > 0, n, 1.0)


PAIRS = pd.DataFrame({
    "prompt": ["do you like pizza", "how was the trip", "want to play tennis", "do you like pasta",
               "are you coming tonight"],
    "reply": ["Pizza is life haha", "The trip was amazing\nso many photos", "tennis sounds fun", "Pizza is life haha",
              "yes tonight works"],
    "thread_id": ["t1", "t2", "t3", "t1", "t4"],
})


def test_the_index_keeps_each_reply_once_with_its_count_and_every_prompt():
    index = build_index(PAIRS, BagEncoder())
    assert index.replies == ["Pizza is life haha", "The trip was amazing\nso many photos", "tennis sounds fun",
                             "yes tonight works"]
    assert index.counts.tolist() == [2, 1, 1, 1]
    assert index.prompt_reply.tolist() == [0, 1, 2, 0, 3]
    assert index.vectors.shape == (4 + 5, DIM) and index.vectors.dtype == np.float16


def test_quote_exclude_leaves_whole_threads_out():
    messages = pd.DataFrame({"thread_id": ["t1", "t1", "t2", "t3"], "thread_title": ["Kim Lee", "Kim Lee", "Ana", "Crew"],
                             "sender": ["Kim Lee", "me", "Ana", "Ana"], "is_me": [False, True, False, False]})
    assert excluded_threads(messages, ["Crew"]) == {"t3"}
    index = build_index(PAIRS, BagEncoder(), exclude={"t1"})
    assert "Pizza is life haha" not in index.replies and len(index.prompt_reply) == 3
    assert index.excluded_threads == 1


def test_the_index_round_trips_owner_only_and_the_cache_skips_texts_already_encoded(tmp_path):
    enc = BagEncoder()
    index = build_index(PAIRS, enc)
    index.save(tmp_path)
    back = ReplyIndex.load(tmp_path)
    assert back.replies == index.replies and (back.vectors == index.vectors).all()
    assert (back.prompt_reply == index.prompt_reply).all() and back.counts.tolist() == index.counts.tolist()
    for f in (tmp_path / "index").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert ReplyIndex.load(tmp_path / "nowhere") is None

    again = BagEncoder()
    more = pd.concat([PAIRS, pd.DataFrame({"prompt": ["new message"], "reply": ["new reply"], "thread_id": ["t9"]})])
    rebuilt = build_index(more, again, cache=EncodingCache.from_index(back, again.info.fingerprint))
    assert sorted(again.encoded) == ["new message", "new reply"]  # only what the old index did not hold
    np.testing.assert_array_equal(rebuilt.vectors[:4], index.vectors[:4])
    other = EncodingCache.from_index(back, "another encoder")
    assert other.vectors == {}  # vectors of another encoder are never reused


def test_nearest_finds_candidates_by_the_reply_and_by_the_prompt_it_answered():
    enc = BagEncoder()
    index = build_index(PAIRS, enc)
    q = enc.encode(["tennis fun", "how was your trip"])
    near = index.nearest(q, q, k=1)
    assert near[0][0] == 2  # "tennis sounds fun" shares words with the message itself
    assert 1 in near[1].tolist()  # the reply to the prompt "how was the trip"
    neigh = index.neighbours(q[1:], index.reply_vectors[None, [1, 2]].astype(np.float32))
    assert neigh[0, 0] > neigh[0, 1]  # the trip reply resembles what was answered to trip messages


def test_the_ranker_learns_which_feature_finds_the_true_reply():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(200, 10, len(FEATURES)))
    f[:, 0, 2] += 3.0  # the true reply (column 0) stands out on one feature only
    ranker = fit_ranker(f)
    w = np.abs(ranker.weights)
    assert int(np.argmax(w)) == 2 and ranker.tuned_on == 200
    assert recall_at_1(ranker.score(f)) >= recall_at_1(f[:, :, 2]) - 0.02  # as good as the telling feature alone
    assert np.quantile(ranker.score(f[:, 0]), 0.25) == pytest.approx(ranker.threshold)
    back = Ranker.from_json(ranker.to_json())
    np.testing.assert_allclose(back.score(f), ranker.score(f))
    assert Ranker.from_json(Ranker().to_json()).threshold == -math.inf


def _hybrid(threshold: float, temperature: float = 0.0, weights: list[float] | None = None):
    enc = BagEncoder()
    index = build_index(PAIRS, enc)
    bot = SimpleNamespace(matcher=None)
    ranker = Ranker(threshold=threshold) if weights is None else Ranker(weights=weights, threshold=threshold)
    h = Hybrid(bot, index, enc, ranker, temperature=temperature)
    h._samples = lambda prompts, contexts, n, seed, decoding: [["generated words"] for _ in prompts]
    return h


def test_hybrid_quotes_a_past_reply_word_for_word_when_one_fits():
    out = _hybrid(-math.inf).replies(["do you like pizza?", "tennis later?"])
    assert out == [("Pizza is life haha", True), ("tennis sounds fun", True)]


def test_hybrid_draws_among_the_fitting_replies_by_the_ranker_s_probabilities():
    h = _hybrid(-math.inf, temperature=1.0, weights=[1.0] * len(FEATURES))  # small logits: a spread draw
    prompts = ["do you like pizza?"] * 200
    drawn = [t for t, _ in h.replies(prompts, seed=3)]
    assert drawn == [t for t, _ in h.replies(prompts, seed=3)]  # seeded: the same replies every run
    assert set(drawn) <= set(h.index.replies) and len(set(drawn)) > 1  # quotes, and not always the same
    assert drawn.count("Pizza is life haha") == max(drawn.count(r) for r in set(drawn))  # the best most often
    strict = _hybrid(0.0, temperature=1.0, weights=[1.0] * len(FEATURES))  # only replies scoring >= 0 may be drawn
    best = strict.replies(["tennis later?"] * 50, seed=0)
    fits = {c for c in strict.index.replies if strict.scores(["tennis later?"], [c])[0] >= 0}
    assert {t for t, _ in best} <= fits


def test_hybrid_generates_when_nothing_fits_and_never_quotes_without_quotes():
    h = _hybrid(math.inf)  # no real reply ever reaches the threshold
    text, quoted = h.replies(["tennis later?"])[0]
    # the best of all candidates wins: the generated sample shares no word, the quoted reply does
    assert (text, quoted) == ("tennis sounds fun", True)
    assert h.replies(["tennis later?"], quotes=False) == [("generated words", False)]


def test_hybrid_scores_rank_the_fitting_reply_first():
    h = _hybrid(0.0)
    s = h.scores(["do you like pizza"] * 2, ["Pizza is life haha", "yes tonight works"])
    assert s[0] > s[1]
    contexts = [["we talked about pizza"], ["we talked about pizza"]]
    assert h.scores(["hmm"] * 2, ["Pizza is life haha", "yes tonight works"], contexts)[0] > \
        h.scores(["hmm"] * 2, ["Pizza is life haha", "yes tonight works"], contexts)[1]


def test_hybrid_never_says_again_what_was_just_said_unless_nothing_else_is_left():
    h = _hybrid(-math.inf)
    # the best fit to "do you like pizza" is "Pizza is life haha": once the bot said it, it says something else
    first = h.replies(["do you like pizza?"])[0][0]
    assert first == "Pizza is life haha"
    again = h.replies(["do you like pizza?"], [["do you like pizza?", "Pizza is life haha!"]])[0][0]
    assert again != first and again in h.index.replies
    # the message itself is never the answer, whatever its case and punctuation
    assert h.replies(["Tennis sounds fun?!"])[0][0].lower() != "tennis sounds fun"
    from bot.hybrid import _no_echo

    s = np.array([3.0, 2.0, 1.0])
    assert list(_no_echo(s, ["a b", "c", "d"], "A, b!", ())) == [-math.inf, 2.0, 1.0]
    assert list(_no_echo(s, ["a b", "a b", "a b"], "a b", ())) == [3.0, 2.0, 1.0]  # nothing else: kept
