"""`audit.xlsx`: the audit workbook a QA officer files and a team manager filters.

Sheets: Summary (run metadata, service score, per-rule table with RAG colour *and* label,
chart), By team, By worker, Records, Findings (an Excel Table with moderation columns),
Rejected, Rules, and Privacy (only when the anonymisation guard found something).

Safety: every value enters the workbook by the rules of one choke point (`safe_text`, used
by `RowWriter` for every row and by `make_cell`): record text is written as text (never a
formula), quote-prefixed when it starts like one, stripped of characters Excel cannot hold
and marked where cut at Excel's cell limit. Memory: openpyxl's write-only mode streams
sheets to disk, and records are read by iterating `audit.records` (never indexed), once for
Records and Findings together, so large audits stay flat. Speed: rows are encoded as
SpreadsheetML text by `RowWriter` (openpyxl builds an XML element per cell, ~10x slower);
openpyxl still writes everything else. Determinism: the workbook's dates come from the
audit and the zip entries carry a fixed timestamp, so the same audit gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import shutil
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from weakref import WeakKeyDictionary
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from lxml.etree import xmlfile
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.chart import BarChart, Reference
from openpyxl.compat import safe_string
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter, create_temporary_file
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml.constants import SHEET_MAIN_NS

from recaudit import __version__
from recaudit.audit import Audit, InputSummary, team_key, worker_key
from recaudit.privacy import IdentifierFinding
from recaudit.records import Rejection
from recaudit.report.filenames import unique_filenames
from recaudit.report.spool import with_lines
from recaudit.results import Evidence, RecordResult, RuleResult
from recaudit.rulepack import Pack
from recaudit.rulepack.schema import RuleBase
from recaudit.scoring import RuleTally, Tally, grade
from recaudit.store import decode_result

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
AUDITOR_CHOICES = ("Yes", "No", "Unsure")
OUTCOME_LABELS = {
    "met": "Met",
    "partial": "Partial",
    "not_met": "Not met",
    "not_applicable": "Not applicable",
}

# --------------------------------------------------------------------------------------
# The choke point: what a value becomes in a cell.
# --------------------------------------------------------------------------------------

# A cell whose text begins with one of these is a formula (or becomes one when edited or
# exported to CSV and re-opened): OWASP's list plus the full-width and small forms that
# spreadsheet input methods fold to ASCII, and the Unicode minus sign.
FORMULA_TRIGGERS = (
    "=", "+", "-", "@", "\t", "\r", "\n", "\0",
    "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "−",
)  # fmt: skip

# XML 1.0 cannot carry C0 controls (other than tab, LF, CR), lone surrogates or U+FFFE/F;
# openpyxl raises on the controls and lxml on the rest, so they are removed.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Text of at most this many characters fits a cell whatever they are (each is at most two
# UTF-16 units), so only longer text needs counting.
_ALWAYS_FITS = EXCEL_MAX_CELL_CHARS // 2


def _utf16_len(text: str) -> int:
    # Excel's limit counts UTF-16 code units: an emoji is two.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def truncation_mark(total: int) -> str:
    return f" … [TRUNCATED by recaudit: {total:,} characters in full; see audit.json]"


def clean_text(text: str) -> str:
    """Text Excel can hold: illegal characters removed, over-long text cut *and marked*."""
    # Fast path first: almost every cell holds short text without control characters.
    if _ILLEGAL.search(text) is not None:
        text = _ILLEGAL.sub("", text)
    if len(text) <= _ALWAYS_FITS or _utf16_len(text) <= EXCEL_MAX_CELL_CHARS:
        return text
    mark = truncation_mark(len(text))
    budget = EXCEL_MAX_CELL_CHARS - _utf16_len(mark)
    kept: list[str] = []
    used = 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            break
        kept.append(ch)
    return "".join(kept) + mark


def safe_text(text: str) -> tuple[str, bool]:
    """The text a cell holds, and whether it needs Excel's quote prefix: text starting with
    a formula trigger gets one, so it stays text when a user edits the cell or exports it
    to CSV. (Text is always stored as a string, never as a formula, either way.)"""
    text = clean_text(text)
    return text, text.startswith(FORMULA_TRIGGERS)


def is_number(value: Any) -> bool:
    """Stored as a number: booleans and finite ints and floats (NaN and ∞ become text)."""
    return isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value))


_BOLD = InlineFont(b=True)


@dataclass(frozen=True, slots=True)
class Highlight:
    """Text with one span shown in bold (the evidence inside its sentence)."""

    text: str
    start: int
    end: int

    def pieces(self) -> tuple[str, str, str] | None:
        """(before, span, after), cleaned; None when the span is unusable or the text too
        long (then the plain text goes through `clean_text`, mark and all)."""
        if not 0 <= self.start < self.end <= len(self.text):
            return None
        before, span, after = (
            _ILLEGAL.sub("", piece)
            for piece in (self.text[: self.start], self.text[self.start : self.end],
                          self.text[self.end :])
        )  # fmt: skip
        total = len(before) + len(span) + len(after)
        if total > _ALWAYS_FITS and _utf16_len(before + span + after) > EXCEL_MAX_CELL_CHARS:
            return None
        return before, span, after

    def rich_text(self) -> CellRichText | None:
        """The bold span as openpyxl rich text (see `pieces`)."""
        pieces = self.pieces()
        if pieces is None:
            return None
        before, span, after = pieces
        return CellRichText(*(p for p in (before, TextBlock(_BOLD, span), after) if p))


def make_cell(sheet: WriteOnlyWorksheet, value: Any, style: str | None = None) -> Cell | None:
    """A value as an openpyxl cell, by the rules every cell of the workbook follows.

    Strings are always stored as text (data type "s"), so `=HYPERLINK(...)` or `#N/A` in a
    note is shown, never evaluated; text starting with a formula trigger also gets Excel's
    quote prefix (`safe_text`). `None` stays an empty cell (none is written: the column's
    style covers it). The workbook's own sheets encode the same rules straight to XML
    (`RowWriter`); this is the cell-object form of them.
    """
    if value is None:
        return None
    arrays = _STYLE_ARRAYS.get(sheet.parent, {})
    cell = Cell(sheet, row=1, column=1, style_array=arrays.get(style) if style else None)
    if is_number(value) or isinstance(value, dt.date):
        cell.value = value
        return cell
    if isinstance(value, Highlight):
        rich = value.rich_text()
        if rich is not None:
            cell.value = rich
            cell.data_type = "s"
            cell.quotePrefix = str(rich).startswith(FORMULA_TRIGGERS)
            return cell
        value = value.text
    text, quote = safe_text(value if isinstance(value, str) else str(value))
    cell.value = text
    cell.data_type = "s"
    if quote:
        cell.quotePrefix = True
    return cell


# --------------------------------------------------------------------------------------
# Streaming rows as SpreadsheetML: openpyxl builds an XML element per cell, which costs
# ~40 µs a cell; a sheet of findings has hundreds of thousands of cells. Rows are encoded
# here as text (the same elements openpyxl writes for the same cells), and openpyxl writes
# everything around them: columns, panes, tables, validations, formats and charts.
# --------------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    # What lxml escapes in text content; a CR would be read back as LF unless escaped.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _t(text: str) -> str:
    """A `<t>` element; leading or trailing blanks are kept (as openpyxl marks them)."""
    if text[:1].isspace() or text[-1:].isspace():
        return f'<t xml:space="preserve">{_xml_text(text)}</t>'
    return f"<t>{_xml_text(text)}</t>"


def _rich_runs(before: str, span: str, after: str) -> str:
    runs = [f"<r>{_t(before)}</r>"] if before else []
    runs.append(f'<r><rPr><b val="1"/></rPr>{_t(span)}</r>')
    if after:
        runs.append(f"<r>{_t(after)}</r>")
    return "".join(runs)


class _SheetFile(WorksheetWriter):
    """openpyxl's worksheet writer, streaming into a file object that `StreamedSheet` also
    writes its encoded rows to (lxml's buffer is flushed first, so the order holds)."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        path = create_temporary_file()  # openpyxl's: removed after saving, or at exit
        self.handle = open(path, "wb")  # noqa: SIM115 (closed in `close`)
        super().__init__(sheet, out=path)

    def get_stream(self) -> Generator[Any, Any, None]:
        # As openpyxl's own, but into `self.handle` rather than a file lxml opens itself.
        with xmlfile(self.handle) as xf, xf.element("worksheet", xmlns=SHEET_MAIN_NS):
            try:
                while True:
                    element = yield
                    if element is True:
                        yield xf
                    elif element is not None:
                        xf.write(element)
            except GeneratorExit:
                pass

    def close(self) -> None:
        super().close()
        self.handle.close()


class StreamedSheet(WriteOnlyWorksheet):
    """A write-only sheet whose rows arrive as encoded `<row>` elements (`RowWriter`)."""

    def _get_writer(self) -> None:
        if self._writer is None:
            self._writer = _SheetFile(self)
            self._writer.write_top()

    def _write_rows(self) -> Generator[None, bytes, None]:
        writer = self._writer
        xf = writer.xf.send(True)
        with xf.element("sheetData"):
            xf.flush()
            write = writer.handle.write
            try:
                while True:
                    write((yield))
            except GeneratorExit:
                pass
        writer.xf.send(None)

    def append(self, row: Any) -> None:
        raise TypeError("rows of a StreamedSheet are written by a RowWriter")

    def append_encoded(self, row: bytes) -> None:
        if self._rows is None:
            self._get_writer()
            self._rows = self._write_rows()
            next(self._rows)
        self._rows.send(row)


def new_sheet(book: Workbook, title: str) -> StreamedSheet:
    sheet = StreamedSheet(parent=book, title=title)
    book._add_sheet(sheet)  # what `create_sheet` does with the sheets it makes
    return sheet


_SHORT_TEXT = 120  # characters: text up to this long is remembered once encoded
_SHORT_MEMO = 4096  # distinct short texts remembered per sheet (then it starts afresh)


class RowWriter:
    """Appends rows of (value, style) pairs to a `StreamedSheet`, by `make_cell`'s rules:
    numbers and dates as numbers, everything else as cleaned inline text (never a formula),
    quote-prefixed when it starts with a formula trigger; `None` writes no cell."""

    def __init__(self, sheet: StreamedSheet) -> None:
        self.sheet = sheet
        self.row = 0  # rows written so far (= the last row's number)
        self._epoch = sheet.parent.epoch
        self._letters: list[str] = []
        # `s` attributes by style name: plain, quote-prefixed, and for dates by type.
        self._plain: dict[str | None, str] = {}
        self._quoted: dict[str | None, str] = {}
        self._dated: dict[tuple[str | None, type], str] = {}
        # Short text repeats down a column (ids, names, labels, rule titles): each distinct
        # value is cleaned and escaped once.
        self._short: dict[tuple[str, str | None], str] = {}

    def append(self, cells: Iterable[tuple[Any, str | None]]) -> int:
        self.row = row = self.row + 1
        letters = self._letters
        parts = [f'<row r="{row}">']
        add = parts.append
        for index, (value, style) in enumerate(cells):
            if value is None:
                continue
            if index >= len(letters):
                letters.extend(get_column_letter(i + 1) for i in range(len(letters), index + 1))
            if type(value) is str:  # the common case, kept inline
                short = len(value) <= _SHORT_TEXT
                rest = self._short.get((value, style)) if short else None
                if rest is None:
                    rest = self._text(value, style)
                    if short:
                        if len(self._short) >= _SHORT_MEMO:
                            self._short.clear()
                        self._short[value, style] = rest
                add(f'<c r="{letters[index]}{row}"{rest}')
            else:
                add(self._other(f"{letters[index]}{row}", value, style))
        add("</row>")
        self.sheet.append_encoded("".join(parts).encode("utf-8"))
        return row

    def _text(self, value: str, style: str | None) -> str:
        """A text cell after its `r` attribute."""
        text, quote = safe_text(value)
        attr = (self._quoted if quote else self._plain).get(style)
        if attr is None:
            attr = self._style(style, quote)
        if text:
            return f'{attr} t="inlineStr"><is>{_t(text)}</is></c>'
        return f'{attr} t="inlineStr"/>'

    def _other(self, ref: str, value: Any, style: str | None) -> str:
        if is_number(value):
            kind = "b" if isinstance(value, bool) else "n"
            return f'<c r="{ref}"{self._style(style)} t="{kind}"><v>{safe_string(value)}</v></c>'
        if isinstance(value, dt.date):
            serial = safe_string(to_excel(value, self._epoch))
            return f'<c r="{ref}"{self._style(style, value)} t="n"><v>{serial}</v></c>'
        if isinstance(value, Highlight) and (pieces := value.pieces()) is not None:
            quote = "".join(pieces).startswith(FORMULA_TRIGGERS)
            runs = _rich_runs(*pieces)
            return f'<c r="{ref}"{self._style(style, quote)} t="inlineStr"><is>{runs}</is></c>'
        text = value.text if isinstance(value, Highlight) else str(value)
        return f'<c r="{ref}"{self._text(text, style)}'

    def _style(self, style: str | None, variant: bool | dt.date = False) -> str:
        """The cell's `s` attribute: the named style, with the quote prefix when `variant`
        is True, or as openpyxl adjusts it for a date `variant` (a date format if the style
        has none). Found once per sheet by asking openpyxl for the same cell's style."""
        if isinstance(variant, dt.date):
            cache: dict[Any, str] = self._dated
            key: Any = (style, type(variant))
        else:
            cache, key = (self._quoted if variant else self._plain), style
        attr = cache.get(key)
        if attr is None:
            arrays = _STYLE_ARRAYS.get(self.sheet.parent, {})
            cell = Cell(self.sheet, style_array=arrays.get(style) if style else None)
            if isinstance(variant, dt.date):
                cell.value = variant
            elif variant:
                cell.quotePrefix = True
            attr = cache[key] = f' s="{cell.style_id}"' if cell.has_style else ""
        return attr


# --------------------------------------------------------------------------------------
# Styles (named styles: cheap to apply per cell, and listed in Excel's style gallery).
# --------------------------------------------------------------------------------------

S_TEXT = "recaudit text"
S_WRAP = "recaudit wrapped"
S_HEAD = "recaudit header"
S_TITLE = "recaudit title"
S_LABEL = "recaudit label"
S_PCT = "recaudit percent"
S_DATE = "recaudit date"
S_INT = "recaudit integer"
S_NUM = "recaudit number"

_TOP = Alignment(vertical="top")
_TOP_WRAP = Alignment(vertical="top", wrap_text=True)


# Style arrays of each workbook's named styles: a cell built from one costs a copy, where
# assigning `cell.style = name` costs a search of the workbook's styles (4× slower).
_STYLE_ARRAYS: WeakKeyDictionary[Workbook, dict[str, StyleArray]] = WeakKeyDictionary()


def register_styles(book: Workbook) -> None:
    arrays = {}
    for style in _named_styles():
        book.add_named_style(style)
        arrays[style.name] = style.as_tuple()
    _STYLE_ARRAYS[book] = arrays


def _named_styles() -> list[NamedStyle]:
    return [
        NamedStyle(S_TEXT, alignment=_TOP),
        NamedStyle(S_WRAP, alignment=_TOP_WRAP),
        NamedStyle(
            S_HEAD,
            font=Font(bold=True),
            fill=PatternFill("solid", fgColor="D9E1F2"),
            alignment=Alignment(vertical="top", wrap_text=True),
        ),
        NamedStyle(S_TITLE, font=Font(bold=True, size=14)),
        NamedStyle(S_LABEL, font=Font(bold=True), alignment=_TOP),
        NamedStyle(S_PCT, number_format="0.0%", alignment=_TOP),
        NamedStyle(S_DATE, number_format="yyyy-mm-dd", alignment=_TOP),
        NamedStyle(S_INT, number_format="0", alignment=_TOP),
        NamedStyle(S_NUM, number_format="General", alignment=_TOP),
    ]


# What an empty cell of a column looks like: alignment and number format of its style.
COLUMN_LOOKS = {s.name: (s.alignment, s.number_format) for s in _named_styles() if s.name != S_HEAD}

# RAG: fills with dark text of the same hue (Excel's own "good/neutral/bad" pairs), which
# keep a readable contrast; the label column repeats the category as text.
RAG_STYLES = {
    "Green": ("C6EFCE", "006100"),
    "Amber": ("FFEB9C", "9C5700"),
    "Red": ("FFC7CE", "9C0006"),
}
OUTCOME_RAG = {"Met": "Green", "Partial": "Amber", "Not met": "Red"}


@functools.cache
def _rag_look(rag: str) -> tuple[Font, PatternFill]:
    # Built once: openpyxl style objects are slow to make, and each sheet has several rules
    # (they are only read when the workbook is written).
    fill, font = RAG_STYLES[rag]
    return Font(color=font), PatternFill(start_color=fill, end_color=fill, fill_type="solid")


def _rag_rule(formula: str, rag: str) -> FormulaRule:
    font, fill = _rag_look(rag)
    return FormulaRule(formula=[formula], stopIfTrue=True, font=font, fill=fill)


@dataclass(frozen=True, slots=True)
class RagBands:
    """Green at or above the pack's top grade, Amber at or above its second, Red below."""

    green: float
    amber: float

    @classmethod
    def for_pack(cls, pack: Pack) -> RagBands:
        cuts = sorted({band.min_score for band in pack.grade_bands}, reverse=True)
        green = cuts[0] if cuts else 0.8
        amber = cuts[1] if len(cuts) > 1 else green
        return cls(green, amber)

    def label(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if value >= self.green - 1e-9:
            return "Green"
        if value >= self.amber - 1e-9:
            return "Amber"
        return "Red"

    def legend(self) -> str:
        return (
            f"Green: {self.green:.0%} or more · Amber: {self.amber:.0%} to under "
            f"{self.green:.0%} · Red: under {self.amber:.0%} · n/a: no applicable records"
        )


def add_rag_formats(sheet: WriteOnlyWorksheet, ref: str, bands: RagBands) -> None:
    """Colour numeric cells of `ref` by RAG band; blank cells (n/a) stay uncoloured."""
    first = ref.split(":")[0]
    for rag, formula in (
        ("Green", f"AND(ISNUMBER({first}),{first}>={bands.green!r})"),
        ("Amber", f"AND(ISNUMBER({first}),{first}>={bands.amber!r})"),
        ("Red", f"ISNUMBER({first})"),
    ):
        sheet.conditional_formatting.add(ref, _rag_rule(formula, rag))


def add_label_formats(sheet: WriteOnlyWorksheet, ref: str, labels: dict[str, str]) -> None:
    """Colour text cells of `ref` whose text is one of `labels` (text → RAG name)."""
    first = ref.split(":")[0]
    for text, rag in labels.items():
        sheet.conditional_formatting.add(ref, _rag_rule(f'{first}="{text}"', rag))


# --------------------------------------------------------------------------------------
# Tabular sheets that continue on numbered sheets past the row limit.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: float
    style: str = S_TEXT


@dataclass
class Part:
    sheet: StreamedSheet
    out: RowWriter

    @property
    def rows(self) -> int:
        """Rows written so far, the header included (= the last row's number)."""
        return self.out.row


Finisher = Callable[[WriteOnlyWorksheet, int, int], None]


class SeriesSheet:
    """A header plus rows, on "Title", "Title (2)", … each holding at most `max_rows` rows.

    Every part repeats the header, widths and frozen pane; `finish(sheet, part_no,
    last_row)` adds what needs the final row (tables, validations, conditional formats).
    """

    def __init__(
        self,
        book: Workbook,
        title: str,
        columns: Sequence[Column],
        *,
        max_rows: int,
        freeze: str = "A2",
        finish: Finisher | None = None,
    ) -> None:
        if max_rows < 2:
            raise ValueError("max_rows must allow a header and at least one row")
        self.book = book
        self.title = title
        self.columns = tuple(columns)
        self.max_rows = max_rows
        self.freeze = freeze
        self.finisher = finish
        self.styles = tuple(c.style for c in self.columns)
        self.parts: list[Part] = []
        self._new_part()

    def _new_part(self) -> None:
        number = len(self.parts) + 1
        title = self.title if number == 1 else f"{self.title} ({number})"
        sheet = new_sheet(self.book, title)
        for index, column in enumerate(self.columns, start=1):
            dimension = sheet.column_dimensions[get_column_letter(index)]
            dimension.width = column.width
            # The column's own style, for cells left empty and text a user types later
            # (e.g. the auditor's comment wraps).
            look = COLUMN_LOOKS.get(column.style)
            if look is not None:
                dimension.alignment, dimension.number_format = look
        sheet.freeze_panes = self.freeze
        out = RowWriter(sheet)
        out.append((c.header, S_HEAD) for c in self.columns)
        self.parts.append(Part(sheet, out))

    def append(self, values: Sequence[Any]) -> None:
        part = self.parts[-1]
        if part.rows >= self.max_rows:
            self._finish(part, len(self.parts))
            self._new_part()
            part = self.parts[-1]
        part.out.append(zip(values, self.styles, strict=True))

    def _finish(self, part: Part, number: int) -> None:
        if self.finisher:
            self.finisher(part.sheet, number, part.rows)

    def close(self) -> None:
        self._finish(self.parts[-1], len(self.parts))

    def column_ref(self, header: str, last_row: int) -> str:
        return column_ref(self.columns, header, last_row)


def column_ref(columns: Sequence[Column], header: str, last_row: int) -> str:
    """The data cells of one column: row 2 to `last_row` (at least one row)."""
    index = next(i for i, c in enumerate(columns, 1) if c.header == header)
    letter = get_column_letter(index)
    return f"{letter}2:{letter}{max(last_row, 2)}"


# --------------------------------------------------------------------------------------
# What one workbook shows: the whole audit, or one worker's share of it.
# --------------------------------------------------------------------------------------


@dataclass
class BookData:
    pack: Pack
    inputs: list[InputSummary]
    records: Callable[[], Iterable[RecordResult]]
    rejected: Iterable[Rejection]
    service: Tally
    teams: dict[str, Tally]
    workers: dict[str, Tally]
    generated_at: str
    period: str | None
    versions: dict[str, str]
    privacy: list[IdentifierFinding]
    scope: str = "All records"
    records_in: int | None = None
    rejected_count: int = 0

    @classmethod
    def from_audit(cls, audit: Audit) -> BookData:
        return cls(
            pack=audit.pack,
            inputs=audit.inputs,
            records=lambda: audit.records,
            rejected=audit.rejected,
            service=audit.service,
            teams=audit.teams,
            workers=audit.workers,
            generated_at=audit.generated_at,
            period=audit.period,
            versions=audit.versions,
            privacy=audit.privacy,
            records_in=audit.records_in,
            rejected_count=len(audit.rejected),
        )


@dataclass
class WorkerShare:
    """One worker's records, spooled to their own file, and the figures only they need."""

    path: Path
    teams: dict[str, Tally] = field(default_factory=dict)
    privacy: list[IdentifierFinding] = field(default_factory=list)

    def records(self) -> Iterator[RecordResult]:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for line in handle:
                yield decode_result(line.rstrip(b"\n"))


_OPEN_SPOOLS = 64  # file handles kept open while splitting (workers can be many)


def split_by_worker(audit: Audit, folder: Path) -> dict[str, WorkerShare]:
    """One pass over the records, writing each worker's to their own spool file.

    Reading the (disk-backed) records once per worker would cost workers × records
    decodes; this costs one pass, then each worker reads only their own share.
    """
    shares = {w: WorkerShare(folder / f"{i}.jsonl") for i, w in enumerate(audit.workers)}
    flagged: dict[str, list[IdentifierFinding]] = {}
    for finding in audit.privacy:
        if finding.record_id is not None:
            flagged.setdefault(finding.record_id, []).append(finding)
    handles: OrderedDict[str, IO[bytes]] = OrderedDict()
    try:
        for record, line in with_lines(audit.records):
            worker = worker_key(record.worker)
            share = shares[worker]
            share.teams.setdefault(team_key(record.team), Tally(audit.pack.weights)).add(
                record.results
            )
            share.privacy += flagged.get(record.record_id, [])
            handle = handles.pop(worker, None) or share.path.open("ab")
            handles[worker] = handle
            handle.write(line + b"\n")
            if len(handles) > _OPEN_SPOOLS:
                handles.popitem(last=False)[1].close()
    finally:
        for handle in handles.values():
            handle.close()
    for share in shares.values():
        share.teams = dict(sorted(share.teams.items()))
    return shares


def worker_book(audit: Audit, worker: str, share: WorkerShare) -> BookData:
    """What a worker's own workbook shows: their records, teams and privacy findings."""
    return replace(
        BookData.from_audit(audit),
        records=share.records,
        rejected=(),
        service=audit.workers[worker],
        teams=share.teams,
        workers={worker: audit.workers[worker]},
        privacy=share.privacy,
        scope=f"Worker {worker}",
        records_in=None,
        rejected_count=0,
    )


# --------------------------------------------------------------------------------------
# Sheets
# --------------------------------------------------------------------------------------


class _Rows(RowWriter):
    """Appends free-form rows (value, style pairs) and remembers the row number."""

    def add(self, *cells: tuple[Any, str | None]) -> int:
        return self.append(cells)

    def heads(self, *headers: str) -> int:
        return self.add(*((h, S_HEAD) for h in headers))


SUMMARY_RULE_HEADERS = ("Rule", "Title", "Applicable", "Met", "Partial", "Not met",
                        "Not applicable", "Compliance", "RAG", "Weight")  # fmt: skip


def _or_na(value: float | None) -> float | str:
    return "n/a" if value is None else value


def _run_metadata(data: BookData) -> list[tuple[str, Any]]:
    pack = data.pack
    meta: list[tuple[str, Any]] = [
        ("Tool", f"recaudit {__version__}"),
        ("Rule pack", pack.name),
        ("Rule pack version", pack.version),
        ("Rule pack sha256", pack.sha256),
        ("Audit period", data.period or "not given"),
        ("Generated at (UTC)", data.generated_at),
    ]
    return meta + [(f"Version: {k}", v) for k, v in sorted(data.versions.items())]


def write_summary(book: Workbook, data: BookData, bands: RagBands) -> None:
    sheet = new_sheet(book, "Summary")
    widths = (30, 34, 13, 10, 10, 10, 15, 14, 11, 12)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    pack = data.pack
    out = _Rows(sheet)
    out.add((f"recaudit audit: {pack.name} {pack.version}", S_TITLE))
    out.add(("Scope", S_LABEL), (data.scope, S_TEXT))
    out.add()
    out.heads("Run", "")
    for label, value in _run_metadata(data):
        out.add((label, S_LABEL), (value, S_TEXT))

    out.add()
    out.heads("Input file", "sha256", "Records", "Rejected")
    for item in data.inputs:
        out.add((item.path, S_WRAP), (item.sha256, S_TEXT), (item.records, S_INT),
                (item.rejected, S_INT))  # fmt: skip

    out.add()
    out.heads("Totals", "")
    if data.records_in is not None:
        out.add(("Records read", S_LABEL), (data.records_in, S_INT))
    out.add(("Records audited", S_LABEL), (data.service.records, S_INT))
    if data.records_in is not None:
        out.add(("Records rejected", S_LABEL), (data.rejected_count, S_INT))
    score = data.service.score
    score_row = out.add(("Service score", S_LABEL), (_or_na(score), S_PCT))
    add_rag_formats(sheet, f"B{score_row}", bands)
    out.add(("Service grade", S_LABEL), (grade(score, pack.grade_bands) or "n/a", S_TEXT))
    rag_row = out.add(("Service RAG", S_LABEL), (bands.label(score), S_TEXT))
    add_label_formats(sheet, f"B{rag_row}", {k: k for k in RAG_STYLES})

    out.add()
    out.add(("RAG key", S_LABEL), (bands.legend(), S_TEXT))
    out.add(("Compliance", S_LABEL), ("met ÷ applicable (partial is counted separately)", S_TEXT))
    out.add()
    header_row = out.heads(*SUMMARY_RULE_HEADERS)
    for rule in pack.rules:
        tally = data.service.rules.get(rule.id, RuleTally())
        out.add(
            (rule.id, S_TEXT),
            (rule.title, S_WRAP),
            (tally.applicable, S_INT),
            (tally.met, S_INT),
            (tally.partial, S_INT),
            (tally.not_met, S_INT),
            (tally.not_applicable, S_INT),
            (tally.compliance, S_PCT),
            (bands.label(tally.compliance), S_TEXT),
            (rule.weight, S_NUM),
        )
    if not pack.rules:
        return
    last = out.row
    add_rag_formats(sheet, f"H{header_row + 1}:H{last}", bands)
    add_label_formats(sheet, f"I{header_row + 1}:I{last}", {k: k for k in RAG_STYLES})
    sheet.add_chart(_compliance_chart(sheet, header_row, last), f"B{last + 3}")


def _compliance_chart(sheet: WriteOnlyWorksheet, header_row: int, last: int) -> BarChart:
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "Compliance by rule"
    chart.y_axis.title = "Compliance (met ÷ applicable)"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    chart.y_axis.majorUnit = 0.25
    # openpyxl 3.1 marks axes deleted unless told otherwise.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    # Rules read top to bottom in pack order, as in the table.
    chart.x_axis.scaling.orientation = "maxMin"
    chart.legend = None
    values = Reference(sheet, min_col=8, min_row=header_row, max_row=last)
    labels = Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last)
    chart.add_data(values, titles_from_data=True)
    chart.set_categories(labels)
    chart.height = max(7.5, 0.9 * (last - header_row) + 3)
    chart.width = 18
    return chart


def write_groups(
    book: Workbook,
    title: str,
    label: str,
    groups: dict[str, Tally],
    pack: Pack,
    bands: RagBands,
    max_rows: int,
) -> None:
    rules = pack.rules
    columns = [
        Column(label, 28, S_WRAP),
        Column("Records", 10, S_INT),
        Column("Score", 10, S_PCT),
        Column("Grade", 20, S_TEXT),
        Column("RAG", 8, S_TEXT),
        *(Column(rule.id, max(12, min(len(rule.id) + 2, 28)), S_PCT) for rule in rules),
    ]

    def finish(sheet: WriteOnlyWorksheet, _: int, last_row: int) -> None:
        last_col = get_column_letter(len(columns))
        add_rag_formats(sheet, f"C2:C{max(last_row, 2)}", bands)
        add_label_formats(sheet, f"E2:E{max(last_row, 2)}", {k: k for k in RAG_STYLES})
        if rules:
            add_rag_formats(sheet, f"F2:{last_col}{max(last_row, 2)}", bands)
        sheet.auto_filter.ref = f"A1:{last_col}{max(last_row, 2)}"

    series = SeriesSheet(book, title, columns, max_rows=max_rows, freeze="B2", finish=finish)
    for name, tally in groups.items():
        series.append(
            [
                name,
                tally.records,
                tally.score,
                grade(tally.score, pack.grade_bands) or "n/a",
                bands.label(tally.score),
                *(_compliance(tally, rule.id) for rule in rules),
            ]
        )
    series.close()


def _compliance(tally: Tally, rule_id: str) -> float | None:
    rule = tally.rules.get(rule_id)
    return rule.compliance if rule else None


def records_series(book: Workbook, rules: Sequence[RuleBase], max_rows: int) -> SeriesSheet:
    columns = [
        Column("Record", 16),
        Column("Source", 22),
        Column("Worker", 16),
        Column("Team", 24, S_WRAP),
        Column("Case type", 18),
        Column("Score", 9, S_PCT),
        Column("Grade", 20),
        *(Column(rule.id, max(12, min(len(rule.id) + 2, 28))) for rule in rules),
    ]
    labels = {text: rag for text, rag in OUTCOME_RAG.items()}

    def finish(sheet: WriteOnlyWorksheet, _: int, last_row: int) -> None:
        last_col = get_column_letter(len(columns))
        if rules:
            add_label_formats(sheet, f"H2:{last_col}{max(last_row, 2)}", labels)
        sheet.auto_filter.ref = f"A1:{last_col}{max(last_row, 2)}"

    return SeriesSheet(book, "Records", columns, max_rows=max_rows, freeze="B2", finish=finish)


def _record_row(record: RecordResult, rules: Sequence[RuleBase]) -> list[Any]:
    outcomes = {r.rule_id: OUTCOME_LABELS[r.outcome] for r in record.results}
    return [
        record.record_id,
        record.source,
        worker_key(record.worker),
        team_key(record.team),
        record.case_type,
        record.score,
        record.grade or "n/a",
        *(outcomes.get(rule.id) for rule in rules),
    ]


FINDINGS_COLUMNS = (
    Column("Record", 14),
    Column("Worker", 14),
    Column("Team", 20, S_WRAP),
    Column("Case type", 16),
    Column("Rule", 22),
    Column("Rule title", 26, S_WRAP),
    Column("Outcome", 11),
    Column("Reason", 40, S_WRAP),
    Column("Evidence note", 11),
    Column("Note date", 12, S_DATE),
    Column("Evidence", 60, S_WRAP),
    Column("In context", 50, S_WRAP),
    Column("More evidence", 40, S_WRAP),
    Column("Context cues", 30, S_WRAP),
    Column("Auditor agrees?", 12),
    Column("Auditor comment", 40, S_WRAP),
)


def _in_context(evidence: Evidence) -> Highlight | str | None:
    """The sentence around the evidence, the evidence in bold (when it is not the same)."""
    sentence = evidence.sentence
    if not sentence or sentence == evidence.text:
        return None
    if evidence.sentence_start is None:
        return sentence
    start = evidence.start - evidence.sentence_start
    return Highlight(sentence, start, start + (evidence.end - evidence.start))


def _finding_row(record: RecordResult, result: RuleResult, title: str) -> list[Any]:
    first = result.evidence[0] if result.evidence else None
    more = "\n".join(
        f"{e.note_id} ({e.note_date.isoformat() if e.note_date else 'undated'}): {e.text}"
        for e in result.evidence[1:]
    )
    cues = "\n".join(f"{c.category}: {c.text!r} ({c.note_id})" for c in result.cues)
    context = _in_context(first) if first else None
    return [
        record.record_id,
        worker_key(record.worker),
        team_key(record.team),
        record.case_type,
        result.rule_id,
        title,
        OUTCOME_LABELS[result.outcome],
        result.reason,
        first.note_id if first else None,
        first.note_date if first else None,
        first.text if first else None,
        context,
        more or None,
        cues or None,
        None,
        None,
    ]


def findings_series(book: Workbook, max_rows: int) -> SeriesSheet:
    columns = FINDINGS_COLUMNS
    headers = [c.header for c in columns]
    last_col = get_column_letter(len(columns))

    def finish(sheet: WriteOnlyWorksheet, number: int, last_row: int) -> None:
        # A Table needs at least one data row; an empty one is fine.
        ref = f"A1:{last_col}{max(last_row, 2)}"
        table = Table(
            displayName="Findings" if number == 1 else f"Findings_{number}",
            ref=ref,
            tableStyleInfo=TableStyleInfo(name="TableStyleMedium2", showRowStripes=True),
        )
        # Write-only sheets cannot be read back, so the column names are given here.
        table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, 1)]
        table.autoFilter = AutoFilter(ref=ref)
        with warnings.catch_warnings():
            # openpyxl warns that write-only tables need their columns given: they are.
            warnings.filterwarnings("ignore", "In write-only mode", UserWarning)
            sheet.add_table(table)
        # One validation and one format for the whole column, not one per row.
        agrees = column_ref(columns, "Auditor agrees?", last_row)
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(AUDITOR_CHOICES) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Auditor agrees?",
            error="Choose Yes, No or Unsure.",
            showInputMessage=True,
            promptTitle="Auditor agrees?",
            prompt="Do you agree with this outcome? Yes, No or Unsure.",
        )
        validation.add(agrees)
        sheet.data_validations.append(validation)
        add_label_formats(sheet, column_ref(columns, "Outcome", last_row), OUTCOME_RAG)

    return SeriesSheet(book, "Findings", columns, max_rows=max_rows, finish=finish)


