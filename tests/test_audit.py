"""`recaudit audit` end to end: through the CLI (CliRunner) and the Python API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLES
from typer.testing import CliRunner

from recaudit.audit import run_audit, write_reports
from recaudit.cli import app

runner = CliRunner()


def _audit_json(out: Path) -> dict:
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))


def test_audit_samples_writes_three_reports(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", str(SAMPLES / "records.jsonl"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("audit.json", "audit.xlsx", "audit.html"):
        assert (tmp_path / name).stat().st_size > 0
    doc = _audit_json(tmp_path)
    assert doc["tool"]["name"] == "recaudit"
    assert doc["rule_pack"]["name"] == "wales-children"
    assert [r["id"] for r in doc["rule_pack"]["rules"]] == [
        "voice-of-child",
        "advocacy-active-offer",
        "carers-assessment-offer",
        "siblings-recorded",
        "ethnicity-recorded",
        "language-recorded",
        "religion-recorded",
    ]
    assert len(doc["records"]) == 32 and doc["rejected"] == []
    assert doc["inputs"][0]["records"] == 32
    # The terminal summary names every rule and where the reports went.
    assert "voice-of-child" in result.output and "audit.xlsx" in result.output


def test_every_result_explains_itself(tmp_path: Path) -> None:
    runner.invoke(app, ["audit", str(SAMPLES / "records.jsonl"), "--out", str(tmp_path)])
    for record in _audit_json(tmp_path)["records"]:
        assert len(record["results"]) == 7
        for res in record["results"]:
            assert res["reason"].strip()
            if res["outcome"] == "met" and res["rule_id"] in {
                "voice-of-child",
                "advocacy-active-offer",
                "carers-assessment-offer",
            }:
                assert res["evidence"], res  # a met text rule always shows its evidence
            for ev in res["evidence"]:
                note = _note(record["record_id"], ev["note_id"])
                assert note["text"][ev["start"] : ev["end"]] == ev["text"]


def _note(record_id: str, note_id: str) -> dict:
    for line in (SAMPLES / "records.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["record_id"] == record_id:
            return next(n for n in record["notes"] if n["note_id"] == note_id)
    raise KeyError(record_id)


def test_sample_outcomes_match_hand_labels(default_pack) -> None:
    """The samples are labelled by hand (samples/expected.jsonl), in a style unlike the dev set."""
    expected = {
        (row["record_id"], row["rule_id"]): row["outcome"]
        for row in map(json.loads, (SAMPLES / "expected.jsonl").read_text().splitlines())
    }
    audit = run_audit([SAMPLES / "records.jsonl"], default_pack)
    wrong = [
        (record.record_id, res.rule_id, res.outcome, expected[(record.record_id, res.rule_id)])
        for record in audit.records
        for res in record.results
        if res.outcome != expected[(record.record_id, res.rule_id)]
    ]
    assert wrong == []


def test_malformed_input_audits_good_records_and_lists_the_rest(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["audit", str(FIXTURES / "malformed.jsonl"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    doc = _audit_json(tmp_path)
    assert [r["record_id"] for r in doc["records"]] == ["OK-1", "OK-2", "OK-3"]
    assert len(doc["rejected"]) == 8
    assert all(
        r["source"].startswith(str(FIXTURES / "malformed.jsonl") + ":") for r in doc["rejected"]
    )
    assert doc["summary"]["records_in"] == 11
    assert doc["inputs"][0]["records"] == 3 and doc["inputs"][0]["rejected"] == 8


def test_audit_json_is_byte_identical_apart_from_metadata(tmp_path: Path) -> None:
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name
        result = runner.invoke(app, ["audit", str(SAMPLES / "records.jsonl"), "--out", str(out)])
        assert result.exit_code == 0, result.output
        lines = (out / "audit.json").read_text(encoding="utf-8").splitlines()
        assert lines[1].startswith('"metadata"')
        outs.append([line for i, line in enumerate(lines) if i != 1])
    assert outs[0] == outs[1]


def test_two_inputs_are_counted_separately_and_ids_are_unique_across_them(tmp_path: Path) -> None:
    copy = tmp_path / "again.jsonl"
    shutil.copy(SAMPLES / "records.jsonl", copy)
    audit = run_audit([SAMPLES / "records.jsonl", copy])
    assert len(audit.records) == 32
    assert len(audit.rejected) == 32  # every record of the copy is a duplicate id
    assert [i.records for i in audit.inputs] == [32, 0]
    assert [i.rejected for i in audit.inputs] == [0, 32]
    write_reports(audit, tmp_path / "out", ["json"])
    assert (tmp_path / "out" / "audit.json").is_file()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["audit", "missing.jsonl"], 1, "no such file"),
        (["audit", "{samples}", "--rules", "no-such-pack"], 2, "no rule pack here"),
        (["audit", "{samples}", "--format", "pdf"], 2, "unknown report format"),
        (["audit"], 2, "Missing argument"),
    ],
)
def test_exit_status(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    args = [a.replace("{samples}", str(SAMPLES / "records.jsonl")) for a in args]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)] if len(args) > 1 else args)
    assert result.exit_code == code
    assert message in result.output


def test_invalid_pack_lists_every_problem_with_position(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "rules").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "name: broken\nversion: 1\nrules: [rules/r.yaml]\n", encoding="utf-8"
    )
    (pack / "rules" / "r.yaml").write_text(
        "- id: a\n  kind: field_recorded\n  title: A\n  feild: child.ethnicity\n"
        "- id: b\n  kind: no_such_kind\n  title: B\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["audit", str(SAMPLES / "records.jsonl"), "--rules", str(pack)])
    assert result.exit_code == 2
    assert "version: Input should be a valid string" in result.output
    assert "pack/pack.yaml:2:" in result.output  # file:line:column of the bad value
