"""The seq2seq model: a GRU encoder-decoder with attention, in Keras 3.

Written with ``keras.layers`` and ``keras.ops`` only, so it runs on the TensorFlow
backend by default and on JAX or PyTorch unchanged (``KERAS_BACKEND=jax``).

Three Keras models share one set of named layers:
- ``training``: (prompt ids, decoder input ids) -> next-token logits, teacher forcing;
- ``encoder``: prompt ids -> (encoder states, attention keys, initial decoder state);
- ``step``: one decoding step, (token, state, encoder states, keys, prompt mask) -> (logits, state).
Decoding calls ``step`` through ``predict_on_batch``, which compiles once per shape and is
then reused for every reply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import keras
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

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})


class Seq2Seq:
    """The named layers, and the three models built from them."""

    def __init__(self, config: ModelConfig):
        self.config = c = config
        # No Keras masks on the recurrent layers: they halve GRU speed on CPU. Padding is on the right,
        # so it cannot change earlier decoder outputs; the loss ignores padded targets and the attention
        # gets an explicit prompt mask.
        self.embedding = layers.Embedding(c.vocab_size, c.embed_dim, name="embedding")
        self.encoder = layers.Bidirectional(
            layers.GRU(c.encoder_units, return_sequences=True, return_state=True), name="encoder")
        self.bridge = layers.Dense(c.decoder_units, activation="tanh", name="bridge")
        self.decoder = layers.GRU(c.decoder_units, return_sequences=True, return_state=True, name="decoder")
        self.attention_keys = layers.Dense(c.decoder_units, use_bias=False, name="attention_keys")
        self.attention = layers.Attention(name="attention")
        # Projecting to embed_dim before the (large) vocabulary layer halves its cost.
        self.combine = layers.Dense(c.embed_dim, activation="tanh", name="attention_combine")
        self.dropout = layers.Dropout(c.dropout, name="dropout")
        self.output = layers.Dense(c.vocab_size, name="output")
        self.training = self._training_model()
        self._encoder_model: keras.Model | None = None
        self._step_model: keras.Model | None = None

    # building blocks -----------------------------------------------------------------------------
    def _encode(self, prompt):
        enc_out, fw, bw = self.encoder(self.embedding(prompt))
        state = self.bridge(ops.concatenate([fw, bw], axis=-1))
        keys = self.attention_keys(enc_out)
        return enc_out, keys, state

    def _head(self, dec_out, enc_out, keys, prompt_mask):
        if self.config.attention:
            context = self.attention([dec_out, enc_out, keys], mask=[None, prompt_mask])
            dec_out = ops.concatenate([dec_out, context], axis=-1)
        return self.output(self.dropout(self.combine(dec_out)))

    # the three models ---------------------------------------------------------------------------
    def _training_model(self) -> keras.Model:
        prompt = keras.Input((None,), dtype="int32", name="prompt")
        reply_in = keras.Input((None,), dtype="int32", name="reply_in")
        enc_out, keys, state = self._encode(prompt)
        dec_out, _ = self.decoder(self.embedding(reply_in), initial_state=state)
        logits = self._head(dec_out, enc_out, keys, ops.not_equal(prompt, 0))
        return keras.Model({"prompt": prompt, "reply_in": reply_in}, logits, name="seq2seq")

    @property
    def encoder_model(self) -> keras.Model:
        if self._encoder_model is None:
            prompt = keras.Input((None,), dtype="int32", name="prompt")
            self._encoder_model = keras.Model(prompt, list(self._encode(prompt)), name="encoder")
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
            dec_out, new_state = self.decoder(self.embedding(token), initial_state=state)
            logits = self._head(dec_out, enc_out, keys, prompt_mask)[:, 0, :]
            self._step_model = keras.Model([token, state, enc_out, keys, prompt_mask], [logits, new_state],
                                           name="step")
        return self._step_model

    def compile(self, learning_rate: float = 1e-3) -> None:
        self.training.compile(
            optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        )

    def save_weights(self, path) -> None:
        self.training.save_weights(str(path))

    def load_weights(self, path) -> None:
        self.training.load_weights(str(path))
