"""Word vectors: streamed from the table with the model's tokeniser, saved privately, used by the model."""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.model import ModelConfig, Seq2Seq
from bot.vocab import SPECIALS, WORD_SPECIALS, Vocabulary, WordVocabulary
from embeddings.vectors import (
    EmbedOptions,
    NoVectorsError,
    UnknownWordError,
    corpus,
    initialise,
    load_vectors,
    similar,
    train_vectors,
)
from ingest.errors import EXIT_USAGE, EXIT_WORKSPACE, TalklikeError
from ingest.pipeline import ingest
from ingest.text import tokenize
from tests.conftest import ME, PATTERNS, T0, TINY_MODEL, write_fb_thread

pytest.importorskip("gensim")
runner = CliRunner()
TINY = {"dim": 12, "epochs": 2, "min_count": 1, "workers": 1}


def ingest_lines(tmp_path, lines: list[tuple[str, str]], name: str = "data"):
    """A workspace holding one Facebook thread with ``lines`` of (sender, text), a minute apart."""
    from ingest.workspace import Workspace

    friend = next(s for s, _ in lines if s != ME)
    write_fb_thread(tmp_path / f"export-{name}", "friend_1", friend,
                    [(s, T0 + i * 60_000, t) for i, (s, t) in enumerate(lines)], [ME, friend])
    ws = Workspace(tmp_path / name)
    ingest([tmp_path / f"export-{name}"], workspace=ws, me=[ME])
    return ws


TRICKY = [("Kim Lee", "LOL, that's gr8 😂"), (ME, "Don’t u dare!!"), ("Kim Lee", "see https://x.io/a?b=1 ok"),
          (ME, "lmaooo ok ok"), ("Kim Lee", "ça va? ünïcode"), (ME, "that's it lol")]


def test_corpus_streams_the_table_in_batches_with_the_model_tokeniser(tmp_path):
    ws = ingest_lines(tmp_path, TRICKY)
    everyone = corpus(ws, batch_rows=2)  # several record batches
    first, second = list(everyone), list(everyone)  # restartable: a second pass gives the same
    expected = [tokenize(t) for t in ws.messages()["text"]]
    assert first == second == expected
    assert everyone.messages == len(TRICKY) and everyone.words == sum(map(len, expected))
    mine = list(corpus(ws, only_mine=True, batch_rows=2))
    assert mine == [tokenize(t) for s, t in TRICKY if s == ME]


@pytest.mark.parametrize("algo", ["word2vec", "fasttext"])
def test_a_tiny_corpus_trains_saves_privately_and_reloads(tmp_path, convo_workspace, algo):
    r = train_vectors(convo_workspace, EmbedOptions(algo=algo, buckets=1000, **TINY))
    folder = convo_workspace.embeddings_dir
    assert r.folder == folder and r.messages == 72 and r.vocab_size > 10 and r.words_per_second > 0
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in folder.iterdir())
    assert not [p for p in convo_workspace.root.iterdir() if p.name.startswith(".embeddings")]  # no leftovers

    v = load_vectors(convo_workspace)
    assert v.algo == algo and v.dim == 12 and v.id == r.vectors_id and len(v.kv) == r.vocab_size
    assert v.settings["options"]["min_count"] == 1 and v.settings["tokenizer"] == "ingest.text.tokenize"
    assert v.settings["corpus"] == {"messages": 72, "words": r.words, "whose": "everyone's"}
    assert v.kv["pizza"].shape == (12,)
    # trained again, the folder is replaced whole
    r2 = train_vectors(convo_workspace, EmbedOptions(algo=algo, buckets=1000, **{**TINY, "dim": 8}))
    assert load_vectors(convo_workspace).dim == 8 and r2.vectors_id != r.vectors_id


def test_streaming_every_epoch_gives_the_same_vocabulary(convo_workspace):
    once = train_vectors(convo_workspace, EmbedOptions(**TINY))
    words_once = set(load_vectors(convo_workspace).kv.key_to_index)
    streamed = train_vectors(convo_workspace, EmbedOptions(tokenise_once=False, **TINY))
    assert set(load_vectors(convo_workspace).kv.key_to_index) == words_once
    assert (streamed.messages, streamed.words) == (once.messages, once.words)


