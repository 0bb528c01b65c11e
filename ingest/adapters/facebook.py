"""Facebook / Messenger "Download Your Information" export, JSON format.

Where it comes from: facebook.com > Settings > Your information > Download your
information > Messages, format **JSON** (HTML exports are read by
``facebook_html``). The archive holds one folder per thread::

    messages/inbox/<slug>_<id>/message_1.json              (before 2024)
    your_activity_across_facebook/messages/inbox/...       (2024)
    your_facebook_activity/messages/inbox/...              (2025 onward)

with sections ``inbox``, ``archived_threads``, ``filtered_threads``,
``message_requests``, ``e2ee_cutover`` (any folder name is accepted). Thread parts taken
out of that structure are read too: a lone ``message_1.json`` (or a lone ``.json`` that
starts like one), a thread's folder, several threads' files copied into one folder
(``message_1 (1).json``); each part names its thread folder in ``thread_path``
(``"inbox/anabeatriz_Ab12Cd34"``), which keys the thread, so ids match the whole archive's
(see ``ingest.adapters._meta``). The owner is named in
``[personal_information/]profile_information/profile_information.json``
(``profile_v2.name.full_name``, before 2021 ``profile.name.full_name``). A raw record::

    {"sender_name": "Araaish Paul", "timestamp_ms": 1578255103885,
     "content": "haha I know of him", "type": "Generic",
     "reactions": [{"reaction": "\\u00f0\\u009f\\u0098\\u00ae", "actor": "Vaughn Parker"}]}

Quirks handled here:
- every non-ASCII UTF-8 byte is written as its own ``\\u00XX`` escape (mojibake),
  repaired with :func:`ingest.text.fix_mojibake` on names, titles and text;
- a thread is split into ``message_1.json``, ``message_2.json``, ... at 10,000
  messages, ``message_1`` holding the newest, and messages inside each file run
  newest first: files are read in numeric order and the thread is sorted by time
  with a stable sort (ties keep document order);
- system notices are stored as ordinary text ("X named the group ...", "X reacted
  😂 to your message", "X sent an attachment."), often with ``type: Generic`` or no
  type at all (2023 onward), so they are recognised by their wording, anchored on
  the sender's own name, and counted as skipped;
- ``is_unsent`` messages and ``Call``/``Subscribe``/``Unsubscribe`` types are skipped;
- ``thread_type`` disappeared in 2023: group-ness is taken from the participant count;
- Instagram's older exports share this layout and schema: files carrying a sign only
  Instagram leaves are the ``instagram`` adapter's; content that cannot tell is read here;
- a text may mix broken pieces with clean ones (a real emoji beside a broken "Ã©"): each
  broken run is repaired on its own (:func:`ingest.text.fix_mojibake`);
- a part whose ``messages`` list is empty is reported (``conform(empty_files=...)``), and each
  thread's ``participants`` go to the pipeline as evidence of who is in it;
- large exports are read by worker processes, whose members are counted as read here.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import posixpath
import re
import signal
import stat
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
from msgspec import UNSET

from ingest import columns, schema
from ingest.adapters._meta import (
    MAX_MS,
    MEDIA,
    SYSTEM_TYPES,
    as_list,
    facebook_owner,
    layout,
    load_messages_json,
    notice_kind,
    thread_files,
    thread_participants,
    valid_ms,
)
from ingest.errors import IngestError
from ingest.source import Source, json_nesting, open_source
from ingest.text import fix_mojibake, fix_mojibake_all

PLATFORM = "facebook"
_HTML_PART = re.compile(r"(?:^|/)message_\d+\.html$")


def detect(source: Source) -> bool:
    """Thread files in the archive's structure, or out of it (a lone ``message_1.json``, a folder of
    them) when a look at the first says they are DYI threads; never those Instagram wrote."""
    found = layout(source)
    return not found.by_instagram and bool(found.structured or (found.loose and found.loose_thread))


# With the untyped path: a record with only these keys, a string content and type Generic (or
# none) is a plain text message.
_PLAIN_KEYS = frozenset({"sender_name", "timestamp_ms", "content", "type", "is_geoblocked_for_viewer", "reactions"})


class _Record(msgspec.Struct, gc=False):
    """The keys of a message record that decide what becomes of it (others are not decoded).

    Decoding a whole file into these, typed, is done in C by msgspec; a file in which any
    record does not fit (a missing sender, a text that is not a string, ...) is read again
    untyped and its records judged one by one by :func:`_message`.
    """

    sender_name: str
    timestamp_ms: int
    content: str | None = None
    type: str = "Generic"
    is_unsent: bool = False
    call_duration: Any = UNSET
    share: Any = UNSET
    sticker: Any = UNSET
    photos: Any = UNSET
    videos: Any = UNSET
    gifs: Any = UNSET
    audio_files: Any = UNSET
    files: Any = UNSET

    def as_dict(self) -> dict:
        return {k: v for k in self.__struct_fields__ if (v := getattr(self, k)) is not UNSET}


class _File(msgspec.Struct, gc=False):
    messages: list[_Record]
    title: Any = None
    participants: Any = None


_DECODE = msgspec.json.Decoder(_File).decode


def _load_file(source: Source, rel: str) -> tuple[Any, list]:
    """(title, participants, records) of a message_N.json: typed records when every one fits
    :class:`_Record`, else the parsed JSON's dicts."""
    data = source.read_bytes(rel)
    try:
        with json_nesting(source.label(rel)):
            doc = _DECODE(data)
    except (msgspec.DecodeError, UnicodeDecodeError):  # odd records, not JSON, not UTF-8: the careful path says which
        doc = load_messages_json(source, rel, data=data)
        return doc.get("title"), as_list(doc.get("participants")), doc["messages"]
    return doc.title, as_list(doc.participants), doc.messages


