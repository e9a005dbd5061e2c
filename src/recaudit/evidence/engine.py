"""Apply evidence tiers to a record's notes: findings, the cues behind them, near misses.

Speed: a rule first runs one compiled `re` union of all its target terms over each note;
only notes with a hit are segmented by spaCy, and only sentences holding a target get cue
detection. Segmentations and mentions are cached per note text (the three text rules of a
pack look at the same notes), bounded so memory stays flat.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from recaudit.evidence.attribution import (
    Mention,
    NoteMentions,
    People,
    clause_people,
    embedding_speaker,
    quote_spans,
    subject_of,
)
from recaudit.evidence.context import SCOPED, Cue, CueSet, cue_candidates, modifiers, resolve_cues
from recaudit.evidence.matching import TermPattern, term_from_item, union
from recaudit.evidence.pipeline import sentence_spans, tokenize
from recaudit.evidence.scanner import Scanner

CACHE_SIZE = 512


@dataclass
class NoteAnalysis:
    """One note, analysed lazily: sentence spans (a regex pass) up front; person mentions
    only as far into the note as a rule asks (see `NoteMentions`); tokens and cues only for
    the sentences a rule asks about.

    Token indices are local to their sentence (cue scopes and co-term windows never cross a
    sentence end), so only sentences holding a target are ever tokenised: a 5 MB note costs
    what its candidate sentences cost, and spaCy's `max_length` never applies to it.
    """

    text: str
    quotes: list[tuple[int, int]]
    people: NoteMentions
    sent_char: list[tuple[int, int]]
    _sent_starts: list[int] = field(default_factory=list)
    _quote_starts: list[int] = field(default_factory=list)
    _tokens: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    _cues: dict[tuple[int, int], list[Cue]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sent_starts = [s for s, _ in self.sent_char]
        self._quote_starts = [q[0] for q in self.quotes]

    def sentence_at(self, pos: int) -> int:
        # (A conditional, not `max(0, …)`: a builtin call costs more than the bisect.)
        i = bisect.bisect_right(self._sent_starts, pos) - 1
        return i if i > 0 else 0

    def in_quote(self, pos: int) -> bool:
        i = bisect.bisect_right(self._quote_starts, pos) - 1
        return i >= 0 and self.quotes[i][0] <= pos < self.quotes[i][1]

    def mentions_in(self, start: int, end: int) -> list[Mention]:
        """Mentions starting in [start, end), in order."""
        return self.people.within(start, end)

    def tokens(self, sent_index: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(starts, ends) of the sentence's tokens, in note characters."""
        found = self._tokens.get(sent_index)
        if found is None:
            s_start, s_end = self.sent_char[sent_index]
            found = tokenize(self.text, s_start, s_end)
            self._tokens[sent_index] = found
        return found

    def token_at(self, pos: int, sent_index: int | None = None) -> int:
        """Index (within its sentence) of the token holding character `pos`."""
        index = self.sentence_at(pos) if sent_index is None else sent_index
        i = bisect.bisect_right(self.tokens(index)[0], pos) - 1
        return i if i > 0 else 0

    def cues(self, cue_set: CueSet, sent_index: int) -> list[Cue]:
        key = (id(cue_set), sent_index)
        if key not in self._cues:
            # Most sentences hold no cue, and then need no tokens. The sentence span is
            # trimmed, so its first and last tokens start and end where it does.
            s_start, s_end = self.sent_char[sent_index]
            candidates = cue_candidates(cue_set, self.text, s_start, s_end)
            if not candidates:
                self._cues[key] = []
                return []
            self._cues[key] = resolve_cues(
                cue_set, self.text, candidates, lambda: self._token_range(sent_index)
            )
        return self._cues[key]

    def _token_range(self, sent_index: int) -> tuple[tuple[int, ...], tuple[int, int]]:
        starts = self.tokens(sent_index)[0]
        return starts, (0, len(starts))


