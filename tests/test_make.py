"""The Makefile with paths as people have them: WhatsApp's "WhatsApp Chat with Kim.txt", folders with spaces,
~ for the home folder. `make -n` prints the commands; each path must be one shell argument, and the Docker
targets must mount exactly the intended folders (sources read-only, never the home folder). `make help`
lists every target that has a recipe."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

WHATSAPP = "WhatsApp Chat with Kim.txt"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home folder with a space in its name, a workspace in it, and exports beside it."""
    home = tmp_path / "home dir"
    (home / "my exports").mkdir(parents=True)
    (home / "my exports" / WHATSAPP).write_text("1/2/24, 10:00 - Kim: hi\n", encoding="utf-8")
    (home / "facebook.zip").write_bytes(b"PK")
    (home / "talk data" / "export").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def make(*args: str, dry: bool = True, env: dict | None = None) -> str:
    """make's output; on the host, without installing the venv first (DEPS=)."""
    cmd = ["make", "--no-print-directory", *(["-n"] if dry else []), "DEPS=", "DOCKER=docker", "DOCKER_USER=1000:1000",
           f"PYTHON={sys.executable}", *args]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})},
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.replace("\\\n", " ")


def command(output: str, program: str) -> list[str]:
    """The words of the one shell command in ``output`` that runs ``program``, up to its ``&&``."""
    found = []
    for line in output.splitlines():
        words = shlex.split(line)
        for i, w in enumerate(words):
            if w == program or w.endswith("/" + program):
                rest = words[i:]
                found.append(rest[: rest.index("&&")] if "&&" in rest else rest)
                break
    assert len(found) == 1, output
    return found[0]


def options(words: list[str], flag: str) -> list[str]:
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w == flag]


def inner(words: list[str]) -> dict[str, str]:
    """The VAR=value words given to make inside the image."""
    after = words[words.index("make"):]
    return dict(w.split("=", 1) for w in after if re.match(r"^[A-Z_]+=", w))


def test_ingest_takes_each_source_as_one_argument(home):
    data = home / "talk data"
    # a single existing path with spaces, as is
    words = command(make("ingest", f"SOURCES=~/my exports/{WHATSAPP}", "DATA_DIR=~/talk data", "ME=Ana O'Neil"),
                    "talklike")
    assert words[1:3] == ["ingest", str(home / "my exports" / WHATSAPP)]
    assert options(words, "--data") == [str(data)] and options(words, "--me") == ["Ana O'Neil"]
    # several paths, read like a shell line
    words = command(make("ingest", f"SOURCES='~/my exports/{WHATSAPP}' ~/facebook.zip", f"DATA_DIR={data}"),
                    "talklike")
    assert words[2:4] == [str(home / "my exports" / WHATSAPP), str(home / "facebook.zip")]
    assert words[4:] == ["--data", str(data)]


