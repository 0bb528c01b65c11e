"""The two systems a bot must beat: retrieval, and a model with the seed projects' architecture.

**Retrieval** (``Retrieval``): no learning beyond word statistics. Messages and replies are TF-IDF
vectors (the project's tokeniser, sublinear tf, smoothed idf fitted on the training prompts and
replies, L2-normalised).
- *Replying*: the training reply whose prompt is most similar (cosine) to the message; when no
  training prompt shares a word with the message, the most frequent training reply.
- *Scoring a candidate reply c for a message m* (for 1-in-10 recall), two scores:
  ``neighbours``: Σ_j cos(m, p_j)·cos(c, r_j) over the ``k`` training pairs (p_j, r_j) whose prompts
  are nearest to m: a reply fits if it resembles what was answered to similar messages;
  ``overlap``: cos(m, c), the word overlap of message and reply.
  ``neighbours + overlap`` is the score reported as the baseline's recall (named in the output); when
  the pairs carry the turns before each message, ``neighbours + overlap + context overlap`` (the
  context's cosine with the reply) is reported too, so the bot's context-reading matcher is compared
  with a baseline that reads the same turns.

**Reference** (``ReferenceModel``, built by ``train_reference``): the seeds' architecture, as faithful
as it can be while sharing the bot's vocabulary and pairs: Embedding -> one LSTM encoder -> its final
(h, c) initialise one LSTM decoder -> Dense + plain softmax; no attention; every prompt and reply
padded (at the end) to one fixed length, the padding read by the encoder as the seeds did. Unlike
most seeds, the loss ignores the padded targets, so its perplexity is comparable with the bot's.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import keras
import numpy as np
import pandas as pd
from keras import layers

from bot.vocab import PAD_ID, Vocabulary
from ingest.text import tokenize


# --- retrieval ------------------------------------------------------------------------------------
class Tfidf:
    """TF-IDF vectors over the project's tokens (scipy sparse, rows L2-normalised)."""

    def __init__(self, texts: list[str]):
        df: Counter = Counter()
        for t in texts:
            df.update(set(tokenize(t)))
        self.index = {w: i for i, w in enumerate(sorted(df))}
        n = len(texts)
        self.idf = np.array([math.log((1 + n) / (1 + df[w])) + 1 for w in sorted(df)])

    def transform(self, texts: list[str]):
        from scipy import sparse

        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            counts = Counter(self.index[w] for w in tokenize(text) if w in self.index)
            for c, k in counts.items():
                rows.append(r)
                cols.append(c)
                vals.append((1 + math.log(k)) * self.idf[c])
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.index)))
        norms = np.sqrt(np.asarray(m.multiply(m).sum(1))).ravel()
        norms[norms == 0] = 1.0
        return sparse.diags(1 / norms) @ m


class Retrieval:
    """Replies with the answer to the most similar training message (see the module docstring)."""

    name = "retrieval"
    recall_score = "neighbours + overlap"
    context_score = "neighbours + overlap + context overlap"

    def __init__(self, train_pairs: pd.DataFrame, *, neighbours: int = 20):
        self.prompts = train_pairs["prompt"].astype(str).tolist()
        self.answers = train_pairs["reply"].astype(str).tolist()
        self.k = neighbours
        self.tfidf = Tfidf(self.prompts + self.answers)
        self.P = self.tfidf.transform(self.prompts)
        self.R = self.tfidf.transform(self.answers)
        self.fallback = Counter(self.answers).most_common(1)[0][0] if self.answers else ""

    def replies(self, prompts: list[str], **_) -> list[str]:
        sims = (self.tfidf.transform(prompts) @ self.P.T).toarray()
        best = sims.argmax(1)
        return [self.answers[j] if sims[i, j] > 0 else self.fallback for i, j in enumerate(best)]

    def fit_scores(self, prompts: list[str], replies: list[str],
                   contexts: list[list[str]] | None = None) -> dict[str, np.ndarray]:
        """Per (message, candidate reply) row: the ``neighbours``, ``overlap`` and combined scores; with
        ``contexts`` (the turns before each message) also the combined score plus the context's overlap
        with the reply, the same TF-IDF cosine (``context_score``)."""
        M = self.tfidf.transform(prompts)
        C = self.tfidf.transform(replies)
        overlap = np.asarray(M.multiply(C).sum(1)).ravel()
        extra = {}
        if contexts is not None:
            X = self.tfidf.transform([" ".join(map(str, c)) for c in contexts])
            extra = {"context overlap": np.asarray(X.multiply(C).sum(1)).ravel()}
        sims = (M @ self.P.T).toarray()
        k = min(self.k, sims.shape[1])
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else \
            np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        weights = np.take_along_axis(sims, near, 1)
        reply_sims = np.zeros(near.shape)
        for lo in range(0, len(prompts), 512):  # dense (chunk x training pairs) blocks bound the memory
            block = (C[lo: lo + 512] @ self.R.T).toarray()
            reply_sims[lo: lo + 512] = np.take_along_axis(block, near[lo: lo + 512], 1)
        neighbours = (weights * reply_sims).sum(1)
        scores = {"neighbours": neighbours, "overlap": overlap, "neighbours + overlap": neighbours + overlap}
        if extra:
            scores[self.context_score] = neighbours + overlap + extra["context overlap"]
        return {**scores, **extra}


