"""Running an evaluation: ``evaluate`` (any pairs) and ``evaluate_person`` (a bot's held-out
conversations), choosing λ on the tune pairs; see the package docstring."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from bot.decoding import check_options
from bot.decoding import get as get_strategy
from bot.errors import BotError
from bot.eval.baselines import Retrieval
from bot.eval.figures import (
    CANDIDATES,
    draw_candidates,
    generation_figures,
    perplexity_per_word,
    recall_at_1,
    words,
)
from bot.eval.report import BASELINES, EvalReport, SystemReport
from bot.eval.systems import HybridSystem, ModelSystem, ReplyBigram
from ingest.errors import OptionError, TalklikeError
from ingest.pairs import pair_options_from_config
from ingest.splits import TUNE
from ingest.splits import is_tune as _is_tune

TUNE_SHARE = TUNE  # share of the held-out conversations used to choose λ (never reported on)
LAMBDAS = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_LAMBDA = 0.5  # used when there are too few tune pairs
MATCH_ALPHAS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0, 2560.0)  # weights of the match
# score tried with MI; the largest make MI a tie-breaker of the match score

Progress = Callable[[str], None]


def pair_contexts(pairs: pd.DataFrame) -> list[list[str]] | None:
    """The ``context`` turns of each pair as lists, or None when no pair carries any."""
    if "context" not in pairs:
        return None
    contexts = [list(c) if isinstance(c, list | tuple | np.ndarray) else [] for c in pairs["context"]]
    return contexts if any(contexts) else None


def tune_mi(system, prior_systems: dict, pairs: pd.DataFrame, seed: int = 0) -> dict:
    """Choose the p(reply) estimate and λ that rank the tune pairs' true replies best."""
    if len(pairs) < CANDIDATES or pairs["reply"].str.strip().str.casefold().nunique() < CANDIDATES:
        return {"lambda": DEFAULT_LAMBDA, "prior": "empty prompt", "tuned": False, "recall": None}
    prompts, replies = pairs["prompt"].tolist(), pairs["reply"].tolist()
    contexts = pair_contexts(pairs)
    cand = draw_candidates(replies, seed=seed + 1)
    rows = np.repeat(np.arange(len(prompts)), CANDIDATES)
    flat_p = [prompts[i] for i in rows]
    flat_r = [replies[j] for j in cand.reshape(-1)]
    flat_c = None if contexts is None else [contexts[i] for i in rows]
    cond, _ = system.log_likelihood(flat_p, flat_r, **({} if flat_c is None else {"contexts": flat_c}))
    cond = cond.reshape(cand.shape)
    match = system.match_scores(flat_p, flat_r, flat_c).reshape(cand.shape) if getattr(system, "matcher", None) \
        else None
    best, joint = None, None
    for prior_name, prior in prior_systems.items():
        p, _ = prior.log_likelihood([""] * len(replies), replies)
        p = p[cand]
        for lam in LAMBDAS:
            r = recall_at_1(cond - lam * p)
            if best is None or r > best["recall"] + 1e-12:
                best = {"lambda": lam, "prior": prior_name, "tuned": True, "recall": r}
            for alpha in MATCH_ALPHAS if match is not None else ():
                r = recall_at_1(cond - lam * p + alpha * match)
                if joint is None or r > joint["recall"] + 1e-12:
                    joint = {"lambda": lam, "alpha": alpha, "prior": prior_name, "recall": r}
    if joint is not None:
        best["match"] = joint  # MI plus the matcher's score: λ and α chosen together
    return best


