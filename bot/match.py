"""The bot's reply matcher: how well a reply fits a message, learned from the person's own pairs.

The seq2seq model scores a reply by how likely it is to *write* it, which favours short, common
replies ("lol", "yeah") whatever was said. Ranking replies by fit is a different task. Trained
on a few thousand pairs, a dense dual encoder (two GRU towers) over-fits: on the demo corpus it
reaches 1-in-10 recall 0.21, while plain TF-IDF word overlap reaches 0.34. So the matcher is
built around word overlap and learns from there:

    match(m, r) = Σ_j w(r_j) · max_i cos(e(m_i), e(r_j)) / Σ_j w(r_j)   (each reply word's best match)
                + Σ_i w(m_i) · max_j cos(e(m_i), e(r_j)) / Σ_i w(m_i)   (each message word's best match)

``e`` is a word vector and ``w`` a learned positive weight per word, which plays the part of
TF-IDF's inverse document frequency. A word matches itself with cosine 1, so before any training
the score is a soft word overlap. Training pulls together the words of messages and their real
replies ("pizza" / "hungry") and pushes apart those of other replies in the batch, using in-batch
negatives and a symmetric cross-entropy. The word vectors start from the seq2seq model's
embedding, or from the custom word vectors when training used them.

Written with ``keras.layers`` and ``keras.ops`` only. It trains with ``Model.fit`` on batches of
pairs (``MatchBatches``). It is saved beside the seq2seq weights as ``match.weights.h5``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

WEIGHTS = "match.weights.h5"
SCALE = 20.0  # the inverse temperature of the in-batch softmax (scores lie in [-2, 2])
_NEG = 10.0  # subtracted from the similarity of padding positions, so a max never picks them


@dataclass
class MatchConfig:
    vocab_size: int
    dim: int = 64  # word vector size (the seq2seq's embed_dim when initialised from it)


def _unit(x):
    return x / ops.sqrt(ops.sum(x * x, axis=-1, keepdims=True) + 1e-6)


def _side(sim, mask_other, weights, axis_other):
    """Weighted mean over one side's words of their best cosine among the other side's words."""
    best = ops.max(sim + (mask_other - 1.0) * _NEG, axis=axis_other)
    return ops.sum(best * weights, axis=-1) / ops.maximum(ops.sum(weights, axis=-1), 1e-6)


class Matcher(keras.Model):
    """``call({"prompt", "reply"})``: the (batch, batch) matrix of match scores times SCALE, every
    message against every reply of the batch (training); ``score(prompts, replies)``: one score per pair."""

    def __init__(self, config: MatchConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.words = layers.Embedding(config.vocab_size, config.dim, name="match_words")
        self.weight = layers.Embedding(config.vocab_size, 1, embeddings_initializer="zeros", name="match_weight")

    def _parts(self, ids):
        mask = ops.cast(ops.not_equal(ids, 0), "float32")
        return _unit(self.words(ids)), ops.exp(self.weight(ids)[..., 0]) * mask, mask

    def call(self, inputs):
        ep, wp, mp = self._parts(inputs["prompt"])
        er, wr, mr = self._parts(inputs["reply"])
        sim = ops.einsum("aid,bjd->abij", ep, er)  # (prompts, replies, prompt words, reply words)
        reply_side = _side(sim, mp[:, None, :, None], wr[None, :, :], axis_other=2)
        prompt_side = _side(ops.swapaxes(sim, 2, 3), mr[None, :, :, None], wp[:, None, :], axis_other=2)
        return (reply_side + prompt_side) * SCALE

    def pair_scores(self, prompt, reply):
        """One score per row: ``prompt[n]`` against ``reply[n]`` (no SCALE)."""
        ep, wp, mp = self._parts(prompt)
        er, wr, mr = self._parts(reply)
        sim = ops.einsum("nid,njd->nij", ep, er)
        return _side(sim, mp[:, :, None], wr, axis_other=1) + _side(ops.swapaxes(sim, 1, 2), mr[:, :, None], wp,
                                                                   axis_other=1)

    def score(self, prompt: np.ndarray, reply: np.ndarray, batch: int = 2048) -> np.ndarray:
        if not len(prompt):
            return np.zeros(0)
        return np.concatenate([np.asarray(ops.convert_to_numpy(self.pair_scores(prompt[i: i + batch],
                                                                                 reply[i: i + batch])))
                               for i in range(0, len(prompt), batch)]).astype(np.float64)


def symmetric_loss(y_true, scores):
    """In-batch cross-entropy both ways: each message picks its reply, and each reply its message."""
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    ce = keras.losses.sparse_categorical_crossentropy
    return (ce(labels, scores, from_logits=True) + ce(labels, ops.transpose(scores), from_logits=True)) / 2


class MatchBatches(keras.utils.PyDataset):
    """Shuffled batches of (message ids, reply ids) of one fixed width (the score ignores padding, and
    one shape means one compiled step on every backend); the target of a batch is 0..n-1 (row i's
    reply is column i)."""

    def __init__(self, prompt: np.ndarray, reply: np.ndarray, batch_size: int = 64, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.prompt, self.reply, self.batch_size, self.seed, self.epoch = prompt, reply, batch_size, seed, 0
        self._plan()

    def _plan(self) -> None:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.prompt))
        n = max(1, len(order) // self.batch_size)  # whole batches only: a last small one would be another shape
        self.batches = [order[i * self.batch_size: (i + 1) * self.batch_size] for i in range(n)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        idx = self.batches[i]
        return {"prompt": self.prompt[idx], "reply": self.reply[idx]}, np.arange(len(idx), dtype=np.int32)

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


def idf(ids, vocab_size: int) -> np.ndarray:
    """Inverse document frequency of each word over the rows of ``ids`` (id arrays, padding ignored):
    log(N / (1 + df)), at least 0.05 (a word in every row still counts a little)."""
    df = np.zeros(vocab_size)
    for row in ids:
        df[np.unique(row[row != 0])] += 1
    return np.log(max(len(ids), 1) / (1.0 + df)).clip(min=0.05)


def build_matcher(vocab_size: int, dim: int, initial: np.ndarray | None = None,
                  word_weights: np.ndarray | None = None) -> Matcher:
    """A matcher whose word vectors start from ``initial`` (vocab_size × dim) and whose word weights
    from ``word_weights`` (vocab_size, positive: an idf), when given."""
    m = Matcher(MatchConfig(vocab_size=vocab_size, dim=dim))
    m({"prompt": np.ones((1, 1), np.int32), "reply": np.ones((1, 1), np.int32)})  # build the weights
    if initial is not None:
        m.words.set_weights([np.asarray(initial, dtype=np.float32)])
    if word_weights is not None:
        m.weight.set_weights([np.log(np.asarray(word_weights, dtype=np.float32))[:, None]])
    return m


def train_matcher(matcher: Matcher, prompt: np.ndarray, reply: np.ndarray, *, seconds: float, epochs: int = 50,
                  validation: tuple[np.ndarray, np.ndarray] | None = None, batch_size: int = 64, seed: int = 0,
                  learning_rate: float = 1e-3, callbacks: list | None = None) -> dict:
    """Train for at most ``seconds`` (or ``epochs``), stopping early when the validation loss stops
    improving (and keeping the best weights); returns the history."""
    matcher.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=symmetric_loss)
    cbs = [_Budget(seconds), *(callbacks or [])]
    val = None
    if validation is not None and len(validation[0]) >= 2 * 8:
        val = MatchBatches(*validation, batch_size=batch_size, seed=seed + 1)
        cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True))
    history = matcher.fit(MatchBatches(prompt, reply, batch_size=batch_size, seed=seed), epochs=epochs,
                          validation_data=val, callbacks=cbs, verbose=0)
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}
