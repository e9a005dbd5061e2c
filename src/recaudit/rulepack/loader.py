"""Find, load, compose and validate rule packs; every problem is reported with file:line:column.

A pack is a folder:

    pack.yaml            name, version, description, requires, extends, grade_bands, rules,
                         lexicons, overrides, lexicons_add, lexicons_replace
    rules/*.yaml         one rule (a mapping) or several (a list) per file
    lexicons/*.yaml      named lists: `name: [term, ...]` (terms may be mappings, e.g. cues)
    codelists/*.yaml     code lists with their source (loaded automatically; see codes.py)
    tests/*.yaml         rule test cases (see `recaudit rules test`)

`extends` names other packs (a shipped pack's name, or a folder relative to this pack);
they are resolved first, merged in order, and this pack's own rules, lexicons and
overrides are applied last. The result, a `Pack`, is exactly what an audit runs.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from recaudit.rulepack.codes import CodeList, load_codelists

# Finding packs and reporting problems live in light modules (no pydantic, no PyYAML) so
# that a cached `rules list` needs neither; they are re-exported here, their old home.
from recaudit.rulepack.locate import DEFAULT_PACK, find_pack, pack_sha256, shipped_packs
from recaudit.rulepack.problems import Mark, PackError, Problem
from recaudit.rulepack.schema import PackManifest, RuleBase
from recaudit.rulepack.yamlsafe import Located, YamlError, load_yaml
from recaudit.scoring import GradeBand

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_PACK",
    "Mark",
    "Pack",
    "PackError",
    "Problem",
    "find_pack",
    "load_pack",
    "pack_sha256",
    "parse_rule",
    "shipped_packs",
]

DEFAULT_BANDS = (
    GradeBand("Good", 0.8),
    GradeBand("Adequate", 0.6),
    GradeBand("Requires improvement", 0.4),
    GradeBand("Inadequate", 0.0),
)
# Keys an override may not change: a rule with another kind or id is a different rule.
FIXED_KEYS = frozenset({"id", "kind", "origin"})
OVERRIDE_ONLY_KEYS = frozenset({"enabled", "applies_when_add"})
MAX_EXTENDS_DEPTH = 16


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
    # Composition: the packs this one extends, resolved ("name version"), in merge order.
    extends: tuple[str, ...] = ()
    # Rule id -> the pack that defined it, and the override keys applied to it (by pack).
    defined_in: dict[str, str] = field(default_factory=dict)
    overridden: dict[str, dict[str, Any]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    codelists: Mapping[str, CodeList] = field(default_factory=dict)

    @property
    def weights(self) -> dict[str, float]:
        return {rule.id: rule.weight for rule in self.rules}

    def rule(self, rule_id: str) -> RuleBase | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def identity(self, rule_id: str) -> str:
        """The rule's identity hash, including lexicon content and combined rules."""
        from recaudit.rulepack.identity import rule_identity

        rules = {r.id: r for r in self.rules}
        return rule_identity(rules[rule_id], self.lexicons, rules)


