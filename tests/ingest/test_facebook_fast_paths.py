"""The Facebook adapter's fast paths give exactly the table of its careful ones.

Two speed-ups must never change a table: files decoded typed by msgspec (against the untyped
json path every odd file takes), and large exports read by several processes (against one).
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from bench.ingest import write_facebook
from ingest import adapters
from ingest.adapters import facebook
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "facebook"


def _read(path: Path) -> tuple[pd.DataFrame, list[str]]:
    with open_source(path) as source:
        frame, bad = adapters.read(source, "facebook")
    return frame, [e.one_line() for e in bad]


def _same(a: tuple[pd.DataFrame, list[str]], b: tuple[pd.DataFrame, list[str]]) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[0].attrs == b[0].attrs
    assert sorted(a[1]) == sorted(b[1])


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A generated export of 40 threads (notices, photos, reactions, mojibake, groups)."""
    write_facebook(tmp_path / "export", 6000, 40)
    return tmp_path / "export"


@pytest.fixture
def parallel(monkeypatch):
    """Every export counts as large, each thread is a task, and the machine has ``cores`` cores."""
    def use(cores: int = 2):
        monkeypatch.setattr(facebook, "PARALLEL_BYTES", 0)
        monkeypatch.setattr(facebook, "_TASK_BYTES", 1)
        monkeypatch.setattr(facebook, "_cores", lambda: cores)
    return use


@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir()))
def test_typed_decoding_gives_the_untyped_table(case, monkeypatch):
    export = FIXTURES / case / "input"
    typed = _read(export)

    def refuse(data):
        raise msgspec.DecodeError("forced onto the untyped path")

    monkeypatch.setattr(facebook, "_DECODE", refuse)
    _same(typed, _read(export))


def test_a_record_that_does_not_fit_sends_only_its_file_the_careful_way(export, monkeypatch):
    """A record with a numeric content fails typed decoding; its file is still read, the record
    counted as skipped, and every other file still decoded typed."""
    target = sorted(export.rglob("message_1.json"))[3]
    doc = json.loads(target.read_text())
    doc["messages"][0]["content"] = 12345
    target.write_text(json.dumps(doc))
    untyped = []
    careful = facebook.load_messages_json
    monkeypatch.setattr(facebook, "load_messages_json", lambda source, rel, **kw: untyped.append(rel) or careful(source, rel, **kw))
    frame, bad = _read(export)
    assert bad == []
    assert untyped == [target.relative_to(export).as_posix()]
    assert len(frame) + sum(frame.attrs["skipped"].values()) == 6000


@pytest.mark.parametrize("cores", [2, 3])
def test_parallel_read_gives_the_serial_table(export, parallel, cores):
    serial = _read(export)
    parallel(cores)
    _same(serial, _read(export))


def test_parallel_read_of_a_zip_gives_the_serial_table(export, parallel, tmp_path):
    archive = tmp_path / "facebook.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(export.rglob("*.json")):
            zf.write(f, f.relative_to(export).as_posix())
    serial = _read(archive)
    parallel()
    _same(serial, _read(archive))


def test_parallel_read_sets_the_same_damaged_files_aside(export, parallel):
    files = sorted(export.rglob("message_*.json"))
    for f in (files[2], files[-3]):  # one in the workers' half, one in this process's
        f.write_bytes(f.read_bytes()[:200])  # cut short
    serial = _read(export)
    assert len(serial[1]) == 2
    parallel()
    _same(serial, _read(export))


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_failing_worker_leaves_its_threads_to_the_main_process(export, parallel, monkeypatch, how):
    serial = _read(export)
    parallel()
    main = os.getpid()
    read_part = facebook._read_part

    def flaky(source, items):
        if os.getpid() != main:  # in a worker
            if how == "dies":
                os._exit(1)
            raise RuntimeError("worker failure")
        return read_part(source, items)

    monkeypatch.setattr(facebook, "_read_part", flaky)
    _same(serial, _read(export))


def test_small_exports_are_read_by_one_process(export, monkeypatch):
    monkeypatch.setattr(facebook, "_cores", lambda: 8)
    with open_source(export) as source:
        sizes = facebook._sizes(source, [(0, "t", [f]) for f in source.files()])
        assert facebook._workers(source, sizes) == 0  # a few hundred KB: forking costs more than it saves
        monkeypatch.setattr(facebook, "PARALLEL_BYTES", 0)
        assert facebook._workers(source, sizes) == 3
    monkeypatch.setattr(facebook, "_cores", lambda: 1)
    with open_source(export) as source:
        assert facebook._workers(source, sizes) == 0


def test_copy_is_not_confused_by_a_changed_working_directory(export, parallel, tmp_path, monkeypatch):
    """Workers open the export again by its absolute path, whatever the current directory."""
    shutil.copytree(export, tmp_path / "rel" / "export")
    monkeypatch.chdir(tmp_path / "rel")
    serial = _read(Path("export"))
    parallel()
    _same(serial, _read(Path("export")))
