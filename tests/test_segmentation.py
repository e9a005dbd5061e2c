"""The fast sentence splitter agrees with the spaCy sentencizer pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudit.evidence.pipeline import _SENT_END, Segmented, segment, segment_spacy

DEV_SET = Path(__file__).parents[1].parent / "shared" / "dev-set"


def _sentences(text: str, seg: Segmented) -> list[tuple[int, int]]:
    out = []
    for s, e in seg.sentences:
        toks = [
            (seg.token_starts[i], seg.token_ends[i])
            for i in range(s, e)
            if text[seg.token_starts[i] : seg.token_ends[i]].strip()
        ]
        if toks:
            out.append((toks[0][0], toks[-1][1]))
    return out


SAMPLES = [
    "Advocacy was offered. Child A declined.",
    "Active offer made? Yes - made in person.\nDate: ____",
    "Active offer made?\nY / N",
    "I asked if she was OK? She said yes.",
    "Made to Child F. Action: W1 to call.",
    'She said "I like it here." Then she left.',
    "Uses PECS, e.g. pictures. Also signs.",
    "",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_segmentation_matches_spacy(text: str) -> None:
    assert _sentences(text, segment(text)) == _sentences(text, segment_spacy(text))


def test_fast_segmentation_matches_spacy_on_dev_set() -> None:
    if not (DEV_SET / "records.jsonl").is_file():
        pytest.skip("dev set not present")
    for line in (DEV_SET / "records.jsonl").read_text(encoding="utf-8").splitlines():
        for note in json.loads(line)["notes"]:
            text = note["text"]
            assert _sentences(text, segment(text)) == _sentences(text, segment_spacy(text)), text


# The sentence-end regex as first written (one alternative per kind of end); the shipped
# one is reordered for speed and must find exactly the same ends.
_PLAIN_SENT_END = re.compile(
    r"(?:[.!](?<!\betc\.)(?<!\bapprox\.)(?<!e\.g\.)(?<!i\.e\.)(?<!\bno\.)(?<!\bvs\.)"
    r"(?<!\bcf\.)(?:(?<![^\w.][a-zA-Z]\.)|(?<=[A-Z]\.)(?=\s+[A-Z]))"
    r"|\?(?=[ \t]*(?:\n|$)))[\"'”’)\]]*(?=\s)|\n"
)
PIECES = st.sampled_from(
    ["a", "B", ".", "!", "?", "\n", " ", "\t", '"', "”", ")", "]", "e.g.", "etc.", "Mr", "no.", "x"]
)


@settings(max_examples=500, deadline=None)
@given(text=st.lists(PIECES, max_size=30).map("".join))
def test_sentence_end_regex_matches_the_plain_one(text: str) -> None:
    def ends(rx: re.Pattern[str]) -> list[tuple[int, int]]:
        return [m.span() for m in rx.finditer(text)]

    assert ends(_SENT_END) == ends(_PLAIN_SENT_END)
