"""What a rule kind gets to work with while evaluating, and small result helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recaudit.results import Outcome, RuleResult

# Re-exported for kinds that read notes: `class MyRule(NoteScope, RuleBase)` gains
# `note_types` / `window` parameters and `self.notes_in_scope(record)`.
from recaudit.rulepack.schema import NoteScope, NoteWindow

if TYPE_CHECKING:
    from recaudit.records import Record

__all__ = ["EvalContext", "NoteScope", "NoteWindow", "result"]


@dataclass
class EvalContext:
    """Per-pack state shared by all rules: lexicons and anything compiled once per pack."""

    lexicons: Mapping[str, tuple[Any, ...]]
    # Every rule of the pack by id, so composite kinds (all_of / any_of) can reach them.
    rules: Mapping[str, Any] = field(default_factory=dict)
    _compiled: dict[Any, Any] = field(default_factory=dict)
    # Results for the record being evaluated, so a rule used by a composite runs once.
    # The record itself is held (not its id()) so a freed record's address cannot alias.
    _memo_record: Any = None
    _memo: dict[str, RuleResult] = field(default_factory=dict)

    def lexicon(self, name: str) -> tuple[Any, ...]:
        return self.lexicons[name]

    def compiled(self, key: Any, build: Callable[[], Any]) -> Any:
        """Build (once) and cache something expensive, e.g. a rule's matchers."""
        if key not in self._compiled:
            self._compiled[key] = build()
        return self._compiled[key]

    def remembered(self, record: Record, rule_id: str) -> RuleResult | None:
        if self._memo_record is not record:
            return None
        return self._memo.get(rule_id)

    def remember(self, record: Record, outcome: RuleResult) -> RuleResult:
        if self._memo_record is not record:
            self._memo_record = record
            self._memo = {}
        self._memo[outcome.rule_id] = outcome
        return outcome


def result(rule_id: str, outcome: Outcome, reason: str, **extra: Any) -> RuleResult:
    return RuleResult(rule_id=rule_id, outcome=outcome, reason=reason, **extra)


def absent(rule_id: str, field: str, value: Any) -> RuleResult | None:
    """`not_met` when a field is missing or null (shared by the field kinds), else None."""
    from recaudit.fieldpath import MISSING

    if value is MISSING:
        return result(rule_id, "not_met", f"{field} is missing")
    if value is None:
        return result(rule_id, "not_met", f"{field} is null")
    return None
