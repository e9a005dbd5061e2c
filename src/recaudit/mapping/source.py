"""An export read through a mapping: a `Source` that `run_audit` takes like a JSONL file.

Joining many-rows-per-record tables (notes, siblings, carers, events) to the records
table without holding them in memory: the child tables are spooled, once, into a
temporary SQLite file indexed by record id; the records table then streams, and each
record fetches its rows by index. Memory stays flat whatever the size of the notes and
neither table needs to be sorted (exports rarely are). Child rows whose record id matches
no record are reported as rejections at the end, so nothing is silently dropped.
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from recaudit.mapping.readers import ExportError, Row, Table, open_table
from recaudit.mapping.schema import (
    CHILD_FIELDS,
    RECORD_FIELDS,
    ChildTable,
    Column,
    MappingFile,
    RecordsTable,
)
from recaudit.mapping.schema import Table as TableSpec
from recaudit.mapping.values import Normaliser, cell_text
from recaudit.records import ReadItem, Rejection, parse_record
from recaudit.rulepack.loader import Problem, _validation_problems
from recaudit.rulepack.yamlsafe import Mark, YamlError, load_yaml


class MappingError(Exception):
    """A mapping file that cannot be used; `problems` carry file:line:column."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Mapping:
    spec: MappingFile
    path: Path


def load_mapping(path: Path) -> Mapping:
    """Load and validate a mapping YAML file; MappingError lists every problem."""
    label = path.as_posix()
    try:
        doc = load_yaml(path, label)
    except YamlError as exc:
        raise MappingError([Problem(exc.mark, exc.message)]) from None
    except OSError as exc:
        raise MappingError([Problem(Mark(label, 1, 1), f"cannot read ({exc.strerror})")]) from None
    try:
        spec = MappingFile.model_validate(doc.data)
    except ValidationError as exc:
        raise MappingError(_validation_problems(exc, doc, ())) from None
    return Mapping(spec, path)


@dataclass(frozen=True, slots=True)
class SourceColumn:
    """A column present in an export (for the anonymisation guard)."""

    where: str  # "header.csv" or "book.xlsx:List 7"
    name: str
    ref: str  # "column 3" / "column D"
    mapped: bool


@dataclass(frozen=True)
class _Placed:
    spec: TableSpec
    path: Path


