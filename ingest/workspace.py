"""The workspace: one private folder holding everything talklike derives.

Layout::

    DATA/
      workspace.json       schema version, who "me" is
      messages.parquet     the normalised message table (ingest/schema.py)
      report.json          per-source accounting: read = kept + skipped by reason
      bots/<key>/          one self-describing folder per trained bot (key: ``person_key``)
      embeddings/          word vectors

Every file is written atomically (a temporary file in the same folder, fsync,
then ``os.replace``), so a command killed at any moment leaves the previous good
version in place. Files are created readable by their owner only.

The table, ``workspace.json`` and ``report.json`` change together (:meth:`Workspace.commit`): each is
written beside its place as ``.<name>.pending``, then a journal (``commit.json``) lists them, then
they are renamed into place and the journal removed. A run killed before the journal leaves the
previous state (its pending files are leftovers); one killed after it is finished by the next
command that opens the workspace, so the report always describes the table.

One writer at a time (:mod:`ingest.lock`): ``DATA/.lock`` for the table, the report and the word
vectors, ``DATA/bots/.<key>.lock`` for one bot folder. Leftovers of killed runs (temporary files
and folders, the tokenised corpus of ``embed``) older than an hour are removed by every command
that opens the workspace, unless a live writer holds their lock.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ingest import lock, schema
from ingest.errors import DiskError, IncompatibleError, WorkspaceError

ENV_VAR = "TALKLIKE_DATA"
DEFAULT_DIR = "data"
FILE_MODE = 0o600
DIR_MODE = 0o700


def default_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def private_mkdir(path: Path) -> Path:
    """Create a folder (and parents) readable by the owner only."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)
    except OSError as exc:
        raise disk_error(path, exc) from None
    return path


