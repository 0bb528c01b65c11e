"""The normalised message table: every adapter ends by conforming to it.

One row per message that was kept. Messages that were read but not kept are
never rows; they are counted by reason (see ``SKIP_REASONS``) and the counts
travel with the frame in ``frame.attrs["skipped"]``.

Bump ``SCHEMA_VERSION`` whenever a column is added, removed or changes meaning;
a workspace written under another version is refused with a clear message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest.columns import hex_column
from ingest.source import safe_name

SCHEMA_VERSION = 2  # 2: message_id is a 64-bit SipHash (16 hex digits), was a blake2b of 80 bits

# name -> pandas dtype. Order here is the column order on disk.
COLUMNS: dict[str, str] = {
    "platform": "string",  # adapter key: facebook, slack, hangouts, ...
    "source": "string",  # the file inside the export the message came from (relative path)
    "thread_id": "string",  # platform-qualified, stable across re-exports where the platform allows
    "thread_title": "string",  # human title (the friend's name for a one-to-one chat)
    "is_group": "bool",  # more than two people took part
    "sender": "string",  # display name, as the export shows it
    "sender_id": "string",  # stable identity: profile URL, e-mail, Slack user id; else the name
    "is_me": "bool",  # the sender is the person whose export this is
    "timestamp": "datetime64[ns, UTC]",
    "text": "string",  # message text, never empty for kind == "text"
    "kind": "string",  # one of KINDS
    "message_id": "string",  # stable key used to de-duplicate repeated ingests
    "reply_to": "string",  # message_id this message answers (Slack threads, Telegram replies), else <NA>
    "seq": "int64",  # document order within the thread, for timestamps that tie
}

# The times a message can have, as epoch milliseconds: the epoch (1970-01-01) up to, not including,
# 2200-01-01. A record outside them (a negative time, a unit mistaken, a crafted far date past pandas'
# nanosecond range) is a ``bad_record``, never a crash. Every adapter's table passes through
# :func:`conform`, which applies it; adapters may be stricter (Meta's exports: after the epoch).
MIN_MS = 0
MAX_MS = 7_258_118_400_000


def in_range_ms(ms) -> np.ndarray:
    """Which of ``ms`` (epoch milliseconds, any numeric array; NaN is out) lie within MIN_MS..MAX_MS."""
    ms = np.asarray(ms)
    with np.errstate(invalid="ignore"):
        return (ms >= MIN_MS) & (ms < MAX_MS)


# What a kept message is. Attachments are kept (with their caption, or empty text)
# so that pair building can drop them or render a placeholder.
KINDS = ("text", "link", "attachment", "sticker")

# Why a message that was read was not kept. Adapters may only use these.
SKIP_REASONS = {
    "system": "platform notices: joins, leaves, renames, calls, 'sent an attachment'",
    "reaction": "reactions and 'liked a message' notices",
    "unsent": "deleted or unsent by their sender",
    "empty": "no text and no attachment",
    "bot": "written by a bot or integration",
    "sponsored": "advertising (sponsored InMail)",
    "duplicate": "the same message already read from another file, or another format, of the export",
    "bad_record": "a record the adapter could not read (malformed fields)",
    "poll": "polls, their options and votes",
    "location": "shared and live locations",
}


# message_id, 16 lower-case hex digits of a 64-bit value computed a column at a time:
#     where = SipHash(utf-8 of "platform␟thread_id␟sender_id")    (␟ = U+001F; once per distinct pair)
#     id    = mix(mix(where ^ mix(epoch_ms)) ^ SipHash(utf-8 of text))
# SipHash is SipHash-2-4 keyed with _ID_KEY (pandas' C implementation; tests pin it to the published
# test vectors and to a pure-Python SipHash), mix is the splitmix64 finaliser (a bijection), so the
# ids stay the same across runs, machines and library versions. 64 bits: a chance of about 3 in a
# million of one false duplicate among ten million messages.
_ID_KEY = "talklike msg id1"  # 16 bytes: the SipHash key; changing it changes every id (bump SCHEMA_VERSION)


def siphash(values: Sequence[str]) -> np.ndarray:
    """SipHash-2-4 (key ``_ID_KEY``) of the UTF-8 of each string, as ``uint64``, all at once in C."""
    from pandas._libs.hashing import hash_object_array

    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    try:
        return hash_object_array(arr, _ID_KEY, "utf8")
    except UnicodeEncodeError:  # a lone surrogate (a damaged file): hash the bytes Python would write
        arr[:] = [v.encode("utf-8", "surrogatepass") for v in values]
        return hash_object_array(arr, _ID_KEY, "utf8")


def _mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser of each ``uint64`` (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def id_hashes(platform: str, thread_ids: Sequence[str], sender_ids: Sequence[str], ts_ms: Sequence[int],
              texts: Sequence[str]) -> np.ndarray:
    """The message ids of many messages as ``uint64`` (the value :func:`message_id` writes in hex)."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    t_codes, t_uniq = _codes(thread_ids)
    s_codes, s_uniq = _codes(sender_ids)
    pair = t_codes * len(s_uniq) + s_codes
    pairs, where_of = np.unique(pair, return_inverse=True)
    where = siphash([f"{platform}\x1f{t_uniq[p // len(s_uniq)]}\x1f{s_uniq[p % len(s_uniq)]}" for p in pairs.tolist()])
    ms = np.asarray(ts_ms, dtype=np.int64).view(np.uint64)
    return _mix(_mix(where[where_of.ravel()] ^ _mix(ms)) ^ siphash(texts))


