"""The ``talklike`` command. Each command is a typed signature, its help, and one call into the library."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

import typer

from bot.ui import console, err, handle_errors, internal_error, table
from ingest.workspace import Workspace

app = typer.Typer(
    name="talklike",
    help="Turn your own chat history into a bot that talks like you, or like one of your friends.\n\n"
    "Everything stays on this machine: nothing is sent anywhere.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="Workspace folder [default: ./data, or $TALKLIKE_DATA]", show_default=False)]
AsOpt = Annotated[str, typer.Option(
    "--as", help="Whose replies: 'me', or a friend's display name (case-insensitive; a unique prefix is enough)")]
SessionGapOpt = Annotated[float, typer.Option(
    "--session-gap", help="Hours of silence that start a new conversation session", min=0.0)]


def _workspace(data: Path | None) -> Workspace:
    return Workspace(data)


# ---------------------------------------------------------------------------------------------- ingest
@app.command()
@handle_errors
def ingest(
    sources: Annotated[list[Path], typer.Argument(help="Export folders, .zip files or export files")],
    me: Annotated[list[str] | None, typer.Option(
        "--me", help="Your name as the export shows it (repeatable: one per platform). Inferred when absent.")] = None,
    platform: Annotated[str, typer.Option(help="Platform of the exports, or 'auto' to detect it")] = "auto",
    data: DataOpt = None,
) -> None:
    """Read chat exports into the workspace's message table, and account for every message."""
    from ingest.pipeline import ingest as run_ingest

    ws = _workspace(data)
    with console.status("reading the exports") as status:
        result = run_ingest(list(sources), workspace=ws, me=me or [], platform=platform,
                            progress=lambda step: status.update(step))
    reasons = sorted({r for s in result.sources for r in s.skipped})
    bad = [line for s in result.sources for line in s.bad_files]  # damaged files set aside, the rest was read
    for line in bad:
        err.print(f"warning: file set aside: {line}", markup=False, soft_wrap=True)
    table("Ingested", ["source", "platform", "threads", "read", "kept", *[f"skipped: {r}" for r in reasons],
                       *(["bad files"] if bad else [])],
          ([s.source, s.platform, s.threads, s.read, s.kept, *[s.skipped.get(r, 0) for r in reasons],
            *([len(s.bad_files)] if bad else [])] for s in result.sources),
          caption=f"workspace {ws.root}: {result.threads:,} threads, {result.messages:,} messages "
          f"({result.added:,} new)")
    for name, choice in result.me_by_platform.items():
        console.print(choice.describe(name), markup=False)


# ----------------------------------------------------------------------------------------------- train
@app.command()
@handle_errors
def train(
    as_: AsOpt = "me",
    epochs: Annotated[int, typer.Option(help="At most this many passes over the pairs", min=1)] = 30,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes", min=0.0)] = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per training step", min=1)] = 64,
    session_gap: SessionGapOpt = 3.0,
    data: DataOpt = None,
) -> None:
    """Train a bot that replies like the chosen person, and save it in the workspace."""
    from datetime import timedelta

    from bot.train import TrainOptions
    from bot.train import train as run_train
    from ingest.pairs import PairOptions

    opts = TrainOptions(epochs=epochs, minutes=minutes, batch_size=batch_size,
                        pairs=PairOptions(session_gap=timedelta(hours=session_gap)))
    r = run_train(_workspace(data), as_, opts)
    table("Trained", ["bot", "pairs (train / validation)", "vocabulary", "epochs", "minutes",
                      "validation perplexity", "target tokens/s"],
          [[r.person, f"{r.pairs_train:,} / {r.pairs_validation:,}", r.vocab_size, r.epochs, r.seconds / 60,
            r.val_perplexity, r.tokens_per_second]],
          caption=f"saved in {r.folder} (learning curves: learning_curves.png)")


# ------------------------------------------------------------------------------------------------ chat
@app.command()
@handle_errors
def chat(
    as_: AsOpt = "me",
    strategy: Annotated[str, typer.Option(help="Decoding strategy")] = "greedy",
    data: DataOpt = None,
) -> None:
    """Chat with a trained bot. With a pipe instead of a terminal: one reply per input line."""
    from bot.chat import chat_lines, interactive, load_person

    bot = load_person(_workspace(data), as_)
    if sys.stdin.isatty():
        interactive(bot, strategy=strategy)
    else:
        for reply in chat_lines(bot, sys.stdin, strategy=strategy):
            print(reply, flush=True)


# ------------------------------------------------------------------------------------------------ demo
@app.command()
@handle_errors
def demo(
    minutes: Annotated[float, typer.Option(help="Training time budget")] = 4.0,
    speaker: Annotated[str | None, typer.Option(
        help="chitchat-dataset speaker id [default: the one with the most conversations]")] = None,
    data: DataOpt = None,
) -> None:
    """The whole journey on a real corpus: render chitchat-dataset as a Facebook export, ingest, train, chat."""
    from bot.demo import run_demo

    run_demo(_workspace(data or Path("data/demo")), minutes=minutes, speaker=speaker)


# ----------------------------------------------------------------------------------------------- stats
@app.command()
@handle_errors
def stats(
    top: Annotated[int, typer.Option(help="Friends shown (and plotted), most messages first; 0 for all", min=0)] = 10,
    plot: Annotated[Path | None, typer.Option(help="Also draw messages per month for the top friends to this .png")]
    = None,
    data: DataOpt = None,
) -> None:
    """Per friend and platform: messages (theirs, mine to them), my share, date span, their top words."""
    from ingest.stats import StatsOptions, friend_stats, plot_monthly, totals

    messages = _workspace(data).messages()
    rows = friend_stats(messages, StatsOptions(top=top))
    if plot is not None:
        plot_monthly(messages, list(dict.fromkeys(rows["friend"])), plot)
    t = totals(messages)
    table("Friends", ["friend", "platform", "threads", "theirs", "mine", "my share", "first", "last", "top words"],
          ([r.friend, r.platform, r.threads, r.theirs, r.mine, f"{r.my_share:.0%}", f"{r.first:%Y-%m-%d}",
            f"{r.last:%Y-%m-%d}", r.top_words] for r in rows.itertuples()),
          caption=f"{t['messages']:,} messages ({t['mine']:,} mine) in {t['threads']:,} threads with "
          f"{t['people']:,} people on {', '.join(t['platforms'])}" + (f"; plot: {plot}" if plot else ""))


def main() -> None:
    """Entry point: private files, one-line errors, no tracebacks with chat text in them."""
    os.umask(0o077)
    try:
        app()
    except Exception as exc:  # anything the typed errors did not cover
        if os.environ.get("TALKLIKE_DEBUG"):
            raise
        sys.exit(internal_error(exc))
