"""Find, load and validate a rule pack folder; every problem is reported with file:line:column.

A pack is a folder:

    pack.yaml            name, version, description, requires, grade_bands, rules, lexicons
    rules/*.yaml         one rule (a mapping) or several (a list) per file
    lexicons/*.yaml      named lists: `name: [term, ...]` (terms may be mappings, e.g. cues)
    tests/               rule test cases (see `recaudit rules test`)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from recaudit.rulepack.schema import PackManifest, RuleBase
from recaudit.rulepack.yamlsafe import Located, Mark, YamlError, load_yaml
from recaudit.scoring import GradeBand

DEFAULT_PACK = "wales-children"
DEFAULT_BANDS = (
    GradeBand("Good", 0.8),
    GradeBand("Adequate", 0.6),
    GradeBand("Requires improvement", 0.4),
    GradeBand("Inadequate", 0.0),
)


@dataclass(frozen=True, slots=True)
class Problem:
    mark: Mark
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.mark}: {self.severity}: {self.message}"


class PackError(Exception):
    """A pack that cannot be used; `problems` lists every error found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Pack:
    name: str
    version: str
    description: str
    path: Path
    sha256: str
    grade_bands: tuple[GradeBand, ...]
    rules: tuple[RuleBase, ...]
    lexicons: Mapping[str, tuple[Any, ...]]
    requires: str | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def weights(self) -> dict[str, float]:
        return {rule.id: rule.weight for rule in self.rules}

    def rule(self, rule_id: str) -> RuleBase | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def shipped_packs() -> list[str]:
    from recaudit.resources import rules_dir

    return sorted(p.name for p in rules_dir().iterdir() if (p / "pack.yaml").is_file())


def find_pack(ref: str | Path | None) -> Path:
    """A pack folder from a path, or from the name of a shipped pack."""
    from recaudit.resources import rules_dir

    if ref is None:
        ref = DEFAULT_PACK
    candidate = Path(ref)
    if candidate.is_file() and candidate.name == "pack.yaml":
        candidate = candidate.parent
    if (candidate / "pack.yaml").is_file():
        return candidate
    shipped = rules_dir() / str(ref)
    if isinstance(ref, str) and "/" not in ref and (shipped / "pack.yaml").is_file():
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


