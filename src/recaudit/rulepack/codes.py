"""Code lists: the codes a structured field may hold, where they come from, and aliases.

A pack's `codelists/*.yaml` files are loaded automatically. Each names its source so an
auditor can check it, and may list aliases that real exports use for a code:

    name: dfe-ethnicity
    title: DfE ethnicity codes
    source: Department for Education, Children in Need census ...
    codes:
      - {code: WBRI, label: White British, aliases: [White - British, White - Welsh]}

In a resolved pack a code list is also a lexicon of the same name (a list of
`{code, label, aliases}` mappings), so `lexicons_add` can add aliases or codes to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recaudit.rulepack.yamlsafe import Mark, YamlError, load_yaml


class CodeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1)
    label: str = ""
    aliases: list[str] = Field(default_factory=list)


class CodeListFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    source: str = Field(min_length=1, description="where the codes come from (cite it)")
    url: str | None = None
    notes: str = ""
    codes: list[CodeEntry] = Field(min_length=1)


@dataclass(frozen=True)
class CodeList:
    name: str
    title: str
    source: str
    url: str | None
    codes: tuple[CodeEntry, ...]
    mark: Mark

    def as_lexicon(self) -> tuple[dict[str, Any], ...]:
        return tuple(entry.model_dump() for entry in self.codes)


def normalise(value: str) -> str:
    """How codes and aliases are compared: trimmed, case-folded, inner spaces collapsed."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class CodeIndex:
    """Lookup from any spelling (code, label or alias) to the code, built once per rule."""

    codes: Mapping[str, str]  # normalised code -> code
    labels: Mapping[str, str]  # code -> label
    aliases: Mapping[str, str]  # normalised alias/label -> code

    def lookup(self, value: str) -> str | None:
        key = normalise(value)
        return self.codes.get(key) or self.aliases.get(key)


def build_index(items: Iterable[Any], extra_aliases: Mapping[str, str] | None = None) -> CodeIndex:
    """Items are code-list entries (mappings) or bare codes (strings), e.g. a lexicon."""
    codes: dict[str, str] = {}
    labels: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for item in items:
        if isinstance(item, str):
            codes[normalise(item)] = item
            continue
        entry = CodeEntry.model_validate(item)
        codes[normalise(entry.code)] = entry.code
        if entry.label:
            labels.setdefault(entry.code, entry.label)
            aliases.setdefault(normalise(entry.label), entry.code)
        for alias in entry.aliases:
            aliases[normalise(alias)] = entry.code
    for alias, code in (extra_aliases or {}).items():
        aliases[normalise(alias)] = code
    return CodeIndex(codes, labels, aliases)


def check_items(items: Iterable[Any]) -> list[str]:
    """Problems with lexicon items used as a code list (for pack validation)."""
    problems = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            continue
        try:
            CodeEntry.model_validate(item)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            problems.append(f"item {index}: {first['msg']}")
    return problems


def load_codelists(folder: Path) -> tuple[dict[str, CodeList], list[tuple[Mark, str]]]:
    from recaudit.rulepack.loader import _problems_from

    found: dict[str, CodeList] = {}
    problems: list[tuple[Mark, str]] = []
    directory = folder / "codelists"
    if not directory.is_dir():
        return found, problems
    for path in sorted(directory.glob("*.yaml")):
        label = f"{folder.name}/codelists/{path.name}"
        try:
            doc = load_yaml(path, label)
        except YamlError as exc:
            problems.append((exc.mark, exc.message))
            continue
        try:
            model = CodeListFile.model_validate(doc.data)
        except ValidationError as exc:
            problems += [
                (p.mark, p.message) for p in _problems_from(exc, lambda loc, d=doc: d.mark(loc))
            ]
            continue
        if model.name in found:
            problems.append((doc.mark(("name",)), f"code list {model.name!r} defined twice"))
            continue
        seen: set[str] = set()
        for index, entry in enumerate(model.codes):
            if entry.code in seen:
                problems.append(
                    (doc.mark(("codes", index, "code")), f"code {entry.code!r} listed twice")
                )
            seen.add(entry.code)
        found[model.name] = CodeList(
            model.name, model.title, model.source, model.url, tuple(model.codes), doc.mark(())
        )
    return found, problems
