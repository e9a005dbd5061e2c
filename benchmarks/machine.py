"""What a benchmark result was measured on (CPU, cores, load, Python, package versions,
commit), and where it is written. Shared by the benchmark scripts so their JSON results
compare."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


def machine(packages: Iterable[str]) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
    }


def write_result(result: dict[str, Any], kind: str, label: str) -> Path:
    """Write `result` to benchmarks/results/STAMP[-KIND][-LABEL].json (STAMP from its
    "when"); returns the path."""
    RESULTS.mkdir(exist_ok=True)
    stamp = result["when"].replace(":", "").replace("-", "")[:15]
    name = "-".join(filter(None, [stamp, kind, label])) + ".json"
    path = RESULTS / name
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
