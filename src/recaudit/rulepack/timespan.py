"""Time spans in rule packs (`{working_days: 15}`, `{months: 3}`) and the working-day calendar.

Working days skip weekends and the bank holidays of England and Wales, which share one
list; the `holidays` package keeps that list (including one-off days such as the 2023
coronation), so we never hand-maintain dates.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, model_validator

UNITS = ("days", "working_days", "weeks", "months", "years")


@lru_cache(maxsize=1)
def _bank_holidays() -> Any:
    import holidays

    # Years are filled in lazily by the library on first lookup of a date in that year.
    return holidays.country_holidays("GB", subdiv="WLS")


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays()


def add_working_days(start: dt.date, count: int) -> dt.date:
    """The `count`-th working day after `start` (the start day itself is day 0)."""
    day = start
    remaining = count
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def bank_holiday_name(day: dt.date) -> str | None:
    return _bank_holidays().get(day)


class Span(BaseModel):
    """A length of time: exactly one of days, working_days, weeks, months, years."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int | None = Field(default=None, ge=0, le=3660)
    working_days: int | None = Field(default=None, ge=0, le=2600)
    weeks: int | None = Field(default=None, ge=0, le=520)
    months: int | None = Field(default=None, ge=0, le=120)
    years: int | None = Field(default=None, ge=0, le=10)

    @model_validator(mode="after")
    def _one_unit(self) -> Span:
        given = [u for u in UNITS if getattr(self, u) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(UNITS)} (got {len(given)})")
        return self

    @property
    def unit(self) -> str:
        return next(u for u in UNITS if getattr(self, u) is not None)

    @property
    def amount(self) -> int:
        return int(getattr(self, self.unit))

    def after(self, start: dt.date) -> dt.date:
        """The last date that is still within this span of `start`."""
        n = self.amount
        match self.unit:
            case "days":
                return start + dt.timedelta(days=n)
            case "working_days":
                return add_working_days(start, n)
            case "weeks":
                return start + dt.timedelta(weeks=n)
            case "months":
                return start + relativedelta(months=n)
            case _:
                return start + relativedelta(years=n)

    def before(self, end: dt.date) -> dt.date:
        """The earliest date that is still within this span before `end`."""
        n = self.amount
        match self.unit:
            case "days":
                return end - dt.timedelta(days=n)
            case "working_days":
                day, remaining = end, n
                while remaining > 0:
                    day -= dt.timedelta(days=1)
                    if is_working_day(day):
                        remaining -= 1
                return day
            case "weeks":
                return end - dt.timedelta(weeks=n)
            case "months":
                return end - relativedelta(months=n)
            case _:
                return end - relativedelta(years=n)

    def __str__(self) -> str:
        n = self.amount
        unit = self.unit.replace("_", " ")
        return f"{n} {unit.removesuffix('s') if n == 1 else unit}"
