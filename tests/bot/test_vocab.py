"""The subword vocabulary: the person's case and bursts kept, nothing unknown, long replies not taught to end."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.data import encode_pairs, fit_lengths
from bot.model import ModelConfig
from bot.vocab import BOS_ID, EOS_ID, MSG_ID, SPECIALS, UNK_ID, Vocabulary, WordVocabulary, load_vocabulary

TEXTS = ["Hey you!\nwhat's up", "nm, just chilling 😂", "LOL ok", "see you at 8?", "hey\nhey\nHEY", "ok cool"]


def test_case_and_bursts_survive_a_round_trip():
    v = Vocabulary.build(TEXTS, min_count=1)
    for text in [*TEXTS, "Zebra crossing at MIDNIGHT 🦓", "ça va? naïve café"]:
        assert v.decode(v.ids(text)) == text  # unseen words and characters too: spelled in pieces
    burst = v.ids("hey\nhey\nHEY")
    assert burst.count(MSG_ID) == 2 and v.messages(burst) == ["hey", "hey", "HEY"]
    assert v.ids("hey") != v.ids("Hey")  # case is the person's, not folded away


def test_nothing_is_unknown_and_specials_typed_by_a_person_are_plain_text():
    v = Vocabulary.build(TEXTS, min_count=1)
    ids = v.ids("x <s> y </s> z <msg> w 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")
    assert UNK_ID not in ids and not {BOS_ID, EOS_ID, MSG_ID} & set(ids)
    assert v.decode(ids) == "x <s> y </s> z <msg> w 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"


def test_a_reply_longer_than_the_cap_is_not_taught_to_end_there():
    v = Vocabulary.build(TEXTS, min_count=1)
    short, long = "ok cool", " ".join(["hey"] * 30)
    dec_in, target = v.encode_reply(short, 8)
    n = len(v.ids(short))
    assert dec_in[0] == BOS_ID and target[n] == EOS_ID
    dec_in, target = v.encode_reply(long, 8)
    assert EOS_ID not in target and (target != 0).all() and dec_in[0] == BOS_ID
    assert dec_in[1:].tolist() == target[:-1].tolist()  # teacher forcing: the input is the target shifted


def test_lengths_cover_the_share_asked_within_the_cap():
    v = Vocabulary.build(TEXTS, min_count=1)
    rng = np.random.default_rng(0)
    replies = [" ".join(["hey"] * int(k)) for k in rng.integers(1, 40, 200)]
    pairs = pd.DataFrame({"prompt": ["ok cool"] * 200, "reply": replies})
    sizes, covered = fit_lengths(v, pairs, share=0.95, multiple=8)
    counts = np.array([len(v.ids(r)) + 1 for r in replies])
    assert sizes["max_reply_len"] % 8 == 0 and covered["replies_covered"] >= 0.95
    assert np.mean(counts <= sizes["max_reply_len"] - 8) < 0.95  # the smallest multiple of 8 that covers it
    capped, covered = fit_lengths(v, pairs, share=0.95, caps=(128, 16))
    assert capped["max_reply_len"] == 16 and covered["replies_covered"] < 0.95


def test_pairs_carry_the_speaker_to_a_model_with_speaker_vectors():
    v = Vocabulary.build(TEXTS, min_count=1)
    pairs = pd.DataFrame({"prompt": ["hey", "ok"], "reply": ["LOL ok", "see you"], "speaker": [3, 1]})
    x, _ = encode_pairs(pairs, v, ModelConfig(vocab_size=len(v), speakers=4, speaker_dim=4))
    assert x["speaker"].tolist() == [3, 1]
    x, _ = encode_pairs(pairs.drop(columns="speaker"), v, ModelConfig(vocab_size=len(v), speaker_dim=4))
    assert x["speaker"].tolist() == [0, 0]  # a person's bot: its own voice
    x, _ = encode_pairs(pairs, v, ModelConfig(vocab_size=len(v)))
    assert "speaker" not in x


def test_vocabularies_round_trip_through_json_and_old_word_lists_still_load():
    v = Vocabulary.build(TEXTS, min_count=1)
    again = load_vocabulary(v.to_json())
    assert again.words == v.words and again.fingerprint == v.fingerprint and again.ids("Hey") == v.ids("Hey")
    assert again.words[: len(SPECIALS)] == list(SPECIALS)
    words = WordVocabulary.build(TEXTS, min_count=1)
    old = load_vocabulary({"words": words.words})  # vocab.json of a format-3 bot
    assert isinstance(old, WordVocabulary) and old.decode(old.ids("LOL ok")) == "lol ok"
