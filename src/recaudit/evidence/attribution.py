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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from recaudit.evidence.matching import Term, alternation, term_from_item

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
_PRONOUN_RE = (
    r"(?:\b(?:she|her|hers|herself|he|him|his|himself|they|them|their|themselves|we)\b"
    r"|(?-i:\bI\b))"
)
_POSSESSORS = r"(?:his|her|their|the|a|an|my|our|its)"
# Words that may sit between a possessor and a person noun: "his older half-sister".
_MODIFIERS = (
    r"(?:(?:older|younger|little|big|elder|eldest|youngest|twin|half|step|new|former|previous|"
    r"maternal|paternal|great|birth|foster|kinship|main|current|allocated|new)[\s-]+)*"
)
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


class People:
    """The compiled person finder for one pack."""

    def __init__(self, lex: PeopleLexicons) -> None:
        child = _alt(lex.child)
        self.kinds = {
            "f": re.compile(_alt(lex.female) + r"$", re.IGNORECASE),
            "m": re.compile(_alt(lex.male) + r"$", re.IGNORECASE),
            "n": re.compile(_alt(lex.neutral) + r"$", re.IGNORECASE),
            "p": re.compile(_alt(lex.professional) + r"$", re.IGNORECASE),
        }
        person = _alt(lex.female + lex.male + lex.neutral + lex.professional)
        self.finder = re.compile(
            rf"(?P<compound>(?:{child}['’]s?|{_POSSESSORS})\s+{_MODIFIERS}(?P<noun1>{person}))"
            rf"|(?P<child>{child})"
            rf"|(?P<noun2>{_MODIFIERS}(?P<bare>{person}))"
            rf"|(?P<pron>{_PRONOUN_RE})",
            re.IGNORECASE,
        )
        self.reporting = re.compile(_alt(lex.reporting), re.IGNORECASE)

    def _noun_class(self, noun: str) -> str:
        for key in ("p", "f", "m", "n"):
            if self.kinds[key].match(noun):
                return key
        return "n"

    def mentions(self, text: str, quotes: Sequence[tuple[int, int]]) -> list[Mention]:
        """Every person mention in `text`, pronouns resolved in reading order."""
        slots: dict[str, tuple[Kind, str]] = {}
        out: list[Mention] = []
        quote_starts = [q[0] for q in quotes]
        for m in self.finder.finditer(text):
            start, end = m.span()
            in_quote = _inside(start, quotes, quote_starts)
            subject_pos = _subject_position(text, start)
            if m.group("pron"):
                word = m.group("pron").lower()
                gender, nominative = _PRONOUNS[word]
                if gender is None:
                    kind, ante = "professional", "the worker"
                else:
                    kind, ante = slots.get(gender, ("unknown", ""))
                out.append(
                    Mention(
                        start, end, m.group(0), kind, True, nominative, in_quote, subject_pos, ante
                    )
                )
                continue
            if m.group("child"):
                kind: Kind = "child"
                label = "cfmn"
            else:
                noun = m.group("noun1") or m.group("bare")
                cls = self._noun_class(noun)
                kind = "professional" if cls == "p" else "other"
                label = {"p": "n", "f": "fn", "m": "mn", "n": "n"}[cls]
            words = m.group(0)
            if not in_quote:
                for slot in label.replace("c", ""):
                    slots[slot] = (kind, words)
            out.append(Mention(start, end, words, kind, False, True, in_quote, subject_pos, words))
        return out


def _inside(pos: int, spans: Sequence[tuple[int, int]], starts: Sequence[int]) -> bool:
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _subject_position(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start].rstrip()
    if not before or before[-1] in '.!?;:,("“-–\n':
        return True
    word = re.search(r"(\w+)$", before)
    return bool(word) and word.group(1).lower() in _SUBJECT_LEFT


_QUOTE_RE = re.compile(r"\"[^\"\n]{1,600}\"|“[^”\n]{1,600}”")


def quote_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTE_RE.finditer(text)]


def subject_of(
    mentions: Sequence[Mention], sent_start: int, target_start: int, target_end: int
) -> Mention | None:
    """The subject of the verb at `target_start` (see module doc), or None."""
    best: Mention | None = None
    for m in mentions:
        if m.start < sent_start or m.in_quote:
            continue
        if m.start >= target_end:
            break
        inside_target = m.start >= target_start
        if (inside_target and m.pronoun) or (
            m.end <= target_start
            and ((m.pronoun and m.nominative) or (not m.pronoun and m.subject_position))
        ):  # "in his words"
            best = m
    return best


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
    if re.search(r"\b(?:and|but|then|so|while|when)\b(?!\s+that)|;", between):
        return None, ""
    speaker = subject_of(mentions, sent_start, last.start(), last.start())
    return speaker, last.group(0)


def clause_people(mentions: Sequence[Mention], start: int, end: int) -> list[Mention]:
    return [m for m in mentions if start <= m.start < end and not m.in_quote]
