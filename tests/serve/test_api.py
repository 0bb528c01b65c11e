"""The server's JSON API, its limits and its security, in process (TestClient) and against a real uvicorn server;
and `talklike serve` from the command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.serve.app import create_app
from bot.serve.core import Conversations, Service, Settings, is_loopback
from ingest.errors import EXIT_USAGE, EXIT_WORKSPACE, OptionError
from tests.conftest import ME
from tests.serve.conftest import FRIEND, running

SECRET = "are you coming tonight, 4 Elm St?"  # a message whose text must never show in a log or an error


def make(workspace, **kw) -> tuple[TestClient, Service]:
    settings = Settings(data=workspace.root, strategy="greedy", **kw)
    service = Service(settings)
    service.load_default()
    return TestClient(create_app(settings, service=service)), service


@pytest.fixture(scope="module")
def client(served_workspace):
    c, service = make(served_workspace)
    with c:
        c.service = service
        yield c


def one_line_error(response) -> str:
    body = response.json()
    assert list(body) == ["error"], body
    line = body["error"]["message"] if isinstance(body["error"], dict) else body["error"]  # (/v1/: OpenAI's shape)
    assert isinstance(line, str) and "\n" not in line and "Traceback" not in line
    return line


def test_a_reply_is_a_burst_and_the_conversation_remembers_its_turns(client):
    r = client.post("/api/reply", json={"message": "hello there"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bot"] == "me" and body["replies"] == ["hi friend"] and len(body["conversation_id"]) == 32
    again = client.post("/api/reply", json={"message": "how are you", "conversation_id": body["conversation_id"]})
    assert again.json()["replies"] == ["good thanks"]
    conversation = client.service.conversations.get(f"me\x00web:{body['conversation_id']}", lambda: None)
    assert [who for who, _ in conversation.turns] == ["user", "bot", "user", "bot"]
    assert conversation.quotes is True  # served on 127.0.0.1
    # another bot, by its name in any case, and a strategy of the request
    r = client.post("/api/reply", json={"message": "want pizza", "bot": FRIEND.upper(), "strategy": "beam"})
    assert r.status_code == 200 and r.json()["bot"] == FRIEND and r.json()["replies"] == ["yes please"]
    # a strategy holds for its request only: the next one without is the server's again
    cid = r.json()["conversation_id"]
    client.post("/api/reply", json={"message": "hi", "bot": FRIEND, "conversation_id": cid})
    assert client.service.conversations.get(f"{FRIEND}\x00web:{cid}", lambda: None).strategy == "greedy"


def test_reset_forgets_the_conversation(client):
    cid = client.post("/api/reply", json={"message": "hello there"}).json()["conversation_id"]
    assert f"me\x00web:{cid}" in client.service.conversations
    assert client.post("/api/reset", json={"conversation_id": cid}).json() == {"reset": True}
    assert f"me\x00web:{cid}" not in client.service.conversations


def test_bots_health_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok"}
    bots = client.get("/api/bots").json()
    assert [b["name"] for b in bots["bots"]] == ["me", FRIEND] and bots["default"] == "me"
    assert bots["bots"][0]["display"] == ME and bots["bots"][0]["default_strategy"] == "sample"
    assert "hybrid" in bots["strategies"] and "greedy" in bots["strategies"]
    schema = client.get("/openapi.json").json()
    assert {"/api/reply", "/api/bots", "/v1/chat/completions", "/v1/models"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 404  # Swagger UI would come from a CDN: off


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"{not json", 400, "not valid JSON"),
    (b'"just a string"', 422, "body"),
    (b"{}", 422, "message: missing"),
    (json.dumps({"message": 5}).encode(), 422, "message"),
    (json.dumps({"message": SECRET, "conversation_id": ["x"]}).encode(), 422, "conversation_id"),
    (json.dumps({"message": SECRET, "extra": 1}).encode(), 422, "extra"),
    (json.dumps({"message": "   "}).encode(), 422, "message: empty"),
    (json.dumps({"message": SECRET * 100}).encode(), 413, "over 2,000 characters"),
    (json.dumps({"message": SECRET, "strategy": "telepathy"}).encode(), 422, "greedy"),
    (json.dumps({"message": SECRET, "bot": "Nobody"}).encode(), 404, f"'me', '{FRIEND}'"),
    (json.dumps({"message": SECRET, "strategy": "hybrid"}).encode(), 409, "no reply index"),
])
def test_bad_input_is_a_4xx_with_one_line_and_no_text(client, body, status, says):
    r = client.post("/api/reply", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    line = one_line_error(r)
    assert says in line and "Elm St" not in line


def test_unknown_paths_and_methods_are_one_line_too(client):
    assert client.get("/api/nothing").status_code == 404 and one_line_error(client.get("/api/nothing"))
    r = client.get("/api/reply")
    assert r.status_code == 405 and one_line_error(r)


def test_a_body_over_the_limit_is_413_whatever_content_length_says(served_workspace):
    c, _ = make(served_workspace, max_body_bytes=1000)
    big = json.dumps({"message": "x" * 2000}).encode()
    r = c.post("/api/reply", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "1,000 bytes" in one_line_error(r)

    def chunks():  # no Content-Length: chunked, counted while read
        for _ in range(20):
            yield b" " * 100

    r = c.post("/api/reply", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "1,000 bytes" in one_line_error(r)


def test_a_token_guards_every_path_but_health_the_page_and_webhooks(served_workspace):
    c, _ = make(served_workspace, token="s3cret-token")
    for path in ("/api/bots", "/v1/models", "/openapi.json"):
        r = c.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and one_line_error(r)
        assert c.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert c.post("/api/reply", json={"message": "hi"}).status_code == 401
    assert c.get("/api/nothing").status_code == 401  # unknown paths too: nothing is learnt without the token
    for path in ("/health", "/", "/static/app.js", "/static/style.css"):
        assert c.get(path).status_code == 200, path
    assert c.post("/webhook/anything").status_code == 404  # not 401: the bridges check their own signatures


def test_cors_is_off_unless_asked(served_workspace):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    c, _ = make(served_workspace)
    assert "access-control-allow-origin" not in c.options("/api/reply", headers=preflight).headers
    assert "access-control-allow-origin" not in c.get("/api/bots", headers={"Origin": "https://example.org"}).headers
    c, _ = make(served_workspace, cors=("https://example.org",))
    r = c.options("/api/reply", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://example.org"


def test_the_page_escapes_and_works_offline(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "textContent" in script
    for text in (page.text, script, client.get("/static/style.css").text):
        assert "http://" not in text and "https://" not in text  # no CDN, no external font


# ------------------------------------------------------------------------------------- the service alone
def test_conversations_are_bounded_and_forgotten_when_idle():
    now = [0.0]
    kept = Conversations(limit=2, idle_seconds=60, clock=lambda: now[0])
    a = kept.get("a", object)
    kept.get("b", object)
    assert kept.get("a", object) is a  # "a" is now the most recently used
    kept.get("c", object)
    assert "b" not in kept and "a" in kept and len(kept) == 2
    now[0] = 61
    assert len(kept) == 0


def test_the_replier_of_the_bridges_never_quotes_and_keeps_each_sender_apart(served_workspace):
    service = Service(Settings(data=served_workspace.root, strategy="greedy"))
    service.load_default()
    assert asyncio.run(service.replier("telegram:42", "hello there")) == ["hi friend"]
    assert asyncio.run(service.replier("messenger:7", "want pizza")) == ["yes please"]
    telegram = service.conversations.get("me\x00telegram:42", lambda: None)
    assert telegram.quotes is False and len(telegram.turns) == 2
    assert service.conversations.get("me\x00messenger:7", lambda: None).quotes is False


def test_quotes_follow_the_host():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert Settings().web_quotes is True
    assert Settings(host="0.0.0.0", token="x" * 12).web_quotes is False
    assert Settings(host="0.0.0.0", quotes=True).web_quotes is True
    assert Settings(quotes=False).web_quotes is False


def test_another_host_needs_a_token():
    from bot.serve.run import check

    with pytest.raises(OptionError, match="--token"):
        check(Settings(host="0.0.0.0"))
    check(Settings(host="0.0.0.0"), allow_no_token=True)
    check(Settings(host="0.0.0.0", token="long-enough"))


# --------------------------------------------------------------------------------- a real uvicorn server
def test_a_slow_body_gets_408_while_the_server_stays_responsive(served_workspace, capsys):
    settings = Settings(data=served_workspace.root, strategy="greedy", body_timeout=1.0)
    service = Service(settings)
    service.load_default()
    with running(settings, create_app(settings, service=service)) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"POST /api/reply HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        for _ in range(3):  # while one client trickles its body, others are answered
            assert httpx.get(f"{url}/health").json() == {"status": "ok"}
            slow.sendall(b" ")
        slow.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        slow.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert b"took over 1 s" in answer
        # the access log: method, path, status; never a query string or a body
        r = httpx.post(f"{url}/api/reply?text=Elm+St", json={"message": SECRET}, timeout=60)
        assert r.status_code == 200
    log = capsys.readouterr().err
    assert "POST /api/reply 200" in log and "POST /api/reply 408" in log and "GET /health 200" in log
    assert "Elm St" not in log and "text=" not in log


# ----------------------------------------------------------------------------------------------- the CLI
def test_serve_refuses_another_host_without_a_token_in_one_line(tmp_path):
    from bot.cli import app

    res = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--data", str(tmp_path)], env={"TALKLIKE_TOKEN": ""})
    assert res.exit_code == EXIT_USAGE
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--token" in lines[0], res.output


def test_serve_without_a_bot_is_the_usual_one_line_error(tmp_path, served_workspace):
    from bot.cli import app

    res = CliRunner().invoke(app, ["serve", "--data", str(tmp_path / "empty")])
    assert res.exit_code == EXIT_WORKSPACE and "talklike ingest" in res.output
    res = CliRunner().invoke(app, ["serve", "--as", "Ana Beatriz", "--data", str(served_workspace.root)])
    assert res.exit_code == EXIT_WORKSPACE and "no trained bot for 'Ana Beatriz'" in res.output
    assert "Traceback" not in res.output


def test_serve_on_a_port_in_use_is_one_line(served_workspace):
    from bot.cli import app

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        res = CliRunner().invoke(app, ["serve", "--port", str(taken.getsockname()[1]), "--data",
                                       str(served_workspace.root)])
    finally:
        taken.close()
    assert res.exit_code == EXIT_USAGE and "cannot listen on 127.0.0.1" in res.output and "--port" in res.output


def test_talklike_serve_says_where_and_ctrl_c_stops_it(served_workspace):
    env = {**os.environ, "TALKLIKE_TOKEN": ""}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--data",
                             str(served_workspace.root)], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"serving the bot of {ME} at http://127.0.0.1:"), first
        assert f"(also: {FRIEND})" in first and "quotes on" in first and "token off" in first
        url = first.split(" at ", 1)[1].split()[0]
        assert proc.stdout.readline().startswith(f"next: open {url} in a browser")
        for _ in range(100):
            try:
                assert httpx.get(f"{url}/health").status_code == 200
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert httpx.post(f"{url}/api/reply", json={"message": "hello there"}, timeout=60).status_code == 200
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err
    assert "POST /api/reply 200" in err and "hello there" not in err


def test_the_bridges_plug_in_where_asked_and_their_webhooks_need_no_token(served_workspace, monkeypatch):
    pytest.importorskip("bot.serve.messenger")
    from bot.serve.run import bridges

    for name, value in {"TALKLIKE_MESSENGER_APP_SECRET": "app-secret", "TALKLIKE_MESSENGER_PAGE_TOKEN": "page-token",
                        "TALKLIKE_MESSENGER_VERIFY_TOKEN": "verify-me", "TALKLIKE_TELEGRAM_TOKEN": "123:abc"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(data=served_workspace.root, token="s3cret-token")
    service = Service(settings)
    assert bridges(service, messenger=False, telegram=None, config=None) == ([], [], None)
    routers, background, described = bridges(service, messenger=True, telegram="poll", config=None,
                                             allow=("telegram:42",))
    assert len(routers) == 1 and len(background) == 1 and "messenger" in described and "telegram" in described
    assert "page-token" not in described and "123:abc" not in described
    with TestClient(create_app(settings, routers=routers, service=service)) as c:
        query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
        r = c.get("/webhook/messenger", params=query)
        assert r.status_code == 200 and r.text == "1158201444"
        assert c.post("/webhook/messenger", content=b"{}").status_code == 403  # its own signature, not our token
        assert c.get("/api/bots").status_code == 401


def test_background_tasks_run_with_the_app_and_are_cancelled_at_shutdown(served_workspace):
    seen = []

    async def poller():
        seen.append("started")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def broken():
        raise RuntimeError(SECRET)  # a bridge that fails: logged by its kind only, the server goes on

    settings = Settings(data=served_workspace.root)
    with TestClient(create_app(settings, background=[poller, broken])) as c:
        assert c.get("/health").status_code == 200
        assert seen == ["started"]
    assert seen == ["started", "cancelled"]
