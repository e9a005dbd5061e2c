"""Agreement between a pack's outcomes and human audit labels (dev-set `gold.jsonl` format).

Councils moderate the tool against their own audits: for every rule, a confusion matrix
(gold outcome × tool outcome), precision / recall / F1 for `met`, Cohen's kappa, and the
share of labels the tool agreed with. Only (record, rule) pairs present both in the gold
file and among the audited records are compared; the rest are counted as unmatched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recaudit.results import OUTCOMES

Pair = tuple[str, str]  # (record_id, rule_id)


class GoldError(Exception):
    """The gold file cannot be read (with file:line)."""


def load_gold(path: Path) -> dict[Pair, str]:
    """`{(record_id, rule_id): outcome}` from a JSON Lines gold file."""
    labels: dict[Pair, str] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise GoldError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            pair = (str(obj["record_id"]), str(obj["rule_id"]))
            outcome = obj["outcome"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise GoldError(f"{path}:{number}: not a gold label ({exc})") from None
        if outcome not in OUTCOMES:
            raise GoldError(f"{path}:{number}: unknown outcome {outcome!r}")
        labels[pair] = outcome
    return labels


@dataclass
class RuleAgreement:
    rule_id: str
    confusion: dict[str, dict[str, int]]  # gold → predicted → count
    disagreements: list[tuple[str, str, str]] = field(default_factory=list)  # (record, gold, got)

    @property
    def total(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def agreed(self) -> int:
        return sum(self.confusion.get(o, {}).get(o, 0) for o in OUTCOMES)

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.total if self.total else None

    def _count(self, gold: str | None, pred: str | None) -> int:
        return sum(
            n
            for g, row in self.confusion.items()
            for p, n in row.items()
            if (gold is None or g == gold) and (pred is None or p == pred)
        )

    @property
    def precision_met(self) -> float | None:
        predicted = self._count(None, "met")
        return self._count("met", "met") / predicted if predicted else None

    @property
    def recall_met(self) -> float | None:
        actual = self._count("met", None)
        return self._count("met", "met") / actual if actual else None

    @property
    def f1_met(self) -> float | None:
        p, r = self.precision_met, self.recall_met
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    @property
    def kappa(self) -> float | None:
        return cohens_kappa(self.confusion)


def cohens_kappa(confusion: Mapping[str, Mapping[str, int]]) -> float | None:
    """Cohen's kappa of a square confusion matrix; None when undefined (no items).

    With perfect agreement on a single category (expected agreement 1), kappa is 1.
    """
    total = sum(sum(row.values()) for row in confusion.values())
    if not total:
        return None
    labels = set(confusion) | {p for row in confusion.values() for p in row}
    observed = sum(confusion.get(k, {}).get(k, 0) for k in labels) / total
    expected = sum(
        (sum(confusion.get(k, {}).values()) / total)
        * (sum(row.get(k, 0) for row in confusion.values()) / total)
        for k in labels
    )
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1 - expected)


@dataclass
class Evaluation:
    rules: list[RuleAgreement]
    unmatched_gold: int  # labels whose record or rule was not audited
    records_audited: int

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rules)

    @property
    def agreed(self) -> int:
        return sum(r.agreed for r in self.rules)

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.total if self.total else None

    def rule(self, rule_id: str) -> RuleAgreement | None:
        return next((r for r in self.rules if r.rule_id == rule_id), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": {
                "labels": self.total,
                "agreed": self.agreed,
                "agreement": _round(self.agreement),
            },
            "records_audited": self.records_audited,
            "unmatched_gold_labels": self.unmatched_gold,
            "rules": [
                {
                    "rule_id": r.rule_id,
                    "labels": r.total,
                    "agreed": r.agreed,
                    "agreement": _round(r.agreement),
                    "met": {
                        "precision": _round(r.precision_met),
                        "recall": _round(r.recall_met),
                        "f1": _round(r.f1_met),
                    },
                    "kappa": _round(r.kappa),
                    "confusion": r.confusion,
                    "disagreements": [
                        {"record_id": rec, "gold": g, "got": p} for rec, g, p in r.disagreements
                    ],
                }
                for r in self.rules
            ],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def compare(
    gold: Mapping[Pair, str],
    predicted: Mapping[Pair, str],
    rule_order: Iterable[str],
    records_audited: int,
) -> Evaluation:
    order = list(rule_order)
    rules: dict[str, RuleAgreement] = {}
    unmatched = 0
    for (record_id, rule_id), gold_outcome in sorted(gold.items()):
        got = predicted.get((record_id, rule_id))
        if got is None:
            unmatched += 1
            continue
        agreement = rules.setdefault(
            rule_id, RuleAgreement(rule_id, {g: dict.fromkeys(OUTCOMES, 0) for g in OUTCOMES})
        )
        agreement.confusion[gold_outcome][got] += 1
        if got != gold_outcome:
            agreement.disagreements.append((record_id, gold_outcome, got))
    ordered = sorted(
        rules.values(),
        key=lambda r: (order.index(r.rule_id) if r.rule_id in order else len(order), r.rule_id),
    )
    return Evaluation(ordered, unmatched, records_audited)


def evaluate_files(
    inputs: Iterable[Path], gold_path: Path, pack: Any, rule_ids: Iterable[str] | None = None
) -> Evaluation:
    """Audit `inputs` with `pack` and compare with the labels in `gold_path`."""
    from recaudit.engine import context_for, evaluate_rule
    from recaudit.records import SourcedRecord, dedupe, read_records

    gold = load_gold(gold_path)
    wanted = set(rule_ids) if rule_ids else None
    rules = [r for r in pack.rules if wanted is None or r.id in wanted]
    if wanted is not None:
        gold = {k: v for k, v in gold.items() if k[1] in wanted}
    gold_records = {k[0] for k in gold}
    ctx = context_for(pack)
    predicted: dict[Pair, str] = {}
    audited = 0
    for path in inputs:
        for item in dedupe(read_records(path)):
            if not isinstance(item, SourcedRecord) or item.record.record_id not in gold_records:
                continue
            audited += 1
            for rule in rules:
                predicted[(item.record.record_id, rule.id)] = evaluate_rule(
                    rule, item.record, ctx
                ).outcome
    return compare(gold, predicted, [r.id for r in rules], audited)