def write_record_sheets(book: Workbook, data: BookData, max_rows: int) -> None:
    """Records (one row per record) and Findings (one per applicable rule), filled in
    one pass: each pass over the disk-backed records decodes every one of them."""
    rules = data.pack.rules
    titles = {rule.id: rule.title for rule in rules}
    records = records_series(book, rules, max_rows)
    findings = findings_series(book, max_rows)
    for record in data.records():
        records.append(_record_row(record, rules))
        for result in record.results:
            if result.outcome != "not_applicable":
                findings.append(_finding_row(record, result, titles.get(result.rule_id, "")))
    records.close()
    findings.close()
    _keep_in_order(book, [*records.parts, *findings.parts])


def _keep_in_order(book: Workbook, parts: Sequence[Part]) -> None:
    """Continuation sheets of two series filled side by side were added as they were
    needed ("Records", "Findings", "Records (2)", …): put each series' parts together."""
    start = book.index(parts[0].sheet)
    for position, part in enumerate(parts, start=start):
        book.move_sheet(part.sheet.title, position - book.index(part.sheet))


def write_rejected(book: Workbook, data: BookData, max_rows: int) -> None:
    columns = (Column("Source", 30), Column("Record", 18), Column("Error", 90, S_WRAP))
    series = SeriesSheet(book, "Rejected", columns, max_rows=max_rows)
    for rejection in data.rejected:
        series.append([rejection.source, rejection.record_id, rejection.error])
    series.close()


