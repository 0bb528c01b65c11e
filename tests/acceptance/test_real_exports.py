"""The whole pipeline (``ingest()``, ``--platform auto``) over every sample in ../shared/real-exports.

Each supported sample goes through detection, its adapter, de-duplication and the workspace, and
must give the counts the per-adapter acceptance tests established by reading the files. Then all
of them go into one workspace together: nothing is lost or counted twice. Skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.people import AmbiguousMeError
from ingest.pipeline import ingest
from ingest.workspace import Workspace

pytestmark = pytest.mark.acceptance

REAL = Path(__file__).resolve().parents[3] / "shared" / "real-exports"
MSGVAULT = "kenn-io__msgvault/internal/fbmessenger/testdata"
FB_JSON = f"facebook_messenger_json/{MSGVAULT}"
WA_CM = "whatsapp/joweich__chat-miner/test/whatsapp"
WA_CS = "whatsapp/MasterScrat__Chatistics/tests/test_data/whatsapp"
SLACK = "slack/hfaran__slack-export-viewer/tests/testarchive.zip__extracted"

# path under real-exports -> {platform: (read, kept, skipped by reason)}
EXPECTED: dict[str, dict[str, tuple[int, int, dict[str, int]]]] = {
    "facebook_html/ownaginatious__fbchat-archive-parser/tests/simulated_data.htm": {"facebook_html": (20, 20, {})},
    "facebook_html/kenn-io__msgvault": {"facebook_html": (7, 7, {})},
    "facebook_messenger_e2ee_json": {"messenger_e2ee": (6, 5, {"unsent": 1})},
    f"{FB_JSON}/json_simple": {"facebook": (4, 4, {})},
    f"{FB_JSON}/json_group": {"facebook": (3, 3, {})},
    f"{FB_JSON}/json_multifile": {"facebook": (4, 4, {})},
    f"{FB_JSON}/json_nontext": {"facebook": (6, 3, {"system": 3})},
    f"{FB_JSON}/json_with_media": {"facebook": (1, 1, {})},
    f"{FB_JSON}/json_with_media_alt": {"facebook": (1, 1, {})},
    f"{FB_JSON}/mixed": {"facebook": (2, 2, {})},  # the .html beside the .json is not read again
    "google_hangouts/lmjones81__hangouts_history_parser": {"hangouts": (4, 2, {"system": 2})},
    SLACK: {"slack": (158, 52, {"bot": 94, "system": 12})},
    "telegram/joweich__chat-miner/test/telegram/test_single_export.json": {"telegram": (2, 2, {})},
    "telegram/joweich__chat-miner/test/telegram/test_batch_export.json": {"telegram": (2, 2, {})},
    **{f"{WA_CM}/{name}": {"whatsapp": (9, 6, {"unsent": 1, "system": 2})} for name in (
        "test_ddmmyy_24hrs.txt", "test_mmddyy_24hrs.txt", "test_[mmddyy]_24hrs.txt", "test_yyyymmdd_24hrs.txt",
        "test_mmddyyyy_12hrs.txt")},
    f"{WA_CS}/_chat.txt": {"whatsapp": (22, 21, {"system": 1})},
    f"{WA_CS}/_chat 2.txt": {"whatsapp": (5, 5, {})},
    f"{WA_CS}/_chat 3.txt": {"whatsapp": (11, 9, {"system": 2})},
    f"{WA_CS}/_chat 4.txt": {"whatsapp": (3, 3, {})},
}

# Samples whose evidence cannot tell who the owner is (one chat, or one group, where every sender is
# in every thread): ingest stops and asks for --me, naming them. The name given then is the first.
TIES: dict[str, list[str]] = {
    f"{FB_JSON}/json_group": ["Alice Example", "Bob Example", "Test User"],
    SLACK: ["abilinski", "doubledeez", "hamza"],
    "telegram/joweich__chat-miner/test/telegram/test_single_export.json": ["Author 1", "Author 2"],
    "telegram/joweich__chat-miner/test/telegram/test_batch_export.json": ["Author 1", "Author 2"],
    **{f"{WA_CM}/{name}": ["Jahn Doe", "John Doe", "John Doe 🤓", "John-John Doe", "🤓"] for name in (
        "test_ddmmyy_24hrs.txt", "test_mmddyy_24hrs.txt", "test_[mmddyy]_24hrs.txt", "test_yyyymmdd_24hrs.txt",
        "test_mmddyyyy_12hrs.txt")},
    f"{WA_CS}/_chat.txt": ["Alice Placeholder", "John Doe"],
    f"{WA_CS}/_chat 2.txt": ["John Doe", "Peter Doe"],
    f"{WA_CS}/_chat 3.txt": ["John Doe", "Even longer username with emoticons! 🙈 🙈", "The final test",
                             "Very long username", "n"],
}


def _path(rel: str) -> Path:
    path = REAL / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.mark.parametrize("rel", list(EXPECTED))
def test_every_supported_sample_ingests_with_its_counts(rel: str, tmp_path):
    ws = Workspace(tmp_path / "d")
    me = []
    if rel in TIES:  # a tie stops the ingest, names every candidate, and stores nothing
        with pytest.raises(AmbiguousMeError) as info:
            ingest([_path(rel)], workspace=ws, platform="auto")
        assert all(repr(name) in info.value.one_line() for name in TIES[rel][:6])
        assert not ws.has_messages()
        me = TIES[rel][:1]
    result = ingest([_path(rel)], workspace=ws, platform="auto", me=me)
    got = {r.platform: (r.read, r.kept, r.skipped) for r in result.sources}
    assert got == EXPECTED[rel]
    assert len(ws.messages()) == result.added == sum(kept for _, kept, _ in EXPECTED[rel].values())
    assert ingest([_path(rel)], workspace=ws).added == 0  # and again: nothing twice


def test_all_samples_into_one_workspace(tmp_path):
    paths = [_path(rel) for rel in EXPECTED]
    ws = Workspace(tmp_path / "d")
    result = ingest(paths, workspace=ws, me=["Author 1", "abilinski"])  # (the ties of Telegram's and Slack's)
    # chat-miner's five WhatsApp files are one chat in five date formats: their messages coincide
    kept = sum(kept for by in EXPECTED.values() for _, kept, _ in by.values())
    assert result.added + sum(r.skipped.get("duplicate", 0) for r in result.sources) == kept
    assert all(r.read == r.kept + sum(r.skipped.values()) for r in result.sources)
    assert set(result.me_by_platform) == {"facebook", "facebook_html", "messenger_e2ee", "hangouts", "slack",
                                          "telegram", "whatsapp"}
    # the Takeout names its owner, who wrote nothing in its one conversation: no Hangouts message is mine
    assert result.me_by_platform["hangouts"].how == "unknown"


@pytest.mark.parametrize(("rel", "problem"), [
    (f"{FB_JSON}/corrupt", "is not valid JSON"),  # deliberately broken: one line naming the file
    ("signal/joweich__chat-miner/test/signal/test_export.txt", "not recognised as a chat export"),  # unsupported
    # a bare message list carries no platform mark: auto refuses it, --platform instagram reads it
    ("instagram_json/joweich__chat-miner/test/instagram/test_export.json", "not recognised as a chat export"),
])
def test_unreadable_or_unsupported_samples_are_one_clear_error(rel: str, problem: str, tmp_path):
    with pytest.raises(IngestError, match=problem):
        ingest([_path(rel)], workspace=Workspace(tmp_path / "d"))
    assert not (tmp_path / "d" / "messages.parquet").exists()


def test_the_bare_instagram_list_reads_when_named(tmp_path):
    rel = "instagram_json/joweich__chat-miner/test/instagram/test_export.json"
    result = ingest([_path(rel)], workspace=Workspace(tmp_path / "d"), platform="instagram", me=["John Doe"])
    assert [(r.read, r.kept) for r in result.sources] == [(2, 2)]
