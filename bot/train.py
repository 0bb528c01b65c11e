"""Train one person's bot from the workspace.

The Python twin of ``talklike train``::

    from bot.train import TrainOptions, train
    result = train(Workspace("data"), "me", TrainOptions(minutes=5))
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from bot.errors import BotError
from bot.model import ModelConfig, Seq2Seq
from bot.store import bot_folder, save_bot
from bot.vocab import Vocabulary
from ingest.pairs import PairOptions, build_pairs
from ingest.pipeline import ME, resolve_person
from ingest.workspace import Workspace

MIN_PAIRS = 8


@dataclass
class TrainOptions:
    epochs: int = 30  # upper bound; early stopping and --minutes usually stop sooner
    minutes: float | None = None  # wall-clock budget for the whole training
    batch_size: int = 64
    learning_rate: float = 2e-3
    validation_share: float = 0.1  # share of conversations held out (never split inside one)
    patience: int = 3  # epochs without validation improvement before stopping
    max_vocab: int = 8000
    min_count: int = 2  # a word must appear this often to get its own id
    seed: int = 0
    pairs: PairOptions = field(default_factory=PairOptions)
    model: dict = field(default_factory=dict)  # ModelConfig overrides, e.g. {"decoder_units": 128}


@dataclass
class TrainResult:
    folder: Path
    person: str
    pairs_train: int
    pairs_validation: int
    vocab_size: int
    epochs: int
    seconds: float
    train_loss: float
    val_loss: float | None
    tokens_per_second: float

    @property
    def val_perplexity(self) -> float | None:
        return math.exp(self.val_loss) if self.val_loss is not None else None


def is_validation(conversation: str, share: float, seed: int = 0) -> bool:
    """Deterministic split by conversation: the same conversation always lands on the same side."""
    h = hashlib.blake2b(f"{seed}:{conversation}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < share


def split_pairs(pairs: pd.DataFrame, share: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    held = pairs["conversation"].map(lambda c: is_validation(c, share, seed)).to_numpy(dtype=bool)
    if share > 0 and not held.any() and pairs["conversation"].nunique() > 1:
        # tiny data: hold out the last conversation rather than none
        held = (pairs["conversation"] == pairs["conversation"].iloc[-1]).to_numpy()
    return pairs[~held].reset_index(drop=True), pairs[held].reset_index(drop=True)


def encode_pairs(pairs: pd.DataFrame, vocab: Vocabulary, cfg: ModelConfig) -> tuple[dict, np.ndarray]:
    prompts = np.stack([vocab.encode(p, cfg.max_prompt_len) for p in pairs["prompt"]])
    dec = [vocab.encode_reply(r, cfg.max_reply_len) for r in pairs["reply"]]
    reply_in = np.stack([d[0] for d in dec])
    target = np.stack([d[1] for d in dec])
    return {"prompt": prompts, "reply_in": reply_in}, target


class TimeBudget(keras.callbacks.Callback):
    """Stops training, at the end of a batch, once ``minutes`` have passed."""

    def __init__(self, minutes: float | None):
        super().__init__()
        self.deadline = time.monotonic() + minutes * 60 if minutes else None
        self.hit = False

    def on_train_batch_end(self, batch, logs=None):
        if self.deadline and time.monotonic() > self.deadline:
            self.hit = True
            self.model.stop_training = True


def train(workspace: Workspace, person: str, opts: TrainOptions = TrainOptions()) -> TrainResult:
    """Build pairs for ``person`` (``"me"`` or a friend's name), train, and save the bot folder."""
    keras.utils.set_random_seed(opts.seed)
    messages = workspace.messages()
    target = resolve_person(messages, person)
    pairs = build_pairs(messages, target, opts.pairs)
    if len(pairs) < MIN_PAIRS:
        raise BotError(f"only {len(pairs)} (message, reply) pairs for {target!r}; at least {MIN_PAIRS} are needed",
                       hint="ingest more exports, or loosen the pair options (e.g. a longer --session-gap)")
    train_pairs, val_pairs = split_pairs(pairs, opts.validation_share, opts.seed)
    vocab = Vocabulary.build(pd.concat([train_pairs["prompt"], train_pairs["reply"]]),
                             max_size=opts.max_vocab, min_count=opts.min_count)
    cfg = ModelConfig(vocab_size=len(vocab), **opts.model)
    model = Seq2Seq(cfg)
    model.compile(opts.learning_rate)
    x, y = encode_pairs(train_pairs, vocab, cfg)
    val = encode_pairs(val_pairs, vocab, cfg) if len(val_pairs) else None

    budget = TimeBudget(opts.minutes)
    callbacks: list = [budget]
    if val is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=opts.patience,
                                                       restore_best_weights=True))
    start = time.monotonic()
    history = model.training.fit(x, y, batch_size=opts.batch_size, epochs=opts.epochs, validation_data=val,
                                 callbacks=callbacks, shuffle=True, verbose=1 if sys.stdout.isatty() else 2)
    seconds = time.monotonic() - start
    h = history.history
    epochs_run = len(h.get("loss", []))
    val_loss = min(h["val_loss"]) if h.get("val_loss") else None
    target_tokens = int((y != 0).sum()) * epochs_run

    folder = bot_folder(workspace, ME if target == ME else target)
    meta = {
        "person": target,
        "me": workspace.meta().get("me", []),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": keras.backend.backend(),
        "pairs_train": len(train_pairs),
        "pairs_validation": len(val_pairs),
        "epochs": epochs_run,
        "seconds": round(seconds, 1),
        "stopped_by_time_budget": budget.hit,
        "history": {k: [float(v) for v in vals] for k, vals in h.items()},
        "val_loss": val_loss,
    }
    config = {"train": {k: v for k, v in asdict(opts).items() if k != "pairs"},
              "pairs": {k: str(v) for k, v in asdict(opts.pairs).items()}}
    save_bot(folder, model, vocab, meta=meta, config=config)
    _plot_curves(folder / "learning_curves.png", h)
    return TrainResult(folder=folder, person=target, pairs_train=len(train_pairs), pairs_validation=len(val_pairs),
                       vocab_size=len(vocab), epochs=epochs_run, seconds=seconds,
                       train_loss=float(h["loss"][-1]) if h.get("loss") else float("nan"), val_loss=val_loss,
                       tokens_per_second=target_tokens / seconds if seconds else 0.0)


def _plot_curves(path: Path, history: dict) -> None:
    if not history.get("loss"):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ingest.workspace import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = range(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], label="training loss")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy per word")
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
