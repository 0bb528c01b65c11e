"""bot.eval.voice: authorship, real-or-bot, style profiles and the blind sheet, on two synthetic people."""

from __future__ import annotations

import csv
import math
import random
import stat
from dataclasses import replace

import pytest

from bot.eval.voice import (
    FLOORS,
    real_or_bot,
    score_blind,
    style_distance,
    style_profile,
    train_authorship,
    write_blind_sheet,
)

CASUAL = "yeah nah gonna wanna dunno u ur tho idk omg pizza tonight later bro lemme see cool"
FORMAL = ("certainly indeed however meeting tomorrow regarding schedule kindly please "
          "confirm arrangement appreciate consider afternoon morning")
CASUAL_WORDS, FORMAL_WORDS = CASUAL.split(), FORMAL.split()
CASUAL_TAGS = ["haha", "lol", "hahaha", "lmao", ""]


def casual(n: int, seed: int) -> list[str]:
    """Lowercase, no punctuation, laughs a lot, one to three messages a turn."""
    rng = random.Random(seed)
    turns = []
    for _ in range(n):
        lines = [" ".join(rng.choices(CASUAL_WORDS, k=rng.randint(2, 6))) for _ in range(rng.randint(1, 3))]
        lines[-1] = f"{lines[-1]} {rng.choice(CASUAL_TAGS)}".strip()
        turns.append("\n".join(lines))
    return turns


