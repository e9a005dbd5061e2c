"""What applying a rule to a record produces: outcome, evidence, reason (and the cues)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["met", "partial", "not_met", "not_applicable"]
OUTCOMES: tuple[Outcome, ...] = ("met", "partial", "not_met", "not_applicable")
POINTS: dict[str, float] = {"met": 1.0, "partial": 0.5, "not_met": 0.0}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Frozen):
    """The smallest span of a note that proves an outcome, with the sentence around it.

    `start`/`end` are character offsets into the note's text; `sentence_start` is where
    `sentence` begins in the same text, so a report can highlight the span in context.
    """

    note_id: str
    start: int
    end: int
    text: str
    note_date: dt.date | None = None
    sentence: str | None = None
    sentence_start: int | None = None


class CueHit(_Frozen):
    """A context cue (negation, plan, template, other person…) that modified a mention."""

    category: str
    text: str
    note_id: str
    start: int
    end: int


class RuleResult(_Frozen):
    rule_id: str
    outcome: Outcome
    reason: str
    evidence: tuple[Evidence, ...] = ()
    cues: tuple[CueHit, ...] = ()


class RecordResult(_Frozen):
    record_id: str
    source: str
    worker: str | None
    team: str | None
    case_type: str
    score: float | None
    grade: str | None
    results: tuple[RuleResult, ...]

    def result(self, rule_id: str) -> RuleResult | None:
        return next((r for r in self.results if r.rule_id == rule_id), None)
