"""`audit.xlsx` (first version: summary + findings; see issue 4 for the full workbook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from recaudit.audit import Audit

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(sheet: Any, value: Any) -> WriteOnlyCell:
    """The one place record text enters the workbook: always as text, never a formula."""
    cell = WriteOnlyCell(sheet)
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = text
        cell.data_type = "s"
        if text.startswith(_FORMULA_START):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def write_workbook(audit: Audit, path: Path, **_: Any) -> Path:
    book = Workbook(write_only=True)
    summary = book.create_sheet("Summary")
    summary.append([safe_cell(summary, v) for v in ("Rule", "Applicable", "Met", "Compliance")])
    for rule in audit.pack.rules:
        tally = audit.service.rules.get(rule.id)
        if tally:
            summary.append(
                [
                    safe_cell(summary, v)
                    for v in (rule.id, tally.applicable, tally.met, tally.compliance)
                ]
            )
    findings = book.create_sheet("Findings")
    findings.append(
        [safe_cell(findings, v) for v in ("record_id", "rule_id", "outcome", "reason", "evidence")]
    )
    for record in audit.records:
        for res in record.results:
            evidence = " | ".join(f"{e.note_id}: {e.text}" for e in res.evidence)
            findings.append(
                [
                    safe_cell(findings, v)
                    for v in (record.record_id, res.rule_id, res.outcome, res.reason, evidence)
                ]
            )
    book.save(path)
    return path
