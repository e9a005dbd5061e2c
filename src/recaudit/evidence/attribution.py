"""Who a statement is about: the child, another person (family), or a professional.

People are found with the pack's person lexicons (child references such as "Child A", "the
young person", "YP"; female, male and neutral family nouns; professionals) plus English
pronouns. Each pronoun is resolved to its nearest compatible antecedent earlier in the
note: "she"/"her" to the last female person or child reference, "he"/"him" to the last male
person or child reference, "they" to the last person of any kind. A child reference fills
every slot because the record does not say the child's gender. Mentions inside quotation
marks are someone's words, so they neither act as subjects nor become antecedents.

Three questions are answered for a mention of evidence:
- `subject`: who is the grammatical subject of a verb (the speaker of "said")? The nearest
  nominative pronoun or subject-position noun before it in the sentence. If that subject
  sits inside another person's report ("Mum said he wants…"), the statement is that
  person's account, not the child's.
- `recipient`: who received an offer? The people named in the clause; the child wins when
  named, a family member otherwise, and with nobody named the record's child is assumed.
- `involves_child`: a worker's attempt to reach the child: subject is a professional (or
  unstated) and the child is named in the sentence.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

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
_MODIFIER_LENGTHS = sorted({len(w) for w in _MODIFIER_WORDS})
_POSSESSOR_LENGTHS = sorted({len(w) for w in _POSSESSOR_WORDS})
# For the word before a noun, read backwards from the reversed note (`_compound_start`).
# Lower-casing a reversed word is the reverse of the lower-cased word, but for characters
# that lower to several, which no word of these ASCII sets holds.
_POSSESSORS_REV = frozenset(w[::-1] for w in _POSSESSOR_WORDS)
_MODIFIERS_REV = frozenset(w[::-1] for w in _MODIFIER_WORDS)
_POSSESSIVE_ENDS_REV = tuple(w[::-1] for w in ("'s", "’s", "s'", "s’"))
_OPENERS = "([{\"'“‘"


def _modifier_run_starts(text: str, lo: int, start: int) -> set[int]:
    """Every point p in [lo, start] from which `_MODIFIERS$` matches text[p:start] (ASCII
    text): only modifier words, each followed by spaces or hyphens, lead to `start`.
    Walked backwards word by word; an end-anchored `re.search` would try every position
    of the window."""
    seen = {start}
    todo = [start]
    while todo:
        q = todo.pop()
        j = q
        while j > lo and (text[j - 1].isspace() or text[j - 1] == "-"):
            j -= 1
        if j == q:
            continue  # a modifier needs a space or hyphen after it
        for size in _MODIFIER_LENGTHS:
            p = j - size
            if p < lo:
                break
            if p not in seen and text[p:j].lower() in _MODIFIER_WORDS:
                seen.add(p)
                todo.append(p)
    return seen


def _modifier_run_start(text: str, lo: int, start: int) -> int:
    """Where `_MODIFIERS$` first matches in text[lo:start] (ASCII text)."""
    return min(_modifier_run_starts(text, lo, start))


def _possessor_start(text: str, lo: int, runs: set[int]) -> int | None:
    """Where `\\b{_POSSESSORS}\\s+{_MODIFIERS}$` first matches in text[lo:…] (ASCII text),
    given `runs` (`_modifier_run_starts`); None if nowhere, or -1 when a child reference
    with 's might end the possessor ("Child A's older sister"): child references are
    regexes, so the caller must ask the possessor regex.

    A possessor word ends where the whitespace run before a modifier run starts, so only
    those few places are looked at, instead of `re` trying every position of the window.
    """
    first: int | None = None
    for m in runs:
        if m == lo or not text[m - 1].isspace():
            continue
        q = m - 1
        while q > lo and text[q - 1].isspace():
            q -= 1
        if q == lo:
            continue  # no room for a possessor inside the window
        if text[q - 1] == "'" or (q - 2 >= lo and text[q - 1] in "sS" and text[q - 2] == "'"):
            return -1
        for size in _POSSESSOR_LENGTHS:
            p = q - size
            if p < lo:
                break
            if (
                (first is None or p < first)
                and text[p:q].lower() in _POSSESSOR_WORDS
                and not (p and is_word_char(text[p - 1]))  # `\b` before the word
            ):
                first = p
    return first


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


class Mention(NamedTuple):
    """One person mention. A named tuple, not a frozen dataclass: a note holds dozens of
    mentions and a frozen dataclass sets each field through `object.__setattr__` (about
    3x slower to build)."""

    start: int
    end: int
    text: str
    kind: Kind  # after pronoun resolution
    pronoun: bool
    nominative: bool
    in_quote: bool
    subject_position: bool
    antecedent: str = ""  # the resolved person's words, for reasons


class People:
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

    def _compound_start(self, text: str, rev: str, start: int) -> int:
        """Where a person noun's noun phrase starts: over modifiers and a possessor.

        `rev` is the note reversed (see `_last_token_reversed`)."""
        lo = start - 80 if start > 80 else 0  # (`max` is a call: once per noun)
        # Cheap test first: the word before is a modifier, a possessor or ends in 's. It is
        # tested spelt backwards, as read from `rev`, against reversed word sets.
        token, token_end = _last_token_reversed(rev, lo, start)
        last = token.lower().rstrip(_OPENERS)  # "(the sister)"
        if last in _POSSESSORS_REV and token_end < start:
            # The most common case ("the worker", "his mum"): no modifier, so only the
            # possessor itself can start the phrase, where `\b` allows.
            word_start = token_end - len(last)
            if word_start and is_word_char(text[word_start - 1]):
                return start
            return word_start
        if not last:
            return start
        if "-" in last:
            # The modifier after the last hyphen ("half-"), or before the first ("step-mum").
            extends = (
                last.startswith(_POSSESSIVE_ENDS_REV)
                or last.lstrip("-").split("-")[0] in _MODIFIERS_REV
                or last.split("-")[-1] in _MODIFIERS_REV
            )
        else:
            extends = last in _MODIFIERS_REV or last.startswith(_POSSESSIVE_ENDS_REV)
        if not extends:
            return start
        if not text[lo:start].isascii():  # exotic case equivalences: `re` decides
            return self._regex_compound_start(text, lo, start)
        runs = _modifier_run_starts(text, lo, start)
        found = _possessor_start(text, lo, runs)
        if found == -1:
            return self._regex_compound_start(text, lo, start)
        return found if found is not None else min(runs)

    def _regex_compound_start(self, text: str, lo: int, start: int) -> int:
        """`_compound_start` by the regexes alone (child references are regexes; text with
        characters `re.IGNORECASE` equates beyond `str.lower`)."""
        m = self.possessor.search(text, lo, start)
        if m is not None:
            return m.start() if m.end() == start and m.start() < start else start
        if text[lo:start].isascii():  # the window only: a whole-note test is O(note) per noun
            return _modifier_run_start(text, lo, start)
        m = self.modifiers.search(text, lo, start)
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
            if cls == "c":
                words = text[start:end]
                if words.lower() not in self._by_literal:
                    out.append(" ".join(words.split()))
        return out

    def _found(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, class) of every person word, memoised for the last few texts: the
        record's child is found over all its notes, then the same notes are analysed."""
        hit = self._memo.get(text)
        if hit is None:
            hit = []
            kind = self._kind
            for start, end in self.people.spans(text):
                cls = kind(text, start, end)
                if cls is not None:
                    hit.append((start, end, cls))
            if len(self._memo) >= FOUND_MEMO:
                self._memo.clear()
            self._memo[text] = hit
        return hit

    def _kind(self, text: str, start: int, end: int) -> str | None:
        words = text[start:end].lower()
        # Lexicon spellings are words joined by one space: a match that is one already
        # (nearly all) needs no re-spacing.
        found = self._by_literal.get(words)
        if found is None:
            found = self._by_literal.get(" ".join(words.split()))
        if found is not None:
            return found
        # Matched in place, not on the cut-out words: a regex term may look around it
        # (initials count as a child only before a reporting verb: "KT said").
        for rx, cls in self._regex_kinds:
            m = rx.match(text, start)
            if m is not None and m.end() == end:
                return cls
        return None

    def _raw(self, text: str, rev: str) -> list[tuple[int, int, str]]:
        """(start, end, class) for child refs (c), nouns (p/f/m/n) and pronouns (x)."""
        kept = self._found(text)
        nouns = []
        compound_start = self._compound_start
        for item in kept:
            start, end, cls = item
            if cls not in ("c", "x"):
                # Extend leftwards over a possessor and modifiers: "Child A's older sister".
                compound = compound_start(text, rev, start)
                if compound != start:
                    item = (compound, end, cls)
            nouns.append(item)  # (the found tuple itself when unchanged: no new tuple)
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
        return NoteMentions(self, text, quotes, main_child).all()

    def _resolve(
        self,
        text: str,
        quotes: Sequence[tuple[int, int]],
        main_child: str | None,
        out: list[Mention],
        starts: list[int],
    ) -> Generator[None, int, None]:
        """`mentions`, resumable: each value sent is a position, and the generator pauses
        once every mention starting before it is in `out` (their starts in `starts`).

        Resolution walks in reading order, so a note is read only as far as a rule judges
        it; nothing is done before the first position is sent.
        """
        limit = yield
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
        quote_starts = [q[0] for q in quotes]
        # Words before a mention are read from the reversed note with forward matches
        # (`_last_token_reversed`, `_subject_position`): cheaper than walking back char by char.
        rev = text[::-1]
        raw = self._raw(text, rev)
        if main_child is not None:
            # (In place: `raw` is a fresh list, and only other children's tuples change.)
            for i, (s, e, c) in enumerate(raw):
                if (
                    c == "c"
                    and text[s:e].lower() not in self._by_literal
                    and " ".join(text[s:e].split()) != main_child
                ):
                    raw[i] = (s, e, "n")
        raw = _apposed_relations(text, raw)
        # (The child's gender is voted on over the whole note: every mention is found up
        # front, and only their resolution is resumable.)
        child_fill = _child_gender(text, raw, quotes, quote_starts)
        last_end = 0
        # (Locals: this loop runs once per mention.)
        has_quotes = bool(quotes)
        breaks = _SENTENCE_BREAK.search
        subject_at = _subject_position
        # A `Mention` made by `tuple.__new__` directly: the named tuple's own `__new__` is a
        # Python-level function (one more call per mention) that does just this.
        make = tuple.__new__
        for start, end, cls in raw:
            while start >= limit:
                limit = yield
            starts.append(start)
            words = text[start:end]
            in_quote = has_quotes and _inside(start, quotes, quote_starts)
            if not in_quote:
                if breaks(text, last_end, start):
                    prev_lead, lead, have_lead = (lead if have_lead else first), {}, False
                    first = {}
                last_end = end
            subject_pos = subject_at(rev, start)
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
                    make(
                        Mention,
                        (start, end, words, kind, True, nominative, in_quote, subject_pos, ante),
                    )
                )
                continue
            if cls == "c":
                kind = "child"
                fill = child_fill
            else:
                kind = "professional" if cls == "p" else "other"
                fill = _FILLS[cls]
            if not in_quote:
                # `first`, `lead` and `prev_lead` are replaced, never changed in place, so
                # they may share one dict.
                filled = dict.fromkeys(fill, (kind, words))
                slots.update(filled)
                if not first:
                    first = filled
                if leads:
                    lead = filled
                    have_lead = True
            out.append(
                make(Mention, (start, end, words, kind, False, True, in_quote, subject_pos, words))
            )


