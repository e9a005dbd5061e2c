"""Regular expressions from untrusted packs run on RE2 (linear time) or not at all.

A pack written by someone else must not be able to hang an audit: a backtracking engine
takes exponential time on patterns such as `(a+)+$`; RE2 guarantees time linear in the
input and refuses the features that need backtracking (backreferences, look-around).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN = 1000


class UnsafePattern(ValueError):
    pass


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the error is reported to the pack author, not to stderr
    options.case_sensitive = False
    options.max_mem = 8 << 20
    return options


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """Compile `pattern` (case-insensitive) with RE2; raise UnsafePattern with a readable reason."""
    if len(pattern) > MAX_PATTERN:
        raise UnsafePattern(f"pattern is {len(pattern)} characters; the limit is {MAX_PATTERN}")
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise UnsafePattern(
            f"regular expression {pattern!r} is not supported by the linear-time engine "
            f"(RE2): {detail}"
        ) from None


def check_pattern(pattern: str) -> str:
    """A pydantic-friendly validator: the pattern unchanged, or a ValueError."""
    compile_pattern(pattern)
    return pattern
