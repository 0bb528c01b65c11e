"""Every decoding strategy on a tiny trained model, and on a hand-made model whose answers are known."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.data import encode_pairs
from bot.decoding import (
    MODEL_STRATEGIES,
    STRATEGIES,
    _draw,
    _guard,
    beam_candidates,
    decoding_options,
    forced_logprobs,
    greedy,
    log_softmax,
    sample,
)
from bot.eval import ModelSystem
from bot.model import ModelConfig, Seq2Seq
from bot.vocab import BOS_ID, EOS_ID, PAD_ID, SEP_ID, UNK_ID, WordVocabulary
from ingest.errors import OptionError
from tests.conftest import PATTERNS, TINY_MODEL


@pytest.fixture(scope="module")
def tiny():
    """A tiny Seq2Seq that has learnt the 4 PATTERNS (a few seconds of training), on whole words: these tests
    are about decoding (the subword vocabulary's are in tests/bot/test_vocab.py)."""
    keras.utils.set_random_seed(0)
    pairs = pd.DataFrame(PATTERNS * 12, columns=["prompt", "reply"])
    vocab = WordVocabulary.build(pairs["prompt"].tolist() + pairs["reply"].tolist(), min_count=1)
    model = Seq2Seq(ModelConfig(vocab_size=len(vocab), **TINY_MODEL))
    model.compile(2e-2)
    x, y = encode_pairs(pairs, vocab, model.config)
    model.training.fit(x, y, batch_size=8, epochs=40, verbose=0)
    system = ModelSystem("tiny", model, vocab, max_prompt_len=model.config.max_prompt_len)
    return model, vocab, system


PROMPTS = [p for p, _ in PATTERNS]
REPLIES = [r for _, r in PATTERNS]


@pytest.mark.parametrize("strategy,options", [
    ("greedy", {}),
    ("beam", {"width": 4, "length_penalty": 0.6}),
    ("sample", {"temperature": 0.3, "top_p": 0.9, "top_k": 5, "seed": 1}),
    ("mmi", {"width": 4, "mmi_lambda": 0.5}),
    ("greedy", {"repetition_penalty": 1.3}),
])
def test_each_strategy_answers_the_learnt_patterns(tiny, strategy, options):
    _, _, system = tiny
    assert system.replies(PROMPTS, strategy, **options) == REPLIES


def test_beam_of_width_one_is_greedy_and_scores_are_the_model_s(tiny):
    model, _, system = tiny
    ids = system.encode_prompts(PROMPTS)
    assert STRATEGIES["beam"](model, ids, width=1) == greedy(model, ids)
    cands, raw, lengths = beam_candidates(model, ids, width=3, length_penalty=0.0)
    assert all(len(c) == 3 for c in cands)
    best = [c[0] for c in cands]
    # the beam's summed log-probability is the model's, fed the reply word by word, and the
    # teacher-forced training model's as well
    np.testing.assert_allclose(raw[:, 0], forced_logprobs(model, ids, best), rtol=1e-4, atol=1e-4)
    logp, n = system.log_likelihood(PROMPTS, REPLIES)
    np.testing.assert_allclose(raw[:, 0], logp, rtol=1e-4, atol=1e-4)
    assert (lengths[:, 0] == n).all()
    assert (np.diff(raw, axis=1) <= 1e-9).all()  # best first (no length normalisation here)


def test_sampling_is_seeded_and_top_k_one_is_greedy(tiny):
    model, _, system = tiny
    ids = system.encode_prompts(PROMPTS * 3)
    hot = {"temperature": 5.0, "top_p": 1.0}
    assert sample(model, ids, seed=3, **hot) == sample(model, ids, seed=3, **hot)
    assert sample(model, ids, seed=3, **hot) != sample(model, ids, seed=4, **hot)
    assert sample(model, ids, temperature=5.0, top_k=1, seed=3) == greedy(model, ids)


def test_decoding_reuses_the_compiled_step(tiny):
    model, _, system = tiny
    ids = system.encode_prompts(PROMPTS)
    greedy(model, ids)
    compiled = model.step_model.predict_function
    greedy(model, ids)
    STRATEGIES["beam"](model, ids, width=2)
    assert model.step_model.predict_function is compiled


class Scripted:
    """A hand-made model: the next-word logits are a fixed table indexed by the previous token.

    Vocabulary: 5 specials, then "a", "b", "c". After <s> and after any word, "a" is the most likely
    word, "b" second, "c" third, and the end token unlikely until "c" was said."""

    def __init__(self):
        self.config = ModelConfig(vocab_size=8, max_reply_len=6)
        self.batches: list[int] = []

    def decode_start(self, prompt_ids):
        return (np.zeros(len(prompt_ids)),)

    def decode_step(self, tokens, ctx):
        self.batches.append(len(tokens))
        logits = np.tile(np.array([0, 0, 0, -5.0, 0, 3.0, 2.0, 1.0]), (len(tokens), 1))
        said_c = ctx[0] + (tokens == 7)
        logits[said_c > 0, EOS_ID] = 10.0
        return logits, (said_c,)


def test_repetition_penalty_breaks_a_loop():
    m = Scripted()
    prompts = np.ones((2, 3), dtype=np.int32)
    assert greedy(m, prompts, no_repeat_ngram=0) == [[5] * 6, [5] * 6]  # "a a a a a a": the seeds' failure
    # after "a" and "b" are penalised, "c" wins and the end token follows it
    assert greedy(m, prompts, repetition_penalty=4.0, no_repeat_ngram=0) == [[5, 6, 7], [5, 6, 7]]


def _ngrams(seq, n):
    return [tuple(seq[i: i + n]) for i in range(len(seq) - n + 1)]


def test_no_repeat_ngram_breaks_a_loop_in_every_strategy():
    m = Scripted()
    prompts = np.ones((2, 3), dtype=np.int32)
    assert greedy(m, prompts, no_repeat_ngram=1) == [[5, 6, 7]] * 2  # no word twice: a b c, then the end
    # no word pair twice: "a a", then "a a" is taken so "b", then "b a", then "a a" and "a b" are taken: "c"
    assert greedy(m, prompts, no_repeat_ngram=2) == [[5, 5, 6, 5, 7]] * 2
    for name, fn in MODEL_STRATEGIES.items():
        for seq in fn(m, prompts, width=3, seed=0, temperature=2.0, no_repeat_ngram=2):
            assert len(set(_ngrams(seq, 2))) == len(_ngrams(seq, 2)), (name, seq)
    cands, _, _ = beam_candidates(m, prompts, width=4, no_repeat_ngram=2)
    assert all(len(set(_ngrams(c, 2))) == len(_ngrams(c, 2)) for cs in cands for c in cs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(5, 9), max_size=12), st.integers(1, 4))
