"""Where the shipped rule packs and report templates are.

In a wheel they sit inside the package (`recaudit/rules`, `recaudit/templates`, see
pyproject's force-include); in an editable checkout they are at the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    packaged = _PACKAGE / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parents[1] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"recaudit is installed without its {name}/ folder")


def rules_dir() -> Path:
    return resource_dir("rules")


def templates_dir() -> Path:
    return resource_dir("templates")
