"""Bot folders: one per person, whatever their names look like; older folders migrated or refused;
readers never repair a folder a live ``train`` holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.errors import IncompatibleBotError
from bot.model import ModelConfig, Seq2Seq
from bot.store import bot_folder, load_bot, save_bot
from bot.vocab import Vocabulary
from ingest.workspace import Workspace, person_key, slug
from tests.conftest import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny():
    vocab = Vocabulary.build(["hello there", "hi friend", "how are you", "good thanks"], min_count=1)
    return Seq2Seq(ModelConfig(vocab_size=len(vocab), **TINY_MODEL)), vocab


def save(ws: Workspace, person: str, tiny, **meta) -> Path:
    model, vocab = tiny
    return save_bot(bot_folder(ws, person), model, vocab, meta={"person": person, **meta}, config={})


def test_person_keys_never_collide():
    names = ["Mé", "Me", "ME", "Zoë Li", "Zoe Li", "zoe li", "Zoe  Li", "李雷", "韓梅梅", "!!!", "x" * 300, "x" * 301]
    keys = [person_key(n) for n in names]
    assert len(set(keys)) == len(keys)
    assert "me" not in keys and person_key("me") == "me"
    assert all(len(k.encode()) <= 60 and k == k.strip(".") and "/" not in k for k in keys)
    assert person_key("Zoë Li") == person_key("Zoë Li")  # stable across runs (no salted hash)
    assert person_key("Zoë Li").startswith("zoe-li-")  # and readable


def test_a_friend_called_me_does_not_replace_my_bot(tmp_path, tiny):
    ws = Workspace(tmp_path / "data")
    mine = save(ws, "me", tiny, run="mine")
    theirs = save(ws, "Mé", tiny, run="theirs")
    assert mine != theirs
    assert load_bot(bot_folder(ws, "me")).meta["run"] == "mine"
    assert load_bot(bot_folder(ws, "Mé")).meta["run"] == "theirs"


def test_two_names_with_one_slug_and_a_very_long_name_get_folders_of_their_own(tmp_path, tiny):
    ws = Workspace(tmp_path / "data")
    long = "Maria " + "da Silva " * 60  # 546 characters: too long for one file name as a slug
    for name in ("Zoë Li", "Zoe Li", long):
        save(ws, name, tiny, run=name)
    for name in ("Zoë Li", "Zoe Li", long):
        bot = load_bot(bot_folder(ws, name), name)
        assert bot.meta["run"] == name and bot.person == name


def test_load_bot_refuses_the_folder_of_another_person(tmp_path, tiny):
    ws = Workspace(tmp_path / "data")
    folder = save(ws, "Zoë Li", tiny)
    with pytest.raises(IncompatibleBotError, match="another person"):
        load_bot(folder, "Zoe Li")
    # an older talklike let a friend "Mé" replace the owner's bots/me: refused, not answered as the friend
    legacy = ws.root / "bots" / "me"
    shutil.copytree(folder, legacy)
    meta = (legacy / "meta.json").read_text().replace('"Zoë Li"', '"Mé"')
    (legacy / "meta.json").write_text(meta)
    with pytest.raises(IncompatibleBotError, match="another person"):
        load_bot(bot_folder(ws, "me"))


def test_an_older_slug_folder_is_renamed_on_first_use_when_its_person_matches(tmp_path, tiny):
    ws = Workspace(tmp_path / "data")
    folder = save(ws, "Kim Lee", tiny, run="old")
    legacy = ws.root / "bots" / slug("Kim Lee")  # how talklike named it before keys had a hash
    os.replace(folder, legacy)
    assert not folder.exists()
    with pytest.raises(IncompatibleBotError):  # read directly, the old folder is not taken for someone else's
        load_bot(legacy, "Kim Lee Jr")
    bot = load_bot(bot_folder(ws, "Kim Lee"), "Kim Lee")
    assert bot.meta["run"] == "old" and bot.folder == folder and not legacy.exists()
    # a slug folder of another person with the same slug stays where it is
    other = save(ws, "Ana", tiny)
    os.replace(other, ws.root / "bots" / "ana")
    assert bot_folder(ws, "ANA") == ws.root / "bots" / person_key("ANA")
    assert (ws.root / "bots" / "ana" / "meta.json").exists()


SWAP_HELD = """
import os, pathlib, sys, time
from ingest import lock
from ingest.workspace import Workspace
ws = Workspace(sys.argv[1])
with lock.hold(ws.bot_lock_path("me"), "train", wait=0):
    folder = ws.bot_dir("me")
    os.replace(folder, folder.with_name(".me.old"))  # half-way through replace_folder
    pathlib.Path(sys.argv[2]).write_text("swapping")
    time.sleep(120)
"""


def test_a_reader_never_repairs_a_folder_that_a_live_train_is_swapping(tmp_path, tiny):
    ws = Workspace(tmp_path / "data")
    save(ws, "me", tiny, run="previous")
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SWAP_HELD), str(ws.root), str(ready)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        bot = load_bot(bot_folder(ws, "me"))  # reads the previous bot where it lies
        assert bot.meta["run"] == "previous"
        assert not ws.bot_dir("me").exists() and (ws.root / "bots" / ".me.old").exists()  # nothing moved
        assert ws.clean_leftovers(older_than=0) == []  # nor cleaned
    finally:
        proc.kill()
        proc.wait()
    # the writer dead, the next reader puts the previous bot back
    assert load_bot(bot_folder(ws, "me")).meta["run"] == "previous" and ws.bot_dir("me").is_dir()