class Analyser:
    """Per-pack: person finder + a bounded cache of note analyses."""

    def __init__(self, people: People) -> None:
        self.people = people
        self._cache: OrderedDict[tuple[str, str | None], NoteAnalysis] = OrderedDict()
        self._main: dict[tuple[str, ...], str | None] = {}

    def main_child(self, texts: tuple[str, ...]) -> str | None:
        """The record's child among named children: the label used most (first on a tie)."""
        if texts in self._main:
            return self._main[texts]
        if len(self._main) > CACHE_SIZE:
            self._main.clear()
        self._main[texts] = self._count_main(texts)
        return self._main[texts]

    def _count_main(self, texts: tuple[str, ...]) -> str | None:
        counts: dict[str, int] = {}
        for text in texts:
            for label in self.people.child_labels(text):
                counts[label] = counts.get(label, 0) + 1
        return max(counts, key=lambda k: counts[k]) if counts else None

    def analyse(self, text: str, main_child: str | None = None) -> NoteAnalysis:
        key = (text, main_child)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        quotes = quote_spans(text)
        mentions = NoteMentions(self.people, text, quotes, main_child)
        analysis = NoteAnalysis(text, quotes, mentions, sentence_spans(text))
        self._cache[key] = analysis
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return analysis


@dataclass(frozen=True)
class CompiledTier:
    index: int
    outcome: str
    label: str
    targets: tuple[tuple[str, TermPattern], ...]  # (lexicon name, pattern)
    requires: TermPattern | None
    window: int
    disqualified_by: frozenset[str]
    disqualified_order: tuple[str, ...]  # as the tier lists them: the order of reasons
    experiencer: str
    vetoed_by: TermPattern | None
    only_if_mentions: TermPattern | None
    only_if_conditions: tuple[Any, ...]

    @cached_property
    def labels(self) -> frozenset[str]:
        """The lexicon names of its targets."""
        return frozenset(name for name, _ in self.targets)

    @cached_property
    def disqualified_rank(self) -> dict[str, int]:
        return {category: i for i, category in enumerate(self.disqualified_order)}


class Finding(NamedTuple):
    """One candidate piece of evidence and what the engine decided about it (a NamedTuple:
    one is made per target judged, and a frozen dataclass took 3x as long to make)."""

    tier: CompiledTier
    note_id: str
    note_date: Any
    start: int
    end: int
    text: str
    sentence: str
    sentence_start: int
    cues: tuple[tuple[str, str, int, int], ...]  # (category, text, start, end) that modified it
    rejected_by: tuple[str, ...]  # human-readable reasons; empty = accepted
    inside_cues: tuple[tuple[str, str, int, int], ...] = ()  # cue words inside the target

    @property
    def accepted(self) -> bool:
        return not self.rejected_by


def compile_tier(
    index: int,
    tier: Any,
    lexicons: Mapping[str, tuple[Any, ...]],
    scanner: Scanner | None = None,
) -> CompiledTier:
    def pattern(names: Sequence[str]) -> TermPattern | None:
        if not names:
            return None
        return union((term_from_item(i) for n in names for i in lexicons[n]), scanner)

    only = tier.only_if
    return CompiledTier(
        index=index,
        outcome=tier.outcome,
        label=tier.label,
        targets=tuple(
            (n, union((term_from_item(i) for i in lexicons[n]), scanner)) for n in tier.targets
        ),
        requires=pattern(tier.requires),
        window=tier.window,
        disqualified_by=frozenset(tier.disqualified_by),
        disqualified_order=tuple(tier.disqualified_by),
        experiencer=tier.experiencer,
        vetoed_by=pattern(tier.vetoed_by),
        only_if_mentions=pattern(only.mentions) if only else None,
        only_if_conditions=tuple(only.conditions) if only else (),
    )


def tier_enabled(tier: CompiledTier, record: Any) -> bool:
    if tier.only_if_mentions is None and not tier.only_if_conditions:
        return True
    if any(c.holds(record) for c in tier.only_if_conditions):
        return True
    return tier.only_if_mentions is not None and any(
        tier.only_if_mentions.matches_in(n.text) for n in record.notes
    )


def _overlaps_hit(
    start: int, end: int, hits: Sequence[tuple[int, int, str]], starts: Sequence[int]
) -> bool:
    """Does [start, end) overlap any hit? Resolved hits are sorted and disjoint (or
    identical), so their ends rise with their starts: only the last hit starting before
    `end` can reach past `start`."""
    i = bisect.bisect_left(starts, end) - 1
    return i >= 0 and hits[i][1] > start


