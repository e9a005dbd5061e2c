"""Normalise one exported cell into a canonical value (text, code, date, boolean, integer).

Each function takes the raw cell (a `str` from CSV; `str`, number, datetime or None from
XLSX) and returns the value or raises `ValueError` with a message naming the bad value;
the caller adds the file, row and column.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from openpyxl.utils.datetime import from_excel

from recaudit.mapping.schema import Column, MappingFile, ValueType

# Serial days Excel can hold (1900-01-01 .. 9999-12-31); outside that a number is no date.
_SERIAL_MIN, _SERIAL_MAX = 1, 2_958_465
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Normaliser:
    """The mapping's value rules, compiled once."""

    nulls: frozenset[str]
    date_formats: tuple[str, ...]
    excel_serial: bool
    true: frozenset[str]
    false: frozenset[str]
    code_prefix: re.Pattern[str]

    @classmethod
    def from_mapping(cls, mapping: MappingFile) -> Normaliser:
        return cls(
            nulls=frozenset(v.strip().casefold() for v in mapping.null_values),
            date_formats=tuple(mapping.date_formats),
            excel_serial=mapping.excel_serial_dates,
            true=frozenset(v.strip().casefold() for v in mapping.booleans.true),
            false=frozenset(v.strip().casefold() for v in mapping.booleans.false),
            code_prefix=re.compile(mapping.code_prefix),
        )

    def value(
        self, raw: Any, spec: Column, default_type: ValueType, *, verbatim: bool = False
    ) -> Any:
        """The normalised value, or None for an empty cell.

        `verbatim` keeps a text cell exactly as exported (note text: evidence offsets and
        quotes must match what the worker wrote); other text has its spaces tidied."""
        if raw is None:
            return None
        if isinstance(raw, str) and raw.strip().casefold() in self.nulls:
            return None
        kind = spec.type or default_type
        if kind == "date":
            return self.date(raw)
        if kind == "integer":
            return integer(raw, floor=spec.floor)
        text = raw if verbatim and isinstance(raw, str) else cell_text(raw)
        if kind == "code":
            text = self.code_prefix.sub("", text.strip(), count=1)
        elif kind == "boolean":
            return self.boolean(text, spec)
        if spec.aliases:
            key = " ".join(text.split()).casefold()
            if key in spec.aliases:
                return spec.aliases[key]
        return text

    def boolean(self, text: str, spec: Column) -> bool:
        stripped = self.code_prefix.sub("", text.strip(), count=1)
        key = stripped.casefold()
        if key in spec.aliases and isinstance(spec.aliases[key], bool):
            return spec.aliases[key]
        if key in self.true:
            return True
        if key in self.false:
            return False
        raise ValueError(f"not a yes/no value {text!r}")

    def date(self, raw: Any) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, bool):
            raise ValueError(f"invalid date {raw!r}")
        if isinstance(raw, int | float):
            return self._serial(raw, str(raw))
        text = str(raw).strip()
        if self.excel_serial and _NUMBER.match(text):
            return self._serial(float(text), text)
        for fmt in self.date_formats:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        try:  # "2021-01-04 00:00:00", "2021-01-04T09:30": a timestamp's date
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            pass
        raise ValueError(f"invalid date {text!r}")

    def _serial(self, number: float, shown: str) -> dt.date:
        if not self.excel_serial or not (_SERIAL_MIN <= number <= _SERIAL_MAX):
            raise ValueError(f"invalid date {shown!r}")
        value = from_excel(number)
        return value.date() if isinstance(value, dt.datetime) else value


def cell_text(raw: Any) -> str:
    """A cell as text: whole numbers without ".0", dates in ISO form, spaces tidied.

    Names exported from Excel often carry no-break spaces ("Ezra\\xa0Leigh"); they are
    ordinary spaces here so the same worker is one worker in every report.
    """
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return " ".join(str(raw).split())


def integer(raw: Any, *, floor: bool = False) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"not a whole number {raw!r}")
    if isinstance(raw, int):
        return raw
    try:
        number = float(str(raw).strip()) if not isinstance(raw, float) else raw
    except ValueError:
        raise ValueError(f"not a whole number {cell_text(raw)!r}") from None
    if math.isfinite(number) and (number.is_integer() or floor):
        return math.floor(number)
    raise ValueError(f"not a whole number {cell_text(raw)!r}")
