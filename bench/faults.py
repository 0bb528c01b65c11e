"""``make bench-faults``: kill ingest, export, embed and train at random moments, and check what is left.

    python -m bench.run faults                 # 50 kills per command (train's take most of the time)
    python -m bench.run faults --kills=10      # fewer, quicker
    python -m bench.run faults --seed=3        # other moments
    python -m bench.run faults --kill=leader   # SIGKILL the command's main process only, not its group
    python -m bench.run faults --keep          # keep the working folder (path printed)

What it does, deterministically up to the machine's timing (seeded), in a temporary folder:

1. writes two small generated Facebook exports (``bench.ingest.write_facebook``, 3,000 messages each,
   different seeds) and builds a workspace from the first: ingest, ``embed`` (8 dimensions, 1 epoch)
   and ``train --as me`` (1 epoch, the unit tests' tiny model, no base, no matcher, no quotes), so a
   table, word vectors and a bot exist before each command is killed;
2. runs each command once, cleanly, from a copy of that workspace, to time it (``D``) and to record
   the state it leaves: ``ingest`` of the second export, ``export --as me`` to a file beside the
   workspace, ``embed``, ``train --as me`` (the same tiny settings). Every command is a real process
   (``python -c`` around ``bot.cli.main``), started in a new session; ``ingest`` is made to use the
   Facebook adapter's helper processes, as a large export would (``PARALLEL_BYTES`` set to 0);
3. then, ``--kills`` times per command, from a fresh copy of the workspace: starts the command and
   sends SIGKILL to its process group (``--kill=leader``: to its main process only, as the OOM killer
   or ``kill -9 PID`` would) at a moment drawn uniformly from [0, D) with a seeded RNG (a command that
   ended first counts as not killed), and checks:

   - *workspace ok*: the workspace loads (``Workspace.messages()``, and ``load_bot`` of the bot that
     existed before), in this process, which opens it as any command would;
   - *report consistent*: ``report.json``'s last run counts as many messages as the table holds, and
     the (table rows, runs) pair is the one before the command or the one its clean run leaves;
   - *processes left*: processes of the command's session still running (zombies not counted) 5 s
     after the kill;
   - *leftovers after next command*: every file's time is set two hours back (the README promises
     that leftovers older than an hour are removed), the next command runs (``people``; for
     ``export``, the same export again), and then any hidden path (a component starting with ``.``,
     lock files excepted) or commit journal in the workspace or beside the export's file, or anything
     in the commands' ``TMPDIR``, is a leftover; ``TMPDIR`` is not counted for a command whose clean
     run already leaves files there (said in a note).

Printed: one row per command (kills delivered, and how many of them passed each check), then the
first reasons of failures. Failures are shown as they are: nothing here retries or hides one.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parents[1]
ME = "Sam Carter"
MESSAGES = 3000
THREADS = 20
GRACE_SECONDS = 5.0  # how long processes of a killed command may take to end
AGE_SECONDS = 2 * 3600  # how far back file times are set before the next command (leftovers: older than 1 h)
TINY_MODEL = {"embed_dim": 16, "encoder_units": 16, "decoder_units": 32, "max_prompt_len": 8, "max_reply_len": 6,
              "dropout": 0.0}

# A command as the user runs it (bot.cli.main), with the bench's settings patched in first.
_RUN = f"""
import dataclasses, sys
from ingest.adapters import facebook
facebook.PARALLEL_BYTES = 0  # helpers read even this small export, as they would a large one
facebook._TASK_BYTES = 64 * 1024
if sys.argv[1] == "train":
    import bot.train as t
    real = t.train
    def train(ws, who, opts, **kw):
        return real(ws, who, dataclasses.replace(opts, model={TINY_MODEL!r}, tensorboard=False), **kw)
    t.train = train
