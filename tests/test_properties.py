"""Property tests: whatever records, lines or rows come in, the audit never crashes and
every input row ends up audited or rejected (audited + rejected = rows in)."""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudit.audit import run_audit
from recaudit.mapping import ExportError, mapped_exports
from recaudit.privacy import PrivacyGuard, find_identifiers, mask_hit
from recaudit.records import Rejection, SourcedRecord, parse_jsonl_line, parse_record
from recaudit.rulepack import load_pack

ROOT = Path(__file__).resolve().parents[1]
PACK = load_pack(ROOT / "tests" / "fixtures" / "mapping" / "pack")
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
maybe_text = st.none() | text
note = st.fixed_dictionaries(
    {"note_id": st.text(string.ascii_letters + string.digits, min_size=1, max_size=6)},
    optional={
        "date": st.dates().map(str) | text,
        "author": maybe_text,
        "type": maybe_text,
        "text": text,
    },
)
record = st.fixed_dictionaries(
    {
        "record_id": st.text(min_size=1, max_size=12) | st.integers(),
        "case_type": st.sampled_from(
            ["child_protection", "care_experienced", "care_leaver", "early_help", "other"]
        ),
    },
    optional={
        "worker": maybe_text,
        "team": maybe_text,
        "child": st.fixed_dictionaries(
            {},
            optional={
                "age_years": st.none() | st.integers(-5, 40) | text,
                "ethnicity": maybe_text,
                "siblings": st.none() | st.lists(st.fixed_dictionaries({}), max_size=2),
            },
        ),
        "notes": st.lists(note, max_size=3),
        "extra": st.dictionaries(text, text, max_size=2),
    },
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)
# A line of a .jsonl file: a record, any JSON value, or text that is not JSON at all.
line = (
    record.map(json.dumps)
    | json_value.map(json.dumps)
    | text.map(lambda t: t.replace("\n", " ").replace("\r", " "))
)


@SETTINGS
@given(lines=st.lists(line, min_size=1, max_size=25))
def test_any_jsonl_lines_audit_without_loss(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    audit = run_audit([path], PACK)
    assert len(audit.records) + len(audit.rejected) == len(lines)
    assert audit.inputs[0].records + audit.inputs[0].rejected == len(lines)
    for finding in audit.privacy:
        assert finding.source.startswith(path.as_posix() + ":")


@SETTINGS
@given(text=line | record.map(lambda r: json.dumps(r, indent=1).replace("\n", " ")))
def test_a_line_validated_from_its_text_is_read_as_its_decoded_value(text: str) -> None:
    # The reader validates a .jsonl line from its own text (one decode); `parse_record`
    # validates the decoded value re-encoded. Both must read every line the same way.
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        assert isinstance(parse_jsonl_line(text, "x:1"), Rejection)
        return
    assert parse_jsonl_line(text, "x:1") == parse_record(obj, "x:1")


@SETTINGS
@given(obj=record)
def test_parse_record_never_raises(obj: dict) -> None:
    item = parse_record(obj, "x:1")
    assert isinstance(item, SourcedRecord | Rejection)
    if isinstance(item, SourcedRecord):
        PrivacyGuard().scan_record("x:1", item.record)  # never raises either


cell = st.one_of(
    text,
    st.sampled_from(["", "31/02/2010", "44197", "#N/A", "a) WBRI", "Y", "maybe", '"', ";", "\n"]),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
)
row = st.tuples(st.text(min_size=0, max_size=8), cell, cell, cell)

MAPPING = """
name: props
records:
  id: Ref
  fields:
    worker: Worker
    child.ethnicity: {column: Ethnicity, type: code}
  constants: {case_type: care_experienced}
  events: [{type: started, column: Start}]
"""


@SETTINGS
@given(
    rows=st.lists(row, min_size=1, max_size=25),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_any_csv_rows_audit_without_loss(
    tmp_path: Path, rows: list[tuple[str, ...]], delimiter: str, encoding: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["Ref", "Worker", "Ethnicity", "Start"])
    writer.writerows(rows)
    path = tmp_path / "export.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    audit = run_audit(mapped_exports([path], mapping), PACK)
    # Rows whose cells are all blank are not records (Excel pads exports with them).
    expected = sum(1 for r in rows if any(c.strip() for c in r))
    assert len(audit.records) + len(audit.rejected) == expected
    for rejection in audit.rejected:
        assert rejection.source.startswith(path.as_posix() + ":")


@SETTINGS
@given(junk=st.binary(max_size=400))
def test_garbage_after_a_csv_header_never_crashes(tmp_path: Path, junk: bytes) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"Ref,Worker,Ethnicity,Start\r\n" + junk)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    try:
        sources = mapped_exports([path], mapping)
        items = [item for s in sources for item in s.items()]
    except ExportError as exc:  # a clear, whole-file error (e.g. undecodable bytes)
        assert path.as_posix() in str(exc)
        return
    assert all(isinstance(i, SourcedRecord | Rejection) for i in items)


@SETTINGS
@given(value=text)
def test_guard_spans_are_in_bounds_and_masked(value: str) -> None:
    for hit in find_identifiers(value):
        assert 0 <= hit.start < hit.end <= len(value)
        assert value[hit.start : hit.end] == hit.value
        masked = mask_hit(hit)
        assert len(masked) == len(hit.value) and masked != hit.value


FIVE_MB = 5 * 1024 * 1024


def big_note_line() -> str:
    sentence = (
        "Visited Child A at home on 12/03/2023 at 10:30 and spoke with her alone; "
        "she told me she likes her new school. Mum paid £45 for the trip. "
    )
    note_text = sentence * (FIVE_MB // len(sentence) + 1)
    return json.dumps(
        {
            "record_id": "BIG",
            "case_type": "child_protection",
            "child": {"ethnicity": "WBRI"},
            "notes": [{"note_id": "N1", "text": note_text}],
        }
    )


def test_a_5mb_note_audits_through_the_field_rules_and_the_guard(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(big_note_line() + "\n", encoding="utf-8")
    audit = run_audit([path], PACK)
    assert len(audit.records) == 1 and not audit.rejected
    assert audit.privacy == []


def test_a_5mb_note_in_a_csv_notes_table(tmp_path: Path) -> None:
    note_text = json.loads(big_note_line())["notes"][0]["text"]
    (tmp_path / "records.csv").write_text("Ref,Worker\nBIG,W1\n", encoding="utf-8")
    with (tmp_path / "notes.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Ref", "Text"], ["BIG", note_text]])
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "name: big\nrecords: {file: 'records*', id: Ref, fields: {worker: Worker},"
        " constants: {case_type: early_help}}\n"
        "notes: {file: 'notes*', id: Ref, fields: {text: Text}}\n",
        encoding="utf-8",
    )
    (source,) = mapped_exports([tmp_path / "records.csv", tmp_path / "notes.csv"], mapping)
    (item,) = list(source.items())
    assert isinstance(item, SourcedRecord)
    assert item.record.notes[0].text == note_text


def test_a_5mb_note_audits_with_the_default_pack(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(big_note_line() + "\n", encoding="utf-8")
    audit = run_audit([path], None, privacy=False)
    assert len(audit.records) == 1 and not audit.rejected