@dataclass
class MappedSource:
    """One export (a records table and its child tables) read through a mapping."""

    mapping: Mapping
    tables: dict[str, _Placed]
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.normaliser = Normaliser.from_mapping(self.mapping.spec)
        unique: dict[Path, None] = {}
        for placed in self.tables.values():
            unique.setdefault(placed.path, None)
        self._paths = tuple(unique)
        self.label = self.tables["records"].path.as_posix()

    @property
    def paths(self) -> Sequence[Path]:
        return self._paths

    # -- opening tables ----------------------------------------------------------------

    def _open(self, name: str) -> Table:
        placed = self.tables[name]
        spec = placed.spec
        required = [spec.id, *(c.column for c in _columns(spec) if not c.optional)]
        table = open_table(
            placed.path,
            placed.path.as_posix(),
            required,
            sheet=spec.sheet,
            encoding=self.encoding or self.mapping.spec.encoding,
            delimiter=self.mapping.spec.delimiter,
            header_row=spec.header_row,
        )
        for warning in table.warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)
        return table

    def check(self) -> None:
        """Open every table's header now, so a mapping that does not fit fails early."""
        for name in self.tables:
            table = self._open(name)
            _Plan(table, self.tables[name].spec)  # resolves every mapped column
            table.rows.close()

    def columns(self) -> list[SourceColumn]:
        """Every column of every table, and whether the mapping reads it."""
        found: list[SourceColumn] = []
        for name in self.tables:
            table = self._open(name)
            spec = self.tables[name].spec
            mapped = {_key(spec.id)} | {_key(c.column) for c in _columns(spec)}
            for index, column in enumerate(table.header):
                if column.strip():
                    found.append(
                        SourceColumn(
                            table.where, column, table.column_ref(index), _key(column) in mapped
                        )
                    )
            table.rows.close()
        return found

    # -- reading -----------------------------------------------------------------------

    def items(self) -> Iterator[ReadItem]:
        children = {n: p for n, p in self.tables.items() if n != "records"}
        if not children:
            yield from self._records(None)
            return
        with tempfile.TemporaryDirectory(prefix="recaudit-join-") as tmp:
            db = sqlite3.connect(Path(tmp) / "join.sqlite")
            try:
                yield from _spool(db, children, self)
                yield from self._records(db)
                yield from _orphans(db, self.tables["records"])
            finally:
                db.close()

    def _records(self, db: sqlite3.Connection | None) -> Iterator[ReadItem]:
        spec: RecordsTable = self.tables["records"].spec  # type: ignore[assignment]
        table = self._open("records")
        plan = _Plan(table, spec)
        for row in table.rows:
            source = table.source(row)
            if row.error:
                yield Rejection(source, None, row.error)
                continue
            rid, errors = plan.record_id(row)
            if rid is None:
                yield Rejection(source, None, "; ".join(errors))
                continue
            if db is not None:
                db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (rid,))
            obj, errors = plan.record(row, rid, self.normaliser)
            if db is not None:
                errors += _attach_children(db, rid, obj, self.tables)
            if errors:
                yield Rejection(source, rid, "; ".join(errors))
                continue
            item = parse_record(obj, source)
            if isinstance(item, Rejection):
                item = Rejection(source, rid, plan.explain(item.error))
            yield item


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _columns(spec: TableSpec) -> list[Column]:
    columns = list(spec.fields.values())
    if isinstance(spec, RecordsTable):
        columns += list(spec.extras.values())
        columns += [Column(column=e.column, optional=e.optional) for e in spec.events]
    return columns


class _Plan:
    """A table spec resolved against a real header: column positions by field."""

    def __init__(self, table: Table, spec: TableSpec) -> None:
        self.table = table
        self.spec = spec
        self.id_index = self._index(spec.id, optional=False)
        self.fields = {
            name: (col, self._index(col.column, col.optional)) for name, col in spec.fields.items()
        }
        self.extras: dict[str, tuple[Column, int | None]] = {}
        self.events: list[tuple[str, int | None]] = []
        if isinstance(spec, RecordsTable):
            self.extras = {
                n: (c, self._index(c.column, c.optional)) for n, c in spec.extras.items()
            }
            self.events = [(e.type, self._index(e.column, e.optional)) for e in spec.events]

    def _index(self, column: str, optional: bool) -> int | None:
        index = self.table.index(column)
        if index is None and not optional:
            shown = ", ".join(repr(h) for h in self.table.header if h.strip())
            raise ExportError(
                f"{self.table.where}: no column {column!r} (named in the mapping); "
                f"the header has {shown}"
            )
        return index

    def _cell(self, row: Row, index: int | None) -> Any:
        if index is None or index >= len(row.cells):
            return None
        return row.cells[index]

    def _name(self, index: int) -> str:
        return f"{self.table.header[index]} ({self.table.column_ref(index)})"

    def row_errors(self, row: Row) -> list[str]:
        # Cells past the header's last column: a delimiter inside an unquoted value.
        extra = [c for c in row.cells[len(self.table.header) :] if c not in (None, "")]
        if extra:
            return [
                f"row has {len(row.cells)} cells but the header has {len(self.table.header)} "
                "(an unquoted delimiter?)"
            ]
        return []

    def record_id(self, row: Row) -> tuple[str | None, list[str]]:
        raw = self._cell(row, self.id_index)
        text = "" if raw is None else cell_text(raw)
        assert self.id_index is not None
        if not text:
            return None, [f"{self._name(self.id_index)}: empty record id"]
        return text, []

    def values(
        self, row: Row, normaliser: Normaliser, defaults: dict[str, Any], verbatim: set[str]
    ) -> tuple[dict[str, Any], list[str]]:
        out: dict[str, Any] = {}
        errors = self.row_errors(row)
        for name, (col, index) in self.fields.items():
            if index is None:
                continue
            try:
                value = normaliser.value(
                    self._cell(row, index), col, defaults[name], verbatim=name in verbatim
                )
            except ValueError as exc:
                errors.append(f"{self._name(index)}: {exc}")
                continue
            out[name] = value
        return out, errors

    def record(
        self, row: Row, rid: str, normaliser: Normaliser
    ) -> tuple[dict[str, Any], list[str]]:
        spec = self.spec
        assert isinstance(spec, RecordsTable)
        obj: dict[str, Any] = {"record_id": rid}
        values, errors = self.values(row, normaliser, RECORD_FIELDS, set())
        for name, value in {**spec.constants, **values}.items():
            _set_path(obj, name, value)
        for name, (col, index) in self.extras.items():
            if index is None:
                continue
            try:
                value = normaliser.value(self._cell(row, index), col, "text")
            except ValueError as exc:
                errors.append(f"{self._name(index)}: {exc}")
                continue
            _set_path(obj, name, _jsonable(value))
        events = []
        for event_type, index in self.events:
            raw = self._cell(row, index)
            if index is None:
                continue
            try:
                when = normaliser.value(raw, Column(column="-"), "date")
            except ValueError as exc:
                errors.append(f"{self._name(index)}: {exc}")
                continue
            if when is not None:
                events.append({"type": event_type, "date": when.isoformat()})
        if self.events:
            obj["events"] = events
        return obj, errors

    def explain(self, error: str) -> str:
        """Name the column behind each canonical field a validation error mentions."""
        parts = []
        for problem in error.split("; "):
            path = problem.split(":", 1)[0]
            hit = self.fields.get(path)
            if hit and hit[1] is not None:
                problem = f"{self._name(hit[1])} → {problem}"
            parts.append(problem)
        return "; ".join(parts)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = _jsonable(value)


