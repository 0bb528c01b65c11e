"""What the server's tests share: one tiny trained bot (and a copy of it under a friend's name), and a real
uvicorn server on a free port of 127.0.0.1, run in a thread."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ME, TINY_MODEL, conversation_export

FRIEND = "Kim Lee"


@pytest.fixture(scope="session")
def served_workspace(tmp_path_factory):
    """A workspace whose "me" bot answers PATTERNS' prompts with their replies (greedy), and a second bot: the
    same folder under the friend's name (the server lists both)."""
    from bot.train import TrainOptions, train
    from ingest.pipeline import ingest
    from ingest.workspace import Workspace, person_key

    root = tmp_path_factory.mktemp("serve")
    conversation_export(root / "export")
    workspace = Workspace(root / "data")
    ingest([root / "export"], workspace=workspace, me=[ME])
    train(workspace, "me", TrainOptions(epochs=60, batch_size=8, learning_rate=2e-2, validation_share=0.0,
                                        min_count=1, model=TINY_MODEL, match=False, quotes=False,
                                        tensorboard=False))
    friend = workspace.bot_dir(person_key(FRIEND))
    shutil.copytree(workspace.bot_dir("me"), friend, ignore=shutil.ignore_patterns("checkpoints", "logs"))
    meta = json.loads((friend / "meta.json").read_text())
    (friend / "meta.json").write_text(json.dumps({**meta, "person": FRIEND}))
    return workspace


@contextlib.contextmanager
def running(settings, app) -> Iterator[str]:
    """``app`` served by uvicorn (``bot.serve.run.server``) on a free port of 127.0.0.1; yields its URL."""
    from bot.serve.run import bind, server, url_of

    sock = bind("127.0.0.1", 0)
    uv = server(settings, app)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "the server did not start"
    try:
        yield url_of(sock, "127.0.0.1")
    finally:
        uv.should_exit = True
        thread.join(15)
        sock.close()
