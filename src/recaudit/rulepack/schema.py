"""Pydantic models of a rule pack: the manifest, conditions and the fields every rule shares.

Each rule kind (see `recaudit.kinds`) subclasses `RuleBase` with its own parameters.
All models forbid unknown keys so a typo in a pack is an error, not a silently ignored rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recaudit.fieldpath import MISSING, resolve
from recaudit.rulepack.regex import check_pattern, compile_pattern
from recaudit.rulepack.timespan import Span

if TYPE_CHECKING:
    from recaudit.kinds.base import EvalContext
    from recaudit.records import Note, Record
    from recaudit.results import RuleResult


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """One test on a record; a rule applies when all its conditions hold.

    Field tests name a dotted `field` and exactly one operator: `in`, `not_in`, `equals`,
    `non_empty`, `matches` (an RE2 pattern, case-insensitive) or a range (`min` and/or
    `max`, e.g. an age range). Event tests take no field: `event_present: TYPE` or
    `event_absent: TYPE`.
    """

    field: str | None = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    equals: Any = None
    non_empty: bool | None = None
    matches: str | None = None
    min: float | None = None
    max: float | None = None
    event_present: str | None = None
    event_absent: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _FIELD_OPS: ClassVar[tuple[str, ...]] = ("in_", "not_in", "equals", "non_empty", "matches")
    _EVENT_OPS: ClassVar[tuple[str, ...]] = ("event_present", "event_absent")

    @field_validator("matches")
    @classmethod
    def _linear_time_pattern(cls, value: str | None) -> str | None:
        return None if value is None else check_pattern(value)

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [op.rstrip("_") for op in self._FIELD_OPS if getattr(self, op) is not None]
        if self.min is not None or self.max is not None:
            given.append("min/max")
        events = [op for op in self._EVENT_OPS if getattr(self, op) is not None]
        if events:
            if given or self.field is not None or len(events) > 1:
                raise ValueError(f"{events[0]} stands alone (no field and no other operator)")
            return self
        if self.field is None:
            raise ValueError("give a field (or use event_present / event_absent)")
        if len(given) != 1:
            names = "in, not_in, equals, non_empty, matches, min/max"
            raise ValueError(f"give exactly one of {names} (got {len(given)})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def holds(self, record: Record) -> bool:
        if self.event_present is not None:
            return any(e.type == self.event_present for e in record.events)
        if self.event_absent is not None:
            return not any(e.type == self.event_absent for e in record.events)
        assert self.field is not None
        value = resolve(record, self.field)
        if self.in_ is not None:
            return value is not MISSING and value in self.in_
        if self.not_in is not None:
            return value is MISSING or value not in self.not_in
        if self.equals is not None:
            return value == self.equals
        if self.non_empty is not None:
            return bool(value) == self.non_empty
        if self.matches is not None:
            pattern = compile_pattern(self.matches)
            return isinstance(value, str) and pattern.search(value) is not None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        # The engine reads the first word as the field to show in "not applicable" reasons.
        if self.event_present is not None:
            return f"events include {self.event_present}"
        if self.event_absent is not None:
            return f"events exclude {self.event_absent}"
        if self.min is not None or self.max is not None:
            low = "" if self.min is None else f"{self.min:g}"
            high = "" if self.max is None else f"{self.max:g}"
            if self.min is not None and self.max is not None:
                return f"{self.field} between {low} and {high}"
            return f"{self.field} {'>= ' + low if low else '<= ' + high}"
        for op in self._FIELD_OPS:
            value = getattr(self, op)
            if value is not None:
                return f"{self.field} {op.rstrip('_')} {value}"
        return str(self.field)


class NoteWindow(Strict):
    """Notes dated within a window around an event (any occurrence of it).

    `after: {working_days: 20}` keeps notes from the event's date to 20 working days later;
    `before` extends the window backwards. Notes without a date are outside every window.
    """

    event: str
    before: Span | None = None
    after: Span | None = None

    @model_validator(mode="after")
    def _some_side(self) -> NoteWindow:
        if self.before is None and self.after is None:
            raise ValueError("give before and/or after")
        return self

    def ranges(self, record: Record) -> list[tuple[dt.date, dt.date]]:
        dates = sorted({e.date for e in record.events if e.type == self.event})
        return [
            (
                self.before.before(day) if self.before else day,
                self.after.after(day) if self.after else day,
            )
            for day in dates
        ]

    def describe(self) -> str:
        sides = []
        if self.before:
            sides.append(f"{self.before} before")
        if self.after:
            sides.append(f"{self.after} after")
        return f"{' and '.join(sides)} {self.event}"


class NoteScope(BaseModel):
    """Mixin for kinds that read notes: limit them to note types and/or an event window.

    A kind inherits it (`class TextEvidenceRule(NoteScope, RuleBase)`) and reads
    `self.notes_in_scope(record)` instead of `record.notes`.
    """

    note_types: list[str] | None = None
    note_window: NoteWindow | None = None

    def notes_in_scope(self, record: Record) -> list[Note]:
        notes = list(record.notes)
        if self.note_types is not None:
            wanted = set(self.note_types)
            notes = [n for n in notes if n.type in wanted]
        if self.note_window is not None:
            ranges = self.note_window.ranges(record)
            notes = [
                n
                for n in notes
                if n.date is not None and any(lo <= n.date <= hi for lo, hi in ranges)
            ]
        return notes

    def scope_description(self) -> str:
        """For reasons: which notes were read, e.g. "home_visit notes within 20 working…"."""
        parts = []
        if self.note_types is not None:
            parts.append(f"{'/'.join(self.note_types)} notes")
        if self.note_window is not None:
            parts.append(f"dated within {self.note_window.describe()}")
        return " ".join(parts) if parts else "all notes"


class RuleBase(Strict):
    """What every rule carries, whatever its kind."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: str
    title: str
    description: str = ""
    guidance: str = ""
    references: list[str] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0)
    applies_when: list[Condition] = Field(default_factory=list)
    # The YAML file and line the rule came from, for messages (set by the loader).
    origin: str = ""

    # Keys that describe a rule to people but do not change what it decides.
    COSMETIC: ClassVar[frozenset[str]] = frozenset(
        {"title", "description", "guidance", "references", "origin"}
    )

    def applicability(self, record: Record) -> str | None:
        """None when the rule applies; otherwise the condition that failed."""
        for condition in self.applies_when:
            if not condition.holds(record):
                return condition.describe()
        return None

    def evaluate(self, record: Record, ctx: EvalContext) -> RuleResult:  # pragma: no cover
        raise NotImplementedError

    def lexicons_used(self) -> set[str]:
        """Names of pack lexicons this rule reads (for validation of references)."""
        return set()

    def rules_used(self) -> list[str]:
        """Ids of other rules this rule combines (composite kinds); the loader checks them."""
        return []

    def check(self, lexicons: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems a pack loader should report: (path inside the rule, message).

        Kinds with structured parameters (e.g. cue lists) extend this.
        """
        return [
            (("kind",), f"unknown lexicon {name!r}")
            for name in sorted(self.lexicons_used())
            if name not in lexicons
        ]

    def identity_payload(self, lexicons: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """What the rule decides: its parameters, plus the content of every lexicon it reads,
        so that a changed term list changes the identity while a changed title does not."""
        payload = self.model_dump(
            mode="json", exclude=set(self.COSMETIC), by_alias=True, exclude_none=True
        )
        if lexicons is not None:
            used = sorted(self.lexicons_used())
            payload["lexicon_content"] = {name: list(lexicons.get(name, ())) for name in used}
        return payload


class GradeBandModel(Strict):
    grade: str
    min_score: float = Field(ge=0, le=1)


class PackManifest(Strict):
    """`pack.yaml`. See docs/rule-packs.md ("Composition") for extends and overrides."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str
    description: str = ""
    requires: str | None = None
    extends: list[str] = Field(default_factory=list)
    grade_bands: list[GradeBandModel] | None = None
    rules: list[str] = Field(default_factory=list, description="rule files, in report order")
    lexicons: list[str] = Field(default_factory=list, description="lexicon files")
    # Changes to inherited rules, by rule id: `enabled: false`, `weight`, `applies_when`
    # (replaces), `applies_when_add` (appends), or any parameter of the rule's kind.
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Changes to inherited lexicons/code lists: terms appended, or the whole list replaced.
    lexicons_add: dict[str, list[Any]] = Field(default_factory=dict)
    lexicons_replace: dict[str, list[Any]] = Field(default_factory=dict)
