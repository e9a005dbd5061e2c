"""Pydantic models of a mapping file: how an export's tables and columns become records.

A mapping is YAML, validated like a rule pack (unknown keys are errors, every problem is
reported with file:line:column). Example (an SSDA903 header table):

    name: ssda903-header
    records:
      id: CHILD
      fields:
        child.ethnicity: {column: ETHNIC, type: code}
      constants:
        case_type: care_experienced

Tables: `records` (one row per record, required) and optional `notes`, `siblings`,
`carers`, `events` (many rows per record, joined on their `id` column).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ValueType = Literal["text", "code", "date", "boolean", "integer"]

# Canonical fields a records-table column may fill, with the value type they default to.
RECORD_FIELDS: dict[str, ValueType] = {
    "worker": "text",
    "team": "text",
    "case_type": "code",
    "child.age_years": "integer",
    "child.ethnicity": "text",
    "child.first_language": "text",
    "child.religion": "text",
}
CHILD_FIELDS: dict[str, dict[str, ValueType]] = {
    "notes": {"note_id": "text", "date": "date", "author": "text", "type": "text", "text": "text"},
    "siblings": {"sibling_id": "text", "relationship": "text", "lives_with_child": "boolean"},
    "carers": {"carer_id": "text", "relationship": "text"},
    "events": {"type": "code", "date": "date"},
}
CHILD_TABLES = tuple(CHILD_FIELDS)

# Excel's error values and other spellings of an empty cell: read as "no value".
DEFAULT_NULLS = ("", "#N/A", "#N/A N/A", "#VALUE!", "#REF!", "#NAME?", "#DIV/0!", "#NULL!", "#NUM!")
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d %B %Y")
DEFAULT_TRUE = ("y", "yes", "true", "t", "1")
DEFAULT_FALSE = ("n", "no", "false", "f", "0")
# "a) WBRI", "s) NOBT", "b) Female": Ofsted Annex A prefixes each code with a list letter.
DEFAULT_CODE_PREFIX = r"^[A-Za-z]{1,2}\)\s*"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Strict):
    """Where one value comes from and how it is normalised."""

    column: str = Field(min_length=1)
    type: ValueType | None = None  # default: the canonical field's type
    aliases: dict[str, Any] = Field(default_factory=dict)  # after prefix stripping, any case
    optional: bool = False  # a header without this column leaves the field unset
    floor: bool = False  # integer from a fractional number (ages exported as 6.13 years)

    @field_validator("aliases")
    @classmethod
    def _alias_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {str(k).strip().casefold(): v for k, v in value.items()}


def _as_column(value: Any) -> Any:
    # `worker: Allocated Worker` is shorthand for `worker: {column: Allocated Worker}`.
    return {"column": value} if isinstance(value, str) else value


class ColumnEvent(Strict):
    """A dated statutory event read from a records-table column (blank cell: no event)."""

    type: str = Field(min_length=1)
    column: str = Field(min_length=1)
    optional: bool = False


class Table(Strict):
    """One table of the export: a CSV file or an XLSX sheet."""

    # Which EXPORT file holds the table: a glob on the file's name (e.g. "notes*.csv").
    # May be left out when only one file is given.
    file: str | None = None
    sheet: str | None = None  # XLSX: the sheet's name (default: the first sheet)
    header_row: int | None = Field(default=None, ge=1)  # default: found by its column names
    id: str = Field(min_length=1)  # the record id column (the join key for child tables)
    fields: dict[str, Column] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _as_column(v) for k, v in value.items()}
        return value


class RecordsTable(Table):
    constants: dict[str, Any] = Field(default_factory=dict)
    events: list[ColumnEvent] = Field(default_factory=list)
    # Extra keys copied into the record (rule packs may read them): key path → column.
    extras: dict[str, Column] = Field(default_factory=dict)

    ALLOWED: ClassVar[dict[str, ValueType]] = RECORD_FIELDS

    @field_validator("extras", mode="before")
    @classmethod
    def _extras_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _as_column(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _known_fields(self) -> RecordsTable:
        for name in self.fields:
            if name not in RECORD_FIELDS:
                raise ValueError(
                    f"fields: unknown field {name!r}; a records table maps "
                    f"{', '.join(RECORD_FIELDS)} (use extras: for other keys)"
                )
        for name in self.constants:
            if name not in RECORD_FIELDS:
                raise ValueError(f"constants: unknown field {name!r}")
            if name in self.fields:
                raise ValueError(f"{name!r} is both a column and a constant")
        canonical = {"record_id", "notes", "carers", "events", *RECORD_FIELDS}
        for name in self.extras:
            top = name.split(".")[0]
            if name in canonical or top in {"record_id", "worker", "team", "case_type"}:
                raise ValueError(f"extras: {name!r} is a canonical field; map it under fields:")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
                raise ValueError(f"extras: {name!r} is not a dotted key path")
        return self


class ChildTable(Table):
    """Many rows per record (notes, siblings, carers, events), joined on `id`."""

    # siblings only: what a record with no sibling rows means. `not_recorded` (default)
    # leaves child.siblings unset; `none` records an empty list ("no siblings").
    absent: Literal["not_recorded", "none"] = "not_recorded"


class Booleans(Strict):
    true: list[str] = Field(default_factory=lambda: list(DEFAULT_TRUE))
    false: list[str] = Field(default_factory=lambda: list(DEFAULT_FALSE))


class MappingFile(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    records: RecordsTable
    notes: ChildTable | None = None
    siblings: ChildTable | None = None
    carers: ChildTable | None = None
    events: ChildTable | None = None
    encoding: str | None = None  # CSV encoding; default: detected (UTF-8, BOM, Windows-1252)
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)  # default: sniffed
    date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DATE_FORMATS))
    excel_serial_dates: bool = True  # a number in a date column is an Excel serial day
    booleans: Booleans = Field(default_factory=Booleans)
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULLS))
    code_prefix: str = DEFAULT_CODE_PREFIX  # regex stripped from `code` values

    @field_validator("code_prefix")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _child_fields(self) -> MappingFile:
        for table_name in CHILD_TABLES:
            table: ChildTable | None = getattr(self, table_name)
            if table is None:
                continue
            for name in table.fields:
                if name not in CHILD_FIELDS[table_name]:
                    allowed = ", ".join(CHILD_FIELDS[table_name])
                    raise ValueError(
                        f"{table_name}.fields: unknown field {name!r}; {table_name} maps {allowed}"
                    )
            if table.absent != "not_recorded" and table_name != "siblings":
                raise ValueError(f"{table_name}.absent: only the siblings table takes absent")
        if self.events and not {"type", "date"} <= set(self.events.fields):
            raise ValueError("events.fields: map both type and date")
        if self.notes and "text" not in self.notes.fields:
            raise ValueError("notes.fields: map the note text")
        return self

    def child_tables(self) -> dict[str, ChildTable]:
        return {n: t for n in CHILD_TABLES if (t := getattr(self, n)) is not None}
