"""Decoding strategies, in a table keyed by name.

Each strategy takes a model, a batch of encoded prompts (``(batch, prompt_len)`` int32 ids) and its
options, and returns token ids for each prompt of the batch (end token excluded)::

    ids = STRATEGIES["beam"](bot.model, prompt_ids, width=5, length_penalty=0.6)

| name     | what it does                                                                     | options |
|----------|----------------------------------------------------------------------------------|---------|
| greedy   | the most likely next word at each step                                           | repetition_penalty |
| beam     | beam search; all prompts x beams go through one step call per step               | width, length_penalty, repetition_penalty |
| sample   | sampling from the (temperature-scaled, top-k / top-p truncated) distribution     | temperature, top_k, top_p, seed, repetition_penalty |
| mmi      | beam candidates reranked by how specific they are to the message:                | width, length_penalty, mmi_lambda, repetition_penalty |
|          | ``(log p(r|m) - λ·log p(r)) / len^length_penalty``, p(r) = the model given an empty prompt |  |
| hybrid   | the person's own past reply when one fits, else the best-ranked sample (``bot.hybrid``); | quotes, seed, and sample's |
|          | returns texts; needs the bot's reply index (``Bot.replies`` passes it)            |  |

Every strategy also takes ``no_repeat_ngram``. Unknown options are ignored, so one set of options can be
passed to any strategy; a known one outside its range (``BOUNDS``: the CLI's limits too) raises ``OptionError``.
Whatever the options, a reply never holds a special token (``<pad>``, ``<s>``, ``<unk>``, ``<sep>``), is never
empty while the model can say a word, and no step divides by zero or overflows: a temperature near 0 is greedy,
a huge one uniform over the words, ``top_p`` near 0 keeps the most likely word.

**The model protocol.** A model either has ``decode_start(prompt_ids) -> ctx`` and
``decode_step(tokens, ctx) -> (logits, ctx)`` (the reference model of ``bot.eval.baselines`` does),
or is a ``bot.model.Seq2Seq`` (``encoder_model`` and ``step_model``, both called through
``predict_on_batch``, which compiles once per shape and is reused for every reply). ``ctx`` is a
tuple of arrays whose first axis is the batch, so beam search can reorder and repeat it.
Logits may be unnormalised; any array whose log-softmax is the next-word distribution will do.

**Guards against the same reply to everything.** ``repetition_penalty`` (CTRL-style: a word already
in the reply has its logit divided by the penalty when positive, multiplied when negative) stops
"lol lol lol"; ``no_repeat_ngram`` = n forbids any word that would repeat an n-word sequence already in
the reply (``no_repeat_ngram_size`` of Hugging Face's ``generate``), so a reply never loops "i think i
think i think" and its beams are not spent on loops; ``mmi`` penalises replies that are likely whatever was said (Li et al. 2016,
"A Diversity-Promoting Objective Function for Neural Conversation Models").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot import interrupts
from bot.vocab import BOS_ID, EOS_ID, PAD_ID, SEP_ID, UNK_ID
from ingest.errors import OptionError

NEVER = [PAD_ID, BOS_ID, UNK_ID, SEP_ID]  # tokens a reply never contains (<sep> separates the encoder's turns)
NO_REPEAT_NGRAM = 2  # default of every strategy: no word pair twice in a reply (0: off); ends "i think i think ..."
LIMIT = 1e300  # logits are kept within +-LIMIT, so a penalty or a temperature never overflows a float64


# --- the options' ranges --------------------------------------------------------------------------
@dataclass(frozen=True)
class Bound:
    """The values a decoding option takes: a number from ``low`` (excluded with ``low_open``) to ``high``."""

    low: float
    high: float = math.inf
    integer: bool = False
    low_open: bool = False

    def admits(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            return False
        if self.integer and not isinstance(value, int | np.integer):
            return False
        value = float(value)
        if math.isnan(value):
            return False
        return (value > self.low if self.low_open else value >= self.low) and value <= self.high

    def describe(self) -> str:
        """The range in words: "an integer from 1 to 100", "a number above 0 and up to 1"."""
        kind = "an integer" if self.integer else "a number"
        low, high = (f"{int(v)}" if self.integer and v != math.inf else f"{v:g}" for v in (self.low, self.high))
        if self.high == math.inf:
            return f"{kind} {'above' if self.low_open else 'from'} {low}" + ("" if self.low_open else " up")
        return f"{kind} {'above' if self.low_open else 'from'} {low} {'and up to' if self.low_open else 'to'} {high}"


BOUNDS: dict[str, Bound] = {
    "width": Bound(1, 100, integer=True),  # beams kept
    "length_penalty": Bound(-10.0, 10.0),  # rank by log p / len^this
    "temperature": Bound(0.0, 100.0),  # 0: greedy
    "top_k": Bound(0, integer=True),  # 0: no limit
    "top_p": Bound(0.0, 1.0, low_open=True),  # 1: no limit
    "repetition_penalty": Bound(1.0, 100.0),  # 1: off
    "no_repeat_ngram": Bound(0, integer=True),  # 0: off
    "mmi_lambda": Bound(0.0, 10.0),
    "seed": Bound(0, 2**32 - 1, integer=True),  # None: fresh randomness
    "max_len": Bound(1, integer=True),  # None: the model's max_reply_len
}


def check_options(**options) -> None:
    """Raise ``OptionError`` (exit 2) for a known decoding option outside its range; None and unknown names pass."""
    for name, value in options.items():
        bound = BOUNDS.get(name)
        if bound is not None and value is not None and not bound.admits(value):
            raise OptionError(f"decoding option {name} = {value!r} is out of range", hint=f"use {bound.describe()}")


# --- the model protocol ---------------------------------------------------------------------------
def start(model, prompt_ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """Encode the prompts; returns the decoding context (batch-first arrays)."""
    prompt_ids = np.asarray(prompt_ids, dtype=np.int32)
    if hasattr(model, "decode_start"):
        return tuple(model.decode_start(prompt_ids))
    enc_out, keys, state = model.encoder_model.predict_on_batch(prompt_ids)
    return np.asarray(state), np.asarray(enc_out), np.asarray(keys), prompt_ids != PAD_ID


def step(model, tokens: np.ndarray, ctx: tuple[np.ndarray, ...]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """One decoding step for the whole batch: (next-word logits as float64, the new context)."""
    if hasattr(model, "decode_step"):
        logits, ctx = model.decode_step(np.asarray(tokens, dtype=np.int32), ctx)
        return np.asarray(logits, dtype=np.float64), tuple(ctx)
    state, enc_out, keys, mask = ctx
    logits, state = model.step_model.predict_on_batch(
        [np.asarray(tokens, dtype=np.int32)[:, None], state, enc_out, keys, mask])
    return np.asarray(logits, dtype=np.float64), (np.asarray(state), enc_out, keys, mask)


def reorder(ctx: tuple[np.ndarray, ...], index: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(a[index] for a in ctx)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis. NaN counts as -inf; +inf words share all the mass; a row of -inf
    stays -inf (nothing can be said); finite logits count within +-LIMIT, so no difference overflows."""
    logits = np.where(np.isnan(logits), -np.inf, logits)
    certain = np.isposinf(logits)
    if certain.any():
        logits = np.where(certain.any(-1, keepdims=True), np.where(certain, 0.0, -np.inf), logits)
    logits = np.where(np.isneginf(logits), -np.inf, np.clip(logits, -LIMIT, LIMIT))
    m = logits.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = logits - m
    total = np.exp(z).sum(-1, keepdims=True)
    return z - np.log(total, out=np.full_like(total, np.inf), where=total > 0)


