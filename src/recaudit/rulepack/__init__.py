"""Rule packs: YAML folders of rules, lexicons and tests (see docs/rule-packs.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recaudit.rulepack.locate import DEFAULT_PACK, find_pack
from recaudit.rulepack.problems import PackError, Problem

if TYPE_CHECKING:
    from recaudit.rulepack.loader import Pack, load_pack

__all__ = ["DEFAULT_PACK", "Pack", "PackError", "Problem", "find_pack", "load_pack"]


def __getattr__(name: str) -> Any:
    # The loader imports pydantic and every rule kind (~150 ms): only on first use, so that
    # importing a light submodule (e.g. for a cached `rules list`) does not pay for it.
    if name in ("Pack", "load_pack"):
        from recaudit.rulepack import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
