"""facebook_html: bad input, zips, timestamps, the DYI HTML layouts."""

from __future__ import annotations

import shutil
import zipfile
from itertools import count
from pathlib import Path

import pytest

from ingest import times
from ingest.adapters import _fb_html, facebook, facebook_html
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "facebook_html"
HEAD = '<html><head><title>x</title></head><body><div class="contents"><h1>Ana Lima</h1><div>'
MSG = ('<div class="message"><div class="message_header"><span class="user">{who}</span>'
       '<span class="meta">{when}</span></div></div><p>{text}</p>')


def _legacy(tmp_path: Path, body: str) -> Path:
    (tmp_path / "html").mkdir(parents=True, exist_ok=True)
    (tmp_path / "html" / "messages.htm").write_text(HEAD + body + "</div></div></body></html>", encoding="utf-8")
    return tmp_path


def test_zip_read_in_place_gives_the_same_table(tmp_path):
    folder = FIXTURES / "split_2017" / "input"
    archive = tmp_path / "facebook-analima.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.rglob("*"):
            if f.is_file():
                zf.write(f, "facebook-analima/" + f.relative_to(folder).as_posix())
    with open_source(folder) as a, open_source(archive) as b:
        assert facebook_html.detect(b)
        fa, fb = facebook_html.read(a), facebook_html.read(b)
    assert list(fa["text"]) == list(fb["text"])
    assert list(fb["source"]) == ["facebook-analima/" + s for s in fa["source"]]
    assert fb.attrs == fa.attrs


def test_cut_short_file_is_one_error_naming_file_and_line(tmp_path):
    src = _legacy(tmp_path, '<div class="thread">Ana Lima, Bruno Costa' + MSG.format(
        who="Bruno Costa", when="Friday, October 4, 2013 at 10:05pm UTC", text="secret words"))
    path = src / "html" / "messages.htm"
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    with open_source(src) as s, pytest.raises(IngestError) as err:
        facebook_html.read(s)
    assert "messages.htm: line" in err.value.one_line()
    assert "secret" not in err.value.one_line()


def test_not_utf8_is_an_error(tmp_path):
    src = _legacy(tmp_path, "")
    (src / "html" / "messages.htm").write_bytes(b'<html><body><div class="thread">\xff\xfe</div></body></html>')
    with open_source(src) as s, pytest.raises(IngestError, match="not UTF-8"):
        facebook_html.read(s)


def test_error_page_instead_of_messages(tmp_path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "messages.htm").write_text(
        "<html><body><div>There was an error loading the data for this page.</div></body></html>")
    with open_source(tmp_path) as s, pytest.raises(IngestError, match="error page"):
        facebook_html.read(s)


def test_manifest_link_to_a_missing_file(tmp_path):
    shutil.copytree(FIXTURES / "split_2017" / "input", tmp_path / "x")
    (tmp_path / "x" / "messages" / "2.html").unlink()
    with open_source(tmp_path / "x") as s, pytest.raises(IngestError) as err:
        facebook_html.read(s)
    assert "messages.htm: link 3:" in err.value.one_line()


def test_unreadable_times_cost_one_message_each(tmp_path):
    body = '<div class="thread">Ana Lima, Bruno Costa' + "".join(
        MSG.format(who="Bruno Costa", when=w, text=str(i)) for i, w in enumerate([
            "Friday, October 4, 2013 at 10:05pm CST",  # hinted: US Central
            "Friday, October 4, 2013 at 10:05pm IST",  # India, Israel or Ireland: skipped
            "Friday, October 4, 2013 at 10:05pm",  # no zone at all: the wall clock, read in --tz
            "Friday, October 4, 2013 at 10:05pm Nowhere",  # an unknown zone: skipped
            "",  # no time at all
        ])) + "</div>"
    with open_source(_legacy(tmp_path, body), tz=times.zone("America/Chicago")) as s:
        frame = facebook_html.read(s)
    assert list(frame["text"]) == ["2", "0"]
    assert [t.isoformat() for t in frame["timestamp"]] == ["2013-10-05T03:05:00+00:00", "2013-10-05T04:05:00+00:00"]
    assert frame.attrs["skipped"] == {"bad_record": 3}


