"""`text_evidence`: evidence in the case notes (placeholder until the evidence engine lands)."""

from __future__ import annotations

from typing import Literal

from recaudit.kinds.base import EvalContext
from recaudit.records import Record
from recaudit.results import RuleResult
from recaudit.rulepack.schema import RuleBase


class TextEvidenceRule(RuleBase):
    kind: Literal["text_evidence"]

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:
        raise NotImplementedError("text_evidence is being built in recaudit.evidence")
