"""How well a bot talks like its person, next to honest baselines: the library behind ``talklike eval``.

The Python twin of ``talklike eval``::

    from bot.eval import evaluate, evaluate_person
    report = evaluate_person(Workspace("data"), "me", baselines=("retrieval", "reference"))
    report = evaluate(bot, test_pairs, train_pairs=train_pairs, tune_pairs=tune_pairs)  # any pairs
    print(report.to_json())

**Which pairs.** By default the held-out conversations of the bot's own training split
(``bot.train.split_pairs`` with the seed and share in the bot's ``config.json``, pairs rebuilt with its
pair options). They are split again by conversation: 30% *tune* pairs choose the mutual-information
weight λ, the other 70% are the *test* pairs every figure is computed on. With ``--pairs FILE.jsonl``
the file's pairs are the test pairs and the whole held-out set tunes λ.

**The figures**, one column per system:

- *perplexity per word*: ``exp(-Σ log p(reply | message) / Σ words)``, the log-likelihood of every
  whole reply (end token included, never cut at the model's reply length) from one teacher-forced
  forward pass of ``model.training`` per batch, divided by the number of whitespace-separated words
  of the replies, so models with different tokenisers compare. Words outside the vocabulary are
  scored as ``<unk>``, the same for every model sharing the vocabulary.
- *1-in-10 recall*: each test message, its true reply and 9 replies drawn (seeded) from other test
  pairs with a different text; the share of messages whose true reply scores highest. **Ties** share
  the credit: a true reply tied with t others (and beaten by none) counts 1/(1+t), so a constant
  score gets exactly the chance level 0.10. Model scores: ``loglik/token`` (log p(r|m) / tokens) and
  ``MI`` = log p(r|m) - λ·log p(r), with p(r) either the model given an empty prompt or a bigram
  model of the training replies, whichever (with λ from 0 to 1) ranks best on the tune pairs.
- *generated replies* (decoding strategy named in the output): distinct-1 and distinct-2 (distinct
  n-grams / all n-grams, over the project's tokens), average length in words next to the person's
  real average, corpus BLEU and chrF (sacrebleu), and the share of the most frequent reply.

**The scorer interface.** Any model that gives per-token log-likelihoods can be evaluated: wrap it
in ``ModelSystem`` (it needs ``training.predict_on_batch({"prompt", "reply_in"})`` returning logits
or, with ``output_kind = "probabilities"``, a softmax, plus the decoding protocol of
``bot.decoding``), or write any object with ``name``, ``replies(prompts, strategy, **options)``
and ``log_likelihood(prompts, replies) -> (summed log p, tokens)`` per pair.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from bot.baselines import Retrieval
from bot.decoding import DEFAULT_STRATEGY, STRATEGIES
from bot.errors import BotError
from bot.vocab import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from ingest.errors import TalklikeError
from ingest.text import tokenize

CANDIDATES = 10  # 1-in-10 recall: the true reply and 9 distractors
TUNE_SHARE = 0.3  # share of the held-out conversations used to choose λ (never reported on)
LAMBDAS = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_LAMBDA = 0.5  # used when there are too few tune pairs
MATCH_ALPHAS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0, 2560.0)  # weights of the match
# score tried with MI; the largest make MI a tie-breaker of the match score
BATCH = 128  # pairs per forward pass
BASELINES = ("retrieval", "reference")

Progress = Callable[[str], None]


# --- the systems ---------------------------------------------------------------------------------------
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
    def from_bot(cls, bot, name: str = "bot") -> ModelSystem:
        c = bot.model.config
        desc = f"{type(bot.model).__name__}: " + ", ".join(
            f"{k}={v}" for k, v in c.to_json().items() if k in ("embed_dim", "encoder_units", "decoder_units",
                                                               "attention"))
        turns = int(pair_options_from_config(getattr(bot, "config", {}).get("pairs", {})).context_turns)
        return cls(name, bot.model, bot.vocab, max_prompt_len=c.max_prompt_len, encode_prompts=bot.encode_prompts,
                   description=desc, matcher=getattr(bot, "matcher", None), context_turns=turns)

    def match_scores(self, prompts: Sequence[str], replies: Sequence[str],
                     contexts: Sequence[list[str]] | None = None) -> np.ndarray:
        """The matcher's score of each (prompt, reply), with the turns before each prompt when given."""
        return self.matcher.scores(prompts, replies, contexts)

    def encode_prompts(self, prompts: Sequence[str], contexts: Sequence[list[str]] | None = None) -> np.ndarray:
        """Encoder inputs; with ``contexts`` (turns before each prompt), the last ``context_turns`` of them
        as ``bot.train`` encodes them."""
        if not len(prompts):
            return np.zeros((0, self.max_prompt_len), np.int32)
        if contexts is not None and self.context_turns:
            from bot.train import encode_prompt

            return np.stack([encode_prompt(self.vocab, p, list(c)[-self.context_turns:], self.max_prompt_len)
                             for p, c in zip(prompts, contexts, strict=True)])
        return np.asarray(self._encode(list(prompts)), dtype=np.int32)

    def replies(self, prompts: list[str], strategy: str = DEFAULT_STRATEGY, *,
                contexts: Sequence[list[str]] | None = None, **options) -> list[str]:
        decode = _strategy(strategy)
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
            x = {"prompt": self.encode_prompts(prompts[lo: lo + BATCH], ctx), "reply_in": reply_in}
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


