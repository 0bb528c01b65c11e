"""The normalised message table: every adapter ends by conforming to it.

One row per message that was kept. Messages that were read but not kept are
never rows; they are counted by reason (see ``SKIP_REASONS``) and the counts
travel with the frame in ``frame.attrs["skipped"]``.

Bump ``SCHEMA_VERSION`` whenever a column is added, removed or changes meaning;
a workspace written under another version is refused with a clear message.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping

import pandas as pd

SCHEMA_VERSION = 1

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
    "duplicate": "the same message already read from another file of the export",
    "bad_record": "a record the adapter could not read (malformed fields)",
}


def message_id(platform: str, thread_id: str, sender_id: str, ts_ms: int, text: str) -> str:
    """A stable id for a message: the same message in two exports gets the same id."""
    key = "\x1f".join((platform, thread_id, sender_id, str(ts_ms), text))
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def message_ids(platform: str, thread_ids: Iterable[str], sender_ids: Iterable[str], ts_ms: Iterable[int],
                texts: Iterable[str]) -> list[str]:
    """:func:`message_id` for many messages at once (the same ids, without a call per message)."""
    blake2b = hashlib.blake2b
    return [blake2b(f"{platform}\x1f{t}\x1f{s}\x1f{m}\x1f{x}".encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
            for t, s, m, x in zip(thread_ids, sender_ids, ts_ms, texts, strict=True)]


def message_id_column(platform: str, thread_ids: Iterable[str], sender_ids: Iterable[str], ts_ms: Iterable[int],
                      texts: Iterable[str]) -> pd.api.extensions.ExtensionArray:
    """:func:`message_ids` as a ``string`` column, its hex digits written by numpy rather than per message."""
    from ingest.columns import hex_strings

    blake2b = hashlib.blake2b
    return hex_strings([blake2b(f"{platform}\x1f{t}\x1f{s}\x1f{m}\x1f{x}".encode("utf-8", "surrogatepass"),
                                digest_size=10).digest()
                        for t, s, m, x in zip(thread_ids, sender_ids, ts_ms, texts, strict=True)])


def empty() -> pd.DataFrame:
    """A table with the schema and no rows."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})


def conform(
    records: Iterable[Mapping] | pd.DataFrame,
    *,
    skipped: Mapping[str, int] | None = None,
    me: Iterable[str] = (),
) -> pd.DataFrame:
    """Turn an adapter's records into the normalised table.

    ``records`` carry at least platform, source, thread_id, sender, timestamp
    (epoch milliseconds, or anything ``pd.to_datetime`` reads as UTC) and text.
    Missing optional fields get defaults: thread_title = thread_id, sender_id =
    sender, kind = "text", is_me = False, reply_to = <NA>. ``message_id`` is
    derived when absent, ``seq`` is document order, ``is_group`` is computed from
    the distinct senders of each thread when not given.

    ``skipped`` (reason -> count) and ``me`` (sender ids the export itself says
    are the owner) are stored in ``frame.attrs`` for the ingest report.
    """
    frame = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame.from_records(list(records))
    if frame.empty:
        frame = empty()
    else:
        for col, default in (("thread_title", None), ("sender_id", None), ("kind", "text"),
                             ("is_me", False), ("reply_to", None), ("is_group", None)):
            if col not in frame:
                frame[col] = default
        frame["thread_title"] = frame["thread_title"].fillna(frame["thread_id"])
        frame["sender_id"] = frame["sender_id"].fillna(frame["sender"])
        frame["text"] = frame["text"].fillna("")
        frame["is_me"] = frame["is_me"].fillna(False).astype(bool)
        ts = frame["timestamp"]
        if pd.api.types.is_numeric_dtype(ts):
            frame["timestamp"] = pd.to_datetime(ts.astype("int64"), unit="ms", utc=True)
        else:
            frame["timestamp"] = pd.to_datetime(ts, utc=True)
        if "seq" not in frame:
            frame["seq"] = frame.groupby("thread_id", sort=False).cumcount()
        if frame["is_group"].isna().any():
            senders = frame.groupby("thread_id")["sender_id"].transform("nunique")
            frame["is_group"] = frame["is_group"].fillna(senders > 2)
        frame["is_group"] = frame["is_group"].astype(bool)
        if "message_id" not in frame:
            ms = frame["timestamp"].astype("int64") // 1_000_000
            frame["message_id"] = [
                message_id(p, t, s, m, x)
                for p, t, s, m, x in zip(
                    frame["platform"], frame["thread_id"], frame["sender_id"], ms, frame["text"], strict=True
                )
            ]
        frame = frame[list(COLUMNS)].astype(COLUMNS)
    unknown = set(frame["kind"].unique()) - set(KINDS)
    if unknown:
        raise ValueError(f"adapter produced unknown message kinds {sorted(unknown)}; valid: {KINDS}")
    bad = set(skipped or {}) - set(SKIP_REASONS)
    if bad:
        raise ValueError(f"adapter used unknown skip reasons {sorted(bad)}; valid: {sorted(SKIP_REASONS)}")
    frame.attrs["skipped"] = dict(Counter(skipped or {}))
    frame.attrs["me"] = sorted(set(me))
    return frame.reset_index(drop=True)


def validate(frame: pd.DataFrame) -> None:
    """Raise ValueError when a frame does not have exactly the schema's columns and dtypes."""
    if list(frame.columns) != list(COLUMNS):
        raise ValueError(f"columns {list(frame.columns)} differ from the schema {list(COLUMNS)}")
    for name, dtype in COLUMNS.items():
        if str(frame[name].dtype) != str(pd.Series(dtype=dtype).dtype):
            raise ValueError(f"column {name} has dtype {frame[name].dtype}, expected {dtype}")
