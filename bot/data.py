"""The data of training: pairs split by conversation, encoded as ids, served in batches of similar lengths."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from bot.model import ModelConfig
from bot.vocab import SEP_ID, Vocabulary, reply_rows
from ingest.pairs import PairOptions, turns
from ingest.splits import is_held_out


# --- pairs ----------------------------------------------------------------------------------------
def is_validation(conversation: str, share: float, seed: int = 0) -> bool:
    """Deterministic split by conversation: the same conversation always lands on the same side
    (``ingest.splits.is_held_out``, which ``talklike export --split`` uses too)."""
    return is_held_out(conversation, share, seed)


def split_pairs(pairs: pd.DataFrame, share: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    held = pairs["conversation"].map(lambda c: is_validation(c, share, seed)).to_numpy(dtype=bool)
    if share > 0 and not held.any() and pairs["conversation"].nunique() > 1:
        # tiny data: hold out the last conversation rather than none
        held = (pairs["conversation"] == pairs["conversation"].iloc[-1]).to_numpy()
    return pairs[~held].reset_index(drop=True), pairs[held].reset_index(drop=True)


def all_pairs(messages: pd.DataFrame, opts: PairOptions = PairOptions()) -> pd.DataFrame:
    """Every (turn, next turn by someone else) of every session, whoever wrote them: the pre-training
    pairs of a friend's bot. Conversation keys match ``build_pairs``, so one split serves both."""
    t = turns(messages, opts)
    if t.empty:
        return pd.DataFrame(columns=["conversation", "prompt", "reply", "context"])
    session = t["session"].to_numpy()
    sender = t["sender_id"].to_numpy(dtype=object)
    keep = np.r_[False, (session[1:] == session[:-1]) & (sender[1:] != sender[:-1])]
    idx = np.flatnonzero(keep)
    text = t["text"].to_numpy(dtype=object)
    contexts = []
    for i in idx:
        j, ctx = i - 2, []
        while len(ctx) < opts.context_turns and j >= 0 and session[j] == session[i]:
            ctx.append(text[j])
            j -= 1
        contexts.append(ctx[::-1])
    pairs = pd.DataFrame({
        "conversation": t["conversation"].to_numpy(dtype=object)[idx].astype(str) + "#" + session[idx].astype(str),
        "prompt": text[idx - 1], "reply": text[idx], "context": contexts})
    words = np.minimum(pairs["prompt"].str.split().str.len(), pairs["reply"].str.split().str.len())
    return pairs[words >= opts.min_words].reset_index(drop=True)


def prompt_ids(vocab: Vocabulary, prompts, contexts=None) -> list[list[int]]:
    """The encoder's input ids, unpadded: each context turn followed by ``<sep>``, then the prompt. Texts are
    tokenized in one batch (the subword tokenizer's per-call cost dominates one text at a time)."""
    prompts = [str(p) for p in prompts]
    contexts = [list(c or []) for c in contexts] if contexts is not None else [[] for _ in prompts]
    ids = vocab.ids_all([t for c, p in zip(contexts, prompts, strict=True) for t in (*c, p)])
    out, k = [], 0
    for c in contexts:
        row: list[int] = []
        for _ in c:
            row += [*ids[k], SEP_ID]
            k += 1
        out.append(row + ids[k])
        k += 1
    return out


def encode_prompt(vocab: Vocabulary, prompt: str, context: list[str] | None, max_len: int) -> np.ndarray:
    """The encoder's input: the context turns then the prompt, each turn followed by ``<sep>``
    except the prompt, keeping the *last* ``max_len`` tokens, padded on the right."""
    return encode_prompts(vocab, [prompt], [context or []], len(context or []), max_len)[0]


def _rows(ids: list[list[int]], max_len: int) -> np.ndarray:
    out = np.zeros((len(ids), max_len), dtype=np.int32)
    for i, row in enumerate(ids):
        row = row[-max_len:]
        out[i, : len(row)] = row
    return out


def encode_prompts(vocab: Vocabulary, prompts, contexts, turns: int, max_len: int) -> np.ndarray:
    """``encode_prompt`` for many prompts: with ``contexts`` (turns before each prompt, oldest first) and a
    model that reads ``turns`` of them, the last ``turns``; else the prompts alone."""
    if contexts is not None and turns:
        return _rows(prompt_ids(vocab, prompts, [list(c)[-turns:] for c in contexts]), max_len)
    return _rows(prompt_ids(vocab, prompts), max_len)


def encode_pairs(pairs: pd.DataFrame, vocab: Vocabulary, cfg: ModelConfig) -> tuple[dict, np.ndarray]:
    """Fixed-width arrays: prompt (with its context turns, when the pairs carry them), decoder input, target,
    and, for a model with speaker vectors, each reply's speaker (the pairs' ``speaker`` column, else 0: the
    bot's own voice)."""
    contexts = pairs.get("context")
    prompt = _rows(prompt_ids(vocab, pairs["prompt"], contexts), cfg.max_prompt_len)
    reply_in = np.zeros((len(pairs), cfg.max_reply_len), np.int32)
    target = np.zeros((len(pairs), cfg.max_reply_len), np.int32)
    for i, ids in enumerate(vocab.ids_all([str(r) for r in pairs["reply"]])):
        reply_in[i], target[i] = reply_rows(ids, cfg.max_reply_len)
    x = {"prompt": prompt, "reply_in": reply_in}
    if cfg.speaker_dim:
        x["speaker"] = (pairs["speaker"].to_numpy(dtype=np.int32) if "speaker" in pairs
                        else np.zeros(len(pairs), np.int32))
    return x, target


