"""`matching.alternation`: the fast union must match exactly what the plain join matched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from recaudit.evidence.matching import Term, alternation, term_from_item, union
from recaudit.rulepack import load_pack
from recaudit.rulepack.loader import shipped_packs

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

EDGE_TERMS = [
    "advocacy",
    "advocate+",
    "offer+",
    "carer's assessment",
    "independent professional advocate",
    "#urgent",  # starts with a non-word character: no left boundary
    "Y / N",
    "e.g.",  # ends with a non-word character: no right boundary
    {"pattern": "AO", "case_sensitive": True},
    {"pattern": "IPA", "case_sensitive": True},
    {"regex": r"(?<![\w])W\d+(?![\w])"},  # a user's regex keeps its own assertions
    {"regex": r"\bthree\s+houses\b"},
    "three houses",
    "house",
    "houses of",
]
EDGE_TEXTS = [
    "Child A's advocate advocated; AO made. ao made? Ipa IPA W12 w3 #urgent e.g. Y / N",
    "advocacyadvocacy offered offers offering re-offer carer’s assessment carers assessment",
    "the three houses work: three  houses, house of worries; housesof houses of",
    "",
]


def _plain(ordered: list[Term]) -> re.Pattern[str]:
    return re.compile("|".join(t.wrapped() for t in ordered), re.IGNORECASE)


def _ordered(terms: list[Term]) -> list[Term]:
    return sorted(set(terms), key=lambda t: (-len(t.shown), t.shown))


def _texts() -> list[str]:
    texts = list(EDGE_TEXTS)
    files = sorted((REPO / "samples").glob("*.jsonl"))
    if SHARED.is_dir():
        files += sorted(SHARED.glob("*/records.jsonl"))
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                texts += [n.get("text", "") for n in record.get("notes", []) if isinstance(n, dict)]
    return [t for t in texts if isinstance(t, str)]


def _matches(pattern: re.Pattern[str], texts: list[str]) -> list[list[tuple[int, int]]]:
    return [[m.span() for m in pattern.finditer(text)] for text in texts]


def test_edge_terms_match_exactly_as_before() -> None:
    ordered = _ordered([term_from_item(item) for item in EDGE_TERMS])
    fast = re.compile(alternation(ordered), re.IGNORECASE)
    assert _matches(fast, EDGE_TEXTS) == _matches(_plain(ordered), EDGE_TEXTS)
    assert _matches(union(ordered), EDGE_TEXTS) == _matches(_plain(ordered), EDGE_TEXTS)
    # The assertions really were hoisted (once per run, not once per phrase).
    assert alternation(ordered).count("(?<![\\w])") < len(ordered) / 2


@pytest.mark.parametrize("pack_name", shipped_packs())
def test_every_shipped_lexicon_matches_exactly_as_before(pack_name: str) -> None:
    pack = load_pack(pack_name)
    texts = _texts()
    checked = 0
    for name, items in sorted(pack.lexicons.items()):
        try:
            terms = [term_from_item(item) for item in items]
        except ValueError:
            continue  # not a term lexicon (e.g. cue rules or code lists)
        ordered = _ordered(terms)
        if not ordered:
            continue
        assert _matches(union(ordered), texts) == _matches(_plain(ordered), texts), name
        checked += 1
    assert checked > 0
