"""A ConText-style modifier engine (Harkema et al. 2009), small and data-driven.

Cue rules come from rule-pack lexicons (see `CueSpec`). For one sentence:

1. find every cue match (at every token start, so overlapping candidates are all seen);
2. resolve overlaps: the longest match wins; on equal length the earliest start wins; on
   equal start too, the cue listed first in the lexicon wins (deterministic, and avoids the
   bad equal-length ties of medspaCy #232). PSEUDO cues ("not only", "? yes") take part
   only in this step: they exist to swallow a real cue, then are dropped;
3. each remaining cue gets a token scope: forward to the sentence end, backward to the
   sentence start, or both, shortened by `max_scope`;
4. scopes are cut at any TERMINATE cue (";", "but", "however") and at cues whose category
   is in the cue's `terminated_by`. Unlike medspaCy we do not cut a scope at the next cue of
   the same category: categories are flags, so overlapping scopes of one category do no
   harm, while cutting loses coverage whenever the later cue has a shorter `max_scope`
   ("Action: W6 to see Child AK … and make the active offer");
5. a cue modifies a mention when the mention's event token lies in its scope, the cue does
   not overlap the mention's own words, and the cue allows the mention's target label.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recaudit.evidence.matching import Term, TermPattern, term_from_item, union
from recaudit.evidence.scanner import Scanner

Direction = Literal["forward", "backward", "both", "terminate", "pseudo"]


class CueSpec(BaseModel):
    """One cue rule, as written in a lexicon file (a mapping item)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str | list[str] | None = None
    regex: str | None = None
    case_sensitive: bool = False
    category: str = Field(pattern=r"^[a-z][a-z_]*$")
    direction: Direction
    max_scope: int | None = Field(default=None, ge=1, le=100)
    targets: list[str] | None = None  # target labels (lexicon names) it may modify
    terminated_by: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_pattern(self) -> CueSpec:
        if (self.pattern is None) == (self.regex is None):
            raise ValueError("give exactly one of pattern, regex")
        for term in self.terms():  # raises ValueError on a bad phrase or regex
            del term
        return self

    def terms(self) -> list[Term]:
        if self.regex is not None:
            return [term_from_item({"regex": self.regex, "case_sensitive": self.case_sensitive})]
        patterns = [self.pattern] if isinstance(self.pattern, str) else list(self.pattern or [])
        if not patterns:
            raise ValueError("pattern list is empty")
        case = self.case_sensitive
        return [term_from_item({"pattern": p, "case_sensitive": case}) for p in patterns]

    def shown(self) -> str:
        if self.regex is not None:
            return self.regex
        return self.pattern if isinstance(self.pattern, str) else " | ".join(self.pattern or [])


@dataclass(frozen=True, slots=True)
class Cue:
    """A resolved cue in one text: where it is and the token range it governs."""

    spec_index: int
    category: str
    direction: Direction
    start: int  # characters
    end: int
    tok_start: int  # 0 when the sentence holds only terminators (see `resolve_cues`)
    tok_end: int  # exclusive
    scope_start: int = 0  # tokens, inclusive
    scope_end: int = 0  # tokens, exclusive
    text: str = ""


LIVE_MEMO = 64


class CueSet:
    """A pack's cue rules compiled once: one pattern per cue rule."""

    def __init__(self, specs: tuple[CueSpec, ...], patterns: tuple[TermPattern, ...]) -> None:
        self.specs = specs
        self.patterns = patterns
        self._live: dict[str, tuple[int, ...]] = {}
        # For `live`: which cue rules each scanner group makes live, and the rules that
        # are live in every text. Asking each rule in turn cost as much as the rest of
        # finding cue candidates.
        groups = [p.live_groups for p in patterns]
        self._all = tuple(range(len(patterns)))
        self._always = tuple(i for i, g in enumerate(groups) if g is None)
        scanners = {id(g[0]): g[0] for g in groups if g is not None}
        # (One pack, one scanner. Were there several, every rule would just be tried.)
        self._scanner = next(iter(scanners.values())) if len(scanners) == 1 else None
        self._by_group: dict[int, list[int]] = {}
        for i, g in enumerate(groups):
            for gid in g[1] if g is not None else ():
                self._by_group.setdefault(gid, []).append(i)

    @classmethod
    def build(cls, items: Sequence[Any], scanner: Scanner | None = None) -> CueSet:
        specs = tuple(CueSpec.model_validate(item) for item in items)
        return cls(specs, tuple(union(s.terms(), scanner) for s in specs))

    def live(self, text: str) -> tuple[int, ...]:
        """Indices of the cue rules that can match somewhere in `text` (each rule's
        `TermPattern.live`): a note holds the strings of only a few of a pack's cue rules,
        so the others are never tried on its sentences. Remembered for the last few texts
        (a rule's tiers take turns over a record's notes)."""
        found = self._live.get(text)
        if found is None:
            if len(self._live) >= LIVE_MEMO:
                self._live.clear()
            found = self._live[text] = self._find_live(text)
        return found

    def _find_live(self, text: str) -> tuple[int, ...]:
        hits = self._scanner.hits(text) if self._scanner is not None else None
        if hits is None or hits.special:
            return self._all
        by_group = self._by_group
        live = set(self._always)
        for gid in hits.groups():
            rules = by_group.get(gid)
            if rules is not None:
                live.update(rules)
        return tuple(sorted(live))


