"""Turn untrusted names (worker ids, team names) into safe, portable file names.

A worker id such as `../../x`, `CON` or `a/b` comes from a record, so it must never reach a
file path as is. `safe_filename` returns a file *stem* (callers add ".xlsx", ".html") that:

- has no path separators, no `..`, no leading `-` or `.` and no control characters;
- is not a Windows reserved device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9), whatever the
  case or extension;
- fits comfortably in every file system's name limit (bounded in UTF-8 bytes);
- is deterministic: the same name always gives the same stem, on every run and machine.

Whenever sanitising changed the name, a short hash of the *original* name is appended, so
two different names that sanitise alike (`a/b` and `a\\b`) still get different stems.
`unique_filenames` also resolves the rare remaining clashes (e.g. `Alice` and `alice` on a
case-insensitive file system) for a whole set of names at once.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

MAX_STEM_BYTES = 80
EMPTY_STEM = "unnamed"
_HASH_CHARS = 8

# Anything but letters, digits, "_", "-" and "." becomes "_" (\w is Unicode-aware, so Welsh
# and other accented names stay readable).
_UNSAFE = re.compile(r"[^\w.-]+")
_REPEATS = re.compile(r"([_.-])[_.-]*")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{device}{n}" for device in ("COM", "LPT") for n in range(10)}
)


def _digest(name: str, chars: int = _HASH_CHARS) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:chars]


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def _is_reserved(stem: str) -> bool:
    # Windows ignores everything from the first dot and trailing spaces: "con.txt" is CON.
    return stem.split(".", 1)[0].rstrip(" ").upper() in _RESERVED


def _sanitise(name: str, max_bytes: int) -> str:
    # NFKC folds full-width and superscript look-alikes ("ＣＯＮ", "COM¹") to plain letters
    # and digits before the checks below see them.
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE.sub("_", text)
    # Collapse runs like "..", "__", "-." so no ".." survives and names stay tidy.
    text = _REPEATS.sub(lambda m: m.group(1), text)
    text = text.strip("._-")
    text = _truncate_utf8(text, max_bytes).rstrip("._-")
    if not text:
        return EMPTY_STEM
    if _is_reserved(text):
        return f"_{text}"
    return text


def safe_filename(name: str, *, max_bytes: int = MAX_STEM_BYTES) -> str:
    """A safe file stem for `name` (no extension). See the module docstring."""
    if max_bytes < _HASH_CHARS + 8:
        raise ValueError(f"max_bytes must be at least {_HASH_CHARS + 8}")
    stem = _sanitise(name, max_bytes)
    if stem == name:
        return stem
    # Changed: keep it apart from every other name that sanitises alike.
    base = _truncate_utf8(stem, max_bytes - _HASH_CHARS - 1).rstrip("._-") or EMPTY_STEM
    return f"{base}-{_digest(name)}"


def unique_filenames(names: Iterable[str], *, max_bytes: int = MAX_STEM_BYTES) -> dict[str, str]:
    """Map each distinct name to a safe stem, unique even on case-insensitive file systems.

    The result does not depend on the order of `names`: members of a clashing group all get
    a hash suffix of their own original name (longer hashes if they still clash).
    """
    result = {name: safe_filename(name, max_bytes=max_bytes) for name in dict.fromkeys(names)}
    chars = _HASH_CHARS
    while True:
        groups: dict[str, list[str]] = defaultdict(list)
        for name, stem in result.items():
            groups[stem.casefold()].append(name)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            return result
        chars += 8
        if chars > 64:  # pragma: no cover - needs a SHA-256 collision
            raise ValueError("cannot make file names unique")
        for group in clashes:
            for name in group:
                base = _sanitise(name, max_bytes - chars - 1)
                result[name] = f"{base}-{_digest(name, chars)}"
