"""The model's vocabularies: subword tokens that keep the person's case and bursts, or (the older
default, kept for comparison and for bots trained before) lower-cased words.

``Vocabulary`` (the default) is a byte-level BPE tokenizer from Hugging Face ``tokenizers``:
- case is kept, so a person who never capitalises is heard that way;
- a turn's messages (joined by a newline in ``ingest.pairs.turns``) are separated by the ``<msg>``
  token, so the model can send a burst of messages and decoding gives them back one by one;
- every byte has a token, so nothing is ``<unk>``: rare words, typos and emoji are spelled in pieces.

``WordVocabulary`` is the tokenizer talklike used until format 3: ``ingest.text.tokenize``, lower-cased,
newlines dropped, unknown words as ``<unk>``. Both share one interface: ``ids``, ``encode``,
``encode_all``, ``encode_reply``, ``decode``, ``messages``, ``to_json`` / ``load_vocabulary``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ingest.text import tokenize

PAD, UNK, BOS, EOS, SEP, MSG = "<pad>", "<unk>", "<s>", "</s>", "<sep>", "<msg>"
SPECIALS = (PAD, UNK, BOS, EOS, SEP, MSG)
PAD_ID, UNK_ID, BOS_ID, EOS_ID, SEP_ID, MSG_ID = range(len(SPECIALS))
WORD_SPECIALS = SPECIALS[:5]  # the word vocabulary has no <msg>: its tokeniser drops newlines
_WORD_START = "Ġ"  # byte-level BPE's mark of a token that begins a word (a space before it)


class _Encoding:
    """What both vocabularies build on ``words`` (the token of each id) and ``ids``: fixed-width rows for the
    model, their size and fingerprint."""

    words: list[str]

    def __len__(self) -> int:
        return len(self.words)

    @property
    def fingerprint(self) -> str:
        """Identifies the token ids: a model trained with one vocabulary is meaningless with another."""
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()[:16]

    def ids(self, text: str) -> list[int]:
        raise NotImplementedError

    def ids_all(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.ids(t) for t in texts]

    def encode(self, text: str, max_len: int) -> np.ndarray:
        """Token ids, keeping the *last* ``max_len`` tokens (the end of a message is what is answered)."""
        return _row(self.ids(text)[-max_len:], max_len)

    def encode_all(self, texts: Iterable[str], max_len: int) -> np.ndarray:
        """:meth:`encode` of each text, one row each: shape (number of texts, ``max_len``)."""
        rows = [_row(ids[-max_len:], max_len) for ids in self.ids_all(list(texts))]
        return np.stack(rows) if rows else np.zeros((0, max_len), np.int32)

    def encode_reply(self, text: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """(decoder input ``<s> t1 .. tn``, target ``t1 .. tn </s>``), padded to ``max_len``.

        A reply longer than ``max_len`` keeps its first ``max_len`` tokens and gets *no* end token:
        the model is not taught to stop where the reply was only cut."""
        return reply_rows(self.ids(text), max_len)


def _row(ids: list[int], max_len: int) -> np.ndarray:
    out = np.zeros(max_len, dtype=np.int32)
    out[: len(ids)] = ids
    return out


def reply_rows(ids: list[int], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    dec_in = np.zeros(max_len, dtype=np.int32)
    target = np.zeros(max_len, dtype=np.int32)
    if len(ids) < max_len:
        dec_in[: len(ids) + 1] = [BOS_ID, *ids]
        target[: len(ids) + 1] = [*ids, EOS_ID]
    else:  # cut: no end token where the person did not stop
        dec_in[:] = [BOS_ID, *ids[: max_len - 1]]
        target[:] = ids[:max_len]
    return dec_in, target


class Vocabulary(_Encoding):
    """Byte-level BPE over the person's own text, case kept, ``<msg>`` between a turn's messages."""

    kind = "bpe"

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        words = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError("a vocabulary starts with the special tokens")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.specials = SPECIALS

    @classmethod
    def build(cls, texts: Iterable[str], *, max_size: int = 8000, min_count: int = 2) -> Vocabulary:
        """A BPE of at most ``max_size`` tokens, merges seen at least ``min_count`` times, from ``texts``
        (each a turn: messages separated by newlines). Deterministic for the same texts."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=max(max_size, 300), min_frequency=max(min_count, 1),
                                      special_tokens=list(SPECIALS), show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        messages = (m for text in texts for m in _messages(str(text)))
        tok.train_from_iterator(messages, trainer=trainer)
        return cls(tok)

    def ids(self, text: str) -> list[int]:
        return self.ids_all([text])[0]

    def ids_all(self, texts: Sequence[str]) -> list[list[int]]:
        split = [_messages(str(t)) for t in texts]
        flat = [m for msgs in split for m in msgs]
        encoded = self.tokenizer.encode_batch(flat, add_special_tokens=False) if flat else []
        out, k = [], 0
        for msgs in split:
            ids: list[int] = []
            for j in range(len(msgs)):
                if j:
                    ids.append(MSG_ID)
                ids += encoded[k].ids
                k += 1
            out.append(ids)
        return out

    def messages(self, ids: Iterable[int]) -> list[str]:
        """The messages of a generated turn, up to the end token: ``<msg>`` separates them, empty ones dropped."""
        out, current = [], []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i == MSG_ID:
                out.append(current)
                current = []
            elif i >= len(SPECIALS) and i < len(self.words):
                current.append(i)
        out.append(current)
        texts = [self.tokenizer.decode(c, skip_special_tokens=True).replace("\u2060", "").strip() for c in out]
        return [t for t in texts if t]

    def decode(self, ids: Iterable[int]) -> str:
        """The generated turn as text, its messages on separate lines (as ``turns`` joins them)."""
        return "\n".join(self.messages(ids))

    def word_forms(self) -> list[str | None]:
        """For each token that starts a word, the lower-cased text it spells (what word vectors are keyed by:
        "Ġpizza" -> "pizza"), else None (special tokens, the inside and end of words, partial characters).
        A word start may also begin longer words ("Ġthat" in "that's"): its vector is the word's own."""
        out: list[str | None] = []
        for w in self.words:
            text = self.tokenizer.decoder.decode([w]).strip().lower() if w.startswith(_WORD_START) else None
            out.append(text if text and "\ufffd" not in text and tokenize(text) == [text] else None)
        return out

    def to_json(self) -> dict:
        return {"kind": self.kind, "tokenizer": self.tokenizer.to_str()}


