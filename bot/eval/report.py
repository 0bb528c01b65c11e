"""The report of ``talklike eval``: one ``SystemReport`` per system, keyed by the system's name, and
the table and caption the CLI prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ingest.errors import OptionError

BASELINES = ("retrieval", "reference")


# 1-in-10 recall scores, by key: what each ranks candidate replies by (the labels are for people)
RECALL = {
    "loglik": "loglik/token",
    "mi": "MI = log p(r|m) - λ·log p(r)",
    "match": "match (learned TF-IDF overlap)",
    "mi_match": "MI + α·match",
    "ranker": "hybrid ranker (encoder, neighbours, match)",
    "neighbours_overlap": "neighbours + overlap (TF-IDF)",
    "context_overlap": "neighbours + overlap + context overlap (TF-IDF)",
}
STYLE = {  # style profile figures: label
    "messages_per_turn": "messages per turn", "words_per_message": "words per message",
    "capitalised_starts": "share of capitalised starts", "punctuation_per_message": "punctuation per message",
    "question_rate": "share with a question mark", "exclamation_rate": "share with an exclamation mark",
    "emoji_per_message": "emoji per message", "laughter_rate": "share with laughter",
    "phrase_share": "share using the person's top phrases",
}


@dataclass
class SystemReport:
    name: str
    description: str = ""
    perplexity: float | None = None  # per reference word; None when the system gives no probabilities
    recall: dict[str, float] = field(default_factory=dict)  # RECALL key -> 1-in-10 recall
    distinct_1: float | None = None
    distinct_2: float | None = None
    avg_words: float | None = None  # of the generated replies
    bleu: float | None = None
    chrf: float | None = None
    top_reply_share: float | None = None
    authorship: float | None = None  # share of its replies the authorship classifier gives the person
    real_or_bot: float | None = None  # cross-validated accuracy telling its replies from the real ones (0.5: can't)
    style: dict | None = None  # its style profile (bot.eval.voice.StyleProfile.to_json)
    style_distance: float | None = None  # to the person's real replies' profile (0: the same)
    quoted: float | None = None  # hybrid: share of replies that are the person's own past messages
    seconds: float = 0.0  # wall time of this system's evaluation (and training, for baselines)
    examples: list[str] = field(default_factory=list)  # its first generated replies (not in --json)
    generated: list[str] = field(default_factory=list, repr=False)  # all of them (not in --json; --blind)


@dataclass
class EvalReport:
    pairs: int  # test pairs
    tune_pairs: int  # pairs λ was chosen on
    candidates: int
    real_avg_words: float  # of the person's real replies in the test pairs
    strategy: str
    decoding: dict
    mi: dict  # {"lambda": .., "prior": .., "tuned": bool, "match": {"lambda", "alpha", "prior"}}
    seed: int
    source: str  # "held-out conversations" or the --pairs file
    systems: dict[str, SystemReport] = field(default_factory=dict)
    voice: dict = field(default_factory=dict)  # the person's own figures: authorship share, style profile
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # said on stderr: e.g. pairs that were training pairs

    def to_json(self) -> dict:
        out = asdict(self)
        for s in out["systems"].values():
            s.pop("examples", None)
            s.pop("generated", None)
        return out

    def caption(self) -> str:
        """What was compared, on what, and how: printed under the table."""
        opts = ", ".join(f"{k}={v}" for k, v in self.decoding.items())
        lines = [f"pairs: {self.source} ({self.tune_pairs:,} more pairs chose λ and the hybrid ranker)",
                 f"generated with {self.strategy}" + (f" ({opts})" if opts else "")
                 + f"; recall: the true reply among {self.candidates} (9 drawn with seed {self.seed})"]
        if self.mi.get("prior"):
            lines.append(f"MI: λ={self.mi['lambda']:g}, p(reply): {self.mi['prior']}"
                         + (f"; MI + match: λ={self.mi['match']['lambda']:g}, α={self.mi['match']['alpha']:g}"
                            if self.mi.get("match") else ""))
        if self.voice.get("authorship_accuracy") is not None:
            lines.append(f"authorship: character and word n-grams, logistic regression on "
                         f"{self.voice['authorship_person']:,} of the person's turns and {self.voice['authorship_others']:,} "
                         f"of others' outside the held-out conversations (its own held-out accuracy "
                         f"{self.voice['authorship_accuracy']:.2f}); real-or-bot: 5-fold cross-validated, same features")
        lines += [f"{s.name}: {s.description}" for s in self.systems.values() if s.description]
        lines += self.notes
        return "\n".join(lines)

    def rows(self) -> list[list]:
        """The table: one row per figure, one column per system (``None`` where it does not apply)."""
        systems = list(self.systems.values())
        scores = list(dict.fromkeys(k for s in systems for k in s.recall))
        rows: list[list] = [["perplexity per word (lower is better)", *[s.perplexity for s in systems]]]
        for k in scores:
            rows.append([f"1-in-{self.candidates} recall, {RECALL.get(k, k)} (chance {1 / self.candidates:.2f})",
                         *[s.recall.get(k) for s in systems]])
        real_share = self.voice.get("authorship_real")
        for label, attr in [("distinct-1", "distinct_1"), ("distinct-2", "distinct_2"),
                            (f"average words (real: {self.real_avg_words:.1f})", "avg_words"),
                            ("BLEU", "bleu"), ("chrF", "chrf"), ("share of the most frequent reply", "top_reply_share"),
                            ("share quoted from the person's past replies", "quoted"),
                            ("attributed to the person" + (f" (real replies: {real_share:.2f})"
                                                           if real_share is not None else ""), "authorship"),
                            ("real-or-bot accuracy (0.5: can't be told apart)", "real_or_bot"),
                            ("style distance to the person (0: same)", "style_distance"),
                            ("seconds", "seconds")]:
            values = [getattr(s, attr) for s in systems]
            if any(v is not None for v in values):
                rows.append([label, *values])
        return rows

    def style_rows(self) -> list[list]:
        """The style profile: one row per figure, the person's real replies then each system."""
        person = self.voice.get("style") or {}
        systems = [s for s in self.systems.values() if s.style]
        rows = [[label, person.get(k), *[s.style.get(k) for s in systems]] for k, label in STYLE.items()
                if k in person]
        if person.get("phrases"):
            rows.append(["the person's top phrases", ", ".join(person["phrases"][:8]), *["" for _ in systems]])
        return rows


def parse_baselines(text: str) -> tuple[str, ...]:
    """``"retrieval,reference"``, ``"all"`` or ``"none"`` -> the baselines' names."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return BASELINES
    if names in ([], ["none"]):
        return ()
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise OptionError(f"unknown baseline(s) {', '.join(unknown)}",
                          hint=f"choose from: {', '.join(BASELINES)}, all, none (comma-separated)")
    return tuple(dict.fromkeys(names))

