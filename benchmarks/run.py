"""Throughput, memory and start-up benchmarks for recaudit (issue 8).

    python benchmarks/run.py                      # the standard set (takes a few minutes)
    python benchmarks/run.py --words 3e6 --jobs 1 2 --skip-memory

What it measures, on generated corpora (`benchmarks/corpus.py`, cached in benchmarks/.cache):
- **command**: the whole `recaudit audit CORPUS --format json,xlsx,html --jobs N` in a
  subprocess: wall time, records/s, words/s (note words), peak RSS of the largest process
  (`wait4`) and peak proportional set size (PSS) summed over the process tree (polled from
  /proc; PSS counts memory that forked workers share only once).
- **stage**: rule evaluation alone (records already parsed), in this process on one core,
  with the time per rule; and, over the same notes in the same pass, the floor: one
  `re` union of the pack's trigger phrases (the text rules' target lexicons) run over every
  note. The ratio stage/floor says how far evaluation is from a plain keyword scan.
- **start-up**: `python -m recaudit --help` and `rules list`, median of several runs.

Results are printed as a table and written to benchmarks/results/ as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SRC))

import corpus  # noqa: E402
from machine import child_env, compile_sources, write_result  # noqa: E402
from machine import machine as benchmark_machine  # noqa: E402

# Run the checkout's code, whatever is installed (set in `main`: see `child_env`).
ENV: dict[str, str] = child_env()


# -- corpora -----------------------------------------------------------------------------
def ensure_corpus(words: int, seed: int) -> tuple[Path, dict[str, int]]:
    return corpus.cached_corpus(words, seed)


# -- memory polling ----------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
        except OSError:
            continue
    return pids


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Polls the summed PSS of a process and its descendants; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = sum(_pss_kib(p) for p in _tree(self.pid))
            self.peak_kib = max(self.peak_kib, total)
            self.stop.wait(self.interval)


# -- whole command -----------------------------------------------------------------------
def run_command(path: Path, counts: dict[str, int], jobs: int, rules: str | None) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="recaudit-bench-"))
    cmd = [sys.executable, "-m", "recaudit", "audit", str(path), "--out", str(out)]
    cmd += ["--format", "json,xlsx,html", "--jobs", str(jobs)]
    if rules:
        cmd += ["--rules", rules]
    load = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    poller = TreeMemory(proc.pid)
    poller.start()
    # wait4 gives this child's own resource usage (ru_maxrss: the largest of it and the
    # descendants it waited for), not that of every child this benchmark ever ran.
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    poller.stop.set()
    poller.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr}")
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    shutil.rmtree(out)
    return {
        "jobs": jobs,
        "words": counts["words"],
        "records": counts["records"],
        "seconds": round(seconds, 3),
        "records_per_s": round(counts["records"] / seconds, 1),
        "words_per_s": round(counts["words"] / seconds),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        # On a busy machine wall time measures the neighbours too; with --jobs 1 (one
        # process) words per CPU-second is what an idle core would give.
        "words_per_cpu_s": round(counts["words"] / (usage.ru_utime + usage.ru_stime)),
        "load_before": load,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_pss_mb": round(poller.peak_kib / 1024, 1),
        "report_bytes": sizes,
        "command": " ".join(["PYTHONPATH=src", "python", *cmd[1:]]),
    }


# -- rule evaluation stage and the re floor -----------------------------------------------
def _term_text(item: Any) -> str | None:
    if isinstance(item, str):
        return item.rstrip("+").strip() or None
    if isinstance(item, dict):
        for key in ("pattern", "phrase", "text", "term"):
            if isinstance(item.get(key), str):
                return item[key].rstrip("+").strip() or None
    return None


def trigger_phrases(pack: Any) -> list[str]:
    """The target phrases of the pack's text rules (what a cheap pass would look for)."""
    phrases: set[str] = set()
    for rule in pack.rules:
        for tier in getattr(rule, "tiers", ()):
            for name in getattr(tier, "targets", ()):
                for item in pack.lexicons.get(name, ()):
                    text = _term_text(item)
                    if text:
                        phrases.add(text)
    return sorted(phrases) or corpus.trigger_phrases()


def floor_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """One union of the phrases, matched on lower-cased text (re.IGNORECASE is several times
    slower), longest first, at word starts as a matcher would."""
    ordered = sorted({p.lower() for p in phrases}, key=lambda p: (-len(p), p))
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")")


