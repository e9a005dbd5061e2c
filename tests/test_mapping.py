"""CSV/XLSX exports read through mapping files: readers, value normalisation, joins,
rejections that name file/row/column, and the shipped sample mappings."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from recaudit.audit import run_audit, write_reports
from recaudit.cli import app
from recaudit.mapping import (
    ExportError,
    MappingError,
    convert,
    load_mapping,
    mapped_exports,
    sources_for,
)
from recaudit.records import Rejection, SourcedRecord, read_records

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "samples" / "mappings"
PACK = ROOT / "tests" / "fixtures" / "mapping" / "pack"
EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"

needs_external = pytest.mark.skipif(
    not (EXTERNAL / "ssda903-header.csv").is_file(), reason="shared/external not present"
)


def write_mapping(tmp_path: Path, text: str, name: str = "map.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def items_of(exports: list[Path], mapping: Path, **kw) -> list[SourcedRecord | Rejection]:
    return [item for s in mapped_exports(exports, mapping, **kw) for item in s.items()]


def outcomes(audit, rule_id: str) -> Counter:
    return Counter(
        next(r.outcome for r in rec.results if r.rule_id == rule_id) for rec in audit.records
    )


SIMPLE = """
name: simple
records:
  id: Ref
  fields:
    worker: Worker
    child.ethnicity: {column: Ethnicity, type: code}
    child.age_years: {column: Age, optional: true}
  constants: {case_type: care_experienced}
  events:
    - {type: plan_start, column: Start, optional: true}
