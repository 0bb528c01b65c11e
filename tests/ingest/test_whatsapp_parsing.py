"""WhatsApp .txt parsing rules that the golden fixtures do not pin down on their own."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.adapters import whatsapp
from ingest.errors import IngestError
from ingest.source import open_source


def _read(tmp_path: Path, text: str, name: str = "WhatsApp Chat with Ana.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with open_source(path) as source:
        return whatsapp.read(source)


def _days(frame) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M}" for t in frame["timestamp"]]


def test_ambiguous_dates_fall_back_to_day_first(tmp_path):
    frame = _read(tmp_path, "02/03/20, 10:00 - Ana: one\n02/03/20, 10:05 - Bo: two\n")
    assert _days(frame) == ["2020-03-02 10:00", "2020-03-02 10:05"]


def test_ambiguous_dates_take_the_order_that_runs_forward(tmp_path):
    text = "1/5/20, 10:00 - Ana: a\n1/12/20, 10:00 - Bo: b\n2/3/20, 10:00 - Ana: c\n"
    assert _days(_read(tmp_path, text)) == ["2020-01-05 10:00", "2020-01-12 10:00", "2020-02-03 10:00"]


def test_a_second_field_above_12_means_month_first(tmp_path):
    frame = _read(tmp_path, "01/02/20, 10:00 - Ana: a\n01/13/20, 10:00 - Bo: b\n")
    assert _days(frame) == ["2020-01-02 10:00", "2020-01-13 10:00"]


def test_twelve_hour_clock_edges(tmp_path):
    text = ("3/14/21, 12:05\u202fAM - Ana: midnight\n3/14/21, 12:05\u202fPM - Ana: noon\n"
            "3/14/21, 1:05 p.\u00a0m. - Bo: afternoon\n")
    assert _days(_read(tmp_path, text)) == ["2021-03-14 00:05", "2021-03-14 12:05", "2021-03-14 13:05"]


def test_message_text_keeps_its_own_special_spaces(tmp_path):
    frame = _read(tmp_path, "14/03/21, 10:00 - Ana: bonjour\u202f!\n")
    assert frame["text"].tolist() == ["bonjour\u202f!"]


def test_a_colon_name_writing_once_is_split_at_the_first_colon(tmp_path):
    frame = _read(tmp_path, "14/03/21, 10:00 - Dr: Who: hello\n14/03/21, 10:01 - Ana: hi\n")
    assert frame["sender"].tolist() == ["Dr", "Ana"]
    assert frame["text"].tolist() == ["Who: hello", "hi"]


def test_ios_zip_chat_takes_the_zip_name(tmp_path):
    path = tmp_path / "WhatsApp Chat - Lea Kraus.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("_chat.txt", "\u200e[04.01.18, 11:54:03] Lea Kraus: Hallo\n[04.01.18, 11:55:00] Max: hi\n")
        zf.writestr("00000003-PHOTO-2018-01-04-11-55-10.jpg", b"\xff\xd8")
    with open_source(path) as source:
        assert whatsapp.detect(source)
        frame = whatsapp.read(source)
    assert set(frame["thread_id"]) == {"whatsapp:WhatsApp Chat - Lea Kraus"}
    assert set(frame["thread_title"]) == {"Lea Kraus"}
    assert frame["source"].tolist() == ["_chat.txt", "_chat.txt"]


@pytest.mark.parametrize("text", [
    "Shopping list\n12/01/2018, 10:00 - not first\n",  # header not on the first line
    "[2019-12-24, 12:23] Jane Doe: Hello John!\n",  # Signal (signal-export)
    "",
])
def test_detect_refuses_other_text_files(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text, encoding="utf-8")
    with open_source(path) as source:
        assert not whatsapp.detect(source)
        with pytest.raises(IngestError, match="no WhatsApp chat"):
            whatsapp.read(source)


def test_detect_refuses_a_header_in_a_non_txt_file(tmp_path):
    path = tmp_path / "chat.csv"
    path.write_text("12/01/2018, 10:00 - Ana: hi\n", encoding="utf-8")
    with open_source(path) as source:
        assert not whatsapp.detect(source)


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "WhatsApp Chat with Ana.txt"
    path.write_bytes("12/01/2018, 10:00 - Ana: café secreto\n".encode("latin-1"))
    with open_source(path) as source:
        assert whatsapp.detect(source)
        with pytest.raises(IngestError) as err:
            whatsapp.read(source)
    message = err.value.one_line()
    assert "WhatsApp Chat with Ana.txt" in message and "UTF-8" in message
    assert "secreto" not in message and "Ana:" not in message


def test_system_lines_and_group_notices(tmp_path):
    text = ("12/01/2018, 10:00 - +12 345 578 created group \"Trip: 2018\"\n"
            "12/01/2018, 10:01 - You were added\n"
            "12/01/2018, 10:02 - Ana: hi\n12/01/2018, 10:03 - Bo: hey\n")
    frame = _read(tmp_path, text)
    assert frame["text"].tolist() == ["hi", "hey"]
    assert frame["is_group"].all()  # two people wrote, but the notices say it is a group
    assert frame.attrs["skipped"] == {"system": 2}
