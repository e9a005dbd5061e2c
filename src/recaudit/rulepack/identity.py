"""A rule's identity: a hash of what it decides, not of how it is described.

Trends across audits survive cosmetic edits (title, description, guidance, references)
but change when a pattern, field, weight, applicability, or the content of a lexicon or
code list the rule reads changes. A composite rule's identity covers the rules it combines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from recaudit.rulepack.schema import RuleBase


def rule_identity(
    rule: RuleBase,
    lexicons: Mapping[str, Any] | None = None,
    rules: Mapping[str, RuleBase] | None = None,
    _seen: frozenset[str] = frozenset(),
) -> str:
    """`sha256:` + 16 hex digits. Pass the pack's lexicons (and rules, for composites)."""
    payload = dict(rule.identity_payload(lexicons))
    combined = rule.rules_used()
    if combined and rules is not None:
        payload["combined_identities"] = {
            ref: rule_identity(rules[ref], lexicons, rules, _seen | {rule.id})
            for ref in combined
            if ref in rules and ref not in _seen
        }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
