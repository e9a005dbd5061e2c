"""Why a record got its outcomes: evidence, the cues that fired, and near misses.

For `text_evidence` rules the engine reports every candidate mention it judged; those it
rejected are the near misses ("advocacy was not discussed" — negated by "not"), which is
what an auditor needs in order to trust, or challenge, a `not_met`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recaudit.results import CueHit, Evidence


@dataclass(frozen=True)
class NearMiss:
    note_id: str
    start: int
    end: int
    text: str
    sentence: str
    sentence_start: int
    tier: str  # what it would have shown, e.g. "active offer of advocacy recorded"
    why_not: tuple[str, ...]
    cues: tuple[CueHit, ...] = ()


@dataclass(frozen=True)
class RuleExplanation:
    rule_id: str
    title: str
    outcome: str
    reason: str
    evidence: tuple[Evidence, ...]
    cues: tuple[CueHit, ...]
    near_misses: tuple[NearMiss, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RecordExplanation:
    record_id: str
    case_type: str
    notes: dict[str, str]  # note_id → text, for display
    rules: tuple[RuleExplanation, ...]


class RecordNotFound(LookupError):
    pass


def find_record(inputs: Iterable[Path], record_id: str) -> Any:
    """The first record with `record_id` in the inputs (streamed; stops when found)."""
    from recaudit.records import SourcedRecord, read_records

    for path in inputs:
        for item in read_records(path):
            if isinstance(item, SourcedRecord) and item.record.record_id == record_id:
                return item.record
    raise RecordNotFound(record_id)


def explain_record(record: Any, pack: Any, rule_id: str | None = None) -> RecordExplanation:
    """Outcomes of `record` under `pack` (optionally one rule), with near misses."""
    from recaudit.engine import context_for, evaluate_rule

    ctx = context_for(pack)
    rules = [r for r in pack.rules if rule_id is None or r.id == rule_id]
    if rule_id is not None and not rules:
        known = ", ".join(r.id for r in pack.rules)
        raise KeyError(f"no rule {rule_id!r} in pack {pack.name} (rules: {known})")
    explained = []
    for rule in rules:
        res = evaluate_rule(rule, record, ctx)
        near: list[NearMiss] = []
        if res.outcome != "not_applicable" and hasattr(rule, "findings"):
            near = near_misses(rule.findings(record, ctx))
        explained.append(
            RuleExplanation(
                rule.id, rule.title, res.outcome, res.reason, res.evidence, res.cues, tuple(near)
            )
        )
    notes = {n.note_id: n.text for n in record.notes}
    return RecordExplanation(record.record_id, record.case_type, notes, tuple(explained))


def near_misses(findings: Iterable[Any]) -> list[NearMiss]:
    out = []
    seen = set()
    for f in findings:
        if f.accepted:
            continue
        key = (f.note_id, f.start, f.end)
        if key in seen:
            continue
        seen.add(key)
        cues = tuple(
            CueHit(category=c, text=t, note_id=f.note_id, start=s, end=e) for c, t, s, e in f.cues
        )
        out.append(
            NearMiss(
                f.note_id,
                f.start,
                f.end,
                f.text,
                f.sentence,
                f.sentence_start,
                f.tier.label,
                f.rejected_by,
                cues,
            )
        )
    return out
