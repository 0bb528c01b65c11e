"""Does the bot sound like the person? The voice figures of ``talklike eval``.

Plain functions over lists of strings, used for the bot and for each baseline on the held-out
conversations. A *reply* (or *turn*) is the person's consecutive messages joined with ``"\\n"``, so
the lines of a reply are its messages.

**Authorship share** (:func:`train_authorship`, :meth:`AuthorshipModel.share`): a classifier is
trained on the person's own messages against everyone else's in the workspace (character 2-5-grams
and word 1-2-grams, TF-IDF, logistic regression), then asked which of a system's replies the person
wrote. Read it next to the share it gives the person's *real* held-out replies: a system far below
that does not write like the person; a system *above* it is a caricature (every reply crammed with
the person's tics), which is why this figure counts only together with real-or-bot.
:attr:`AuthorshipModel.accuracy` is the classifier's own held-out accuracy, a sanity figure: near
0.5 means it never learned the person's voice, and its shares say little.

**Real-or-bot** (:func:`real_or_bot`): a classifier with the same features, cross-validated, tells
the system's replies from the person's real replies to the same prompts. 0.5 means the replies
cannot be told apart (the goal); 1.0 means every reply gives itself away. Values a little under 0.5
are noise. Besides style, it sees every systematic difference, casing and spacing included: a
decoder that lowercases or splits punctuation off words is found out by that alone.

**Style profile** (:func:`style_profile`): countable habits, each a mean over messages unless said:
messages per turn, words per message, the share of capitalised starts (among messages starting with
a letter), punctuation marks per message (``. , ! ? ; : …``), the share of messages with a question
mark, with an exclamation mark, emoji per message, the share with laughter (haha, lol, lmao, jaja,
kkk, xD, 😂 ...), the person's most frequent 2- and 3-word phrases, and the phrase share: the share
of turns using at least one of the reference phrases (by default the profile's own). Compare a
system's profile with the person's, figure by figure, or as one number with :func:`style_distance`
(0 = the same style, 1 = every figure off by 100 % or more).

**Blind sheet** (:func:`write_blind_sheet`, :func:`score_blind`): the Turing test for friends. Each
row holds a prompt and two replies, the person's and the bot's, in random order; a friend marks
which is real. A friend right about half the time cannot tell the bot from the person.

Nothing here puts message text into an error or a log line.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ingest.errors import OptionError
from ingest.workspace import atomic_write

MIN_PER_CLASS = 20  # fewer texts than this on either side: no authorship classifier

# Punctuation marks counted by punctuation_per_message ("..." counts three, "…" one).
PUNCTUATION = frozenset(".,!?;:…")

# One emoji: a flag (two regional indicators), or a pictograph with its variation selector, skin
# tone and zero-width-joined parts ("👨‍👩‍👧" counts once). Pictographs: U+1F000-1FAFF (emoticons,
# symbols and pictographs, transport, supplemental and extended-A), U+2600-27BF (miscellaneous
# symbols, dingbats: ☀ ✨ ❤), U+2B00-2BFF (⭐ ⭕ ⬛), U+2300-23FF (⌚ ⏰).
_PICT = "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF]"
_MODS = "[\uFE0F\U0001F3FB-\U0001F3FF]*"
EMOJI = re.compile(f"[\U0001F1E6-\U0001F1FF]{{2}}|{_PICT}{_MODS}(?:\u200D{_PICT}{_MODS})*")

# Laughter in its common spellings, case-insensitive: haha, hahah, ahah, hehe, hihi, heh, bwahaha;
# lol, lool, lolol, lolz; lmao, lmfao, lmaooo; rofl, rotfl, roflmao; jaja, jeje; kkk (3+ k);
# xD, xd, XDDD; and the 😂 🤣 faces.
LAUGHTER = re.compile(
    r"\b(?:[bm]?w?a?h+[aei]h+[aehi]*"
    r"|l+o+l+(?:o+l+)*[sz]?"
    r"|l+m+f*a+o+"
    r"|ro+t?fl+(?:mao)?"
    r"|j+[aei]j+[aeij]*"
    r"|k{3,}"
    r"|x+d+)\b"
    "|[\U0001F602\U0001F923]",
    re.IGNORECASE,
)

WORD = re.compile(r"(?:[^\W_]|')+")

# Phrases made only of these words ("of the", "it is") say nothing about a person's voice.
_STOPWORDS = """
a an the and or but if so of to in on at by for from with as into about than then that this these those
is am are was were be been being do does did have has had will would can could shall should may might must
i me my we us our you your he him his she her it its they them their there here what which who whom
not no yes just very too also up down out over again more most some any all
"""
STOPWORDS = frozenset(_STOPWORDS.split())

# style_distance: the floor of each figure's denominator, so a figure near zero for the person is not
# blown up by a tiny difference (1 for counts, 0.05 for shares, in between for small counts).
FLOORS = {
    "messages_per_turn": 1.0,
    "words_per_message": 1.0,
    "capitalised_starts": 0.05,
    "punctuation_per_message": 0.5,
    "question_rate": 0.05,
    "exclamation_rate": 0.05,
    "emoji_per_message": 0.1,
    "laughter_rate": 0.05,
    "phrase_share": 0.05,
}


# --- authorship -------------------------------------------------------------------------------------

def _features(*, lowercase: bool = False):
    """Character 2-5-grams inside word boundaries (case kept: capitalisation is style) plus word
    1-2-grams (single letters such as "i", "u" count as words, and so does a run of punctuation or
    emoji such as "!!!" or ":)"), both TF-IDF with sublinear counts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                  lowercase=lowercase, max_features=300_000, dtype=np.float32)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b|[^\w\s]+", max_features=100_000,
                                  dtype=np.float32)),
    ])


