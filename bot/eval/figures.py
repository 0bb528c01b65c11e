"""The figures of ``talklike eval`` that compare replies: perplexity per word, 1-in-10 recall, and the
generation figures (distinct-n, length, BLEU, chrF, the most frequent reply's share)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from bot.errors import BotError
from ingest.text import tokenize

CANDIDATES = 10  # 1-in-10 recall: the true reply and 9 distractors


def words(text: str) -> int:
    return len(str(text).split())


def perplexity_per_word(logp: np.ndarray, replies: Sequence[str]) -> float:
    """``exp(-Σ log p / Σ whitespace words)``."""
    n_words = sum(words(r) for r in replies)
    return float(math.exp(-float(np.sum(logp)) / n_words)) if n_words else float("nan")


def draw_candidates(replies: Sequence[str], k: int = CANDIDATES, seed: int = 0) -> np.ndarray:
    """``(n, k)`` indices into ``replies``: column 0 is the pair itself, then ``k - 1`` other pairs whose
    reply text differs, drawn without replacement (seeded)."""
    texts = np.asarray([str(r).strip().casefold() for r in replies], dtype=object)
    rng = np.random.default_rng(seed)
    out = np.zeros((len(texts), k), dtype=np.int64)
    for i in range(len(texts)):
        pool = np.flatnonzero(texts != texts[i])
        if len(pool) < k - 1:
            raise BotError(f"1-in-{k} recall needs at least {k} different replies; the test pairs have "
                           f"{len(set(texts))}", hint="evaluate on more pairs (a longer --pairs file, or more data)")
        out[i, 0] = i
        out[i, 1:] = rng.choice(pool, k - 1, replace=False)
    return out


def recall_at_1(scores: np.ndarray) -> float:
    """Share of rows whose column 0 (the true reply) scores highest; a tie with t others counts 1/(1+t)."""
    s = np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=np.float64))
    true = s[:, :1]
    beaten = (s[:, 1:] > true).any(1)
    ties = (s[:, 1:] == true).sum(1)
    return float(np.where(beaten, 0.0, 1.0 / (1 + ties)).mean()) if len(s) else float("nan")


def distinct_n(replies: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the generated replies (the project's tokens)."""
    grams = [tuple(t[i: i + n]) for t in (tokenize(r) for r in replies) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def top_reply_share(replies: Sequence[str]) -> float:
    return Counter(r.strip().casefold() for r in replies).most_common(1)[0][1] / len(replies) if replies else 0.0


def generation_figures(generated: Sequence[str], references: Sequence[str]) -> dict:
    import sacrebleu

    return {
        "distinct_1": distinct_n(generated, 1),
        "distinct_2": distinct_n(generated, 2),
        "avg_words": float(np.mean([words(g) for g in generated])) if generated else 0.0,
        "bleu": float(sacrebleu.corpus_bleu(list(generated), [list(references)]).score),
        "chrf": float(sacrebleu.corpus_chrf(list(generated), [list(references)]).score),
        "top_reply_share": top_reply_share(generated),
    }

