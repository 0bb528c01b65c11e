"""``make bench-embeddings``: word-vector training speed, and whether the vectors help the bot.

1. Throughput (corpus words x epochs per second) of ``talklike embed`` (``train_vectors``: streams the
   Parquet table, tokenises once, trains with gensim's ``corpus_file`` mode on every core) next to
   gensim called directly on the same corpus, already tokenised in a Python list (its tokenising is
   timed apart, as "read"), and next to the wrapper re-tokenising the table on every epoch
   (``tokenise_once=False``). Training throughput = corpus words x epochs / seconds of vocabulary
   building and training, on the wall clock and per CPU-second of the process (steadier on a busy
   machine). The wrapper should be within 10% of gensim direct, or faster. Runs are interleaved and
   repeated; the median is printed.
2. Held-out figures of ``talklike eval`` (bot/eval.py) for the demo speaker's bot trained the same
   way (same seed, epochs, minutes) without word vectors, with Word2Vec vectors, and with FastText
   vectors, so the README can say whether they help.

Data: the demo corpus (chitchat-dataset, the demo's default speaker) rendered as a Facebook export
and ingested into a temporary workspace. Options (after ``python -m bench.run embeddings``):
``--repeats=N`` (3), ``--minutes=M`` per bot (3), ``--epochs=N`` per bot (30), ``--no-eval``.
On a shared machine the timings are noisy: compare the rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench import demo_workspace
from embeddings.vectors import ALGORITHMS, EmbedOptions, corpus, train_vectors
from ingest.workspace import Workspace


@dataclass
class Run:
    read: float  # seconds to read and tokenise the table
    train: float  # seconds of vocabulary building and training
    cpu: float  # CPU seconds of this process while training


def gensim_direct(ws: Workspace, opts: EmbedOptions) -> tuple[Run, int]:
    """gensim alone: the table tokenised into a list (timed apart), then vocabulary and training."""
    start = time.monotonic()
    sentences = list(corpus(ws))
    read = time.monotonic() - start
    words = sum(map(len, sentences))
    params = {"vector_size": opts.dim, "window": opts.window, "min_count": opts.min_count,
              "workers": os.cpu_count(), "sg": int(opts.skip_gram), "seed": opts.seed}
    if opts.algo == "fasttext":
        params.update(min_n=opts.min_n, max_n=opts.max_n, bucket=opts.buckets)
    start, cpu = time.monotonic(), time.process_time()
    model = ALGORITHMS[opts.algo]()(**params)
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=model.corpus_count, total_words=words,
                epochs=opts.epochs)
    return Run(read, time.monotonic() - start, time.process_time() - cpu), words


def wrapper(ws: Workspace, opts: EmbedOptions) -> tuple[Run, int]:
    r = train_vectors(ws, opts)
    return Run(r.read_seconds, r.train_seconds, r.train_cpu_seconds), r.words


def throughput(ws: Workspace, algo: str, repeats: int) -> list[list]:
    opts = EmbedOptions(algo=algo)
    runners = {"talklike embed": lambda: wrapper(ws, opts),
               "gensim direct (tokenised list)": lambda: gensim_direct(ws, opts),
               "talklike embed, tokenising every epoch": lambda: wrapper(ws, replace(opts, tokenise_once=False))}
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    words = 0
    for _ in range(repeats):  # interleaved, so the load on the machine hits each alike
        for name, run in runners.items():
            r, words = run()
            runs[name].append(r)
    med = {name: Run(*(statistics.median(getattr(r, f) for r in rs) for f in ("read", "train", "cpu")))
           for name, rs in runs.items()}
    direct = med["gensim direct (tokenised list)"]
    work = words * opts.epochs
    return [[algo, name, work / m.train, work / m.cpu, m.read + m.train,
             f"{direct.train / m.train:.2f}x", f"{direct.cpu / m.cpu:.2f}x"] for name, m in med.items()]


def bot_quality(ws: Workspace, minutes: float, epochs: int) -> None:
    from bot.eval import evaluate_person
    from bot.train import TrainOptions, train

    results = {}
    for label, algo in [("no vectors", None), ("word2vec", "word2vec"), ("fasttext", "fasttext")]:
        if algo:
            train_vectors(ws, EmbedOptions(algo=algo))
        r = train(ws, "me", TrainOptions(minutes=minutes, epochs=epochs, embeddings=algo is not None))
        report = evaluate_person(ws, "me", baselines=())
        results[label] = (r, report)
        print(f"  trained {label}: {r.epochs} epochs, {r.seconds / 60:.1f} min, validation perplexity "
              f"{r.val_perplexity:.1f}", flush=True)
    first = next(iter(results.values()))[1]
    labels = [f"{label}" for label in results]
    print(f"\nHeld-out figures (talklike eval, {first.source}; {first.pairs:,} test pairs), "
          f"bots trained at most {minutes:g} min / {epochs} epochs each:")
    table = [["training epochs run", *[r.epochs for r, _ in results.values()]],
             ["training validation perplexity (per token)", *[r.val_perplexity for r, _ in results.values()]]]
    for i, row in enumerate(first.rows()):
        table.append([row[0], *[rep.rows()[i][1] for _, rep in results.values()]])
    _print(["figure", *labels], table)


def _print(header: list[str], rows: list[list]) -> None:
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    cells = [header] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for j, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="bench.embeddings")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--no-eval", action="store_true")
    p.add_argument("--speaker", default=None, help="chitchat-dataset speaker id (default: the demo's)")
    args = p.parse_args(argv)
    os.umask(0o077)
    with tempfile.TemporaryDirectory(prefix="talklike-bench-embeddings-") as tmp:
        ws, figures = demo_workspace(Path(tmp), args.speaker)
        print(f"corpus: chitchat-dataset speaker {figures['speaker']}: {figures['messages']:,} messages, "
              f"{figures['conversations']:,} conversations", flush=True)
        print(f"\nTraining throughput, {os.cpu_count()} cores, defaults of `talklike embed` "
              f"({EmbedOptions().dim} dims, {EmbedOptions().epochs} epochs, min count {EmbedOptions().min_count}); "
              f"median of {args.repeats}:", flush=True)
        rows = throughput(ws, "word2vec", args.repeats) + throughput(ws, "fasttext", 1)
        _print(["algorithm", "run", "training words/s", "words/CPU-s", "seconds (read + train)",
                "vs gensim: wall", "vs gensim: CPU"], rows)
        print("  training = vocabulary + epochs; read = streaming and tokenising the table (gensim direct: "
              "into a list); the median of each column. 'vs gensim' > 1 is faster.")
        if args.no_eval:
            return
        print("\nBots with and without word vectors:", flush=True)
        bot_quality(ws, args.minutes, args.epochs)
