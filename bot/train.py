"""Train one person's bot from the workspace.

The Python twin of ``talklike train``::

    from bot.train import TrainOptions, train
    result = train(Workspace("data"), "me", TrainOptions(minutes=5))

What a run does, in order:

1. pairs for the person (``ingest.pairs.build_pairs``), split by conversation into training and
   validation (``bot.data.split_pairs``); for a friend's bot, also every (turn, answer) pair of every
   conversation in every direction, to pre-train on before fine-tuning on the friend's few replies;
2. batches of pairs of similar lengths, each padded only as far as it needs (``bot.data.LengthBuckets``),
   with a share of prompts emptied (``ModelConfig.prompt_dropout``);
3. ``keras.Model.fit`` with early stopping on validation loss, the time budget, a checkpoint after
   each epoch in ``<bot>/checkpoints`` (``bot.callbacks``: the 5 latest and the best; ``resume=True``
   continues from the latest, optimizer state and epoch counter included), TensorBoard logs in
   ``<bot>/logs`` (TensorFlow backend), mixed precision on a GPU and ``tf.distribute.MirroredStrategy``
   over several GPUs (TensorFlow backend);
4. the best epoch's weights saved as the bot folder, with its configuration and learning curves.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from bot.base import FEW_PAIRS, Base, bot_config, load_base, resolve_base, start_from_base
from bot.callbacks import Checkpoints, EpochSeeds, ReportProgress, RunState, TimeBudget
from bot.data import LengthBuckets, all_pairs, encode_pairs, fit_lengths, is_validation, split_pairs
from bot.errors import BotError, IncompatibleBotError
from bot.model import ModelConfig, Seq2Seq
from bot.store import bot_folder, save_bot
from bot.vocab import VOCABULARIES, Vocabulary, build_vocabulary, load_vocabulary
from ingest.pairs import PairOptions, build_pairs, keep_context
from ingest.people import ME, resolve_person
from ingest.workspace import Workspace, disk_error, person_key, private_mkdir, read_json, write_json

MIN_PAIRS = 8
CHECKPOINTS = "checkpoints"  # subfolder of the bot folder; save_bot carries it over
LOGS = "logs"  # TensorBoard logs, subfolder of the bot folder


@dataclass
class TrainOptions:
    epochs: int = 30  # upper bound per phase; early stopping and --minutes usually stop sooner
    minutes: float | None = None  # wall-clock budget for the whole training
    batch_size: int = 64  # pairs per step (over all devices together)
    learning_rate: float = 2e-3
    fine_tune_learning_rate: float = 5e-4  # from a base: its weights are moved gently (2e-3 overfits in 2 epochs)
    validation_share: float = 0.1  # share of conversations held out (never split inside one)
    patience: int = 3  # epochs without validation improvement before stopping
    max_vocab: int = 8000
    min_count: int = 2  # a word must appear this often to get its own id
    seed: int = 0
    pairs: PairOptions = field(default_factory=PairOptions)
    model: dict = field(default_factory=dict)  # ModelConfig overrides, e.g. {"decoder_units": 128}
    embeddings: bool = False  # start the embedding layer from the workspace's word vectors (`talklike embed`)
    freeze_embeddings: bool = False  # keep those vectors fixed while training (implies embeddings)
    resume: bool = False  # continue from the bot's latest checkpoint instead of starting over
    keep_checkpoints: int = 5  # epoch checkpoints kept besides the best one
    length_multiple: int = 8  # batches are padded to a multiple of this (few shapes: compiled steps are reused)
    pretrain: bool = True  # friends' bots: pre-train on all conversations in every direction first
    pretrain_share: float = 0.6  # share of the time budget spent pre-training (friends' bots)
    mixed_precision: str = "auto"  # "auto": float16 compute when a GPU is present; "on": always (tests the GPU path on CPU); "off"
    distribute: str = "auto"  # "auto": MirroredStrategy over several GPUs (TF backend); "mirrored": over all devices; "none"
    tensorboard: bool = True  # TensorBoard logs in <bot>/logs (TensorFlow backend, `tensorboard` installed)
    match: bool = True  # also train the reply matcher (bot.match), used to rank replies by fit
    match_share: float = 0.15  # share of the time budget spent on the matcher (after the seq2seq model)
    match_epochs: int = 10  # the matcher's epochs when there is no time budget
    match_context: int = 3  # turns before the message the matcher also reads (the seq2seq reads pairs.context_turns)
    quotes: bool = True  # index the person's own past replies for the hybrid strategy (bot.index)
    quote_exclude: tuple[str, ...] = ()  # friends (or group titles) whose threads are never quoted
    encoder: str | None = None  # the sentence encoder of the index: None for the packaged MiniLM, or a folder
    base: str | None = "default"  # the pretrained base to start from (bot.base): "default", a folder, or None
    vocabulary: str = "bpe"  # without a base: "bpe" (subwords, case and bursts kept) or "words" (formats <= 3)
    length_share: float = 0.95  # prompt and reply lengths cover this share of the person's pairs (bpe)

    def pair_options(self) -> PairOptions:
        """The options the bot's pairs are built with: ``pairs``, with as many context turns as the seq2seq
        model or the matcher reads (each keeps its own with ``keep_context``)."""
        return replace(self.pairs, context_turns=max(self.pairs.context_turns, self.match_context if self.match else 0))


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
    pairs_pretrain: int = 0  # friends' bots: pairs of the pre-training phase
    resumed_at: str | None = None  # "phase:epoch" the run resumed from
    index_replies: int = 0  # the person's past replies indexed for the hybrid strategy (0: none)
    base: str | None = None  # the base the bot started from
    warnings: list[str] = field(default_factory=list)  # what the person should know (too little data, ...)
    logs: Path | None = None  # the TensorBoard logs, when they were written (TensorFlow backend, tensorboard installed)

    @property
    def val_perplexity(self) -> float | None:
        return math.exp(self.val_loss) if self.val_loss is not None else None


# --- devices --------------------------------------------------------------------------------------
def gpu_count() -> int:
    """GPUs the current Keras backend can use."""
    backend = keras.backend.backend()
    with contextlib.suppress(Exception):
        if backend == "tensorflow":
            import tensorflow as tf

            return len(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return sum(d.platform == "gpu" for d in jax.devices())
        if backend == "torch":
            import torch

            return torch.cuda.device_count()
    return 0


def _strategy(mode: str):
    """A tf.distribute strategy, or None. "mirrored" uses every logical GPU, else every logical CPU."""
    if mode == "none" or keras.backend.backend() != "tensorflow":
        if mode == "mirrored":
            raise BotError("--distribute mirrored needs the TensorFlow backend",
                           hint="unset KERAS_BACKEND, or use --distribute none")
        return None
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if mode == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else None
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


# --- training -------------------------------------------------------------------------------------
Phase = tuple[str, pd.DataFrame, pd.DataFrame]  # (name, training pairs, validation pairs)


@dataclass
class _Fitted:
    """What the phases of ``fit`` leave: the model, with its best epoch's weights, and the run's figures."""

    model: Seq2Seq
    devices: int  # replicas of the distribution strategy (1 without one)
    mixed: bool  # mixed precision
    embeddings: dict | None  # which word vectors started the embedding layer, and how many words they covered
    resumed_at: str | None  # "phase:epoch" the run resumed from
    seconds: float
    tokens: int  # target tokens trained on
    hit_budget: bool  # the time budget stopped a phase


# --- progress -------------------------------------------------------------------------------------
class Clock:
    """One progress report over a whole run: ``progress("training", done, total, description=label,
    unit=unit)``, in seconds of the time budget when there is one (``unit="seconds"``), else in epochs of
    every phase together (each at most ``epochs``; ``unit="epochs"``). The label names the phase ("pre-training
    on everyone", "fine-tuning on Kim Lee"). Without ``progress`` it reports nothing."""

    STAGE = "training"

    def __init__(self, progress: Callable[..., None] | None, *, seconds: float | None, epochs: int):
        self.progress, self.seconds, self.epochs = progress, seconds, max(epochs, 1)
        self.start = time.monotonic()
        self.label, self.offset = "", 0.0

    def phase(self, label: str, offset: float) -> None:
        """A phase begins, ``offset`` epochs into the run."""
        self.label, self.offset = label, offset
        self.report(0.0)

    def report(self, epochs: float) -> None:
        """``epochs`` (fractions included) done in the current phase."""
        if not self.progress:
            return
        if self.seconds:
            done, total, unit = min(time.monotonic() - self.start, self.seconds), self.seconds, "seconds"
        else:
            done, total, unit = min(self.offset + epochs, self.epochs), self.epochs, "epochs"
        self.progress(self.STAGE, done, total, description=self.label, unit=unit)

    def finish(self, label: str = "trained") -> None:
        if self.progress:
            total = self.seconds or self.epochs
            self.progress(self.STAGE, total, total, description=label,
                          unit="seconds" if self.seconds else "epochs")


def phase_label(phase: str, target: str, started: bool) -> str:
    """What a phase is called in the progress bar; ``started``: from a base, or after pre-training."""
    if phase == "pretrain":
        return "pre-training on everyone"
    who = "your replies" if target == ME else target
    return f"fine-tuning on {who}" if started else f"training on {who}"


def few_pairs(pairs: int, base: Base | None) -> list[str]:
    """The warnings for a bot trained on few pairs (under ``FEW_PAIRS``): what to expect, and what to do."""
    if pairs >= FEW_PAIRS:
        return []
    if base:
        return [f"only {pairs:,} training pairs: the bot will mostly echo its base ({base.name}: "
                f"{base.meta.get('pairs_train', 0):,} pairs from {base.config.speakers:,} speakers), with your "
                f"words more than your voice; export more chats and ingest them (a few hundred pairs at least)"]
    return [f"only {pairs:,} training pairs and no base: the bot will mostly echo, it has too little to learn a "
            "language from; export more chats and ingest them, or train with the default base (leave out --base none)"]


def train(workspace: Workspace, person: str, opts: TrainOptions = TrainOptions(),
          progress: Callable[..., None] | None = None, warn: Callable[[str], None] | None = None) -> TrainResult:
    """Build pairs for ``person`` (``"me"`` or a friend's name), train, and save the bot folder.

    ``progress(stage, done, total, **details)`` follows the run: stage "training" is one report over the whole
    budget (:class:`Clock`: ``description`` names the phase, ``unit`` is "seconds" or "epochs"), then
    "encoding your past replies". ``warn(line)`` hears what the person should know (too few pairs) before the
    training starts; the same lines are in the result's ``warnings``. Nothing is printed."""
    if opts.mixed_precision not in ("auto", "on", "off"):
        raise BotError(f"unknown mixed precision mode {opts.mixed_precision!r}", hint="choose auto, on or off")
    messages = workspace.messages()
    target = resolve_person(messages, person)
    key = person_key(ME if target == ME else target)
    # one train per bot folder (ingest.lock): a second one says busy (exit 75) rather than both dying;
    # a read-only or full workspace is said now (exit 6), before any epoch
    with workspace.writing_bot(key, "train"):
        check_writable(workspace.bot_dir(key))
        keras.utils.set_random_seed(opts.seed)
        train_pairs, val_pairs = _person_pairs(messages, target, opts)
        if opts.quotes:  # a missing or damaged encoder is said now, not after the minutes of training
            from bot.encoder import check_encoder

            check_encoder(opts.encoder)
        base_folder = resolve_base(opts.base)
        base = load_base(base_folder) if base_folder else None  # a missing or mismatched base is said before training
        phases = _phases(messages, target, train_pairs, val_pairs, opts, base)
        warnings = few_pairs(len(train_pairs), base)
        for line in warnings if warn else ():
            warn(line)
        folder = bot_folder(workspace, ME if target == ME else target)  # (an older talklike's folder: renamed)
        vocab, cfg, state, vectors, lengths = _prepare(workspace, phases, folder / CHECKPOINTS, opts, base)
        clock = Clock(progress, seconds=opts.minutes * 60 if opts.minutes else None,
                      epochs=opts.epochs * len(phases) + (opts.match_epochs if opts.match else 0))
        fitted = _fit_phases(phases, vocab, cfg, state, vectors, folder, opts, base, clock=clock,
                             labels=[phase_label(p, target, base is not None or k > 0) for k, (p, _, _) in
                                     enumerate(phases)])
        if opts.match:
            clock.phase("training the reply matcher", opts.epochs * len(phases))
        matcher, match_meta = _train_matcher(train_pairs, val_pairs, opts, clock) if opts.match else (None, None)
        clock.finish()
        index, hybrid_config, index_meta = _build_index(messages, folder, fitted.model, vocab, matcher, train_pairs,
                                                        val_pairs, opts, progress) if opts.quotes else (None, None, None)

        meta = {**_meta(workspace, target, phases, train_pairs, val_pairs, state, fitted, match_meta, index_meta),
                "base": base.summary() if base else None, "vocabulary": {"kind": vocab.kind, "size": len(vocab)},
                "lengths": lengths, "warnings": warnings}
        save_bot(folder, fitted.model, vocab, meta=meta, config=_config(opts, hybrid_config), matcher=matcher,
                 index=index)
        h = state.phase_history("train")
        _plot_curves(folder / "learning_curves.png", h, state.history.get("pretrain"))
        return TrainResult(folder=folder, person=target, pairs_train=len(train_pairs), pairs_validation=len(val_pairs),
                           vocab_size=len(vocab), epochs=meta["epochs"], seconds=fitted.seconds,
                           train_loss=float(h["loss"][-1]) if h.get("loss") else float("nan"), val_loss=meta["val_loss"],
                           tokens_per_second=fitted.tokens / fitted.seconds if fitted.seconds else 0.0,
                           pairs_pretrain=meta["pairs_pretrain"], resumed_at=fitted.resumed_at,
                           index_replies=len(index) if index is not None else 0,
                           base=base.name if base else None, warnings=warnings,
                           logs=folder / LOGS if tensorboard_logs(opts) and (folder / LOGS).is_dir() else None)


def check_writable(folder: Path) -> None:
    """A :class:`~ingest.errors.DiskError` (exit 6) unless files can be made in the bot folder (or the folder
    that will hold it) and its checkpoints."""
    import os
    import tempfile

    for where in (folder.parent, folder, folder / CHECKPOINTS):
        if not where.is_dir():
            continue
        try:
            fd, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=where)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise disk_error(where, exc) from None


