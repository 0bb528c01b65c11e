"""The person's own past replies, indexed by a sentence encoder: what the hybrid strategy quotes.

Built at train time from the training pairs (never the held-out conversations) and saved in the bot
folder as ``index/``:

    replies.json     the distinct reply texts (the person's turns, word for word) and how often each was sent
    vectors.npy      (replies + prompts, dim) float16: the encoder's unit vectors of the replies, then of the
                     prompts they answered (a prompt's text is not kept, only its vector)
    pairs.npy        for each prompt vector, the reply it got (an index into replies.json)
    meta.json        the encoder (name, fingerprint), counts, VERSION

Two ways to find candidates for a message m: the replies nearest to m itself, and the replies given to
the prompts nearest to m (what the person answered to similar messages). Both are one matrix product.

**Privacy.** A retrieved reply is a message the person once sent to someone, word for word.
``exclude`` leaves whole threads out of the index (``train --quote-exclude NAME``: every thread with
that friend, or the group of that title); the README's Privacy section says what may be quoted.

**The cache.** Encoding is the slow part (about 20,000 short texts a minute on 2 cores). Vectors are
keyed by a hash of (encoder fingerprint, text), so a retrain re-encodes only texts it has not seen:
``EncodingCache.from_index`` reads them back from the previous bot's index.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.errors import IncompatibleBotError
from ingest.workspace import private_mkdir, read_json, write_json

FOLDER = "index"
VERSION = 1

Progress = Callable[[int, int], None]


def text_key(fingerprint: str, text: str) -> bytes:
    return hashlib.blake2b(f"{fingerprint}\0{text}".encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EncodingCache:
    """Encoder vectors by (encoder, text): texts already encoded are not encoded again."""

    def __init__(self, fingerprint: str):
        self.fingerprint = fingerprint
        self.vectors: dict[bytes, np.ndarray] = {}

    @classmethod
    def from_index(cls, index: ReplyIndex | None, fingerprint: str) -> EncodingCache:
        cache = cls(fingerprint)
        if index is not None and index.encoder.get("fingerprint") == fingerprint and index.keys is not None:
            cache.vectors.update(zip((bytes(k) for k in index.keys), index.vectors, strict=True))
        return cache

    def encode(self, encoder, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit vectors of ``texts`` (float32), encoding only the texts not seen before (once each)."""
        keys = [text_key(self.fingerprint, t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        if todo:
            first = dict(zip(keys, texts, strict=True))
            new = encoder.encode([first[k] for k in todo], progress=progress)
            self.vectors.update(zip(todo, new.astype(np.float16), strict=True))
        dim = encoder.info.dim
        if not keys:
            return np.zeros((0, dim), np.float32)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)


@dataclass
class ReplyIndex:
    replies: list[str]  # distinct reply texts, word for word
    counts: np.ndarray  # (n,) how often each was sent
    vectors: np.ndarray  # (n + m, dim) float16 unit vectors: the n replies, then the m prompts
    prompt_reply: np.ndarray  # (m,) the reply each prompt got
    encoder: dict  # {"name", "fingerprint", "dim"}
    keys: np.ndarray | None = None  # (n + m, 16) uint8: the cache keys of the vectors' texts
    excluded_threads: int = 0
    adapter: object | None = None  # bot.hybrid.Adapter learned on these vectors (adapter.npz), or None

    @property
    def reply_vectors(self) -> np.ndarray:
        return self.vectors[: len(self.replies)]

    @property
    def prompt_vectors(self) -> np.ndarray:
        return self.vectors[len(self.replies):]

    def float32(self) -> tuple[np.ndarray, np.ndarray]:
        """The reply and prompt vectors as float32, converted once (stored as float16 to halve the disk)."""
        if getattr(self, "_float32", None) is None or self._float32[0].shape[0] != len(self.replies):
            v = self.vectors.astype(np.float32)
            self._float32 = (v[: len(self.replies)], v[len(self.replies):])
        return self._float32

    def __len__(self) -> int:
        return len(self.replies)

    def nearest(self, queries: np.ndarray, messages: np.ndarray, k: int = 20,
                reply_vectors: np.ndarray | None = None) -> list[np.ndarray]:
        """Per query, the candidates: the ``k`` replies nearest the query vector (among ``reply_vectors``, the
        replies' vectors as the query sees them: by default their encoder vectors), then the replies to the
        ``k`` prompts nearest the message vector (distinct reply ids, in that order)."""
        rv32, pv = self.float32()
        rv = rv32 if reply_vectors is None else reply_vectors
        by_reply = _top(np.asarray(queries, np.float32) @ rv.T, k)
        by_prompt = self.prompt_reply[_top(np.asarray(messages, np.float32) @ pv.T, k)] if len(pv) else \
            np.zeros((len(queries), 0), np.int64)
        return [np.asarray(list(dict.fromkeys([*a.tolist(), *b.tolist()])), np.int64)
                for a, b in zip(by_reply, by_prompt, strict=True)]

    def neighbours(self, messages: np.ndarray, candidates: np.ndarray, k: int = 20) -> np.ndarray:
        """How much a candidate resembles what the person answered to messages like this one:
        Σ_j w_j cos(c, r_j) over the ``k`` prompts p_j nearest each message, w_j = softmax(20·cos(m, p_j)).
        ``messages`` (n, dim), ``candidates`` (n, c, dim) -> (n, c)."""
        rv, pv = self.float32()
        if not len(pv):
            return np.zeros(candidates.shape[:2])
        sims = np.asarray(messages, np.float32) @ pv.T
        top = _top(sims, k)
        w = np.take_along_axis(sims, top, 1) * 20.0
        w = np.exp(w - w.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        answers = rv[self.prompt_reply[top]]  # (n, k, dim)
        return np.einsum("ncd,nkd,nk->nc", np.asarray(candidates, np.float32), answers, w)

    # --- the folder ---
    def save(self, folder: Path) -> None:
        out = private_mkdir(folder / FOLDER)
        for name, arr in (("vectors.npy", self.vectors.astype(np.float16)), ("pairs.npy", self.prompt_reply),
                          ("keys.npy", self.keys if self.keys is not None else np.zeros((0, 16), np.uint8))):
            with open(out / name, "wb", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
                np.save(fh, arr, allow_pickle=False)
        if self.adapter is not None:
            with open(out / "adapter.npz", "wb", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
                np.savez(fh, **self.adapter.to_arrays())
        write_json(out / "replies.json", {"replies": self.replies, "counts": self.counts.tolist()})
        write_json(out / "meta.json", {"version": VERSION, "encoder": self.encoder, "replies": len(self.replies),
                                       "prompts": len(self.prompt_reply), "excluded_threads": self.excluded_threads})

    @classmethod
    def load(cls, folder: Path) -> ReplyIndex | None:
        """The bot folder's index, or None when the bot has none (trained before, or with --no-quotes)."""
        where = folder / FOLDER
        if not (where / "meta.json").exists():
            return None
        meta = read_json(where / "meta.json")
        if not isinstance(meta, dict) or meta.get("version") != VERSION:
            raise IncompatibleBotError(f"{where}: reply index of another version", hint="train the bot again")
        try:
            stored = read_json(where / "replies.json")
            keys = np.load(where / "keys.npy", allow_pickle=False)
            index = cls(replies=list(stored["replies"]), counts=np.asarray(stored["counts"], np.int64),
                        vectors=np.load(where / "vectors.npy", allow_pickle=False),
                        prompt_reply=np.load(where / "pairs.npy", allow_pickle=False), encoder=meta["encoder"],
                        keys=keys if len(keys) else None, excluded_threads=int(meta.get("excluded_threads", 0)))
            if (where / "adapter.npz").exists():
                from bot.hybrid import Adapter

                with np.load(where / "adapter.npz", allow_pickle=False) as arrays:
                    index.adapter = Adapter.from_arrays(arrays)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IncompatibleBotError(f"{where}: the reply index is damaged ({type(exc).__name__})",
                                       hint="train the bot again") from None
        if len(index.vectors) != len(index.replies) + len(index.prompt_reply):
            raise IncompatibleBotError(f"{where}: the reply index is damaged (vector count)", hint="train the bot again")
        return index


def _top(sims: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest of each row, largest first."""
    k = min(k, sims.shape[1])
    if k == 0:
        return np.zeros((len(sims), 0), np.int64)
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if sims.shape[1] > k else \
        np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
    return np.take_along_axis(part, np.argsort(-np.take_along_axis(sims, part, 1), axis=1, kind="stable"), 1)


def excluded_threads(messages: pd.DataFrame, names: Sequence[str]) -> set[str]:
    """The threads ``--quote-exclude NAME`` leaves out: every thread where a friend of that name (as
    ``--as`` resolves it) wrote, and every thread titled NAME."""
    from ingest.errors import UnknownPersonError
    from ingest.people import resolve_person

    out: set[str] = set()
    titles = messages["thread_title"].astype(str).str.casefold()
    for name in names:
        hit = messages.loc[titles == name.strip().casefold(), "thread_id"]
        try:
            friend = resolve_person(messages, name, option="--quote-exclude")
        except UnknownPersonError:
            if hit.empty:
                raise
            friend = None
        if friend is not None and friend != "me":
            hit = pd.concat([hit, messages.loc[messages["sender"] == friend, "thread_id"]])
        out.update(hit.astype(str))
    return out


def build_index(pairs: pd.DataFrame, encoder, *, cache: EncodingCache | None = None, exclude: set[str] = frozenset(),
                progress: Progress | None = None) -> ReplyIndex:
    """The index of ``pairs`` (the training pairs: prompt, reply, thread_id), leaving out the threads in
    ``exclude``; encodes every distinct reply and prompt once (fewer with a ``cache``)."""
    cache = cache or EncodingCache(encoder.info.fingerprint)
    kept = pairs
    if exclude and "thread_id" in pairs:
        kept = pairs[~pairs["thread_id"].astype(str).isin(exclude)]
    replies_all = kept["reply"].astype(str).tolist()
    counts = Counter(replies_all)
    replies = list(counts)
    pos = {r: i for i, r in enumerate(replies)}
    prompts = kept["prompt"].astype(str).tolist()
    texts = replies + prompts
    vectors = cache.encode(encoder, texts, progress=progress).astype(np.float16)
    keys = np.frombuffer(b"".join(text_key(cache.fingerprint, t) for t in texts), np.uint8).reshape(-1, 16) \
        if texts else np.zeros((0, 16), np.uint8)
    info = encoder.info
    return ReplyIndex(replies=replies, counts=np.asarray([counts[r] for r in replies], np.int64), vectors=vectors,
                      prompt_reply=np.asarray([pos[r] for r in replies_all], np.int64),
                      encoder={"name": info.name, "fingerprint": info.fingerprint, "dim": info.dim},
                      keys=keys, excluded_threads=len(set(pairs["thread_id"].astype(str)) & set(exclude))
                      if exclude and "thread_id" in pairs else 0)
