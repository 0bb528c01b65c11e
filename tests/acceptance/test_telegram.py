"""The Telegram adapter over chat-miner's fixtures in ../shared/real-exports/telegram.

Both files hold two messages (one plain string, one list of bold + link parts) with no ids, no
from_id and, for the one-chat file, no chat name: the thread is keyed by the chat name or the file stem.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.adapters import telegram
from ingest.source import open_source

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[3] / "shared" / "real-exports" / "telegram" / "joweich__chat-miner" / "test"


@pytest.mark.parametrize(("name", "thread"), [
    ("test_single_export.json", "telegram:test_single_export"),
    ("test_batch_export.json", "telegram:Chatname"),
])
def test_chat_miner_exports(name: str, thread: str):
    path = ROOT / "telegram" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    with open_source(path) as source:
        assert telegram.detect(source)
        frame = telegram.read(source)
    assert len(frame) == 2
    assert frame.attrs["skipped"] == {}
    assert frame.attrs["me"] == []
    assert set(frame["thread_id"]) == {thread}
    assert frame["sender"].tolist() == ["Author 1", "Author 2"]
    assert frame["text"].tolist() == ["Minimal Message", "Link:https://telegram.org/"]
    assert [t.value // 1_000_000 for t in frame["timestamp"]] == [1544006350000, 1544006964000]
    assert not frame["is_group"].any()


def test_whatsapp_and_signal_files_are_not_claimed():
    signal = ROOT.parents[2] / "signal" / "joweich__chat-miner" / "test" / "signal" / "test_export.txt"
    if not signal.exists():
        pytest.skip(f"{signal} not present")
    with open_source(signal) as source:
        assert not telegram.detect(source)
