"""Errors of the bot stage; the CLI turns each into one line and its exit code."""

from __future__ import annotations

from ingest.errors import EXIT_INCOMPATIBLE, EXIT_WORKSPACE, TalklikeError


class BotError(TalklikeError):
    """A bot cannot be trained, loaded or used as asked."""

    exit_code = EXIT_WORKSPACE


class NoBotError(BotError):
    """``chat`` or ``eval`` before ``train``."""


class IncompatibleBotError(BotError):
    """A bot folder written by another, incompatible, version of talklike."""

    exit_code = EXIT_INCOMPATIBLE
