"""Agreement of the rules with hand-labelled record sets, through `recaudit.evaluate`.

- the shared dev set (`../shared/dev-set`, beside the checkout in CI only; skipped when absent);
- `tests/fixtures/styles`: 60 records in other recording styles, used during development;
- `tests/fixtures/heldout`: 50 records labelled independently and kept out of tuning: its
  floor records what the detection achieves on records nobody tuned it on, so a change that
  generalises worse fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED

from recaudit.evaluate import Evaluation, evaluate_files
from recaudit.rulepack import load_pack

TEXT_RULES = ("voice-of-child", "advocacy-active-offer", "carers-assessment-offer")
FIELD_RULES = ("siblings-recorded", "ethnicity-recorded", "language-recorded", "religion-recorded")

# (set folder, minimum agreement per text rule)
SETS: dict[str, tuple[Path, dict[str, float]]] = {
    "dev-set": (SHARED / "dev-set", dict.fromkeys(TEXT_RULES, 0.95)),
    "styles": (FIXTURES / "styles", dict.fromkeys(TEXT_RULES, 0.95)),
    "heldout": (
        FIXTURES / "heldout",
        {"voice-of-child": 0.83, "advocacy-active-offer": 0.95, "carers-assessment-offer": 0.95},
    ),
}


@pytest.fixture(scope="module")
def evaluations() -> dict[str, Evaluation]:
    pack = load_pack("wales-children")
    found = {}
    for name, (folder, _) in SETS.items():
        if (folder / "records.jsonl").is_file():
            found[name] = evaluate_files([folder / "records.jsonl"], folder / "gold.jsonl", pack)
    return found


def _evaluation(evaluations: dict[str, Evaluation], name: str) -> Evaluation:
    if name not in evaluations:
        pytest.skip(f"{SETS[name][0]} is not present (../shared sits beside the checkout in CI)")
    return evaluations[name]


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("rule_id", TEXT_RULES)
def test_text_rule_agreement_floor(evaluations, name: str, rule_id: str) -> None:
    rule = _evaluation(evaluations, name).rule(rule_id)
    assert rule is not None and rule.total > 0
    floor = SETS[name][1][rule_id]
    assert rule.agreement >= floor, f"{name} {rule_id}: {rule.agreed}/{rule.total} < {floor:.0%}"


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("rule_id", FIELD_RULES)
def test_field_rules_agree_on_every_record(evaluations, name: str, rule_id: str) -> None:
    rule = _evaluation(evaluations, name).rule(rule_id)
    assert rule is not None and rule.agreed == rule.total
