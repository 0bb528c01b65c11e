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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

import typer

from bot.cli.options import pair_options
from bot.cli.ui import console, err, fail, handle_errors, internal_error, quiet_import_keras, table
from bot.decoding import BOUNDS, DEFAULT_STRATEGY, NO_REPEAT_NGRAM, STRATEGIES
from ingest.export import FORMATS as EXPORT_FORMATS
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
)

DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="Workspace folder \\[default: ./data, or $TALKLIKE_DATA]", show_default=False)]
AsOpt = Annotated[str, typer.Option(
    "--as", help="Whose replies: 'me', or a friend's display name (case-insensitive; a unique prefix is enough)")]
SessionGapOpt = Annotated[float, typer.Option(
    "--session-gap", help="Hours of silence that start a new conversation session", min=0.0)]


Vocab = StrEnum("Vocab", {"bpe": "bpe", "words": "words"})


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
    platform: Annotated[str, typer.Option(help="Platform of the exports, or 'auto' to detect it")] = "auto",
    tz: Annotated[str | None, typer.Option(
        "--tz", help="Time zone of the wall-clock times in WhatsApp, Facebook HTML and older Telegram exports "
        "(an IANA name such as Europe/Lisbon) \\[default: this machine's zone]", show_default=False)] = None,
    data: DataOpt = None,
) -> None:
    """Read chat exports into the workspace's message table, and account for every message."""
    from ingest.pipeline import ingest as run_ingest

    ws = _workspace(data)
    with console.status("reading the exports") as status:
        result = run_ingest(list(sources), workspace=ws, me=me or [], platform=platform, tz=tz,
                            progress=lambda step: status.update(step))
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
    hint = f" --data {data}" if data else ""
    if result.failed:
        for exc in result.failed:
            err.print(f"error: {exc.one_line()}", markup=False, soft_wrap=True)
        err.print(f"the other sources were stored; fix {'these' if len(result.failed) > 1 else 'this one'} and "
                  "ingest it again (nothing is added twice)", markup=False)
        raise typer.Exit(result.failed[0].exit_code)
    console.print(f"next: talklike people{hint}, talklike stats{hint}, or talklike train --as me{hint}",
                  markup=False)


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
    hint = f" --data {data}" if data else ""
    friend = next((r.name for r in rows.itertuples() if not r.is_me), None)
    console.print("next: talklike train --as me" + hint + (f", or talklike train --as {friend!r}{hint}" if friend else "")
                  + "; wrong \"me\"? talklike ingest EXPORT --me NAME", markup=False)


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
        "\\[default: the packaged all-MiniLM-L6-v2]", show_default=False, file_okay=False)] = None,
    base: Annotated[str, typer.Option(
        "--base", help="The pretrained base to start from: 'default' (the one shipped with talklike, learned from "
        "chitchat-dataset), a base folder (`talklike pretrain`), or 'none' to learn from your pairs alone")]
    = "default",
    vocabulary: Annotated[Vocab, typer.Option(
        help="Without a base: bpe (subwords, your case and bursts kept) or words (lower-cased words, as talklike "
        "did before)")] = "bpe",
    pairs: PairOptions = PairOptions(),
    data: DataOpt = None,
) -> None:
    """Train a bot that replies like the chosen person, and save it in the workspace."""
    quiet_import_keras()
    from bot.cli.ui import progress_bar
    from bot.train import TrainOptions
    from bot.train import train as run_train

    opts = TrainOptions(epochs=epochs, minutes=minutes, batch_size=batch_size, pairs=pairs,
                        embeddings=embeddings, freeze_embeddings=freeze, resume=resume, match=match,
                        match_context=match_context, quotes=quotes, quote_exclude=tuple(quote_exclude or ()),
                        encoder=str(encoder) if encoder else None, base=None if base == "none" else base,
                        vocabulary=str(vocabulary))
    with progress_bar() as update:
        r = run_train(_workspace(data), as_, opts, progress=update)
    for line in r.warnings:
        err.print(f"warning: {line}", markup=False, soft_wrap=True)
    table("Trained", ["bot", "pairs (train / validation)", "vocabulary", "epochs", "minutes",
                      "validation perplexity", "target tokens/s"],
          [[r.person, f"{r.pairs_train:,} / {r.pairs_validation:,}", r.vocab_size, r.epochs, r.seconds / 60,
            r.val_perplexity, r.tokens_per_second]],
          caption=f"saved in {r.folder} (learning curves: learning_curves.png; checkpoints and TensorBoard logs: "
          f"checkpoints/, logs/)" + (f"; resumed from {r.resumed_at}" if r.resumed_at else "")
          + (f"; {r.index_replies:,} of your past replies indexed for quoting" if r.index_replies else "")
          + (f"; started from the base {r.base}" if r.base else "; no base"))
    console.print(f"next: talklike chat --as {as_!r}, or talklike eval --as {as_!r}", markup=False)


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
    quiet_import_keras()
    from bot.base import DEFAULT_BASE, EVALUATION_SPEAKERS, PretrainOptions
    from bot.base import pretrain as run_pretrain
    from bot.cli.ui import progress_bar

    opts = PretrainOptions(minutes=minutes, epochs=epochs, batch_size=batch_size, resume=resume,
                           exclude_speakers=tuple(exclude_speaker) if exclude_speaker else EVALUATION_SPEAKERS)
    with progress_bar() as update:
        r = run_pretrain(out or DEFAULT_BASE, opts, progress=update)
    table("Pretrained", ["base", "pairs (train / validation)", "speakers", "conversations left out", "epochs",
                         "minutes", "validation perplexity", "weights MB"],
          [[str(r.folder), f"{r.pairs_train:,} / {r.pairs_validation:,}", r.speakers, r.conversations_excluded,
            r.epochs, r.seconds / 60, math.exp(r.val_loss) if r.val_loss is not None else None, r.weights_mb]],
          caption=f"per subword token; learning curves in {r.folder}/meta.json"
          + (f"; resumed from {r.resumed_at}" if r.resumed_at else ""))
    console.print(f"next: talklike train --base {r.folder}", markup=False)