def _sanitise(logits: np.ndarray) -> np.ndarray:
    """In place: NaN becomes -inf (never chosen), +inf and the finite values are kept within +-LIMIT."""
    logits[np.isnan(logits)] = -np.inf
    logits[np.isposinf(logits)] = LIMIT
    np.clip(logits, -LIMIT, LIMIT, out=logits, where=np.isfinite(logits))
    return logits


def _penalise(hit: np.ndarray, penalty: float) -> np.ndarray:
    """CTRL's repetition penalty: a positive logit divided by ``penalty``, a negative one multiplied (sanitised
    logits and a penalty of at most 100: no overflow; -inf stays -inf)."""
    return np.where(hit > 0, hit / penalty, hit * penalty)


def _scaled(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``logits / temperature``, shifted so each row's best word is 0. A word more than LIMIT below it gets
    -LIMIT (its probability is 0 either way), so a temperature near 0 never overflows; -inf stays -inf."""
    finite = np.isfinite(logits)
    m = np.max(np.where(finite, logits, -np.inf), axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    gap = np.where(finite, logits - m, 0.0)
    floor = -LIMIT * float(temperature)  # a Python float: inf rather than an overflow warning
    return np.where(finite, np.maximum(gap, floor) / temperature, -np.inf)


def _guard(logits: np.ndarray, step_no: int, seen: np.ndarray | None, penalty: float,
           forbid: bool = True, history: np.ndarray | None = None, no_repeat: int = 0) -> np.ndarray:
    """Apply the repetition penalty, forbid special tokens (and an empty reply) and, with ``no_repeat``
    and the ``(rows, step_no)`` tokens said so far, the words that would repeat an n-gram; in place.
    A row left with no word at all may still end (the end token), so every row has a choice."""
    _sanitise(logits)
    if seen is not None and penalty != 1.0:
        logits[seen] = _penalise(logits[seen], float(penalty))
    if not forbid:
        return logits
    logits[:, NEVER] = -np.inf
    if step_no == 0:
        logits[:, EOS_ID] = -np.inf  # a reply has at least one word
    if no_repeat and history is not None:
        _ban_repeats(logits, history, no_repeat)
    stuck = ~np.isfinite(logits).any(-1)
    if stuck.any():  # a vocabulary of special tokens only, or every word banned: the reply ends
        logits[stuck, EOS_ID] = 0.0
    return logits


def _ban_repeats(logits: np.ndarray, history: np.ndarray, n: int) -> None:
    """Forbid, in place, each word that would make the last ``n`` words of a row an n-gram the row already
    holds (``n = 1``: any word it already holds). The end token is not in a live reply, so it stays allowed."""
    rows, t = history.shape
    if t < n:
        return
    if n == 1:
        match, follow = np.ones((rows, t), dtype=bool), history
    else:  # window i (words i .. i+n-2) is followed by word i+n-1; it matches the row's last n-1 words
        windows = np.lib.stride_tricks.sliding_window_view(history[:, : t - 1], n - 1, axis=1)
        match = (windows == history[:, None, t - n + 1:]).all(-1)
        follow = history[:, n - 1:]
    r, j = np.nonzero(match)
    logits[r, follow[r, j]] = -np.inf


def _max_len(model, max_len: int | None) -> int:
    return max_len or model.config.max_reply_len


# --- strategies -------------------------------------------------------------------------------------
def greedy(model, prompt_ids: np.ndarray, *, max_len: int | None = None, repetition_penalty: float = 1.0,
           no_repeat_ngram: int = NO_REPEAT_NGRAM, **_) -> list[list[int]]:
    """The most likely next word at each step (never ``<unk>``, never an empty reply)."""
    check_options(max_len=max_len, repetition_penalty=repetition_penalty, no_repeat_ngram=no_repeat_ngram)
    return _left_to_right(model, prompt_ids, max_len=max_len, repetition_penalty=repetition_penalty,
                          no_repeat_ngram=no_repeat_ngram, pick=lambda logits, rng: logits.argmax(-1))


def sample(model, prompt_ids: np.ndarray, *, max_len: int | None = None, temperature: float = 0.8,
           top_k: int = 0, top_p: float = 0.9, seed: int | None = None, repetition_penalty: float = 1.0,
           no_repeat_ngram: int = NO_REPEAT_NGRAM, **_) -> list[list[int]]:
    """Sample each word from the model's distribution, sharpened by ``temperature`` (< 1) and truncated
    to the ``top_k`` most likely words (0: no limit) and to the smallest set whose probability reaches
    ``top_p`` (1: no limit; the most likely word is always kept). ``seed`` makes it reproducible (None: fresh
    randomness). A temperature of 0 is greedy."""
    check_options(max_len=max_len, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                  repetition_penalty=repetition_penalty, no_repeat_ngram=no_repeat_ngram)
    if temperature == 0:
        return greedy(model, prompt_ids, max_len=max_len, repetition_penalty=repetition_penalty,
                      no_repeat_ngram=no_repeat_ngram)

    def pick(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        logp = log_softmax(_scaled(logits, temperature))
        if top_k and top_k < logp.shape[1]:
            kth = -np.partition(-logp, top_k - 1, axis=1)[:, top_k - 1: top_k]
            logp = np.where(logp >= kth, logp, -np.inf)
        if top_p < 1.0:
            order = np.argsort(-logp, axis=1)
            sorted_p = np.exp(np.take_along_axis(logp, order, 1))
            before = np.cumsum(sorted_p, axis=1) - sorted_p  # mass of the strictly more likely words
            drop_sorted = before >= top_p * sorted_p.sum(1, keepdims=True)
            drop_sorted[:, 0] = False  # the most likely word always stays
            drop = np.zeros_like(drop_sorted)
            np.put_along_axis(drop, order, drop_sorted, 1)
            logp = np.where(drop, -np.inf, logp)
        return _draw(np.exp(log_softmax(logp)), rng)

    return _left_to_right(model, prompt_ids, max_len=max_len, repetition_penalty=repetition_penalty,
                          no_repeat_ngram=no_repeat_ngram, pick=pick, rng=np.random.default_rng(seed))


def _draw(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One word per row of ``p`` (probabilities): the first whose cumulative mass passes a uniform draw, so a word
    of probability 0 is never drawn (not even by a draw of exactly 0, or one rounded up to the total)."""
    cdf = np.cumsum(p, axis=1)
    u = rng.random((len(p), 1)) * cdf[:, -1:]
    last = p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1)  # the last word that may be drawn
    return np.minimum((cdf <= u).sum(1), last)


