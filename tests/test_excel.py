"""The audit workbook, opened for real with openpyxl after running the real pipeline."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from recaudit.audit import Audit, run_audit, write_reports
from recaudit.privacy import IdentifierFinding
from recaudit.report.excel import (
    AUDITOR_CHOICES,
    EXCEL_MAX_CELL_CHARS,
    FORMULA_TRIGGERS,
    OUTCOME_LABELS,
    RagBands,
    clean_text,
    truncation_mark,
    write_workbook,
)
from recaudit.report.filenames import unique_filenames

SUPPORT_FILE = Path(__file__).resolve().parent / "fixtures" / "excel" / "support.py"
HYPERLINK = '=HYPERLINK("http://example.invalid","x")'
SHEETS = ["Summary", "By team", "By worker", "Records", "Findings", "Rejected", "Rules"]


def load_support() -> ModuleType:
    """tests/fixtures/excel/support.py (the fixture pack's note kind), imported once."""
    name = "recaudit_excel_test_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SUPPORT_FILE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def audit() -> Audit:
    return load_support().fixture_audit()


@pytest.fixture(scope="module")
def out_dir(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_reports(audit, out, ("json", "xlsx"), per_worker=True)
    return out


@pytest.fixture(scope="module")
def book(out_dir: Path) -> Workbook:
    return load_workbook(out_dir / "audit.xlsx")


@pytest.fixture(scope="module")
def doc(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))


def rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def table_rows(sheet: Worksheet) -> list[dict[str, Any]]:
    header, *body = rows(sheet)
    return [dict(zip(header, row, strict=True)) for row in body]


def summary_pairs(sheet: Worksheet) -> dict[str, Any]:
    return {row[0]: row[1] for row in rows(sheet) if isinstance(row[0], str)}


def find_row(sheet: Worksheet, first: str) -> int:
    return next(r[0].row for r in sheet.iter_rows() if r[0].value == first)


def all_cells(book: Workbook) -> Iterator[Any]:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


# --- structure ------------------------------------------------------------------------


def test_sheets_and_headers(book: Workbook, doc: dict[str, Any]) -> None:
    assert book.sheetnames == SHEETS  # no Privacy sheet: nothing was found
    rule_ids = [r["id"] for r in doc["rule_pack"]["rules"]]
    group = ["Records", "Score", "Grade", "RAG", *rule_ids]
    expected = {
        "By team": ["Team", *group],
        "By worker": ["Worker", *group],
        "Records": ["Record", "Source", "Worker", "Team", "Case type", "Score", "Grade",
                    *rule_ids],
        "Findings": ["Record", "Worker", "Team", "Case type", "Rule", "Rule title", "Outcome",
                     "Reason", "Evidence note", "Note date", "Evidence", "In context",
                     "More evidence", "Context cues", "Auditor agrees?", "Auditor comment"],
        "Rejected": ["Source", "Record", "Error"],
        "Rules": ["Rule", "Title", "Kind", "Weight", "Applies when", "Description",
                  "Guidance", "References", "Defined in", "Identity"],
    }  # fmt: skip
    for name, headers in expected.items():
        assert list(rows(book[name])[0]) == headers, name
        assert book[name].freeze_panes in ("A2", "B2"), name
    summary = book["Summary"]
    header = rows(summary)[find_row(summary, "Rule") - 1]
    assert list(header) == ["Rule", "Title", "Applicable", "Met", "Partial", "Not met",
                            "Not applicable", "Compliance", "RAG", "Weight"]  # fmt: skip


def test_summary_metadata_matches_audit_json(book: Workbook, doc: dict[str, Any]) -> None:
    pairs = summary_pairs(book["Summary"])
    pack = doc["rule_pack"]
    assert pairs["Tool"] == f"recaudit {doc['tool']['version']}"
    assert pairs["Rule pack"] == pack["name"] == "excel-fixture"
    assert pairs["Rule pack version"] == pack["version"] == "0.3.0"
    assert pairs["Rule pack sha256"] == pack["sha256"]
    assert pairs["Audit period"] == doc["metadata"]["audit_period"] == "2024-25 Q1"
    assert pairs["Generated at (UTC)"] == doc["metadata"]["generated_at"]
    assert pairs["Version: openpyxl"] == doc["metadata"]["versions"]["openpyxl"]
    summary = doc["summary"]
    assert pairs["Records read"] == summary["records_in"] == 11
    assert pairs["Records audited"] == summary["audited"] == 8
    assert pairs["Records rejected"] == summary["rejected"] == 3
    assert pairs["Service score"] == pytest.approx(summary["service"]["score"])
    assert pairs["Service grade"] == summary["service"]["grade"]
    (only,) = doc["inputs"]
    sheet = book["Summary"]
    input_row = rows(sheet)[find_row(sheet, "Input file")]
    assert input_row[:4] == (only["path"], only["sha256"], only["records"], only["rejected"])


def test_summary_rule_table_rag_and_chart(
    book: Workbook, doc: dict[str, Any], out_dir: Path
) -> None:
    sheet = book["Summary"]
    start = find_row(sheet, "Rule")
    service = doc["summary"]["service"]["rules"]
    bands = RagBands(0.85, 0.65)  # the fixture pack's two top grade bands
    for offset, rule in enumerate(doc["rule_pack"]["rules"], start=1):
        cells = next(sheet.iter_rows(min_row=start + offset, max_row=start + offset))
        values = [c.value for c in cells]
        counts = service[rule["id"]]
        assert values[0] == rule["id"]
        assert values[2:7] == [counts["applicable"], counts["met"], counts["partial"],
                               counts["not_met"], counts["not_applicable"]]  # fmt: skip
        assert values[7] == pytest.approx(counts["compliance"])
        assert cells[7].number_format == "0.0%"  # a number, shown as a percentage
        assert values[8] == bands.label(counts["compliance"])  # the text label
    # voice: 5 met of 7 applicable = 71.4% → Amber between 65% and 85%.
    assert service["voice-of-child"]["compliance"] == pytest.approx(5 / 7, abs=1e-6)
    labels = [rows(sheet)[start + i][8] for i in range(3)]
    assert labels == ["Amber", "Amber", "Amber"]
    # Colour: RAG formats on the compliance column and the label column.
    ranges = {str(cf.sqref): cf.rules for cf in sheet.conditional_formatting}
    last = start + 3
    compliance = ranges[f"H{start + 1}:H{last}"]
    assert [r.formula[0] for r in compliance] == [
        f"AND(ISNUMBER(H{start + 1}),H{start + 1}>=0.85)",
        f"AND(ISNUMBER(H{start + 1}),H{start + 1}>=0.65)",
        f"ISNUMBER(H{start + 1})",
    ]
    assert [r.dxf.fill.fgColor.rgb[-6:] for r in compliance] == ["C6EFCE", "FFEB9C", "FFC7CE"]
    assert f"I{start + 1}:I{last}" in ranges
    # The chart plots the compliance column by rule id.
    with zipfile.ZipFile(out_dir / "audit.xlsx") as archive:
        charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1
        xml = archive.read(charts[0]).decode()
    assert "<barChart>" in xml and '<barDir val="bar"/>' in xml
    assert f"'Summary'!$H${start + 1}:$H${last}" in xml
    assert f"'Summary'!$A${start + 1}:$A${last}" in xml


def test_group_sheets_match_audit_json(book: Workbook, doc: dict[str, Any]) -> None:
    for sheet_name, key, label in (
        ("By team", "teams", "Team"),
        ("By worker", "workers", "Worker"),
    ):
        body = table_rows(book[sheet_name])
        expected = doc["summary"][key]
        assert [r[label] for r in body] == [g[key[:-1]] for g in expected]
        for row, group in zip(body, expected, strict=True):
            assert row["Records"] == group["records"]
            assert row["Score"] == pytest.approx(group["score"])
            assert row["Grade"] == group["grade"]
            for rule_id, counts in group["rules"].items():
                assert row[rule_id] == pytest.approx(counts["compliance"])
        sheet = book[sheet_name]
        assert sheet["C2"].number_format == "0.0%"
        refs = {str(cf.sqref) for cf in sheet.conditional_formatting}
        assert f"F2:H{len(body) + 1}" in refs  # per-rule compliance, RAG-coloured
    workers = table_rows(book["By worker"])
    assert {r["Worker"] for r in workers} == {
        "(unallocated)", "../../x", "@admin", "CON", "SW-01", "SW-02", "a/b"
    }  # fmt: skip
    assert sum(r["Records"] for r in workers) == doc["summary"]["audited"]


def test_records_sheet_row_for_a_known_record(book: Workbook, doc: dict[str, Any]) -> None:
    body = table_rows(book["Records"])
    assert [r["Record"] for r in body] == [r["record_id"] for r in doc["records"]]
    row = next(r for r in body if r["Record"] == "EX-004")
    assert row["Worker"] == "CON" and row["Team"] == "Team B"
    assert row["Case type"] == "care_experienced"
    assert row["Score"] == pytest.approx(0.75)  # (2 + 1 + 0) / 4 by weight
    assert row["Grade"] == "Adequate"
    assert (row["voice-of-child"], row["ethnicity-recorded"], row["religion-recorded"]) == (
        "Met", "Met", "Not met"
    )  # fmt: skip
    assert row["Source"].endswith("records.jsonl:4")
    unallocated = next(r for r in body if r["Record"] == "EX-006")
    assert (unallocated["Worker"], unallocated["Team"]) == ("(unallocated)", "(no team)")
    assert unallocated["voice-of-child"] == "Not applicable"
    for json_record in doc["records"]:
        row = next(r for r in body if r["Record"] == json_record["record_id"])
        for result in json_record["results"]:
            assert row[result["rule_id"]] == OUTCOME_LABELS[result["outcome"]]


def test_findings_rows_match_audit_json(book: Workbook, doc: dict[str, Any]) -> None:
    body = table_rows(book["Findings"])
    expected = [
        (rec["record_id"], res["rule_id"], OUTCOME_LABELS[res["outcome"]], res["reason"])
        for rec in doc["records"]
        for res in rec["results"]
        if res["outcome"] != "not_applicable"
    ]
    assert [(r["Record"], r["Rule"], r["Outcome"], r["Reason"]) for r in body] == expected
    row = next(r for r in body if (r["Record"], r["Rule"]) == ("EX-002", "voice-of-child"))
    assert row["Evidence note"] == "N1"
    assert row["Note date"].date().isoformat() == "2024-02-03"
    assert row["Evidence"] == HYPERLINK + " Child told me about the visit."
    assert row["Rule title"] == "Voice of the child"
    assert row["Auditor agrees?"] is None and row["Auditor comment"] is None
    several = next(r for r in body if (r["Record"], r["Rule"]) == ("EX-007", "voice-of-child"))
    assert several["Evidence note"] == "N2"
    assert several["More evidence"] == "N3 (undated): @cmd told me twice"
    partial = next(r for r in body if r["Outcome"] == "Partial")
    assert partial["Context cues"] == "attempt: 'tried to speak' (N1)"


def test_findings_table_pane_widths_validation_and_formats(book: Workbook) -> None:
    sheet = book["Findings"]
    last = sheet.max_row
    assert last == 24  # header + 23 applicable record × rule findings
    (table,) = sheet.tables.values()
    assert table.name == "Findings" and table.ref == f"A1:P{last}"
    assert table.tableStyleInfo.showRowStripes is True
    assert table.autoFilter.ref == table.ref
    assert [c.name for c in table.tableColumns] == list(rows(sheet)[0])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["K"].width == 60  # Evidence
    assert sheet.column_dimensions["A"].width == 14
    assert sheet["K2"].alignment.wrap_text is True
    assert sheet["H2"].alignment.wrap_text is True
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list"
    assert validation.formula1 == '"' + ",".join(AUDITOR_CHOICES) + '"' == '"Yes,No,Unsure"'
    assert str(validation.sqref) == f"O2:O{last}"
    assert validation.showErrorMessage is True
    (outcome,) = [cf for cf in sheet.conditional_formatting if str(cf.sqref) == f"G2:G{last}"]
    assert [r.formula[0] for r in outcome.rules] == ['G2="Met"', 'G2="Partial"', 'G2="Not met"']


def test_rejected_and_rules_sheets(book: Workbook, doc: dict[str, Any]) -> None:
    rejected = table_rows(book["Rejected"])
    assert [(r["Source"], r["Record"], r["Error"]) for r in rejected] == [
        (r["source"], r["record_id"], r["error"]) for r in doc["rejected"]
    ]
    assert [r["Source"].rsplit(":", 1)[1] for r in rejected] == ["5", "6", "7"]
    rules = table_rows(book["Rules"])
    assert [r["Rule"] for r in rules] == [r["id"] for r in doc["rule_pack"]["rules"]]
    voice = rules[0]
    assert voice["Title"] == "Voice of the child"
    assert voice["Weight"] == 2
    assert voice["References"] == "Fixture reference, para 1\nSecond reference"
    assert voice["Guidance"] == "Record what the child said, in their words."
    assert voice["Applies when"].startswith("case_type in")
    assert voice["Defined in"] == "pack/rules/voice.yaml:1"
    assert voice["Identity"] == doc["rule_pack"]["rules"][0]["identity"]


# --- safety ---------------------------------------------------------------------------


def test_no_formula_anywhere_and_triggers_are_quote_prefixed(book: Workbook, out_dir: Path) -> None:
    with zipfile.ZipFile(out_dir / "audit.xlsx") as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    seen = set()
    for cell in all_cells(book):
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
            assert cell.data_type == "s", cell.coordinate
            assert cell.quotePrefix, (cell.parent.title, cell.coordinate, cell.value)
            seen.add(cell.value[:5])
    # The hostile values of the fixture records all arrived as text.
    assert {"=HYPE", "=1+1", "-2+3 ", "@admi"} <= seen


def test_control_characters_are_stripped(book: Workbook) -> None:
    body = table_rows(book["Findings"])
    row = next(r for r in body if (r["Record"], r["Rule"]) == ("EX-003", "voice-of-child"))
    assert row["Evidence"] == "-2+3 Young person said the flat is cold."


def test_text_over_the_cell_limit_is_marked(book: Workbook, audit: Audit) -> None:
    body = table_rows(book["Findings"])
    row = next(r for r in body if (r["Record"], r["Rule"]) == ("EX-004", "voice-of-child"))
    full = next(
        res.evidence[0].text
        for rec in audit.records
        if rec.record_id == "EX-004"
        for res in rec.results
        if res.rule_id == "voice-of-child"
    )
    assert len(full) > EXCEL_MAX_CELL_CHARS
    text = row["Evidence"]
    assert len(text) == EXCEL_MAX_CELL_CHARS
    assert text.endswith(truncation_mark(len(full)))
    assert f"{len(full):,} characters in full" in text
    assert full.startswith(text[: -len(truncation_mark(len(full)))])


def test_clean_text_counts_utf16_units_and_handles_full_width_triggers() -> None:
    emoji = "😀" * 20_000  # 40,000 UTF-16 units
    cut = clean_text(emoji)
    assert len(cut.encode("utf-16-le")) // 2 <= EXCEL_MAX_CELL_CHARS
    assert cut.endswith(truncation_mark(20_000))
    assert clean_text("a\x00b\x0bc\ud800d\ufffe") == "abcd"
    assert clean_text("tab\tand\nline") == "tab\tand\nline"
    for trigger in ("＝", "＋", "－", "＠", "\t", "\r", "\n"):
        assert trigger in FORMULA_TRIGGERS


def test_privacy_sheet_lists_masked_findings(audit: Audit, tmp_path: Path) -> None:
    # The anonymisation guard is another issue; its findings are added to the real audit.
    finding = IdentifierFinding(
        kind="nhs_number",
        source="records.jsonl:1",
        record_id="EX-001",
        location="notes[N1].text",
        offset=12,
        masked="943 *** ****",
    )
    with_privacy = dataclasses.replace(audit, privacy=[finding])
    path = write_workbook(with_privacy, tmp_path / "audit.xlsx", per_worker=True)
    book = load_workbook(path)
    assert book.sheetnames == [*SHEETS, "Privacy"]
    assert rows(book["Privacy"]) == [
        ("Kind", "Source", "Record", "Location", "Offset", "Masked value"),
        ("nhs_number", "records.jsonl:1", "EX-001", "notes[N1].text", 12, "943 *** ****"),
    ]
    stems = unique_filenames(audit.workers)
    assert "Privacy" in load_workbook(tmp_path / "workers" / f"{stems['SW-01']}.xlsx").sheetnames
    assert "Privacy" not in load_workbook(tmp_path / "workers" / f"{stems['CON']}.xlsx").sheetnames


# --- limits and files -----------------------------------------------------------------


def test_rows_continue_on_numbered_sheets(audit: Audit, book: Workbook, tmp_path: Path) -> None:
    path = write_workbook(audit, tmp_path / "small.xlsx", max_rows=5)
    small = load_workbook(path)
    parts = [n for n in small.sheetnames if re.fullmatch(r"Findings( \(\d+\))?", n)]
    assert parts == ["Findings", *(f"Findings ({n})" for n in range(2, 7))]  # 23 rows / 4
    header, *full = rows(book["Findings"])
    joined = []
    for number, name in enumerate(parts, start=1):
        sheet = small[name]
        part_header, *body = rows(sheet)
        assert part_header == header
        assert 1 <= len(body) <= 4 and sheet.max_row <= 5
        assert sheet.freeze_panes == "A2"
        (table,) = sheet.tables.values()
        assert table.name == ("Findings" if number == 1 else f"Findings_{number}")
        assert table.ref == f"A1:P{sheet.max_row}"
        (validation,) = sheet.data_validations.dataValidation
        assert str(validation.sqref) == f"O2:O{sheet.max_row}"
        joined += body
    assert joined == full
    assert small.sheetnames == [
        "Summary", "By team", "By worker", "By worker (2)", "Records", "Records (2)",
        *parts, "Rejected", "Rules",
    ]  # fmt: skip
    records = rows(small["Records"])[1:] + rows(small["Records (2)"])[1:]
    assert [r[0] for r in records] == [r[0] for r in rows(book["Records"])[1:]]
    assert small["By worker (2)"]["A1"].value == "Worker"


def test_per_worker_workbooks_have_safe_names_and_only_their_records(
    out_dir: Path, audit: Audit
) -> None:
    folder = out_dir / "workers"
    stems = unique_filenames(audit.workers)
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(f"{s}.xlsx" for s in stems.values())
    assert len(files) == len(audit.workers) == 7
    # Hostile ids stayed inside the folder and became ordinary names.
    assert sorted(p.name for p in out_dir.iterdir()) == ["audit.json", "audit.xlsx", "workers"]
    assert stems["../../x"].startswith("x-") and stems["a/b"].startswith("a_b-")
    assert stems["CON"].startswith("_CON-")
    assert stems["(unallocated)"].startswith("unallocated-")  # the record with worker ""
    for worker, stem in stems.items():
        worker_book = load_workbook(folder / f"{stem}.xlsx")
        assert worker_book.sheetnames == SHEETS
        assert summary_pairs(worker_book["Summary"])["Scope"] == f"Worker {worker}"
        records = table_rows(worker_book["Records"])
        assert records and {r["Worker"] for r in records} == {worker}
        expected = [r.record_id for r in audit.records if (r.worker or "(unallocated)") == worker]
        assert [r["Record"] for r in records] == expected
        assert {r["Worker"] for r in table_rows(worker_book["Findings"])} <= {worker}
        assert table_rows(worker_book["Rejected"]) == []
        assert [r["Worker"] for r in table_rows(worker_book["By worker"])] == [worker]


def test_workbook_is_deterministic(audit: Audit, tmp_path: Path) -> None:
    first = write_workbook(audit, tmp_path / "a.xlsx").read_bytes()
    second = write_workbook(audit, tmp_path / "b.xlsx").read_bytes()
    assert first == second
    props = load_workbook(tmp_path / "a.xlsx").properties
    assert props.created.isoformat() == "2024-06-30T12:00:00"  # generated_at, not now()
    assert props.modified == props.created
    assert props.creator == "recaudit"


def test_cli_per_worker_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recaudit.cli import app

    support = load_support()
    support.register()
    result = CliRunner().invoke(
        app,
        ["audit", str(support.RECORDS), "--rules", str(support.PACK_DIR), "--out",
         str(tmp_path), "--format", "xlsx", "--per-worker"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "audit.xlsx").is_file()
    assert len(list((tmp_path / "workers").glob("*.xlsx"))) == 7
    without = tmp_path / "plain"
    result = CliRunner().invoke(
        app,
        ["audit", str(support.RECORDS), "--rules", str(support.PACK_DIR), "--out",
         str(without), "--format", "xlsx"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (without / "workers").exists()


def test_an_audit_with_nothing_audited_still_opens(tmp_path: Path) -> None:
    records = tmp_path / "bad.jsonl"
    records.write_text('{"record_id": 1}\nnot json\n', encoding="utf-8")
    support = load_support()
    audit = run_audit([records], support.fixture_pack(), now=support.NOW)
    assert len(audit.records) == 0 and len(audit.rejected) == 2
    book = load_workbook(write_workbook(audit, tmp_path / "audit.xlsx", per_worker=True))
    assert book.sheetnames == SHEETS
    findings = book["Findings"]
    assert rows(findings)[1:] == [] or all(v is None for r in rows(findings)[1:] for v in r)
    (table,) = findings.tables.values()
    assert table.ref == "A1:P2"  # a Table needs a data row, even an empty one
    pairs = summary_pairs(book["Summary"])
    assert (pairs["Records audited"], pairs["Records rejected"]) == (0, 2)
    assert (pairs["Service score"], pairs["Service grade"]) == ("n/a", "n/a")
    assert len(table_rows(book["Rejected"])) == 2
    assert not (tmp_path / "workers").exists() or not any((tmp_path / "workers").iterdir())


# --- the shipped default pack (real text rules, spaCy) ----------------------------------

DEFAULT_PACK_RECORDS = SUPPORT_FILE.parent / "default-pack.jsonl"
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"


@pytest.fixture(scope="module")
def default_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default-pack")
    audit = run_audit([SAMPLES, DEFAULT_PACK_RECORDS], now=load_support().NOW)
    write_reports(audit, out, ("json", "xlsx"))
    return out


def test_default_pack_workbook_matches_audit_json(default_out: Path) -> None:
    doc = json.loads((default_out / "audit.json").read_text(encoding="utf-8"))
    book = load_workbook(default_out / "audit.xlsx")
    assert doc["rule_pack"]["name"] == "wales-children" and len(doc["rule_pack"]["rules"]) == 7
    sheet = book["Summary"]
    start = find_row(sheet, "Rule")
    table = rows(sheet)[start : start + 7]
    service = doc["summary"]["service"]["rules"]
    for row in table:
        counts = service[row[0]]
        assert row[2:7] == (counts["applicable"], counts["met"], counts["partial"],
                            counts["not_met"], counts["not_applicable"])  # fmt: skip
    findings = table_rows(book["Findings"])
    expected = [
        (rec["record_id"], res["rule_id"], OUTCOME_LABELS[res["outcome"]])
        for rec in doc["records"]
        for res in rec["results"]
        if res["outcome"] != "not_applicable"
    ]
    assert [(r["Record"], r["Rule"], r["Outcome"]) for r in findings] == expected
    evidence = {
        (rec["record_id"], res["rule_id"]): res["evidence"][0]
        for rec in doc["records"]
        for res in rec["results"]
        if res["evidence"]
    }
    assert evidence  # the text rules found evidence in the samples
    for row in findings:
        first = evidence.get((row["Record"], row["Rule"]))
        assert row["Evidence"] == (first["text"] if first else None)
        assert row["Evidence note"] == (first["note_id"] if first else None)
    offer = next(
        r for r in findings if (r["Record"], r["Rule"]) == ("DP-001", "advocacy-active-offer")
    )
    assert offer["Outcome"] == "Met"
    assert offer["In context"].startswith(HYPERLINK)
    cell = next(
        c for c in book["Findings"]["L"] if isinstance(c.value, str) and c.value.startswith("=")
    )
    assert cell.data_type == "s" and cell.quotePrefix


def test_evidence_is_bold_inside_its_sentence(default_out: Path) -> None:
    doc = json.loads((default_out / "audit.json").read_text(encoding="utf-8"))
    book = load_workbook(default_out / "audit.xlsx", rich_text=True)
    sheet = book["Findings"]
    header = [c.value for c in sheet[1]]
    record, rule, context = (header.index(h) for h in ("Record", "Rule", "In context"))
    results = {
        (rec["record_id"], res["rule_id"]): res for rec in doc["records"] for res in rec["results"]
    }
    checked = 0
    for row in sheet.iter_rows(min_row=2):
        cell = row[context]
        if not isinstance(cell.value, CellRichText):
            continue
        first = results[(row[record].value, row[rule].value)]["evidence"][0]
        bold = [b.text for b in cell.value if isinstance(b, TextBlock) and b.font.b]
        assert bold == [first["text"]]
        assert str(cell.value) == first["sentence"]
        checked += 1
    assert checked >= 5


def test_highlight_falls_back_to_plain_text_when_unusable(tmp_path: Path) -> None:
    from openpyxl import Workbook as NewBook

    from recaudit.report.excel import Highlight, make_cell

    sheet = NewBook(write_only=True).create_sheet("x")
    assert make_cell(sheet, Highlight("abc", 2, 9)).value == "abc"  # span outside the text
    long = "=" + "y" * 40_000
    cell = make_cell(sheet, Highlight(long, 1, 5))
    assert cell.value.endswith(truncation_mark(len(long))) and cell.quotePrefix
    rich = make_cell(sheet, Highlight("-a\x07bc", 1, 4)).value
    assert isinstance(rich, CellRichText) and str(rich) == "-abc"


# --- the streamed row encoder follows make_cell's rules ----------------------------------


def test_streamed_rows_hold_what_make_cell_would(tmp_path: Path) -> None:
    """Every sheet's rows are encoded straight to XML by RowWriter; read back by openpyxl,
    each cell must be what `make_cell` builds for the same value and style."""
    import datetime as dt

    from openpyxl import Workbook as NewBook

    from recaudit.report.excel import (
        S_DATE,
        S_INT,
        S_PCT,
        S_TEXT,
        S_WRAP,
        Highlight,
        RowWriter,
        make_cell,
        new_sheet,
        register_styles,
    )

    values: list[tuple[Any, str | None]] = [
        ("plain", S_TEXT),
        ("=1+1", S_TEXT),
        ("＝SUM(A1)", S_WRAP),
        ("  leading and trailing  ", S_WRAP),
        ("line\r\nbreak\tand tab", S_WRAP),
        ("a & b < c > d \"q\" 'q'", S_TEXT),
        ("bell\x07 and \ud800 gone", S_TEXT),
        ("", S_TEXT),
        ("#N/A", S_TEXT),
        ("siân 😀 ✓", S_TEXT),
        ("x" * 40_000, S_WRAP),
        (0.755, S_PCT),
        (12, S_INT),
        (True, S_TEXT),
        (float("nan"), S_TEXT),
        (dt.date(2024, 2, 3), S_DATE),
        (dt.date(2024, 2, 3), S_TEXT),  # a date in a text column gets a date format
        (Highlight("-said it here.", 1, 5), S_WRAP),
        (Highlight("out of range", 3, 99), S_WRAP),
        (None, S_TEXT),
        ("after a gap", None),
    ]
    book = NewBook(write_only=True)
    register_styles(book)
    out = RowWriter(new_sheet(book, "Cells"))
    out.append(values)
    out.append(values)  # the second row comes from the short-text memo
    path = tmp_path / "cells.xlsx"
    book.save(path)

    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    # Excel itself trims text at the edges unless told not to (openpyxl does not).
    assert '<t xml:space="preserve">  leading and trailing  </t>' in xml

    reference = NewBook(write_only=True)
    register_styles(reference)
    sheet = reference.create_sheet("x")
    read = load_workbook(path, rich_text=True)["Cells"]
    for row in (1, 2):
        for column, (value, style) in enumerate(values, start=1):
            got = read.cell(row=row, column=column)
            want = make_cell(sheet, value, style)
            if want is None:
                assert got.value is None
                continue
            where = (row, column, value if not isinstance(value, str) else value[:20])
            if isinstance(want.value, dt.date):
                assert got.value == dt.datetime.combine(want.value, dt.time()), where
            elif isinstance(want.value, float) and want.value != want.value:
                raise AssertionError("NaN should have become text")
            elif want.value == "":
                # An empty text cell (as openpyxl writes one too) reads back as no value.
                assert got.value is None, where
            else:
                assert got.value == want.value, where
                assert type(got.value) is type(want.value), where
                assert got.data_type == ("n" if want.data_type == "d" else want.data_type), where
            assert got.quotePrefix == want.quotePrefix, where
            assert got.number_format == want.number_format, where
            # (style proxies compare by content through their repr)
            assert repr(got.alignment) == repr(want.alignment), where
            assert repr(got.font) == repr(want.font), where
