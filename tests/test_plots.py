"""The figures (stats' messages per month, a bot's learning curves): the format from the suffix, whole-number
ticks where counts and epochs are plotted, one colour per friend for many friends, names with emoji drawn
without boxes or warnings, and a bad suffix as a one-line usage error."""

from __future__ import annotations

import os
import stat
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.plots import learning_curves
from ingest import plots, schema
from ingest.errors import EXIT_USAGE, OptionError
from ingest.stats import plot_monthly

DAY = 86_400_000
T0 = 1_577_836_800_000  # 2020-01-01 UTC
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def _table(rows) -> pd.DataFrame:
    """rows: (sender, day, text), one thread per sender, "Me" answering in it."""
    out = []
    for i, (sender, day, text) in enumerate(rows):
        out.append({"platform": "slack", "source": "x", "thread_id": f"slack:{sender}", "sender": sender,
                    "is_me": False, "timestamp": T0 + day * DAY + 2 * i, "text": text})
        out.append({"platform": "slack", "source": "x", "thread_id": f"slack:{sender}", "sender": "Me",
                    "is_me": True, "timestamp": T0 + day * DAY + 2 * i + 1, "text": "ok"})
    return schema.conform(out)


@pytest.fixture
def captured(monkeypatch):
    """The figures handed to ``ingest.plots.save``, drawn, before they are written and closed."""
    figures = []
    real = plots.save

    def keep(fig, path):
        fig.canvas.draw()
        figures.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "save", keep)
    return figures


def _tick_texts(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_the_format_follows_the_suffix(tmp_path, suffix):
    table = _table([("Kim", 0, "hi"), ("Kim", 40, "hey"), ("Ana", 3, "yo")])
    path = plot_monthly(table, ["Kim", "Ana"], tmp_path / f"plot.{suffix.upper() if suffix == 'pdf' else suffix}")
    head = path.read_bytes()[:200]
    if suffix == "svg":
        assert head.startswith(b"<?xml") and b"<svg" in path.read_bytes()
    else:
        assert head.startswith(MAGIC[suffix])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    curves = learning_curves(tmp_path / f"curves.{suffix}", {"loss": [3.0, 2.5], "val_loss": [3.1, 2.9]})
    assert curves.read_bytes()[:200].startswith(b"<?xml" if suffix == "svg" else MAGIC[suffix])


@pytest.mark.parametrize("name", ["plot.jpg", "plot", "plot.png.txt"])
def test_another_suffix_is_a_usage_error_and_writes_nothing(tmp_path, name):
    table = _table([("Kim", 0, "hi")])
    with pytest.raises(OptionError) as err:
        plot_monthly(table, ["Kim"], tmp_path / name)
    assert err.value.exit_code == EXIT_USAGE == 2
    assert ".png, .svg or .pdf" in err.value.one_line() and "\n" not in err.value.one_line()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OptionError):
        learning_curves(tmp_path / name, {"loss": [1.0]})


def test_the_stats_command_rejects_a_bad_suffix_in_one_line(tmp_path):
    from ingest.workspace import Workspace

    ws = Workspace(tmp_path / "d")
    ws.save_messages(_table([("Kim", 0, "hi")]))
    res = CliRunner().invoke(app, ["stats", "--data", str(ws.root), "--plot", str(tmp_path / "p.gif")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert ".png, .svg or .pdf" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "p.gif").exists()


@pytest.mark.parametrize("days", [[0, 1, 2], list(range(0, 400, 30))], ids=["bars", "lines"])
def test_counts_have_whole_number_ticks(tmp_path, captured, days):
    # at most 3 messages a month: the default locator would tick 0.5, 1.5, 2.5 (shown rounded as "2")
    rows = [("Kim", d, "hi") for d in days[:1]] + [("Ana", d, "yo") for d in days]
    plot_monthly(_table(rows), ["Kim", "Ana"], tmp_path / "p.png")
    ax = captured[-1].axes[0]
    assert all(float(v).is_integer() for v in ax.get_yticks())
    labels = _tick_texts(ax.yaxis)
    assert labels and all(t.replace(",", "").isdigit() for t in labels)
    assert len(labels) == len(set(labels))  # no "2" twice


def test_learning_curves_tick_whole_epochs(tmp_path, captured):
    learning_curves(tmp_path / "c.png", {"loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.6, 2.4]},
                    {"loss": [5.0, 4.0], "val_loss": [5.1, 4.4]})
    ax = captured[-1].axes[0]
    assert [t for t in _tick_texts(ax.xaxis)] and all(t.isdigit() for t in _tick_texts(ax.xaxis))
    assert len(ax.get_lines()) == 4


@pytest.mark.parametrize("months", [3, 14], ids=["bars", "lines"])
def test_25_friends_get_25_colours(tmp_path, captured, months):
    friends = [f"Friend {i:02d}" for i in range(25)]
    rows = [(f, 31 * m, "hi") for f in friends for m in range(months)]
    plot_monthly(_table(rows), friends, tmp_path / "p.png")
    ax = captured[-1].axes[0]
    handles, labels = ax.get_legend_handles_labels()
    assert len(labels) == 25
    colours = {tuple(h.get_color()) if months > 6 else tuple(h.patches[0].get_facecolor()) for h in handles}
    assert len(colours) == 25


def test_palette_is_distinct_at_any_size():
    for n in (1, 10, 11, 20, 25, 60, 61, 150):
        colours = plots.palette(n)
        assert len(colours) == n and len(set(colours)) == n


def test_names_with_emoji_draw_without_warnings_or_boxes(tmp_path, captured, capfd, recwarn):
    friends = ["Kim 🌸", "🎉🎉", "Zoë ❤️", "$ally $mith", "Ana\u200d👩‍💻"]
    rows = [(f, d, "hi 😀") for f in friends for d in (0, 35)]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # a warning shown once per process elsewhere must show here too
        for suffix in ("png", "svg", "pdf"):
            plot_monthly(_table(rows), friends, tmp_path / f"p.{suffix}")
    assert [str(w.message) for w in recwarn] == []
    assert capfd.readouterr().err == ""
    labels = captured[-1].axes[0].get_legend_handles_labels()[1]
    assert labels[0] == "Kim (4)" and labels[3] == r"\$ally \$mith (4)"
    assert labels[1] == "party popper party popper (4)"  # a name of emoji only keeps its words
    assert plots.drawable("Zoë ❤️") == "Zoë ❤"  # DejaVu Sans has a (plain) heart
    assert plots.drawable("Ana\u200d👩‍💻") == "Ana"


def test_drawable_keeps_what_the_font_has():
    assert plots.drawable("Ana Lima") == "Ana Lima"
    assert plots.drawable("Jürgen Øster-Łukasz") == "Jürgen Øster-Łukasz"
    assert plots.drawable("Kim  🌸  Lee") == "Kim Lee"
    assert plots.drawable("") == ""