class NoteMentions:
    """A note's person mentions, resolved only as far as they are asked for.

    Rules judge a note's targets in reading order and read the mentions of a target's
    sentence; a note whose targets are early, or that has no judged target, never pays
    for resolving the rest. Asking again resumes where the last ask stopped.
    """

    __slots__ = ("_found", "_starts", "_steps", "_upto")

    def __init__(
        self,
        people: People,
        text: str,
        quotes: Sequence[tuple[int, int]],
        main_child: str | None = None,
    ) -> None:
        self._found: list[Mention] = []
        self._starts: list[int] = []
        # Every mention starting before `_upto` is in `_found` (-1: nothing resolved yet).
        self._upto = -1
        self._steps = people._resolve(text, quotes, main_child, self._found, self._starts)
        next(self._steps)  # (runs to the generator's first `yield`: no work yet)

    def _resolve_to(self, pos: int) -> None:
        try:
            self._steps.send(pos)
            self._upto = pos
        except StopIteration:
            self._upto = sys.maxsize

    def within(self, start: int, end: int) -> list[Mention]:
        """Mentions starting in [start, end), in order."""
        if end > self._upto:
            self._resolve_to(end)
        starts = self._starts
        return self._found[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]

    def all(self) -> list[Mention]:
        """Every mention of the note."""
        if self._upto < sys.maxsize:
            self._resolve_to(sys.maxsize)
        return self._found


