"""instagram: who claims the old layout, bad input, notices."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from ingest.adapters import facebook, instagram
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.mark.parametrize("case", ["activity_2025", "inbox_2022"])
def test_facebook_leaves_instagram_exports_alone(case):
    with open_source(FIXTURES / "instagram" / case / "input") as s:
        assert instagram.detect(s) and not facebook.detect(s)


@pytest.mark.parametrize("case", ["dyi_2020", "dyi_2024"])
def test_instagram_leaves_facebook_exports_alone(case):
    with open_source(FIXTURES / "facebook" / case / "input") as s:
        assert facebook.detect(s) and not instagram.detect(s)


def test_old_layout_recognised_by_an_instagram_only_folder(tmp_path):
    shutil.copytree(FIXTURES / "facebook" / "dyi_2020" / "input", tmp_path / "x")
    with open_source(tmp_path / "x") as s:
        assert not instagram.detect(s)
    (tmp_path / "x" / "connections" / "followers_and_following").mkdir(parents=True)
    (tmp_path / "x" / "connections" / "followers_and_following" / "following.json").write_text("{}")
    with open_source(tmp_path / "x") as s:
        assert instagram.detect(s) and not facebook.detect(s)


def test_zip_with_a_top_folder(tmp_path):
    folder = FIXTURES / "instagram" / "activity_2025" / "input"
    archive = tmp_path / "instagram-analima.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.rglob("*"):
            if f.is_file():
                zf.write(f, "instagram-analima/" + f.relative_to(folder).as_posix())
    with open_source(archive) as s:
        assert instagram.detect(s)
        assert len(instagram.read(s)) == 6


def _thread(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "your_instagram_activity" / "messages" / "inbox" / "x_1"
    d.mkdir(parents=True)
    (d / "message_1.json").write_text(text, encoding="utf-8")
    return tmp_path


def test_cut_short_file(tmp_path):
    src = _thread(tmp_path, '{"participants": [], "messages": [{"sender_name": "a"')
    with open_source(src) as s, pytest.raises(IngestError) as err:
        instagram.read(s)
    assert "x_1/message_1.json: line 1 column" in err.value.one_line()


def test_wrong_shape(tmp_path):
    with open_source(_thread(tmp_path, json.dumps([1, 2]))) as s, pytest.raises(IngestError, match="'messages'"):
        instagram.read(s)


@pytest.mark.parametrize("text, reason", [
    ("Liked a message", "reaction"), ("Ana liked a message", "reaction"),
    ("Reacted 👍 to your message ", "reaction"), ("Reagiu com 👍 à tua mensagem", "reaction"),
    ("Ana reagiu com 👍 à sua mensagem", "reaction"), ("Gostou de uma mensagem", "reaction"),
    ("Ana created a poll: pizza?", "system"), ("This poll is no longer available.", "system"),
    ("Ana sent an attachment.", "system"), ("Ana started a video chat", "system"),
])
def test_notices(tmp_path, text, reason):
    msgs = [{"sender_name": "Ana Lima", "timestamp_ms": 1700000000000, "content": text}]
    with open_source(_thread(tmp_path, json.dumps({"participants": [], "messages": msgs}))) as s:
        frame = instagram.read(s)
    assert len(frame) == 0 and frame.attrs["skipped"] == {reason: 1}
