"""Lexicon terms → compiled regular expressions.

A lexicon item is either a phrase (a string) or a mapping:

- `"carer's assessment"`: a phrase; whitespace matches any run of whitespace, an apostrophe
  matches ', ’ or nothing (so "carers assessment" and "carer’s assessment" match too), and a
  word ending in `+` is expanded to its regular inflections at load time ("offer+" → offer,
  offers, offered, offering), so no lemmatiser runs at audit time;
- `{pattern: "AO", case_sensitive: true}`: the same, matched case-sensitively;
- `{regex: "\\bW\\d+ to\\b"}`: a Python regular expression (case-insensitive unless
  `case_sensitive: true`).

Phrases match on word boundaries. One union per lexicon set is compiled, alternatives
ordered longest first so that at one position the longest term wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TERM_KEYS = frozenset({"pattern", "regex", "case_sensitive"})
_APOSTROPHES = "'’"


def inflections(word: str) -> list[str]:
    """Regular English inflections of a verb or noun stem (irregular forms go in lexicons)."""
    if word.endswith("e"):
        return [word, word + "s", word + "d", word[:-1] + "ing"]
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        return [word, word[:-1] + "ies", word[:-1] + "ied", word + "ing"]
    if word.endswith(("s", "sh", "ch", "x")):
        return [word, word + "es", word + "ed", word + "ing"]
    return [word, word + "s", word + "ed", word + "ing"]


def _word_regex(word: str) -> str:
    if word.endswith("+") and len(word) > 1:
        forms = sorted(inflections(word[:-1]), key=len, reverse=True)
        return "(?:" + "|".join(_word_regex(f) for f in forms) + ")"
    out = []
    for ch in word:
        if ch in _APOSTROPHES:
            out.append("['’]?")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def phrase_regex(phrase: str) -> str:
    """Regex source for a phrase, with word boundaries where the phrase has word edges."""
    words = phrase.split()
    if not words:
        raise ValueError("empty phrase")
    body = r"\s+".join(_word_regex(w) for w in words)
    left = r"(?<![\w])" if re.match(r"\w", phrase.strip()) else ""
    right = r"(?![\w])" if re.search(r"[\w+]$", phrase.strip()) else ""
    return f"{left}{body}{right}"


@dataclass(frozen=True, slots=True)
class Term:
    source: str  # regex source
    case_sensitive: bool
    shown: str  # how the term reads in messages

    def wrapped(self) -> str:
        flags = "(?-i:" if self.case_sensitive else "(?:"
        return f"{flags}{self.source})"


def term_from_item(item: Any) -> Term:
    """Parse one lexicon item; raises ValueError with a readable message when invalid."""
    if isinstance(item, str):
        return Term(phrase_regex(item), False, item)
    if isinstance(item, Mapping):
        unknown = set(item) - TERM_KEYS
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))} in term")
        case = item.get("case_sensitive", False)
        if not isinstance(case, bool):
            raise ValueError("case_sensitive must be true or false")
        if ("pattern" in item) == ("regex" in item):
            raise ValueError("a term gives exactly one of pattern, regex")
        if "pattern" in item:
            if not isinstance(item["pattern"], str):
                raise ValueError("pattern must be a string")
            return Term(phrase_regex(item["pattern"]), case, item["pattern"])
        source = item["regex"]
        if not isinstance(source, str):
            raise ValueError("regex must be a string")
        try:
            re.compile(source)
        except re.error as exc:
            raise ValueError(f"invalid regex {source!r}: {exc}") from None
        return Term(source, case, source)
    raise ValueError(f"a term is a string or a mapping, not {type(item).__name__}")


_LEFT = r"(?<![\w])"
_RIGHT = r"(?![\w])"


def alternation(ordered: Sequence[Term]) -> str:
    """Regex source matching exactly what `"|".join(t.wrapped() for t in ordered)` matches,
    but much faster.

    `phrase_regex` gives each phrase its own word-boundary assertions; in a union of a few
    hundred phrases `re` would then test the same assertion once per alternative at every
    position. Here each run of consecutive alternatives with the same assertions shares
    one copy, outside the run, so a position inside a word is rejected in one step (6×
    faster on the voice lexicons). Alternation order is kept (and an alternation
    backtracks into its next branch before its suffix), so the same term wins as before.
    """
    runs: list[tuple[bool, bool, list[str]]] = []
    for term in ordered:
        source = term.source
        # Only phrases carry hoistable assertions; a user's regex is left as written.
        phrase = term.shown != term.source
        left = phrase and source.startswith(_LEFT)
        right = phrase and source.endswith(_RIGHT)
        if left:
            source = source[len(_LEFT) :]
        if right:
            source = source[: -len(_RIGHT)]
        inner = Term(source, term.case_sensitive, term.shown).wrapped()
        if runs and runs[-1][0] == left and runs[-1][1] == right:
            runs[-1][2].append(inner)
        else:
            runs.append((left, right, [inner]))
    return "|".join(
        f"{_LEFT if left else ''}(?:{'|'.join(alternatives)}){_RIGHT if right else ''}"
        for left, right, alternatives in runs
    )


def union(terms: Iterable[Term]) -> re.Pattern[str]:
    """One case-insensitive alternation of `terms`, longest source first."""
    ordered = sorted(set(terms), key=lambda t: (-len(t.shown), t.shown))
    if not ordered:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile(alternation(ordered), re.IGNORECASE)


def compile_lexicons(
    lexicons: Mapping[str, tuple[Any, ...]], names: Iterable[str]
) -> re.Pattern[str]:
    return union(term_from_item(item) for name in names for item in lexicons[name])


def labelled_union(groups: Mapping[str, Iterable[Term]]) -> re.Pattern[str]:
    """An alternation whose match tells which group (label) matched, via `m.lastgroup`.

    Group names are `g0`, `g1`… in the order of `groups`; see `group_labels`.
    """
    parts: list[tuple[int, str, str]] = []
    for index, terms in enumerate(groups.values()):
        for term in terms:
            parts.append((len(term.shown), f"g{index}", term.wrapped()))
    if not parts:
        return re.compile(r"(?!x)x")
    # Named groups cannot repeat, so each label's terms share one group, and the group of
    # the longest term comes first; within a group the longest term comes first.
    by_group: dict[str, list[tuple[int, str]]] = {}
    for length, name, source in parts:
        by_group.setdefault(name, []).append((length, source))
    ordered_groups = sorted(by_group.items(), key=lambda kv: -max(x[0] for x in kv[1]))
    alternatives = []
    for name, items in ordered_groups:
        items.sort(key=lambda x: -x[0])
        alternatives.append(f"(?P<{name}>" + "|".join(s for _, s in items) + ")")
    return re.compile("|".join(alternatives), re.IGNORECASE)


def group_labels(groups: Mapping[str, Any]) -> dict[str, str]:
    return {f"g{index}": label for index, label in enumerate(groups)}
