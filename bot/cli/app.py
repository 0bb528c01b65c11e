"""The ``talklike`` command. Each command is a typed signature, its help, and one call into the library."""
# ruff: noqa: E402 (the interrupt handling is installed before the imports it covers)

from __future__ import annotations

from bot import interrupts  # isort: skip

interrupts.install()  # first of all: a Ctrl-C during the imports below (seconds of them) is "interrupted" too

import errno
import math
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.cli import options as choices
from bot.cli.options import Algo, ExportFormat, Platform, Strategy, Vocab, pair_options
from bot.cli.ui import (
    command,
    console,
    err,
    fail,
    handle_errors,
    internal_error,
    next_line,
    quiet_import_keras,
    table,
)
from bot.decoding import BOUNDS, DEFAULT_STRATEGY, NO_REPEAT_NGRAM
from ingest.pairs import PairOptions
from ingest.workspace import Workspace, disk_error

app = typer.Typer(
    name="talklike",
    help="Turn your own chat history into a bot that talks like you, or like one of your friends.\n\n"
    "Everything stays on this machine: nothing is sent anywhere.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=choices.Group,  # readable metavars for every command (options.readable)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("talklike")
        except PackageNotFoundError:
            number = "unknown (not installed: run `pip install .`)"
        console.print(f"talklike {number}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show talklike's version and exit")] = False,
) -> None:
    pass

DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="Workspace folder \\[default: ./data, or $TALKLIKE_DATA]", show_default=False, file_okay=False)]
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
    # readable=False: an unreadable source is the library's one-line error (exit 3), not click's usage box
    sources: Annotated[list[Path], typer.Argument(help="Export folders, .zip files or export files", readable=False)],
    me: Annotated[list[str] | None, typer.Option(
        "--me", help="Your name as the export shows it (repeatable: one per platform). Inferred when absent.")] = None,
    platform: Annotated[Platform, typer.Option(help="Platform of the exports, or 'auto' to detect it")]
    = Platform.auto,
    tz: Annotated[str | None, typer.Option(
        "--tz", callback=choices.time_zone, help="Time zone of the wall-clock times in WhatsApp, Facebook HTML and "
        "older Telegram exports (an IANA name such as Europe/Lisbon) \\[default: this machine's zone]",
        show_default=False)] = None,
    data: DataOpt = None,
) -> None:
    """Read chat exports into the workspace's message table, and account for every message."""
    from bot.cli.ui import steps
    from ingest.pipeline import ingest as run_ingest

    ws = _workspace(data)
    with steps("reading the exports") as step:
        result = run_ingest(list(sources), workspace=ws, me=me or [], platform=str(platform), tz=tz, progress=step)
    reasons = sorted({r for s in result.sources for r in s.skipped})
    bad = [line for s in result.sources for line in s.bad_files]  # damaged files set aside, the rest was read
    for line in bad:
        err.print(f"warning: file set aside: {line}", markup=False, soft_wrap=True)
    empty = [(s.source, f) for s in result.sources for f in s.empty_files]
    for source, member in empty[:10]:
        err.print(f"warning: {source}: '{member}' holds no messages", markup=False, soft_wrap=True)
    if len(empty) > 10:
        err.print(f"warning: {len(empty) - 10} more chat files hold no messages (report.json lists them)",
                  markup=False)
    table("Ingested", ["source", "platform", "threads", "read", "kept", *[f"skipped: {r}" for r in reasons],
                       *(["bad files"] if bad else []), *(["empty files"] if empty else [])],
          ([s.source, s.platform, s.threads, s.read, s.kept, *[s.skipped.get(r, 0) for r in reasons],
            *([len(s.bad_files)] if bad else []), *([len(s.empty_files)] if empty else [])]
           for s in result.sources),
          caption=f"workspace {ws.root}: {result.threads:,} threads, {result.messages:,} messages "
          f"({result.added:,} new)")
    for source, files in result.not_read.items():
        shown = ", ".join(f"'{f}'" for f in files[:3]) + (", ..." if len(files) > 3 else "")
        media = result.media_not_read.get(source, 0)
        console.print(f"{source}: {len(files):,} file{'s' if len(files) != 1 else ''} not read: {shown}"
                      + (f" (and {media:,} photos, videos and other media)" if media else ""),
                      markup=False, soft_wrap=True)
    for name, choice in result.me_by_platform.items():
        console.print(choice.describe(name), markup=False)
    for note in result.notes:
        console.print(note, markup=False)
    if result.failed:
        for exc in result.failed:
            err.print(f"error: {exc.one_line()}", markup=False, soft_wrap=True)
        err.print(f"the other sources were stored; fix {'these' if len(result.failed) > 1 else 'this one'} and "
                  "ingest it again (nothing is added twice)", markup=False)
        raise typer.Exit(result.failed[0].exit_code)
    console.print("next: " + ", ".join([command("people"), command("stats"), f"or {command('train', '--as', 'me')}"]),
                  markup=False, soft_wrap=True)


