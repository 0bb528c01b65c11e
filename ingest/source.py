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

import contextlib
import io
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import tzinfo
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import IO, TypeVar

import numpy as np

from ingest.errors import IngestError

# A zip member may not expand beyond this many bytes, nor by more than this ratio; the whole
# archive not beyond MAX_TOTAL_BYTES (exports with years of photos and videos run to tens of GB).
MAX_MEMBER_BYTES = 4 * 1024**3
MAX_RATIO = 200
MAX_TOTAL_BYTES = 512 * 1024**3
_REDOWNLOAD = "download the export again; the archive is damaged or incomplete"
# JSON nested deeper than this is no export (real ones nest under 12 levels): refused before it can
# exhaust the stack or memory (a streaming parser's prefixes grow with the square of the depth).
MAX_NESTING = 128
_TOO_DEEP_HINT = "this file was not written by the platform's export; download the export again"


# What a name may not hold as it is, where it is printed or stored: control characters (a newline would
# split a warning line) and the lone surrogates that stand for bytes which are not UTF-8 (os.listdir's
# surrogateescape; they cannot be written as UTF-8 at all).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_name(name: str) -> str:
    """``name`` as it may be printed or stored: each byte that was not UTF-8 as ``\\xNN``, each
    control character as ``\\xNN`` (``\\n`` becomes ``\\x0a``), everything else as it is. Used for
    every file name in errors, warnings, the ``source`` column and the report."""
    return _UNSAFE.sub(_escape, name) if _UNSAFE.search(name) else name


T = TypeVar("T")


class Source:
    """An export to read. Build one with :func:`open_source`."""

    name: str  # how errors name the export (the path the user gave)
    skipped: frozenset[str] = frozenset()  # members set aside as unreadable (see :meth:`skip`)
    origin: Path | None = None  # what open_source() opens again (another process reading a share of it)
    tz: tzinfo | None = None  # the zone of wall-clock times in the export (None: UTC); set by open_source
    opened: set[str]  # members opened since forget_reads()
    # The errors of damaged members an adapter read past (see set_aside); None: an error is raised at once.
    damaged: list[IngestError] | None = None

    def note_read(self, rel: str) -> None:
        """Count ``rel`` as read (open() does it; an adapter reading a member in another process says so)."""
        if not hasattr(self, "opened"):
            self.opened = set()
        self.opened.add(rel)

    def forget_reads(self) -> None:
        """Start counting reads afresh (after detection, which peeks at files it does not read)."""
        self.opened = set()

    def unread(self) -> list[str]:
        """Members not opened since :meth:`forget_reads` nor set aside, as :func:`safe_name` writes them
        (for the report: they are not opened again)."""
        seen = getattr(self, "opened", set())
        return [safe_name(f) for f in self.files() if f not in seen]

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
        cached = getattr(self, "_by_label", None)
        if cached is None or cached[0] != self.name:  # labels follow the name (a helper process renames)
            cached = (self.name, {self.label(f): f for f in self._all_files()})
            self._by_label = cached
        return cached[1].get(label)

    def set_aside(self, exc: IngestError) -> None:
        """An adapter's report of a damaged member it reads past: kept for :func:`ingest.adapters.read`,
        which decides (one pass over the export, however many are damaged); raised when nothing collects."""
        if self.damaged is None:
            raise exc
        self.damaged.append(exc)

    def attempt(self, read: Callable[..., T], *args, **kwargs) -> T | None:
        """``read(*args, **kwargs)``, or None after :meth:`set_aside` of the IngestError it raised: how an
        adapter reads one member without letting a damaged one stop the others."""
        try:
            return read(*args, **kwargs)
        except IngestError as exc:
            self.set_aside(exc)
            return None

    def open(self, rel: str) -> IO[bytes]:
        raise NotImplementedError

    def size(self, rel: str) -> int:
        raise NotImplementedError

    def label(self, rel: str) -> str:
        """The name of a member for messages: ``export.zip:messages/inbox/x/message_1.json``."""
        return safe_name(f"{self.name}:{rel}" if rel else self.name)

    def read_bytes(self, rel: str) -> bytes:
        with self.open(rel) as fh:
            return fh.read()

    def read_text(self, rel: str, data: bytes | None = None) -> str:
        """The member as text (``data``: its bytes, when already read)."""
        data = self.read_bytes(rel) if data is None else data
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
        self.name = safe_name(str(root))
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
        self.name = safe_name(str(path.parent))
        self.rel = path.name

    def _all_files(self) -> list[str]:
        return [self.rel]

    def open(self, rel: str) -> IO[bytes]:
        self.note_read(rel)
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise IngestError(self.label(self.rel), None, f"cannot be read ({exc.strerror})",
                              hint="check the file's permissions") from None

    def size(self, rel: str) -> int:
        return self.path.stat().st_size

    def label(self, rel: str) -> str:
        return safe_name(str(self.path))


