"""``make bench-model [SPEAKER=<id>]``: the generator, from the pretrained base, against today's default, side by
side on the held-out conversations of each evaluation speaker.

The 3 evaluation speakers are the corpus's 3 most active (``bot.base.EVALUATION_SPEAKERS``): the default base
never saw a conversation of theirs, so no figure is measured on conversations the base learned from. For each
(or only ``--speaker``), rendered as a Facebook export and ingested into a temporary workspace, one split by
conversation, and two bots trained for the same ``--minutes`` (4, as ``talklike demo``):

- **today**: the default before this generator: a word vocabulary (lower-cased, no message boundaries,
  ``<unk>`` for rare words), prompts of 32 and replies of 24 tokens, trained from nothing;
- **base**: the new default: the shipped base's subword vocabulary and weights, a speaker vector of the
  person's own, lengths covering 95% of their pairs, fine-tuned on their pairs.

Then, on the held-out test pairs (sampling, as chat without a reply index), ``talklike eval``'s figures
for both, and the issue's targets:

- perplexity per whitespace word (each model's log-likelihood of the whole real reply, divided by its
  words: comparable across vocabularies) <= 0.7x today's;
- seconds of fine-tuning to reach today's best validation loss per word <= 1/3 of today's time to it;
- generated replies' average words and messages per turn within 25% of the person's;
- ``<unk>`` share of held-out reply tokens < 0.5%;
- real-or-bot accuracy lower than today's, the authorship share closer to the real replies'.

Options (after ``python -m bench.run model``): ``--minutes=M``, ``--speaker=ID`` (one speaker; default all 3),
``--test-pairs=N`` (at most N test pairs per speaker, drawn seeded; 400), ``--base=DIR``. Takes about 12
minutes per speaker on 2 CPU cores. Timings on a shared machine are noisy: compare columns of one run.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np


def _per_word_curve(bot, pairs, base_spec: str | None) -> list[tuple[float, float]]:
    """(seconds of training, log-perplexity per whitespace word of the whole real replies of ``pairs``) after each
    epoch, from the run's epoch checkpoints; for a bot from a base, the base alone first, at 0 seconds. One
    measure for both vocabularies: ``talklike eval``'s perplexity (whole replies, never cut)."""
    from bot.base import load_base, resolve_base, start_from_base
    from bot.callbacks import checkpoint_name
    from bot.eval import ModelSystem
    from bot.train import CHECKPOINTS, load_checkpoint

    prompts, replies = pairs["prompt"].astype(str).tolist(), pairs["reply"].astype(str).tolist()
    words = sum(len(r.split()) for r in replies)
    system = ModelSystem.from_bot(bot)

    def loss() -> float:
        total, _ = system.log_likelihood(prompts, replies)
        return float(-total.sum() / max(words, 1))

    best = bot.model.training.get_weights()
    bot.model.compile()  # checkpoints hold the optimizer's state: a compiled model reads them
    points = []
    if base_spec:
        start_from_base(bot.model, load_base(resolve_base(base_spec)))
        points.append((0.0, loss()))
    history = bot.meta["history"]
    for k, seconds in enumerate(history.get("seconds", []), start=1):
        path = bot.folder / CHECKPOINTS / f"{checkpoint_name('train', k)}.weights.h5"
        if path.exists():
            load_checkpoint(bot.model, path)
            points.append((float(seconds), loss()))
    bot.model.training.set_weights(best)
    return points


def _unk_share(vocab, replies: list[str]) -> float:
    from bot.vocab import UNK_ID

    ids = [i for row in vocab.ids_all(replies) for i in row]
    return float(np.mean(np.asarray(ids) == UNK_ID)) if ids else 0.0


def _messages_per_turn(texts: list[str]) -> float:
    return float(np.mean([max(1, sum(1 for line in t.splitlines() if line.strip())) for t in texts])) if texts else 0.0


