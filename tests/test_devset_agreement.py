"""Agreement of the text rules with the hand-labelled dev set (skipped when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recaudit.kinds.base import EvalContext
from recaudit.records import Record
from recaudit.rulepack import load_pack

DEV_SET = Path(__file__).parents[1].parent / "shared" / "dev-set"
TEXT_RULES = ("voice-of-child", "advocacy-active-offer", "carers-assessment-offer")


@pytest.fixture(scope="module")
def agreement() -> dict[str, tuple[int, int]]:
    if not (DEV_SET / "records.jsonl").is_file():
        pytest.skip(f"{DEV_SET} is not present")
    gold = {}
    for line in (DEV_SET / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        gold[(g["record_id"], g["rule_id"])] = g["outcome"]
    pack = load_pack("wales-children")
    ctx = EvalContext(pack.lexicons)
    counts = {r: [0, 0] for r in TEXT_RULES}
    for line in (DEV_SET / "records.jsonl").read_text(encoding="utf-8").splitlines():
        record = Record.model_validate_json(line)
        for rule_id in TEXT_RULES:
            rule = pack.rule(rule_id)
            outcome = (
                "not_applicable"
                if rule.applicability(record) is not None
                else rule.evaluate(record, ctx).outcome
            )
            counts[rule_id][1] += 1
            counts[rule_id][0] += outcome == gold[(record.record_id, rule_id)]
    return {k: (v[0], v[1]) for k, v in counts.items()}


@pytest.mark.parametrize("rule_id", TEXT_RULES)
def test_dev_set_agreement_at_least_95_percent(agreement, rule_id: str) -> None:
    agreed, total = agreement[rule_id]
    assert total == 40
    assert agreed / total >= 0.95, f"{rule_id}: {agreed}/{total}"
