"""Time and peak memory of writing each report (audit.json, audit.xlsx, audit.html) (issue 8).

    python benchmarks/reports.py                     # 1 M words, all three reports
    python benchmarks/reports.py --words 1e6 3e6 --repeat 5 --formats xlsx html

For each corpus size (`benchmarks/corpus.py`, cached in benchmarks/.cache), a fresh process
runs the audit once (results go to the disk-backed store, as in `recaudit audit`), then
writes each report in the command's order (json, xlsx, html) with `write_reports`:
- **cold**: the first write, which also pays for imports and template compilation, as a
  real run does;
- **warm**: the best of `--repeat` further writes (CPU time, so other load on the machine
  counts less; wall time alongside);
- **peak RSS**: the process's high-water mark while that report is written, reset before
  it (Linux `/proc/self/clear_refs`), and its growth over the memory in use before it.
  Flat memory means the growth does not scale with the corpus: compare two sizes.

Results are printed as a table and written to benchmarks/results/ as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
FORMATS = ("json", "xlsx", "html")

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SRC))

import corpus  # noqa: E402
from machine import machine as benchmark_machine  # noqa: E402
from machine import write_result  # noqa: E402


def ensure_corpus(words: int, seed: int) -> tuple[Path, dict[str, int]]:
    return corpus.cached_corpus(words, seed)


# -- memory of this process ----------------------------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> bool:
    """Start a new high-water mark at the current RSS (Linux ≥ 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    return _status_kib("VmRSS") / 1024


def peak_mb() -> float:
    return _status_kib("VmHWM") / 1024


# -- one corpus size, in a child process -----------------------------------------------------
def measure(path: Path, formats: list[str], repeat: int, jobs: int, per_worker: bool) -> dict:
    """Runs in the child: audit once, then time and measure each report."""
    from recaudit.audit import run_audit, write_reports

    start = time.perf_counter()
    audit = run_audit([path], jobs=jobs, now=dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC))
    audited = time.perf_counter() - start
    found: dict[str, Any] = {
        "audit_wall_s": round(audited, 3),
        "records": len(audit.records),
        "reports": {},
    }
    with tempfile.TemporaryDirectory(prefix="recaudit-report-bench-") as tmp:
        for fmt in formats:
            before = rss_mb()
            exact = reset_peak()
            runs = []
            for run in range(1 + repeat):
                # A fresh folder each time: rewriting files just written makes ext4 flush
                # them first (auto_da_alloc), which a real run into a new folder never pays.
                out = Path(tmp) / f"{fmt}-{run}"
                wall, cpu = time.perf_counter(), time.process_time()
                written = write_reports(audit, out, (fmt,), per_worker=per_worker)
                runs.append((time.process_time() - cpu, time.perf_counter() - wall))
            peak = peak_mb()
            # Everything the report wrote: worker and team pages, per-worker workbooks.
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            assert written
            warm = min(runs[1:] or runs)
            found["reports"][fmt] = {
                "cold_cpu_s": round(runs[0][0], 3),
                "cold_wall_s": round(runs[0][1], 3),
                "warm_cpu_s": round(warm[0], 3),
                "warm_wall_s": round(warm[1], 3),
                "rss_before_mb": round(before, 1),
                "peak_rss_mb": round(peak, 1),
                "growth_mb": round(peak - before, 1) if exact else None,
                "bytes": size,
            }
    return found


def run_size(words: int, args: argparse.Namespace) -> dict[str, Any]:
    path, counts = ensure_corpus(words, args.seed)
    print(f"reports at {words:,} words ...", file=sys.stderr, flush=True)
    child = [
        sys.executable,
        __file__,
        "--child",
        str(path),
        "--formats",
        *args.formats,
        "--repeat",
        str(args.repeat),
        "--jobs",
        str(args.jobs),
    ]
    if args.per_worker:
        child.append("--per-worker")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(child, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr}")
    found = json.loads(done.stdout)
    return {"words": counts["words"], "notes": counts["notes"], **found}


def machine() -> dict[str, Any]:
    return benchmark_machine(("openpyxl", "lxml", "jinja2", "markupsafe", "babel", "pydantic"))


def table(result: dict[str, Any]) -> str:
    head = (
        f"{'words':>11} {'records':>8} {'report':<6} {'cold cpu':>9} {'warm cpu':>9} "
        f"{'warm wall':>10} {'k words/s':>10} {'peak RSS':>9} {'growth':>7} {'size':>9}"
    )
    lines = [head, "-" * len(head)]
    for size in result["sizes"]:
        for fmt, r in size["reports"].items():
            rate = size["words"] / r["warm_cpu_s"] / 1000 if r["warm_cpu_s"] else float("inf")
            growth = "n/a" if r["growth_mb"] is None else f"{r['growth_mb']:.0f} MB"
            lines.append(
                f"{size['words']:>11,} {size['records']:>8,} {fmt:<6} "
                f"{r['cold_cpu_s']:>8.3f}s {r['warm_cpu_s']:>8.3f}s {r['warm_wall_s']:>9.3f}s "
                f"{rate:>10,.0f} {r['peak_rss_mb']:>6.0f} MB {growth:>7} "
                f"{r['bytes'] / 2**20:>6.1f} MB"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=float, nargs="+", default=[1e6])
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--repeat", type=int, default=3, help="warm writes after the first")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes for the audit itself"
    )
    parser.add_argument("--per-worker", action="store_true", help="also per-worker workbooks")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--label", default="", help="suffix for the results file name")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        found = measure(args.child, args.formats, args.repeat, args.jobs, args.per_worker)
        print(json.dumps(found))
        return 0

    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "argv": sys.argv[1:],
        "sizes": [run_size(int(w), args) for w in sorted(args.words)],
    }
    path = write_result(result, "reports", args.label)
    print(table(result))
    print(f"\nwrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