"""


# ------------------------------------------------------------------- shipped mappings


@needs_external
def test_ssda903_header_audits_nobt_as_not_met_and_flags_identifier_columns() -> None:
    csv_path = EXTERNAL / "ssda903-header.csv"
    sources = mapped_exports([csv_path], MAPPINGS / "ssda903-header.yaml")
    audit = run_audit(sources, PACK)
    assert len(audit.records) == 2675 and not audit.rejected
    nobt = {
        line.split(",")[0]
        for line in csv_path.read_text().splitlines()[1:]
        if line.split(",")[3] == "NOBT"
    }
    assert len(nobt) == 117
    for rec in audit.records:
        outcome = next(r.outcome for r in rec.results if r.rule_id == "ethnicity-recorded")
        assert outcome == ("not_met" if rec.record_id in nobt else "met"), rec.record_id
        assert rec.case_type == "care_experienced"
    refu = [r for r in audit.records if "REFU" in r.results[1].reason]
    assert refu and all(r.results[1].outcome == "met" for r in refu)
    flagged = {f.location.split("'")[1] for f in audit.privacy if f.kind == "identifying_column"}
    assert {"DOB", "UPN"} <= flagged
    assert audit.inputs[0].records == 2675


@needs_external
def test_annex_a_list7_audits_with_worker_team_and_codes_normalised(tmp_path: Path) -> None:
    book = EXTERNAL / "annex-a-sample.xlsx"
    out = tmp_path / "records.jsonl"
    sources = mapped_exports([book], MAPPINGS / "annex-a-list7.yaml")
    result = convert(sources, out)
    assert result.written == 7 and not result.rejected
    records = [json.loads(line) for line in out.read_text().splitlines()]
    first = records[0]
    assert first["record_id"] == "10721552"
    assert first["worker"] == "Ezra Leigh" and first["team"] == "Locality 4 Unit 1"
    assert first["child"]["ethnicity"] == "NOBT"  # "s) NOBT"
    assert first["child"]["age_years"] == 0
    assert {"type": "child_protection_plan_start", "date": "2020-11-23"} in first["events"]
    assert first["seen_alone_at_last_visit"] is True  # "a) Yes"
    assert all(r["case_type"] == "child_protection" for r in records)
    audit = run_audit(mapped_exports([book], MAPPINGS / "annex-a-list7.yaml"), PACK)
    assert outcomes(audit, "ethnicity-recorded") == Counter(met=6, not_met=1)
    assert next(iter(audit.records)).source.startswith(f"{book.as_posix()}:List 7:2")
    assert "Petra Wills" in audit.workers


def test_generic_two_table_sample_joins_notes(tmp_path: Path) -> None:
    exports = [MAPPINGS / "generic" / "records.csv", MAPPINGS / "generic" / "notes.csv"]
    audit = run_audit(mapped_exports(exports, MAPPINGS / "generic-two-table.yaml"), PACK)
    assert len(audit.records) == 6 and not audit.rejected
    out = tmp_path / "records.jsonl"
    convert(mapped_exports(exports, MAPPINGS / "generic-two-table.yaml"), out)
    by_id = {
        i.record.record_id: i.record for i in read_records(out) if isinstance(i, SourcedRecord)
    }
    assert [n.note_id for n in by_id["GX-001"].notes] == ["N1", "N2"]
    assert by_id["GX-002"].notes[0].text == (
        "Saw Child B at the placement.\nFoster carer reports he is settled; school attendance 96%."
    )
    assert by_id["GX-002"].notes[0].date == dt.date(2022, 11, 1)
    assert by_id["GX-005"].notes == [] and by_id["GX-005"].worker is None
    assert by_id["GX-002"].case_type == "care_experienced"
    assert by_id["GX-006"].case_type == "care_and_support"
    assert by_id["GX-002"].child.ethnicity == "NOBT"
    assert by_id["GX-002"].model_extra == {"disabled": True}


# ------------------------------------------------------------------------ CSV reading


RECORDS_UNICODE = (
    "Ref,Worker,Ethnicity,Age\r\n"
    "R1,Siân Hughes,WBRI,9\r\n"
    "R2,Zoë Ó Briain,a) WIRI,12\r\n"
    "R3,Renée,NOBT,\r\n"
    "R4,François,s) NOBT,3\r\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "r.csv").write_bytes(RECORDS_UNICODE.encode(encoding))
    items = items_of([tmp_path / "r.csv"], write_mapping(tmp_path, SIMPLE))
    assert [i.record.worker for i in items] == ["Siân Hughes", "Zoë Ó Briain", "Renée", "François"]


def test_utf8_bom_and_cp1252_give_identical_audit_json_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = write_mapping(tmp_path, SIMPLE)
    outputs = []
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        folder = tmp_path / encoding
        folder.mkdir()
        (folder / "records.csv").write_bytes(RECORDS_UNICODE.encode(encoding))
        monkeypatch.chdir(folder)
        audit = run_audit(mapped_exports([Path("records.csv")], mapping), PACK)
        write_reports(audit, folder / "out", ["json"])
        data = json.loads((folder / "out" / "audit.json").read_text(encoding="utf-8"))
        outputs.append((data["records"], data["rejected"], data["summary"]))
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0][0]) == 4


def test_encoding_option_overrides_detection(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes(RECORDS_UNICODE.encode("cp1252"))
    items = items_of([tmp_path / "r.csv"], write_mapping(tmp_path, SIMPLE), encoding="latin-1")
    assert items[0].record.worker == "Siân Hughes"
    with pytest.raises(ExportError, match="unknown encoding"):
        items_of([tmp_path / "r.csv"], write_mapping(tmp_path, SIMPLE), encoding="nope-8")


def test_undecodable_file_asks_for_an_encoding(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 and invalid as UTF-8.
    (tmp_path / "r.csv").write_bytes(b"Ref,Worker,Ethnicity\nR1,\x81\x81,WBRI\n")
    with pytest.raises(ExportError, match="--encoding"):
        items_of([tmp_path / "r.csv"], write_mapping(tmp_path, SIMPLE))


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiters_and_embedded_newlines(tmp_path: Path, delimiter: str) -> None:
    d = delimiter
    text = (
        f"Ref{d}Worker{d}Ethnicity\n"
        f'R1{d}"two\nline"{d}WBRI\n'
        f'R2{d}"a {d} b"{d}"WIRI"\n'
        f"R3{d}W3{d}31/02/2010\n"
    )
    (tmp_path / "r.csv").write_text(text, encoding="utf-8")
    mapping = write_mapping(
        tmp_path,
        SIMPLE.replace("child.age_years: {column: Age, optional: true}", "").replace(
            "child.ethnicity: {column: Ethnicity, type: code}", "child.ethnicity: Ethnicity"
        ),
    )
    items = items_of([tmp_path / "r.csv"], mapping)
    assert [i.source.rsplit(":", 1)[1] for i in items] == ["2", "4", "5"]  # start lines
    assert items[0].record.worker == "two line"  # worker names: spaces tidied
    assert items[1].record.worker == " ".join(f"a {d} b".split())
    assert items[2].record.child.ethnicity == "31/02/2010"  # text, not a date


def test_rejections_name_file_row_and_column(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(
        "CHILD,SEX,DOB,ETHNIC\n"
        "1,1,01/02/2010,WBRI\n"
        "2,1,31/02/2010,WBRI\n"
        ",1,01/02/2010,WBRI\n"
        "4,1,01/02/2010,WBRI,extra,cells\n",
        encoding="utf-8",
    )
    mapping = write_mapping(
        tmp_path,
        """
