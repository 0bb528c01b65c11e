"""The bridges' settings and secrets: from environment variables or an owner-only TOML file, never printed.

Environment variables (they win over the file):

    TALKLIKE_MESSENGER_APP_SECRET    the Meta app's secret: checks X-Hub-Signature-256 of each webhook call
    TALKLIKE_MESSENGER_PAGE_TOKEN    the Page access token the Send API is called with
    TALKLIKE_MESSENGER_VERIFY_TOKEN  the word you typed in the app's webhook settings (the verification)
    TALKLIKE_MESSENGER_API           the Graph API base (default https://graph.facebook.com/v21.0)
    TALKLIKE_TELEGRAM_TOKEN          the token BotFather gave
    TALKLIKE_TELEGRAM_SECRET         the webhook's secret token (X-Telegram-Bot-Api-Secret-Token)
    TALKLIKE_TELEGRAM_MODE           poll (default) or webhook
    TALKLIKE_TELEGRAM_API            the Bot API base (default https://api.telegram.org)
    TALKLIKE_ALLOW                   who may talk to the bot: ids such as telegram:12345,messenger:678
    TALKLIKE_RATE                    messages a minute per sender (default 10)

The file (``talklike serve --config FILE``, mode 600) holds the same under names of its own:

    allow = ["telegram:12345", "messenger:6789012345"]
    rate = 10
    [messenger]
    app_secret = "..."
    page_token = "..."
    verify_token = "..."
    [telegram]
    token = "123456:ABC..."
    mode = "poll"

A bridge starts when any of its settings is given (or when it is asked for by name). Who may talk to the bot
must be said: an empty allowlist is refused unless ``allow_anyone`` (``--allow-anyone``) is given, because the
bot speaks as a person. Errors name the variable or the key, never a value.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from ingest.errors import OptionError

MESSENGER_API = "https://graph.facebook.com/v21.0"
TELEGRAM_API = "https://api.telegram.org"
DEFAULT_RATE = 10  # messages a minute per sender
BRIDGES = ("messenger", "telegram")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook's secret_token


class BridgeConfigError(OptionError):
    """A bridge's settings are missing, malformed, or in a file others can read."""


