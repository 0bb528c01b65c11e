"""The model's word vocabulary, built with the same tokeniser as everything else."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from ingest.text import tokenize

PAD, UNK, BOS, EOS, SEP = "<pad>", "<unk>", "<s>", "</s>", "<sep>"
SPECIALS = (PAD, UNK, BOS, EOS, SEP)
PAD_ID, UNK_ID, BOS_ID, EOS_ID, SEP_ID = range(len(SPECIALS))


class Vocabulary:
    def __init__(self, words: list[str]):
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError("a vocabulary starts with the special tokens")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Iterable[str], *, max_size: int = 8000, min_count: int = 2) -> Vocabulary:
        """The ``max_size`` most frequent tokens seen at least ``min_count`` times (ties: alphabetical)."""
        counts = Counter(tok for text in texts for tok in tokenize(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_count and w not in SPECIALS),
                        key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + ranked[: max(0, max_size - len(SPECIALS))])

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, text: str) -> list[int]:
        return [self.index.get(t, UNK_ID) for t in tokenize(text)]

    def encode(self, text: str, max_len: int) -> np.ndarray:
        """Token ids, keeping the *last* ``max_len`` tokens (the end of a message is what is answered)."""
        ids = self.ids(text)[-max_len:]
        out = np.zeros(max_len, dtype=np.int32)
        out[: len(ids)] = ids
        return out

    def encode_all(self, texts: Iterable[str], max_len: int) -> np.ndarray:
        """:meth:`encode` of each text, one row each: shape (number of texts, ``max_len``)."""
        rows = [self.encode(t, max_len) for t in texts]
        return np.stack(rows) if rows else np.zeros((0, max_len), np.int32)

    def encode_reply(self, text: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """(decoder input ``<s> w1 .. wn``, target ``w1 .. wn </s>``), padded to ``max_len``."""
        ids = self.ids(text)[: max_len - 1]
        dec_in = np.zeros(max_len, dtype=np.int32)
        target = np.zeros(max_len, dtype=np.int32)
        dec_in[: len(ids) + 1] = [BOS_ID, *ids]
        target[: len(ids) + 1] = [*ids, EOS_ID]
        return dec_in, target

    def decode(self, ids: Iterable[int]) -> str:
        words = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            words.append(self.words[i] if 0 <= i < len(self.words) else UNK)
        return detokenize(words)

    def to_json(self) -> dict:
        return {"words": self.words}

    @classmethod
    def from_json(cls, obj: dict) -> Vocabulary:
        return cls(obj["words"])


_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}…]|'s\b|n't\b)")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


def detokenize(words: list[str]) -> str:
    """Tokens back to readable text: ``['ok', ',', 'see', 'you', '!']`` -> ``"ok, see you!"``."""
    text = " ".join(words)
    text = _NO_SPACE_BEFORE.sub(r"\1", text)
    return _NO_SPACE_AFTER.sub(r"\1", text)