_DEFUSE = {s: s[0] + "\u2060" + s[1:] for s in SPECIALS}  # a word joiner: the text can't spell a special token


def _messages(text: str) -> list[str]:
    """A turn's messages (it joins them with newlines), literal special tokens in them defused."""
    if "<" in text:
        for s, safe in _DEFUSE.items():
            text = text.replace(s, safe)
    msgs = [m.strip() for m in text.split("\n")]
    return [m for m in msgs if m] or [""]


class WordVocabulary(_Encoding):
    """Lower-cased words (``ingest.text.tokenize``), the most frequent ``max_size``; the others are ``<unk>``."""

    kind = "words"

    def __init__(self, words: list[str]):
        if tuple(words[: len(WORD_SPECIALS)]) != WORD_SPECIALS:
            raise ValueError("a vocabulary starts with the special tokens")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.specials = WORD_SPECIALS

    @classmethod
    def build(cls, texts: Iterable[str], *, max_size: int = 8000, min_count: int = 2) -> WordVocabulary:
        """The ``max_size`` most frequent tokens seen at least ``min_count`` times (ties: alphabetical)."""
        counts = Counter(tok for text in texts for tok in tokenize(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_count and w not in WORD_SPECIALS),
                        key=lambda w: (-counts[w], w))
        return cls(list(WORD_SPECIALS) + ranked[: max(0, max_size - len(WORD_SPECIALS))])

    def ids(self, text: str) -> list[int]:
        return [self.index.get(t, UNK_ID) for t in tokenize(text)]

    def messages(self, ids: Iterable[int]) -> list[str]:
        text = self.decode(ids)
        return [text] if text else []

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

    def word_forms(self) -> list[str | None]:
        return [None if w in WORD_SPECIALS else w for w in self.words]

    def to_json(self) -> dict:
        return {"kind": self.kind, "words": self.words}


VOCABULARIES = {"bpe": Vocabulary, "words": WordVocabulary}


def load_vocabulary(obj: dict) -> Vocabulary | WordVocabulary:
    """A vocabulary from its ``to_json``; a bare word list (bots before format 4) is a word vocabulary."""
    kind = obj.get("kind", "words")
    if kind == "words":
        return WordVocabulary(obj["words"])
    if kind == "bpe":
        from tokenizers import Tokenizer

        return Vocabulary(Tokenizer.from_str(obj["tokenizer"]))
    raise ValueError(f"unknown vocabulary kind {kind!r}")


def build_vocabulary(kind: str, texts: Iterable[str], *, max_size: int, min_count: int):
    return VOCABULARIES[kind].build(texts, max_size=max_size, min_count=min_count)


_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}…]|'s\b|n't\b)")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


def detokenize(words: list[str]) -> str:
    """Tokens back to readable text: ``['ok', ',', 'see', 'you', '!']`` -> ``"ok, see you!"``."""
    text = " ".join(words)
    text = _NO_SPACE_BEFORE.sub(r"\1", text)
    return _NO_SPACE_AFTER.sub(r"\1", text)
