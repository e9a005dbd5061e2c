"""`text_evidence`: evidence in the case notes, judged in context (ConText-style cues).

A rule lists evidence tiers. Each tier names the outcome it proves (`met` or `partial`),
the lexicons of target phrases it looks for, optional co-occurring terms that must appear
within `window` tokens in the same sentence (e.g. an offer verb next to "advocacy"), which
cue categories disqualify a mention, and whose experience it must be (`experiencer`).
Everything linguistic lives in the pack's lexicons; this module only wires them up.

    tiers:
      - outcome: met
        label: active offer of advocacy recorded
        targets: [advocacy_terms]
        requires: [advocacy_offer_actions]
        window: 12
        disqualified_by: [negated, planned, hypothetical, template, question]
        experiencer: recipient

The outcome is the best tier with an accepted finding (met before partial), else
`not_met`. spaCy is imported only when a rule first evaluates a note with a target in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

from pydantic import Field, ValidationError

from recaudit.kinds.base import EvalContext, NoteScope, result
from recaudit.records import Record
from recaudit.results import CueHit, Evidence, RuleResult
from recaudit.rulepack.schema import Condition, RuleBase, Strict

Experiencer = Literal["any", "recipient", "subject", "involves_child"]

DEFAULT_PEOPLE: dict[str, str] = {
    "child": "child_references",
    "female": "people_female",
    "male": "people_male",
    "neutral": "people_neutral",
    "professional": "professionals",
    "reporting_verbs": "reporting_verbs",
}
MAX_EVIDENCE = 5


class OnlyIf(Strict):
    """A tier counts only for some records: any condition holds or any note mentions a term."""

    conditions: list[Condition] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)


class Tier(Strict):
    outcome: Literal["met", "partial"]
    label: str
    targets: list[str] = Field(min_length=1)
    requires: list[str] = Field(default_factory=list)
    window: int = Field(default=12, ge=1, le=60)
    disqualified_by: list[str] = Field(default_factory=list)
    experiencer: Experiencer = "any"
    vetoed_by: list[str] = Field(default_factory=list)
    only_if: OnlyIf | None = None


class PeopleNames(Strict):
    child: str = DEFAULT_PEOPLE["child"]
    female: str = DEFAULT_PEOPLE["female"]
    male: str = DEFAULT_PEOPLE["male"]
    neutral: str = DEFAULT_PEOPLE["neutral"]
    professional: str = DEFAULT_PEOPLE["professional"]
    reporting_verbs: str = DEFAULT_PEOPLE["reporting_verbs"]


class TextEvidenceRule(NoteScope, RuleBase):
    """`note_types` / `note_window` (from NoteScope) limit which notes are read."""

    kind: Literal["text_evidence"]
    cues: list[str] = Field(default_factory=list, description="lexicons of cue rules")
    people: PeopleNames = Field(default_factory=PeopleNames)
    decoys: list[str] = Field(
        default_factory=list,
        description="lexicons of look-alike phrases that swallow an overlapping target",
    )
    tiers: list[Tier] = Field(min_length=1)
    missing: str = Field(default="", description="what 'no evidence' means, for reasons")

    # -- validation ---------------------------------------------------------------------
    def lexicons_used(self) -> set[str]:
        used = set(self.cues) | set(self.decoys) | set(self.people.model_dump().values())
        for tier in self.tiers:
            used |= set(tier.targets) | set(tier.requires) | set(tier.vetoed_by)
            if tier.only_if:
                used |= set(tier.only_if.mentions)
        return used

    def check(self, lexicons: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        from recaudit.evidence.context import CueSpec
        from recaudit.evidence.matching import term_from_item

        problems = super().check(lexicons)
        categories: set[str] = {"other_person"}
        for name in self.cues:
            for i, item in enumerate(lexicons.get(name, ())):
                try:
                    categories.add(CueSpec.model_validate(item).category)
                except ValidationError as exc:
                    msg = "; ".join(
                        f"{'.'.join(map(str, e['loc'])) or 'cue'}: "
                        + e["msg"].removeprefix("Value error, ")
                        for e in exc.errors(include_url=False)
                    )
                    problems.append((("cues",), f"lexicon {name!r} item {i}: {msg}"))
        term_lexicons = self.lexicons_used() - set(self.cues)
        for name in sorted(term_lexicons):
            for i, item in enumerate(lexicons.get(name, ())):
                try:
                    term_from_item(item)
                except ValueError as exc:
                    problems.append((("tiers",), f"lexicon {name!r} item {i}: {exc}"))
        for t, tier in enumerate(self.tiers):
            for category in tier.disqualified_by:
                if category not in categories:
                    problems.append(
                        (
                            ("tiers", t, "disqualified_by"),
                            f"no cue of category {category!r} in lexicons {self.cues}",
                        )
                    )
        return problems

    # -- evaluation ---------------------------------------------------------------------
    def _compiled(self, ctx: EvalContext) -> _CompiledRule:
        return ctx.compiled(("text_evidence", self.id), lambda: _CompiledRule.build(self, ctx))

    def findings(self, record: Record, ctx: EvalContext, *, decisive: bool = False) -> list[Any]:
        """Every candidate finding (accepted or not) in the record's notes, in note order.

        With `decisive`, stop short once the outcome is settled: when a `met` tier has an
        accepted finding, the `partial` tiers cannot change what `decide` returns (it
        reads only accepted `met` findings then), so they are not evaluated.
        """
        from recaudit.evidence.engine import evaluate_tier, target_hits, tier_enabled

        compiled = self._compiled(ctx)
        analyser = compiled.analyser(ctx)
        tiers = [t for t in compiled.tiers if tier_enabled(t, record)]
        notes = list(self.notes_in_scope(record))
        main_child: str | None = None
        looked = False
        candidates = []
        for note in notes:
            if not note.text or not compiled.trigger.matches_in(note.text):
                continue
            if not looked:  # only records with a candidate note pay for this
                main_child = analyser.main_child(tuple(n.text for n in record.notes))
                looked = True
            an = analyser.analyse(note.text, main_child)
            candidates.append((note, an, target_hits(compiled.all_targets, note.text)))

        def run(tier: Any, item: tuple[Any, Any, Any]) -> list[Any]:
            note, an, hits = item
            return evaluate_tier(tier, note, an, compiled.cue_set, analyser.people, hits)

        done: dict[tuple[int, int], list[Any]] = {}
        if decisive:
            for t, tier in enumerate(tiers):
                if tier.outcome != "met":
                    continue
                for c, item in enumerate(candidates):
                    done[(c, t)] = run(tier, item)
            if any(f.accepted for found in done.values() for f in found):
                return [f for key in sorted(done) for f in done[key]]
        out = []
        for c, item in enumerate(candidates):
            for t, tier in enumerate(tiers):
                found = done.get((c, t))
                out.extend(found if found is not None else run(tier, item))
        return out

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:
        findings = self.findings(record, ctx, decisive=True)
        return decide(self, record, findings)


@dataclass
class _CompiledRule:
    tiers: tuple[Any, ...]
    trigger: Any
    all_targets: tuple[tuple[str, Any], ...]
    cue_set: Any
    people_key: tuple[str, ...]

    @classmethod
    def build(cls, rule: TextEvidenceRule, ctx: EvalContext) -> _CompiledRule:
        from recaudit.evidence.context import CueSet
        from recaudit.evidence.engine import compile_tier
        from recaudit.evidence.matching import term_from_item, union

        lex = ctx.lexicons
        scanner = pack_scanner(ctx)
        tiers = tuple(compile_tier(i, t, lex, scanner) for i, t in enumerate(rule.tiers))
        names = sorted({n for t in rule.tiers for n in t.targets})
        trigger = union((term_from_item(i) for n in names for i in lex[n]), scanner)
        # Decoys take part in the target overlap resolution under their own labels, which
        # no tier accepts, so "active offer of Welsh" hides "active offer".
        all_targets = tuple(
            (n, union((term_from_item(i) for i in lex[n]), scanner))
            for n in [*names, *(d for d in rule.decoys if d not in names)]
        )
        cue_key = ("cue_set", tuple(rule.cues))
        cue_set = ctx.compiled(
            cue_key, lambda: CueSet.build([i for n in rule.cues for i in lex[n]], scanner)
        )
        people_key = tuple(rule.people.model_dump().values())
        return cls(tiers, trigger, all_targets, cue_set, people_key)

    def analyser(self, ctx: EvalContext) -> Any:
        from recaudit.evidence.attribution import People, people_from
        from recaudit.evidence.engine import Analyser

        keys = ("child", "female", "male", "neutral", "professional", "reporting_verbs")
        names = dict(zip(keys, self.people_key, strict=True))
        return ctx.compiled(
            ("analyser", self.people_key),
            lambda: Analyser(People(people_from(ctx.lexicons, names), pack_scanner(ctx))),
        )


def pack_scanner(ctx: EvalContext) -> Any:
    """The pack's one `Scanner`: every text rule's phrases are found in one pass per note."""
    from recaudit.evidence.scanner import Scanner

    return ctx.compiled(("scanner",), Scanner)


def _evidence(f: Any) -> Evidence:
    return Evidence(
        note_id=f.note_id,
        start=f.start,
        end=f.end,
        text=f.text,
        note_date=f.note_date,
        sentence=f.sentence,
        sentence_start=f.sentence_start,
    )


def _cue_hits(findings: Iterable[Any], limit: int | None = None) -> tuple[CueHit, ...]:
    """The cues behind the findings, each once, in finding order and then by position;
    at most `limit` (deduplicated before the models are made: a not-met record may have
    hundreds)."""
    from recaudit.evidence.engine import by_position

    keys: dict[tuple[str, str, str, int, int], None] = {}
    for f in findings:
        for c, t, s, e in by_position({*f.cues, *f.inside_cues}):
            keys[(c, t, f.note_id, s, e)] = None
    return tuple(
        CueHit(category=c, text=t, note_id=n, start=s, end=e)
        for c, t, n, s, e in islice(keys, limit)
    )


def _quote(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decide(rule: TextEvidenceRule, record: Record, findings: list[Any]) -> RuleResult:
    """Outcome from findings: met, else partial, else not_met — with a reason naming why."""
    for outcome in ("met", "partial"):
        accepted = [f for f in findings if f.accepted and f.tier.outcome == outcome]
        if not accepted:
            continue
        accepted.sort(key=lambda f: (f.tier.index, f.note_id, f.start))
        chosen = []
        for f in accepted:
            # A span inside evidence already chosen ("wants" in "told me she wants…")
            # adds nothing.
            if not any(
                c.note_id == f.note_id and c.start <= f.start and f.end <= c.end for c in chosen
            ):
                chosen.append(f)
        chosen = chosen[:MAX_EVIDENCE]
        lead = chosen[0]
        extra = ""
        non_blocking = [c for c in lead.cues if c[0] not in lead.tier.disqualified_by]
        if non_blocking:
            extra = (
                " ("
                + ", ".join(f"{c} cue '{t}' does not disqualify" for c, t, _, _ in non_blocking[:2])
                + ")"
            )
        more = f"; +{len(chosen) - 1} more" if len(chosen) > 1 else ""
        reason = f"{lead.tier.label} in {lead.note_id}: '{_quote(lead.text)}'{extra}{more}"
        cues = _cue_hits(chosen)
        return result(
            rule.id, outcome, reason, evidence=tuple(_evidence(f) for f in chosen), cues=cues
        )
    near = [f for f in findings if not f.accepted]
    if near:
        shown = []
        for f in near[:3]:
            shown.append(f"{f.note_id} '{_quote(f.text, 60)}' {f.rejected_by[0]}")
        more = f"; +{len(near) - 3} more" if len(near) > 3 else ""
        reason = "no evidence: " + "; ".join(shown) + more
        cues = _cue_hits(near, 20)
        return result(rule.id, "not_met", reason, cues=cues)
    checked = ", ".join(n.note_id for n in rule.notes_in_scope(record)) or "none"
    scope = "" if rule.scope_description() == "all notes" else f"; {rule.scope_description()}"
    missing = rule.missing or f"no note records {rule.title.lower()}"
    return result(rule.id, "not_met", f"no evidence: {missing} (checked notes: {checked}{scope})")
