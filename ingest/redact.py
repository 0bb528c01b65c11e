"""Redaction: e-mail addresses, phone numbers, URLs and, optionally, names, replaced by stable placeholders.

Use it before a dataset leaves your machine (``talklike export --redact``). Within one
:class:`Redactor` the same value always gets the same placeholder: the first e-mail address
seen becomes ``<EMAIL_1>``, and every later occurrence of that address, in any pair, is
``<EMAIL_1>`` again; the next distinct address is ``<EMAIL_2>``. Numbers follow the order in
which values are first met, so the same input in the same order gives the same output.

What is found, in this order (an earlier kind wins where two overlap):

* **URLs**: ``http://`` / ``https://`` / ``ftp://`` links, ``www.`` addresses, and bare
  ``domain.tld/path`` forms; trailing punctuation (``.,;:!?)]}'"``) is left in the text.
  Two URLs are the same value when their text is.
* **E-mail addresses**: ``local@domain.tld``; the same address in another case is the same value.
* **Phone numbers**, found with Google's libphonenumber (the ``phonenumbers`` package) as
  numbers valid in any of :data:`PHONE_REGIONS` (US, UK, France, Germany, Brazil, India
  national forms, e.g. ``(415) 555-2671``, ``07911 123456``, ``06 12 34 56 78``,
  ``030 12345678``, ``(11) 91234-5678``, ``98765 43210``) or written internationally
  (``+44 7911 123456``, ``0044 ...``, ``+33 6 12 34 56 78``, any country). The same number written
  two ways (``+44 7911 123456`` and ``07911 123456``) is the same value. Digit runs that are not
  valid numbers (order numbers, years, prices) are left alone.
* **Names** (only when names are given): each person's full display name and each part of it
  of three letters or more, as whole words, case-insensitively; every form of one person's name
  gets that person's placeholder ``<NAME_n>``. A name part shared by two people (two Kims) goes to
  the first of them in the order given, and a part shared with a person who is kept (``keep``:
  you, and the person whose replies are exported) is not replaced on its own. Short parts (``Al``, ``Jo``) are not matched alone, and a
  name that is also a common word (``Will``, ``May``) is replaced wherever it appears as a word.

Nothing is perfect: a phone number split over two messages, a name misspelt, or an address
written ``name at domain dot com`` survives. Read a sample of the output before sharing it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import phonenumbers

# Regions whose national (no +country code) formats are recognised. International forms are
# recognised for every country whatever this list holds.
PHONE_REGIONS = ("US", "GB", "FR", "DE", "BR", "IN")

# What is replaced. THREAD is never searched for in text: exports use it for thread ids.
KINDS = ("URL", "EMAIL", "PHONE", "NAME", "THREAD")

_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"]+"  # scheme or www.
    r"|\b(?<![@.])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,24}/[^\s<>\"]*",  # bare domain.tld/path
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,24}\b", re.IGNORECASE)
# A quick filter: a run of at least six digits with phone separators between them.
_MAYBE_PHONE = re.compile(r"\d(?:[\s\-./()]{0,3}\d){5,}")
_PLACEHOLDER = re.compile(r"<(?:URL|EMAIL|PHONE|NAME|THREAD)_\d+>")


class Redactor:
    """Replaces private values by placeholders, numbering each distinct value once per instance."""

    def __init__(self, names: Iterable[str] = (), keep: Iterable[str] = ()):
        """``names``: the people to replace; ``keep``: people whose names stay, so a first name they
        share with someone in ``names`` is not replaced on its own."""
        self._ids: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self.counts: Counter = Counter()  # replacements made in distinct texts, by kind
        self._name_key: dict[str, str] = {}  # a name or a name part (casefolded) -> the person's full name
        kept = {part.casefold() for k in keep for part in [k.strip(), *re.findall(r"\w+", k)]}
        for full in names:
            full = full.strip()
            if not full:
                continue
            for form in [full, *re.findall(r"\w+", full)]:
                if form is full or (len(form) >= 3 and form.casefold() not in kept):
                    self._name_key.setdefault(form.casefold(), full.casefold())
        forms = sorted(self._name_key, key=lambda s: (-len(s), s))  # longest first: "Kim Lee" before "Kim"
        self._done: dict[str, str] = {}  # text -> its redaction: a turn recurs as reply, prompt and context
        self._names = (re.compile(r"(?<![\w<])(?:" + "|".join(re.escape(f) for f in forms) + r")(?![\w>])",
                                  re.IGNORECASE) if forms else None)

    def placeholder(self, kind: str, key: str) -> str:
        """The placeholder of one value (``key`` already normalised), numbering it if new."""
        ids = self._ids[kind]
        if key not in ids:
            ids[key] = len(ids) + 1
        self.counts[kind] += 1
        return f"<{kind}_{ids[key]}>"

    def distinct(self) -> dict[str, int]:
        """How many distinct values of each kind were replaced."""
        return {kind: len(ids) for kind, ids in self._ids.items()}

    # --- one kind at a time -------------------------------------------------------------------
    def _urls(self, text: str) -> str:
        def sub(m: re.Match) -> str:
            url = m.group(0)
            core = url.rstrip(_TRAILING)
            if "(" in core and url[len(core):].startswith(")"):  # keep a balanced ")" in wiki-style links
                core += ")"
            return self.placeholder("URL", core) + url[len(core):]

        return _URL.sub(sub, text)

    def _emails(self, text: str) -> str:
        return _EMAIL.sub(lambda m: self.placeholder("EMAIL", m.group(0).casefold()), text)

    def _phones(self, text: str) -> str:
        if not _MAYBE_PHONE.search(text):
            return text
        found = []  # (start, -length, -shape score, region order, end, key)
        for order, region in enumerate(PHONE_REGIONS):
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                key = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
                found.append((match.start, match.start - match.end, -_shape_score(match.raw_string, match.number),
                              order, match.end, key))
        spans: list[tuple[int, int, str]] = []
        for start, _, _, _, end, key in sorted(found):
            if not spans or start >= spans[-1][1]:
                spans.append((start, end, key))
        out, last = [], 0
        for start, end, key in spans:
            out += [text[last:start], self.placeholder("PHONE", key)]
            last = end
        return "".join([*out, text[last:]])

    def _people(self, text: str) -> str:
        if self._names is None:
            return text
        return self._names.sub(lambda m: self.placeholder("NAME", self._name_key[m.group(0).casefold()]), text)

    # --- the public calls ---------------------------------------------------------------------
    def text(self, text: str) -> str:
        """``text`` with every URL, e-mail address, phone number and known name replaced."""
        if not text:
            return text
        if text in self._done:  # every value in it already has its number: the same output again
            return self._done[text]
        out = []
        last = 0
        # Placeholders already in the text (a second pass) are left as they are.
        for m in _PLACEHOLDER.finditer(text):
            out.append(self._one(text[last:m.start()]))
            out.append(m.group(0))
            last = m.end()
        out.append(self._one(text[last:]))
        self._done[text] = "".join(out)
        return self._done[text]

    def _one(self, text: str) -> str:
        return self._people(self._phones(self._emails(self._urls(text))))

    def name(self, name: str) -> str:
        """A sender's name: its placeholder when it is one of the redacted people, else unchanged."""
        key = self._name_key.get(name.strip().casefold())
        if key is None or key != name.strip().casefold():
            return name
        return self.placeholder("NAME", key)


def _shape_score(raw: str, number: phonenumbers.PhoneNumber) -> int:
    """How many digit groups, from the right, ``raw`` shares with the number's national format.

    A national number valid in several regions (``030 12345678`` is a London and a Berlin
    number) is keyed by the region that writes it the way it was written.
    """
    mine = [len(g) for g in re.findall(r"\d+", raw)][::-1]
    theirs = [len(g) for g in re.findall(r"\d+", phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL))][::-1]
    score = 0
    for a, b in zip(mine, theirs, strict=False):
        if a != b:
            break
        score += 1
    return score
