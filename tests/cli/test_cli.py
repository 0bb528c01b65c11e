"""The CLI contract: ingest summary, non-interactive chat, and one-line errors with exit codes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.train import TrainOptions, train
from ingest.errors import EXIT_DISK, EXIT_UNKNOWN_PERSON, EXIT_WORKSPACE
from tests.conftest import ME, PATTERNS, TINY_MODEL, conversation_export

runner = CliRunner()


def test_ingest_prints_the_accounting(tmp_path):
    conversation_export(tmp_path / "export")
    res = runner.invoke(app, ["ingest", str(tmp_path / "export"), "--data", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "Ingested" in res.output and "72" in res.output  # 2 friends x 12 rounds x 3 messages
    assert f"me: {ME} (inferred" in res.output
    mode = stat.S_IMODE(os.stat(tmp_path / "d" / "messages.parquet").st_mode)
    assert mode == 0o600


def test_unknown_person_is_one_line_with_closest_names(convo_workspace):
    res = runner.invoke(app, ["train", "--as", "Kym Lee", "--data", str(convo_workspace.root)])
    assert res.exit_code == EXIT_UNKNOWN_PERSON
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Kym Lee" in lines[0] and "Kim Lee" in lines[0]
    assert "Traceback" not in res.output


def test_chat_before_train_and_before_ingest(tmp_path, convo_workspace):
    res = runner.invoke(app, ["chat", "--as", "me", "--data", str(convo_workspace.root)], input="hi\n")
    assert res.exit_code == EXIT_WORKSPACE and "talklike train --as me" in res.output
    res = runner.invoke(app, ["chat", "--as", "me", "--data", str(tmp_path / "empty")], input="hi\n")
    assert res.exit_code == EXIT_WORKSPACE and "talklike ingest" in res.output


def test_as_accepts_case_insensitive_unique_prefix(convo_workspace):
    from ingest.people import resolve_person

    table = convo_workspace.messages()
    assert resolve_person(table, "kim") == "Kim Lee"
    assert resolve_person(table, "ANA B") == "Ana Beatriz"
    assert resolve_person(table, "Me") == "me"


@pytest.mark.slow
def test_chat_reads_lines_and_prints_one_reply_each(convo_workspace):
    train(convo_workspace, "me", TrainOptions(epochs=60, batch_size=8, learning_rate=2e-2, validation_share=0.0,
                                              min_count=1, model=TINY_MODEL))
    prompts = [p for p, _ in PATTERNS]
    res = runner.invoke(app, ["chat", "--as", "me", "--strategy", "greedy", "--data", str(convo_workspace.root)],
                        input="\n".join(prompts) + "\n\n")
    assert res.exit_code == 0, res.output
    assert res.output.split("\n")[:-1] == [r for _, r in PATTERNS] + [""]
    # the default quotes the person's own replies; sampling, hot enough, gives the same lines other replies, and
    # --seed makes them repeatable
    res = runner.invoke(app, ["chat", "--as", "me", "--data", str(convo_workspace.root)], input="\n".join(prompts) + "\n")
    assert res.exit_code == 0 and res.output.splitlines() == [r for _, r in PATTERNS], res.output
    hot = ["chat", "--as", "me", "--strategy", "sample", "--temperature", "5", "--top-p", "1", "--data",
           str(convo_workspace.root)]
    runs = [runner.invoke(app, hot + extra, input="\n".join(prompts * 3) + "\n").output
            for extra in (["--seed", "1"], ["--seed", "1"], ["--seed", "2"])]
    assert len(runs[0].splitlines()) == 3 * len(prompts)
    assert runs[0] == runs[1] != runs[2]


@pytest.mark.parametrize("command", ["chat", "eval"])
@pytest.mark.parametrize("option", [
    ["--seed", "-1"], ["--top-p", "0"], ["--top-p", "1.01"], ["--temperature", "1e30"], ["--temperature", "nan"],
    ["--temperature", "-0.5"], ["--repetition-penalty", "0.5"], ["--repetition-penalty", "1e308"],
    ["--length-penalty", "-1e4"], ["--length-penalty", "inf"], ["--beam-width", "0"], ["--top-k", "-1"],
    ["--no-repeat-ngram", "-1"], ["--mmi-lambda", "1e300"],
])
def test_a_decoding_option_out_of_range_exits_2_before_any_work(tmp_path, command, option):
    # the workspace does not exist: loading anything would give exit 4
    res = runner.invoke(app, [command, "--data", str(tmp_path / "none"), *option], input="hi\n")
    assert res.exit_code == 2, res.output
    assert option[0] in res.output and "out of range" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("option", [["--temperature", "0"], ["--top-p", "1"], ["--seed", "0"], ["--beam-width", "100"],
                                    ["--length-penalty", "-10"]])
def test_the_ends_of_a_decoding_option_s_range_are_accepted(tmp_path, option):
    res = runner.invoke(app, ["chat", "--data", str(tmp_path / "none"), *option], input="hi\n")
    assert res.exit_code == EXIT_WORKSPACE, res.output  # past the options: the empty workspace is the problem


@pytest.mark.parametrize("args", [
    ["--blind", "sheet.key.csv"],  # would overwrite the answer key
    ["--pairs", "missing.jsonl"],
])  # (an unknown --baselines is a usage error like every bad choice: tests/cli/test_choices.py)
def test_a_bad_eval_option_exits_2_before_any_work(tmp_path, args):
    args = [str(tmp_path / a) if a.endswith((".csv", ".jsonl")) else a for a in args]
    res = runner.invoke(app, ["eval", "--data", str(tmp_path / "none"), *args])
    assert res.exit_code == 2, res.output
    assert len([ln for ln in res.output.splitlines() if ln.strip()]) == 1 and "Traceback" not in res.output


def test_chat_reads_bytes_that_are_not_utf8_as_replacement_characters():
    from bot.chat import chat_lines, readable

    class Echo:
        def reply(self, text, strategy=None, **options):
            return f"[{text}]"

    lines = [b"caf\xe9 ok\n".decode("utf-8", "surrogateescape"), "lone \ud800 surrogate\n", "fine\n"]
    assert list(chat_lines(Echo(), lines)) == ["[caf\ufffd ok]", "[lone \ufffd surrogate]", "[fine]"]
    assert readable("plain text") == "plain text"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_under_the_output_is_exit_6_and_one_line(convo_workspace):
    with open("/dev/full", "w") as full:
        res = subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", "people", "--data",
                              str(convo_workspace.root)], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert res.returncode == EXIT_DISK, res.stderr
    assert [ln for ln in res.stderr.splitlines() if ln.strip()] == \
        ["error: the output: the disk is full. free some space and run the command again"]
