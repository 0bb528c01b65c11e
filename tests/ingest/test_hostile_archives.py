"""Hostile and damaged archives: refused with one line and exit code 3, fast, nothing written outside.

A zip is read in place (never extracted), so a member path cannot escape; still, an archive with
``..`` or absolute member paths, symbolic links, or members that expand past a bound (zip bombs)
was not made by an export tool and is refused before anything is read.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from ingest.errors import EXIT_BAD_INPUT, IngestError
from tests import robustness_report as rr

runner = CliRunner()
FB = rr.FIXTURES / "facebook" / "dyi_2020" / "input"


def _zip_folder(folder: Path, out: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder).as_posix())
        for info, data in extra:
            z.writestr(info, data)
    return out


def _patch_central(data: bytes, *, size: int | None = None, flags: int | None = None) -> bytes:
    """Rewrite every central-directory entry's declared size or flags (what a forged header says)."""
    buf = bytearray(data)
    at = buf.find(b"PK\x01\x02")
    while at != -1:
        if size is not None:
            struct.pack_into("<I", buf, at + 24, size)
        if flags is not None:
            struct.pack_into("<H", buf, at + 8, flags)
        at = buf.find(b"PK\x01\x02", at + 4)
    if flags is not None:
        at = buf.find(b"PK\x03\x04")
        while at != -1:
            struct.pack_into("<H", buf, at + 6, flags)
            at = buf.find(b"PK\x03\x04", at + 4)
    return bytes(buf)


def _refused(path: Path, *words: str) -> str:
    """The archive is refused by the library and by the CLI: one line, exit code 3, naming it."""
    with rr.deadline(10), pytest.raises(IngestError) as caught:
        rr.read_like_ingest(path)
    line = caught.value.one_line()
    assert str(path) in line and "\n" not in line
    for w in words:
        assert w in line
    data = path.parent / "d"
    res = runner.invoke(app, ["ingest", str(path), "--data", str(data)])
    assert res.exit_code == EXIT_BAD_INPUT, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.output
    assert not (data / "messages.parquet").exists()
    return line


def test_a_zipped_export_reads_like_its_folder(tmp_path):
    frames, _ = rr.read_like_ingest(_zip_folder(FB, tmp_path / "fb.zip"))
    folder_frames, _ = rr.read_like_ingest(FB)
    assert [f["message_id"].tolist() for f in frames] == [f["message_id"].tolist() for f in folder_frames]


@pytest.mark.parametrize("member", ["../../escaped.json", "messages/../../../etc/cron.d/x",
                                    "/etc/talklike-absolute.json", "C:/Windows/evil.json",
                                    "..\\..\\windows-escape.json"])
def test_member_paths_that_escape_are_refused(tmp_path, member):
    path = _zip_folder(FB, tmp_path / "evil.zip", [(member, b"{}")])
    _refused(path, "escapes the archive")
    assert not (tmp_path.parent / "escaped.json").exists() and not Path("/etc/talklike-absolute.json").exists()


def test_symlink_members_are_refused(tmp_path):
    link = zipfile.ZipInfo("messages/inbox/x_1/message_1.json")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = _zip_folder(FB, tmp_path / "links.zip", [(link, b"/etc/passwd")])
    _refused(path, "symbolic link")


def test_a_zip_bomb_is_refused_before_it_is_read(tmp_path):
    """60 MB of zeros packed into ~60 KB: a member expanding 1000-fold past 50 MB."""
    path = _zip_folder(FB, tmp_path / "bomb.zip", [("messages/inbox/z_1/message_1.json", bytes(60 * 1024**2))])
    assert path.stat().st_size < 1024**2
    _refused(path, "zip bomb")


def test_a_forged_huge_declared_size_is_refused(tmp_path):
    path = tmp_path / "forged.zip"
    path.write_bytes(_patch_central(_zip_folder(FB, tmp_path / "x.zip").read_bytes(), size=0xFFFFFFF0))
    _refused(path, "zip bomb")


def test_many_members_that_together_expand_past_the_bound_are_refused(tmp_path):
    """Each member under the per-member bound (40 MB declared), the archive together over 1 GB at >200x."""
    members = [(f"messages/inbox/t{i}_1/message_{i}.json", b"{}") for i in range(30)]
    small = _zip_folder(FB, tmp_path / "x.zip", members)
    path = tmp_path / "overlap.zip"
    path.write_bytes(_patch_central(small.read_bytes(), size=40 * 1024**2))
    _refused(path, "zip bomb")


def test_a_member_larger_than_its_header_says_is_refused(tmp_path):
    """A header claiming 100 bytes for a 1 MB member: reading stops at the claim and the CRC fails."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("result.json", b'{"chats": {"list": []}, "x": "' + b"0" * 1_000_000 + b'"}')
    path = tmp_path / "liar.zip"
    path.write_bytes(_patch_central(raw.getvalue(), size=100))
    _refused(path, "damaged inside the archive")


def test_a_cut_zip_is_refused(tmp_path):
    whole = _zip_folder(FB, tmp_path / "whole.zip").read_bytes()
    path = tmp_path / "half.zip"
    path.write_bytes(whole[: len(whole) // 2])
    _refused(path, "not a readable zip archive")


def test_a_member_with_damaged_compressed_data_is_refused(tmp_path):
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("result.json", (rr.FIXTURES / "telegram" / "single_chat" / "input" / "result.json").read_bytes())
    data = bytearray(raw.getvalue())
    for i in range(60, 200, 7):  # inside the deflate stream of the only member
        data[i] ^= 0x5A
    path = tmp_path / "flipped.zip"
    path.write_bytes(bytes(data))
    _refused(path)


def test_an_encrypted_member_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "locked.zip"
    path.write_bytes(_patch_central(_zip_folder(FB, tmp_path / "x.zip").read_bytes(), flags=0x1))
    line = _refused(path)
    assert "cannot be unpacked" in line or "damaged" in line


def test_symlinks_in_an_export_folder_are_not_followed(tmp_path):
    secret = tmp_path / "secret.json"
    shutil.copy(FB / "messages" / "inbox" / "anabeatriz_Ab12Cd34" / "message_1.json", secret)
    export = tmp_path / "export"
    shutil.copytree(FB, export)
    (export / "messages" / "inbox" / "stranger_Q1").mkdir()
    os.symlink(secret, export / "messages" / "inbox" / "stranger_Q1" / "message_1.json")
    os.symlink(tmp_path, export / "messages" / "inbox" / "loop")  # a folder loop must not hang the walk
    with rr.deadline(10):
        frames, _ = rr.read_like_ingest(export)
    assert not any(f["thread_id"].str.contains("stranger").any() for f in frames)
    assert sum(len(f) for f in frames) == sum(len(f) for f in rr.read_like_ingest(FB)[0])