def write_rules(book: Workbook, pack: Pack, max_rows: int) -> None:
    columns = (
        Column("Rule", 24),
        Column("Title", 28, S_WRAP),
        Column("Kind", 16),
        Column("Weight", 8, S_NUM),
        Column("Applies when", 30, S_WRAP),
        Column("Description", 50, S_WRAP),
        Column("Guidance", 60, S_WRAP),
        Column("References", 50, S_WRAP),
        Column("Defined in", 30),
        Column("Identity", 20),
    )
    series = SeriesSheet(book, "Rules", columns, max_rows=max_rows, freeze="B2")
    for rule in pack.rules:
        conditions = "\n".join(c.describe() for c in rule.applies_when) or "always"
        series.append(
            [
                rule.id,
                rule.title,
                rule.kind,
                rule.weight,
                conditions,
                rule.description,
                rule.guidance,
                "\n".join(rule.references),
                rule.origin,
                pack.identity(rule.id),
            ]
        )
    series.close()


def write_privacy(book: Workbook, findings: Iterable[IdentifierFinding], max_rows: int) -> None:
    columns = (
        Column("Kind", 20),
        Column("Source", 28),
        Column("Record", 16),
        Column("Location", 28),
        Column("Offset", 9, S_INT),
        Column("Masked value", 24),
    )
    series = SeriesSheet(book, "Privacy", columns, max_rows=max_rows)
    for f in findings:
        series.append([f.kind, f.source, f.record_id, f.location, f.offset, f.masked])
    series.close()


