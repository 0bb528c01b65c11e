"""The pretrained base: a conversational model learned from a public corpus, that every bot starts from.

One person's history holds a few thousand (message, reply) pairs: too few to learn English from. The
base learns it from chitchat-dataset (PyPI, MIT: 7,168 real chat conversations among 1,315 speakers),
with a learned vector per speaker (Li et al. 2016, "A Persona-Based Neural Conversation Model").
A person's bot, or a friend's, starts from the base's weights and vocabulary, gets one speaker
vector of its own (started at the mean of the corpus's), and is fine-tuned on that person's pairs.

The base shipped with talklike (``bot/pretrained/chitchat``) is rebuilt by one command::

    talklike pretrain --out bot/pretrained/chitchat     (or: make base)

It leaves out every conversation of the corpus's 3 most active speakers (``EVALUATION_SPEAKERS``):
the demo's speaker and the two more that benchmarks evaluate on, so no figure is measured on
conversations the base saw.

A base folder: ``config.json`` (ModelConfig and how it was built), ``vocab.json`` (the tokenizer),
``model.weights.h5`` (weights only), ``meta.json`` (``BASE_FORMAT``, the vocabulary's fingerprint,
the speakers, the corpus's figures) and, while it is built, ``checkpoints/`` for ``--resume``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.errors import BotError, IncompatibleBotError
from bot.model import ModelConfig, Seq2Seq
from bot.vocab import Vocabulary, load_vocabulary
from ingest.errors import TalklikeError
from ingest.workspace import private_mkdir, read_json, write_json

BASE_FORMAT = 1  # what a base folder holds and how its model reads; bumped with the model's architecture
DEFAULT_BASE = Path(__file__).parent / "pretrained" / "chitchat"
WEIGHTS = "model.weights.h5"
CORPUS = "chitchat-dataset"
# the corpus's 3 most active speakers by number of conversations (1,528, 777 and 347), kept out of the
# default base for evaluation; the first is the demo's speaker
EVALUATION_SPEAKERS = (
    "549cc1d1-270e-4a53-b561-133a8d0086b4",
    "31267496-e50f-4f91-a197-c5b1bfde803b",
    "720840be-e522-47ba-9e9f-143f66372673",
)
FEW_PAIRS = 300  # below this many training pairs, a bot is mostly its base: the person is told so


@dataclass
class PretrainOptions:
    exclude_speakers: tuple[str, ...] = EVALUATION_SPEAKERS  # speakers whose every conversation is left out
    minutes: float | None = None  # wall-clock budget for the whole run
    epochs: int = 12  # upper bound; early stopping and --minutes usually stop sooner
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 2
    validation_share: float = 0.03  # share of conversations held out
    max_vocab: int = 8000  # BPE tokens, special tokens included
    min_count: int = 2
    context_turns: int = 0  # turns before the message the encoder reads (a bot's --context must match)
    max_prompt_len: int = 64  # tokens; the corpus's p95 turn is 60 tokens
    max_reply_len: int = 64
    seed: int = 0
    resume: bool = False
    model: dict = field(default_factory=lambda: {"speaker_dim": 32})  # ModelConfig overrides


@dataclass
class Base:
    """A loaded base: where it is, its model configuration, vocabulary and metadata."""

    folder: Path
    config: ModelConfig
    vocab: Vocabulary
    meta: dict

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.folder.name)

    def summary(self) -> dict:
        """What a bot's meta.json says about the base it started from."""
        return {"name": self.name, "folder": str(self.folder), "format": BASE_FORMAT,
                "vocabulary": self.meta.get("vocabulary"), "pairs": self.meta.get("pairs_train"),
                "speakers": self.config.speakers, "excluded_speakers": self.meta.get("excluded_speakers", [])}


@dataclass
class PretrainResult:
    folder: Path
    pairs_train: int
    pairs_validation: int
    speakers: int
    conversations_excluded: int
    epochs: int
    seconds: float
    val_loss: float | None
    tokens_per_second: float
    resumed_at: str | None = None
    weights_mb: float = 0.0


