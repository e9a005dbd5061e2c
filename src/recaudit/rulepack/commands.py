"""Library functions behind `recaudit rules ...` (the CLI only parses and prints).

None of these import spaCy. Importing this module imports neither pydantic nor PyYAML
(the loader is imported by the functions that load a pack), so that a listing recorded
by `listcache` prints in well under 300 ms (issue 8).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recaudit.rulepack.locate import find_pack
from recaudit.rulepack.problems import Mark, PackError, Problem

if TYPE_CHECKING:
    from recaudit.rulepack.loader import Pack


def load_pack(ref: str | Path | None = None, *, check_terms: bool = True) -> Pack:
    """`recaudit.rulepack.loader.load_pack`, imported on first use."""
    from recaudit.rulepack.loader import load_pack as load

    return load(ref, check_terms=check_terms)


LIST_COLUMNS = (
    "id",
    "kind",
    "title",
    "weight",
    "applies_when",
    "pack",
    "overridden",
    "identity",
    "references",
    "origin",
)


@dataclass
class Validation:
    pack: Pack | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_pack(ref: str | Path | None) -> Validation:
    """Every error (and warning) in a pack and everything it extends."""
    try:
        pack = load_pack(ref)
    except PackError as exc:
        errors = [p for p in exc.problems if p.severity == "error"]
        return Validation(None, errors, [p for p in exc.problems if p.severity != "error"])
    return Validation(pack, [], list(pack.warnings))


def rule_rows(pack: Pack) -> list[dict[str, Any]]:
    """One row per rule of the resolved pack, in report order: the governance export."""
    rows = []
    for rule in pack.rules:
        rows.append(
            {
                "id": rule.id,
                "kind": rule.kind,
                "title": rule.title,
                "weight": rule.weight,
                "applies_when": " and ".join(c.describe() for c in rule.applies_when) or "always",
                "pack": pack.defined_in.get(rule.id, pack.name),
                "overridden": ", ".join(sorted(pack.overridden.get(rule.id, {}))),
                "identity": pack.identity(rule.id),
                "references": list(rule.references),
                "origin": rule.origin,
            }
        )
    return rows


def rows_as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LIST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "references": "; ".join(row["references"])})
    return out.getvalue()


def rows_as_json(pack: Pack, rows: list[dict[str, Any]]) -> str:
    return Listing(pack_header(pack), rows).as_json()


@dataclass(frozen=True)
class Listing:
    """What `rules list` shows: the resolved pack's header and one row per rule.

    Plain JSON data (`pack_header`, `rule_rows`), so that it can be recorded and reused."""

    pack: dict[str, Any]
    rules: list[dict[str, Any]]

    def as_csv(self) -> str:
        return rows_as_csv(self.rules)

    def as_json(self) -> str:
        document = {"pack": self.pack, "rules": self.rules}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def pack_listing(ref: str | Path | None, *, record: bool = False) -> Listing:
    """The listing of a pack: the pack is loaded and checked as by
    `load_pack(ref, check_terms=False)` (PackError lists its problems), unless a listing
    recorded when it last loaded cleanly still holds (see `listcache`).

    `record=True` records a listing that had to be loaded. Only for a fresh process (the
    CLI): a record is stamped with recaudit's source files as they are now, so the code
    that computed it must have been imported just now too, not before an edit."""
    from recaudit.rulepack import listcache

    folder = find_pack(ref)
    recorded = listcache.lookup(folder)
    if recorded is not None:
        return Listing(recorded["pack"], recorded["rules"])
    # Taken before loading: whatever changes meanwhile makes the record stale, not wrong.
    environment = listcache.environment() if record else ""
    tree = listcache.pack_tree(folder) if record else None
    pack = load_pack(folder, check_terms=False)  # listing only: see load_pack
    listing = Listing(pack_header(pack), rule_rows(pack))
    if tree is not None:
        # Recorded as it would be read back (JSON), so that both print the same.
        listcache.store(folder, tree, environment, json.loads(json.dumps(asdict(listing))))
    return listing


def pack_header(pack: Pack) -> dict[str, Any]:
    return {
        "name": pack.name,
        "version": pack.version,
        "description": pack.description,
        "requires": pack.requires,
        "extends": list(pack.extends),
        "sha256": pack.sha256,
        "grade_bands": [{"grade": b.grade, "min_score": b.min_score} for b in pack.grade_bands],
        "disabled": list(pack.disabled),
    }


def rule_definition(pack: Pack, rule_id: str) -> dict[str, Any]:
    rule = pack.rule(rule_id)
    if rule is None:
        raise KeyError(rule_id)
    data = rule.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"origin"})
    return {
        **data,
        "identity": pack.identity(rule.id),
        "defined_in": pack.defined_in.get(rule.id, pack.name),
        "origin": rule.origin,
        **({"overridden": pack.overridden[rule.id]} if rule.id in pack.overridden else {}),
        "lexicons_used": sorted(rule.lexicons_used()),
    }


def find_rule(rule_id: str, ref: str | Path | None) -> dict[str, Any]:
    """The full definition of one rule of a pack (KeyError when it has no such rule)."""
    return rule_definition(load_pack(ref), rule_id)


def resolved_pack(pack: Pack) -> dict[str, Any]:
    """What an audit with this pack runs: every rule after composition, and the lexicons."""
    return {
        **pack_header(pack),
        "rules": [rule_definition(pack, rule.id) for rule in pack.rules],
        "lexicons": {name: list(items) for name, items in sorted(pack.lexicons.items())},
    }


def as_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def problem_lines(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


# --------------------------------------------------------------------------- init

_PACK_YAML = """\
# {name}: a rule pack extending {extends}. See docs/rule-packs.md.
name: {name}
version: 0.1.0
description: >-
  Local rules for ... (say who maintains this pack and what it is for).
