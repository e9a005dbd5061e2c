"""A record of `rules list` output, so that listing a pack already checked skips the loader.

`rules list` checks the pack before it lists it (everything but its lexicon terms), and
that needs the pydantic models of every rule kind: building them is most of a 400 ms
start, against a 300 ms goal (issue 8). Yet a listing depends only on the files of the
pack and of the packs it extends, on where its `extends` entries lead, and on recaudit's
code. So, as black remembers which files it has already formatted, we record the listing
of a pack that loaded cleanly, with a fingerprint of all of these, and reuse it while none
of them has changed. A pack with problems is never recorded: its errors are found, and
shown, on every run, exactly as before.

The fingerprint: for each pack in the extends tree, its folder, the hash of every file in
it (as in the pack's `sha256`) and the folder each `extends` entry leads to now (a relative
one may depend on the working directory); the size and modification time of each of
recaudit's source files; the Python version; the modification times of the site-packages
folders (installing, upgrading or removing any package changes them).

Where: $RECAUDIT_CACHE_DIR, else $XDG_CACHE_HOME/recaudit, else ~/.cache/recaudit
(%LOCALAPPDATA%/recaudit on Windows). RECAUDIT_NO_CACHE=1 turns the record off. A missing,
corrupt or unwritable record only means that the pack is loaded again; at most
`MAX_ENTRIES` packs are kept (the least recently written go first).

Light on purpose: looking a listing up imports neither PyYAML nor pydantic.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from recaudit.rulepack.locate import find_pack, pack_sha256
from recaudit.rulepack.problems import PackError

FORMAT = 1  # bump when the recorded document changes shape
MAX_ENTRIES = 64
# Packs in one extends tree, counted by path as written; more is a cycle (an error anyway).
MAX_TREE = 256
# Each pack folder in an extends tree -> {"sha256": ..., "extends": [[ref, folder], ...]}.
Tree = dict[str, dict[str, Any]]


def cache_dir() -> Path | None:
    """The folder for recorded listings, or None when recording is off."""
    if os.environ.get("RECAUDIT_NO_CACHE"):
        return None
    explicit = os.environ.get("RECAUDIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("LOCALAPPDATA") if os.name == "nt" else None
    base = base or os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder: nowhere to keep a record
            return None
    return Path(base) / "recaudit"


def _entry_path(directory: Path, folder: Path) -> Path:
    # Named by a hash of the pack's absolute path: never by anything read from the pack.
    key = hashlib.sha256(str(folder.resolve()).encode("utf-8", "surrogateescape"))
    return directory / f"listing-{key.hexdigest()[:32]}.json"


def environment() -> str:
    """A hash of what, besides the packs, a listing depends on: recaudit's code (and so its
    version), the Python running it, and the installed packages."""
    import site

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{package}\0".encode())
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                stat = os.stat(path)
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for folder in [*site.getsitepackages(), site.getusersitepackages()]:
        try:
            digest.update(f"{folder}\0{os.stat(folder).st_mtime_ns}\0".encode())
        except OSError:
            continue
    return digest.hexdigest()


def lookup(folder: Path) -> dict[str, Any] | None:
    """The listing recorded for the pack in `folder`, if nothing it depends on has changed."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        document = json.loads(_entry_path(directory, folder).read_text(encoding="utf-8"))
        if (
            document["format"] != FORMAT
            or document["root"] != str(folder)
            or document["environment"] != environment()
            or not _tree_unchanged(str(folder), document["tree"])
        ):
            return None
        listing = document["listing"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return listing if isinstance(listing, dict) else None


def _tree_unchanged(root: str, tree: Tree) -> bool:
    seen: set[str] = set()
    todo = [root]
    while todo:
        folder = todo.pop()
        if folder in seen:
            continue
        seen.add(folder)
        entry = tree.get(folder)
        if entry is None or pack_sha256(Path(folder)) != entry["sha256"]:
            return False
        for ref, recorded in entry["extends"]:
            try:
                found = find_pack(ref, base=Path(folder))
            except PackError:
                return False
            if str(found) != recorded:
                return False
            todo.append(recorded)
    return seen == set(tree)


def pack_tree(folder: Path) -> Tree | None:
    """The extends tree of the pack in `folder`; None when it cannot be read (the loader
    then reports why, and nothing is recorded).

    Read before the pack is loaded, and each folder hashed before its pack.yaml is read,
    so that a file changed meanwhile makes the record stale (a miss next time), never
    wrong. `environment()` is likewise taken before the loader's modules are imported."""
    from recaudit.rulepack.yamlsafe import YamlError, load_yaml

    tree: Tree = {}
    todo = [folder]
    while todo:
        here = todo.pop()
        if str(here) in tree:
            continue
        if len(tree) >= MAX_TREE:  # a cycle of relative paths ('../a' -> '../b' -> ...)
            return None
        try:
            sha256 = pack_sha256(here)
            manifest = load_yaml(here / "pack.yaml").data
            refs = manifest.get("extends", []) if isinstance(manifest, dict) else None
            if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                return None
            bases = [find_pack(ref, base=here) for ref in refs]
            tree[str(here)] = {
                "sha256": sha256,
                "extends": [[ref, str(base)] for ref, base in zip(refs, bases, strict=True)],
            }
        except (OSError, YamlError, PackError):
            return None
        todo.extend(bases)
    return tree


def store(folder: Path, tree: Tree, environment: str, listing: dict[str, Any]) -> None:
    """Record `listing` for the pack in `folder`, loaded after `tree` and `environment`
    were taken (best effort: any failure is ignored)."""
    import tempfile

    directory = cache_dir()
    if directory is None:
        return
    document = {
        "format": FORMAT,
        "root": str(folder),
        "environment": environment,
        "tree": tree,
        "listing": listing,
    }
    target = _entry_path(directory, folder)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, prefix=".listing-", delete=False
        ) as handle:
            try:
                json.dump(document, handle, ensure_ascii=False)
            except BaseException:
                handle.close()
                os.unlink(handle.name)
                raise
        os.replace(handle.name, target)  # readers see the old record or the new, never half
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("listing-*.json"), key=lambda p: p.stat().st_mtime_ns)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)
