"""The OpenAI-compatible endpoints, through the official ``openai`` client against a real uvicorn server."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.serve.app import create_app
from bot.serve.core import Service, Settings
from tests.serve.conftest import FRIEND, running

openai = pytest.importorskip("openai")
TOKEN = "test-token-1234"


@pytest.fixture(scope="module")
def server(served_workspace):
    settings = Settings(data=served_workspace.root, strategy="greedy", token=TOKEN, access_log=False)
    service = Service(settings)
    service.load_default()
    with running(settings, create_app(settings, service=service)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key=TOKEN, max_retries=0, timeout=60)


def test_models_are_the_bots(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["me", FRIEND]
    assert all(m.owned_by == "talklike" and m.object == "model" for m in models.data)


def test_a_completion_replies_to_the_last_user_message(client):
    completion = client.chat.completions.create(model="me", messages=[
        {"role": "system", "content": "ignored: the bot is who it is"},
        {"role": "user", "content": "hello there"}])
    assert completion.object == "chat.completion" and completion.model == "me"
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == "hi friend"
    assert choice.finish_reason == "stop" and completion.id.startswith("chatcmpl-")
    # the turns before are the context; content as a list of parts is read too; the model is any bot's name
    completion = client.chat.completions.create(model=FRIEND.lower(), messages=[
        {"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi friend"},
        {"role": "user", "content": [{"type": "text", "text": "want pizza"}]}])
    assert completion.model == FRIEND and completion.choices[0].message.content == "yes please"


def test_a_streamed_completion_is_openai_s_chunks(client, server):
    stream = client.chat.completions.create(model="me", stream=True,
                                            messages=[{"role": "user", "content": "how are you"}])
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "good thanks"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    # on the wire: data lines, ending with [DONE]
    raw = httpx.post(f"{server}/v1/chat/completions", headers={"Authorization": f"Bearer {TOKEN}"},
                     json={"model": "me", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}, timeout=60)
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = [line for line in raw.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    assert json.loads(events[1][6:])["choices"][0]["delta"] == {"content": "hi friend"}


def test_errors_reach_the_client_as_status_errors(client, server):
    with pytest.raises(openai.NotFoundError, match="Nobody"):
        client.chat.completions.create(model="Nobody", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="user"):
        client.chat.completions.create(model="me", messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="me", messages=[])
    with pytest.raises(openai.AuthenticationError, match="bearer token"):
        openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0).models.list()
    raw = httpx.post(f"{server}/v1/chat/completions", content=b"{",
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["message"] == "the body is not valid JSON"
