"""``make bench-serve``: ``talklike serve`` under load, on loopback, with the demo bot.

The server runs as people run it (``talklike serve`` in its own process, on a free 127.0.0.1 port, access log
off). A probe calls ``GET /health`` every second, each time on a new connection, in three phases:

1. the server idle, for ``--quiet-seconds`` (12): the baseline;
2. one slow client sending a ``POST /api/reply`` body one byte a second (the server cuts it off after its body
   timeout, 10 s, then the client starts again), for ``--quiet-seconds``: the issue's target, /health < 100 ms;
3. ``--clients`` (50) concurrent clients for ``--seconds`` (60), with the slow client and the probe going on:
   each client its own ``conversation_id``, sending chitchat-dataset openers to ``POST /api/reply`` one after
   the other. Requests, errors (anything but a 200 with a list of replies; the target is 0), p50 / p95 / p99
   reply latency, throughput.

The bot: ``--data=DIR --as=NAME`` reuses a workspace with a trained bot (``talklike demo``'s, for one);
without ``--data``, the demo speaker is rendered, ingested and trained for ``--minutes`` (4, as ``talklike
demo``) in a temporary workspace. Exits 1 when a request or a probe failed. The server computes one reply at a
time per bot, so reply latency grows with the clients: throughput is the model's speed, latency what a
client waits. Options take the ``--name=value`` form (``bench.run`` passes on only the words starting with
``-``)::

    python -m bench.run serve --data=/work/demo_ws --as=me --seconds=60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 600  # the server's start (TensorFlow's import, the bot's load) on a busy machine
REQUEST_TIMEOUT = 120.0
HEALTH_TARGET_MS = 100.0
FALLBACK_OPENERS = ["hey!", "how are you?", "what are you up to?", "hi, how was your weekend?",
                    "have you seen any good movies lately?", "what do you do for fun?", "hello there",
                    "do you like to travel?", "what's new?", "good morning!"]


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)  # seconds per successful reply
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count
    health: list[float] = field(default_factory=list)  # seconds per /health probe
    health_errors: int = 0
    slow_bodies: int = 0  # bodies the slow client started
    slow_bytes: int = 0
    slow_answers: dict[str, int] = field(default_factory=dict)  # the server's answer to a slow body -> count
    seconds: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def openers(n: int = 500, seed: int = 0) -> list[str]:
    """First messages of chitchat-dataset conversations (the fallback list without the corpus)."""
    try:
        import chitchat_dataset
    except ImportError:
        return FALLBACK_OPENERS
    firsts = [c["messages"][0][0]["text"] for _, c in sorted(chitchat_dataset.Dataset().items())
              if c["messages"] and c["messages"][0] and c["messages"][0][0].get("text")]
    random.Random(seed).shuffle(firsts)
    return [t[:500] for t in firsts[:n]] or FALLBACK_OPENERS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_bot(root: Path, minutes: float) -> Path:
    """The demo speaker's bot, trained for ``minutes`` in a workspace under ``root``; the workspace folder."""
    from bench import demo_workspace
    from bot.train import TrainOptions, train
    from ingest.people import ME

    ws, _ = demo_workspace(root)
    print(f"training the demo bot for at most {minutes:g} minutes ...", flush=True)
    train(ws, ME, TrainOptions(minutes=minutes, tensorboard=False))
    return ws.root


