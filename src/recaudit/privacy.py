"""Residual identifiers found in "anonymised" input (the anonymisation guard's findings).

Values are stored masked: a report must never repeat the identifier it warns about.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class IdentifierFinding:
    kind: str  # e.g. "nhs_number", "postcode", "identifying_column"
    source: str  # file:line (or file:sheet:row) where it was read
    record_id: str | None
    location: str  # a field path ("child.dob"), "notes[N2].text", or "column DOB"
    offset: int | None  # character offset inside a note's text, when in text
    masked: str  # e.g. "943 *** ****"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