def test_vector_vocabulary_and_model_vocabulary_agree(tmp_path):
    ws = ingest_lines(tmp_path, TRICKY * 3)
    train_vectors(ws, EmbedOptions(**TINY))
    keys = set(load_vectors(ws).kv.key_to_index)
    assert keys == {tok for text in ws.messages()["text"] for tok in tokenize(text)}
    assert {"lol", "that's", "don't", "😂", "https://x.io/a?b=1", "ça"} <= keys  # one tokeniser, one spelling
    model_words = WordVocabulary.build(ws.messages()["text"], min_count=1).words[len(WORD_SPECIALS):]
    assert set(model_words) == keys
    # the subword vocabulary: the tokens that start words, spelled as the vectors spell words
    forms = {w for w in Vocabulary.build(ws.messages()["text"], min_count=1).word_forms() if w}
    assert {"lol", "ça"} <= forms & keys and all(w == w.lower() for w in forms)


FOOD = ["i love {} so much", "{} is great for dinner", "more {} please", "we got {} today", "hot {} with cheese"]
PET = ["my {} barks at night", "walk the {} outside", "the {} sleeps all day", "feed your {} now", "a {} on the sofa"]
CRAFTED = EmbedOptions(dim=16, epochs=200, min_count=1, window=3, skip_gram=True, workers=1, buckets=5000)


def crafted(tmp_path):
    """Two foods and two pets, each in every sentence of its group's templates (and nowhere else):
    a food's nearest word is the other food, a pet's the other pet."""
    lines = []
    for _ in range(8):
        for food, pet in (("pizza", "cat"), ("burrito", "dog")):
            for f, p in zip(FOOD, PET, strict=True):
                lines += [("Kim Lee", f.format(food)), (ME, p.format(pet))]
    return ingest_lines(tmp_path, lines)


def test_similar_finds_the_obvious_neighbour(tmp_path):
    ws = crafted(tmp_path)
    train_vectors(ws, CRAFTED)
    r = similar(ws, "Pizza", top=3)
    assert r.word == "pizza" and r.how == "seen" and r.neighbours[0][0] == "burrito"
    assert similar(ws, "dog", top=1).neighbours[0][0] == "cat"


