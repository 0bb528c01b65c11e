"""messenger_e2ee over the public sample in ../shared/real-exports (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import adapters
from ingest.adapters import facebook, messenger_e2ee
from ingest.source import open_source

pytestmark = pytest.mark.acceptance
REAL = Path(__file__).resolve().parents[3] / "shared" / "real-exports"


def test_msgvault_e2ee_sample():
    if not REAL.exists():
        pytest.skip("real-exports not present")
    with open_source(REAL / "facebook_messenger_e2ee_json") as s:
        assert messenger_e2ee.detect(s) and not facebook.detect(s)
        frame = messenger_e2ee.read(s)
    assert len(frame) == 5
    assert frame.attrs["skipped"] == {"unsent": 1}
    assert frame.groupby("thread_id").size().to_dict() == {"messenger_e2ee:alice": 3, "messenger_e2ee:group": 2}
    assert frame.groupby("thread_id")["thread_title"].first().to_dict() == {
        "messenger_e2ee:alice": "Alice Example", "messenger_e2ee:group": "Weekend crew"}
    assert "café time?" in set(frame["text"])  # mojibake repaired
    assert list(frame["kind"]).count("attachment") == 1


def test_the_dyi_json_samples_are_not_claimed():
    if not REAL.exists():
        pytest.skip("real-exports not present")
    with open_source(REAL / "facebook_messenger_json") as s:
        assert not messenger_e2ee.detect(s)


def test_each_e2ee_file_alone_is_e2ees_only():
    files = sorted((REAL / "facebook_messenger_e2ee_json").rglob("*.json"))
    if not files:
        pytest.skip("real-exports not present")
    for path in files:
        with open_source(path) as s:
            assert adapters.detect(s) == ["messenger_e2ee"], path.name
            frame = messenger_e2ee.read(s)
        assert len(frame) and set(frame.attrs["participants"]) == set(frame["thread_id"])
