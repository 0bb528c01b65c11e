"""instagram over the public sample in ../shared/real-exports (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import adapters
from ingest.adapters import facebook, instagram, messenger_e2ee
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


def test_the_bare_list_is_claimed_by_no_meta_adapter():
    path = REAL / "instagram_json" / "joweich__chat-miner" / "test" / "instagram" / "test_export.json"
    if not path.exists():
        pytest.skip("real-exports not present")
    with open_source(path) as s:
        assert not facebook.detect(s) and not messenger_e2ee.detect(s)


def test_facebook_samples_taken_out_alone_are_facebooks_only(tmp_path):
    """Each msgvault thread file passed alone, or its thread folder, is claimed by facebook alone and
    gives the rows (same ids) it gives inside the archive."""
    root = REAL / "facebook_messenger_json" / "kenn-io__msgvault" / "internal" / "fbmessenger" / "testdata"
    if not root.exists():
        pytest.skip("real-exports not present")
    checked = 0
    for case in ("json_simple", "json_group", "json_multifile", "json_nontext", "json_with_media"):
        with open_source(root / case) as s:
            whole = facebook.read(s)
        for folder in sorted({p.parent for p in (root / case).rglob("message_*.json")}):
            with open_source(folder) as s:
                assert adapters.detect(s) == ["facebook"]
                alone = facebook.read(s)
            theirs = whole[whole["thread_id"] == f"facebook:{folder.name}"]
            assert list(alone["message_id"]) == list(theirs["message_id"])
            for lone in folder.glob("message_*.json"):
                with open_source(lone) as s:
                    assert adapters.detect(s) == ["facebook"] and not instagram.detect(s)
            checked += 1
    assert checked >= 6