def fit_lengths(vocab: Vocabulary, pairs: pd.DataFrame, *, share: float = 0.95, multiple: int = 8,
                caps: tuple[int, int] = (128, 96), floor: int = 16) -> tuple[dict, dict]:
    """The prompt and reply lengths (tokens) that cover ``share`` of the pairs, rounded up to ``multiple``,
    within [``floor``, cap]; with the share each really covers. A reply counts its end token."""
    contexts = pairs.get("context")
    prompts = np.array([len(r) for r in prompt_ids(vocab, pairs["prompt"], contexts)])
    replies = np.array([len(r) + 1 for r in vocab.ids_all([str(r) for r in pairs["reply"]])])
    out = {}
    for key, n, cap in (("max_prompt_len", prompts, caps[0]), ("max_reply_len", replies, caps[1])):
        want = int(np.ceil(np.quantile(n, share))) if len(n) else floor
        out[key] = int(min(max(-(-want // multiple) * multiple, floor), cap))
    covered = {"prompts_covered": float(np.mean(prompts <= out["max_prompt_len"])) if len(prompts) else 1.0,
               "replies_covered": float(np.mean(replies <= out["max_reply_len"])) if len(replies) else 1.0}
    return out, covered


# --- batches --------------------------------------------------------------------------------------
def _round_up(n: np.ndarray, multiple: int, cap: int) -> np.ndarray:
    return np.minimum(-(-np.maximum(n, 1) // multiple) * multiple, cap)


class LengthBuckets(keras.utils.PyDataset):
    """Batches of pairs of similar lengths, each padded only to its longest pair, rounded up to a
    multiple of ``multiple`` (so few distinct shapes reach the compiled training step).

    Every pair is in exactly one batch per epoch. With ``shuffle`` the batches are re-drawn each
    epoch (random order among pairs of the same padded lengths) and served in random order; a share
    ``prompt_dropout`` of prompts is emptied. Plain numpy: it runs on every Keras backend.
    """

    def __init__(self, x: dict, y: np.ndarray, batch_size: int, *, multiple: int = 8, shuffle: bool = True,
                 prompt_dropout: float = 0.0, seed: int = 0, min_batch: int = 1, epoch: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.prompt, self.reply_in, self.target = x["prompt"], x["reply_in"], y
        self.speaker = x.get("speaker")
        self.batch_size, self.shuffle, self.prompt_dropout, self.seed = batch_size, shuffle, prompt_dropout, seed
        self.min_batch = min_batch  # several devices: each needs at least one pair of every batch
        self.prompt_len = _round_up((self.prompt != 0).sum(1), multiple, self.prompt.shape[1])
        self.reply_len = _round_up((self.target != 0).sum(1), multiple, self.target.shape[1])
        self.epoch = epoch  # the epoch the batches are drawn for: a resumed run draws what an uninterrupted one would
        self._plan()

    @property
    def target_tokens(self) -> int:
        return int((self.target != 0).sum())

    def _plan(self) -> None:
        n = len(self.target)
        rng = np.random.default_rng([self.seed, self.epoch])
        tie = rng.random(n) if self.shuffle else np.arange(n)
        order = np.lexsort((tie, self.prompt_len, self.reply_len))
        batches = [order[i: i + self.batch_size] for i in range(0, n, self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < self.min_batch:
            batches[-2:] = [np.concatenate(batches[-2:])]
        elif n and n < self.min_batch:  # fewer pairs than devices: repeat some
            batches = [np.resize(order, self.min_batch)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        self.batches = _distinct_first(batches, self.prompt_len, self.reply_len)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        idx = self.batches[i]
        lp, lr = int(self.prompt_len[idx].max()), int(self.reply_len[idx].max())
        prompt = self.prompt[idx, :lp]
        if self.prompt_dropout > 0:
            empty = np.random.default_rng([self.seed, self.epoch, i]).random(len(idx)) < self.prompt_dropout
            prompt = np.where(empty[:, None], 0, prompt).astype(np.int32)
        x = {"prompt": prompt, "reply_in": self.reply_in[idx, :lr]}
        if self.speaker is not None:
            x["speaker"] = self.speaker[idx]
        return x, self.target[idx, :lr]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.epoch += 1
            self._plan()


def _distinct_first(batches: list, prompt_len: np.ndarray, reply_len: np.ndarray) -> list:
    """Put first two batches that differ in both padded lengths where the data allows it: Keras (TF
    backend) derives the input signature from the first two batches and marks as variable only the
    sizes that differ between them."""
    if len(batches) < 2:
        return batches
    shapes = [(int(prompt_len[b].max()), int(reply_len[b].max())) for b in batches]
    p_varies, r_varies = len({s[0] for s in shapes}) > 1, len({s[1] for s in shapes}) > 1
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            if (shapes[i][0] != shapes[j][0] or not p_varies) and (shapes[i][1] != shapes[j][1] or not r_varies):
                rest = [b for k, b in enumerate(batches) if k not in (i, j)]
                return [batches[i], batches[j], *rest]
    return batches
