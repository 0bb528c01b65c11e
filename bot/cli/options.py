"""The command line's choices and options, declared once: the choices as enums built from the library's
registries (so ``--help`` lists them and a bad value exits 2 before any work), readable metavars, and the
pair options shared by every command that builds pairs.

A command asks for them with a ``pairs: PairOptions`` parameter and the :func:`pair_options`
decorator, placed under ``@handle_errors``::

    @app.command()
    @handle_errors
    @pair_options
    def export(as_: AsOpt = "me", pairs: PairOptions = PairOptions(), data: DataOpt = None) -> None:
        ...

The decorator replaces ``pairs`` in the command's signature by the options below (shown
under "Pair options" in ``--help``) and hands the command the :class:`PairOptions` they
make. :func:`make_pair_options` is the same conversion for Python callers.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, get_args

import typer

from bot.decoding import STRATEGIES
from bot.vocab import VOCABULARIES
from embeddings.vectors import ALGORITHMS
from ingest.adapters import ADAPTERS
from ingest.export import FORMATS
from ingest.pairs import PairOptions

PANEL = "Pair options"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def parse_when(text: str, *, end: bool = False) -> datetime:
    """A UTC instant from ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]``.

    With ``end``, a plain date means the end of that day, so ``--until 2020-12-31`` keeps
    the replies written on December 31.
    """
    text = text.strip()
    if _DATE.match(text):
        try:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{text!r} is not a date; use YYYY-MM-DD") from None
        return day + timedelta(days=1) if end else day
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")


def _since(value: str) -> datetime:
    return parse_when(value)  # a ValueError becomes typer's "Invalid value for '--since'"


def _until(value: str) -> datetime:
    return parse_when(value, end=True)


class Attachments(StrEnum):
    drop = "drop"
    placeholder = "placeholder"


class Links(StrEnum):
    keep = "keep"
    placeholder = "placeholder"
    drop = "drop"


# name, annotation, default: the command-line face of PairOptions.
_OPTIONS: list[tuple[str, object, object]] = [
    ("session_gap", Annotated[float, typer.Option(
        "--session-gap", min=0.0, rich_help_panel=PANEL,
        help="Hours of silence that start a new conversation session; nothing is paired across one")], 3.0),
    ("context", Annotated[int, typer.Option(
        "--context", min=0, rich_help_panel=PANEL,
        help="Keep this many turns before the prompt (same session) as context")], 0),
    ("min_words", Annotated[int, typer.Option(
        "--min-words", min=1, rich_help_panel=PANEL,
        help="Drop pairs whose prompt or reply has fewer words")], 1),
    ("max_words", Annotated[int | None, typer.Option(
        "--max-words", min=1, rich_help_panel=PANEL, show_default="no limit",
        help="Drop pairs whose prompt or reply has more words")], None),
    ("attachments", Annotated[Attachments, typer.Option(
        "--attachments", rich_help_panel=PANEL,
        help="Photos, files, stickers: drop them, or keep them as <attachment> / <sticker>")], Attachments.drop),
    ("links", Annotated[Links, typer.Option(
        "--links", rich_help_panel=PANEL,
        help="URLs: keep them, replace each by <link>, or drop link-only messages")], Links.keep),
    ("with_", Annotated[list[str] | None, typer.Option(
        "--with", metavar="NAME", rich_help_panel=PANEL, show_default="all friends",
        help="Only conversations with this friend (repeatable; matched like --as)")], None),
    ("since", Annotated[datetime | None, typer.Option(
        "--since", parser=_since, rich_help_panel=PANEL,
        metavar="DATE", help="Only replies written on or after DATE (YYYY-MM-DD, UTC)")], None),
    ("until", Annotated[datetime | None, typer.Option(
        "--until", parser=_until, rich_help_panel=PANEL,
        metavar="DATE", help="Only replies written up to DATE, that day included (YYYY-MM-DD, UTC)")], None),
]
NAMES = tuple(name for name, _, _ in _OPTIONS)


def make_pair_options(session_gap: float = 3.0, context: int = 0, min_words: int = 1, max_words: int | None = None,
                      attachments: str = "drop", links: str = "keep", with_: list[str] | tuple[str, ...] | None = None,
                      since: datetime | None = None, until: datetime | None = None) -> PairOptions:
    """The :class:`PairOptions` the command-line options describe (session gap in hours)."""
    return PairOptions(session_gap=timedelta(hours=session_gap), context_turns=context, min_words=min_words,
                       max_words=max_words, attachments=Attachments(attachments).value, links=Links(links).value,
                       with_people=tuple(with_ or ()), since=since, until=until)


def pair_options(command: Callable) -> Callable:
    """Give a typer command the pair options; it receives them as its ``pairs`` argument."""
    signature = inspect.signature(command, eval_str=True)
    if "pairs" not in signature.parameters:
        raise TypeError(f"{command.__name__} needs a `pairs: PairOptions` parameter to use @pair_options")
    clash = set(NAMES) & set(signature.parameters)
    if clash:
        raise TypeError(f"{command.__name__} already has parameters {sorted(clash)} that @pair_options adds")
    kept = [p for p in signature.parameters.values() if p.name != "pairs"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, annotation, default in _OPTIONS]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in NAMES if name in kwargs}
        return command(*args, pairs=make_pair_options(**given), **kwargs)

    params = kept + added
    wrapper.__signature__ = signature.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": signature.return_annotation}
    return wrapper


# --- choices, from the registries -------------------------------------------------------------------
def _choices(name: str, names) -> type[StrEnum]:
    return StrEnum(name, {n: n for n in names})


Platform = _choices("Platform", ["auto", *ADAPTERS])  # ingest --platform
Strategy = _choices("Strategy", STRATEGIES)  # chat/eval --strategy (bot.decoding.STRATEGIES)
ExportFormat = _choices("ExportFormat", FORMATS)  # export --format (ingest.export.FORMATS)
Algo = _choices("Algo", ALGORITHMS)  # embed --algo (embeddings.vectors.ALGORITHMS)
Vocab = _choices("Vocab", VOCABULARIES)  # train --vocabulary (bot.vocab.VOCABULARIES)
# eval --baselines: bot.eval.report.BASELINES, which cannot be imported without TensorFlow (bot.eval loads
# it); tests/cli/test_choices.py checks that the two agree
BASELINES = ("retrieval", "reference")


def baselines(value: str | None) -> str | None:
    """A typer callback for ``--baselines`` (comma-separated names, ``all`` or ``none``): a usage error (exit
    2) for an unknown name, before anything is loaded."""
    if value is None:
        return value
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if names in ([], ["all"], ["none"]):
        return value
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise typer.BadParameter(f"unknown baseline(s) {', '.join(unknown)}: choose from "
                                 f"{', '.join(BASELINES)}, all, none (comma-separated)")
    return value


def time_zone(value: str | None) -> str | None:
    """A typer callback for ``--tz``: an IANA zone name, else a usage error (exit 2)."""
    if value is None:
        return value
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"{value!r} is not a time zone: use an IANA name such as Europe/Lisbon") from None
    return value


def base(value: str) -> str:
    """A typer callback for ``train --base``: 'default', 'none', or an existing folder, else exit 2."""
    if value in ("default", "none") or Path(value).is_dir():
        return value
    raise typer.BadParameter(f"no pretrained base at {value!r}: use 'default', 'none', or a base folder "
                             "(`talklike pretrain --out FOLDER`)")


# --- readable metavars ------------------------------------------------------------------------------
METAVARS = {  # by option name, where a word says more than the type
    "--as": "NAME", "--with": "NAME", "--me": "NAME", "--quote-exclude": "NAME", "--speaker": "ID",
    "--exclude-speaker": "ID", "--host": "ADDRESS", "--token": "TOKEN", "--data": "DIR", "--encoder": "DIR",
    "--base": "BASE|DIR", "--plot": "FILE",
    "--pairs": "PATH", "--blind": "FILE", "--tz": "ZONE", "--minutes": "MINUTES", "--reference-minutes": "MINUTES",
    "--session-gap": "HOURS", "--system": "TEXT", "--baselines": "NAMES", "--seed": "N",
}


def _metavar(param) -> str:
    """What ``--help`` shows for a value: a word, never a Python type such as ``<list[str]>`` or ``<bool>``."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""  # a flag shows as a flag
    named = next((METAVARS[o] for o in param.opts if o in METAVARS), None)
    desc = param.type_descriptor
    kind = desc.annotation
    if desc.is_list and get_args(kind):
        kind = get_args(kind)[0]
    if named:
        word = named
    elif desc.is_choice:
        word = "[" + "|".join(str(c.value if isinstance(c, Enum) else c) for c in desc.choices) + "]"
    elif desc.is_path or kind is Path:
        word = desc.path_type.upper() if desc.is_path else "PATH"
    elif kind is int:
        word = "N"
    elif kind is float:
        word = "NUMBER"
    elif kind is datetime:
        word = "DATE"
    else:
        word = "TEXT"
    return f"{word}..." if param.param_type_name == "argument" and param.nargs != 1 else word


def readable(command):
    """Give every parameter of ``command`` (and of its subcommands) a readable metavar, unless it names one."""
    for param in command.params:
        if param.param_type_name == "argument":  # its metavar is its name; the type column is shown apart
            param.display_type_rich = lambda ctx, word=_metavar(param): word
            param.metavar = param.metavar or param.name.upper()
        elif param.metavar is None:
            param.metavar = _metavar(param)
    made = command.get_help_option

    def get_help_option(ctx):  # -h, --help: made on demand, a flag too
        option = made(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        readable(sub)
    return command


class Group(typer.core.TyperGroup):
    """The ``talklike`` group: its commands' metavars made readable (whoever adds a command gets them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readable(self)