def test_a_source_with_an_open_quote_stops_make_with_one_line(home):
    res = subprocess.run(["make", "-n", "DEPS=", f"PYTHON={sys.executable}", "ingest", "SOURCES='unclosed"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "quote a path holding spaces" in res.stderr
    assert "talklike ingest" not in res.stdout


def test_docker_ingest_mounts_each_outside_source_read_only_and_nothing_else(home):
    data = home / "talk data"
    out = make("docker-ingest", f"DATA_DIR={data}", "ME=Ana Lima",
               f"SOURCES='~/my exports/{WHATSAPP}' ~/facebook.zip '{data}/export'")
    words = command(out, "docker")
    assert options(words, "-v") == [f"{data}:/data",
                                     f"{home}/my exports/{WHATSAPP}:/import/1/{WHATSAPP}:ro",
                                     f"{home}/facebook.zip:/import/2/facebook.zip:ro"]
    assert options(words, "--user") == ["1000:1000"]
    stage = inner(words)
    assert shlex.split(stage["SOURCES"]) == [f"/import/1/{WHATSAPP}", "/import/2/facebook.zip", "/data/export"]
    assert stage["DATA_DIR"] == "/data" and stage["ME"] == "Ana Lima"
    assert f"mkdir -p '{data}'" in out
    # the default source: the workspace's export folder, no extra mount
    words = command(make("docker-ingest", f"DATA_DIR={data}"), "docker")
    assert options(words, "-v") == [f"{data}:/data"] and shlex.split(inner(words)["SOURCES"]) == ["/data/export"]


def test_export_and_its_docker_twin(home):
    data = home / "talk data"
    words = command(make("export", "DATA_DIR=~/talk data", "AS=Kim Lee", "OUT=~/out dir/pairs.parquet"), "talklike")
    assert options(words, "--out") == [str(home / "out dir" / "pairs.parquet")]
    assert options(words, "--as") == ["Kim Lee"] and options(words, "--data") == [str(data)]
    # inside the workspace: /data/..., nothing else mounted
    words = command(make("docker-export", f"DATA_DIR={data}", f"OUT={data}/x y.csv"), "docker")
    assert options(words, "-v") == [f"{data}:/data"] and inner(words)["OUT"] == "/data/x y.csv"
    # outside: a fresh folder beside OUT at /out, never OUT's whole folder (here the home folder)
    out = make("docker-export", f"DATA_DIR={data}", "OUT=~/pairs.parquet")
    words = command(out, "docker")
    assert options(words, "-v") == [f"{data}:/data", "$tmp:/out"]
    assert inner(words)["OUT"] == "/out/pairs.parquet"
    assert f"mktemp -d '{home}'/.talklike-out.XXXXXX" in out


def test_docker_export_writes_through_a_fresh_folder(home, tmp_path):
    """The recipe run for real, with a stand-in docker that writes what the stage would to its /out mount."""
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\n" + '''import os, sys
args = sys.argv[1:]
mounts = dict(reversed(args[i + 1].rsplit(":", 1)) for i, a in enumerate(args) if a == "-v" and ":/out" in args[i + 1])
out = next(a.split("=", 1)[1] for a in args if a.startswith("OUT="))
with open(os.path.join(mounts["/out"], os.path.basename(out)), "w") as fh:
    fh.write("pairs")
print(sorted(os.listdir(mounts["/out"])), oct(os.stat(mounts["/out"]).st_mode & 0o777))
''')
    fake.chmod(0o755)
    target = home / "out dir" / "pairs.jsonl"
    res = subprocess.run(["make", "--no-print-directory", "docker-export", f"DOCKER={fake}", f"PYTHON={sys.executable}",
                          f"DOCKER_USER={os.getuid()}:{os.getgid()}", f"DATA_DIR={home / 'talk data'}",
                          "OUT=~/out dir/pairs.jsonl"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "['pairs.jsonl'] 0o700" in res.stdout  # the container saw one fresh owner-only folder
    assert target.read_text() == "pairs"
    assert sorted(p.name for p in target.parent.iterdir()) == ["pairs.jsonl"]  # the folder is gone


def test_serve_and_docker_serve(home):
    data = home / "talk data"
    words = command(make("serve", "AS=Kim Lee", "DATA_DIR=~/talk data", "PORT=8081"), "talklike")
    assert words[1:] == ["serve", "--as", "Kim Lee", "--data", str(data), "--port", "8081"]
    words = command(make("docker-serve", "AS=Kim Lee", f"DATA_DIR={data}", "PORT=8081"), "docker")
    assert options(words, "-p") == ["127.0.0.1:8081:8000"]  # published on loopback only
    assert options(words, "-v") == [f"{data}:/data"]
    stage = inner(words)
    assert stage["AS"] == "Kim Lee" and stage["PORT"] == "8000"
    assert shlex.split(stage["SERVE_ARGS"]) == ["--host", "0.0.0.0", "--allow-no-token"]
    words = command(make("docker-serve", f"DATA_DIR={data}"), "docker")
    assert options(words, "-p") == ["127.0.0.1:8000:8000"]


def test_stats_plot_and_the_other_stage_twins(home):
    data = home / "talk data"
    words = command(make("stats", f"DATA_DIR={data}", "TOP=25", "PLOT=~/plots/by month.svg"), "talklike")
    assert words[1:] == ["stats", "--data", str(data), "--top", "25", "--plot", str(home / "plots" / "by month.svg")]
    words = command(make("docker-stats", f"DATA_DIR={data}", "PLOT=~/plots/by month.svg"), "docker")
    assert options(words, "-v") == [f"{data}:/data", "$tmp:/out"] and inner(words)["PLOT"] == "/out/by month.svg"
    for stage in ("embed", "eval", "people", "train", "chat"):
        host = command(make(stage, f"DATA_DIR={data}"), "talklike")
        assert host[1] == stage and options(host, "--data") == [str(data)]
        words = command(make(f"docker-{stage}", f"DATA_DIR={data}"), "docker")
        assert options(words, "-v") == [f"{data}:/data"] and words[words.index("make") + 1:][0] == stage


def recipe_targets() -> set[str]:
    """The Makefile's own targets that have a recipe, from make's database."""
    res = subprocess.run(["make", "-pRrq", "-f", "Makefile", "__nothing__"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    targets, current = set(), None
    for line in res.stdout.splitlines():
        m = re.match(r"^([^\s#:=][^:=]*):(?!=)", line)
        if m:
            current = m.group(1).strip()
        elif line.startswith("#  recipe to execute (from 'Makefile'") and current:
            targets.add(current)
    return {t for t in targets if not t.startswith(("$", ".")) and "/" not in t}


def test_help_lists_every_target_with_a_recipe():
    out = make("help", dry=False)
    listed = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines() if line.strip()}
    targets = recipe_targets()
    assert {"help", "ingest", "embed", "stats", "eval", "serve", "docker-serve", "docker-embed",
            "docker-stats", "docker-eval", "bench-%"} <= targets
    assert targets - {"all"} <= set(listed), targets - set(listed)  # all: lint and test, the default
    assert "setup" in listed  # no recipe of its own (the venv's stamp file has it), yet the one-command path
    assert all(len(desc) > 3 for desc in listed.values())
