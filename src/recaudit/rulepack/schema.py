"""Pydantic models of a rule pack: the manifest, conditions and the fields every rule shares.

Each rule kind (see `recaudit.kinds`) subclasses `RuleBase` with its own parameters.
All models forbid unknown keys so a typo in a pack is an error, not a silently ignored rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recaudit.fieldpath import MISSING, resolve

if TYPE_CHECKING:
    from recaudit.kinds.base import EvalContext
    from recaudit.records import Record
    from recaudit.results import RuleResult


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """One test on a record field; a rule applies when all its conditions hold.

    Exactly one operator is given: `in`, `not_in`, `equals`, `non_empty`, `min`, `max`.
    """

    field: str
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    equals: Any = None
    non_empty: bool | None = None
    min: float | None = None
    max: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _OPERATORS: ClassVar[tuple[str, ...]] = ("in_", "not_in", "equals", "non_empty", "min", "max")

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [op for op in self._OPERATORS if getattr(self, op) is not None]
        if len(given) != 1:
            names = ", ".join(o.rstrip("_") for o in self._OPERATORS)
            raise ValueError(f"give exactly one of {names} (got {len(given)})")
        return self

    def holds(self, record: Record) -> bool:
        value = resolve(record, self.field)
        if self.in_ is not None:
            return value is not MISSING and value in self.in_
        if self.not_in is not None:
            return value is MISSING or value not in self.not_in
        if self.equals is not None:
            return value == self.equals
        if self.non_empty is not None:
            return bool(value) == self.non_empty
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if self.min is not None:
            return value >= self.min
        return self.max is not None and value <= self.max

    def describe(self) -> str:
        for op in self._OPERATORS:
            value = getattr(self, op)
            if value is not None:
                return f"{self.field} {op.rstrip('_')} {value}"
        return self.field


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

    def check(self, lexicons: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems a pack loader should report: (path inside the rule, message).

        Kinds with structured parameters (e.g. cue lists) extend this.
        """
        return [
            (("kind",), f"unknown lexicon {name!r}")
            for name in sorted(self.lexicons_used())
            if name not in lexicons
        ]

    def identity_payload(self) -> Mapping[str, Any]:
        return self.model_dump(mode="json", exclude=set(self.COSMETIC), by_alias=True)


class GradeBandModel(Strict):
    grade: str
    min_score: float = Field(ge=0, le=1)


class PackManifest(Strict):
    """`pack.yaml`."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str
    description: str = ""
    requires: str | None = None
    extends: list[str] = Field(default_factory=list)
    grade_bands: list[GradeBandModel] | None = None
    rules: list[str] = Field(default_factory=list, description="rule files, in report order")
    lexicons: list[str] = Field(default_factory=list, description="lexicon files")
