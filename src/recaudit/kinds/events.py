"""`event_within`: statutory timescales between dated events.

Two shapes, which combine:
- *deadline*: the first `event` must follow the `after` event within a span
  (`within: {working_days: 15}`);
- *recurrence*: later `event`s must follow each other at most `then_every` apart
  (`then_every: {weeks: 6}`), optionally only `for` a span after the `after` event
  (`for: {years: 1}`) or `until` another event.

A record is judged as of its latest dated entry (event or note): the record carries no
audit date, and a deadline that falls after the record ends is "not yet due"
(`not_applicable`), never a failure. Missing events give `not_met` with a reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from recaudit.kinds.base import EvalContext, result
from recaudit.records import Record
from recaudit.results import RuleResult
from recaudit.rulepack.schema import RuleBase
from recaudit.rulepack.timespan import Span, is_working_day


def _between(start: dt.date, end: dt.date, span: Span) -> str:
    """How far apart two dates are, in the span's own unit where that reads naturally."""
    if span.unit == "working_days":
        count = sum(
            1
            for n in range(1, (end - start).days + 1)
            if is_working_day(start + dt.timedelta(days=n))
        )
        return f"{count} working day{'s' if count != 1 else ''}"
    days = (end - start).days
    return f"{days} day{'s' if days != 1 else ''}"


def record_end(record: Record) -> dt.date | None:
    """The latest date in the record: what it can show, as of when it was extracted."""
    dates = [e.date for e in record.events] + [n.date for n in record.notes if n.date]
    return max(dates) if dates else None


class EventWithinRule(RuleBase):
    kind: Literal["event_within"]
    event: str = Field(description="the event type that must happen")
    after: str | None = Field(default=None, description="the event type that starts the clock")
    anchor: Literal["first", "last"] = "first"
    within: Span | None = None
    then_every: Span | None = None
    for_: Span | None = Field(default=None, alias="for")
    until: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> EventWithinRule:
        if self.within is None and self.then_every is None:
            raise ValueError("give within (a deadline) and/or then_every (a recurrence)")
        if self.within is not None and self.after is None:
            raise ValueError("within needs after: the event that starts the clock")
        if self.for_ is not None and self.then_every is None:
            raise ValueError("for limits a recurrence: give then_every too")
        if self.after is not None and self.after == self.event:
            raise ValueError("event and after must differ")
        return self

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:
        end = record_end(record)
        targets = sorted(e.date for e in record.events if e.type == self.event)
        if self.after is not None:
            anchors = sorted(e.date for e in record.events if e.type == self.after)
            if not anchors:
                return result(
                    self.id,
                    "not_met",
                    f"no {self.after} event recorded, so the {self.event} timescale "
                    "cannot be shown",
                )
            start = anchors[0] if self.anchor == "first" else anchors[-1]
            targets = [d for d in targets if d >= start]
        elif targets:
            start = targets[0]
        else:
            return result(self.id, "not_met", f"no {self.event} event recorded")
        assert end is not None  # there is at least the start date
        facts: list[str] = []

        first = targets[0] if targets else None
        stopped = self._stopped(record, start)
        if self.within is not None:
            due = self.within.after(start)
            if stopped is not None and stopped <= due and (first is None or first > stopped):
                return result(
                    self.id,
                    "not_applicable",
                    f"{self.until} on {stopped}, before {self.event} was due on {due}",
                )
            if first is None:
                if end < due:
                    return result(
                        self.id,
                        "not_applicable",
                        f"not yet due: {self.event} is due by {due} ({self.within} after "
                        f"{self.after} on {start}); the record runs to {end}",
                    )
                return result(
                    self.id,
                    "not_met",
                    f"no {self.event} recorded after {self.after} on {start}; it was due "
                    f"by {due} ({self.within})",
                )
            if first > due:
                return result(
                    self.id,
                    "not_met",
                    f"{self.event} on {first} was {_between(start, first, self.within)} after "
                    f"{self.after} on {start}; due by {due} ({self.within})",
                )
            facts.append(
                f"{self.event} on {first}, {_between(start, first, self.within)} after "
                f"{self.after} on {start} (due by {due})"
            )
        if self.then_every is not None:
            outcome = self._recurrence(record, start, targets, end, facts)
            if outcome is not None:
                return outcome
        return result(self.id, "met", "; ".join(facts))

    def _stopped(self, record: Record, start: dt.date) -> dt.date | None:
        """The first `until` event on or after the start, when the rule has one."""
        if self.until is None:
            return None
        ends = sorted(e.date for e in record.events if e.type == self.until and e.date >= start)
        return ends[0] if ends else None

    def _recurrence(
        self,
        record: Record,
        start: dt.date,
        targets: list[dt.date],
        end: dt.date,
        facts: list[str],
    ) -> RuleResult | None:
        assert self.then_every is not None
        every = self.then_every
        stop = end
        limits = []
        if self.for_ is not None:
            stop = min(stop, self.for_.after(start))
            limits.append(f"for {self.for_} from {start}")
        stopped = self._stopped(record, start)
        if stopped is not None:
            stop = min(stop, stopped)
            limits.append(f"until {self.until} on {stopped}")
        # With a deadline the clock restarts at the first event; without one, at the start.
        previous = targets[0] if self.within is not None and targets else start
        checked = [d for d in targets if previous < d <= stop]
        longest = ""
        longest_days = -1
        for day in checked:
            due = every.after(previous)
            if day > due:
                return result(
                    self.id,
                    "not_met",
                    f"{self.event} on {day} came {_between(previous, day, every)} after the "
                    f"previous one on {previous}; at most every {every} (due by {due})",
                )
            if (day - previous).days > longest_days:
                longest_days = (day - previous).days
                longest = _between(previous, day, every)
            previous = day
        due = every.after(previous)
        if due < stop:
            what = f"{self.event} on {previous}" if previous != start else f"{start}"
            return result(
                self.id,
                "not_met",
                f"no {self.event} after {what}: the next was due by {due} (at most every "
                f"{every}), and the record runs to {stop}",
            )
        scope = f" ({', '.join(limits)})" if limits else ""
        if checked:
            facts.append(
                f"{len(checked)} later {self.event} event(s), each within {every} of the one "
                f"before (longest gap {longest}){scope}"
            )
        else:
            facts.append(f"no later {self.event} was due by {stop}{scope}")
        return None
