"""Facebook Messenger Platform bridge: a Page's webhook in, the Send API out.

The platform calls ``GET /webhook/messenger?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`` once,
when the webhook is set up in the Meta app, and expects the challenge back. Then it POSTs events, signed with
the app secret (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``)::

    {"object": "page", "entry": [{"id": "<page id>", "time": 1700000000000, "messaging": [
        {"sender": {"id": "<PSID>"}, "recipient": {"id": "<page id>"}, "timestamp": 1700000000000,
         "message": {"mid": "m_...", "text": "hi"}}]}]}

Each text message from an allowed sender is answered through the Send API, after the POST is acknowledged::

    POST {api_base}/me/messages?access_token=<page token>
    {"recipient": {"id": "<PSID>"}, "messaging_type": "RESPONSE", "message": {"text": "..."}}

Echoes of the Page's own messages, deliveries, reads, postbacks and messages without text are skipped and
counted. Logs hold status codes and counts, never text or tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import httpx
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from bot.serve.guard import Guard, Outbox, Replier, Stats, split_text
from bot.serve.secrets import BridgeConfig, MessengerConfig, protect_logs, settings_and_guard

log = logging.getLogger("talklike.serve.messenger")

TEXT_LIMIT = 2000  # characters in one Messenger text message
MAX_BODY = 1 << 20  # bytes of one webhook call
TIMEOUT = httpx.Timeout(10.0)  # seconds, for each Send API call
PATH = "/webhook/messenger"


def signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (X-Hub-Signature-256) is ``sha256=`` and the HMAC-SHA256 of ``body`` with the app secret."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "surrogateescape"))


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=status)


def messages(payload: object, stats: Stats) -> list[tuple[str, str]]:
    """The (PSID, text) of each text message that ``payload`` (a webhook POST's JSON) holds; every other event
    is counted in ``stats.skipped`` by its kind."""
    entries = payload.get("entry") if isinstance(payload, dict) else None
    found = []
    for entry in entries if isinstance(entries, list) else []:
        events = entry.get("messaging") if isinstance(entry, dict) else None
        if not isinstance(events, list):
            stats.skipped["no messaging"] += 1  # e.g. "standby" (another app holds the thread) or "changes"
            continue
        for event in events:
            kind = _kind(event)
            if kind != "text":
                stats.skipped[kind] += 1
                continue
            found.append((str(event["sender"]["id"]), event["message"]["text"]))
    return found


def _kind(event: object) -> str:
    if not isinstance(event, dict):
        return "malformed"
    message = event.get("message")
    if isinstance(message, dict):
        sender = event.get("sender")
        if message.get("is_echo"):
            return "echo"
        if not (isinstance(sender, dict) and str(sender.get("id", "")).isdigit()):
            return "malformed"
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            return "text"
        return "attachment" if message.get("attachments") else "no text"
    for kind in ("delivery", "read", "postback", "reaction", "optin", "referral"):
        if kind in event:
            return kind
    return "other"


def router(config: MessengerConfig | BridgeConfig, replier: Replier, guard: Guard | None = None, *,
           typing: bool = True, stats: Stats | None = None) -> APIRouter:
    """GET and POST ``/webhook/messenger``. ``replier(key, text)`` gives the bot's burst for the conversation
    ``"messenger:<PSID>"``; ``guard`` says who may talk and how often (default, given a ``BridgeConfig``: its
    allowlist and rate); ``typing`` shows "typing" first. The router's ``stats`` and ``outbox`` attributes count
    what it did and hold the replies under way."""
    config, guard = settings_and_guard(config, "messenger", guard)
    protect_logs(config.app_secret, config.page_token, config.verify_token)
    api = APIRouter(tags=["bridges"])
    api.stats = stats = stats if stats is not None else Stats()
    api.outbox = outbox = Outbox(log)

    @api.get(PATH, response_class=PlainTextResponse, include_in_schema=False)
    async def verify(request: Request) -> Response:
        """The platform's verification: the challenge back when the verify token matches."""
        query = request.query_params
        token = query.get("hub.verify_token", "")
        challenge = query.get("hub.challenge", "")
        if (query.get("hub.mode") == "subscribe"
                and hmac.compare_digest(token.encode(), config.verify_token.encode())
                and 0 < len(challenge) <= 256):
            return PlainTextResponse(challenge)
        log.warning("messenger: a verification request was refused (wrong mode or verify token)")
        return _refuse(403, "verification refused: hub.mode must be subscribe and hub.verify_token must match")

    @api.post(PATH, include_in_schema=False)
    async def receive(request: Request, background: BackgroundTasks) -> Response:
        """Events from the platform: checked, acknowledged at once, answered in the background."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return _refuse(413, f"body over {MAX_BODY} bytes")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _refuse(413, f"body over {MAX_BODY} bytes")
        if not signature_ok(config.app_secret, body, request.headers.get("x-hub-signature-256")):
            log.warning("messenger: a webhook call with a missing or wrong signature was refused")
            return _refuse(403, "X-Hub-Signature-256 is missing or does not match the body")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "the body is not JSON")
        if not isinstance(payload, dict) or payload.get("object") != "page":
            return _refuse(404, "not a page subscription's event (object must be \"page\")")
        for psid, text in messages(payload, stats):
            key = f"messenger:{psid}"
            reason = guard.check(key)
            if reason:
                stats.refused[reason] += 1
                if guard.first_refusal(key):
                    log.warning("messenger: messages from %s are refused (%s)", key, reason)
                continue
            stats.received += 1
            if outbox.admit():
                background.add_task(outbox.run, key, _answer(psid, text, key))
        return JSONResponse({"ok": True})

    def _answer(psid: str, text: str, key: str):
        async def work() -> None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                if typing:
                    await _send(client, {"recipient": {"id": psid}, "sender_action": "typing_on"})
                burst = await replier(key, text)
                sent = 0
                for message in burst:
                    for piece in split_text(message, TEXT_LIMIT):
                        sent += await _send(client, {"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                                                     "message": {"text": piece}})
                stats.replied += bool(sent)
        return work

    async def _send(client: httpx.AsyncClient, payload: dict) -> bool:
        """One Send API call; a failure is logged as one line (status and error code) and counted."""
        try:
            response = await client.post(f"{config.api_base}/me/messages", params={"access_token": config.page_token},
                                         json=payload)
        except httpx.HTTPError as exc:
            stats.send_errors += 1
            log.warning("messenger: the Send API could not be reached (%s)", type(exc).__name__)
            return False
        if response.status_code != 200:
            stats.send_errors += 1
            log.warning("messenger: the Send API answered %d%s", response.status_code, _error_code(response))
            return False
        if "message" in payload:
            stats.sent += 1
        return True

    return api


def _error_code(response: httpx.Response) -> str:
    """The Graph API's numeric error code and subcode (never its message, which may quote the request)."""
    try:
        error = response.json().get("error", {})
        code, sub = error.get("code"), error.get("error_subcode")
    except (ValueError, AttributeError):
        return ""
    parts = [f"{name} {value}" for name, value in (("code", code), ("subcode", sub)) if isinstance(value, int)]
    return f" ({', '.join(parts)})" if parts else ""
