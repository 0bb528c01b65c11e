"""The workspace: one private folder holding everything talklike derives.

Layout::

    DATA/
      workspace.json       schema version, who "me" is
      messages.parquet     the normalised message table (ingest/schema.py)
      report.json          per-source accounting: read = kept + skipped by reason
      bots/<person>/       one self-describing folder per trained bot
      embeddings/          word vectors

Every file is written atomically (a temporary file in the same folder, fsync,
then ``os.replace``), so a command killed at any moment leaves the previous good
version in place. Files are created readable by their owner only.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ingest import schema
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


def recover_folder(folder: Path) -> Path:
    """``folder``, put back from its ``.old`` copy when a run was killed between the two renames of
    :func:`replace_folder`."""
    old = folder.with_name(f".{folder.name}.old")
    if not folder.exists() and old.exists():
        os.replace(old, folder)
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
    """A folder name for a person: ``"Zoë O'Neil"`` -> ``"zoe-o-neil"``."""
    import unicodedata

    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    return s or "person-" + format(abs(hash(name)) % 10**8, "08d")


# Columns whose values repeat row after row (platform, thread, sender, ...), dictionary-encoded on disk.
_REPEATING = [c for c in schema.COLUMNS if c not in ("message_id", "text", "timestamp", "seq", "is_group", "is_me")]


class Workspace:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_dir()

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
        schema.validate(frame)
        self.create()
        with atomic_write(self.messages_path) as fh:
            # dictionary pages only where values repeat: ids and texts are nearly all distinct, and
            # trying a dictionary for them costs time (-20% write time, -6% size on the 1M bench)
            # statistics (min/max per page) only where a reader could use them: on strings they cost
            # time and serve nothing, as the table is always read whole (-18% write time on the 1M bench)
            frame.to_parquet(fh, index=False, compression="zstd", use_dictionary=_REPEATING,
                             write_statistics=["timestamp", "seq"])

    def report(self) -> dict:
        return read_json(self.report_path) if self.report_path.exists() else {"sources": {}}

    def save_report(self, report: dict) -> None:
        write_json(self.report_path, report)
