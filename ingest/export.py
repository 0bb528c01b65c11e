"""Your pairs as a personal dataset: csv, jsonl, parquet, chat-jsonl, txt, npy.

The Python twin of ``talklike export``::

    from ingest.export import export
    result = export(Workspace("data"), "me", Path("pairs.parquet"), "parquet", redact=True)

**Columns** of ``csv``, ``jsonl`` and ``parquet`` (one row per pair, see :data:`COLUMNS`)::

    schema_version  thread  platform  session  prompt_sender  reply_sender
    prompt_time  reply_time  context  context_senders  prompt  reply

The schema version is a column in csv (every row) and a field of every jsonl line; in
parquet it is the file's key-value metadata ``talklike.schema_version``. Times are UTC:
ISO 8601 text ``2020-09-13T12:26:40.000000Z`` in csv and jsonl, ``timestamp[us, UTC]`` in
parquet. ``context`` and ``context_senders`` are lists (oldest first): JSON arrays in csv
and jsonl, ``list<string>`` in parquet.

The other formats carry less: ``chat-jsonl`` one ``{"messages": [...]}`` object per line,
``txt`` one ``prompt<TAB>reply`` line per pair, ``npy`` a dict prompt -> reply.

Every byte is determined by the workspace and the options: rows keep the order of
:func:`ingest.pairs.build_pairs` (by thread, then time), nothing records when it was written,
and parquet is written with fixed settings, so the same export twice gives identical files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ingest.errors import OptionError, WorkspaceError
from ingest.pairs import PairOptions, build_pairs
from ingest.people import ME, resolve_person
from ingest.redact import Redactor
from ingest.workspace import Workspace, atomic_write

SCHEMA_VERSION = 1  # of the exported columns; bump when one is added, removed or changes meaning

# name -> what it holds (the README's table says the same).
COLUMNS: dict[str, str] = {
    "schema_version": "this table's version (csv, jsonl; parquet keeps it in the file metadata)",
    "thread": "the thread id (with --redact: <THREAD_n>)",
    "platform": "facebook, whatsapp, slack, ...",
    "session": "1, 2, ...: the conversation session the pair comes from, numbered in file order",
    "prompt_sender": "who wrote the prompt (display name)",
    "reply_sender": "who wrote the reply: the --as person",
    "prompt_time": "when the prompt's first message was sent (UTC)",
    "reply_time": "when the reply's first message was sent (UTC)",
    "context": "the turns before the prompt in the same session, oldest first (--context N)",
    "context_senders": "who wrote each context turn",
    "prompt": "the other person's turn (messages of one sender joined by newlines)",
    "reply": "the --as person's turn that answers it",
}
TABLE_COLUMNS = [c for c in COLUMNS if c != "schema_version"]
LIST_COLUMNS = ("context", "context_senders")
TIME_COLUMNS = ("prompt_time", "reply_time")
META_KEY = b"talklike.schema_version"


@dataclass
class ExportResult:
    path: Path
    format: str
    person: str
    pairs: int
    bytes: int
    by_sender: list[tuple[str, str, int]]  # (prompt sender, platform, pairs), most pairs first
    redacted: dict[str, int] = field(default_factory=dict)  # kind -> distinct values replaced


# --- the table ---------------------------------------------------------------------------------

def export_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """build_pairs' table in the exported shape: TABLE_COLUMNS, times to the microsecond."""
    session = pd.factorize(pairs["conversation"])[0] + 1
    out = pd.DataFrame({
        "thread": pairs["thread_id"].astype(str).to_numpy(),
        "platform": pairs["platform"].astype(str).to_numpy(),
        "session": session.astype("int64"),
        "prompt_sender": pairs["prompt_sender"].astype(str).to_numpy(),
        "reply_sender": pairs["reply_sender"].astype(str).to_numpy(),
        "prompt_time": pd.to_datetime(pairs["prompt_time"], utc=True).dt.floor("us").to_numpy(),
        "reply_time": pd.to_datetime(pairs["reply_time"], utc=True).dt.floor("us").to_numpy(),
        "context": [list(map(str, c)) for c in pairs["context"]],
        "context_senders": [list(map(str, c)) for c in pairs["context_senders"]],
        "prompt": pairs["prompt"].astype(str).to_numpy(),
        "reply": pairs["reply"].astype(str).to_numpy(),
    })
    for col in TIME_COLUMNS:
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
    return out


def redact_table(table: pd.DataFrame, redactor: Redactor) -> pd.DataFrame:
    """Every text and name of the table through ``redactor``, row by row in file order."""
    rows = []
    for r in table.itertuples(index=False):
        rows.append({
            "thread": redactor.placeholder("THREAD", r.thread),
            "prompt_sender": redactor.name(r.prompt_sender),
            "reply_sender": redactor.name(r.reply_sender),
            "context_senders": [redactor.name(s) for s in r.context_senders],
            "context": [redactor.text(c) for c in r.context],
            "prompt": redactor.text(r.prompt),
            "reply": redactor.text(r.reply),
        })
    out = table.copy()
    for col in ("thread", "prompt_sender", "reply_sender", "context_senders", "context", "prompt", "reply"):
        out[col] = [row[col] for row in rows] if rows else out[col]
    return out


