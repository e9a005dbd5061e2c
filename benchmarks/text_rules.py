"""Throughput of the three text rules (voice, advocacy, carers) on a generated corpus.

    PYTHONPATH=src python benchmarks/text_rules.py --words 1000000

The corpus comes from `benchmarks/corpus.py` (deterministic for a given --words and --seed:
realistic notes with evidence, negated / planned / template / other-person near misses).
Reported, all on one core in one process:

- `floor`: one Python `re` union of every target term of the three rules over every note
  (the cheapest scan that could possibly find the evidence);
- `text rules`: `rule.evaluate` for the three rules on every record where they apply,
  after a warm-up (spaCy import and pipeline build are excluded, reported separately);
- words/s for both, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

TEXT_RULES = ("voice-of-child", "advocacy-active-offer", "carers-assessment-offer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=float, default=1e6)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from corpus import iter_records

    from recaudit.evidence.matching import term_from_item, union
    from recaudit.kinds.base import EvalContext
    from recaudit.records import Record
    from recaudit.rulepack import load_pack

    records = [
        Record.model_validate_json(json.dumps(r)) for r in iter_records(int(args.words), args.seed)
    ]
    words = sum(len(n.text.split()) for r in records for n in r.notes)
    pack = load_pack("wales-children")
    rules = [pack.rule(rule_id) for rule_id in TEXT_RULES]

    names = sorted({n for rule in rules for tier in rule.tiers for n in tier.targets})
    floor_re = union(term_from_item(i) for n in names for i in pack.lexicons[n])
    t0 = time.perf_counter()
    hits = sum(1 for r in records for n in r.notes for _ in floor_re.finditer(n.text))
    floor_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ctx = EvalContext(pack.lexicons)
    warm = Record.model_validate(
        {
            "record_id": "W",
            "case_type": "child_protection",
            "carers": [{"carer_id": "C"}],
            "notes": [{"note_id": "N", "text": "Child A said hi."}],
        }
    )
    for rule in rules:
        rule.evaluate(warm, ctx)
    startup_s = time.perf_counter() - t0

    outcomes: dict[str, dict[str, int]] = {r.id: {} for r in rules}
    t0 = time.perf_counter()
    for record in records:
        for rule in rules:
            if rule.applicability(record) is None:
                out = rule.evaluate(record, ctx).outcome
                outcomes[rule.id][out] = outcomes[rule.id].get(out, 0) + 1
    rules_s = time.perf_counter() - t0

    figures = {
        "records": len(records),
        "words": words,
        "floor_re_words_per_s": round(words / floor_s),
        "floor_re_hits": hits,
        "text_rules_words_per_s": round(words / rules_s),
        "text_rules_seconds": round(rules_s, 2),
        "ratio_to_floor": round(floor_s and rules_s / floor_s, 1),
        "startup_seconds": round(startup_s, 2),
        "outcomes": outcomes,
    }
    print(f"{len(records)} records, {words:,} words")
    print(f"re floor (target terms)   {figures['floor_re_words_per_s']:>12,} words/s")
    print(
        f"three text rules          {figures['text_rules_words_per_s']:>12,} words/s "
        f"({rules_s:.1f} s; {figures['ratio_to_floor']}x the floor)"
    )
    print(f"start-up (spaCy import + pipeline + compile): {startup_s:.2f} s")
    print(f"outcomes: {json.dumps(outcomes)}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
