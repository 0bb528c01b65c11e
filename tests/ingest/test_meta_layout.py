"""Meta JSON family (facebook, instagram, messenger_e2ee): which adapter claims which file, thread
parts out of the archive's structure, the owner the export names, participants and empty files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest import adapters
from ingest.adapters import _meta, facebook, instagram, messenger_e2ee
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures"
LONE = {
    "facebook": FIXTURES / "facebook" / "lone_message_json" / "input" / "message_1.json",
    "instagram": FIXTURES / "instagram" / "lone_file" / "input" / "message_1.json",
}


def _write(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


def _thread(title: str, msgs: list[tuple[str, int, str]], people: list[str], path: str | None = None) -> dict:
    doc = {"participants": [{"name": p} for p in people],
           "messages": [{"sender_name": s, "timestamp_ms": t, "content": c} for s, t, c in msgs], "title": title,
           "is_still_participant": True}
    if path:
        doc["thread_path"] = path
    return doc


# --- which adapter claims a lone file ----------------------------------------------------------

@pytest.mark.parametrize("platform", sorted(LONE))
def test_detect_on_a_lone_file_returns_exactly_one_platform(platform):
    with open_source(LONE[platform]) as s:
        assert adapters.detect(s) == [platform]


def test_a_lone_instagram_file_without_instagram_signs_is_facebooks_alone(tmp_path):
    """2023 onward, Instagram's records look like Facebook's: the content cannot tell, and exactly one
    adapter (facebook) claims the file, so that it is never read twice. Named, instagram reads it."""
    doc = json.loads((FIXTURES / "instagram" / "activity_2025" / "input" / "your_instagram_activity" / "messages"
                      / "inbox" / "instagramuser_17841400000000002" / "message_1.json").read_text())
    lone = _write(tmp_path / "message_1.json", doc)
    with open_source(lone) as s:
        assert adapters.detect(s) == ["facebook"]
        assert list(instagram.read(s)["thread_id"]) == ["instagram:instagramuser_17841400000000002"]


def test_a_named_adapter_reads_the_other_ones_lone_file():
    with open_source(LONE["instagram"]) as s:  # Instagram's by its signs: --platform facebook still reads it
        assert not facebook.detect(s)
        assert set(facebook.read(s)["thread_id"]) == {"facebook:ritamarques_5566778899"}


def test_a_renamed_lone_thread_file_is_recognised_by_its_content(tmp_path):
    renamed = tmp_path / "chat with maria.json"
    shutil.copy(LONE["facebook"], renamed)
    with open_source(renamed) as s:
        assert adapters.detect(s) == ["facebook"]
        frame = facebook.read(s)
    assert set(frame["thread_id"]) == {"facebook:mariasilva_Kp33Lm44"} and len(frame) == 4


def test_a_renamed_file_with_its_keys_reordered(tmp_path):
    doc = json.loads(LONE["facebook"].read_text())
    lone = tmp_path / "maria.json"
    lone.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")  # "image", ..., "messages", "participants"
    with open_source(lone) as s:
        assert adapters.detect(s) == ["facebook"]


def test_a_bare_message_list_carries_no_mark(tmp_path):
    bare = _write(tmp_path / "export.json", {"messages": [{"sender_name": "A", "timestamp_ms": 1600000000000, "content": "x"}]})
    with open_source(bare) as s:
        assert not facebook.detect(s) and not instagram.detect(s)
        assert list(facebook.read(s)["thread_id"]) == ["facebook:export"]  # named: read as one thread


def test_an_empty_lone_file_is_not_claimed(tmp_path):
    (tmp_path / "message_1.json").write_bytes(b"")
    with open_source(tmp_path / "message_1.json") as s, pytest.raises(IngestError, match=r"is empty \(0 bytes\)"):
        adapters.detect(s)


def test_a_damaged_lone_file_says_so(tmp_path):
    lone = _write(tmp_path / "message_1.json", '{"participants": [{"name": "A"}], "messages": [{"sender_')
    with open_source(lone) as s:
        assert adapters.detect(s) == ["facebook"]
        with pytest.raises(IngestError, match="is not valid JSON"):
            facebook.read(s)


def test_an_e2ee_chat_named_message_is_e2ees(tmp_path):
    _write(tmp_path / "message_1.json", {"participants": ["Ana", "Rui"], "threadName": "message",
                                         "messages": [{"senderName": "Rui", "text": "oi", "timestamp": 1700000000000}]})
    with open_source(tmp_path) as s:
        assert adapters.detect(s) == ["messenger_e2ee"]
        assert list(messenger_e2ee.read(s)["text"]) == ["oi"]


def test_detection_looks_at_a_few_files_only(tmp_path, monkeypatch):
    for i in range(40):
        _write(tmp_path / f"t{i:02d}" / "message_1.json",
               _thread(f"T{i}", [("A", 1700000000000 + i, "hi")], ["A", "B"], f"inbox/t{i:02d}_X"))
    with open_source(tmp_path) as s:
        opened = []
        real = s.open
        monkeypatch.setattr(s, "open", lambda rel: opened.append(rel) or real(rel))
        assert facebook.detect(s) and not instagram.detect(s)
        assert len(opened) <= _meta._PEEK_FILES
        assert s.unread() == s.files()  # a look is not a read


# --- loose thread parts ------------------------------------------------------------------------

def test_loose_parts_keep_the_ids_of_the_whole_archive(tmp_path):
    """Grouped by thread_path, loose parts give the thread the id the archive's folder gives it."""
    loose = FIXTURES / "facebook" / "loose_folder" / "input"
    archive = tmp_path / "archive"
    for name, folder in (("message_1.json", "inbox/joaopereira_Ab12Cd34"),
                         ("message_2.json", "inbox/joaopereira_Ab12Cd34"),
                         ("message_1 (1).json", "archived_threads/trilhos_Qr56St78")):
        target = archive / "messages" / folder / name.replace(" (1)", "")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(loose / name, target)
    with open_source(loose) as s:
        a = facebook.read(s)
    with open_source(archive) as s:
        b = facebook.read(s)
    a = a[a["thread_id"] != "facebook:viagem2019_Mn45Op67"]
    assert list(a["message_id"]) == list(b["message_id"]) and list(a["thread_id"]) == list(b["thread_id"])


