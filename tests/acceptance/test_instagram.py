"""instagram over the public sample in ../shared/real-exports (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.adapters import instagram
from ingest.source import open_source

pytestmark = pytest.mark.acceptance
REAL = Path(__file__).resolve().parents[3] / "shared" / "real-exports"


def test_chat_miner_sample():
    path = REAL / "instagram_json" / "joweich__chat-miner" / "test" / "instagram" / "test_export.json"
    if not path.exists():
        pytest.skip("real-exports not present")
    with open_source(path) as s:
        assert not instagram.detect(s)  # a bare message list carries no Instagram-only sign
        frame = instagram.read(s)
    assert len(frame) == 2
    assert frame.attrs["skipped"] == {}
    assert set(frame["thread_id"]) == {"instagram:test_export"}
    assert list(frame["text"]) == ["Hello John!", "Hello Jane!"]  # sorted oldest first


def test_the_facebook_json_samples_are_not_claimed():
    if not REAL.exists():
        pytest.skip("real-exports not present")
    with open_source(REAL / "facebook_messenger_json") as s:
        assert not instagram.detect(s)
