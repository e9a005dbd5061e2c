"""audit.json's records: read from the disk-backed store without a round trip through the
models, and still exactly what the models say."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from test_excel import load_support

from recaudit.report.json import record_dict, write_json
from recaudit.store import Store

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"


def test_records_from_the_store_are_the_models_dumped(tmp_path: Path) -> None:
    from recaudit.audit import run_audit

    audit = run_audit([SAMPLES], now=load_support().NOW)  # the default pack: real evidence
    assert isinstance(audit.records, Store) and len(audit.records) > 5
    doc = json.loads(write_json(audit, tmp_path / "audit.json").read_text(encoding="utf-8"))
    models = list(audit.records)
    assert doc["records"] == [record_dict(r) for r in models]
    assert any(res["evidence"] for rec in doc["records"] for res in rec["results"])
    # The same audit with its records as a plain list of models gives the same bytes.
    listed = dataclasses.replace(audit, records=models)
    by_model = write_json(listed, tmp_path / "listed.json").read_bytes()
    assert by_model == (tmp_path / "audit.json").read_bytes()


def test_hostile_text_survives_the_store_path(tmp_path: Path) -> None:
    audit = load_support().fixture_audit()  # formulas, control characters, very long text
    path = write_json(audit, tmp_path / "audit.json")
    listed = dataclasses.replace(audit, records=list(audit.records))
    assert write_json(listed, tmp_path / "listed.json").read_bytes() == path.read_bytes()