# --- the corpus -----------------------------------------------------------------------------------
def corpus_conversations() -> dict:
    try:
        import chitchat_dataset
    except ImportError:
        raise BotError(f"the pretraining corpus ({CORPUS}) is not installed",
                       hint="pip install 'talklike[demo]' (make setup does it)") from None
    return chitchat_dataset.Dataset()


def corpus_pairs(data: dict, exclude: tuple[str, ...] | set[str] = (), context_turns: int = 0) -> tuple[
        pd.DataFrame, int]:
    """Every (turn, next turn) of the corpus's conversations, the reply's speaker with each, leaving out every
    conversation in which a speaker of ``exclude`` takes part. A turn is one speaker's messages in a row,
    joined by newlines as ``ingest.pairs.turns`` joins them. Returns (pairs, conversations left out)."""
    excluded = set(exclude)
    rows: list[tuple] = []
    left_out = 0
    for key in sorted(data):
        convo = data[key]
        turns: list[list] = []  # [speaker, text]
        for turn in convo["messages"]:
            for u in turn:
                text = str(u.get("text", "")).strip()
                if not text:
                    continue
                if turns and turns[-1][0] == u["sender"]:
                    turns[-1][1] += "\n" + text
                else:
                    turns.append([u["sender"], text])
        if excluded & {s for s, _ in turns}:
            left_out += 1
            continue
        for i in range(1, len(turns)):
            context = [t for _, t in turns[max(0, i - 1 - context_turns): i - 1]]
            rows.append((str(key), turns[i - 1][1], turns[i][1], context, turns[i][0]))
    pairs = pd.DataFrame(rows, columns=["conversation", "prompt", "reply", "context", "speaker_id"])
    return pairs, left_out


# --- loading a base, and starting a bot from it ------------------------------------------------------
def resolve_base(spec: str | Path | None) -> Path | None:
    """``"default"``: ``$TALKLIKE_BASE`` when set (a folder, or ``none``), else the shipped base; ``"none"`` /
    None: no base; else a folder."""
    if spec is not None and str(spec) == "default":
        spec = os.environ.get("TALKLIKE_BASE") or DEFAULT_BASE
    if spec is None or str(spec) == "none":
        return None
    return Path(spec)


def load_base(folder: Path) -> Base:
    """A base folder, checked: built by this format, its vocabulary the one its model was trained with."""
    rebuild = f"rebuild it: talklike pretrain --out {folder}"
    try:
        present = (folder / "meta.json").is_file() and (folder / WEIGHTS).is_file()
        readable = present and os.access(folder / "meta.json", os.R_OK) and os.access(folder / WEIGHTS, os.R_OK)
    except PermissionError:  # the folder itself is closed to this user
        present, readable = True, False
    if present and not readable:
        raise BotError(f"{folder}: the base's files cannot be read by this user",
                       hint="give this user read access to the folder (chmod -R a+rX), or train with --base none")
    if not present:
        hint = "make base builds the shipped one" if folder == DEFAULT_BASE else rebuild
        raise BotError(f"{folder}: no pretrained base here (meta.json and {WEIGHTS} expected)",
                       hint=f"{hint}, or train with --base none")
    try:
        meta = read_json(folder / "meta.json")
        fmt = meta.get("base_format") if isinstance(meta, dict) else None
        if fmt != BASE_FORMAT:
            raise IncompatibleBotError(f"{folder}: base built in format v{fmt}, this talklike reads v{BASE_FORMAT}",
                                       hint=rebuild)
        vocab = load_vocabulary(read_json(folder / "vocab.json"))
        config = ModelConfig.from_json(read_json(folder / "config.json")["model"])
    except TalklikeError:
        raise
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise IncompatibleBotError(f"{folder}: config.json or vocab.json is not a base this talklike can read "
                                   f"({type(exc).__name__})", hint=rebuild) from None
    if vocab.fingerprint != meta.get("vocabulary") or config.vocab_size != len(vocab):
        raise IncompatibleBotError(f"{folder}: its vocab.json is not the vocabulary its model was trained with",
                                   hint=rebuild)
    if meta.get("weights_sha256") and _sha256(folder / WEIGHTS) != meta["weights_sha256"]:
        raise IncompatibleBotError(f"{folder}: {WEIGHTS} is not the file the base was saved with (damaged?)",
                                   hint=rebuild)
    return Base(folder=folder, config=config, vocab=vocab, meta=meta)