# ---------------------------------------------------------------------- the child join

_SCHEMA = """
CREATE TABLE rows (tbl TEXT, rid TEXT, seq INTEGER PRIMARY KEY, source TEXT,
                   data TEXT, error TEXT);
CREATE TABLE seen (rid TEXT PRIMARY KEY);
"""


def _spool(
    db: sqlite3.Connection, children: dict[str, _Placed], source: MappedSource
) -> Iterator[ReadItem]:
    """Copy every child row into SQLite; rows without a record id are rejected here."""
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
    for name in children:
        spec = children[name].spec
        table = source._open(name)
        plan = _Plan(table, spec)
        defaults = CHILD_FIELDS[name]
        batch: list[tuple[str, str, str, str | None, str | None]] = []
        for row in table.rows:
            where = table.source(row)
            if row.error:
                yield Rejection(where, None, f"{name} row: {row.error}")
                continue
            rid, errors = plan.record_id(row)
            if rid is None:
                yield Rejection(where, None, f"{name} row: {'; '.join(errors)}")
                continue
            values, errors = plan.values(row, source.normaliser, defaults, {"text"})
            data = _child_object(name, values, row)
            payload = json.dumps(data, ensure_ascii=False) if not errors else None
            batch.append((name, rid, where, payload, "; ".join(errors) or None))
            if len(batch) >= 1000:
                _insert(db, batch)
                batch.clear()
        _insert(db, batch)
    db.execute("CREATE INDEX rows_rid ON rows (rid, seq)")
    db.commit()


def _insert(db: sqlite3.Connection, batch: list[tuple[Any, ...]]) -> None:
    db.executemany("INSERT INTO rows (tbl, rid, source, data, error) VALUES (?, ?, ?, ?, ?)", batch)


def _child_object(name: str, values: dict[str, Any], row: Row) -> dict[str, Any]:
    obj = {k: _jsonable(v) for k, v in values.items()}
    if name == "notes":
        # Exports often have no note id: the row number is stable and unique in the file.
        if not obj.get("note_id"):
            obj["note_id"] = f"row{row.number}"
        if obj.get("text") is None:
            obj["text"] = ""
    return obj


