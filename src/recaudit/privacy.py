"""The anonymisation guard: residual identifiers in "anonymised" input.

It scans every string a record carries (structured fields, extra keys, note text) for
NHS numbers (valid mod-11 check digit), National Insurance numbers, UK postcodes, phone
numbers (`phonenumbers`, GB numbering plan), e-mail addresses, unique pupil numbers
(valid check letter), and full dates of birth written in text ("DOB 12/03/2011", "born
on 4 May 2012"); and the names of columns and keys that say DOB / UPN / NHS / name.

Values are stored masked: a report must never repeat the identifier it warns about.
Check digits come from python-stdnum; the number, postcode and date patterns are plain
regular expressions (no maintained library finds these inside free text).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol


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


@dataclass(frozen=True, slots=True)
class Hit:
    """An identifier found in a string: its kind and where it is."""

    kind: str
    start: int
    end: int
    value: str


# ------------------------------------------------------------------------- the patterns

_NHS = re.compile(r"(?<![\w/.-])[3-9]\d{2}[ -]?\d{3}[ -]?\d{4}(?![\w/-]|\.\d)")
# HMRC: no D F I Q U V in either letter, O not second; BG GB KN NK NT TN ZZ never issued.
_NINO = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
    r" ?\d[ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_UPN = re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{11}[0-9A-Z](?![A-Za-z0-9])", re.IGNORECASE)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_FULL_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?!\d)"
    r"|\d{4}-\d{2}-\d{2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}\.?,?\s+\d{{4}}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_DOB = re.compile(
    r"(?<![A-Za-z])(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?)"
    rf"(?:\s*(?:[:=,(-]|is|was|on)\s*)*\s*(?P<date>{_FULL_DATE})",
    re.IGNORECASE,
)
# Stretches of text that may hold a phone number: only these go to `phonenumbers`
# (whose matcher is slow on long text: ~0.7 MB/s). A UK number is written from its
# leading 0 (national) or + (international); other digit runs are not tried.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|\(?0)[\d ()\-.]{8,}\d")
# UK mobile shape (07xxx xxxxxx): flagged even in ranges not yet allocated (e.g. Ofcom's
# 07700 900xxx) that `phonenumbers` rightly calls invalid — it is still someone's number.
_UK_MOBILE = re.compile(r"(?<![\d+])(?:\+44\s?7|\(?07)\d{3}\)?[\s-]?\d{3}[\s-]?\d{3}(?!\d)")

# When two hits overlap, the earlier kind in this order wins (a more specific pattern).
PRIORITY = ("nhs_number", "ni_number", "upn", "email", "date_of_birth", "phone", "postcode")


def _nhs_valid(digits: str) -> bool:
    from stdnum.gb import nhs

    return nhs.is_valid(digits)


def _upn_valid(value: str) -> bool:
    # Only the check letter: stdnum's `is_valid` also requires an English LA number from
    # its 2011 list, which would miss every Welsh UPN (LA numbers 660-681) and newer LAs.
    from stdnum.gb import upn

    value = value.upper()
    return value[-1] not in "IOS" and upn.calc_check_digit(value[1:]) == value[0]


def _phones(text: str) -> Iterator[Hit]:
    import phonenumbers

    for candidate in _PHONE_CANDIDATE.finditer(text):
        chunk = candidate.group()
        if sum(c.isdigit() for c in chunk) < 10:
            continue
        base = candidate.start()
        prefix_start = max(0, base - 1)  # keep a "+" that the candidate left out
        for match in phonenumbers.PhoneNumberMatcher(
            text[prefix_start : candidate.end()], "GB", leniency=phonenumbers.Leniency.VALID
        ):
            yield Hit(
                "phone", prefix_start + match.start, prefix_start + match.end, match.raw_string
            )
    for match in _UK_MOBILE.finditer(text):
        yield Hit("phone", match.start(), match.end(), match.group())


# Speed: Python's `re` tries a pattern at every position of the text, and patterns that
# open with a lookbehind or a letter class get no fast scan. So one cheap pattern, which
# opens with a digit in every branch (a class `re` skips to in C), finds the only places
# where a number-shaped identifier can be: ten or more digits joined by separators (every
# NHS, UPN and phone number has them), an NI number's six digits between letters, or a
# postcode's inward code ("9AA") after an outward code with a letter before its first
# digit. The exact patterns then run only on small windows around those places. Ordinary
# numbers, references, times and dates ("12/03/2023", "ref 123456", "21st", "10am") open
# no window. The e-mail and date-of-birth patterns run only when an "@" or a birth cue is
# present. Letter and alphanumeric classes here are Unicode-wide so that they cover
# whatever the case-insensitive exact patterns accept (e.g. the Kelvin sign for "K").
# An NI number ends in A-D (no other character matches that class case-insensitively),
# and so does its candidate: "Case reference 773781 updated" opens no window (it opened
# one in three records of the benchmark corpus, all for nothing).
_CANDIDATE_SOURCE = (
    r"\d(?:"
    r"(?:[SPACE().+-]*\d){9,}"
    r"|(?<=[^\W\d_]\d)\d ?\d\d ?\d\d ?[A-Da-d]"  # NI number "AB123456C"
    r"|(?<=[^\W\d_] \d)\d ?\d\d ?\d\d ?[A-Da-d]"  # NI number "AB 12 34 56 C"
    r"|(?<=[^\W\d_]\d)[^\W_]{0,2} ?\d[^\W\d_]{2}"  # postcode "CF10 1AA"
    r"|(?i:(?<=GIR0)AA|(?<=GIR 0)AA)"  # the one postcode without a letter before a digit
    r")"
)
_CANDIDATE = re.compile(_CANDIDATE_SOURCE.replace("SPACE", r"\s"))
# The same for text that is all ASCII (most notes), where `re` tests its classes faster in
# ASCII mode (about 1.6x on the benchmark corpus). On ASCII text the two agree: the digit,
# word and letter classes hold the same ASCII characters either way, and Unicode whitespace
# adds \x1c-\x1f, written out here. `str.isascii` is free (CPython records it).
_CANDIDATE_ASCII = re.compile(_CANDIDATE_SOURCE.replace("SPACE", r" \t\n\r\f\v\x1c-\x1f"), re.ASCII)


def _candidates(text: str) -> list[tuple[int, int]]:
    pattern = _CANDIDATE_ASCII if text.isascii() else _CANDIDATE
    return [m.span() for m in pattern.finditer(text)]


# A birth cue ("DOB", "d.o.b", "birth", "born") in lower-cased text: two substring tests and
# a pattern opening with a literal, which `re` skips to quickly (one alternation of the three
# was twice as slow: it tries every position).
_DOB_LETTERS = re.compile(r"d\W{0,2}o\W{0,2}b")


def _birth_cue(lowered: str) -> bool:
    return "birth" in lowered or "born" in lowered or _DOB_LETTERS.search(lowered) is not None


_PAD = 20  # longest non-digit part of an identifier on either side of its digits, and more
_WIDEN = 64  # how far a window may grow to reach the edge of a word
_UP_TO_LAST_SPACE = re.compile(r"(?s:.*)\s")
_NON_SPACE = re.compile(r"\S*")


def _windows(text: str, runs: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Merged spans of text around each candidate run (start, end), widened to word edges."""
    lo = hi = -1
    for run_start, run_end in runs:
        start = max(0, run_start - _PAD)
        limit = max(0, start - _WIDEN)
        if start > limit:  # back to just after the last space in text[limit:start]
            space = _UP_TO_LAST_SPACE.match(text, limit, start)
            start = space.end() if space else limit
        end = min(len(text), run_end + _PAD)
        limit = min(len(text), end + _WIDEN)
        end = _NON_SPACE.match(text, end, limit).end()  # type: ignore[union-attr]  # on to the next space
        if start <= hi:
            hi = max(hi, end)
            continue
        if hi >= 0:
            yield lo, hi
        lo, hi = start, end
    if hi >= 0:
        yield lo, hi


