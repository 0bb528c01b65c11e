"""Benchmarks: scripts that measure speed, memory and quality and print the figures. Never run by tests."""

from __future__ import annotations

from pathlib import Path


def demo_workspace(root: Path):
    """The demo speaker (chitchat-dataset) rendered as a Facebook export under ``root`` and ingested into
    ``root/data``: (the workspace, the corpus figures of ``ingest.demo_corpus.render``)."""
    from ingest.demo_corpus import render
    from ingest.pipeline import ingest
    from ingest.workspace import Workspace

    ws = Workspace(root / "data")
    export, me, figures = render(root / "export")
    ingest([export], workspace=ws, me=[me])
    return ws, figures
