"""`recaudit rules ...` end to end through the real CLI (typer's runner, real files)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from recaudit.cli import rules_app

REPO = Path(__file__).resolve().parents[1]
PACKS = REPO / "tests" / "fixtures" / "packs"
BASE = PACKS / "fields-base"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(rules_app, list(args))


def test_validate_reports_every_error_and_exits_2() -> None:
    result = run("validate", str(PACKS / "broken"))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if ": error: " in line]
    assert [line.split(": error: ")[0] for line in lines] == [
        "broken/rules/local.yaml:6:3",
        "broken/rules/local.yaml:12:3",
        "broken/rules/local.yaml:18:3",
        "broken/pack.yaml:9:3",
    ]


def test_validate_ok() -> None:
    result = run("validate", str(BASE))
    assert result.exit_code == 0, result.output
    assert "fields-base 1.0.0: 4 rule(s) OK" in result.output


def test_list_formats() -> None:
    as_csv = run("list", str(BASE), "--format", "csv")
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [r["id"] for r in rows][:2] == ["siblings-recorded", "ethnicity-recorded"]
    assert rows[1]["identity"].startswith("sha256:")
    as_json = json.loads(run("list", str(BASE), "--format", "json").output)
    assert as_json["pack"]["name"] == "fields-base" and len(as_json["rules"]) == 4
    table = run("list", str(BASE))
    assert table.exit_code == 0 and "religion-recorded" in table.output
    assert run("list", str(BASE), "--format", "xml").exit_code == 2


def test_show_and_show_pack(tmp_path: Path) -> None:
    shown = run("show", "ethnicity-recorded", "--rules", str(BASE))
    assert shown.exit_code == 0
    definition = yaml.safe_load(shown.output)
    assert definition["field"] == "child.ethnicity"
    assert definition["lexicons_used"] == ["placeholders"]
    assert run("show", "nope", "--rules", str(BASE)).exit_code == 2

    shutil.copytree(BASE, tmp_path / "fields-base")
    local = tmp_path / "local"
    local.mkdir()
    (local / "pack.yaml").write_text(
        "name: local\nversion: '1'\nextends: [../fields-base]\n"
        "overrides:\n  religion-recorded: {enabled: false}\n  ethnicity-recorded: {weight: 2}\n"
    )
    resolved = yaml.safe_load(run("show-pack", str(local)).output)
    assert resolved["extends"] == ["fields-base 1.0.0"]
    assert resolved["disabled"] == ["religion-recorded"]
    weights = {r["id"]: r["weight"] for r in resolved["rules"]}
    assert weights == {
        "siblings-recorded": 1.0,
        "ethnicity-recorded": 2.0,
        "language-recorded": 1.0,
    }


def test_rules_test_passes_and_counts() -> None:
    result = run("test", str(BASE))
    assert result.exit_code == 0, result.output
    assert "21 expectation(s) passed" in result.output


def test_rules_test_failure_and_unknown_rule(tmp_path: Path) -> None:
    pack = shutil.copytree(BASE, tmp_path / "p")
    (pack / "tests" / "wrong.yaml").write_text(
        "defaults: {case_type: early_help}\n"
        "cases:\n"
        "  - name: wrong expectation\n"
        "    record: {child: {ethnicity: WBRI}}\n"
        "    expect: {ethnicity-recorded: not_met}\n"
    )
    failed = run("test", str(pack))
    assert failed.exit_code == 1
    assert "p/tests/wrong.yaml:5:14: FAIL ethnicity-recorded in 'wrong expectation'" in (
        failed.output.replace("\n", " ")
    )
    (pack / "tests" / "wrong.yaml").write_text(
        "cases:\n"
        "  - name: unknown rule\n"
        "    record: {case_type: early_help}\n"
        "    expect: {ethnicity-recordd: met}\n"
    )
    unknown = run("test", str(pack))
    assert unknown.exit_code == 2
    assert "p/tests/wrong.yaml:4:14: error: expect: unknown rule 'ethnicity-recordd'" in (
        unknown.output.replace("\n", " ")
    )


def test_init_scaffolds_a_pack_whose_tests_pass(tmp_path: Path) -> None:
    dest = tmp_path / "my-council"
    result = run("init", "my-council", "--extends", str(BASE), "--dir", str(dest))
    assert result.exit_code == 0, result.output
    assert (dest / "pack.yaml").is_file() and (dest / "tests" / "ethnicity-coded.yaml").is_file()
    tested = run("test", str(dest))
    assert tested.exit_code == 0, tested.output
    assert "4 expectation(s) passed" in tested.output
    assert run("init", "my-council", "--extends", str(BASE), "--dir", str(dest)).exit_code == 2


def test_rules_list_does_not_import_spacy() -> None:
    code = (
        "import sys; from recaudit.cli import rules_app\n"
        "try:\n    rules_app(['list', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "print('SPACY' if 'spacy' in sys.modules else 'NO-SPACY')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(BASE)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        check=True,
    )
    assert out.stdout.strip().endswith("NO-SPACY")