def _masked(obj) -> str:
    shown = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("secret"):
            value = "***" if value else ""
        shown.append(f"{f.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(shown)})"


def _secret(default: str = ""):
    from dataclasses import field

    return field(default=default, metadata={"secret": True})


@dataclass(frozen=True)
class MessengerConfig:
    """Facebook Messenger Platform: a Page's webhook and the Send API."""

    app_secret: str = _secret()  # the app's secret: HMAC-SHA256 key of X-Hub-Signature-256
    page_token: str = _secret()  # Page access token: the Send API's access_token
    verify_token: str = _secret()  # answered by the verification GET (hub.verify_token)
    api_base: str = MESSENGER_API  # Graph API base URL, version included

    __repr__ = _masked


@dataclass(frozen=True)
class TelegramConfig:
    """Telegram Bot API: long polling (getUpdates) or a webhook, replies through sendMessage."""

    bot_token: str = _secret()  # BotFather's token; it sits in every API URL's path
    secret_token: str = _secret()  # webhook mode: the X-Telegram-Bot-Api-Secret-Token header's value
    api_base: str = TELEGRAM_API  # Bot API base URL
    mode: str = "poll"  # "poll" (getUpdates) or "webhook" (POST /webhook/telegram)
    poll_timeout: int = 30  # seconds a getUpdates call may wait for updates (long polling)

    __repr__ = _masked


@dataclass
class BridgeConfig:
    """The bridges to start, who may talk to the bot through them, and how often."""

    messenger: MessengerConfig | None = None
    telegram: TelegramConfig | None = None
    allow: frozenset[str] | None = None  # sender ids ("telegram:12345"); None: anyone (--allow-anyone)
    rate: int = DEFAULT_RATE  # messages a minute per sender

    @property
    def any(self) -> bool:
        return self.messenger is not None or self.telegram is not None

    def require(self, name: str) -> MessengerConfig | TelegramConfig:
        """The settings of the bridge ``name``, or the one-line error naming what to set."""
        found = getattr(self, name, None)
        if found is None:
            var = {"messenger": "TALKLIKE_MESSENGER_APP_SECRET, TALKLIKE_MESSENGER_PAGE_TOKEN and "
                                "TALKLIKE_MESSENGER_VERIFY_TOKEN", "telegram": "TALKLIKE_TELEGRAM_TOKEN"}[name]
            raise BridgeConfigError(f"the {name} bridge has no settings: set {var}, or give a settings file",
                                    hint="see docs/bridges.md")
        return found

    def describe(self) -> str:
        """One line for the CLI, without secrets."""
        parts = []
        if self.messenger:
            parts.append("messenger (webhook at /webhook/messenger)")
        if self.telegram:
            how = "webhook at /webhook/telegram" if self.telegram.mode == "webhook" else "long polling"
            parts.append(f"telegram ({how})")
        if not parts:
            return "no bridges"
        who = "anyone" if self.allow is None else f"{len(self.allow)} allowed sender(s)"
        return f"bridges: {', '.join(parts)}; {who}; {self.rate} messages a minute per sender"


# (section, key in the file, environment variable, field of the config)
_MESSENGER_KEYS = [("app_secret", "TALKLIKE_MESSENGER_APP_SECRET", "app_secret"),
                   ("page_token", "TALKLIKE_MESSENGER_PAGE_TOKEN", "page_token"),
                   ("verify_token", "TALKLIKE_MESSENGER_VERIFY_TOKEN", "verify_token"),
                   ("api", "TALKLIKE_MESSENGER_API", "api_base")]
_TELEGRAM_KEYS = [("token", "TALKLIKE_TELEGRAM_TOKEN", "bot_token"),
                  ("secret_token", "TALKLIKE_TELEGRAM_SECRET", "secret_token"),
                  ("mode", "TALKLIKE_TELEGRAM_MODE", "mode"),
                  ("api", "TALKLIKE_TELEGRAM_API", "api_base")]
_TOP_KEYS = {"allow", "rate", "messenger", "telegram"}


def read_config_file(path: Path) -> dict:
    """The TOML file at ``path``, refused when others may read it (it holds secrets)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise BridgeConfigError(f"{path}: no such file", hint="give the bridges' settings file, or use the "
                                "TALKLIKE_* environment variables (docs/bridges.md)") from None
    except OSError as exc:
        raise BridgeConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    if mode & 0o077:
        raise BridgeConfigError(f"{path}: others may read or change this file of secrets (mode {mode & 0o777:o})",
                                hint=f"run: chmod 600 {path}")
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at (line \d+, column \d+|end of document)\)", str(exc))
        raise BridgeConfigError(f"{path}: not valid TOML" + (f" at {where.group(1)}" if where else ""),
                                hint="see docs/bridges.md for the file's layout") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BridgeConfigError(f"{path}: cannot be read ({type(exc).__name__})") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    for section, keys in (("messenger", _MESSENGER_KEYS), ("telegram", _TELEGRAM_KEYS)):
        if section in doc:
            if not isinstance(doc[section], dict):
                raise BridgeConfigError(f"{path}: [{section}] must be a table")
            unknown += [f"{section}.{k}" for k in sorted(set(doc[section]) - {k for k, _, _ in keys})]
    if unknown:
        raise BridgeConfigError(f"{path}: unknown key {unknown[0]}",
                                hint="keys: allow, rate, [messenger] app_secret page_token verify_token api, "
                                     "[telegram] token secret_token mode api")
    return doc


def _section(doc: dict, env: Mapping[str, str], name: str, keys, path: Path | None) -> dict[str, str]:
    """The settings given for one bridge: {field: value}, the environment winning over the file."""
    table = doc.get(name, {})
    values = {}
    for key, var, attr in keys:
        if env.get(var):
            values[attr] = env[var]
        elif key in table:
            if not isinstance(table[key], str) or not table[key]:
                raise BridgeConfigError(f"{path}: {name}.{key} must be a non-empty string")
            values[attr] = table[key]
    return values


def _require(values: dict, name: str, keys, needed: Iterable[str], path: Path | None) -> None:
    for key, var, attr in keys:
        if attr in needed and not values.get(attr):
            where = f"{var}, or {name}.{key} in {path}" if path else var
            raise BridgeConfigError(f"the {name} bridge needs its {key.replace('_', ' ')}: set {where}",
                                    hint="see docs/bridges.md")


def _base_url(value: str, what: str) -> str:
    if not re.match(r"https?://[^\s/]+", value):
        raise BridgeConfigError(f"{what} must be an http(s) URL")
    return value.rstrip("/")


def load_bridges(config_path: Path | None = None, env: Mapping[str, str] = os.environ, *,
                 bridges: Collection[str] | None = None, allow: Iterable[str] = (), allow_anyone: bool = False,
                 rate: int | None = None, telegram_mode: str | None = None) -> BridgeConfig:
    """The bridges' settings from ``env`` and the file ``config_path`` (optional; mode 600 or refused).

    ``bridges``: the names to start ("messenger", "telegram"); None starts each bridge that has any setting.
    ``allow``: more sender ids, added to the file's and TALKLIKE_ALLOW's; ``allow_anyone``: no allowlist.
    ``rate``: messages a minute per sender (default: the file's, TALKLIKE_RATE, or 10).
    ``telegram_mode``: "poll" or "webhook", over TALKLIKE_TELEGRAM_MODE and the file's.
    Raises BridgeConfigError (one line, naming the variable or key; never a value)."""
    doc = read_config_file(Path(config_path)) if config_path is not None else {}
    path = Path(config_path) if config_path is not None else None
    unknown = sorted(set(bridges or ()) - set(BRIDGES))
    if unknown:
        raise BridgeConfigError(f"unknown bridge {unknown[0]!r}", hint=f"choose from: {', '.join(BRIDGES)}")

    messenger = telegram = None
    m = _section(doc, env, "messenger", _MESSENGER_KEYS, path)
    if (bridges is None and m) or (bridges is not None and "messenger" in bridges):
        _require(m, "messenger", _MESSENGER_KEYS, ("app_secret", "page_token", "verify_token"), path)
        m["api_base"] = _base_url(m.get("api_base", MESSENGER_API), "the messenger API (TALKLIKE_MESSENGER_API)")
        messenger = MessengerConfig(**m)
    t = _section(doc, env, "telegram", _TELEGRAM_KEYS, path)
    if (bridges is None and t) or (bridges is not None and "telegram" in bridges):
        _require(t, "telegram", _TELEGRAM_KEYS, ("bot_token",), path)
        t["mode"] = telegram_mode or t.get("mode", "poll")
        if t["mode"] not in ("poll", "webhook"):
            raise BridgeConfigError("the telegram mode (TALKLIKE_TELEGRAM_MODE, telegram.mode) must be poll or webhook")
        if t["mode"] == "webhook":
            _require(t, "telegram", _TELEGRAM_KEYS, ("secret_token",), path)
        if t.get("secret_token") and not _SECRET_TOKEN.fullmatch(t["secret_token"]):
            raise BridgeConfigError("the telegram secret token must be 1-256 of A-Z, a-z, 0-9, _ and -")
        t["api_base"] = _base_url(t.get("api_base", TELEGRAM_API), "the telegram API (TALKLIKE_TELEGRAM_API)")
        telegram = TelegramConfig(**t)

    ids = set(allow)
    listed = doc.get("allow", [])
    if not isinstance(listed, list) or not all(isinstance(x, str | int) for x in listed):
        raise BridgeConfigError(f"{path}: allow must be a list of sender ids such as \"telegram:12345\"")
    ids.update(str(x) for x in listed)
    ids.update(x.strip() for x in env.get("TALKLIKE_ALLOW", "").split(",") if x.strip())
    for sender in ids:
        if not re.fullmatch(r"(messenger|telegram):[0-9]+", sender):
            raise BridgeConfigError("an allowed sender must read messenger:<digits> or telegram:<digits>",
                                    hint="the server's log names the id of each refused sender")
    if (messenger or telegram) and not ids and not allow_anyone:
        raise BridgeConfigError("a bridge is on but nobody is allowed to talk to the bot",
                                hint="list sender ids in TALKLIKE_ALLOW or the file's allow (e.g. telegram:12345), "
                                     "or pass --allow-anyone")

    if rate is None:
        raw = env.get("TALKLIKE_RATE") or doc.get("rate", DEFAULT_RATE)
        try:
            rate = int(raw)
        except (TypeError, ValueError):
            raise BridgeConfigError("the rate (TALKLIKE_RATE, rate) must be a whole number of messages a minute") \
                from None
    rate = int(rate)
    if rate < 1:
        raise BridgeConfigError("the rate must be at least 1 message a minute")
    return BridgeConfig(messenger=messenger, telegram=telegram, allow=None if allow_anyone else frozenset(ids),
                        rate=rate)


def settings_and_guard(config, name: str, guard):
    """What a bridge's ``router``/``poller`` was given, as (its own settings, a Guard): from a ``BridgeConfig``,
    its ``name`` part and a Guard of its allowlist and rate; else the settings and the guard given."""
    from bot.serve.guard import Guard

    if isinstance(config, BridgeConfig):
        return config.require(name), guard if guard is not None else Guard(config.allow, config.rate)
    if guard is None:
        raise TypeError("a bridge given its own settings needs a guard: Guard(allow, rate_per_minute)")
    return config, guard


class Redactor(logging.Filter):
    """Replaces each known secret in a log record by ***: the Telegram token sits in every Bot API URL's path,
    the page token in the Send API's query, the verify token in the verification GET's query; httpx logs request
    URLs and uvicorn's access log logs paths with their query."""

    def __init__(self) -> None:
        super().__init__("talklike-redact")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = message
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


REDACTOR = Redactor()
# A logger's filters see only the records made by that logger (not its children's), so each one is named.
LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
           "uvicorn.access", "uvicorn.error", "talklike.serve.messenger", "talklike.serve.telegram")


def protect_logs(*secrets: str, loggers: Iterable[str] = LOGGERS) -> None:
    """Keep ``secrets`` out of the records of ``loggers``: each occurrence becomes ***."""
    REDACTOR.secrets.update(s for s in secrets if s)
    for name in loggers:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)


def protect_config(config: BridgeConfig) -> None:
    """``protect_logs`` for every secret of ``config``."""
    found = []
    for part in (config.messenger, config.telegram):
        if part is not None:
            found += [getattr(part, f.name) for f in fields(part) if f.metadata.get("secret")]
    protect_logs(*found)