requires: ">=0.1"
extends:
  - {extends}
rules:
  - rules/local.yaml
# Change inherited rules without copying them, e.g.:
# overrides:
#   religion-recorded: {{enabled: false}}
#   ethnicity-recorded: {{weight: 2}}
# lexicons_add:
#   placeholders: [awaiting information]
"""

_RULES_YAML = """\
# An example rule: the child's ethnicity is one of the DfE codes (aliases accepted).
- id: ethnicity-coded
  kind: field_in
  title: Ethnicity recorded as a DfE code
  description: The child's ethnicity maps to one of the 20 DfE ethnicity codes.
  guidance: >-
    Record ethnicity with the DfE code list so returns (CIN census, SSDA903) need no
    re-keying. "Refused" (REFU) is an answer; NOBT is not.
  references:
    - "DfE CIN census / SSDA903 ethnicity codes"
  weight: 1
  field: child.ethnicity
  codes: {codes}
  strip: '^[a-z]\\)\\s*'
  exclude: [NOBT]
  aliases:
    {alias_example}
"""

_TEST_YAML = """\
# Test cases for ethnicity-coded: run them with `recaudit rules test {folder}`.
defaults:
  case_type: care_and_support
cases:
  - name: a DfE code is met
    record: {{child: {{ethnicity: WBRI}}}}
    expect: {{ethnicity-coded: met}}
  - name: an Annex A letter prefix is stripped
    record: {{child: {{ethnicity: "a) WBRI"}}}}
    expect: {{ethnicity-coded: met}}
  - name: free text that is no code is not met
    record: {{child: {{ethnicity: "Welsh"}}}}
    expect: {{ethnicity-coded: {{outcome: not_met, reason: "not a code"}}}}
  - name: NOBT (information not yet obtained) is not an answer
    record: {{child: {{ethnicity: NOBT}}}}
    expect: {{ethnicity-coded: not_met}}
"""


def init_pack(name: str, dest: Path, extends: str = "wales-children") -> list[Path]:
    """Scaffold a pack folder `dest` (which must not exist) with an example rule and test."""
    from recaudit.rulepack.schema import PackManifest

    PackManifest.model_validate({"name": name, "version": "0.1.0"})  # a valid name, or raise
    if dest.exists():
        raise FileExistsError(f"{dest} already exists")
    base = load_pack(find_pack(extends))
    codes = "dfe-ethnicity" if "dfe-ethnicity" in base.lexicons else None
    files = {
        "pack.yaml": _PACK_YAML.format(name=name, extends=extends),
        "tests/ethnicity-coded.yaml": _TEST_YAML.format(folder=dest.as_posix()),
    }
    if codes:
        files["rules/local.yaml"] = _RULES_YAML.format(
            codes=codes, alias_example='"White - Welsh": WBRI'
        )
    else:
        raise PackError(
            [
                Problem(
                    Mark(str(extends), 1, 1),
                    "the example rule needs the dfe-ethnicity code list; extend a pack "
                    "that ships it (e.g. wales-children)",
                )
            ]
        )
    written = []
    for relative, text in files.items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
