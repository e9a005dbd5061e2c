"""A real spreadsheet application opens the workbook: LibreOffice converts every sheet to CSV.

Skipped (with a message) when LibreOffice is not installed; CI installs it (`.ci/run`).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
from test_excel import DEFAULT_PACK_RECORDS, HYPERLINK, SHEETS, load_support

from recaudit.audit import Audit, run_audit
from recaudit.report.excel import write_workbook

pytestmark = pytest.mark.libreoffice

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# Every sheet (last token -1) as UTF-8 (76), comma-separated, text quoted with ".
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def convert_to_csv(book: Path, out: Path, profile: Path) -> dict[str, list[list[str]]]:
    if SOFFICE is None:
        pytest.skip(
            "LibreOffice (soffice/libreoffice) is not on PATH; apt install libreoffice-calc"
        )
    out.mkdir()
    done = subprocess.run(
        [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
         "--convert-to", CSV_FILTER, "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sheets = {}
    for path in sorted(out.glob(f"{book.stem}-*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            sheets[path.stem.removeprefix(f"{book.stem}-")] = list(csv.reader(handle))
    return sheets


@pytest.fixture(scope="module")
def audit() -> Audit:
    return load_support().fixture_audit()


def test_every_sheet_converts_and_formulas_stay_text(audit: Audit, tmp_path: Path) -> None:
    book = write_workbook(audit, tmp_path / "audit.xlsx")
    sheets = convert_to_csv(book, tmp_path / "csv", tmp_path / "lo-profile")
    assert sorted(sheets) == sorted(SHEETS)
    header, *findings = sheets["Findings"]
    rows = [dict(zip(header, row, strict=True)) for row in findings]
    row = next(r for r in rows if (r["Record"], r["Rule"]) == ("EX-002", "voice-of-child"))
    # Shown literally, not computed (a computed HYPERLINK would export as "x").
    assert row["Evidence"].startswith(HYPERLINK)
    assert row["Evidence"] == HYPERLINK + " Child told me about the visit."
    assert row["Note date"] == "2024-02-03"
    assert {r["Team"] for r in rows if r["Record"] == "EX-003"} == {"=1+1"}
    assert any(r["Evidence"].startswith("-2+3 ") for r in rows)
    assert {r["Worker"] for r in rows if r["Record"] == "EX-007"} == {"@admin"}
    records = sheets["Records"]
    assert [r[0] for r in records[1:]] == [r.record_id for r in audit.records]
    assert sheets["Summary"][5][:2] == ["Rule pack", "excel-fixture"]


def test_continuation_and_worker_workbooks_open(audit: Audit, tmp_path: Path) -> None:
    book = write_workbook(audit, tmp_path / "small.xlsx", per_worker=True, max_rows=5)
    sheets = convert_to_csv(book, tmp_path / "csv", tmp_path / "lo-profile")
    parts = [name for name in sheets if name.startswith("Findings")]
    assert len(parts) == 6
    assert sum(len(sheets[name]) - 1 for name in parts) == 23
    worker = next((tmp_path / "workers").glob("x-*.xlsx"))  # the worker "../../x"
    worker_sheets = convert_to_csv(worker, tmp_path / "csv-worker", tmp_path / "lo-profile")
    assert [r[0] for r in worker_sheets["Records"][1:]] == ["EX-003"]


def test_default_pack_evidence_context_shows_formula_text_literally(tmp_path: Path) -> None:
    audit = run_audit([DEFAULT_PACK_RECORDS], now=load_support().NOW)
    book = write_workbook(audit, tmp_path / "audit.xlsx")
    sheets = convert_to_csv(book, tmp_path / "csv", tmp_path / "lo-profile")
    header, *findings = sheets["Findings"]
    rows = [dict(zip(header, row, strict=True)) for row in findings]
    offer = next(r for r in rows if (r["Record"], r["Rule"]) == ("DP-001", "advocacy-active-offer"))
    assert offer["In context"] == HYPERLINK + " Active offer of advocacy made to Child S2 today."
    voice = next(r for r in rows if (r["Record"], r["Rule"]) == ("DP-002", "voice-of-child"))
    assert voice["In context"].startswith("+44 Child S1 said")