# The pronoun slots a noun of each class fills.
_FILLS = {"p": "n", "f": "fn", "m": "mn", "n": "n"}


# Sentence ends between two mentions (what `pipeline.sentence_spans` splits on, roughly).
# Each branch starts with its own literal character, so `re` skips to candidates at C
# speed (an alternation opening with a character class is tried at every position):
# the same matches as `[.!?][\"'”’)\]]*\s|\n`.
_CLOSERS = "[\"'”’)\\]]*"
_SENTENCE_BREAK = re.compile(rf"\n|\.{_CLOSERS}\s|!{_CLOSERS}\s|\?{_CLOSERS}\s")
_RELATION_IN_BRACKETS = re.compile(r"\s*\(\s*$")
_CLOSE_BRACKET = re.compile(r"\s*\)")


def _apposed_relations(
    text: str, raw: Sequence[tuple[int, int, str]]
) -> list[tuple[int, int, str]]:
    """A named child followed by a bracketed relation ("Child 1 (the brother)") is that
    relation: a sibling, not the record's child."""
    out = list(raw)
    if "(" not in text:  # (the bracket this looks for)
        return out
    for i in range(len(out) - 1):
        if out[i][2] != "c":  # (most mentions: tested before any unpacking)
            continue
        start, end, _ = out[i]
        n_start, n_end, n_cls = out[i + 1]
        if n_cls not in ("f", "m", "n"):
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


