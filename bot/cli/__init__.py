"""The ``talklike`` command: ``app.py`` holds the typed signatures (one call into the library each),
``options.py`` the choices and option parsing, ``ui.py`` the terminal output (rich), ``demo.py`` the demo."""
# ruff: noqa: E402 (the interrupt handling is installed before the imports it covers)

from bot import interrupts  # isort: skip

interrupts.install()  # first of all: a Ctrl-C during the imports below (seconds of them) is "interrupted" too

from bot.cli.app import app, main

__all__ = ["app", "main"]
