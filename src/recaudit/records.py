"""The canonical record (interchange v1) and streaming readers for `.jsonl` / `.json`.

Every line of input becomes exactly one `Record` or one `Rejection`: nothing is dropped,
so that "audited + rejected = records in" can always be checked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CaseType = Literal[
    "child_protection", "care_experienced", "care_leaver", "care_and_support", "early_help"
]


class _Model(BaseModel):
    # Unknown keys are kept (rule packs may read them) but never trusted.
    model_config = ConfigDict(extra="allow", strict=True)


class Sibling(_Model):
    sibling_id: str | None = None
    relationship: str | None = None
    lives_with_child: bool | None = None


class Child(_Model):
    age_years: int | None = Field(default=None, ge=0, le=30)
    ethnicity: str | None = None
    first_language: str | None = None
    religion: str | None = None
    siblings: list[Sibling] | None = None


class Carer(_Model):
    carer_id: str | None = None
    relationship: str | None = None


class Event(_Model):
    type: str
    date: dt.date


class Note(_Model):
    note_id: str = Field(min_length=1)
    date: dt.date | None = None
    author: str | None = None
    type: str | None = None
    text: str = ""


class Record(_Model):
    record_id: str = Field(min_length=1)
    worker: str | None = None
    team: str | None = None
    case_type: CaseType
    child: Child = Field(default_factory=Child)
    carers: list[Carer] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)

    @field_validator("record_id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _note_ids_unique(self) -> Record:
        seen: dict[str, int] = {}
        for index, note in enumerate(self.notes):
            if note.note_id in seen:
                raise ValueError(
                    f"notes[{index}].note_id: duplicate note_id {note.note_id!r} "
                    f"(first at notes[{seen[note.note_id]}])"
                )
            seen[note.note_id] = index
        return self

    def note(self, note_id: str) -> Note | None:
        return next((n for n in self.notes if n.note_id == note_id), None)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input that could not be audited, with where it came from and why."""

    source: str  # "file:line"
    record_id: str | None
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "record_id": self.record_id, "error": self.error}


@dataclass(frozen=True, slots=True)
class SourcedRecord:
    """A valid record and the `file:line` it was read from."""

    source: str
    record: Record


