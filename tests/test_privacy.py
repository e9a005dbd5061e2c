"""The anonymisation guard: what it finds, how it masks, and how the audit uses it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recaudit import privacy
from recaudit.audit import run_audit, write_reports
from recaudit.cli import app
from recaudit.privacy import PrivacyGuard, find_identifiers, identifying_name, mask
from recaudit.records import parse_record

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "tests" / "fixtures" / "mapping" / "pack"
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "privacy"))

import synthetic  # noqa: E402


def kinds(text: str) -> list[tuple[str, str]]:
    return [(h.kind, h.value) for h in find_identifiers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NHS no 943 476 5919 today", [("nhs_number", "943 476 5919")]),
        ("NHS 9434765919.", [("nhs_number", "9434765919")]),
        ("NI AB 12 34 56 C", [("ni_number", "AB 12 34 56 C")]),
        ("nino ab123456c", [("ni_number", "ab123456c")]),
        ("moved to CF10 1AA last week", [("postcode", "CF10 1AA")]),
        ("near sw1a1aa", [("postcode", "sw1a1aa")]),
        (
            "call 029 2018 1234 or 07700 900123",
            [("phone", "029 2018 1234"), ("phone", "07700 900123")],
        ),
        ("on +44 7911 123456", [("phone", "+44 7911 123456")]),
        ("mail jo.bloggs@example.org", [("email", "jo.bloggs@example.org")]),
        ("UPN D660123421001", [("upn", "D660123421001")]),
        ("DOB 12/03/2011", [("date_of_birth", "12/03/2011")]),
        ("born on 4th May 2012", [("date_of_birth", "4th May 2012")]),
        ("Date of birth: 2011-03-12", [("date_of_birth", "2011-03-12")]),
    ],
)
def test_finds_each_kind(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "NHS no 943 476 5910",  # wrong check digit
        "ref 1234567890",  # starts with 1: not an NHS number range
        "UPN D660123421002",  # wrong check letter
        "NI QQ 12 34 56 C",  # Q never used
        "Visit on 12/03/2023 at 10:30, next 14.03.2023",
        "Child A was born in 2011 and is 9.",
        "Paid £1,250.00; 2nd floor, room B12; Year 6; 45 minutes",
        "Case reference 2023/004512 transferred",
        "ICPC held 03/10/2022; review conference 2023-01-09",
    ],
)
def test_identifier_free_text(text: str) -> None:
    assert kinds(text) == []


def test_masks_never_repeat_the_value() -> None:
    assert mask("943 476 5919", 3) == "943 *** ****"
    assert mask("12/03/2011") == "**/**/****"
    assert mask("jo@example.org", 1) == "j*@*******.***"


def record(**fields):
    obj = {"record_id": "R1", "case_type": "early_help", **fields}
    return parse_record(obj, "r.jsonl:1").record


def test_guard_scans_fields_extras_and_notes_with_offsets() -> None:
    note = "Seen at home. Mum's mobile 07700 900123; NHS no 943 476 5919."
    rec = record(
        worker="jo@example.org",
        notes=[{"note_id": "N2", "text": note}],
        child={"ethnicity": "WBRI", "dob": "2011-03-12"},
        nhs_number="9434765919",
    )
    findings = PrivacyGuard().scan_record("r.jsonl:1", rec)
    by_location = {(f.location, f.kind): f for f in findings}
    assert by_location[("worker", "email")].masked == "j*@*******.***"
    phone = by_location[("notes[N2].text", "phone")]
    assert note[phone.offset : phone.offset + 12] == "07700 900123"
    nhs = by_location[("notes[N2].text", "nhs_number")]
    assert note[nhs.offset :].startswith("943 476 5919") and nhs.masked == "943 *** ****"
    assert by_location[("child.dob: date of birth", "identifying_field")].masked == "****-**-**"
    assert ("nhs_number: NHS number", "identifying_field") in by_location
    assert ("nhs_number", "nhs_number") in by_location
    for finding in findings:
        assert "900123" not in finding.masked and "5919" not in finding.masked
        assert finding.source == "r.jsonl:1" and finding.record_id == "R1"


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("DOB", "date of birth"),
        ("MC_DOB", "date of birth"),
        ("Date of Birth", "date of birth"),
        ("UPN", "unique pupil number"),
        ("NHS Number", "NHS number"),
        ("childFirstName", "name"),
        ("Surname", "name"),
        ("Placement postcode", "address"),
        ("Team name", None),
        ("Allocated Worker", None),
        ("CHILD", None),
        ("Ethnicity", None),
    ],
)
def test_identifying_column_names(name: str, what: str | None) -> None:
    assert identifying_name(name) == what


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_run_audit_collects_findings_and_audit_json_holds_them_masked(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"record_id": "A", "case_type": "early_help", "notes": [
                {"note_id": "N1", "text": "DOB 12/03/2011, lives at CF10 1AA."}]},
            {"record_id": "B", "case_type": "early_help", "notes": [
                {"note_id": "N1", "text": "Visit on 12/03/2023 at 10:30."}]},
        ],
    )  # fmt: skip
    audit = run_audit([path], PACK)
    assert [(f.record_id, f.kind, f.offset) for f in audit.privacy] == [
        ("A", "date_of_birth", 4),
        ("A", "postcode", 25),
    ]
    write_reports(audit, tmp_path / "out", ["json"])
    text = (tmp_path / "out" / "audit.json").read_text()
    assert "12/03/2011" not in text and "CF10 1AA" not in text
    assert json.loads(text)["privacy"][0]["masked"] == "**/**/****"
    assert run_audit([path], PACK, privacy=False).privacy == []


def test_strict_anonymisation_refuses_to_write_reports(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [{"record_id": "A", "case_type": "early_help", "notes": [
            {"note_id": "N1", "text": "NHS 943 476 5919"}]}],
    )  # fmt: skip
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["audit", str(path), "-r", str(PACK), "-o", str(out)]
    refused = runner.invoke(app, [*args, "--strict-anonymisation"])
    assert refused.exit_code == 1
    assert "not anonymised" in refused.output and "943 *** ****" in refused.output
    assert not out.exists()
    written = runner.invoke(app, args)
    assert written.exit_code == 0 and (out / "audit.json").is_file()
    clean = write_jsonl(tmp_path / "c.jsonl", [{"record_id": "A", "case_type": "early_help"}])
    ok = runner.invoke(app, ["audit", str(clean), "-r", str(PACK), "-o", str(out),
                             "--strict-anonymisation"])  # fmt: skip
    assert ok.exit_code == 0, ok.output


def test_synthetic_set_recall_is_complete() -> None:
    notes = synthetic.planted(seed=7, n=700)
    missed = []
    for note in notes:
        hits = find_identifiers(note.text)
        for p in note.planted:
            if not any(h.kind == p.kind and h.start <= p.start and h.end >= p.end for h in hits):
                missed.append((p.kind, p.value))
    assert sum(len(n.planted) for n in notes) > 800
    assert missed == []


def test_synthetic_identifier_free_notes_false_positive_rate() -> None:
    notes = synthetic.clean(seed=11, n=2000)
    flagged = [n for n in notes if find_identifiers(n.text)]
    # Measured 3.25 %: 10-digit reference numbers that happen to pass the NHS mod-11
    # check (about 1 in 11 of them) are the only systematic source; see privacy_eval.py.
    assert len(flagged) / len(notes) < 0.05
    kinds = {h.kind for n in flagged for h in find_identifiers(n.text)}
    assert kinds <= {"nhs_number", "phone"}


# --------------------------------------------- the fast path finds what the patterns find


def _everywhere(text: str) -> list[tuple[str, int, int]]:
    """The exact patterns over the whole text, without the candidate windows."""
    hits = list(privacy._numeric_hits(text, 0))
    hits += [
        privacy.Hit("email", m.start(), m.end(), m.group()) for m in privacy._EMAIL.finditer(text)
    ]
    hits += [
        privacy.Hit("date_of_birth", m.start("date"), m.end("date"), m.group("date"))
        for m in privacy._DOB.finditer(text)
    ]
    return [(h.kind, h.start, h.end) for h in privacy._resolve(hits)]


def _spans(text: str) -> list[tuple[str, int, int]]:
    return [(h.kind, h.start, h.end) for h in find_identifiers(text)]


def test_windowed_scan_equals_a_whole_text_scan_on_the_synthetic_sets() -> None:
    texts = [n.text for n in synthetic.planted(seed=3, n=400)]
    texts += [n.text for n in synthetic.clean(seed=5, n=400)]
    texts += ["GIR 0AA", "gir0aa here", "at B33 8TH.", "DN55 1PT", "ref 2021-05-04 10.30-11.45"]
    different = [t for t in texts if _spans(t) != _everywhere(t)]
    assert different == []


_PLANTED = [p.value for n in synthetic.planted(seed=9, n=60) for p in n.planted]
_NOISE = st.text(alphabet="0123456789 ()-.+/@:ABCDGHIKNORSTWZabdgirſK\n", max_size=30)


@settings(max_examples=400, deadline=None)
@given(before=_NOISE, value=st.sampled_from(_PLANTED), after=_NOISE, glue=st.sampled_from(" x(-"))
def test_windowed_scan_equals_a_whole_text_scan_on_noisy_text(
    before: str, value: str, after: str, glue: str
) -> None:
    text = before + glue + value + after
    assert _spans(text) == _everywhere(text)


# ------------------------------- a record's strings scanned together, as one by one

_PIECES = st.lists(
    st.one_of(
        _NOISE,
        st.sampled_from(_PLANTED),
        st.sampled_from(["", "\x00", "d", "ob", "born", "DOB 12/03/2011", "AB", "1", "@x.org"]),
    ),
    max_size=4,
).map("".join)


def _one_by_one(texts: list[str]) -> dict[int, list[privacy.Hit]]:
    return {i: hits for i, text in enumerate(texts) if (hits := find_identifiers(text))}


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(_PIECES, max_size=8))
def test_strings_scanned_together_give_what_each_gives_alone(texts: list[str]) -> None:
    # Identifiers split over two strings ("AB" + "12 34 56 C", "d" + "ob …") are found in
    # neither, whatever the joint; a "\x00" inside a string is just a character.
    assert privacy.find_identifiers_in(texts) == _one_by_one(texts)


def test_strings_scanned_together_on_the_synthetic_sets() -> None:
    texts = [n.text for n in synthetic.planted(seed=13, n=300)]
    texts += [n.text for n in synthetic.clean(seed=17, n=300)]
    together = privacy.find_identifiers_in(texts)
    assert together == _one_by_one(texts)
    assert len(together) > 250


def test_the_ascii_candidate_pattern_has_the_same_classes_on_ascii() -> None:
    space = r"[ \t\n\r\f\v\x1c-\x1f]"
    pairs = [(r"\d", r"\d"), (r"[^\W\d_]", r"[^\W\d_]"), (r"[^\W_]", r"[^\W_]"), (r"\s", space)]
    for code in range(128):
        char = chr(code)
        for unicode, ascii_only in pairs:
            assert (re.fullmatch(unicode, char) is None) == (
                re.fullmatch(ascii_only, char, re.ASCII) is None
            ), (unicode, char)


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(
        st.sampled_from([*_PLANTED, "\x1c", "\x1f", "\x0b", "GIR 0aa", "a1", " "])
        | st.sampled_from(["12", "345", "6789", "0", "\x1c", "\x1f", "-", "(", "AB", "C"])
        | st.text(alphabet=st.characters(max_codepoint=127), max_size=12),
        max_size=12,
    ).map("".join)
)
def test_the_ascii_candidate_pattern_finds_what_the_unicode_one_finds(text: str) -> None:
    assert text.isascii()
    spans = [m.span() for m in privacy._CANDIDATE.finditer(text)]
    assert [m.span() for m in privacy._CANDIDATE_ASCII.finditer(text)] == spans


def _scan_one_value_at_a_time(source: str, data: dict) -> list[privacy.IdentifierFinding]:
    """What the guard reports, spelt out: every value in document order, its key's name
    and the identifiers in it."""
    rid = data.get("record_id")
    rid = str(rid) if isinstance(rid, str | int) else None
    out = []
    for path, key, value in privacy._walk(data, ""):
        if key is not None and key not in privacy._CANONICAL and identifying_name(key):
            masked = mask(value) if isinstance(value, str) else ""
            what = identifying_name(key)
            out.append(
                privacy.IdentifierFinding(
                    "identifying_field", source, rid, f"{path}: {what}", None, masked
                )
            )
        for hit in find_identifiers(value) if isinstance(value, str) else ():
            out.append(
                privacy.IdentifierFinding(
                    hit.kind,
                    source,
                    mask(rid) if path == "record_id" and rid else rid,
                    path,
                    hit.start if path.endswith(".text") else None,
                    privacy.mask_hit(hit),
                )
            )
    return out


_KEYS = st.sampled_from(
    ["record_id", "notes", "text", "note_id", "child", "dob", "Surname", "team name", "x", "names"]
)
_VALUES = st.recursive(
    st.none() | st.integers() | _PIECES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_a_record_scan_reports_what_scanning_value_by_value_reports(data: dict) -> None:
    assert PrivacyGuard().scan_record("r:1", data) == _scan_one_value_at_a_time("r:1", data)


def test_an_ni_shaped_number_without_an_ni_suffix_letter_opens_no_window() -> None:
    # Six digits between words ("reference 773781 updated") are common in notes; only a
    # suffix letter A-D (either case) can end an NI number, so only that opens a window.
    assert privacy._candidates("Case reference 773781 updated") == []
    assert privacy._candidates("ref AB123456E here") == []
    for text in ("NI: AB 12 34 56 C.", "ni ab123456d", "JG103759A", "ce 12 34 56 b"):
        assert privacy._candidates(text), text
        assert _spans(text) == _everywhere(text)
    assert [h.kind for h in find_identifiers("NI: AB 12 34 56 C.")] == ["ni_number"]