def _validation_problems(
    exc: ValidationError, doc: Located, prefix: tuple[Any, ...]
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(str(p) if not isinstance(p, int) else p for p in err["loc"])
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        where = ".".join(str(p) for p in loc) or "(top)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        problems.append(Problem(doc.mark((*prefix, *loc)), f"{where}: {message}"))
    return problems


def _relative_file(folder: Path, name: str, mark: Mark) -> Path:
    # Pack files may only name files inside the pack folder.
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise PackError([Problem(mark, f"{name!r} is outside the pack folder")])
    return path


def _load_lexicons(
    folder: Path, files: Iterable[str], manifest_doc: Located
) -> tuple[dict[str, tuple[Any, ...]], list[Problem]]:
    lexicons: dict[str, tuple[Any, ...]] = {}
    problems: list[Problem] = []
    for index, name in enumerate(files):
        mark = manifest_doc.mark(("lexicons", index))
        try:
            doc = load_yaml(_relative_file(folder, name, mark), f"{folder.name}/{name}")
        except (YamlError, OSError) as exc:
            problems.append(Problem(getattr(exc, "mark", mark), getattr(exc, "message", str(exc))))
            continue
        if not isinstance(doc.data, dict):
            problems.append(Problem(doc.mark(()), "a lexicon file maps names to lists"))
            continue
        for key, items in doc.data.items():
            if not isinstance(items, list):
                problems.append(Problem(doc.mark((str(key),)), f"lexicon {key!r} must be a list"))
            elif key in lexicons:
                problems.append(Problem(doc.mark((str(key),)), f"lexicon {key!r} defined twice"))
            else:
                lexicons[str(key)] = tuple(items)
    return lexicons, problems


def parse_rule(data: Any, doc: Located, path: tuple[Any, ...]) -> RuleBase | list[Problem]:
    from recaudit.kinds import KINDS

    if not isinstance(data, dict):
        return [Problem(doc.mark(path), "a rule must be a mapping")]
    kind = data.get("kind")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        return [
            Problem(doc.mark((*path, "kind")), f"kind: unknown rule kind {kind!r} (known: {known})")
        ]
    mark = doc.mark(path)
    try:
        return KINDS[kind].model_validate({**data, "origin": f"{mark.file}:{mark.line}"})
    except ValidationError as exc:
        return _validation_problems(exc, doc, path)


def _load_rules(
    folder: Path, files: Iterable[str], manifest_doc: Located
) -> tuple[list[tuple[RuleBase, Located, tuple[Any, ...]]], list[Problem]]:
    rules: list[tuple[RuleBase, Located, tuple[Any, ...]]] = []
    problems: list[Problem] = []
    for index, name in enumerate(files):
        mark = manifest_doc.mark(("rules", index))
        try:
            doc = load_yaml(_relative_file(folder, name, mark), f"{folder.name}/{name}")
        except (YamlError, OSError) as exc:
            problems.append(Problem(getattr(exc, "mark", mark), getattr(exc, "message", str(exc))))
            continue
        entries = doc.data if isinstance(doc.data, list) else [doc.data]
        for i, data in enumerate(entries):
            path: tuple[Any, ...] = (i,) if isinstance(doc.data, list) else ()
            parsed = parse_rule(data, doc, path)
            if isinstance(parsed, list):
                problems.extend(parsed)
            else:
                rules.append((parsed, doc, path))
    return rules, problems


def load_pack(ref: str | Path | None = None) -> Pack:
    """Load and validate a pack; raise PackError listing every problem."""
    folder = find_pack(ref)
    try:
        manifest_doc = load_yaml(folder / "pack.yaml", f"{folder.name}/pack.yaml")
    except YamlError as exc:
        raise PackError([Problem(exc.mark, exc.message)]) from None
    try:
        manifest = PackManifest.model_validate(manifest_doc.data)
    except ValidationError as exc:
        raise PackError(_validation_problems(exc, manifest_doc, ())) from None

    problems: list[Problem] = []
    if manifest.extends:
        problems.append(Problem(manifest_doc.mark(("extends",)), "extends: not supported yet"))
    lexicons, lexicon_problems = _load_lexicons(folder, manifest.lexicons, manifest_doc)
    loaded, rule_problems = _load_rules(folder, manifest.rules, manifest_doc)
    problems += lexicon_problems + rule_problems

    seen: dict[str, str] = {}
    for rule, doc, path in loaded:
        if rule.id in seen:
            problems.append(
                Problem(
                    doc.mark((*path, "id")),
                    f"duplicate rule id {rule.id!r} (first at {seen[rule.id]})",
                )
            )
        seen.setdefault(rule.id, rule.origin)
        for sub_path, message in rule.check(lexicons):
            problems.append(Problem(doc.mark((*path, *sub_path)), f"{rule.id}: {message}"))
    if problems:
        raise PackError(problems)

    bands = (
        tuple(GradeBand(b.grade, b.min_score) for b in manifest.grade_bands)
        if manifest.grade_bands
        else DEFAULT_BANDS
    )
    used = set().union(*(rule.lexicons_used() for rule, _, _ in loaded)) if loaded else set()
    warnings = [
        Problem(manifest_doc.mark(("lexicons",)), f"lexicon {name!r} is never used", "warning")
        for name in sorted(set(lexicons) - used)
    ]
    return Pack(
        name=manifest.name,
        version=manifest.version,
        description=manifest.description,
        path=folder,
        sha256=pack_sha256(folder),
        grade_bands=bands,
        rules=tuple(rule for rule, _, _ in loaded),
        lexicons=lexicons,
        requires=manifest.requires,
        warnings=warnings,
    )
