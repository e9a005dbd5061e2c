"""The person finder as it was before it was tuned for speed (`recaudit.evidence.attribution`
at commit db19e58), kept verbatim as the oracle of tests/test_attribution_equivalence.py.

Every speed-up of `People` must give exactly these answers: same mentions, same kinds,
same antecedents, same compound starts. Only what `People` computes per note is here
(`subject_of` and the other helpers read its mentions and were not changed).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from recaudit.evidence.matching import Term, alternation, term_from_item, union
from recaudit.evidence.scanner import Scanner, is_word_char, starts_after_non_word

Kind = Literal["child", "other", "professional", "unknown"]
Gender = Literal["f", "m", "n"]

_PRONOUNS: dict[str, tuple[Gender | None, bool]] = {
    # word: (gender, nominative). Gender None = first person (the recording worker).
    "she": ("f", True),
    "her": ("f", False),
    "hers": ("f", False),
    "herself": ("f", False),
    "he": ("m", True),
    "him": ("m", False),
    "his": ("m", False),
    "himself": ("m", False),
    "they": ("n", True),
    "them": ("n", False),
    "their": ("n", False),
    "themselves": ("n", False),
    "i": (None, True),
    "we": (None, True),
}
_POSSESSOR_WORDS = frozenset(["his", "her", "their", "the", "a", "an", "my", "our", "its"])
# Words that may sit between a possessor and a person noun: "his older half-sister".
_MODIFIER_WORDS = frozenset(
    [
        "older",
        "younger",
        "little",
        "big",
        "elder",
        "eldest",
        "youngest",
        "twin",
        "half",
        "step",
        "new",
        "former",
        "previous",
        "maternal",
        "paternal",
        "great",
        "birth",
        "foster",
        "kinship",
        "main",
        "current",
        "allocated",
    ]
)
# The regexes are built from the word sets, so the quick word tests and the backward walk
# (`_modifier_run_start`) can never disagree with them.
_POSSESSORS = "(?:" + "|".join(sorted(_POSSESSOR_WORDS)) + ")"
_MODIFIERS = "(?:(?:" + "|".join(sorted(_MODIFIER_WORDS)) + r")[\s-]+)*"
_MODIFIERS_BY_LENGTH = sorted(_MODIFIER_WORDS, key=len)


def _modifier_run_start(text: str, lo: int, start: int) -> int:
    """Where `_MODIFIERS$` first matches in text[lo:start] (ASCII text): the furthest
    point back from which only modifier words, each followed by spaces or hyphens, lead
    to `start`. Walked backwards word by word; an end-anchored `re.search` would try
    every position of the window."""
    best = start
    todo = [start]
    seen = {start}
    while todo:
        q = todo.pop()
        j = q
        while j > lo and (text[j - 1].isspace() or text[j - 1] == "-"):
            j -= 1
        if j == q:
            continue  # a modifier needs a space or hyphen after it
        for word in _MODIFIERS_BY_LENGTH:
            p = j - len(word)
            if p < lo:
                break
            if p not in seen and text[p:j].lower() == word:
                seen.add(p)
                best = min(best, p)
                todo.append(p)
    return best


# Words before a noun that mark it as a likely subject (clause start), for `subject`.
_SUBJECT_LEFT = frozenset(
    {
        "and",
        "but",
        "that",
        "when",
        "as",
        "then",
        "so",
        "while",
        "after",
        "before",
        "because",
        "which",
        "who",
        "where",
        "today",
        "later",
        "also",
        "yesterday",
        "since",
        "once",
        "until",
        "if",
        "whether",
        "although",
        "though",
        "meanwhile",
        "afterwards",
        "initially",
        "finally",
        "here",
        "there",
    }
)


@dataclass(frozen=True, slots=True)
class PeopleLexicons:
    child: tuple[Term, ...]
    female: tuple[Term, ...]
    male: tuple[Term, ...]
    neutral: tuple[Term, ...]
    professional: tuple[Term, ...]
    reporting: tuple[Term, ...]


def people_from(
    lexicons: Mapping[str, tuple[Any, ...]], names: Mapping[str, str]
) -> PeopleLexicons:
    def terms(key: str) -> tuple[Term, ...]:
        return tuple(term_from_item(i) for i in lexicons.get(names[key], ()))

    return PeopleLexicons(
        terms("child"),
        terms("female"),
        terms("male"),
        terms("neutral"),
        terms("professional"),
        terms("reporting_verbs"),
    )


def _alt(terms: Sequence[Term]) -> str:
    ordered = sorted(terms, key=lambda t: -len(t.shown))
    return "(?:" + alternation(ordered) + ")" if ordered else r"(?!x)x"


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int
    text: str
    kind: Kind  # after pronoun resolution
    pronoun: bool
    nominative: bool
    in_quote: bool
    subject_position: bool
    antecedent: str = ""  # the resolved person's words, for reasons


class ReferencePeople:
    """The compiled person finder for one pack.

    Each word class is one `TermPattern` (fast tries); compounds ("Child A's older
    half-sister", "his foster carer") are found by looking just before each person noun for
    a possessor, rather than by one big regex (which was ~20x slower).
    """

    def __init__(self, lex: PeopleLexicons, scanner: Scanner | None = None) -> None:
        pronouns = [term_from_item(w) for w in _PRONOUNS if w != "i"] + [
            term_from_item({"pattern": "I", "case_sensitive": True})
        ]
        # One pattern for every kind of person word (one scan of the note), then a lookup
        # says which kind matched; on a tie the earlier kind in this order wins.
        groups = [
            ("c", lex.child),
            ("p", lex.professional),
            ("f", lex.female),
            ("m", lex.male),
            ("n", lex.neutral),
            ("x", tuple(pronouns)),
        ]
        self.people = union((t for _, terms in groups for t in terms), scanner)
        self._by_literal: dict[str, str] = {}
        self._regex_kinds: list[tuple[re.Pattern[str], str]] = []
        for cls, terms in groups:
            for term in terms:
                if term.literals is None:
                    flags = 0 if term.case_sensitive else re.IGNORECASE
                    self._regex_kinds.append((re.compile(term.source, flags), cls))
                    continue
                for lit in term.literals:
                    self._by_literal.setdefault(lit.lower(), cls)
        child = _alt(lex.child)
        # Every possessor starts a word, or with the odd first character of a child term
        # ("[child]"): saying so up front lets `re` reject most of the ~80 positions of the
        # search window in one step. (Skipped if a child regex might start mid-word.)
        odd = sorted(
            {lit[0] for t in lex.child for lit in t.literals or () if not is_word_char(lit[0])}
        )
        regexes_ok = all(
            starts_after_non_word(t.source, t.case_sensitive)
            for t in lex.child
            if t.literals is None
        )
        guard = ""
        if regexes_ok:
            guard = f"(?:(?<!\\w)|(?=[{re.escape(''.join(odd))}]))" if odd else "(?<!\\w)"
        self.possessor = re.compile(
            guard + rf"(?:{child}['’]s?|\b{_POSSESSORS})\s+{_MODIFIERS}$",
            re.IGNORECASE,
        )
        self.modifiers = re.compile(rf"{_MODIFIERS}$", re.IGNORECASE)
        self.reporting = union(lex.reporting, scanner)
        self._memo: dict[str, list[tuple[int, int, str]]] = {}

    def _compound_start(self, text: str, start: int) -> int:
        """Where a person noun's noun phrase starts: over modifiers and a possessor."""
        lo = max(0, start - 80)
        before = text[lo:start]
        # Cheap test first: the word before is a modifier, a possessor or ends in 's.
        last = before.rstrip().rsplit(None, 1)[-1].lower() if before.strip() else ""
        last = last.lstrip("([{\"'“‘")  # "(the sister)"
        if not last or not (
            last in _POSSESSOR_WORDS
            or last.endswith(("'s", "’s", "s'", "s’"))
            or last.rstrip("-").split("-")[-1] in _MODIFIER_WORDS
            or last.split("-")[0] in _MODIFIER_WORDS
        ):
            return start
        m = self.possessor.search(text, lo, start)
        if m is not None:
            return m.start() if m.end() == start and m.start() < start else start
        if before.isascii():  # the window only: a whole-note test would cost O(note) per noun
            return _modifier_run_start(text, lo, start)
        m = self.modifiers.search(text, lo, start)  # exotic case equivalences: `re` decides
        if m is not None and m.end() == start and m.start() < start:
            return m.start()
        return start

    def child_labels(self, text: str) -> list[str]:
        """Named child references ("Child A", "C1", "Baby R") in reading order.

        A record is one child's file, so the label named most often is that child; any
        other named child in it (a sibling "Child B", "C2") is another person.
        """
        out = []
        for start, end, cls in self._found(text):
            words = text[start:end]
            if cls == "c" and words.lower() not in self._by_literal:
                out.append(" ".join(words.split()))
        return out

    def _found(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, class) of every person word, memoised for the last few texts: the
        record's child is found over all its notes, then the same notes are analysed."""
        hit = self._memo.get(text)
        if hit is None:
            hit = []
            for m in self.people.finditer(text):
                cls = self._kind(text, m.start(), m.end())
                if cls is not None:
                    hit.append((m.start(), m.end(), cls))
            if len(self._memo) >= FOUND_MEMO:
                self._memo.clear()
            self._memo[text] = hit
        return hit

    def _kind(self, text: str, start: int, end: int) -> str | None:
        found = self._by_literal.get(" ".join(text[start:end].lower().split()))
        if found is not None:
            return found
        # Matched in place, not on the cut-out words: a regex term may look around it
        # (initials count as a child only before a reporting verb: "KT said").
        for rx, cls in self._regex_kinds:
            m = rx.match(text, start)
            if m is not None and m.end() == end:
                return cls
        return None

    def _raw(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, class) for child refs (c), nouns (p/f/m/n) and pronouns (x)."""
        kept = self._found(text)
        nouns = []
        for start, end, cls in kept:
            if cls not in ("c", "x"):
                # Extend leftwards over a possessor and modifiers: "Child A's older sister".
                start = self._compound_start(text, start)
            nouns.append((start, end, cls))
        # A child reference or pronoun inside a compound ("Child A's sister", "his mum") is
        # not a mention of its own: the longer span wins.
        out: list[tuple[int, int, str]] = []
        for item in sorted(nouns):
            if out and item[0] < out[-1][1]:
                if item[1] - item[0] > out[-1][1] - out[-1][0]:
                    out[-1] = item
                continue
            out.append(item)
        return out

    def mentions(
        self, text: str, quotes: Sequence[tuple[int, int]], main_child: str | None = None
    ) -> list[Mention]:
        """Every person mention in `text`, pronouns resolved in reading order.

        With `main_child` (the record's child, see `child_labels`), other named children
        are siblings: other people.
        """
        slots: dict[str, tuple[Kind, str]] = {}
        # The lead (first subject) of the previous and the current sentence, per gender
        # slot: a sentence-initial "She said…" continues the previous sentence's subject or
        # speaker ("Mum said Child 3 wets the bed. She said she is at the end of her
        # tether." is Mum), not whoever was named last.
        prev_lead: dict[str, tuple[Kind, str]] = {}
        lead: dict[str, tuple[Kind, str]] = {}
        have_lead = False
        # A sentence with no subject-position person ("Talked with the YP about his
        # brother.") still has a topic: the first person it names, not the last object.
        first: dict[str, tuple[Kind, str]] = {}
        out: list[Mention] = []
        quote_starts = [q[0] for q in quotes]
        raw = self._raw(text)
        if main_child is not None:
            raw = [
                (s, e, "n")
                if c == "c"
                and text[s:e].lower() not in self._by_literal
                and " ".join(text[s:e].split()) != main_child
                else (s, e, c)
                for s, e, c in raw
            ]
        raw = _apposed_relations(text, raw)
        child_fill = _child_gender(text, raw, quotes, quote_starts)
        last_end = 0
        for start, end, cls in raw:
            words = text[start:end]
            in_quote = _inside(start, quotes, quote_starts)
            if not in_quote and _SENTENCE_BREAK.search(text, last_end, start):
                prev_lead, lead, have_lead = (lead if have_lead else first), {}, False
                first = {}
            if not in_quote:
                last_end = end
            subject_pos = _subject_position(text, start)
            leads = not in_quote and not have_lead and subject_pos
            if cls == "x":
                gender, nominative = _PRONOUNS[words.lower()]
                if gender is None:
                    kind, ante = "professional", "the worker"
                else:
                    kind, ante = slots.get(gender, ("unknown", ""))
                    if nominative and subject_pos and not in_quote:
                        # A subject pronoun continues the subject of this sentence ("He
                        # said X is…, and he wants…") or, opening a sentence, the last one.
                        if have_lead:
                            kind, ante = lead.get(gender, (kind, ante))
                        else:
                            kind, ante = prev_lead.get(gender, (kind, ante))
                    if not in_quote and kind != "unknown":
                        # A resolved pronoun keeps its person salient for the next one.
                        slots[gender] = (kind, ante)
                        if not first:
                            first = {gender: (kind, ante)}
                        if leads and nominative:
                            lead = {gender: (kind, ante)}
                            have_lead = True
                out.append(
                    Mention(start, end, words, kind, True, nominative, in_quote, subject_pos, ante)
                )
                continue
            if cls == "c":
                kind = "child"
                fill = child_fill
            else:
                kind = "professional" if cls == "p" else "other"
                fill = {"p": "n", "f": "fn", "m": "mn", "n": "n"}[cls]
            if not in_quote:
                for slot in fill:
                    slots[slot] = (kind, words)
                if not first:
                    first = {slot: (kind, words) for slot in fill}
                if leads:
                    lead = {slot: (kind, words) for slot in fill}
                    have_lead = True
            out.append(Mention(start, end, words, kind, False, True, in_quote, subject_pos, words))
        return out


# Sentence ends between two mentions (what `pipeline.sentence_spans` splits on, roughly).
_SENTENCE_BREAK = re.compile(r"[.!?][\"'”’)\]]*\s|\n")
_RELATION_IN_BRACKETS = re.compile(r"\s*\(\s*$")
_CLOSE_BRACKET = re.compile(r"\s*\)")


def _apposed_relations(
    text: str, raw: Sequence[tuple[int, int, str]]
) -> list[tuple[int, int, str]]:
    """A named child followed by a bracketed relation ("Child 1 (the brother)") is that
    relation: a sibling, not the record's child."""
    out = list(raw)
    for i in range(len(out) - 1):
        start, end, cls = out[i]
        n_start, n_end, n_cls = out[i + 1]
        if cls != "c" or n_cls not in ("f", "m", "n"):
            continue
        if n_start - end > 4 or not _RELATION_IN_BRACKETS.match(text[end:n_start]):
            continue
        if _CLOSE_BRACKET.match(text, n_end):
            out[i] = (start, end, n_cls)
    return out


CHILD_GENDER_WINDOW = 80
FOUND_MEMO = 64


def _child_gender(
    text: str,
    raw: Sequence[tuple[int, int, str]],
    quotes: Sequence[tuple[int, int]],
    quote_starts: Sequence[int],
) -> str:
    """Which pronoun slots a child reference fills: the child's gender when the note shows
    it, else all of them.

    The record does not say the child's gender, but notes do: the first gendered pronoun
    shortly after a child reference, with no gendered adult named in between ("Child A
    showed me her room"), votes for it. Knowing it keeps "she" from resolving to a boy
    when Mum was named before him.
    """
    votes = {"f": 0, "m": 0}
    for i, (start, end, cls) in enumerate(raw):
        if cls != "c" or _inside(start, quotes, quote_starts):
            continue
        for j in range(i + 1, len(raw)):  # (no slice copy: notes can hold 100k mentions)
            nxt_start, nxt_end, nxt_cls = raw[j]
            if nxt_start - end > CHILD_GENDER_WINDOW or nxt_cls in ("c", "f", "m"):
                break
            if nxt_cls == "x":
                gender = _PRONOUNS[text[nxt_start:nxt_end].lower()][0]
                if gender in votes:
                    votes[gender] += 1
                    break
    if votes["f"] > votes["m"]:
        return "fn"
    if votes["m"] > votes["f"]:
        return "mn"
    return "fmn"


def _inside(pos: int, spans: Sequence[tuple[int, int]], starts: Sequence[int]) -> bool:
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


_DETERMINERS = frozenset({"the", "a", "an", "our", "y", "yr"})


def _last_word_start(text: str) -> int:
    """Where the run of word characters ending `text` starts (len(text) if none).

    A backwards walk: an end-anchored regex (`(\\w+)$`) would be tried at every position.
    """
    i = len(text)
    while i and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return i


def _subject_position(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start].rstrip()
    # "…; the YP said": look past a determiner ("the", Welsh "y") to the clause edge.
    cut = _last_word_start(before)
    if cut < len(before) and before[cut:].lower() in _DETERMINERS:
        before = before[:cut].rstrip()
    if not before or before[-1] in '.!?;:,("“-–\n':
        return True
    cut = _last_word_start(before)
    return cut < len(before) and before[cut:].lower() in _SUBJECT_LEFT


_QUOTE_RE = re.compile(r"\"[^\"\n]{1,600}\"|“[^”\n]{1,600}”")


def quote_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTE_RE.finditer(text)]
