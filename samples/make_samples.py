"""Write samples/records.jsonl: 32 synthetic, entirely fictional case records.

Children are "Child S1" … or "the young person"; adults appear only by role. The notes
cover every outcome of every rule of the default pack, in a recording style deliberately
unlike the development set. Run: python samples/make_samples.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Voice of the child: met / partial / not_met.
VOICE_MET = [
    'Saw {c} alone in {q} room. {c} said "I want to stay with Nan and see Mum at weekends".',
    "{c} completed a three houses exercise with me. In the house of worries {p} drew Dad shouting.",
    "Scaling with {c}: {p} rated feeling safe at home as 8 out of 10 "
    "and told me school is the best bit.",
    "{c} told me {p} misses {q} brother and wants more contact with him.",
    'In his words: "I don\'t want to move again." {c} was clear about this when seen alone.',
    "{c} (11 months) was alert and babbling, smiled at the foster carer "
    "and reached for her when I picked {c} up.",
    'We spoke in Welsh. {c} told me: "Dw i eisiau aros gyda Nain" (I want to stay with Nain).',
]
VOICE_PARTIAL = [
    "I tried to speak with {c} on {q} own but {p} did not want to talk today.",
    "Wishes and feelings work was started with {c} but {p} left the session after five minutes.",
    "{c} was asleep throughout the visit so I could not observe {q} interaction with the carer.",
]
VOICE_NOT_MET = [
    "Mum said things are calmer at home and the school reported good attendance.",
    "{c} was not seen on this visit. Dad said {p} was at a friend's house.",
    "Telephone call with the foster carer, who said {c} has settled well.",
]
# Active offer of advocacy: met / not_met.
ADVOCACY_MET = [
    "I explained the role of an independent advocate to {c} "
    "and made a referral to the advocacy service.",
    "Active offer of advocacy made to {c} today; {p} declined an advocate for now.",
    "{c} was offered advocacy by phone and accepted.",
]
ADVOCACY_NOT_MET = [
    "Advocacy was not discussed at this visit.",
    "I will make the active offer of advocacy at the next visit.",
    "Active offer of advocacy made? Y / N ____",
    "Mum was offered an advocate for the conference.",
]
# Carers assessment offer: met / not_met.
CARERS_MET = [
    "I offered {r} a carer's assessment; {r} declined, saying the family manage well.",
    "A carer's assessment for {r} was completed by the carers' centre this month.",
    "I have arranged a carer's assessment for {r} with the carers' centre.",
]
CARERS_NOT_MET = [
    "Plan: worker to offer {r} a carer's assessment.",
    "A carer's assessment has not been offered to {r} yet.",
    "Carer's assessment offered? ____",
]

CASE_TYPES = [
    "child_protection",
    "care_experienced",
    "care_leaver",
    "care_and_support",
    "early_help",
]
TEAMS = {
    "SW-01": "Safeguarding Hub",
    "SW-02": "Children Looked After Team",
    "SW-03": "Leaving Care Team",
    "SW-04": "Family Support",
    "SW-05": "Safeguarding Hub",
}
# (value, expected outcome): the labels are written by hand, not computed by recaudit.
ETHNICITY = [
    ("White - Welsh", "met"),
    ("Mixed - White and Asian", "met"),
    ("WBRI", "met"),
    ("Declined to say", "met"),
    ("TBC", "not_met"),
    (None, "not_met"),
    ("Black - African", "met"),
    (" Unknown ", "not_met"),
]
LANGUAGE = [
    ("Welsh", "met"),
    ("English", "met"),
    ("British Sign Language", "met"),
    ("Polish", "met"),
    ("n/a", "not_met"),
    (None, "not_met"),
    ("Arabic", "met"),
    ("-", "not_met"),
]
RELIGION = [
    ("No religion", "met"),
    ("Muslim", "met"),
    ("Christian", "met"),
    ("Refused", "met"),
    ("not stated", "not_met"),
    ("?", "not_met"),
    ("None", "met"),
    (None, "not_met"),
]
ADVOCACY_CASE_TYPES = {"child_protection", "care_experienced", "care_leaver"}


def note(record: int, index: int, text: str, kind: str) -> dict[str, Any]:
    return {
        "note_id": f"N{index}",
        "date": f"2024-{(record % 9) + 1:02d}-{(index * 7) % 27 + 1:02d}",
        "author": f"SW-0{record % 5 + 1}",
        "type": kind,
        "text": text,
    }


def make_record(i: int) -> tuple[dict[str, Any], dict[str, str]]:
    """One record and the outcome a careful human auditor would give for each rule."""
    worker = f"SW-0{i % 5 + 1}"
    case_type = CASE_TYPES[i % 5]
    child = f"Child S{i}"
    pronoun, possessive = ("she", "her") if i % 2 else ("he", "his")
    carer_role = ["Mum", "Nan", "Dad", "Aunt"][i % 4]
    has_carer = i % 3 != 0
    fmt = {"c": child, "p": pronoun, "q": possessive, "r": carer_role}

    voice = [VOICE_MET, VOICE_PARTIAL, VOICE_NOT_MET][i % 3]
    advocacy = ADVOCACY_MET if i % 2 == 0 else ADVOCACY_NOT_MET
    carers = CARERS_MET if (i // 2) % 2 == 0 else CARERS_NOT_MET
    notes = [
        note(i, 1, voice[(i // 3) % len(voice)].format(**fmt), "home_visit"),
        note(i, 2, advocacy[(i // 2) % len(advocacy)].format(**fmt), "case_note"),
    ]
    if has_carer:
        notes.append(note(i, 3, carers[(i // 4) % len(carers)].format(**fmt), "telephone_call"))
    child_fields: dict[str, Any] = {
        "age_years": 0 if "11 months" in notes[0]["text"] else 4 + i % 14,
        "ethnicity": ETHNICITY[i % len(ETHNICITY)][0],
        "first_language": LANGUAGE[(i + 3) % len(LANGUAGE)][0],
        "religion": RELIGION[(i + 5) % len(RELIGION)][0],
    }
    if i % 6 != 5:  # every sixth record has no siblings field at all
        child_fields["siblings"] = (
            []
            if i % 4 == 0
            else [{"sibling_id": "S-1", "relationship": "brother", "lives_with_child": i % 2 == 0}]
        )
    expected = {
        "voice-of-child": ["met", "partial", "not_met"][i % 3],
        "advocacy-active-offer": (
            ("met" if advocacy is ADVOCACY_MET else "not_met")
            if case_type in ADVOCACY_CASE_TYPES
            else "not_applicable"
        ),
        "carers-assessment-offer": (
            ("met" if carers is CARERS_MET else "not_met") if has_carer else "not_applicable"
        ),
        "siblings-recorded": "met" if "siblings" in child_fields else "not_met",
        "ethnicity-recorded": ETHNICITY[i % len(ETHNICITY)][1],
        "language-recorded": LANGUAGE[(i + 3) % len(LANGUAGE)][1],
        "religion-recorded": RELIGION[(i + 5) % len(RELIGION)][1],
    }
    record = {
        "record_id": f"SMP-{i:03d}",
        "worker": worker,
        "team": TEAMS[worker],
        "case_type": case_type,
        "child": child_fields,
        "carers": [{"carer_id": "C-1", "relationship": carer_role.lower()}] if has_carer else [],
        "events": (
            [
                {"type": "strategy_discussion", "date": "2024-01-08"},
                {
                    "type": "initial_child_protection_conference",
                    "date": f"2024-01-{22 + i % 8:02d}",
                },
            ]
            if case_type == "child_protection"
            else []
        ),
        "notes": notes,
    }
    return record, expected


def main() -> None:
    records = HERE / "records.jsonl"
    labels = HERE / "expected.jsonl"
    with (
        records.open("w", encoding="utf-8", newline="\n") as out,
        labels.open("w", encoding="utf-8", newline="\n") as gold,
    ):
        for i in range(1, 33):
            record, expected = make_record(i)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            for rule_id, outcome in expected.items():
                row = {"record_id": record["record_id"], "rule_id": rule_id, "outcome": outcome}
                gold.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
