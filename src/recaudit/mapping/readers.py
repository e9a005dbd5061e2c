"""Stream the rows of one exported table: a CSV file or a sheet of an XLSX workbook.

Both readers find the header row by the column names the mapping needs (so title rows,
blank rows and merged banner cells above it are skipped, with a warning), and then yield
one `Row` per non-blank data row, numbered as the user would see it: the line a CSV row
starts on (rows may span lines), or the sheet's row number.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Generator, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recaudit.audit import InputError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 30  # how far down a header may sit under title/blank rows
# Python's csv refuses fields over 128 KiB by default; a case note can be megabytes.
FIELD_LIMIT = 1 << 30


class ExportError(InputError):
    """An export that cannot be read with this mapping at all (not one bad row)."""


def header_key(name: Any) -> str:
    """How column names are compared: case-, space- and no-break-space-insensitive."""
    return " ".join(str(name).split()).casefold() if name is not None else ""


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # CSV: the line the row starts on; XLSX: the sheet row
    cells: Sequence[Any]
    error: str | None = None  # a row the parser itself could not read


@dataclass
class Table:
    """An open table: where it is, its header, and a stream of its data rows."""

    where: str  # "records.csv" or "book.xlsx:List 7": the start of every row's source
    header: list[str]
    header_row: int
    is_xlsx: bool
    rows: Generator[Row, None, None]
    warnings: list[str] = field(default_factory=list)

    def index(self, column: str) -> int | None:
        """Position of a column by name; ExportError when the name is ambiguous."""
        wanted = header_key(column)
        hits = [i for i, name in enumerate(self.header) if header_key(name) == wanted]
        if len(hits) > 1:
            refs = " and ".join(self.column_ref(i) for i in hits)
            raise ExportError(f"{self.where}: column {column!r} appears twice ({refs})")
        return hits[0] if hits else None

    def column_ref(self, index: int) -> str:
        if self.is_xlsx:
            from openpyxl.utils import get_column_letter

            return f"column {get_column_letter(index + 1)}"
        return f"column {index + 1}"

    def source(self, row: Row) -> str:
        return f"{self.where}:{row.number}"


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _find_header(
    rows: Iterator[Row], required: Sequence[str], where: str, header_row: int | None
) -> tuple[Row, list[str]]:
    """Consume rows up to and including the header; returns it and warnings."""
    wanted = {header_key(c) for c in required}
    looked = 0
    for row in rows:
        if header_row is not None:
            if row.number < header_row:
                continue
            return row, _skip_warning(where, row.number)
        if wanted <= {header_key(c) for c in row.cells}:
            return row, _skip_warning(where, row.number)
        looked += 1
        if looked >= HEADER_SEARCH_ROWS:
            break
    if header_row is not None:
        raise ExportError(f"{where}: no row {header_row} (header_row in the mapping)")
    raise ExportError(
        f"{where}: no header row with the mapped column(s) "
        f"{', '.join(repr(c) for c in required)} in the first {HEADER_SEARCH_ROWS} rows"
    )


def _skip_warning(where: str, header_number: int) -> list[str]:
    if header_number <= 1:
        return []
    return [
        f"{where}: skipped {header_number - 1} row(s) above the header "
        f"(blank, title or merged cells); the header is row {header_number}"
    ]


# ---------------------------------------------------------------------------------- CSV


def detect_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8, or Windows-1252, by validating the whole file.

    A full pass over the bytes (incremental, constant memory) is cheap next to parsing, and
    unlike a statistical guess on the first kilobytes it cannot be fooled by a file whose
    first non-ASCII character sits on line 50,000.
    """
    with path.open("rb") as handle:
        if handle.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        handle.seek(0)
        for encoding in ("utf-8", "cp1252"):
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                handle.seek(0)
    raise ExportError(
        f"{path}: neither UTF-8 nor Windows-1252; give the file's encoding with --encoding"
    )


def _csv_rows(path: Path, encoding: str, delimiter: str, where: str) -> Generator[Row, None, None]:
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    try:
        handle = path.open(encoding=encoding, errors="strict", newline="")
    except LookupError:
        raise ExportError(f"{where}: unknown encoding {encoding!r}") from None
    with handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=False)
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Row(start, (), f"unreadable CSV row: {exc}")
                if reader.line_num < start:  # no progress: stop rather than loop
                    return
                continue
            except UnicodeDecodeError as exc:
                raise ExportError(
                    f"{where}:{start}: not valid {encoding} ({exc.reason}); "
                    "give the file's encoding with --encoding"
                ) from None
            if not _blank(cells):
                yield Row(start, cells)


def open_csv(
    path: Path,
    where: str,
    required: Sequence[str],
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
) -> Table:
    encoding = encoding or detect_encoding(path)
    # The delimiter is the one under which the mapped columns appear in a header row.
    candidates = (delimiter,) if delimiter else DELIMITERS
    last_error: ExportError | None = None
    for candidate in candidates:
        rows = _csv_rows(path, encoding, candidate, where)
        try:
            header, warnings = _find_header(rows, required, where, header_row)
        except ExportError as exc:
            last_error = exc
            rows.close()
            continue
        return Table(where, [str(c) for c in header.cells], header.number, False, rows, warnings)
    assert last_error is not None
    raise last_error


# ---------------------------------------------------------------------------------- XLSX


def _xlsx_rows(path: Path, sheet: str | None, where: str) -> Generator[Row, None, None]:
    from openpyxl import load_workbook

    # read_only streams the sheet XML; data_only gives formulas' cached values (a formula
    # string is not data). The workbook holds the file open until closed.
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = book[_sheet_name(book.sheetnames, sheet, where)]
        with suppress(AttributeError):  # some writers store wrong dimensions
            worksheet.reset_dimensions()
        for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if not _blank(cells):
                yield Row(number, cells)
    finally:
        book.close()


def _sheet_name(names: list[str], wanted: str | None, where: str) -> str:
    if wanted is None:
        return names[0]
    if wanted in names:
        return wanted
    folded = [n for n in names if header_key(n) == header_key(wanted)]
    if len(folded) == 1:
        return folded[0]
    raise ExportError(f"{where}: no sheet {wanted!r}; sheets are {', '.join(names)}")


def open_xlsx(
    path: Path,
    label: str,
    sheet: str | None,
    required: Sequence[str],
    *,
    header_row: int | None = None,
) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
        names = list(book.sheetnames)
        book.close()
    except Exception as exc:  # zipfile/XML errors: the file is not a workbook we can read
        raise ExportError(f"{label}: not a readable .xlsx workbook ({exc})") from None
    name = _sheet_name(names, sheet, label)
    where = f"{label}:{name}"
    rows = _xlsx_rows(path, name, where)
    header, warnings = _find_header(rows, required, where, header_row)
    cells = ["" if c is None else str(c) for c in header.cells]
    return Table(where, cells, header.number, True, rows, warnings)


def open_table(
    path: Path,
    label: str,
    required: Sequence[str],
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
) -> Table:
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return open_xlsx(path, label, sheet, required, header_row=header_row)
    if suffix in CSV_SUFFIXES:
        if sheet is not None:
            raise ExportError(f"{label}: a CSV file has no sheet {sheet!r}")
        return open_csv(
            path,
            label,
            required,
            encoding=encoding,
            delimiter=delimiter or ("\t" if suffix == ".tsv" else None),
            header_row=header_row,
        )
    if suffix == ".xls":
        raise ExportError(f"{label}: old .xls workbooks are not read; save it as .xlsx")
    raise ExportError(f"{label}: expected a .csv, .tsv or .xlsx export")
