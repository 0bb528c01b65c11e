"""``make bench-model``: the default model against the seeds' architecture, on the same data in one run.

On the demo speaker (chitchat-dataset, the demo's default speaker, rendered as a Facebook export and
ingested into a temporary workspace), with one shared vocabulary and one split by conversation:

1. the default model trained by ``bot.train.train`` for ``--minutes`` (4, as ``talklike demo``);
2. the reference model with the seeds' architecture (``bot.baselines.train_reference``: embedding and
   one LSTM encoder-decoder, no attention, fixed padding) for ``--ref-epochs`` epochs (10);
3. side by side: training throughput (target tokens/s), the wall time each needs to reach the
   reference's last-epoch validation perplexity (token level, from the training histories; the
   target is to need at most a third of the reference's time), the ``talklike eval`` figures on the
   held-out test pairs (perplexity per word, 1-in-10 recall, generation figures) with the retrieval
   baseline as a third column, and reply latency p50/p95 for greedy, sampling (chat's default) and beam
   decoding (one prompt at a time, as in ``talklike chat``).

Options (after ``python -m bench.run model``): ``--minutes=M``, ``--ref-epochs=N``, ``--latency=N``
(prompts timed per strategy, 50). On a shared machine timings are noisy: compare the columns of one
run, not runs. Takes about 10-15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np


def _first_reaching(history: dict, target: float) -> float | None:
    for loss, seconds in zip(history.get("val_loss", []), history.get("seconds", []), strict=False):
        if loss <= target:
            return seconds
    return None


def _latency(bot, prompts: list[str], strategy: str) -> tuple[float, float]:
    for p in prompts[:3]:  # warm-up: the first calls trace the encoder and step functions
        bot.reply(p, strategy)
    times = []
    for p in prompts:
        t0 = time.perf_counter()
        bot.reply(p, strategy)
        times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench.run model")
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--ref-epochs", type=int, default=10)
    ap.add_argument("--latency", type=int, default=50)
    args = ap.parse_args(argv)

    import keras

    from bench import demo_workspace
    from bot.baselines import ReferenceConfig, train_reference
    from bot.eval import ModelSystem, evaluate, is_tune
    from bot.store import load_bot
    from bot.train import TrainOptions, split_pairs, train
    from bot.ui import table
    from ingest.pairs import build_pairs
    from ingest.pipeline import ME

    with tempfile.TemporaryDirectory(prefix="talklike-bench-") as tmp:
        root = Path(tmp)
        ws, figures = demo_workspace(root)
        opts = TrainOptions(minutes=args.minutes, tensorboard=False)
        pairs = build_pairs(ws.messages(), ME, opts.pair_options())  # with the turns the matcher reads
        train_pairs, val_pairs = split_pairs(pairs, opts.validation_share, opts.seed)
        print(f"chitchat-dataset speaker {figures['speaker']}: {len(pairs):,} pairs, {len(train_pairs):,} training, "
              f"{len(val_pairs):,} held out; backend {keras.backend.backend()}", flush=True)

        print(f"training the default model for at most {args.minutes:g} minutes ...", flush=True)
        result = train(ws, ME, opts)
        bot = load_bot(result.folder)
        c = bot.model.config
        print(f"training the reference model for {args.ref_epochs} epochs ...", flush=True)
        ref = train_reference(train_pairs, bot.vocab, epochs=args.ref_epochs, validation=val_pairs,
                              seed=opts.seed, batch_size=opts.batch_size, learning_rate=opts.learning_rate,
                              config=ReferenceConfig(vocab_size=len(bot.vocab), max_prompt_len=c.max_prompt_len,
                                                     max_reply_len=c.max_reply_len))
        ref_hist = {**ref.run.history, "seconds": ref.run.epoch_seconds}
        target = ref_hist["val_loss"][-1]
        ours_hist = bot.meta["history"]
        ref_time = _first_reaching(ref_hist, target)
        ours_time = _first_reaching(ours_hist, target)

        table("Training (same pairs, same vocabulary)",
              ["", "default model", "reference (seeds' architecture)"],
              [["target tokens/s", result.tokens_per_second, ref.run.tokens_per_second],
               ["epochs", result.epochs, ref.run.epochs],
               ["minutes", result.seconds / 60, ref.run.seconds / 60],
               ["best validation perplexity (token)", result.val_perplexity, math.exp(min(ref_hist["val_loss"]))],
               [f"seconds to reach ppl {math.exp(target):.1f} (reference, epoch {args.ref_epochs})",
                ours_time, ref_time]],
              caption="time to the reference's last-epoch validation perplexity; target: the default model in at "
              "most 1/3 of the reference's time" + ("" if ours_time is None else
                                                   f" (ratio {ours_time / ref_time:.2f})"))

        held = val_pairs["conversation"].map(is_tune).to_numpy(dtype=bool)
        tune, test = val_pairs[held].reset_index(drop=True), val_pairs[~held].reset_index(drop=True)
        ref_system = ModelSystem("reference", ref, bot.vocab, max_prompt_len=c.max_prompt_len,
                                 description=f"seed architecture, {ref.run.epochs} epochs")
        print("evaluating ...", flush=True)
        report = evaluate(bot, test, train_pairs=train_pairs, tune_pairs=tune, baselines=("retrieval",),
                          extra=[ref_system])
        table("Held-out evaluation (talklike eval)", ["figure", *report.systems], report.rows(),
              caption=report.caption())

        prompts = [p.replace("\n", " ") for p in test["prompt"].head(args.latency)]
        rows = []
        for strategy in ("greedy", "sample", "beam"):
            p50, p95 = _latency(bot, prompts, strategy)
            rows.append([strategy, p50, p95])
        table("Reply latency, one prompt at a time (ms)", ["strategy", "p50", "p95"], rows,
              caption="target: greedy p50 under 50 ms")
