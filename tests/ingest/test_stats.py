"""talklike stats: counts per friend and platform, my share by the addressing rule, spans, top words, the plot."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from ingest import schema
from ingest.errors import WorkspaceError
from ingest.stats import StatsOptions, addressed, friend_stats, monthly, plot_monthly

DAY = 86_400_000
T0 = 1_577_836_800_000  # 2020-01-01 UTC


def _table(rows) -> pd.DataFrame:
    """rows: (platform, thread, sender, day, text); "Me" is me."""
    return schema.conform([{"platform": p, "source": "x", "thread_id": f"{p}:{t}", "sender": s,
                            "is_me": s == "Me", "timestamp": T0 + d * DAY + i, "text": x}
                           for i, (p, t, s, d, x) in enumerate(rows)])


@pytest.fixture
def table():
    return _table([
        ("facebook", "kim", "Kim", 0, "pizza tonight? pizza!"),
        ("facebook", "kim", "Me", 0, "yes pizza"),
        ("facebook", "kim", "Kim", 40, "the pizza was great"),
        ("whatsapp", "kim", "Kim", 70, "surf at dawn"),
        ("whatsapp", "kim", "Me", 71, "ok"),
        ("whatsapp", "kim", "Me", 71, "see you"),
        # a group: my first message answers Ana, my second answers Kim
        ("facebook", "crew", "Ana", 5, "climbing on saturday, climbing is the best"),
        ("facebook", "crew", "Me", 5, "count me in"),
        ("facebook", "crew", "Kim", 6, "me too"),
        ("facebook", "crew", "Me", 6, "great"),
        ("facebook", "crew", "Me", 7, "and you?"),
    ])


def test_counts_share_and_span_per_friend_and_platform(table):
    s = friend_stats(table).set_index(["friend", "platform"])
    assert list(s.index) == [("Kim", "facebook"), ("Kim", "whatsapp"), ("Ana", "facebook")]  # most messages first
    kim_fb = s.loc[("Kim", "facebook")]
    assert (kim_fb.threads, kim_fb.theirs, kim_fb.mine) == (2, 3, 3)  # "yes pizza", "great", "and you?"
    assert kim_fb.my_share == pytest.approx(0.5)
    assert (s.loc[("Kim", "whatsapp"), "theirs"], s.loc[("Kim", "whatsapp"), "mine"]) == (1, 2)
    assert (s.loc[("Ana", "facebook"), "theirs"], s.loc[("Ana", "facebook"), "mine"]) == (1, 1)
    assert str(kim_fb["first"].date()) == "2020-01-01" and str(kim_fb["last"].date()) == "2020-02-10"


def test_my_messages_are_addressed_to_the_last_other_writer(table):
    t = addressed(table)
    mine = t[t["is_me"]]
    assert list(mine["to"]) == ["Ana", "Kim", "Kim", "Kim", "Kim", "Kim"]
    assert t.loc[~t["is_me"], "to"].isna().all()


def test_top_words_skip_stopwords_punctuation_and_the_corpus_own():
    rows = [("slack", "c", who, 0, f"{word} the lol lol, {word} {word}") for who, word in
            [("Ana", "sailing"), ("Bo", "chess"), ("Cy", "jazz"), ("Di", "tea")]]
    s = friend_stats(_table(rows)).set_index("friend")
    assert s.loc["Ana", "top_words"] == "sailing"  # "the" is a stopword; "lol" is used by everyone here
    s = friend_stats(_table(rows), StatsOptions(corpus_stop_min_people=99)).set_index("friend")
    assert s.loc["Ana", "top_words"] == "sailing lol"
    assert friend_stats(_table(rows), StatsOptions(top=2))["friend"].nunique() == 2


def test_an_empty_workspace_is_a_clear_error():
    with pytest.raises(WorkspaceError):
        friend_stats(schema.empty())


def test_monthly_counts_and_the_plot(table, tmp_path):
    m = monthly(table, ["Kim", "Ana"])
    assert [str(p) for p in m.index] == ["2020-01", "2020-02", "2020-03"]
    assert m["Kim"].tolist() == [5, 1, 3] and m["Ana"].tolist() == [2, 0, 0]
    assert int(m.to_numpy().sum()) == len(table)  # every message in the plot belongs to one friend here
    png = plot_monthly(table, ["Kim", "Ana"], tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stat.S_IMODE(os.stat(png).st_mode) == 0o600


def test_stats_command(table, tmp_path):
    from ingest.workspace import Workspace

    ws = Workspace(tmp_path / "d")
    ws.save_messages(table)
    res = CliRunner().invoke(app, ["stats", "--data", str(ws.root), "--top", "1", "--plot", str(tmp_path / "p.png")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Kim" in res.output and "Ana" not in res.output.split("Friends")[1].split("messages (")[0]
    assert (tmp_path / "p.png").exists()
    res = CliRunner().invoke(app, ["stats", "--data", str(tmp_path / "nothing")])
    assert res.exit_code == 4 and "talklike ingest" in res.output
