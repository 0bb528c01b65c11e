"""How well a bot talks like its person, next to honest baselines: the library behind ``talklike eval``.

The Python twin of ``talklike eval``::

    from bot.eval import evaluate, evaluate_person
    report = evaluate_person(Workspace("data"), "me", baselines=("retrieval", "reference"))
    report = evaluate(bot, test_pairs, train_pairs=train_pairs, tune_pairs=tune_pairs)  # any pairs
    print(report.to_json())

**Which pairs.** By default the held-out conversations of the bot's own training split
(``bot.data.split_pairs`` with the seed and share in the bot's ``config.json``, pairs rebuilt with its
pair options). They are split again by conversation: 30% *tune* pairs choose the mutual-information
weight λ, the other 70% are the *test* pairs every figure is computed on. With ``--pairs FILE.jsonl``
the file's pairs are the test pairs and the whole held-out set tunes λ.

**The figures**, one column per system:

- *perplexity per word*: ``exp(-Σ log p(reply | message) / Σ words)``, the log-likelihood of every
  whole reply (end token included, never cut at the model's reply length) from one teacher-forced
  forward pass of ``model.training`` per batch, divided by the number of whitespace-separated words
  of the replies, so models with different tokenisers compare. Words outside the vocabulary are
  scored as ``<unk>``, the same for every model sharing the vocabulary.
- *1-in-10 recall*: each test message, its true reply and 9 replies drawn (seeded) from other test
  pairs with a different text; the share of messages whose true reply scores highest. **Ties** share
  the credit: a true reply tied with t others (and beaten by none) counts 1/(1+t), so a constant
  score gets exactly the chance level 0.10. Model scores: ``loglik/token`` (log p(r|m) / tokens) and
  ``MI`` = log p(r|m) - λ·log p(r), with p(r) either the model given an empty prompt or a bigram
  model of the training replies, whichever (with λ from 0 to 1) ranks best on the tune pairs.
- *generated replies* (decoding strategy named in the output): distinct-1 and distinct-2 (distinct
  n-grams / all n-grams, over the project's tokens), average length in words next to the person's
  real average, corpus BLEU and chrF (sacrebleu), and the share of the most frequent reply.

The package, by role: ``systems`` (what is scored), ``figures`` (how replies are compared),
``voice`` (does it sound like the person), ``report`` (the table), ``baselines`` (retrieval and the
seeds' architecture), ``run`` (``evaluate``, ``evaluate_person``).
"""

from bot.eval.figures import CANDIDATES, draw_candidates, recall_at_1
from bot.eval.report import BASELINES, EvalReport, SystemReport, parse_baselines
from bot.eval.run import (
           evaluate,
           evaluate_person,
           is_tune,
           pair_options_from_config,
           read_pairs_file,
           tune_mi,
)
from bot.eval.systems import ModelSystem, ReplyBigram

__all__ = ["BASELINES", "CANDIDATES", "EvalReport", "ModelSystem", "ReplyBigram", "SystemReport", "draw_candidates",
           "evaluate", "evaluate_person", "is_tune", "pair_options_from_config", "parse_baselines", "read_pairs_file",
           "recall_at_1",
           "tune_mi"]
