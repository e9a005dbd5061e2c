"""Reading canonical records: every input line is audited or rejected with file:line + reason."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES

from recaudit.records import Rejection, SourcedRecord, dedupe, parse_record, read_records


def _read(path: Path) -> list[SourcedRecord | Rejection]:
    return list(dedupe(read_records(path, path.name)))


def test_malformed_file_keeps_good_records_and_names_every_bad_line() -> None:
    items = _read(FIXTURES / "malformed.jsonl")
    good = [i.record.record_id for i in items if isinstance(i, SourcedRecord)]
    bad = {i.source: i for i in items if isinstance(i, Rejection)}

    assert good == ["OK-1", "OK-2", "OK-3"]  # BOM on line 1 and CRLF endings are fine
    assert sorted(bad, key=lambda s: int(s.split(":")[1])) == [
        f"malformed.jsonl:{n}" for n in (2, 4, 5, 6, 7, 8, 9, 10)
    ]
    assert len(items) == 11  # audited + rejected = lines in
    assert "invalid JSON" in bad["malformed.jsonl:2"].error
    assert bad["malformed.jsonl:4"].error.startswith("child.age_years:")
    assert bad["malformed.jsonl:4"].record_id == "BAD-TYPE"
    assert "notes[0].date" in bad["malformed.jsonl:5"].error
    assert "2022-13-01" in bad["malformed.jsonl:5"].error
    assert "empty line" in bad["malformed.jsonl:6"].error
    assert "duplicate 'OK-1' (first at malformed.jsonl:1)" in bad["malformed.jsonl:7"].error
    assert "notes[1].note_id: duplicate note_id 'N1'" in bad["malformed.jsonl:8"].error
    assert bad["malformed.jsonl:9"].error.startswith("case_type:")
    assert "expected a JSON object" in bad["malformed.jsonl:10"].error


def test_strict_types_are_not_coerced() -> None:
    item = parse_record({"record_id": 7, "case_type": "early_help"}, "f:1")
    assert isinstance(item, Rejection)
    assert item.error.startswith("record_id:")
    item = parse_record({"record_id": "R", "case_type": "early_help", "carers": "Mum"}, "f:1")
    assert isinstance(item, Rejection) and item.error.startswith("carers:")


def test_unknown_keys_are_kept_for_rule_packs() -> None:
    item = parse_record(
        {"record_id": "R", "case_type": "early_help", "lac_legal_status": "C2"}, "f:1"
    )
    assert isinstance(item, SourcedRecord)
    assert item.record.model_extra == {"lac_legal_status": "C2"}


def test_json_array_input_names_the_line_of_each_element(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(
        "[\n"
        + json.dumps({"record_id": "A", "case_type": "early_help"})
        + ",\n"
        + json.dumps({"record_id": "B", "case_type": "nope"})
        + "\n]\n",
        encoding="utf-8",
    )
    items = _read(path)
    assert isinstance(items[0], SourcedRecord) and items[0].source == "records.json:2"
    assert isinstance(items[1], Rejection) and items[1].source == "records.json:3"


def test_reader_is_a_generator_that_does_not_read_ahead(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"record_id": f"R{i}", "case_type": "early_help"}) for i in range(1000)
        ),
        encoding="utf-8",
    )
    stream = read_records(path)
    first = next(stream)
    assert isinstance(first, SourcedRecord) and first.record.record_id == "R0"
    assert sum(1 for _ in stream) == 999


def test_invalid_utf8_is_a_rejection_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"record_id": "A", "case_type": "early_help"})
    path.write_bytes(good.encode() + b"\n" + b'{"record_id": "caf\xe9"}\n')
    items = _read(path)
    assert isinstance(items[0], SourcedRecord)
    assert isinstance(items[1], Rejection) and "UTF-8" in items[1].error