def run_stage(path: Path, rules: str | None, max_words: int) -> dict[str, Any]:
    from recaudit.audit import JsonSource
    from recaudit.engine import RuleEvaluationError, context_for, evaluate_rule
    from recaudit.parallel import GC_THRESHOLD
    from recaudit.records import SourcedRecord
    from recaudit.rulepack import load_pack

    pack = load_pack(rules)
    ctx = context_for(pack)
    phrases = trigger_phrases(pack)
    union = floor_regex(phrases)
    per_rule = dict.fromkeys((r.id for r in pack.rules), 0.0)
    records = words = matches = failures = 0
    parse = floor = evaluate = 0.0
    # CPU time of this process: on a shared machine wall time would count the neighbours.
    clock = time.process_time
    # The collector as the command runs evaluation (parallel.evaluate_stream).
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    items = iter(JsonSource(path).items())
    # Warm-up, untimed: the first text evaluation imports spaCy and builds the pipeline
    # (start-up is part of the whole-command figures, not of this throughput).
    for item in items:
        if isinstance(item, SourcedRecord):
            for rule in pack.rules:
                with contextlib.suppress(RuleEvaluationError):
                    evaluate_rule(rule, item.record, ctx)
            break
    while words < max_words:
        t0 = clock()
        item = next(items, None)
        parse += clock() - t0
        if item is None:
            break
        if not isinstance(item, SourcedRecord):
            continue
        record = item.record
        texts = [note.text for note in record.notes]
        t0 = clock()
        for text in texts:
            matches += len(union.findall(text.lower()))
        floor += clock() - t0
        for rule in pack.rules:
            t0 = clock()
            try:
                evaluate_rule(rule, record, ctx)
            except RuleEvaluationError:
                failures += 1
            spent = clock() - t0
            per_rule[rule.id] += spent
            evaluate += spent
        records += 1
        words += sum(len(t.split()) for t in texts)
    return {
        "records": records,
        "words": words,
        "rule_failures": failures,
        "parse_seconds": round(parse, 3),
        "clock": "process CPU time",
        "evaluate_seconds": round(evaluate, 3),
        "words_per_s": round(words / evaluate) if evaluate else None,
        "records_per_s": round(records / evaluate, 1) if evaluate else None,
        "per_rule_seconds": {k: round(v, 3) for k, v in per_rule.items()},
        "floor": {
            "phrases": len(phrases),
            "matches": matches,
            "seconds": round(floor, 3),
            "words_per_s": round(words / floor) if floor else None,
        },
        "stage_over_floor": round(evaluate / floor, 1) if floor else None,
    }


# -- start-up ----------------------------------------------------------------------------
def time_startup(args: list[str], runs: int = 7) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "recaudit", *args]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=ENV, capture_output=True)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            return {"command": " ".join(args), "error": done.stderr.decode(errors="replace")[-300:]}
    return {
        "command": "python -m recaudit " + " ".join(args),
        "median_ms": round(statistics.median(samples) * 1000),
        "min_ms": round(min(samples) * 1000),
    }


