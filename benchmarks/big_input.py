"""Peak memory of `recaudit audit` on a 200 MB JSON Lines input (issue 7: flat memory).

    PYTHONPATH=src python benchmarks/big_input.py                  # 20 MB and 200 MB, field rules
    PYTHONPATH=src python benchmarks/big_input.py --mb 200 --rules wales-children --jobs 4

Inputs come from `benchmarks/corpus.py` (deterministic), cut at the requested size and cached
in benchmarks/.cache. Each audit runs as `python -m recaudit audit FILE --format json` in a
subprocess; its peak resident set size is read from `wait4` (the largest of the process and
its children, as the kernel reports it). Flat memory means the 200 MB figure is close to the
20 MB one. The default rules are the four structured-field rules (tests/fixtures/mapping/pack)
with the anonymisation guard on, which reads every note; `--rules wales-children` adds the
text rules (slow: about 10 minutes per 30 M words per core).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

FIELD_PACK = REPO / "tests" / "fixtures" / "mapping" / "pack"


def make_input(megabytes: int, seed: int = 2023) -> tuple[Path, int]:
    """A JSONL file of about `megabytes` MB (cached); returns it and its record count."""
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    path = cache / f"big-{megabytes}mb-{seed}.jsonl"
    count_file = path.with_suffix(".count")
    if path.is_file() and count_file.is_file():
        return path, int(count_file.read_text())
    target = megabytes * 1_000_000
    written = count = 0
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="\n") as out:
        for record in corpus.iter_records(words=10**12, seed=seed):
            line = json.dumps(record, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            count += 1
            if written >= target:
                break
    partial.replace(path)
    count_file.write_text(str(count))
    return path, count


def audit_peak_rss(path: Path, rules: str, jobs: int) -> dict[str, object]:
    """Run the audit in a subprocess; peak RSS (MiB) from wait4, wall time, audit figures."""
    with tempfile.TemporaryDirectory(prefix="recaudit-big-") as tmp:
        command = [
            sys.executable, "-m", "recaudit", "audit", str(path), "--rules", rules,
            "--format", "json", "--jobs", str(jobs), "--out", tmp,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        stderr = process.stderr.read().decode() if process.stderr else ""
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"audit failed ({status}):\n{stderr}")
        with (Path(tmp) / "audit.json").open(encoding="utf-8") as handle:
            head = {}
            for line in handle:
                if line.startswith('"summary"'):
                    head = json.loads(line.split(":", 1)[1].rstrip().rstrip(","))
                    break
    return {
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is KiB on Linux
        "audited": head.get("audited"),
        "rejected": head.get("rejected"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--rules", default=str(FIELD_PACK))
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    for megabytes in args.mb:
        path, count = make_input(megabytes)
        size = path.stat().st_size / 1_000_000
        result = audit_peak_rss(path, args.rules, args.jobs)
        print(
            f"{size:6.0f} MB, {count:>7} records: peak RSS {result['peak_rss_mib']} MiB, "
            f"{result['seconds']} s, audited {result['audited']}, rejected {result['rejected']} "
            f"(rules {Path(args.rules).name}, jobs {args.jobs})",
            flush=True,
        )


if __name__ == "__main__":
    main()
