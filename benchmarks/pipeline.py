"""What `run_audit` costs besides rule evaluation, and how `--jobs N` scales (issue 8).

    python benchmarks/pipeline.py                          # both measures, 1 M words
    python benchmarks/pipeline.py overhead --rules fields --repeat 5
    python benchmarks/pipeline.py scaling --jobs 2 --repeat 3
    python benchmarks/pipeline.py command --jobs 2 --repeat 3   # the whole `recaudit audit`

**overhead**: `run_audit(..., jobs=1)` in this process, CPU time (`time.process_time`, so a
busy machine does not count), split into the time spent inside the rules
(`engine.evaluate_rule`, outermost calls only, including each rule's one-off pattern
compilation) and everything else: reading and framing lines, JSON decoding, validation, the
anonymisation guard, the record-level wrapper (score, grade, result model), encoding results
for the store, duplicate checks, writing the store and the tallies. The figure that matters
is "other CPU seconds per million words". `--rules fields` uses a pack of the four field
rules (tests/fixtures/perf-pack), where almost everything is overhead.

**scaling**: wall time of `run_audit` with `jobs=1` and with `jobs=N`, alternated and
repeated, next to the speed-up a plain CPU-bound loop gets from N processes at the same
moment (the machine is shared: that is the ceiling `--jobs` can reach right now). Also the
CPU time the parent process spends with N jobs (it should be small: workers read, parse,
scan, evaluate and encode; the parent cuts byte ranges, writes the store and tallies), and
`speedup_from_cpu`: the speed-up idle cores would give, from the CPU times (the parent's
is serial, the workers' is shared out evenly) — the figure to read on a busy machine.

**command**: the same comparison for the whole `recaudit audit` command with its three
reports (a subprocess each), CPU time including the worker processes it waited for.

Corpora come from benchmarks/corpus.py (cached in benchmarks/.cache, shared with run.py).
`RECAUDIT_SRC=path/to/src` measures another checkout's code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ensure_corpus, parallel_ceiling  # noqa: E402

# After importing run.py (which puts this checkout's src first): RECAUDIT_SRC=/other/src
# measures another version of the code on the same corpus (e.g. before and after a change,
# alternating runs on a busy machine).
sys.path.insert(0, os.environ.get("RECAUDIT_SRC") or str(HERE.parent / "src"))

FIELDS_PACK = HERE.parent / "tests" / "fixtures" / "perf-pack"


def _pack(name: str) -> Any:
    from recaudit.rulepack import load_pack

    return load_pack(FIELDS_PACK if name == "fields" else name)


class RuleClock:
    """Wraps `engine.evaluate_rule` to add up the CPU time spent inside rules.

    Nested calls (a rule combined by all_of / any_of) are counted once, in the outermost.
    """

    def __init__(self) -> None:
        import recaudit.engine as engine

        self.engine = engine
        self.original: Callable[..., Any] = engine.evaluate_rule
        self.seconds = 0.0
        self.depth = 0

    def __enter__(self) -> RuleClock:
        original = self.original

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return original(*args, **kwargs)
            self.depth += 1
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - start
                self.depth -= 1

        self.engine.evaluate_rule = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.evaluate_rule = self.original  # type: ignore[assignment]


def overhead(path: Path, words: int, rules: str, repeat: int, privacy: bool) -> dict[str, Any]:
    from recaudit.audit import run_audit

    print(
        f"measuring {run_audit.__module__} from {sys.modules['recaudit'].__file__}", file=sys.stderr
    )
    pack = _pack(rules)
    runs = []
    for _ in range(repeat):
        with RuleClock() as clock:
            start = time.process_time()
            audit = run_audit([path], pack, jobs=1, privacy=privacy)
            total = time.process_time() - start
        runs.append((total, clock.seconds))
        audit.records.close()  # type: ignore[attr-defined]
    best_other = min(total - rule for total, rule in runs)
    return {
        "measure": "overhead",
        "rules": rules,
        "privacy": privacy,
        "words": words,
        "runs": [{"cpu_s": round(t, 3), "rules_cpu_s": round(r, 3)} for t, r in runs],
        "other_cpu_s_min": round(best_other, 3),
        "other_cpu_s_median": round(statistics.median(t - r for t, r in runs), 3),
        "other_cpu_s_per_million_words": round(best_other * 1e6 / words, 3),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scaling(path: Path, words: int, rules: str, jobs: int, repeat: int) -> dict[str, Any]:
    from recaudit.audit import run_audit

    pack = _pack(rules)
    run_audit([path], pack, jobs=1).records.close()  # type: ignore[attr-defined]  # warm
    rows = []
    for _ in range(repeat):
        row: dict[str, Any] = {"load_before": round(os.getloadavg()[0], 2)}
        row["ceiling"] = parallel_ceiling(jobs)
        for n in (1, jobs):
            wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
            audit = run_audit([path], pack, jobs=n)
            row[f"jobs{n}_wall_s"] = round(time.perf_counter() - wall, 3)
            row[f"jobs{n}_parent_cpu_s"] = round(time.process_time() - cpu, 3)
            row[f"jobs{n}_workers_cpu_s"] = round(_children_cpu() - children, 3)
            audit.records.close()  # type: ignore[attr-defined]
        row["speedup"] = round(row["jobs1_wall_s"] / row[f"jobs{jobs}_wall_s"], 2)
        # What idle cores would give, from CPU times: the parent's CPU is serial (warm-up
        # before the fork, then merging), the workers' is shared out evenly (the last
        # ranges are cut small so that they finish together).
        row["speedup_from_cpu"] = round(
            row["jobs1_parent_cpu_s"]
            / (row[f"jobs{jobs}_parent_cpu_s"] + row[f"jobs{jobs}_workers_cpu_s"] / jobs),
            2,
        )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {
        **_speedups("scaling", rules, words, jobs, rows),
        "speedup_from_cpu_median": statistics.median(r["speedup_from_cpu"] for r in rows),
    }


def command(path: Path, words: int, rules: str | None, jobs: int, repeat: int) -> dict[str, Any]:
    """The whole `recaudit audit` (three reports) with --jobs 1 and --jobs N, alternated."""
    import shutil
    import subprocess
    import tempfile

    src = os.environ.get("RECAUDIT_SRC") or str(HERE.parent / "src")
    env = {**os.environ, "PYTHONPATH": src}
    rows = []
    for _ in range(repeat):
        row: dict[str, Any] = {"load_before": round(os.getloadavg()[0], 2)}
        row["ceiling"] = parallel_ceiling(jobs)
        for n in (1, jobs):
            out = tempfile.mkdtemp(prefix="recaudit-bench-")
            cmd = [sys.executable, "-m", "recaudit", "audit", str(path), "--out", out]
            cmd += ["--format", "json,xlsx,html", "--jobs", str(n)]
            cmd += ["--rules", rules] if rules else []
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            row[f"jobs{n}_wall_s"] = round(time.perf_counter() - start, 3)
            # The command's own CPU and that of the children it waited for (workers).
            row[f"jobs{n}_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
            shutil.rmtree(out)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{' '.join(cmd)} failed")
        row["speedup"] = round(row["jobs1_wall_s"] / row[f"jobs{jobs}_wall_s"], 2)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return _speedups("command", rules or "wales-children", words, jobs, rows)


def _speedups(
    measure: str, rules: str | None, words: int, jobs: int, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """A speed-up measure's result: its runs, and the best and median of their speed-ups
    next to the median ceiling a CPU-bound loop reached at the same moments."""
    return {
        "measure": measure,
        "rules": rules,
        "words": words,
        "jobs": jobs,
        "runs": rows,
        "speedup_best": max(r["speedup"] for r in rows),
        "speedup_median": statistics.median(r["speedup"] for r in rows),
        "ceiling_median": statistics.median(r["ceiling"] for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "measures", nargs="*", choices=["overhead", "scaling", "command"], default=[]
    )
    parser.add_argument("--words", type=float, default=1e6)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--rules", default=None, help="pack: a name, a path or 'fields'")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-privacy", action="store_true", help="overhead without the guard")
    args = parser.parse_args(argv)
    path, counts = ensure_corpus(int(args.words), args.seed)
    measures = args.measures or ["overhead", "scaling"]
    results = []
    if "overhead" in measures:
        for rules in [args.rules] if args.rules else ["fields", "wales-children"]:
            results.append(overhead(path, counts["words"], rules, args.repeat, not args.no_privacy))
            print(json.dumps(results[-1]), flush=True)
    if "scaling" in measures:
        results.append(
            scaling(path, counts["words"], args.rules or "wales-children", args.jobs, args.repeat)
        )
        print(json.dumps(results[-1]), flush=True)
    if "command" in measures:
        results.append(command(path, counts["words"], args.rules, args.jobs, args.repeat))
        print(json.dumps(results[-1]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
