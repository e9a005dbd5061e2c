"""CSV/XLSX exports → canonical records, through a mapping file (see `schema.py`).

from recaudit.mapping import load_mapping, sources_for
sources = sources_for([Path("records.csv"), Path("notes.csv")], load_mapping(Path("map.yaml")))
audit = run_audit(sources)            # a mapped source is an ordinary `Source`
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recaudit.mapping.readers import ExportError
from recaudit.mapping.schema import MappingFile
from recaudit.mapping.source import (
    MappedSource,
    Mapping,
    MappingError,
    SourceColumn,
    load_mapping,
    sources_for,
)
from recaudit.records import Rejection, SourcedRecord, dedupe

__all__ = [
    "ConvertResult",
    "ExportError",
    "MappedSource",
    "Mapping",
    "MappingError",
    "MappingFile",
    "SourceColumn",
    "convert",
    "load_mapping",
    "mapped_exports",
    "sources_for",
]


@dataclass
class ConvertResult:
    written: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def convert(sources: Iterable[MappedSource], out: Path) -> ConvertResult:
    """Write the mapped records as canonical JSON Lines (so a mapping can be checked by eye).

    Rejected rows are not written to `out`; they are returned (and, by the CLI, written
    beside it) so that records written + rejected = rows read.
    """
    result = ConvertResult()
    sources = list(sources)

    def items() -> Iterable[SourcedRecord | Rejection]:
        for source in sources:
            yield from source.items()

    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for item in dedupe(iter(items())):
            if isinstance(item, Rejection):
                result.rejected.append(item)
                continue
            data = item.record.model_dump(mode="json", exclude_unset=True)
            handle.write(json.dumps(data, ensure_ascii=False) + "\n")
            result.written += 1
    for source in sources:
        result.warnings += [w for w in source.warnings if w not in result.warnings]
    return result


def mapped_exports(
    exports: Sequence[Path], mapping_file: Path, *, encoding: str | None = None
) -> list[MappedSource]:
    """Load a mapping and place the export files on its tables (the CLI's entry point)."""
    return sources_for(exports, load_mapping(mapping_file), encoding=encoding)