def _strategy(name: str):
    if name not in STRATEGIES:
        raise BotError(f"unknown decoding strategy {name!r}", hint=f"choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


# --- the figures ---------------------------------------------------------------------------------------
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


# --- the report ----------------------------------------------------------------------------------------
@dataclass
class SystemReport:
    name: str
    description: str = ""
    perplexity: float | None = None  # per reference word; None when the system gives no probabilities
    recall: dict[str, float] = field(default_factory=dict)  # score name -> 1-in-10 recall
    distinct_1: float | None = None
    distinct_2: float | None = None
    avg_words: float | None = None  # of the generated replies
    bleu: float | None = None
    chrf: float | None = None
    top_reply_share: float | None = None
    seconds: float = 0.0  # wall time of this system's evaluation (and training, for baselines)
    examples: list[str] = field(default_factory=list)  # its first generated replies (not in --json)


@dataclass
class EvalReport:
    pairs: int  # test pairs
    tune_pairs: int  # pairs λ was chosen on
    candidates: int
    real_avg_words: float  # of the person's real replies in the test pairs
    strategy: str
    decoding: dict
    mi: dict  # {"lambda": .., "prior": .., "tuned": bool}
    seed: int
    source: str  # "held-out conversations" or the --pairs file
    systems: dict[str, SystemReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = asdict(self)
        for s in out["systems"].values():
            s.pop("examples", None)
        return out

    def caption(self) -> str:
        """What was compared, on what, and how: printed under the table."""
        opts = ", ".join(f"{k}={v}" for k, v in self.decoding.items())
        lines = [f"pairs: {self.source} ({self.tune_pairs:,} more pairs chose λ)",
                 f"generated with {self.strategy}" + (f" ({opts})" if opts else "")
                 + f"; recall: the true reply among {self.candidates} (9 drawn with seed {self.seed})"]
        lines += [f"{s.name}: {s.description}" for s in self.systems.values() if s.description]
        lines += self.notes
        return "\n".join(lines)

    def rows(self) -> list[list]:
        """The table: one row per figure, one column per system (``None`` where it does not apply)."""
        systems = list(self.systems.values())
        scores = list(dict.fromkeys(k for s in systems for k in s.recall))
        rows: list[list] = [["perplexity per word (lower is better)", *[s.perplexity for s in systems]]]
        for k in scores:
            rows.append([f"1-in-{self.candidates} recall, {k} (chance {1 / self.candidates:.2f})",
                         *[s.recall.get(k) for s in systems]])
        for label, attr in [("distinct-1", "distinct_1"), ("distinct-2", "distinct_2"),
                            (f"average words (real: {self.real_avg_words:.1f})", "avg_words"),
                            ("BLEU", "bleu"), ("chrF", "chrf"), ("share of the most frequent reply", "top_reply_share"),
                            ("seconds", "seconds")]:
            rows.append([label, *[getattr(s, attr) for s in systems]])
        return rows


def parse_baselines(text: str) -> tuple[str, ...]:
    """``"retrieval,reference"``, ``"all"`` or ``"none"`` -> the baselines' names."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return BASELINES
    if names in ([], ["none"]):
        return ()
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise BotError(f"unknown baseline(s) {', '.join(unknown)}",
                       hint=f"choose from: {', '.join(BASELINES)}, all, none (comma-separated)")
    return tuple(dict.fromkeys(names))


# --- evaluation ----------------------------------------------------------------------------------------
def pair_contexts(pairs: pd.DataFrame) -> list[list[str]] | None:
    """The ``context`` turns of each pair as lists, or None when no pair carries any."""
    if "context" not in pairs:
        return None
    contexts = [list(c) if isinstance(c, list | tuple | np.ndarray) else [] for c in pairs["context"]]
    return contexts if any(contexts) else None


def tune_mi(system, prior_systems: dict, pairs: pd.DataFrame, seed: int = 0) -> dict:
    """Choose the p(reply) estimate and λ that rank the tune pairs' true replies best."""
    if len(pairs) < CANDIDATES or pairs["reply"].str.strip().str.casefold().nunique() < CANDIDATES:
        return {"lambda": DEFAULT_LAMBDA, "prior": "empty prompt", "tuned": False, "recall": None}
    prompts, replies = pairs["prompt"].tolist(), pairs["reply"].tolist()
    contexts = pair_contexts(pairs)
    cand = draw_candidates(replies, seed=seed + 1)
    rows = np.repeat(np.arange(len(prompts)), CANDIDATES)
    flat_p = [prompts[i] for i in rows]
    flat_r = [replies[j] for j in cand.reshape(-1)]
    flat_c = None if contexts is None else [contexts[i] for i in rows]
    cond, _ = system.log_likelihood(flat_p, flat_r, **({} if flat_c is None else {"contexts": flat_c}))
    cond = cond.reshape(cand.shape)
    match = system.match_scores(flat_p, flat_r, flat_c).reshape(cand.shape) if getattr(system, "matcher", None) \
        else None
    best, joint = None, None
    for prior_name, prior in prior_systems.items():
        p, _ = prior.log_likelihood([""] * len(replies), replies)
        p = p[cand]
        for lam in LAMBDAS:
            r = recall_at_1(cond - lam * p)
            if best is None or r > best["recall"] + 1e-12:
                best = {"lambda": lam, "prior": prior_name, "tuned": True, "recall": r}
            for alpha in MATCH_ALPHAS if match is not None else ():
                r = recall_at_1(cond - lam * p + alpha * match)
                if joint is None or r > joint["recall"] + 1e-12:
                    joint = {"lambda": lam, "alpha": alpha, "prior": prior_name, "recall": r}
    if joint is not None:
        best["match"] = joint  # MI plus the matcher's score: λ and α chosen together
    return best


def evaluate(bot, pairs: pd.DataFrame, *, train_pairs: pd.DataFrame | None = None,
             tune_pairs: pd.DataFrame | None = None, baselines: Sequence[str] = ("retrieval",),
             reference_minutes: float | None = None, reference_epochs: int = 30, strategy: str = DEFAULT_STRATEGY,
             decoding: dict | None = None, seed: int = 0, extra: Sequence = (), source: str = "test pairs",
             progress: Progress | None = None) -> EvalReport:
    """Evaluate ``bot`` (a loaded ``Bot``, or any ``Scorer``) on ``pairs`` (columns prompt, reply).

    ``train_pairs`` feed the baselines (retrieval index, reference model, bigram prior); ``tune_pairs``
    choose λ. ``baselines`` is any of "retrieval", "reference"; ``extra`` adds already built systems
    (e.g. a model the bench trained) as further columns.
    """
    say = progress or (lambda _m: None)
    decoding = dict(decoding or {})
    if strategy == "sample":
        decoding.setdefault("seed", seed)  # the same figures every run
    _strategy(strategy)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise BotError(f"unknown baseline(s) {sorted(unknown)}", hint="choose from: retrieval, reference")
    if pairs.empty:
        raise BotError("no pairs to evaluate on", hint="pass a --pairs file with {\"prompt\", \"reply\"} lines")
    if train_pairs is None and baselines:
        raise BotError("the baselines need the training pairs", hint="ingest the data the bot was trained on")
    contexts = pair_contexts(pairs)
    pairs = pairs[["prompt", "reply"]].astype(str).reset_index(drop=True)
    prompts, replies = pairs["prompt"].tolist(), pairs["reply"].tolist()
    distinct = len({r.strip().casefold() for r in replies})
    cand = draw_candidates(replies, seed=seed) if distinct >= CANDIDATES else None
    flat_p = [] if cand is None else [prompts[i] for i in np.repeat(np.arange(len(prompts)), CANDIDATES)]
    flat_r = [] if cand is None else [replies[j] for j in cand.reshape(-1)]
    ctx = {} if contexts is None else {"contexts": contexts}
    flat_ctx = {} if contexts is None or cand is None else \
        {"contexts": [contexts[i] for i in np.repeat(np.arange(len(prompts)), CANDIDATES)]}

    main = ModelSystem.from_bot(bot) if hasattr(bot, "vocab") and hasattr(bot, "model") else bot
    vocab = getattr(main, "vocab", None)
    priors: dict = {"empty prompt": main}
    if train_pairs is not None and vocab is not None:
        priors["bigram"] = ReplyBigram(vocab, train_pairs["reply"].astype(str).tolist())
    say("choosing λ on the tune pairs")
    mi = tune_mi(main, priors, tune_pairs if tune_pairs is not None else pairs.iloc[:0], seed)
    report = EvalReport(pairs=len(pairs), tune_pairs=0 if tune_pairs is None else len(tune_pairs),
                        candidates=CANDIDATES, real_avg_words=float(np.mean([words(r) for r in replies])),
                        strategy=strategy, decoding=decoding, mi=mi, seed=seed, source=source)
    if cand is None:
        report.notes.append(f"no 1-in-{CANDIDATES} recall: the test pairs have only {distinct} different replies")
    if not mi["tuned"]:
        report.notes.append(f"λ = {mi['lambda']} by default: fewer than {CANDIDATES} tune pairs")

    systems: list = [main]
    if "retrieval" in baselines:
        systems.append(Retrieval(train_pairs))
    if "reference" in baselines:
        if vocab is None:
            raise BotError("the reference model needs the bot's vocabulary", hint="evaluate a talklike bot")
        from bot.baselines import ReferenceConfig, train_reference

        minutes = reference_minutes
        if minutes is None:
            minutes = float(getattr(bot, "meta", {}).get("seconds", 300)) / 60
        say(f"training the reference model (seed architecture) for at most {minutes:.1f} minutes")
        c = main.model.config
        t0 = time.monotonic()
        ref = train_reference(train_pairs, vocab, minutes=minutes, epochs=reference_epochs, seed=seed,
                              config=ReferenceConfig(vocab_size=len(vocab), max_prompt_len=c.max_prompt_len,
                                                     max_reply_len=c.max_reply_len))
        sys_ref = ModelSystem("reference", ref, vocab, max_prompt_len=c.max_prompt_len,
                              description=f"seed architecture: LSTM {ref.config.units} units, no attention, "
                              f"{ref.run.epochs} epochs in {ref.run.seconds / 60:.1f} min")
        sys_ref.train_seconds = time.monotonic() - t0
        systems.append(sys_ref)
    systems += list(extra)

    for system in systems:
        say(f"evaluating {system.name}")
        kw = (ctx, flat_ctx) if isinstance(system, ModelSystem | Retrieval) else ({}, {})
        report.systems[system.name] = _evaluate_system(system, prompts, replies, flat_p, flat_r, cand, mi,
                                                       strategy, decoding, priors, *kw)
    return report


def _evaluate_system(system, prompts, replies, flat_p, flat_r, cand, mi, strategy, decoding, priors,
                     ctx=None, flat_ctx=None) -> SystemReport:
    ctx, flat_ctx = ctx or {}, flat_ctx or {}
    t0 = time.monotonic()
    rep = SystemReport(name=system.name, description=getattr(system, "description", ""))
    if hasattr(system, "fit_scores"):  # retrieval: similarity scores, no probabilities
        if cand is not None:
            for name, s in system.fit_scores(flat_p, flat_r, **flat_ctx).items():
                if name in (getattr(system, "recall_score", name), getattr(system, "context_score", None)):
                    turns = max(len(c) for c in flat_ctx["contexts"]) if flat_ctx else 0
                    rep.recall[f"{name} (TF-IDF{f', {turns} turns before' if 'context' in name else ''})"] = \
                        recall_at_1(s.reshape(cand.shape))
        generated = system.replies(prompts)
    else:
        logp_true, _ = system.log_likelihood(prompts, replies, **ctx)
        rep.perplexity = perplexity_per_word(logp_true, replies)
        generated = system.replies(prompts, strategy, **ctx, **decoding)
    if cand is not None and not hasattr(system, "fit_scores"):
        cond, n_tok = system.log_likelihood(flat_p, flat_r, **flat_ctx)
        cond, n_tok = cond.reshape(cand.shape), n_tok.reshape(cand.shape)
        rep.recall["loglik/token"] = recall_at_1(cond / np.maximum(n_tok, 1))
        prior_of: dict[str, np.ndarray] = {}  # log p(reply) of each candidate, once per prior (a forward pass each)

        def log_prior(name: str) -> np.ndarray:
            if name not in prior_of:
                prior = system if name == "empty prompt" else priors[name]
                prior_of[name] = prior.log_likelihood([""] * len(replies), replies)[0][cand]
            return prior_of[name]

        if mi.get("prior"):
            rep.recall[f"MI (λ={mi['lambda']:g}, p(reply): {mi['prior']})"] = \
                recall_at_1(cond - mi["lambda"] * log_prior(mi["prior"]))
        if getattr(system, "matcher", None) is not None:
            match = system.match_scores(flat_p, flat_r, flat_ctx.get("contexts")).reshape(cand.shape)
            turns = system.matcher.config.context_turns if flat_ctx else 0
            rep.recall[f"match (learned TF-IDF overlap{f', {turns} turns before' if turns else ''})"] = \
                recall_at_1(match)
            if mi.get("match"):
                j = mi["match"]
                rep.recall[f"MI + match (λ={j['lambda']:g}, α={j['alpha']:g}, p(reply): {j['prior']})"] = \
                    recall_at_1(cond - j["lambda"] * log_prior(j["prior"]) + j["alpha"] * match)
    rep.__dict__.update(generation_figures(generated, replies))
    rep.examples = generated[:5]
    rep.seconds = time.monotonic() - t0 + getattr(system, "train_seconds", 0.0)
    return rep


# --- from the workspace ---------------------------------------------------------------------------------
def pair_options_from_config(stored: dict):
    """``PairOptions`` back from a bot's ``config.json`` "pairs" (values may be stored as strings)."""
    from ingest.pairs import PairOptions

    kwargs = {}
    for f in fields(PairOptions):
        if f.name not in stored or f.name == "extra":
            continue
        v = stored[f.name]
        if isinstance(v, str):
            if f.name == "session_gap":
                v = _timedelta(v)
            elif f.name in ("since", "until"):
                v = None if v == "None" else datetime.fromisoformat(v)
            elif f.name in ("context_turns", "min_words", "max_words"):
                v = None if v == "None" else int(v)
            elif f.name == "with_people":
                v = tuple(ast.literal_eval(v))
        elif f.name == "session_gap" and isinstance(v, int | float):
            v = timedelta(seconds=v)
        elif f.name == "with_people":
            v = tuple(v)
        kwargs[f.name] = v
    return PairOptions(**kwargs)


def _timedelta(text: str) -> timedelta:
    """``str(timedelta)`` back: ``"3:00:00"``, ``"1 day, 2:30:00"``, ``"2 days, 0:00:00.5"``."""
    days = 0
    if "day" in text:
        d, text = text.split(",", 1)
        days = int(d.split()[0])
    h, m, s = text.strip().split(":")
    return timedelta(days=days, hours=int(h), minutes=int(m), seconds=float(s))


def is_tune(conversation: str, seed: int = 0) -> bool:
    h = hashlib.blake2b(f"tune:{seed}:{conversation}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < TUNE_SHARE


def read_pairs_file(path: Path) -> pd.DataFrame:
    """A JSONL file of ``{"prompt": ..., "reply": ...}`` objects, each with an optional ``"context"`` (the
    turns before the prompt, oldest first, as `talklike export --format jsonl` writes them); a bad line is
    named, its text is not."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BotError(f"{path}: cannot read it ({type(exc).__name__})",
                       hint="pass a UTF-8 JSONL file of {\"prompt\": ..., \"reply\": ...} objects") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("reply"), str):
            raise BotError(f"{path}:{no}: not a {{\"prompt\": string, \"reply\": string}} object",
                           hint="write one JSON object per line with string fields prompt and reply")
        context = obj.get("context", [])
        if not isinstance(context, list) or not all(isinstance(t, str) for t in context):
            raise BotError(f"{path}:{no}: \"context\" is not a list of strings",
                           hint="give the turns before the prompt as a JSON list of strings, oldest first, or leave it out")
        rows.append({"prompt": obj["prompt"], "reply": obj["reply"], "context": context,
                     "conversation": obj.get("conversation", str(no))})
    if not rows:
        raise BotError(f"{path}: no pairs in it", hint="write one {\"prompt\": ..., \"reply\": ...} object per line")
    return pd.DataFrame(rows)


def evaluate_person(workspace, person: str, *, pairs_file: Path | None = None,
                    baselines: Sequence[str] = ("retrieval",), strategy: str = DEFAULT_STRATEGY,
                    decoding: dict | None = None, seed: int = 0, reference_minutes: float | None = None,
                    progress: Progress | None = None) -> EvalReport:
    """Load the bot of ``person`` and evaluate it on its held-out conversations (or on ``pairs_file``)."""
    from bot.chat import load_person
    from bot.train import split_pairs
    from ingest.pairs import build_pairs
    from ingest.pipeline import ME

    bot = load_person(workspace, person)
    file_pairs = read_pairs_file(pairs_file) if pairs_file is not None else None
    train_cfg = bot.config.get("train", {})
    share, split_seed = float(train_cfg.get("validation_share", 0.1)), int(train_cfg.get("seed", 0))
    train_pairs = held = None
    try:
        messages = workspace.messages()
    except TalklikeError:
        if file_pairs is None:
            raise
        messages = None
    if messages is not None:
        target = bot.person if bot.person == ME else bot.meta.get("person", person)
        opts = pair_options_from_config(bot.config.get("pairs", {}))
        if bot.matcher is not None:  # the matcher reads its own turns before the message
            opts = replace(opts, context_turns=max(opts.context_turns, bot.matcher.config.context_turns))
        all_pairs = build_pairs(messages, target, opts)
        train_pairs, held = split_pairs(all_pairs, share, split_seed)
    if file_pairs is not None:
        test, tune, source = file_pairs, held, str(pairs_file)
    else:
        if held is None or held.empty:
            raise BotError("the bot was trained without held-out conversations",
                           hint="evaluate on a file: talklike eval --pairs FILE.jsonl")
        tuned = held["conversation"].map(lambda c: is_tune(c, seed)).to_numpy(dtype=bool)
        test, tune = held[~tuned], held[tuned]
        source = f"held-out conversations (validation share {share:g}, seed {split_seed})"
    if train_pairs is None and baselines:
        baselines = ()
    report = evaluate(bot, test, train_pairs=train_pairs, tune_pairs=tune, baselines=baselines, seed=seed,
                      reference_minutes=reference_minutes, strategy=strategy, decoding=decoding, source=source,
                      progress=progress)
    if messages is None:
        report.notes.append("no workspace messages: baselines and λ tuning skipped")
    return report
