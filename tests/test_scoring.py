from __future__ import annotations

from recaudit.results import RuleResult
from recaudit.scoring import GradeBand, Tally, grade, score

BANDS = (GradeBand("Good", 0.85), GradeBand("Adequate", 0.65), GradeBand("Inadequate", 0.0))


def _r(rule_id: str, outcome: str) -> RuleResult:
    return RuleResult(rule_id=rule_id, outcome=outcome, reason="test")


def test_score_weights_points_and_leaves_out_not_applicable() -> None:
    weights = {"a": 2.0, "b": 1.0, "c": 1.0, "d": 5.0}
    results = [_r("a", "met"), _r("b", "partial"), _r("c", "not_met"), _r("d", "not_applicable")]
    assert score(results, weights) == round((2 * 1 + 1 * 0.5 + 0) / 4, 6)


def test_no_applicable_rule_means_no_score_and_no_grade() -> None:
    assert score([_r("a", "not_applicable")], {"a": 1.0}) is None
    assert grade(None, BANDS) is None


def test_grade_bands_take_the_highest_band_reached() -> None:
    assert grade(0.85, BANDS) == "Good"
    assert grade(0.849, BANDS) == "Adequate"
    assert grade(0.0, BANDS) == "Inadequate"


def test_group_tally_pools_results_and_counts_per_rule() -> None:
    tally = Tally({"a": 1.0, "b": 1.0})
    tally.add([_r("a", "met"), _r("b", "not_applicable")])
    tally.add([_r("a", "partial"), _r("b", "not_met")])
    assert tally.records == 2
    assert tally.score == round(1.5 / 3, 6)
    assert tally.rules["a"].met == 1 and tally.rules["a"].partial == 1
    assert tally.rules["a"].compliance == 0.5  # partial is not met
    assert tally.rules["b"].applicable == 1 and tally.rules["b"].compliance == 0.0
