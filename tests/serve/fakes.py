"""Local fakes of the platforms the bridges talk to, speaking their real wire format on 127.0.0.1.

- ``FakeGraph``: the Graph API's Send API, ``POST /v21.0/me/messages?access_token=PAGE_TOKEN`` with
  ``{"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": ...}}`` or
  ``{"recipient": ..., "sender_action": "typing_on"}``; answers ``{"recipient_id", "message_id"}``, or the
  Graph error ``{"error": {"message", "type": "OAuthException", "code": 190}}`` (400) for a wrong token.
- ``FakeTelegram``: the Bot API, ``POST /bot<TOKEN>/<method>`` with JSON parameters; ``getUpdates`` long-polls
  the queued updates from ``offset`` (confirming the ones before it), ``sendMessage`` and ``sendChatAction``
  are recorded; every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description"}``.

Each records what it receives, and runs on a free port in a thread (``with FakeGraph(...) as fake:``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class _Served:
    """An ASGI app served by uvicorn on 127.0.0.1, on a free port, in a thread."""

    app: FastAPI

    def __enter__(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake did not start")
            time.sleep(0.01)
        self._sock = sock
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self._sock.close()


class FakeGraph(_Served):
    """The Messenger Send API. ``calls``: (query parameters, JSON body) of each call, in order. ``fail``: a
    status to answer every call with (e.g. 500), to see the bridge survive it."""

    version = "v21.0"

    def __init__(self, page_token: str):
        self.page_token = page_token
        self.calls: list[tuple[dict, dict]] = []
        self.fail: int | None = None
        self.app = app = FastAPI()

        @app.post(f"/{self.version}/me/messages")
        async def send(request: Request):
            body = await request.json()
            self.calls.append((dict(request.query_params), body))
            if self.fail:
                return JSONResponse({"error": {"message": "An unexpected error has occurred.", "type": "OAuthException",
                                               "code": 2, "fbtrace_id": "Afake"}}, status_code=self.fail)
            if request.query_params.get("access_token") != self.page_token:
                return JSONResponse({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                               "code": 190, "fbtrace_id": "Afake"}}, status_code=400)
            recipient = body.get("recipient", {}).get("id")
            if "sender_action" in body:
                return {"recipient_id": recipient}
            return {"recipient_id": recipient, "message_id": f"m_{len(self.calls)}"}

    @property
    def api_base(self) -> str:
        return f"{self.url}/{self.version}"

    @property
    def texts(self) -> list[tuple[str, str]]:
        """(recipient PSID, text) of each message sent, in order."""
        return [(b["recipient"]["id"], b["message"]["text"]) for _, b in self.calls if "message" in b]


class FakeTelegram(_Served):
    """The Telegram Bot API for the bot ``token``. ``push(update)`` queues an update (``update_id`` given in
    order); ``offsets``: the offset of each getUpdates call; ``sent``: (chat_id, text) of each sendMessage;
    ``actions``: each sendChatAction's parameters. ``webhook_set``: getUpdates answers 409, as the real API does
    while a webhook is set."""

    def __init__(self, token: str):
        self.token = token
        self.updates: list[dict] = []
        self.offsets: list[int] = []
        self.sent: list[tuple[int, str]] = []
        self.actions: list[dict] = []
        self.webhook_set = False
        self.next_id = 10_000
        self.lock = threading.Lock()
        self.app = app = FastAPI()

        @app.post("/bot{token}/{method}")
        async def method(token: str, method: str, request: Request):
            if token != self.token:
                return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
            params = await request.json()
            if method == "getUpdates":
                return await self._get_updates(params)
            if method == "sendMessage":
                if not isinstance(params.get("text"), str) or not params["text"] or len(params["text"]) > 4096:
                    return JSONResponse({"ok": False, "error_code": 400,
                                         "description": "Bad Request: message text is empty or too long"},
                                        status_code=400)
                with self.lock:
                    self.sent.append((params["chat_id"], params["text"]))
                return {"ok": True, "result": {"message_id": len(self.sent), "chat": {"id": params["chat_id"]},
                                               "date": int(time.time()), "text": params["text"]}}
            if method == "sendChatAction":
                with self.lock:
                    self.actions.append(params)
                return {"ok": True, "result": True}
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)

    async def _get_updates(self, params: dict):
        if self.webhook_set:
            return JSONResponse({"ok": False, "error_code": 409, "description": "Conflict: can't use getUpdates "
                                 "method while webhook is active; use deleteWebhook to delete the webhook first"},
                                status_code=409)
        offset = int(params.get("offset", 0))
        timeout = float(params.get("timeout", 0))
        with self.lock:
            self.offsets.append(offset)
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
                ready = list(self.updates)
            if ready or time.monotonic() >= deadline:
                return {"ok": True, "result": ready}
            await asyncio.sleep(0.02)

    def push(self, chat_id: int, text: str | None = None, *, chat_type: str = "private", **message) -> int:
        """Queues a message update as Telegram sends it; returns its update_id."""
        with self.lock:
            self.next_id += 1
            msg = {"message_id": self.next_id, "date": int(time.time()),
                   "from": {"id": chat_id, "is_bot": False, "first_name": "Kim"},
                   "chat": {"id": chat_id, "type": chat_type}, **message}
            if text is not None:
                msg["text"] = text
            self.updates.append({"update_id": self.next_id, "message": msg})
            return self.next_id

    def push_raw(self, update: dict) -> int:
        with self.lock:
            self.next_id += 1
            self.updates.append({"update_id": self.next_id, **update})
            return self.next_id


def message_update(update_id: int, chat_id: int, text: str, *, chat_type: str = "private") -> dict:
    """A Telegram update holding one text message, as the webhook receives it."""
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 1_700_000_000, "text": text,
                                                "from": {"id": chat_id, "is_bot": False, "first_name": "Kim"},
                                                "chat": {"id": chat_id, "type": chat_type}}}


def page_event(*events: dict, page_id: str = "1000") -> dict:
    """A Messenger webhook POST's body holding ``events`` (each one ``messaging`` item)."""
    return {"object": "page", "entry": [{"id": page_id, "time": 1_700_000_000_000, "messaging": list(events)}]}


def text_event(psid: str, text: str, *, page_id: str = "1000", echo: bool = False) -> dict:
    message = {"mid": f"m_{psid}_{len(text)}", "text": text}
    if echo:
        message["is_echo"] = True
        message["app_id"] = 1234
        psid, page_id = page_id, psid  # an echo: sent by the Page
    return {"sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": 1_700_000_000_000, "message": message}


async def echo(key: str, text: str) -> list[str]:
    """A replier (``bot.serve.core.Replier``) that says back what it got and in which conversation."""
    return [f"echo: {text}", f"to {key}"]


@pytest.fixture(autouse=True)
def logs_reach_caplog(monkeypatch):
    """The server's log config (run by the end-to-end tests) keeps talklike.serve's records from the root;
    imported by the bridge tests, so their caplog sees the bridges' lines."""
    monkeypatch.setattr(logging.getLogger("talklike.serve"), "propagate", True)
