"""Peak memory while writing the audit workbook for a 20,000-record audit (issue 4).

    PYTHONPATH=src python benchmarks/excel_memory.py [--records 20000] [--pack default]
        [--per-worker] [--keep DIR]

Records come from the deterministic benchmark corpus (`benchmarks/corpus.py`). The pack is
the Excel test fixture pack (two field rules and a note rule that quotes whole notes as
evidence, so Findings carries plenty of text), or the shipped default pack with
`--pack default` once its text rules are in place. The audit runs first (results go to a
disk-backed store), then the workbook is written; peak RSS is read from the kernel
(`ru_maxrss`) after each phase. Acceptance: peak under 400 MB.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
LIMIT_MB = 400


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def current_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--pack", choices=("fixture", "default"), default="fixture")
    parser.add_argument("--per-worker", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the audit itself")
    parser.add_argument("--keep", type=Path, help="write the workbook here instead of a temp dir")
    args = parser.parse_args(argv)

    corpus = _load("recaudit_bench_corpus", REPO / "benchmarks" / "corpus.py")
    support = _load(
        "recaudit_excel_test_support", REPO / "tests" / "fixtures" / "excel" / "support.py"
    )
    from recaudit.audit import run_audit
    from recaudit.report.excel import write_workbook
    from recaudit.rulepack import load_pack

    with tempfile.TemporaryDirectory(prefix="recaudit-excel-bench-") as tmp:
        out = args.keep or Path(tmp)
        records = Path(tmp) / "records.jsonl"
        with records.open("w", encoding="utf-8") as handle:
            for record in itertools.islice(corpus.iter_records(10**12), args.records):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        pack = support.fixture_pack() if args.pack == "fixture" else load_pack("wales-children")

        start = time.perf_counter()
        audit = run_audit([records], pack, now=support.NOW, jobs=args.jobs)
        audited = time.perf_counter() - start
        before_peak, before_now = peak_mb(), current_mb()

        start = time.perf_counter()
        path = write_workbook(audit, out / "audit.xlsx", per_worker=args.per_worker)
        written = time.perf_counter() - start
        peak = peak_mb()
        findings = sum(
            1 for r in audit.records for res in r.results if res.outcome != "not_applicable"
        )
        print(f"records audited        {len(audit.records):>10,} ({len(audit.rejected)} rejected)")
        print(f"pack                   {pack.name} {pack.version} ({len(pack.rules)} rules)")
        print(f"findings rows          {findings:>10,}")
        print(f"audit time             {audited:>10.1f} s")
        print(f"workbook time          {written:>10.1f} s  ({path.stat().st_size / 2**20:.1f} MB)")
        print(f"RSS before writing     {before_now:>10.1f} MB (peak so far {before_peak:.1f} MB)")
        print(f"peak RSS (whole run)   {peak:>10.1f} MB  (limit {LIMIT_MB} MB)")
        return 0 if peak < LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
