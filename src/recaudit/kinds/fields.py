"""`field_recorded`: a structured field holds a real answer, not a placeholder."""

from __future__ import annotations

import json
from typing import Literal

from recaudit.fieldpath import resolve
from recaudit.kinds.base import EvalContext, absent, result
from recaudit.records import Record
from recaudit.results import RuleResult
from recaudit.rulepack.schema import RuleBase


class FieldRecordedRule(RuleBase):
    """Met when `field` holds an answer.

    A list counts as recorded even when empty (`siblings: []` means "no siblings");
    a string counts unless, trimmed and case-folded, it is in the `placeholders` lexicon.
    """

    kind: Literal["field_recorded"]
    field: str
    placeholders: str | None = None  # name of a lexicon of "not recorded" values

    def lexicons_used(self) -> set[str]:
        return {self.placeholders} if self.placeholders else set()

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:
        value = resolve(record, self.field)
        if (missing := absent(self.id, self.field, value)) is not None:
            return missing
        if isinstance(value, list):
            return result(self.id, "met", f"{self.field} lists {len(value)} item(s)")
        shown = json.dumps(value, ensure_ascii=False)
        if isinstance(value, str):
            placeholders = self._placeholders(ctx)
            if value.strip().casefold() in placeholders:
                kind = "blank" if not value.strip() else "a placeholder for 'not recorded'"
                return result(self.id, "not_met", f"{self.field} = {shown} is {kind}")
        return result(self.id, "met", f"{self.field} = {shown} (a recorded answer)")

    def _placeholders(self, ctx: EvalContext) -> frozenset[str]:
        if not self.placeholders:
            return frozenset({""})
        return ctx.compiled(
            ("placeholders", self.placeholders),
            lambda: frozenset(
                {""} | {p.strip().casefold() for p in ctx.lexicon(self.placeholders)}
            ),
        )
