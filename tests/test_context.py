"""The ConText engine on its own: cue categories, scopes, terminators, overlap tie-break."""

from __future__ import annotations

import pytest

from recaudit.evidence.context import CueSet, CueSpec, find_cues, modifiers
from recaudit.evidence.matching import inflections, phrase_regex, term_from_item
from recaudit.evidence.pipeline import segment

CUES = CueSet.build(
    [
        {"pattern": [";", "but", "however"], "category": "terminate", "direction": "terminate"},
        {"pattern": "not", "category": "negated", "direction": "forward", "max_scope": 4},
        {"pattern": "not only", "category": "pseudo", "direction": "pseudo"},
        {"pattern": "will", "category": "planned", "direction": "forward"},
        {"pattern": "if", "category": "hypothetical", "direction": "forward"},
        {"pattern": "declined", "category": "declined", "direction": "both", "max_scope": 6},
        {"regex": "_{2,}", "category": "template", "direction": "backward"},
        {"pattern": "was offered", "category": "tie_a", "direction": "forward"},
        {"pattern": "offered an", "category": "tie_b", "direction": "forward"},
        {
            "pattern": "mum",
            "category": "other_person",
            "direction": "forward",
            "targets": ["advocacy"],
        },
    ]
)


def categories_at(text: str, word: str, label: str = "advocacy") -> set[str]:
    """Categories of the cues that modify the first occurrence of `word` in `text`."""
    seg = segment(text)
    start = text.index(word)
    tok = max(i for i, s in enumerate(seg.token_starts) if s <= start)
    sent = next(s for s in seg.sentences if s[0] <= tok < s[1])
    cues = find_cues(CUES, text, seg.token_starts, seg.token_ends, sent)
    mods = modifiers(cues, CUES.specs, tok, [(start, start + len(word))], label)
    return {c.category for c in mods}


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        ("Advocacy was not offered.", "offered", {"negated"}),
        ("I will offer advocacy next week.", "offer", {"planned"}),
        ("If she wants it I could offer advocacy.", "offer", {"hypothetical"}),
        ("Child A declined advocacy.", "advocacy", {"declined"}),
        ("Advocacy offered? ____", "offered", {"template"}),
        ("Mum offered advocacy.", "advocacy", {"other_person"}),
    ],
)
def test_each_category_modifies_its_target(text: str, word: str, expected: set[str]) -> None:
    assert categories_at(text, word) == expected


def test_scope_ends_at_max_scope() -> None:
    text = "He does not have any help at home and was offered advocacy."
    assert "negated" not in categories_at(text, "offered")
    assert "negated" in categories_at(text, "have")


@pytest.mark.parametrize(
    "text",
    [
        "Worker could not contact family; advocacy offered.",
        "Not seen, but offered advocacy.",
        "She did not attend, however offered advocacy.",
    ],
)
def test_terminators_end_scope(text: str) -> None:
    assert categories_at(text, "offered") == set()


def test_scope_ends_at_sentence_end() -> None:
    assert categories_at("I will call. Offered advocacy.", "Offered") == set()


def test_lines_are_sentences_and_answers_stay_with_their_prompt() -> None:
    text = "Checklist:\nAdvocacy offered? ____\nCarers assessment offered"
    assert categories_at(text, "Carers") == set()
    assert categories_at(text, "offered") == {"template"}


def test_backward_cue_does_not_reach_previous_line() -> None:
    text = "Advocacy offered to Child A.\nDate: ____"
    assert categories_at(text, "offered") == set()


def test_pseudo_cue_swallows_the_real_cue() -> None:
    assert "negated" not in categories_at("She was not only offered advocacy.", "offered")


def test_target_restriction() -> None:
    assert categories_at("Mum offered advocacy.", "advocacy", label="carers") == set()


def test_overlap_longest_wins_then_earliest() -> None:
    # "was offered" and "offered an" are the same length and overlap: the earliest wins.
    text = "She was offered an advocate."
    seg = segment(text)
    cues = find_cues(CUES, text, seg.token_starts, seg.token_ends, seg.sentences[0])
    assert [c.category for c in cues] == ["tie_a"]
    # A longer cue beats a shorter one inside it.
    text2 = "She was not only offered advocacy."
    seg2 = segment(text2)
    cues2 = find_cues(CUES, text2, seg2.token_starts, seg2.token_ends, seg2.sentences[0])
    assert "negated" not in [c.category for c in cues2]


def test_cue_spec_validation() -> None:
    with pytest.raises(ValueError):
        CueSpec.model_validate({"pattern": "x", "category": "negated", "direction": "sideways"})
    with pytest.raises(ValueError):
        CueSpec.model_validate({"category": "negated", "direction": "forward"})
    with pytest.raises(ValueError):
        CueSpec.model_validate({"regex": "(", "category": "negated", "direction": "forward"})
    with pytest.raises(ValueError):
        CueSpec.model_validate(
            {"pattern": "x", "category": "n", "direction": "forward", "colour": "red"}
        )


def test_inflections_and_phrases() -> None:
    assert inflections("offer") == ["offer", "offers", "offered", "offering"]
    assert inflections("arrange") == ["arrange", "arranges", "arranged", "arranging"]
    import re

    rx = re.compile(phrase_regex("carer's assessment"), re.IGNORECASE)
    for text in ("carer's assessment", "Carers assessment", "carer’s  assessment"):
        assert rx.search(text), text
    assert not rx.search("carer's assessments")
    assert term_from_item({"pattern": "AO", "case_sensitive": True}).case_sensitive
    with pytest.raises(ValueError):
        term_from_item({"regex": "[", "case_sensitive": False})


def test_live_cue_rules_are_those_each_rule_finds_live() -> None:
    """`CueSet.live` reads the scanner's groups once per text; it must name exactly the
    rules whose own `TermPattern.live` says they can match (the pack's cue lexicon, with
    its scanner, over every sample note)."""
    from textrule_helpers import sample_notes

    from recaudit.evidence.scanner import Scanner
    from recaudit.rulepack import load_pack

    pack = load_pack(None)
    cues = CueSet.build(pack.lexicons["context_cues"], Scanner())
    assert cues._always != cues._all  # the scanner narrows something
    notes = [*sample_notes(), "ſ not", "İ will", ""]
    some_narrowed = False
    for text in notes:
        each = tuple(i for i, p in enumerate(cues.patterns) if p.live(text))
        assert cues.live(text) == each, text
        some_narrowed = some_narrowed or each != cues._all
    assert some_narrowed