class ZipSource(Source):
    def __init__(self, path: Path):
        self.name = safe_name(str(path))
        self.origin = path.absolute()
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise IngestError(self.name, None, f"is not a readable zip archive ({exc})",
                              hint="download the export again; the file may be incomplete") from None
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
                raise IngestError(self.name, safe_name(name), "archive member escapes the archive (absolute path or '..')",
                                  hint="this zip was not made by an export tool; do not use it")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise IngestError(self.name, safe_name(name), "archive member is a symbolic link",
                                  hint="this zip was not made by an export tool; do not use it")
            if info.file_size > MAX_MEMBER_BYTES or (
                info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO
                and info.file_size > 50 * 1024**2
            ):
                raise IngestError(self.name, safe_name(name),
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
        raise IngestError(safe_name(str(p)), None, "does not exist", hint="give the folder or .zip you downloaded")
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


def too_deep(label: str, place: str | None = None) -> IngestError:
    """The error for JSON nested deeper than any export (MAX_NESTING levels for the streaming check)."""
    return IngestError(label, place, "is nested too deeply to be a chat export", hint=_TOO_DEEP_HINT)


@contextlib.contextmanager
def json_nesting(label: str) -> Iterator[None]:
    """Parse JSON (json, msgspec) inside this block: a document nested deeper than the parsers
    allow (Python's recursion limit, about 1,000 levels; no export nests past 20) raises
    :func:`too_deep` rather than RecursionError. The recursion limit is left as it is: lowering it
    would reach every thread of the process."""
    try:
        yield
    except RecursionError:
        raise too_deep(label) from None


_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def check_json_nesting(chunks: Iterator[bytes], label: str) -> None:
    """Raise :func:`too_deep` when the JSON in ``chunks`` nests past MAX_NESTING levels, before a
    streaming parser sees it. Brackets inside strings do not count. Vectorised, a chunk at a time:
    memory is bounded by the chunk size, whatever the file's."""
    depth, in_string, escaped = 0, 0, False  # carried from one chunk to the next
    offset = 0
    for chunk in chunks:
        arr = np.frombuffer(chunk, dtype=np.uint8)
        n = len(arr)
        if not n:
            continue
        quotes = np.flatnonzero(arr == 34)
        backslash = arr == 92
        if len(quotes) and (escaped or backslash.any()):
            # a quote is escaped when an odd run of backslashes ends just before it
            idx = np.arange(n)
            last_other = np.maximum.accumulate(np.where(backslash, -1, idx))
            before = quotes - 1
            run = np.where(before >= 0, before - np.where(before >= 0, last_other[np.maximum(before, 0)], 0), 0)
            at_start = (before < 0) | (last_other[np.maximum(before, 0)] < 0)
            run = run + np.where(at_start & escaped, 1, 0)
            quotes = quotes[run % 2 == 0]
        toggles = np.zeros(n, dtype=np.int8)
        toggles[quotes] = 1
        inside = (np.cumsum(toggles, dtype=np.int64) + in_string) & 1
        delta = _OPEN[arr].astype(np.int64)
        delta[inside == 1] = 0
        levels = depth + np.cumsum(delta)
        top = int(levels.max())
        if top > MAX_NESTING:
            raise too_deep(label, f"byte {offset + int(np.argmax(levels > MAX_NESTING))}")
        depth = int(levels[-1])
        in_string = int(inside[-1])
        tail = n - 1 - int(np.flatnonzero(~backslash)[-1]) if not backslash.all() else n + int(escaped)
        escaped = tail % 2 == 1
        offset += n
