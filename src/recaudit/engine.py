"""Apply a rule pack to records: one `RecordResult` per record, in rule-pack order."""

from __future__ import annotations

import json
from collections.abc import Iterator

from pydantic import BaseModel

from recaudit.fieldpath import MISSING, resolve
from recaudit.kinds.base import EvalContext, result
from recaudit.records import ReadItem, Record, Rejection, SourcedRecord
from recaudit.results import RecordResult, RuleResult
from recaudit.rulepack import Pack
from recaudit.rulepack.schema import RuleBase
from recaudit.scoring import grade, score


class RuleEvaluationError(Exception):
    """A rule could not be evaluated on a record. Never counted as `not_met`."""


def context_for(pack: Pack) -> EvalContext:
    return EvalContext(lexicons=pack.lexicons, rules={rule.id: rule for rule in pack.rules})


def _plain(value: object) -> object:
    # Models (e.g. the `events` list an event condition reads) shown as their JSON.
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def _not_applicable(rule: RuleBase, record: Record, failed: str) -> RuleResult:
    field = failed.split(" ", 1)[0]
    value = resolve(record, field)
    shown = (
        "missing"
        if value is MISSING
        else json.dumps(value, default=_plain, ensure_ascii=False, separators=(", ", ": "))
    )
    if len(shown) > 60:
        shown = shown[:59] + "…"
    return result(rule.id, "not_applicable", f"applies only when {failed}; {field} is {shown}")


def evaluate_rule(rule: RuleBase, record: Record, ctx: EvalContext) -> RuleResult:
    # A rule combined by all_of/any_of may already have run on this record.
    known = ctx.remembered(record, rule.id)
    if known is not None:
        return known
    failed = rule.applicability(record)
    if failed is not None:
        return ctx.remember(record, _not_applicable(rule, record, failed))
    try:
        return ctx.remember(record, rule.evaluate(record, ctx))
    except RuleEvaluationError:
        raise
    except Exception as exc:
        raise RuleEvaluationError(f"rule {rule.id!r} could not be evaluated: {exc!r}") from exc


def evaluate_record(record: Record, source: str, pack: Pack, ctx: EvalContext) -> RecordResult:
    results = tuple(evaluate_rule(rule, record, ctx) for rule in pack.rules)
    value = score(results, pack.weights)
    return RecordResult(
        record_id=record.record_id,
        source=source,
        worker=record.worker,
        team=record.team,
        case_type=record.case_type,
        score=value,
        grade=grade(value, pack.grade_bands),
        results=results,
    )


def evaluate_items(
    items: Iterator[ReadItem], pack: Pack, ctx: EvalContext | None = None
) -> Iterator[RecordResult | Rejection]:
    """Evaluate a stream of read items; a record a rule cannot evaluate becomes a rejection."""
    ctx = ctx or context_for(pack)
    for item in items:
        if isinstance(item, SourcedRecord):
            try:
                yield evaluate_record(item.record, item.source, pack, ctx)
            except RuleEvaluationError as exc:
                yield Rejection(item.source, item.record.record_id, str(exc))
        else:
            yield item
