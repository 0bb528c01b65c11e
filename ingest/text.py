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


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens: ``"LOL, that's gr8 😂"`` -> ``['lol', ',', "that's", 'gr8', '😂']``."""
    return [t.replace("’", "'") for t in _TOKEN.findall(text.lower())]


def fix_mojibake(s: str) -> str:
    """Undo Facebook's JSON mojibake: UTF-8 bytes written as one ``\\u00XX`` escape each.

    ``'ð\\x9f\\x98\\xa0'`` -> ``'😠'``. Text that already holds characters above U+00FF
    is real Unicode and left alone, as is text that is not valid UTF-8 once re-encoded
    (a legitimate lone "é").
    """
    if not s or s.isascii():
        return s
    try:
        return s.encode("latin-1").decode("utf-8")
    except UnicodeError:  # a character above U+00FF (encode), or bytes that are not UTF-8 (decode)
        return s


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
