"""Telegram Bot API bridge: long polling (``getUpdates``) or a webhook in, ``sendMessage`` out.

An update, as ``getUpdates`` returns it in ``result`` or the webhook receives it as its body::

    {"update_id": 10000, "message": {"message_id": 1, "date": 1700000000, "text": "hi",
        "from": {"id": 12345, "is_bot": false, "first_name": "Kim"}, "chat": {"id": 12345, "type": "private"}}}

Text messages of private chats from allowed senders are answered with ``POST {api_base}/bot<token>/sendMessage``
``{"chat_id": 12345, "text": "..."}``. Group chats, edits, commands (``/start``), bots and messages without text
are skipped and counted. The token is part of every API URL's path: no URL is ever logged (httpx's request log
goes through ``secrets.protect_logs``), and failures are logged by status and error code only.

Polling needs the bot to have no webhook (Telegram answers 409 otherwise): talklike does not change the bot's
settings; remove a webhook with the Bot API's ``deleteWebhook``, or use the webhook mode.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

import httpx
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response

from bot.serve.guard import Guard, Outbox, Replier, Stats, split_text
from bot.serve.secrets import BridgeConfig, TelegramConfig, protect_logs, settings_and_guard

log = logging.getLogger("talklike.serve.telegram")

TEXT_LIMIT = 4096  # characters in one Telegram message
MAX_BODY = 1 << 20  # bytes of one webhook call
TIMEOUT = httpx.Timeout(10.0)  # seconds, for each sendMessage call
BACKOFF_MAX = 60.0  # seconds: the longest wait between failed getUpdates calls
PATH = "/webhook/telegram"


class _Bridge:
    """What the webhook and the poller share: reading an update, and answering it."""

    def __init__(self, config: TelegramConfig | BridgeConfig, replier: Replier, guard: Guard | None, typing: bool,
                 stats: Stats | None):
        config, guard = settings_and_guard(config, "telegram", guard)
        protect_logs(config.bot_token, config.secret_token)
        self.config, self.replier, self.guard, self.typing = config, replier, guard, typing
        self.stats = stats if stats is not None else Stats()
        self.outbox = Outbox(log)

    def method(self, name: str) -> str:
        return f"{self.config.api_base}/bot{self.config.bot_token}/{name}"

    def accept(self, update: object) -> tuple[str, int, str] | None:
        """(conversation key, chat id, text) of an update the bot answers, else None (skipped or refused)."""
        kind = _kind(update)
        if kind != "text":
            self.stats.skipped[kind] += 1
            return None
        message = update["message"]
        chat_id = message["chat"]["id"]
        key = f"telegram:{chat_id}"
        reason = self.guard.check(key)
        if reason:
            self.stats.refused[reason] += 1
            if self.guard.first_refusal(key):
                log.warning("telegram: messages from %s are refused (%s)", key, reason)
            return None
        self.stats.received += 1
        return key, chat_id, message["text"]

    def answer(self, key: str, chat_id: int, text: str) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                if self.typing:
                    await self.call(client, "sendChatAction", {"chat_id": chat_id, "action": "typing"})
                burst = await self.replier(key, text)
                sent = 0
                for message in burst:
                    for piece in split_text(message, TEXT_LIMIT):
                        sent += await self.call(client, "sendMessage", {"chat_id": chat_id, "text": piece})
                self.stats.replied += bool(sent)
        return work

    async def call(self, client: httpx.AsyncClient, name: str, params: dict) -> bool:
        """One Bot API call; a failure is logged as one line (method, status, error code) and counted."""
        try:
            response = await client.post(self.method(name), json=params)
        except httpx.HTTPError as exc:
            self.stats.send_errors += 1
            log.warning("telegram: %s could not reach the Bot API (%s)", name, type(exc).__name__)
            return False
        if response.status_code != 200 or not _ok(response):
            self.stats.send_errors += 1
            log.warning("telegram: %s answered %d", name, response.status_code)
            return False
        if name == "sendMessage":
            self.stats.sent += 1
        return True


def _ok(response: httpx.Response) -> bool:
    try:
        return response.json().get("ok") is True
    except (ValueError, AttributeError):
        return False


def _kind(update: object) -> str:
    if not isinstance(update, dict):
        return "malformed"
    message = update.get("message")
    if not isinstance(message, dict):
        for kind in ("edited_message", "channel_post", "callback_query", "my_chat_member"):
            if kind in update:
                return kind
        return "other"
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        return "malformed"
    if chat.get("type") != "private":
        return "group"  # the bot answers private chats only
    if isinstance(sender, dict) and sender.get("is_bot"):
        return "bot"
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return "no text"
    entities = message.get("entities")
    if isinstance(entities, list) and any(isinstance(e, dict) and e.get("type") == "bot_command"
                                          and e.get("offset") == 0 for e in entities):
        return "command"  # /start, sent when someone opens the bot
    return "text"


def router(config: TelegramConfig | BridgeConfig, replier: Replier, guard: Guard | None = None, *,
           typing: bool = True, stats: Stats | None = None) -> APIRouter:
    """``POST /webhook/telegram``, for the webhook mode: each update is checked against the secret token
    (``X-Telegram-Bot-Api-Secret-Token``), acknowledged, and answered in the background. The router's ``stats``
    and ``outbox`` attributes count what it did and hold the replies under way."""
    bridge = _Bridge(config, replier, guard, typing, stats)
    config = bridge.config
    api = APIRouter(tags=["bridges"])
    api.stats, api.outbox = bridge.stats, bridge.outbox

    @api.post(PATH, include_in_schema=False)
    async def receive(request: Request, background: BackgroundTasks) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not config.secret_token or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                              config.secret_token.encode()):
            log.warning("telegram: a webhook call with a missing or wrong secret token was refused")
            return JSONResponse({"detail": "X-Telegram-Bot-Api-Secret-Token is missing or wrong"}, status_code=403)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return JSONResponse({"detail": f"body over {MAX_BODY} bytes"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"detail": f"body over {MAX_BODY} bytes"}, status_code=413)
        try:
            update = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
        accepted = bridge.accept(update)
        if accepted and bridge.outbox.admit():
            background.add_task(bridge.outbox.run, accepted[0], bridge.answer(*accepted))
        return Response(status_code=200)

    return api


def poller(config: TelegramConfig | BridgeConfig, replier: Replier, guard: Guard | None = None, *,
           typing: bool = True, stats: Stats | None = None,
           sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Callable[[], Awaitable[None]]:
    """A coroutine function that long-polls ``getUpdates`` until cancelled, answering each message: run it as a
    task beside the server (``asyncio.create_task(poller(...)())``) and cancel the task to stop. The offset moves
    past every update, skipped ones included; failed calls are retried after 1, 2, 4 ... 60 seconds. At start
    it reads what Telegram kept while no one polled (unconfirmed updates, up to 24 hours).
    The function's ``stats`` and ``outbox`` attributes count what it did and hold the replies under way."""
    bridge = _Bridge(config, replier, guard, typing, stats)
    config = bridge.config

    async def poll() -> None:
        offset = 0
        failures = 0
        timeout = httpx.Timeout(10.0, read=config.poll_timeout + 10.0)
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                while True:
                    updates = await _get_updates(client, offset)
                    if updates is None:
                        failures += 1
                        await sleep(min(BACKOFF_MAX, 2.0 ** (failures - 1)))
                        continue
                    failures = 0
                    for update in updates:
                        if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                            offset = max(offset, update["update_id"] + 1)
                        accepted = bridge.accept(update)
                        if accepted:
                            bridge.outbox.submit(accepted[0], bridge.answer(*accepted))
            finally:
                await bridge.outbox.close()

    async def _get_updates(client: httpx.AsyncClient, offset: int) -> list | None:
        # (no allowed_updates: Telegram would keep it as the bot's setting; other kinds are skipped here)
        params = {"offset": offset, "timeout": config.poll_timeout}
        try:
            response = await client.post(bridge.method("getUpdates"), json=params)
        except httpx.HTTPError as exc:
            log.warning("telegram: getUpdates could not reach the Bot API (%s); trying again", type(exc).__name__)
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True \
                and isinstance(body.get("result"), list):
            return body["result"]
        hint = {401: ": the bot token was refused (check TALKLIKE_TELEGRAM_TOKEN)",
                404: ": the bot token was refused (check TALKLIKE_TELEGRAM_TOKEN)",
                409: ": the bot has a webhook set, or another program polls it (remove the webhook with "
                     "deleteWebhook, or use the webhook mode)"}.get(response.status_code, "")
        log.warning("telegram: getUpdates answered %d%s; trying again", response.status_code, hint)
        return None

    poll.stats, poll.outbox = bridge.stats, bridge.outbox
    return poll