@app.command()
@handle_errors
def people(
    top: Annotated[int, typer.Option(help="People shown, most messages first; 0 for all", min=0)] = 25,
    data: DataOpt = None,
) -> None:
    """Who is who: you and each friend, with the other names and ids they appear under, and their counts."""
    from ingest.people import directory

    ws = _workspace(data)
    rows = directory(ws.messages())
    shown = rows if top == 0 else rows.head(top + 1)  # (me, then the top friends)
    table("People", ["name", "me", "also appears as", "platforms", "threads", "messages"],
          ([r.name, "me" if r.is_me else "", ", ".join(r.aliases[:4]) + (" ..." if len(r.aliases) > 4 else ""),
            ", ".join(r.platforms), r.threads, r.messages] for r in shown.itertuples()),
          caption=f"{len(rows):,} people in {ws.root}" + (f"; {len(rows) - len(shown):,} more: --top 0"
                                                           if len(rows) > len(shown) else ""))
    friend = next((r.name for r in rows.itertuples() if not r.is_me), None)
    next_line(command("train", "--as", "me"), *([command("train", "--as", friend)] if friend else []),
              note="wrong \"me\"? talklike ingest EXPORT --me NAME")


# ----------------------------------------------------------------------------------------------- train
@app.command()
@handle_errors
@pair_options
def train(
    as_: AsOpt = "me",
    epochs: Annotated[int, typer.Option(help="At most this many passes over the pairs", min=1)] = 30,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes", min=0.0)] = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per training step", min=1)] = 64,
    embeddings: Annotated[bool, typer.Option(
        "--embeddings", help="Start the word embeddings from your word vectors (run `talklike embed` first)")] = False,
    freeze: Annotated[bool, typer.Option(
        "--freeze", help="Keep those word vectors fixed while training (implies --embeddings)")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the last run from its latest checkpoint (weights, optimizer, epoch count)")] = False,
    match: Annotated[bool, typer.Option(
        help="Also train the reply matcher (15% of --minutes), which ranks replies by how well they fit a "
        "message (`talklike eval` reports it)")] = True,
    match_context: Annotated[int, typer.Option(
        "--match-context", min=0, help="Turns before the message the reply matcher also reads (0: the message "
        "alone; the seq2seq model reads --context)")] = 3,
    quotes: Annotated[bool, typer.Option(
        help="Index the person's own past replies, so the bot can answer with one when it fits (the hybrid "
        "strategy; a quote is a message they sent, word for word)")] = True,
    quote_exclude: Annotated[list[str] | None, typer.Option(
        "--quote-exclude", help="Never quote from threads with this friend (or the group of this title); "
        "repeatable", show_default=False)] = None,
    encoder: Annotated[Path | None, typer.Option(
        "--encoder", help="A local sentence-transformers model folder (BERT family) for the reply index "
        "\\[default: the packaged all-MiniLM-L6-v2]", show_default=False, file_okay=False, exists=True)] = None,
    base: Annotated[str, typer.Option(
        "--base", help="The pretrained base to start from: 'default' (the one shipped with talklike, learned from "
        "chitchat-dataset), a base folder (`talklike pretrain`), or 'none' to learn from your pairs alone",
        callback=choices.base)] = "default",
    vocabulary: Annotated[Vocab, typer.Option(
        help="Without a base: bpe (subwords, your case and bursts kept) or words (lower-cased words, as talklike "
        "did before)")] = Vocab.bpe,
    pairs: PairOptions = PairOptions(),
    data: DataOpt = None,
) -> None:
    """Train a bot that replies like the chosen person, and save it in the workspace."""
    from bot.cli.ui import progress_bar, resume_with, warn

    resume_with(command("train", "--as", as_, "--resume"))
    quiet_import_keras()
    from bot.train import TrainOptions
    from bot.train import train as run_train

    opts = TrainOptions(epochs=epochs, minutes=minutes, batch_size=batch_size, pairs=pairs,
                        embeddings=embeddings, freeze_embeddings=freeze, resume=resume, match=match,
                        match_context=match_context, quotes=quotes, quote_exclude=tuple(quote_exclude or ()),
                        encoder=str(encoder) if encoder else None, base=None if base == "none" else base,
                        vocabulary=str(vocabulary))
    with progress_bar(transient=False) as update:
        r = run_train(_workspace(data), as_, opts, progress=update, warn=warn)
    table("Trained", ["bot", "pairs (train / validation)", "vocabulary", "epochs", "minutes",
                      "validation perplexity", "target tokens/s"],
          [[r.person, f"{r.pairs_train:,} / {r.pairs_validation:,}", r.vocab_size, r.epochs, r.seconds / 60,
            r.val_perplexity, r.tokens_per_second]],
          caption=f"saved in {r.folder} (learning curves: learning_curves.png; checkpoints: checkpoints/"
          + ("; TensorBoard logs: logs/" if r.logs else "") + ")"
          + (f"; resumed from {r.resumed_at}" if r.resumed_at else "")
          + (f"; {r.index_replies:,} of your past replies indexed for quoting" if r.index_replies else "")
          + (f"; started from the base {r.base}" if r.base else "; no base"))
    who = "me" if r.person == "me" else r.person
    next_line(command("chat", "--as", who), command("eval", "--as", who))


