"""Who may talk to a bridged bot and how often (bot.serve.guard), and the bridges' secrets (bot.serve.secrets)."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from bot.serve.guard import NOT_ALLOWED, RATE_LIMITED, Guard, Outbox, split_text
from bot.serve.secrets import (
    BridgeConfig,
    BridgeConfigError,
    MessengerConfig,
    TelegramConfig,
    load_bridges,
    protect_logs,
)
from ingest.errors import EXIT_USAGE, TalklikeError

SECRETS = {"TALKLIKE_MESSENGER_APP_SECRET": "appsecret-aaaa1111", "TALKLIKE_MESSENGER_PAGE_TOKEN": "EAAGpage-bbbb2222",
           "TALKLIKE_MESSENGER_VERIFY_TOKEN": "verify-cccc3333", "TALKLIKE_TELEGRAM_TOKEN": "1234:tg-dddd4444",
           "TALKLIKE_TELEGRAM_SECRET": "tgsecret-eeee5555"}
ALLOW = {"TALKLIKE_ALLOW": "telegram:42, messenger:1234567"}


# ------------------------------------------------------------------------------------------------ the guard
def test_guard_allowlist():
    guard = Guard({"telegram:1"}, 5)
    assert guard.check("telegram:1") is None
    assert guard.check("telegram:2") == NOT_ALLOWED
    assert Guard(None, 5).check("telegram:2") is None  # None: anyone (--allow-anyone)
    assert Guard(set(), 5).check("telegram:1") == NOT_ALLOWED  # empty: nobody


def test_rate_limit_is_a_sliding_minute_per_sender():
    now = [0.0]
    guard = Guard(None, 3, clock=lambda: now[0])
    assert [guard.check("a") for _ in range(4)] == [None, None, None, RATE_LIMITED]
    assert guard.check("b") is None  # per sender
    now[0] = 30.0
    assert guard.check("a") == RATE_LIMITED  # refused messages do not count, but the minute is not over
    now[0] = 60.0  # the first three are a minute old
    assert [guard.check("a") for _ in range(4)] == [None, None, None, RATE_LIMITED]


def test_guard_memory_is_bounded():
    guard = Guard(None, 2, clock=lambda: 0.0, max_senders=3)
    for sender in "abcd":
        guard.check(sender)
    guard.check("b")  # a, the least recently seen, was evicted when d came; b moves to the end
    assert list(guard._seen) == ["c", "d", "b"]
    assert all(len(times) <= 2 for times in guard._seen.values())
    assert guard.first_refusal("x") and not guard.first_refusal("x")


def test_outbox_keeps_each_senders_order_and_is_bounded():
    done: list[str] = []

    def work(name: str, hops: int):
        async def run():
            for _ in range(hops):  # a slow first message must not be overtaken by the next one of its sender
                await asyncio.sleep(0)
            done.append(name)
        return run

    async def main():
        outbox = Outbox(logging.getLogger("talklike.serve.test"), max_pending=3)
        assert outbox.submit("a", work("a1", 5)) and outbox.submit("a", work("a2", 0))
        assert outbox.submit("b", work("b1", 5))
        await asyncio.sleep(0)  # the tasks have started: three pending
        assert not outbox.submit("c", work("c1", 0)) and outbox.dropped == 1
        await outbox.drain()
        assert outbox.pending == 0 and outbox._locks == {}  # nothing is kept for senders done with

    asyncio.run(main())
    assert done.index("a1") < done.index("a2") and sorted(done) == ["a1", "a2", "b1"]


def test_split_text():
    assert split_text("short", 10) == ["short"]
    assert split_text("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert split_text("   ", 10) == []


# ---------------------------------------------------------------------------------------------- the secrets
def test_settings_from_the_environment():
    config = load_bridges(None, {**SECRETS, **ALLOW})
    assert config.messenger == MessengerConfig("appsecret-aaaa1111", "EAAGpage-bbbb2222", "verify-cccc3333")
    assert config.telegram.bot_token == "1234:tg-dddd4444" and config.telegram.mode == "poll"
    assert config.allow == {"telegram:42", "messenger:1234567"} and config.rate == 10
    assert config.messenger.api_base == "https://graph.facebook.com/v21.0"
    assert config.telegram.api_base == "https://api.telegram.org"
    only_tg = load_bridges(None, {"TALKLIKE_TELEGRAM_TOKEN": "1:x", "TALKLIKE_TELEGRAM_API": "http://127.0.0.1:9/",
                                  "TALKLIKE_RATE": "3"}, allow=["telegram:1"])
    assert only_tg.messenger is None and only_tg.telegram.api_base == "http://127.0.0.1:9" and only_tg.rate == 3


def test_a_missing_secret_names_its_variable():
    env = {k: v for k, v in SECRETS.items() if k != "TALKLIKE_MESSENGER_PAGE_TOKEN"}
    with pytest.raises(BridgeConfigError) as err:
        load_bridges(None, {**env, **ALLOW})
    assert "TALKLIKE_MESSENGER_PAGE_TOKEN" in err.value.one_line() and err.value.exit_code == EXIT_USAGE
    with pytest.raises(BridgeConfigError, match="TALKLIKE_TELEGRAM_TOKEN"):
        load_bridges(None, ALLOW, bridges=["telegram"])
    with pytest.raises(BridgeConfigError, match="TALKLIKE_TELEGRAM_SECRET"):
        load_bridges(None, {"TALKLIKE_TELEGRAM_TOKEN": "1:x", **ALLOW}, telegram_mode="webhook")
    with pytest.raises(BridgeConfigError, match="TALKLIKE_TELEGRAM_TOKEN"):
        BridgeConfig().require("telegram")


def test_an_allowlist_is_required_unless_anyone_may_talk():
    with pytest.raises(BridgeConfigError) as err:
        load_bridges(None, SECRETS)
    assert "--allow-anyone" in err.value.one_line() and "\n" not in err.value.one_line()
    assert load_bridges(None, SECRETS, allow_anyone=True).allow is None
    with pytest.raises(BridgeConfigError, match="telegram:<digits>"):
        load_bridges(None, SECRETS, allow=["kim"])
    assert load_bridges(None, {}).any is False  # no bridge: nothing to allow


def write_config(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "bridges.toml"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


CONFIG = """allow = ["telegram:42"]
rate = 4
[messenger]
app_secret = "file-app-secret"
page_token = "file-page-token"
verify_token = "file-verify-token"
[telegram]
token = "99:file-token"
secret_token = "file-secret"
mode = "webhook"
"""


def test_settings_from_an_owner_only_file(tmp_path):
    path = write_config(tmp_path, CONFIG)
    config = load_bridges(path, {})
    assert config.messenger.page_token == "file-page-token" and config.telegram.mode == "webhook"
    assert config.allow == {"telegram:42"} and config.rate == 4
    config = load_bridges(path, {"TALKLIKE_TELEGRAM_TOKEN": "1:env"}, allow=["messenger:5"], rate=7)
    assert config.telegram.bot_token == "1:env" and config.allow == {"telegram:42", "messenger:5"}
    assert config.rate == 7


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_may_read_is_refused_in_one_line(tmp_path, mode):
    path = write_config(tmp_path, CONFIG, mode)
    with pytest.raises(BridgeConfigError) as err:
        load_bridges(path, {})
    line = err.value.one_line()
    assert str(path) in line and f"chmod 600 {path}" in line and "\n" not in line
    assert "file-" not in line


def test_file_mistakes_are_named_without_values(tmp_path):
    cases = {'[messenger]\npage_tokn = "file-x"\n': "messenger.page_tokn",
             'rate = "fast-file-x"\n': "whole number",
             '[telegram]\ntoken = "file-x\n': "line 2",  # unclosed string
             '[telegram]\ntoken = "1:file-x"\nsecret_token = "bad secret file-x"\n': "secret token",
             'allow = "telegram:1"\n': "allow must be a list"}
    for text, expected in cases.items():
        with pytest.raises(BridgeConfigError) as err:
            load_bridges(write_config(tmp_path, text), {}, allow_anyone=True)
        assert expected in err.value.one_line() and "file-x" not in err.value.one_line(), text
    with pytest.raises(BridgeConfigError, match="no such file"):
        load_bridges(tmp_path / "absent.toml", {})


def test_secrets_are_never_shown():
    config = load_bridges(None, {**SECRETS, **ALLOW})
    shown = repr(config) + str(config) + repr(config.messenger) + repr(config.telegram) + config.describe()
    for secret in SECRETS.values():
        assert secret not in shown
    assert "app_secret='***'" in repr(config.messenger) and "api_base='https://api.telegram.org'" in repr(config.telegram)
    assert repr(TelegramConfig()).count("''") == 2  # an unset secret shows as empty, not as ***
    assert isinstance(BridgeConfigError("x"), TalklikeError)


def test_protect_logs_masks_secrets_in_library_logs():
    protect_logs("sekret-token-zzz")
    seen: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: seen.append(record.getMessage())
    loggers = [logging.getLogger(name) for name in ("httpx", "uvicorn.access")]
    saved = [(logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:  # (a server run by another test may have configured them otherwise)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    try:
        loggers[0].info('HTTP Request: %s %s "%s"', "POST", "https://api.telegram.org/botsekret-token-zzz/getUpdates",
                        "HTTP/1.1 200 OK")
        loggers[1].info("GET /webhook/messenger?hub.verify_token=sekret-token-zzz")
    finally:
        for logger, (level, disabled) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.disabled = disabled
    assert len(seen) == 2 and all("***" in line and "sekret" not in line for line in seen)


def test_routers_take_the_whole_bridge_config():
    """``router(BridgeConfig, replier)`` works as ``router(its part, replier, Guard(its allow, its rate))``."""
    from bot.serve import messenger, telegram

    async def replier(key, text):
        return [text]

    config = load_bridges(None, {**SECRETS, **ALLOW})
    assert [r.path for r in messenger.router(config, replier).routes] == ["/webhook/messenger"] * 2
    assert telegram.poller(config, replier).stats.received == 0
    with pytest.raises(BridgeConfigError, match="TALKLIKE_MESSENGER_APP_SECRET"):
        messenger.router(load_bridges(None, {"TALKLIKE_TELEGRAM_TOKEN": "1:x", **ALLOW}), replier)
