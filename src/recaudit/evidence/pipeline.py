"""The spaCy pipeline: `spacy.blank("en")` + our line-break component + sentencizer + our
question-line component. Built once per process, on first use (importing spaCy costs about a
second, so nothing imports it until a text rule actually needs sentences).

Only plain tuples leave this module, so callers never hold spaCy objects and results can be
cached or sent between processes cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NLP: Any = None
_INITIAL = re.compile(r"^[A-Z0-9]{1,3}\.$")


@dataclass(frozen=True, slots=True)
class Segmented:
    """A text split into tokens and sentences (character offsets into the text)."""

    token_starts: tuple[int, ...]
    token_ends: tuple[int, ...]
    # (first token index, end token index exclusive) per sentence
    sentences: tuple[tuple[int, int], ...]


def _register_components() -> None:
    from spacy.language import Language

    if not Language.has_factory("recaudit_line_breaks"):

        @Language.component("recaudit_line_breaks")
        def line_breaks(doc: Any) -> Any:
            # Case notes put template lines and checklist items on their own lines, often
            # without a full stop: every line starts a new sentence.
            # Also: the tokenizer keeps "F." together (an initial), so the sentencizer never
            # sees the full stop in "…made to Child F. Action: …". Anonymised names end in
            # capitals, so a short all-caps token with a full stop before a capital ends a
            # sentence.
            for i in range(1, len(doc)):
                prev = doc[i - 1]
                newline = "\n" in prev.whitespace_ or ("\n" in prev.text and prev.is_space)
                initial = _INITIAL.match(prev.text) and doc[i].text[:1].isupper()
                if newline or initial:
                    doc[i].is_sent_start = True
            return doc

    if not Language.has_factory("recaudit_question_lines"):

        @Language.component("recaudit_question_lines")
        def question_lines(doc: Any) -> Any:
            # "Active offer made? Yes - made in person…" and "Offered? ____" are one unit:
            # the answer on the same line belongs with its prompt (the sentencizer would
            # split after "?", separating the prompt from its answer or blank).
            for i in range(1, len(doc)):
                prev = doc[i - 1]
                tok = doc[i]
                if (
                    tok.is_sent_start
                    and prev.text.endswith("?")
                    and "\n" not in prev.whitespace_
                    and not tok.is_space
                ):
                    tok.is_sent_start = False
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


def segment(text: str) -> Segmented:
    doc = get_nlp()(text)
    starts = tuple(t.idx for t in doc)
    ends = tuple(t.idx + len(t.text) for t in doc)
    sentences = tuple((s.start, s.end) for s in doc.sents)
    return Segmented(starts, ends, sentences)
