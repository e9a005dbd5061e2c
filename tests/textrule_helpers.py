"""Helpers for text-rule tests: one-note records and a shared evaluation context."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from recaudit.kinds.base import EvalContext
from recaudit.records import Record
from recaudit.results import RuleResult
from recaudit.rulepack import load_pack


@lru_cache(maxsize=1)
def pack_and_ctx() -> tuple[Any, EvalContext]:
    pack = load_pack("wales-children")
    return pack, EvalContext(pack.lexicons)


def record(
    *texts: str, case_type: str = "child_protection", age: int | None = 10, carers: int = 1
) -> Record:
    return Record.model_validate(
        {
            "record_id": "T-1",
            "case_type": case_type,
            "child": {"age_years": age},
            "carers": [{"carer_id": f"C{i}", "relationship": "mother"} for i in range(carers)],
            "notes": [{"note_id": f"N{i + 1}", "text": t} for i, t in enumerate(texts)],
        }
    )


def run(rule_id: str, *texts: str, **kw: Any) -> RuleResult:
    pack, ctx = pack_and_ctx()
    rule = pack.rule(rule_id)
    rec = record(*texts, **kw)
    assert rule.applicability(rec) is None
    return rule.evaluate(rec, ctx)
