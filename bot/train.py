"""Train one person's bot from the workspace.

The Python twin of ``talklike train``::

    from bot.train import TrainOptions, train
    result = train(Workspace("data"), "me", TrainOptions(minutes=5))

What a run does, in order:

1. pairs for the person (``ingest.pairs.build_pairs``), split by conversation into training and
   validation; for a friend's bot, also every (turn, answer) pair of every conversation in every
   direction, to pre-train on before fine-tuning on the friend's few replies;
2. batches of pairs of similar lengths, each padded only as far as it needs (``LengthBuckets``),
   with a share of prompts emptied (``ModelConfig.prompt_dropout``);
3. ``keras.Model.fit`` with early stopping on validation loss, the time budget, a checkpoint after
   each epoch in ``<bot>/checkpoints`` (the 5 latest and the best; ``resume=True`` continues from
   the latest, optimizer state and epoch counter included), TensorBoard logs in ``<bot>/logs``
   (TensorFlow backend), mixed precision on a GPU and ``tf.distribute.MirroredStrategy`` over
   several GPUs (TensorFlow backend);
4. the best epoch's weights saved as the bot folder, with its configuration and learning curves.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from bot.errors import BotError
from bot.model import ModelConfig, Seq2Seq
from bot.store import bot_folder, save_bot
from bot.vocab import SEP_ID, Vocabulary
from ingest.pairs import PairOptions, build_pairs, keep_context, turns
from ingest.pipeline import ME, resolve_person
from ingest.workspace import Workspace, private_mkdir, read_json, write_json

MIN_PAIRS = 8
CHECKPOINTS = "checkpoints"  # subfolder of the bot folder; save_bot carries it over
LOGS = "logs"  # TensorBoard logs, subfolder of the bot folder


@dataclass
class TrainOptions:
    epochs: int = 30  # upper bound per phase; early stopping and --minutes usually stop sooner
    minutes: float | None = None  # wall-clock budget for the whole training
    batch_size: int = 64  # pairs per step (over all devices together)
    learning_rate: float = 2e-3
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

    @property
    def val_perplexity(self) -> float | None:
        return math.exp(self.val_loss) if self.val_loss is not None else None


# --- pairs ----------------------------------------------------------------------------------------
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


def all_pairs(messages: pd.DataFrame, opts: PairOptions = PairOptions()) -> pd.DataFrame:
    """Every (turn, next turn by someone else) of every session, whoever wrote them: the pre-training
    pairs of a friend's bot. Conversation keys match ``build_pairs``, so one split serves both."""
    t = turns(messages, opts)
    if t.empty:
        return pd.DataFrame(columns=["conversation", "prompt", "reply", "context"])
    session = t["session"].to_numpy()
    sender = t["sender_id"].to_numpy(dtype=object)
    keep = np.r_[False, (session[1:] == session[:-1]) & (sender[1:] != sender[:-1])]
    idx = np.flatnonzero(keep)
    text = t["text"].to_numpy(dtype=object)
    contexts = []
    for i in idx:
        j, ctx = i - 2, []
        while len(ctx) < opts.context_turns and j >= 0 and session[j] == session[i]:
            ctx.append(text[j])
            j -= 1
        contexts.append(ctx[::-1])
    pairs = pd.DataFrame({
        "conversation": t["conversation"].to_numpy(dtype=object)[idx].astype(str) + "#" + session[idx].astype(str),
        "prompt": text[idx - 1], "reply": text[idx], "context": contexts})
    words = np.minimum(pairs["prompt"].str.split().str.len(), pairs["reply"].str.split().str.len())
    return pairs[words >= opts.min_words].reset_index(drop=True)


