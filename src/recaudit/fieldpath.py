"""Dotted field paths into a record (`child.ethnicity`, `carers`, `events`).

Rule packs name fields by path, so a pack can read any field, including the extra keys a
record may carry, without Python code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def resolve(obj: Any, path: str) -> Any:
    """The value at `path`, or MISSING when a key on the way is absent.

    A key the record did not carry at all is MISSING even where the model has a default
    (e.g. `child.siblings` absent vs `null`): the spec treats both as "not recorded", but
    reasons are clearer when they say which it was.
    """
    current = obj
    for part in path.split("."):
        if isinstance(current, BaseModel):
            extra = current.model_extra or {}
            if part in type(current).model_fields:
                if part not in current.model_fields_set and part not in extra:
                    return MISSING
                current = getattr(current, part)
            elif part in extra:
                current = extra[part]
            else:
                return MISSING
        elif isinstance(current, dict):
            if part not in current:
                return MISSING
            current = current[part]
        else:
            return MISSING
    return current
