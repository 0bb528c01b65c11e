"""Crafted input: deep nesting, huge strings, far dates and bad file names, for every adapter.

Made from the golden fixtures. Each crafted export must end in a correct table (the schema, times
within range, names that can be printed and stored) or one ``IngestError`` naming a file, never
another exception, and within a memory bound: the reads run in a child process under
``RLIMIT_AS`` (the address space of Python with pandas, pyarrow and talklike is about 400 MB;
the bound leaves room for a 50 MB message, not for a parser gone quadratic). The CLI runs of the
worst cases must exit 0 or 3 with at most one line on stderr and no traceback.

Setting damaged members aside is one pass: counted in reads, not timed.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ingest import adapters
from ingest.errors import IngestError
from ingest.source import MAX_NESTING, ZipSource, open_source, safe_name
from tests import robustness_report as rr

ROOT = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 2 * 1024**3
HUGE = 50 * 1024**2
JSON_PLATFORMS = ["facebook", "google_chat", "hangouts", "instagram", "messenger_e2ee", "slack", "telegram"]
# A year in a written date.
_YEAR = re.compile(rb"(?<![\d:])20[12]\d(?=[-/., T])")


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _child(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TALKLIKE_DEBUG": ""}
    return subprocess.run(args, capture_output=True, preexec_fn=_limit, timeout=timeout, env=env, cwd=ROOT)


def _case(platform: str) -> Path:
    return rr.cases(platform)[0] / "input"


def _copy(platform: str, dest: Path) -> Path:
    shutil.copytree(_case(platform), dest)
    return rr.export_path(dest)


def _first_json(root: Path) -> Path:
    """The export's first message file in JSON (the largest, so that it holds messages)."""
    files = [p for p in rr.data_files(root) if p.suffix == ".json"]
    return max(files, key=lambda p: p.stat().st_size)


# --- the crafted exports ---------------------------------------------------------------------------


def nested(raw: bytes, depth: int) -> bytes:
    """``raw`` (a JSON document) with an unknown key (or first element) nested ``depth`` levels deep."""
    text = raw.lstrip(b"\xef\xbb\xbf").lstrip()
    deep = b"[" * depth + b"]" * depth
    return (b'{"zz_unknown": ' + deep + b", " + text[1:]) if text[:1] == b"{" else b"[" + deep + b", " + text[1:]