def encode_prompt(vocab: Vocabulary, prompt: str, context: list[str] | None, max_len: int) -> np.ndarray:
    """The encoder's input: the context turns then the prompt, each turn followed by ``<sep>``
    except the prompt, keeping the *last* ``max_len`` tokens, padded on the right."""
    ids: list[int] = []
    for turn in context or []:
        ids += [*vocab.ids(turn), SEP_ID]
    ids = (ids + vocab.ids(prompt))[-max_len:]
    out = np.zeros(max_len, dtype=np.int32)
    out[: len(ids)] = ids
    return out


def encode_prompts(vocab: Vocabulary, prompts, contexts, turns: int, max_len: int) -> np.ndarray:
    """``encode_prompt`` for many prompts: with ``contexts`` (turns before each prompt, oldest first) and a
    model that reads ``turns`` of them, the last ``turns``; else the prompts alone."""
    if contexts is not None and turns:
        return np.stack([encode_prompt(vocab, p, list(c)[-turns:], max_len)
                         for p, c in zip(prompts, contexts, strict=True)])
    return vocab.encode_all(list(prompts), max_len)


def encode_pairs(pairs: pd.DataFrame, vocab: Vocabulary, cfg: ModelConfig) -> tuple[dict, np.ndarray]:
    """Fixed-width arrays: prompt (with its context turns, when the pairs carry them), decoder input, target."""
    contexts = pairs["context"] if "context" in pairs else [None] * len(pairs)
    prompts = [encode_prompt(vocab, p, c, cfg.max_prompt_len) for p, c in zip(pairs["prompt"], contexts, strict=True)]
    dec = [vocab.encode_reply(r, cfg.max_reply_len) for r in pairs["reply"]]
    width = (len(pairs), cfg.max_prompt_len), (len(pairs), cfg.max_reply_len)
    reply_in = np.stack([d[0] for d in dec]) if dec else np.zeros(width[1], np.int32)
    target = np.stack([d[1] for d in dec]) if dec else np.zeros(width[1], np.int32)
    return {"prompt": np.stack(prompts) if prompts else np.zeros(width[0], np.int32), "reply_in": reply_in}, target