def _left_to_right(model, prompt_ids, *, max_len, repetition_penalty, no_repeat_ngram, pick,
                   rng=None) -> list[list[int]]:
    max_len = _max_len(model, max_len)
    ctx = start(model, prompt_ids)
    batch = len(prompt_ids)
    tokens = np.full(batch, BOS_ID, dtype=np.int32)
    out = np.zeros((batch, max_len), dtype=np.int32)
    done = np.zeros(batch, dtype=bool)
    seen = None
    for t in range(max_len):
        interrupts.check()  # TensorFlow may have swallowed a Ctrl-C in the last step
        logits, ctx = step(model, tokens, ctx)
        if seen is None:
            seen = np.zeros(logits.shape, dtype=bool)
        logits = _guard(logits, t, seen, repetition_penalty, history=out[:, :t], no_repeat=no_repeat_ngram)
        tokens = np.asarray(pick(logits, rng), dtype=np.int32)
        tokens[done] = EOS_ID
        out[:, t] = tokens
        seen[np.arange(batch), tokens] = True
        done |= tokens == EOS_ID
        if done.all():
            break
    return [_until_eos(row) for row in out]


def _until_eos(row: np.ndarray) -> list[int]:
    ends = np.flatnonzero(row == EOS_ID)
    return [int(t) for t in (row[: ends[0]] if len(ends) else row)]