name: dob
records:
  id: CHILD
  fields: {child.ethnicity: ETHNIC}
  constants: {case_type: care_experienced}
  extras:
    birth: {column: DOB, type: date}
""",
    )
    label = (tmp_path / "header.csv").as_posix()
    items = items_of([tmp_path / "header.csv"], mapping)
    assert isinstance(items[0], SourcedRecord)
    assert items[0].record.model_extra == {"birth": "2010-02-01"}
    bad = items[1]
    assert isinstance(bad, Rejection)
    assert bad.source == f"{label}:3" and bad.record_id == "2"
    assert bad.error == "DOB (column 3): invalid date '31/02/2010'"
    assert items[2].source == f"{label}:4" and "CHILD (column 1): empty record id" in items[2].error
    assert "header has 4" in items[3].error
    audit = run_audit(mapped_exports([tmp_path / "header.csv"], mapping), PACK)
    assert (audit.inputs[0].records, audit.inputs[0].rejected) == (1, 3)


def test_invalid_canonical_value_names_its_column(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("Ref,Type\nR1,CP\nR2,weird\n", encoding="utf-8")
    mapping = write_mapping(
        tmp_path,
        """
name: types
records:
  id: Ref
  fields:
    case_type: {column: Type, aliases: {CP: child_protection}}
""",
    )
    items = items_of([tmp_path / "r.csv"], mapping)
    assert items[0].record.case_type == "child_protection"
    assert isinstance(items[1], Rejection)
    assert items[1].error.startswith("Type (column 2) → case_type:")
    assert "weird" in items[1].error


def test_values_dates_serials_booleans_and_title_rows(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(
        "Children's services export,,,\n"
        ",,,\n"
        "Ref,Start,Alone,Age\n"
        "R1,44197,Y,6.9\n"
        "R2,2021-01-04 00:00:00,n,7\n"
        "R3,04.01.2021,a) Yes,\n"
        "R4,,maybe,\n",
        encoding="utf-8",
    )
    mapping = write_mapping(
        tmp_path,
        """
name: values
records:
  id: Ref
  fields:
    child.age_years: {column: Age, floor: true}
  constants: {case_type: child_protection}
  events: [{type: plan_start, column: Start}]
  extras:
    seen.alone: {column: Alone, type: boolean}
