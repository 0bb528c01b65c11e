"""The systems eval scores: a Keras seq2seq model (``ModelSystem``), and a bigram p(reply) prior.

**The scorer interface.** Any model that gives per-token log-likelihoods can be evaluated: wrap it
in ``ModelSystem`` (it needs ``training.predict_on_batch({"prompt", "reply_in"})`` returning logits
or, with ``output_kind = "probabilities"``, a softmax, plus the decoding protocol of
``bot.decoding``), or write any object with ``name``, ``replies(prompts, strategy, **options)``
and ``log_likelihood(prompts, replies) -> (summed log p, tokens)`` per pair.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from bot.decoding import DEFAULT_STRATEGY
from bot.decoding import get as get_strategy
from bot.vocab import BOS_ID, EOS_ID, PAD_ID, Vocabulary

BATCH = 128  # pairs per forward pass


class Scorer(Protocol):
    """What eval needs from a model: replies, and the log-likelihood of given replies."""

    name: str

    def replies(self, prompts: list[str], strategy: str = DEFAULT_STRATEGY, **options) -> list[str]: ...

    def log_likelihood(self, prompts: Sequence[str], replies: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per pair: Σ log p(token) in nats over the reply's tokens and its end token, and that token count."""
        ...


class ModelSystem:
    """A Keras seq2seq model (the bot's, or the reference) and its vocabulary, as an evaluated system."""

    def __init__(self, name: str, model, vocab: Vocabulary, *, max_prompt_len: int,
                 encode_prompts: Callable[[list[str]], np.ndarray] | None = None, description: str = "",
                 matcher=None, context_turns: int = 0):
        self.name, self.model, self.vocab, self.description = name, model, vocab, description
        self.max_prompt_len = max_prompt_len
        self.matcher = matcher  # bot.match.Matcher: how well a reply fits a message, or None
        self.context_turns = context_turns  # turns before the prompt the model's encoder reads
        self._encode = encode_prompts or (lambda ps: vocab.encode_all(ps, max_prompt_len))

    @classmethod
    def from_bot(cls, bot, name: str = "seq2seq") -> ModelSystem:
        c = bot.model.config
        desc = f"{type(bot.model).__name__}: " + ", ".join(
            f"{k}={v}" for k, v in c.to_json().items() if k in ("embed_dim", "encoder_units", "decoder_units",
                                                               "attention"))
        return cls(name, bot.model, bot.vocab, max_prompt_len=c.max_prompt_len, encode_prompts=bot.encode_prompts,
                   description=desc, matcher=getattr(bot, "matcher", None), context_turns=bot.context_turns)

    def match_scores(self, prompts: Sequence[str], replies: Sequence[str],
                     contexts: Sequence[list[str]] | None = None) -> np.ndarray:
        """The matcher's score of each (prompt, reply), with the turns before each prompt when given."""
        return self.matcher.scores(prompts, replies, contexts)

    def encode_prompts(self, prompts: Sequence[str], contexts: Sequence[list[str]] | None = None) -> np.ndarray:
        """Encoder inputs; with ``contexts`` (turns before each prompt), the last ``context_turns`` of them
        as ``bot.data`` encodes them."""
        if not len(prompts):
            return np.zeros((0, self.max_prompt_len), np.int32)
        if contexts is not None and self.context_turns:
            from bot.data import encode_prompts

            return encode_prompts(self.vocab, prompts, contexts, self.context_turns, self.max_prompt_len)
        return np.asarray(self._encode(list(prompts)), dtype=np.int32)

    def replies(self, prompts: list[str], strategy: str = DEFAULT_STRATEGY, *,
                contexts: Sequence[list[str]] | None = None, **options) -> list[str]:
        decode = get_strategy(strategy)
        out: list[str] = []
        for lo in range(0, len(prompts), 256):
            ctx = None if contexts is None else contexts[lo: lo + 256]
            ids = decode(self.model, self.encode_prompts(prompts[lo: lo + 256], ctx), **options)
            out += [self.vocab.decode(seq) for seq in ids]
        return out

    def log_likelihood(self, prompts: Sequence[str], replies: Sequence[str], *,
                       contexts: Sequence[list[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Teacher forcing: one forward pass of ``model.training`` per batch, whole replies (never cut)."""
        n = len(replies)
        ids = [self.vocab.ids(r) for r in replies]
        length = max((len(r) for r in ids), default=0) + 1
        total, count = np.zeros(n), np.zeros(n, dtype=np.int64)
        probabilities = getattr(self.model, "output_kind", "logits") == "probabilities"
        for lo in range(0, n, BATCH):
            chunk = ids[lo: lo + BATCH]
            reply_in = np.zeros((len(chunk), length), np.int32)
            target = np.zeros((len(chunk), length), np.int32)
            for i, r in enumerate(chunk):
                reply_in[i, : len(r) + 1] = [BOS_ID, *r]
                target[i, : len(r) + 1] = [*r, EOS_ID]
            ctx = None if contexts is None else contexts[lo: lo + BATCH]
            prompt = self.encode_prompts(prompts[lo: lo + BATCH], ctx)
            feed = getattr(self.model, "inputs", None)
            x = feed(prompt, reply_in) if feed else {"prompt": prompt, "reply_in": reply_in}
            out = np.asarray(self.model.training.predict_on_batch(x), dtype=np.float32)
            if probabilities:
                picked = np.log(np.maximum(np.take_along_axis(out, target[..., None], -1)[..., 0], 1e-30))
            else:
                m = out.max(-1, keepdims=True)
                lse = np.log(np.exp(out - m).sum(-1)) + m[..., 0]
                picked = np.take_along_axis(out, target[..., None], -1)[..., 0] - lse
            live = target != PAD_ID
            total[lo: lo + BATCH] = np.where(live, picked, 0.0).sum(1)
            count[lo: lo + BATCH] = live.sum(1)
        return total, count


class ReplyBigram:
    """p(reply) from the training replies alone: an interpolated bigram model over the vocabulary's ids
    (end token included), a cheap prior for the MI score."""

    name = "bigram"

    def __init__(self, vocab: Vocabulary, replies: Sequence[str], mix: float = 5.0):
        self.vocab, self.mix = vocab, mix
        uni: Counter = Counter()
        bi: Counter = Counter()
        for r in replies:
            seq = [BOS_ID, *vocab.ids(r), EOS_ID]
            uni.update(seq[1:])
            bi.update(itertools.pairwise(seq))
        v = len(vocab)
        self.unigram = np.ones(v)
        for t, c in uni.items():
            self.unigram[t] += c
        self.unigram /= self.unigram.sum()
        self.bigram = bi
        self.context = Counter()
        for (a, _), c in bi.items():
            self.context[a] += c

    def log_likelihood(self, prompts: Sequence[str], replies: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        total, count = np.zeros(len(replies)), np.zeros(len(replies), dtype=np.int64)
        for i, r in enumerate(replies):
            seq = [BOS_ID, *self.vocab.ids(r), EOS_ID]
            for a, b in itertools.pairwise(seq):
                p = (self.bigram.get((a, b), 0) + self.mix * self.unigram[b]) / (self.context.get(a, 0) + self.mix)
                total[i] += math.log(p)
            count[i] = len(seq) - 1
        return total, count


class HybridSystem:
    """The hybrid strategy (``bot.hybrid``) as an evaluated system: 1-in-10 recall by its ranker's score,
    replies as chat gives them (quoted or generated). It has no perplexity: a quoted reply has no probability."""

    def __init__(self, bot, *, quotes: bool = True, name: str = "hybrid"):
        self.bot, self.quotes, self.name = bot, quotes, name
        h = bot.hybrid
        self.description = (f"the person's own past replies ({len(h.index):,} indexed, encoder "
                            f"{h.encoder.info.name}) when one fits, else the best-ranked of the seq2seq model's "
                            f"samples; ranker learned on {h.ranker.tuned_on:,} tune pairs" if quotes else
                            "the seq2seq model's samples ranked by the hybrid ranker (--no-quotes)")
        self.quoted_share: float | None = None

    def ranker_scores(self, prompts: Sequence[str], replies: Sequence[str],
                      contexts: Sequence[list[str]] | None = None) -> np.ndarray:
        return self.bot.hybrid.scores(list(prompts), list(replies), contexts)

    def replies(self, prompts: list[str], strategy: str | None = None, *,
                contexts: Sequence[list[str]] | None = None, **options) -> list[str]:
        out = []
        for lo in range(0, len(prompts), 256):
            ctx = None if contexts is None else contexts[lo: lo + 256]
            out += self.bot.hybrid.replies(prompts[lo: lo + 256], ctx, quotes=self.quotes, **options)
        self.quoted_share = float(np.mean([q for _, q in out])) if out else None
        return [text for text, _ in out]