def _numeric_hits(window: str, base: int) -> Iterator[Hit]:
    for m in _NHS.finditer(window):
        if _nhs_valid(re.sub(r"\D", "", m.group())):
            yield Hit("nhs_number", base + m.start(), base + m.end(), m.group())
    for m in _NINO.finditer(window):
        yield Hit("ni_number", base + m.start(), base + m.end(), m.group())
    for m in _UPN.finditer(window):
        if _upn_valid(m.group()):
            yield Hit("upn", base + m.start(), base + m.end(), m.group())
    for hit in _phones(window):
        yield Hit(hit.kind, base + hit.start, base + hit.end, hit.value)
    for m in _POSTCODE.finditer(window):
        yield Hit("postcode", base + m.start(), base + m.end(), m.group())


def find_identifiers(text: str) -> list[Hit]:
    """Every identifier in `text`, in order, overlaps resolved by `PRIORITY`."""
    if not text:
        return []
    return _identifiers(
        text,
        _candidates(text),
        "@" in text,
        _birth_cue(text.lower()),
    )


def _identifiers(text: str, runs: Iterable[tuple[int, int]], email: bool, birth: bool) -> list[Hit]:
    """`find_identifiers` once the cheap passes are done: `runs` are the `_CANDIDATE`
    matches in `text`; `email` and `birth` say whether an "@" or a birth cue is present."""
    hits: list[Hit] = []
    for start, end in _windows(text, runs):
        hits.extend(_numeric_hits(text[start:end], start))
    if email:
        hits += [Hit("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]
    if birth:
        hits += [
            Hit("date_of_birth", m.start("date"), m.end("date"), m.group("date"))
            for m in _DOB.finditer(text)
        ]
    return _resolve(hits)


# Joins a record's strings for the cheap passes. No candidate can match across it (it is
# neither a digit, a letter nor a separator that `_CANDIDATE` allows), and a lookbehind that
# reaches it fails as it does at the start of a string on its own.
_JOIN = "\x00"


def find_identifiers_in(texts: Sequence[str]) -> dict[int, list[Hit]]:
    """`find_identifiers` over many strings (e.g. one record's values): {index: hits} for
    the strings that hold any, each exactly what `find_identifiers` would return.

    Speed: a record holds dozens of short strings (ids, codes, dates) and a few long notes,
    and nearly all of them hold nothing. The cheap passes run once over all the strings
    joined, and only the strings they point at are looked at on their own.
    """
    joined = _JOIN.join(texts)
    runs = _candidates(joined)
    email = "@" in joined
    # The birth cue may match across the joint ("…d" + "ob…"): then each string is tested
    # on its own, as `find_identifiers` does; it can never miss one that a string holds.
    birth = _birth_cue(joined.lower())
    if not (runs or email or birth):
        return {}
    starts: list[int] = []
    position = 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(_JOIN)
    by_text: dict[int, list[tuple[int, int]]] = {}
    for run_start, run_end in runs:
        index = bisect_right(starts, run_start) - 1
        base = starts[index]
        by_text.setdefault(index, []).append((run_start - base, run_end - base))
    found: dict[int, list[Hit]] = {}
    for index, text in enumerate(texts):
        text_runs = by_text.get(index, ())
        text_email = email and "@" in text
        text_birth = birth and _birth_cue(text.lower())
        if text_runs or text_email or text_birth:
            hits = _identifiers(text, text_runs, text_email, text_birth)
            if hits:
                found[index] = hits
    return found


_RANK = {kind: i for i, kind in enumerate(PRIORITY)}


def _resolve(hits: list[Hit]) -> list[Hit]:
    if not hits:
        return hits
    rank = _RANK
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (rank[h.kind], h.start, -h.end)):
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, rank[h.kind]))


