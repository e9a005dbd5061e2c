"""The data-driven kinds: field_in, event_within, all_of / any_of, conditions, note scope."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from recaudit.engine import context_for, evaluate_record
from recaudit.kinds.events import EventWithinRule
from recaudit.records import Record
from recaudit.rulepack import PackError, load_pack
from recaudit.rulepack.codes import build_index, load_codelists
from recaudit.rulepack.schema import Condition, NoteScope
from recaudit.rulepack.timespan import Span, add_working_days

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CODES = REPO / "rules" / "wales-children"


def record(**fields: Any) -> Record:
    data = {"record_id": "R1", "case_type": "child_protection", **fields}
    return Record.model_validate_json(json.dumps(data))


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


# ----------------------------------------------------------------------------- code lists


def test_shipped_code_lists_are_complete_and_cited() -> None:
    lists, problems = load_codelists(SHIPPED_CODES)
    assert problems == []
    ethnicity = lists["dfe-ethnicity"]
    codes = {c.code for c in ethnicity.codes}
    assert len(codes) == 20 and {"WBRI", "REFU", "NOBT", "WROM", "CHNE"} <= codes
    assert "Department for Education" in ethnicity.source
    religion = lists["nhs-religion"]
    assert [c.code for c in religion.codes] == list("ABCDEFGHIJKLMN")
    assert "NHS Data Model and Dictionary" in religion.source


def test_ssda903_codes_are_all_in_the_list(shared_dir: Path) -> None:
    lists, _ = load_codelists(SHIPPED_CODES)
    index = build_index(lists["dfe-ethnicity"].as_lexicon())
    column = [
        line.split(",")[3]
        for line in (shared_dir / "external" / "ssda903-header.csv").read_text().splitlines()[1:]
    ]
    assert column and all(index.lookup(code) == code for code in column)


@pytest.fixture
def coded_pack(tmp_path: Path):
    lists = SHIPPED_CODES / "codelists"
    files = {
        "pack.yaml": "name: coded\nversion: '1'\nrules: [rules.yaml]\n",
        "rules.yaml": r"""
            - id: ethnicity-coded
              kind: field_in
              title: Ethnicity coded
              field: child.ethnicity
              codes: dfe-ethnicity
              strip: '^[a-z]\)\s*'
              exclude: [NOBT]
              aliases: {"White Welsh (Cymraes)": WBRI}
            - id: religion-coded
              kind: field_in
              title: Religion coded
              field: child.religion
              codes: nhs-religion
              exclude: [N]
            """,
    }
    for name in ("dfe-ethnicity.yaml", "nhs-religion.yaml"):
        files[f"codelists/{name}"] = (lists / name).read_text()
    return load_pack(write(tmp_path / "coded", files))


@pytest.mark.parametrize(
    ("value", "outcome", "reason"),
    [
        ("WBRI", "met", "is in dfe-ethnicity"),
        ("a) WBRI", "met", "→ WBRI (White British)"),
        ("White British", "met", "→ WBRI"),
        ("  white - WELSH ", "met", "→ WBRI"),
        ("White Welsh (Cymraes)", "met", "→ WBRI"),
        ("s) NOBT", "not_met", "which is not an answer"),
        ("REFU", "met", "in dfe-ethnicity"),
        ("Martian", "not_met", "not a code in dfe-ethnicity"),
        (None, "not_met", "is null"),
    ],
)
def test_field_in_normalises_aliases(coded_pack, value, outcome, reason) -> None:
    child = {"ethnicity": value}
    result = evaluate_record(record(child=child), "t", coded_pack, context_for(coded_pack))
    got = result.result("ethnicity-coded")
    assert got is not None
    assert (got.outcome, reason in got.reason) == (outcome, True), got.reason


def test_field_in_religion_codes(coded_pack) -> None:
    ctx = context_for(coded_pack)
    outcomes = {
        value: evaluate_record(record(child={"religion": value}), "t", coded_pack, ctx)
        .result("religion-coded")
        .outcome
        for value in ("Church in Wales", "No religion", "Declined to say", "Unknown", "G")
    }
    assert outcomes == {
        "Church in Wales": "met",
        "No religion": "met",
        "Declined to say": "met",
        "Unknown": "not_met",
        "G": "met",
    }


def test_field_in_bad_references_are_load_errors(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "p",
        {
            "pack.yaml": "name: p\nversion: '1'\nrules: [r.yaml]\n",
            "codelists/c.yaml": "name: c\ntitle: C\nsource: test\ncodes: [{code: X}]\n",
            "r.yaml": """\
                - id: a
                  kind: field_in
                  title: A
                  field: child.ethnicity
                  codes: nope
                - id: b
                  kind: field_in
                  title: B
                  field: child.ethnicity
                  codes: c
                  aliases: {ex: Y}
                """,
        },
    )
    with pytest.raises(PackError) as exc:
        load_pack(folder)
    assert [str(p) for p in exc.value.problems] == [
        "p/r.yaml:5:3: error: a: unknown code list or lexicon 'nope'",
        "p/r.yaml:11:13: error: b: alias target 'Y' is not a code",
    ]


# ----------------------------------------------------------------------------- timescales


def test_working_days_skip_welsh_bank_holidays() -> None:
    # Thu 6 Apr 2023: Good Friday, Easter Monday and May Day are not working days.
    assert add_working_days(dt.date(2023, 4, 6), 15) == dt.date(2023, 5, 2)
    # The 2023 coronation bank holiday (Mon 8 May) came from the holidays package.
    assert add_working_days(dt.date(2023, 5, 5), 1) == dt.date(2023, 5, 9)
    assert Span(months=3).after(dt.date(2023, 11, 30)) == dt.date(2024, 2, 29)
    assert str(Span(weeks=1)) == "1 week" and str(Span(working_days=15)) == "15 working days"


def test_span_needs_exactly_one_unit() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Span(days=1, weeks=1)


def visits_rule(**extra: Any) -> EventWithinRule:
    return EventWithinRule.model_validate(
        {
            "id": "visits",
            "kind": "event_within",
            "title": "Visits",
            "event": "statutory_visit",
            "after": "placement_start",
            "within": {"weeks": 1},
            "then_every": {"weeks": 6},
            **extra,
        }
    )


def events(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"type": t, "date": d} for t, d in pairs]


def test_event_within_missing_events_are_not_met_not_errors() -> None:
    rule = visits_rule()
    ctx = context_for(load_pack(REPO / "tests" / "fixtures" / "packs" / "fields-base"))
    no_anchor = rule.evaluate(record(events=[]), ctx)
    assert no_anchor.outcome == "not_met"
    assert "no placement_start event recorded" in no_anchor.reason
    no_visit = rule.evaluate(
        record(
            events=events(("placement_start", "2023-03-06")),
            notes=[{"note_id": "N1", "date": "2023-04-01", "text": "x"}],
        ),
        ctx,
    )
    assert no_visit.outcome == "not_met" and "due by 2023-03-13" in no_visit.reason


def test_event_within_shape_is_validated() -> None:
    with pytest.raises(ValueError, match="within needs after"):
        EventWithinRule.model_validate(
            {"id": "x", "kind": "event_within", "title": "X", "event": "a", "within": {"days": 1}}
        )
    with pytest.raises(ValueError, match=r"within .* and/or then_every"):
        EventWithinRule.model_validate(
            {"id": "x", "kind": "event_within", "title": "X", "event": "a", "after": "b"}
        )


def test_recurrence_without_deadline_counts_from_the_first_event() -> None:
    rule = EventWithinRule.model_validate(
        {
            "id": "reviews",
            "kind": "event_within",
            "title": "Reviews",
            "event": "looked_after_review",
            "then_every": {"months": 6},
        }
    )
    ctx = context_for(load_pack(REPO / "tests" / "fixtures" / "packs" / "fields-base"))
    ok = rule.evaluate(
        record(
            events=events(
                ("looked_after_review", "2023-01-10"), ("looked_after_review", "2023-07-01")
            )
        ),
        ctx,
    )
    assert ok.outcome == "met"
    late = rule.evaluate(
        record(
            events=events(
                ("looked_after_review", "2023-01-10"), ("looked_after_review", "2023-08-01")
            )
        ),
        ctx,
    )
    assert late.outcome == "not_met" and "due by 2023-07-10" in late.reason


# ----------------------------------------------------------------------------- composites


@pytest.fixture
def composite_pack(tmp_path: Path):
    base = REPO / "tests" / "fixtures" / "packs" / "fields-base"
    return write(
        tmp_path / "comp",
        {
            "pack.yaml": f"name: comp\nversion: '1'\nextends: ['{base}']\nrules: [r.yaml]\n",
            "r.yaml": """\
                - id: demographics-complete
                  kind: all_of
                  title: All demographics recorded
                  rules: [ethnicity-recorded, language-recorded, religion-recorded]
                - id: any-demographic
                  kind: any_of
                  title: Some demographic recorded
                  rules: [ethnicity-recorded, language-recorded]
                  applies_when: [{field: child.age_years, min: 5, max: 17}]
                """,
        },
    )


def test_all_of_and_any_of(composite_pack: Path) -> None:
    pack = load_pack(composite_pack)
    ctx = context_for(pack)
    full = {"ethnicity": "WBRI", "language": "x", "first_language": "Welsh", "religion": "None"}
    some = {"ethnicity": "WBRI", "first_language": "tbc", "religion": "?", "age_years": 9}
    met = evaluate_record(record(child={**full, "age_years": 9}), "t", pack, ctx)
    part = evaluate_record(record(child=some), "t", pack, ctx)
    toddler = evaluate_record(record(child={**some, "age_years": 2}), "t", pack, ctx)
    assert met.result("demographics-complete").outcome == "met"
    assert met.result("any-demographic").outcome == "met"
    assert part.result("demographics-complete").outcome == "not_met"
    assert "language-recorded not_met" in part.result("demographics-complete").reason
    assert part.result("any-demographic").outcome == "met"
    assert toddler.result("any-demographic").outcome == "not_applicable"
    assert "child.age_years between 5 and 17" in toddler.result("any-demographic").reason


def test_composite_references_are_checked(tmp_path: Path, composite_pack: Path) -> None:
    text = (composite_pack / "r.yaml").read_text().replace("religion-recorded]", "religon]")
    (composite_pack / "r.yaml").write_text(text)
    with pytest.raises(PackError) as exc:
        load_pack(composite_pack)
    assert [str(p) for p in exc.value.problems] == [
        "comp/r.yaml:4:50: error: demographics-complete: rules: unknown rule 'religon'"
    ]


def test_disabling_a_combined_rule_is_an_unsupported_combination(composite_pack: Path) -> None:
    manifest = composite_pack / "pack.yaml"
    manifest.write_text(
        manifest.read_text() + "overrides:\n  religion-recorded: {enabled: false}\n"
    )
    with pytest.raises(PackError, match="combines rule 'religion-recorded', which is disabled"):
        load_pack(composite_pack)


def test_composite_cycle_is_an_error(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "cyc",
        {
            "pack.yaml": "name: cyc\nversion: '1'\nrules: [r.yaml]\n",
            "r.yaml": """\
                - {id: a, kind: all_of, title: A, rules: [b]}
                - {id: b, kind: any_of, title: B, rules: [a]}
                """,
        },
    )
    with pytest.raises(PackError, match="cycle: a -> b -> a"):
        load_pack(folder)


# ----------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "fields", "holds"),
    [
        ({"field": "child.age_years", "min": 10, "max": 17}, {"child": {"age_years": 12}}, True),
        ({"field": "child.age_years", "min": 10, "max": 17}, {"child": {"age_years": 18}}, False),
        ({"field": "child.age_years", "min": 10}, {"child": {}}, False),
        ({"field": "carers", "non_empty": True}, {"carers": [{"carer_id": "C1"}]}, True),
        ({"field": "carers", "non_empty": True}, {"carers": []}, False),
        (
            {"event_present": "strategy_discussion"},
            {"events": events(("strategy_discussion", "2023-01-02"))},
            True,
        ),
        ({"event_present": "strategy_discussion"}, {"events": []}, False),
        ({"event_absent": "strategy_discussion"}, {"events": []}, True),
        ({"field": "team", "matches": "^safeguarding"}, {"team": "Safeguarding Hub"}, True),
        ({"field": "team", "matches": "^safeguarding"}, {"team": None}, False),
    ],
)
def test_conditions(condition: dict[str, Any], fields: dict[str, Any], holds: bool) -> None:
    assert Condition.model_validate(condition).holds(record(**fields)) is holds


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"event_present": "x", "field": "team"}, "stands alone"),
        ({"field": "team"}, "exactly one"),
        ({"field": "team", "matches": r"(a)\1"}, "RE2"),
        ({"field": "child.age_years", "min": 9, "max": 2}, "greater than max"),
        ({"in": [1]}, "give a field"),
    ],
)
def test_bad_conditions(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Condition.model_validate(condition)


# ----------------------------------------------------------------------------- note scope


class Scoped(NoteScope):
    pass


def test_note_scope_limits_types_and_window() -> None:
    rec = record(
        events=events(("became_looked_after", "2023-04-06")),
        notes=[
            {"note_id": "N1", "date": "2023-04-20", "type": "home_visit", "text": "a"},
            {"note_id": "N2", "date": "2023-05-03", "type": "home_visit", "text": "b"},
            {"note_id": "N3", "date": "2023-04-21", "type": "supervision", "text": "c"},
            {"note_id": "N4", "type": "home_visit", "text": "undated"},
        ],
    )
    assert [n.note_id for n in Scoped().notes_in_scope(rec)] == ["N1", "N2", "N3", "N4"]
    visits = Scoped(note_types=["home_visit"])
    assert [n.note_id for n in visits.notes_in_scope(rec)] == ["N1", "N2", "N4"]
    # 20 working days from Thu 6 Apr 2023 (Easter and May Day skipped) ends on Thu 4 May.
    window = Scoped.model_validate(
        {
            "note_types": ["home_visit"],
            "note_window": {"event": "became_looked_after", "after": {"working_days": 20}},
        }
    )
    assert [n.note_id for n in window.notes_in_scope(rec)] == ["N1", "N2"]
    assert window.scope_description() == (
        "home_visit notes dated within 20 working days after became_looked_after"
    )
    assert (
        Scoped.model_validate(
            {"note_window": {"event": "never", "after": {"days": 5}}}
        ).notes_in_scope(rec)
        == []
    )


def test_text_rule_limited_to_note_types_and_window_by_override(tmp_path: Path) -> None:
    offer = (
        "I made the active offer of advocacy to Child A today and explained what an "
        "independent advocate does. She declined."
    )
    rec = record(
        events=events(("initial_child_protection_conference", "2023-03-01")),
        notes=[{"note_id": "N1", "date": "2023-05-30", "type": "home_visit", "text": offer}],
    )
    scoped = write(
        tmp_path / "scoped",
        {
            "pack.yaml": """\
                name: scoped
                version: '1'
                extends: [wales-children]
                overrides:
                  advocacy-active-offer:
                    note_window:
                      event: initial_child_protection_conference
                      after: {working_days: 20}
                """
        },
    )
    base, limited = load_pack("wales-children"), load_pack(scoped)
    assert (
        evaluate_record(rec, "t", base, context_for(base)).result("advocacy-active-offer").outcome
        == "met"
    )
    got = evaluate_record(rec, "t", limited, context_for(limited)).result("advocacy-active-offer")
    assert got.outcome == "not_met"
    assert "checked notes: none; dated within 20 working days after" in got.reason
    # Same rule, but a note inside the window counts again.
    inside = rec.model_copy(
        update={"notes": [rec.notes[0].model_copy(update={"date": dt.date(2023, 3, 20)})]}
    )
    assert (
        evaluate_record(inside, "t", limited, context_for(limited))
        .result("advocacy-active-offer")
        .outcome
        == "met"
    )
    # Adding the optional scope fields did not change the shipped rule's identity payload.
    rule = base.rule("advocacy-active-offer")
    assert "note_types" not in rule.identity_payload() and "note_window" not in (
        rule.identity_payload()
    )
