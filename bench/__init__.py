"""Benchmarks: scripts that measure speed, memory and quality and print the figures. Never run by tests."""

from __future__ import annotations

import itertools
from pathlib import Path


def demo_workspace(root: Path, speaker: str | None = None):
    """The demo speaker (or ``speaker``, a chitchat-dataset speaker id) rendered as a Facebook export under
    ``root`` and ingested into ``root/data``: (the workspace, the corpus figures of ``ingest.demo_corpus.render``)."""
    from ingest.demo_corpus import render
    from ingest.pipeline import ingest
    from ingest.workspace import Workspace

    ws = Workspace(root / "data")
    export, me, figures = render(root / "export", speaker)
    ingest([export], workspace=ws, me=[me])
    return ws, figures


def corpus_pairs(n: int, exclude_speaker: str, seed: int = 0):
    """``n`` (turn, next turn) pairs of chitchat-dataset conversations that ``exclude_speaker`` took no part
    in (columns prompt, reply, thread_id), drawn in a seeded order: a large reply index for timings."""
    import random

    import chitchat_dataset
    import pandas as pd

    rows = []
    keys = sorted(chitchat_dataset.Dataset().items())
    random.Random(seed).shuffle(keys)
    for key, convo in keys:
        turns = convo["messages"]
        if any(u["sender"] == exclude_speaker for t in turns for u in t):
            continue
        texts = ["\n".join(u["text"] for u in t) for t in turns]
        rows += [{"prompt": a, "reply": b, "thread_id": key} for a, b in itertools.pairwise(texts)]
        if len(rows) >= n:
            break
    return pd.DataFrame(rows[:n])


def met(ok: bool) -> str:
    """A target's verdict in the benchmarks' tables."""
    return "yes" if ok else "no"


def within(value, ref, share) -> bool:
    """``value`` within ``share`` (0.25: 25%) of ``ref``."""
    return value is not None and bool(ref) and abs(value - ref) <= share * ref