# --------------------------------------------------------------------------------------
# Assembling and saving
# --------------------------------------------------------------------------------------


def _stamp(generated_at: str) -> dt.datetime:
    """The audit's own time (naive UTC, as the xlsx core properties expect)."""
    try:
        when = dt.datetime.fromisoformat(generated_at)
    except ValueError:
        return dt.datetime(1980, 1, 1)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return max(when, dt.datetime(1980, 1, 1))  # zip dates start in 1980


_DEFLATE_LEVEL = 1


class _FixedTimeZip(ZipFile):
    """A zip whose entries all carry one timestamp, so equal content gives equal bytes."""

    def __init__(self, path: Path, when: dt.datetime) -> None:
        super().__init__(path, "w", ZIP_DEFLATED, allowZip64=True)
        self._when = when.timetuple()[:6]

    def _info(self, name: str) -> ZipInfo:
        info = ZipInfo(name, date_time=self._when)
        info.compress_type = ZIP_DEFLATED
        # Fastest deflate: the sheets of a large audit are tens of megabytes of XML, and
        # level 1 packs them twice as fast as the default level for ~25% more bytes.
        info._compresslevel = _DEFLATE_LEVEL
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        # openpyxl hands over each streamed sheet as a temporary file: copy it in blocks
        # (never the whole sheet in memory) under the fixed timestamp.
        name = str(arcname if arcname is not None else filename)
        target = self.open(self._info(name), "w", force_zip64=True)
        with open(filename, "rb") as source, target:
            shutil.copyfileobj(source, target, 1 << 20)


