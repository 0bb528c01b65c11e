"""The docs are tested (STYLE.md, habit 15): the README's CLI reference matches the real commands, the
README stays short, every relative link in the README and docs/ points to a file that exists, and every
make target the README names exists.

The CLI reference is a list per command, in the README's "CLI reference" section::

    - **`talklike train`**: what it does. `--as NAME` [me] · `--epochs N` [30] ·
      [pair options](#pair-options)

Every code span that starts with a dash names options (``--match`` / ``--no-match`` are two spans);
a link whose text names a shared group (``[pair options](...)``) brings in the options of that group's
own item, ``- **Pair options** (...): `--session-gap HOURS` ...``. An item ``**`talklike`**`` documents
the options of the root command (``--version``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 250

_ITEM = re.compile(r"^- \*\*(?P<name>[^*]+)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_OPTION = re.compile(r"^(--?[A-Za-z][A-Za-z0-9-]*)")
_GROUP_LINK = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")


def _section(text: str, title: str) -> str:
    """The lines of the ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _items(section: str) -> dict[str, str]:
    """Each ``- **name**`` list item of the section and its text (continuation lines included)."""
    items: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        m = _ITEM.match(line)
        if m:
            current = m.group("name").strip("`").strip()
            assert current not in items, f"CLI reference documents {current!r} twice"
            items[current] = line[m.end():]
        elif current is not None and line.startswith("  ") and line.strip():
            items[current] += " " + line.strip()
        else:
            current = None
    return items


def _options(text: str) -> set[str]:
    found = set()
    for span in _CODE.findall(text):
        m = _OPTION.match(span.strip())
        if m:
            found.add(m.group(1))
    return found


def documented() -> dict[str, set[str]]:
    """Command path ("talklike train") -> the options its README item documents, groups expanded."""
    items = _items(_section(README.read_text(encoding="utf-8"), "CLI reference"))
    groups = {name.lower(): _options(text) for name, text in items.items() if not name.startswith("talklike")}
    commands = {}
    for name, text in items.items():
        if not name.startswith("talklike"):
            continue
        opts = _options(text)
        for link in _GROUP_LINK.findall(text):
            if link.lower() in groups:
                opts |= groups[link.lower()]
        path = " ".join(word for word in name.split() if re.fullmatch(r"[a-z][a-z0-9-]*", word))
        commands[path] = opts
    return commands


def actual() -> dict[str, tuple[set[str], set[str]]]:
    """Command path -> (the long names of its non-hidden options, which the README must document; every
    name it accepts, short ones and ``-h``/``--help`` included, which the README may document)."""
    from bot.cli import app

    root = typer.main.get_command(app)
    found: dict[str, tuple[set[str], set[str]]] = {}

    # typer's own click (typer._click in typer >= 0.2x, click before): duck-typed, so either works
    def walk(cmd, path: str, parent) -> None:
        settings = cmd.context_settings or {}  # -h lives there (help_option_names)
        ctx = cmd.context_class(cmd, info_name=path.rsplit(" ", 1)[-1], parent=parent, **settings)
        required, accepted = set(), set()
        for param in cmd.get_params(ctx):
            if param.param_type_name != "option" or param.hidden:
                continue
            names = {*param.opts, *param.secondary_opts}
            accepted |= names
            if param.name != "help":  # documented once for every command, not per command
                required |= {n for n in names if n.startswith("--")}
        if path != "talklike" or required:
            found[path] = (required, accepted)
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                walk(sub, f"{path} {name}", ctx)

    walk(root, "talklike", None)
    return found


def test_cli_reference_lists_every_command():
    docs, real = documented(), actual()
    missing = sorted(set(real) - set(docs))
    extra = sorted(set(docs) - set(real))
    assert not missing and not extra, (
        f"README CLI reference: commands missing: {missing}; documented but not commands: {extra}")


def test_cli_reference_matches_every_option():
    docs, real = documented(), actual()
    problems = []
    for path in sorted(set(docs) & set(real)):
        required, accepted = real[path]
        missing = sorted(required - docs[path])
        extra = sorted(docs[path] - accepted)
        if missing:
            problems.append(f"{path}: undocumented options {missing}")
        if extra:
            problems.append(f"{path}: documented options that do not exist {extra}")
    assert not problems, "README CLI reference out of date:\n" + "\n".join(problems)


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, (
        f"README.md has {lines} lines; at most {MAX_README_LINES}: move details to docs/")


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("**/*.md"))]


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # code blocks hold no links
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:|^/", t)]


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file (lower case, punctuation dropped, spaces
    as -)."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    slugs = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(path: Path):
    broken = []
    for target in _relative_links(path):
        file, _, anchor = target.partition("#")
        dest = path.parent / file if file else path
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links to missing files or headings: {broken}"


# `make [-flags] TARGET` (a target, not a VARIABLE=value)
_MAKE = re.compile(r"(?:^|[\s;&|(])make\s+((?:-\S+\s+)*)([A-Za-z][A-Za-z0-9_.-]*)(?![A-Za-z0-9_.=-])")


def _make_targets_named() -> set[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    spans = blocks + _CODE.findall(re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.S | re.M))
    targets = set()
    for span in spans:
        for m in _MAKE.finditer(span):
            targets.add(m.group(2))
    return targets


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_targets_named_in_readme_exist():
    named = _make_targets_named()
    assert {"demo", "test", "setup"} <= named, f"README must name make demo, test and setup: {sorted(named)}"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # not a sub-make
    missing = []
    for target in sorted(named):
        # -n: print the recipe, run nothing; -B: as if nothing were up to date (a set-up .venv makes `setup` have
        # nothing to do), so only a target without a recipe says "Nothing to be done"
        run = subprocess.run(["make", "-n", "-B", "--no-print-directory", target], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env=env)
        out = run.stdout + run.stderr
        if run.returncode != 0 or "No rule to make target" in out or "Nothing to be done" in out:
            missing.append(target)
    assert not missing, f"README names make targets that the Makefile lacks: {missing}"
