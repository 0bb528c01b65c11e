"""Shared test helpers: small Facebook exports written in the real DYI JSON format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# unit tests train tiny models from scratch ("--base default" means no base); tests of the base name it
os.environ["TALKLIKE_BASE"] = "none"
os.environ["TZ"] = "UTC"  # wall-clock times (WhatsApp, Facebook HTML) are read in the machine zone: UTC in tests

ME = "Sam Carter"
T0 = 1_600_000_000_000  # ms


def fb_escape(text: str) -> str:
    """Facebook's mojibake: every UTF-8 byte as its own \\u00XX escape."""
    return text.encode("utf-8").decode("latin-1")


def write_fb_thread(root: Path, folder: str, title: str, messages: list[tuple[str, int, str]],
                    participants: list[str] | None = None) -> Path:
    """``messages``: (sender, timestamp_ms, text) in chronological order; written newest first."""
    thread = root / "messages" / "inbox" / folder
    thread.mkdir(parents=True, exist_ok=True)
    names = participants or sorted({s for s, _, _ in messages})
    doc = {
        "participants": [{"name": fb_escape(n)} for n in names],
        "messages": [{"sender_name": fb_escape(s), "timestamp_ms": t, "content": fb_escape(x), "type": "Generic"}
                     for s, t, x in reversed(messages)],
        "title": fb_escape(title), "is_still_participant": True, "thread_path": f"inbox/{folder}",
    }
    (thread / "message_1.json").write_text(json.dumps(doc, ensure_ascii=True), encoding="utf-8")
    return thread


PATTERNS = [("hello there", "hi friend"), ("how are you", "good thanks"),
            ("see you tomorrow", "bye bye"), ("want pizza", "yes please")]


def conversation_export(root: Path, friends=("Kim Lee", "Ana Beatriz"), rounds: int = 12) -> Path:
    """Each friend says one of PATTERNS' prompts and I answer with its reply, one session per round."""
    for f_i, friend in enumerate(friends):
        msgs = []
        for r in range(rounds):
            t = T0 + (f_i * 1000 + r) * 6 * 3600 * 1000  # 6 hours apart: one session per round
            prompt, reply = PATTERNS[(r + f_i) % len(PATTERNS)]
            msgs += [(friend, t, prompt), (ME, t + 60_000, reply), (friend, t + 120_000, "ok")]
        write_fb_thread(root, friend.lower().replace(" ", "") + f"_{f_i}", friend, msgs, [ME, friend])
    return root


@pytest.fixture
def workspace(tmp_path):
    from ingest.workspace import Workspace

    return Workspace(tmp_path / "data")


@pytest.fixture
def convo_workspace(tmp_path, workspace):
    """A workspace with the PATTERNS conversations ingested (me = Sam Carter)."""
    from ingest.pipeline import ingest

    conversation_export(tmp_path / "export")
    ingest([tmp_path / "export"], workspace=workspace, me=[ME])
    return workspace


TINY_MODEL = {"embed_dim": 16, "encoder_units": 16, "decoder_units": 32, "max_prompt_len": 8, "max_reply_len": 6,
              "dropout": 0.0}


def pytest_terminal_summary(terminalreporter):
    """How many damaged and generated inputs each adapter was fed (tests/test_bad_input.py), and the outcomes."""
    rows: dict[str, dict] = {}
    for rep in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(rep, "user_properties", []):
            if name in ("damaged", "generated") and rep.when == "call":
                rows.setdefault(rep.nodeid.rsplit("[", 1)[-1].rstrip("]"), {})[name] = value
    if not rows:
        return
    w = terminalreporter.write_line
    w("damaged and generated inputs per adapter (outcome: a table, a table with damaged files set aside, "
      "a clean one-line error, or FAIL):")
    total = {"damaged": 0, "generated": 0, "FAIL": 0}
    for platform, r in sorted(rows.items()):
        d, g = r.get("damaged", {}), r.get("generated", {})
        total["damaged"] += d.get("tried", 0)
        total["generated"] += g.get("tried", 0)
        total["FAIL"] += d.get("FAIL", 0) + g.get("FAIL", 0)
        w(f"  {platform:<15} damaged {d.get('tried', 0):>4} (table {d.get('table', 0)}, set aside "
          f"{d.get('table with files set aside', 0)}, error {d.get('error', 0)}, FAIL {d.get('FAIL', 0)})"
          f"   generated {g.get('tried', 0):>3} (table {g.get('table', 0)}, set aside "
          f"{g.get('table with files set aside', 0)}, error {g.get('error', 0)}, FAIL {g.get('FAIL', 0)})")
    w(f"  all: {total['damaged']} damaged + {total['generated']} generated inputs, {total['FAIL']} failures")