def cue_candidates(cues: CueSet, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    """(start, end, cue rule index) of every cue match in text[start:end], overlapping ones
    included. Needs no tokens: most sentences have no candidate and are never tokenised."""
    candidates: list[tuple[int, int, int]] = []
    for index in cues.live(text):
        for m_start, m_end in cues.patterns[index].spans(text, start, end):
            if m_end > m_start:
                candidates.append((m_start, m_end, index))
    return candidates


def find_cues(
    cues: CueSet,
    text: str,
    token_starts: Sequence[int],
    token_ends: Sequence[int],
    sent: tuple[int, int],
) -> list[Cue]:
    """Cues of one sentence (token range `sent`), overlaps resolved and scopes computed."""
    s_tok, e_tok = sent
    if s_tok >= e_tok:
        return []
    c_start, c_end = token_starts[s_tok], token_ends[e_tok - 1]
    candidates = cue_candidates(cues, text, c_start, c_end)
    return resolve_cues(cues, text, candidates, lambda: (token_starts, sent))


SCOPED = frozenset({"forward", "backward", "both"})


def resolve_cues(
    cues: CueSet,
    text: str,
    candidates: list[tuple[int, int, int]],
    tokens: Callable[[], tuple[Sequence[int], tuple[int, int]]],
) -> list[Cue]:
    """The sentence's cues from its candidates: overlaps resolved, scopes computed.

    `tokens` gives the token starts and the sentence's token range; it is called only when
    a cue with a scope remains. Terminators alone bound nothing and need no token
    positions (their `tok_start`/`tok_end` are then 0): most sentences with a cue hold
    only a ";", a "but" or an "and was", and are never tokenised.
    """
    # Overlap resolution: longest first, then earliest, then lexicon order (see module doc).
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0], c[2]))
    taken: list[tuple[int, int, int]] = []
    for cand in candidates:
        if all(cand[1] <= t[0] or cand[0] >= t[1] for t in taken):
            taken.append(cand)
    taken.sort()
    specs = cues.specs
    kept = [c for c in taken if specs[c[2]].direction != "pseudo"]
    if not any(specs[index].direction in SCOPED for _, _, index in kept):
        return [
            Cue(i, specs[i].category, specs[i].direction, s, e, 0, 0, text=text[s:e])
            for s, e, i in kept
        ]
    token_starts, sent = tokens()
    s_tok, e_tok = sent
    resolved: list[Cue] = []
    for start, end, index in kept:
        spec = specs[index]
        tok_s = bisect.bisect_right(token_starts, start) - 1
        tok_e = bisect.bisect_left(token_starts, end)
        tok_s = max(tok_s, s_tok)
        tok_e = max(min(tok_e, e_tok), tok_s + 1)
        resolved.append(
            Cue(
                index, spec.category, spec.direction, start, end, tok_s, tok_e, text=text[start:end]
            )
        )
    return [_with_scope(cue, resolved, specs, sent) for cue in resolved]


def _stops(cue: Cue, other: Cue, specs: Sequence[CueSpec]) -> bool:
    if other is cue:
        return False
    if other.direction == "terminate":
        return True
    return other.category in specs[cue.spec_index].terminated_by


def _with_scope(
    cue: Cue, all_cues: Sequence[Cue], specs: Sequence[CueSpec], sent: tuple[int, int]
) -> Cue:
    s_tok, e_tok = sent
    spec = specs[cue.spec_index]
    if cue.direction == "terminate":
        return cue
    lo, hi = cue.tok_start, cue.tok_end
    if cue.direction in ("forward", "both"):
        hi = e_tok if spec.max_scope is None else min(e_tok, cue.tok_end + spec.max_scope)
        for other in all_cues:
            if cue.tok_end <= other.tok_start < hi and _stops(cue, other, specs):
                hi = other.tok_start
                break
    if cue.direction in ("backward", "both"):
        lo = s_tok if spec.max_scope is None else max(s_tok, cue.tok_start - spec.max_scope)
        for other in all_cues:
            if lo < other.tok_end <= cue.tok_start and _stops(cue, other, specs):
                lo = other.tok_end
    return Cue(
        cue.spec_index,
        cue.category,
        cue.direction,
        cue.start,
        cue.end,
        cue.tok_start,
        cue.tok_end,
        lo,
        hi,
        cue.text,
    )


def modifiers(
    cues: Sequence[Cue],
    specs: Sequence[CueSpec],
    event_token: int,
    own_spans: Sequence[tuple[int, int]],
    label: str,
) -> list[Cue]:
    """The cues that modify a mention whose event word is at `event_token`.

    `own_spans` are the character spans of the mention's target words: a cue overlapping
    them is part of the target ("did not want to talk"), not a modifier of it. A cue may
    contain the event word itself ("to offer", "declined"): that is what it modifies.
    """
    out = []
    for cue in cues:
        if cue.direction == "terminate":
            continue
        if not (cue.scope_start <= event_token < cue.scope_end):
            continue
        if any(cue.start < e and s < cue.end for s, e in own_spans):
            continue
        allowed = specs[cue.spec_index].targets
        if allowed is not None and label not in allowed:
            continue
        out.append(cue)
    return out


def cue_categories(items: Sequence[Any]) -> set[str]:
    cats = set()
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("category"), str):
            cats.add(item["category"])
    return cats