""",
    )
    (source,) = mapped_exports([tmp_path / "r.csv"], mapping)
    items = list(source.items())
    assert items[0].record.events[0].date == dt.date(2021, 1, 1)  # Excel serial 44197
    assert items[0].record.child.age_years == 6
    assert items[0].record.model_extra == {"seen": {"alone": True}}
    assert items[1].record.events[0].date == dt.date(2021, 1, 4)
    assert items[1].record.model_extra == {"seen": {"alone": False}}
    assert items[2].record.events[0].date == dt.date(2021, 1, 4)
    assert items[2].record.model_extra == {"seen": {"alone": True}}
    assert isinstance(items[3], Rejection) and "not a yes/no value 'maybe'" in items[3].error
    assert items[3].record_id == "R4"
    assert items[0].source.endswith(":4")
    assert any("skipped 2 row(s) above the header" in w for w in source.warnings)


# ----------------------------------------------------------------------- XLSX reading


def make_workbook(path: Path) -> None:
    book = Workbook()
    book.active.title = "Cover"
    book.active["A1"] = "nothing here"
    sheet = book.create_sheet("Cases")
    sheet["A1"] = "Quarterly return — children in need"
    sheet.merge_cells("A1:E1")
    sheet.append([])
    sheet.append(["Case", "Worker", "Ethnicity", "Start", "Age"])
    sheet.append([1001, "Ann\xa0Bell", "a) WBRI", dt.datetime(2021, 3, 4), 6.5])
    sheet.append([1002.0, "#N/A", "s) NOBT", 44197, None])
    sheet.append([None, None, None, None, None])
    sheet.append([1003, "Cy Dee", "REFU", "31/02/2021", 3])
    book.save(path)


def test_xlsx_any_sheet_dates_merged_title_rows(tmp_path: Path) -> None:
    make_workbook(tmp_path / "book.xlsx")
    mapping = write_mapping(
        tmp_path,
        """
name: book
records:
  sheet: cases
  id: Case
  fields:
    worker: Worker
    child.ethnicity: {column: Ethnicity, type: code}
    child.age_years: {column: Age, floor: true}
  constants: {case_type: early_help}
  events: [{type: started, column: Start}]
""",
    )
    (source,) = mapped_exports([tmp_path / "book.xlsx"], mapping)
    items = list(source.items())
    assert [i.source.split(":", 1)[1] for i in items] == ["Cases:4", "Cases:5", "Cases:7"]
    first, second, third = items
    assert first.record.record_id == "1001" and first.record.worker == "Ann Bell"
    assert first.record.events[0].date == dt.date(2021, 3, 4)
    assert first.record.child.ethnicity == "WBRI" and first.record.child.age_years == 6
    assert second.record.record_id == "1002" and second.record.worker is None  # "#N/A"
    assert second.record.events[0].date == dt.date(2021, 1, 1)
    assert second.record.child.ethnicity == "NOBT"
    assert isinstance(third, Rejection)
    assert third.error == "Start (column D): invalid date '31/02/2021'"
    assert any("skipped 2 row(s)" in w and "Cases" in w for w in source.warnings)
    columns = {c.name: c.ref for c in source.columns()}
    assert columns["Start"] == "column D"


def test_xlsx_unknown_sheet_is_a_clear_error(tmp_path: Path) -> None:
    make_workbook(tmp_path / "book.xlsx")
    mapping = write_mapping(
        tmp_path, "name: x\nrecords: {sheet: Nope, id: Case, constants: {case_type: early_help}}\n"
    )
    with pytest.raises(ExportError, match="no sheet 'Nope'; sheets are Cover, Cases"):
        mapped_exports([tmp_path / "book.xlsx"], mapping)


# ------------------------------------------------------------------------------- joins

JOIN = """
name: join
records:
  file: "rec*.csv"
  id: Ref
  fields: {worker: Worker}
  constants: {case_type: child_protection}
notes:
  file: "notes*.csv"
  id: Ref
  fields: {note_id: Id, date: Date, text: Text}
siblings:
  file: "sib*.csv"
  id: Ref
  fields: {relationship: Rel, lives_with_child: Lives}
  absent: none
