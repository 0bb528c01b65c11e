"""`talklike eval --pairs`: every format `talklike export` writes is read back, and evaluating on pairs the bot
trained on says so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.eval.run import overlap_warning, read_pairs_file, training_overlap
from ingest.errors import EXIT_USAGE, OptionError
from ingest.export import FORMATS, export, export_table
from ingest.pairs import PairOptions, build_pairs
from ingest.pipeline import ingest
from tests.conftest import ME, TINY_MODEL, conversation_export

runner = CliRunner()


@pytest.fixture
def table(convo_workspace):
    return export_table(build_pairs(convo_workspace.messages(), "me", PairOptions(context_turns=1)))


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "hf"])
def test_every_export_format_is_read_back(convo_workspace, tmp_path, table, fmt):
    out = tmp_path / f"pairs{FORMATS[fmt].suffix}"
    export(convo_workspace, "me", out, pairs=PairOptions(context_turns=1))
    pairs = read_pairs_file(out)
    if fmt == "npy":  # a dict: one reply per prompt
        assert dict(zip(pairs["prompt"], pairs["reply"], strict=True)) == dict(
            zip(table["prompt"], table["reply"], strict=True))
        return
    assert pairs["prompt"].tolist() == table["prompt"].tolist()
    assert pairs["reply"].tolist() == table["reply"].tolist()
    if fmt in ("jsonl", "csv", "parquet", "chat-jsonl"):
        assert pairs["context"].tolist() == table["context"].tolist()
    if fmt in ("jsonl", "csv", "parquet"):  # what the overlap check matches on
        assert pd.to_datetime(pairs["reply_time"], utc=True).tolist() == table["reply_time"].tolist()


def test_alternating_chats_and_split_folders_are_read_back(convo_workspace, tmp_path, table):
    export(convo_workspace, "me", tmp_path / "alt.chat.jsonl", pairs=PairOptions(context_turns=1), alternate=True)
    pairs = read_pairs_file(tmp_path / "alt.chat.jsonl")
    assert pairs["reply"].tolist() == table["reply"].tolist()
    result = export(convo_workspace, "me", tmp_path / "folder")
    pairs = read_pairs_file(tmp_path / "folder")
    assert len(pairs) == result.splits["test"] > 0  # a split folder: its test split


def test_unreadable_pairs_are_usage_errors_without_their_text(tmp_path):
    bad = tmp_path / "p.parquet"
    bad.write_text("secret words, not parquet")
    with pytest.raises(OptionError) as caught:
        read_pairs_file(bad)
    assert caught.value.exit_code == EXIT_USAGE and "secret" not in caught.value.one_line()
    chat = tmp_path / "c.chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "secret"}]}) + "\n")
    with pytest.raises(OptionError, match=r"c\.chat\.jsonl:1") as caught:
        read_pairs_file(chat)
    assert "secret" not in caught.value.one_line()
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptionError, match="no data/train"):
        read_pairs_file(tmp_path / "empty")


def test_overlap_by_times_or_by_unambiguous_text():
    t = pd.to_datetime(["2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"], utc=True)
    train = pd.DataFrame({"prompt": ["hi", "ok", "a"], "reply": ["yo", "ok", "b"], "prompt_time": t, "reply_time": t})
    held = pd.DataFrame({"prompt": ["OK "], "reply": ["ok"]})
    timed = pd.DataFrame({"prompt": ["x", "y"], "reply": ["x", "y"], "prompt_time": [t[0].isoformat(), "2021-01-01"],
                          "reply_time": [t[0].isoformat(), "2021-01-01"]})
    assert training_overlap(timed, train, held) == 1  # by times: the texts do not matter
    texts = pd.DataFrame({"prompt": ["Hi", "ok", "c"], "reply": ["yo ", "ok", "d"]})
    assert training_overlap(texts, train, held) == 1  # "ok"/"ok" is in held-out conversations too: not counted
    assert overlap_warning(1, 3) == "1 of 3 pairs were in the bot's training data: figures are optimistic"
    assert overlap_warning(0, 3) is None


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny bot of me, and its exported split folder."""
    from bot.train import TrainOptions, train
    from ingest.workspace import Workspace

    root = tmp_path_factory.mktemp("evalpairs")
    conversation_export(root / "export", rounds=20)
    ws = Workspace(root / "data")
    ingest([root / "export"], workspace=ws, me=[ME])
    train(ws, "me", TrainOptions(epochs=1, batch_size=8, min_count=1, model=TINY_MODEL, tensorboard=False, base=None,
                                 match=False, quotes=False, validation_share=0.4))
    export(ws, "me", root / "split")
    export(ws, "me", root / "p.jsonl", split=True)
    return ws, root


@pytest.mark.slow
@pytest.mark.parametrize(("name", "warned"), [("split/data/train.parquet", True), ("p.train.jsonl", True),
                                              ("split", False), ("p.test.jsonl", False)])
def test_eval_warns_when_the_pairs_were_training_pairs(trained, name, warned):
    ws, root = trained
    n = len(read_pairs_file(root / name))
    res = runner.invoke(app, ["eval", "--as", "me", "--pairs", str(root / name), "--baselines", "none", "--json",
                              "--data", str(ws.root)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    line = f"warning: {n:,} of {n:,} pairs were in the bot's training data: figures are optimistic"
    assert (line in res.stderr) == warned and report["pairs"] == n
    assert ("figures are optimistic" in " ".join(report["warnings"])) == warned
    assert np.isfinite(report["systems"]["seq2seq"]["perplexity"])