# Read on the reversed note from a mention's start leftwards: whitespace, then the word
# (or the whitespace-free token) before it, with one C-level match.
_REV_WORD = re.compile(r"\s*(\w*)")
_REV_TOKEN = re.compile(r"\s*(\S*)")
_CLAUSE_EDGE = '.!?;:,("“-–\n'
SUBJECT_WINDOW = 40
# The word sets spelt backwards, for words read from the reversed note (as the possessor
# and modifier sets above).
_DETERMINERS_REV = frozenset(w[::-1] for w in _DETERMINERS)
_SUBJECT_LEFT_REV = frozenset(w[::-1] for w in _SUBJECT_LEFT)


def _last_token_reversed(rev: str, lo: int, start: int) -> tuple[str, int]:
    """The last whitespace-delimited token of text[lo:start] (`text[lo:start].rstrip()
    .rsplit(None, 1)[-1]`, "" if there is none) spelt backwards, and where it ends, given
    `rev` = text[::-1]."""
    n = len(rev)
    m = _REV_TOKEN.match(rev, n - start, n - lo)
    return m.group(1), n - m.start(1)


def _subject_position(rev: str, start: int) -> bool:
    """Does a clause edge or a clause-opening word ("and", "when") come just before
    `start`, in the 40 characters before it? (`rev` is the note reversed.)"""
    n = len(rev)
    stop = n - start + SUBJECT_WINDOW if start > SUBJECT_WINDOW else n
    m = _REV_WORD.match(rev, n - start, stop)
    # The word stays reversed: it is only looked up, in reversed word sets.
    word = m.group(1).lower()
    if word in _DETERMINERS_REV:
        # "…; the YP said": look past a determiner ("the", Welsh "y") to the clause edge.
        m = _REV_WORD.match(rev, m.end(), stop)
        word = m.group(1).lower()
    if not word:
        at = m.end()
        return at == stop or rev[at] in _CLAUSE_EDGE
    return word in _SUBJECT_LEFT_REV