def evaluate(bot, pairs: pd.DataFrame, *, train_pairs: pd.DataFrame | None = None,
             tune_pairs: pd.DataFrame | None = None, baselines: Sequence[str] = ("retrieval",),
             reference_minutes: float | None = None, reference_epochs: int = 30, strategy: str | None = None,
             decoding: dict | None = None, seed: int = 0, extra: Sequence = (), source: str = "test pairs",
             people: tuple[Sequence[str], Sequence[str]] | None = None, quotes: bool = True,
             progress: Progress | None = None) -> EvalReport:
    """Evaluate ``bot`` (a loaded ``Bot``, or any ``Scorer``) on ``pairs`` (columns prompt, reply).

    ``train_pairs`` feed the baselines (retrieval index, reference model, bigram prior); ``tune_pairs``
    choose λ. ``baselines`` is any of "retrieval", "reference"; ``extra`` adds already built systems
    (e.g. a model the bench trained) as further columns. ``people`` = (the person's turns, everyone else's),
    outside the test conversations, trains the authorship classifier of the voice figures.

    A bot with a reply index is evaluated twice: as ``hybrid`` (its replies with the hybrid strategy,
    ``quotes=False``: ranked samples only) and as ``seq2seq`` (the model alone, with ``strategy`` when it is
    one of the model's strategies, else sampling). ``strategy`` None: the bot's default.
    """
    check_options(seed=seed, **(decoding or {}))  # an option out of range fails now, not after the tuning
    say = progress or (lambda _m: None)
    is_bot = hasattr(bot, "vocab") and hasattr(bot, "model")
    strategy = strategy or (bot.default_strategy if hasattr(bot, "default_strategy") else "sample")
    get_strategy(strategy)
    model_strategy = "sample" if strategy == "hybrid" else strategy
    decoding = dict(decoding or {})
    if strategy in ("sample", "hybrid"):
        decoding.setdefault("seed", seed)  # the same figures every run
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise OptionError(f"unknown baseline(s) {sorted(unknown)}", hint="choose from: retrieval, reference")
    if pairs.empty:
        raise BotError("no pairs to evaluate on", hint="pass a --pairs file with {\"prompt\", \"reply\"} lines")
    if train_pairs is None and baselines:
        raise BotError("the baselines need the training pairs", hint="ingest the data the bot was trained on")
    contexts = pair_contexts(pairs)
    pairs = pairs[["prompt", "reply"]].astype(str).reset_index(drop=True)
    prompts, replies = pairs["prompt"].tolist(), pairs["reply"].tolist()
    distinct = len({r.strip().casefold() for r in replies})
    cand = draw_candidates(replies, seed=seed) if distinct >= CANDIDATES else None
    flat_p = [] if cand is None else [prompts[i] for i in np.repeat(np.arange(len(prompts)), CANDIDATES)]
    flat_r = [] if cand is None else [replies[j] for j in cand.reshape(-1)]
    ctx = {} if contexts is None else {"contexts": contexts}
    flat_ctx = {} if contexts is None or cand is None else \
        {"contexts": [contexts[i] for i in np.repeat(np.arange(len(prompts)), CANDIDATES)]}

    main = ModelSystem.from_bot(bot, name="seq2seq") if is_bot else bot
    vocab = getattr(main, "vocab", None)
    priors: dict = {"empty prompt": main}
    if train_pairs is not None and vocab is not None:
        priors["bigram"] = ReplyBigram(vocab, train_pairs["reply"].astype(str).tolist())
    say("choosing λ on the tune pairs")
    mi = tune_mi(main, priors, tune_pairs if tune_pairs is not None else pairs.iloc[:0], seed)
    report = EvalReport(pairs=len(pairs), tune_pairs=0 if tune_pairs is None else len(tune_pairs),
                        candidates=CANDIDATES, real_avg_words=float(np.mean([words(r) for r in replies])),
                        strategy=strategy, decoding=decoding, mi=mi, seed=seed, source=source)
    if cand is None:
        report.notes.append(f"no 1-in-{CANDIDATES} recall: the test pairs have only {distinct} different replies")
    if not mi["tuned"]:
        report.notes.append(f"λ = {mi['lambda']} by default: fewer than {CANDIDATES} tune pairs")

    systems: list = [main]
    if is_bot and getattr(bot, "index", None) is not None:
        systems.insert(0, HybridSystem(bot, quotes=quotes))
    elif strategy == "hybrid":
        raise BotError("this bot has no reply index for the hybrid strategy",
                       hint="choose another --strategy, or train it again (without --no-quotes)")
    if "retrieval" in baselines:
        systems.append(Retrieval(train_pairs))
    if "reference" in baselines:
        if vocab is None:
            raise BotError("the reference model needs the bot's vocabulary", hint="evaluate a talklike bot")
        from bot.eval.baselines import ReferenceConfig, train_reference

        minutes = reference_minutes
        if minutes is None:
            minutes = float(getattr(bot, "meta", {}).get("seconds", 300)) / 60
        say(f"training the reference model (seed architecture) for at most {minutes:.1f} minutes")
        c = main.model.config
        t0 = time.monotonic()
        ref = train_reference(train_pairs, vocab, minutes=minutes, epochs=reference_epochs, seed=seed,
                              config=ReferenceConfig(vocab_size=len(vocab), max_prompt_len=c.max_prompt_len,
                                                     max_reply_len=c.max_reply_len))
        sys_ref = ModelSystem("reference", ref, vocab, max_prompt_len=c.max_prompt_len,
                              description=f"seed architecture: LSTM {ref.config.units} units, no attention, "
                              f"{ref.run.epochs} epochs in {ref.run.seconds / 60:.1f} min")
        sys_ref.train_seconds = time.monotonic() - t0
        systems.append(sys_ref)
    systems += list(extra)

    for system in systems:
        say(f"evaluating {system.name}")
        kw = (ctx, flat_ctx) if isinstance(system, ModelSystem | Retrieval | HybridSystem) else ({}, {})
        report.systems[system.name] = _evaluate_system(system, prompts, replies, flat_p, flat_r, cand, mi,
                                                       model_strategy, decoding, priors, *kw)
    say("voice figures")
    _voice(report, replies, people, seed)
    return report


