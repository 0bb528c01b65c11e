"""Callbacks of training and the run's state: the time budget, the epoch checkpoints and ``RunState``, what
``state.json`` in the checkpoints folder holds (where a resumed run continues)."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import keras
import numpy as np

from ingest.workspace import disk_error, write_json


class TimeBudget(keras.callbacks.Callback):
    """Stops training, at the end of a batch, once the deadline (``time.monotonic()``) has passed."""

    def __init__(self, minutes: float | None = None, *, deadline: float | None = None):
        super().__init__()
        self.deadline = deadline if deadline is not None else (time.monotonic() + minutes * 60 if minutes else None)
        self.hit = False

    def on_train_batch_end(self, batch, logs=None):
        if self.deadline and time.monotonic() > self.deadline:
            self.hit = True
            self.model.stop_training = True


def weights_bytes(model: keras.Model) -> int:
    """The bytes ``model.save_weights`` writes, about: every weight's values plus HDF5's overhead."""
    values = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    return int(values * 1.05) + 256 * 1024


def save_weights_atomic(model: keras.Model, path: Path) -> None:
    """Weights written to a temporary file beside ``path``, made owner-only, then renamed into place.

    The free space is checked first: h5py, writing to a full disk, can crash the process (a
    segmentation fault, exit 139) instead of raising, so a full disk must be seen before it writes.
    Either way a full or read-only disk is a :class:`DiskError` (exit 6) and the previous file stays.
    """
    tmp = path.with_name(f".{path.name[: -len('.weights.h5')]}.tmp.weights.h5")
    need = weights_bytes(model)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError as exc:
        raise disk_error(path.parent, exc) from None
    if free < need:
        raise disk_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    try:
        model.save_weights(str(tmp))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise disk_error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def checkpoint_name(phase: str, epoch: int) -> str:
    """The checkpoint of epoch ``epoch`` (counted from 1) of ``phase``: ``<folder>/<name>.weights.h5``."""
    return f"{phase}-{epoch:04d}"


@dataclass
class RunState:
    """Where a training run stands, as ``state.json`` in the checkpoints folder holds it: written by
    ``Checkpoints`` after each epoch, read back by a resumed run."""

    model: dict = field(default_factory=dict)  # the ModelConfig (ModelConfig.to_json)
    phase: str | None = None  # the phase of the latest checkpoint ("pretrain" or "train")
    epoch: int = 0  # epochs done in that phase
    latest: str | None = None  # the latest checkpoint's name (checkpoint_name)
    checkpoints: list[str] = field(default_factory=list)  # the checkpoints kept, oldest first
    best: dict[str, dict] = field(default_factory=dict)  # phase -> {"name", "score"}: its lowest validation (else training) loss
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # phase -> metric -> one value an epoch
    embeddings: dict | None = None  # which word vectors started the embedding layer, and how many words they covered

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> RunState:
        """The state a ``state.json`` holds; keys it lacks (an older run's) keep their defaults."""
        return cls(**{f.name: obj[f.name] for f in fields(cls) if f.name in obj})

    @property
    def position(self) -> str:
        """Where the run stands, and a run resumed from this state continues: "phase:epoch"."""
        return f"{self.phase}:{self.epoch}"

    def phase_history(self, phase: str) -> dict[str, list[float]]:
        """The metrics of ``phase``'s epochs ({} before its first)."""
        return self.history.get(phase, {})

    def best_name(self, phase: str) -> str | None:
        """The checkpoint of ``phase``'s best epoch, or None."""
        best = self.best.get(phase)
        return best["name"] if best else None

    def best_score(self, phase: str) -> float | None:
        """The score of ``phase``'s best epoch, or None."""
        best = self.best.get(phase)
        return best["score"] if best else None

    def best_epoch(self, phase: str) -> int | None:
        """``phase``'s best epoch (counted from 1), or None."""
        name = self.best_name(phase)
        return int(name.rsplit("-", 1)[1]) if name else None

    def record_epoch(self, phase: str, epoch: int, logs: dict[str, float], keep: int) -> list[str]:
        """Epoch ``epoch`` (counted from 1) of ``phase`` done, its checkpoint saved: its metrics in the
        history, it the latest (and the best when its score, the validation loss or else the training loss,
        is the phase's lowest); the ``keep`` latest checkpoints and every phase's best kept. Returns the
        checkpoints no longer kept, for the caller to delete."""
        name = checkpoint_name(phase, epoch)
        hist = self.history.setdefault(phase, {})
        for k, v in logs.items():
            hist.setdefault(k, []).append(v)
        self.phase, self.epoch, self.latest = phase, epoch, name
        self.checkpoints.append(name)
        score = logs.get("val_loss", logs.get("loss"))
        if score is not None and math.isfinite(score) and (phase not in self.best or score < self.best[phase]["score"]):
            self.best[phase] = {"name": name, "score": score}
        kept = set(self.checkpoints[-max(keep, 1):]) | {b["name"] for b in self.best.values()}
        dropped = [c for c in self.checkpoints if c not in kept]
        self.checkpoints = [c for c in self.checkpoints if c in kept]
        return dropped


class Checkpoints(keras.callbacks.Callback):
    """After each epoch: weights and optimizer state (one ``.weights.h5``) in ``folder``, the ``keep`` latest and the best
    (lowest validation loss) kept, and ``state.json`` (the ``RunState``) saying where a resumed run continues."""

    def __init__(self, folder: Path, phase: str, keep: int, state: RunState):
        super().__init__()
        self.folder, self.phase, self.keep, self.state = folder, phase, keep, state
        self.t0 = time.monotonic()

    def on_train_begin(self, logs=None):
        hist = self.state.phase_history(self.phase)
        self.t0 = time.monotonic() - (hist["seconds"][-1] if hist.get("seconds") else 0.0)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        logs["seconds"] = time.monotonic() - self.t0  # wall time since the phase began, resumed runs included
        name = checkpoint_name(self.phase, epoch + 1)
        save_weights_atomic(self.model, self.folder / f"{name}.weights.h5")  # the optimizer's state included
        dropped = self.state.record_epoch(self.phase, epoch + 1, logs, self.keep)
        # state.json first: a run killed between the two never names a checkpoint already deleted
        write_json(self.folder / "state.json", self.state.to_json())
        for old in dropped:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{old}.weights.h5").unlink()


class EpochSeeds(keras.callbacks.Callback):
    """Re-seeds every random layer (dropout) at the start of each epoch from (seed, epoch), so an epoch
    draws the same masks whether the run got there in one go or was resumed from a checkpoint."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        for layer in self.model._flatten_layers():
            for generator in getattr(layer, "_seed_generators", []) or []:
                state = generator.state
                state.assign(keras.ops.convert_to_tensor([self.seed * 100_003 + epoch, 0], dtype=state.dtype))


class ReportProgress(keras.callbacks.Callback):
    """Tells ``report(epochs)`` how far a ``fit`` has come, in epochs (fractions within one), after each
    batch (at most every ``every`` seconds) and each epoch: the caller turns it into one progress bar over
    the whole run (``bot.train``), instead of Keras's own lines per phase."""

    def __init__(self, report, *, steps: int | None, initial_epoch: int = 0, every: float = 0.25):
        super().__init__()
        self.report, self.steps, self.every = report, steps, every
        self.epoch = initial_epoch
        self.last = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.report(self.epoch + min((batch + 1) / self.steps, 1.0) if self.steps else float(self.epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.report(float(epoch + 1))