_QUOTE_RE = re.compile(r"\"[^\"\n]{1,600}\"|“[^”\n]{1,600}”")


def quote_spans(text: str) -> list[tuple[int, int]]:
    if '"' not in text and "“" not in text:  # most notes quote nobody
        return []
    return [m.span() for m in _QUOTE_RE.finditer(text)]


# "YP's partner, who says…", "Mum (who said…)": the relative pronoun's antecedent is the
# subject. Between the person and the verb: a word or two, a comma, "who", an auxiliary.
_RELATIVE_WHO = re.compile(r"(?:\s+\w+){0,2}\s*[,(]?\s*who\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
# A verb before its subject: Welsh word order ("Dywedodd y person ifanc…") or English
# inversion after a quote ('"…," said Child A'). Only articles may sit between them.
_INVERTED_GAP = re.compile(r"(?:\s+|\s+(?:the|y|yr)\s+|['’]r\s+)$", re.IGNORECASE)
_VERB_OPENS = re.compile(r"(?:[.!?:;\n]|[\"”,])\s*$")


def subject_of(
    mentions: Sequence[Mention],
    sent_start: int,
    target_start: int,
    target_end: int,
    text: str | None = None,
) -> Mention | None:
    """The subject of the verb at `target_start` (see module doc), or None.

    With `text`, two more shapes are read: a relative clause ("X, who says…": X) and a
    verb that opens its clause followed directly by its subject ("Dywedodd y plentyn…").
    """
    best: Mention | None = None
    nearest: Mention | None = None
    after: Mention | None = None
    for m in mentions:
        if m.start < sent_start or m.in_quote:
            continue
        if m.start >= target_end:
            if after is None:
                after = m
            break
        if m.end <= target_start:
            nearest = m
        inside_target = m.start >= target_start
        if (inside_target and m.pronoun) or (
            m.end <= target_start
            and ((m.pronoun and m.nominative) or (not m.pronoun and m.subject_position))
        ):  # "in his words"
            best = m
    if text is None:
        return best
    if nearest is not None and _RELATIVE_WHO.fullmatch(text, nearest.end, target_start):
        return nearest
    if (
        best is None
        and after is not None
        and not after.pronoun
        and _INVERTED_GAP.fullmatch(text, target_end, after.start)
        and (
            target_start <= sent_start
            or _VERB_OPENS.search(text, max(sent_start, target_start - 4), target_start)
        )
    ):
        return after
    return best


_COORDINATED = re.compile(r"\b(?:and|but|then|so|while|when)\b(?!\s+that)|;")


def embedding_speaker(
    people: People,
    text: str,
    mentions: Sequence[Mention],
    sent_start: int,
    subject: Mention | None,
    target_start: int,
) -> tuple[Mention | None, str]:
    """If `subject` sits inside someone's report ("Mum said he wants…"), that someone.

    Returns (speaker mention, reporting verb) or (None, "").
    """
    if subject is None:
        return None, ""
    # Most subjects (19 in 20) have no reporting verb before them in their sentence: a
    # yes/no test first, and the verbs are listed only where there is one.
    if not people.reporting.matches_in(text, sent_start, subject.start):
        return None, ""
    reports = [
        r
        for r in people.reporting.finditer(text, sent_start, subject.start)
        if r.end() <= subject.start
    ]
    if not reports:
        return None, ""
    last = reports[-1]
    between = text[last.end() : subject.start].lower()
    # A coordinated clause ("…and she said") is not inside the earlier report.
    if _COORDINATED.search(between):
        return None, ""
    speaker = subject_of(mentions, sent_start, last.start(), last.start())
    return speaker, last.group(0)


def clause_people(mentions: Sequence[Mention], start: int, end: int) -> list[Mention]:
    return [m for m in mentions if start <= m.start < end and not m.in_quote]
