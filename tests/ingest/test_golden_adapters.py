"""Golden fixtures: each adapter, on exports written by hand in the platform's real format,
must produce exactly the table in ``expected.csv`` and the skip counts in ``expected_skipped.json``.

Layout: ``tests/fixtures/<platform>/<case>/input`` (the export: a folder, or one file inside it),
``expected.csv`` (one row per kept message, in table order; ``timestamp_ms`` is epoch ms,
``reply_to_row`` the 0-based row the message answers) and ``expected_skipped.json``. Optional:
``tz.txt`` (the zone its wall-clock times are read in; UTC when absent), ``expected_me.json`` (the
owner the export names) and ``expected_empty_files.json`` (thread files that held no message).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from ingest import adapters, schema, times
from ingest.source import open_source

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES = sorted(p for p in FIXTURES.glob("*/*") if (p / "expected.csv").exists())


def _input(case: Path) -> Path:
    inp = case / "input"
    entries = list(inp.iterdir())
    # a single-file export (messages.csv, result.json, _chat.txt) is given as that file
    return entries[0] if len(entries) == 1 and entries[0].is_file() else inp


def _actual_rows(frame) -> list[dict]:
    row_of = {mid: i for i, mid in enumerate(frame["message_id"])}
    rows = []
    for r in frame.itertuples(index=False):
        rows.append({
            "thread_id": r.thread_id, "thread_title": r.thread_title, "is_group": str(bool(r.is_group)),
            "sender": r.sender, "sender_id": r.sender_id, "is_me": str(bool(r.is_me)),
            "timestamp_ms": str(r.timestamp.value // 1_000_000), "kind": r.kind, "text": r.text,
            "reply_to_row": "" if pd.isna(r.reply_to) else str(row_of.get(r.reply_to, "?")),
            "source": r.source,
        })
    return rows


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_adapter_produces_golden_table(case: Path):
    platform = case.parent.name
    adapter = adapters.get(platform)
    tz = times.zone((case / "tz.txt").read_text().strip()) if (case / "tz.txt").exists() else None
    with open_source(_input(case), tz=tz) as source:
        assert adapter.detect(source), f"{platform} adapter does not recognise its own fixture"
        frame = adapter.read(source)
    schema.validate(frame)
    with (case / "expected.csv").open(encoding="utf-8", newline="") as fh:
        expected = list(csv.DictReader(fh))
    actual = _actual_rows(frame)
    assert actual == expected
    assert frame.attrs["skipped"] == json.loads((case / "expected_skipped.json").read_text())
    me_file = case / "expected_me.json"
    if me_file.exists():
        assert frame.attrs["me"] == json.loads(me_file.read_text())
    empty_file = case / "expected_empty_files.json"
    assert frame.attrs["empty_files"] == (json.loads(empty_file.read_text()) if empty_file.exists() else [])


def test_every_adapter_has_a_golden_fixture():
    covered = {c.parent.name for c in CASES}
    missing = set(adapters.ADAPTERS) - covered
    assert not missing, f"adapters without a golden fixture under tests/fixtures/: {sorted(missing)}"


def test_no_adapter_imports_another():
    """The house (STYLE.md): adapters share code through their family helper (``_meta``, ``_fb_html``,
    ``_fbcap``, ``_transcript``), never by importing each other; helpers import no adapter."""
    import ast

    folder = Path(adapters.__file__).parent
    platforms = set(adapters.ADAPTERS)
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
        others = {m for m in imported if m.startswith("ingest.") and m.rsplit(".", 1)[-1] in platforms
                  and m.rsplit(".", 1)[-1] != path.stem}
        assert not others, f"{path.name} imports another adapter: {sorted(others)}"
    assert {p for p in platforms if not (folder / f"{p}.py").exists()} == set()  # one module per platform
