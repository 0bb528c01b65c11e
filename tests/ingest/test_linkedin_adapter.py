"""LinkedIn messages.csv: what the golden fixtures do not show (zips, damaged files, odd layouts)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.adapters import linkedin
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "linkedin"
HEADER_2023 = ("CONVERSATION ID,CONVERSATION TITLE,FROM,SENDER PROFILE URL,TO,RECIPIENT PROFILE URLS,"
               "DATE,SUBJECT,CONTENT,FOLDER\n")
ANA = "https://www.linkedin.com/in/ana"
BO = "https://www.linkedin.com/in/bo"


def _read(path: Path):
    with open_source(path) as source:
        return linkedin.read(source)


def _csv(tmp_path: Path, text: str, name: str = "messages.csv", bom: bool = True) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_zip_with_a_top_folder_reads_like_the_folder(tmp_path: Path):
    folder = FIXTURES / "export_2026" / "input"
    archive = tmp_path / "Complete_LinkedInDataExport_01-20-2026.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"Complete_LinkedInDataExport_01-20-2026/{f.name}")
    from_zip, from_dir = _read(archive), _read(folder)
    assert from_zip.drop(columns="source").equals(from_dir.drop(columns="source"))
    assert set(from_zip["source"]) == {"Complete_LinkedInDataExport_01-20-2026/messages.csv"}
    assert from_zip.attrs == from_dir.attrs


def test_coach_files_are_not_messages(tmp_path: Path):
    guide = FIXTURES / "export_2026" / "input" / "guide_messages.csv"
    with open_source(guide) as source:
        assert not linkedin.detect(source)
        with pytest.raises(IngestError, match=r"no messages\.csv"):
            linkedin.read(source)


def test_a_renamed_single_csv_is_read(tmp_path: Path):
    path = _csv(tmp_path, HEADER_2023 + f"c1,,Ana,{ANA},Bo,{BO},2023-01-02 03:04:05 UTC,,hello,INBOX\n",
                name="my linkedin messages.csv")
    with open_source(path) as source:
        assert linkedin.detect(source)
        frame = linkedin.read(source)
    assert list(frame["text"]) == ["hello"]


def test_other_csv_files_are_not_detected(tmp_path: Path):
    (tmp_path / "Connections.csv").write_text("First Name,Last Name,URL\nA,B,https://x\n")
    with open_source(tmp_path) as source:
        assert not linkedin.detect(source)


def test_columns_are_mapped_by_name_in_any_order_and_may_be_missing(tmp_path: Path):
    text = ("DATE,CONTENT,FROM,CONVERSATION ID,SENDER PROFILE URL,EXTRA\n"
            f"2023-01-02 03:04:06 UTC,second,Bo,c1,{BO},x\n"
            f"2023-01-02 03:04:05 UTC,first,Ana,c1,{ANA},y\n")
    frame = _read(_csv(tmp_path, text))
    assert list(frame["text"]) == ["first", "second"]
    assert list(frame["sender_id"]) == [ANA, BO]
    assert list(frame["thread_title"]) == ["Ana, Bo"] * 2  # no owner known: everyone who wrote


def test_truncated_file_is_one_clear_error_without_message_text(tmp_path: Path):
    text = HEADER_2023 + f'c1,,Ana,{ANA},Bo,{BO},2023-01-02 03:04:05 UTC,,"secret words cut sh'
    path = _csv(tmp_path, text)
    with pytest.raises(IngestError) as err:
        _read(path)
    message = err.value.one_line()
    assert str(path) in message and "line 2" in message and "CSV" in message
    assert "secret" not in message


def test_a_file_that_is_not_linkedin_names_the_missing_columns(tmp_path: Path):
    path = _csv(tmp_path, "CONVERSATION ID,WHEN,BODY\nc1,today,hi\n")
    with pytest.raises(IngestError, match="FROM, DATE, CONTENT"):
        _read(path)


def test_a_row_with_the_wrong_number_of_fields_is_a_bad_record(tmp_path: Path):
    text = (HEADER_2023
            + f"c1,,Ana,{ANA},Bo,{BO},2023-01-02 03:04:07 UTC,,kept,INBOX\n"
            + f"c1,,Ana,{ANA},Bo,{BO},2023-01-02 03:04:06 UTC,,too,many,fields,INBOX\n"
            + "c1,,Ana\n")
    frame = _read(_csv(tmp_path, text))
    assert list(frame["text"]) == ["kept"]
    assert frame.attrs["skipped"] == {"bad_record": 2}


def test_no_owner_from_a_single_conversation(tmp_path: Path):
    text = (HEADER_2023 + f"c1,,Bo,{BO},Ana,{ANA},2023-01-02 03:04:06 UTC,,hi Ana,INBOX\n"
            + f"c1,,Ana,{ANA},Bo,{BO},2023-01-02 03:04:05 UTC,,hi Bo,INBOX\n")
    frame = _read(_csv(tmp_path, text))
    assert frame.attrs["me"] == []
    assert not frame["is_me"].any()


def test_an_oldest_first_file_keeps_its_order_for_ties(tmp_path: Path):
    text = ("From,To,Date,Subject,Content,Direction,Folder\n"
            'Ana,Bo,"1/2/18, 9:00 AM",Hi,one,OUTGOING,SENT\n'
            'Bo,Ana,"1/2/18, 9:05 AM",RE: Hi,two,INCOMING,INBOX\n'
            'Ana,Bo,"1/2/18, 9:05 AM",RE: Hi,three,OUTGOING,SENT\n')
    frame = _read(_csv(tmp_path, text, bom=False))
    assert list(frame["text"]) == ["one", "two", "three"]
    assert frame["thread_id"].nunique() == 1
    assert frame.attrs["me"] == ["Ana"]
    assert list(frame["is_me"]) == [True, False, True]


@pytest.mark.parametrize(("value", "expected"), [
    ("10/16/18, 8:36 AM", "2018-10-16T08:36:00"),
    ("1/1/18, 12:00 AM", "2018-01-01T00:00:00"),
    ("1/1/18, 12:30 PM", "2018-01-01T12:30:00"),
    ("2023-04-22 08:18:59 UTC", "2023-04-22T08:18:59"),
    ("2023-04-22 08:18:59", "2023-04-22T08:18:59"),
])
def test_dates(value: str, expected: str):
    from datetime import UTC, datetime

    assert linkedin._parse_date(value) == int(datetime.fromisoformat(expected).replace(tzinfo=UTC).timestamp()) * 1000


@pytest.mark.parametrize("value", ["", "yesterday", "13/45/18, 9:00 AM", "2023-02-30 10:00:00 UTC", "1/1/18, 13:00 PM"])
def test_bad_dates(value: str):
    assert linkedin._parse_date(value) is None


@pytest.mark.parametrize(("content", "text"), [
    ("<p>Hi</p><p>there</p>", "Hi\nthere"),
    ("I <3 you &amp; a < b > c", "I <3 you & a < b > c"),
    ("line one<br/>line two&nbsp;&rsquo;", "line one\nline two ’"),
    ('<a href="https://x.org">x.org</a>', "x.org"),
])
def test_content_cleaning(content: str, text: str):
    assert linkedin._clean(content) == text


@pytest.mark.parametrize("body", ["", "\r\n\r\n"])
def test_a_header_only_messages_csv_is_an_empty_file(tmp_path: Path, body: str):
    frame = _read(_csv(tmp_path, HEADER_2023 + body))
    assert frame.empty
    assert frame.attrs["empty_files"] == ["messages.csv"]


def test_a_messages_csv_with_only_system_rows_is_not_empty(tmp_path: Path):
    row = f"2-AAA,,,,,{ANA},2023-01-01 10:00:00 UTC,,Message request accepted,INBOX\n"
    frame = _read(_csv(tmp_path, HEADER_2023 + row))
    assert frame.empty
    assert frame.attrs["empty_files"] == []
    assert frame.attrs["skipped"] == {"system": 1}