def far_dated(platform: str, raw: bytes) -> bytes:
    """``raw`` with the time of each kept message of the expected table's first second moved
    centuries ahead, past pandas' nanosecond range (an epoch in s, ms or µs gets a leading 9; a
    written date, the first year of the file)."""
    expected = pd.read_csv(rr.cases(platform)[0] / "expected.csv", dtype=str)
    secs = str(int(expected["timestamp_ms"].iloc[0]) // 1000).encode()
    out = re.sub(rb"(?<![\d.])" + secs + rb"(?=\d{0,6}(?!\d))", b"9" + secs, raw)
    return out if out != raw else _YEAR.sub(b"2399", raw, count=1)


def with_huge_text(platform: str, raw: bytes) -> bytes | None:
    """``raw`` with one message's text (one found in the expected table) made 50 MB long."""
    texts = sorted(rr.message_texts(platform, shortest=12), key=len, reverse=True)
    for t in texts:
        b = t.encode()
        if b in raw and b"\\" not in b and b'"' not in b:
            return raw.replace(b, b"x" * HUGE)  # every copy (Telegram writes a text twice: text, text_entities)
    return None


def crafted(platform: str, kind: str, work: Path) -> Path | None:
    """One crafted export of ``platform`` under ``work``: nesting, far, huge, or a bad name (name-*)."""
    export = _copy(platform, work / "input")
    root = work / "input"
    if kind in ("nested", "nested-deep"):
        if platform not in JSON_PLATFORMS:
            return None
        f = _first_json(root)
        f.write_bytes(nested(f.read_bytes(), 1000 if kind == "nested" else 100_000))
    elif kind == "far":
        files = sorted(rr.data_files(root), key=lambda p: -p.stat().st_size)
        for f in files:
            raw = f.read_bytes()
            moved = far_dated(platform, raw)
            if moved != raw:
                f.write_bytes(moved)
                break
        else:
            return None
    elif kind == "huge":
        for f in rr.data_files(root):
            grown = with_huge_text(platform, f.read_bytes())
            if grown is not None:
                f.write_bytes(grown)
                break
        else:
            return None
    elif kind.startswith("name-"):
        tail = {"name-bytes": b"\xff\xfe", "name-newline": b"\nnext", "name-long": b"x" * 180}[kind]
        f = max(rr.data_files(root), key=lambda p: len(p.parts))
        new = os.path.join(os.fsencode(f.parent), os.fsencode(f.stem) + tail + os.fsencode(f.suffix))
        os.rename(os.fsencode(f), new)
        if export == f:
            return Path(os.fsdecode(new))
    return export


KINDS = ["nested", "nested-deep", "far", "huge", "name-bytes", "name-newline", "name-long"]


def outcome(path: Path) -> str:
    """'table', 'error' or 'FAIL: ...' (rr.outcome, and every stored name printable and storable)."""
    try:
        frames, bad = rr.read_like_ingest(path)
        for f in frames:
            rr.check_table(f)
            for col in ("source", "thread_id"):
                for v in f[col].dropna().unique():
                    v.encode("utf-8")
                    if v != safe_name(v):
                        return f"FAIL: {col} {v!r} is not a safe name"
        if any("\n" in line for line in bad):
            return "FAIL: a set-aside line has a newline"
        rows = sum(len(f) for f in frames)
        skipped = sum(f.attrs.get("skipped", {}).get("bad_record", 0) for f in frames)
        longest = max((int(f["text"].str.len().max()) for f in frames if len(f)), default=0)
        return f"table rows={rows} bad_record={skipped} longest={longest}"
    except IngestError as exc:
        line = exc.one_line()
        return f"FAIL: not one line naming a file: {line!r}" if "\n" in line or not exc.file else "error"
    except Exception as exc:  # the point: anything else is a bug
        return f"FAIL: {type(exc).__name__}: {str(exc)[:200]}"


def main() -> None:
    """In the child: read every crafted export of the platforms in argv, print one JSON line each."""
    import tempfile

    for platform in sys.argv[1].split(","):
        for kind in sys.argv[2].split(","):
            with tempfile.TemporaryDirectory() as tmp:
                path = crafted(platform, kind, Path(tmp))
                result = "n/a" if path is None else outcome(path)
            print(json.dumps([platform, kind, result]), flush=True)


def _read_all(platforms: list[str], kinds: list[str]) -> dict[tuple[str, str], str]:
    code = "from tests.ingest.test_crafted_input import main; main()"
    proc = _child([sys.executable, "-c", code, ",".join(platforms), ",".join(kinds)], timeout=900)
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return {(p, k): r for p, k, r in map(json.loads, lines)}


# --- the tests ---------------------------------------------------------------------------------------


def test_nesting_is_refused_by_every_json_adapter_within_the_memory_bound():
    got = _read_all(JSON_PLATFORMS, ["nested", "nested-deep"])
    for (platform, kind), result in got.items():
        assert not result.startswith("FAIL"), (platform, kind, result)
        # slack sets the one damaged day file aside; the others have one file that holds everything
        assert result == "error" or result.startswith("table"), (platform, kind, result)


def test_far_dates_are_bad_records_not_a_crash():
    got = _read_all(sorted(adapters.ADAPTERS), ["far"])
    for (platform, _), result in got.items():
        assert not result.startswith("FAIL"), (platform, result)
    for platform in JSON_PLATFORMS:  # an epoch moved past 2262: the record counted, the export read
        assert re.match(r"table rows=\d+ bad_record=[1-9]", got[(platform, "far")]), (platform, got[(platform, "far")])


def test_a_50_mb_message_is_read_within_the_memory_bound():
    got = _read_all(sorted(adapters.ADAPTERS), ["huge"])
    read = 0
    for (platform, _), result in got.items():
        assert not result.startswith("FAIL"), (platform, result)
        if platform == "linkedin":  # its CSV reader refuses a field past 128 KB: one line naming the file
            assert result == "error", result
        elif result != "n/a":
            assert result.startswith("table") and result.endswith(f"longest={HUGE}"), (platform, result)
            read += 1
    assert read >= 6  # the fixtures of most platforms hold a text that could be grown


def test_bad_file_names_are_escaped_everywhere():
    got = _read_all(sorted(adapters.ADAPTERS), ["name-bytes", "name-newline", "name-long"])
    for key, result in got.items():
        assert not result.startswith("FAIL"), (key, result)


def test_safe_name_escapes_bytes_and_control_characters():
    assert safe_name("WhatsApp Chat with Zoë 😀.txt") == "WhatsApp Chat with Zoë 😀.txt"
    assert safe_name("a\nb") == "a\\x0ab"
    assert safe_name(os.fsdecode(b"caf\xe9.json")) == "caf\\xe9.json"
    assert safe_name("x\u2028y\x00") == "x\\u2028y\\x00"


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return _child([sys.executable, "-m", "bot.cli", *args])


@pytest.mark.parametrize(("platform", "kind"), [("hangouts", "nested-deep"), ("telegram", "nested"),
                                                ("facebook", "huge"), ("telegram", "far"),
                                                ("whatsapp", "name-bytes"), ("slack", "name-newline")])
def test_cli_exits_0_or_3_with_one_line(tmp_path, platform, kind):
    export = crafted(platform, kind, tmp_path / "craft")
    assert export is not None
    if kind.startswith("name-"):  # the member's name is crafted, not the path given
        export = tmp_path / "craft" / "input"
    proc = _cli(["ingest", os.fsdecode(export), "--data", str(tmp_path / "ws"), "--tz", "UTC",
                 "--me", _a_sender(platform)])
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode in (0, 3), err[-2000:]
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith(("error", "internal"))]) <= 1
    if proc.returncode == 3:
        assert len(err.strip().splitlines()) == 1, err
    else:
        report = json.loads((tmp_path / "ws" / "report.json").read_text(encoding="utf-8"))
        assert report  # committed, with its accounting