def _classifier(seed: int, *, lowercase: bool = False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("features", _features(lowercase=lowercase)),
        ("model", LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)),
    ])


@dataclass
class AuthorshipModel:
    """Who wrote it: the person (1) or someone else in the workspace (0)."""

    pipeline: object = field(repr=False)  # fitted sklearn Pipeline: features -> logistic regression
    n_person: int  # the person's texts it was trained on (after sampling and dropping blank ones)
    n_others: int  # everyone else's
    accuracy: float  # accuracy on a stratified 20 % of its own data, held out before the final fit
    balanced_accuracy: float = float("nan")  # the same, the mean of the two classes' recalls

    def probabilities(self, texts: Iterable[str]) -> np.ndarray:
        """P(the person wrote it), one per text (blank texts included)."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros(0, dtype=np.float64)
        classes = list(self.pipeline.classes_)
        return self.pipeline.predict_proba(texts)[:, classes.index(1)].astype(np.float64)

    def share(self, texts: Sequence[str]) -> float:
        """Share of ``texts`` attributed to the person (probability >= 0.5); NaN for no texts."""
        p = self.probabilities(texts)
        return float(np.mean(p >= 0.5)) if len(p) else float("nan")


def _sample(texts: Sequence[str], limit: int, rng: np.random.Generator) -> list[str]:
    kept = [str(t) for t in texts if str(t).strip()]
    if len(kept) > limit:
        kept = [kept[i] for i in np.sort(rng.choice(len(kept), limit, replace=False))]
    return kept


def train_authorship(person_texts: Sequence[str], other_texts: Sequence[str], *, seed: int = 0,
                     max_per_class: int = 20000, lowercase: bool = False) -> AuthorshipModel:
    """Train the authorship classifier: the person's messages (or turns) from outside the held-out
    conversations against everyone else's in the workspace.

    Blank texts are dropped and each side is sampled down to ``max_per_class`` (seeded). Its
    ``accuracy`` comes from a stratified 80/20 split of this data; the model returned is then fitted
    on all of it. ``lowercase=True`` makes the character n-grams blind to case.

    Raises ``ValueError`` when either side has fewer than 20 non-blank texts.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    person = _sample(person_texts, max_per_class, rng)
    others = _sample(other_texts, max_per_class, rng)
    if len(person) < MIN_PER_CLASS or len(others) < MIN_PER_CLASS:
        raise ValueError(f"authorship needs at least {MIN_PER_CLASS} non-blank texts from the person and "
                         f"{MIN_PER_CLASS} from others; got {len(person)} and {len(others)}")
    texts = person + others
    labels = np.array([1] * len(person) + [0] * len(others))
    x_train, x_test, y_train, y_test = train_test_split(texts, labels, test_size=0.2, stratify=labels,
                                                        random_state=seed)
    probe = _classifier(seed, lowercase=lowercase).fit(x_train, y_train)
    predicted = probe.predict(x_test)
    pipeline = _classifier(seed, lowercase=lowercase).fit(texts, labels)
    return AuthorshipModel(pipeline=pipeline, n_person=len(person), n_others=len(others),
                           accuracy=float(accuracy_score(y_test, predicted)),
                           balanced_accuracy=float(balanced_accuracy_score(y_test, predicted)))


