"""The README's two set-up commands are the ones CI and users actually run."""

from __future__ import annotations

import re

from conftest import REPO


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quick_start)


def test_readme_has_the_two_commands() -> None:
    install_and_audit, install_and_test = _commands()[:2]
    assert "recaudit audit samples/records.jsonl" in install_and_audit
    assert "pip install" in install_and_audit
    assert "'.[test]'" in install_and_test and "pytest" in install_and_test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    install_and_test = _commands()[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test in ci.splitlines()
    assert "set -euo pipefail" in ci  # a failing test fails CI