def test_a_thread_div_without_messages_and_one_without_participants(tmp_path):
    body = ('<div class="thread">Ana Lima, Bruno Costa</div><div class="thread">'
            + MSG.format(who="Zé", when="Friday, October 4, 2013 at 10:05pm UTC+01:00", text="oi") + "</div>")
    with open_source(_legacy(tmp_path, body)) as s:
        frame = facebook_html.read(s)
    assert list(frame["thread_id"]) == ["facebook_html:Facebook User #1"]
    assert frame["timestamp"].iloc[0].isoformat() == "2013-10-04T21:05:00+00:00"


@pytest.mark.parametrize("raw, iso", [
    ("Saturday, July 11, 2015 at 4:10pm UTC+10", "2015-07-11T06:10:00+00:00"),
    ("Sunday, 4 December 2016 at 13:54 UTC+05:30", "2016-12-04T08:24:00+00:00"),
    ("Sonntag, 4. Dezember 2016 um 13:54 UTC-07", "2016-12-04T20:54:00+00:00"),
    ("Friday, October 4, 2013 at 3:26pm Asia/Kuala_Lumpur", "2013-10-04T07:26:00+00:00"),
    ("Friday, October 4, 2013 at 3:26pm America/Los_Angeles", "2013-10-04T22:26:00+00:00"),  # PDT
    ("Friday, December 4, 2015 at 3:26pm America/Los_Angeles", "2015-12-04T23:26:00+00:00"),  # PST
    ("Friday, December 4, 2015 at 3:26pm PST", "2015-12-04T23:26:00+00:00"),
    ("Friday, December 4, 2015 at 3:26pm CET", "2015-12-04T14:26:00+00:00"),
])
def test_timestamps(raw, iso):
    import pandas as pd

    assert pd.Timestamp(_fb_html.legacy_timestamp(raw), unit="ms", tz="UTC").isoformat() == iso


@pytest.mark.parametrize("stamp", ["Oct 19, 2019, 2:37 PM", "Oct 19, 2019 at 2:37 PM", "19 Oct 2019, 14:37"])
def test_dyi_html_time_layouts(stamp):
    page = (f"<!DOCTYPE html><html><head><title>TS</title></head><body><div>Participants: Test User, TS</div>"
            f"<div><div>Test User</div><div>ping</div><div>{stamp}</div></div></body></html>")
    block = facebook_html.parse_dyi_html(page, "message_1.html", count())
    assert [(m.sender, m.text, m.ts) for m in block.messages] == [("Test User", "ping", 1571495820000)]


def test_json_wins_over_html_and_facebook_keeps_the_json():
    with open_source(FIXTURES / "dyi_html_2019" / "input") as s:
        assert facebook.detect(s)
        assert "facebook_html:carladias_Zz99" not in set(facebook_html.read(s)["thread_id"])


def test_json_only_export_is_not_claimed():
    with open_source(Path(__file__).parents[1] / "fixtures" / "facebook" / "dyi_2020" / "input") as s:
        assert not facebook_html.detect(s)


def test_a_legacy_export_without_fbchat_archive_parser_is_one_line_saying_how_to_get_it(tmp_path, monkeypatch):
    """On Python 3.12+ a plain `pip install` leaves fbchat-archive-parser out (its 2018 release does not build
    there): a 2010-2018 export is then one clear error, and a newer HTML export is still read."""
    import sys

    monkeypatch.setitem(sys.modules, "fbchat_archive_parser", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "ingest.adapters._fbcap", raising=False)
    with open_source(FIXTURES / "legacy_2015" / "input") as src, pytest.raises(IngestError) as caught:
        facebook_html.read(src)
    line = caught.value.one_line()
    assert "messages.htm" in line and "fbchat-archive-parser" in line and "make setup" in line
    with open_source(FIXTURES / "dyi_2024" / "input") as src:
        assert len(facebook_html.read(src)) > 0