# -------------------------------------------------------------------------------------------- pretrain
@app.command()
@handle_errors
def pretrain(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder of the base \\[default: the base shipped with talklike, bot/pretrained/chitchat]",
        show_default=False, file_okay=False)] = None,
    exclude_speaker: Annotated[list[str] | None, typer.Option(
        "--exclude-speaker", help="Leave out every conversation of this corpus speaker (repeatable) \\[default: "
        "the 3 most active speakers, kept for evaluation]", show_default=False)] = None,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes", min=0.0)] = None,
    epochs: Annotated[int, typer.Option(help="At most this many passes over the corpus", min=1)] = 12,
    batch_size: Annotated[int, typer.Option(help="Pairs per training step", min=1)] = 64,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted build from its latest checkpoint; it ends where an uninterrupted "
        "one would")] = False,
) -> None:
    """Build a pretrained base from chitchat-dataset (7,168 conversations, 1,315 speakers), with a learned vector
    per speaker; bots start from it and are fine-tuned on one person's pairs (`talklike train --base`)."""
    from bot.cli.ui import progress_bar, resume_with

    resume_with(command("pretrain", "--resume", *(["--out", out] if out else [])))
    quiet_import_keras()
    from bot.base import DEFAULT_BASE, EVALUATION_SPEAKERS, PretrainOptions
    from bot.base import pretrain as run_pretrain

    opts = PretrainOptions(minutes=minutes, epochs=epochs, batch_size=batch_size, resume=resume,
                           exclude_speakers=tuple(exclude_speaker) if exclude_speaker else EVALUATION_SPEAKERS)
    with progress_bar(transient=False) as update:
        r = run_pretrain(out or DEFAULT_BASE, opts, progress=update)
    table("Pretrained", ["base", "pairs (train / validation)", "speakers", "conversations left out", "epochs",
                         "minutes", "validation perplexity", "weights MB"],
          [[str(r.folder), f"{r.pairs_train:,} / {r.pairs_validation:,}", r.speakers, r.conversations_excluded,
            r.epochs, r.seconds / 60, math.exp(r.val_loss) if r.val_loss is not None else None, r.weights_mb]],
          caption=f"per subword token; learning curves in {r.folder}/meta.json"
          + (f"; resumed from {r.resumed_at}" if r.resumed_at else ""))
    next_line(command("train", "--base", r.folder))


# ------------------------------------------------------------------------------------------------ chat
DECODING = "Decoding options"


def _within(name: str) -> Callable[[object], object]:
    """A typer callback refusing a decoding option outside its range (``bot.decoding.BOUNDS``, which the library
    checks too): exit 2 and typer's usage message, before any model is loaded."""
    bound = BOUNDS[name]

    def check(value):
        if value is not None and not bound.admits(value):
            raise typer.BadParameter(f"{value!r} is out of range: use {bound.describe()}")
        return value

    return check


def _range(name: str) -> str:
    return f"; {BOUNDS[name].describe()}"


StrategyOpt = Annotated[Strategy | None, typer.Option(
    help="How replies are chosen: hybrid (your own past reply when one fits, else the best of the model's "
    "samples), sample (generated, varied), greedy (the single most likely reply), beam, or mmi (beam candidates "
    f"reranked by how specific they are to the message) \\[default: {DEFAULT_STRATEGY}; sample for a bot "
    "trained without a reply index]", rich_help_panel=DECODING, show_default=False)]
NoQuotesOpt = Annotated[bool, typer.Option(
    "--no-quotes", rich_help_panel=DECODING,
    help="hybrid: never answer with one of your past messages word for word, only generated replies")]