def beam_candidates(model, prompt_ids: np.ndarray, *, width: int = 5, length_penalty: float = 0.6,
                    max_len: int | None = None, repetition_penalty: float = 1.0, n: int | None = None,
                    no_repeat_ngram: int = NO_REPEAT_NGRAM) -> tuple[list[list[list[int]]], np.ndarray, np.ndarray]:
    """Beam search for every prompt at once: the prompts x beams go through one step call per step.

    Returns, per prompt, its ``n`` (default ``width``) best finished replies, best first, ranked by
    ``log p / len^length_penalty`` (len counts the end token), with their summed log-probabilities
    and lengths as ``(batch, n)`` arrays. A beam still open at ``max_len`` finishes there.
    """
    check_options(width=width, length_penalty=length_penalty, max_len=max_len, repetition_penalty=repetition_penalty,
                  no_repeat_ngram=no_repeat_ngram)
    if n is not None and not Bound(1, integer=True).admits(n):
        raise OptionError(f"beam candidates n = {n!r} is out of range", hint="use an integer from 1 up")
    max_len = _max_len(model, max_len)
    n = n or width
    batch = len(prompt_ids)
    ctx = reorder(start(model, prompt_ids), np.repeat(np.arange(batch), width))
    scores = np.full((batch, width), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: keep one
    hist = np.zeros((batch, width, 0), dtype=np.int32)
    tokens = np.full(batch * width, BOS_ID, dtype=np.int32)
    seen = None
    fin_scores, fin_raw, fin_len, fin_seqs = [], [], [], []
    rows = np.arange(batch)[:, None]
    for t in range(max_len):
        interrupts.check()
        logits, ctx = step(model, tokens, ctx)
        vocab_size = logits.shape[1]
        if seen is None:
            seen = np.zeros((batch * width, vocab_size), dtype=bool)
        # normalised before the specials are forbidden: scores are the model's own log-probabilities
        logp = _guard(log_softmax(_guard(logits, t, seen, repetition_penalty, forbid=False)), t, None, 1.0,
                      history=hist.reshape(batch * width, t), no_repeat=no_repeat_ngram)
        logp = logp.reshape(batch, width, vocab_size)
        cand = scores[:, :, None] + logp
        # beams ending here: finished candidates of length t + 1
        ended = cand[:, :, EOS_ID].copy()
        fin_raw.append(ended)
        fin_len.append(np.full(ended.shape, t + 1))
        fin_scores.append(ended / (t + 1) ** length_penalty)
        fin_seqs.append(np.concatenate([hist, np.full((batch, width, max_len - t), EOS_ID, np.int32)], axis=2))
        cand[:, :, EOS_ID] = -np.inf
        flat = cand.reshape(batch, -1)
        best = np.argpartition(-flat, width - 1, axis=1)[:, :width] if flat.shape[1] > width else \
            np.broadcast_to(np.arange(flat.shape[1]), (batch, flat.shape[1]))
        best = np.take_along_axis(best, np.argsort(-np.take_along_axis(flat, best, 1), axis=1), 1)
        origin, word = best // vocab_size, (best % vocab_size).astype(np.int32)
        scores = np.take_along_axis(flat, best, 1)
        hist = np.concatenate([hist[rows, origin], word[:, :, None]], axis=2)
        flat_origin = (rows * width + origin).reshape(-1)
        ctx = reorder(ctx, flat_origin)
        seen = seen[flat_origin]
        tokens = word.reshape(-1)
        seen[np.arange(len(tokens)), tokens] = True
        if not np.isfinite(scores).any():
            break
    # beams still open finish at max_len
    fin_raw.append(scores)
    fin_len.append(np.full(scores.shape, hist.shape[2]))
    fin_scores.append(scores / max(hist.shape[2], 1) ** length_penalty)
    fin_seqs.append(np.concatenate([hist, np.full((batch, width, max_len - hist.shape[2]), EOS_ID, np.int32)], 2))

    norm = np.concatenate(fin_scores, axis=1)  # (batch, steps * width)
    raw = np.concatenate(fin_raw, axis=1)
    lengths = np.concatenate(fin_len, axis=1)
    seqs = np.concatenate([s[:, :, :max_len] for s in fin_seqs], axis=1)
    order = np.argsort(-norm, axis=1, kind="stable")[:, :n]
    out = [[_until_eos(seqs[b, j]) for j in order[b] if np.isfinite(norm[b, j])] for b in range(batch)]
    return out, np.take_along_axis(raw, order, 1), np.take_along_axis(lengths, order, 1)


def beam(model, prompt_ids: np.ndarray, *, width: int = 5, length_penalty: float = 0.6, max_len: int | None = None,
         repetition_penalty: float = 1.0, no_repeat_ngram: int = NO_REPEAT_NGRAM, **_) -> list[list[int]]:
    """Beam search of ``width`` beams; finished replies ranked by ``log p / len^length_penalty``."""
    cands, _, _ = beam_candidates(model, prompt_ids, width=width, length_penalty=length_penalty, max_len=max_len,
                                  repetition_penalty=repetition_penalty, n=1, no_repeat_ngram=no_repeat_ngram)
    return [c[0] if c else [] for c in cands]


def forced_logprobs(model, prompt_ids: np.ndarray, replies: list[list[int]]) -> np.ndarray:
    """Summed log p(reply | prompt), end token included, for each row: the replies are fed to the
    decoder word by word (one step call per position for the whole batch)."""
    batch = len(replies)
    length = max((len(r) for r in replies), default=0) + 1
    target = np.zeros((batch, length), dtype=np.int32)
    for i, r in enumerate(replies):
        target[i, : len(r) + 1] = [*r, EOS_ID]
    ctx = start(model, prompt_ids)
    tokens = np.full(batch, BOS_ID, dtype=np.int32)
    total = np.zeros(batch)
    for t in range(length):
        interrupts.check()
        logits, ctx = step(model, tokens, ctx)
        logp = log_softmax(logits)
        live = target[:, t] != PAD_ID
        total += np.where(live, logp[np.arange(batch), target[:, t]], 0.0)
        tokens = np.where(live, target[:, t], EOS_ID).astype(np.int32)
    return total


def mmi(model, prompt_ids: np.ndarray, *, width: int = 8, length_penalty: float = 0.6, mmi_lambda: float = 0.5,
        max_len: int | None = None, repetition_penalty: float = 1.0, no_repeat_ngram: int = NO_REPEAT_NGRAM,
        **_) -> list[list[int]]:
    """Beam candidates reranked by ``(log p(r|m) - mmi_lambda·log p(r)) / len^length_penalty``, where
    p(r) is the same model given an empty prompt: replies likely whatever was said rank lower."""
    check_options(mmi_lambda=mmi_lambda)
    cands, raw, lengths = beam_candidates(model, prompt_ids, width=width, length_penalty=length_penalty,
                                          max_len=max_len, repetition_penalty=repetition_penalty,
                                          no_repeat_ngram=no_repeat_ngram)
    flat = [c for cs in cands for c in cs]
    if not flat:
        return [[] for _ in cands]
    empty = np.zeros((len(flat), np.asarray(prompt_ids).shape[1]), dtype=np.int32)
    prior = forced_logprobs(model, empty, flat)
    out, k = [], 0
    for b, cs in enumerate(cands):
        p = prior[k: k + len(cs)]
        k += len(cs)
        if not cs:
            out.append([])
            continue
        specific = raw[b, : len(cs)] - (mmi_lambda * p if mmi_lambda else 0.0)  # (0 x -inf is no number)
        score = specific / lengths[b, : len(cs)] ** float(length_penalty)
        out.append(cs[int(np.argmax(score))])
    return out


def decoding_options(**options) -> dict:
    """The options given (not None), for any strategy: ``decoding_options(width=4, top_p=None)``; one out of
    its range raises ``OptionError`` here, before any model is loaded."""
    check_options(**options)
    return {k: v for k, v in options.items() if v is not None}


def hybrid(model, prompt_ids: np.ndarray, *, bot=None, prompts: list[str] | None = None, contexts=None,
           quotes: bool = True, seed: int | None = None, **options) -> list[str]:
    """The person's own past reply when one fits, else the best of the model's samples (``bot.hybrid``).
    It needs the bot's reply index and the texts: ``Bot.replies`` passes itself and the prompts to every strategy;
    it returns texts (a quoted reply is the person's message word for word), not token ids."""
    check_options(seed=seed, **options)
    if bot is None or prompts is None:
        from bot.errors import BotError

        raise BotError("the hybrid strategy needs a bot with a reply index", hint="call it through Bot.replies")
    return [text for text, _ in bot.hybrid.replies(prompts, contexts, quotes=quotes, seed=seed, **options)]


STRATEGIES: dict[str, Callable[..., list]] = {
    "greedy": greedy,
    "beam": beam,
    "sample": sample,
    "mmi": mmi,
    "hybrid": hybrid,
}
# the strategies that decode from the model alone (token ids); hybrid also needs the bot's reply index
MODEL_STRATEGIES = {name: fn for name, fn in STRATEGIES.items() if name != "hybrid"}
# the default of chat and eval: the person's own past replies when one fits (bot.hybrid). Measured on the
# demo speaker's held-out conversations (README, Evaluation): 1-in-10 recall 0.629 against 0.453 for the
# seq2seq model's best score, real-or-bot accuracy 0.57 against 0.80 for sampling, style distance 0.20 against
# 0.24 (on a second speaker 0.63 / 0.41, 0.58 / 0.83, 0.09 / 0.45).
# A bot without a reply index (trained before it, or with --no-quotes) samples (Bot.default_strategy): on
# the 4-minute demo bot, greedy gave one reply to 64% of the messages, sampling to 1%
DEFAULT_STRATEGY = "hybrid"


def get(name: str) -> Callable[..., list]:
    """The strategy ``name`` of :data:`STRATEGIES`; an ``OptionError`` listing them when there is none."""
    if name not in STRATEGIES:
        raise OptionError(f"unknown decoding strategy {name!r}", hint=f"choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