def disk_error(path: Path, exc: OSError) -> DiskError:
    """The one-line error for a failed write (``exc`` from os, h5py or pyarrow)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskError(f"{path}: the disk is full", hint="free some space and run the command again")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return DiskError(f"{path}: cannot write here ({exc.strerror})",
                         hint="choose a writable workspace with --data or $TALKLIKE_DATA")
    return DiskError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})")


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Write ``path`` all-or-nothing, owner-readable only.

    A missing parent folder is created owner-only; an existing one (``--out ~/Desktop/x.csv``)
    is left with the permissions it has.
    """
    if not path.parent.is_dir():
        private_mkdir(path.parent)
    _remove_stale_temporaries(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise disk_error(path, exc) from None
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise disk_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


STALE_SECONDS = 3600  # a temporary file untouched this long was left by a killed run


def replace_folder(new: Path, folder: Path) -> None:
    """Move the finished folder ``new`` to ``folder`` (a bot, the word vectors), keeping the old one
    aside until the new one is in place: a failure in between never leaves neither."""
    old = folder.with_name(f".{folder.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        os.replace(folder, old)
    os.replace(new, folder)
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(folder: Path, lock_file: Path | None = None) -> Path:
    """``folder``, put back from its ``.old`` copy when a run was killed between the two renames of
    :func:`replace_folder`.

    ``lock_file``: the writers' lock of ``folder``. While a live writer holds it, nothing is moved
    (the writer may be between its two renames): the folder is returned as it is, or its ``.old``
    copy, read in place, when the writer has just moved it aside."""
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists() or not old.exists():
        return folder
    if lock_file is None:
        os.replace(old, folder)
        return folder
    with lock.unheld(lock_file) as holder:
        if holder is not None:
            return folder if folder.exists() else old
        if not folder.exists() and old.exists():
            try:
                os.replace(old, folder)
            except OSError:  # a read-only workspace: read the copy where it is
                return old
    return folder


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files a killed run left beside ``path`` (they may be large, and hold message text)."""
    cutoff = time.time() - STALE_SECONDS
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def write_json(path: Path, obj: Any) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        fh.write("\n")


def read_json(path: Path) -> Any:
    """A JSON file talklike wrote; a clear error when it was damaged or cannot be read."""
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise WorkspaceError(f"{path}: damaged{where} (not valid JSON)",
                             hint="delete it and run the command that wrote it again") from None
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})",
                             hint="check the file's permissions") from None


def slug(name: str) -> str:
    """A readable folder name for a person: ``"Zoë O'Neil"`` -> ``"zoe-o-neil"`` (not unique: see
    :func:`person_key`)."""
    import unicodedata

    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    return s or "person"


SLUG_CHARS = 40  # the readable part of a bot folder's name


def person_key(person: str) -> str:
    """The folder name of a person's bot: ``me`` for the owner; for a friend, a readable slug of at most
    :data:`SLUG_CHARS` characters and a hash of the exact name (``"Zoë Li"`` -> ``zoe-li-1f0c9a2b``,
    ``"Zoe Li"`` -> ``zoe-li-77d3e410``): two people never share a folder, and no friend gets ``me``."""
    if person == "me":
        return "me"
    digest = hashlib.blake2b(person.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return f"{slug(person)[:SLUG_CHARS].rstrip('-') or 'person'}-{digest}"


# Columns whose values repeat row after row (platform, thread, sender, ...), dictionary-encoded on disk.
_REPEATING = [c for c in schema.COLUMNS if c not in ("message_id", "text", "timestamp", "seq", "is_group", "is_me")]


JOURNAL = "commit.json"  # the files of a commit being renamed into place (Workspace.commit)
PENDING = ".{}.pending"  # where a commit's file waits beside its place


class Workspace:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_dir()
        self._opened = False

    # locks (ingest.lock): writers take them, readers only look
    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    def bot_lock_path(self, person_key: str) -> Path:
        return self.root / "bots" / f".{person_key}.lock"

    @contextlib.contextmanager
    def writing(self, command: str, *, wait: float | None = None) -> Iterator[Workspace]:
        """Hold the workspace's writers' lock (the table, the report, the word vectors) for the block;
        :class:`~ingest.errors.BusyError` (exit 75) when another live command keeps it."""
        self.create()
        with lock.hold(self.lock_path, command, wait=wait):
            self._finish_commit()
            self.clean_leftovers()
            yield self

    @contextlib.contextmanager
    def writing_bot(self, person_key: str, command: str, *, wait: float | None = None) -> Iterator[Path]:
        """Hold the writers' lock of one bot folder for the block (``train`` of that person)."""
        private_mkdir(self.root / "bots")
        with lock.hold(self.bot_lock_path(person_key), command, wait=wait):
            self.clean_leftovers()
            yield self.bot_dir(person_key)

    def writer(self) -> lock.Holder | None:
        """The live command holding the workspace's writers' lock, if any (another process)."""
        return lock.probe(self.lock_path)

    def _open(self) -> None:
        """What every command opening the workspace does first: finish a commit a killed run left
        half-renamed, and remove leftovers."""
        if self._opened or not self.root.is_dir():
            return
        self._opened = True
        self._finish_commit()
        self.clean_leftovers()

    def clean_leftovers(self, older_than: float = STALE_SECONDS) -> list[Path]:
        """Remove what killed runs left (temporary files and folders, the tokenised corpus of ``embed``,
        half-made bot folders) untouched for ``older_than`` seconds, except under a lock a live writer
        holds; uncommitted pending files of a killed ingest go whatever their age. Returns what went."""
        gone: list[Path] = []
        cutoff = time.time() - older_than
        if not self.root.is_dir():
            return gone

        def old(path: Path) -> bool:
            with contextlib.suppress(OSError):
                return path.stat().st_mtime < cutoff
            return False

        def remove(path: Path) -> None:
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                gone.append(path)

        with lock.unheld(self.lock_path) as holder:
            if holder is None:
                journal = (self.root / JOURNAL).exists()
                for path in self.root.glob(".*"):
                    if path.name.endswith(".tmp") and old(path):
                        remove(path)  # an atomic write's temporary file
                    elif path.name.endswith(".pending") and not journal:
                        remove(path)  # a commit killed before its journal: never part of the workspace
                    elif path.name.startswith(".embeddings.") and path.is_dir():
                        if path.name == ".embeddings.old":
                            if self.embeddings_dir.exists():
                                remove(path)  # a replace killed before its last step
                        elif old(path):
                            remove(path)  # embed's temporary folder and its tokenised corpus
                if self.embeddings_dir.is_dir():
                    for path in self.embeddings_dir.glob(".*.tmp"):
                        if old(path):
                            remove(path)
        bots = self.root / "bots"
        if bots.is_dir():
            for folder in [p for p in bots.iterdir() if p.is_dir() and not p.name.startswith(".")]:
                self._clean_bot(folder, old, remove)
            for path in bots.glob(".*"):  # folders of bots whose final folder was never made
                key = path.name[1:].split(".", 1)[0]
                if path.is_dir() and not (bots / key).exists() and not path.name.endswith(".old"):
                    self._clean_bot(bots / key, old, remove)
        return gone

    def _clean_bot(self, folder: Path, old: Callable[[Path], bool], remove: Callable[[Path], None]) -> None:
        with lock.unheld(self.bot_lock_path(folder.name)) as holder:
            if holder is not None:
                return
            for path in folder.parent.glob(f".{glob.escape(folder.name)}.*"):
                if not path.is_dir():
                    continue
                if path.name == f".{folder.name}.old":
                    if folder.exists():
                        remove(path)  # the previous bot, kept aside while the new one was moved in
                elif old(path):
                    remove(path)  # a bot folder half-written by a killed save
            if folder.is_dir():  # (a checkpoint's temporary is .<name>.tmp.weights.h5)
                for path in [*folder.glob(".*.tmp"), *folder.glob("*/.*.tmp"), *folder.glob("*/.*.tmp.weights.h5")]:
                    if old(path):
                        remove(path)

    # paths
    @property
    def messages_path(self) -> Path:
        return self.root / "messages.parquet"

    @property
    def report_path(self) -> Path:
        return self.root / "report.json"

    @property
    def meta_path(self) -> Path:
        return self.root / "workspace.json"

    def bot_dir(self, person_key: str) -> Path:
        return self.root / "bots" / person_key

    @property
    def embeddings_dir(self) -> Path:
        return self.root / "embeddings"

    def create(self) -> Workspace:
        private_mkdir(self.root)
        return self

    # metadata
    def meta(self) -> dict:
        self._open()
        if not self.meta_path.exists():
            return {"schema_version": schema.SCHEMA_VERSION, "me": []}
        meta = read_json(self.meta_path)
        version = meta.get("schema_version") if isinstance(meta, dict) else None
        if version != schema.SCHEMA_VERSION:
            raise IncompatibleError(
                f"{self.root}: workspace written with message schema v{version}, "
                f"this talklike reads v{schema.SCHEMA_VERSION}",
                hint="ingest your exports again into a new --data folder",
            )
        return meta

    def save_meta(self, meta: dict) -> None:
        write_json(self.meta_path, {**meta, "schema_version": schema.SCHEMA_VERSION})

    # the table
    def has_messages(self) -> bool:
        self._open()
        return self.messages_path.exists()

    def messages(self) -> pd.DataFrame:
        if not self.has_messages():
            raise WorkspaceError(
                f"{self.root}: nothing has been ingested here",
                hint="run `talklike ingest EXPORT` first (or pass --data to point at your workspace)",
            )
        self.meta()  # refuses another schema version
        try:
            frame = pd.read_parquet(self.messages_path)
            return frame[list(schema.COLUMNS)].astype(schema.COLUMNS)
        except (OSError, ValueError, KeyError) as exc:  # pyarrow's errors for a damaged file are among these
            raise WorkspaceError(f"{self.messages_path}: damaged or unreadable ({type(exc).__name__})",
                                 hint="ingest your exports again into a new --data folder") from None

    def save_messages(self, frame: pd.DataFrame) -> None:
        """Write the table alone (:meth:`commit` writes it with its report)."""
        self._write_table(frame, self.messages_path)

    def _write_table(self, frame: pd.DataFrame, path: Path) -> None:
        schema.validate(frame)
        self.create()
        with atomic_write(path) as fh:
            # dictionary pages only where values repeat: ids and texts are nearly all distinct, and
            # trying a dictionary for them costs time (-20% write time, -6% size on the 1M bench)
            # statistics (min/max per page) only where a reader could use them: on strings they cost
            # time and serve nothing, as the table is always read whole (-18% write time on the 1M bench)
            frame.to_parquet(fh, index=False, compression="zstd", use_dictionary=_REPEATING,
                             write_statistics=["timestamp", "seq"])

    def report(self) -> dict:
        self._open()
        return read_json(self.report_path) if self.report_path.exists() else {"sources": {}}

    def save_report(self, report: dict) -> None:
        write_json(self.report_path, report)

    # the table, its metadata and its report, together
    def commit(self, frame: pd.DataFrame, *, meta: dict, report: dict) -> None:
        """Replace the table, ``workspace.json`` and ``report.json`` as one: a run killed at any moment
        leaves either the previous three or the new three (finished by the next command)."""
        texts = {self.meta_path: _json_text({**meta, "schema_version": schema.SCHEMA_VERSION}),
                 self.report_path: _json_text(report)}  # (a value JSON cannot hold fails before any write)
        self.create()
        pending = {self.messages_path: self._pending(self.messages_path)}
        self._write_table(frame, pending[self.messages_path])
        for path, text in texts.items():
            pending[path] = self._pending(path)
            with atomic_write(pending[path]) as fh:
                fh.write(text)
        write_json(self.root / JOURNAL, {"files": {p.name: q.name for p, q in pending.items()}})
        self._finish_commit()

    def _pending(self, path: Path) -> Path:
        return path.with_name(PENDING.format(path.name))

    def _finish_commit(self) -> None:
        """Rename into place the files a commit's journal lists (again: a rename already done is skipped),
        then remove the journal. Left to the writer itself while a live one holds the lock."""
        journal = self.root / JOURNAL
        if not journal.exists():
            return
        with lock.unheld(self.lock_path) as holder:
            if holder is not None or not journal.exists():
                return
            files = read_json(journal).get("files", {})
            try:
                for final, waiting in files.items():
                    if (self.root / waiting).exists():
                        os.replace(self.root / waiting, self.root / final)
                _fsync_dir(self.root)
                journal.unlink()
            except OSError as exc:
                raise disk_error(self.root, exc) from None


def _json_text(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