# ------------------------------------------------------------------------------ masking

_KEEP = {"nhs_number": 3, "ni_number": 2, "phone": 2, "postcode": 1, "email": 1, "upn": 1}


def mask(value: str, keep: int = 0) -> str:
    """Letters and digits after the first `keep` become "*"; punctuation and spaces stay,
    so the shape of the value is recognisable and the value is not."""
    out = []
    shown = 0
    for char in value:
        if char.isalnum():
            if shown < keep:
                out.append(char)
                shown += 1
            else:
                out.append("*")
        else:
            out.append(char)
    return "".join(out)


def mask_hit(hit: Hit) -> str:
    return mask(hit.value, _KEEP.get(hit.kind, 0))


# ------------------------------------------------------------- identifying names of keys

_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date of birth", re.compile(r"\b(dob|d o b|date of birth|birth ?date|dateofbirth)\b")),
    ("unique pupil number", re.compile(r"\b(upn|unique pupil (number|no)|pupil (number|no))\b")),
    ("NHS number", re.compile(r"\b(nhs|chi (number|no))\b")),
    ("NI number", re.compile(r"\b(nino|ni (number|no)|national insurance)\b")),
    (
        "name",
        re.compile(
            r"\b(name|names|forename|forenames|surname|first ?name|last ?name|full ?name"
            r"|given ?name|family ?name|middle ?name)\b"
        ),
    ),
    ("address", re.compile(r"\b(address|post ?code|postal code|street)\b")),
    ("contact details", re.compile(r"\b(e ?mail|phone|telephone|mobile|tel)\b")),
)
# "Team name", "School name": names of things, not of people.
_NOT_A_PERSON = re.compile(
    r"\b(team|school|provider|organi[sz]ation|service|agency|authority|la|placement"
    r"|establishment|setting|file|sheet|rule|pack|unit|locality|project|user ?name)\b"
)


def _words(name: str) -> str:
    # "MC_DOB" → "mc dob", "childFirstName" → "child first name"
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[^A-Za-z0-9]+", spaced)).strip().casefold()


@lru_cache(maxsize=4096)  # the same few key names come back in every record
def identifying_name(name: str) -> str | None:
    """What a column or key name says it holds, when that identifies a person."""
    words = _words(name)
    for what, pattern in _NAME_RULES:
        if pattern.search(words):
            if what == "name" and _NOT_A_PERSON.search(words):
                continue
            return what
    return None


# ---------------------------------------------------------------------------- the guard


class SourceWithColumns(Protocol):
    label: str

    def columns(self) -> Sequence[Any]: ...


