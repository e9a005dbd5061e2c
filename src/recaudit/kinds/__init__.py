"""Rule kinds. Each kind is a `RuleBase` subclass that knows how to evaluate itself.

Adding a rule of an existing kind is YAML only; adding a kind is one module here plus
an entry in `KINDS`.
"""

from __future__ import annotations

from recaudit.kinds.codes import FieldInRule
from recaudit.kinds.compose import AllOfRule, AnyOfRule
from recaudit.kinds.events import EventWithinRule
from recaudit.kinds.fields import FieldRecordedRule
from recaudit.kinds.text import TextEvidenceRule
from recaudit.rulepack.schema import RuleBase

KINDS: dict[str, type[RuleBase]] = {
    "field_recorded": FieldRecordedRule,
    "text_evidence": TextEvidenceRule,
    "field_in": FieldInRule,
    "event_within": EventWithinRule,
    "all_of": AllOfRule,
    "any_of": AnyOfRule,
}