BeamWidthOpt = Annotated[int | None, typer.Option(
    "--beam-width", callback=_within("width"), rich_help_panel=DECODING, show_default=False,
    help=f"beam, mmi: beams kept ({BOUNDS['width'].describe()}) \\[default: 5; mmi 8]")]
LengthPenaltyOpt = Annotated[float | None, typer.Option(
    "--length-penalty", callback=_within("length_penalty"), rich_help_panel=DECODING, show_default=False,
    help="beam, mmi: rank replies by log p / length^this; 0 favours short replies"
    f"{_range('length_penalty')} \\[default: 0.6]")]
TemperatureOpt = Annotated[float | None, typer.Option(
    callback=_within("temperature"), rich_help_panel=DECODING, show_default=False,
    help="sample: below 1 sharper, above 1 more adventurous; 0 is greedy"
    f"{_range('temperature')} \\[default: 0.8]")]
TopKOpt = Annotated[int | None, typer.Option(
    "--top-k", callback=_within("top_k"), rich_help_panel=DECODING, show_default=False,
    help="sample: only the k most likely words; 0 for all \\[default: 0]")]
TopPOpt = Annotated[float | None, typer.Option(
    "--top-p", callback=_within("top_p"), rich_help_panel=DECODING, show_default=False,
    help="sample: only the most likely words making up this probability (the most likely word always stays)"
    f"{_range('top_p')} \\[default: 0.9]")]
RepetitionOpt = Annotated[float | None, typer.Option(
    "--repetition-penalty", callback=_within("repetition_penalty"), rich_help_panel=DECODING, show_default=False,
    help=f"any strategy: make words already in the reply less likely; 1 is off{_range('repetition_penalty')} "
    "\\[default: 1]")]
NoRepeatOpt = Annotated[int | None, typer.Option(
    "--no-repeat-ngram", callback=_within("no_repeat_ngram"), rich_help_panel=DECODING, show_default=False,
    help="any strategy: never say the same N words in a row twice in one reply (2 stops \"i think i think\"); "
    f"0 is off \\[default: {NO_REPEAT_NGRAM}]")]
MmiLambdaOpt = Annotated[float | None, typer.Option(
    "--mmi-lambda", callback=_within("mmi_lambda"), rich_help_panel=DECODING, show_default=False,
    help=f"mmi: weight of log p(reply) subtracted from log p(reply | message){_range('mmi_lambda')} "
    "\\[default: 0.5]")]


@app.command()
@handle_errors
def chat(
    as_: AsOpt = "me",
    strategy: StrategyOpt = None,
    no_quotes: NoQuotesOpt = False,
    beam_width: BeamWidthOpt = None,
    length_penalty: LengthPenaltyOpt = None,
    temperature: TemperatureOpt = None,
    top_k: TopKOpt = None,
    top_p: TopPOpt = None,
    repetition_penalty: RepetitionOpt = None,
    no_repeat_ngram: NoRepeatOpt = None,
    mmi_lambda: MmiLambdaOpt = None,
    seed: Annotated[int | None, typer.Option(
        callback=_within("seed"), rich_help_panel=DECODING, show_default=False,
        help="sample, hybrid: the same replies to the same lines every run"
        f"{_range('seed')} (default: fresh randomness)")] = None,
    data: DataOpt = None,
) -> None:
    """Chat with a trained bot, with the turns before as context: line editing and history, /help for the
    commands (/reset, /strategy NAME, /who, /quit), Ctrl-D to leave. With a pipe instead of a terminal: one
    reply per input line (a reply of several messages on one line, joined by " / ")."""
    from bot.cli import repl
    from bot.decoding import decoding_options

    options = decoding_options(width=beam_width, length_penalty=length_penalty, temperature=temperature,
                               top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                               no_repeat_ngram=no_repeat_ngram, mmi_lambda=mmi_lambda, seed=seed)
    strategy = str(strategy) if strategy else None
    with repl.loading():
        quiet_import_keras()
        from bot.chat import chat_lines, load_person

        bot = load_person(_workspace(data), as_)
        if (strategy or bot.default_strategy) == "hybrid":
            bot.hybrid  # noqa: B018 (its sentence encoder loads now, under the spinner, not at the first message)
    if sys.stdin.isatty():
        repl.run(bot.conversation(strategy, quotes=not no_quotes, **options), console)
    else:
        if no_quotes:
            options["quotes"] = False
        for reply in chat_lines(bot, sys.stdin, strategy=strategy, **options):
            print(reply, flush=True)


