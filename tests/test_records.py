"""Reading canonical records: every input line is audited or rejected with file:line + reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudit.records import (
    Rejection,
    SourcedRecord,
    dedupe,
    frame_lines,
    jsonl_lines,
    line_ranges,
    parse_record,
    read_range,
    read_records,
)


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


def _line_by_line(path: Path, label: str) -> list[tuple[str, str] | Rejection]:
    """The plain way to frame a .jsonl file: read it line by line, decode each line."""
    out: list[tuple[str, str] | Rejection] = []
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            source = f"{label}:{line_no}"
            if line_no == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                out.append(
                    Rejection(source, None, f"not valid UTF-8 at byte {exc.start}: {exc.reason}")
                )
                continue
            if not text.strip():
                out.append(Rejection(source, None, "empty line: expected one JSON record per line"))
            else:
                out.append((source, text))
    return out


_BYTES = st.lists(
    st.sampled_from(
        [
            b"a",
            b"\n",
            b"\r",
            b"\r\n",
            b"{}",
            b" ",
            b"\xef\xbb\xbf",
            b"\xe2\x82",
            b"\xac",
            b"\xff",
            b"\xc3\xa9",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(
    data=_BYTES,
    max_bytes=st.integers(1, 40),
    max_lines=st.integers(1, 5),
    parts=st.integers(0, 3),
)
def test_byte_ranges_frame_exactly_as_reading_line_by_line(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    max_bytes: int,
    max_lines: int,
    parts: int,
) -> None:
    path = tmp_path_factory.mktemp("ranges") / "f.jsonl"
    path.write_bytes(data)
    ranges = list(line_ranges(path, "f", max_bytes, max_lines, tail_parts=parts))
    # The ranges tile the file, each a run of whole lines numbered from where it starts.
    assert [r.start for r in ranges] == [0, *(r.end for r in ranges)][: len(ranges)]
    assert (ranges[-1].end if ranges else 0) == len(data)
    for r in ranges:
        assert r.first_line == data[: r.start].count(b"\n") + 1
        assert r.start == 0 or data[r.start - 1 : r.start] == b"\n"
    framed = [item for r in ranges for item in frame_lines(read_range(r), "f", r.first_line)]
    assert framed == _line_by_line(path, "f")
    assert list(jsonl_lines(path, "f")) == framed


def test_ranges_get_smaller_towards_the_end_when_shared(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    line = json.dumps({"record_id": "R", "case_type": "early_help", "pad": "x" * 1000})
    path.write_text((line + "\n") * 2000, encoding="utf-8")
    alone = [r.end - r.start for r in line_ranges(path, "m", 64 * 1024, 256)]
    shared = [r.end - r.start for r in line_ranges(path, "m", 64 * 1024, 256, tail_parts=2)]
    assert sum(alone) == sum(shared) == path.stat().st_size
    assert max(alone[:-1]) == min(alone[:-1])  # cut at the same size all along
    assert shared[:10] == alone[:10] and shared[-2] < alone[-2] / 2
    # One long line is never split.
    path.write_text("x" * 100_000 + "\n" + "y\n", encoding="utf-8")
    assert [(r.start, r.end) for r in line_ranges(path, "m", 1000, 256)] == [
        (0, 100_001),
        (100_001, 100_003),
    ]
