"""Train / validation / test by conversation session, the way a trained bot splits its pairs.

``talklike train`` holds out a share of the person's conversation sessions (``validation_share``,
10 % by default, drawn by a hash of the session's key and the seed, so one session is never cut in
two); ``talklike eval`` reports on those held-out sessions, after setting aside 30 % of them to tune
its λ and the hybrid ranker. An exported split is the same three parts:

==========  ==============================================================  ======================
split       what it is                                                      default share
==========  ==============================================================  ======================
train       the sessions the bot learned from                               90 %
validation  held-out sessions eval tunes on (never reported on)              3 %
test        held-out sessions eval reports its figures on                    7 %
==========  ==============================================================  ======================

When a bot of the person exists, its own ``config.json`` gives the share, the seed and the pair
options, and the sessions are labelled from the pairs it was trained on: the exported ``test`` set is
the bot's evaluation set, and an LLM fine-tuned on ``train`` can be compared with it on the same
conversations. Without a bot, the split is derived the same way ``train`` would derive it.

The two hashes below are ``bot.data.is_validation`` and ``bot.eval.run.is_tune``; a test pins them
equal (``ingest`` imports nothing from ``bot``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ingest.errors import OptionError
from ingest.pairs import PairOptions, build_pairs, pair_options_from_config
from ingest.workspace import Workspace, person_key, read_json

SPLITS = ("train", "validation", "test")
HELD_OUT = 0.1  # bot.train.TrainOptions.validation_share
TUNE = 0.3  # bot.eval.run.TUNE_SHARE: the share of the held-out sessions eval tunes on


@dataclass(frozen=True)
class SplitOptions:
    held_out: float = HELD_OUT  # share of sessions kept out of train (validation + test)
    tune: float = TUNE  # share of the held-out sessions that are validation; the rest is test
    seed: int = 0  # the hash's seed (train's --seed)

    @classmethod
    def from_shares(cls, validation: float, test: float, seed: int = 0) -> SplitOptions:
        """From the shares of all sessions that go to validation and to test."""
        if validation < 0 or test < 0 or validation + test > 1:
            raise OptionError(f"validation {validation:g} and test {test:g} are not shares that sum to at most 1",
                              hint="give two numbers between 0 and 1, e.g. --validation-share 0.05 --test-share 0.1")
        held = validation + test
        return cls(held_out=held, tune=validation / held if held else 0.0, seed=seed)

    @property
    def validation(self) -> float:
        return self.held_out * self.tune

    @property
    def test(self) -> float:
        return self.held_out * (1 - self.tune)

    def describe(self) -> str:
        return (f"held out {self.held_out:g} of the sessions (seed {self.seed}), {self.tune:g} of them "
                f"validation, the rest test")


def _share(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def is_held_out(conversation: str, share: float, seed: int = 0) -> bool:
    """``bot.data.is_validation``: the same session always lands on the same side."""
    return _share(f"{seed}:{conversation}") < share


def is_tune(conversation: str, share: float = TUNE) -> bool:
    """``bot.eval.run.is_tune`` (whose seed is always 0)."""
    return _share(f"tune:0:{conversation}") < share


def split_sides(conversations: pd.Series, opts: SplitOptions, *, fallback: bool = True) -> np.ndarray:
    """The split of each row, from its session key (``build_pairs``' ``conversation``), as ``bot.data.split_pairs``
    holds out and ``bot.eval.run.evaluate_person`` divides: tiny data holding out no session holds out the last
    (``fallback``)."""
    conv = conversations.astype(str)
    held = conv.map(lambda c: is_held_out(c, opts.held_out, opts.seed)).to_numpy(dtype=bool)
    if fallback and opts.held_out > 0 and not held.any() and conv.nunique() > 1:
        held = (conv == conv.iloc[-1]).to_numpy()
    tune = conv.map(lambda c: is_tune(c, opts.tune)).to_numpy(dtype=bool)
    return np.where(~held, "train", np.where(tune, "validation", "test"))


@dataclass
class BotSplit:
    """How a trained bot split its pairs: the options, and the side of every session it knew."""

    options: SplitOptions
    pairs: PairOptions
    sides: dict[str, str]  # session key -> split


def bot_split(workspace: Workspace, messages: pd.DataFrame, target: str,
              built: tuple[PairOptions, pd.DataFrame] | None = None) -> BotSplit | None:
    """The split of ``target``'s trained bot, from its ``config.json``; None when there is no bot. ``built``: pairs
    already built, with their options: reused when those make the same pairs as the bot's (context aside)."""
    config_path = workspace.bot_dir(person_key(target)) / "config.json"
    if not config_path.is_file():
        return None
    config = read_json(config_path)
    train = config.get("train", {})
    opts = SplitOptions(held_out=float(train.get("validation_share", HELD_OUT)), seed=int(train.get("seed", 0)))
    pair_opts = pair_options_from_config(config.get("pairs", {}))
    if built is not None and replace(built[0], context_turns=0) == replace(pair_opts, context_turns=0):
        pairs = built[1]
    else:
        pairs = build_pairs(messages, target, pair_opts)
    sides = dict(zip(pairs["conversation"].astype(str), split_sides(pairs["conversation"], opts), strict=True))
    return BotSplit(opts, pair_opts, sides)


def assign(conversations: pd.Series, opts: SplitOptions, known: dict[str, str] | None = None) -> np.ndarray:
    """The split of each row: a session the bot knew keeps the bot's side, any other is hashed like train does."""
    sides = split_sides(conversations, opts, fallback=not known)
    if known:
        conv = conversations.astype(str).to_numpy(dtype=object)
        sides = np.array([known.get(c, s) for c, s in zip(conv, sides, strict=True)], dtype=object)
    return sides