def _voice(report: EvalReport, real: list[str], people, seed: int) -> None:
    """Authorship, real-or-bot and the style profile of every system, next to the person's real replies."""
    from bot.eval import voice

    # the person's phrases come from their turns outside the test conversations, so the real replies' share of
    # them is measured the same way as the bot's
    phrases = voice.style_profile(people[0]).phrases if people is not None and len(people[0]) else None
    person_style = voice.style_profile(real, reference_phrases=phrases)
    report.voice["style"] = person_style.to_json()
    model = None
    if people is not None:
        try:
            model = voice.train_authorship(people[0], people[1], seed=seed)
        except ValueError as exc:
            report.notes.append(f"no authorship figure: {exc}")
    if model is not None:
        report.voice.update(authorship_real=model.share(real), authorship_accuracy=model.accuracy,
                            authorship_person=model.n_person, authorship_others=model.n_others)
    for rep in report.systems.values():
        if not rep.generated:
            continue
        if model is not None:
            rep.authorship = model.share(rep.generated)
        rep.real_or_bot = voice.real_or_bot(real, rep.generated, seed=seed)
        profile = voice.style_profile(rep.generated, reference_phrases=phrases or person_style.phrases)
        rep.style = profile.to_json()
        rep.style_distance = voice.style_distance(profile, person_style)


def _evaluate_system(system, prompts, replies, flat_p, flat_r, cand, mi, strategy, decoding, priors,
                     ctx=None, flat_ctx=None) -> SystemReport:
    ctx, flat_ctx = ctx or {}, flat_ctx or {}
    t0 = time.monotonic()
    rep = SystemReport(name=system.name, description=getattr(system, "description", ""))
    if hasattr(system, "fit_scores"):  # retrieval: similarity scores, no probabilities
        if cand is not None:
            for name, s in system.fit_scores(flat_p, flat_r, **flat_ctx).items():
                key = {getattr(system, "recall_score", None): "neighbours_overlap",
                       getattr(system, "context_score", None): "context_overlap"}.get(name)
                if key:
                    rep.recall[key] = recall_at_1(s.reshape(cand.shape))
        generated = system.replies(prompts)
    elif hasattr(system, "ranker_scores"):  # hybrid: the ranker's score, replies quoted or generated
        if cand is not None:
            rep.recall["ranker"] = recall_at_1(
                system.ranker_scores(flat_p, flat_r, flat_ctx.get("contexts")).reshape(cand.shape))
        generated = system.replies(prompts, **ctx, **decoding)
        rep.quoted = system.quoted_share
    else:
        logp_true, _ = system.log_likelihood(prompts, replies, **ctx)
        rep.perplexity = perplexity_per_word(logp_true, replies)
        generated = system.replies(prompts, strategy, **ctx, **decoding)
    if cand is not None and not hasattr(system, "fit_scores") and not hasattr(system, "ranker_scores"):
        cond, n_tok = system.log_likelihood(flat_p, flat_r, **flat_ctx)
        cond, n_tok = cond.reshape(cand.shape), n_tok.reshape(cand.shape)
        rep.recall["loglik"] = recall_at_1(cond / np.maximum(n_tok, 1))
        prior_of: dict[str, np.ndarray] = {}  # log p(reply) of each candidate, once per prior (a forward pass each)

        def log_prior(name: str) -> np.ndarray:
            if name not in prior_of:
                prior = system if name == "empty prompt" else priors[name]
                prior_of[name] = prior.log_likelihood([""] * len(replies), replies)[0][cand]
            return prior_of[name]

        if mi.get("prior"):
            rep.recall["mi"] = recall_at_1(cond - mi["lambda"] * log_prior(mi["prior"]))
        if getattr(system, "matcher", None) is not None:
            match = system.match_scores(flat_p, flat_r, flat_ctx.get("contexts")).reshape(cand.shape)
            rep.recall["match"] = recall_at_1(match)
            if mi.get("match"):
                j = mi["match"]
                rep.recall["mi_match"] = recall_at_1(cond - j["lambda"] * log_prior(j["prior"]) + j["alpha"] * match)
    rep.__dict__.update(generation_figures(generated, replies))
    rep.examples = generated[:5]
    rep.generated = list(generated)
    rep.seconds = time.monotonic() - t0 + getattr(system, "train_seconds", 0.0)
    return rep