# --- the seeds' architecture ------------------------------------------------------------------------
@dataclass
class ReferenceConfig:
    vocab_size: int  # the bot's vocabulary, shared
    embed_dim: int = 128  # word vector size
    units: int = 256  # LSTM units of the encoder and of the decoder
    max_prompt_len: int = 32  # every prompt padded or cut to exactly this many tokens
    max_reply_len: int = 24  # every reply padded or cut to exactly this many tokens (end token included)


class ReferenceModel:
    """Embedding + LSTM encoder + LSTM decoder + softmax, no attention, fixed padding."""

    output_kind = "probabilities"  # the training model ends in a softmax, not logits

    def __init__(self, config: ReferenceConfig):
        self.config = c = config
        self.embedding = layers.Embedding(c.vocab_size, c.embed_dim, name="ref_embedding")
        self.encoder = layers.LSTM(c.units, return_state=True, name="ref_encoder")
        self.decoder = layers.LSTM(c.units, return_sequences=True, return_state=True, name="ref_decoder")
        self.output = layers.Dense(c.vocab_size, activation="softmax", name="ref_softmax")

        prompt = keras.Input((c.max_prompt_len,), dtype="int32", name="prompt")
        reply_in = keras.Input((None,), dtype="int32", name="reply_in")
        _, h, s = self.encoder(self.embedding(prompt))
        dec, _, _ = self.decoder(self.embedding(reply_in), initial_state=[h, s])
        self.training = keras.Model({"prompt": prompt, "reply_in": reply_in}, self.output(dec), name="reference")

        self.encoder_model = keras.Model(prompt, [h, s], name="reference_encoder")
        token = keras.Input((1,), dtype="int32", name="token")
        h_in = keras.Input((c.units,), name="h")
        c_in = keras.Input((c.units,), name="c")
        out, h2, c2 = self.decoder(self.embedding(token), initial_state=[h_in, c_in])
        self.step_model = keras.Model([token, h_in, c_in], [self.output(out)[:, 0, :], h2, c2],
                                      name="reference_step")
        self.history: dict = {}
        self.epoch_seconds: list[float] = []  # wall time at the end of each epoch, from the start of fit
        self.seconds = 0.0

    # the decoding protocol of bot.decoding: prompts are padded to the fixed length first
    def pad_prompts(self, prompt_ids: np.ndarray) -> np.ndarray:
        n = self.config.max_prompt_len
        out = np.zeros((len(prompt_ids), n), dtype=np.int32)
        for i, row in enumerate(np.asarray(prompt_ids)):
            ids = row[row != PAD_ID][-n:]
            out[i, : len(ids)] = ids
        return out

    def decode_start(self, prompt_ids: np.ndarray):
        h, c = self.encoder_model.predict_on_batch(self.pad_prompts(prompt_ids))
        return np.asarray(h), np.asarray(c)

    def decode_step(self, tokens: np.ndarray, ctx):
        probs, h, c = self.step_model.predict_on_batch([tokens[:, None].astype("int32"), *ctx])
        return np.log(np.maximum(np.asarray(probs, dtype=np.float64), 1e-30)), (np.asarray(h), np.asarray(c))


@dataclass
class ReferenceTraining:
    """What ``train_reference`` did: for the bench's throughput and time-to-perplexity figures."""

    seconds: float
    epochs: int
    target_tokens: int  # non-padding target tokens seen
    history: dict = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.target_tokens / self.seconds if self.seconds else 0.0


def train_reference(pairs: pd.DataFrame, vocab: Vocabulary, *, minutes: float | None = None, epochs: int = 30,
                    validation: pd.DataFrame | None = None, batch_size: int = 64, learning_rate: float = 2e-3,
                    config: ReferenceConfig | None = None, seed: int = 0, verbose: int = 0) -> ReferenceModel:
    """Train the seed-architecture model on ``pairs`` (columns prompt, reply) for at most ``epochs``
    epochs and ``minutes`` minutes. Training figures are on ``model.run`` (a ``ReferenceTraining``)."""
    from bot.callbacks import TimeBudget

    keras.utils.set_random_seed(seed)
    cfg = config or ReferenceConfig(vocab_size=len(vocab))
    model = ReferenceModel(cfg)
    model.training.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                           loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=PAD_ID))
    x, y = encode_fixed(pairs, vocab, cfg)
    val = encode_fixed(validation, vocab, cfg) if validation is not None and len(validation) else None
    clock = _EpochClock()
    start = time.monotonic()
    history = model.training.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=val, shuffle=True,
                                 callbacks=[TimeBudget(minutes), clock], verbose=verbose)
    seconds = time.monotonic() - start
    h = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    n_epochs = len(h.get("loss", []))
    model.run = ReferenceTraining(seconds=seconds, epochs=n_epochs, target_tokens=int((y != PAD_ID).sum()) * n_epochs,
                                  history=h, epoch_seconds=clock.times)
    return model


def encode_fixed(pairs: pd.DataFrame, vocab: Vocabulary, cfg: ReferenceConfig) -> tuple[dict, np.ndarray]:
    prompts = vocab.encode_all(pairs["prompt"], cfg.max_prompt_len)
    dec = [vocab.encode_reply(r, cfg.max_reply_len) for r in pairs["reply"]]
    return {"prompt": prompts, "reply_in": np.stack([d[0] for d in dec])}, np.stack([d[1] for d in dec])


class _EpochClock(keras.callbacks.Callback):
    """Records the wall time at the end of each epoch, from the start of training."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self.t0 = time.monotonic()

    def on_train_begin(self, logs=None):
        self.t0 = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.monotonic() - self.t0)
