"""The requirements of talklike and some of its extras, one per line, read from pyproject.toml alone (so the
Docker layer that installs them is rebuilt only when they change, never for a change of code).

    python tools/requirements.py pyproject.toml [EXTRAS] [--gpu] [--extras-only]

EXTRAS is comma-separated (demo,serve); an extra naming talklike's own (dev: talklike[embeddings,serve])
is expanded, never fetched from an index. --gpu swaps tensorflow-cpu for tensorflow[and-cuda];
--extras-only leaves out the base dependencies (the Docker test stage adds dev to an installed image).
"""

from __future__ import annotations

import re
import sys
import tomllib


def expand(project: dict, extras: list[str], seen: set[str]) -> list[str]:
    out = []
    for extra in extras:
        if extra in seen:
            continue
        seen.add(extra)
        for req in project["optional-dependencies"][extra]:
            own = re.fullmatch(r"\s*talklike\s*\[([^\]]*)\]\s*", req)
            out += expand(project, [e.strip() for e in own.group(1).split(",")], seen) if own else [req]
    return out


def main(argv: list[str]) -> None:
    flags = {a for a in argv if a.startswith("--")}
    path, *rest = [a for a in argv if not a.startswith("--")]
    with open(path, "rb") as fh:
        project = tomllib.load(fh)["project"]
    extras = [e for e in (rest[0] if rest else "").split(",") if e]
    reqs = ([] if "--extras-only" in flags else list(project["dependencies"])) + expand(project, extras, set())
    if "--gpu" in flags:
        reqs = [r for r in reqs if not r.startswith("tensorflow")] + ["tensorflow[and-cuda]>=2.16"]
    print(*dict.fromkeys(reqs), sep="\n")


if __name__ == "__main__":
    main(sys.argv[1:])