def _who(raw: str) -> tuple[str, str]:
    """A raw sender_name -> (repaired name, the prefix of a notice they wrote: their first name and a space)."""
    sender = fix_mojibake(raw).strip()
    return sender, sender.split(" ", 1)[0] + " "


class _Columns:
    """The kept messages, one list per column, in document order (sorted once at the end)."""

    def __init__(self):
        self.pos: list[int] = []  # document order: the position among every record read
        self.sender: list[str] = []
        self.stamp: list[int] = []
        self.text: list[str] = []
        self.kind: list[str] = []
        self.file: list[int] = []  # index into read()'s list of files
        self.read = 0  # records read so far

    def add_file(self, msgs: list, f: int, who: dict, names: dict, skipped: Counter) -> None:
        """Read one file's records: plain text messages all at once, the rest through _message.

        ``msgs`` holds :class:`_Record` objects (a file that decoded typed) or raw JSON values.
        A plain text message has a string content, type Generic, and none of the keys that
        make it something else (unsent, a call, a shared link).
        """
        base = self.read
        self.read += len(msgs)
        if msgs and type(msgs[0]) is _Record:  # typed: every record is a _Record
            plain = [i for i, m in enumerate(msgs)
                     if m.content is not None and m.type == "Generic" and not m.is_unsent
                     and m.call_duration is UNSET and m.share is UNSET and 0 < m.timestamp_ms < MAX_MS]
            raws = [msgs[i].sender_name for i in plain]
            contents = [msgs[i].content for i in plain]
            stamps = [msgs[i].timestamp_ms for i in plain]
            as_dict = _Record.as_dict
        else:
            plain = [i for i, m in enumerate(msgs)
                     if type(m) is dict and m.keys() <= _PLAIN_KEYS and type(m.get("content")) is str
                     and type(m.get("sender_name")) is str and type(m.get("timestamp_ms")) is int
                     and 0 < m["timestamp_ms"] < MAX_MS and m.get("type", "Generic") == "Generic"]
            raws = [msgs[i]["sender_name"] for i in plain]
            contents = [msgs[i]["content"] for i in plain]
            stamps = [msgs[i]["timestamp_ms"] for i in plain]
            as_dict = None
        for raw in set(raws).difference(who):
            who[raw] = _who(raw)
        senders = [who[r][0] for r in raws]
        texts = [t.strip() for t in fix_mojibake_all(contents)]
        # notices start with their author's first name or "You"; an empty text or sender is _message's
        prefixes = (*{who[r][1] for r in set(raws)}, "You ")
        odd = [k for k, (s, t) in enumerate(zip(senders, texts, strict=True))
               if not t or not s or t.startswith(prefixes)]
        drop, slow = set(), set(range(len(msgs))).difference(plain) if len(plain) < len(msgs) else set()
        for k in odd:
            if not texts[k] or not senders[k]:
                drop.add(k)
                slow.add(plain[k])
            elif notice := notice_kind(senders[k], texts[k]):
                drop.add(k)
                skipped[notice] += 1
        if drop:
            keep = [k for k in range(len(plain)) if k not in drop]
            plain, senders, texts = [plain[k] for k in keep], [senders[k] for k in keep], [texts[k] for k in keep]
            stamps = [stamps[k] for k in keep]
        self.pos.extend([base + i for i in plain])
        self.sender.extend(senders)
        self.stamp.extend(stamps)
        self.text.extend(texts)
        self.kind.extend(["text"] * len(plain))
        self.file.extend([f] * len(plain))
        for i in sorted(slow):
            row = _message(as_dict(msgs[i]) if as_dict else msgs[i], skipped, names)
            if row is not None:
                self.pos.append(base + i)
                self.sender.append(row[0])
                self.stamp.append(row[1])
                self.text.append(row[2])
                self.kind.append(row[3])
                self.file.append(f)


