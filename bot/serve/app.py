"""The HTTP server: the web chat page, the JSON API and the OpenAI-compatible API (FastAPI).

    GET  /                      the chat page (its files under /static/: no CDN, works offline)
    GET  /health                {"status": "ok"}: no token needed
    GET  /api/bots              the workspace's bots, the default first, and the strategies
    POST /api/reply             {message, conversation_id?, bot?, strategy?} -> {bot, conversation_id, replies}
    POST /api/reset             {conversation_id, bot?}: the server forgets that conversation
    GET  /v1/models             each bot is a model
    POST /v1/chat/completions   OpenAI's chat completions, streamed too (a burst: its messages joined by "\\n")
    GET  /openapi.json          the API's schema (the interactive /docs page would load Swagger UI from a CDN:
                                it is off)

Every error is a 4xx (or 5xx) with a one-line ``{"error": "..."}``, never a traceback, never message text.
A request body is read by :class:`BodyLimit` before any route sees it: more than ``max_body_bytes`` is 413,
slower than ``body_timeout`` seconds is 408. With a token, every path but /health, the page's files and
/webhook/... (the bridges check their own signatures) needs ``Authorization: Bearer TOKEN`` (401 without).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.serve.core import Service, Settings, UnknownBotError
from ingest.errors import OptionError, TalklikeError

STATIC = Path(__file__).parent / "static"
ACCESS_LOG = logging.getLogger("talklike.serve.access")
LOG = logging.getLogger("talklike.serve")
OPEN_PATHS = ("/", "/health", "/favicon.ico")  # no token needed (the page asks for it, then sends it)
OPEN_PREFIXES = ("/static/", "/webhook/")
Background = Callable[[], Awaitable[None]]


def error(status: int, message: str, headers: dict[str, str] | None = None, *, path: str = "") -> JSONResponse:
    """``{"error": "one line"}``; under /v1/ OpenAI's shape, ``{"error": {"message": ..., "type": ...}}``, which
    its clients show."""
    if path.startswith("/v1/"):
        kind = {401: "authentication_error", 404: "not_found_error"}.get(status, "invalid_request_error")
        body: dict = {"error": {"message": message, "type": kind if status < 500 else "server_error", "param": None,
                                "code": None}}
    else:
        body = {"error": message}
    return JSONResponse(body, status_code=status, headers=headers)


# ------------------------------------------------------------------------------------------------ the body
class BodyLimit:
    """Reads the whole request body before the app does, at most ``max_bytes`` of it (413 beyond, whatever
    Content-Length claims) within ``timeout`` seconds (408 after: a slow client holds no worker). Reading is
    async, so a client trickling its body one byte a second costs the server nothing but a socket."""

    def __init__(self, app, max_bytes: int, timeout: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, 413, f"the request body is over {self.max_bytes:,} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        await self._refuse(scope, send, 413, f"the request body is over {self.max_bytes:,} bytes")
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await self._refuse(scope, send, 408, f"the request body took over {self.timeout:g} s to arrive")
            return
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope, send, status: int, message: str) -> None:
        await error(status, message, {"Connection": "close"}, path=scope["path"])(scope, _nothing, send)


async def _nothing():
    return {"type": "http.disconnect"}


# --------------------------------------------------------------------------------------- token and the log
class Guard:
    """The bearer token (when set) and the access log: "METHOD /path status", no query string, no body."""

    def __init__(self, app, token: str | None, access_log: bool):
        self.app = app
        self.token = token.encode() if token else None
        self.access_log = access_log

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
            await send(message)

        try:
            if self.token is not None and not self._open(scope["path"]) and not self._authorised(scope):
                await error(401, "a bearer token is needed: send 'Authorization: Bearer TOKEN'",
                            {"WWW-Authenticate": "Bearer"}, path=scope["path"])(scope, receive, send_and_note)
            else:
                await self.app(scope, receive, send_and_note)
        except Exception as exc:  # a 500 of one line; never the message or the traceback: they may hold chat text
            LOG.error("internal error: %s", type(exc).__name__)
            if not status.get("started"):
                await error(500, f"internal error ({type(exc).__name__})", path=scope["path"])(scope, receive,
                                                                                          send_and_note)
        finally:
            if self.access_log:
                ACCESS_LOG.info("%s %s %s", scope["method"], scope["path"][:200], status["code"])

    @staticmethod
    def _open(path: str) -> bool:
        return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)

    def _authorised(self, scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        kind, _, given = header.partition(b" ")
        return kind.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)


# ---------------------------------------------------------------------------------------------- the models
class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What you say to the bot")
    conversation_id: str | None = Field(None, max_length=100, description="Yours to keep: the turns before are "
                                        "read from it (absent: a new conversation, whose id comes back)")
    bot: str | None = Field(None, max_length=200, description="Whose bot (GET /api/bots); absent: the one served")
    strategy: str | None = Field(None, max_length=40, description="A decoding strategy; absent: the bot's")


class ReplyOut(BaseModel):
    bot: str
    conversation_id: str
    replies: list[str] = Field(description="The messages the bot sends in a row (a burst)")


class ResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(max_length=100)
    bot: str | None = Field(None, max_length=200)


class ChatPart(BaseModel):
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ChatPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; the fields talklike does not use (temperature, max_tokens, ...) are
    accepted and ignored: the bot's decoding options apply."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, max_length=200, description="Whose bot (GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


# ------------------------------------------------------------------------------------------------- the app
def create_app(settings: Settings, *, routers: Sequence[APIRouter] = (), background: Sequence[Background] = (),
               service: Service | None = None) -> FastAPI:
    """The server's ASGI app. ``routers``: the bridges' webhooks (mounted as they are, under /webhook/...,
    where no bearer token is asked). ``background``: coroutines run while the app runs (Telegram's long
    polling), cancelled at shutdown. ``service``: the bots and conversations (default: from ``settings``; the
    bridges need its ``replier`` before the app exists)."""
    service = service or Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks = [asyncio.create_task(_guarded(job)) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="talklike", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  summary="A bot that talks like a person, from their chat history.")
    app.state.service = service
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(*_one_line(exc.errors()), path=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such path: see /openapi.json"
        return error(exc.status_code, message, getattr(exc, "headers", None), path=request.url.path)

    @app.exception_handler(TalklikeError)
    async def talklike_error(request: Request, exc: TalklikeError) -> JSONResponse:
        status = 404 if isinstance(exc, UnknownBotError) else 422 if isinstance(exc, OptionError) else 409
        return error(status, exc.one_line(), path=request.url.path)

    # ------------------------------------------------------------------------------------ page and health
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", summary="Whether the server answers (no token needed)")
    async def health() -> dict:
        return {"status": "ok"}

    # ------------------------------------------------------------------------------------------- JSON API
    @app.get("/api/bots", summary="The workspace's bots (the one served first) and the decoding strategies")
    async def bots() -> dict:
        from bot.decoding import STRATEGIES

        return {"default": service.bots.default, "strategies": list(STRATEGIES),
                "bots": [{"name": e.name, "display": service.bots.display(e.name), "default_strategy": e.default_strategy,
                          "default": e.name == service.bots.default} for e in service.bots.entries()]}

    @app.post("/api/reply", response_model=ReplyOut, summary="The bot's reply (a burst of messages)")
    async def reply(body: Annotated[ReplyIn, Body()]) -> ReplyOut:
        text = _message(body.message, settings)
        conversation_id = body.conversation_id or uuid.uuid4().hex
        name, replies = await service.reply(f"web:{conversation_id}", text, bot=body.bot, strategy=body.strategy)
        return ReplyOut(bot=name, conversation_id=conversation_id, replies=replies)

    @app.post("/api/reset", summary="Forget a conversation's turns")
    async def reset(body: Annotated[ResetIn, Body()]) -> dict:
        return {"reset": service.reset(f"web:{body.conversation_id}", bot=body.bot)}

    # ---------------------------------------------------------------------------------- OpenAI-compatible
    @app.get("/v1/models", summary="OpenAI-compatible: each bot is a model")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": e.name, "object": "model", "created": e.created,
                                            "owned_by": "talklike"} for e in service.bots.entries()]}

    @app.post("/v1/chat/completions", summary="OpenAI-compatible chat completions (stream too)")
    async def completions(body: Annotated[ChatRequest, Body()]):
        said = [m for m in body.messages if m.role in ("user", "assistant")]
        if not said or said[-1].role != "user":
            return error(422, "messages: the last one must be the user's (role 'user')", path="/v1/")
        if len(body.messages) > settings.max_turns:
            return error(413, f"messages: over {settings.max_turns} of them", path="/v1/")
        text = _message(said[-1].text(), settings)
        turns = [("user" if m.role == "user" else "bot", m.text()[:settings.max_message_chars]) for m in said[:-1]]
        name, replies = await service.reply_once(turns, text, bot=body.model)
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        content = "\n".join(replies)
        if not body.stream:
            return {"id": ident, "object": "chat.completion", "created": created, "model": name,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "logprobs": None, "finish_reason": "stop"}],
                    "usage": _usage(said, content)}
        return StreamingResponse(_chunks(ident, created, name, replies), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    for router in routers:
        app.include_router(router)

    # pure ASGI middleware, outermost last: CORS (when asked), Guard (the token, the log, no traceback out),
    # BodyLimit (the body read whole, bounded in size and time); they see every request, routed or not
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    app.add_middleware(Guard, token=settings.token, access_log=settings.access_log)
    if settings.cors:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                 "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


async def _guarded(job: Background) -> None:
    try:
        await job()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bridge that stopped: the server goes on, the log says which kind of error
        LOG.error("a background task stopped: %s", type(exc).__name__)


def _message(text: str, settings: Settings) -> str:
    if not text.strip():
        raise _Refused(422, "message: empty")
    if len(text) > settings.max_message_chars:
        raise _Refused(413, f"message: over {settings.max_message_chars:,} characters")
    return text


class _Refused(StarletteHTTPException):
    def __init__(self, status: int, message: str):
        super().__init__(status, message)


def _one_line(errors: Sequence[dict]) -> tuple[int, str]:
    """(status, one line) for FastAPI's validation errors; never the input itself (it may be chat text)."""
    if not errors:
        return 422, "the request is not valid"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return 400, "the body is not valid JSON"
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in ("model_attributes_type", "dict_type"):
        return 422, "the body must be a JSON object (send Content-Type: application/json)"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    if first.get("type") == "missing":
        return 422, f"{where}: missing"
    return 422, f"{where}: {first.get('msg', 'not valid')}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1
                                                              else "")


def _usage(said: list[ChatMessage], content: str) -> dict:
    """Words, not tokens: the bots' tokenizers are their own."""
    prompt = sum(len(m.text().split()) for m in said)
    completion = len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunks(ident: str, created: int, model: str, replies: list[str]):
    """Server-sent events in OpenAI's format: the role, one chunk per message of the burst, the stop, [DONE]."""

    def event(delta: dict, finish: str | None = None) -> str:
        chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for i, message in enumerate(replies):
        yield event({"content": ("\n" if i else "") + message})
    yield event({}, "stop")
    yield "data: [DONE]\n\n"