def third_parties(messages: pd.DataFrame, target: str) -> list[str]:
    """The names --redact-names replaces: every sender in the workspace but me and ``target``."""
    others = messages.loc[~messages["is_me"], "sender"].astype(str)
    return sorted(set(others) - {target})


# --- formats -----------------------------------------------------------------------------------

def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _records(table: pd.DataFrame) -> list[dict]:
    out = []
    for r in table.itertuples(index=False):
        rec = {"schema_version": SCHEMA_VERSION, **r._asdict()}
        rec["session"] = int(rec["session"])
        for col in TIME_COLUMNS:
            rec[col] = _iso(rec[col])
        out.append(rec)
    return out


def _from_records(records: list[dict], source: Path) -> pd.DataFrame:
    for i, rec in enumerate(records, 1):
        if rec.get("schema_version") != SCHEMA_VERSION:
            raise OptionError(f"{source}: row {i} has schema version {rec.get('schema_version')!r}, "
                              f"this talklike reads {SCHEMA_VERSION}", hint="export it again")
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS)).drop(columns="schema_version")
    frame["session"] = frame["session"].astype("int64")
    for col in TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    return frame


def write_csv(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for rec in _records(table):
        writer.writerow([json.dumps(v, ensure_ascii=False) if c in LIST_COLUMNS else v for c, v in rec.items()])
    fh.write(text.getvalue().encode("utf-8"))


def read_csv(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["schema_version"] = int(row["schema_version"]) if row["schema_version"].isdigit() else None
        for col in LIST_COLUMNS:
            row[col] = json.loads(row[col])
    return _from_records(rows, path)


def write_jsonl(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    for rec in _records(table):
        fh.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))


def read_jsonl(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8") as fh:
        return _from_records([json.loads(line) for line in fh if line.strip()], path)


def _arrow_schema():
    import pyarrow as pa

    text, names = pa.string(), pa.list_(pa.string())
    when = pa.timestamp("us", tz="UTC")
    return pa.schema([("thread", text), ("platform", text), ("session", pa.int64()), ("prompt_sender", text),
                      ("reply_sender", text), ("prompt_time", when), ("reply_time", when), ("context", names),
                      ("context_senders", names), ("prompt", text), ("reply", text)],
                     metadata={META_KEY: str(SCHEMA_VERSION).encode()})


def write_parquet(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    arrays = [pa.array(table[name].tolist(), type=schema.field(name).type) for name in schema.names]
    # Fixed settings: no pandas metadata, no statistics that could differ, one row group.
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), fh, compression="zstd",
                   row_group_size=max(len(table), 1), write_statistics=False)


def read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    tab = pq.read_table(path)
    version = (tab.schema.metadata or {}).get(META_KEY)
    if version != str(SCHEMA_VERSION).encode():
        raise OptionError(f"{path}: schema version {version!r}, this talklike reads {SCHEMA_VERSION}",
                          hint="export it again")
    frame = tab.to_pandas()
    for col in LIST_COLUMNS:
        frame[col] = [list(v) for v in frame[col]]
    for col in TIME_COLUMNS:
        frame[col] = frame[col].astype("datetime64[us, UTC]")
    return frame[TABLE_COLUMNS]


def chat_messages(row, system: str | None) -> list[dict]:
    """One pair as chat messages: system, then context and prompt as user / assistant by who spoke, then the reply.

    A context turn written by the reply's author is an ``assistant`` message, any other a ``user``
    message; in a group chat two ``user`` messages can therefore follow each other.
    """
    msgs = [{"role": "system", "content": system}] if system else []
    for who, text in zip(row.context_senders, row.context, strict=True):
        msgs.append({"role": "assistant" if who == row.reply_sender else "user", "content": text})
    msgs += [{"role": "user", "content": row.prompt}, {"role": "assistant", "content": row.reply}]
    return msgs


def write_chat_jsonl(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    for row in table.itertuples(index=False):
        line = json.dumps({"messages": chat_messages(row, ctx.get("system"))}, ensure_ascii=False)
        fh.write((line + "\n").encode("utf-8"))


def read_chat_jsonl(path: Path) -> list[list[dict]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["messages"] for line in fh if line.strip()]


_TXT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TXT_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def txt_escape(text: str) -> str:
    """Backslash, newline, carriage return and tab as ``\\\\``, ``\\n``, ``\\r``, ``\\t``: one pair, one line."""
    return "".join(_TXT_ESCAPES.get(ch, ch) for ch in text)


def txt_unescape(text: str) -> str:
    out, chars = [], iter(text)
    for ch in chars:
        out.append(_TXT_UNESCAPES.get(next(chars, ""), "") if ch == "\\" else ch)
    return "".join(out)


def write_txt(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    for p, r in zip(table["prompt"], table["reply"], strict=True):
        fh.write(f"{txt_escape(p)}\t{txt_escape(r)}\n".encode())


def read_txt(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="\n") as fh:
        return [tuple(txt_unescape(part) for part in line.rstrip("\n").split("\t")) for line in fh]


def prompt_to_reply(table: pd.DataFrame) -> dict[str, str]:
    """The Facebook-Messenger-Bot dictionary: prompt -> reply; a prompt seen twice keeps its most recent reply.

    Most recent by reply time; at equal times, the later row of the file. Keys keep the order in
    which prompts first appear in the file.
    """
    latest: dict[str, tuple] = {}
    for i, (p, r, t) in enumerate(zip(table["prompt"], table["reply"], table["reply_time"], strict=True)):
        if p not in latest or (t, i) >= latest[p][1:]:
            latest[p] = (r, t, i)
    return {p: v[0] for p, v in latest.items()}


def write_npy(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    np.save(fh, np.array(prompt_to_reply(table), dtype=object), allow_pickle=True)


def read_npy(path: Path) -> dict[str, str]:
    return np.load(path, allow_pickle=True).item()


@dataclass(frozen=True)
class Format:
    suffix: str  # the usual file extension
    write: Callable[[pd.DataFrame, IO[bytes], dict], None]
    read: Callable[[Path], Any]
    help: str


FORMATS: dict[str, Format] = {
    "csv": Format(".csv", write_csv, read_csv, "one row per pair; lists as JSON arrays; UTF-8, CRLF rows"),
    "jsonl": Format(".jsonl", write_jsonl, read_jsonl, "one JSON object per pair and line"),
    "parquet": Format(".parquet", write_parquet, read_parquet, "one row per pair; typed columns, zstd"),
    "chat-jsonl": Format(".jsonl", write_chat_jsonl, read_chat_jsonl,
                         '{"messages": [system, context..., user, assistant]} per line, for LLM fine-tuning'),
    "txt": Format(".txt", write_txt, read_txt, r"prompt<TAB>reply per line; \n \t \\ escaped"),
    "npy": Format(".npy", write_npy, read_npy,
                  "dict prompt -> reply for Facebook-Messenger-Bot (np.load(path, allow_pickle=True).item()); "
                  "a repeated prompt keeps its most recent reply"),
}


def read_export(path: Path | str, fmt: str) -> Any:
    """Read an exported file back: a DataFrame (csv, jsonl, parquet), chat message lists, (prompt, reply) tuples,
    or the npy dict."""
    return _format(fmt).read(Path(path))


def _format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise OptionError(f"unknown export format {fmt!r}", hint=f"choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


# --- the command -------------------------------------------------------------------------------

def default_system(workspace: Workspace, target: str) -> str:
    """The chat-jsonl system message: who the assistant writes as."""
    name = target
    if target == ME:
        names = workspace.meta().get("me") or []
        name = names[0] if names else "me"
    return f"You are {name}. Reply the way {name} writes in chats."


def export(workspace: Workspace, person: str, out: Path | str, fmt: str, pairs: PairOptions = PairOptions(), *,
           redact: bool = False, redact_names: bool = False, system: str | None = None) -> ExportResult:
    """Write the pairs of ``person`` (``"me"`` or a friend) to ``out`` in format ``fmt``.

    ``redact`` replaces e-mail addresses, phone numbers and URLs by placeholders and thread ids by
    ``<THREAD_n>``; ``redact_names`` also replaces the names of third parties (everyone in the
    workspace but you and ``person``) in the texts and sender columns. ``system`` is the
    chat-jsonl system message (None: :func:`default_system`; "": none).
    """
    spec = _format(fmt)
    out = Path(out)
    if out.is_dir():
        raise OptionError(f"{out} is a folder", hint=f"give a file path, e.g. {out / ('pairs' + spec.suffix)}")
    messages = workspace.messages()
    target = resolve_person(messages, person)
    built = build_pairs(messages, target, pairs)
    if built.empty:
        raise WorkspaceError(f"no (message, reply) pairs for {target!r} with these pair options",
                             hint="loosen them: a longer --session-gap, a wider --since/--until, fewer --with")
    table = export_table(built)
    redactor = None
    if redact or redact_names:
        kept = [*messages.loc[messages["is_me"], "sender"].astype(str).unique(), target]
        redactor = Redactor(third_parties(messages, target) if redact_names else (), keep=sorted(kept))
        table = redact_table(table, redactor)
    ctx = {"system": default_system(workspace, target) if system is None else system}
    if redactor is not None and ctx["system"]:
        ctx["system"] = redactor.text(ctx["system"])
    # a file written into the workspace folder is written by one writer at a time (ingest.lock)
    inside = out.expanduser().absolute().is_relative_to(workspace.root.expanduser().absolute())
    with workspace.writing("export") if inside else contextlib.nullcontext(), atomic_write(out) as fh:
        spec.write(table, fh, ctx)
    counts = table.groupby(["prompt_sender", "platform"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values("n", ascending=False, kind="stable")
    return ExportResult(path=out, format=fmt, person=target, pairs=len(table), bytes=out.stat().st_size,
                        by_sender=[(s, p, int(n)) for s, p, n in counts.itertuples(index=False)],
                        redacted={k: v for k, v in redactor.distinct().items() if v} if redactor else {})
