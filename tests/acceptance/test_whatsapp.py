"""The WhatsApp adapter over the parser projects' fixtures in ../shared/real-exports/whatsapp.

Counts were checked by reading each file: a header line is a message, any other line continues the
previous one; lines without ``Name:`` are system notices; ``Name:.`` is view-once (unsent).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.adapters import whatsapp
from ingest.source import open_source

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[3] / "shared" / "real-exports" / "whatsapp"
CHAT_MINER = ROOT / "joweich__chat-miner" / "test" / "whatsapp"
CHATISTICS = ROOT / "MasterScrat__Chatistics" / "tests" / "test_data" / "whatsapp"

# file -> (rows kept, skipped by reason, first timestamp, last timestamp)
EXPECTED = {
    CHAT_MINER / "test_ddmmyy_24hrs.txt": (6, {"unsent": 1, "system": 2}, "2019-01-01 11:25", "2021-12-30 22:01"),
    CHAT_MINER / "test_mmddyy_24hrs.txt": (6, {"unsent": 1, "system": 2}, "2019-01-01 11:25", "2021-12-30 22:01"),
    CHAT_MINER / "test_[mmddyy]_24hrs.txt": (6, {"unsent": 1, "system": 2}, "2019-01-01 11:25", "2021-12-30 22:01"),
    CHAT_MINER / "test_yyyymmdd_24hrs.txt": (6, {"unsent": 1, "system": 2}, "2019-01-01 11:25", "2021-12-30 22:01"),
    CHAT_MINER / "test_mmddyyyy_12hrs.txt": (6, {"unsent": 1, "system": 2}, "2019-01-01 11:25", "2021-12-30 22:01"),
    # iOS, 2- and 4-digit years mixed; "[1.2.2019, 00:00:00] ..." is a message of its own here
    CHATISTICS / "_chat.txt": (21, {"system": 1}, "2018-01-04 11:53", "2019-04-19 16:18"),
    CHATISTICS / "_chat 2.txt": (5, {}, "2019-09-17 16:37", "2019-09-17 16:39"),
    # every date is ambiguous and the file runs backwards either way: day first (2 November)
    CHATISTICS / "_chat 3.txt": (9, {"system": 2}, "2019-11-02 14:18", "2019-11-02 14:51"),
    CHATISTICS / "_chat 4.txt": (3, {}, "2019-09-17 08:30", "2019-09-18 16:50"),
}


def _read(path: Path):
    if not path.exists():
        pytest.skip(f"{path} not present")
    with open_source(path) as source:
        assert whatsapp.detect(source)
        return whatsapp.read(source)


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_counts_and_dates(path: Path):
    rows, skipped, first, last = EXPECTED[path]
    frame = _read(path)
    assert len(frame) == rows
    assert frame.attrs["skipped"] == skipped
    assert frame["thread_id"].nunique() == 1
    assert f"{frame['timestamp'].iloc[0]:%Y-%m-%d %H:%M}" == first
    assert f"{frame['timestamp'].iloc[-1]:%Y-%m-%d %H:%M}" == last


def test_chat_miner_names_and_multiline():
    frame = _read(CHAT_MINER / "test_mmddyyyy_12hrs.txt")
    assert frame["sender"].tolist() == ["John Doe", "Jahn Doe", "John-John Doe", "John Doe 🤓", "🤓", "John Doe"]
    assert frame["text"].iloc[1] == "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero."
    assert frame["text"].iloc[2] == "Lorem ipsum : dolor sit amet."
    assert frame["is_group"].all()


def test_chatistics_colon_in_name_and_continuations():
    frame = _read(CHATISTICS / "_chat 3.txt")
    assert frame["sender"].value_counts()["The final test"] == 2
    assert "Does it work with colons?: Hallelujah!" in frame["text"].tolist()
    assert frame["text"].iloc[7] == "👍👍👍👍👍👍!"  # "John Doe:" then blank lines, then the text
    frame = _read(CHATISTICS / "_chat.txt")
    assert frame["text"].iloc[19].endswith("\n2/11/19, 14:48 Alice Placeholder: this is a message from another chat!")
