"""ingest.text.fix_mojibake: Facebook's byte-per-escape mojibake, repaired whole or piece by piece."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.text import fix_mojibake, fix_mojibake_all


def broken(text: str) -> str:
    """``text`` as Facebook writes it: each UTF-8 byte as one U+0000..U+00FF character."""
    return text.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize("raw, fixed", [
    (broken("café"), "café"),  # the usual case: the whole text at once
    (broken("😠"), "😠"),  # a 4-byte emoji
    (broken("你好"), "你好"),  # CJK: 3-byte characters, one with a byte in U+0080..U+009F
    (broken("£5"), "£5"),  # "Â£5": the export wrote "£"
    ("Ã©", "é"),
    # clean text stays as it is
    ("", ""), ("plain ascii", "plain ascii"), ("café", "café"), ("£5", "£5"), ("😀", "😀"), ("São Paulo", "São Paulo"),
    ("ções à noite", "ções à noite"), ("Zoë 😀", "Zoë 😀"), ("日本", "日本"),
    # one text, broken pieces beside clean ones: each broken run repaired on its own
    (broken("J'ai adoré ") + "😍", "J'ai adoré 😍"),
    ("crème " + broken("brûlée"), "crème brûlée"),  # a real è, a broken û and é
    ("café " + broken("é"), "café é"),
    (broken("你好") + " ❤️", "你好 ❤️"),
    (broken("😂") + "😂", "😂😂"),  # a broken emoji against a real one
    ("é" + broken("😀"), "é😀"),  # a real é against a broken emoji: one run, repaired where it is UTF-8
    (broken("só £5 ") + "😱", "só £5 😱"),
    (broken("日本") + "日本", "日本日本"),
    ("naïve " + broken("Ça") + " 🙂", "naïve Ça 🙂"),
])
def test_fix_mojibake(raw, fixed):
    assert fix_mojibake(raw) == fixed


def test_latin1_text_that_is_no_utf8_is_left_alone():
    for text in ("é", "à bientôt", "Größe", "ñandú", "½ ¼ ¾", "°C", "Ã", "Ã é", "\x80", "ð\x9f\x98"):
        assert fix_mojibake(text) == text, text
        assert fix_mojibake(text + " 😀") == text + " 😀", text


def test_ill_formed_sequences_are_not_decoded():
    # overlong ("À¯" is C0 AF), a surrogate (ED A0 80), past U+10FFFF (F4 90 80 80): none is UTF-8
    for text in ("À¯", "í\xa0\x80", "ô\x90\x80\x80"):
        assert fix_mojibake(text + " 😀") == text + " 😀"


@given(st.lists(st.text(max_size=12), min_size=1, max_size=4), st.data())
def test_broken_pieces_beside_clean_ones_come_back(pieces, data):
    """Any text cut into pieces, some written broken, reads back whole when a clean piece holds a
    character above U+00FF (otherwise a clean run may itself look like UTF-8 bytes)."""
    marks = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    text = "".join(pieces)
    mixed = "".join(broken(p) if m else p + "😀" for p, m in zip(pieces, marks, strict=True))
    wanted = "".join(p if m else p + "😀" for p, m in zip(pieces, marks, strict=True))
    clean_latin1 = any(not m and any("\x80" <= c <= "\xff" for c in p) for p, m in zip(pieces, marks, strict=True))
    if not clean_latin1:
        assert fix_mojibake(mixed) == wanted, text


def test_fix_mojibake_all_mixes_whole_and_piecewise_texts():
    texts = [broken("olá"), "", broken("J'ai adoré ") + "😍", "café", broken("😂")]
    assert fix_mojibake_all(texts) == ["olá", "", "J'ai adoré 😍", "café", "😂"]