def _person_pairs(messages: pd.DataFrame, target: str, opts: TrainOptions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The person's (message, reply) pairs, split by conversation into training and validation."""
    pairs = build_pairs(messages, target, opts.pair_options())
    if len(pairs) < MIN_PAIRS:
        raise BotError(f"only {len(pairs)} (message, reply) pairs for {target!r}; at least {MIN_PAIRS} are needed",
                       hint="ingest more exports, or loosen the pair options (e.g. a longer --session-gap)")
    return split_pairs(pairs, opts.validation_share, opts.seed)


def _phases(messages: pd.DataFrame, target: str, train_pairs: pd.DataFrame, val_pairs: pd.DataFrame,
            opts: TrainOptions, base: Base | None = None) -> list[Phase]:
    """The phases of ``fit``, in order: for a friend's bot without a base, pre-training on every conversation
    in every direction (the conversations held out of the friend's pairs held out here too) when that gives
    more pairs than the friend's own; then the person's pairs, with the context turns the seq2seq model reads.
    With a base, a friend's bot starts from it like the person's own, with a speaker vector of its own."""
    phases = []
    if target != ME and opts.pretrain and base is None:
        everyone = all_pairs(messages, opts.pairs)
        held = set(val_pairs["conversation"])
        pre_val = everyone["conversation"].isin(held) | everyone["conversation"].map(
            lambda c: is_validation(c, opts.validation_share, opts.seed))
        pre_train = everyone[~pre_val.to_numpy(dtype=bool)].reset_index(drop=True)
        if len(pre_train) > len(train_pairs):
            phases.append(("pretrain", pre_train, everyone[pre_val.to_numpy(dtype=bool)].reset_index(drop=True)))
    seq_turns = opts.pairs.context_turns  # what the seq2seq model reads; the matcher reads opts.match_context
    phases.append(("train", keep_context(train_pairs, seq_turns), keep_context(val_pairs, seq_turns)))
    return phases


def _prepare(workspace: Workspace, phases: list[Phase], ckpt_dir: Path, opts: TrainOptions, base: Base | None):
    """(vocabulary, model configuration, run state, word vectors or None, lengths). A resumed run's come from
    its checkpoints folder; a fresh run takes the base's vocabulary and architecture (or builds a vocabulary
    from the first phase's training pairs), fits the lengths to the person's pairs, and starts an empty
    checkpoints folder."""
    if opts.embeddings or opts.freeze_embeddings:
        from embeddings.vectors import load_vectors
    vectors = load_vectors(workspace) if (opts.embeddings or opts.freeze_embeddings) and not opts.resume else None
    if opts.resume:
        if not (ckpt_dir / "state.json").exists():
            raise BotError(f"no checkpoint to resume from in {ckpt_dir}", hint="train without --resume")
        state = RunState.from_json(read_json(ckpt_dir / "state.json"))
        vocab = load_vocabulary(read_json(ckpt_dir / "vocab.json"))
        if base is not None and base.vocab.fingerprint != vocab.fingerprint:
            raise IncompatibleBotError(f"{ckpt_dir}: the run to resume was not trained from the base {base.folder}",
                                       hint="resume with the --base it started from, or train without --resume")
        lengths = read_json(ckpt_dir / "lengths.json") if (ckpt_dir / "lengths.json").exists() else None
        return vocab, ModelConfig.from_json(state.model), state, vectors, lengths
    if opts.vocabulary not in VOCABULARIES:
        raise BotError(f"unknown vocabulary {opts.vocabulary!r}", hint=f"choose one of: {', '.join(VOCABULARIES)}")
    first = phases[0][1]
    vocab = base.vocab if base else build_vocabulary(opts.vocabulary, pd.concat([first["prompt"], first["reply"]]),
                                                     max_size=opts.max_vocab, min_count=opts.min_count)
    lengths = None
    sizes = {}
    if vocab.kind == "bpe":  # the word vocabulary keeps the fixed lengths it always had
        sizes, covered = fit_lengths(vocab, phases[-1][1], share=opts.length_share, multiple=opts.length_multiple)
        lengths = {**sizes, **{k: round(v, 4) for k, v in covered.items()}}
    if base:
        if vectors and vectors.dim != base.config.embed_dim:
            raise BotError(f"the word vectors have {vectors.dim} dimensions, the base's model {base.config.embed_dim}",
                           hint=f"run `talklike embed --dim {base.config.embed_dim}`, or train with --base none")
        cfg = bot_config(base, **{**sizes, **opts.model})
    else:
        cfg = ModelConfig(vocab_size=len(vocab), **{**sizes, **opts.model,
                                                    **({"embed_dim": vectors.dim} if vectors else {})})
    if ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # a fresh run: the old run's checkpoints would mislead --resume
    private_mkdir(ckpt_dir)
    write_json(ckpt_dir / "vocab.json", vocab.to_json())
    if lengths:
        write_json(ckpt_dir / "lengths.json", lengths)
    return vocab, cfg, RunState(model=cfg.to_json()), vectors, lengths


def _fit_phases(phases: list[Phase], vocab: Vocabulary, cfg: ModelConfig, state: RunState, vectors,
                folder: Path, opts: TrainOptions, base: Base | None = None, *, clock: Clock | None = None,
                labels: list[str] | None = None) -> _Fitted:
    """The seq2seq model built (mixed precision and a distribution strategy as ``opts`` asks), started from
    the word vectors or resumed from the latest checkpoint, then fitted phase after phase within the time
    budget, each phase ending on its best epoch's weights."""
    ckpt_dir = folder / CHECKPOINTS
    mixed = opts.mixed_precision == "on" or (opts.mixed_precision == "auto" and gpu_count() > 0)
    previous_policy = keras.mixed_precision.dtype_policy()
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        strategy = _strategy(opts.distribute)
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = Seq2Seq(cfg)
            model.compile(opts.fine_tune_learning_rate if base is not None else opts.learning_rate)
        if base is not None and not opts.resume:
            start_from_base(model, base)
        if vectors:  # which vectors, and how many words they covered: in meta.json (a resumed run keeps its own)
            from embeddings.vectors import initialise

            state.embeddings = initialise(model.embedding, vocab.word_forms(), vectors, freeze=opts.freeze_embeddings)
        resumed_at = resume_from(model, ckpt_dir, state) if opts.resume else None
        names = [p for p, _, _ in phases]
        first = names.index(state.phase) if resumed_at and state.phase in names else 0

        start = time.monotonic()
        deadline = start + opts.minutes * 60 * (1 - opts.match_share if opts.match else 1.0) if opts.minutes else None
        tokens, hit_budget = 0, False
        for k, (phase, tr, va) in enumerate(phases):
            if k < first:
                continue
            phase_deadline = deadline
            if deadline and phase == "pretrain":
                phase_deadline = start + opts.pretrain_share * opts.minutes * 60
            initial = state.epoch if resumed_at and k == first else 0
            if clock:
                clock.phase(labels[k] if labels else phase, k * opts.epochs)
            ran, hit = fit_phase(model, cfg, vocab, tr, va, opts, phase, initial, phase_deadline, ckpt_dir, folder, state,
                                 report=clock.report if clock else None)
            tokens += ran
            hit_budget |= hit
            load_best(model, ckpt_dir, state, phase)
        seconds = time.monotonic() - start
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return _Fitted(model=model, devices=strategy.num_replicas_in_sync if strategy else 1, mixed=mixed,
                   embeddings=state.embeddings, resumed_at=resumed_at, seconds=seconds, tokens=tokens,
                   hit_budget=hit_budget)


def _meta(workspace: Workspace, target: str, phases: list[Phase], train_pairs: pd.DataFrame,
          val_pairs: pd.DataFrame, state: RunState, fitted: _Fitted, match_meta: dict | None,
          index_meta: dict | None) -> dict:
    """The bot's ``meta.json``: whose bot, when, on what, for how long, and its learning curves."""
    h = state.phase_history("train")
    return {
        "person": target,
        "me": workspace.meta().get("me", []),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": keras.backend.backend(),
        "devices": fitted.devices,
        "mixed_precision": fitted.mixed,
        "pairs_train": len(train_pairs),
        "pairs_validation": len(val_pairs),
        "pairs_pretrain": len(phases[0][1]) if len(phases) > 1 else 0,
        "epochs": len(h.get("loss", [])),
        "best_epoch": state.best_epoch("train"),
        "seconds": round(fitted.seconds, 1),
        "stopped_by_time_budget": fitted.hit_budget,
        "resumed_at": fitted.resumed_at,
        "history": h,
        "pretrain_history": state.history.get("pretrain"),
        "val_loss": state.best_score("train") if h.get("val_loss") else None,
        "embeddings": fitted.embeddings,
        "match": match_meta,
        "index": index_meta,
    }


def _config(opts: TrainOptions, hybrid_config: dict | None) -> dict:
    """The bot's ``config.json``: the training and pair options, and the hybrid strategy's settings."""
    return {"train": {k: v for k, v in asdict(opts).items() if k != "pairs"},
            "pairs": {k: str(v) for k, v in asdict(opts.pairs).items()},
            **({"hybrid": hybrid_config} if hybrid_config else {})}


def _build_index(messages: pd.DataFrame, folder: Path, model, vocab, matcher, tr: pd.DataFrame, va: pd.DataFrame,
                 opts: TrainOptions, progress=None):
    """The person's past replies indexed by the sentence encoder (``bot.index``), and the hybrid ranker
    fitted on the tune share of the held-out conversations (``bot.eval.run.is_tune``: the pairs eval never
    reports on). Returns (index, the config's "hybrid" entry, meta)."""
    from types import SimpleNamespace

    from bot.encoder import load_encoder
    from bot.eval.figures import CANDIDATES, draw_candidates
    from bot.eval.run import is_tune
    from bot.hybrid import Hybrid, Ranker, context_vectors, fit_ranker, train_adapter
    from bot.index import EncodingCache, ReplyIndex, build_index, excluded_threads

    t0 = time.monotonic()
    encoder = load_encoder(opts.encoder)
    try:
        previous = ReplyIndex.load(folder)
    except BotError:
        previous = None
    cache = EncodingCache.from_index(previous, encoder.info.fingerprint)
    exclude = excluded_threads(messages, opts.quote_exclude) if opts.quote_exclude else set()

    def report(done: int, total: int) -> None:
        if progress:
            progress("encoding your past replies", done, total)

    index = build_index(tr, encoder, cache=cache, exclude=exclude, progress=report)
    kept = tr[~tr["thread_id"].astype(str).isin(exclude)] if exclude else tr
    contexts = [list(c) for c in kept["context"]] if "context" in kept else None
    ctx = context_vectors(lambda texts: cache.encode(encoder, texts, progress=report), contexts, len(kept),
                          encoder.info.dim)
    replies32, prompts32 = index.float32()
    index.adapter, adapter_meta = train_adapter(prompts32, ctx, replies32[index.prompt_reply], seed=opts.seed)
    ranker = Ranker()
    tune = va[va["conversation"].map(is_tune).to_numpy(dtype=bool)].reset_index(drop=True)
    replies = tune["reply"].astype(str).tolist()
    if len({r.strip().casefold() for r in replies}) >= CANDIDATES:
        cand = draw_candidates(replies, seed=1)
        prompts = tune["prompt"].astype(str).tolist()
        contexts = [list(c) for c in tune["context"]] if "context" in tune else None
        hybrid = Hybrid(SimpleNamespace(matcher=matcher, model=model, vocab=vocab), index, encoder, ranker)
        feats = hybrid.features(prompts, contexts, [[replies[j] for j in row] for row in cand])
        ranker = fit_ranker(np.stack(feats), seed=opts.seed)
    config = {"encoder": opts.encoder, "ranker": ranker.to_json()}
    meta = {"replies": len(index), "prompts": len(index.prompt_reply), "encoder": index.encoder["name"],
            "excluded_threads": len(exclude), "tune_pairs": ranker.tuned_on, "adapter": adapter_meta,
            "seconds": round(time.monotonic() - t0, 1)}
    return index, config, meta


def _train_matcher(tr: pd.DataFrame, va: pd.DataFrame, opts: TrainOptions, clock: Clock | None = None):
    """The reply matcher on the training pairs, its word weights starting from their idf; stopped by
    its share of the time budget, or after ``match_epochs``; early stopping on the held-out pairs."""
    from bot.match import MatchConfig, build_matcher, train_matcher

    matcher = build_matcher(MatchConfig(context_turns=opts.match_context), [*tr["prompt"], *tr["reply"]])
    t0 = time.monotonic()
    seconds = opts.minutes * 60 * opts.match_share if opts.minutes else float("inf")

    def encode(p: pd.DataFrame) -> dict:
        return matcher.encode(p["prompt"].tolist(), p["reply"].tolist(),
                              p["context"].tolist() if "context" in p else None)

    from bot.callbacks import ReportProgress

    history = train_matcher(matcher, encode(tr), seconds=seconds, epochs=opts.match_epochs, validation=encode(va),
                            seed=opts.seed, callbacks=[ReportProgress(clock.report, steps=None)] if clock else None)
    return matcher, {"seconds": round(time.monotonic() - t0, 1), "epochs": len(history.get("loss", [])),
                     "context_weight": round(matcher.context_weight, 3), "history": history}


def tensorboard_logs(opts: TrainOptions) -> bool:
    """Whether training writes TensorBoard logs: asked for, the TensorFlow backend, and ``tensorboard`` installed
    (``pip install 'talklike[tensorboard]'``)."""
    return bool(opts.tensorboard and keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tensorboard"))


def fit_phase(model: Seq2Seq, cfg: ModelConfig, vocab: Vocabulary, tr: pd.DataFrame, va: pd.DataFrame,
         opts: TrainOptions, phase: str, initial_epoch: int, deadline: float | None, ckpt_dir: Path,
         folder: Path, state: RunState, *, report: Callable[[float], None] | None = None) -> tuple[int, bool]:
    """One phase of ``fit``; returns (target tokens trained on, whether the time budget stopped it).
    ``report(epochs)`` hears how far the phase has come (``bot.callbacks.ReportProgress``); Keras prints nothing."""
    x, y = encode_pairs(tr, vocab, cfg)
    replicas = model.training.distribute_strategy.num_replicas_in_sync if keras.backend.backend() == "tensorflow" else 1
    data = LengthBuckets(x, y, opts.batch_size, multiple=opts.length_multiple, prompt_dropout=cfg.prompt_dropout,
                         seed=opts.seed, epoch=initial_epoch, min_batch=replicas)
    val = None
    if len(va):
        vx, vy = encode_pairs(va, vocab, cfg)
        val = LengthBuckets(vx, vy, opts.batch_size, multiple=opts.length_multiple, shuffle=False, min_batch=replicas)
    budget = TimeBudget(deadline=deadline)
    callbacks: list = [budget, EpochSeeds(opts.seed), Checkpoints(ckpt_dir, phase, opts.keep_checkpoints, state)]
    if val is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=opts.patience))
    if report:
        callbacks.append(ReportProgress(report, steps=len(data), initial_epoch=initial_epoch))
    if tensorboard_logs(opts):
        callbacks.append(keras.callbacks.TensorBoard(str(folder / LOGS / phase), write_graph=False,
                                                     profile_batch=0))
    if initial_epoch >= opts.epochs:
        return 0, False
    # shuffle=False: LengthBuckets orders its batches itself, from (seed, epoch); Keras's own shuffle draws from
    # Python's global random state, which a resumed run would not have in the same place
    history = model.training.fit(data, epochs=opts.epochs, initial_epoch=initial_epoch, validation_data=val,
                                 callbacks=callbacks, shuffle=False, verbose=0)
    epochs_run = len(history.history.get("loss", []))
    return data.target_tokens * epochs_run, budget.hit


def resume_from(model: Seq2Seq, ckpt_dir: Path, state: RunState) -> str:
    """Load the latest checkpoint's weights and optimizer state; returns "phase:epoch"."""
    if not state.latest:
        raise BotError(f"no checkpoint to resume from in {ckpt_dir}", hint="train without --resume")
    load_checkpoint(model, ckpt_dir / f"{state.latest}.weights.h5")
    return state.position


def load_checkpoint(model: Seq2Seq, path: Path) -> None:
    """An epoch checkpoint (weights and optimizer state) into a compiled model."""
    opt = model.training.optimizer
    if not opt.built:  # a built optimizer gets its saved state (moments, step count) back with the weights
        opt.build(model.training.trainable_variables)
    model.load_weights(path)


def load_best(model: Seq2Seq, ckpt_dir: Path, state: RunState, phase: str) -> None:
    best = state.best_name(phase)
    if best and (ckpt_dir / f"{best}.weights.h5").exists():
        model.load_weights(ckpt_dir / f"{best}.weights.h5")


def _plot_curves(path: Path, history: dict, pretrain: dict | None = None) -> None:
    from bot.plots import learning_curves  # matplotlib: only once a bot is saved

    learning_curves(path, history, pretrain)