def start_from_base(model: Seq2Seq, base: Base) -> None:
    """Copy the base's weights into ``model`` (same architecture, one speaker row): every layer by name; the
    speaker table's one row starts at the mean of the base's speaker vectors."""
    source = Seq2Seq(base.config)
    try:
        source.load_weights(base.folder / WEIGHTS)
    except (ValueError, OSError) as exc:
        raise IncompatibleBotError(f"{base.folder}: its weights do not fit its config.json ({type(exc).__name__})",
                                   hint=f"rebuild it: talklike pretrain --out {base.folder}") from None
    layers = {layer.name: layer for layer in source.training.layers}
    for layer in model.training.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        theirs = layers.get(layer.name)
        if layer.name == "speaker_embedding" and theirs is not None:
            table = theirs.get_weights()[0]
            layer.set_weights([np.repeat(table.mean(0, keepdims=True), weights[0].shape[0], axis=0)])
            continue
        mine, got = [w.shape for w in weights], [w.shape for w in theirs.get_weights()] if theirs else None
        if mine != got:
            raise BotError(f"the model asked for does not fit the base {base.folder} (layer {layer.name})",
                           hint="leave the model's sizes at the base's, or train with --base none")
        layer.set_weights(theirs.get_weights())


def bot_config(base: Base, **lengths) -> ModelConfig:
    """A bot's model configuration on this base: the base's architecture, one speaker, its own lengths."""
    return replace(base.config, speakers=1, **lengths)


