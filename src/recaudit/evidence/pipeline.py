"""The spaCy pipeline: `spacy.blank("en")` + our line-break component + sentencizer + our
question-line component. Built once per process, on first use (importing spaCy costs about a
second, so nothing imports it until a text rule actually needs sentences).

Only plain tuples leave this module, so callers never hold spaCy objects and results can be
cached or sent between processes cheaply.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

_NLP: Any = None
_NEW_LINE = re.compile(r"\n\s*")
_INITIAL_END = re.compile(r"(?<![\w.])[A-Z0-9]{1,3}\.[ \t]+(?=[A-Z])")
_QUESTION_SAME_LINE = re.compile(r"\?[ \t]*(?=\S)")


@dataclass(frozen=True, slots=True)
class Segmented:
    """A text split into tokens and sentences (character offsets into the text)."""

    token_starts: tuple[int, ...]
    token_ends: tuple[int, ...]
    # (first token index, end token index exclusive) per sentence
    sentences: tuple[tuple[int, int], ...]


def _token_at(starts: Any, pos: int) -> int | None:
    """Index of the token starting exactly at character `pos`, or None."""
    i = int(bisect.bisect_left(starts, pos))
    return i if i < len(starts) and starts[i] == pos else None


def _register_components() -> None:
    from spacy.language import Language

    # Both components look for their few trigger characters in the text and touch only
    # those tokens: iterating every spaCy token from Python costs more than the sentencizer.
    if not Language.has_factory("recaudit_line_breaks"):

        @Language.component("recaudit_line_breaks")
        def line_breaks(doc: Any) -> Any:
            # Case notes put template lines and checklist items on their own lines, often
            # without a full stop: every line starts a new sentence. And the tokenizer keeps
            # "F." together (an initial), so the sentencizer never sees the full stop in
            # "…made to Child F. Action: …": anonymised names end in capitals, so a short
            # all-caps token with a full stop before a capital ends a sentence.
            text = doc.text
            if "\n" not in text and not _INITIAL_END.search(text):
                return doc
            starts = [t.idx for t in doc] if len(doc) < 8 else list(doc.to_array("IDX"))
            for m in _NEW_LINE.finditer(text):
                i = _token_at(starts, m.end())
                if i:
                    doc[i].is_sent_start = True
            for m in _INITIAL_END.finditer(text):
                i = _token_at(starts, m.end())
                if i:
                    doc[i].is_sent_start = True
            return doc

    if not Language.has_factory("recaudit_question_lines"):

        @Language.component("recaudit_question_lines")
        def question_lines(doc: Any) -> Any:
            # "Active offer made? Yes - made in person…" and "Offered? ____" are one unit:
            # the answer on the same line belongs with its prompt (the sentencizer would
            # split after "?", separating the prompt from its answer or blank).
            text = doc.text
            if "?" not in text:
                return doc
            starts = list(doc.to_array("IDX"))
            for m in _QUESTION_SAME_LINE.finditer(text):
                i = _token_at(starts, m.end())
                if i and doc[i].is_sent_start:
                    doc[i].is_sent_start = False
            return doc


def get_nlp() -> Any:
    """The shared pipeline (built on first call)."""
    global _NLP
    if _NLP is None:
        import spacy

        _register_components()
        nlp = spacy.blank("en")
        nlp.add_pipe("recaudit_line_breaks")
        nlp.add_pipe("sentencizer")
        nlp.add_pipe("recaudit_question_lines")
        _NLP = nlp
    return _NLP


# Sentence ends for the fast path: the same rules as the sentencizer plus our components.
# A full stop, "!" or (end-of-line) "?" followed by whitespace ends a sentence, with any
# closing quotes/brackets; so does every line break. Abbreviations the tokenizer keeps
# whole ("e.g.", "etc.", "approx.", a lower-case initial) do not end a sentence, and a "?"
# with more text on its line does not either (the prompt keeps its answer).
_SENT_END = re.compile(
    # Every branch starts by taking one of [.!?\n], which lets `re` skip straight to those
    # characters (a pattern opening with alternatives is tried at every position: 3.5x
    # slower); lookbehinds then say which one it was.
    r"[.!?\n](?:(?<=[.!])(?<!\betc\.)(?<!\bapprox\.)(?<!e\.g\.)(?<!i\.e\.)(?<!\bno\.)"
    r"(?<!\bvs\.)(?<!\bcf\.)(?:(?<![^\w.][a-zA-Z]\.)|(?<=[A-Z]\.)(?=\s+[A-Z]))[\"'”’)\]]*(?=\s)"
    r"|(?<=\?)(?=[ \t]*(?:\n|$))[\"'”’)\]]*(?=\s)|(?<=\n))"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences (whitespace-trimmed), by the rules above."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def segment(text: str) -> Segmented:
    """Tokens from spaCy's tokenizer; sentences from `sentence_spans`.

    This is the hot path: the sentencizer pipeline (`segment_spacy`) costs ~4x the tokenizer
    alone, and a test checks that both agree on the dev set's notes.
    """
    doc = get_nlp().make_doc(text)
    if not len(doc):
        return Segmented((), (), ())
    arr = doc.to_array(["IDX", "LENGTH"])
    starts = tuple(int(x) for x in arr[:, 0])
    ends = tuple(int(a) + int(b) for a, b in zip(arr[:, 0], arr[:, 1], strict=True))
    sentences = []
    for s, e in sentence_spans(text):
        first = bisect.bisect_left(starts, s)
        last = bisect.bisect_left(starts, e)
        if last > first:
            sentences.append((first, last))
    return Segmented(starts, ends, tuple(sentences))


# Texts longer than this are tokenised in pieces (spaCy refuses texts over `nlp.max_length`
# and its memory grows with the text). Pieces end at whitespace, which tokens never cross.
TOKENIZE_CHUNK = 100_000


def tokenize(text: str, start: int = 0, end: int | None = None) -> tuple[tuple[int, ...], ...]:
    """(starts, ends) of the spaCy tokens of `text[start:end]`, in `text`'s characters."""
    end = len(text) if end is None else end
    nlp = get_nlp()
    starts: list[int] = []
    ends: list[int] = []
    pos = start
    while pos < end:
        stop = end
        if stop - pos > TOKENIZE_CHUNK:
            cut = max(
                text.rfind(" ", pos, pos + TOKENIZE_CHUNK),
                text.rfind("\n", pos, pos + TOKENIZE_CHUNK),
            )
            stop = cut if cut > pos else pos + TOKENIZE_CHUNK
        doc = nlp.make_doc(text[pos:stop])
        if len(doc):
            # Whole-array arithmetic: a Python loop over the tokens cost as much as spaCy.
            arr = doc.to_array(["IDX", "LENGTH"])
            first = arr[:, 0] + pos
            starts += first.tolist()
            ends += (first + arr[:, 1]).tolist()
        pos = stop
    return tuple(starts), tuple(ends)


def segment_spacy(text: str) -> Segmented:
    """The reference segmentation: the full pipeline (tokenizer + our components +
    sentencizer)."""
    doc = get_nlp()(text)
    if not len(doc):
        return Segmented((), (), ())
    # Whole-array reads: iterating spaCy tokens from Python is slower than the pipeline.
    arr = doc.to_array(["IDX", "LENGTH", "SENT_START"])
    starts = tuple(int(x) for x in arr[:, 0])
    ends = tuple(int(a) + int(b) for a, b in zip(arr[:, 0], arr[:, 1], strict=True))
    firsts = [i for i, flag in enumerate(arr[:, 2]) if flag == 1 or i == 0]
    sentences = tuple(zip(firsts, [*firsts[1:], len(doc)], strict=True))
    return Segmented(starts, ends, sentences)
