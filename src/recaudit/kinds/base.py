"""What a rule kind gets to work with while evaluating, and small result helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recaudit.results import Outcome, RuleResult


@dataclass
class EvalContext:
    """Per-pack state shared by all rules: lexicons and anything compiled once per pack."""

    lexicons: Mapping[str, tuple[str, ...]]
    _compiled: dict[Any, Any] = field(default_factory=dict)

    def lexicon(self, name: str) -> tuple[str, ...]:
        return self.lexicons[name]

    def compiled(self, key: Any, build: Callable[[], Any]) -> Any:
        """Build (once) and cache something expensive, e.g. a rule's matchers."""
        if key not in self._compiled:
            self._compiled[key] = build()
        return self._compiled[key]


def result(rule_id: str, outcome: Outcome, reason: str, **extra: Any) -> RuleResult:
    return RuleResult(rule_id=rule_id, outcome=outcome, reason=reason, **extra)
