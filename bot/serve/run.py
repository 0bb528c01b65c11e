"""``talklike serve``: check what was asked, load the bot, bind the port, then serve until Ctrl-C.

Everything that can go wrong at start does so before the port is bound, as the CLI's usual one-line error and
exit code: a non-loopback host without a token (exit 2), a missing or unreadable bot folder (exit 4), an
address in use (exit 2). The library never prints: ``ready(url, service, bridges)`` is called once the port
is bound, and the CLI says what to do next.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.serve.core import ServeError, Service, Settings
from ingest.errors import OptionError

if TYPE_CHECKING:
    import uvicorn
    from fastapi import APIRouter

    from bot.serve.app import Background


def check(settings: Settings, *, allow_no_token: bool = False) -> None:
    """Refuse, in one line, a server reachable from other machines that anyone could talk to."""
    if not settings.local and not settings.token and not allow_no_token:
        raise OptionError(f"--host {settings.host} opens the server beyond this machine, and no --token is set",
                          hint="pass --token (or set $TALKLIKE_TOKEN), or keep the default --host 127.0.0.1")
    if settings.token is not None and len(settings.token) < 8:
        raise OptionError("the token is shorter than 8 characters", hint="choose a longer --token")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); an address in use is a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ServeError(f"--host {host}: not an address of this machine",
                         hint="use 127.0.0.1, or an address this machine has") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__})",
                         hint="choose another --port, or stop the program that uses it") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def server(settings: Settings, app, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for ``app`` with the settings' limits; its own access log is off (``Guard`` writes one
    without query strings)."""
    import uvicorn

    configure_logging()
    config = uvicorn.Config(app, log_config=None, log_level=log_level, access_log=False,
                            timeout_keep_alive=int(max(1, settings.keep_alive)),
                            limit_concurrency=settings.limit_concurrency,
                            timeout_graceful_shutdown=int(max(1, settings.graceful_seconds)),
                            server_header=False, date_header=False, proxy_headers=False, lifespan="on")
    return uvicorn.Server(config)


class StderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a line is logged (not when the server started)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging() -> None:
    """uvicorn's warnings and errors, and the access log, on stderr: a time, then "METHOD /path status".
    (Not ``logging.config.dictConfig``, which would close every handler the host process had.)"""
    formatter = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for name, level in (("uvicorn", logging.WARNING), ("talklike.serve", logging.INFO)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if not any(isinstance(h, StderrHandler) for h in logger.handlers):
            handler = StderrHandler()
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    logging.getLogger("uvicorn.access").disabled = True


def bridges(service: Service, *, messenger: bool, telegram: str | None, config: Path | None,
            allow: tuple[str, ...] = (), allow_anyone: bool = False, rate: int | None = None,
            ) -> tuple[list[APIRouter], list[Background], str | None]:
    """The messenger bridges asked for (``bot.serve.messenger``, ``bot.serve.telegram``): their webhooks, their
    background tasks, and a line describing them (no secret in it). Secrets come from the environment or the
    0600 ``config`` file (``bot.serve.secrets``)."""
    if not messenger and not telegram:
        return [], [], None
    from bot.serve import guard as guards
    from bot.serve import secrets

    asked = [name for name, on in (("messenger", messenger), ("telegram", telegram)) if on]
    found = secrets.load_bridges(config, bridges=asked, allow=allow, allow_anyone=allow_anyone, rate=rate,
                                 telegram_mode=telegram)
    secrets.protect_config(found)
    guard = guards.Guard(found.allow, found.rate)
    routers: list[APIRouter] = []
    background: list[Background] = []
    if found.messenger is not None:
        from bot.serve import messenger as fb

        routers.append(fb.router(found.messenger, service.replier, guard))
    if found.telegram is not None:
        from bot.serve import telegram as tg

        if found.telegram.mode == "webhook":
            routers.append(tg.router(found.telegram, service.replier, guard))
        else:
            background.append(tg.poller(found.telegram, service.replier, guard))
    return routers, background, found.describe()


def serve(settings: Settings, *, allow_no_token: bool = False, messenger: bool = False, telegram: str | None = None,
          config: Path | None = None, allow: tuple[str, ...] = (), allow_anyone: bool = False, rate: int | None = None,
          ready: Callable[[str, Service, str | None], None] | None = None) -> None:
    """Serve the bot of ``settings.person`` (and the workspace's other bots) until interrupted. Raises the
    library's typed errors before binding; Ctrl-C ends it with ``KeyboardInterrupt`` (uvicorn raises the
    signal again once it has shut down)."""
    from bot.serve.app import create_app

    check(settings, allow_no_token=allow_no_token)
    service = Service(settings)
    routers, background, described = bridges(service, messenger=messenger, telegram=telegram, config=config,
                                             allow=allow, allow_anyone=allow_anyone, rate=rate)
    service.load_default()  # after the bridges' settings: a bad one is said before seconds of loading
    app = create_app(settings, routers=routers, background=background, service=service)
    sock = bind(settings.host, settings.port)
    try:
        if ready is not None:
            ready(url_of(sock, settings.host), service, described)
        server(settings, app).run(sockets=[sock])
    finally:
        sock.close()
