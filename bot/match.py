"""The bot's reply matcher: how well a reply fits a message in its conversation, learned from the
person's own pairs.

The seq2seq model scores a reply by how likely it is to *write* it, which favours short, common
replies ("lol", "yeah") whatever was said. Ranking replies by fit is a different task, and on a few
thousand pairs the best-measured signal is word overlap (a dense dual encoder of two GRU towers
over-fitted: 1-in-10 recall 0.21 on the demo corpus, against 0.34 for plain TF-IDF overlap). So the
matcher is a TF-IDF cosine that learns:

    match(m, c, r) = cos(m, r) + β·cos(c, r)
    cos(a, b)      = Σ_ij w(a_i) w(b_j) k(a_i, b_j) / (‖a‖ ‖b‖)
    k(x, y)        = 1 if x and y are the same word, else γ·max(0, cos(e(x), e(y)))

- ``m`` is the message, ``r`` the reply and ``c`` the ``context_turns`` turns before the message:
  a reply often picks up the conversation's topic rather than the last message's words. β is
  learned (it starts at 1).
- ``w`` is a learned positive weight per word that starts at the word's idf in the training texts;
  ‖a‖ is the TF-IDF norm, Σ_ii' w(a_i) w(a_i') [a_i = a_i'].
- ``e`` is a learned word vector: the soft part, scaled by a learned γ, adds associations between
  different words ("pizza" / "hungry"). γ starts at 0.01: random vectors' cosines are noise, and at
  γ = 0.1 that noise cost 0.05 of recall before training.
- Words are hashed into ``buckets`` (a stable CRC-32 of the token), so every word counts, words the
  training never saw included: one that appears in both a message and a reply is strong evidence,
  and its weight starts at the highest idf.

Before training the score is TF-IDF cosine overlap (plus γ's small noise). It trains with in-batch negatives and a
symmetric cross-entropy (each message picks its reply among the batch's, and each reply its message),
stops early on the held-out pairs, and is saved beside the seq2seq weights as ``match.weights.h5``.
Written with ``keras.layers`` and ``keras.ops`` only; it trains with ``Model.fit`` on batches of one
shape (``MatchBatches``).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from ingest.text import tokenize

WEIGHTS = "match.weights.h5"
VERSION = 2  # 1: max-cosine over the seq2seq's vocabulary (not loaded any more)
SCALE = 20.0  # the inverse temperature of the in-batch softmax (scores lie in about [0, 1 + β])


@dataclass
class MatchConfig:
    dim: int = 32  # word vector size of the soft part
    buckets: int = 2 ** 15  # words are hashed into this many ids (id 0 is padding)
    context_turns: int = 3  # turns before the message it also reads (0: the message alone)
    message_len: int = 32  # words kept of a message, of a reply, and of the context (the last ones)
    context_len: int = 48
    version: int = VERSION


def token_id(token: str, buckets: int) -> int:
    return 1 + zlib.crc32(token.encode("utf-8", "surrogatepass")) % (buckets - 1)


def encode_texts(texts: Iterable[str], width: int, buckets: int) -> np.ndarray:
    """Hashed word ids of each text, keeping its last ``width`` words, padded with 0."""
    rows = [[token_id(t, buckets) for t in tokenize(str(text))][-width:] for text in texts]
    out = np.zeros((len(rows), width), np.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class Matcher(keras.Model):
    """``call({"prompt", "reply"[, "context"]})``: the (batch, batch) matrix of match scores times SCALE,
    every message against every reply of the batch (training); ``scores(prompts, replies, contexts)``:
    one score per (text) pair. See the module docstring for the score."""

    def __init__(self, config: MatchConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.words = layers.Embedding(config.buckets, config.dim, name="match_words")
        self.weight = layers.Embedding(config.buckets, 1, embeddings_initializer="zeros", name="match_weight")
        self.log_beta = self.add_weight(shape=(), initializer="zeros", name="context_weight") \
            if config.context_turns else None
        self.log_gamma = self.add_weight(shape=(), initializer=keras.initializers.Constant(math.log(0.01)),
                                         name="soft_weight")

    # --- encoding ---
    def encode(self, prompts: Sequence[str], replies: Sequence[str],
               contexts: Sequence[Sequence[str]] | None = None) -> dict:
        """The model's inputs for these texts: hashed ids, the context's last ``context_turns`` turns."""
        c = self.config
        x = {"prompt": encode_texts(prompts, c.message_len, c.buckets),
             "reply": encode_texts(replies, c.message_len, c.buckets)}
        if c.context_turns:
            turns = [list(t)[-c.context_turns:] if t is not None else [] for t in (contexts or [None] * len(prompts))]
            x["context"] = encode_texts([" ".join(map(str, t)) for t in turns], c.context_len, c.buckets)
        return x

    # --- the score ---
    def _parts(self, ids):
        mask = ops.cast(ops.not_equal(ids, 0), "float32")
        w = ops.exp(self.weight(ids)[..., 0]) * mask
        vec = self.words(ids)
        vec = vec / ops.sqrt(ops.sum(vec * vec, axis=-1, keepdims=True) + 1e-6)
        same = ops.cast(ops.equal(ids[:, :, None], ids[:, None, :]), "float32")
        norm = ops.sqrt(ops.sum(w[:, :, None] * same * w[:, None, :], axis=(1, 2)) + 1e-9)
        return ids, vec, w, norm

    def _kernel(self, same, cos):
        return same + ops.exp(self.log_gamma) * ops.relu(cos) * (1.0 - same)

    def _matrix(self, a, b):
        """cos(a_x, b_y) for every row x of a and y of b."""
        (ia, ea, wa, na), (ib, eb, wb, nb) = a, b
        same = ops.cast(ops.equal(ia[:, None, :, None], ib[None, :, None, :]), "float32")
        k = self._kernel(same, ops.einsum("aid,bjd->abij", ea, eb))
        num = ops.sum(ops.sum(k * wb[None, :, None, :], axis=-1) * wa[:, None, :], axis=-1)
        return num / (na[:, None] * nb[None, :])

    def _rows(self, a, b):
        """cos(a_n, b_n) row by row."""
        (ia, ea, wa, na), (ib, eb, wb, nb) = a, b
        same = ops.cast(ops.equal(ia[:, :, None], ib[:, None, :]), "float32")
        k = self._kernel(same, ops.einsum("nid,njd->nij", ea, eb))
        return ops.sum(ops.sum(k * wb[:, None, :], axis=-1) * wa, axis=-1) / (na * nb)

    def call(self, inputs):
        reply = self._parts(inputs["reply"])
        scores = self._matrix(self._parts(inputs["prompt"]), reply)
        if self.log_beta is not None and "context" in inputs:
            scores = scores + ops.exp(self.log_beta) * self._matrix(self._parts(inputs["context"]), reply)
        return scores * SCALE

    def pair_scores(self, x: dict):
        """One score per row: ``x["prompt"][n]`` (and ``x["context"][n]``) against ``x["reply"][n]`` (no SCALE)."""
        reply = self._parts(x["reply"])
        scores = self._rows(self._parts(x["prompt"]), reply)
        if self.log_beta is not None and "context" in x:
            scores = scores + ops.exp(self.log_beta) * self._rows(self._parts(x["context"]), reply)
        return scores

    def scores(self, prompts: Sequence[str], replies: Sequence[str],
               contexts: Sequence[Sequence[str]] | None = None, batch: int = 2048) -> np.ndarray:
        """The match score of each (prompt, reply), with the turns before each prompt when given."""
        if not len(prompts):
            return np.zeros(0)
        x = self.encode(prompts, replies, contexts)
        return np.concatenate([np.asarray(ops.convert_to_numpy(self.pair_scores(
            {k: v[i: i + batch] for k, v in x.items()}))) for i in range(0, len(prompts), batch)]).astype(np.float64)

    @property
    def context_weight(self) -> float:
        return 0.0 if self.log_beta is None else float(np.exp(ops.convert_to_numpy(self.log_beta)))


def symmetric_loss(y_true, scores):
    """In-batch cross-entropy both ways: each message picks its reply, and each reply its message."""
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    ce = keras.losses.sparse_categorical_crossentropy
    return (ce(labels, scores, from_logits=True) + ce(labels, ops.transpose(scores), from_logits=True)) / 2


class MatchBatches(keras.utils.PyDataset):
    """Shuffled batches of ``Matcher.encode`` arrays (one fixed width: the score ignores padding, and one
    shape means one compiled step on every backend); the target of a batch is 0..n-1 (row i's reply is
    column i). Whole batches only: a last small one would be another shape."""

    def __init__(self, x: dict, batch_size: int = 64, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.n = x, len(x["prompt"])
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        self._plan()

    def _plan(self) -> None:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        n = max(1, self.n // self.batch_size)
        self.batches = [order[i * self.batch_size: (i + 1) * self.batch_size] for i in range(n)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        idx = self.batches[i]
        return {k: v[idx] for k, v in self.x.items()}, np.arange(len(idx), dtype=np.int32)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._plan()


class _Budget(keras.callbacks.Callback):
    def __init__(self, seconds: float):
        super().__init__()
        self.deadline = time.monotonic() + seconds

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() > self.deadline:
            self.model.stop_training = True


def idf(texts: Iterable[str], buckets: int) -> np.ndarray:
    """Smoothed inverse document frequency of each word id over ``texts``: log((1 + N) / (1 + df)) + 1,
    so an id no text holds gets the highest, log(1 + N) + 1."""
    df = np.zeros(buckets)
    n = 0
    for text in texts:
        n += 1
        df[list({token_id(t, buckets) for t in tokenize(str(text))})] += 1
    return np.log((1.0 + n) / (1.0 + df)) + 1.0


def build_matcher(config: MatchConfig = MatchConfig(), training_texts: Iterable[str] | None = None) -> Matcher:
    """A matcher whose word weights start from the idf of ``training_texts`` (all 1 without)."""
    m = Matcher(config)
    one = np.ones((1, 1), np.int32)
    m({"prompt": one, "reply": one, **({"context": one} if config.context_turns else {})})  # build the weights
    if training_texts is not None:
        m.weight.set_weights([np.log(idf(training_texts, config.buckets)).astype(np.float32)[:, None]])
    return m


def train_matcher(matcher: Matcher, x: dict, *, seconds: float, epochs: int = 50, validation: dict | None = None,
                  batch_size: int = 64, seed: int = 0, learning_rate: float = 1e-3,
                  callbacks: list | None = None) -> dict:
    """Train on ``x`` (``Matcher.encode`` of the training pairs) for at most ``seconds`` (or ``epochs``),
    stopping early when the loss on ``validation`` stops improving and keeping the best weights;
    returns the history."""
    matcher.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=symmetric_loss)
    cbs = [_Budget(seconds), *(callbacks or [])]
    val = None
    if validation is not None and len(validation["prompt"]) >= 2 * 8:
        val = MatchBatches(validation, batch_size=batch_size, seed=seed + 1)
        cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True))
    history = matcher.fit(MatchBatches(x, batch_size=batch_size, seed=seed), epochs=epochs,
                          validation_data=val, callbacks=cbs, verbose=0)
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}
