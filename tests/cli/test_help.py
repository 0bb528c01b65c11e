"""Every command has help, with -h as well as --help: the choices listed (from the registries), readable
metavars (no Python types such as <list[Path]>, <str>, <bool>), and flags shown as flags."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app, options
from bot.decoding import STRATEGIES
from embeddings.vectors import ALGORITHMS
from ingest.adapters import ADAPTERS
from ingest.export import FORMATS

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner(env={"COLUMNS": "400", "TERM": "dumb"})
COMMANDS = sorted(typer.main.get_command(app).commands)
PYTHON_TYPES = re.compile(r"<(list|str|bool|int|float|path|file|dir|datetime)\b")

CHOICES = {  # command -> (option, the values its help must list)
    "ingest": ("--platform", ["auto", *ADAPTERS]),
    "chat": ("--strategy", list(STRATEGIES)),
    "eval": ("--strategy", list(STRATEGIES)),
    "export": ("--format", list(FORMATS)),
    "embed": ("--algo", list(ALGORITHMS)),
    "train": ("--vocabulary", ["bpe", "words"]),
}


def help_text(*args: str) -> str:
    res = runner.invoke(app, [*args])
    assert res.exit_code == 0, res.output
    return res.output


def option_row(text: str, option: str) -> str:
    return next(line for line in text.splitlines() if re.search(rf"│ +{re.escape(option)}\b", line))


def test_every_command_is_listed_with_its_one_line_help():
    text = help_text("--help")
    assert text == help_text("-h")
    for name in COMMANDS:
        assert re.search(rf"│ {name} +\S", text), name
    assert "--version" in text


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_s_help_has_readable_metavars(name):
    text = help_text(name, "--help")
    assert text == help_text(name, "-h")
    assert not PYTHON_TYPES.search(text), PYTHON_TYPES.search(text).group(0)
    assert "Usage: talklike " + name in text
    if "--data" in text:
        assert re.search(r"--data +(DIR|PATH)\b", text)
    for flag in ("--resume", "--json", "--redact", "--only-mine", "--help"):  # flags take no value
        if re.search(rf"│ +{flag}\b", text):
            row = option_row(text, flag)
            assert not re.search(rf"{flag} +(-h +)?[A-Z\[<]{{2,}}", row), row


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_the_choices_are_listed(name):
    option, values = CHOICES[name]
    row = option_row(help_text(name, "--help"), option)
    assert "[" + "|".join(values) + "]" in row, row


def test_the_baselines_are_named_in_eval_s_help():
    text = " ".join(help_text("eval", "--help").replace("│", " ").split())
    assert all(name in text for name in (*options.BASELINES, "all", "none"))


def test_demo_s_help_says_the_workspace_it_uses():
    text = " ".join(help_text("demo", "--help").replace("│", " ").split())
    assert "[default: data/demo]" in text


def test_minus_h_and_version_in_a_real_process():
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120")
    res = subprocess.run([sys.executable, "-m", "bot.cli", "train", "-h"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "train [OPTIONS]" in res.stdout and not res.stderr, res.stderr
    res = subprocess.run([sys.executable, "-m", "bot.cli", "--version"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == f"talklike {version('talklike')}", res.stdout
