"""Deterministic synthetic corpus of canonical records for benchmarks.

    python benchmarks/corpus.py --words 3000000 --out /tmp/corpus-3m.jsonl

The same `--words` and `--seed` always give the same file, byte for byte. Records look like a
council's year of children's case notes: notes of 40–400 words (most around 150), a mix of
case types, demographics with placeholders, and evidence for the three text checks at
realistic rates, together with the near-misses a detector must reject (negated, planned,
template-prompt and other-person sentences). Reference numbers and dates make every note
carry a few one-off tokens, as real notes do, so vocabulary growth shows up in memory
benchmarks.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CASE_TYPES = (
    ("child_protection", 30),
    ("care_experienced", 25),
    ("care_leaver", 10),
    ("care_and_support", 20),
    ("early_help", 15),
)
TEAMS = (
    "Safeguarding Hub",
    "Children Looked After Team",
    "Leaving Care Team",
    "Disabled Children's Team",
    "Family Support (Early Help)",
    "Assessment and Intervention Team",
)
PLACEHOLDERS = ("unknown", "Not known", "TBC", "n/a", "NOBT", "-", "?", "", "Not recorded")
ETHNICITIES = (
    "White - Welsh",
    "White - British",
    "White - Any other White background",
    "Mixed - White and Black Caribbean",
    "Asian - Pakistani",
    "Black - African",
    "Declined to say",
    "REFU",
)
LANGUAGES = ("English", "Welsh", "Polish", "Arabic", "BSL", "Urdu", "Romanian")
RELIGIONS = ("No religion", "Christian", "Muslim", "Declined to say", "Sikh", "Hindu", "Refused")
NOTE_TYPES = ("home_visit", "telephone_call", "school_visit", "direct_work", "case_note")
EVENTS = (
    "strategy_discussion",
    "initial_child_protection_conference",
    "review_child_protection_conference",
    "looked_after_review",
    "pathway_plan_review",
)

CHILDREN = ("Child A", "Child B", "Child AA", "Baby C", "the young person", "YP", "Child D")
ADULTS = ("Mum", "Dad", "Nan", "Nain", "Grandad", "Aunt", "the foster carer", "Step-dad")
CARERS = ("Nan", "Mum", "Grandad", "Aunt", "the kinship carer")
PLACES = ("the family centre", "school", "the office", "Nan's house", "the contact centre")
QUOTES = (
    "I like it at Nan's",
    "I don't want to go back home",
    "Dad shouts when he is cross",
    "I feel safe with my foster carer",
    "Dw i eisiau aros gyda Nain",
    "I miss my brother",
    "school is OK but I get bored",
)

FILLER = (
    "I visited {child} at home on {date}.",
    "{adult} was present for the visit and the home conditions were adequate.",
    "The house was warm and tidy and there was food in the fridge.",
    "School report that attendance has improved to {num} per cent this term.",
    "The health visitor confirmed that immunisations are up to date.",
    "I discussed the safety plan with {adult}, who agreed to keep {child} away from Dad "
    "when he has been drinking.",
    "The core group met at {place} on {date} and reviewed the actions from the last meeting.",
    "Police attended the property on {date} following a report of shouting.",
    "{adult} reported that {child} has been sleeping better since moving bedrooms.",
    "Contact with Dad took place at {place} and was supervised by a contact worker.",
    "I telephoned the school and spoke with the designated safeguarding lead.",
    "Case reference {ref} updated on the system.",
    "Transport to school has been arranged through the education department.",
    "Housing have been asked to prioritise repairs to the bathroom and the back door.",
    "The GP has referred {adult} to the community mental health team.",
    "{adult} has engaged well with the parenting programme and attended {num} sessions.",
    "There were no concerns about the supervision of the younger children during the visit.",
    "The plan is working and the risks identified at the conference have reduced.",
    "I checked the bedrooms; each child has their own bed and there is enough bedding.",
    "The family support worker will continue weekly sessions until the next review.",
    "Financial support was discussed and a referral to the food bank was made (ref {ref}).",
    "{adult} was tearful when talking about the loss of her job in {month}.",
    "The dog was kept in the garden during the visit.",
    "Chronology updated to include the incident on {date}.",
    "{adult} explained that the rent arrears have been cleared with help from the council.",
    "Supervision with the team manager on {date}: the case remains open at child protection.",
    "Dental appointment booked for {date} at {time}.",
    "The school nurse will see {child} weekly to support emotional wellbeing.",
    "{adult} agreed to attend the domestic abuse support group starting on {date}.",
    "A written agreement was signed by {adult} and me; a copy was left at the home.",
)

# Evidence for the three text checks (spec: core-checks.md) and the near-misses that must
# not count. Each pool is (kind, sentences); the kind is only for the generator's bookkeeping.
VOICE_MET = (
    '{child} told me "{quote}".',
    "{child} said she wants to stay living with {adult}.",
    'In his words, "{quote}".',
    "We did three houses work together; {child} put {adult} in the house of good things.",
    "Wishes and feelings work completed with {child}: she wants more time with her brother.",
    "Baby C was alert, babbling, and reached for her mother.",
    "YP shared that she feels lonely at weekends and would like to join a youth club.",
    "{child} explained that she feels worried when {adult} goes out at night.",
)
VOICE_PARTIAL = (
    "I tried to speak with {child} alone but he did not want to talk today.",
    "Wishes and feelings work started but {child} left the session.",
)
VOICE_MISS = (
    "{adult} said that {child} is doing well at school.",
    "The teacher reported that {child} is settled in class.",
    "{child} was not seen on this visit as she was at school.",
    "{adult} told me she wants the case closed.",
)
ADVOCACY_MET = (
    "I explained the active offer of advocacy to {child} and left a leaflet.",
    "{child} declined advocacy.",
    "Referral made to the advocacy service for {child}.",
    "The active offer of an independent professional advocate was made to {child}, who accepted.",
    "Worker could not contact family; advocacy offered by phone.",
    "He does not have any help at home and was offered advocacy.",
)
ADVOCACY_MISS = (
    "Advocacy was not discussed on this visit.",
    "Advocacy was not offered.",
    "I will make the active offer of advocacy at the next visit.",
    "Advocacy to be offered at the review.",
    "Active offer of advocacy made? Y / N ___",
    "Mum was offered an advocate for the conference.",
)
CARERS_MET = (
    "{carer} was offered a carers assessment and accepted.",
    "Carers assessment completed with {carer} on {date}.",
    "{carer} declined a carer's assessment.",
    "I arranged a carers assessment for {carer} with the carers' centre.",
)
CARERS_MISS = (
    "No carers assessment has been offered yet.",
    "Carers assessment to be offered at the next visit.",
    "Carers assessment offered? Y / N",
    "I will discuss a carers assessment with {carer} next time.",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "September")


def trigger_phrases() -> list[str]:
    """Phrases a cheap scan looks for in this corpus (used when a pack names none)."""
    return [
        "advocacy",
        "advocate",
        "active offer",
        "carers assessment",
        "carer's assessment",
        "carers' assessment",
        "told me",
        "said",
        "shared",
        "explained",
        "wants",
        "wishes",
        "feels",
        "in his words",
        "in her words",
        "three houses",
        "wishes and feelings",
        "all about me",
        "scaling",
        "babbling",
    ]


@dataclass
class Counts:
    records: int = 0
    notes: int = 0
    words: int = 0


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _demographic(rng: random.Random, values: tuple[str, ...]) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return ...  # missing key
    if roll < 0.10:
        return None
    if roll < 0.22:
        return rng.choice(PLACEHOLDERS)
    return rng.choice(values)


def _fill(rng: random.Random, template: str, carer: str) -> str:
    return template.format(
        child=rng.choice(CHILDREN),
        adult=rng.choice(ADULTS),
        carer=carer,
        place=rng.choice(PLACES),
        quote=rng.choice(QUOTES),
        date=f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}",
        month=rng.choice(MONTHS),
        time=f"{rng.randint(9, 16)}:{rng.choice(('00', '15', '30', '45'))}",
        num=rng.randint(40, 99),
        ref=f"{rng.randint(100000, 999999)}",
    )


def _note_length(rng: random.Random) -> int:
    # Most notes are short visit or call records; a few are long assessments.
    return int(min(400, max(40, rng.triangular(40, 400, 90))))


def _evidence(rng: random.Random, has_carers: bool) -> list[str]:
    """Sentences this record will contain for the three text checks."""
    chosen: list[str] = []
    roll = rng.random()
    if roll < 0.55:
        chosen.append(rng.choice(VOICE_MET))
    elif roll < 0.70:
        chosen.append(rng.choice(VOICE_PARTIAL))
    if rng.random() < 0.5:
        chosen.append(rng.choice(VOICE_MISS))
    roll = rng.random()
    if roll < 0.50:
        chosen.append(rng.choice(ADVOCACY_MET))
    if rng.random() < 0.35:
        chosen.append(rng.choice(ADVOCACY_MISS))
    if has_carers:
        if rng.random() < 0.45:
            chosen.append(rng.choice(CARERS_MET))
        if rng.random() < 0.30:
            chosen.append(rng.choice(CARERS_MISS))
    return chosen


def make_record(rng: random.Random, index: int) -> dict[str, Any]:
    case_type = _weighted(rng, CASE_TYPES)
    child: dict[str, Any] = {"age_years": rng.randint(0, 17)}
    for key, values in (
        ("ethnicity", ETHNICITIES),
        ("first_language", LANGUAGES),
        ("religion", RELIGIONS),
    ):
        value = _demographic(rng, values)
        if value is not ...:
            child[key] = value
    roll = rng.random()
    if roll < 0.80:
        child["siblings"] = [
            {
                "sibling_id": f"S-{n + 1}",
                "relationship": rng.choice(("brother", "sister", "half-brother", "half-sister")),
                "lives_with_child": rng.random() < 0.6,
            }
            for n in range(rng.randint(0, 3))
        ]
    elif roll < 0.90:
        child["siblings"] = None
    carers = [
        {"carer_id": f"C-{n + 1}", "relationship": rng.choice(("grandmother", "mother", "aunt"))}
        for n in range(rng.choice((0, 0, 1, 1, 2)))
    ]
    carer = rng.choice(CARERS)
    n_notes = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 8))
    notes: list[list[str]] = []
    for _ in range(n_notes):
        target = _note_length(rng)
        sentences: list[str] = []
        words = 0
        while words < target:
            sentence = _fill(rng, rng.choice(FILLER), carer)
            sentences.append(sentence)
            words += sentence.count(" ") + 1
        notes.append(sentences)
    for sentence in _evidence(rng, bool(carers)):
        note = rng.choice(notes)
        note.insert(rng.randint(0, len(note)), _fill(rng, sentence, carer))
    worker = rng.randint(1, 40)
    return {
        "record_id": f"BR-{index:07d}",
        "worker": None if rng.random() < 0.02 else f"SW-{worker:02d}",
        "team": TEAMS[worker % len(TEAMS)],
        "case_type": case_type,
        "child": child,
        "carers": carers,
        "events": [
            {"type": rng.choice(EVENTS), "date": f"2023-{rng.randint(1, 12):02d}-{d:02d}"}
            for d in sorted(rng.sample(range(1, 29), rng.randint(1, 3)))
        ],
        "notes": [
            {
                "note_id": f"N{n + 1}",
                "date": f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "author": f"SW-{worker:02d}",
                "type": rng.choice(NOTE_TYPES),
                "text": " ".join(sentences),
            }
            for n, sentences in enumerate(notes)
        ],
    }


def note_words(record: dict[str, Any]) -> int:
    return sum(len(note["text"].split()) for note in record["notes"])


def iter_records(words: int, seed: int = 2023) -> Iterator[dict[str, Any]]:
    """Records until their notes hold at least `words` words."""
    rng = random.Random(seed)
    total = index = 0
    while total < words:
        index += 1
        record = make_record(rng, index)
        total += note_words(record)
        yield record


CACHE = Path(__file__).resolve().parent / ".cache"


def cached_corpus(words: int, seed: int = 2023) -> tuple[Path, dict[str, int]]:
    """The corpus of `words` note words, generated once into benchmarks/.cache (shared by
    every benchmark), with its counts (records, notes, words)."""
    path = CACHE / f"corpus-{words}-{seed}.jsonl"
    meta = path.with_suffix(".meta.json")
    if path.is_file() and meta.is_file():
        return path, json.loads(meta.read_text())
    print(f"generating {path.name} ...", file=sys.stderr, flush=True)
    counts = write_corpus(path, words, seed)
    found = {"records": counts.records, "notes": counts.notes, "words": counts.words}
    meta.write_text(json.dumps(found))
    return path, found


def write_corpus(path: Path, words: int, seed: int = 2023) -> Counts:
    counts = Counts()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        for record in iter_records(words, seed):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            counts.records += 1
            counts.notes += len(record["notes"])
            counts.words += note_words(record)
    tmp.replace(path)
    return counts


def corpus_counts(path: Path) -> Counts:
    counts = Counts()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            counts.records += 1
            counts.notes += len(record["notes"])
            counts.words += note_words(record)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=float, required=True, help="total note words, e.g. 3e6")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    counts = write_corpus(args.out, int(args.words), args.seed)
    print(
        f"{args.out}: {counts.records} records, {counts.notes} notes, {counts.words} words",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