# --- real or bot ------------------------------------------------------------------------------------

def real_or_bot(real: Sequence[str], bot: Sequence[str], *, folds: int = 5, seed: int = 0,
                lowercase: bool = False) -> float:
    """Cross-validated accuracy of a classifier telling ``bot`` replies from the person's ``real``
    ones, where ``real[i]`` and ``bot[i]`` answer the same prompt.

    Folds are grouped by prompt (``GroupKFold``, shuffled with ``seed``), so both replies to a prompt
    are always on the same side, and every test fold holds as many real replies as bot ones: the
    accuracy is already balanced. 0.5 = cannot be told apart, 1.0 = always told apart. Identical or
    blank replies give 0.5. At most one fold per prompt.

    Raises ``ValueError`` when the lengths differ or there are fewer than 2 prompts.
    """
    from sklearn.model_selection import GroupKFold

    if len(real) != len(bot):
        raise ValueError(f"real-or-bot needs one bot reply per real reply; got {len(real)} real "
                         f"and {len(bot)} bot replies")
    n = len(real)
    if n < 2 or folds < 2:
        raise ValueError(f"real-or-bot needs at least 2 prompts and 2 folds; got {n} prompts, {folds} folds")
    texts = [str(t) for t in real] + [str(t) for t in bot]
    labels = np.array([1] * n + [0] * n)
    groups = np.concatenate([np.arange(n), np.arange(n)])
    predicted = np.zeros(2 * n, dtype=labels.dtype)
    splitter = GroupKFold(n_splits=min(folds, n), shuffle=True, random_state=seed)
    for train, test in splitter.split(texts, labels, groups):
        train_texts = [texts[i] for i in train]
        if not any(t.strip() for t in train_texts):
            # Nothing to learn from (every training reply blank): always say "bot", which is right on
            # exactly half of each balanced test fold.
            predicted[test] = 0
            continue
        model = _classifier(seed, lowercase=lowercase).fit(train_texts, labels[train])
        predicted[test] = model.predict([texts[i] for i in test])
    return float(np.mean(predicted == labels))


# --- style ------------------------------------------------------------------------------------------

@dataclass
class StyleProfile:
    """Countable habits of a set of turns (see the module docstring). NaN where undefined (no
    messages, or none starting with a letter)."""

    messages_per_turn: float  # non-blank lines per turn
    words_per_message: float  # whitespace-separated words
    capitalised_starts: float  # share starting uppercase, of those starting with a cased letter
    punctuation_per_message: float  # . , ! ? ; : … marks
    question_rate: float  # share of messages containing "?"
    exclamation_rate: float  # share of messages containing "!"
    emoji_per_message: float  # emoji (a flag or a joined sequence counts once)
    laughter_rate: float  # share of messages with laughter
    phrases: list[str]  # most frequent word 2- and 3-grams, most turns first, ties alphabetical
    phrase_share: float | None = None  # share of turns with at least one reference phrase
    turns: int = 0
    messages: int = 0

    def figures(self) -> dict[str, float]:
        """The numeric figures, by name (those compared by :func:`style_distance`)."""
        out = {name: getattr(self, name) for name in FLOORS if name != "phrase_share"}
        if self.phrase_share is not None:
            out["phrase_share"] = self.phrase_share
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict: NaN becomes ``None``."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def _words(text: str) -> list[str]:
    return [w.strip("'") for w in WORD.findall(text.replace("\u2019", "'").lower()) if w.strip("'")]


