"""Every bad value of every command exits 2 (click's usage error) before any work: no model loaded, no
TensorFlow imported, and nothing written. Each case runs the real command line in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# the command line, run as `talklike ...`; at exit it says on stderr whether TensorFlow (or Keras) was imported
RUN = """
import atexit, sys
def loaded():
    heavy = sorted(m for m in ("tensorflow", "keras", "torch", "jax", "gensim") if m in sys.modules)
    sys.stderr.write(f"\\nHEAVY-IMPORTS: {','.join(heavy)}\\n")
atexit.register(loaded)
sys.argv = ["talklike", *sys.argv[1:]]
from bot.cli import main
main()
"""

BAD = {  # command line -> the option the usage error must name
    "ingest --platform myspace EXPORT": "--platform",
    "ingest --tz Mars/Olympus_Mons EXPORT": "--tz",
    "ingest": "SOURCES",
    "people --top -1": "--top",
    "train --vocabulary letters": "--vocabulary",
    "train --base NOWHERE": "--base",
    "train --encoder NOWHERE": "--encoder",
    "train --epochs 0": "--epochs",
    "train --minutes -1": "--minutes",
    "train --batch-size 0": "--batch-size",
    "train --match-context -1": "--match-context",
    "train --attachments keep": "--attachments",
    "train --links sometimes": "--links",
    "train --since yesterday": "--since",
    "train --session-gap -3": "--session-gap",
    "pretrain --epochs 0": "--epochs",
    "pretrain --minutes -2": "--minutes",
    "chat --strategy foo": "--strategy",
    "chat --top-p 2": "--top-p",
    "chat --temperature -1": "--temperature",
    "chat --beam-width 0": "--beam-width",
    "serve --strategy foo": "--strategy",
    "serve --port 70000": "--port",
    "eval --strategy foo": "--strategy",
    "eval --baselines retrieval,bogus": "--baselines",
    "eval --seed -1": "--seed",
    "eval --reference-minutes -1": "--reference-minutes",
    "demo --minutes -1": "--minutes",
    "embed --algo glove": "--algo",
    "embed --dim 1": "--dim",
    "embed --epochs 0": "--epochs",
    "embed --min-count 0": "--min-count",
    "similar --top 0 lol": "--top",
    "similar": "WORD",
    "export --format xml --out x.xml": "--format",
    "export": "--out",
    "export --out x.jsonl --min-words 0": "--min-words",
    "stats --top -1": "--top",
    "train --data FILE": "--data",
    "frobnicate": "frobnicate",
}


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    root = tmp_path_factory.mktemp("choices")
    (root / "a-file").write_text("not a folder")
    return root


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TALKLIKE_DEBUG", "TALKLIKE_DATA")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-c", RUN, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("line", list(BAD))
def test_a_bad_value_exits_2_before_any_work(places, line):
    args = [{"EXPORT": str(places / "export"), "NOWHERE": str(places / "nowhere"),
             "FILE": str(places / "a-file")}.get(a, a) for a in line.split()]
    data = [] if "--data" in args or args[0] in ("pretrain", "frobnicate") else ["--data", str(places / "ws")]
    res = run(args + data, places)
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    assert BAD[line] in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert "HEAVY-IMPORTS: \n" in res.stderr, res.stderr  # nothing heavy was imported: no model was loaded
    assert not (places / "ws").exists() and not (places / "x.jsonl").exists()  # and nothing was written


def test_the_choices_come_from_the_registries():
    from bot.cli import options
    from bot.decoding import STRATEGIES
    from bot.eval.report import BASELINES
    from bot.vocab import VOCABULARIES
    from embeddings.vectors import ALGORITHMS
    from ingest.adapters import ADAPTERS
    from ingest.export import FORMATS

    assert [p.value for p in options.Platform] == ["auto", *ADAPTERS]
    assert [s.value for s in options.Strategy] == list(STRATEGIES)
    assert [f.value for f in options.ExportFormat] == list(FORMATS)
    assert [a.value for a in options.Algo] == list(ALGORITHMS)
    assert [v.value for v in options.Vocab] == list(VOCABULARIES)
    assert options.BASELINES == BASELINES  # copied: bot.eval cannot be imported without TensorFlow