def _a_sender(platform: str) -> str:
    expected = pd.read_csv(rr.cases(platform)[0] / "expected.csv", dtype=str)
    mine = expected[expected["is_me"].str.lower() == "true"] if "is_me" in expected else expected
    return (mine if len(mine) else expected)["sender"].iloc[0]


def test_nesting_limit_is_exact():
    from ingest.source import check_json_nesting, json_nesting

    ok, deep = b"[" * MAX_NESTING + b"]" * MAX_NESTING, b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1)
    for size in (1, 3, 1 << 20):
        check_json_nesting((ok[i:i + size] for i in range(0, len(ok), size)), "f")
        with pytest.raises(IngestError, match="nested too deeply"):
            check_json_nesting((deep[i:i + size] for i in range(0, len(deep), size)), "f")
    # brackets and escaped quotes inside strings do not count
    tricky = json.dumps({"a": ['x"[[[[\\', '\\"' + "[" * 300, "{" * 300]}).encode()
    for size in (1, 2, 7):
        check_json_nesting((tricky[i:i + size] for i in range(0, len(tricky), size)), "f")
    with pytest.raises(IngestError, match="nested too deeply"), json_nesting("f"):
        json.loads(b"[" * 100_000 + b"]" * 100_000)  # past the parsers' own limit: one line, not RecursionError
    with json_nesting("f"):
        json.loads(deep)  # (the exact limit is the streaming pre-check's; whole-file parsers allow more)


# --- one pass over damaged members -------------------------------------------------------------------


class _Counting(ZipSource):
    opens: dict[str, int]

    def open(self, rel):
        self.opens[rel] = self.opens.get(rel, 0) + 1
        return super().open(rel)