def _ngrams(messages: Iterable[str], sizes: Sequence[int] = (2, 3)) -> set[str]:
    """The word n-grams of a turn, never across two messages."""
    out: set[str] = set()
    for message in messages:
        words = _words(message)
        for n in sizes:
            out.update(" ".join(words[i: i + n]) for i in range(len(words) - n + 1))
    return out


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def style_profile(turns: Sequence[str], *, top_phrases: int = 20,
                  reference_phrases: Sequence[str] | None = None, min_count: int = 2) -> StyleProfile:
    """The style figures of ``turns`` (each the person's, or a system's, messages joined by ``"\\n"``).

    ``phrases`` are the word 2- and 3-grams (lowercased; words are runs of letters, digits and
    apostrophes) found in the most turns, at least ``min_count``, leaving out those made only of
    common English function words ("of the"); ties are sorted alphabetically. ``phrase_share`` is
    the share of turns containing at least one of ``reference_phrases``: pass the person's phrases
    when profiling a system, and the same list when profiling the person's held-out replies, so the
    two compare. Without ``reference_phrases`` the profile's own phrases are the reference.
    """
    per_turn = [[m for m in str(t).split("\n") if m.strip()] for t in turns]
    messages = [m.strip() for ms in per_turn for m in ms]
    lettered = [m for m in messages if m[0].isupper() or m[0].islower()]  # a letter with a case
    grams = [_ngrams(ms) for ms in per_turn]

    counts = Counter(g for gs in grams for g in gs)
    candidates = [(g, c) for g, c in counts.items()
                  if c >= min_count and not all(w in STOPWORDS for w in g.split())]
    phrases = [g for g, _ in sorted(candidates, key=lambda gc: (-gc[1], gc[0]))[:top_phrases]]
    reference = set(phrases if reference_phrases is None else reference_phrases)

    return StyleProfile(
        messages_per_turn=_mean([len(ms) for ms in per_turn]),
        words_per_message=_mean([len(m.split()) for m in messages]),
        capitalised_starts=_mean([m[0].isupper() for m in lettered]),
        punctuation_per_message=_mean([sum(ch in PUNCTUATION for ch in m) for m in messages]),
        question_rate=_mean(["?" in m for m in messages]),
        exclamation_rate=_mean(["!" in m for m in messages]),
        emoji_per_message=_mean([len(EMOJI.findall(m)) for m in messages]),
        laughter_rate=_mean([LAUGHTER.search(m) is not None for m in messages]),
        phrases=phrases,
        phrase_share=_mean([bool(gs & reference) for gs in grams]),
        turns=len(per_turn),
        messages=len(messages),
    )


def style_distance(a: StyleProfile, b: StyleProfile) -> float:
    """How far style ``a`` (a system's) is from style ``b`` (the person's), as one number::

        distance = mean over figures f of  min(1, |a.f - b.f| / max(|b.f|, floor_f))

    over the numeric figures of :class:`StyleProfile` (messages per turn, words per message,
    capitalised starts, punctuation per message, question, exclamation, emoji and laughter rates)
    plus the phrase share when both profiles have one. ``floor_f`` (:data:`FLOORS`) is 1 for counts,
    0.5 for punctuation marks, 0.1 for emoji and 0.05 for shares, so a figure near zero for the
    person is not blown up by a tiny difference. Each figure is capped at 1 (off by 100 % or more).
    A figure undefined (NaN) in either profile is left out; NaN if none is left.

    0 = the same style; 0.1 = the figures are off by 10 % on average; 1 = all off by 100 % or more.
    """
    fa, fb = a.figures(), b.figures()
    gaps = []
    for name, floor in FLOORS.items():
        if name not in fa or name not in fb:
            continue
        x, y = float(fa[name]), float(fb[name])
        if math.isnan(x) or math.isnan(y):
            continue
        gaps.append(min(1.0, abs(x - y) / max(abs(y), floor)))
    return float(np.mean(gaps)) if gaps else float("nan")


# --- the blind sheet --------------------------------------------------------------------------------

SHEET_COLUMNS = ("item", "prompt", "reply A", "reply B")
KEY_COLUMNS = ("item", "real", "pair")
SHEET_ENCODING = "utf-8-sig"  # a byte-order mark, so spreadsheet programs read the emoji as UTF-8
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def key_path(path: Path) -> Path:
    """Where the answer key of the sheet ``path`` goes: ``<stem>.key.csv`` next to it."""
    return path.with_name(f"{path.stem}.key.csv")


def _cell(text: str, guard: bool) -> str:
    # A cell starting like a formula ("=)", "-_-", "+1") would be evaluated by a spreadsheet; a
    # leading apostrophe keeps it text. Done to both replies alike, so it gives nothing away.
    text = str(text)
    return "'" + text if guard and text.startswith(FORMULA_STARTS) else text


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_write(path, "wb") as fh:
        fh.write(text.getvalue().encode(SHEET_ENCODING))


