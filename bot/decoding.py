"""Decoding strategies, in a table keyed by name.

Each strategy takes the model (``Seq2Seq``), the encoded prompt batch and its
options, and returns token ids for each prompt of the batch (end token excluded).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bot.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID


def _encode(model, prompt_ids: np.ndarray):
    enc_out, keys, state = model.encoder_model.predict_on_batch(prompt_ids)
    return np.asarray(enc_out), np.asarray(keys), np.asarray(state), prompt_ids != PAD_ID


def _step(model, tokens: np.ndarray, state, enc_out, keys, mask):
    logits, state = model.step_model.predict_on_batch([tokens[:, None].astype("int32"), state, enc_out, keys, mask])
    return np.asarray(logits, dtype=np.float64), np.asarray(state)


def greedy(model, prompt_ids: np.ndarray, *, max_len: int | None = None, **_) -> list[list[int]]:
    """The most likely next word at each step (never ``<unk>``, never an empty reply)."""
    max_len = max_len or model.config.max_reply_len
    enc_out, keys, state, mask = _encode(model, prompt_ids)
    batch = len(prompt_ids)
    tokens = np.full(batch, BOS_ID, dtype=np.int32)
    out = [[] for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for step in range(max_len):
        logits, state = _step(model, tokens, state, enc_out, keys, mask)
        logits[:, [PAD_ID, BOS_ID, UNK_ID]] = -np.inf
        if step == 0:
            logits[:, EOS_ID] = -np.inf  # a reply has at least one word
        tokens = logits.argmax(-1).astype(np.int32)
        for i, t in enumerate(tokens):
            if not done[i]:
                if t == EOS_ID:
                    done[i] = True
                else:
                    out[i].append(int(t))
        if done.all():
            break
    return out


STRATEGIES: dict[str, Callable[..., list[list[int]]]] = {
    "greedy": greedy,
}
DEFAULT_STRATEGY = "greedy"
