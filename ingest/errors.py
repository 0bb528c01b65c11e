"""Typed errors. The CLI turns each into one line and its exit code.

Rules: an error names the file and the place in it, says what to do, and never
quotes message text (exports are private; an error may end up in a bug report).
"""

from __future__ import annotations

# Documented exit codes (README, "Exit codes").
EXIT_USAGE = 2  # a bad option or argument (typer's own code)
EXIT_BAD_INPUT = 3  # an export file that cannot be read
EXIT_WORKSPACE = 4  # the workspace is missing something (nothing ingested, no trained bot)
EXIT_INCOMPATIBLE = 5  # a workspace or bot written by an incompatible version
EXIT_DISK = 6  # the disk is full or not writable
EXIT_UNKNOWN_PERSON = 7  # --as / --with names nobody in the workspace
EXIT_BUSY = 75  # another command is writing to the workspace (EX_TEMPFAIL: try again later)


class TalklikeError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


class IngestError(TalklikeError):
    """An export file could not be read."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, file: str, place: str | None, problem: str, *, hint: str | None = None):
        where = f"{file}: {place}" if place else file
        super().__init__(f"{where}: {problem}", hint=hint)
        self.file = file
        self.place = place
        self.problem = problem


class WorkspaceError(TalklikeError):
    """The workspace lacks what a command needs."""

    exit_code = EXIT_WORKSPACE


class IncompatibleError(TalklikeError):
    """Data written by another, incompatible, version of talklike."""

    exit_code = EXIT_INCOMPATIBLE


class DiskError(TalklikeError):
    """Writing failed because the disk is full or read-only."""

    exit_code = EXIT_DISK


class OptionError(TalklikeError):
    """An option value the command cannot use (a format, a path that is a folder)."""

    exit_code = EXIT_USAGE


class UnknownPersonError(TalklikeError):
    """A name given to --as or --with matches nobody."""

    exit_code = EXIT_UNKNOWN_PERSON


class BusyError(TalklikeError):
    """Another live command holds the workspace's (or the bot folder's) writers' lock."""

    exit_code = EXIT_BUSY