def run_speaker(speaker: str, root: Path, args) -> list:
    import keras

    from bench import demo_workspace, met, within
    from bot.cli.ui import table
    from bot.data import split_pairs
    from bot.eval import ModelSystem, evaluate, is_tune
    from bot.eval.run import people_turns
    from bot.store import load_bot
    from bot.train import TrainOptions, train
    from ingest.pairs import build_pairs
    from ingest.people import ME

    ws, _ = demo_workspace(root, speaker)
    common = dict(minutes=args.minutes, tensorboard=False, quotes=False, match=False, keep_checkpoints=100)
    today_opts = TrainOptions(**common, base=None, vocabulary="words", model={"max_prompt_len": 32,
                                                                             "max_reply_len": 24})
    base_opts = TrainOptions(**common, base=args.base)
    pairs = build_pairs(ws.messages(), ME, base_opts.pair_options())
    train_pairs, val_pairs = split_pairs(pairs, base_opts.validation_share, base_opts.seed)
    print(f"\nspeaker {speaker}: {len(pairs):,} pairs, {len(train_pairs):,} training, {len(val_pairs):,} held out; "
          f"backend {keras.backend.backend()}", flush=True)

    bots = {}
    results = {}
    for name, opts in (("today", today_opts), ("base", base_opts)):
        print(f"training '{name}' for {args.minutes:g} minutes ...", flush=True)
        r = train(ws, ME, opts)
        folder = root / f"bot-{name}"
        shutil.move(str(r.folder), folder)
        bots[name], results[name] = load_bot(folder), r

    held = val_pairs["conversation"].map(is_tune).to_numpy(dtype=bool)
    tune, test = val_pairs[held].reset_index(drop=True), val_pairs[~held].reset_index(drop=True)
    if len(test) > args.test_pairs:
        test = test.sample(args.test_pairs, random_state=0).reset_index(drop=True)
    people = people_turns(ws.messages(), ME, set(val_pairs["conversation"].astype(str)), base_opts.pairs)
    print(f"evaluating on {len(test):,} test pairs ...", flush=True)
    report = evaluate(bots["base"], test, train_pairs=train_pairs, tune_pairs=tune, baselines=(),
                      extra=[ModelSystem.from_bot(bots["today"], name="today")], people=people)
    new, old = report.systems["seq2seq"], report.systems["today"]

    sample = val_pairs.sample(min(len(val_pairs), args.curve_pairs), random_state=0).reset_index(drop=True)
    print(f"per-word validation curves on {len(sample):,} held-out pairs, from each epoch's checkpoint ...",
          flush=True)
    curves = {"today": _per_word_curve(bots["today"], sample, None),
              "base": _per_word_curve(bots["base"], sample, args.base)}
    start = curves["base"][0][1]
    best_old = min(curves["today"], key=lambda p: p[1]) if curves["today"] else None
    reach = next((s for s, v in curves["base"] if best_old and v <= best_old[1]), None)
    real = test["reply"].astype(str).tolist()
    real_msgs = _messages_per_turn(real)
    unk = {n: _unk_share(bots[n].vocab, real) for n in bots}
    lengths = bots["base"].meta.get("lengths") or {}
    real_share = report.voice.get("authorship_real")

    table(f"Training, speaker {speaker[:8]}", ["", "base (new default)", "today"], [
        ["vocabulary", f"{bots['base'].meta['vocabulary']['kind']} {len(bots['base'].vocab):,}",
         f"{bots['today'].meta['vocabulary']['kind']} {len(bots['today'].vocab):,}"],
        ["prompt / reply tokens (share of pairs covered)",
         f"{bots['base'].model.config.max_prompt_len} / {bots['base'].model.config.max_reply_len} "
         f"({lengths.get('prompts_covered', float('nan')):.0%} / {lengths.get('replies_covered', float('nan')):.0%})",
         f"{bots['today'].model.config.max_prompt_len} / {bots['today'].model.config.max_reply_len}"],
        ["epochs", results["base"].epochs, results["today"].epochs],
        ["target tokens/s", results["base"].tokens_per_second, results["today"].tokens_per_second],
        ["validation perplexity per word before training (the base alone)", math.exp(start), None],
        ["best validation perplexity per word", math.exp(min(v for _, v in curves["base"])) if curves["base"] else None,
         math.exp(best_old[1]) if best_old else None],
        ["seconds to today's best validation perplexity per word", reach, best_old[0] if best_old else None],
    ])
    table(f"Held-out evaluation, speaker {speaker[:8]} (talklike eval)", ["figure", *report.systems],
          report.rows(), caption=report.caption())
    ratio = new.perplexity / old.perplexity if new.perplexity and old.perplexity else None
    time_ratio = reach / best_old[0] if reach is not None and best_old and best_old[0] else None
    new_msgs, old_msgs = _messages_per_turn(new.generated), _messages_per_turn(old.generated)
    closer = (real_share is not None and new.authorship is not None and old.authorship is not None
              and abs(new.authorship - real_share) < abs(old.authorship - real_share))
    targets = [
        ["perplexity per word", "<= 0.7x today", new.perplexity, old.perplexity,
         f"{ratio:.2f}x" if ratio else "n/a", met(ratio is not None and ratio <= 0.7)],
        ["seconds to today's best validation loss", "<= 1/3 of today's", reach, best_old[0] if best_old else None,
         f"{time_ratio:.2f}x" if time_ratio is not None else "never", met(time_ratio is not None and time_ratio <= 1 / 3)],
        [f"average words (real: {report.real_avg_words:.1f})", "within 25%", new.avg_words, old.avg_words, "",
         met(within(new.avg_words, report.real_avg_words, 0.25))],
        [f"messages per turn (real: {real_msgs:.2f})", "within 25%", new_msgs, old_msgs, "",
         met(within(new_msgs, real_msgs, 0.25))],
        ["<unk> share of held-out reply tokens", "< 0.5%", f"{unk['base']:.2%}", f"{unk['today']:.2%}", "",
         met(unk["base"] < 0.005)],
        ["real-or-bot accuracy", "lower than today", new.real_or_bot, old.real_or_bot, "",
         met(new.real_or_bot is not None and old.real_or_bot is not None and new.real_or_bot < old.real_or_bot)],
        [f"attributed to the person (real: {real_share if real_share is not None else float('nan'):.2f})",
         "closer to real than today", new.authorship, old.authorship, "", met(closer)],
    ]
    table(f"Targets, speaker {speaker[:8]}", ["figure", "target", "base", "today", "ratio", "met"], targets)
    return [speaker[:8], ratio, time_ratio, new.avg_words / report.real_avg_words if report.real_avg_words else None,
            new_msgs / real_msgs if real_msgs else None, unk["base"], new.real_or_bot, old.real_or_bot,
            new.authorship, old.authorship, real_share]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench.run model")
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--speaker", default=None, help="one chitchat-dataset speaker id (default: the 3 evaluation ones)")
    ap.add_argument("--test-pairs", type=int, default=400)
    ap.add_argument("--curve-pairs", type=int, default=300, help="held-out pairs the per-epoch curves are measured on")
    ap.add_argument("--base", default="default", help="the base folder (default: the shipped one)")
    args = ap.parse_args(argv)

    from bot.base import EVALUATION_SPEAKERS, load_base, resolve_base
    from bot.cli.ui import table

    base = load_base(resolve_base(args.base))
    speakers = [args.speaker] if args.speaker else list(EVALUATION_SPEAKERS)
    seen = set(base.meta.get("excluded_speakers", []))
    for s in speakers:
        if s not in seen:
            print(f"note: the base {base.name} saw speaker {s}'s conversations: its figures are not held out")
    print(f"base {base.name}: {base.meta.get('pairs_train', 0):,} pairs, {base.config.speakers:,} speakers, "
          f"{base.meta.get('epochs')} epochs in {base.meta.get('seconds', 0) / 60:.0f} min, validation perplexity "
          f"{math.exp(base.meta['val_loss']) if base.meta.get('val_loss') else float('nan'):.1f} per token", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="talklike-bench-") as tmp:
        for k, s in enumerate(speakers):
            rows.append(run_speaker(s, Path(tmp) / f"s{k}", args))
    names = ["perplexity per word, base / today (<= 0.7)", "time to today's best, base / today (<= 0.33)",
             "average words, base / real (0.75-1.25)", "messages per turn, base / real (0.75-1.25)",
             "<unk> share, base (< 0.5%)", "real-or-bot accuracy, base", "real-or-bot accuracy, today",
             "authorship share, base", "authorship share, today", "authorship share, real replies"]
    table("Summary: base against today's default, per evaluation speaker", ["figure", *[r[0] for r in rows]],
          [[name, *[r[i + 1] for r in rows]] for i, name in enumerate(names)],
          caption=f"{args.minutes:g} minutes of training each; sampling; test pairs of held-out conversations")
