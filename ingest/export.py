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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ingest.errors import OptionError, WorkspaceError
from ingest.pairs import PairOptions, build_pairs
from ingest.people import ME, resolve_person
from ingest.redact import Redactor
from ingest.splits import SplitOptions
from ingest.workspace import Workspace, atomic_write, private_mkdir

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
    files: list[Path] = field(default_factory=list)  # every file written (several with a split)
    splits: dict[str, int] = field(default_factory=dict)  # split -> pairs (with a split)
    split_note: str | None = None  # how the split was drawn: the bot's, or train's way without a bot


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


def alternating_messages(row, system: str | None) -> list[dict]:
    """``chat_messages`` as the chat templates of fine-tuning tools want them: the optional system message, then
    strictly user, assistant, user, ..., assistant. Consecutive turns of one role are merged into one message
    (joined by a newline: in a group chat, several friends' turns become one user message), and context turns by
    the person before the first user turn are left out."""
    merged: list[dict] = []
    for msg in chat_messages(row, None):
        if not merged and msg["role"] == "assistant":
            continue
        if merged and merged[-1]["role"] == msg["role"]:
            merged[-1]["content"] += "\n" + msg["content"]
        else:
            merged.append(dict(msg))
    return ([{"role": "system", "content": system}] if system else []) + merged


def write_chat_jsonl(table: pd.DataFrame, fh: IO[bytes], ctx: dict) -> None:
    shape = alternating_messages if ctx.get("alternate") else chat_messages
    for row in table.itertuples(index=False):
        line = json.dumps({"messages": shape(row, ctx.get("system"))}, ensure_ascii=False)
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
    suffix: str  # the file extension that names it (--out's suffix picks the format)
    write: Callable[[pd.DataFrame, IO[bytes], dict], None]
    read: Callable[[Path], Any]
    help: str
    binary: bool = False  # not written to a terminal


