"""Many commands on one workspace at once: 3 ingests, 2 trains of one person and a chat loop.

Nothing is lost (the table holds every export's messages), and every command either succeeds or
says busy (exit 75, one line); the chat loop never repairs a folder a live train holds, and never
fails otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.errors import EXIT_BUSY
from ingest.lock import WAIT_ENV
from ingest.workspace import Workspace
from tests.conftest import ME, T0, TINY_MODEL, write_fb_thread

ROOT = Path(__file__).resolve().parent.parent
TALKLIKE = Path(sys.executable).with_name("talklike")

TRAIN = """
import sys
from bot.train import TrainOptions, train
from ingest.errors import TalklikeError
from ingest.workspace import Workspace
opts = TrainOptions(epochs=1, batch_size=8, learning_rate=2e-2, min_count=1, model={model!r}, tensorboard=False,
                    match=False, quotes=False)
try:
    train(Workspace(sys.argv[1]), "me", opts)
except TalklikeError as exc:
    print(exc.one_line(), file=sys.stderr)
    sys.exit(exc.exit_code)
"""

CHAT_LOOP = """
import pathlib, sys
from bot.chat import load_person
from bot.errors import NoBotError
from ingest.errors import BusyError
from ingest.workspace import Workspace
stop = pathlib.Path(sys.argv[2])
outcomes = {{"replied": 0, "busy": 0, "no bot yet": 0}}
while True:
    last = stop.exists()  # one more round after the others finished: the saved bot must answer
    try:
        load_person(Workspace(sys.argv[1]), "me").reply("hello there", "greedy")
        outcomes["replied"] += 1
    except BusyError:
        outcomes["busy"] += 1
    except NoBotError:
        outcomes["no bot yet"] += 1
    if last:
        break
print(outcomes)
"""


def export(root: Path, friend: str, n: int) -> Path:
    """A one-thread export: ``friend`` and me, ``n`` messages."""
    msgs = [(friend if i % 2 == 0 else ME, T0 + i * 60_000, f"message {i} to {friend}") for i in range(n)]
    write_fb_thread(root, friend.lower().replace(" ", "") + "_1000" + str(n), friend, msgs, [ME, friend])
    return root


@pytest.mark.slow
def test_three_ingests_two_trains_and_a_chat_loop_at_once(tmp_path, convo_workspace):
    ws: Workspace = convo_workspace
    base = len(ws.messages())
    exports = [export(tmp_path / f"e{i}", name, n) for i, (name, n) in
               enumerate([("Rosa Diaz", 40), ("Jake Peralta", 60), ("Amy Santiago", 80)])]
    env = {**os.environ, WAIT_ENV: "600"}  # ingests wait their turn; the trains say busy or wait
    stop = tmp_path / "stop"
    run = dict(cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    chat = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHAT_LOOP.format()), str(ws.root), str(stop)],
                            env=env, **run)
    procs = [subprocess.Popen([str(TALKLIKE), "ingest", str(e), "--data", str(ws.root), "--me", ME], env=env, **run)
             for e in exports]
    train_env = {**os.environ, WAIT_ENV: "0"}  # the second train of one person says busy at once
    procs += [subprocess.Popen([sys.executable, "-c", textwrap.dedent(TRAIN.format(model=TINY_MODEL)), str(ws.root)],
                               env=train_env, **run) for _ in range(2)]
    results = [(p.args, *p.communicate(timeout=900), p.returncode) for p in procs]
    stop.write_text("done")
    chat_out, chat_err = chat.communicate(timeout=300)

    for args, _out, err, rc in results:
        assert rc in (0, EXIT_BUSY), f"{args[:3]} exit {rc}: {err[-2000:]}"
        assert "Traceback" not in err
        if rc == EXIT_BUSY:
            assert "busy:" in err and len([line for line in err.splitlines() if "busy" in line]) == 1
    ingests, trains = results[:3], results[3:]
    assert all(rc == 0 for *_, rc in ingests)  # each waited its turn
    assert sorted(rc for *_, rc in trains) in ([0, 0], [0, EXIT_BUSY])  # never both dead, a bot saved
    assert chat.returncode == 0, chat_err[-3000:]
    assert "Traceback" not in chat_err and "'replied'" in chat_out

    table = Workspace(ws.root).messages()
    assert len(table) == base + 40 + 60 + 80  # nothing lost
    report = Workspace(ws.root).report()
    assert report["runs"][-1]["messages"] == len(table)
    assert sum(r["added"] for r in report["runs"][1:]) == 180