# --- batches --------------------------------------------------------------------------------------
def _round_up(n: np.ndarray, multiple: int, cap: int) -> np.ndarray:
    return np.minimum(-(-np.maximum(n, 1) // multiple) * multiple, cap)


class LengthBuckets(keras.utils.PyDataset):
    """Batches of pairs of similar lengths, each padded only to its longest pair, rounded up to a
    multiple of ``multiple`` (so few distinct shapes reach the compiled training step).

    Every pair is in exactly one batch per epoch. With ``shuffle`` the batches are re-drawn each
    epoch (random order among pairs of the same padded lengths) and served in random order; a share
    ``prompt_dropout`` of prompts is emptied. Plain numpy: it runs on every Keras backend.
    """

    def __init__(self, x: dict, y: np.ndarray, batch_size: int, *, multiple: int = 8, shuffle: bool = True,
                 prompt_dropout: float = 0.0, seed: int = 0, min_batch: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.prompt, self.reply_in, self.target = x["prompt"], x["reply_in"], y
        self.batch_size, self.shuffle, self.prompt_dropout, self.seed = batch_size, shuffle, prompt_dropout, seed
        self.min_batch = min_batch  # several devices: each needs at least one pair of every batch
        self.prompt_len = _round_up((self.prompt != 0).sum(1), multiple, self.prompt.shape[1])
        self.reply_len = _round_up((self.target != 0).sum(1), multiple, self.target.shape[1])
        self.epoch = 0
        self._plan()

    @property
    def target_tokens(self) -> int:
        return int((self.target != 0).sum())

    def _plan(self) -> None:
        n = len(self.target)
        rng = np.random.default_rng([self.seed, self.epoch])
        tie = rng.random(n) if self.shuffle else np.arange(n)
        order = np.lexsort((tie, self.prompt_len, self.reply_len))
        batches = [order[i: i + self.batch_size] for i in range(0, n, self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < self.min_batch:
            batches[-2:] = [np.concatenate(batches[-2:])]
        elif n and n < self.min_batch:  # fewer pairs than devices: repeat some
            batches = [np.resize(order, self.min_batch)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        self.batches = _distinct_first(batches, self.prompt_len, self.reply_len)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        idx = self.batches[i]
        lp, lr = int(self.prompt_len[idx].max()), int(self.reply_len[idx].max())
        prompt = self.prompt[idx, :lp]
        if self.prompt_dropout > 0:
            empty = np.random.default_rng([self.seed, self.epoch, i]).random(len(idx)) < self.prompt_dropout
            prompt = np.where(empty[:, None], 0, prompt).astype(np.int32)
        return {"prompt": prompt, "reply_in": self.reply_in[idx, :lr]}, self.target[idx, :lr]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.epoch += 1
            self._plan()


def _distinct_first(batches: list, prompt_len: np.ndarray, reply_len: np.ndarray) -> list:
    """Put first two batches that differ in both padded lengths where the data allows it: Keras (TF
    backend) derives the input signature from the first two batches and marks as variable only the
    sizes that differ between them."""
    if len(batches) < 2:
        return batches
    shapes = [(int(prompt_len[b].max()), int(reply_len[b].max())) for b in batches]
    p_varies, r_varies = len({s[0] for s in shapes}) > 1, len({s[1] for s in shapes}) > 1
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            if (shapes[i][0] != shapes[j][0] or not p_varies) and (shapes[i][1] != shapes[j][1] or not r_varies):
                rest = [b for k, b in enumerate(batches) if k not in (i, j)]
                return [batches[i], batches[j], *rest]
    return batches


# --- callbacks ------------------------------------------------------------------------------------
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


def save_weights_atomic(model: keras.Model, path: Path) -> None:
    """Weights written to a temporary file beside ``path``, made owner-only, then renamed into place."""
    tmp = path.with_name(f".{path.name[: -len('.weights.h5')]}.tmp.weights.h5")
    try:
        model.save_weights(str(tmp))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class Checkpoints(keras.callbacks.Callback):
    """After each epoch: weights and optimizer state (one ``.weights.h5``) in ``folder``, the ``keep`` latest and the best
    (lowest validation loss) kept, and ``state.json`` saying where a resumed run continues."""

    def __init__(self, folder: Path, phase: str, keep: int, state: dict):
        super().__init__()
        self.folder, self.phase, self.keep, self.state = folder, phase, keep, state
        self.t0 = time.monotonic()

    def on_train_begin(self, logs=None):
        hist = self.state.get("history", {}).get(self.phase, {})
        self.t0 = time.monotonic() - (hist["seconds"][-1] if hist.get("seconds") else 0.0)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        logs["seconds"] = time.monotonic() - self.t0  # wall time since the phase began, resumed runs included
        name = f"{self.phase}-{epoch + 1:04d}"
        save_weights_atomic(self.model, self.folder / f"{name}.weights.h5")  # the optimizer's state included
        s = self.state
        hist = s.setdefault("history", {}).setdefault(self.phase, {})
        for k, v in logs.items():
            hist.setdefault(k, []).append(v)
        s.update(phase=self.phase, epoch=epoch + 1, latest=name)
        s.setdefault("checkpoints", []).append(name)
        score = logs.get("val_loss", logs.get("loss"))
        best = s.setdefault("best", {})
        if score is not None and math.isfinite(score) and (self.phase not in best or score < best[self.phase]["score"]):
            best[self.phase] = {"name": name, "score": score}
        keep = set(s["checkpoints"][-max(self.keep, 1):]) | {b["name"] for b in best.values()}
        dropped = [c for c in s["checkpoints"] if c not in keep]
        s["checkpoints"] = [c for c in s["checkpoints"] if c in keep]
        # state.json first: a run killed between the two never names a checkpoint already deleted
        write_json(self.folder / "state.json", s)
        for old in dropped:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{old}.weights.h5").unlink()


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
def train(workspace: Workspace, person: str, opts: TrainOptions = TrainOptions(),
          progress: Callable[[str, int, int], None] | None = None) -> TrainResult:
    """Build pairs for ``person`` (``"me"`` or a friend's name), train, and save the bot folder.
    ``progress(stage, done, total)`` follows the slow stages outside Keras's own output (encoding the index)."""
    if opts.mixed_precision not in ("auto", "on", "off"):
        raise BotError(f"unknown mixed precision mode {opts.mixed_precision!r}", hint="choose auto, on or off")
    keras.utils.set_random_seed(opts.seed)
    messages = workspace.messages()
    target = resolve_person(messages, person)
    pairs = build_pairs(messages, target, opts.pair_options())
    if len(pairs) < MIN_PAIRS:
        raise BotError(f"only {len(pairs)} (message, reply) pairs for {target!r}; at least {MIN_PAIRS} are needed",
                       hint="ingest more exports, or loosen the pair options (e.g. a longer --session-gap)")
    train_pairs, val_pairs = split_pairs(pairs, opts.validation_share, opts.seed)
    if opts.quotes:  # a missing or damaged encoder is said now, not after the minutes of training
        from bot.encoder import check_encoder

        check_encoder(opts.encoder)
    phases = []  # (name, training pairs, validation pairs)
    if target != ME and opts.pretrain:
        everyone = all_pairs(messages, opts.pairs)
        held = set(val_pairs["conversation"])
        pre_val = everyone["conversation"].isin(held) | everyone["conversation"].map(
            lambda c: is_validation(c, opts.validation_share, opts.seed))
        pre_train = everyone[~pre_val.to_numpy(dtype=bool)].reset_index(drop=True)
        if len(pre_train) > len(train_pairs):
            phases.append(("pretrain", pre_train, everyone[pre_val.to_numpy(dtype=bool)].reset_index(drop=True)))
    seq_turns = opts.pairs.context_turns  # what the seq2seq model reads; the matcher reads opts.match_context
    phases.append(("train", keep_context(train_pairs, seq_turns), keep_context(val_pairs, seq_turns)))

    folder = bot_folder(workspace, ME if target == ME else target)
    ckpt_dir = folder / CHECKPOINTS
    state: dict = {}
    if opts.embeddings or opts.freeze_embeddings:
        from embeddings.vectors import initialise, load_vectors
    vectors = load_vectors(workspace) if (opts.embeddings or opts.freeze_embeddings) and not opts.resume else None
    if opts.resume:
        if not (ckpt_dir / "state.json").exists():
            raise BotError(f"no checkpoint to resume from in {ckpt_dir}", hint="train without --resume")
        state = read_json(ckpt_dir / "state.json")
        vocab = Vocabulary.from_json(read_json(ckpt_dir / "vocab.json"))
        cfg = ModelConfig.from_json(state["model"])
    else:
        texts = pd.concat([phases[0][1]["prompt"], phases[0][1]["reply"]])
        vocab = Vocabulary.build(texts, max_size=opts.max_vocab, min_count=opts.min_count)
        cfg = ModelConfig(vocab_size=len(vocab), **{**opts.model, **({"embed_dim": vectors.dim} if vectors else {})})
        if ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)  # a fresh run: the old run's checkpoints would mislead --resume
        private_mkdir(ckpt_dir)
        write_json(ckpt_dir / "vocab.json", vocab.to_json())
        state = {"model": cfg.to_json()}

    mixed = opts.mixed_precision == "on" or (opts.mixed_precision == "auto" and gpu_count() > 0)
    previous_policy = keras.mixed_precision.dtype_policy()
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        strategy = _strategy(opts.distribute)
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = Seq2Seq(cfg)
            model.compile(opts.learning_rate)
        embeddings_used = initialise(model.embedding, vocab.words, vectors, freeze=opts.freeze_embeddings) \
            if vectors else state.get("embeddings")  # which vectors, and how many words they covered: in meta.json
        state["embeddings"] = embeddings_used
        resumed_at = _resume(model, ckpt_dir, state) if opts.resume else None
        names = [p for p, _, _ in phases]
        first = names.index(state["phase"]) if resumed_at and state.get("phase") in names else 0

        start = time.monotonic()
        deadline = start + opts.minutes * 60 * (1 - opts.match_share if opts.match else 1.0) if opts.minutes else None
        tokens, hit_budget = 0, False
        for k, (phase, tr, va) in enumerate(phases):
            if k < first:
                continue
            phase_deadline = deadline
            if deadline and phase == "pretrain":
                phase_deadline = start + opts.pretrain_share * opts.minutes * 60
            initial = state["epoch"] if resumed_at and k == first else 0
            ran, hit = _fit(model, cfg, vocab, tr, va, opts, phase, initial, phase_deadline, ckpt_dir, folder, state)
            tokens += ran
            hit_budget |= hit
            _load_best(model, ckpt_dir, state, phase)
        seconds = time.monotonic() - start
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    matcher, match_meta = _train_matcher(train_pairs, val_pairs, opts) if opts.match else (None, None)
    index, hybrid_config, index_meta = _build_index(messages, folder, model, vocab, matcher, train_pairs, val_pairs,
                                                    opts, progress) if opts.quotes else (None, None, None)

    h = state.get("history", {}).get("train", {})
    best = state.get("best", {}).get("train")
    val_loss = best["score"] if best and h.get("val_loss") else None
    meta = {
        "person": target,
        "me": workspace.meta().get("me", []),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": keras.backend.backend(),
        "devices": strategy.num_replicas_in_sync if strategy else 1,
        "mixed_precision": mixed,
        "pairs_train": len(train_pairs),
        "pairs_validation": len(val_pairs),
        "pairs_pretrain": len(phases[0][1]) if len(phases) > 1 else 0,
        "epochs": len(h.get("loss", [])),
        "best_epoch": int(best["name"].rsplit("-", 1)[1]) if best else None,
        "seconds": round(seconds, 1),
        "stopped_by_time_budget": hit_budget,
        "resumed_at": resumed_at,
        "history": h,
        "pretrain_history": state.get("history", {}).get("pretrain"),
        "val_loss": val_loss,
        "embeddings": embeddings_used,
        "match": match_meta,
        "index": index_meta,
    }
    config = {"train": {k: v for k, v in asdict(opts).items() if k != "pairs"},
              "pairs": {k: str(v) for k, v in asdict(opts.pairs).items()},
              **({"hybrid": hybrid_config} if hybrid_config else {})}
    save_bot(folder, model, vocab, meta=meta, config=config, matcher=matcher, index=index)
    _plot_curves(folder / "learning_curves.png", h, state.get("history", {}).get("pretrain"))
    return TrainResult(folder=folder, person=target, pairs_train=len(train_pairs), pairs_validation=len(val_pairs),
                       vocab_size=len(vocab), epochs=meta["epochs"], seconds=seconds,
                       train_loss=float(h["loss"][-1]) if h.get("loss") else float("nan"), val_loss=val_loss,
                       tokens_per_second=tokens / seconds if seconds else 0.0, pairs_pretrain=meta["pairs_pretrain"],
                       resumed_at=resumed_at, index_replies=len(index) if index is not None else 0)


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


def _train_matcher(tr: pd.DataFrame, va: pd.DataFrame, opts: TrainOptions):
    """The reply matcher on the training pairs, its word weights starting from their idf; stopped by
    its share of the time budget, or after ``match_epochs``; early stopping on the held-out pairs."""
    from bot.match import MatchConfig, build_matcher, train_matcher

    matcher = build_matcher(MatchConfig(context_turns=opts.match_context), [*tr["prompt"], *tr["reply"]])
    t0 = time.monotonic()
    seconds = opts.minutes * 60 * opts.match_share if opts.minutes else float("inf")

    def encode(p: pd.DataFrame) -> dict:
        return matcher.encode(p["prompt"].tolist(), p["reply"].tolist(),
                              p["context"].tolist() if "context" in p else None)

    history = train_matcher(matcher, encode(tr), seconds=seconds, epochs=opts.match_epochs, validation=encode(va),
                            seed=opts.seed)
    return matcher, {"seconds": round(time.monotonic() - t0, 1), "epochs": len(history.get("loss", [])),
                     "context_weight": round(matcher.context_weight, 3), "history": history}


def _fit(model: Seq2Seq, cfg: ModelConfig, vocab: Vocabulary, tr: pd.DataFrame, va: pd.DataFrame,
         opts: TrainOptions, phase: str, initial_epoch: int, deadline: float | None, ckpt_dir: Path,
         folder: Path, state: dict) -> tuple[int, bool]:
    """One phase of ``fit``; returns (target tokens trained on, whether the time budget stopped it)."""
    x, y = encode_pairs(tr, vocab, cfg)
    replicas = model.training.distribute_strategy.num_replicas_in_sync if keras.backend.backend() == "tensorflow" else 1
    data = LengthBuckets(x, y, opts.batch_size, multiple=opts.length_multiple, prompt_dropout=cfg.prompt_dropout,
                         seed=opts.seed + initial_epoch, min_batch=replicas)
    val = None
    if len(va):
        vx, vy = encode_pairs(va, vocab, cfg)
        val = LengthBuckets(vx, vy, opts.batch_size, multiple=opts.length_multiple, shuffle=False, min_batch=replicas)
    budget = TimeBudget(deadline=deadline)
    callbacks: list = [budget, Checkpoints(ckpt_dir, phase, opts.keep_checkpoints, state)]
    if val is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=opts.patience))
    if opts.tensorboard and keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tensorboard"):
        callbacks.append(keras.callbacks.TensorBoard(str(folder / LOGS / phase), write_graph=False,
                                                     profile_batch=0))
    if initial_epoch >= opts.epochs:
        return 0, False
    history = model.training.fit(data, epochs=opts.epochs, initial_epoch=initial_epoch, validation_data=val,
                                 callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    epochs_run = len(history.history.get("loss", []))
    return data.target_tokens * epochs_run, budget.hit


def _resume(model: Seq2Seq, ckpt_dir: Path, state: dict) -> str:
    """Load the latest checkpoint's weights and optimizer state; returns "phase:epoch"."""
    latest = state.get("latest")
    if not latest:
        raise BotError(f"no checkpoint to resume from in {ckpt_dir}", hint="train without --resume")
    opt = model.training.optimizer
    if not opt.built:  # a built optimizer gets its saved state (moments, step count) back with the weights
        opt.build(model.training.trainable_variables)
    model.load_weights(ckpt_dir / f"{latest}.weights.h5")
    return f"{state['phase']}:{state['epoch']}"


def _load_best(model: Seq2Seq, ckpt_dir: Path, state: dict, phase: str) -> None:
    best = state.get("best", {}).get(phase)
    if best and (ckpt_dir / f"{best['name']}.weights.h5").exists():
        model.load_weights(ckpt_dir / f"{best['name']}.weights.h5")


def _plot_curves(path: Path, history: dict, pretrain: dict | None = None) -> None:
    if not history.get("loss"):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ingest.workspace import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.5))
    offset = 0
    if pretrain and pretrain.get("loss"):
        offset = len(pretrain["loss"])
        ax.plot(range(1, offset + 1), pretrain["loss"], "--", label="pre-training loss (everyone)")
        if pretrain.get("val_loss"):
            ax.plot(range(1, offset + 1), pretrain["val_loss"], ":", label="pre-training validation loss")
    epochs = range(offset + 1, offset + len(history["loss"]) + 1)
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