def _codes(values) -> tuple[np.ndarray, list]:
    """(code of each value, the distinct values): a dictionary encoding by arrow, in C."""
    try:
        arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.large_string())
    except (UnicodeError, pa.ArrowException):  # a lone surrogate (a damaged file): pandas keeps it
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
        return codes.astype(np.int64), list(uniques)
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist()


def message_id(platform: str, thread_id: str, sender_id: str, ts_ms: int, text: str) -> str:
    """A stable id for a message: the same message in two exports gets the same id."""
    return message_ids(platform, [thread_id], [sender_id], [ts_ms], [text])[0]


def message_ids(platform: str, thread_ids: Sequence[str], sender_ids: Sequence[str], ts_ms: Sequence[int],
                texts: Sequence[str]) -> list[str]:
    """:func:`message_id` for many messages at once (the same ids, without a call per message)."""
    return [f"{h:016x}" for h in id_hashes(platform, thread_ids, sender_ids, ts_ms, texts).tolist()]


def message_id_column(platform: str, thread_ids: Sequence[str], sender_ids: Sequence[str], ts_ms: Sequence[int],
                      texts: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """:func:`message_ids` as a ``string`` column, its hex digits written by numpy rather than per message."""
    return hex_column(id_hashes(platform, thread_ids, sender_ids, ts_ms, texts))


def empty() -> pd.DataFrame:
    """A table with the schema and no rows."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})


def conform(
    records: Iterable[Mapping] | pd.DataFrame,
    *,
    skipped: Mapping[str, int] | None = None,
    me: Iterable[str] = (),
    empty_files: Iterable[str] = (),
    participants: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Turn an adapter's records into the normalised table.

    ``records`` carry at least platform, source, thread_id, sender, timestamp
    (epoch milliseconds, or anything ``pd.to_datetime`` reads as UTC) and text.
    Missing optional fields get defaults: thread_title = thread_id, sender_id =
    sender, kind = "text", is_me = False, reply_to = <NA>. ``message_id`` is
    derived when absent, ``seq`` is document order, ``is_group`` is computed from
    the distinct senders of each thread when not given. A row whose time is missing or outside
    MIN_MS..MAX_MS (1970 to 2200) is dropped and counted as ``bad_record``; file names in
    ``source``, ``thread_id`` and ``thread_title`` are made printable (:func:`ingest.source.safe_name`).

    Stored in ``frame.attrs`` for the pipeline and the ingest report:
    ``skipped`` (reason -> count); ``me`` (sender names or ids the export itself says are the
    owner: a profile file, the legacy HTML header); ``empty_files`` (members the adapter recognised
    as thread files but that held no message at all: each is a warning, never silent);
    ``participants`` (thread_id -> the names the export lists as its members, where it lists them:
    evidence of who "me" is, who is in every thread).
    """
    if isinstance(records, pd.DataFrame):
        frame = records.copy()
    else:
        rows = list(records)
        try:
            frame = pd.DataFrame.from_records(rows)
        except UnicodeEncodeError:  # a file name that is not UTF-8 (made storable below): no arrow strings yet
            frame = pd.DataFrame(rows, dtype=object)
            for col in ("timestamp", "seq", "is_group", "is_me"):  # numbers and flags as numbers and flags
                if col in frame:
                    frame[col] = frame[col].infer_objects()
    if frame.empty:
        frame = empty()
    else:
        for col, default in (("thread_title", None), ("sender_id", None), ("kind", "text"),
                             ("is_me", False), ("reply_to", None), ("is_group", None)):
            if col not in frame:
                frame[col] = default
        frame["thread_title"] = frame["thread_title"].fillna(frame["thread_id"])
        for col in ("source", "thread_id", "thread_title"):  # may come from file names
            frame[col] = _safe_names(frame[col])
        frame["sender_id"] = frame["sender_id"].fillna(frame["sender"])
        frame["text"] = frame["text"].fillna("")
        frame["is_me"] = frame["is_me"].fillna(False).astype(bool)
        frame, dropped = _times(frame)
        if dropped:
            skipped = Counter(skipped or {})
            skipped["bad_record"] += dropped
        if "seq" not in frame:
            frame["seq"] = frame.groupby("thread_id", sort=False).cumcount()
        if frame["is_group"].isna().any():
            senders = frame.groupby("thread_id")["sender_id"].transform("nunique")
            frame["is_group"] = frame["is_group"].fillna(senders > 2)
        frame["is_group"] = frame["is_group"].astype(bool)
        if "message_id" not in frame:
            # epoch ms whatever the resolution pandas gave the column (pandas 3 reads unit="ms" as µs)
            ms = frame["timestamp"].dt.as_unit("ms").astype("int64")
            ids = np.zeros(len(frame), dtype=np.uint64)
            for p, rows in frame.groupby("platform", sort=False).indices.items():
                part = frame.iloc[rows]
                ids[rows] = id_hashes(p, part["thread_id"].tolist(), part["sender_id"].tolist(),
                                      ms.iloc[rows].tolist(), part["text"].tolist())
            frame["message_id"] = hex_column(ids)
        frame = frame[list(COLUMNS)].astype(COLUMNS)
    unknown = set(frame["kind"].unique()) - set(KINDS)
    if unknown:
        raise ValueError(f"adapter produced unknown message kinds {sorted(unknown)}; valid: {KINDS}")
    bad = set(skipped or {}) - set(SKIP_REASONS)
    if bad:
        raise ValueError(f"adapter used unknown skip reasons {sorted(bad)}; valid: {sorted(SKIP_REASONS)}")
    frame = frame.reset_index(drop=True)
    frame.attrs["skipped"] = dict(Counter(skipped or {}))
    frame.attrs["me"] = sorted(set(me))
    frame.attrs["empty_files"] = sorted({safe_name(f) for f in empty_files})
    frame.attrs["participants"] = {safe_name(str(k)): sorted({str(n) for n in v if n}) for k, v in (participants or {}).items()}
    return frame


def _safe_names(names: pd.Series) -> pd.Series | np.ndarray:
    """A column of names with each distinct name made printable and storable (:func:`safe_name`)."""
    if isinstance(names.dtype, pd.StringDtype) and names.dtype.storage == "pyarrow":  # the common case: in C
        distinct = pc.unique(pa.array(names.array)).to_pylist()
    else:
        distinct = names.unique().tolist()
    if all(not isinstance(u, str) or safe_name(u) == u for u in distinct):
        return names
    codes, uniques = pd.factorize(names, use_na_sentinel=True)
    fixed = [safe_name(str(u)) for u in uniques]
    if fixed == [str(u) for u in uniques]:
        return names
    return np.asarray([*fixed, None], dtype=object)[codes]  # code -1 (a missing name) takes the last


def _times(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``frame`` with its timestamp column as UTC datetimes, less the rows whose time is missing or
    outside MIN_MS..MAX_MS; and how many rows went. Vectorised: no per-row Python."""
    ts = frame["timestamp"]
    if pd.api.types.is_bool_dtype(ts) or pd.api.types.is_numeric_dtype(ts):
        ms = pd.to_numeric(ts, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        if pd.api.types.is_bool_dtype(ts):
            ms[:] = np.nan
        ok = in_range_ms(ms)
        times = pd.to_datetime(ms[ok].astype("int64"), unit="ms", utc=True)
    else:
        if isinstance(ts.dtype, pd.DatetimeTZDtype):
            times = ts.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(ts):
            times = ts.dt.tz_localize("UTC")
        else:  # text: a far date or a bad one becomes NaT, counted below
            times = pd.to_datetime(ts, utc=True, errors="coerce")
        ms = times.dt.as_unit("ms").astype("int64").to_numpy(dtype="float64")
        ms[times.isna().to_numpy()] = np.nan
        ok = in_range_ms(ms)
        times = times[ok]
    dropped = int(len(ok) - ok.sum())
    if dropped:
        frame = frame[ok].copy()
    frame["timestamp"] = pd.Series(pd.DatetimeIndex(times).as_unit("ns"), index=frame.index)
    return frame, dropped


def validate(frame: pd.DataFrame) -> None:
    """Raise ValueError when a frame does not have exactly the schema's columns and dtypes."""
    if list(frame.columns) != list(COLUMNS):
        raise ValueError(f"columns {list(frame.columns)} differ from the schema {list(COLUMNS)}")
    for name, dtype in COLUMNS.items():
        if str(frame[name].dtype) != str(pd.Series(dtype=dtype).dtype):
            raise ValueError(f"column {name} has dtype {frame[name].dtype}, expected {dtype}")
