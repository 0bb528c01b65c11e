"""``make bench-hybrid [SPEAKER=<id>]``: the bot's default (hybrid) against the seq2seq model alone and the baselines,
on one chitchat speaker's held-out conversations, in one run.

On the demo speaker (or ``--speaker``: any chitchat-dataset speaker id, so that no figure is tuned to one
person), rendered as a Facebook export and ingested into a temporary workspace, with one split by
conversation:

1. the bot trained by ``bot.train.train`` for ``--minutes`` (4, as ``talklike demo``): the seq2seq model,
   the reply matcher, and the index of the person's own replies with the hybrid ranker;
2. the reference model with the seeds' architecture (``bot.eval.baselines.train_reference``) for
   ``--ref-epochs`` epochs (10; 0 leaves it out);
3. side by side, the ``talklike eval`` figures on the held-out test pairs: ``hybrid`` (the default of chat and
   eval), ``seq2seq`` (the model alone, sampling: the default before the hybrid strategy), ``retrieval``
   (TF-IDF) and the reference. Fit (perplexity, 1-in-10 recall), generation (length, variety, chrF) and
   voice (authorship share, real-or-bot accuracy, style distance), and the style profile;
4. the reply index at scale: ``--index-size`` (20,000) replies of other chitchat conversations encoded from
   nothing (no cache), and reply latency p50/p95 (one message at a time, as in chat) for sampling, and for
   hybrid with the bot's own index and with that large one;
5. the issue's targets, each with its figure and whether it is met.

Options (after ``python -m bench.run hybrid``): ``--minutes=M``, ``--ref-epochs=N``, ``--latency=N`` (prompts
timed per strategy, 50), ``--speaker=ID``, ``--index-size=N``. On a shared machine timings are noisy: compare
the columns of one run, not runs. Takes about 15-20 minutes on 2 CPU cores.
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


def _latency(reply, prompts: list[str]) -> tuple[float, float]:
    for p in prompts[:3]:  # warm-up: the first calls trace the encoder and step functions
        reply(p)
    times = []
    for p in prompts:
        t0 = time.perf_counter()
        reply(p)
        times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench.run hybrid")
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--ref-epochs", type=int, default=10)
    ap.add_argument("--latency", type=int, default=50)
    ap.add_argument("--speaker", default=None, help="chitchat-dataset speaker id (default: the demo's)")
    ap.add_argument("--index-size", type=int, default=20_000)
    args = ap.parse_args(argv)

    import keras

    from bench import corpus_pairs, demo_workspace, met, within
    from bot.cli.ui import table
    from bot.data import split_pairs
    from bot.eval import ModelSystem, evaluate, is_tune
    from bot.eval.baselines import ReferenceConfig, train_reference
    from bot.eval.run import people_turns
    from bot.hybrid import Hybrid
    from bot.index import build_index
    from bot.store import load_bot
    from bot.train import TrainOptions, train
    from ingest.pairs import build_pairs
    from ingest.people import ME

    with tempfile.TemporaryDirectory(prefix="talklike-bench-") as tmp:
        root = Path(tmp)
        ws, figures = demo_workspace(root, args.speaker)
        opts = TrainOptions(minutes=args.minutes, tensorboard=False)
        pairs = build_pairs(ws.messages(), ME, opts.pair_options())  # with the turns the matcher reads
        train_pairs, val_pairs = split_pairs(pairs, opts.validation_share, opts.seed)
        print(f"chitchat-dataset speaker {figures['speaker']}: {len(pairs):,} pairs, {len(train_pairs):,} training, "
              f"{len(val_pairs):,} held out; backend {keras.backend.backend()}", flush=True)

        print(f"training the bot for at most {args.minutes:g} minutes, then its reply index ...", flush=True)
        result = train(ws, ME, opts)
        bot = load_bot(result.folder)
        c = bot.model.config
        extra, ref = [], None
        if args.ref_epochs:
            print(f"training the reference model for {args.ref_epochs} epochs ...", flush=True)
            ref = train_reference(train_pairs, bot.vocab, epochs=args.ref_epochs, validation=val_pairs,
                                  seed=opts.seed, batch_size=opts.batch_size, learning_rate=opts.learning_rate,
                                  config=ReferenceConfig(vocab_size=len(bot.vocab), max_prompt_len=c.max_prompt_len,
                                                         max_reply_len=c.max_reply_len))
            extra = [ModelSystem("reference", ref, bot.vocab, max_prompt_len=c.max_prompt_len,
                                 description=f"seed architecture, {ref.run.epochs} epochs")]
        index_meta = bot.meta.get("index") or {}
        rows = [["target tokens/s", result.tokens_per_second, ref.run.tokens_per_second if ref else None],
                ["epochs", result.epochs, ref.run.epochs if ref else None],
                ["minutes", result.seconds / 60, ref.run.seconds / 60 if ref else None],
                ["best validation perplexity (token)", result.val_perplexity,
                 math.exp(min(ref.run.history["val_loss"])) if ref else None],
                ["reply index: replies / seconds (cached vectors reused)",
                 f"{index_meta.get('replies', 0):,} / {index_meta.get('seconds', 0):.0f}", None]]
        caption = "time to the reference's last-epoch validation perplexity: see the row below"
        if ref:
            ref_hist = {**ref.run.history, "seconds": ref.run.epoch_seconds}
            target = ref_hist["val_loss"][-1]
            ours, theirs = _first_reaching(bot.meta["history"], target), _first_reaching(ref_hist, target)
            rows.append([f"seconds to reach ppl {math.exp(target):.1f} (reference, epoch {args.ref_epochs})",
                         ours, theirs])
            caption = "target: the seq2seq model in at most 1/3 of the reference's time" + (
                "" if ours is None or not theirs else f" (ratio {ours / theirs:.2f})")
        table("Training (same pairs, same vocabulary)", ["", "bot (seq2seq)", "reference (seeds' architecture)"],
              rows, caption=caption)

        held = val_pairs["conversation"].map(is_tune).to_numpy(dtype=bool)
        tune, test = val_pairs[held].reset_index(drop=True), val_pairs[~held].reset_index(drop=True)
        people = people_turns(ws.messages(), ME, set(val_pairs["conversation"].astype(str)), opts.pairs)
        print(f"evaluating on {len(test):,} test pairs ({len(tune):,} tune pairs) ...", flush=True)
        report = evaluate(bot, test, train_pairs=train_pairs, tune_pairs=tune, baselines=("retrieval",),
                          extra=extra, people=people)
        table("Held-out evaluation (talklike eval)", ["figure", *report.systems], report.rows(),
              caption=report.caption())
        table("Style profile", ["figure", "the person (real replies)",
                                *[n for n, s in report.systems.items() if s.style]], report.style_rows())

        print(f"encoding a reply index of {args.index_size:,} replies of other conversations (no cache) ...",
              flush=True)
        big_pairs = corpus_pairs(args.index_size, figures["speaker"])
        hybrid = bot.hybrid
        t0 = time.monotonic()
        big = build_index(big_pairs, hybrid.encoder)
        index_seconds = time.monotonic() - t0
        big_hybrid = Hybrid(bot, big, hybrid.encoder, hybrid.ranker)
        prompts = [p for p in test["prompt"].head(args.latency)]
        lat = {"sample": _latency(lambda p: bot.reply(p, "sample"), prompts),
               "hybrid": _latency(lambda p: bot.reply(p, "hybrid"), prompts),
               "hybrid, large index": _latency(lambda p: big_hybrid.replies([p]), prompts)}
        table("Reply latency, one message at a time (ms)", ["strategy", "index replies", "p50", "p95"],
              [["sample (seq2seq)", None, *lat["sample"]], ["hybrid", len(bot.index), *lat["hybrid"]],
               ["hybrid", len(big), *lat["hybrid, large index"]]],
              caption=f"the large index ({len(big):,} distinct replies, {len(big_pairs):,} prompts) took "
              f"{index_seconds:.0f} s to encode from nothing")

        h, s = report.systems["hybrid"], report.systems["seq2seq"]
        real_share = report.voice.get("authorship_real")

        targets = [
            ["1-in-10 recall", ">= 0.65", h.recall.get("ranker"), s.recall.get("mi_match"),
             met((h.recall.get("ranker") or 0) >= 0.65)],
            ["real-or-bot accuracy", "<= 0.65", h.real_or_bot, s.real_or_bot, met((h.real_or_bot or 1) <= 0.65)],
            [f"attributed to the person (real: {real_share or float('nan'):.2f})", "within ±15% of real",
             h.authorship, s.authorship, met(within(h.authorship, real_share, 0.15))],
            ["share of the most frequent reply", "<= 0.05", h.top_reply_share, s.top_reply_share,
             met(h.top_reply_share <= 0.05)],
            [f"average words (real: {report.real_avg_words:.1f})", "within 25%", h.avg_words, s.avg_words,
             met(within(h.avg_words, report.real_avg_words, 0.25))],
            [f"latency p50, index of {len(big):,} replies (ms)", "<= 100", lat["hybrid, large index"][0],
             lat["sample"][0], met(lat["hybrid, large index"][0] <= 100)],
            [f"indexing {len(big_pairs):,} replies (s)", "<= 180", index_seconds, None, met(index_seconds <= 180)],
        ]
        table("Targets (hybrid: the new default; seq2seq: sampling, the default before it)",
              ["figure", "target", "hybrid", "seq2seq", "met"], targets,
              caption=f"speaker {figures['speaker']}; seq2seq's recall is its best score (MI + match)")