# --- from the workspace ---------------------------------------------------------------------------------
def is_tune(conversation: str) -> bool:
    """Whether a held-out conversation is one eval tunes on (never reported on): ``ingest.splits.is_tune``, the
    validation split of ``talklike export --split``."""
    return _is_tune(conversation, TUNE_SHARE)


def read_pairs_file(path: Path) -> pd.DataFrame:
    """The pairs of ``path``: any file or folder `talklike export` writes (jsonl, chat-jsonl, csv, parquet, txt,
    npy, a split folder: its test split; ``ingest.export.read_pairs``), or a JSONL file of ``{"prompt": ...,
    "reply": ...}`` objects, each with an optional ``"context"`` (the turns before the prompt, oldest first). A bad
    line is named, its text is not. A file that cannot be read, or a bad line, is an ``OptionError`` (exit 2: a
    bad --pairs). A lone surrogate (``"\\ud800"``) in a string becomes U+FFFD."""
    from bot.chat import readable
    from ingest.export import read_pairs

    frame = read_pairs(Path(path))
    for col in ("prompt", "reply"):
        frame[col] = [readable(str(t)) for t in frame[col]]
    frame["context"] = [[readable(str(t)) for t in c] if isinstance(c, list | tuple | np.ndarray) else []
                        for c in frame["context"]]
    return frame


def _text_key(prompt, reply) -> tuple[str, str]:
    return (" ".join(str(prompt).split()).casefold(), " ".join(str(reply).split()).casefold())


def _time_keys(frame: pd.DataFrame) -> list[tuple] | None:
    if "prompt_time" not in frame or "reply_time" not in frame:
        return None
    times = [(frame[c] if pd.api.types.is_datetime64_any_dtype(frame[c])
              else pd.to_datetime(frame[c], utc=True, format="ISO8601", errors="coerce")) for c in ("prompt_time", "reply_time")]
    times = [pd.to_datetime(t, utc=True).dt.floor("us") for t in times]
    if times[0].isna().any() or times[1].isna().any():
        return None
    return list(zip(times[0], times[1], strict=True))


def training_overlap(pairs: pd.DataFrame, train_pairs: pd.DataFrame, held: pd.DataFrame | None = None) -> int:
    """How many of ``pairs`` the bot trained on. Pairs that carry their times (jsonl, csv, parquet, a split folder)
    are matched by (prompt time, reply time), exactly; others (chat-jsonl, txt, npy) by their normalised (prompt,
    reply) text, counting only texts that occur in the training conversations and in no held-out one."""
    mine = _time_keys(pairs)
    if mine is not None:
        seen = set(_time_keys(train_pairs) or ())
        return sum(k in seen for k in mine)
    seen = {_text_key(p, r) for p, r in zip(train_pairs["prompt"], train_pairs["reply"], strict=True)}
    if held is not None:
        seen -= {_text_key(p, r) for p, r in zip(held["prompt"], held["reply"], strict=True)}
    return sum(_text_key(p, r) in seen for p, r in zip(pairs["prompt"], pairs["reply"], strict=True))


def overlap_warning(n: int, total: int) -> str | None:
    """The warning the CLI prints when evaluation pairs were training pairs."""
    if not n:
        return None
    return f"{n:,} of {total:,} pairs were in the bot's training data: figures are optimistic"