# ----------------------------------------------------------------------------------------------- serve
TelegramMode = StrEnum("TelegramMode", {"poll": "poll", "webhook": "webhook"})


@app.command()
@handle_errors
def serve(
    as_: AsOpt = "me",
    host: Annotated[str, typer.Option(
        help="Address to listen on; any other than 127.0.0.1 (or ::1) opens the bot to other machines and needs "
        "--token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one)", min=0, max=65535)] = 8000,
    token: Annotated[str | None, typer.Option(
        envvar="TALKLIKE_TOKEN", show_default=False, show_envvar=True,
        help="Ask every client for 'Authorization: Bearer TOKEN' (but /health and the webhooks); the web page "
        "asks for it once per tab")] = None,
    allow_no_token: Annotated[bool, typer.Option(
        "--allow-no-token", help="Listen beyond 127.0.0.1 without a token: only behind a port published on "
        "127.0.0.1, which `make docker-serve` does")] = False,
    strategy: StrategyOpt = None,
    quotes: Annotated[bool | None, typer.Option(
        "--quotes/--no-quotes", show_default=False,
        help="hybrid: let the page and the API answer with your past messages word for word \\[default: on for "
        "127.0.0.1, off for any other host; the bridges never quote]")] = None,
    cors: Annotated[list[str] | None, typer.Option(
        "--cors", metavar="ORIGIN", show_default=False,
        help="Let pages of this origin call the API from a browser (repeatable) \\[default: none, CORS off]")]
    = None,
    access_log: Annotated[bool, typer.Option(
        help="One line per request on stderr: method, path, status (never a query string or a body)")] = True,
    messenger: Annotated[bool, typer.Option(
        "--messenger", rich_help_panel="Bridges",
        help="Answer on Facebook Messenger: a webhook at /webhook/messenger (secrets: docs/bridges.md)")] = False,
    telegram: Annotated[TelegramMode | None, typer.Option(
        "--telegram", rich_help_panel="Bridges", show_default=False,
        help="Answer on Telegram, by long polling (poll) or a webhook at /webhook/telegram")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", rich_help_panel="Bridges", show_default=False, dir_okay=False,
        help="The bridges' secrets and settings: a TOML file readable by you only (mode 600)")] = None,
    allow: Annotated[list[str] | None, typer.Option(
        "--allow", metavar="ID", rich_help_panel="Bridges", show_default=False,
        help="Who may talk to the bot through a bridge: telegram:<chat id> or messenger:<PSID> (repeatable)")]
    = None,
    allow_anyone: Annotated[bool, typer.Option(
        "--allow-anyone", rich_help_panel="Bridges", help="Let anyone talk to the bot through the bridges")] = False,
    rate: Annotated[int | None, typer.Option(
        "--rate", min=1, rich_help_panel="Bridges", show_default=False,
        help="Messages a minute per sender through a bridge \\[default: 10]")] = None,
    data: DataOpt = None,
) -> None:
    """Serve a bot: a web chat page, a JSON API and an OpenAI-compatible API (any OpenAI client or chat
    front-end can use it), and, when asked, Messenger and Telegram bridges. Listens on 127.0.0.1 only unless
    --host says otherwise; Ctrl-C stops it."""
    from bot.serve.core import Settings
    from bot.serve.run import check

    settings = Settings(data=data, person=as_, host=host, port=port, token=token or None,
                        strategy=str(strategy) if strategy else None, quotes=quotes, cors=tuple(cors or ()),
                        access_log=access_log)
    check(settings, allow_no_token=allow_no_token)  # before any model is loaded
    quiet_import_keras()
    from bot.serve.run import serve as run_serve

    def ready(url: str, service, bridges: str | None) -> None:
        names = service.bots.names()
        others = [n for n in names if n != service.bots.default]
        console.print(f"serving the bot of {service.bots.display(service.bots.default)} at {url}"
                      + (f" (also: {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})" if others else "")
                      + f"; quotes {'on' if settings.web_quotes else 'off'}"
                      + f"; token {'on' if settings.token else 'off'}" + (f"; {bridges}" if bridges else ""),
                      markup=False, soft_wrap=True)
        console.print(f"next: open {url} in a browser, or point an OpenAI client at {url}/v1; Ctrl-C stops",
                      markup=False, soft_wrap=True)

    run_serve(settings, allow_no_token=allow_no_token, messenger=messenger,
              telegram=str(telegram) if telegram else None, config=config, allow=tuple(allow or ()),
              allow_anyone=allow_anyone, rate=rate, ready=ready)


