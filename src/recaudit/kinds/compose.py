"""`all_of` / `any_of`: a rule made of other rules of the pack, referenced by id.

The combined rules keep their own results (and their own weight) in the audit; the
composite adds one more result. Sub-results that are `not_applicable` are left out; if
all are, so is the composite.

- all_of: not_met if any applicable part is not_met, else partial if any is partial,
  else met.
- any_of: met if any part is met, else partial if any is partial, else not_met.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recaudit.kinds.base import EvalContext, result
from recaudit.records import Record
from recaudit.results import RuleResult
from recaudit.rulepack.schema import RuleBase


class _Composite(RuleBase):
    rules: list[str] = Field(min_length=1)

    def rules_used(self) -> list[str]:
        return list(self.rules)

    def _parts(self, record: Record, ctx: EvalContext) -> list[RuleResult]:
        # Import here: the engine imports the kinds registry.
        from recaudit.engine import evaluate_rule

        return [evaluate_rule(ctx.rules[rule_id], record, ctx) for rule_id in self.rules]

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:
        parts = self._parts(record, ctx)
        summary = ", ".join(f"{p.rule_id} {p.outcome}" for p in parts)
        applicable = [p for p in parts if p.outcome != "not_applicable"]
        if not applicable:
            return result(self.id, "not_applicable", f"no part applies ({summary})")
        return self.combine(applicable, summary)

    def combine(self, applicable: list[RuleResult], summary: str) -> RuleResult:  # pragma: no cover
        raise NotImplementedError


class AllOfRule(_Composite):
    kind: Literal["all_of"]

    def combine(self, applicable: list[RuleResult], summary: str) -> RuleResult:
        outcomes = {p.outcome for p in applicable}
        evidence = tuple(e for p in applicable if p.outcome != "not_met" for e in p.evidence)
        if "not_met" in outcomes:
            return result(self.id, "not_met", f"not all parts met ({summary})")
        if "partial" in outcomes:
            return result(self.id, "partial", f"some parts partial ({summary})", evidence=evidence)
        return result(self.id, "met", f"all parts met ({summary})", evidence=evidence)


class AnyOfRule(_Composite):
    kind: Literal["any_of"]

    def combine(self, applicable: list[RuleResult], summary: str) -> RuleResult:
        met = [p for p in applicable if p.outcome == "met"]
        if met:
            evidence = tuple(e for p in met for e in p.evidence)
            return result(self.id, "met", f"{met[0].rule_id} met ({summary})", evidence=evidence)
        partial = [p for p in applicable if p.outcome == "partial"]
        if partial:
            evidence = tuple(e for p in partial for e in p.evidence)
            return result(self.id, "partial", f"none met ({summary})", evidence=evidence)
        return result(self.id, "not_met", f"none met ({summary})")
