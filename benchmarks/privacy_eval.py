"""Recall and false positives of the anonymisation guard on the synthetic set.

    PYTHONPATH=src python benchmarks/privacy_eval.py [--planted 700] [--clean 2000]

Recall: a planted identifier counts as found when a hit of the same kind covers its span.
False positives: hits in identifier-free notes (reported per kind, per note and per
10,000 words).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "privacy"))

import synthetic

from recaudit.privacy import find_identifiers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--planted", type=int, default=700)
    parser.add_argument("--clean", type=int, default=2000)
    parser.add_argument("--show", type=int, default=10, help="false positives to print")
    args = parser.parse_args()

    planted = synthetic.planted(n=args.planted)
    found = Counter()
    total = Counter()
    missed = []
    for note in planted:
        hits = find_identifiers(note.text)
        for p in note.planted:
            total[p.kind] += 1
            if any(h.kind == p.kind and h.start <= p.start and h.end >= p.end for h in hits):
                found[p.kind] += 1
            else:
                missed.append((p, note.text))
    print(f"planted identifiers: {sum(total.values())} in {len(planted)} notes")
    for kind in synthetic.KINDS:
        print(f"  {kind:14} recall {found[kind]}/{total[kind]}")
    print(f"recall: {sum(found.values())}/{sum(total.values())}")
    for p, text in missed[: args.show]:
        print(f"  MISSED {p.kind} {p.value!r} in {text!r}")

    clean = synthetic.clean(n=args.clean)
    words = sum(len(n.text.split()) for n in clean)
    started = time.perf_counter()
    fp = [(h, n.text) for n in clean for h in find_identifiers(n.text)]
    elapsed = time.perf_counter() - started
    notes_with_fp = len({id(t) for _, t in fp})
    kinds = Counter(h.kind for h, _ in fp)
    print(
        f"identifier-free notes: {len(clean)} ({words} words); false positives {len(fp)} "
        f"in {notes_with_fp} notes ({notes_with_fp / len(clean):.2%} of notes, "
        f"{len(fp) / words * 10000:.1f} per 10,000 words); by kind {dict(sorted(kinds.items()))}"
    )
    print(f"scan speed: {words / elapsed:,.0f} words/s")
    for hit, _ in fp[: args.show]:
        print(f"  FALSE POSITIVE {hit.kind} {hit.value!r}")


if __name__ == "__main__":
    main()