def test_thread_folders_without_their_parents(tmp_path):
    shutil.copytree(FIXTURES / "facebook" / "dyi_2020" / "input" / "messages" / "inbox", tmp_path / "x")
    with open_source(FIXTURES / "facebook" / "dyi_2020" / "input") as s:
        whole = facebook.read(s)
    with open_source(tmp_path / "x") as s:
        assert adapters.detect(s) == ["facebook"]
        part = facebook.read(s)
    assert list(part["message_id"]) == list(whole["message_id"])
    assert part.attrs["skipped"] == whole.attrs["skipped"]


def test_parts_without_thread_path_group_by_title_and_participants(tmp_path):
    _write(tmp_path / "message_1.json", _thread("Ana Lima", [("Ana Lima", 1700000002000, "new")], ["Ana Lima", "Me"]))
    _write(tmp_path / "message_2.json", _thread("Ana Lima", [("Ana Lima", 1700000001000, "old")], ["Ana Lima", "Me"]))
    _write(tmp_path / "message_1 (1).json", _thread("Rui", [("Rui", 1700000000000, "oi")], ["Rui", "Me"]))
    _write(tmp_path / "message_1 (2).json", _thread("Ana Lima", [("Ana Lima", 1700000003000, "x")], ["Ana Lima", "Bo"]))
    with open_source(tmp_path) as s:
        frame = facebook.read(s)
    got = frame.groupby("thread_id", sort=True)["text"].apply(list).to_dict()
    assert got == {"facebook:analima": ["old", "new"], "facebook:analima_2": ["x"], "facebook:rui": ["oi"]}
    by_source = dict(zip(frame["text"], frame["source"], strict=True))
    assert by_source["old"] == "message_2.json" and by_source["new"] == "message_1.json"


def test_instagram_loose_folder_is_instagrams(tmp_path):
    doc = json.loads(LONE["instagram"].read_text())
    _write(tmp_path / "ritamarques_5566778899" / "message_1.json", doc)
    _write(tmp_path / "ritamarques_5566778899" / "message_2.json", {**doc, "messages": [
        {"sender_id_INTERNAL": 0, "sender_name": "ana.lima", "timestamp_ms": 1645000000000, "content": "antes"}]})
    with open_source(tmp_path) as s:
        assert adapters.detect(s) == ["instagram"]
        frame = instagram.read(s)
    assert set(frame["thread_id"]) == {"instagram:ritamarques_5566778899"}
    assert frame["text"].iloc[0] == "antes" and frame["source"].iloc[0] == "ritamarques_5566778899/message_2.json"