# An export whose message files together exceed this is read by several processes (see _read_parts).
PARALLEL_BYTES = 64 * 1024**2
_TASK_BYTES = 8 * 1024**2  # the share of an export one task reads: whole threads, about this many bytes


@dataclass
class _Part:
    """What one task read: the kept messages of some whole threads, each thread oldest first, as
    arrays; and the skip counts. Parts of consecutive threads concatenate into the table."""

    threads: list[tuple[int, str, bool, list[str]]]  # (index of the thread in read()'s order, title, is group,
    # the participants its files list)
    files: list[str]
    empty_files: list[str]  # files whose messages list is empty
    thread: np.ndarray  # index of each message's thread
    stamp: np.ndarray
    file: np.ndarray  # index into files
    sender: pa.Array | list
    text: pa.Array | list
    kind: pa.Array | list
    ids: np.ndarray  # message_id, as uint64
    skipped: Counter
    damaged: list[tuple] = field(default_factory=list)  # (file, place, problem, hint) of each file read past


def _strings(values: list[str]) -> pa.Array | list[str]:
    """``values`` as an arrow array, cheap to send between processes; the list itself when arrow
    refuses a value (a lone surrogate from a damaged file), so that the error surfaces where it always has."""
    try:
        return pa.array(values, type=pa.large_string())
    except (UnicodeError, pa.ArrowException):
        return values


def _taken(values: pa.Array | list[str], take: pa.Array) -> pa.Array | list[str]:
    return values.take(take) if isinstance(values, pa.Array) else [values[i] for i in take.to_pylist()]


def _read_part(source: Source, items: list[tuple[int, str, list[str]]]) -> _Part:
    """Read whole threads: ``items`` are (thread index, folder, its files in numeric order)."""
    rows = _Columns()
    thread_of: list[int] = []  # each row's index into items
    thread_ids: list[str] = []  # each row's thread id, once per thread
    files: list[str] = []
    empty_files: list[str] = []
    threads: list[tuple[int, str, bool, list[str]]] = []
    skipped: Counter = Counter()
    damaged: list[tuple] = []
    names: dict = {}  # raw sender_name -> repaired name, for _message
    who: dict = {}  # raw sender_name -> _who(raw)
    with columns.no_gc():  # a million live rows would make every collection walk them all
        for k, (t, folder, rels) in enumerate(items):
            start = len(rows.sender)
            title, participants = None, set()
            for rel in rels:
                try:
                    doc_title, doc_participants, msgs = _load_file(source, rel)
                except IngestError as exc:  # read past, for read() to report (an IngestError does not pickle)
                    damaged.append((exc.file, exc.place, exc.problem, exc.hint))
                    continue
                if title is None:
                    title = fix_mojibake(str(doc_title or ""))
                participants.update(thread_participants(doc_participants))
                files.append(rel)
                if not msgs:
                    empty_files.append(rel)
                rows.add_file(msgs, len(files) - 1, who, names, skipped)
            thread_of.extend([k] * (len(rows.sender) - start))
            thread_ids.append(f"{PLATFORM}:{folder}")
            threads.append((t, title or folder, len(participants | set(rows.sender[start:])) > 2, sorted(participants)))
        local = np.asarray(thread_of, dtype=np.int64)
        senders = _strings(rows.sender)
        ids = schema.id_hashes(PLATFORM, columns.strings(thread_ids, local),
                               senders if isinstance(senders, pa.Array) else rows.sender, rows.stamp, rows.text)
    # A thread runs oldest first. message_1 holds the newest messages and each file runs newest
    # first, so among equal timestamps the later in document order is the earlier message.
    stamp = np.asarray(rows.stamp, dtype=np.int64)
    order = np.lexsort((-np.asarray(rows.pos, dtype=np.int64), stamp, local))
    # The same message twice (Instagram doubling, overlapping files): the same id, thread and
    # time, so ordered last to first in document order; the first read is kept.
    again = pd.Series(ids[order]).duplicated(keep="last").to_numpy()
    if again.any():
        skipped["duplicate"] += int(again.sum())
        order = order[~again]
    take = pa.array(order)
    return _Part(threads=threads, files=files, empty_files=empty_files,
                 thread=np.asarray([t for t, _, _ in items], dtype=np.int64)[local[order]],
                 stamp=stamp[order], file=np.asarray(rows.file, dtype=np.int64)[order],
                 sender=_taken(senders, take), text=_taken(_strings(rows.text), take),
                 kind=_taken(_strings(rows.kind), take),
                 ids=ids[order], skipped=skipped, damaged=damaged)