# ------------------------------------------------------------------------------------------------ demo
@app.command()
@handle_errors
def demo(
    minutes: Annotated[float, typer.Option(help="Training time budget", min=0.0)] = 4.0,
    speaker: Annotated[str | None, typer.Option(
        help="chitchat-dataset speaker id \\[default: the one with the most conversations]")] = None,
    data: Annotated[Path, typer.Option(
        "--data", file_okay=False, help="Workspace folder of the demo, apart from your own (./data)")]
    = Path("data/demo"),
) -> None:
    """The whole journey on a real corpus: render chitchat-dataset as a Facebook export, ingest, train, chat."""
    quiet_import_keras()
    from bot.cli.demo import run_demo

    run_demo(_workspace(data), minutes=minutes, speaker=speaker)


# ----------------------------------------------------------------------------------------------- embed
@app.command()
@handle_errors
def embed(
    algo: Annotated[Algo, typer.Option(
        help="word2vec, or fasttext (also composes vectors for spellings it never saw)")] = Algo.word2vec,
    dim: Annotated[int, typer.Option(help="Vector size (becomes the model's embed_dim with train --embeddings)",
                                     min=2)] = 128,
    epochs: Annotated[int, typer.Option(help="Passes over the messages", min=1)] = 10,
    min_count: Annotated[int, typer.Option(help="Occurrences a word needs for a vector of its own", min=1)] = 2,
    only_mine: Annotated[bool, typer.Option(
        "--only-mine", help="Only your own messages (by default everyone's: the model reads both)")] = False,
    data: DataOpt = None,
) -> None:
    """Learn word vectors from all the messages in the workspace (gensim, every core), and save them there."""
    from bot.cli.ui import progress_bar
    from embeddings.vectors import EmbedOptions, train_vectors

    opts = EmbedOptions(algo=str(algo), dim=dim, epochs=epochs, min_count=min_count, only_mine=only_mine)
    with progress_bar() as update:
        r = train_vectors(_workspace(data), opts, progress=update)
    table("Word vectors", ["vectors", "messages", "words", "vocabulary", "seconds", "training words/s"],
          [[f"{r.algo}, {r.dim} dims, {r.epochs} epochs, min count {r.min_count}", r.messages, r.words,
            r.vocab_size, r.seconds, r.words_per_second]],
          caption=f"{r.workers} workers; saved in {r.folder} (id {r.vectors_id})")
    next_line(command("similar", "lol"), command("train", "--embeddings"))


@app.command()
@handle_errors
def similar(
    word: Annotated[str, typer.Argument(help="One word, e.g. lol")],
    top: Annotated[int, typer.Option(help="How many neighbours", min=1)] = 10,
    data: DataOpt = None,
) -> None:
    """The words nearest to WORD in your word vectors (FastText: also for words never seen)."""
    from embeddings.vectors import similar as nearest

    r = nearest(_workspace(data), word, top=top)
    how = ("never seen: its vector is composed from character n-grams" if r.how == "composed"
           else f"seen in your messages ({r.algo})")
    table(f"Nearest to {r.word!r}", ["word", "cosine similarity"], r.neighbours)
    console.print(f"{r.word!r}: {how}", markup=False, soft_wrap=True)
    next_line(command("similar", "WORD"), command("train", "--embeddings"))


# ---------------------------------------------------------------------------------------------- export