carers:
  file: "carers*.csv"
  id: Ref
  fields: {relationship: Rel}
events:
  file: "events*.csv"
  id: Ref
  fields: {type: Event, date: When}
"""


def make_join_export(tmp_path: Path) -> list[Path]:
    files = {
        "records.csv": "Ref,Worker\nA,W1\nB,W2\nC,W3\nD,W4\n",
        # unsorted, one orphan (Z), one bad row (C), one without id
        "notes.csv": (
            "Ref,Id,Date,Text\n"
            'B,N1,01/02/2023,"b one"\n'
            "A,N2,03/02/2023,a two\n"
            "Z,N1,01/02/2023,orphan\n"
            "A,N1,02/02/2023,a one\n"
            "C,N1,99/99/2023,bad date\n"
            ",N9,01/02/2023,no id\n"
            "D,,,untitled\n"
        ),
        "siblings.csv": "Ref,Rel,Lives\nA,brother,Y\nA,sister,N\n",
        "carers.csv": "Ref,Rel\nB,grandmother\n",
        "events.csv": "Ref,Event,When\nA,strategy_discussion,06/02/2023\n",
    }
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    return paths


def test_child_tables_join_in_any_order_and_nothing_is_lost(tmp_path: Path) -> None:
    paths = make_join_export(tmp_path)
    mapping = write_mapping(tmp_path, JOIN)
    (source,) = mapped_exports(paths, mapping)
    assert set(source.paths) == set(paths)
    items = list(source.items())
    records = {i.record.record_id: i.record for i in items if isinstance(i, SourcedRecord)}
    rejected = [i for i in items if isinstance(i, Rejection)]
    assert [n.note_id for n in records["A"].notes] == ["N2", "N1"]  # export order
    assert [n.text for n in records["A"].notes] == ["a two", "a one"]
    assert [(s.relationship, s.lives_with_child) for s in records["A"].child.siblings] == [
        ("brother", True),
        ("sister", False),
    ]
    assert records["B"].child.siblings == []  # absent: none
    assert records["B"].carers[0].relationship == "grandmother"
    assert records["A"].events[0].type == "strategy_discussion"
    assert records["D"].notes[0].note_id == "row8" and records["D"].notes[0].date is None
    notes = (tmp_path / "notes.csv").as_posix()
    by_source = {r.source: r for r in rejected}
    assert "no id" not in json.dumps([r.as_dict() for r in rejected])
    assert by_source[f"{notes}:7"].error.startswith("notes row: Ref (column 1): empty record id")
    c = by_source[f"{(tmp_path / 'records.csv').as_posix()}:4"]
    assert c.record_id == "C"
    assert c.error == f"{notes}:6: Date (column 3): invalid date '99/99/2023'"
    orphan = by_source[f"{notes}:4"]
    assert orphan.record_id == "Z" and "no row of" in orphan.error
    # every row of the records table, and every child row not joined, is accounted for
    assert len(records) + len(rejected) == 4 + 2
    audit = run_audit(mapped_exports(paths, mapping), PACK)
    counts = {Path(i.path).name: (i.records, i.rejected) for i in audit.inputs}
    assert counts["records.csv"] == (3, 1) and counts["notes.csv"] == (0, 2)


def test_table_file_patterns_must_place_every_export(tmp_path: Path) -> None:
    paths = make_join_export(tmp_path)
    mapping = write_mapping(tmp_path, JOIN)
    with pytest.raises(ExportError, match="no export file matches the carers table"):
        mapped_exports([p for p in paths if p.name != "carers.csv"], mapping)
    (tmp_path / "stray.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"stray\.csv: matches no table"):
        mapped_exports([*paths, tmp_path / "stray.csv"], mapping)


def test_missing_column_is_named(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("Ref,Worker\nR1,W\n", encoding="utf-8")
    with pytest.raises(ExportError, match="Ethnicity"):
        mapped_exports([tmp_path / "r.csv"], write_mapping(tmp_path, SIMPLE))


def test_several_header_files_are_separate_sources(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("Ref,Worker,Ethnicity\nR-" + name + ",W,WBRI\n")
    sources = mapped_exports(
        [tmp_path / "a.csv", tmp_path / "b.csv"], write_mapping(tmp_path, SIMPLE)
    )
    audit = run_audit(sources, PACK)
    assert [(Path(i.path).name, i.records) for i in audit.inputs] == [("a.csv", 1), ("b.csv", 1)]


# ------------------------------------------------------------------- mapping validation


def test_mapping_errors_carry_file_line_column(tmp_path: Path) -> None:
    path = write_mapping(
        tmp_path,
        "name: bad\nrecords:\n  id: Ref\n  colums: {worker: W}\n",
    )
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    (problem,) = info.value.problems
    assert (problem.mark.line, problem.mark.column) == (4, 3)
    assert "unknown key 'colums'" in problem.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("records: {id: R, fields: {child.ethnicty: E}}", "unknown field 'child.ethnicty'"),
        ("records: {id: R, fields: {worker: W}, constants: {worker: x}}", "both a column"),
        ("records: {id: R}\nnotes: {id: R, fields: {date: D}}", "map the note text"),
        ("records: {id: R}\ncode_prefix: '('", "not a valid regular expression"),
        ("records: {id: R, extras: {worker: W}}", "canonical field"),
    ],
)
def test_mapping_semantic_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        load_mapping(write_mapping(tmp_path, "name: bad\n" + body + "\n"))


def test_shipped_mappings_are_valid() -> None:
    for path in sorted(MAPPINGS.glob("*.yaml")):
        assert load_mapping(path).spec.name == path.stem


# ----------------------------------------------------------------------------- the CLI


def test_cli_convert_then_audit_the_jsonl_gives_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_join_export(tmp_path)
    mapping = write_mapping(tmp_path, JOIN)
    runner = CliRunner()
    out = tmp_path / "records.jsonl"
    args = [str(p) for p in paths]
    result = runner.invoke(app, ["convert", *args, "--mapping", str(mapping), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 record(s)" in result.output and "3 rejected" in result.output
    rejected = [json.loads(x) for x in (tmp_path / "records.jsonl.rejected.jsonl").open()]
    assert len(rejected) == 3
    direct = run_audit(mapped_exports(paths, mapping), PACK, privacy=False)
    via_jsonl = run_audit([out], PACK, privacy=False)
    assert [(r.record_id, r.results) for r in direct.records] == [
        (r.record_id, r.results) for r in via_jsonl.records
    ]


def test_cli_audit_with_mapping_and_exit_codes(tmp_path: Path) -> None:
    paths = make_join_export(tmp_path)
    mapping = write_mapping(tmp_path, JOIN)
    runner = CliRunner()
    args = [str(p) for p in paths]
    ok = runner.invoke(
        app, ["audit", *args, "-m", str(mapping), "-r", str(PACK), "-o", str(tmp_path / "out")]
    )
    assert ok.exit_code == 0, ok.output
    data = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert data["summary"]["audited"] == 3 and data["summary"]["rejected"] == 3
    bad = write_mapping(tmp_path, "name: x\nrecords: {id: R, nope: 1}\n", "bad.yaml")
    result = runner.invoke(app, ["audit", *args, "-m", str(bad), "-r", str(PACK)])
    assert result.exit_code == 2
    result = runner.invoke(
        app, ["audit", str(tmp_path / "missing.csv"), "-m", str(mapping), "-r", str(PACK)]
    )
    assert result.exit_code == 1


def test_sources_for_rejects_missing_files(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path, SIMPLE))
    with pytest.raises(ExportError, match="no such file"):
        sources_for([tmp_path / "nope.csv"], mapping)
