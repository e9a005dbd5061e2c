"""Start-up time of the light commands (issue 8: `--help` and `rules list` under 300 ms).

    python benchmarks/startup.py                 # 31 runs of each command, interleaved
    python benchmarks/startup.py --runs 51 --json benchmarks/results/startup.json

Each command runs in a fresh interpreter (`python -m recaudit ...`) with the checkout's
code first on the path. `rules list` is timed twice: as it runs every time but the first
for a pack (its listing recorded in a cache folder of this benchmark's own, see
`recaudit.rulepack.listcache`), and with RECAUDIT_NO_CACHE=1: the first run for a pack,
or after it or recaudit changed, which loads and checks the whole pack.

Reported per command: the median and minimum wall time, and the median CPU time (user +
system) of the child. On a machine shared with other work, wall time swings with the
load; CPU time swings less, so compare before/after on it and quote the wall median with
the load average printed beside it. `python -c pass` is timed the same way: the part of
every figure that no change to recaudit can remove.

The commands are interleaved (one run of each, then the next round) so that a burst of
load elsewhere affects them all alike rather than one command's whole sample.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import SRC  # noqa: E402
from machine import child_env as python_env  # noqa: E402

LISTINGS = REPO / "benchmarks" / ".cache" / "listings"


def child_env(bytecode_cache: bool, src: Path = SRC) -> dict[str, str]:
    """The children's environment (`machine.child_env`: by default bytecode is cached, as
    in an installed wheel, so the warm-up run compiles and the rest reuse it), with this
    benchmark's own listing cache."""
    env = {k: v for k, v in python_env(bytecode_cache, src).items() if k != "RECAUDIT_NO_CACHE"}
    return {**env, "RECAUDIT_CACHE_DIR": str(LISTINGS)}


LIST = ["-m", "recaudit", "rules", "list"]
# Name -> (arguments to python, extra environment).
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "python -c pass": (["-c", "pass"], {}),
    "recaudit --help": (["-m", "recaudit", "--help"], {}),
    "recaudit --version": (["-m", "recaudit", "--version"], {}),
    "recaudit rules list": (LIST, {}),
    "recaudit rules list --format csv": ([*LIST, "-f", "csv"], {}),
    "recaudit rules list --format json": ([*LIST, "-f", "json"], {}),
    "recaudit rules list wales-children-timescales": ([*LIST, "wales-children-timescales"], {}),
    "recaudit rules list (not recorded)": (LIST, {"RECAUDIT_NO_CACHE": "1"}),
    "recaudit rules list wales-children-timescales (not recorded)": (
        [*LIST, "wales-children-timescales"],
        {"RECAUDIT_NO_CACHE": "1"},
    ),
}


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run; raises when the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{args}: exit {done.returncode}: {done.stderr.decode()[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    names: list[str], runs: int, envs: dict[str, dict[str, str]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Figures by checkout label, then command; all runs interleaved, round by round."""
    jobs = [(label, name) for name in names for label in envs]
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {job: [] for job in jobs}

    def once(label: str, name: str) -> tuple[float, float]:
        args, extra = COMMANDS[name]
        return run_once(args, {**envs[label], **extra})

    # One warm-up each: the first run pays for cold file caches, bytecode, the listing.
    for job in jobs:
        once(*job)
    for _ in range(runs):
        for job in jobs:
            samples[job].append(once(*job))
    out: dict[str, dict[str, dict[str, Any]]] = {label: {} for label in envs}
    for (label, name), pairs in samples.items():
        walls = [w for w, _ in pairs]
        cpus = [c for _, c in pairs]
        out[label][name] = {
            "wall_median_ms": round(statistics.median(walls) * 1000),
            "wall_min_ms": round(min(walls) * 1000),
            "cpu_median_ms": round(statistics.median(cpus) * 1000),
            "runs": runs,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--only", nargs="*", choices=sorted(COMMANDS), help="Commands to time.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="Another checkout (e.g. `git worktree add /tmp/before COMMIT`) whose code is "
        "timed too, interleaved with this one's: a before/after under the same load.",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        dest="bytecode_cache",
        action="store_false",
        help="Keep the environment as it is (e.g. PYTHONDONTWRITEBYTECODE=1: compile from "
        "source on every run, as `benchmarks/run.py` does in such an environment).",
    )
    args = parser.parse_args()
    names = args.only or list(COMMANDS)
    envs = {"this checkout": child_env(args.bytecode_cache)}
    if args.baseline:
        envs["baseline"] = child_env(args.bytecode_cache, (args.baseline / "src").resolve())
    load_before = os.getloadavg()
    figures = measure(names, args.runs, envs)
    load_after = os.getloadavg()
    cache = "bytecode cached" if args.bytecode_cache else "environment as is"
    width = max(map(len, names))
    print(f"{args.runs} runs each, {cache}")
    # Per checkout: wall median, wall minimum, CPU median (9 + 9 + 11 characters).
    print(f"{'':<{width}}" + "".join(f"{label:>29}" for label in envs))
    print(f"{'command':<{width}}" + f"{'wall med':>9}{'min':>9}{'cpu med':>11}" * len(envs))
    for name in names:
        row = f"{name:<{width}}"
        for label in envs:
            f = figures[label][name]
            row += f"{f['wall_median_ms']:>6} ms{f['wall_min_ms']:>6} ms{f['cpu_median_ms']:>8} ms"
        print(row)
    print(
        f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"{os.cpu_count()} cores"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "figures": figures,
                    "baseline": str(args.baseline) if args.baseline else None,
                    "bytecode_cache": args.bytecode_cache,
                    "load_before": load_before,
                    "load_after": load_after,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
