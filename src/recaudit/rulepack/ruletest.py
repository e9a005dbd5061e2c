"""`recaudit rules test`: run the test cases a pack carries for its own rules (like Semgrep).

A pack's `tests/*.yaml` files each hold cases: an inline record and the outcome each named
rule must give on it. Fields left out of a record take the file's `defaults` (merged
deeply; lists are replaced), and `record_id` defaults to `<file>#<n>`:

    defaults:
      case_type: child_protection
    cases:
      - name: conference on the 15th working day
        record:
          events:
            - {type: strategy_discussion, date: 2023-02-06}
            - {type: initial_child_protection_conference, date: 2023-02-27}
        expect:
          icpc-within-15-working-days: met
      - name: reason checked too
        record: {...}
        expect:
          icpc-within-15-working-days: {outcome: not_met, reason: "16 working days"}

Counting treats `met` as the positive class: a true positive is an expected and actual
`met`; a false positive an unexpected `met`; a false negative a missed `met`; a true
negative any other expectation met exactly. A mismatch between two non-`met` outcomes
(e.g. `not_met` expected, `not_applicable` given) counts as `other`. Any mismatch, reason
mismatch or error fails the run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recaudit.results import OUTCOMES, Outcome
from recaudit.rulepack.loader import Pack, Problem, _validation_problems, find_pack, load_pack
from recaudit.rulepack.yamlsafe import Located, Mark, YamlError, load_yaml

MIN_CASES = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expectation(_Strict):
    outcome: Outcome
    reason: str | None = Field(default=None, description="a substring the reason must contain")


class Case(_Strict):
    name: str
    record: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Outcome | Expectation] = Field(min_length=1)


class CaseFile(_Strict):
    description: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    mark: Mark
    case: str
    rule_id: str
    expected: str
    actual: str | None  # None when the rule raised
    reason: str
    reason_wanted: str | None = None

    @property
    def passed(self) -> bool:
        if self.actual != self.expected:
            return False
        return self.reason_wanted is None or self.reason_wanted in self.reason

    @property
    def category(self) -> str:
        """tp / fp / fn / tn / other (see the module docstring); `error` when it raised."""
        if self.actual is None:
            return "error"
        if self.expected == "met":
            return "tp" if self.actual == "met" else "fn"
        if self.actual == "met":
            return "fp"
        return "tn" if self.actual == self.expected else "other"


@dataclass
class RuleCounts:
    cases: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    other: int = 0
    error: int = 0
    failed: int = 0
    outcomes: set[str] = field(default_factory=set)


@dataclass
class TestReport:
    pack: Pack | None
    results: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures and bool(self.results)

    def by_rule(self) -> dict[str, RuleCounts]:
        counts: dict[str, RuleCounts] = {}
        order = [r.id for r in self.pack.rules] if self.pack else []
        for rule_id in order:
            if any(r.rule_id == rule_id for r in self.results):
                counts[rule_id] = RuleCounts()
        for item in self.results:
            tally = counts.setdefault(item.rule_id, RuleCounts())
            tally.cases += 1
            setattr(tally, item.category, getattr(tally, item.category) + 1)
            tally.failed += 0 if item.passed else 1
            tally.outcomes.add(item.expected)
        return counts


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _jsonable(value: Any) -> Any:
    # YAML turns `2023-02-06` into a date; the record model reads JSON-shaped input.
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _record_problems(exc: ValidationError, doc: Located, at: tuple[Any, ...]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(record)"
        problems.append(
            Problem(doc.mark((*at, *loc)), f"record.{where}: {err['msg']}".replace("..", "."))
        )
    return problems


def case_files(folder: Path) -> list[Path]:
    tests = folder / "tests"
    if not tests.is_dir():
        return []
    return sorted(p for p in tests.rglob("*.yaml") if p.is_file())


def run_file(path: Path, label: str, pack: Pack) -> tuple[list[CaseResult], list[Problem]]:
    from recaudit.engine import context_for, evaluate_rule
    from recaudit.records import Record

    try:
        doc = load_yaml(path, label)
    except YamlError as exc:
        return [], [Problem(exc.mark, exc.message)]
    try:
        spec = CaseFile.model_validate(doc.data)
    except ValidationError as exc:
        return [], _validation_problems(exc, doc, ())
    results: list[CaseResult] = []
    problems: list[Problem] = []
    ctx = context_for(pack)
    rules = {rule.id: rule for rule in pack.rules}
    for index, case in enumerate(spec.cases):
        at: tuple[Any, ...] = ("cases", index)
        unknown = [rule_id for rule_id in case.expect if rule_id not in rules]
        for rule_id in unknown:
            problems.append(
                Problem(
                    doc.mark((*at, "expect", rule_id)),
                    f"expect: unknown rule {rule_id!r} (not in the resolved pack {pack.name!r})",
                )
            )
        data = _deep_merge({"record_id": f"{path.stem}#{index + 1}"}, _jsonable(spec.defaults))
        data = _deep_merge(data, _jsonable(case.record))
        try:
            # As the reader does: JSON types, strict validation (ISO date strings are dates).
            record = Record.model_validate_json(json.dumps(data), strict=True)
        except ValidationError as exc:
            problems += _record_problems(exc, doc, (*at, "record"))
            continue
        for rule_id, wanted in case.expect.items():
            if rule_id in unknown:
                continue
            expectation = wanted if isinstance(wanted, Expectation) else Expectation(outcome=wanted)
            mark = doc.mark((*at, "expect", rule_id))
            try:
                got = evaluate_rule(rules[rule_id], record, ctx)
            except Exception as exc:  # a rule that raises is a failure to report, not a crash
                results.append(
                    CaseResult(mark, case.name, rule_id, expectation.outcome, None, repr(exc))
                )
                continue
            results.append(
                CaseResult(
                    mark,
                    case.name,
                    rule_id,
                    expectation.outcome,
                    got.outcome,
                    got.reason,
                    expectation.reason,
                )
            )
    return results, problems


def run_pack_tests(ref: str | Path | None, include_base: bool = False) -> TestReport:
    """Run the cases in the pack's `tests/` (and, with include_base, its bases' tests)."""
    from recaudit.rulepack.loader import PackError

    try:
        pack = load_pack(ref)
    except PackError as exc:
        return TestReport(None, problems=list(exc.problems))
    report = TestReport(pack, warnings=list(pack.warnings))
    folders = [pack.path]
    if include_base:
        folders = [find_pack(name.rsplit(" ", 1)[0]) for name in pack.extends] + folders
    for folder in folders:
        for path in case_files(folder):
            label = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            results, problems = run_file(path, label, pack)
            report.results += results
            report.problems += problems
    if not report.results and not report.problems:
        report.problems.append(
            Problem(Mark(f"{pack.path.name}/tests", 1, 1), "no test cases found")
        )
    report.warnings += coverage_warnings(report)
    return report


def origin_mark(origin: str, fallback: str) -> Mark:
    file, _, line = origin.rpartition(":")
    return Mark(file, int(line), 1) if file and line.isdigit() else Mark(fallback, 1, 1)


def coverage_warnings(report: TestReport) -> list[Problem]:
    """Rules this pack defines with fewer than MIN_CASES cases or no `not_met` case."""
    if report.pack is None:
        return []
    pack = report.pack
    counts = report.by_rule()
    warnings = []
    for rule in pack.rules:
        if pack.defined_in.get(rule.id) != pack.name:
            continue
        tally = counts.get(rule.id)
        mark = origin_mark(rule.origin, pack.path.name)
        if tally is None:
            warnings.append(Problem(mark, f"{rule.id}: no test cases", "warning"))
            continue
        missing = [o for o in ("not_met",) if o not in tally.outcomes]
        if tally.cases < MIN_CASES or missing:
            detail = f"{tally.cases} case(s)" + (f", no {missing[0]} case" if missing else "")
            warnings.append(
                Problem(mark, f"{rule.id}: {detail} (want >= {MIN_CASES} incl. not_met)", "warning")
            )
    return warnings


__all__ = ["OUTCOMES", "CaseResult", "RuleCounts", "TestReport", "run_pack_tests"]