# ------------------------------------------------------------------------------------------------ chat
DECODING = "Decoding options"
Strategy = StrEnum("Strategy", {name: name for name in STRATEGIES})


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
    """Chat with a trained bot. With a pipe instead of a terminal: one reply per input line (a reply of
    several messages on one line, joined by " / ")."""
    from bot.decoding import decoding_options

    options = decoding_options(width=beam_width, length_penalty=length_penalty, temperature=temperature,
                               top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                               no_repeat_ngram=no_repeat_ngram, mmi_lambda=mmi_lambda, seed=seed)
    quiet_import_keras()
    from bot.chat import chat_lines, interactive, load_person

    if no_quotes:
        options["quotes"] = False
    bot = load_person(_workspace(data), as_)
    strategy = str(strategy) if strategy else None
    if sys.stdin.isatty():
        interactive(bot, strategy=strategy, **options)
    else:
        for reply in chat_lines(bot, sys.stdin, strategy=strategy, **options):
            print(reply, flush=True)


# ------------------------------------------------------------------------------------------------ demo
@app.command()
@handle_errors
def demo(
    minutes: Annotated[float, typer.Option(help="Training time budget", min=0.0)] = 4.0,
    speaker: Annotated[str | None, typer.Option(
        help="chitchat-dataset speaker id \\[default: the one with the most conversations]")] = None,
    data: DataOpt = None,
) -> None:
    """The whole journey on a real corpus: render chitchat-dataset as a Facebook export, ingest, train, chat."""
    quiet_import_keras()
    from bot.cli.demo import run_demo

    run_demo(_workspace(data or Path("data/demo")), minutes=minutes, speaker=speaker)


