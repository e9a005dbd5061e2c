"""The shared scanner finds exactly what each lexicon's own regexes find.

`TermPattern` with a `Scanner` takes its phrase matches from one Aho-Corasick pass per
text and skips regex terms whose required strings are absent; without one it runs its
compiled regexes. Both must return the same matches for every window of every text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textrule_helpers import sample_notes

from recaudit.evidence.context import CueSpec
from recaudit.evidence.matching import Term, term_from_item, union
from recaudit.evidence.scanner import (
    _OTHER_SPACE,
    Scanner,
    Tail,
    anchors,
    needs_squeezing,
    required_literals,
    tail_anchors,
)
from recaudit.rulepack import load_pack

REPO = Path(__file__).resolve().parents[1]


def _lexicon_terms() -> dict[str, list[Term]]:
    pack = load_pack(None)
    out: dict[str, list[Term]] = {}
    for name, items in pack.lexicons.items():
        try:
            out[name] = [term_from_item(i) for i in items]
        except (ValueError, TypeError):
            try:  # cue lexicons: mappings with a category
                out[name] = [t for i in items for t in CueSpec.model_validate(i).terms()]
            except ValueError:
                continue
    return out


TERMS = _lexicon_terms()
SCANNER = Scanner()
PAIRS = [(name, union(terms), union(terms, SCANNER)) for name, terms in sorted(TERMS.items())]


NOTES = list(sample_notes())


def _same(text: str, pos: int, end: int) -> None:
    for name, plain, scanned in PAIRS:
        want = [m.span() for m in plain.finditer(text, pos, end)]
        got = [m.span() for m in scanned.finditer(text, pos, end)]
        assert got == want, (name, text[pos:end])
        first, found = plain.search(text, pos, end), scanned.search(text, pos, end)
        assert (found and found.span()) == (first and first.span()), (name, text[pos:end])
        assert scanned.matches_in(text, pos, end) == (first is not None), (name, text[pos:end])


def test_pack_lexicons_are_covered() -> None:
    assert {"voice_speech_verbs", "child_references", "context_cues"} <= set(TERMS)
    assert len(NOTES) > 200


def test_whole_notes_match_the_regexes() -> None:
    for text in NOTES:
        _same(text, 0, len(text))


def test_sentence_windows_match_the_regexes() -> None:
    from recaudit.evidence.pipeline import sentence_spans

    for text in NOTES[:150]:
        for start, end in sentence_spans(text):
            _same(text, start, end)


WHITESPACE = st.sampled_from([" ", "  ", "\n", "\t", " \n ", "\u00a0", "\r\n"])
NOISE = st.sampled_from(
    [
        *("ſ", "K", "İ", "ß", "’", "-", "_", "[ ]", "?", "C1", "W6", "KT", " J.S. ", " said"),
        "DV",
        # Characters next to a phrase decide whether it starts a word: ASCII and non-ASCII
        # punctuation, a non-ASCII letter, and the scanner's own boundary mark (`MARK`).
        *("“", "(", "/", "'", "é", "\x01"),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    note=st.sampled_from(NOTES),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.one_of(WHITESPACE, NOISE)), max_size=6),
    window=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)),
)
def test_edited_notes_and_windows_match_the_regexes(
    note: str, edits: list[tuple[int, str]], window: tuple[int, int]
) -> None:
    # Whitespace runs, look-alike characters that `re.IGNORECASE` equates ("ſ" ~ "s"),
    # characters whose lower case is longer ("İ"), punctuation and letters glued to
    # words, at random places and windows.
    text = note
    for at, piece in edits:
        i = at % (len(text) + 1)
        text = text[:i] + piece + text[i:]
    a, b = sorted(w % (len(text) + 1) for w in window)
    _same(text, 0, len(text))
    _same(text, a, b)


@pytest.mark.parametrize(
    ("regex", "case_sensitive", "expected"),
    [
        (r"\btold\b", False, ("told",)),
        (r"(?<!was )\btold\b", False, ("told",)),  # a lookbehind is not required text
        (r"\b(?:Asked|Queried)\s+(?:if|whether)\b", False, ("asked", "queried")),
        (r"[A-Z]\.?(?=\s+(?:said|told)\b)", True, ("said", "told")),  # lookahead: in window
        (r"\bW\d+\b", True, None),  # one letter narrows nothing; \d is every Unicode digit
        (r"(?<![\w-])C[0-9]{1,2}(?![\w-])", True, tuple(f"C{d}" for d in range(10))),
        (r"(?:ab)?cd", False, ("cd",)),  # optional parts are not required
        (r"x(?i:abc)", True, None),  # flag changes inside: no prefilter
        (r"\b(?:y\s*/\s*n|yes\s*/\s*no)\b", False, ("/",)),  # one string every branch holds
    ],
)
def test_required_literals(regex: str, case_sensitive: bool, expected: tuple[str, ...]) -> None:
    assert required_literals(regex, case_sensitive) == expected


@settings(max_examples=200, deadline=None)
@given(note=st.sampled_from(NOTES))
def test_every_regex_match_contains_a_required_literal(note: str) -> None:
    for terms in TERMS.values():
        for term in terms:
            if term.literals is not None:
                continue
            needed = required_literals(term.source, term.case_sensitive)
            if needed is None:
                continue
            flags = 0 if term.case_sensitive else re.IGNORECASE
            for m in re.finditer(term.source, note, flags):
                # The required text lies in the match or in a lookahead after its start.
                seen = " ".join(note[m.start() :].split())
                seen = seen if term.case_sensitive else seen.lower()
                assert any(s in seen for s in needed), (term.source, m.group(0))


@pytest.mark.parametrize(
    ("regex", "case_sensitive", "expected"),
    [
        (r"\b(?:Child|Baby)\s+[A-Z]\b", True, ("Baby", "Child")),
        (r"(?<!was )\btold\b", False, ("told",)),
        (r"\bW\d+\b", True, ("W",)),  # an upper-case letter in case-sensitive text
        (r"(?<=\w)n['’]t\b", False, ("n't", "n’t")),  # the class spelt out
        (r"(?<=\w)n\w", False, None),  # a lone lower-case letter: everywhere
        (r"(?:ab)?cd", False, None),  # an optional start
        (r"\b\w*", False, None),  # may match nothing
        # Through whitespace runs and alternatives: tried at "to make", not at every "to".
        (r"\bto\s+(?:make|find\s+out)\b", False, ("to find out", "to make")),
        (r"\band\s+(?:was|is)\s+\w+", False, ("and is", "and was")),
        (r"\b(?:y\s*/\s*n|yes)\b", False, None),  # "y" alone: everywhere
        (r"\bAction\s+\d", True, ("Action",)),  # no trailing space in a head
        (r"(?<![\w-])C[0-9]{1,2}\b", True, tuple(f"C{d}" for d in range(10))),  # small class
        (r"x[ab]y", False, ("xay", "xby")),
    ],
)
def test_anchor_literals(regex: str, case_sensitive: bool, expected: tuple[str, ...]) -> None:
    found = anchors(regex, case_sensitive)
    assert (found.heads if found else None) == expected


@settings(max_examples=200, deadline=None)
@given(note=st.sampled_from(NOTES))
def test_every_regex_match_starts_with_an_anchor(note: str) -> None:
    for terms in TERMS.values():
        for term in terms:
            found = None if term.literals is not None else anchors(term.source, term.case_sensitive)
            if found is None:
                continue
            flags = 0 if term.case_sensitive else re.IGNORECASE
            for m in re.finditer(term.source, note, flags):
                # A space in a head stands for any whitespace run (the scanner squeezes them).
                seen = re.sub(r"\s+", " ", note[m.start() :])
                seen = seen if term.case_sensitive else seen.lower()
                assert seen.startswith(found.heads), (term.source, m.group(0))
                if found.word_start:
                    before = note[m.start() - 1 : m.start()]
                    assert not (before.isalnum() or before == "_"), (term.source, m.group(0))


def _people() -> object:
    from recaudit.engine import context_for

    pack = load_pack(None)
    ctx = context_for(pack)
    rule = next(r for r in pack.rules if r.id == "voice-of-child")
    return rule._compiled(ctx).analyser(ctx).people


def test_possessor_guard_and_modifier_walk_match_the_plain_regexes() -> None:
    # `_compound_start` puts a word-start guard in front of the possessor regex and walks
    # back over modifier words instead of an end-anchored search: same answers.
    from recaudit.evidence.attribution import _modifier_run_start

    people = _people()
    source = people.possessor.pattern
    plain = re.compile(source[source.index("(?:(?:") :], re.IGNORECASE)
    assert plain.pattern != source  # the guard is in place for the shipped pack
    texts = [
        *NOTES[:120],
        "his older half-brother",
        "Child A's great-  grand step-mum",
        "the new  foster carer",
        "bolder sister",
        "[child]'s older sister",
    ]
    for text in texts:
        for start in range(len(text) + 1):
            lo = max(0, start - 80)
            guarded, unguarded = (
                people.possessor.search(text, lo, start),
                plain.search(text, lo, start),
            )
            assert (guarded and guarded.span()) == (unguarded and unguarded.span()), text[lo:start]
            m = people.modifiers.search(text, lo, start)
            want = m.start() if m is not None and m.end() == start and m.start() < start else start
            assert _modifier_run_start(text, lo, start) == want, text[lo:start]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("a \t\n\r\x0b\x1c\xa0é\u2028")), max_size=12))
def test_the_quick_whitespace_test_agrees_with_the_regex(text: str) -> None:
    assert needs_squeezing(text) == (_OTHER_SPACE.search(text) is not None)


@pytest.mark.parametrize(
    ("regex", "case_sensitive", "expected"),
    [
        # Initials before a reporting verb: tried one to four characters before "said".
        (
            r"(?<![\w.])[A-Z](?:\.?[A-Z]){0,1}(?=\s+(?:said|told)\b)",
            True,
            (("said", "told"), (1, 3), 1),
        ),
        (r"\bfoo(?=\s*bar)", False, (("bar",), (3, 3), 0)),
        (r"x(?=said)", False, (("said",), (1, 1), None)),
        (r"\w+(?=\s+said)", False, None),  # unbounded width: no tail
        (r"x(?=s)", False, None),  # one letter follows too much
        (r"x(?!said)", False, None),  # a negative lookahead promises nothing
    ],
)
def test_tail_anchors(regex: str, case_sensitive: bool, expected: tuple | None) -> None:
    found = tail_anchors(regex, case_sensitive)
    assert found == (Tail(*expected) if expected else None)


def test_every_regex_match_starts_where_its_tail_says() -> None:
    tailed = [
        (t, found)
        for terms in TERMS.values()
        for t in terms
        if t.literals is None and (found := tail_anchors(t.source, t.case_sensitive))
    ]
    assert tailed, "the pack has no tail-anchored regex left to test"
    for term, tail in tailed:
        scanner = Scanner()
        gid = scanner.add_group(tail.heads, term.case_sensitive, "anywhere")
        flags = 0 if term.case_sensitive else re.IGNORECASE
        for text in [*NOTES, "KT said so.  J.S.\n\ttold me", "(AB)  said", "xKT said"]:
            hits = scanner.hits(text)
            assert hits is not None
            starts = set(tail.starts(hits, gid, text, 0, len(text)))
            for m in re.finditer(term.source, text, flags):
                assert m.start() in starts, (term.source, text, m.group(0))


def test_phrases_are_found_only_where_a_word_starts() -> None:
    scanner = Scanner()
    he = scanner.add_group(["he"], case_sensitive=False)
    step = scanner.add_group(["step-dad"], case_sensitive=False)
    straight = scanner.add_group(["carer's"], case_sensitive=False)
    curly = scanner.add_group(["carer’s"], case_sensitive=False)
    anywhere = scanner.add_group(["he"], case_sensitive=False, bounded="anywhere")
    text = "He said the (he) “he” éhe step/dad step-dad carer's carer’s he"
    hits = scanner.hits(text)
    assert hits is not None

    def found(gid: int) -> list[str]:
        return [text[a:b] for a, b in hits.select(gid, 0, len(text))]

    words = [0, text.index("(he") + 1, text.index("“he") + 1, len(text) - 2]
    assert [a for a, _ in hits.select(he, 0, len(text))] == words
    assert found(step) == ["step-dad"]  # "step/dad" shares its key, not its text
    assert found(straight) == ["carer's"]
    assert found(curly) == ["carer’s"]
    assert len(found(anywhere)) == 6  # "he" inside "the" and "éhe" as well
