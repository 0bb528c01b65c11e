"""Install fbchat-archive-parser (the legacy Facebook HTML layouts) on Python 3.12 and later.

Its only release on PyPI is a 2018 source archive whose setup (versioneer) calls
``configparser.SafeConfigParser`` and ``readfp``, both removed in Python 3.12: ``pip install`` cannot
build it there, although its code runs. This fetches that archive from the package index (PIP_INDEX_URL,
else PyPI), checks it against the sha256 PyPI publishes, makes its setup call the current names, and
installs it with this interpreter's pip. On Python 3.11, or once it is installed, it does nothing.

    python tools/fbcap.py          (run by `make setup` and .ci/run before `pip install '.[dev,demo]'`)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

NAME, VERSION = "fbchat-archive-parser", "2.0.0.post2"
ARCHIVE = "fbchat_archive_parser-2.0.0.post2.tar.gz"
SHA256 = "562e7dcba3d2e6b04f11076cef7f1967ea7a930a8e4064229dd37ca5a8fdf98e"  # as published on PyPI


def archive_url() -> str:
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    req = urllib.request.Request(f"{index}/{NAME}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        files = json.load(resp)["files"]
    for f in files:
        if f["filename"] == ARCHIVE:
            return urllib.parse.urljoin(f"{index}/{NAME}/", f["url"])
    raise SystemExit(f"{ARCHIVE} is not on {index}")


def main() -> int:
    if sys.version_info < (3, 12) or importlib.util.find_spec("fbchat_archive_parser"):
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        with urllib.request.urlopen(archive_url(), timeout=120) as resp:
            data = resp.read()
        if hashlib.sha256(data).hexdigest() != SHA256:
            raise SystemExit(f"{ARCHIVE}: its sha256 is not the one PyPI published; not installed")
        (Path(tmp) / ARCHIVE).write_bytes(data)
        with tarfile.open(Path(tmp) / ARCHIVE) as tar:
            tar.extractall(tmp, filter="data")
        src = Path(tmp) / ARCHIVE.removesuffix(".tar.gz")
        versioneer = src / "versioneer.py"
        text = versioneer.read_text(encoding="utf-8")
        versioneer.write_text(text.replace("SafeConfigParser()", "ConfigParser()").replace(".readfp(", ".read_file("),
                              encoding="utf-8")
        return subprocess.call([sys.executable, "-m", "pip", "install", "-q", str(src)])


if __name__ == "__main__":
    sys.exit(main())
