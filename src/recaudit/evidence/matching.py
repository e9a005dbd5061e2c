"""Lexicon terms → compiled regular expressions.

A lexicon item is either a phrase (a string) or a mapping:

- `"carer's assessment"`: a phrase; whitespace matches any run of whitespace, an apostrophe
  matches ', ’ or nothing (so "carers assessment" and "carer’s assessment" match too), a
  word ending in `+` is expanded to its regular inflections at load time ("offer+" → offer,
  offers, offered, offering), and `{a|b|}` offers alternatives ("in {his|her} {own |}words"),
  so no lemmatiser and few regexes run at audit time;
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
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from recaudit.evidence.scanner import (
    Bounds,
    NoteHits,
    Scanner,
    Span,
    Tail,
    anchors,
    may_match,
    required_literals,
    select,
    tail_anchors,
)

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


_CHOICE = re.compile(r"\{([^{}]*)\}")


def expand_choices(phrase: str) -> list[str]:
    """ "in {his|her|their} {own |}words" → every combination (load-time, like inflections)."""
    m = _CHOICE.search(phrase)
    if not m:
        return [" ".join(phrase.split())]
    out: list[str] = []
    for option in m.group(1).split("|"):
        out += expand_choices(phrase[: m.start()] + option + phrase[m.end() :])
    return [p for p in dict.fromkeys(out) if p]


def phrase_regex(phrase: str) -> str:
    """Regex source for a phrase, with word boundaries where the phrase has word edges."""
    options = expand_choices(phrase)
    if len(options) != 1 or options[0] != " ".join(phrase.split()):
        return "(?:" + "|".join(phrase_regex(o) for o in options) + ")"
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
    # For phrases: every literal spelling (words joined by one space), so that many phrases
    # can be compiled into one character trie; None for regex terms.
    literals: tuple[str, ...] | None = None

    def wrapped(self) -> str:
        flags = "(?-i:" if self.case_sensitive else "(?:"
        return f"{flags}{self.source})"


def _word_spellings(word: str) -> list[str]:
    if word.endswith("+") and len(word) > 1:
        return [v for form in inflections(word[:-1]) for v in _word_spellings(form)]
    out = [""]
    for ch in word:
        options = ["'", "’", ""] if ch in _APOSTROPHES else [ch]
        out = [prefix + o for prefix in out for o in options]
    return out


def phrase_literals(phrase: str) -> tuple[str, ...]:
    """Every spelling a phrase matches, words joined by one space (see `phrase_regex`)."""
    out: list[str] = []
    for option in expand_choices(phrase):
        spellings = [""]
        for word in option.split():
            spellings = [f"{p} {w}".strip() for p in spellings for w in _word_spellings(word)]
        out += spellings
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=8192)
def _phrase_term(phrase: str, case_sensitive: bool) -> Term:
    # Cached: a pack's rules turn the same lexicon items into terms several times over
    # (trigger, targets, tiers), and expanding a phrase is most of a pack's compile time.
    return Term(phrase_regex(phrase), case_sensitive, phrase, phrase_literals(phrase))


def term_from_item(item: Any) -> Term:
    """Parse one lexicon item; raises ValueError with a readable message when invalid."""
    if isinstance(item, str):
        return _phrase_term(item, False)
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
            return _phrase_term(item["pattern"], case)
        source = item["regex"]
        if not isinstance(source, str):
            raise ValueError("regex must be a string")
        try:
            re.compile(source)
        except re.error as exc:
            raise ValueError(f"invalid regex {source!r}: {exc}") from None
        return Term(source, case, source)
    raise ValueError(f"a term is a string or a mapping, not {type(item).__name__}")


def _trie_regex(strings: Iterable[str]) -> str:
    """A regex matching exactly `strings` (the longest at any position), as a character trie.

    Python's `re` tries every branch of an alternation at every position; a trie shares
    prefixes, so a union of hundreds of phrases costs about as much as one. A space in a
    phrase matches any run of whitespace; a phrase ending in a word character must end on a
    word boundary.
    """
    trie: dict[str, Any] = {}
    for string in strings:
        node = trie
        for ch in string:
            node = node.setdefault(ch, {})
        node["$"] = {"word_end": bool(re.search(r"\w$", string))}

    def emit(node: dict[str, Any]) -> str:
        branches = []
        end = node.get("$")
        for ch in sorted(k for k in node if k != "$"):
            atom = r"\s+" if ch == " " else re.escape(ch)
            branches.append(atom + emit(node[ch]))
        tail = r"(?!\w)" if end and end["word_end"] else ""
        if not branches:
            return tail
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end is not None:  # this prefix is itself a phrase: longer ones are tried first
            return f"(?:{body}|{tail})" if tail else f"(?:{body})?"
        return body

    return emit(trie)


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


class TermPattern:
    """A compiled set of terms with the `re` calls the engine uses (`finditer`, `search`,
    `matches_in`), matching leftmost-longest without overlaps.

    Speed (measured with Python 3.11 `re` on case notes): `re.IGNORECASE` makes a large
    alternation ~7x slower, and one alternation mixing unrelated branches stops `re` from
    skipping non-candidate positions. So case-insensitive phrases are compiled, lower-cased,
    into character tries that run on the lower-cased text (computed once per text); phrases
    that start with a word character share one leading word-boundary lookbehind;
    case-sensitive phrases and each regex term get patterns of their own; the matches are
    merged.
    """

    def __init__(self, terms: Iterable[Term], scanner: Scanner | None = None) -> None:
        groups: dict[tuple[bool, bool], list[str]] = {}  # (case_sensitive, word start)
        regexes: list[tuple[str, bool]] = []
        for term in sorted(set(terms), key=lambda t: (-len(t.shown), t.shown)):
            if term.literals is None:
                regexes.append((term.source, term.case_sensitive))
                continue
            for lit in term.literals:
                key = (term.case_sensitive, bool(re.match(r"\w", lit)))
                groups.setdefault(key, []).append(lit if term.case_sensitive else lit.lower())
        self._groups = sorted(groups.items())
        # A case-sensitive regex is compiled without IGNORECASE (`(?-i:…)` inside an
        # IGNORECASE pattern matches the same but is several times slower).
        self._regexes = [re.compile(r, 0 if cs else re.IGNORECASE) for r, cs in regexes]
        self._regex_any = _any_of(regexes) if len(regexes) > 1 else None
        # Per regex term, how the scanner narrows where it runs (see `_Plan`).
        self._plans = [
            _plan(p, r, cs, scanner) for p, (r, cs) in zip(self._regexes, regexes, strict=True)
        ]
        # With a scanner, the phrase groups are found by its one pass per text (same
        # matches, see scanner.py); the tries (`patterns`) are compiled only if a text
        # needs them (compiling them all took a second of every run's start).
        self._scanner = scanner
        self._gids = (
            [scanner.add_group(strings, case) for (case, _), strings in self._groups]
            if scanner is not None
            else []
        )
        self._single = self._gids[0] if len(self._gids) == 1 and not self._plans else None
        self._lone = self._plans[0] if len(self._plans) == 1 and not self._gids else None
        # For `live`: every group whose strings a match needs, and whether a regex runs
        # whatever the text holds.
        self._all_gids = frozenset(self._gids) | {p.gid for p in self._plans if p.gid is not None}
        self._unfiltered = any(p.gid is None for p in self._plans)
        self._last: str | None = None
        self._low = ""

    @cached_property
    def patterns(self) -> list[tuple[re.Pattern[str], bool]]:
        """(compiled pattern, runs on the lower-cased text?): the phrase tries, then the
        regex terms."""
        out = []
        for (case, word_start), strings in self._groups:
            source = ("(?<!\\w)" if word_start else "") + _trie_regex(strings)
            out.append((re.compile(source), not case))
        return out + [(p, False) for p in self._regexes]

    @cached_property
    def _fallback(self) -> list[tuple[re.Pattern[str], bool]]:
        # For texts whose lower-casing changes length: tries with IGNORECASE on the text.
        return [
            (re.compile(p.pattern, re.IGNORECASE) if low else p, False) for p, low in self.patterns
        ]

    @property
    def pattern(self) -> str:
        return "|".join(p.pattern for p, _ in self.patterns)

    def _texts(self, text: str) -> tuple[list[tuple[re.Pattern[str], bool]], str]:
        if text is not self._last:
            self._last, self._low = text, text.lower()
        if len(self._low) != len(text):  # lower() changed offsets (rare Unicode): slow path
            return self._fallback, text
        return self.patterns, self._low

    def spans(self, text: str, pos: int = 0, endpos: int | None = None) -> list[tuple[int, int]]:
        """(start, end) of every match in [pos, endpos), leftmost-longest, no overlaps."""
        end = len(text) if endpos is None else endpos
        hits = self._scanner.hits(text) if self._scanner is not None else None
        if hits is None:
            found = [m.span() for m in self._regex_finditer(text, pos, end)]
            return found
        if self._single is not None:
            # One phrase group and no regex (most lexicons, most cue rules): its selection
            # is the answer, already sorted and free of overlaps.
            return hits.select(self._single, pos, end)
        if self._lone is not None:
            # One regex term and no phrases (most regex cue rules): the general path below,
            # without its lists and merging.
            plan = self._lone
            found = plan.find(hits, text, pos, end)
            if found is not None:
                return found
            return [m.span() for m in plan.pattern.finditer(text, pos, end) if m.end() > m.start()]
        found = select(hits, self._gids, pos, end)
        anchored, regexes = self._triage(hits, text, pos, end)
        found += anchored
        # The union of all regexes is a quick test only while none was ruled out already.
        union_first = self._regex_any is not None and len(regexes) == len(self._regexes) > 1
        if regexes and (not union_first or self._regex_any.search(text, pos, end)):
            for p in regexes:
                found += [m.span() for m in p.finditer(text, pos, end) if m.end() > m.start()]
        if len(self._gids) + len(self._regexes) > 1:
            found.sort(key=lambda m: (m[0], -m[1]))
            kept: list[tuple[int, int]] = []
            for m in found:
                if not kept or m[0] >= kept[-1][1]:
                    kept.append(m)
            found = kept
        return found

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> list[Any]:
        if self._scanner is None:
            return self._regex_finditer(text, pos, endpos)
        return [Span(text, s, e) for s, e in self.spans(text, pos, endpos)]

    def _regex_finditer(
        self, text: str, pos: int = 0, endpos: int | None = None
    ) -> list[re.Match[str]]:
        end = len(text) if endpos is None else endpos
        patterns, low = self._texts(text)
        found = [
            m
            for p, lower in patterns
            for m in p.finditer(low if lower else text, pos, end)
            if m.end() > m.start()
        ]
        if len(patterns) > 1:
            found.sort(key=lambda m: (m.start(), -m.end()))
            kept: list[re.Match[str]] = []
            for m in found:
                if not kept or m.start() >= kept[-1].end():
                    kept.append(m)
            found = kept
        return found

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> Any:
        end = len(text) if endpos is None else endpos
        if self._scanner is not None:
            hits = self._scanner.hits(text)
            if hits is not None:
                return self._scan_search(text, hits, pos, end)
        patterns, low = self._texts(text)
        best: re.Match[str] | None = None
        for p, lower in patterns:
            m = p.search(low if lower else text, pos, end)
            if m and (best is None or (m.start(), -m.end()) < (best.start(), -best.end())):
                best = m
        return best

    def matches_in(self, text: str, pos: int = 0, endpos: int | None = None) -> bool:
        """Is there any match in [pos, endpos)? (`search`'s truth, without finding the
        leftmost one.)"""
        end = len(text) if endpos is None else endpos
        hits = self._scanner.hits(text) if self._scanner is not None else None
        if hits is None:
            return self.search(text, pos, end) is not None
        for gid in self._gids:
            if hits.first(gid, pos, end):
                return True
        # As `_triage`, but stopping at the first regex found: one is enough.
        for plan in self._plans:
            found = plan.find(hits, text, pos, end, limit=1)
            if found or (found is None and plan.pattern.search(text, pos, end)):
                return True
        return False

    @property
    def live_groups(self) -> tuple[Scanner, frozenset[int]] | None:
        """The scanner and the groups `live` looks for; None when the pattern is live in
        every text (no scanner, or a regex term that runs whatever the text holds)."""
        if self._scanner is None or self._unfiltered:
            return None
        return self._scanner, self._all_gids

    def live(self, text: str) -> bool:
        """Can this pattern match anywhere in `text`? False only when the scanner shows
        that none of its phrases, regex anchors or prefilter strings occur in it (its
        `live_groups`; `CueSet.live` asks the same of a whole cue set at once)."""
        found = self.live_groups
        if found is None:
            return True
        hits = found[0].hits(text)
        return hits is None or hits.special or hits.has_any(found[1])

    def _scan_search(self, text: str, hits: Any, pos: int, end: int) -> Span | None:
        found = [f for gid in self._gids if (f := hits.first(gid, pos, end))]
        anchored, regexes = self._triage(hits, text, pos, end, limit=1)
        found += anchored
        if len(regexes) < len(self._regexes) or self._regex_any is None:
            found += [m.span() for p in regexes if (m := p.search(text, pos, end))]
        elif regexes:
            # The union finds the leftmost start of any regex term; there, each regex's own
            # match at that start is what its `search` would return.
            first = self._regex_any.search(text, pos, end)
            if first is not None:
                found += [m.span() for p in regexes if (m := p.match(text, first.start(), end))]
        best = min(found, key=lambda f: (f[0], -f[1]), default=None)
        return Span(text, *best) if best is not None else None

    def _triage(
        self, hits: NoteHits, text: str, pos: int, end: int, limit: int | None = None
    ) -> tuple[list[tuple[int, int]], list[re.Pattern[str]]]:
        """The regex terms in [pos, end): the spans of the anchored ones (each tried only
        where its anchors occur; at most `limit` per regex), and the others that may match
        there (left to the caller to search)."""
        spans: list[tuple[int, int]] = []
        others: list[re.Pattern[str]] = []
        for plan in self._plans:
            found = plan.find(hits, text, pos, end, limit)
            if found is None:
                others.append(plan.pattern)
            else:
                spans += found
        return spans, others


class _Plan(NamedTuple):
    """How the scanner narrows where one regex term runs. Its group `gid` holds either
    the strings every match starts with (`head`: the regex is tried only where they
    occur), or those every match is followed by (`tail`: tried only just before them), or
    strings one of which any match contains (a window without one is not searched). No
    group: the regex always runs."""

    pattern: re.Pattern[str]
    gid: int | None
    head: bool = False
    tail: Tail | None = None

    def starts(self, hits: NoteHits, text: str, pos: int, end: int) -> list[int] | None:
        """Where the regex may start in [pos, end), or None if it must be searched."""
        if self.gid is None or hits.special:
            return None
        if self.head:
            return hits.starts_in(self.gid, pos, end)
        if self.tail is not None:
            return self.tail.starts(hits, self.gid, text, pos, end)
        return None

    def find(
        self, hits: NoteHits, text: str, pos: int, end: int, limit: int | None = None
    ) -> list[tuple[int, int]] | None:
        """The regex's matches in [pos, end) (at most `limit`) where the scanner narrows
        where it is tried, [] where its prefilter rules the window out, or None when the
        caller must search it."""
        starts = self.starts(hits, text, pos, end)
        if starts is not None:
            return _anchored_spans(self.pattern, starts, text, pos, end, limit)
        return None if may_match(hits, self.gid, pos, end) else []


def _plan(pattern: re.Pattern[str], source: str, cs: bool, scanner: Scanner | None) -> _Plan:
    if scanner is None:
        return _Plan(pattern, None)
    head = anchors(source, cs)
    if head is not None:
        bounds: Bounds = "word_start" if head.word_start else "anywhere"
        return _Plan(pattern, scanner.add_group(head.heads, cs, bounds), head=True)
    tail = tail_anchors(source, cs)
    if tail is not None:
        return _Plan(pattern, scanner.add_group(tail.heads, cs, "anywhere"), tail=tail)
    needed = required_literals(source, cs)
    return _Plan(pattern, scanner.add_group(needed, cs, "anywhere") if needed else None)


def _anchored_spans(
    pattern: re.Pattern[str],
    starts: Sequence[int],
    text: str,
    pos: int,
    end: int,
    limit: int | None = None,
) -> list[tuple[int, int]]:
    """What `pattern.finditer(text, pos, end)` finds, for a regex whose every match starts
    where one of its anchor strings does (`starts`): tried only there, in order."""
    out: list[tuple[int, int]] = []
    after = pos
    for start in starts:
        if start < after:
            continue
        m = pattern.match(text, start, end)
        if m is not None and m.end() > m.start():
            out.append(m.span())
            if limit is not None and len(out) >= limit:
                break
            after = m.end()
    return out


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?P<|\(\?\w*\)")


def _any_of(regexes: Sequence[tuple[str, bool]]) -> re.Pattern[str] | None:
    """One regex matching wherever any of `regexes` matches (a quick test before running
    each), or None when they cannot be combined (group references or global flags)."""
    if any(_BACKREFERENCE.search(r) for r, _ in regexes):
        return None
    try:
        return re.compile("|".join(f"(?{'-i' if cs else 'i'}:{r})" for r, cs in regexes))
    except re.error:
        return None


def union(terms: Iterable[Term], scanner: Scanner | None = None) -> TermPattern:
    return TermPattern(terms, scanner)


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
