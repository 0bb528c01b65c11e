"""Terminal output: summary tables and one-line errors (stderr), never message text in errors."""

from __future__ import annotations

import contextlib
import functools
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator

import typer
from rich.console import Console
from rich.table import Table

from bot import interrupts
from ingest.errors import TalklikeError

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
_given: dict[str, object] = {"data": None, "resume": None}  # what the running command's hints must carry

# the commands that take --data; a hint naming one of them carries the --data the command was given
DATA_COMMANDS = ("ingest", "people", "train", "chat", "serve", "embed", "similar", "export", "stats", "eval", "demo")
_COMMAND = re.compile(r"`(talklike [^`]+)`")


def argument(value: object) -> str:
    """``value`` quoted for the shell (a display name such as Kim Lee becomes 'Kim Lee')."""
    return shlex.quote(str(value))


def command(name: str, *args: object, data: object = None) -> str:
    """A ``talklike`` command line to show: its arguments quoted for the shell, with ``--data DIR`` when the
    running command was given one (or ``data``)."""
    line = " ".join(["talklike", name, *(a if str(a).startswith("-") else argument(a) for a in map(str, args))])
    return _add_data(line, data)


def _add_data(line: str, data: object = None) -> str:
    data = data if data is not None else _given["data"]
    words = line.split()
    if data is None or "--data" in words or len(words) < 2 or words[1] not in DATA_COMMANDS:
        return line
    return f"{line} --data {argument(data)}"


def with_data(text: str) -> str:
    """A library's hint or message with each `talklike ...` command it names given the --data of the running
    command: the library stays CLI-agnostic, and the hint works as written."""
    return _COMMAND.sub(lambda m: f"`{_add_data(m.group(1))}`", text)


def next_line(*commands: str, note: str = "", to=None) -> None:
    """The ``next:`` line a command ends with: what to run now (made by :func:`command`)."""
    (to or console).print("next: " + ", or ".join(commands) + (f"; {note}" if note else ""), markup=False,
                          soft_wrap=True)


def resume_with(line: str) -> None:
    """The command line that continues the running command where a Ctrl-C stops it (train, pretrain): the
    "interrupted" line names it."""
    _given["resume"] = line


def _say_interrupted(name: str) -> int:
    line = _given["resume"]
    saved = interrupts.RESUME.get(name)
    if line:
        interrupts.RESUME[name] = f"{saved}: {line}" if saved else f"to continue: {line}"
    try:
        return interrupts.say(name)
    finally:
        if line:
            interrupts.RESUME[name] = saved


def warn(line: str) -> None:
    """A library's warning, one line on stderr (hints in it carry --data)."""
    err.print(f"warning: {with_data(line)}", markup=False, soft_wrap=True)


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable], *, caption: str | None = None) -> None:
    t = Table(title=title, caption=caption, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(_fmt(v) for v in row))
    console.print(t)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)


def fail(error: TalklikeError) -> typer.Exit:
    err.print(f"error: {with_data(error.one_line())}", markup=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def handle_errors(fn: Callable) -> Callable:
    """Turn the library's typed errors into one line on stderr and their exit code, and an interrupt into
    "interrupted" (with how to go on, for train) and 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _given.update(data=kwargs.get("data"), resume=None)
        try:
            result = fn(*args, **kwargs)
            interrupts.check()  # an interrupt a library swallowed on the way is still an interrupt
            return result
        except TalklikeError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            raise typer.Exit(_say_interrupted(fn.__name__)) from None

    return wrapper


def quiet_import_keras() -> None:
    """Import Keras (and TensorFlow) with their start-up log lines kept off the terminal.

    TensorFlow 2.21 writes absl/oneDNN lines to file descriptor 2 at import, whatever
    TF_CPP_MIN_LOG_LEVEL says. They are captured; if the import fails they are shown after all (not when it
    was interrupted: that is one line, "interrupted").
    """
    import os
    import tempfile

    if "keras" in sys.modules or os.environ.get("TALKLIKE_DEBUG"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as captured:
            try:
                os.dup2(captured.fileno(), 2)
                import keras  # noqa: F401
            except KeyboardInterrupt:
                raise
            except BaseException:
                os.dup2(saved, 2)
                captured.seek(0)
                sys.stderr.buffer.write(captured.read())
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    interrupts.check()  # TensorFlow's import swallows some interrupts (in its garbage collector callbacks)


def internal_error(exc: BaseException) -> int:
    """An unexpected exception: its type and where it happened, but never its message (it may hold text)."""
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    print(f"internal error: {type(exc).__name__} at {where}. Please report it "
          "(the message is withheld because it may contain your chat text; "
          "set TALKLIKE_DEBUG=1 to see the full traceback).", file=sys.stderr)
    return 70


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


@contextlib.contextmanager
def progress_bar(transient: bool = True) -> Iterator[Callable[..., None]]:
    """``update(stage, done, total, description=None, unit=None)``: one bar per stage on stderr, the one
    progress style of ingest, embed and train (the library never prints, it calls this): what is being done,
    the bar, how far (``3/60 epochs``, ``0:42 of 1:00`` for a time budget, ``120/4,000`` otherwise), the time
    elapsed and the ETA. ``total=None``: a step of unknown length (a pulsing bar). Not on a terminal, a transient
    bar draws nothing (a non-transient one, its last state)."""
    if transient and not err.is_terminal:
        yield lambda stage, done, total, **details: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class Count(ProgressColumn):
        def render(self, task) -> Text:
            unit = task.fields.get("unit")
            if task.total is None:
                return Text("")
            if unit == "seconds":  # a time budget: no epoch count, which the budget makes meaningless
                return Text(f"{_clock(task.completed)} of {_clock(task.total)}")
            return Text(f"{int(task.completed):,}/{int(task.total):,}" + (f" {unit}" if unit else ""))

    class Eta(ProgressColumn):
        def render(self, task) -> Text:
            if task.total is None:
                return Text("")
            left = task.total - task.completed if task.fields.get("unit") == "seconds" else task.time_remaining
            return Text("ETA " + ("-:--" if left is None else _clock(left)), style="progress.remaining")

    budgets: dict[int, float] = {}  # time-budget tasks -> when their budget began: they move with the clock

    class Bars(Progress):
        def get_renderables(self):
            now = time.monotonic()
            for task_id, began in budgets.items():
                task = self._tasks[task_id]
                if task.total is not None and task.completed < task.total:
                    task.completed = min(max(task.completed, now - began), task.total)
            yield from super().get_renderables()

    tasks: dict[str, int] = {}
    with Bars(TextColumn("{task.description}"), BarColumn(), Count(), TimeElapsedColumn(), Eta(), console=err,
              transient=transient) as bar:
        def update(stage: str, done: float, total: float | None, *, description: str | None = None,
                   unit: str | None = None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(description or stage, total=total, unit=unit)
            if unit == "seconds":
                budgets[tasks[stage]] = time.monotonic() - done
            bar.update(tasks[stage], completed=done, total=total, description=description or stage, unit=unit)

        yield update


@contextlib.contextmanager
def steps(first: str) -> Iterator[Callable[[str], None]]:
    """``step(what)`` for a library that tells what it is doing but not how far (ingest): the same progress
    style, one line whose description follows the steps."""
    with progress_bar() as update:
        update("steps", 0, None, description=first)
        yield lambda what: update("steps", 0, None, description=what)