def _sizes(source: Source, items: list) -> list[int]:
    """The bytes of each item's files."""
    return [sum(source.size(rel) for rel in rels) for _, _, rels in items]


def _tasks(items: list, sizes: list[int]) -> list[list]:
    """``items`` cut into runs of whole threads of about _TASK_BYTES each (``sizes``: each item's bytes)."""
    tasks, task, size = [], [], 0
    for item, item_size in zip(items, sizes, strict=True):
        task.append(item)
        size += item_size
        if size >= _TASK_BYTES:
            tasks.append(task)
            task, size = [], 0
    return [*tasks, task] if task else tasks


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _workers(source: Source, sizes: list[int]) -> int:
    """How many other processes help read the export (``sizes``: the bytes of each thread's files):
    none, unless it is large, can be opened again by another process, and cores are spare."""
    cores = _cores()
    if source.origin is None or cores < 2 or sum(sizes) < PARALLEL_BYTES:
        return 0
    return min(cores, 4) - 1


def _claim(claims, front: bool) -> int | None:
    """The next unread task, from the front (workers) or the back (this process); None when all are taken."""
    with claims.get_lock():
        if claims[0] > claims[1]:
            return None
        i = claims[0] if front else claims[1]
        claims[0 if front else 1] += 1 if front else -1
        return i


# A helper is a copy of this process, forked. Were it to outlive this process (killed, or ended by a
# signal it does not handle), it would block for good on its pipe, holding its share of the export's
# text, and hold the caller's stdout open (`talklike ingest ... | tee` would never end). So a helper
# dies with this process whatever ends it, and holds nothing of the caller's.
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_WATCH_SECONDS = 0.2  # how often a helper the kernel cannot signal checks that its parent still lives


def _prctl():
    """Linux's prctl(2), looked up here, before forking (a dynamic-linker lookup in a child forked from a
    threaded process can deadlock); None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent: int, prctl) -> None:
    """End this helper when ``parent`` ends, however it ends, SIGKILL included.

    Linux sends SIGKILL (PR_SET_PDEATHSIG) when the thread that forked the helper ends, and
    _read_parts never returns before its helpers are gone. Elsewhere, or if prctl fails, a thread
    polls getppid(), which changes when the parent dies. A parent that died before either was in
    place is caught by the getppid() check that follows.
    """
    if prctl is None or prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


def _let_go(keep: int, others: list[int]) -> None:
    """Hold nothing that someone may wait on: stdin, stdout and stderr become /dev/null, and every
    descriptor above them is closed if it is a pipe or socket end (the other helpers' read ends among
    them: a writer whose reader is gone fails instead of blocking) or was inherited through exec from
    the caller (a shell's `3>&1`), all but ``keep``, this helper's own write end. ``others``: the read
    ends known to be open, closed even where the open descriptors cannot be listed."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    listed = []
    for folder in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError, ValueError):
            listed = [int(name) for name in os.listdir(folder)]
            break
    for fd in sorted(set(others) | set(listed)):
        if fd <= 2 or fd == keep:
            continue
        with contextlib.suppress(OSError):  # the listing's own descriptor, already closed
            mode = os.fstat(fd).st_mode
            if fd in others or os.get_inheritable(fd) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                os.close(fd)


