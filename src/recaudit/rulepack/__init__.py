"""Rule packs: YAML folders of rules, lexicons and tests (see docs/rule-packs.md)."""

from recaudit.rulepack.loader import DEFAULT_PACK, Pack, PackError, Problem, find_pack, load_pack

__all__ = ["DEFAULT_PACK", "Pack", "PackError", "Problem", "find_pack", "load_pack"]
