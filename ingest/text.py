"""Text helpers shared by every stage, so that all of them tokenise the same way.

The tokeniser is the single definition of a "word" in talklike: the vocabulary of
the model, the vocabulary of the word vectors and the word counts of ``stats``
all come from :func:`tokenize`.
"""

from __future__ import annotations

import re

# A word (letters/digits, with inner apostrophes: "don't", "y'all"), a URL, or any other
# single non-space character (punctuation, each emoji on its own).
_TOKEN = re.compile(r"https?://\S+|\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


# Bidi and invisible marks: LRM/RLM, the Arabic letter mark, bidi embeddings/overrides, isolates.
MARKS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_MARKS_TABLE = dict.fromkeys(map(ord, MARKS))


def strip_marks(text: str) -> str:
    """``text`` without bidi and invisible marks (every other character, U+200D included, kept)."""
    return text if text.isascii() else text.translate(_MARKS_TABLE)


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens: ``"LOL, that's gr8 😂"`` -> ``['lol', ',', "that's", 'gr8', '😂']``."""
    return [t.replace("’", "'") for t in _TOKEN.findall(text.lower())]


# One UTF-8 encoded character, its bytes read as Latin-1 code points (a well-formed sequence: no
# overlong forms, no surrogates, nothing past U+10FFFF), and a run of them.
_UTF8_CHAR = ("[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|"
              "\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|"
              "\xf4[\x80-\x8f][\x80-\xbf]{2}")
_MOJIBAKE_RUN = re.compile(f"(?:{_UTF8_CHAR})+")


def _repair_run(m: re.Match) -> str:
    return m.group().encode("latin-1").decode("utf-8")


def fix_mojibake(s: str) -> str:
    """Undo Facebook's JSON mojibake: UTF-8 bytes written as one ``\\u00XX`` escape each.

    ``'ð\\x9f\\x98\\xa0'`` -> ``'😠'``. The whole text is repaired at once when it can be (the
    usual case, and the fast one). When it cannot, because it holds a character above U+00FF (a real
    emoji) or a Latin-1 character that is no UTF-8 byte sequence (a real "é"), each run of
    characters that is well-formed UTF-8 once re-encoded is repaired on its own and the rest is left
    as written: some exports mix both in one message (``'café ð\\x9f\\x98\\x80 😀'`` ->
    ``'café 😀 😀'``). A lone "é" is no UTF-8 and stays; "Ã©" (bytes C3 A9) is, and becomes "é".
    In these exports every non-ASCII byte is escaped, so a Latin-1 pair that happens to be valid
    UTF-8 ("Â£", "Ã©") was written by the export, not typed: the user's "£" comes back.
    """
    if not s or s.isascii():
        return s
    try:
        return s.encode("latin-1").decode("utf-8")
    except UnicodeError:  # a character above U+00FF (encode), or bytes that are not UTF-8 (decode)
        return _MOJIBAKE_RUN.sub(_repair_run, s)


def fix_mojibake_all(texts: list[str]) -> list[str]:
    """:func:`fix_mojibake` of each text, in one pass over all of them when possible.

    The texts are joined with NUL, which never occurs inside a UTF-8 multi-byte sequence, so
    the joined text re-encodes and decodes exactly when every text does, to the same result.
    When one of them cannot be repaired (or holds a NUL itself), each is repaired on its own.
    """
    if not texts:
        return []
    joined = "\x00".join(texts)
    if joined.isascii():
        return list(texts)
    if joined.count("\x00") == len(texts) - 1:
        try:
            return joined.encode("latin-1").decode("utf-8").split("\x00")
        except UnicodeError:
            pass
    return [fix_mojibake(t) for t in texts]