sys.argv = ["talklike", *sys.argv[1:]]
from bot.cli import main
main()
"""

TRAIN = ["--as", "me", "--epochs", "1", "--batch-size", "32", "--base", "none", "--no-match", "--no-quotes",
         "--vocabulary", "words"]


@dataclass
class Tally:
    command: str
    seconds: float = 0.0  # the clean run's duration
    kills: int = 0  # kills delivered (the command was still running)
    finished: int = 0  # drawn moments after the command had ended
    loads: int = 0
    consistent: int = 0
    no_process_left: int = 0
    processes_left: int = 0
    clean_after_next: int = 0
    reasons: dict[str, list[str]] = field(default_factory=dict)
    tmpdir_counted: bool = True

    def fail(self, check: str, reason: str) -> None:
        self.reasons.setdefault(check, []).append(reason)


class Bench:
    def __init__(self, work: Path, kill_group: bool):
        self.work = work
        self.kill_group = kill_group
        self.template = work / "template"
        self.exports = work / "exports"
        self.tmpdir = work / "tmp"
        self.env = {**os.environ, "TALKLIKE_BASE": "none", "TF_CPP_MIN_LOG_LEVEL": "3", "TZ": "UTC",
                    "TMPDIR": str(self.tmpdir), "TALKLIKE_LOCK_WAIT": "0", "PYTHONPATH": str(ROOT)}

    # -- the commands
    def args(self, command: str, ws: Path) -> list[str]:
        data = ["--data", str(ws / "data")]
        return {
            "ingest": ["ingest", str(self.exports / "b"), "--me", ME, *data],
            "export": ["export", "--as", "me", "--format", "jsonl", "--out", str(ws / "out" / "pairs.jsonl"), *data],
            "embed": ["embed", "--dim", "8", "--epochs", "1", "--min-count", "1", *data],
            "train": ["train", *TRAIN, *data],
            "people": ["people", *data],
        }[command]

    def start(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _RUN, *args], cwd=ROOT, env=self.env, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def run(self, args: list[str]) -> tuple[int, str]:
        proc = self.start(args)
        _, errs = proc.communicate()
        return proc.returncode, errs.decode(errors="replace")

    def fresh(self, name: str) -> Path:
        """A copy of the template workspace (and an empty folder for the export's file), TMPDIR emptied."""
        ws = self.work / name
        shutil.rmtree(ws, ignore_errors=True)
        shutil.copytree(self.template, ws / "data", symlinks=True)
        (ws / "out").mkdir()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir.mkdir()
        return ws

    # -- set-up
    def prepare(self) -> None:
        from bench.ingest import write_facebook

        write_facebook(self.exports / "a", MESSAGES, THREADS, seed=1)
        write_facebook(self.exports / "b", MESSAGES, THREADS, seed=2)
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        data = ["--data", str(self.template)]
        for args in (["ingest", str(self.exports / "a"), "--me", ME, *data],
                     ["embed", "--dim", "8", "--epochs", "1", "--min-count", "1", *data],
                     ["train", *TRAIN, *data]):
            code, errs = self.run(args)
            if code:
                raise SystemExit(f"setting up the workspace: `{args[0]}` exited {code}: {errs.strip()[-500:]}")

    # -- checks
    def state(self, ws: Path, with_bot: bool) -> tuple[int, int]:
        """Load the workspace as a command would: (table rows, runs in report.json); raises when it cannot."""
        from ingest.workspace import Workspace

        workspace = Workspace(ws / "data")
        rows = len(workspace.messages())
        report = workspace.report()
        runs = report.get("runs", [])
        if with_bot:
            from bot.store import bot_folder, load_bot

            load_bot(bot_folder(workspace, "me"), "me")
        if not runs or runs[-1].get("messages") != rows:
            raise _Inconsistent(f"table {rows} rows, report's last run {runs[-1].get('messages') if runs else None}")
        return rows, len(runs)

    def session_left(self, sid: int) -> list[int]:
        import psutil

        left = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(proc.pid)
        return left

    def leftovers(self, ws: Path) -> list[str]:
        found = []
        for folder in (ws / "data", ws / "out"):
            for path in folder.rglob("*"):
                rel = path.relative_to(ws)
                hidden = [part for part in rel.parts[1:] if part.startswith(".")]
                if (hidden and not path.name.endswith(".lock")) or path.name == "commit.json":
                    found.append(str(rel))
        return found

    def tmp_entries(self) -> list[str]:
        return sorted(p.name for p in self.tmpdir.iterdir()) if self.tmpdir.is_dir() else []

    def age(self, ws: Path) -> None:
        then = time.time() - AGE_SECONDS
        for path in [ws, *ws.rglob("*")]:
            with contextlib.suppress(OSError):
                os.utime(path, (then, then), follow_symlinks=False)

    # -- one command
    def measure(self, command: str) -> tuple[float, tuple[int, int], tuple[int, int], list[str]]:
        """The clean run: (seconds, state before, state after, what it leaves in TMPDIR)."""
        ws = self.fresh("clean")
        before = self.state(ws, with_bot=True)
        start = time.monotonic()
        code, errs = self.run(self.args(command, ws))
        seconds = time.monotonic() - start
        if code:
            raise SystemExit(f"clean run of `{command}` exited {code}: {errs.strip()[-500:]}")
        return seconds, before, self.state(ws, with_bot=True), self.tmp_entries()

    def kill_once(self, command: str, at: float, tally: Tally, ok_states: set[tuple[int, int]]) -> None:
        ws = self.fresh("killed")
        proc = self.start(self.args(command, ws))
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=at)
        if proc.poll() is not None:
            proc.communicate()
            tally.finished += 1
            return
        with contextlib.suppress(ProcessLookupError):
            if self.kill_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()  # its stderr ends once nothing of it holds it (bounded: see session_left)
        tally.kills += 1
        deadline = time.monotonic() + GRACE_SECONDS
        while (left := self.session_left(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if left:
            tally.processes_left += len(left)
            tally.fail("processes left", f"{len(left)} process(es) of `{command}` alive {GRACE_SECONDS:.0f} s after")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        else:
            tally.no_process_left += 1

        try:
            state = self.state(ws, with_bot=True)
            tally.loads += 1
            if state in ok_states:
                tally.consistent += 1
            else:
                tally.fail("report consistent", f"(rows, runs) {state}, expected one of {sorted(ok_states)}")
        except _Inconsistent as exc:
            tally.loads += 1
            tally.fail("report consistent", str(exc))
        except Exception as exc:  # a workspace that does not load: a figure, not a crash
            tally.fail("workspace ok", f"{type(exc).__name__}: {str(exc)[:160]}")
            tally.fail("report consistent", "the workspace did not load")

        self.age(ws)
        code, errs = self.run(self.args("export" if command == "export" else "people", ws))
        found = self.leftovers(ws) + ([f"$TMPDIR/{n}" for n in self.tmp_entries()] if tally.tmpdir_counted else [])
        if code:
            tally.fail("leftovers after next command", f"the next command exited {code}: {errs.strip()[-160:]}")
        elif found:
            tally.fail("leftovers after next command", ", ".join(found[:4]) + (" ..." if len(found) > 4 else ""))
        else:
            tally.clean_after_next += 1


class _Inconsistent(Exception):
    pass


def main(argv: list[str]) -> None:
    opts = dict(a.lstrip("-").split("=", 1) if "=" in a else (a.lstrip("-"), "1") for a in argv)
    kills = int(opts.get("kills", 50))
    rng = random.Random(int(opts.get("seed", 0)))
    kill_group = opts.get("kill", "group") != "leader"
    work = Path(tempfile.mkdtemp(prefix="talklike-faults-"))
    bench = Bench(work, kill_group)
    try:
        print(f"setting up in {work}: two exports of {MESSAGES:,} messages, a workspace with vectors and a bot",
              flush=True)
        bench.prepare()
        tallies = []
        notes = []
        for command in ("ingest", "export", "embed", "train"):
            seconds, before, after, tmp_left = bench.measure(command)
            tally = Tally(command, seconds=seconds, tmpdir_counted=not tmp_left)
            if tmp_left:
                notes.append(f"{command}: a clean run leaves {len(tmp_left)} entries in TMPDIR "
                             f"({', '.join(tmp_left[:3])}); TMPDIR not counted for it")
            print(f"{command}: clean run {seconds:.1f} s; killing it {kills} times", flush=True)
            for _ in range(kills):
                bench.kill_once(command, rng.uniform(0, seconds), tally, {before, after})
            tallies.append(tally)
        _print(tallies, notes, kill_group)
    finally:
        if "keep" in opts:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _print(tallies: list[Tally], notes: list[str], kill_group: bool) -> None:
    from bench import met

    print(f"\nKilled with SIGKILL to the {'process group' if kill_group else 'main process'} at random moments")
    head = ["command", "clean run s", "kills", "ended first", "workspace ok", "report consistent",
            "processes left", "no leftovers after next", "all ok"]
    rows = [[t.command, f"{t.seconds:.1f}", t.kills, t.finished, f"{t.loads}/{t.kills}", f"{t.consistent}/{t.kills}",
             t.processes_left, f"{t.clean_after_next}/{t.kills}",
             met(t.loads == t.consistent == t.clean_after_next == t.kills and not t.processes_left)]
            for t in tallies]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for row in (head, *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))
    for t in tallies:
        for check, reasons in t.reasons.items():
            shown = sorted(set(reasons), key=reasons.index)[:3]
            print(f"  {t.command}, {check}: {len(reasons)} failure(s); " + " | ".join(shown))
    for note in notes:
        print(f"  note: {note}")
    print(json.dumps({t.command: {"kills": t.kills, "loads": t.loads, "consistent": t.consistent,
                                  "processes_left": t.processes_left, "clean_after_next": t.clean_after_next}
                      for t in tallies}))