def _slack_zip(path: Path, good: int, bad: int) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("users.json", json.dumps([{"id": "U1", "name": "ann"}, {"id": "U2", "name": "bob"}]))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "general", "members": ["U1", "U2"]}]))
        for n in range(good + bad):
            day = [{"type": "message", "user": "U1", "text": "hello there", "ts": f"{1577836800 + 86400 * n}.000100"}]
            body = json.dumps(day).encode() if n < good else b'[{"type": "message", "te'
            zf.writestr(f"general/{datetime.date(2020, 1, 1) + datetime.timedelta(days=n)}.json", body)


@pytest.mark.parametrize("platform", ["slack", "whatsapp", "facebook"])
def test_damaged_members_are_set_aside_in_one_pass(tmp_path, platform):
    bad = 50
    path = tmp_path / "export.zip"
    if platform == "slack":
        _slack_zip(path, good=5, bad=bad)
    else:
        with zipfile.ZipFile(path, "w") as zf:
            for n in range(5 + bad):
                if platform == "whatsapp":
                    body = ("12/03/2021, 14:05 - Ann: hello\n" + ("" if n < 5 else "\xff")).encode("latin-1")
                    zf.writestr(f"WhatsApp Chat with P{n}.txt", body)
                else:
                    doc = {"participants": [{"name": "Ann"}, {"name": f"P{n}"}], "title": f"P{n}",
                           "messages": [{"sender_name": "Ann", "timestamp_ms": 1577836800000, "content": "hi"}]}
                    body = json.dumps(doc).encode() if n < 5 else b'{"participants": [{"name": '
                    zf.writestr(f"messages/inbox/p{n}_{n}/message_1.json", body)
    source = _Counting(path)
    source.opens = {}
    with source:
        frame, errors = adapters.read(source, platform)
    assert len(errors) == bad
    assert len(frame) >= 5
    assert max(source.opens.values()) <= 2, max(source.opens.values())  # each member opened once (or twice)


def test_an_export_of_one_damaged_file_still_raises(tmp_path):
    f = tmp_path / "result.json"
    f.write_text('{"chats": {"list": [', encoding="utf-8")
    with open_source(f) as source, pytest.raises(IngestError):
        adapters.read(source, "telegram")


# --- the same WhatsApp chat saved twice --------------------------------------------------------------


@pytest.mark.parametrize("copy", ["WhatsApp Chat with Kim (1).txt", "WhatsApp Chat with Kim - Copy.txt",
                                  "WhatsApp Chat with Kim copy.txt", "WhatsApp Chat with Kim - Copy (2).txt"])
def test_a_copied_whatsapp_chat_is_the_same_thread(tmp_path, copy):
    chat = "12/03/2021, 14:05 - Kim: hello\n12/03/2021, 14:06 - Me: hi Kim\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "WhatsApp Chat with Kim.txt").write_text(chat, encoding="utf-8")
    (tmp_path / "b" / copy).write_text(chat, encoding="utf-8")
    tables = []
    for d in ("a", "b"):
        with open_source(tmp_path / d) as source:
            tables.append(adapters.read(source, "whatsapp")[0])
    a, b = tables
    assert set(a["thread_id"]) == set(b["thread_id"]) == {"whatsapp:WhatsApp Chat with Kim"}
    assert set(b["thread_title"]) == {"Kim"}
    assert list(a["message_id"]) == list(b["message_id"])  # the second ingest's messages are duplicates


def test_a_chat_whose_name_ends_in_a_number_is_another_chat(tmp_path):
    """ "Team 2" is not a copy of "Team" (nor iOS's ``_chat 2.txt`` of ``_chat.txt``)."""
    chat = "12/03/2021, 14:05 - Kim: hello\n12/03/2021, 14:06 - Me: hi Kim\n"
    for name in ("WhatsApp Chat with Team.txt", "WhatsApp Chat with Team 2.txt"):
        (tmp_path / name).write_text(chat, encoding="utf-8")
    with open_source(tmp_path) as source:
        frame = adapters.read(source, "whatsapp")[0]
    assert set(frame["thread_title"]) == {"Team", "Team 2"} and frame["thread_id"].nunique() == 2


if __name__ == "__main__":
    main()
