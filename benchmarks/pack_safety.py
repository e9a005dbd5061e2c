"""Untrusted-pack safety, timed: a 1 KB YAML alias bomb and `(a+)+$` on 50 a's and a b.

    PYTHONPATH=src python benchmarks/pack_safety.py

Both must finish in well under a second (issue 6, acceptance 3). Unit tests assert the
behaviour (refused / RE2 used); timings live here.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from recaudit.rulepack.regex import compile_pattern
from recaudit.rulepack.yamlsafe import YamlError, load_yaml


def alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text(alias_bomb())
        start = time.perf_counter()
        try:
            load_yaml(bomb)
            outcome = "LOADED (unexpected)"
        except YamlError as exc:
            outcome = f"refused: {exc.message[:50]}"
        took = time.perf_counter() - start
        print(f"alias bomb ({bomb.stat().st_size} bytes): {outcome} in {took * 1000:.1f} ms")

    subject = "a" * 50 + "b"
    start = time.perf_counter()
    found = compile_pattern("(a+)+$").search(subject)
    took = time.perf_counter() - start
    print(f"RE2 (a+)+$ on 50 a's + b: match={found is not None} in {took * 1000:.3f} ms")

    # For contrast: Python's backtracking engine on a shorter input (it doubles per 'a').
    short = "a" * 22 + "b"
    start = time.perf_counter()
    re.search("(a+)+$", short)
    took = time.perf_counter() - start
    print(f"re (backtracking) (a+)+$ on 22 a's + b: {took * 1000:.0f} ms (50 would take ~years)")


if __name__ == "__main__":
    main()