ReadItem = SourcedRecord | Rejection


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(record)"


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field.path: what was wrong (the value)`."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if message.startswith("notes["):  # our own model validator already names its field
            problems.append(message)
            continue
        value = err.get("input")
        shown = "" if err["type"] == "missing" else f" (got {_short_repr(value)})"
        problems.append(f"{_loc_path(loc)}: {message}{shown}")
    return "; ".join(problems)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _guess_record_id(obj: Any) -> str | None:
    if isinstance(obj, dict):
        rid = obj.get("record_id")
        if isinstance(rid, str | int) and str(rid).strip():
            return str(rid)
    return None


def parse_record(obj: Any, source: str) -> ReadItem:
    """Validate one decoded JSON value as a record."""
    if not isinstance(obj, dict):
        return Rejection(source, None, f"expected a JSON object, got {type(obj).__name__}")
    try:
        # JSON round trip so the strict validator sees JSON types (ISO date strings are
        # accepted as dates in JSON mode, but "9" is still not an integer).
        return SourcedRecord(source, Record.model_validate_json(json.dumps(obj), strict=True))
    except ValidationError as exc:
        return Rejection(source, _guess_record_id(obj), describe_validation_error(exc))


@dataclass(frozen=True, slots=True)
class LineRange:
    """Whole lines of a `.jsonl` file: bytes `start`..`end`, the first being line `first_line`.

    The unit of work of an audit: small to send to a worker process, which reads and frames
    the lines itself (`read_range`, `frame_lines`), so the parent never touches the text.
    """

    path: str
    label: str
    start: int
    end: int
    first_line: int


# How much of a file the framing reads at a time when cutting it into ranges.
_BLOCK = 1 << 20
# Ranges cut to share out the end of a file are never smaller than this.
_MIN_TAIL_BYTES = 16 * 1024


def line_ranges(
    path: Path,
    label: str,
    max_bytes: int = 256 * 1024,
    max_lines: int = 256,
    *,
    tail_parts: int = 0,
) -> Iterator[LineRange]:
    """Cut a `.jsonl` file into ranges of whole lines: at most `max_lines` lines, and cut at
    the first line end after `max_bytes` bytes (a longer line makes a range of its own).

    With `tail_parts` (the number of processes sharing the ranges out) ranges get smaller
    towards the end of the file, at most 1/`tail_parts` of what is left, so that the
    processes finish at about the same time. Only line ends are looked for here (in C,
    block by block); nothing is decoded.
    """
    name = str(path)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        pending = b""  # the file from `offset - base` on, as far as it has been read
        base = 0  # where the current range starts in `pending`
        offset, line_no = 0, 1  # the file offset and line number of the current range
        scan = lines = 0  # where to look for the next line end in `pending`; lines so far
        limit = _limit(max_bytes, size, tail_parts)
        while True:
            end = pending.find(b"\n", scan)
            if end < 0:
                block = handle.read(_BLOCK)
                if not block:
                    break
                pending, scan, base = pending[base:] + block, scan - base, 0
                continue
            scan, lines = end + 1, lines + 1
            if scan - base >= limit or lines >= max_lines:
                yield LineRange(name, label, offset, offset + scan - base, line_no)
                offset, line_no, base, lines = offset + scan - base, line_no + lines, scan, 0
                limit = _limit(max_bytes, size - offset, tail_parts)
        if base < len(pending):  # the last lines, the very last perhaps without a line end
            yield LineRange(name, label, offset, offset + len(pending) - base, line_no)


def _limit(max_bytes: int, remaining: int, parts: int) -> int:
    if parts <= 1:
        return max_bytes
    return min(max_bytes, max(_MIN_TAIL_BYTES, remaining // parts))


def read_range(lines: LineRange) -> bytes:
    with open(lines.path, "rb") as handle:
        handle.seek(lines.start)
        return handle.read(lines.end - lines.start)


def frame_lines(
    data: bytes, label: str, first_line: int = 1
) -> Iterator[tuple[str, str] | Rejection]:
    """Frame whole `.jsonl` lines into `(source, line text)` pairs without decoding the JSON.

    Lines that cannot be records at all (empty, undecodable) are rejected here; the rest go
    to `parse_jsonl_line`. A line ends at a line feed only; carriage returns before it go.
    """
    if not data:
        return
    try:
        # One decode for the whole range: where it succeeds every line would decode the
        # same on its own (a line end is never part of a multi-byte sequence).
        texts = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        yield from _frame_each(data, label, first_line)
        return
    if data.endswith(b"\n"):
        texts.pop()
    if first_line == 1 and texts:
        texts[0] = texts[0].removeprefix("\ufeff")  # UTF-8 byte order mark
    for line_no, text in enumerate(texts, start=first_line):
        yield _framed(text.rstrip("\r\n"), f"{label}:{line_no}")


def _framed(text: str, source: str) -> tuple[str, str] | Rejection:
    if not text.strip():
        return Rejection(source, None, "empty line: expected one JSON record per line")
    return source, text


def _frame_each(data: bytes, label: str, first_line: int) -> Iterator[tuple[str, str] | Rejection]:
    # Line by line, so that a badly encoded line is rejected on its own and the rest are
    # still read; each line is decoded with its line end, as a file read line by line is.
    raws = data.split(b"\n")
    last = raws.pop()
    raws = [raw + b"\n" for raw in raws]
    if last:
        raws.append(last)
    for line_no, raw in enumerate(raws, start=first_line):
        source = f"{label}:{line_no}"
        if line_no == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # UTF-8 byte order mark
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Rejection(source, None, f"not valid UTF-8 at byte {exc.start}: {exc.reason}")
            continue
        yield _framed(text.rstrip("\r\n"), source)


def jsonl_lines(path: Path, label: str) -> Iterator[tuple[str, str] | Rejection]:
    """Frame a `.jsonl` file into `(source, line text)` pairs without decoding the JSON."""
    for lines in line_ranges(path, label):
        yield from frame_lines(read_range(lines), label, lines.first_line)


def decode_jsonl_line(text: str, source: str) -> Any:
    """The JSON value of one framed line, or a `Rejection` when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection(source, None, f"invalid JSON at column {exc.colno}: {exc.msg}")
    except RecursionError:
        return Rejection(source, None, "invalid JSON: nested too deeply")


def validate_jsonl_line(text: str, obj: Any, source: str) -> ReadItem:
    """Validate one `.jsonl` line whose JSON value `obj` has been decoded already."""
    if not isinstance(obj, dict):
        return parse_record(obj, source)
    try:
        # Validated from the line itself: the same as `parse_record` (which validates the
        # value re-encoded as JSON), without encoding it again.
        return SourcedRecord(source, Record.model_validate_json(text, strict=True))
    except ValidationError as exc:
        return Rejection(source, _guess_record_id(obj), describe_validation_error(exc))


def parse_jsonl_line(text: str, source: str) -> ReadItem:
    """Decode and validate one framed `.jsonl` line."""
    obj = decode_jsonl_line(text, source)
    return obj if isinstance(obj, Rejection) else validate_jsonl_line(text, obj, source)


def _read_jsonl(path: Path, label: str) -> Iterator[ReadItem]:
    for item in jsonl_lines(path, label):
        yield item if isinstance(item, Rejection) else parse_jsonl_line(item[1], item[0])


def _read_json_array(path: Path, label: str) -> Iterator[ReadItem]:
    # A .json file is one array; decode it element by element so each rejection can
    # still name the line its element starts on.
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "[":
        yield Rejection(f"{label}:1", None, "a .json input must hold an array of records")
        return
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield Rejection(
                f"{label}:{exc.lineno}", None, f"invalid JSON: {exc.msg}; reading stopped"
            )
            return
        yield parse_record(obj, f"{label}:{line}")
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def read_records(path: Path, label: str | None = None) -> Iterator[ReadItem]:
    """Stream records from one `.jsonl` or `.json` file (a generator)."""
    label = label or path.name
    if path.suffix.lower() == ".json":
        yield from _read_json_array(path, label)
    else:
        yield from _read_jsonl(path, label)


def dedupe(items: Iterable[ReadItem]) -> Iterator[ReadItem]:
    """Reject a second record with an already-seen `record_id`; the first is kept."""
    first_seen: dict[str, str] = {}
    for item in items:
        if isinstance(item, SourcedRecord):
            rid = item.record.record_id
            if rid in first_seen:
                yield duplicate_rejection(item.source, rid, first_seen[rid])
                continue
            first_seen[rid] = item.source
        yield item


def duplicate_rejection(source: str, record_id: str, first_source: str) -> Rejection:
    return Rejection(
        source, record_id, f"record_id: duplicate {record_id!r} (first at {first_source})"
    )
