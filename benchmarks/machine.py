"""What a benchmark result was measured on (CPU, cores, load, Python, package versions,
commit), and where it is written. Shared by the benchmark scripts so their JSON results
compare."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SRC = REPO / "src"
PYCACHE = REPO / "benchmarks" / ".cache" / "pycache"


def child_env(bytecode_cache: bool = True, src: Path = SRC) -> dict[str, str]:
    """The environment of a timed `python -m recaudit …` child: the checkout's code first on
    the path. An installed wheel has its bytecode compiled at install time; a checkout run
    with PYTHONDONTWRITEBYTECODE compiles every recaudit module from source on every start.
    With `bytecode_cache` (the default) the installed case is timed: bytecode is written to
    and read from benchmarks/.cache/pycache (see `compile_sources`)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    if not bytecode_cache:
        return env
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE)}


def compile_sources(env: dict[str, str], src: Path = SRC) -> None:
    """Compile the checkout's modules into the children's bytecode cache before timing, as
    `pip install` does, so no measured run pays for it."""
    cmd = [sys.executable, "-m", "compileall", "-q", str(src / "recaudit")]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


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
