"""Helpers for text-rule tests: one-note records and a shared evaluation context."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
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


REPO = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def sample_notes() -> tuple[str, ...]:
    """Every distinct note text of samples/ and the test fixtures (the notes the
    equivalence tests compare fast paths and plain regexes on)."""
    texts = []
    for path in [
        REPO / "samples/records.jsonl",
        *sorted((REPO / "tests/fixtures").glob("*/records.jsonl")),
    ]:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the malformed-input fixtures
            notes = record.get("notes") if isinstance(record, dict) else None
            if isinstance(notes, list):
                texts += [n["text"] for n in notes if isinstance(n, dict) and n.get("text")]
    return tuple(dict.fromkeys(texts))
