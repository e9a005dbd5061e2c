"""A rule's identity: a hash of what it decides, not of how it is described.

Trends across audits survive cosmetic edits (title, description, guidance, references)
but change when a pattern, field, weight or applicability changes.
"""

from __future__ import annotations

import hashlib
import json

from recaudit.rulepack.schema import RuleBase


def rule_identity(rule: RuleBase) -> str:
    payload = json.dumps(rule.identity_payload(), sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()[:16]