# -- how parallel the machine is right now ------------------------------------------------
def _burn(n: int = 3_000_000) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_ceiling(jobs: int = 2) -> float:
    """Speed-up of `jobs` copies of a pure-CPU loop run at once over one after another.

    On a shared machine other work takes cores away; this says what speed-up `--jobs`
    could show at all at the time of the run (about `jobs` on an idle machine)."""
    import multiprocessing

    start = time.perf_counter()
    for _ in range(jobs):
        _burn()
    serial = time.perf_counter() - start
    context = multiprocessing.get_context("fork")
    start = time.perf_counter()
    procs = [context.Process(target=_burn) for _ in range(jobs)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return round(serial / (time.perf_counter() - start), 2)


# -- report --------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    return benchmark_machine(("spacy", "pydantic", "openpyxl", "jinja2", "lxml", "ahocorasick-rs"))


def table(result: dict[str, Any]) -> str:
    lines = [
        "| measure | words | jobs | seconds | records/s | words/s | words/CPU-s | load "
        "| peak RSS MB | tree PSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in result["command"]:
        lines.append(
            f"| whole `recaudit audit` | {run['words']:,} | {run['jobs']} | {run['seconds']} | "
            f"{run['records_per_s']:,} | {run['words_per_s']:,} | "
            f"{run.get('words_per_cpu_s', 0):,} | {run.get('load_before', '')} | "
            f"{run['peak_rss_mb']} | {run['peak_tree_pss_mb']} |"
        )
    stage = result.get("stage")
    if stage:
        lines.append(
            f"| rule evaluation only | {stage['words']:,} | 1 | {stage['evaluate_seconds']} | "
            f"{stage['records_per_s']:,} | {stage['words_per_s']:,} | | | | |"
        )
        floor = stage["floor"]
        lines.append(
            f"| `re` floor ({floor['phrases']} phrases) | {stage['words']:,} | 1 | "
            f"{floor['seconds']} | | {floor['words_per_s']:,} | | | | |"
        )
    out = "\n".join(lines)
    notes = []
    if stage:
        notes.append(f"rule evaluation / `re` floor: {stage['stage_over_floor']}x")
        notes.append(
            "time per rule (s): "
            + ", ".join(f"{k} {v}" for k, v in stage["per_rule_seconds"].items())
        )
    by_words: dict[int, dict[int, dict[str, Any]]] = {}
    for run in result["command"]:
        by_words.setdefault(run["words"], {})[run["jobs"]] = run
    for words, runs in sorted(by_words.items()):
        if 1 in runs and stage and stage["floor"]["words_per_s"]:
            notes.append(
                f"whole command at {words:,} words, --jobs 1 / `re` floor: "
                f"{stage['floor']['words_per_s'] / runs[1]['words_per_s']:.1f}x slower"
            )
        for jobs, run in sorted(runs.items()):
            if jobs > 1 and 1 in runs:
                notes.append(
                    f"speed-up --jobs {jobs} vs 1 at {words:,} words: "
                    f"{runs[1]['seconds'] / run['seconds']:.2f}x"
                )
    ones = sorted((w, r[1]) for w, r in by_words.items() if 1 in r)
    if len(ones) >= 2:
        (small_w, small), (big_w, big) = ones[0], ones[-1]
        notes.append(
            f"peak RSS --jobs 1, {big_w:,} vs {small_w:,} words: "
            f"{big['peak_rss_mb'] / small['peak_rss_mb']:.2f}x ({big['peak_rss_mb']} MB)"
        )
    if result.get("parallel_ceiling"):
        notes.append(
            "a pure-CPU loop on 2 processes at the time of these runs: "
            + ", ".join(f"{x}x" for x in result["parallel_ceiling"])
            + " faster than on 1 (about 2x on an idle 2-core machine)"
        )
    for item in result.get("startup", []):
        if "median_ms" in item:
            notes.append(
                f"`{item['command']}`: {item['median_ms']} ms (median), {item['min_ms']} ms (min)"
            )
    return out + "\n\n" + "\n".join(f"- {n}" for n in notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--words",
        type=float,
        nargs="+",
        default=[3e6, 30e6],
        help="corpus sizes for the whole-command runs",
    )
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--big-jobs",
        type=int,
        nargs="*",
        default=[1],
        help="jobs values used for sizes above the smallest (memory runs)",
    )
    parser.add_argument("--stage-words", type=float, default=1e6)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per whole-command measure (the fastest kept)"
    )
    parser.add_argument("--rules", default=None, help="rule pack (default: the shipped default)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--skip-command", action="store_true")
    parser.add_argument("--skip-stage", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--label", default="", help="suffix for the results file name")
    parser.add_argument(
        "--no-bytecode-cache",
        dest="bytecode_cache",
        action="store_false",
        help="Keep the environment as it is (e.g. PYTHONDONTWRITEBYTECODE=1: every run "
        "compiles recaudit's modules from source, which an installed wheel never does).",
    )
    args = parser.parse_args(argv)
    global ENV
    ENV = child_env(args.bytecode_cache)
    if args.bytecode_cache:
        compile_sources(ENV)

    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "rules": args.rules or "wales-children (default)",
        "argv": sys.argv[1:],
        "bytecode_cache": args.bytecode_cache,
        "command": [],
    }
    if not args.skip_startup:
        result["startup"] = [time_startup(["--help"]), time_startup(["rules", "list"])]
    if not args.skip_stage:
        path, _ = ensure_corpus(int(args.stage_words), args.seed)
        print("rule evaluation stage + re floor ...", file=sys.stderr, flush=True)
        result["stage"] = run_stage(path, args.rules, int(args.stage_words))
    if not args.skip_command:
        sizes = sorted(int(w) for w in args.words)
        for words in sizes:
            path, counts = ensure_corpus(words, args.seed)
            if any(j > 1 for j in args.jobs):
                result.setdefault("parallel_ceiling", []).append(parallel_ceiling())
            for jobs in args.jobs if words == sizes[0] else args.big_jobs:
                print(
                    f"recaudit audit: {words:,} words, --jobs {jobs} ...",
                    file=sys.stderr,
                    flush=True,
                )
                runs = [run_command(path, counts, jobs, args.rules) for _ in range(args.repeat)]
                # On a shared machine the fastest run is the one least slowed by others.
                best = min(runs, key=lambda r: r["seconds"])
                best["repeats_seconds"] = [r["seconds"] for r in runs]
                result["command"].append(best)

    path = write_result(result, "", args.label)
    print(table(result))
    print(f"\nwrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