def _attach_children(
    db: sqlite3.Connection, rid: str, obj: dict[str, Any], tables: dict[str, _Placed]
) -> list[str]:
    """Put the record's child rows into `obj`; a bad child row rejects the whole record
    (auditing it without that note could turn a met rule into not_met)."""
    found: dict[str, list[Any]] = {}
    errors: list[str] = []
    for tbl, source, data, error in db.execute(
        "SELECT tbl, source, data, error FROM rows WHERE rid = ? ORDER BY seq", (rid,)
    ):
        if error:
            errors.append(f"{source}: {error}")
        else:
            found.setdefault(tbl, []).append(json.loads(data))
    for name, placed in tables.items():
        if name == "records":
            continue
        rows = found.get(name, [])
        if name == "notes":
            obj["notes"] = rows
        elif name == "carers":
            obj["carers"] = rows
        elif name == "events":
            obj["events"] = [*obj.get("events", []), *rows]
        elif name == "siblings":
            spec: ChildTable = placed.spec  # type: ignore[assignment]
            if rows or spec.absent == "none":
                obj.setdefault("child", {})["siblings"] = rows
    return errors


def _orphans(db: sqlite3.Connection, records: _Placed) -> Iterator[ReadItem]:
    column = records.spec.id
    for tbl, rid, source in db.execute(
        "SELECT tbl, rid, source FROM rows WHERE rid NOT IN (SELECT rid FROM seen) ORDER BY seq"
    ):
        yield Rejection(
            source,
            rid,
            f"{tbl} row for record {rid!r}, but no row of {records.path.as_posix()} "
            f"has that {column}",
        )


# ------------------------------------------------------------------ placing the files


def sources_for(
    exports: Sequence[Path], mapping: Mapping, *, encoding: str | None = None
) -> list[MappedSource]:
    """Match export files to the mapping's tables; one source per records file.

    With only a records table, every export file is its own source (several councils'
    header files audit together). With child tables, each table takes the one export
    whose name matches its `file` glob (or the only export, e.g. one workbook's sheets).
    """
    spec = mapping.spec
    for path in exports:
        if not path.is_file():
            raise ExportError(f"{path}: no such file")
    tables: dict[str, TableSpec] = {"records": spec.records, **spec.child_tables()}
    if len(tables) == 1:
        matching = [p for p in exports if _matches(spec.records, p)]
        if not matching:
            raise ExportError(_no_match("records", spec.records, exports))
        unused = [p for p in exports if p not in matching]
        if unused:
            raise ExportError(f"{unused[0]}: matches no table of mapping {mapping.path.as_posix()}")
        placed = [
            MappedSource(mapping, {"records": _Placed(spec.records, p)}, encoding) for p in matching
        ]
    else:
        chosen: dict[str, _Placed] = {}
        for name, table in tables.items():
            matching = [p for p in exports if _matches(table, p)]
            if len(matching) != 1:
                raise ExportError(
                    _no_match(name, table, exports)
                    if not matching
                    else f"table {name!r} matches {len(matching)} files "
                    f"({', '.join(p.as_posix() for p in matching)}); give one export at a time "
                    "or make `file:` patterns in the mapping more specific"
                )
            chosen[name] = _Placed(table, matching[0])
        used = {p.path for p in chosen.values()}
        for path in exports:
            if path not in used:
                raise ExportError(f"{path}: matches no table of mapping {mapping.path.as_posix()}")
        placed = [MappedSource(mapping, chosen, encoding)]
    for source in placed:
        source.check()
    return placed


def _matches(table: TableSpec, path: Path) -> bool:
    if table.file is None:
        return True
    return fnmatch.fnmatch(path.name.casefold(), table.file.casefold())


def _no_match(name: str, table: TableSpec, exports: Sequence[Path]) -> str:
    names = ", ".join(p.name for p in exports)
    return f"no export file matches the {name} table's file pattern {table.file!r} (given: {names})"
