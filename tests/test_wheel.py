"""The shipped rule packs and templates travel inside the wheel, not only in a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    return next(out.glob("recaudit-*.whl"))


def test_wheel_contains_rules_templates_and_console_script(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "recaudit/rules/wales-children/pack.yaml" in names
    assert any(n.startswith("recaudit/rules/wales-children/rules/") for n in names)
    assert any(n.startswith("recaudit/templates/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "recaudit = recaudit.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_audits_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """Install into a throwaway target dir and run from elsewhere: rules come from the wheel."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import recaudit.resources as r; from recaudit.rulepack import load_pack;"
        "p = load_pack('wales-children'); print(r.rules_dir()); print(len(p.rules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    rules_dir, count = done.stdout.split()
    assert Path(rules_dir).is_relative_to(target)
    assert int(count) == 7