# --- the owner ---------------------------------------------------------------------------------

@pytest.mark.parametrize("where, doc", [
    ("profile_information/profile_information.json", {"profile": {"name": {"full_name": "Jos\u00c3\u00a9 Silva"}}}),
    ("your_facebook_activity/personal_information/profile_information/profile_information.json",
     {"profile_v2": {"name": {"full_name": " José Silva "}}}),
])
def test_facebook_owner_from_the_profile(tmp_path, where, doc):
    shutil.copytree(FIXTURES / "facebook" / "dyi_2020" / "input", tmp_path / "x")
    _write(tmp_path / "x" / where, doc)
    with open_source(tmp_path / "x") as s:
        frame = facebook.read(s)
        assert s.unread() == []
    assert frame.attrs["me"] == ["José Silva"]


@pytest.mark.parametrize("text", ["{not json", "[]", '{"profile_v2": {"name": "Jo"}}', '{"profile_v2": null}'])
def test_a_damaged_profile_names_nobody_and_sinks_nothing(tmp_path, text):
    shutil.copytree(FIXTURES / "facebook" / "dyi_2020" / "input", tmp_path / "x")
    _write(tmp_path / "x" / "profile_information" / "profile_information.json", text)
    with open_source(tmp_path / "x") as s:
        frame = facebook.read(s)
    assert frame.attrs["me"] == [] and len(frame) > 0


def test_instagram_owner_in_the_old_layout(tmp_path):
    shutil.copytree(FIXTURES / "instagram" / "inbox_2022" / "input", tmp_path / "x")
    _write(tmp_path / "x" / "personal_information" / "personal_information.json", {"profile_user": [{
        "string_map_data": {"Name": {"href": "", "value": "Ana Lima", "timestamp": 0},
                            "Username": {"href": "", "value": "ana.lima", "timestamp": 0}}}]})
    with open_source(tmp_path / "x") as s:
        assert instagram.read(s).attrs["me"] == ["Ana Lima", "ana.lima"]


# --- participants, empty files, members read ----------------------------------------------------

def test_participants_of_every_thread():
    with open_source(FIXTURES / "facebook" / "dyi_2020" / "input") as s:
        fb = facebook.read(s)
    assert set(fb.attrs["participants"]) == set(fb["thread_id"])
    with open_source(FIXTURES / "instagram" / "inbox_2022" / "input") as s:
        ig = instagram.read(s)
    assert ig.attrs["participants"] == {"instagram:carladias_4455667788": ["ana.lima", "bruno_c", "carla"]}
    with open_source(FIXTURES / "messenger_e2ee" / "secure_storage_2024" / "input") as s:
        e2ee = messenger_e2ee.read(s)
    assert set(e2ee.attrs["participants"]) == set(e2ee["thread_id"])
    assert all(names for names in e2ee.attrs["participants"].values())


def test_empty_thread_files_are_reported_by_each_adapter(tmp_path):
    _write(tmp_path / "fb" / "messages" / "inbox" / "a_1" / "message_1.json", _thread("A", [], ["A", "B"]))
    _write(tmp_path / "fb" / "messages" / "inbox" / "b_2" / "message_1.json",
           _thread("B", [("B", 1700000000000, "hi")], ["B", "A"]))
    with open_source(tmp_path / "fb") as s:
        frame = facebook.read(s)
    assert frame.attrs["empty_files"] == ["messages/inbox/a_1/message_1.json"] and len(frame) == 1
    assert frame.attrs["participants"]["facebook:a_1"] == ["A", "B"]
    _write(tmp_path / "e2ee" / "Ana_1.json", {"participants": ["Ana", "Me"], "threadName": "Ana", "messages": []})
    with open_source(tmp_path / "e2ee") as s:
        assert messenger_e2ee.read(s).attrs["empty_files"] == ["Ana_1.json"]


def test_members_read_by_worker_processes_are_counted_as_read(tmp_path, monkeypatch):
    from bench.ingest import write_facebook

    write_facebook(tmp_path / "export", 3000, 12)
    monkeypatch.setattr(facebook, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(facebook, "_TASK_BYTES", 1)
    monkeypatch.setattr(facebook, "_cores", lambda: 3)
    with open_source(tmp_path / "export") as s:
        assert facebook.detect(s)
        s.forget_reads()
        frame = facebook.read(s)
        assert s.unread() == []
    assert len(frame) + sum(frame.attrs["skipped"].values()) == 3000