def people_turns(messages: pd.DataFrame, target: str, exclude_conversations: set[str], opts) -> tuple[list, list]:
    """(the target's turns, everyone else's) outside ``exclude_conversations``: the authorship classifier's data."""
    from ingest.pairs import turns
    from ingest.people import ME

    t = turns(messages, opts)
    t = t[~t["conversation"].astype(str).isin(exclude_conversations)]
    mine = t["is_me"].to_numpy(dtype=bool) if target == ME else (t["sender"] == target).to_numpy(dtype=bool)
    text = t["text"].astype(str)
    return text[mine].tolist(), text[~mine].tolist()


def evaluate_person(workspace, person: str, *, pairs_file: Path | None = None,
                    baselines: Sequence[str] = ("retrieval",), strategy: str | None = None,
                    decoding: dict | None = None, seed: int = 0, reference_minutes: float | None = None,
                    quotes: bool = True, blind: Path | None = None,
                    progress: Progress | None = None) -> EvalReport:
    """Load the bot of ``person`` and evaluate it on its held-out conversations (or on ``pairs_file``).
    ``blind``: also write the blind test sheet there (``bot.eval.voice.write_blind_sheet``), the bot's replies
    with the default strategy against the person's real ones."""
    from bot.chat import load_person
    from bot.data import split_pairs
    from ingest.pairs import build_pairs
    from ingest.people import ME

    if blind is not None:
        from bot.eval.voice import check_blind_path

        check_blind_path(Path(blind))  # before any work, as the options are
    file_pairs = read_pairs_file(pairs_file) if pairs_file is not None else None
    bot = load_person(workspace, person)
    train_cfg = bot.config.get("train", {})
    share, split_seed = float(train_cfg.get("validation_share", 0.1)), int(train_cfg.get("seed", 0))
    train_pairs = held = None
    try:
        messages = workspace.messages()
    except TalklikeError:
        if file_pairs is None:
            raise
        messages = None
    if messages is not None:
        target = bot.person if bot.person == ME else bot.meta.get("person", person)
        opts = pair_options_from_config(bot.config.get("pairs", {}))
        if bot.matcher is not None:  # the matcher reads its own turns before the message
            opts = replace(opts, context_turns=max(opts.context_turns, bot.matcher.config.context_turns))
        all_pairs = build_pairs(messages, target, opts)
        train_pairs, held = split_pairs(all_pairs, share, split_seed)
    if file_pairs is not None:
        test, tune, source = file_pairs, held, str(pairs_file)
    else:
        if held is None or held.empty:
            raise BotError("the bot was trained without held-out conversations",
                           hint="evaluate on a file: talklike eval --pairs FILE.jsonl")
        tuned = held["conversation"].map(is_tune).to_numpy(dtype=bool)  # the split the bot's ranker was tuned on
        test, tune = held[~tuned], held[tuned]
        source = f"held-out conversations (validation share {share:g}, seed {split_seed})"
    if train_pairs is None and baselines:
        baselines = ()
    people = None
    if messages is not None:
        held_out = set(held["conversation"].astype(str)) if held is not None else set()
        people = people_turns(messages, target, held_out, opts)
    report = evaluate(bot, test, train_pairs=train_pairs, tune_pairs=tune, baselines=baselines, seed=seed,
                      reference_minutes=reference_minutes, strategy=strategy, decoding=decoding, source=source,
                      people=people, quotes=quotes, progress=progress)
    if messages is None:
        report.notes.append("no workspace messages: baselines, λ tuning and authorship skipped")
    if file_pairs is not None and train_pairs is not None:
        warning = overlap_warning(training_overlap(file_pairs, train_pairs, held), len(file_pairs))
        if warning:
            report.warnings.append(warning)  # the CLI says it on stderr; --json carries it
    if blind is not None:
        from bot.eval.voice import write_blind_sheet

        first = next(iter(report.systems.values()))
        sheet, key = write_blind_sheet(Path(blind), test["prompt"].astype(str).tolist(),
                                       test["reply"].astype(str).tolist(), first.generated, seed=seed)
        report.notes.append(f"blind test: {sheet} ({len(first.generated):,} rows: prompt, reply A, reply B; one is "
                            f"{first.name}'s), answers in {key}")
    return report