def formal(n: int, seed: int) -> list[str]:
    """Capitalised sentences with full stops, one message a turn."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(FORMAL_WORDS, k=rng.randint(5, 10))).capitalize() + "." for _ in range(n)]


# --- authorship ------------------------------------------------------------------------------------

def test_authorship_separates_two_people():
    model = train_authorship(casual(80, 1), formal(80, 2), seed=0)
    assert (model.n_person, model.n_others) == (80, 80)
    assert model.accuracy > 0.9
    assert model.share(casual(40, 3)) > 0.9
    assert model.share(formal(40, 4)) < 0.1
    p = model.probabilities(["yeah gonna see u later haha", "Kindly confirm the meeting tomorrow."])
    assert p.shape == (2,) and p[0] > 0.5 > p[1]
    assert math.isnan(model.share([]))


def test_authorship_refuses_too_little_data():
    with pytest.raises(ValueError, match="at least 20") as err:
        train_authorship(casual(10, 1) + ["", "  "] * 20, formal(80, 2))
    assert "haha" not in str(err.value) and "lol" not in str(err.value)


def test_authorship_is_seeded():
    a = train_authorship(casual(60, 1), formal(60, 2), seed=3, max_per_class=40)
    b = train_authorship(casual(60, 1), formal(60, 2), seed=3, max_per_class=40)
    assert (a.n_person, a.n_others) == (40, 40)
    assert a.accuracy == b.accuracy
    assert (a.probabilities(casual(5, 9)) == b.probabilities(casual(5, 9))).all()


# --- real or bot -----------------------------------------------------------------------------------

def test_real_or_bot_same_style_is_near_chance():
    assert abs(real_or_bot(casual(80, 1), casual(80, 2)) - 0.5) <= 0.15


def test_real_or_bot_different_styles_are_told_apart():
    assert real_or_bot(casual(60, 1), formal(60, 2)) > 0.85


def test_real_or_bot_identical_and_blank_replies_give_one_half():
    texts = casual(30, 5)
    assert real_or_bot(texts, list(texts)) == pytest.approx(0.5, abs=0.05)
    assert real_or_bot([""] * 10, [""] * 10) == 0.5
    assert real_or_bot(["..."] * 10, ["!!"] * 10) == 1.0  # punctuation alone is a tell, and no crash
    assert 0.0 <= real_or_bot(["", "ok", "", "yes"], ["no", "", "", "sure"], folds=2) <= 1.0


def test_real_or_bot_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="one bot reply per real reply"):
        real_or_bot(["secret one", "secret two"], ["secret three"])
    with pytest.raises(ValueError, match="at least 2 prompts"):
        real_or_bot(["a"], ["b"])


# --- style -----------------------------------------------------------------------------------------

TURNS = [
    "Hello there.\nhow are you?",  # capitalised, 1 mark; lowercase, 1 mark and a question
    "hahaha 😂😂\nOK!",  # laughter and 2 emoji; capitalised, an exclamation
    "👍🏽 see you soon…",  # starts with an emoji (no capital to count), 1 emoji, "…" is 1 mark
]


def test_style_profile_figures_on_a_hand_made_example():
    p = style_profile(TURNS)
    assert (p.turns, p.messages) == (3, 5)
    assert p.messages_per_turn == pytest.approx(5 / 3)
    assert p.words_per_message == pytest.approx(12 / 5)
    assert p.capitalised_starts == pytest.approx(2 / 4)
    assert p.punctuation_per_message == pytest.approx(4 / 5)
    assert p.question_rate == pytest.approx(1 / 5)
    assert p.exclamation_rate == pytest.approx(1 / 5)
    assert p.emoji_per_message == pytest.approx(3 / 5)
    assert p.laughter_rate == pytest.approx(1 / 5)
    assert p.phrases == []  # no phrase in two turns


def test_style_profile_blank_lines_are_not_messages():
    p = style_profile(["hi\n\n  \nthere", ""])
    assert (p.turns, p.messages) == (2, 2)
    assert p.messages_per_turn == 1.0


@pytest.mark.parametrize("text", ["haha", "HAHAHA", "ahahah", "hehe", "lol", "LOOL", "lmaooo", "lmfao",
                                  "rofl", "jajaja", "kkkk", "xD", "XDD", "so funny 😂", "🤣"])
def test_laughter_spellings(text):
    assert style_profile([text]).laughter_rate == 1.0


@pytest.mark.parametrize("text", ["hash", "aha", "hello", "kk", "xbox", "lola", "the hat"])
def test_not_laughter(text):
    assert style_profile([text]).laughter_rate == 0.0


def test_style_profile_phrases_and_phrase_share():
    turns = ["To be fair i dunno", "to be fair it works", "no worries mate", "No worries",
             "of the day", "of the night", "no\nworries"]
    p = style_profile(turns)
    # "to be" and "of the" are only function words; "no\nworries" is two messages, not the phrase
    assert p.phrases == ["be fair", "no worries", "to be fair"]
    assert p.phrase_share == pytest.approx(4 / 7)
    assert style_profile(turns, reference_phrases=["no worries"]).phrase_share == pytest.approx(2 / 7)
    assert style_profile(turns, top_phrases=1).phrases == ["be fair"]
    assert style_profile(turns) == p  # deterministic


def test_style_profile_to_json_has_no_nan():
    data = style_profile([]).to_json()
    assert data["messages_per_turn"] is None and data["phrases"] == [] and data["turns"] == 0
    assert set(style_profile(TURNS).to_json()) >= set(FLOORS) | {"phrases"}


def test_style_distance():
    person = style_profile(casual(50, 1))
    assert style_distance(person, person) == 0.0
    assert style_distance(replace(person), person) == 0.0
    assert style_distance(style_profile(formal(50, 2), reference_phrases=person.phrases), person) > 0.3
    # one figure 50 % off, out of the nine figures
    longer = replace(person, words_per_message=person.words_per_message * 1.5)
    assert style_distance(longer, person) == pytest.approx(0.5 / len(FLOORS))
    # capped at 1 per figure
    wordy = replace(person, words_per_message=person.words_per_message * 10)
    assert style_distance(wordy, person) == pytest.approx(1 / len(FLOORS))
    # without a phrase share on one side, eight figures
    no_phrases = replace(longer, phrase_share=None)
    assert style_distance(no_phrases, person) == pytest.approx(0.5 / (len(FLOORS) - 1))


# --- the blind sheet -------------------------------------------------------------------------------

PROMPTS = ["dinner tonight?", "did you see it", "call me\nwhen you can", "=what", "ok"]
REAL = ["yeah haha\nwhere tho", "nah", "sure\nin 5", "-_-", "👍"]
BOT = ["Certainly.", "Indeed I did.", "I shall.", "+1", "Fine.\nSee you."]


def read_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_blind_sheet_files_rows_and_key(tmp_path):
    sheet, key = write_blind_sheet(tmp_path / "blind.csv", PROMPTS, REAL, BOT, seed=1, person="me")
    assert (sheet, key) == (tmp_path / "blind.csv", tmp_path / "blind.key.csv")
    for path in (sheet, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p not in (sheet, key)]  # no temporaries left
    rows, answers = read_csv(sheet), read_csv(key)
    assert list(rows[0]) == ["item", "prompt", "reply A", "reply B"]
    assert [r["item"] for r in rows] == [a["item"] for a in answers] == ["1", "2", "3", "4", "5"]
    guarded = {t: "'" + t if t[0] in "=+-" else t for t in PROMPTS + REAL + BOT}
    seen = set()
    for row, answer in zip(rows, answers, strict=True):
        pair = int(answer["pair"])
        seen.add(pair)
        assert answer["real"] in ("A", "B")
        fake = "B" if answer["real"] == "A" else "A"
        assert row["prompt"] == guarded[PROMPTS[pair]]
        assert row[f"reply {answer['real']}"] == guarded[REAL[pair]]
        assert row[f"reply {fake}"] == guarded[BOT[pair]]
    assert seen == set(range(len(PROMPTS)))
    # multi-line replies survive the round trip in one cell
    assert {"yeah haha\nwhere tho", "Fine.\nSee you."} <= {r[c] for r in rows for c in ("reply A", "reply B")}


def test_blind_sheet_is_seeded_and_shuffled(tmp_path):
    prompts, real, bot = ([f"{side}{i}" for i in range(40)] for side in "prb")
    a = write_blind_sheet(tmp_path / "a.csv", prompts, real, bot, seed=7)
    b = write_blind_sheet(tmp_path / "b.csv", prompts, real, bot, seed=7)
    c = write_blind_sheet(tmp_path / "c.csv", prompts, real, bot, seed=8)
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()
    rows = read_csv(a[0])
    assert [r["prompt"] for r in rows] != prompts  # shuffled
    assert 5 < sum(r["reply A"].startswith("r") for r in rows) < 35  # sides drawn per row


def test_blind_sheet_refusals(tmp_path):
    with pytest.raises(ValueError, match="one real and one bot reply") as err:
        write_blind_sheet(tmp_path / "s.csv", PROMPTS, REAL, BOT[:-1])
    assert "haha" not in str(err.value)
    with pytest.raises(ValueError, match=r"\.key\.csv"):
        write_blind_sheet(tmp_path / "s.key.csv", PROMPTS, REAL, BOT)
    with pytest.raises(ValueError, match="no prompts"):
        write_blind_sheet(tmp_path / "s.csv", [], [], [])
    assert not list(tmp_path.iterdir())


def test_score_blind(tmp_path):
    sheet, key = write_blind_sheet(tmp_path / "blind.csv", PROMPTS, REAL, BOT, seed=2)
    truth = {a["item"]: a["real"] for a in read_csv(key)}
    rows = read_csv(sheet)

    def filled(name, guess):
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, [*rows[0], "guess"])
            writer.writeheader()
            writer.writerows({**r, "guess": guess(r["item"])} for r in rows)
        return path

    assert score_blind(key, filled("right.csv", lambda i: truth[i].lower()))["share_correct"] == 1.0
    wrong = score_blind(key, filled("wrong.csv", lambda i: "B" if truth[i] == "A" else "A"))
    assert wrong == {"items": 5, "answered": 5, "correct": 0, "share_correct": 0.0}
    partial = score_blind(key, filled("partial.csv", lambda i: truth[i] if i in ("1", "2") else ""))
    assert (partial["answered"], partial["share_correct"]) == (2, 1.0)
    with pytest.raises(ValueError, match="guess"):
        score_blind(key, sheet)
