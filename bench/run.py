"""``make bench``: run the benchmarks and print their figures.

    python -m bench.run            # all of them
    python -m bench.run ingest     # one of them (make bench-ingest)

Each benchmark is a module with ``main(argv) -> None`` that prints its own tables. They use the
chitchat-dataset corpus (the demo's default speaker) or data they generate, never personal data.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCHMARKS: dict[str, str] = {
    # name -> module; each line added by the issue that measures it
    "ingest": "bench.ingest",  # 1M-message Facebook JSON and Slack exports: messages/s, MB/s, peak RSS, vs chat-miner
    "embeddings": "bench.embeddings",  # word-vector words/s vs gensim direct; eval with and without vectors
    "model": "bench.model",  # the generator from the pretrained base vs today's default, on the 3 evaluation speakers
    "hybrid": "bench.hybrid",  # hybrid default vs seq2seq and the seeds' architecture: eval, voice, index latency
    "faults": "bench.faults",  # ingest, export, embed, train killed at 50 random moments each: what is left
    "serve": "bench.serve",  # talklike serve: 50 clients for 60 s (latency, errors) and /health under a slow client
}


def main(argv: list[str]) -> None:
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    for name in names:
        print(f"\n=== bench: {name} ===", flush=True)
        start = time.monotonic()
        importlib.import_module(BENCHMARKS[name]).main([a for a in argv if a.startswith("-")])
        print(f"=== {name}: {time.monotonic() - start:.0f} s ===", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