def start_server(data: Path, who: str, port: int, log: Path, strategy: str | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bot.cli", "serve", "--as", who, "--port", str(port), "--data", str(data),
           "--no-access-log", *(["--strategy", strategy] if strategy else [])]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def wait_ready(url: str, server: subprocess.Popen, log: Path) -> float:
    """Seconds until ``/health`` answers; exits with the server's output when it ends first."""
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < START_SECONDS:
        if server.poll() is not None:
            sys.exit(f"the server ended with {server.returncode} before it answered:\n"
                     + log.read_text(errors="replace")[-3000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return time.monotonic() - start
        time.sleep(0.5)
    sys.exit(f"the server did not answer /health within {START_SECONDS} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # as Ctrl-C
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def _client(i: int, http, url: str, deadline: float, lines: list[str], figures: Figures) -> None:
    rng = random.Random(i)
    conversation = f"bench-{i}-{uuid.uuid4().hex[:8]}"
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            res = await http.post(f"{url}/api/reply", json={"message": rng.choice(lines),
                                                            "conversation_id": conversation})
            body = res.json() if res.status_code == 200 else None
        except Exception as exc:  # every failure is a figure: its kind is what is kept
            figures.error(type(exc).__name__)
            await asyncio.sleep(0.1)
            continue
        if body is None or not isinstance(body.get("replies"), list):
            figures.error(f"HTTP {res.status_code}")
        else:
            figures.latencies.append(time.perf_counter() - start)


async def _load(url: str, clients: int, seconds: float, lines: list[str], figures: Figures) -> None:
    import httpx

    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as http:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(i, http, url, deadline, lines, figures) for i in range(clients)))


def _probe(url: str, stop: threading.Event, figures: Figures) -> None:
    """GET /health every second, each on a new connection (as a monitor would)."""
    import httpx

    # no keep-alive: each probe opens its own connection; the client is made once (making one builds an SSL
    # context: tens of ms that are not the server's)
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                ok = http.get(f"{url}/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                figures.health.append(time.perf_counter() - start)
            else:
                figures.health_errors += 1
            stop.wait(max(0.0, 1.0 - (time.perf_counter() - start)))


def _slow_client(port: int, stop: threading.Event, figures: Figures) -> None:
    """A POST /api/reply whose body comes one byte a second; again whenever the server answers or hangs up."""
    body = b'{"message": "' + b"s" * 200 + b'"}'
    head = (f"POST /api/reply HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    while not stop.is_set():
        figures.slow_bodies += 1
        answer = "still sending at the end"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(head)
                for byte in body:
                    if stop.is_set():
                        break
                    sock.sendall(bytes([byte]))
                    figures.slow_bytes += 1
                    if select.select([sock], [], [], 1.0)[0]:  # the server answered, or hung up, within the second
                        got = sock.recv(4096)
                        answer = f"HTTP {got.split(b' ', 2)[1].decode('latin-1')}" if got else "closed"
                        break
                else:
                    answer = "whole body sent"
        except OSError as exc:
            answer = type(exc).__name__
        figures.slow_answers[answer] = figures.slow_answers.get(answer, 0) + 1


def _side(url: str, port: int, figures: Figures, *, slow: bool) -> tuple[threading.Event, list[threading.Thread]]:
    """The /health probe (and the slow client), in threads of their own: the load's event loop cannot delay them."""
    stop = threading.Event()
    side = [threading.Thread(target=_probe, args=(url, stop, figures), daemon=True)]
    if slow:
        side.append(threading.Thread(target=_slow_client, args=(port, stop, figures), daemon=True))
    for t in side:
        t.start()
    return stop, side


def measure(url: str, port: int, clients: int, seconds: float, lines: list[str], quiet: float) -> dict[str, Figures]:
    """Three phases: the server idle (the probe alone), the slow client alone, then the clients' load with the
    slow client and the probe in parallel."""
    phases = {"idle": Figures(), "slow client": Figures(), "load": Figures()}
    for name, slow in (("idle", False), ("slow client", True)):
        stop, side = _side(url, port, phases[name], slow=slow)
        time.sleep(quiet)
        stop.set()
        for t in side:
            t.join(15)
        phases[name].seconds = quiet
    figures = phases["load"]
    stop, side = _side(url, port, figures, slow=True)
    start = time.monotonic()
    try:
        asyncio.run(_load(url, clients, seconds, lines, figures))
    finally:
        figures.seconds = time.monotonic() - start
        stop.set()
        for t in side:
            t.join(15)
    return phases


def _ms(values: list[float], q: float | None = None) -> float | None:
    if not values:
        return None
    return float(np.max(values) if q is None else np.percentile(values, q)) * 1000


def report(phases: dict[str, Figures], clients: int, who: str, start_seconds: float) -> dict:
    from rich.console import Console
    from rich.table import Table

    from bench import met

    figures = phases["load"]
    requests = len(figures.latencies) + sum(figures.errors.values())
    errors = sum(figures.errors.values())
    table = Table(title=f"talklike serve, bot of {who}, on loopback: {clients} clients for {figures.seconds:.0f} s "
                  "(until the last reply), with a slow client and a /health probe", title_justify="left")
    for col in ("figure", "value", "target", "met"):
        table.add_column(col, justify="left" if col == "figure" else "right")

    def row(name: str, value, target: str = "", ok: bool | None = None) -> None:
        shown = "" if value is None else f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" \
            if isinstance(value, int) else str(value)
        table.add_row(name, shown, target, "" if ok is None else met(ok))

    row("server start, s (TensorFlow, the bot)", start_seconds)
    row("requests", requests)
    row("errors", errors, "0", errors == 0)
    row("reply latency p50, ms", _ms(figures.latencies, 50))
    row("reply latency p95, ms", _ms(figures.latencies, 95))
    row("reply latency p99, ms", _ms(figures.latencies, 99))
    row("reply latency max, ms", _ms(figures.latencies))
    row("throughput, replies/s", len(figures.latencies) / figures.seconds if figures.seconds else None)
    for name, phase in phases.items():
        p95, worst = _ms(phase.health, 95), _ms(phase.health)
        row(f"/health ({name}): probes, failures", f"{len(phase.health)}, {phase.health_errors}",
            "0 failures", phase.health_errors == 0)
        row(f"/health ({name}) p95, ms", p95, f"< {HEALTH_TARGET_MS:g}", p95 is not None and p95 < HEALTH_TARGET_MS)
        row(f"/health ({name}) max, ms", worst, f"< {HEALTH_TARGET_MS:g}",
            worst is not None and worst < HEALTH_TARGET_MS)
    for name in ("slow client", "load"):
        phase = phases[name]
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(phase.slow_answers.items()))
        row(f"slow client ({name}): bodies, bytes sent", f"{phase.slow_bodies}, {phase.slow_bytes}")
        row(f"slow client ({name}): the server's answers", answers or "none")
    Console(highlight=False, width=140).print(table)
    print("errors by kind: " + (", ".join(f"{k} x{v}" for k, v in sorted(figures.errors.items())) or "none"))
    fig = {"requests": requests, "errors": errors, "p50_ms": _ms(figures.latencies, 50),
           "p95_ms": _ms(figures.latencies, 95), "p99_ms": _ms(figures.latencies, 99),
           "throughput_per_s": len(figures.latencies) / figures.seconds if figures.seconds else None}
    for name, phase in phases.items():
        key = name.replace(" ", "_")
        fig[f"health_{key}_p95_ms"], fig[f"health_{key}_max_ms"] = _ms(phase.health, 95), _ms(phase.health)
    print("figures: " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in fig.items()),
          flush=True)
    return fig


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench.run serve")
    ap.add_argument("--data", type=Path, default=None, help="a workspace with a trained bot (default: train the "
                    "demo bot in a temporary one)")
    ap.add_argument("--as", dest="who", default="me", help="whose bot, in --data")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--minutes", type=float, default=4.0, help="training time of the demo bot without --data")
    ap.add_argument("--quiet-seconds", type=float, default=12.0, help="the /health probe alone, then with the slow "
                    "client alone, before the load (over the server's 10 s body timeout: one body is cut off)")
    ap.add_argument("--strategy", default=None, help="the server's decoding strategy (default: the bot's)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp)
        data = args.data if args.data is not None else demo_bot(root, args.minutes)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = root / "serve.log"
        print(f"starting: talklike serve --as {args.who} --port {port} --data {data}", flush=True)
        server = start_server(data, args.who, port, log, args.strategy)
        try:
            start_seconds = wait_ready(url, server, log)
            print(f"the server answers after {start_seconds:.1f} s; /health alone, with a slow client, then "
                  f"{args.clients} clients for {args.seconds:g} s with both ...", flush=True)
            phases = measure(url, port, args.clients, args.seconds, openers(), args.quiet_seconds)
        finally:
            stop_server(server)
        report(phases, args.clients, args.who, start_seconds)
        if server.returncode not in (0, 130, -signal.SIGINT):
            print(f"the server ended with {server.returncode}:\n" + log.read_text(errors="replace")[-2000:])
    if sum(phases["load"].errors.values()) or any(p.health_errors for p in phases.values()):
        sys.exit(1)