def _helper(conn, claims, source: Source, tasks: list, parent: int, prctl, others: list[int]) -> None:
    """A worker process, just forked: reads tasks from the front until none is left, sends them all,
    and exits; it never returns.

    It shares what was loaded, and opens the export again (a zip's handle is not shared). It dies with
    ``parent`` and lets go of every descriptor but ``conn`` (see _die_with_parent, _let_go). An
    IngestError goes back as data (it does not pickle), for this process to raise; any other failure
    sends back only what was read, and this process reads the rest again itself.
    """
    try:
        # What was alive at the fork is never collected here: no object of the parent's closes a
        # descriptor number that this helper has reused (nor touches pages it shares with the parent).
        gc.freeze()
        _die_with_parent(parent, prctl)
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to act on: it ends helpers
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # whatever the caller's handler does, a helper ends
        _let_go(conn.fileno(), others)
        done = []
        try:
            with open_source(source.origin) as own:
                own.name, own.skipped = source.name, source.skipped  # errors name the export as the user gave it
                while (i := _claim(claims, front=True)) is not None:
                    try:
                        done.append((i, _read_part(own, tasks[i])))
                    except IngestError as exc:
                        done.append((i, ("error", exc.file, exc.place, exc.problem, exc.hint)))
                        break
        except BaseException:  # whatever it was, this process reads the rest itself
            pass
        conn.send(done)
    finally:
        os._exit(0)  # never back into the caller's code, nor its atexit handlers


def _read_parts(source: Source, items: list) -> list[_Part]:
    """Read every thread, with other processes helping for a large export.

    The export is cut into tasks of whole threads. Workers claim tasks from the first one on while
    this process claims them from the last one back, so the work splits evenly whatever each one's
    speed, and each task is read exactly once. A worker that fails or dies leaves its tasks to this
    process: helpers only ever make a read faster, never different. No helper outlives this call.
    """
    sizes = _sizes(source, items) if source.origin is not None else []
    workers = _workers(source, sizes)
    if not workers or not hasattr(os, "fork"):
        return [_read_part(source, items)]
    tasks = _tasks(items, sizes)
    done: list[_Part | tuple | None] = [None] * len(tasks)
    try:
        claims = multiprocessing.get_context("fork").Array("q", [0, len(tasks) - 1])
    except (OSError, ValueError):  # no shared memory here: read alone
        return [_read_part(source, items)]
    parent, prctl = os.getpid(), _prctl()
    helpers: list[tuple[int, Any]] = []  # (pid, the read end of its pipe)
    try:
        # fork: a worker starts at once with everything imported, and needs no __main__ to re-import.
        for _ in range(workers):
            try:
                mine, theirs = multiprocessing.Pipe(duplex=False)
            except OSError:  # no descriptors left: read with the helpers there are
                break
            try:
                pid = os.fork()
            except OSError:  # no processes left
                mine.close()
                theirs.close()
                break
            if pid == 0:
                _helper(theirs, claims, source, tasks, parent, prctl, [c.fileno() for _, c in helpers] + [mine.fileno()])
            theirs.close()
            helpers.append((pid, mine))
        while (i := _claim(claims, front=False)) is not None:
            done[i] = _read_part(source, tasks[i])
        for _, conn in helpers:
            try:
                for i, part in conn.recv():
                    done[i] = part
            except (EOFError, OSError):  # the worker died: its tasks are read below
                pass
    finally:
        for pid, conn in helpers:
            conn.close()
            with contextlib.suppress(ProcessLookupError):  # sent all it read, or was interrupted: it ends now
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # reaped already (SIGCHLD ignored)
                os.waitpid(pid, 0)
    for i, part in enumerate(done):
        if part is None:
            done[i] = _read_part(source, tasks[i])
        elif isinstance(part, tuple):
            _, file, place, problem, hint = part
            raise IngestError(file, place, problem, hint=hint)
        else:  # read by a worker: this process's source did not see it opened
            for rel in part.files:
                source.note_read(rel)
    return done


