"""The ``talklike`` command: ``app.py`` holds the typed signatures (one call into the library each),
``options.py`` the choices and option parsing, ``ui.py`` the terminal output (rich), ``demo.py`` the demo."""
# ruff: noqa: E402 (the interrupt handling is installed before the imports it covers)

from bot import interrupts  # isort: skip

interrupts.install()  # first of all: a Ctrl-C during the imports below (seconds of them) is "interrupted" too

import os

# TensorFlow's C++ log lines ("E0000 ... oneDNN supports DT_INT64 only on ...", absl's, gRPC's) are not for
# users: quietened before anything imports TensorFlow (its import-time lines: ui.quiet_import_keras).
# TALKLIKE_DEBUG=1 keeps them.
if not os.environ.get("TALKLIKE_DEBUG"):
    for _name, _value in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("GRPC_VERBOSITY", "ERROR"), ("GLOG_minloglevel", "3"),
                          ("ABSL_MIN_LOG_LEVEL", "3")):
        os.environ.setdefault(_name, _value)

from bot.cli.app import app, main

__all__ = ["app", "main"]
