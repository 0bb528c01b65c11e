"""facebook_html over the public samples in ../shared/real-exports (skipped when absent)."""

from __future__ import annotations

from itertools import count
from pathlib import Path

import pytest

from ingest.adapters import facebook_html
from ingest.source import open_source

pytestmark = pytest.mark.acceptance
REAL = Path(__file__).resolve().parents[3] / "shared" / "real-exports" / "facebook_html"


@pytest.fixture(scope="module")
def real() -> Path:
    if not REAL.exists():
        pytest.skip("real-exports not present")
    return REAL


def test_fbcap_simulated_legacy_file(real):
    with open_source(real / "ownaginatious__fbchat-archive-parser" / "tests" / "simulated_data.htm") as s:
        assert facebook_html.detect(s)
        frame = facebook_html.read(s)
    assert len(frame) == 20
    assert frame.attrs == {
        "skipped": {}, "me": ["First User 一"], "empty_files": [],
        "participants": {  # as each div.thread lists them, the owner included
            "facebook_html:Second User 二": ["First User 一", "Second User 二"],
            "facebook_html:Third User 三": ["First User 一", "Third User 三"],
            "facebook_html:Second User 二, Third User 三": ["First User 一", "Second User 二", "Third User 三"]}}
    assert frame.groupby("thread_id").size().to_dict() == {
        "facebook_html:Second User 二": 5, "facebook_html:Third User 三": 7,
        "facebook_html:Second User 二, Third User 三": 8}
    assert frame["is_me"].sum() == 4
    # newest first in the file; ties keep the conversation's order
    assert list(frame.loc[frame["thread_id"] == "facebook_html:Second User 二", "text"]) == [
        "X Y Z", "X? Y Z!", "This is a test", "Yes, it is", "The last message! Hello"]
    assert frame["timestamp"].max().isoformat() == "2015-12-14T20:03:00+00:00"  # "1:03pm PDT"


def test_msgvault_dyi_html_threads(real):
    with open_source(real / "kenn-io__msgvault") as s:
        assert facebook_html.detect(s)
        frame = facebook_html.read(s)
    assert len(frame) == 7
    assert frame.attrs["skipped"] == {}
    assert frame.groupby("thread_id").size().to_dict() == {
        "facebook_html:alice_ABC123": 3, "facebook_html:bob_XYZ789": 1, "facebook_html:carol_IMG456": 3}
    assert not frame["is_group"].any()
    assert "café time?" in set(frame["text"])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_msgvault_timestamp_layouts(real, n):
    path = real / "kenn-io__msgvault" / "internal" / "fbmessenger" / "testdata" / "html_timestamps" / f"layout{n}.html"
    block = facebook_html.parse_dyi_html(path.read_text(encoding="utf-8"), path.name, count())
    assert [(m.sender, m.text, m.ts) for m in block.messages] == [("Test User", "ping", 1571495820000)]