def build_workbook(data: BookData, path: Path, *, max_rows: int = EXCEL_MAX_ROWS) -> Path:
    book = Workbook(write_only=True)
    register_styles(book)
    when = _stamp(data.generated_at)
    props = book.properties
    props.creator = "recaudit"
    props.title = f"recaudit audit: {data.pack.name} {data.pack.version}"
    props.created = when
    props.modified = when
    props.lastModifiedBy = None
    bands = RagBands.for_pack(data.pack)

    write_summary(book, data, bands)
    write_groups(book, "By team", "Team", data.teams, data.pack, bands, max_rows)
    write_groups(book, "By worker", "Worker", data.workers, data.pack, bands, max_rows)
    write_record_sheets(book, data, max_rows)
    write_rejected(book, data, max_rows)
    write_rules(book, data.pack, max_rows)
    if data.privacy:
        write_privacy(book, data.privacy, max_rows)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with _FixedTimeZip(tmp, when) as archive:
        ExcelWriter(book, archive).write_data()
    tmp.replace(path)
    return path


def write_workbook(
    audit: Audit,
    path: Path,
    per_worker: bool = False,
    *,
    max_rows: int = EXCEL_MAX_ROWS,
    **_: Any,
) -> Path:
    """Write `audit.xlsx`; with `per_worker`, also `workers/<safe name>.xlsx` beside it."""
    build_workbook(BookData.from_audit(audit), path, max_rows=max_rows)
    if per_worker:
        write_worker_workbooks(audit, path.parent / "workers", max_rows=max_rows)
    return path


def write_worker_workbooks(
    audit: Audit, folder: Path, *, max_rows: int = EXCEL_MAX_ROWS
) -> dict[str, Path]:
    """One workbook per worker, named by `unique_filenames` (worker ids are untrusted)."""
    names = unique_filenames(audit.workers)
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="recaudit-workers-") as spool:
        shares = split_by_worker(audit, Path(spool))
        for worker, stem in names.items():
            book = worker_book(audit, worker, shares[worker])
            written[worker] = build_workbook(book, folder / f"{stem}.xlsx", max_rows=max_rows)
    return written