def _resolve_overlaps(hits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    # Longest target wins an overlap, then the earliest ("did not want to talk" beats "want").
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    # Kept spans sorted by start; they are disjoint (or identical), so a new span can only
    # collide with its neighbours (bisect, not a scan: a long note has 100k hits).
    kept: list[tuple[int, int]] = []
    out: list[tuple[int, int, str]] = []
    for h in hits:
        span = (h[0], h[1])
        i = bisect.bisect_right(kept, span)
        # The same words in two lexicons ("signed": speech and observed behaviour) are a
        # hit for each: every tier that looks for them sees them.
        before = kept[i - 1] if i else None
        if before is not None and before != span and before[1] > h[0]:
            continue
        after = kept[i] if i < len(kept) else None
        if after is not None and after[0] < h[1]:
            continue
        kept.insert(i, span)
        out.append(h)
    return sorted(out)


def evaluate_tier(
    tier: CompiledTier,
    note: Any,
    an: NoteAnalysis,
    cue_set: CueSet,
    people: People,
    all_target_hits: list[tuple[int, int, str]],
) -> list[Finding]:
    text = an.text
    findings: list[Finding] = []
    labels = tier.labels
    veto = tier.vetoed_by.search(text) if tier.vetoed_by else None
    by_event: dict[tuple[int, int], int] = {}
    hit_starts = [h[0] for h in all_target_hits] if tier.requires is not None else []
    for t_start, t_end, label in all_target_hits:
        if label not in labels:
            continue
        if tier.experiencer == "subject" and an.in_quote(t_start):
            continue  # words inside a quote belong to the quote's speaker, found outside it
        s_index = an.sentence_at(t_start)
        s_start, s_end = an.sent_char[s_index]
        co_terms: list[tuple[int, int] | None] = [None]
        if tier.requires is not None:
            t_tok = an.token_at(t_start, s_index)
            found = []
            for m_start, m_end in tier.requires.spans(text, s_start, s_end):
                # A co-term inside any target phrase ("offer" in "active offer") is not one.
                if _overlaps_hit(m_start, m_end, all_target_hits, hit_starts):
                    continue
                distance = abs(an.token_at(m_start, s_index) - t_tok)
                if distance <= tier.window:
                    found.append((distance, (m_start, m_end)))
            if not found:
                continue
            co_terms = [span for _, span in sorted(found)]
        first: Finding | None = None
        event: tuple[int, int] | None = None
        for co in co_terms:
            finding = _judge(
                tier, note, an, cue_set, people, (t_start, t_end), label, co, s_index, veto
            )
            if finding.accepted or first is None:
                first, event = finding, co
            if finding.accepted:
                break
        if first is None:
            continue
        # Two targets sharing one event ("active offer of advocacy … made") are one mention:
        # merge them into a single finding covering both.
        if event is not None and event in by_event:
            i = by_event[event]
            if findings[i].accepted == first.accepted:
                start, end = min(findings[i].start, first.start), max(findings[i].end, first.end)
                findings[i] = findings[i]._replace(
                    start=start,
                    end=end,
                    text=text[start:end],
                    cues=by_position({*findings[i].cues, *first.cues}),
                )
                continue
        if event is not None:
            by_event[event] = len(findings)
        findings.append(first)
    return findings


def _judge(
    tier: CompiledTier,
    note: Any,
    an: NoteAnalysis,
    cue_set: CueSet,
    people: People,
    target: tuple[int, int],
    label: str,
    co: tuple[int, int] | None,
    s_index: int,
    veto: re.Match[str] | None,
) -> Finding:
    text = an.text
    s_start, s_end = an.sent_char[s_index]
    event = co if co is not None else target
    cues = an.cues(cue_set, s_index)
    # Terminators modify nothing: only a scoped cue needs the event's token.
    mods = (
        modifiers(cues, cue_set.specs, an.token_at(event[0], s_index), [target], label)
        if any(c.direction in SCOPED for c in cues)
        else []
    )
    fired = [(c.category, c.text, c.start, c.end) for c in mods]
    # Cues inside the mention's own words (e.g. "declined" as the offer verb) are recorded
    # as having fired, but as part of the mention they never disqualify it.
    inside = [
        (c.category, c.text, c.start, c.end)
        for c in cues
        if c.direction != "terminate" and c.start < target[1] and target[0] < c.end
    ]
    # Reasons list disqualifying cues in the order the tier names their categories, so
    # the most telling one ("template" before "question") is quoted first.
    order = tier.disqualified_rank
    rejected = [
        f"{c.category} by '{c.text}'"
        for c in sorted(mods, key=lambda c: (order.get(c.category, 99), c.start))
        if c.category in tier.disqualified_by
    ]
    span_start = min(target[0], co[0]) if co else target[0]
    span_end = max(target[1], co[1]) if co else target[1]

    who = _experiencer(tier, an, people, cues, target, event, s_start, s_end)
    if who is not None:
        ok, why, person = who
        if person is not None and tier.experiencer == "subject" and ok and person.start >= s_start:
            span_start = min(span_start, person.start)
        if not ok:
            rejected.append(why)
            if person is not None:
                fired.append(("other_person", person.text, person.start, person.end))
    if veto is not None:
        rejected.append(f"vetoed by '{veto.group(0)}' in the same note")
    if tier.experiencer == "subject" and not rejected:
        # What was said is part of the proof: the quotation after the verb or, for
        # reported speech ("told me she wants to live with Nan"), the rest of the clause.
        quoted = _extend_over_quote(text, span_end, s_end)
        if quoted == span_end:
            span_end = _extend_over_clause(
                text, span_end, _clause(cues, span_end, s_start, s_end)[1]
            )
        else:
            span_end = quoted
    return Finding(
        tier=tier,
        note_id=note.note_id,
        note_date=note.date,
        start=span_start,
        end=span_end,
        text=text[span_start:span_end],
        sentence=text[s_start:s_end],
        sentence_start=s_start,
        cues=by_position(set(fired)),
        rejected_by=tuple(rejected),
        inside_cues=tuple(inside),
    )


def by_position(cues: set[tuple[str, str, int, int]]) -> tuple[tuple[str, str, int, int], ...]:
    """(category, text, start, end) cues by position; ties by the rest, as set order varies
    between runs."""
    return tuple(sorted(cues, key=lambda c: (c[2], c[3], c[0], c[1])))


def _clause(cues: Sequence[Cue], pos: int, s_start: int, s_end: int) -> tuple[int, int]:
    lo, hi = s_start, s_end
    for c in cues:
        if c.direction != "terminate":
            continue
        if c.end <= pos:
            lo = max(lo, c.end)
        elif c.start >= pos:
            hi = min(hi, c.start)
    return lo, hi


def _experiencer(
    tier: CompiledTier,
    an: NoteAnalysis,
    people: People,
    cues: Sequence[Cue],
    target: tuple[int, int],
    event: tuple[int, int],
    s_start: int,
    s_end: int,
) -> tuple[bool, str, Mention | None] | None:
    """(ok, reason when not ok, deciding person) or None when the tier does not care."""
    mode = tier.experiencer
    if mode == "any":
        return None
    if mode == "recipient":
        lo, hi = _clause(cues, event[0], s_start, s_end)
        explicit = _explicit_recipients(an, (target, event), hi)
        if explicit:
            # "Advocacy explained to Mum, who said Child L…": the person the offer was made
            # to decides, whoever else the clause names.
            if any(m.kind in ("child", "unknown") for m in explicit):
                return True, "", None
            return False, f"other person: offered to '{explicit[0].text}'", explicit[0]
        named = [
            m for m in clause_people(an.mentions_in(lo, hi), lo, hi) if m.kind != "professional"
        ]
        if any(m.kind in ("child", "unknown") for m in named):
            return True, "", None
        others = [m for m in named if m.kind == "other"]
        if others:
            return False, f"other person: '{others[0].text}' is not the child", others[0]
        return True, "", None
    first = min(target[0], event[0])
    in_sentence = an.mentions_in(s_start, s_end)
    subject = subject_of(in_sentence, s_start, first, max(target[1], event[1]), an.text)
    speaker, verb = embedding_speaker(people, an.text, in_sentence, s_start, subject, first)
    # A family member's account of the child is theirs ("Mum said he wants…"); a worker
    # relaying what the child said is the child's voice in minutes ("SW confirmed the YP
    # had said that she feels safer").
    # Only the child's speech is relayed so; a worker's summary of the child's wishes
    # ("the key worker says he has not wanted to…") is still the worker's account.
    relayed = (
        speaker is not None
        and speaker.kind == "professional"
        and subject is not None
        and subject.kind == "child"
        and _is_speech(people, an.text, target)
    )
    if speaker is not None and speaker.kind not in ("child", "unknown") and not relayed:
        return False, f"other person: reported by '{speaker.text}' ('{verb}')", speaker
    if mode == "subject":
        if subject is None:
            return False, "not attributed to the child (no speaker found)", None
        if subject.kind == "child" or (subject.kind == "unknown" and subject.pronoun):
            return True, "", subject
        shown = subject.text if not subject.pronoun else f"{subject.text} → {subject.antecedent}"
        return False, f"other person: '{shown}' is not the child", subject
    # involves_child: a worker's attempt, so the subject is a professional or unstated,
    # and the child is named somewhere in the sentence.
    if subject is not None and subject.kind in ("other", "child"):
        return False, f"not a worker's attempt: subject is '{subject.text}'", subject
    named = clause_people(in_sentence, s_start, s_end)
    if any(m.kind == "child" or (m.pronoun and m.kind == "unknown") for m in named):
        return True, "", None
    return False, "the child is not named in the sentence", None


# After an offer word: "to Mum", "with Dad and Child A", or directly "offered Mum …".
_TO_PERSON = re.compile(r"\s+(?:(?:to|with)\s+)?$", re.IGNORECASE)
_AND_PERSON = re.compile(r"\s*(?:,|&|\band\b)\s*$", re.IGNORECASE)


def _explicit_recipients(
    an: NoteAnalysis, spans: Sequence[tuple[int, int]], limit: int
) -> list[Mention]:
    """People named right after the offer words ("explained to Mum", "refer her"),
    coordinated ones included; [] when none is.

    Professionals are skipped: "referred to the IRO" names who acts, not the recipient.
    """
    for _, end in sorted(spans, key=lambda sp: -sp[1]):
        people: list[Mention] = []
        pos = end
        for m in an.mentions_in(pos, limit):
            if m.in_quote:
                continue
            if m.start >= limit:
                break
            gap = _TO_PERSON if not people else _AND_PERSON
            if not gap.fullmatch(an.text, pos, m.start):
                break
            people.append(m)
            pos = m.end
        found = [m for m in people if m.kind != "professional"]
        if found:
            return found
    return []


def _is_speech(people: People, text: str, target: tuple[int, int]) -> bool:
    m = people.reporting.search(text, target[0], target[1])
    return m is not None and m.start() == target[0]


_QUOTE_AFTER = re.compile(r"[\s,:]*(?:(?:to\s+)?(?:me|us|the worker|W\d+)\b)?[\s,:]*[\"“]")


def _extend_over_quote(text: str, end: int, limit: int) -> int:
    """Evidence for speech includes the quotation that follows the verb, if any."""
    m = _QUOTE_AFTER.match(text, end, limit)
    if not m:
        return end
    close = "”" if text[m.end() - 1] == "“" else '"'
    stop = text.find(close, m.end())
    return stop + 1 if 0 <= stop < limit + 1 else end


MAX_REPORTED = 120


def _extend_over_clause(text: str, end: int, clause_end: int) -> int:
    """Extend to the end of the clause (at most MAX_REPORTED characters, at a word end)."""
    limit = min(clause_end, end + MAX_REPORTED)
    if limit <= end:
        return end
    if limit < clause_end:
        cut = text.rfind(" ", end, limit)
        limit = cut if cut > end else limit
    while limit > end and (text[limit - 1].isspace() or text[limit - 1] in ".,;:"):
        limit -= 1
    return limit


def target_hits(
    targets: Sequence[tuple[str, TermPattern]], text: str
) -> list[tuple[int, int, str]]:
    hits = [(s, e, name) for name, p in targets for s, e in p.spans(text) if e > s]
    return _resolve_overlaps(hits)
