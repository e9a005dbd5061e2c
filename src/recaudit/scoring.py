"""Scores, grades and the tallies behind every per-worker, per-team and per-rule figure.

Spec (core-checks.md, "Scoring"): score = sum(weight × points) / sum(weight of applicable
rules); met = 1, partial = 0.5, not_met = 0; not_applicable is left out. Groups are
scored the same way over all their records' results (pooled, not an average of scores).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from recaudit.results import OUTCOMES, POINTS, RuleResult


@dataclass(frozen=True, slots=True)
class GradeBand:
    grade: str
    min_score: float


def score(results: Iterable[RuleResult], weights: Mapping[str, float]) -> float | None:
    points = total = 0.0
    for result in results:
        if result.outcome == "not_applicable":
            continue
        weight = weights[result.rule_id]
        points += weight * POINTS[result.outcome]
        total += weight
    return round(points / total, 6) if total else None


def grade(value: float | None, bands: Sequence[GradeBand]) -> str | None:
    """The first band (highest threshold first) whose minimum the score reaches."""
    if value is None:
        return None
    for band in sorted(bands, key=lambda b: -b.min_score):
        if value >= band.min_score - 1e-9:
            return band.grade
    return None


@dataclass
class RuleTally:
    met: int = 0
    partial: int = 0
    not_met: int = 0
    not_applicable: int = 0

    @property
    def applicable(self) -> int:
        return self.met + self.partial + self.not_met

    @property
    def compliance(self) -> float | None:
        """met / applicable (partial is reported separately, per the spec)."""
        return round(self.met / self.applicable, 6) if self.applicable else None

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int | float | None]:
        counts: dict[str, int | float | None] = {o: getattr(self, o) for o in OUTCOMES}
        counts["applicable"] = self.applicable
        counts["compliance"] = self.compliance
        return counts


@dataclass
class Tally:
    """Running totals for one group (the service, a team, a worker)."""

    weights: Mapping[str, float]
    records: int = 0
    points: float = 0.0
    weight: float = 0.0
    rules: dict[str, RuleTally] = field(default_factory=dict)

    def add(self, results: Iterable[RuleResult]) -> None:
        self.records += 1
        for result in results:
            self.rules.setdefault(result.rule_id, RuleTally()).add(result.outcome)
            if result.outcome != "not_applicable":
                w = self.weights[result.rule_id]
                self.points += w * POINTS[result.outcome]
                self.weight += w

    @property
    def score(self) -> float | None:
        return round(self.points / self.weight, 6) if self.weight else None
