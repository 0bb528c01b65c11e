"""The Slack adapter on a genuine 2016 workspace export (public channels only).

Counts checked by reading the files: 158 messages in 17 day files of two channels;
49 plain messages and 3 ``file_share`` kept; 94 ``bot_message``; 8 ``channel_join``,
3 ``bot_add`` and 1 ``file_comment`` are notices.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import adapters
from ingest.adapters import slack
from ingest.source import open_source

pytestmark = pytest.mark.acceptance

REAL = Path(__file__).resolve().parents[3] / "shared" / "real-exports"
EXPORT = REAL / "slack" / "hfaran__slack-export-viewer" / "tests" / "testarchive.zip__extracted"


@pytest.fixture(scope="module")
def frame():
    if not EXPORT.is_dir():
        pytest.skip(f"real exports not present at {EXPORT}")
    with open_source(EXPORT) as source:
        assert "slack" in adapters.detect(source)
        return slack.read(source)


def test_counts(frame):
    assert len(frame) == 52
    assert frame.attrs["skipped"] == {"bot": 94, "system": 12}
    assert frame.attrs["me"] == []
    assert frame.groupby("thread_id").size().to_dict() == {"slack:C0JGLMMNX": 30, "slack:C0JL6CGQ2": 22}
    assert set(frame["thread_title"]) == {"enrique", "traveling-sailor"}
    assert frame["kind"].value_counts().to_dict() == {"text": 47, "attachment": 3, "link": 2}
    assert frame["is_group"].all()  # four members in each channel
    assert not frame["is_me"].any() and frame["reply_to"].isna().all()


def test_names_markup_and_times(frame):
    # every sender resolved through users.json; no raw <@U...> markup left
    assert set(frame["sender_id"]) <= {"U0BMYT2FL", "U0BMS113R", "U0BMQB6JE", "U0BMM2FEH"}
    assert not frame["sender"].str.match(r"^U0").any()
    assert not frame["text"].str.contains(r"<@U|<https?://|&gt;|&amp;").any()
    # time comes from ts (day files are bucketed in US-Pacific time, not UTC)
    first = frame.iloc[0]
    assert first["source"] == "enrique/2016-01-14.json"
    assert first["timestamp"].value // 1_000_000 == 1452837352000
    assert str(first["timestamp"].date()) == "2016-01-15"
    assert frame.groupby("thread_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    # the uploads' "<@U> uploaded a file: <url|name>" notices are not kept as words
    assert (frame.loc[frame["kind"] == "attachment", "text"] == "").all()