# Keys of the canonical model: their names never identify anyone.
_CANONICAL = frozenset(
    {
        "record_id", "worker", "team", "case_type", "child", "age_years", "ethnicity",
        "first_language", "religion", "siblings", "sibling_id", "relationship",
        "lives_with_child", "carers", "carer_id", "events", "type", "date", "notes",
        "note_id", "author", "text",
    }
)  # fmt: skip


class PrivacyGuard:
    """Scans sources and records as they stream; `run_audit` collects the findings."""

    def scan_source(self, source: Any) -> list[IdentifierFinding]:
        """Identifying column names of a mapped export (sources without columns: none)."""
        columns = getattr(source, "columns", None)
        if columns is None:
            return []
        findings = []
        for column in columns():
            what = identifying_name(column.name)
            if what:
                read = "read by the mapping" if column.mapped else "not read by the mapping"
                findings.append(
                    IdentifierFinding(
                        "identifying_column",
                        column.where,
                        None,
                        f"column {column.name!r} ({column.ref}): {what}, {read}",
                        None,
                        "",
                    )
                )
        return findings

    def scan_item(self, item: Any) -> list[IdentifierFinding]:
        """A read item: a parsed `SourcedRecord`, or a raw `.jsonl` line (`RawLine`) that
        worker processes will parse; the guard decodes it here only to read its strings."""
        record = getattr(item, "record", None)
        if record is not None:
            return self.scan_record(item.source, record)
        text = getattr(item, "text", None)
        if isinstance(text, str):
            try:
                data = json.loads(text)
            except ValueError:
                return []  # rejected by the reader anyway; nothing to locate values in
            return self.scan_record(item.source, data) if isinstance(data, dict) else []
        return []

    def scan_record(self, source: str, record: Any) -> list[IdentifierFinding]:
        """Every identifier in one record (a `recaudit.records.Record` or its JSON dict)."""
        if isinstance(record, dict):
            data = record
            rid_value = record.get("record_id")
            rid = str(rid_value) if isinstance(rid_value, str | int) else None
        else:
            data = record.model_dump(mode="json", exclude_unset=True)
            rid = record.record_id
        texts: list[str] = []
        named = _gather(data, texts)
        found = find_identifiers_in(texts)
        if not (found or named):
            return []  # nearly every record: no need to work out where things are
        values = _walk(data, "")
        strings = [i for i, (_, _, value) in enumerate(values) if isinstance(value, str)]
        hits_at = {strings[i]: hits for i, hits in found.items()}
        findings: list[IdentifierFinding] = []
        for i, (path, key, value) in enumerate(values):
            if key is not None and key not in _CANONICAL:
                what = identifying_name(key)
                if what:
                    findings.append(
                        IdentifierFinding(
                            "identifying_field",
                            source,
                            rid,
                            f"{path}: {what}",
                            None,
                            mask(value) if isinstance(value, str) else "",
                        )
                    )
            for hit in hits_at.get(i, ()):
                findings.append(
                    IdentifierFinding(
                        hit.kind,
                        source,
                        mask(rid) if path == "record_id" and rid else rid,
                        path,
                        hit.start if path.endswith(".text") else None,
                        mask_hit(hit),
                    )
                )
        return findings


def _gather(value: Any, texts: list[str]) -> bool:
    """Every string in `value` into `texts`, in document order (as `_walk` lists them);
    True when a key names identifying data and holds a single value (a finding)."""
    if isinstance(value, str):
        texts.append(value)
        return False
    named = False
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict | list):
                named = _gather(item, texts) or named
                continue
            if key not in _CANONICAL and identifying_name(str(key)):
                named = True
    elif isinstance(value, list):
        for item in value:
            named = _gather(item, texts) or named
    return named


def _walk(value: Any, path: str) -> list[tuple[str, str | None, Any]]:
    """(path, key, value) for every value, in document order; notes are addressed by
    note_id. Collected into one list rather than yielded through nested generators: a
    record has dozens of values and generator hand-offs were half the guard's time."""
    out: list[tuple[str, str | None, Any]] = []
    _collect(value, path, None, out)
    return out


def _collect(
    value: Any, path: str, key: str | None, out: list[tuple[str, str | None, Any]]
) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            name = str(k)
            _collect(v, f"{path}.{name}" if path else name, name, out)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            if path == "notes" and isinstance(item, dict) and "note_id" in item:
                label = f"notes[{item['note_id']}]"
            else:
                label = f"{path}[{index}]"
            _collect(item, label, None, out)
        return
    out.append((path, key, value))


def scan_texts(texts: Iterable[str]) -> list[list[Hit]]:
    """`find_identifiers` over many strings (for evaluation scripts)."""
    return [find_identifiers(t) for t in texts]
