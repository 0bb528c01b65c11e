"""The Makefile's paths, as shell words: ``make`` splits values at spaces, and exports have spaces in their
names (WhatsApp's ``WhatsApp Chat with Kim.txt``). The Makefile calls this with each value single-quoted
and pastes what it prints into the command line, so ``make -n`` shows the real command.

SOURCES is read like a shell line: ``SOURCES="'WhatsApp Chat with Kim.txt' facebook.zip"`` is two paths;
a value naming one existing file or folder as a whole (``SOURCES="WhatsApp Chat with Kim.txt"``) is that
one path. ``~`` starts your home folder, in SOURCES, DATA_DIR and OUT alike.

    python3 tools/makeargs.py path VALUE               one path, ~ expanded, quoted
    python3 tools/makeargs.py abs VALUE                one path made absolute (not quoted: for make itself)
    python3 tools/makeargs.py sources VALUE            the SOURCES paths, each quoted
    python3 tools/makeargs.py mounts DATA SOURCES      docker -v options: each source outside DATA, read-only
                                                       under /import/<n>/ (n keeps two "export" folders apart)
    python3 tools/makeargs.py image-sources DATA SOURCES   SOURCES as the image sees them, as one word
    python3 tools/makeargs.py image-out DATA OUT       OUT as the image sees it: /data/... inside DATA, "-"
                                                       as is, else /out/<its name> (a fresh folder, mounted)
    python3 tools/makeargs.py out-parent DATA OUT      the folder OUT goes in, when outside DATA (else nothing)
    python3 tools/makeargs.py place FOLDER OUT         move what the container wrote in FOLDER beside OUT

Standard library only: it runs before any virtual environment exists, and inside the image.
"""

from __future__ import annotations

import os
import shlex
import sys


class Usage(Exception):
    pass


def expand(path: str) -> str:
    return os.path.expanduser(path) if path.startswith("~") else path


def split_sources(value: str) -> list[str]:
    value = value.strip()
    if not value:
        return []
    if os.path.exists(expand(value)):
        return [expand(value)]
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise Usage(f"SOURCES: {exc}; quote a path holding spaces as 'WhatsApp Chat with Kim.txt'") from None
    return [expand(w) for w in words]


def inside(path: str, data: str) -> str | None:
    """``path`` relative to ``data`` ("." for data itself), or None outside it."""
    rel = os.path.relpath(path, data)
    return None if rel == ".." or rel.startswith("../") else rel


def in_image(path: str, data: str, mount: str) -> str:
    rel = inside(os.path.abspath(path), data)
    if rel is not None:
        return "/data" if rel == "." else f"/data/{rel}"
    return f"{mount}/{os.path.basename(os.path.abspath(path))}"


def main(argv: list[str]) -> str:
    if not argv:
        raise Usage(__doc__.split("\n\n")[2])
    cmd, *args = argv
    if cmd == "path" and len(args) == 1:
        return shlex.quote(expand(args[0]))
    if cmd == "abs" and len(args) == 1:
        return os.path.abspath(expand(args[0]))
    if cmd == "sources" and len(args) == 1:
        return shlex.join(split_sources(args[0]))
    if cmd in ("mounts", "image-sources") and len(args) == 2:
        data = os.path.abspath(expand(args[0]))
        options, seen = [], []
        for n, path in enumerate(split_sources(args[1]), start=1):
            host = os.path.abspath(path)
            if inside(host, data) is not None:
                seen.append(in_image(host, data, ""))
                continue
            if ":" in host:
                raise Usage(f"{host}: docker -v cannot mount a path holding ':'; copy or rename it")
            target = f"/import/{n}/{os.path.basename(host)}"
            options += ["-v", f"{host}:{target}:ro"]
            seen.append(target)
        return shlex.join(options) if cmd == "mounts" else shlex.quote(shlex.join(seen))
    if cmd == "image-out" and len(args) == 2:
        out = args[1]
        if out == "-":
            return "-"
        return shlex.quote(in_image(expand(out), os.path.abspath(expand(args[0])), "/out"))
    if cmd == "out-parent" and len(args) == 2:
        out = expand(args[1])
        if out == "-" or inside(os.path.abspath(out), os.path.abspath(expand(args[0]))) is not None:
            return ""
        return shlex.quote(os.path.dirname(os.path.abspath(out)))
    if cmd == "place" and len(args) == 2:
        # every file the container wrote (OUT, or with --split its three NAME.<split>.SUFFIX files)
        parent = os.path.dirname(os.path.abspath(expand(args[1])))
        for name in sorted(os.listdir(args[0])):
            try:
                os.replace(os.path.join(args[0], name), os.path.join(parent, name))
            except OSError as exc:
                raise Usage(f"cannot move {name} to {parent}: {exc.strerror}") from None
        return ""
    raise Usage(f"makeargs: unknown call {shlex.join(argv)}")


if __name__ == "__main__":
    try:
        words = main(sys.argv[1:])
        if words:
            print(words)
    except Usage as exc:
        print(f"make: {exc}", file=sys.stderr)
        sys.exit(2)
