"""The seq2seq model: a GRU encoder-decoder with attention, in Keras 3.

Written with ``keras.layers`` and ``keras.ops`` only, so it runs on the TensorFlow
backend by default and on JAX or PyTorch unchanged (``KERAS_BACKEND=jax``).

Three Keras models share one set of named layers:
- ``training``: (prompt ids, decoder input ids, speaker id) -> next-token logits, teacher forcing;
- ``encoder``: prompt ids -> (encoder states, attention keys, initial decoder state);
- ``step``: one decoding step, (token, state, encoder states, keys, prompt mask) -> (logits, state).
Decoding calls ``step`` through ``predict_on_batch``, which compiles once per shape and is
then reused for every reply.

Padding never changes what the model computes, whatever a batch is padded to: prompts are
padded on the right; the forward encoder reads the real tokens first, the backward encoder
reads each prompt reversed *within its own length*, and the final states are taken at the
last real token. That lets training pad each batch only as far as its longest pair
(bucketing, ``bot.data.LengthBuckets``) while replies are decoded from prompts padded to
``max_prompt_len``, without Keras masks (which halve GRU speed on CPU).

The empty prompt (all padding) is a prompt like any other: it is read as one padding token.
Every speaker has a learned vector, fed to the decoder with each token (Li et al. 2016, "A Persona-Based
Neural Conversation Model"): a base pretrained on a public corpus has one per corpus speaker; a person's
bot has one row, its own, which decoding always uses (``bot.base`` starts it from the corpus's mean).

Training empties a share of prompts (``prompt_dropout``), so the score of a reply after the
empty prompt estimates p(reply), the term that mutual-information ranking subtracts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import keras
import numpy as np
from keras import layers, ops


@dataclass
class ModelConfig:
    vocab_size: int  # words the model knows, special tokens included
    embed_dim: int = 128  # size of a word vector (must equal the custom embeddings' size when used)
    encoder_units: int = 192  # GRU units in each direction of the bidirectional encoder
    decoder_units: int = 256  # GRU units of the decoder
    attention: bool = True  # Luong attention over the encoder states (the seeds had none)
    dropout: float = 0.2  # dropout before the output layer, training only
    max_prompt_len: int = 32  # prompt tokens kept (the last ones: what is being answered)
    max_reply_len: int = 24  # reply tokens generated at most, end token included
    prompt_dropout: float = 0.1  # share of training prompts emptied, so score(reply | "") estimates p(reply)
    speakers: int = 1  # rows of the speaker table: a base's corpus speakers, or 1 (the bot's own voice)
    speaker_dim: int = 0  # size of a speaker vector fed to the decoder with each token (0: none, formats <= 3)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})


class PromptLengths(layers.Layer):
    """Prompt ids -> (ids reversed within each prompt's length, index of the last real token, attention mask).

    A prompt of length 0 counts as length 1 (one padding token), so the empty prompt reads the same
    whatever it is padded to.
    """

    def call(self, prompt):
        steps = ops.shape(prompt)[1]
        lengths = ops.maximum(ops.sum(ops.cast(ops.not_equal(prompt, 0), "int32"), axis=1), 1)
        pos = ops.arange(steps, dtype="int32")[None, :]
        inside = pos < lengths[:, None]
        order = ops.where(inside, lengths[:, None] - 1 - pos, pos)
        return ops.take_along_axis(prompt, order, axis=1), order, lengths - 1, inside

    def compute_output_spec(self, prompt):
        ids = keras.KerasTensor(prompt.shape, dtype=prompt.dtype)
        return (ids, keras.KerasTensor(prompt.shape, dtype="int32"), keras.KerasTensor(prompt.shape[:1], dtype="int32"),
                keras.KerasTensor(prompt.shape, dtype="bool"))


class GatherSteps(layers.Layer):
    """``x[b, order[b, t]]`` (reorder time steps) or, with a vector ``index``, ``x[b, index[b]]``."""

    def call(self, x, index):
        if len(index.shape) == 1:
            return ops.take_along_axis(x, index[:, None, None], axis=1)[:, 0]
        return ops.take_along_axis(x, index[:, :, None], axis=1)


class FirstPositionMask(layers.Layer):
    """The prompt mask with position 0 always on: the empty prompt attends to its one padding token."""

    def call(self, mask):
        first = ops.arange(ops.shape(mask)[1])[None, :] == 0
        return ops.logical_or(ops.cast(mask, "bool"), first)


def _for_decoding(model: keras.Model) -> keras.Model:
    """A decoding model, compiled by XLA on the TensorFlow backend (JAX always compiles; torch.compile is
    left off). A reply is one encoder call and a step call per word, each a few small matrix products, so
    the cost is mostly per-call overhead: XLA fuses the graph's many small ops. Measured on the demo bot
    (2 CPU cores, one prompt): a step call 2.45 -> 1.81 ms, the encoder 6.8 -> 3.5 ms."""
    if keras.backend.backend() == "tensorflow":
        model.jit_compile = True
    return model


class Seq2Seq:
    """The named layers, and the three models built from them."""

    def __init__(self, config: ModelConfig):
        self.config = c = config
        self.embedding = layers.Embedding(c.vocab_size, c.embed_dim, name="embedding")
        self.speaker = layers.Embedding(c.speakers, c.speaker_dim, name="speaker_embedding") if c.speaker_dim else None
        self.prompt_lengths = PromptLengths(name="prompt_lengths")
        self.gather = GatherSteps(name="gather_steps")
        self.encoder_fw = layers.GRU(c.encoder_units, return_sequences=True, name="encoder_forward")
        self.encoder_bw = layers.GRU(c.encoder_units, return_sequences=True, name="encoder_backward")
        self.bridge = layers.Dense(c.decoder_units, activation="tanh", name="bridge")
        self.decoder = layers.GRU(c.decoder_units, return_sequences=True, return_state=True, name="decoder")
        self.attention_keys = layers.Dense(c.decoder_units, use_bias=False, name="attention_keys")
        self.first_position = FirstPositionMask(name="attention_mask")
        self.attention = layers.Attention(name="attention")
        # A *linear* projection to embed_dim before the (large) vocabulary layer: it halves that
        # layer's cost. Measured on the demo corpus (1 epoch, same split): linear 128 -> val loss 5.44,
        # tanh 128 -> 6.01 (the tanh bottleneck stalled learning), no projection -> 5.55 at twice the time.
        self.combine = layers.Dense(c.embed_dim, name="attention_combine")
        self.dropout = layers.Dropout(c.dropout, name="dropout")
        # float32 logits even under mixed precision: the softmax over thousands of words needs the range
        self.output = layers.Dense(c.vocab_size, dtype="float32", name="output")
        self.training = self._training_model()
        self._encoder_model: keras.Model | None = None
        self._step_model: keras.Model | None = None

    # building blocks -----------------------------------------------------------------------------
    def _encode(self, prompt):
        reversed_ids, order, last, _ = self.prompt_lengths(prompt)
        fw = self.encoder_fw(self.embedding(prompt))
        bw = self.gather(self.encoder_bw(self.embedding(reversed_ids)), order)  # back in prompt order
        enc_out = ops.concatenate([fw, bw], axis=-1)
        # the backward encoder's final state sits at position 0 once re-ordered
        final = ops.concatenate([self.gather(fw, last), bw[:, 0]], axis=-1)
        state = self.bridge(final)
        keys = self.attention_keys(enc_out)
        return enc_out, keys, state

    def _decoder_inputs(self, tokens, speaker):
        """Token vectors, each followed by the speaker's vector (``speaker``: one id per row)."""
        x = self.embedding(tokens)
        if self.speaker is None:
            return x
        voice = self.speaker(speaker)[:, None, :] * ops.ones_like(x[:, :, :1])
        return ops.concatenate([x, ops.cast(voice, x.dtype)], axis=-1)

    def _head(self, dec_out, enc_out, keys, prompt_mask):
        if self.config.attention:
            mask = self.first_position(prompt_mask)
            context = self.attention([dec_out, enc_out, keys], mask=[None, mask])
            dec_out = ops.concatenate([dec_out, context], axis=-1)
        return self.output(self.dropout(self.combine(dec_out)))

    # the three models ---------------------------------------------------------------------------
    def _training_model(self) -> keras.Model:
        prompt = keras.Input((None,), dtype="int32", name="prompt")
        reply_in = keras.Input((None,), dtype="int32", name="reply_in")
        inputs = {"prompt": prompt, "reply_in": reply_in}
        speaker = None
        if self.speaker is not None:
            speaker = inputs["speaker"] = keras.Input((), dtype="int32", name="speaker")
        enc_out, keys, state = self._encode(prompt)
        dec_out, _ = self.decoder(self._decoder_inputs(reply_in, speaker), initial_state=state)
        logits = self._head(dec_out, enc_out, keys, ops.not_equal(prompt, 0))
        return keras.Model(inputs, logits, name="seq2seq")

    @property
    def encoder_model(self) -> keras.Model:
        if self._encoder_model is None:
            prompt = keras.Input((None,), dtype="int32", name="prompt")
            self._encoder_model = _for_decoding(keras.Model(prompt, list(self._encode(prompt)), name="encoder"))
        return self._encoder_model

    @property
    def step_model(self) -> keras.Model:
        if self._step_model is None:
            c = self.config
            token = keras.Input((1,), dtype="int32", name="token")
            state = keras.Input((c.decoder_units,), name="state")
            enc_out = keras.Input((None, 2 * c.encoder_units), name="enc_out")
            keys = keras.Input((None, c.decoder_units), name="keys")
            prompt_mask = keras.Input((None,), dtype="bool", name="prompt_mask")
            own = ops.zeros_like(token)[:, 0]  # the bot's own voice: speaker 0
            dec_out, new_state = self.decoder(self._decoder_inputs(token, own), initial_state=state)
            logits = self._head(dec_out, enc_out, keys, prompt_mask)[:, 0, :]
            self._step_model = _for_decoding(keras.Model([token, state, enc_out, keys, prompt_mask],
                                                         [logits, new_state], name="step"))
        return self._step_model

    def inputs(self, prompt, reply_in) -> dict:
        """The training model's inputs for scoring replies in the bot's own voice (speaker 0)."""
        x = {"prompt": prompt, "reply_in": reply_in}
        if self.speaker is not None:
            x["speaker"] = np.zeros(len(prompt), np.int32)
        return x

    def compile(self, learning_rate: float = 1e-3) -> None:
        self.training.compile(
            optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        )

    def save_weights(self, path) -> None:
        self.training.save_weights(str(path))

    def load_weights(self, path) -> None:
        self.training.load_weights(str(path))