@app.command()
@handle_errors
@pair_options
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write, its format named by its suffix (.jsonl, "
        ".chat.jsonl, .csv, .parquet, .txt, .npy); a folder (no suffix) for a split dataset that Hugging Face "
        "datasets loads; - for standard output. Replaced atomically, readable by you only")],
    as_: AsOpt = "me",
    format_: Annotated[ExportFormat | None, typer.Option(
        "--format", help="csv, jsonl, parquet: one row per pair with every column. chat-jsonl: "
        '{"messages": \\[system, context..., user, assistant]} per line, for LLM fine-tuning. txt: '
        r"prompt<TAB>reply per line, with \n, \t, \\ escaped. npy: the dict prompt -> reply of "
        "Facebook-Messenger-Bot, loaded with numpy.load(..., allow_pickle=True); a prompt seen twice "
        "keeps its most recent reply. hf: a folder of data/{train,validation,test}.parquet and a dataset card "
        "\\[default: from --out's suffix; jsonl for -; a chat-jsonl file may end in .jsonl]",
        show_default=False)] = None,
    split: Annotated[bool, typer.Option(
        "--split", help="Write train, validation and test by conversation session: the held-out split of the "
        "--as person's trained bot when there is one (test is what `talklike eval` reports on), else the one "
        "train would draw. A file name gives NAME.train.SUFFIX, NAME.validation.SUFFIX, NAME.test.SUFFIX; a "
        "folder always holds the three splits")] = False,
    validation_share: Annotated[float | None, typer.Option(
        "--validation-share", min=0.0, max=1.0, show_default=False,
        help="The share of all sessions in validation (implies --split; with it or --test-share the split is "
        "no longer the bot's) \\[default: the bot's split, else 0.03]")] = None,
    test_share: Annotated[float | None, typer.Option(
        "--test-share", min=0.0, max=1.0, show_default=False,
        help="The share of all sessions in test (implies --split) \\[default: the bot's split, else 0.07]")]
    = None,
    alternate: Annotated[bool, typer.Option(
        "--alternate", help="chat-jsonl: strict user / assistant turns starting with a user turn, as the chat "
        "templates of fine-tuning tools require (consecutive turns of one role merged, joined by a newline)")]
    = False,
    redact: Annotated[bool, typer.Option(
        "--redact", help="Replace e-mail addresses, phone numbers, URLs and thread ids by stable placeholders "
        "(<EMAIL_1>, <PHONE_2>, ...): do it before sharing a dataset")] = False,
    redact_names: Annotated[bool, typer.Option(
        "--redact-names", help="Also replace the names of everyone but you and the --as person by <NAME_n>, "
        "in texts and sender columns (implies --redact)")] = False,
    system: Annotated[str | None, typer.Option(
        help="chat-jsonl: the system message; '' for none \\[default: 'You are NAME. Reply the way NAME "
        "writes in chats.']", show_default=False)] = None,
    pairs: PairOptions = PairOptions(),
    data: DataOpt = None,
) -> None:
    """Write your (message, reply) pairs as a personal dataset: csv, jsonl, parquet, chat-jsonl, txt, npy, or a
    split folder that Hugging Face datasets loads (docs/dataset.md).

    The same workspace and options always give byte-identical files.
    """
    import contextlib

    from ingest.export import export as run_export
    from ingest.splits import SplitOptions

    stream = str(out) == "-"
    shares = None if validation_share is None and test_share is None else SplitOptions.from_shares(
        validation_share if validation_share is not None else SplitOptions().validation,
        test_share if test_share is not None else SplitOptions().test)
    with (err if stream else console).status(f"building pairs and writing {'to standard output' if stream else out}"):
        r = run_export(_workspace(data), as_, sys.stdout.buffer if stream else out,
                       format_.value if format_ else None, pairs, redact=redact, redact_names=redact_names,
                       system=system, split=shares or split, alternate=alternate)
    shown = r.by_sender[:25]
    rest = r.by_sender[25:]
    rows = [[s, p, n] for s, p, n in shown]
    if rest:
        rows.append([f"({len(rest)} more)", "", sum(n for _, _, n in rest)])
    kinds = {"URL": "URLs", "EMAIL": "e-mail addresses", "PHONE": "phone numbers", "NAME": "names",
             "THREAD": "thread ids"}
    redacted = ", ".join(f"{n:,} {kinds.get(kind, kind)}" for kind, n in r.redacted.items())
    whose = "your" if r.person == "me" else f"{r.person}'s"
    splits = ", ".join(f"{name} {n:,}" for name, n in r.splits.items())
    # with --out - the data is standard output: the summary goes to stderr (rich's console writes to sys.stdout)
    with contextlib.redirect_stdout(sys.stderr) if stream else contextlib.nullcontext():
        table("Exported", ["prompt written by", "platform", "pairs"], rows,
              caption=f"{r.pairs:,} pairs of {whose} replies -> {r.path} ({r.format}, {r.bytes:,} bytes)"
              + (f"; {splits} pairs: {r.split_note}" if splits else "")
              + (f"; replaced: {redacted}" if redacted else ""))
    if not stream and not r.splits:
        next_line(command("eval", "--as", as_, "--pairs", r.path), command("train", "--as", as_))


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
    friend = next(iter(rows["friend"]), None) if len(rows) else None
    next_line(command("train", "--as", friend or "me"), command("export", "--as", friend or "me", "--out", "pairs.jsonl"))


