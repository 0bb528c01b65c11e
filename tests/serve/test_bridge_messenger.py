"""The Messenger bridge end to end: the platform's webhook calls in, the Send API (a local fake) out."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.serve.guard import Guard
from bot.serve.messenger import TEXT_LIMIT, router, signature_ok
from bot.serve.secrets import MessengerConfig
from tests.serve.fakes import FakeGraph, echo, logs_reach_caplog, page_event, text_event  # noqa: F401 (an autouse fixture)

APP_SECRET = "app-secret-5e1f0c2d"
PAGE_TOKEN = "EAAGpagetoken0123456789"
VERIFY_TOKEN = "verify-me-4711"
FRIEND = "2345678901234567"  # a PSID


@pytest.fixture
def graph():
    with FakeGraph(PAGE_TOKEN) as fake:
        yield fake


def make_app(graph: FakeGraph, *, allow=(f"messenger:{FRIEND}",), rate: int = 10, clock=None, replier=echo,
             typing: bool = False):
    config = MessengerConfig(app_secret=APP_SECRET, page_token=PAGE_TOKEN, verify_token=VERIFY_TOKEN,
                             api_base=graph.api_base)
    guard = Guard(allow, rate, **({"clock": clock} if clock else {}))
    api = router(config, replier, guard, typing=typing)
    app = FastAPI()
    app.include_router(api)
    return app, api


def post(client: TestClient, payload: dict, *, secret: str = APP_SECRET, signature: str | None = None):
    body = json.dumps(payload).encode()
    if signature is None:
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhook/messenger", content=body, headers=headers)


def test_verification_handshake(graph):
    app, _ = make_app(graph)
    client = TestClient(app)
    res = client.get("/webhook/messenger", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                                   "hub.challenge": "1158201444"})
    assert res.status_code == 200 and res.text == "1158201444"
    assert res.headers["content-type"].startswith("text/plain")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong"},
                   {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1]},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN}, {}):
        res = client.get("/webhook/messenger", params={**params, "hub.challenge": "1158201444"})
        assert res.status_code == 403 and "1158201444" not in res.text


def test_signed_message_is_answered_through_the_send_api(graph):
    app, api = make_app(graph, typing=True)
    res = post(TestClient(app), page_event(text_event(FRIEND, "are you coming tonight?")))
    assert res.status_code == 200
    # the reply went to the sender, with the page token, as two messages of the burst, after "typing"
    assert graph.texts == [(FRIEND, "echo: are you coming tonight?"), (FRIEND, f"to messenger:{FRIEND}")]
    assert graph.calls[0][1] == {"recipient": {"id": FRIEND}, "sender_action": "typing_on"}
    assert all(q == {"access_token": PAGE_TOKEN} for q, _ in graph.calls)
    assert all(b["messaging_type"] == "RESPONSE" for _, b in graph.calls[1:])
    assert api.stats.received == 1 and api.stats.replied == 1 and api.stats.sent == 2


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc", "sha256=zz"])
def test_a_bad_or_missing_signature_is_refused_and_not_processed(graph, signature):
    app, api = make_app(graph)
    res = post(TestClient(app), page_event(text_event(FRIEND, "hi")), signature=signature)
    assert res.status_code == 403
    assert graph.calls == [] and api.stats.received == 0


def test_a_body_signed_with_another_secret_is_refused(graph):
    app, _ = make_app(graph)
    res = post(TestClient(app), page_event(text_event(FRIEND, "hi")), secret="another-secret")
    assert res.status_code == 403 and graph.calls == []


def test_signature_covers_the_raw_bytes():
    body = b'{"object":"page"}'
    good = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signature_ok("k", body, good)
    assert not signature_ok("k", body + b" ", good)
    assert not signature_ok("k", body, None)
    assert not signature_ok("k", body, "sha256=é")  # not ASCII: refused, no TypeError


def test_echoes_deliveries_reads_and_attachments_are_skipped_and_counted(graph):
    app, api = make_app(graph)
    events = [text_event(FRIEND, "my own message", echo=True),
              {"sender": {"id": FRIEND}, "recipient": {"id": "1000"}, "delivery": {"mids": ["m_1"], "watermark": 1}},
              {"sender": {"id": FRIEND}, "recipient": {"id": "1000"}, "read": {"watermark": 1}},
              {"sender": {"id": FRIEND}, "recipient": {"id": "1000"},
               "message": {"mid": "m_2", "attachments": [{"type": "image", "payload": {"url": "https://x"}}]}},
              text_event(FRIEND, "a real one")]
    res = post(TestClient(app), page_event(*events))
    assert res.status_code == 200
    assert graph.texts == [(FRIEND, "echo: a real one"), (FRIEND, f"to messenger:{FRIEND}")]
    assert api.stats.skipped == {"echo": 1, "delivery": 1, "read": 1, "attachment": 1}


def test_not_allowed_sender_gets_nothing(graph, caplog):
    app, api = make_app(graph)
    stranger = "9999999999"
    client = TestClient(app)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert post(client, page_event(text_event(stranger, "hello?"))).status_code == 200
    assert graph.calls == [] and api.stats.refused == {"not allowed": 3}
    # the log names the id once (what a person adds to the allowlist), never the text
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and f"messenger:{stranger}" in lines[0] and "hello" not in caplog.text


def test_rate_limit_applies_at_the_n_plus_first_message_in_a_minute(graph):
    now = [1000.0]
    app, api = make_app(graph, rate=3, clock=lambda: now[0])
    client = TestClient(app)
    for i in range(4):
        post(client, page_event(text_event(FRIEND, f"message {i}")))
    assert [t for _, t in graph.texts if t.startswith("echo")] == ["echo: message 0", "echo: message 1",
                                                                   "echo: message 2"]
    assert api.stats.refused == {"rate limited": 1}
    now[0] += 60  # a minute later, the sender may talk again
    post(client, page_event(text_event(FRIEND, "message 4")))
    assert graph.texts[-2][1] == "echo: message 4"


def test_long_replies_are_split_to_the_platform_limit(graph):
    async def long(key, text):
        return ["word " * 900]  # 4500 characters

    app, _ = make_app(graph, replier=long)
    post(TestClient(app), page_event(text_event(FRIEND, "tell me everything")))
    pieces = [t for _, t in graph.texts]
    assert len(pieces) == 3 and all(len(p) <= TEXT_LIMIT for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 900


def test_a_failing_send_api_is_logged_without_text_or_token(graph, caplog):
    graph.fail = 500
    app, api = make_app(graph)
    with caplog.at_level(logging.DEBUG):
        res = post(TestClient(app), page_event(text_event(FRIEND, "secret plans")))
    assert res.status_code == 200 and api.stats.send_errors == 2 and api.stats.sent == 0
    assert "answered 500" in caplog.text
    for secret in (PAGE_TOKEN, APP_SECRET, "secret plans", "echo:"):
        assert secret not in caplog.text


def test_a_wrong_page_token_is_a_logged_graph_error(graph, caplog):
    app2 = FastAPI()
    config = MessengerConfig(app_secret=APP_SECRET, page_token="EAAGwrong", verify_token=VERIFY_TOKEN,
                             api_base=graph.api_base)
    app2.include_router(router(config, echo, Guard({f"messenger:{FRIEND}"}, 10), typing=False))
    with caplog.at_level(logging.DEBUG):
        post(TestClient(app2), page_event(text_event(FRIEND, "hi")))
    assert "answered 400 (code 190)" in caplog.text and "EAAGwrong" not in caplog.text


def test_a_failing_replier_does_not_stop_the_server(graph, caplog):
    calls = []

    async def flaky(key, text):
        calls.append(text)
        if text == "boom":
            raise RuntimeError("private text boom")
        return [f"ok {text}"]

    app, _ = make_app(graph, replier=flaky)
    client = TestClient(app)
    with caplog.at_level(logging.WARNING):
        assert post(client, page_event(text_event(FRIEND, "boom"))).status_code == 200
    assert post(client, page_event(text_event(FRIEND, "again"))).status_code == 200
    assert graph.texts == [(FRIEND, "ok again")]
    assert "RuntimeError" in caplog.text and "private text" not in caplog.text


def test_bad_input_gets_a_4xx(graph):
    app, _ = make_app(graph)
    client = TestClient(app)
    assert post(client, {"object": "instagram", "entry": []}).status_code == 404
    body = b"{not json"
    sig = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    res = client.post("/webhook/messenger", content=body, headers={"X-Hub-Signature-256": sig})
    assert res.status_code == 400
    assert post(client, {"object": "page", "entry": "nonsense"}).status_code == 200  # signed: acknowledged, skipped
    assert graph.calls == []


@pytest.mark.slow
def test_a_real_tiny_bot_answers_through_the_server(served_workspace, graph):
    """The whole way: the server of bot.serve.app (uvicorn on 127.0.0.1) with the bridge mounted, a signed
    webhook call, the tiny trained bot's reply (bot.serve.core's replier), the Send API fake."""
    import httpx

    from bot.serve.app import create_app
    from bot.serve.core import Service, Settings
    from tests.serve.conftest import running

    settings = Settings(data=served_workspace.root, strategy="greedy")
    service = Service(settings)
    service.load_default()
    config = MessengerConfig(app_secret=APP_SECRET, page_token=PAGE_TOKEN, verify_token=VERIFY_TOKEN,
                             api_base=graph.api_base)
    api = router(config, service.replier, Guard({f"messenger:{FRIEND}"}, 10))
    app = create_app(settings, routers=[api], service=service)
    body = json.dumps(page_event(text_event(FRIEND, "hello there"))).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    with running(settings, app) as url:
        verified = httpx.get(f"{url}/webhook/messenger", params={"hub.mode": "subscribe", "hub.challenge": "77",
                                                                 "hub.verify_token": VERIFY_TOKEN})
        assert verified.status_code == 200 and verified.text == "77"
        res = httpx.post(f"{url}/webhook/messenger", content=body,
                         headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"})
        assert res.status_code == 200
        deadline = time.monotonic() + 60  # the reply is sent after the acknowledgement
        while not api.stats.replied and not api.stats.send_errors and time.monotonic() < deadline:
            time.sleep(0.05)
    assert graph.texts == [(FRIEND, "hi friend")]  # PATTERNS: "hello there" -> "hi friend"
    assert graph.calls[0][1]["sender_action"] == "typing_on"
