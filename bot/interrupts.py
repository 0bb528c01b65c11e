"""Ctrl-C at any moment of a command: "interrupted" on stderr and exit 130, never a traceback.

``bot.cli`` imports this module and calls :func:`install` before anything else (typer, pandas, TensorFlow),
so an interrupt during the seconds of imports is covered too. It installs, in a process's main thread only:

- a SIGINT handler that counts the signal and raises ``KeyboardInterrupt``, as Python's own does (a host
  application's own handler is left alone), so ``bot.cli.main`` can tell an exception a library raised while
  unwinding from an interrupt (some turn ``KeyboardInterrupt`` into another error) from a real failure;
- a ``sys.excepthook`` for a process that is not interactive: an interrupt that no handler caught (one during
  the import of ``bot.cli``, or between ``main``'s own handlers) says "interrupted" and ends with 130;
- a ``sys.unraisablehook`` that keeps quiet about an interrupt Python could not raise (it arrived in a garbage
  collector callback or a destructor: JAX and TensorFlow have some).

An interrupt that some library swallowed (TensorFlow's op dispatch does, and those callbacks) is still
*pending*: :func:`check`, called where the work can stop safely (each decoding step, each chat line, after
the imports, when a command returns), raises it again, once per signal. Without :func:`install` (a library
user's process) nothing is counted and :func:`check` never raises.

Stdlib only, and (but ``signal``) what Python has loaded at start-up: nothing here may take long to import.
"""

from __future__ import annotations

import contextlib
import os
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
RESUME = {  # how to go on, for the commands that can continue where they stopped
    "train": "run the same `talklike train` with --resume to continue from its latest checkpoint",
    "pretrain": "run the same `talklike pretrain` with --resume to continue from its latest checkpoint",
}
_state = {"signals": 0, "raised_again": 0, "said": False}


def _ignore_sigint() -> None:
    import signal

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _on_sigint(signum, frame) -> None:
    _state["signals"] += 1
    raise KeyboardInterrupt


def received() -> bool:
    """Whether a SIGINT reached this process since :func:`begin`."""
    return _state["signals"] > 0


def pending() -> bool:
    """Whether a SIGINT was received and no handler has said "interrupted" for it yet (a library swallowed it)."""
    return _state["signals"] > 0 and not _state["said"]


def check() -> None:
    """Raise ``KeyboardInterrupt`` again for an interrupt that a library swallowed (once per signal); cheap
    enough for any loop."""
    if _state["signals"] > _state["raised_again"] and not _state["said"]:
        _state["raised_again"] = _state["signals"]
        raise KeyboardInterrupt


def begin() -> None:
    """A command starts (``bot.cli.main``): nothing received, nothing said yet."""
    _state.update(signals=0, raised_again=0, said=False)


def command_name(argv: list[str] | None = None) -> str | None:
    """The command a ``talklike`` command line runs (its first word that is not an option)."""
    argv = sys.argv if argv is None else argv
    return next((a for a in argv[1:2] if not a.startswith("-")), None)


def say(command: str | None = None, *, once: bool = False) -> int:
    """Write "interrupted" (with how to go on, for ``train`` and ``pretrain``) on stderr; return 130. With
    ``once``, nothing is written when it was said already (``main`` after a command's own handler)."""
    if not (once and _state["said"]):
        hint = RESUME.get(command or "")
        with contextlib.suppress(OSError, ValueError, AttributeError):  # a closed stderr: the exit code tells
            sys.stderr.write("interrupted" + (f" ({hint})" if hint else "") + "\n")
            sys.stderr.flush()
    _state["said"] = True
    return EXIT_INTERRUPTED


def finish(code: int | str | None) -> None:
    """End the process with ``code``; a Ctrl-C while it winds down (libraries' exit handlers, files closing)
    changes nothing any more, so it cannot print a traceback either.

    SIGINT is ignored from the first exit handler on (registered last, it runs first), not here: a caller
    that catches the SystemExit and goes on (a test, a program embedding the CLI) keeps its Ctrl-C, and the
    processes it starts do not inherit an ignored SIGINT."""
    import atexit

    atexit.unregister(_ignore_sigint)
    atexit.register(_ignore_sigint)
    sys.exit(code)


def _excepthook(kind, value, tb, previous=sys.excepthook) -> None:
    interactive = sys.flags.interactive or hasattr(sys, "ps1")
    if not interactive and (issubclass(kind, KeyboardInterrupt) or received()):
        _ignore_sigint()
        say(command_name(), once=True)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)  # the exception came through every handler: there is nothing left to unwind
    previous(kind, value, tb)


def _unraisablehook(unraisable, previous=sys.unraisablehook) -> None:
    if isinstance(unraisable.exc_value, KeyboardInterrupt) or unraisable.exc_type is KeyboardInterrupt:
        return  # still pending: check() raises it where it can be
    previous(unraisable)


def install() -> None:
    """Install the SIGINT handler and the two hooks (see the module's docstring); idempotent. The hooks come
    first: they need no import, and cover the import of ``signal``."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook
    if sys.unraisablehook is sys.__unraisablehook__:
        sys.unraisablehook = _unraisablehook
    import signal

    with contextlib.suppress(ValueError):  # not the main thread: Python's own handler stays
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_sigint)