Locate = Callable[[tuple[Any, ...]], Mark]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _problems_from(
    exc: ValidationError, locate: Locate, known_keys: Iterable[str] | None = None
) -> list[Problem]:
    """One problem per pydantic error, placed by `locate(path inside the validated data)`."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(str(p) if not isinstance(p, int) else p for p in err["loc"])
        # Drop pydantic's internal steps (union members, function validators) from paths.
        loc = tuple(p for p in loc if not _internal_step(p))
        where = ".".join(str(p) for p in loc) or "(top)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            if known_keys is not None:
                message += _did_you_mean(str(loc[-1]), known_keys)
        problems.append(Problem(locate(loc), f"{where}: {message}"))
    return problems


_UNION_MEMBERS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "is-instance"})


def _internal_step(part: str | int) -> bool:
    if not isinstance(part, str):
        return False
    return part.startswith(("function-", "list[", "dict[", "literal[")) or part in _UNION_MEMBERS


def _validation_problems(
    exc: ValidationError,
    doc: Located,
    prefix: tuple[Any, ...],
    known_keys: Iterable[str] | None = None,
) -> list[Problem]:
    return _problems_from(exc, lambda loc: doc.mark((*prefix, *loc)), known_keys)


def _relative_file(folder: Path, name: str, mark: Mark) -> Path:
    # Pack files may only name files inside the pack folder.
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise PackError([Problem(mark, f"{name!r} is outside the pack folder")])
    return path


def _load_file(folder: Path, name: str, mark: Mark) -> Located | Problem:
    try:
        return load_yaml(_relative_file(folder, name, mark), f"{folder.name}/{name}")
    except PackError as exc:
        return exc.problems[0]
    except YamlError as exc:
        return Problem(exc.mark, exc.message)
    except OSError as exc:
        return Problem(mark, f"cannot read {name!r}: {exc.strerror or exc}")


@dataclass
class _Lexicon:
    items: tuple[Any, ...]
    mark: Mark
    pack: str


def _load_lexicons(
    folder: Path, files: Iterable[str], manifest_doc: Located, pack: str
) -> tuple[dict[str, _Lexicon], list[Problem]]:
    lexicons: dict[str, _Lexicon] = {}
    problems: list[Problem] = []
    for index, name in enumerate(files):
        doc = _load_file(folder, name, manifest_doc.mark(("lexicons", index)))
        if isinstance(doc, Problem):
            problems.append(doc)
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
                lexicons[str(key)] = _Lexicon(tuple(items), doc.mark((str(key),)), pack)
    return lexicons, problems


def parse_rule(
    data: Any, doc: Located, path: tuple[Any, ...], locate: Locate | None = None
) -> RuleBase | list[Problem]:
    from recaudit.kinds import KINDS

    locate = locate or (lambda loc: doc.mark((*path, *loc)))
    if not isinstance(data, dict):
        return [Problem(doc.mark(path), "a rule must be a mapping")]
    kind = data.get("kind")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        return [Problem(locate(("kind",)), f"kind: unknown rule kind {kind!r} (known: {known})")]
    origin = data.get("origin")
    if not origin:
        mark = doc.mark(path)
        origin = f"{mark.file}:{mark.line}"
    model = KINDS[kind]
    try:
        return model.model_validate({**data, "origin": origin})
    except ValidationError as exc:
        keys = [f.alias or name for name, f in model.model_fields.items() if name != "origin"]
        return _problems_from(exc, locate, keys)


@dataclass
class _Rule:
    """A rule as loaded, with the YAML it came from (kept for overrides and messages)."""

    rule: RuleBase
    data: dict[str, Any]
    doc: Located
    path: tuple[Any, ...]
    pack: str

    @property
    def mark(self) -> Mark:
        return self.doc.mark(self.path)


def _load_rules(
    folder: Path, files: Iterable[str], manifest_doc: Located, pack: str
) -> tuple[list[_Rule], list[Problem]]:
    rules: list[_Rule] = []
    problems: list[Problem] = []
    for index, name in enumerate(files):
        doc = _load_file(folder, name, manifest_doc.mark(("rules", index)))
        if isinstance(doc, Problem):
            problems.append(doc)
            continue
        if doc.data is None:
            continue
        entries = doc.data if isinstance(doc.data, list) else [doc.data]
        for i, data in enumerate(entries):
            path: tuple[Any, ...] = (i,) if isinstance(doc.data, list) else ()
            parsed = parse_rule(data, doc, path)
            if isinstance(parsed, list):
                problems.extend(parsed)
            else:
                rules.append(_Rule(parsed, data, doc, path, pack))
    return rules, problems


@dataclass
class _Resolved:
    """A pack with everything it extends merged in (the internal form of `Pack`)."""

    manifest: PackManifest
    folder: Path
    rules: dict[str, _Rule]
    lexicons: dict[str, _Lexicon]
    codelists: dict[str, CodeList]
    bands: tuple[GradeBand, ...] | None
    chain: list[tuple[str, str, str]]  # (name, version, sha256) of every pack merged, base first
    overridden: dict[str, dict[str, Any]] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)


def _check_requires(manifest: PackManifest, doc: Located) -> list[Problem]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    from recaudit import __version__

    if manifest.requires is None:
        return []
    mark = doc.mark(("requires",))
    try:
        spec = SpecifierSet(manifest.requires)
    except InvalidSpecifier:
        return [
            Problem(
                mark,
                f"requires: {manifest.requires!r} is not a version specifier (e.g. '>=0.1,<2')",
            )
        ]
    if not spec.contains(Version(__version__), prereleases=True):
        return [
            Problem(
                mark,
                f"requires: pack {manifest.name!r} needs recaudit {manifest.requires}; "
                f"this is recaudit {__version__}",
            )
        ]
    return []


def _resolve(folder: Path, stack: tuple[Path, ...]) -> tuple[_Resolved | None, list[Problem]]:
    """Load the pack in `folder` and everything it extends; (None, problems) when unusable."""
    label = folder.name
    try:
        manifest_doc = load_yaml(folder / "pack.yaml", f"{label}/pack.yaml")
    except YamlError as exc:
        return None, [Problem(exc.mark, exc.message)]
    except OSError as exc:
        return None, [Problem(Mark(f"{label}/pack.yaml", 1, 1), f"cannot read: {exc}")]
    try:
        manifest = PackManifest.model_validate(manifest_doc.data)
    except ValidationError as exc:
        return None, _validation_problems(exc, manifest_doc, (), PackManifest.model_fields)

    problems = _check_requires(manifest, manifest_doc)
    bases, base_problems = _resolve_bases(folder, manifest, manifest_doc, stack)
    problems += base_problems

    rules: dict[str, _Rule] = {}
    lexicons: dict[str, _Lexicon] = {}
    codelists: dict[str, CodeList] = {}
    bands: tuple[GradeBand, ...] | None = None
    chain: list[tuple[str, str, str]] = []
    overridden: dict[str, dict[str, Any]] = {}
    disabled: list[str] = []
    for base in bases:
        problems += _merge_base(base, rules, lexicons, codelists)
        bands = base.bands or bands
        chain += [c for c in base.chain if c not in chain]
        overridden.update(base.overridden)
        disabled += [d for d in base.disabled if d not in disabled]

    own_lexicons, lexicon_problems = _load_lexicons(
        folder, manifest.lexicons, manifest_doc, manifest.name
    )
    problems += lexicon_problems
    own_codes, code_problems = load_codelists(folder)
    problems += [Problem(mark, message) for mark, message in code_problems]
    for name, codelist in own_codes.items():
        if name in own_lexicons:
            problems.append(
                Problem(own_lexicons[name].mark, f"lexicon {name!r} is also a code list")
            )
        own_lexicons.setdefault(name, _Lexicon(codelist.as_lexicon(), codelist.mark, manifest.name))
        codelists[name] = codelist
    for name, lexicon in own_lexicons.items():
        if name in lexicons:
            problems.append(
                Problem(
                    lexicon.mark,
                    f"lexicon {name!r} is inherited from pack {lexicons[name].pack!r}; "
                    "change it with lexicons_add or lexicons_replace in pack.yaml",
                )
            )
        else:
            lexicons[name] = lexicon
    problems += _apply_lexicon_changes(manifest, manifest_doc, lexicons)

    own_rules, rule_problems = _load_rules(folder, manifest.rules, manifest_doc, manifest.name)
    problems += rule_problems
    for entry in own_rules:
        if entry.rule.id in rules:
            first = rules[entry.rule.id]
            where = "in this pack" if first.pack == manifest.name else f"by pack {first.pack!r}"
            hint = "" if first.pack == manifest.name else "; change it with overrides in pack.yaml"
            problems.append(
                Problem(
                    entry.doc.mark((*entry.path, "id")),
                    f"duplicate rule id {entry.rule.id!r}: already defined {where} "
                    f"(at {first.rule.origin}){hint}",
                )
            )
        else:
            rules[entry.rule.id] = entry

    if bases or manifest.overrides:
        override_problems = _apply_overrides(
            manifest, manifest_doc, rules, own={e.rule.id for e in own_rules}
        )
        problems += override_problems
        for rule_id, changes in manifest.overrides.items():
            if rule_id in rules or changes.get("enabled") is False:
                overridden[rule_id] = {**overridden.get(rule_id, {}), **changes}
            if changes.get("enabled") is False and rule_id not in disabled:
                disabled.append(rule_id)

    if manifest.grade_bands:
        bands = tuple(GradeBand(b.grade, b.min_score) for b in manifest.grade_bands)
    chain.append((manifest.name, manifest.version, pack_sha256(folder)))
    if problems:
        return None, problems
    resolved = _Resolved(
        manifest, folder, rules, lexicons, codelists, bands, chain, overridden, disabled
    )
    return resolved, []


def _resolve_bases(
    folder: Path, manifest: PackManifest, doc: Located, stack: tuple[Path, ...]
) -> tuple[list[_Resolved], list[Problem]]:
    bases: list[_Resolved] = []
    problems: list[Problem] = []
    here = folder.resolve()
    for index, ref in enumerate(manifest.extends):
        mark = doc.mark(("extends", index))
        try:
            base_folder = find_pack(ref, base=folder)
        except PackError:
            names = ", ".join(shipped_packs())
            problems.append(
                Problem(
                    mark,
                    f"extends: no pack {ref!r} (not a folder beside this pack, "
                    f"nor a shipped pack: {names})",
                )
            )
            continue
        target = base_folder.resolve()
        if target in (*stack, here):
            cycle = " -> ".join(p.name for p in (*stack, here, target))
            problems.append(Problem(mark, f"extends: cycle {cycle}"))
            continue
        if len(stack) >= MAX_EXTENDS_DEPTH:
            problems.append(Problem(mark, f"extends: deeper than {MAX_EXTENDS_DEPTH} packs"))
            continue
        base, base_problems = _resolve(base_folder, (*stack, here))
        problems += base_problems
        if base is not None:
            bases.append(base)
    return bases, problems


def _merge_base(
    base: _Resolved,
    rules: dict[str, _Rule],
    lexicons: dict[str, _Lexicon],
    codelists: dict[str, CodeList],
) -> list[Problem]:
    """Merge one base into what earlier bases gave; two bases defining one id is an error."""
    problems = []
    for rule_id, entry in base.rules.items():
        if rule_id in rules and rules[rule_id] is not entry:
            if rules[rule_id].rule == entry.rule:  # the same base reached twice (a diamond)
                continue
            problems.append(
                Problem(
                    entry.mark,
                    f"rule {rule_id!r} is defined by both {rules[rule_id].pack!r} and "
                    f"{entry.pack!r}; extend one of them, or disable one copy",
                )
            )
        else:
            rules[rule_id] = entry
    for name, lexicon in base.lexicons.items():
        if name in lexicons and lexicons[name].items != lexicon.items:
            problems.append(
                Problem(
                    lexicon.mark,
                    f"lexicon {name!r} differs between packs {lexicons[name].pack!r} "
                    f"and {lexicon.pack!r}",
                )
            )
        lexicons.setdefault(name, lexicon)
    for name, codelist in base.codelists.items():
        codelists.setdefault(name, codelist)
    return problems


def _apply_lexicon_changes(
    manifest: PackManifest, doc: Located, lexicons: dict[str, _Lexicon]
) -> list[Problem]:
    problems = []
    for key, changes in (
        ("lexicons_replace", manifest.lexicons_replace),
        ("lexicons_add", manifest.lexicons_add),
    ):
        for name, terms in changes.items():
            mark = doc.mark((key, name))
            if name not in lexicons:
                known = ", ".join(sorted(lexicons)) or "none"
                problems.append(Problem(mark, f"{key}: unknown lexicon {name!r} (known: {known})"))
                continue
            old = lexicons[name]
            if key == "lexicons_replace":
                items = tuple(terms)
            else:
                items = old.items + tuple(t for t in terms if t not in old.items)
            lexicons[name] = _Lexicon(items, mark, manifest.name)
    return problems


def _apply_overrides(
    manifest: PackManifest, doc: Located, rules: dict[str, _Rule], own: set[str]
) -> list[Problem]:
    problems = []
    for rule_id, changes in manifest.overrides.items():
        at: tuple[Any, ...] = ("overrides", rule_id)
        if rule_id not in rules:
            inherited = sorted(set(rules) - own)
            problems.append(
                Problem(
                    doc.mark(at),
                    f"overrides: unknown rule {rule_id!r}{_did_you_mean(rule_id, inherited)}; "
                    f"the packs this one extends define: {', '.join(inherited) or 'none'}",
                )
            )
            continue
        if not isinstance(changes, dict):
            problems.append(Problem(doc.mark(at), "an override is a mapping of changes"))
            continue
        fixed = sorted(FIXED_KEYS & set(changes))
        for key in fixed:
            problems.append(
                Problem(doc.mark((*at, key)), f"overrides.{rule_id}: {key!r} cannot be changed")
            )
        enabled = changes.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(Problem(doc.mark((*at, "enabled")), "enabled: must be true or false"))
            continue
        if not enabled:
            del rules[rule_id]
            continue
        if fixed:
            continue
        problem_or_entry = _overridden_rule(rules[rule_id], changes, doc, at, manifest.name)
        if isinstance(problem_or_entry, list):
            problems += problem_or_entry
        else:
            rules[rule_id] = problem_or_entry
    return problems


def _overridden_rule(
    entry: _Rule, changes: dict[str, Any], doc: Located, at: tuple[Any, ...], pack: str
) -> _Rule | list[Problem]:
    data = dict(entry.data)
    base_conditions = list(data.get("applies_when") or [])
    added = changes.get("applies_when_add")
    for key, value in changes.items():
        if key not in OVERRIDE_ONLY_KEYS:
            data[key] = value
    if added is not None:
        if not isinstance(added, list):
            return [Problem(doc.mark((*at, "applies_when_add")), "applies_when_add: a list")]
        data["applies_when"] = list(data.get("applies_when") or base_conditions) + added
    data["origin"] = entry.rule.origin
    start_added = len(data["applies_when"]) - len(added) if added is not None else 0

    def locate(loc: tuple[Any, ...]) -> Mark:
        # Point at the override when it supplied the key, else at the base rule.
        if not loc:
            return doc.mark(at)
        if added is not None and loc[0] == "applies_when" and len(loc) > 1:
            index = loc[1]
            if isinstance(index, int) and index >= start_added:
                return doc.mark((*at, "applies_when_add", index - start_added, *loc[2:]))
        if loc[0] in changes:
            return doc.mark((*at, *loc))
        return entry.doc.mark((*entry.path, *loc))

    parsed = parse_rule(data, doc, at, locate)
    if isinstance(parsed, list):
        return parsed
    return _Rule(parsed, data, entry.doc, entry.path, entry.pack)


def _check_rules(resolved: _Resolved, check_terms: bool = True) -> list[Problem]:
    """Checks that need the whole resolved pack: lexicon and rule references, cycles.

    Without `check_terms`, each rule gets only the base checks (`RuleBase.check`: its
    lexicons exist), not its kind's own, which for text rules builds every lexicon term.
    """
    problems: list[Problem] = []
    lexicons = {name: lex.items for name, lex in resolved.lexicons.items()}
    for rule_id, entry in resolved.rules.items():
        rule = entry.rule
        found = rule.check(lexicons) if check_terms else RuleBase.check(rule, lexicons)
        for sub_path, message in found:
            problems.append(
                Problem(entry.doc.mark((*entry.path, *sub_path)), f"{rule_id}: {message}")
            )
        for index, ref in enumerate(entry.rule.rules_used()):
            if ref in resolved.rules:
                continue
            mark = entry.doc.mark((*entry.path, "rules", index))
            if ref in resolved.disabled:
                problems.append(
                    Problem(
                        mark,
                        f"{rule_id}: combines rule {ref!r}, which is disabled; disable "
                        f"{rule_id!r} too or override its rules",
                    )
                )
            else:
                problems.append(Problem(mark, f"{rule_id}: rules: unknown rule {ref!r}"))
    problems += _composite_cycles(resolved.rules)
    return problems


def _composite_cycles(rules: Mapping[str, _Rule]) -> list[Problem]:
    problems = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(rule_id: str, path: list[str]) -> None:
        state[rule_id] = 1
        for ref in rules[rule_id].rule.rules_used():
            if ref not in rules:
                continue
            if state.get(ref) == 1:
                cycle = " -> ".join([*path[path.index(ref) :], ref])
                entry = rules[rule_id]
                problems.append(Problem(entry.mark, f"{rule_id}: rules refer in a cycle: {cycle}"))
            elif ref not in state:
                visit(ref, [*path, ref])
        state[rule_id] = 2

    for rule_id in rules:
        if rule_id not in state:
            visit(rule_id, [rule_id])
    return problems


def _unused_lexicons(resolved: _Resolved) -> list[Problem]:
    used: set[str] = set()
    for entry in resolved.rules.values():
        used |= entry.rule.lexicons_used()
    return [
        Problem(lexicon.mark, f"lexicon {name!r} is never used", "warning")
        for name, lexicon in sorted(resolved.lexicons.items())
        # Code lists are reference data a pack ships for others to use: no warning.
        if name not in used and name not in resolved.codelists
    ]


def load_pack(ref: str | Path | None = None, *, check_terms: bool = True) -> Pack:
    """Load, compose and validate a pack; raise PackError listing every problem.

    `check_terms=False` is for commands that only describe the pack (`rules list`): it
    skips the kind-specific checks of each rule's lexicon terms (compiling 1,000+ phrase
    patterns is most of the load time). Schema, references and cycles are still checked;
    `rules validate`, `audit` and everything that evaluates rules keep the full check, so
    a bad pattern is still an error at load time there.
    """
    folder = find_pack(ref)
    resolved, problems = _resolve(folder, ())
    if resolved is not None:
        problems += _check_rules(resolved, check_terms)
    if problems or resolved is None:
        raise PackError(problems)
    manifest = resolved.manifest
    if len(resolved.chain) == 1:
        sha = resolved.chain[0][2]
    else:
        sha = hashlib.sha256(
            "\n".join(f"{n}\0{v}\0{s}" for n, v, s in resolved.chain).encode()
        ).hexdigest()
    return Pack(
        name=manifest.name,
        version=manifest.version,
        description=manifest.description,
        path=folder,
        sha256=sha,
        grade_bands=resolved.bands or DEFAULT_BANDS,
        rules=tuple(entry.rule for entry in resolved.rules.values()),
        lexicons={name: lex.items for name, lex in resolved.lexicons.items()},
        requires=manifest.requires,
        warnings=_unused_lexicons(resolved),
        extends=tuple(f"{n} {v}" for n, v, _ in resolved.chain[:-1]),
        defined_in={rule_id: entry.pack for rule_id, entry in resolved.rules.items()},
        overridden={k: v for k, v in resolved.overridden.items() if k in resolved.rules},
        disabled=tuple(resolved.disabled),
        codelists=dict(resolved.codelists),
    )
