"""Where an export lives: a folder, a ``.zip`` read in place, or a single file.

Adapters see only this interface, so each is written once for all three:
``files()`` lists members as POSIX paths relative to the export root,
``open(rel)`` gives a binary stream, ``read_text(rel)`` decoded text (BOM removed).
``tz`` is the zone in which wall-clock times of the export are read (``--tz``; see
:mod:`ingest.times`), and ``opened`` the members read since :meth:`forget_reads`, so that the
pipeline can count the files no adapter read.
A zip is never extracted to disk. Hostile archives are refused: members with
``..`` or absolute paths, symlinks, and members that expand past a bound (zip bombs).
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Iterator
from datetime import tzinfo
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import IO

from ingest.errors import IngestError

# A zip member may not expand beyond this many bytes, nor by more than this ratio; the whole
# archive not beyond MAX_TOTAL_BYTES (exports with years of photos and videos run to tens of GB).
MAX_MEMBER_BYTES = 4 * 1024**3
MAX_RATIO = 200
MAX_TOTAL_BYTES = 512 * 1024**3
_REDOWNLOAD = "download the export again; the archive is damaged or incomplete"


class Source:
    """An export to read. Build one with :func:`open_source`."""

    name: str  # how errors name the export (the path the user gave)
    skipped: frozenset[str] = frozenset()  # members set aside as unreadable (see :meth:`skip`)
    origin: Path | None = None  # what open_source() opens again (another process reading a share of it)
    tz: tzinfo | None = None  # the zone of wall-clock times in the export (None: UTC); set by open_source
    opened: set[str]  # members opened since forget_reads()

    def note_read(self, rel: str) -> None:
        """Count ``rel`` as read (open() does it; an adapter reading a member in another process says so)."""
        if not hasattr(self, "opened"):
            self.opened = set()
        self.opened.add(rel)

    def forget_reads(self) -> None:
        """Start counting reads afresh (after detection, which peeks at files it does not read)."""
        self.opened = set()

    def unread(self) -> list[str]:
        """Members not opened since :meth:`forget_reads`."""
        seen = getattr(self, "opened", set())
        return [f for f in self.files() if f not in seen]

    def files(self) -> list[str]:
        """Every member, minus those set aside with :meth:`skip`."""
        return [f for f in self._all_files() if f not in self.skipped] if self.skipped else self._all_files()

    def _all_files(self) -> list[str]:
        raise NotImplementedError

    def skip(self, rel: str) -> None:
        """Set a damaged member aside: adapters no longer see it (one bad thread does not sink the export)."""
        self.skipped = self.skipped | {rel}

    def member_of(self, label: str) -> str | None:
        """The member an error's file label names, or None when it names no single member."""
        return next((f for f in self._all_files() if self.label(f) == label), None)

    def open(self, rel: str) -> IO[bytes]:
        raise NotImplementedError

    def size(self, rel: str) -> int:
        raise NotImplementedError

    def label(self, rel: str) -> str:
        """The name of a member for messages: ``export.zip:messages/inbox/x/message_1.json``."""
        return f"{self.name}:{rel}" if rel else self.name

    def read_bytes(self, rel: str) -> bytes:
        with self.open(rel) as fh:
            return fh.read()

    def read_text(self, rel: str) -> str:
        data = self.read_bytes(rel)
        try:
            return data.decode("utf-8-sig")  # LinkedIn and others may start with a BOM
        except UnicodeDecodeError as exc:
            raise IngestError(
                self.label(rel), f"byte {exc.start}", "is not UTF-8 text",
                hint="re-download the export, or convert the file to UTF-8",
            ) from None

    def glob(self, pattern: str) -> list[str]:
        """Members matching a glob on the relative path (``**`` spans folders)."""
        return [f for f in self.files() if PurePosixPath(f).match(pattern) or _full_match(f, pattern)]

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _full_match(path: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(path, pattern)


class DirSource(Source):
    def __init__(self, root: Path):
        self.root = root
        self.name = str(root)
        self.origin = root.absolute()

    @cached_property
    def _files(self) -> list[str]:
        out = []
        for path in sorted(self.root.rglob("*")):
            # Symlinks are not followed: an export never contains them, and one could point anywhere.
            if path.is_symlink() or not path.is_file():
                continue
            out.append(path.relative_to(self.root).as_posix())
        return out

    def _all_files(self) -> list[str]:
        return self._files

    def open(self, rel: str) -> IO[bytes]:
        self.note_read(rel)
        try:
            return (self.root / rel).open("rb")
        except OSError as exc:
            raise IngestError(self.label(rel), None, f"cannot be read ({exc.strerror})",
                              hint="check the file's permissions") from None

    def size(self, rel: str) -> int:
        return (self.root / rel).stat().st_size


class FileSource(Source):
    """A single export file (``result.json``, ``messages.csv``, ``_chat.txt``)."""

    def __init__(self, path: Path):
        self.path = path
        self.name = str(path.parent)
        self.rel = path.name

    def _all_files(self) -> list[str]:
        return [self.rel]

    def open(self, rel: str) -> IO[bytes]:
        self.note_read(rel)
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise IngestError(str(self.path), None, f"cannot be read ({exc.strerror})",
                              hint="check the file's permissions") from None

    def size(self, rel: str) -> int:
        return self.path.stat().st_size

    def label(self, rel: str) -> str:
        return str(self.path)


class ZipSource(Source):
    def __init__(self, path: Path):
        self.name = str(path)
        self.origin = path.absolute()
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise IngestError(str(path), None, f"is not a readable zip archive ({exc})",
                              hint="download the export again; the file may be incomplete") from None
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
                raise IngestError(self.name, name, "archive member escapes the archive (absolute path or '..')",
                                  hint="this zip was not made by an export tool; do not use it")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise IngestError(self.name, name, "archive member is a symbolic link",
                                  hint="this zip was not made by an export tool; do not use it")
            if info.file_size > MAX_MEMBER_BYTES or (
                info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO
                and info.file_size > 50 * 1024**2
            ):
                raise IngestError(self.name, name,
                                  f"archive member expands to {info.file_size} bytes from {info.compress_size}",
                                  hint="this looks like a zip bomb; do not use it")
            self._members[name] = info
        declared = sum(i.file_size for i in self._members.values())
        packed = sum(i.compress_size for i in self._members.values())
        if declared > MAX_TOTAL_BYTES or (declared > 1024**3 and declared > MAX_RATIO * max(packed, 1)):
            # many members, each under the bound, may still expand past any disk (overlapping-file bombs)
            raise IngestError(self.name, None, f"archive expands to {declared} bytes from {packed}",
                              hint="this looks like a zip bomb; do not use it")
        self._files = sorted(self._members)

    def _all_files(self) -> list[str]:
        return self._files

    def open(self, rel: str) -> IO[bytes]:
        info = self._members[rel]
        self.note_read(rel)
        try:
            raw = self.zf.open(info)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise IngestError(self.label(rel), None, f"is damaged inside the archive ({type(exc).__name__})",
                              hint=_REDOWNLOAD) from None
        except (RuntimeError, NotImplementedError) as exc:  # encrypted, or a compression zipfile lacks
            raise IngestError(self.label(rel), None, f"cannot be unpacked ({exc})",
                              hint="unzip the archive with your system's tool and pass the folder") from None
        return _BoundedReader(raw, limit=info.file_size, label=self.label(rel))

    def size(self, rel: str) -> int:
        return self._members[rel].file_size

    def close(self) -> None:
        self.zf.close()


class _BoundedReader(io.RawIOBase):
    """Refuses to yield more bytes than the zip header declared (headers can lie)."""

    def __init__(self, raw: IO[bytes], limit: int, label: str):
        self.raw, self.limit, self.label, self.count = raw, limit, label, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        try:
            n = self.raw.readinto(buf)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a bad CRC, a cut or corrupt stream
            raise IngestError(self.label, None, f"is damaged inside the archive ({type(exc).__name__})",
                              hint=_REDOWNLOAD) from None
        self.count += n or 0
        if self.count > self.limit:
            raise IngestError(self.label, None, "expands past its declared size",
                              hint="this looks like a zip bomb; do not use it")
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_source(path: str | Path, *, tz: tzinfo | None = None) -> Source:
    """A Source for a folder, a zip file or a single export file; ``tz``: the zone of its wall-clock
    times (None: UTC; the pipeline passes ``--tz``, by default this machine's zone)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise IngestError(str(p), None, "does not exist", hint="give the folder or .zip you downloaded")
    if p.is_dir():
        source: Source = DirSource(p)
    elif zipfile.is_zipfile(p) or p.suffix.lower() == ".zip":
        source = ZipSource(p)  # a .zip that is not one (cut short) is refused there, with a hint
    else:
        source = FileSource(p)
    source.tz = tz
    source.forget_reads()
    return source


def iter_members(source: Source, suffix: str) -> Iterator[str]:
    for rel in source.files():
        if rel.lower().endswith(suffix):
            yield rel