def _blind_path_problem(path: Path) -> str | None:
    if path.name.endswith(".key.csv") or key_path(path).resolve() == path.resolve():
        return (f"{path}: a blind sheet's name must not end in .key.csv, which is the answer key's; choose "
                f"another name, e.g. {path.name.removesuffix('.key.csv')}.csv")
    if path.is_dir():
        return f"{path} is a folder; give the blind sheet a file name, e.g. {path / 'blind.csv'}"
    return None


def check_blind_path(path: Path) -> None:
    """Raise ``OptionError`` (exit 2) for a path :func:`write_blind_sheet` would refuse, before any work."""
    problem = _blind_path_problem(Path(path))
    if problem:
        raise OptionError(problem)


def write_blind_sheet(path: Path, prompts: Sequence[str], real: Sequence[str], bot: Sequence[str], *,
                      seed: int = 0, person: str = "", guard_formulas: bool = True) -> tuple[Path, Path]:
    """Write the Turing test for friends: a CSV sheet at ``path`` with columns ``item, prompt,
    reply A, reply B`` (one reply the person's, one the bot's, the side drawn per row), rows
    shuffled, and its answer key ``<stem>.key.csv`` next to it with columns ``item, real`` ("A" or
    "B") and ``pair`` (the index into the lists given). Both are UTF-8 with a byte-order mark, CRLF
    rows, multi-line replies in one quoted cell, written owner-only (0600) and all-or-nothing. The
    same ``seed`` gives the same sheet. ``person`` is not written into either file (a sheet handed to
    friends should not say whose it is); it only names the person in errors.

    Cells that a spreadsheet would take for a formula ("=)", "-_-", "+1") get a leading apostrophe
    unless ``guard_formulas=False``.

    Raises ``ValueError`` when the lengths differ, there is nothing to write, or ``path`` could be
    confused with an answer key (its name ends in ``.key.csv``, or the key would be the sheet).
    """
    path = Path(path)
    key = key_path(path)
    who = f" for {person}" if person else ""
    if not (len(prompts) == len(real) == len(bot)):
        raise ValueError(f"the blind sheet{who} needs one real and one bot reply per prompt; got "
                         f"{len(prompts)} prompts, {len(real)} real and {len(bot)} bot replies")
    if not prompts:
        raise ValueError(f"the blind sheet{who} has no prompts to ask about")
    problem = _blind_path_problem(path)
    if problem:
        raise ValueError(problem)

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(prompts))
    real_is_a = rng.integers(0, 2, len(prompts)).astype(bool)
    sheet_rows, key_rows = [], []
    for item, (pair, a_real) in enumerate(zip(order.tolist(), real_is_a.tolist(), strict=True), start=1):
        r, b = _cell(real[pair], guard_formulas), _cell(bot[pair], guard_formulas)
        sheet_rows.append((item, _cell(prompts[pair], guard_formulas), *((r, b) if a_real else (b, r))))
        key_rows.append((item, "A" if a_real else "B", pair))
    _write_csv(path, SHEET_COLUMNS, sheet_rows)
    _write_csv(key, KEY_COLUMNS, key_rows)
    return path, key


def _read_rows(path: Path) -> list[dict[str, str]]:
    with Path(path).open(encoding=SHEET_ENCODING, newline="") as fh:
        return [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in csv.DictReader(fh)]


def score_blind(sheet_key: Path, answers: Path) -> dict:
    """Score a friend's filled copy of a blind sheet against its key.

    ``answers`` is the sheet with a column ``guess`` holding "A" or "B" (the reply the friend thinks
    is real; case and spaces ignored); rows left blank or answered otherwise are not counted.
    Returns ``{"items", "answered", "correct", "share_correct"}``; ``share_correct`` near 0.5
    means the friend could not tell the bot from the person (NaN when nothing was answered).

    Raises ``ValueError`` when ``answers`` has no ``guess`` or ``item`` column.
    """
    key = {row["item"].strip(): row["real"].strip().upper() for row in _read_rows(sheet_key)}
    rows = _read_rows(answers)
    if rows and not {"guess", "item"} <= rows[0].keys():
        raise ValueError(f"{answers}: the filled sheet needs the columns 'item' and 'guess' (A or B)")
    answered = correct = 0
    for row in rows:
        guess, item = row["guess"].strip().upper(), row["item"].strip()
        if guess not in ("A", "B") or item not in key:
            continue
        answered += 1
        correct += guess == key[item]
    return {"items": len(key), "answered": answered, "correct": correct,
            "share_correct": correct / answered if answered else float("nan")}
