"""Speed of the anonymisation guard alone, on the benchmark corpus's notes.

    PYTHONPATH=src python benchmarks/guard_speed.py [--words 500000] [--repeat 3]

Reports words/s (note words; best of `--repeat` runs, one core) for two things the audit
does: `find_identifiers` over each note's text, `PrivacyGuard.scan_record` over whole
records (structured fields and notes), and `PrivacyGuard.scan_item` over raw `.jsonl`
lines as `recaudit audit` feeds it (JSON decoding included). The number of hits is printed
too, so a faster guard that finds something different shows up here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import iter_records, note_words

from recaudit.parallel import RawLine
from recaudit.privacy import PrivacyGuard, find_identifiers


def _best(repeat: int, run: object) -> tuple[float, int]:
    best = float("inf")
    found = 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    records = list(iter_records(args.words))
    texts = [n["text"] for r in records for n in r.get("notes", [])]
    lines = [RawLine("corpus", json.dumps(r)) for r in records]
    words = sum(note_words(r) for r in records)
    guard = PrivacyGuard()

    text_time, text_hits = _best(args.repeat, lambda: sum(len(find_identifiers(t)) for t in texts))
    record_time, record_hits = _best(
        args.repeat, lambda: sum(len(guard.scan_record("corpus", r)) for r in records)
    )
    line_time, line_hits = _best(
        args.repeat, lambda: sum(len(guard.scan_item(line)) for line in lines)
    )
    print(f"corpus: {len(records):,} records, {len(texts):,} notes, {words:,} words")
    print(f"find_identifiers on note text: {words / text_time:>12,.0f} words/s ({text_hits} hits)")
    print(
        f"PrivacyGuard.scan_record:      {words / record_time:>12,.0f} words/s "
        f"({record_hits} findings)"
    )
    print(
        f"PrivacyGuard.scan_item (.jsonl): {words / line_time:>10,.0f} words/s "
        f"({line_hits} findings; as in `recaudit audit`, JSON decoding included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