def read_hf(path: Path) -> pd.DataFrame:
    """A split folder's splits in one table, with a ``split`` column."""
    frames = []
    for name, file in split_folder_files(Path(path)).items():
        frame = read_export(file, folder_format(file))
        frame.insert(0, "split", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


FORMATS: dict[str, Format] = {
    "csv": Format(".csv", write_csv, read_csv, "one row per pair; lists as JSON arrays; UTF-8, CRLF rows"),
    "jsonl": Format(".jsonl", write_jsonl, read_jsonl, "one JSON object per pair and line"),
    "parquet": Format(".parquet", write_parquet, read_parquet, "one row per pair; typed columns, zstd", True),
    "chat-jsonl": Format(".chat.jsonl", write_chat_jsonl, read_chat_jsonl,
                         '{"messages": [system, context..., user, assistant]} per line, for LLM fine-tuning'),
    "txt": Format(".txt", write_txt, read_txt, r"prompt<TAB>reply per line; \n \t \\ escaped"),
    "npy": Format(".npy", write_npy, read_npy,
                  "dict prompt -> reply for Facebook-Messenger-Bot (np.load(path, allow_pickle=True).item()); "
                  "a repeated prompt keeps its most recent reply", True),
    "hf": Format("/", write_parquet, read_hf,
                 "a folder Hugging Face datasets loads: data/train.parquet, data/validation.parquet, "
                 "data/test.parquet and a dataset card (README.md)", True),
}
# --out's suffix -> format, longest first (.chat.jsonl before .jsonl)
SUFFIXES: dict[str, str] = {f.suffix: name for name, f in sorted(FORMATS.items(), key=lambda kv: -len(kv[1].suffix))
                            if f.suffix.startswith(".")}
FOLDER_FORMATS = ("parquet", "jsonl", "csv", "chat-jsonl")  # what a split folder may hold: datasets reads them all
SPLIT_FILE = "data/{split}{suffix}"  # in a split folder


def read_export(path: Path | str, fmt: str) -> Any:
    """Read an exported file back: a DataFrame (csv, jsonl, parquet; hf: every split, with a ``split`` column),
    chat message lists, (prompt, reply) tuples, or the npy dict."""
    return _format(fmt).read(Path(path))


def _format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise OptionError(f"unknown export format {fmt!r}", hint=f"choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


# --- where it goes -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """Where an export goes and in what format, decided from --out and --format before any work."""

    format: str  # the format of the file(s) written (a split folder: parquet, jsonl, csv or chat-jsonl)
    layout: str  # "file", "files" (one file per split, beside each other), "folder" (a split folder), "stream"
    path: Path | None  # None for a stream

    def split_paths(self) -> dict[str, Path]:
        """The file of each split ("files" and "folder" layouts)."""
        from ingest.splits import SPLITS

        assert self.path is not None
        if self.layout == "folder":
            return {s: self.path / SPLIT_FILE.format(split=s, suffix=FORMATS[self.format].suffix) for s in SPLITS}
        base, suffix = _stem(self.path.name)
        return {s: self.path.with_name(f"{base}.{s}{suffix}") for s in SPLITS}


def _stem(name: str) -> tuple[str, str]:
    """(name without its format suffix, that suffix); an unknown suffix is the last dot's."""
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    stem, dot, rest = name.rpartition(".")
    return (stem, dot + rest) if stem else (name, "")


def suffix_format(name: str) -> str | None:
    """The format an --out name's suffix names (``pairs.chat.jsonl``: chat-jsonl), or None."""
    _, suffix = _stem(name)
    return SUFFIXES.get(suffix.lower())


def plan_output(out: Path | str | IO[bytes], fmt: str | None = None, *, split: bool = False) -> Output:
    """Where ``out`` is and what to write there, checked before any work.

    * a name with a format's suffix is that format (``.jsonl``, ``.chat.jsonl``, ``.csv``, ``.parquet``, ``.txt``,
      ``.npy``); an explicit ``fmt`` must agree, except chat-jsonl, which a plain ``.jsonl`` may hold too;
    * a folder (``fmt="hf"``, an existing folder, or a name without a suffix) is a split folder that Hugging Face
      ``datasets`` loads: parquet unless ``fmt`` asks for jsonl, csv or chat-jsonl;
    * ``split`` with a file name writes one file per split beside it: ``pairs.train.jsonl``, ...;
    * a binary file object (standard output) takes any single-file format, jsonl by default.
    """
    if fmt is not None:
        _format(fmt)
    if not isinstance(out, str | Path):  # a stream
        if fmt == "hf" or split:
            raise OptionError("a split is several files, and standard output is one stream",
                              hint="give a folder: --out pairs/, or a file name: --out pairs.jsonl")
        return Output(fmt or "jsonl", "stream", None)
    out = Path(out)
    inferred = suffix_format(out.name)
    folder = (fmt == "hf" or (out.is_dir() and (fmt is None or split))
              or (not out.suffix and fmt is None) or (not out.suffix and split))
    if folder:
        if out.exists() and not out.is_dir():
            raise OptionError(f"{out} is a file, and a split dataset is a folder", hint="give a folder path")
        if out.is_dir() and any(out.iterdir()) and CARD_MARK not in _read_card(out):
            raise OptionError(f"{out} holds other files, and a split dataset writes README.md and data/ there",
                              hint="give a new or empty folder, or one `talklike export` wrote")
        data = "parquet" if fmt in (None, "hf") else fmt
        if data not in FOLDER_FORMATS:
            raise OptionError(f"a split folder holds {', '.join(FOLDER_FORMATS)}, not {fmt}",
                              hint=f"write {fmt} one file per split: --out pairs{FORMATS[data].suffix} --split")
        return Output(data, "folder", out)
    if out.is_dir():
        raise OptionError(f"{out} is a folder", hint=f"give a file path, e.g. {out / ('pairs' + FORMATS[fmt].suffix)}"
                          f", or add --split for a split dataset there")
    if fmt is not None and inferred is not None and fmt != inferred and not (fmt == "chat-jsonl" and inferred == "jsonl"):
        raise OptionError(f"--format {fmt} does not match {out.name}, whose suffix means {inferred}",
                          hint=f"name it {_stem(out.name)[0]}{FORMATS[fmt].suffix}, or leave --format out")
    if fmt is None and inferred is None:
        raise OptionError(f"cannot tell the format of {out.name} from its suffix",
                          hint=f"end it with {', '.join(SUFFIXES)}, name a folder for a split dataset, "
                          "or give --format")
    return Output(fmt or inferred, "files" if split else "file", out)


# --- the dataset card --------------------------------------------------------------------------

CARD_MARK = "Written by `talklike export`"  # a folder whose README.md says it may be written again


def _read_card(folder: Path) -> str:
    try:
        return (folder / "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _options_json(pairs: PairOptions) -> dict:
    if hasattr(pairs, "to_json"):
        return pairs.to_json()
    return {k: (None if v is None else v if isinstance(v, int | float | bool | str) else
                list(v) if isinstance(v, tuple) else str(v))
            for k, v in asdict(pairs).items() if k != "extra"}


def dataset_card(person: str, output: Output, counts: dict[str, int], sessions: dict[str, int], options: dict,
                 split_note: str) -> str:
    """README.md of a split folder: YAML front matter naming the split files (the ``configs`` that ``datasets``
    reads), then what it holds, its counts, the options it was made with, and a privacy note."""
    builder = {"parquet": "parquet", "csv": "csv"}.get(output.format, "json")
    paths = {s: p.relative_to(output.path).as_posix() for s, p in output.split_paths().items()}
    yaml = ["---", "configs:", "- config_name: default", "  data_files:"]
    for s, rel in paths.items():
        yaml += [f"  - split: {s}", f"    path: {rel}"]
    yaml += ["license: other", "tags:", "- talklike", "- personal-data", "---", ""]
    rows = "\n".join(f"| {s} | {counts[s]:,} | {sessions[s]:,} | `{paths[s]}` |" for s in paths)
    return "\n".join(yaml) + f"""# {person}'s replies: a personal dataset

{CARD_MARK}: (message, reply) pairs from {person}'s chats, {output.format} per split.
See talklike's `docs/dataset.md` for the columns.

**Private.** These are personal messages, of {person} and of the people they wrote with, who never
agreed to be in a dataset. Keep this folder on your own machine: do not upload it to the Hugging Face
Hub or anywhere else, do not share it, even with `--redact-names` (redaction catches e-mail addresses,
phone numbers, URLs and names, not everything that identifies a person).

| split | pairs | sessions | file |
|---|---:|---:|---|
{rows}

The split is by conversation session, never cutting one in two: {split_note}.

## Loading

```python
from datasets import load_dataset

ds = load_dataset("{builder}", data_files={{{", ".join(f'"{s}": "{p}"' for s, p in paths.items())}}})
# or, from the folder that holds this card: load_dataset("path/to/this/folder")
```

## Options

```json
{json.dumps(options, indent=2, ensure_ascii=False, sort_keys=True)}
```
"""


# --- reading pairs back (eval --pairs) ----------------------------------------------------------

def split_folder_files(folder: Path) -> dict[str, Path]:
    """The split files of a split folder, by split name."""
    from ingest.splits import SPLITS

    found = {}
    for s in SPLITS:
        for fmt in FOLDER_FORMATS:
            file = folder / SPLIT_FILE.format(split=s, suffix=FORMATS[fmt].suffix)
            if file.is_file():
                found[s] = file
                break
    if not found:
        raise OptionError(f"{folder}: no data/train, data/validation or data/test file in it",
                          hint="give a folder `talklike export --split` wrote, or a file")
    return found


def folder_format(file: Path) -> str:
    return suffix_format(file.name) or "jsonl"


def _bad(path: Path, where: str, what: str, hint: str) -> OptionError:
    return OptionError(f"{path}{where}: {what}", hint=hint)


def _pairs_from_jsonl(path: Path) -> pd.DataFrame:
    """A JSONL file of ``{"prompt", "reply"}`` objects (``context`` optional; any other export column kept) or of
    ``{"messages": [...]}`` chats. A bad line is named, its text never quoted."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, "", f"cannot read it ({type(exc).__name__})",
                   'pass a UTF-8 JSONL file of {"prompt": ..., "reply": ...} objects') from None
    rows = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "messages" in obj:
            rows.append(_pair_from_chat(obj["messages"], path, no))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("reply"), str):
            raise _bad(path, f":{no}", 'not a {"prompt": string, "reply": string} object',
                       "write one JSON object per line with string fields prompt and reply")
        context = obj.get("context", [])
        if not isinstance(context, list) or not all(isinstance(t, str) for t in context):
            raise _bad(path, f":{no}", '"context" is not a list of strings',
                       "give the turns before the prompt as a JSON list of strings, oldest first, or leave it out")
        row = {k: obj[k] for k in ("thread", "session", "prompt_time", "reply_time") if k in obj}
        rows.append({"prompt": obj["prompt"], "reply": obj["reply"], "context": list(context),
                     "conversation": str(obj.get("conversation", no)), **row})
    return pd.DataFrame(rows)


def _pair_from_chat(messages: Any, path: Path, no: int) -> dict:
    """A chat example back as a pair: its last assistant message is the reply, the user message before it the
    prompt, the messages before that (system aside) the context."""
    ok = (isinstance(messages, list) and len(messages) >= 2 and all(
        isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
        and messages[-1].get("role") == "assistant" and messages[-2].get("role") == "user")
    if not ok:
        raise _bad(path, f":{no}", "not a chat that ends with a user message and the assistant's reply",
                   'write {"messages": [..., {"role": "user", ...}, {"role": "assistant", ...}]} per line')
    context = [m["content"] for m in messages[:-2] if m.get("role") != "system"]
    return {"prompt": messages[-2]["content"], "reply": messages[-1]["content"], "context": context,
            "conversation": str(no)}


def read_pairs(path: Path | str) -> pd.DataFrame:
    """Pairs back from whatever ``export`` wrote (or a JSONL file of ``{"prompt", "reply"}`` objects): columns
    prompt, reply, context (a list per pair) and conversation, plus the columns the format keeps (thread,
    session, prompt_time, reply_time). A split folder gives its test split. The format comes from the suffix
    (a ``.jsonl`` file may hold pairs or chats); a file that cannot be read is an ``OptionError``."""
    path = Path(path)
    if path.is_dir():
        files = split_folder_files(path)
        if "test" not in files:
            raise OptionError(f"{path}: no test split in it", hint="export it again with --split")
        path = files["test"]
    fmt = suffix_format(path.name)
    if fmt in (None, "jsonl", "chat-jsonl"):
        frame = _pairs_from_jsonl(path)
    else:
        try:
            back = read_export(path, fmt)
        except OptionError:
            raise
        except Exception as exc:  # a damaged file of any format: its kind of error, never its content
            raise _bad(path, "", f"cannot read it as {fmt} ({type(exc).__name__})",
                       f"pass a file `talklike export` wrote, or a {', '.join(SUFFIXES)} file") from None
        if fmt in ("csv", "parquet"):
            frame = back.assign(conversation=back["thread"].astype(str) + "#" + back["session"].astype(str))
        else:
            items = back.items() if fmt == "npy" else back
            frame = pd.DataFrame([{"prompt": p, "reply": r, "context": [], "conversation": str(i)}
                                  for i, (p, r) in enumerate(items, 1)])
    if frame.empty:
        raise OptionError(f"{path}: no pairs in it", hint='write one {"prompt": ..., "reply": ...} object per line')
    return frame


# --- the command -------------------------------------------------------------------------------

def display_name(workspace: Workspace, target: str) -> str:
    """``target``'s name, and for ``me`` the first name the workspace knows you by."""
    if target != ME:
        return target
    names = workspace.meta().get("me") or []
    return names[0] if names else "me"


def default_system(workspace: Workspace, target: str) -> str:
    """The chat-jsonl system message: who the assistant writes as."""
    name = display_name(workspace, target)
    return f"You are {name}. Reply the way {name} writes in chats."


def _sides(workspace: Workspace, messages: pd.DataFrame, target: str, built: pd.DataFrame, pairs: PairOptions,
           split: SplitOptions | None) -> tuple[np.ndarray, SplitOptions, str]:
    """The split of each pair, the options it was drawn with, and a sentence saying how."""
    from ingest.splits import SplitOptions, assign, bot_split

    bot = bot_split(workspace, messages, target, (pairs, built))
    if bot is None:
        opts = split or SplitOptions()
        how = "user's shares" if split else "train's defaults"
        return assign(built["conversation"], opts), opts, (f"no trained bot of {target}: split the way `talklike train` "
                                                     f"would ({how}: {opts.describe()})")
    if split is not None and split != bot.options:
        return assign(built["conversation"], split), split, (f"{split.describe()}; NOT the held-out split of {target}'s bot "
                                                      f"({bot.options.describe()})")
    note = f"the held-out split of {target}'s trained bot ({bot.options.describe()}): test is what `talklike eval` " \
        "reports on"
    if replace(pairs, context_turns=0) != replace(bot.pairs, context_turns=0):
        note += "; the pair options differ from the bot's, so sessions the bot never saw are hashed the same way"
    return assign(built["conversation"], bot.options, bot.sides), bot.options, note


def export(workspace: Workspace, person: str, out: Path | str | IO[bytes], fmt: str | None = None,
           pairs: PairOptions = PairOptions(), *, redact: bool = False, redact_names: bool = False,
           system: str | None = None, split: bool | SplitOptions = False, alternate: bool = False) -> ExportResult:
    """Write the pairs of ``person`` (``"me"`` or a friend) to ``out``: a file, a folder, or a binary stream.

    ``fmt`` (None: from ``out``'s suffix) and the layout are decided by :func:`plan_output` before any work.
    ``split`` (True, or :class:`ingest.splits.SplitOptions`) writes train / validation / test by session: the
    held-out split of the person's bot when one exists (True), else the way ``train`` would draw it; a folder
    always holds the three splits and a dataset card. ``alternate``: chat-jsonl in strict user / assistant
    turns (:func:`alternating_messages`).

    ``redact`` replaces e-mail addresses, phone numbers and URLs by placeholders and thread ids by
    ``<THREAD_n>``; ``redact_names`` also replaces the names of third parties (everyone in the
    workspace but you and ``person``) in the texts and sender columns. ``system`` is the
    chat-jsonl system message (None: :func:`default_system`; "": none).
    """
    output = plan_output(out, fmt, split=bool(split))
    fmt = output.format
    spec = FORMATS[fmt]
    if alternate and fmt != "chat-jsonl":
        raise OptionError(f"--alternate shapes chat-jsonl, not {fmt}", hint="add --format chat-jsonl, or leave it out")
    if output.layout == "stream" and spec.binary and getattr(out, "isatty", lambda: False)():
        raise OptionError(f"{fmt} is binary and standard output is a terminal",
                          hint=f"redirect it (> pairs{spec.suffix}) or give --out pairs{spec.suffix}")
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
    ctx = {"system": default_system(workspace, target) if system is None else system, "alternate": alternate}
    if redactor is not None and ctx["system"]:
        ctx["system"] = redactor.text(ctx["system"])

    files: dict[Path, pd.DataFrame] = {}
    counts: dict[str, int] = {}
    note = None
    if output.layout in ("files", "folder"):
        sides, used, note = _sides(workspace, messages, target, built, pairs,
                             split if not isinstance(split, bool) else None)
        for name, path in output.split_paths().items():
            part = table[sides == name].reset_index(drop=True)
            files[path], counts[name] = part, len(part)
    elif output.path is not None:
        files[output.path] = table

    if output.layout == "stream":
        buffer = io.BytesIO()
        spec.write(table, buffer, ctx)
        out.write(buffer.getvalue())  # type: ignore[union-attr]
        out.flush()  # type: ignore[union-attr]
        size = len(buffer.getvalue())
    else:
        # a file written into the workspace folder is written by one writer at a time (ingest.lock)
        root = output.path.expanduser().absolute()
        inside = root.is_relative_to(workspace.root.expanduser().absolute())
        with workspace.writing("export") if inside else contextlib.nullcontext():
            for path, part in files.items():
                if output.layout == "folder":
                    private_mkdir(path.parent)
                with atomic_write(path) as fh:
                    spec.write(part, fh, ctx)
            if output.layout == "folder":
                for other in FOLDER_FORMATS:  # a folder written before in another format: its files would be read
                    for name, path in output.split_paths().items():
                        stale = output.path / SPLIT_FILE.format(split=name, suffix=FORMATS[other].suffix)
                        if stale != path and stale.is_file():
                            stale.unlink()
                sessions = {s: int(built["conversation"][sides == s].nunique()) for s in counts}
                options = {"format": fmt, "person": target, "pairs": _options_json(pairs), "redact": redact,
                           "redact_names": redact_names, "alternate": alternate,
                           "split": asdict(used), "schema_version": SCHEMA_VERSION}
                card = output.path / "README.md"
                with atomic_write(card) as fh:
                    name = display_name(workspace, target)
                    if redactor is not None:
                        name = redactor.name(name)
                    fh.write(dataset_card(name, output, counts, sessions, options, note or "").encode("utf-8"))
                files[card] = table.iloc[:0]
        size = sum(p.stat().st_size for p in files)
    by = table.groupby(["prompt_sender", "platform"], sort=True).size().reset_index(name="n")
    by = by.sort_values("n", ascending=False, kind="stable")
    return ExportResult(path=output.path or Path("-"), format="hf" if output.layout == "folder" and fmt == "parquet"
                        else fmt, person=target, pairs=len(table), bytes=size,
                        by_sender=[(s, p, int(n)) for s, p, n in by.itertuples(index=False)],
                        redacted={k: v for k, v in redactor.distinct().items() if v} if redactor else {},
                        files=list(files), splits=counts, split_note=note)