# ------------------------------------------------------------------------------------------------ eval
@app.command("eval")
@handle_errors
def eval_(
    as_: AsOpt = "me",
    pairs: Annotated[Path | None, typer.Option(
        "--pairs", help="Evaluate on these pairs instead of the held-out conversations of the bot's training "
        "split: any file `talklike export` writes (.jsonl, .chat.jsonl, .csv, .parquet, .txt, .npy), a split folder "
        '(its test split), or a JSONL file of {"prompt": ..., "reply": ...} objects. Warns when some were training '
        "pairs", show_default=False)] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the figures as JSON only")] = False,
    baselines: Annotated[str, typer.Option(
        callback=choices.baselines,
        help="Systems to compare with, comma-separated: retrieval (seconds), reference (the seeds' LSTM "
        "architecture, trained as long as the bot was: minutes), all, or none")] = "retrieval",
    reference_minutes: Annotated[float | None, typer.Option(
        help="Training budget of the reference model \\[default: the bot's training time]", min=0.0,
        show_default=False)] = None,
    seed: Annotated[int, typer.Option(
        callback=_within("seed"), help=f"Seed of the recall distractors and of sampling{_range('seed')}")] = 0,
    blind: Annotated[Path | None, typer.Option(
        "--blind", help="Also write a blind test for your friends: a CSV sheet of (message, reply A, reply B), one "
        "reply yours and one the bot's, shuffled; the answers go to FILE's .key.csv beside it", show_default=False,
        dir_okay=False)] = None,
    strategy: StrategyOpt = None,
    no_quotes: NoQuotesOpt = False,
    beam_width: BeamWidthOpt = None,
    length_penalty: LengthPenaltyOpt = None,
    temperature: TemperatureOpt = None,
    top_k: TopKOpt = None,
    top_p: TopPOpt = None,
    repetition_penalty: RepetitionOpt = None,
    no_repeat_ngram: NoRepeatOpt = None,
    mmi_lambda: MmiLambdaOpt = None,
    data: DataOpt = None,
) -> None:
    """Measure a bot against baselines: perplexity per word, 1-in-10 recall, its generated replies
    (distinct-1/2, length, BLEU, chrF, share of its most frequent reply), and whether they sound like the
    person (authorship, real-or-bot, style profile)."""
    import json

    from bot.decoding import decoding_options

    options = decoding_options(width=beam_width, length_penalty=length_penalty, temperature=temperature,
                               top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                               no_repeat_ngram=no_repeat_ngram, mmi_lambda=mmi_lambda)
    quiet_import_keras()
    from bot.cli.ui import err as stderr
    from bot.eval import evaluate_person, parse_baselines

    with stderr.status("evaluating") as status:
        report = evaluate_person(_workspace(data), as_, pairs_file=pairs, baselines=parse_baselines(baselines),
                                 strategy=str(strategy) if strategy else None, decoding=options, seed=seed,
                                 reference_minutes=reference_minutes, quotes=not no_quotes, blind=blind,
                                 progress=lambda step: status.update(step))
    for line in report.warnings:
        stderr.print(f"warning: {line}", markup=False, soft_wrap=True)
    if json_:
        print(json.dumps(report.to_json(), indent=2, default=str))
        return
    table(f"Evaluation on {report.pairs:,} pairs", ["figure", *report.systems], report.rows(),
          caption=report.caption())
    table("Style profile", ["figure", "the person (real replies)", *[s for s, r in report.systems.items() if r.style]],
          report.style_rows(), caption="style distance (in the table above): the mean relative gap over these figures")
    next_line(command("chat", "--as", as_), note=f"hand {blind} to a friend, keep the .key.csv" if blind
              else f"{command('eval', '--as', as_, '--blind', 'sheet.csv')} for a blind test")


DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}  # the disk is full or read-only: exit 6, as documented


def main() -> None:
    """Entry point: private files, one-line errors, no tracebacks with chat text in them, and a Ctrl-C at any
    moment (typer parsing the options, TensorFlow's import, the work itself) is "interrupted" and 130."""
    interrupts.install()
    command = interrupts.command_name()
    interrupts.begin()
    try:
        os.umask(0o077)
        app()  # standalone: it ends with SystemExit
        code: int | str | None = 0
    except KeyboardInterrupt:
        code = interrupts.say(command, once=True)
    except SystemExit as exc:
        code = exc.code
        if code == interrupts.EXIT_INTERRUPTED:  # typer turns an interrupt while parsing into a silent 130
            interrupts.say(command, once=True)
    except Exception as exc:  # anything the typed errors did not cover
        if interrupts.received():  # a library's own error while an interrupt unwound it
            code = interrupts.say(command, once=True)
        elif os.environ.get("TALKLIKE_DEBUG"):
            raise
        elif isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:  # a write no library call turned into DiskError
            code = fail(disk_error(Path(exc.filename or "the output"), exc)).exit_code
        else:
            code = internal_error(exc)
    if code in (0, None) and interrupts.pending():  # swallowed by a library, and no check() came after it
        code = interrupts.say(command, once=True)
    interrupts.finish(code)
