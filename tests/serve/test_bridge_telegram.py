"""The Telegram bridge end to end against a local fake of the Bot API: long polling and the webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.serve.guard import Guard
from bot.serve.secrets import TelegramConfig
from bot.serve.telegram import TEXT_LIMIT, poller, router
from tests.serve.fakes import FakeTelegram, echo, logs_reach_caplog, message_update  # noqa: F401 (an autouse fixture)

TOKEN = "123456789:AAHfakeTokenForTests_0123456789abcd"
SECRET = "webhook-secret_42"
FRIEND = 4242


@pytest.fixture
def fake():
    with FakeTelegram(TOKEN) as api:
        yield api


def config(fake: FakeTelegram, **kw) -> TelegramConfig:
    return TelegramConfig(**{"bot_token": TOKEN, "api_base": fake.url, "poll_timeout": 1, **kw})


def confirmed(fake: FakeTelegram, last: int) -> bool:
    """Whether the poller asked for the updates after ``last`` (which confirms it and those before)."""
    return bool(fake.offsets) and fake.offsets[-1] == last + 1


def run_poller(cfg: TelegramConfig, done, *, allow=(f"telegram:{FRIEND}",), rate: int = 10, clock=None,
               replier=echo, sleep=None, typing: bool = False):
    """Runs the poller until ``done()`` holds (or 20 s pass: the test then fails on its assertions), then
    cancels it, as the server does at shutdown; returns the poller (its stats)."""
    guard = Guard(allow, rate, **({"clock": clock} if clock else {}))
    extra = {"sleep": sleep} if sleep else {}
    poll = poller(cfg, replier, guard, typing=typing, **extra)

    async def main():
        task = asyncio.create_task(poll())
        deadline = time.monotonic() + 20
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return poll


def test_polling_answers_messages_and_advances_the_offset_past_every_update(fake):
    fake.push(FRIEND, "are you coming tonight?")
    fake.push(-100123, "hello group", chat_type="group")  # skipped: groups
    fake.push(FRIEND, None, sticker={"file_id": "x"})  # skipped: no text
    fake.push(FRIEND, "/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])  # skipped
    fake.push_raw({"edited_message": {"message_id": 1, "chat": {"id": FRIEND, "type": "private"}, "text": "x"}})
    last = fake.push(FRIEND, "8ish")
    poll = run_poller(config(fake), lambda: len(fake.sent) >= 4 and confirmed(fake, last), typing=True)
    assert fake.sent == [(FRIEND, "echo: are you coming tonight?"), (FRIEND, f"to telegram:{FRIEND}"),
                         (FRIEND, "echo: 8ish"), (FRIEND, f"to telegram:{FRIEND}")]
    assert fake.actions[0] == {"chat_id": FRIEND, "action": "typing"}
    assert fake.offsets[0] == 0 and fake.offsets[-1] == last + 1
    assert poll.stats.skipped == {"group": 1, "no text": 1, "command": 1, "edited_message": 1}
    assert poll.stats.received == 2 and poll.stats.replied == 2


def test_polling_refuses_senders_not_allowed_and_limits_the_rate(fake):
    now = [50.0]
    stranger = 777
    for i in range(3):
        fake.push(FRIEND, f"message {i}")
    last = fake.push(stranger, "let me in")
    poll = run_poller(config(fake), lambda: confirmed(fake, last) and len(fake.sent) >= 2, rate=2,
                      clock=lambda: now[0])
    assert [t for _, t in fake.sent if t.startswith("echo")] == ["echo: message 0", "echo: message 1"]
    assert all(chat == FRIEND for chat, _ in fake.sent)
    assert poll.stats.refused == {"rate limited": 1, "not allowed": 1}


def test_polling_backs_off_exponentially_and_says_why(fake, caplog):
    fake.webhook_set = True
    delays = []

    async def no_wait(seconds):
        delays.append(seconds)
        await asyncio.sleep(0)

    with caplog.at_level(logging.DEBUG):
        run_poller(config(fake), lambda: len(delays) >= 8, sleep=no_wait)
    assert delays[:8] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert "deleteWebhook" in caplog.text and TOKEN not in caplog.text


def test_a_refused_token_is_logged_without_the_token(fake, caplog):
    delays = []

    async def no_wait(seconds):
        delays.append(seconds)
        await asyncio.sleep(0)

    wrong = "987654321:AAHwrongwrongwrongwrongwrongwrong00"
    with caplog.at_level(logging.DEBUG):
        run_poller(config(fake, bot_token=wrong), lambda: len(delays) >= 2, sleep=no_wait)
    assert "answered 401" in caplog.text and "TALKLIKE_TELEGRAM_TOKEN" in caplog.text
    assert wrong not in caplog.text and "987654321" not in caplog.text


def test_the_token_never_reaches_the_logs(fake, caplog):
    """httpx logs each request's URL at INFO, and the token is in the URL's path."""
    last = fake.push(FRIEND, "hi")
    with caplog.at_level(logging.DEBUG):
        run_poller(config(fake), lambda: len(fake.sent) >= 2 and confirmed(fake, last))
    assert "HTTP Request" in caplog.text  # httpx did log the calls...
    assert TOKEN not in caplog.text and "bot***/sendMessage" in caplog.text  # ...with the token masked
    assert "hi" not in caplog.text.replace("HTTP", "")


def make_webhook(fake: FakeTelegram, *, replier=echo, allow=(f"telegram:{FRIEND}",)):
    cfg = config(fake, mode="webhook", secret_token=SECRET)
    api = router(cfg, replier, Guard(allow, 10), typing=False)
    app = FastAPI()
    app.include_router(api)
    return TestClient(app), api


def test_webhook_with_the_secret_token_is_answered(fake):
    client, api = make_webhook(fake)
    res = client.post("/webhook/telegram", json=message_update(1, FRIEND, "hi there"),
                      headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert res.status_code == 200
    assert fake.sent == [(FRIEND, "echo: hi there"), (FRIEND, f"to telegram:{FRIEND}")]
    assert api.stats.replied == 1


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                                     {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}])
def test_webhook_with_a_wrong_or_missing_secret_is_refused(fake, headers):
    client, api = make_webhook(fake)
    res = client.post("/webhook/telegram", json=message_update(1, FRIEND, "hi"), headers=headers)
    assert res.status_code == 403 and fake.sent == [] and api.stats.received == 0


def test_webhook_bad_input_gets_a_4xx_and_groups_are_skipped(fake):
    client, api = make_webhook(fake)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert client.post("/webhook/telegram", content=b"{oops", headers=headers).status_code == 400
    res = client.post("/webhook/telegram", json=message_update(2, -1001, "hi all", chat_type="supergroup"),
                      headers=headers)
    assert res.status_code == 200 and fake.sent == [] and api.stats.skipped == {"group": 1}


def test_long_replies_are_split_to_the_platform_limit(fake):
    async def long(key, text):
        return ["x" * 9000]  # no space to cut at: cut at the limit

    client, _ = make_webhook(fake, replier=long)
    client.post("/webhook/telegram", json=message_update(3, FRIEND, "go on"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert [len(t) for _, t in fake.sent] == [TEXT_LIMIT, TEXT_LIMIT, 9000 - 2 * TEXT_LIMIT]


def test_empty_replies_send_nothing(fake):
    async def silent(key, text):
        return [""]

    client, api = make_webhook(fake, replier=silent)
    client.post("/webhook/telegram", json=message_update(4, FRIEND, "hello?"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert fake.sent == [] and api.stats.replied == 0 and api.stats.send_errors == 0


@pytest.mark.slow
def test_a_real_tiny_bot_answers_through_the_server(served_workspace, fake):
    """The whole way: the server of bot.serve.app (uvicorn on 127.0.0.1) runs the poller beside it, the tiny
    trained bot answers (bot.serve.core's replier), replies reach the Bot API fake; the server's shutdown stops
    the poller."""
    from bot.serve.app import create_app
    from bot.serve.core import Service, Settings
    from tests.serve.conftest import running

    settings = Settings(data=served_workspace.root, strategy="greedy")
    service = Service(settings)
    service.load_default()
    poll = poller(config(fake), service.replier, Guard({f"telegram:{FRIEND}"}, 10))
    app = create_app(settings, background=[poll], service=service)
    fake.push(FRIEND, "hello there")
    last = fake.push(FRIEND, "want pizza")
    with running(settings, app):
        deadline = time.monotonic() + 60
        while (poll.stats.replied + poll.stats.send_errors < 2 or not confirmed(fake, last)) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    assert fake.sent == [(FRIEND, "hi friend"), (FRIEND, "yes please")]  # PATTERNS, in order