def test_fasttext_composes_unseen_spellings(tmp_path):
    ws = crafted(tmp_path)
    train_vectors(ws, replace(CRAFTED, algo="fasttext"))
    v = load_vectors(ws)
    assert "pizzaaa" not in v and v.can_compose("pizzaaa")
    r = similar(ws, "pizzaaa", top=3)
    assert r.how == "composed" and r.neighbours[0][0] == "pizza"
    res = runner.invoke(app, ["similar", "pizzaaa", "--top", "3", "--data", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert "composed from character n-grams" in res.output and "pizza" in res.output


def test_similar_errors_are_one_line(tmp_path, convo_workspace):
    with pytest.raises(NoVectorsError):
        similar(convo_workspace, "pizza")
    res = runner.invoke(app, ["similar", "pizza", "--data", str(convo_workspace.root)])
    assert res.exit_code == EXIT_WORKSPACE and "talklike embed" in res.output
    train_vectors(convo_workspace, EmbedOptions(**TINY))
    with pytest.raises(UnknownWordError) as exc:
        similar(convo_workspace, "zebra")
    assert "--algo fasttext" in exc.value.one_line()
    res = runner.invoke(app, ["similar", "two words", "--data", str(convo_workspace.root)])
    assert res.exit_code == EXIT_USAGE and "one word" in res.output and "Traceback" not in res.output


def test_embed_before_ingest_and_unknown_algorithm(tmp_path, convo_workspace):
    res = runner.invoke(app, ["embed", "--data", str(tmp_path / "empty")])
    assert res.exit_code == EXIT_WORKSPACE and "talklike ingest" in res.output
    res = runner.invoke(app, ["embed", "--algo", "glove", "--data", str(convo_workspace.root)])
    assert res.exit_code == 2 and "'glove'" in res.output and "Traceback" not in res.output
    assert "word2vec" in res.output and "fasttext" in res.output
    res = runner.invoke(app, ["embed", "--min-count", "1000", "--data", str(convo_workspace.root)])
    assert res.exit_code == EXIT_WORKSPACE and "--min-count" in res.output


def test_missing_gensim_gives_an_install_hint(convo_workspace, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim.models", None)  # import fails as if not installed
    with pytest.raises(TalklikeError, match="gensim") as exc:
        train_vectors(convo_workspace, EmbedOptions(**TINY))
    assert "talklike[embeddings]" in exc.value.one_line()


def test_embed_command_prints_its_summary(convo_workspace):
    res = runner.invoke(app, ["embed", "--dim", "8", "--epochs", "1", "--min-count", "1",
                              "--data", str(convo_workspace.root)])
    assert res.exit_code == 0, res.output
    assert "Word vectors" in res.output and "word2vec" in res.output and "words/s" in res.output
    assert load_vectors(convo_workspace).settings["options"]["workers"] == os.cpu_count()


@pytest.mark.parametrize("algo", ["word2vec", "fasttext"])
def test_the_embedding_layer_starts_equal_to_the_vectors(convo_workspace, algo):
    train_vectors(convo_workspace, EmbedOptions(algo=algo, buckets=1000, **{**TINY, "min_count": 2}))
    v = load_vectors(convo_workspace)
    words = [*SPECIALS, *sorted(v.kv.key_to_index), "pizzas", "zzzqx"]  # one close spelling, one unrelated
    model = Seq2Seq(ModelConfig(vocab_size=len(words), **{**TINY_MODEL, "embed_dim": v.dim}))
    fresh = np.array(model.embedding.get_weights()[0])
    used = initialise(model.embedding, words, v)
    after = model.embedding.get_weights()[0]
    for i in range(len(SPECIALS)):  # <pad>, <s>, ... are not words: always fresh
        np.testing.assert_array_equal(after[i], fresh[i])
    for i, w in enumerate(words[len(SPECIALS):], start=len(SPECIALS)):
        vec, how = v.vector(w)
        assert how == ("seen" if w in v.kv.key_to_index else "composed" if algo == "fasttext" else "missing")
        np.testing.assert_array_equal(after[i], vec if vec is not None else fresh[i], err_msg=w)
    seen = len(v.kv.key_to_index)
    composed = 2 if algo == "fasttext" else 0
    assert used == {**used, "vectors_id": v.id, "algo": algo, "frozen": False, "from_vectors": seen,
                    "composed": composed, "fresh": len(SPECIALS) + 2 - composed}


def test_initialise_refuses_a_dimension_mismatch(convo_workspace):
    train_vectors(convo_workspace, EmbedOptions(**TINY))
    model = Seq2Seq(ModelConfig(vocab_size=10, **TINY_MODEL))  # embed_dim 16, vectors 12
    with pytest.raises(TalklikeError) as exc:
        initialise(model.embedding, [f"w{i}" for i in range(10)], load_vectors(convo_workspace))
    assert "embed_dim" in exc.value.one_line()


@pytest.mark.slow
def test_train_with_frozen_embeddings_keeps_the_vectors_and_records_them(convo_workspace):
    from bot.store import bot_folder, load_bot
    from bot.train import TrainOptions, train

    train_vectors(convo_workspace, EmbedOptions(**TINY))
    v = load_vectors(convo_workspace)
    opts = TrainOptions(epochs=3, batch_size=8, validation_share=0.0, min_count=1, model=TINY_MODEL,
                        embeddings=True, freeze_embeddings=True)
    train(convo_workspace, "me", opts)
    bot = load_bot(bot_folder(convo_workspace, "me"))
    assert bot.model.config.embed_dim == v.dim == 12  # set from the vectors, not TINY_MODEL's 16
    weights = bot.model.embedding.get_weights()[0]
    forms = bot.vocab.word_forms()
    in_vectors = [i for i, w in enumerate(forms) if w and w in v]
    # the tokens that spell the person's words start from those words' vectors; pieces of words stay fresh
    whole = {w for _, r in PATTERNS for w in r.split()} | {w for p, _ in PATTERNS for w in p.split()}
    assert {forms[i] for i in in_vectors} >= whole
    for i in in_vectors:
        np.testing.assert_array_equal(weights[i], v.kv[forms[i]])
    used = bot.meta["embeddings"]
    assert used["vectors_id"] == v.id and used["frozen"] is True and used["from_vectors"] == len(in_vectors)
    assert bot.config["train"]["embeddings"] is True and bot.config["train"]["freeze_embeddings"] is True
    assert bot.reply("hello there") is not None


@pytest.mark.slow
def test_train_with_embeddings_without_freeze_trains_them(convo_workspace):
    from bot.store import bot_folder, load_bot
    from bot.train import TrainOptions, train

    train_vectors(convo_workspace, EmbedOptions(**TINY))
    v = load_vectors(convo_workspace)
    train(convo_workspace, "me", TrainOptions(epochs=3, batch_size=8, validation_share=0.0, min_count=1,
                                              learning_rate=2e-2, model=TINY_MODEL, embeddings=True))
    bot = load_bot(bot_folder(convo_workspace, "me"))
    i = bot.vocab.word_forms().index("pizza")
    assert not np.array_equal(bot.model.embedding.get_weights()[0][i], v.kv["pizza"])  # they moved
    assert bot.meta["embeddings"]["frozen"] is False