def read(source: Source) -> pd.DataFrame:
    threads = thread_files(source, PLATFORM)
    if not threads:
        raise IngestError(source.name, None, "holds no messages/<section>/<thread>/message_N.json files",
                          hint="request the export in JSON format (not HTML) and pass the unzipped folder or the .zip")
    items = [(t, folder, threads[folder]) for t, folder in enumerate(sorted(threads))]
    parts = _read_parts(source, items)
    for part in parts:  # each damaged file once, whichever process read it
        for file, place, problem, hint in part.damaged:
            source.set_aside(IngestError(file, place, problem, hint=hint))
    # An HTML copy of a thread beside its JSON (an export asked for in both formats) is accounted for
    # by the JSON: those pages count as read, not as files nothing read.
    folders = {posixpath.dirname(f) for fs in threads.values() for f in fs}
    for rel in source.files():
        if rel.endswith(".html") and posixpath.dirname(rel) in folders and _HTML_PART.search(rel):
            source.note_read(rel)

    thread_ids = [f"{PLATFORM}:{folder}" for _, folder, _ in items]
    titles, groups = [""] * len(items), [False] * len(items)
    participants: dict[str, list[str]] = {}
    for part in parts:
        for t, title, group, people in part.threads:
            titles[t], groups[t] = title, group
            participants[thread_ids[t]] = people
    files = [f for part in parts for f in part.files]
    offsets = np.cumsum([0] + [len(part.files) for part in parts])[:-1]
    file = np.concatenate([part.file + off for part, off in zip(parts, offsets, strict=True)])
    thread = np.concatenate([part.thread for part in parts])
    stamp = np.concatenate([part.stamp for part in parts])
    ids = np.concatenate([part.ids for part in parts])
    skipped = sum((part.skipped for part in parts), Counter())
    sender = _column(parts, "sender")
    n = len(thread)
    frame = pd.DataFrame({
        "platform": columns.strings([PLATFORM], np.zeros(n, dtype=np.int64)),
        "source": columns.strings(files, file),
        "thread_id": columns.strings(thread_ids, thread),
        "thread_title": columns.strings(titles, thread),
        "is_group": np.asarray(groups, dtype=bool)[thread],
        "sender": sender,
        "sender_id": sender,
        "is_me": np.zeros(n, dtype=bool),
        "timestamp": stamp,
        "text": _column(parts, "text"),
        "kind": _column(parts, "kind"),
        "message_id": columns.hex_column(ids),
        "reply_to": columns.strings([None], np.zeros(n, dtype=np.int64)),
        "seq": np.arange(n, dtype=np.int64) - np.searchsorted(thread, thread),  # rank in its thread
    })
    return schema.conform(frame, skipped=skipped, me=facebook_owner(source), participants=participants,
                          empty_files=[f for part in parts for f in part.empty_files])


def _column(parts: list[_Part], name: str) -> pd.api.extensions.ExtensionArray:
    """One string column of every part, in part order."""
    values = [getattr(part, name) for part in parts]
    if all(isinstance(v, pa.Array) for v in values):
        return pd.arrays.ArrowStringArray(pa.concat_arrays(values) if values else pa.array([], pa.large_string()))
    return columns.strings([x for v in values for x in (v.to_pylist() if isinstance(v, pa.Array) else v)])


def _message(msg: dict, skipped: Counter, names: dict | None = None) -> tuple[str, int, str, str] | None:
    """(sender, timestamp_ms, text, kind), or None after counting why it was skipped.

    ``names`` caches repaired sender names across calls.
    """
    if not isinstance(msg, dict):
        skipped["bad_record"] += 1
        return None
    raw = msg.get("sender_name")
    sender = names.get(raw) if names is not None and isinstance(raw, str) else None
    if sender is None:
        sender = fix_mojibake(str(raw or "")).strip()
        if names is not None and isinstance(raw, str):
            names[raw] = sender
    ts = msg.get("timestamp_ms")
    if not sender or not valid_ms(ts):
        skipped["bad_record"] += 1
        return None
    if msg.get("is_unsent"):
        skipped["unsent"] += 1
        return None
    if str(msg.get("type")) in SYSTEM_TYPES or "call_duration" in msg:
        skipped["system"] += 1
        return None
    content = msg.get("content")
    text = fix_mojibake(content).strip() if isinstance(content, str) else ""
    if text:
        notice = notice_kind(sender, text)
        if notice:
            skipped[notice] += 1
            return None
    share = msg.get("share") if isinstance(msg.get("share"), dict) else None
    if text:
        kind = "link" if share and share.get("link") and text.startswith(("http://", "https://")) else "text"
    elif msg.get("sticker"):
        kind = "sticker"
    elif share and share.get("link"):
        kind, text = "link", str(share["link"])
    elif any(msg.get(k) for k in MEDIA):
        kind = "attachment"
    else:
        skipped["empty"] += 1
        return None
    return sender, int(ts), text, kind