# --- building a base --------------------------------------------------------------------------------
def pretrain(out: Path, opts: PretrainOptions = PretrainOptions(),
             progress: Callable[[str, int, int], None] | None = None) -> PretrainResult:
    """Build a base in ``out`` from the corpus: BPE vocabulary, speakers, then the seq2seq model trained with
    checkpoints (``--resume`` continues an interrupted run, and ends where an uninterrupted one would)."""
    import keras

    from bot.callbacks import RunState
    from bot.data import split_pairs
    from bot.train import CHECKPOINTS, Clock, TrainOptions, fit_phase, load_best, resume_from

    keras.utils.set_random_seed(opts.seed)
    if progress:
        progress("reading the corpus", 0, 1)
    pairs, left_out = corpus_pairs(corpus_conversations(), opts.exclude_speakers, opts.context_turns)
    if pairs.empty:
        raise BotError("no conversation of the corpus is left once the speakers are excluded",
                       hint="exclude fewer speakers")
    speakers = sorted(set(pairs["speaker_id"]))
    speaker_index = {s: i for i, s in enumerate(speakers)}
    pairs["speaker"] = pairs["speaker_id"].map(speaker_index).astype(np.int32)
    tr, va = split_pairs(pairs, opts.validation_share, opts.seed)
    ckpt = out / CHECKPOINTS
    # what makes the base (not how long it may take): a resumed run must have been started with the same
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()
                if k not in ("resume", "minutes", "epochs")}
    if opts.resume:
        if not (ckpt / "state.json").is_file():
            raise BotError(f"no pretraining checkpoint to resume from in {ckpt}", hint="run without --resume")
        state = RunState.from_json(read_json(ckpt / "state.json"))
        vocab = load_vocabulary(read_json(ckpt / "vocab.json"))
        if read_json(ckpt / "settings.json") != settings:
            raise BotError(f"{ckpt}: the interrupted run was started with other options",
                           hint="resume with the same options, or start over without --resume")
        cfg = ModelConfig.from_json(state.model)
    else:
        if progress:
            progress("learning the subword vocabulary", 0, 1)
        vocab = Vocabulary.build(pd.concat([tr["prompt"], tr["reply"]]), max_size=opts.max_vocab,
                                 min_count=opts.min_count)
        cfg = ModelConfig(vocab_size=len(vocab), speakers=len(speakers), max_prompt_len=opts.max_prompt_len,
                          max_reply_len=opts.max_reply_len, **opts.model)
        if ckpt.exists():
            shutil.rmtree(ckpt)
        private_mkdir(ckpt)
        write_json(ckpt / "vocab.json", vocab.to_json())
        write_json(ckpt / "settings.json", settings)
        state = RunState(model=cfg.to_json())
    train_opts = TrainOptions(epochs=opts.epochs, minutes=opts.minutes, batch_size=opts.batch_size,
                              learning_rate=opts.learning_rate, patience=opts.patience, seed=opts.seed,
                              tensorboard=False, match=False, quotes=False)
    model = Seq2Seq(cfg)
    model.compile(opts.learning_rate)
    resumed_at = resume_from(model, ckpt, state) if opts.resume else None
    start = time.monotonic()
    deadline = start + opts.minutes * 60 if opts.minutes else None
    initial = state.epoch if resumed_at else 0
    clock = Clock(progress, seconds=opts.minutes * 60 if opts.minutes else None, epochs=opts.epochs)
    clock.phase("pre-training the base on the corpus", 0)
    tokens, _ = fit_phase(model, cfg, vocab, tr, va, train_opts, "pretrain", initial, deadline, ckpt, out, state,
                          report=clock.report)
    load_best(model, ckpt, state, "pretrain")
    seconds = time.monotonic() - start
    meta = {"base_format": BASE_FORMAT, "name": out.name, "corpus": CORPUS, "vocabulary": vocab.fingerprint,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"), "backend": keras.backend.backend(),
            "pairs_train": len(tr), "pairs_validation": len(va), "speakers": speakers,
            "excluded_speakers": list(opts.exclude_speakers), "conversations_excluded": left_out,
            "epochs": len(state.phase_history("pretrain").get("loss", [])),
            "best_epoch": state.best_epoch("pretrain"),
            "val_loss": state.best_score("pretrain") if len(va) else None,
            "seconds": round(_phase_seconds(state, seconds), 1), "resumed_at": resumed_at,
            "history": state.phase_history("pretrain"), "options": settings}
    weights_mb = save_base(out, model, vocab, meta)
    return PretrainResult(folder=out, pairs_train=len(tr), pairs_validation=len(va), speakers=len(speakers),
                          conversations_excluded=left_out, epochs=meta["epochs"], seconds=meta["seconds"],
                          val_loss=meta["val_loss"], tokens_per_second=tokens / seconds if seconds else 0.0,
                          resumed_at=resumed_at, weights_mb=weights_mb)


def _phase_seconds(state, fallback: float) -> float:
    """Training time over every run of the build, resumed ones included (the checkpoints keep the tally)."""
    seconds = state.phase_history("pretrain").get("seconds")
    return float(seconds[-1]) if seconds else fallback


def save_base(out: Path, model: Seq2Seq, vocab: Vocabulary, meta: dict) -> float:
    """The base's files beside its checkpoints: weights only (no optimizer state), owner-only. Returns MB."""
    clean = Seq2Seq(model.config)  # uncompiled: its weights file carries no optimizer state
    for mine, theirs in zip(clean.training.layers, model.training.layers, strict=True):
        if theirs.get_weights():
            mine.set_weights(theirs.get_weights())
    private_mkdir(out)
    write_json(out / "config.json", {"model": model.config.to_json()})
    write_json(out / "vocab.json", vocab.to_json())
    tmp = out / f".{WEIGHTS}.tmp.weights.h5"
    clean.save_weights(tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, out / WEIGHTS)
    write_json(out / "meta.json", {**meta, "weights_sha256": _sha256(out / WEIGHTS)})
    with contextlib.suppress(OSError):
        os.chmod(out, 0o700)
    return (out / WEIGHTS).stat().st_size / 1e6


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
