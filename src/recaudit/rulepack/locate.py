"""Find a pack's folder on disk, and hash its content.

Light on purpose (no PyYAML, no pydantic): `rules list` resolves and hashes packs here
before it knows whether it needs the loader at all (see `listcache`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from recaudit.rulepack.problems import Mark, PackError, Problem

DEFAULT_PACK = "wales-children"


def shipped_packs() -> list[str]:
    from recaudit.resources import rules_dir

    return sorted(p.name for p in rules_dir().iterdir() if (p / "pack.yaml").is_file())


def find_pack(ref: str | Path | None, base: Path | None = None) -> Path:
    """A pack folder from a path, or from the name of a shipped pack.

    With `base` (the folder of a pack that `extends` this one) a relative path is looked up
    beside that pack first.
    """
    from recaudit.resources import rules_dir

    if ref is None:
        ref = DEFAULT_PACK
    candidates = [Path(ref)]
    if base is not None and not Path(ref).is_absolute():
        candidates.insert(0, base / ref)
    for candidate in candidates:
        if candidate.is_file() and candidate.name == "pack.yaml":
            candidate = candidate.parent
        if (candidate / "pack.yaml").is_file():
            return candidate
    shipped = rules_dir() / str(ref)
    if "/" not in str(ref) and "\\" not in str(ref) and (shipped / "pack.yaml").is_file():
        return shipped
    names = ", ".join(shipped_packs())
    raise PackError(
        [Problem(Mark(str(ref), 1, 1), f"no rule pack here (no pack.yaml); shipped packs: {names}")]
    )


def pack_sha256(folder: Path) -> str:
    """Hash of every file in the pack (relative path + bytes), in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
