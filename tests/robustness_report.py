"""Damaged exports, made from the golden fixtures, and what the adapters make of them.

Every golden fixture file (``tests/fixtures/<platform>/<case>/input``) is cut short at many
offsets, re-encoded (UTF-16, latin-1), replaced by binary garbage or nothing, and, for JSON and
CSV, given missing and unknown fields, values of the wrong type and timestamps out of range.
Each damaged export is read the way ``talklike ingest`` reads it (detection, then the adapter,
damaged files set aside). The outcome must be either a correct table (the schema's columns and
dtypes, sane timestamps, an accounting that adds up) or one ``IngestError`` naming a file;
anything else -- another exception, or a read that hangs -- is a failure.

``tests/test_bad_input.py`` asserts this for every adapter; run this file to see the counts::

    .venv/bin/python -m tests.robustness_report            # seed 0; --seed N for other random choices
    .venv/bin/python -m tests.robustness_report --sweep    # every JSON field, wrong types (minutes)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ingest import adapters, schema
from ingest.errors import IngestError
from ingest.source import open_source

FIXTURES = Path(__file__).parent / "fixtures"
DATA_SUFFIXES = (".json", ".csv", ".txt", ".htm", ".html")
SECONDS_PER_INPUT = 20  # a read that takes longer counts as a hang
TS_MIN, TS_MAX = pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")
# Values of the wrong type, and timestamps out of range, put in place of a field's value.
WRONG_VALUES = [None, "", "x", -1, 0, 10**20, -(10**15), 2**63, 1e308, float("nan"), [], {}, [1, "a"], {"a": 1},
                True, "9999-99-99T99:99:99", "2020-13-45 25:61:61"]


def cases(platform: str) -> list[Path]:
    return sorted(p for p in (FIXTURES / platform).glob("*") if (p / "expected.csv").exists())


def export_path(case_input: Path) -> Path:
    """As the golden test: a single-file export is given as that file, else the folder."""
    entries = list(case_input.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_file() else case_input


def data_files(case_input: Path) -> list[Path]:
    return sorted(p for p in case_input.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)


# --- damage -------------------------------------------------------------------------------------------

def byte_damage(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Cuts, encodings, garbage: what a half-download or a re-save does to any file."""
    n = len(raw)
    yield "empty", b""
    for k in range(1, 12):
        yield f"cut at {k}/12", raw[: n * k // 12]
    yield "cut 1 byte short", raw[:-1]
    yield "first byte only", raw[:1]
    text = raw.decode("utf-8-sig", errors="replace")
    yield "utf-16", text.encode("utf-16")
    yield "utf-16-le without BOM", text.encode("utf-16-le")
    yield "latin-1", text.encode("latin-1", errors="replace")
    yield "utf-8 BOM twice", b"\xef\xbb\xbf\xef\xbb\xbf" + raw
    yield "binary garbage", bytes(rng.randrange(256) for _ in range(max(n, 64)))
    yield "NUL bytes in the middle", raw[: n // 2] + b"\x00" * 32 + raw[n // 2:]
    yield "invalid UTF-8 in the middle", raw[: n // 2] + b"\xff\xfe\xc3" + raw[n // 2:]
    flipped = bytearray(raw)
    for _ in range(max(1, n // 200)):
        if flipped:
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    yield "random bytes flipped", bytes(flipped)


def _paths(obj, prefix=()) -> Iterator[tuple]:
    """Every (container path, key) in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix, k
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):  # the first few records of each list are enough
            yield prefix, i
            yield from _paths(v, (*prefix, i))


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def json_damage(raw: bytes, rng: random.Random, limit: int) -> Iterator[tuple[str, bytes]]:
    """Fields missing, unknown, of the wrong type, timestamps out of range (``limit`` documents)."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except ValueError:
        return
    places = list(_paths(doc))
    timeish = [p for p in places if isinstance(p[1], str)
               and any(w in p[1].lower() for w in ("time", "date", "ts", "created", "sent"))]
    picks = rng.sample(places, min(len(places), limit)) + rng.sample(timeish, min(len(timeish), limit // 3))
    for n, (path, key) in enumerate(picks):
        mutated = json.loads(json.dumps(doc))
        parent = _get(mutated, path)
        what = ("drop", "wrong", "wrong", "unknown")[n % 4] if isinstance(parent, dict) else "wrong"
        if what == "drop":
            del parent[key]
        elif what == "unknown":
            parent[f"unknown_field_{n}"] = rng.choice(WRONG_VALUES)
        else:
            value = rng.choice(WRONG_VALUES)
            parent[key] = value
            what = f"wrong ({type(value).__name__})"
        yield f"{what} at {'/'.join(map(str, (*path, key)))}", json.dumps(mutated).encode()
    yield "top level is a list", json.dumps([doc]).encode()
    yield "top level is a string", b'"hello"'
    yield "top level is null", b"null"


def csv_damage(raw: bytes, rng: random.Random, limit: int) -> Iterator[tuple[str, bytes]]:
    """Columns missing, unknown, shuffled; cells of the wrong type; an unbalanced quote."""
    text = raw.decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return

    def dump(rs) -> bytes:
        out = io.StringIO()
        csv.writer(out).writerows(rs)
        return out.getvalue().encode()

    header = rows[0]
    for i, col in enumerate(header):
        yield f"column {col!r} missing", dump([[c for j, c in enumerate(r) if j != i] for r in rows])
    yield "unknown column", dump([[*rows[0], "SURPRISE"]] + [[*r, "?"] for r in rows[1:]])
    yield "columns shuffled", dump([list(reversed(r)) for r in rows])
    yield "header only", dump(rows[:1])
    yield "no header", dump(rows[1:])
    for n in range(limit):
        if len(rows) < 2:
            break
        r, c = rng.randrange(1, len(rows)), rng.randrange(len(header))
        bad = [list(x) for x in rows]
        if c < len(bad[r]):
            bad[r][c] = str(rng.choice(WRONG_VALUES))
        yield f"wrong value in row {r} column {header[c]!r} ({n})", dump(bad)
    yield "short row", dump([*rows, ["only-one-cell"]])
    yield "unbalanced quote", (text[: len(text) // 2] + '"' + text[len(text) // 2:]).encode()


def text_damage(raw: bytes, rng: random.Random, limit: int) -> Iterator[tuple[str, bytes]]:
    """Dates and times out of range in line-based (WhatsApp) and HTML exports."""
    import re

    text = raw.decode("utf-8-sig", errors="replace")
    dates = list(re.finditer(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}(?::\d{2})?", text))
    for n, m in enumerate(rng.sample(dates, min(len(dates), limit))):
        bad = rng.choice(["99/99/9999", "31/02/2021", "00.00.00", "0/0/0", "25:61", "99:99:99", "1/1/99999"])
        yield f"date out of range ({n})", (text[: m.start()] + bad + text[m.end():]).encode()
    lines = text.splitlines(keepends=True)
    if len(lines) > 2:
        yield "lines shuffled", "".join(rng.sample(lines, len(lines))).encode()
        yield "every other line", "".join(lines[::2]).encode()


def damage(path: Path, rng: random.Random, limit: int = 12) -> Iterator[tuple[str, bytes]]:
    raw = path.read_bytes()
    yield from byte_damage(raw, rng)
    suffix = path.suffix.lower()
    if suffix == ".json":
        yield from json_damage(raw, rng, limit)
    elif suffix == ".csv":
        yield from csv_damage(raw, rng, limit)
    else:
        yield from text_damage(raw, rng, limit)


# --- reading ------------------------------------------------------------------------------------------

class Hang(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: int):
    def on_alarm(*_):
        raise Hang(f"no result after {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def read_like_ingest(path: Path) -> tuple[list[pd.DataFrame], list[str]]:
    """What ``talklike ingest`` does before writing: detect, read, set damaged files aside.

    Returns the tables and the error lines of the files set aside; raises IngestError.
    """
    frames, bad = [], []
    with open_source(path) as source:
        for name in adapters.detect(source):
            frame, errors = adapters.read(source, name)
            frames.append(frame)
            bad += [e.one_line() for e in errors]
    return frames, bad


def message_texts(platform: str, shortest: int = 8) -> frozenset[str]:
    """The message texts of a platform's fixtures (those long enough not to occur by chance)."""
    out = set()
    for case in cases(platform):
        with (case / "expected.csv").open(encoding="utf-8", newline="") as fh:
            out |= {r["text"] for r in csv.DictReader(fh) if len(r["text"]) >= shortest}
    return frozenset(out)


def check_table(frame: pd.DataFrame) -> None:
    """A correct table: the schema, sane timestamps, kinds and skip reasons, a message id per row."""
    schema.validate(frame)
    if len(frame):
        ts = frame["timestamp"]
        if ts.isna().any() or ts.min() < TS_MIN or ts.max() > TS_MAX:
            raise AssertionError(f"timestamps out of range: {ts.min()} .. {ts.max()}")
        if frame["message_id"].isna().any() or frame["thread_id"].isna().any() or frame["sender"].isna().any():
            raise AssertionError("a row lacks its message_id, thread_id or sender")
    if set(frame["kind"].unique()) - set(schema.KINDS):
        raise AssertionError("unknown kind")
    if set(frame.attrs.get("skipped", {})) - set(schema.SKIP_REASONS):
        raise AssertionError("unknown skip reason")


def outcome(path: Path, texts: frozenset[str] = frozenset()) -> str:
    """'table', 'table with files set aside', 'error', or 'FAIL: <what went wrong>'.

    An error, or the line of a file set aside, that quotes one of ``texts`` (message text) fails.
    """
    try:
        with deadline(SECONDS_PER_INPUT):
            frames, bad = read_like_ingest(path)
        for f in frames:
            check_table(f)
        for line in bad:
            if "\n" in line or any(t in line for t in texts):
                return f"FAIL: a set-aside file's line is not one line free of message text: {line!r}"
        return "table with files set aside" if bad else "table"
    except IngestError as exc:
        line = exc.one_line()
        if "\n" in line or not exc.file:
            return f"FAIL: error not one line naming a file: {line!r}"
        if any(t in line for t in texts):
            return f"FAIL: message text in an error: {line!r}"
        return "error"
    except Exception as exc:  # the point: anything else is a bug
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return f"FAIL: {type(exc).__name__} at {Path(tb.filename).name}:{tb.lineno}: {str(exc)[:200]}"


def damaged_exports(platform: str, seed: int = 0) -> Iterator[tuple[str, Path, str, bytes]]:
    """(case, the damaged file's path inside the input, what was done, new bytes)."""
    rng = random.Random(f"{platform}:{seed}")
    for case in cases(platform):
        inp = case / "input"
        for file in data_files(inp):
            for what, data in damage(file, rng):
                yield case.name, file.relative_to(inp), what, data


def run_platform(platform: str, work: Path, sample: int | None = None, seed: int = 0) -> tuple[Counter, list[str]]:
    """The damaged exports of ``platform``'s fixtures (all, or ``sample`` of them chosen at random
    with a fixed seed): outcome counts and the failures."""
    counts: Counter = Counter()
    failures: list[str] = []
    current = None
    texts = message_texts(platform)
    todo = list(damaged_exports(platform, seed))
    if sample is not None and sample < len(todo):
        keep = set(random.Random(platform).sample(range(len(todo)), sample))
        todo = [t for i, t in enumerate(todo) if i in keep]
    for case, rel, what, data in todo:
        src = FIXTURES / platform / case / "input"
        if current != case:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(src, work)
            current = case
        target = work / rel
        original = target.read_bytes()
        target.write_bytes(data)
        try:
            result = outcome(export_path(work), texts)
        finally:
            target.write_bytes(original)
        counts["tried"] += 1
        counts[result if not result.startswith("FAIL") else "FAIL"] += 1
        if result.startswith("FAIL"):
            failures.append(f"{platform}/{case}/{rel} [{what}]: {result}")
    return counts, failures


def sweep_wrong_types(platform: str, work: Path) -> tuple[Counter, list[str]]:
    """Every field of every JSON fixture file (first records of each list), in turn, given each of a few
    values of the wrong type: a slower, exhaustive complement to the random damage."""
    values = [None, 7, "x", [], {}, [1], {"a": 1}, True, -1e300]
    counts: Counter = Counter()
    failures: list[str] = []
    texts = message_texts(platform)
    for case in cases(platform):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(case / "input", work)
        for file in data_files(work):
            if file.suffix.lower() != ".json":
                continue
            raw = file.read_bytes()
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            for path, key in _paths(doc):
                for value in values:
                    mutated = json.loads(raw)
                    _get(mutated, path)[key] = value
                    file.write_text(json.dumps(mutated))
                    result = outcome(export_path(work), texts)
                    counts["tried"] += 1
                    counts["FAIL" if result.startswith("FAIL") else result] += 1
                    if result.startswith("FAIL"):
                        failures.append(f"{platform}/{case.name}/{file.relative_to(work)} "
                                        f"{'/'.join(map(str, (*path, key)))}={value!r}: {result}")
            file.write_bytes(raw)
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.robustness_report [--seed N] [PLATFORM ...]``: every damaged export, counted."""
    argv = list(argv or [])
    seed = 0
    runner = run_platform
    if "--sweep" in argv:  # every JSON field with wrong types, instead of the random damage
        argv.remove("--sweep")
        runner = lambda p, work, seed: sweep_wrong_types(p, work)  # noqa: E731
    if "--seed" in argv:
        i = argv.index("--seed")
        seed = int(argv[i + 1])
        del argv[i:i + 2]
    platforms = argv or list(adapters.ADAPTERS)
    total: Counter = Counter()
    all_failures = []
    print(f"{'platform':<16}{'tried':>7}{'table':>7}{'set aside':>11}{'error':>7}{'FAIL':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for p in platforms:
            counts, failures = runner(p, Path(tmp) / "export", seed=seed)
            total.update(counts)
            all_failures += failures
            print(f"{p:<16}{counts['tried']:>7}{counts['table']:>7}{counts['table with files set aside']:>11}"
                  f"{counts['error']:>7}{counts['FAIL']:>6}")
    print(f"{'all':<16}{total['tried']:>7}{total['table']:>7}{total['table with files set aside']:>11}"
          f"{total['error']:>7}{total['FAIL']:>6}")
    for f in all_failures:
        print(f)
    return 1 if all_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