def test_no_repeat_ngram_forbids_exactly_the_words_that_repeat_an_ngram(history, n):
    logits = np.zeros((1, 10))
    _guard(logits, len(history), None, 1.0, history=np.asarray([history], dtype=np.int32).reshape(1, -1),
           no_repeat=n)
    for word in range(5, 10):
        grams = _ngrams([*history, word], n)
        repeats = grams[-1] in grams[:-1] if len(history) >= n else False
        assert (logits[0, word] == -np.inf) == repeats, (history, n, word)
    assert logits[0, EOS_ID] == (0.0 if history else -np.inf)  # a reply can end once it has a word


def test_beam_batches_all_beams_into_one_step_call():
    m = Scripted()
    beam_candidates(m, np.ones((3, 2), dtype=np.int32), width=4)
    assert set(m.batches) == {12}  # 3 prompts x 4 beams per call


def test_specials_are_never_generated():
    m = Scripted()
    m.decode_step = lambda tokens, ctx: (np.tile(np.array([9.0, 9, 9, 9, 9, 0, 0, 0]), (len(tokens), 1)), ctx)
    for name, fn in MODEL_STRATEGIES.items():
        out = fn(m, np.ones((2, 3), dtype=np.int32), width=2, seed=0)
        assert all(t not in (0, UNK_ID, BOS_ID) for seq in out for t in seq), name
        assert all(len(seq) >= 1 for seq in out), name
        # the end token is allowed from the second word on, and is the most likely then
        assert all(len(seq) == 1 for seq in out), name


