"""`field_in`: a structured field holds a code from a code list (after normalising aliases).

Exports are messy: `"a) WBRI"` (Ofsted Annex A's letter prefix), `"White British"` (the
label), `" wbri "`. The value is trimmed and case-folded, an optional `strip` pattern
(RE2) is removed, and the result is looked up among the list's codes, labels and aliases.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from recaudit.fieldpath import resolve
from recaudit.kinds.base import EvalContext, absent, result
from recaudit.records import Record
from recaudit.results import RuleResult
from recaudit.rulepack.codes import CodeIndex, build_index, check_items
from recaudit.rulepack.regex import check_pattern, compile_pattern
from recaudit.rulepack.schema import RuleBase


class FieldInRule(RuleBase):
    """Met when `field` normalises to a code of the `codes` list (a code list or lexicon).

    `aliases` maps further spellings to codes; `strip` is a pattern removed from the value
    first (e.g. `'^[a-z]\\)\\s*'` for "a) WBRI"); codes in `exclude` are valid codes that do
    not count as an answer here (e.g. NOBT, "information not yet obtained").
    """

    kind: Literal["field_in"]
    field: str
    codes: str = Field(description="name of a code list or lexicon in the pack")
    aliases: dict[str, str] = Field(default_factory=dict)
    strip: str | None = None
    exclude: list[str] = Field(default_factory=list)

    @field_validator("strip")
    @classmethod
    def _linear_time_pattern(cls, value: str | None) -> str | None:
        return None if value is None else check_pattern(value)

    def lexicons_used(self) -> set[str]:
        return {self.codes}

    def check(self, lexicons: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        if self.codes not in lexicons:
            return [(("codes",), f"unknown code list or lexicon {self.codes!r}")]
        items = lexicons[self.codes]
        problems = [(("codes",), f"code list {self.codes!r}: {p}") for p in check_items(items)]
        if problems:
            return problems
        index = build_index(items)
        for alias, code in self.aliases.items():
            if index.lookup(code) is None:
                problems.append((("aliases", alias), f"alias target {code!r} is not a code"))
        for position, code in enumerate(self.exclude):
            if index.lookup(code) is None:
                problems.append((("exclude", position), f"{code!r} is not a code"))
        return problems

    def _index(self, ctx: EvalContext) -> CodeIndex:
        key = ("field_in", self.codes, tuple(sorted(self.aliases.items())))
        return ctx.compiled(key, lambda: build_index(ctx.lexicon(self.codes), self.aliases))

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:
        value = resolve(record, self.field)
        if (missing := absent(self.id, self.field, value)) is not None:
            return missing
        shown = json.dumps(value, ensure_ascii=False, default=str)
        if not isinstance(value, str):
            return result(self.id, "not_met", f"{self.field} = {shown} is not text")
        cleaned = value
        if self.strip:
            cleaned = compile_pattern(self.strip).sub("", cleaned)
        index = self._index(ctx)
        code = index.lookup(cleaned)
        if code is None:
            return result(
                self.id,
                "not_met",
                f"{self.field} = {shown} is not a code in {self.codes} (nor a known alias)",
            )
        label = index.labels.get(code)
        named = f"{code} ({label})" if label else code
        if code in self.exclude or index.lookup(code) in {index.lookup(c) for c in self.exclude}:
            return result(
                self.id, "not_met", f"{self.field} = {shown} is {named}, which is not an answer"
            )
        via = "" if value.strip() == code else f" → {named}"
        return result(self.id, "met", f"{self.field} = {shown}{via} is in {self.codes}")
