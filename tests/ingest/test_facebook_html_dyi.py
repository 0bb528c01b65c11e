"""facebook_html: the DYI HTML pages of every generation, wall-clock times in --tz, the owner's
name in any order, and thread files that hold nothing (never silent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest import schema, times
from ingest.adapters import facebook_html
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "facebook_html"

# The 2024 markup: generated class names, the sender in one div, the text in another, the time last.
PAGE = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><title>{title}</title></head><body>'
        '<div class="_a705"><div class="_a70d"><h1>{title}</h1></div>{header}<div class="_a706" role="main">'
        '{messages}</div></div></body></html>')
MSG = ('<div class="_3-95 _a6-g"><div class="_2ph_ _a6-h _a6-i">{who}</div><div class="_2ph_ _a6-p"><div>'
       '<div></div><div>{text}</div><div></div><div></div></div></div><div class="_3-94 _a6-o">{when}</div></div>')
# Another 2024 shape seen in the wild: <section>, the sender in <h2>, the time in a <footer>.
SECTION = ('<section class="_a6-g"><h2 class="_2ph_ _a6-h _a6-i">{who}</h2><div class="_2ph_ _a6-p"><div>'
           '<div class="_2pin"><div>{text}</div></div></div></div><footer class="_3-94 _a6-o"><a href="#">'
           '<div class="_a72d">{when}</div></a></footer></section>')


def _thread(root: Path, folder: str, messages: list[tuple[str, str, str]], *, title: str = "Bruno Costa",
            header: str = "", shape: str = MSG, n: int = 1) -> Path:
    path = root / folder / f"message_{n}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(shape.format(who=w, text=t, when=when) for w, t, when in messages)
    path.write_text(PAGE.format(title=title, header=header, messages=body), encoding="utf-8")
    return root


def _read(root: Path, tz: str | None = None):
    with open_source(root, tz=times.zone(tz) if tz else None) as s:
        assert facebook_html.detect(s)
        return facebook_html.read(s)


@pytest.mark.parametrize("section", [
    "your_facebook_activity/messages/inbox", "your_activity_across_facebook/messages/inbox",
    "messages/inbox", "your_facebook_activity/messages/archived_threads", "messages/e2ee_cutover",
])
@pytest.mark.parametrize("later, earlier", [
    ("Mar 12, 2024 11:03:54pm", "Mar 12, 2024 11:02:10pm"),
    ("Mar 12, 2024, 11:03:54 PM", "Mar 12, 2024, 11:02:10 PM"),
    ("12 Mar 2024, 23:03:54", "12 Mar 2024, 23:02:10"),
    ("Mar 12, 2024 11:03 pm", "Mar 12, 2024 11:02 pm"),
    ("12 mars 2024 à 23:03", "12 mars 2024 à 23:02"),
    ("12. März 2024 um 23:03", "12. März 2024 um 23:02"),
])
def test_2024_thread_in_every_root_and_time_layout(tmp_path, section, later, earlier):
    root = _thread(tmp_path, f"{section}/brunocosta_10158234567",
                   [("Ana Lima", "tudo ótimo", later), ("Bruno Costa", "olá, tudo bem?", earlier)])
    frame = _read(root)
    assert list(frame["text"]) == ["olá, tudo bem?", "tudo ótimo"]
    assert list(frame["sender"]) == ["Bruno Costa", "Ana Lima"]
    assert set(frame["thread_id"]) == {"facebook_html:brunocosta_10158234567"}
    assert set(frame["thread_title"]) == {"Bruno Costa"}  # the title the JSON export gives the same thread
    assert not frame["is_group"].any()
    assert frame["timestamp"].iloc[1].strftime("%Y-%m-%d %H:%M") == "2024-03-12 23:03"
    assert frame.attrs["empty_files"] == [] and frame.attrs["skipped"] == {}


@pytest.mark.parametrize("count", [1, 3])
def test_section_h2_footer_shape(tmp_path, count):
    stamps = ["Jul 2, 2024 9:15:02am", "Jul 2, 2024 9:14:40am", "Jul 1, 2024 11:59:59pm"][:count]
    root = _thread(tmp_path, "your_facebook_activity/messages/inbox/brunocosta_1",
                   [("Bruno Costa", f"message {i}", when) for i, when in enumerate(stamps)], shape=SECTION)
    frame = _read(root)
    assert list(frame["text"]) == [f"message {i}" for i in reversed(range(count))]
    assert set(frame["sender"]) == {"Bruno Costa"}
    assert frame["timestamp"].iloc[-1].isoformat() == "2024-07-02T09:15:02+00:00"


def test_times_are_read_in_tz_and_ids_do_not_depend_on_it():
    frames = {tz: _read(FIXTURES / "dyi_2024" / "input", tz) for tz in ("UTC", "Europe/Berlin", "America/New_York")}
    utc, berlin, ny = frames["UTC"], frames["Europe/Berlin"], frames["America/New_York"]
    assert list(utc["message_id"]) == list(berlin["message_id"]) == list(ny["message_id"])
    # "Jul 2, 2024 9:15:02am": 07:15:02 UTC in Berlin (summer), 13:15:02 UTC in New York
    last = utc["text"] == "até já 😘"
    assert utc.loc[last, "timestamp"].iloc[0].isoformat() == "2024-07-02T09:15:02+00:00"
    assert berlin.loc[last, "timestamp"].iloc[0].isoformat() == "2024-07-02T07:15:02+00:00"
    assert ny.loc[last, "timestamp"].iloc[0].isoformat() == "2024-07-02T13:15:02+00:00"
    # the id is the one of the wall-clock time as written
    wall = int(utc.loc[last, "timestamp"].iloc[0].timestamp() * 1000)
    row = berlin[last].iloc[0]
    assert row["message_id"] == schema.message_id("facebook_html", row["thread_id"], row["sender_id"], wall, row["text"])


def test_ids_of_2019_threads_are_those_ingested_before_zones_were_applied():
    frame = _read(FIXTURES / "dyi_html_2019" / "input", "Asia/Tokyo")
    row = frame.iloc[0]  # "Dec 31, 2019, 11:59 PM", which earlier versions took as UTC
    assert row["timestamp"].isoformat() == "2019-12-31T14:59:00+00:00"
    assert row["message_id"] == schema.message_id("facebook_html", row["thread_id"], row["sender_id"],
                                                  1577836740000, row["text"])


def test_participants_title_and_group_from_the_header(tmp_path):
    header = '<div class="_a70f"><div>Teilnehmer:</div><div>Ana Lima, Bruno Costa, Carla Dias</div></div>'
    root = _thread(tmp_path, "messages/inbox/wochenende_1", title="Wochenende", header=header,
                   messages=[("Carla Dias", "ich bringe Kuchen", "12. Juli 2024, 19:31"),
                             ("Ana Lima", "Freitag um 20 Uhr?", "12. Juli 2024, 19:30")])
    frame = _read(root)
    assert list(frame["text"]) == ["Freitag um 20 Uhr?", "ich bringe Kuchen"]
    assert set(frame["thread_title"]) == {"Wochenende"}
    assert frame["is_group"].all()  # two wrote, three are listed
    assert frame.attrs["participants"] == {"facebook_html:wochenende_1": ["Ana Lima", "Bruno Costa", "Carla Dias"]}


def test_title_from_the_first_heading_when_the_page_has_none(tmp_path):
    root = _thread(tmp_path, "messages/inbox/jantar_1", title="",
                   messages=[("Ana Lima", "sexta às 20h?", "Jul 12, 2024 7:30:05pm")])
    page = root / "messages/inbox/jantar_1/message_1.html"
    page.write_text(page.read_text(encoding="utf-8").replace("<h1></h1>", "<h1>Jantar de sexta</h1>"), encoding="utf-8")
    assert set(_read(root)["thread_title"]) == {"Jantar de sexta"}


def test_dyi_page_with_no_readable_time_is_an_empty_file_not_silence(tmp_path):
    root = _thread(tmp_path, "messages/inbox/bruno_1", [("Bruno Costa", "oi", "12 Brumaire 2024, 23:03")])
    _thread(root, "messages/inbox/bruno_1", [("Bruno Costa", "olá", "Mar 12, 2024 11:03pm")], n=2)
    frame = _read(root)
    assert list(frame["text"]) == ["olá"]
    assert frame.attrs["empty_files"] == ["messages/inbox/bruno_1/message_1.html"]


def test_legacy_file_with_no_thread_is_an_empty_file(tmp_path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "messages.htm").write_text(
        '<html><body><div class="contents"><h1>Ana Lima</h1><div></div></div></body></html>', encoding="utf-8")
    frame = _read(tmp_path)
    assert len(frame) == 0
    assert frame.attrs["empty_files"] == ["html/messages.htm"]
    assert frame.attrs["me"] == ["Ana Lima"]


def test_split_thread_file_without_messages_is_an_empty_file(tmp_path):
    shutil.copytree(FIXTURES / "header_2018" / "input", tmp_path / "x")
    (tmp_path / "x" / "messages" / "2.html").write_text(
        '<html><body><div class="thread"><h3>Conversation with Facebook User</h3>Participants: Facebook User'
        "</div></body></html>", encoding="utf-8")
    frame = _read(tmp_path / "x")
    assert frame.attrs["empty_files"] == ["messages/2.html"]
    assert "blocked you later" not in set(frame["text"])


def test_owner_written_last_name_first_is_the_owner_everywhere(tmp_path):
    msg = ('<div class="message"><div class="message_header"><span class="user">{who}</span>'
           '<span class="meta">Friday, October 4, 2013 at 10:0{n}pm UTC</span></div></div><p>{text}</p>')
    body = "".join(f'<div class="thread">{parts}' + "".join(msg.format(who=w, n=n, text=t) for n, (w, t) in enumerate(ms))
                   + "</div>" for parts, ms in [
                       ("Carter Sam, Bruno Costa", [("Bruno Costa", "hi"), ("Carter Sam", "hello")]),
                       ("sam carter, Bruno Costa", [("SAM CARTER", "again")]),
                       ("Sam J. Carter, Diana Prince", [("Sam J. Carter", "a namesake?")])])
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "messages.htm").write_text(
        f'<html><body><div class="contents"><h1>Sam Carter</h1><div>{body}</div></div></body></html>', encoding="utf-8")
    frame = _read(tmp_path)
    mine = frame[frame["is_me"]]
    assert set(mine["sender"]) == set(mine["sender_id"]) == {"Sam Carter"}
    assert sorted(mine["text"]) == ["again", "hello"]
    assert frame.groupby("thread_id")["is_group"].first().to_dict() == {
        "facebook_html:Bruno Costa": False, "facebook_html:Diana Prince, Sam J. Carter": True}
    assert frame.attrs["me"] == ["Carter Sam", "SAM CARTER", "Sam Carter", "sam carter"]
    assert frame.attrs["participants"]["facebook_html:Bruno Costa"] == ["Bruno Costa", "Sam Carter"]


def test_golden_2024_fixture_lists_what_it_holds():
    case = FIXTURES / "dyi_2024"
    frame = _read(case / "input", (case / "tz.txt").read_text().strip())
    assert frame.attrs["empty_files"] == json.loads((case / "expected_empty_files.json").read_text())
    assert frame.attrs["skipped"] == {"bad_record": 1, "reaction": 1, "system": 1}


def test_a_date_in_the_header_is_not_a_message(tmp_path):
    header = '<div class="_a70g"><div>Generated by Ana Lima</div><div>Mar 13, 2024 8:00:00am</div></div>'
    root = _thread(tmp_path, "messages/inbox/bruno_1", header=header, messages=[
        ("Ana Lima", "tudo ótimo", "Mar 12, 2024 11:03:54pm"), ("Bruno Costa", "olá", "Mar 12, 2024 11:02:10pm")])
    frame = _read(root)
    assert list(zip(frame["sender"], frame["text"], strict=True)) == [("Bruno Costa", "olá"), ("Ana Lima", "tudo ótimo")]
    assert frame.attrs["skipped"] == {}


def test_a_message_box_with_only_a_time_is_a_bad_record(tmp_path):
    root = _thread(tmp_path, "messages/inbox/bruno_1", messages=[
        ("Ana Lima", "tudo ótimo", "Mar 12, 2024 11:03:54pm"), ("", "", "Mar 12, 2024 11:02:30pm"),
        ("Bruno Costa", "olá", "Mar 12, 2024 11:02:10pm")])
    frame = _read(root)
    assert list(frame["text"]) == ["olá", "tudo ótimo"]
    assert frame.attrs["skipped"] == {"bad_record": 1}