# ----------------------------------------------------------------------------------------------- embed
@app.command()
@handle_errors
def embed(
    algo: Annotated[str, typer.Option(
        help="word2vec, or fasttext (also composes vectors for spellings it never saw)")] = "word2vec",
    dim: Annotated[int, typer.Option(help="Vector size (becomes the model's embed_dim with train --embeddings)",
                                     min=2)] = 128,
    epochs: Annotated[int, typer.Option(help="Passes over the messages", min=1)] = 10,
    min_count: Annotated[int, typer.Option(help="Occurrences a word needs for a vector of its own", min=1)] = 2,
    only_mine: Annotated[bool, typer.Option(
        "--only-mine", help="Only your own messages (by default everyone's: the model reads both)")] = False,
    data: DataOpt = None,
) -> None:
    """Learn word vectors from all the messages in the workspace (gensim, every core), and save them there."""
    from embeddings.vectors import EmbedOptions, train_vectors

    opts = EmbedOptions(algo=algo, dim=dim, epochs=epochs, min_count=min_count, only_mine=only_mine)
    r = train_vectors(_workspace(data), opts, progress=True)
    table("Word vectors", ["vectors", "messages", "words", "vocabulary", "seconds", "training words/s"],
          [[f"{r.algo}, {r.dim} dims, {r.epochs} epochs, min count {r.min_count}", r.messages, r.words,
            r.vocab_size, r.seconds, r.words_per_second]],
          caption=f"{r.workers} workers; saved in {r.folder} (id {r.vectors_id}); try `talklike similar WORD`, "
          "then `talklike train --embeddings`")


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


# ---------------------------------------------------------------------------------------------- export
ExportFormat = StrEnum("ExportFormat", {name: name for name in EXPORT_FORMATS})


@app.command()
@handle_errors
@pair_options
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced atomically, readable by you only)")],
    as_: AsOpt = "me",
    format_: Annotated[ExportFormat, typer.Option(
        "--format", help="csv, jsonl, parquet: one row per pair with every column. chat-jsonl: "
        '{"messages": \\[system, context..., user, assistant]} per line, for LLM fine-tuning. txt: '
        r"prompt<TAB>reply per line, with \n, \t, \\ escaped. npy: the dict prompt -> reply of "
        "Facebook-Messenger-Bot, loaded with numpy.load(..., allow_pickle=True); a prompt seen twice "
        "keeps its most recent reply")] = ExportFormat.jsonl,
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
    """Write your (message, reply) pairs as a personal dataset: csv, jsonl, parquet, chat-jsonl, txt or npy.

    The same workspace and options always give a byte-identical file.
    """
    from ingest.export import export as run_export

    with console.status(f"building pairs and writing {out}"):
        r = run_export(_workspace(data), as_, out, format_.value, pairs, redact=redact, redact_names=redact_names,
                       system=system)
    shown = r.by_sender[:25]
    rest = r.by_sender[25:]
    rows = [[s, p, n] for s, p, n in shown]
    if rest:
        rows.append([f"({len(rest)} more)", "", sum(n for _, _, n in rest)])
    kinds = {"URL": "URLs", "EMAIL": "e-mail addresses", "PHONE": "phone numbers", "NAME": "names",
             "THREAD": "thread ids"}
    redacted = ", ".join(f"{n:,} {kinds.get(kind, kind)}" for kind, n in r.redacted.items())
    whose = "your" if r.person == "me" else f"{r.person}'s"
    table("Exported", ["prompt written by", "platform", "pairs"], rows,
          caption=f"{r.pairs:,} pairs of {whose} replies -> {r.path} ({r.format}, {r.bytes:,} bytes)"
          + (f"; replaced: {redacted}" if redacted else ""))


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


# ------------------------------------------------------------------------------------------------ eval
@app.command("eval")
@handle_errors
def eval_(
    as_: AsOpt = "me",
    pairs: Annotated[Path | None, typer.Option(
        "--pairs", help='Evaluate on this JSONL file of {"prompt": ..., "reply": ...} objects instead of the '
        "held-out conversations of the bot's training split", show_default=False)] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the figures as JSON only")] = False,
    baselines: Annotated[str, typer.Option(
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
    if json_:
        print(json.dumps(report.to_json(), indent=2, default=str))
        return
    table(f"Evaluation on {report.pairs:,} pairs", ["figure", *report.systems], report.rows(),
          caption=report.caption())
    table("Style profile", ["figure", "the person (real replies)", *[s for s, r in report.systems.items() if r.style]],
          report.style_rows(), caption="style distance (in the table above): the mean relative gap over these figures")
    console.print(f"next: talklike chat --as {as_!r}" + (f"; hand {blind} to a friend, keep the .key.csv" if blind
                                                          else "; talklike eval --blind sheet.csv for a blind test"),
                  markup=False, soft_wrap=True)


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
