"""Terminal output: summary tables and one-line errors (stderr), never message text in errors."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterable, Iterator

import typer
from rich.console import Console
from rich.table import Table

from bot import interrupts
from ingest.errors import TalklikeError

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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
    err.print(f"error: {error.one_line()}", markup=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def handle_errors(fn: Callable) -> Callable:
    """Turn the library's typed errors into one line on stderr and their exit code, and an interrupt into
    "interrupted" (with how to go on, for train) and 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
            interrupts.check()  # an interrupt a library swallowed on the way is still an interrupt
            return result
        except TalklikeError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            raise typer.Exit(interrupts.say(fn.__name__)) from None

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


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """``update(stage, done, total)`` draws a bar with an ETA per stage on stderr (the library never prints)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tasks: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
