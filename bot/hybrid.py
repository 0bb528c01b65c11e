"""The hybrid strategy: answer in the person's own words when one of their past replies fits, else generate.

For a message m (and the turns before it, c):

1. **Candidates.** The person's past replies nearest to m (and c) by the sentence encoder, and the replies
   they gave to the past messages nearest to m (``bot.index``).
2. **Ranking.** Each candidate r gets the features

   ======================  ==============================================================================
   ``adapted``             cos(A·(e(m) + β·e(c)), B·e(r)): the encoder's vectors through a linear adapter
                           (A, B start as the identity) learned on the person's own training pairs with
                           in-batch negatives, stopped early on a tenth of them: what *this* person answers
   ``message_reply``       cos(e(m), e(r)), the encoder's similarity of the message and the reply
   ``context_reply``       cos(e(c), e(r)), the same for the turns before the message (0 without);
                           e(c) is the normalised mean of the turns' vectors
   ``neighbours``          Σ_j w_j cos(e(r), e(r_j)) over the replies r_j the person gave to the past
                           messages nearest m (w_j: softmax of their similarity to m)
   ``match``               the bot's reply matcher (``bot.match``: learned TF-IDF overlap, reads c)
   ``commonness``          log(1 + how often the person sent exactly r): lets the ranker learn how much
                           a stock reply ("haha yeah") is worth
   ``length``              log(1 + words of r)
   ======================  ==============================================================================

   and the score is w·(f - μ)/σ, with w learned on the **tune pairs** (held-out conversations that the
   figures are never computed on) by a conditional logistic regression: each tune message's true reply
   against 9 drawn replies, the same task as 1-in-10 recall.
3. **Real or generated.** The real replies that score at least the ``threshold`` (chosen on the tune pairs:
   the score that ``QUOTE_QUANTILE`` of the person's true replies reach) fit; one of them is the answer, word
   for word, drawn with probability softmax(score / ``temperature``): the ranker is a conditional logit, so
   softmax(score) is its own probability that a candidate is the person's reply. Always taking the best
   one would favour what the ranker over-rates (short, generic replies: 12.1 words against the person's
   17.4 on the demo speaker; the draw gives 15.3). When none fits, the seq2seq model samples ``samples``
   replies, they are ranked with the same score, and the best of all candidates is the answer.

``quotes=False`` (``--no-quotes``) never answers with a past message: only the samples are ranked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

FEATURES = ("adapted", "message_reply", "context_reply", "neighbours", "match", "commonness", "length")
QUOTE_QUANTILE = 0.25  # the threshold: the 25th percentile of the true replies' scores (75% of them reach it)
NEAREST = 20  # candidates from each route
SAMPLES = 4  # seq2seq samples ranked when no real reply fits
TEMPERATURE = 1.0  # of the draw among the real replies that fit: 1 follows the ranker's own probabilities
# weights of an untuned ranker (fewer than 10 distinct tune replies), on the scale of a fitted one's logits
# (cosines differ by tenths), so that the draw still favours the best-fitting replies
DEFAULT_WEIGHTS = {"adapted": 10.0, "context_reply": 5.0, "neighbours": 10.0, "match": 5.0}
CONTEXT_TURNS = 3  # turns before the message it reads
_WORD = re.compile(r"\w+")


@dataclass
class Ranker:
    """The learned linear score over ``FEATURES`` (standardised), and the quoting threshold."""

    weights: list[float] = field(default_factory=lambda: [DEFAULT_WEIGHTS.get(f, 0.0) for f in FEATURES])
    mean: list[float] = field(default_factory=lambda: [0.0] * len(FEATURES))
    std: list[float] = field(default_factory=lambda: [1.0] * len(FEATURES))
    threshold: float = -math.inf
    features: tuple[str, ...] = FEATURES
    tuned_on: int = 0  # tune pairs it was fitted on (0: default weights)

    def score(self, f: np.ndarray) -> np.ndarray:
        """``f`` (..., len(FEATURES)) -> (...)."""
        return ((f - np.asarray(self.mean)) / np.asarray(self.std)) @ np.asarray(self.weights)

    def to_json(self) -> dict:
        d = asdict(self)
        d["features"] = list(self.features)
        d["threshold"] = None if not math.isfinite(self.threshold) else self.threshold
        return d

    @classmethod
    def from_json(cls, d: dict) -> Ranker:
        if tuple(d.get("features", ())) != FEATURES:
            raise ValueError("ranker features differ")
        t = d.get("threshold")
        return cls(weights=[float(x) for x in d["weights"]], mean=[float(x) for x in d["mean"]],
                   std=[float(x) for x in d["std"]], threshold=-math.inf if t is None else float(t),
                   features=FEATURES, tuned_on=int(d.get("tuned_on", 0)))


def fit_ranker(features: np.ndarray, *, seed: int = 0, quantile: float = QUOTE_QUANTILE) -> Ranker:
    """Learn the weights from ``features`` (n queries, k candidates, F), column 0 the true reply: a
    conditional logit, fitted as a logistic regression on (true - other) differences (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    n, _, nf = features.shape
    flat = features.reshape(-1, nf)
    mean, std = flat.mean(0), flat.std(0)
    std = np.where(std > 1e-9, std, 1.0)
    z = (features - mean) / std
    diff = (z[:, :1, :] - z[:, 1:, :]).reshape(-1, nf)
    x = np.concatenate([diff, -diff])
    y = np.concatenate([np.ones(len(diff)), np.zeros(len(diff))])
    lr = LogisticRegression(fit_intercept=False, C=1.0, max_iter=1000, random_state=seed).fit(x, y)
    ranker = Ranker(weights=lr.coef_[0].tolist(), mean=mean.tolist(), std=std.tolist(), tuned_on=n)
    ranker.threshold = float(np.quantile(ranker.score(features[:, 0, :]), quantile))
    return ranker


# --- the adapter ---------------------------------------------------------------------------------------
@dataclass
class Adapter:
    """q = A·(m + β·c), r' = B·r, both normalised; numpy at reply time (one matrix product)."""

    a: np.ndarray  # (dim, dim)
    b: np.ndarray  # (dim, dim)
    beta: float

    def query(self, msg: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        return _unit((msg + self.beta * ctx) @ self.a)

    def reply(self, vectors: np.ndarray) -> np.ndarray:
        return _unit(np.asarray(vectors, np.float32) @ self.b)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"a": self.a.astype(np.float32), "b": self.b.astype(np.float32), "beta": np.float32(self.beta)}

    @classmethod
    def from_arrays(cls, d) -> Adapter:
        return cls(a=np.asarray(d["a"], np.float32), b=np.asarray(d["b"], np.float32), beta=float(d["beta"]))

    @classmethod
    def identity(cls, dim: int) -> Adapter:
        return cls(a=np.eye(dim, dtype=np.float32), b=np.eye(dim, dtype=np.float32), beta=0.5)


def train_adapter(msg: np.ndarray, ctx: np.ndarray, reply: np.ndarray, *, seed: int = 0, epochs: int = 10,
                  batch_size: int = 256, learning_rate: float = 3e-4, seconds: float | None = None) -> tuple[Adapter, dict]:
    """Learn the adapter on the training pairs' vectors: each message picks its reply among the batch's and
    each reply its message (in-batch negatives), keeping the weights of the best epoch on a held-out tenth
    (``keras.layers``/``keras.ops``; any backend)."""
    import time

    import keras
    from keras import layers, ops

    n, dim = msg.shape
    if n < 64:
        return Adapter.identity(dim), {"epochs": 0, "note": "too few pairs: the identity"}
    batch_size = min(batch_size, 2 ** int(math.log2(n * 0.9 / 4)))  # at least 4 whole batches an epoch
    keras.utils.set_random_seed(seed)

    class AdapterModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(dim, use_bias=False, kernel_initializer="identity", name="adapter_query")
            self.b = layers.Dense(dim, use_bias=False, kernel_initializer="identity", name="adapter_reply")
            self.beta = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.5), name="context")
            self.scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(math.log(20.0)),
                                         name="scale")

        def call(self, x):
            q, r = self.a(x["m"] + self.beta * x["c"]), self.b(x["r"])
            q = q / ops.sqrt(ops.sum(q * q, -1, keepdims=True) + 1e-9)
            r = r / ops.sqrt(ops.sum(r * r, -1, keepdims=True) + 1e-9)
            return ops.exp(self.scale) * ops.matmul(q, ops.transpose(r))

    def loss(_, scores):
        labels = ops.arange(ops.shape(scores)[0])
        ce = keras.losses.sparse_categorical_crossentropy
        return (ce(labels, scores, from_logits=True) + ce(labels, ops.transpose(scores), from_logits=True)) / 2

    model = AdapterModel()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    rng = np.random.default_rng(seed)
    held = rng.random(n) < 0.1
    data = {"m": msg.astype(np.float32), "c": ctx.astype(np.float32), "r": reply.astype(np.float32)}
    vi = np.flatnonzero(held)
    val = {k: v[vi] for k, v in data.items()}
    best, weights, history = math.inf, None, []
    t0 = time.monotonic()
    for epoch in range(epochs):
        ti = np.flatnonzero(~held)
        ti = ti[rng.permutation(len(ti))][: len(ti) // batch_size * batch_size]  # whole batches: one shape
        model.fit({k: v[ti] for k, v in data.items()}, np.zeros(len(ti)), batch_size=batch_size, epochs=1,
                  shuffle=False, verbose=0)
        score = float(model.evaluate(val, np.zeros(len(vi)), batch_size=batch_size, verbose=0))
        history.append(score)
        if score < best:
            best, weights = score, [w.copy() for w in model.get_weights()]
        elif epoch > 0:
            break
        if seconds is not None and time.monotonic() - t0 > seconds:
            break
    model.set_weights(weights)
    adapter = Adapter(a=np.asarray(ops.convert_to_numpy(model.a.kernel)), b=np.asarray(ops.convert_to_numpy(model.b.kernel)),
                      beta=float(ops.convert_to_numpy(model.beta)))
    return adapter, {"epochs": len(history), "val_loss": history, "seconds": round(time.monotonic() - t0, 1)}


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def context_vectors(vectors_of, contexts, n: int, dim: int) -> np.ndarray:
    """The normalised mean of the vectors of each row's last ``CONTEXT_TURNS`` turns (zeros without);
    ``vectors_of(texts)`` encodes (through a cache)."""
    rows = [[t for t in list(contexts[i])[-CONTEXT_TURNS:] if str(t).strip()] if contexts is not None else []
            for i in range(n)]
    flat = [t for r in rows for t in r]
    vecs = vectors_of(flat) if flat else np.zeros((0, dim), np.float32)
    out, at = np.zeros((n, dim), np.float32), 0
    for i, r in enumerate(rows):
        if r:
            out[i] = vecs[at: at + len(r)].mean(0)
            at += len(r)
    return _unit(out) * (np.linalg.norm(out, axis=1, keepdims=True) > 0)


# --- the strategy --------------------------------------------------------------------------------------
class Hybrid:
    """The hybrid strategy over a loaded bot (its seq2seq model and matcher), its reply index and encoder."""

    def __init__(self, bot, index, encoder, ranker: Ranker, adapter: Adapter | None = None,
                 temperature: float = TEMPERATURE):
        from bot.index import EncodingCache

        self.bot, self.index, self.encoder, self.ranker = bot, index, encoder, ranker
        self.temperature = temperature  # of the draw among fitting replies (0: always the best)
        self.adapter = adapter or index.adapter or Adapter.identity(encoder.info.dim)
        self.cache = EncodingCache.from_index(index, encoder.info.fingerprint)  # texts encoded once per process
        self._count = {r: int(c) for r, c in zip(index.replies, index.counts, strict=True)}
        self._adapted = self.adapter.reply(index.float32()[0])  # the index's replies through the adapter

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache.encode(self.encoder, list(texts))

    # --- features ---
    def _queries(self, prompts: Sequence[str], contexts: Sequence[Sequence[str]] | None):
        """Encoder vectors of the messages and of their context turns (zeros where there are none)."""
        msg = self.vectors(prompts)
        return msg, context_vectors(self.vectors, contexts, len(prompts), msg.shape[1])

    def features(self, prompts: Sequence[str], contexts, candidates: Sequence[Sequence[str]],
                 cand_vectors: Sequence[np.ndarray] | None = None, msg=None, ctx=None) -> list[np.ndarray]:
        """Per prompt, the ``(len(candidates[i]), FEATURES)`` matrix."""
        if msg is None:
            msg, ctx = self._queries(prompts, contexts)
        if cand_vectors is None:
            flat = [c for cs in candidates for c in cs]
            vecs = self.vectors(flat) if flat else np.zeros((0, self.encoder.info.dim), np.float32)
            cand_vectors, at = [], 0
            for cs in candidates:
                cand_vectors.append(vecs[at: at + len(cs)])
                at += len(cs)
        width = max((len(c) for c in candidates), default=0)
        padded = np.zeros((len(prompts), width, msg.shape[1]), np.float32)
        for i, v in enumerate(cand_vectors):
            padded[i, : len(v)] = v
        neigh = self.index.neighbours(msg, padded)
        query = self.adapter.query(msg, ctx)
        flat_p = [prompts[i] for i, cs in enumerate(candidates) for _ in cs]
        flat_r = [c for cs in candidates for c in cs]
        flat_c = None if contexts is None else [list(contexts[i]) for i, cs in enumerate(candidates) for _ in cs]
        matcher = getattr(self.bot, "matcher", None)
        match = matcher.scores(flat_p, flat_r, flat_c) if matcher is not None and flat_r else np.zeros(len(flat_r))
        out, at = [], 0
        for i, cs in enumerate(candidates):
            v = np.asarray(cand_vectors[i], np.float32)
            f = np.zeros((len(cs), len(FEATURES)))
            f[:, 0] = self.adapter.reply(v) @ query[i]
            f[:, 1] = v @ msg[i]
            f[:, 2] = v @ ctx[i]
            f[:, 3] = neigh[i, : len(cs)]
            f[:, 4] = match[at: at + len(cs)]
            f[:, 5] = [math.log1p(self._count.get(c, 0)) for c in cs]
            f[:, 6] = [math.log1p(len(c.split())) for c in cs]
            at += len(cs)
            out.append(f)
        return out

    def scores(self, prompts: Sequence[str], replies: Sequence[str], contexts=None, batch: int = 2048) -> np.ndarray:
        """The ranker's score of each (prompt, reply) pair: what 1-in-10 recall ranks by."""
        out = []
        for lo in range(0, len(prompts), batch):
            ctx = None if contexts is None else contexts[lo: lo + batch]
            fs = self.features(prompts[lo: lo + batch], ctx, [[r] for r in replies[lo: lo + batch]])
            out.append(self.ranker.score(np.concatenate(fs)))
        return np.concatenate(out) if out else np.zeros(0)

    # --- replying ---
    def replies(self, prompts: Sequence[str], contexts=None, *, quotes: bool = True, samples: int = SAMPLES,
                seed: int | None = None, **decoding) -> list[tuple[str, bool]]:
        """One (reply, quoted) per prompt: a past reply of the person when one fits, else the best sample."""
        prompts = list(prompts)
        if not prompts:
            return []
        msg, ctx = self._queries(prompts, contexts)
        out: list[tuple[str, bool] | None] = [None] * len(prompts)
        best_real: list[tuple[str, float] | None] = [None] * len(prompts)
        if quotes and len(self.index):
            ids = self.index.nearest(self.adapter.query(msg, ctx), msg, NEAREST, reply_vectors=self._adapted)
            cands = [[self.index.replies[j] for j in row] for row in ids]
            vecs = [self.index.float32()[0][row] for row in ids]
            feats = self.features(prompts, contexts, cands, vecs, msg, ctx)
            rng = np.random.default_rng(seed)
            for i, f in enumerate(feats):
                s = _no_echo(self.ranker.score(f), cands[i], prompts[i], (contexts[i] or ()) if contexts is not None else ())
                j = int(np.argmax(s))
                best_real[i] = (cands[i][j], float(s[j]))
                fits = np.flatnonzero(s >= self.ranker.threshold)
                if len(fits):
                    out[i] = (cands[i][_draw(s[fits], fits, rng, self.temperature)], True)
        todo = [i for i, o in enumerate(out) if o is None]
        if todo:
            sub_ctx = None if contexts is None else [contexts[i] for i in todo]
            gen = self._samples([prompts[i] for i in todo], sub_ctx, samples, seed, decoding)
            feats = self.features([prompts[i] for i in todo], sub_ctx, gen, None, msg[todo], ctx[todo])
            for i, cs, f in zip(todo, gen, feats, strict=True):
                s = _no_echo(self.ranker.score(f), cs, prompts[i], (contexts[i] or ()) if contexts is not None else ())
                j = int(np.argmax(s))
                real = best_real[i]
                out[i] = (real[0], True) if real is not None and real[1] > s[j] else (cs[j], False)
        return [o for o in out if o is not None]

    def _samples(self, prompts, contexts, n: int, seed, decoding) -> list[list[str]]:
        from bot.decoding import sample

        rows = [p for p in prompts for _ in range(n)]
        ctx = None if contexts is None else [c for c in contexts for _ in range(n)]
        opts = {k: v for k, v in decoding.items() if k in ("temperature", "top_k", "top_p", "repetition_penalty",
                                                            "no_repeat_ngram", "max_len")}
        ids = sample(self.bot.model, self.bot.encode_prompts(rows, ctx), seed=seed, **opts)
        texts = [self.bot.vocab.decode(t) for t in ids]
        return [list(dict.fromkeys(t for t in texts[i * n: (i + 1) * n] if t.strip()) or [""]) for i in range(len(prompts))]


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _no_echo(scores: np.ndarray, candidates: Sequence[str], prompt: str, context: Sequence[str]) -> np.ndarray:
    """``scores`` with the candidates that say again what was just said made the lowest: the message itself
    (people rarely answer "where are you from?" with "where are you from?") and the turns before it, the bot's
    own last replies among them (a conversation that gets the same reply twice stops sounding like anyone).
    Compared on their words, case and punctuation aside. When every candidate is one, the scores are kept."""
    said = {_words(t) for t in (prompt, *context)} - {""}
    echo = np.array([_words(c) in said for c in candidates], dtype=bool)
    if not echo.any() or echo.all():
        return scores
    return np.where(echo, -np.inf, scores)


def _draw(scores: np.ndarray, ids: np.ndarray, rng: np.random.Generator, temperature: float) -> int:
    """One of ``ids``, drawn with probability softmax(score / temperature): the ranker is a conditional logit,
    so softmax(score) is its probability that a candidate is the person's reply (0: the best one)."""
    if temperature <= 0 or len(ids) == 1:
        return int(ids[int(np.argmax(scores))])
    z = (scores - scores.max()) / temperature
    p = np.exp(z) / np.exp(z).sum()
    return int(ids[rng.choice(len(ids), p=p)])