def test_log_softmax_is_normalised():
    x = np.array([[1.0, 2.0, -np.inf], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(np.exp(log_softmax(x)).sum(-1), 1.0)


# --- options out of range, and extremes within it ------------------------------------------------------
@pytest.mark.parametrize("option,value", [
    ("seed", -1), ("seed", 2**40), ("top_p", 0.0), ("top_p", 1.5), ("top_p", float("nan")),
    ("temperature", -1.0), ("temperature", 1e30), ("temperature", float("nan")), ("top_k", -1), ("top_k", 2.5),
    ("width", 0), ("repetition_penalty", 0.0), ("repetition_penalty", float("inf")),
    ("length_penalty", float("inf")), ("length_penalty", 1e4), ("mmi_lambda", -1.0), ("no_repeat_ngram", -2),
    ("max_len", 0),
])
def test_an_option_out_of_range_is_an_option_error_in_every_strategy(option, value):
    m = Scripted()
    with pytest.raises(OptionError, match=option):
        decoding_options(**{option: value})
    for name, fn in MODEL_STRATEGIES.items():
        try:
            fn(m, np.ones((1, 3), dtype=np.int32), **{option: value})
        except OptionError:
            continue
        # a strategy may ignore an option it does not take; it must not take it and fail otherwise
        assert option not in inspect.signature(fn).parameters, (name, option)
    with pytest.raises(OptionError):
        STRATEGIES["hybrid"](m, np.ones((1, 3), dtype=np.int32), **{option: value})


SPECIALS = {PAD_ID, BOS_ID, UNK_ID, SEP_ID}
EXTREMES = [
    {"temperature": 100.0, "top_p": 1.0, "seed": 0},  # almost uniform: never a special token
    {"temperature": 1e-300, "seed": 0},  # sharper than any float: greedy, without overflow
    {"top_p": 1e-12, "seed": 1},  # the most likely word always stays
    {"top_k": 10**9, "top_p": 1.0, "temperature": 3.0, "seed": 2},
    {"repetition_penalty": 100.0, "no_repeat_ngram": 0, "seed": 3},
    {"length_penalty": 10.0, "width": 100}, {"length_penalty": -10.0, "width": 3},
    {"mmi_lambda": 10.0, "length_penalty": -10.0, "width": 2},
    {"no_repeat_ngram": 1, "width": 1, "seed": 4},
]


@pytest.mark.parametrize("options", EXTREMES)
def test_extreme_options_give_a_reply_of_words_without_numpy_warnings(options):
    m = Scripted()
    # the specials are the model's favourites, <sep> above all
    m.decode_step = lambda tokens, ctx: (np.tile(np.array([9.0, 9, 9, 9, 50, 0, -1, 1]), (len(tokens), 1)), ctx)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is silent
        for name, fn in MODEL_STRATEGIES.items():
            for seq in fn(m, np.ones((3, 3), dtype=np.int32), **options):
                assert seq and not SPECIALS & set(seq) and EOS_ID not in seq, (name, options, seq)


class Wild:
    """A model whose next-word logits are drawn anew at every step, NaN and infinities included."""

    def __init__(self, rows, vocab_size=9):
        self.config = ModelConfig(vocab_size=vocab_size, max_reply_len=5)
        self.rows = rows

    def decode_start(self, prompt_ids):
        return (np.zeros(len(prompt_ids)),)

    def decode_step(self, tokens, ctx):
        k = int(ctx[0][0])
        row = np.asarray(self.rows[k % len(self.rows)], dtype=np.float64)
        return np.tile(row, (len(tokens), 1)), (ctx[0] + 1,)


LOGIT = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(LOGIT, min_size=9, max_size=9), min_size=1, max_size=3),
       st.sampled_from(sorted(MODEL_STRATEGIES)), st.sampled_from([*EXTREMES, {}]))
def test_any_logits_give_words_or_an_end_never_a_special_nor_a_warning(rows, name, options):
    words = set(range(5, 9))
    possible = any(not np.isnan(x) and x != -np.inf for x in rows[0][5:])  # a first word the model allows
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is silent
        out = MODEL_STRATEGIES[name](Wild(rows), np.ones((2, 3), dtype=np.int32), **options)
    for seq in out:
        assert not SPECIALS & set(seq) and EOS_ID not in seq, seq
        assert set(seq) <= words
        assert seq or not possible, (rows, options)  # empty only when the model allows no word at all


def test_log_softmax_of_rows_without_a_choice_or_with_a_certain_one():
    x = np.array([[-np.inf, -np.inf, -np.inf], [np.inf, 0.0, np.nan], [np.inf, np.inf, 1.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is silent
        out = log_softmax(x)
    assert np.isneginf(out[0]).all()
    np.testing.assert_allclose(np.exp(out[1:]).sum(-1), 1.0)
    np.testing.assert_allclose(np.exp(out[2]), [0.5, 0.5, 0.0])


def test_a_word_of_probability_zero_is_never_drawn():
    class Edge:  # draws of exactly 0 and of the whole mass (rounding)
        def __init__(self, u):
            self.u = u

        def random(self, shape):
            return np.full(shape, self.u)

    p = np.array([[0.0, 0.0, 0.5, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0]])
    assert _draw(p, Edge(0.0)).tolist() == [2, 1]
    assert _draw(p, Edge(1.0)).tolist() == [3, 1]
