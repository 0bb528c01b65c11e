"""The Hangouts adapter over the real Takeout file in ../shared/real-exports/google_hangouts.

Counts were checked by reading the file: one STICKY_ONE_TO_ONE conversation (post-2018
``conversations`` layout) with four events, all sent by the friend: a TEXT "Hi", START_HANGOUT
and END_HANGOUT (system), and a PLUS_PHOTO attachment with no segment. The owner's gaia id is
in ``self_conversation_state.self_read_state``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import adapters
from ingest.adapters import hangouts
from ingest.source import open_source

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[3] / "shared" / "real-exports" / "google_hangouts"
LMJONES = ROOT / "lmjones81__hangouts_history_parser"


@pytest.mark.parametrize("path", [LMJONES, LMJONES / "Hangouts.json"], ids=["folder", "file"])
def test_real_takeout(path: Path):
    if not path.exists():
        pytest.skip(f"{path} not present")
    with open_source(path) as source:
        assert "hangouts" in adapters.detect(source)
        frame = hangouts.read(source)
    assert len(frame) == 2
    assert frame.attrs["skipped"] == {"system": 2}
    assert frame.attrs["me"] == ["106278400935252447317"]
    assert frame["thread_id"].nunique() == 1
    assert list(frame["thread_title"].unique()) == ["Lynne-Marie Woodard"]
    assert not frame["is_group"].any()
    assert list(frame["kind"]) == ["text", "attachment"]
    assert list(frame["text"]) == ["Hi", ""]
    assert list(frame["sender_id"]) == ["105459774030000207904"] * 2
    assert not frame["is_me"].any()
    assert [str(t) for t in frame["timestamp"]] == [
        "2019-09-21 13:43:34.201000+00:00", "2019-10-05 09:41:15.328000+00:00"]
