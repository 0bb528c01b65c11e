"""The ingest pipeline: sources and detection, accounting, no duplicates, joined Messenger threads, who is me."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from ingest import adapters
from ingest.errors import IngestError
from ingest.people import norm_name, resolve_me
from ingest.pipeline import ingest
from ingest.source import open_source
from ingest.workspace import Workspace
from tests.conftest import ME, T0, conversation_export, fb_escape, write_fb_thread

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES = sorted(p for p in FIXTURES.glob("*/*") if (p / "expected.csv").exists())
S = 1000  # ms


def _input(case: Path) -> Path:
    inp = case / "input"
    entries = list(inp.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_file() else inp


def _adapter_totals(path: Path) -> dict[str, tuple[int, int]]:
    """platform -> (rows, skipped) as the adapters alone report them."""
    out = {}
    with open_source(path) as source:
        for name in adapters.detect(source):
            frame = adapters.get(name).read(source)
            out[name] = (len(frame), sum(frame.attrs["skipped"].values()))
    return out


# --- accounting -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_read_is_kept_plus_skipped_for_every_golden_fixture(case: Path, tmp_path):
    ws = Workspace(tmp_path / "d")
    path = _input(case)
    with (case / "expected.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows and not json.loads((case / "expected_skipped.json").read_text()):
        # an export with no message at all is an error, and nothing is stored
        with pytest.raises(IngestError, match="holds no messages"):
            ingest([path], workspace=ws)
        assert not ws.has_messages()
        return
    # (who is me is not what this test is about: a fixture of one group chat is a tie)
    result = ingest([path], workspace=ws, me=[rows[0]["sender"]])
    totals = _adapter_totals(path)
    assert {r.platform for r in result.sources} == set(totals)
    for r in result.sources:
        rows, skipped = totals[r.platform]
        assert r.read == rows + skipped  # everything the adapter read is accounted for
        assert r.read == r.kept + sum(r.skipped.values())
    table = ws.messages()
    assert len(table) == result.messages == result.added == sum(r.kept for r in result.sources)
    stored = json.loads(ws.report_path.read_text())
    for r in result.sources:
        entry = stored["sources"][f"{Path(path).resolve()} [{r.platform}]"]
        assert (entry["read"], entry["kept"], entry["skipped"]) == (r.read, r.kept, r.skipped)

    again = ingest([path], workspace=ws)  # the same export twice adds nothing
    assert again.added == 0 and again.messages == len(table)
    for first, second in zip(result.sources, again.sources, strict=True):
        assert second.read == first.read and second.kept == 0
        assert second.skipped.get("duplicate", 0) == first.kept + first.skipped.get("duplicate", 0)
    assert len(json.loads(ws.report_path.read_text())["runs"]) == 2


def test_every_fixture_into_one_workspace(tmp_path):
    ws = Workspace(tmp_path / "d")
    result = ingest([_input(c) for c in CASES], workspace=ws)
    assert sum(r.kept for r in result.sources) == result.added == len(ws.messages())
    assert {r.platform for r in result.sources} == set(adapters.ADAPTERS)
    assert set(result.me_by_platform) == set(ws.messages()["platform"])


# --- sources ------------------------------------------------------------------------------------

def test_a_zip_reads_like_its_folder(tmp_path):
    folder = _input(FIXTURES / "facebook_html" / "dyi_html_2019")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder).as_posix())
    a = ingest([folder], workspace=Workspace(tmp_path / "a"))
    b = ingest([archive], workspace=Workspace(tmp_path / "b"))
    assert [(r.platform, r.read, r.kept) for r in a.sources] == [(r.platform, r.read, r.kept) for r in b.sources]
    assert sorted(Workspace(tmp_path / "a").messages()["message_id"]) == \
        sorted(Workspace(tmp_path / "b").messages()["message_id"])


def _e2ee_file(folder: Path, stem: str, title: str, people: list[str], messages: list[tuple[str, int, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"participants": [fb_escape(p) for p in people], "threadName": fb_escape(title),
           "messages": [{"senderName": fb_escape(s), "text": fb_escape(x), "timestamp": t, "type": "Generic",
                         "isUnsent": False, "media": [], "reactions": []} for s, t, x in messages]}
    (folder / f"{stem}.json").write_text(json.dumps(doc), encoding="utf-8")


def test_one_export_holding_several_platforms_reads_each_file_once(tmp_path):
    """A Facebook archive with JSON and HTML threads, and the E2EE chats unzipped beside them."""
    root = tmp_path / "facebook"
    shutil.copytree(_input(FIXTURES / "facebook_html" / "dyi_html_2019"), root)  # HTML threads + one JSON
    write_fb_thread(root, "kimlee_9", "Kim Lee", [("Kim Lee", T0, "hi"), (ME, T0 + S, "hello")])
    _e2ee_file(root / "messages", "Zoe_1", "Zoe", [ME, "Zoe"], [("Zoe", T0, "hey"), (ME, T0 + S, "yo")])
    result = ingest([root], workspace=Workspace(tmp_path / "d"))
    assert [r.platform for r in result.sources] == ["facebook", "facebook_html", "messenger_e2ee"]
    assert all(r.skipped.get("duplicate", 0) == 0 for r in result.sources)
    table = Workspace(tmp_path / "d").messages()
    by_file = table.groupby("source")["platform"].nunique()
    assert (by_file == 1).all()  # no file was read by two adapters


def test_a_file_claimed_by_two_adapters_is_read_once(tmp_path, monkeypatch):
    """Instagram's pre-2023 layout is Facebook's: if both adapters read it, the second adds nothing."""
    path = _input(FIXTURES / "instagram" / "inbox_2022")
    monkeypatch.setattr(adapters, "detect", lambda source: ["instagram", "facebook"])
    ws = Workspace(tmp_path / "d")
    result = ingest([path], workspace=ws, me=["ana.lima"])  # (one group chat: who is me is a tie)
    insta, fb = result.sources
    assert insta.kept > 0 and fb.kept == 0
    assert fb.skipped["duplicate"] > 0 and fb.read == fb.kept + sum(fb.skipped.values())
    assert set(ws.messages()["platform"]) == {"instagram"}


def test_unknown_platform_and_unrecognised_export_are_clear_errors(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy milk\n")
    with pytest.raises(IngestError, match="not recognised as a chat export"):
        ingest([tmp_path / "notes"], workspace=Workspace(tmp_path / "d"))
    with pytest.raises(IngestError, match="unknown platform"):
        ingest([tmp_path / "notes"], workspace=Workspace(tmp_path / "d"), platform="myspace")
    assert not (tmp_path / "d" / "messages.parquet").exists()


# --- no duplicates ------------------------------------------------------------------------------

def _dyi_export(root: Path, folder: str, messages) -> Path:
    write_fb_thread(root, folder, "Alice Example", messages, [ME, "Alice Example"])
    return root


def test_old_and_new_facebook_exports_overlap(tmp_path):
    old = [("Alice Example", T0 + i * S, f"message {i}") for i in range(5)]
    new = [*old, (ME, T0 + 10 * S, "a newer one"), ("Alice Example", T0 + 11 * S, "and another")]
    _dyi_export(tmp_path / "old", "alice_123", old)
    # the 2025 layout puts the same thread under another root
    _dyi_export(tmp_path / "new" / "your_facebook_activity", "alice_123", new)
    ws = Workspace(tmp_path / "d")
    first = ingest([tmp_path / "old"], workspace=ws)
    second = ingest([tmp_path / "new"], workspace=ws)
    assert (first.added, second.added) == (5, 2)
    assert second.sources[0].skipped == {"duplicate": 5}
    assert len(ws.messages()) == 7 and ws.messages()["thread_id"].nunique() == 1


def _dyi_and_e2ee(tmp_path: Path) -> tuple[Path, Path]:
    dyi = [("Alice Example", T0, "hi"), (ME, T0 + 5 * S, "hello"), ("Alice Example", T0 + 9 * S, "café?")]
    # the E2EE copy repeats the last two (same second, other milliseconds) and goes on
    e2ee = [(ME, T0 + 5 * S + 321, "hello"), ("Alice Example", T0 + 9 * S + 7, "café?"),
            (ME, T0 + 60 * S, "sure"), ("Alice Example", T0 + 61 * S, "hello")]
    _dyi_export(tmp_path / "dyi", "alice_ABC", dyi)
    _e2ee_file(tmp_path / "e2ee", "alice_1", "Alice Example", [ME, "Alice Example"], e2ee)
    return tmp_path / "dyi", tmp_path / "e2ee"


@pytest.mark.parametrize("order", ["dyi first", "e2ee first", "together"])
def test_dyi_and_e2ee_copies_of_a_thread_become_one(tmp_path, order):
    dyi, e2ee = _dyi_and_e2ee(tmp_path)
    ws = Workspace(tmp_path / "d")
    if order == "together":
        results = [ingest([dyi, e2ee], workspace=ws)]
    else:
        first, second = (dyi, e2ee) if order == "dyi first" else (e2ee, dyi)
        results = [ingest([first], workspace=ws), ingest([second], workspace=ws)]
    table = ws.messages()
    assert list(table["thread_id"].unique()) == ["facebook:alice_ABC"]
    assert set(table["thread_title"]) == {"Alice Example"}
    assert list(table["text"]) == ["hi", "hello", "café?", "sure", "hello"]  # each message once, in time order
    reports = [r for res in results for r in res.sources]
    assert sum(r.skipped.get("duplicate", 0) for r in reports) == 2
    assert sum(r.kept for r in reports) == 5
    assert all(r.read == r.kept + sum(r.skipped.values()) for r in reports)
    assert table.loc[table["sender"] == ME, "is_me"].all() and not table.loc[table["sender"] != ME, "is_me"].any()
    again = ingest([dyi, e2ee], workspace=ws)
    assert again.added == 0 and len(ws.messages()) == 5


def test_threads_are_not_joined_when_the_match_is_ambiguous(tmp_path):
    """Two friends called Alice Example on Facebook: the E2EE thread could be either, so it stays apart."""
    _dyi_export(tmp_path / "dyi", "alice_1", [("Alice Example", T0, "one")])
    _dyi_export(tmp_path / "dyi", "alice_2", [("Alice Example", T0 + S, "two")])
    _e2ee_file(tmp_path / "e2ee", "alice_1", "Alice Example", [ME, "Alice Example"],
               [("Alice Example", T0 + 9 * S, "three")])
    ws = Workspace(tmp_path / "d")
    result = ingest([tmp_path / "dyi", tmp_path / "e2ee"], workspace=ws)
    assert result.merged_threads == 0 and ws.messages()["thread_id"].nunique() == 3


# --- who is me ----------------------------------------------------------------------------------

def _whatsapp(path: Path, me: str, friend: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"13/01/2020, 09:16 - {friend}: oi\n13/01/2020, 09:17 - {me}: hey\n"
                    f"13/01/2020, 09:18 - {friend}: tudo bem?\n", encoding="utf-8")
    return path


def test_me_is_inferred_per_platform_and_matched_across_them(tmp_path):
    conversation_export(tmp_path / "fb")  # Sam Carter talks with two friends
    chat = _whatsapp(tmp_path / "wa" / "WhatsApp Chat with Zed.txt", ME, "Zed")  # one chat: a tie on its own
    result = ingest([tmp_path / "fb", chat], workspace=Workspace(tmp_path / "d"))
    fb, wa = result.me_by_platform["facebook"], result.me_by_platform["whatsapp"]
    assert (fb.names, fb.how, fb.threads, fb.of_threads) == ([ME], "inferred", 2, 2)
    assert (wa.names, wa.how) == ([ME], "matched")
    assert result.me == [ME] and result.me_inferred


def test_me_given_with_different_names_per_platform_is_remembered(tmp_path):
    conversation_export(tmp_path / "fb")
    chat = _whatsapp(tmp_path / "wa" / "WhatsApp Chat with Zed.txt", "Sammy", "Zed")
    ws = Workspace(tmp_path / "d")
    result = ingest([tmp_path / "fb", chat], workspace=ws, me=[ME, "sammy"])  # case does not matter
    assert {p: (c.names, c.how) for p, c in result.me_by_platform.items()} == {
        "facebook": ([ME], "given"), "whatsapp": (["Sammy"], "given")}
    assert not result.me_inferred
    table = ws.messages()
    assert set(table.loc[table["is_me"], "sender"]) == {ME, "Sammy"}
    later = ingest([_whatsapp(tmp_path / "wa2" / "WhatsApp Chat with Yan.txt", "Sammy", "Yan")], workspace=ws)
    assert later.me_by_platform["whatsapp"].how == "given"  # the names given before still hold


def test_the_owner_named_by_the_export_wins_over_inference(tmp_path):
    result = ingest([_input(FIXTURES / "hangouts" / "takeout_2019")], workspace=Workspace(tmp_path / "d"))
    assert result.me_by_platform["hangouts"].how == "export"


def test_resolve_me_prefers_the_name_present_across_platforms():
    import pandas as pd

    from ingest import schema

    rows = [  # on slack "ana" and "bob" are each in one thread; ana is also on telegram
        ("slack", "s1", "ana"), ("slack", "s1", "cy"), ("slack", "s2", "bob"), ("slack", "s2", "di"),
        ("telegram", "t1", "Ana"), ("telegram", "t1", "eve"), ("telegram", "t2", "Ana"), ("telegram", "t2", "fay"),
    ]
    table = schema.conform([{"platform": p, "source": "x", "thread_id": t, "sender": s, "timestamp": T0 + i,
                             "text": "x"} for i, (p, t, s) in enumerate(rows)])
    choices = resolve_me(table, given=[])
    assert choices["telegram"].names == ["Ana"] and choices["telegram"].how == "inferred"
    assert choices["slack"].names == ["ana"] and choices["slack"].how == "matched"
    assert norm_name("  Zoë   O'Neil ") == norm_name("zoe o'neil")
    assert isinstance(pd.Timestamp(0), pd.Timestamp)
