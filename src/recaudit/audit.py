"""The library API behind `recaudit audit`: read → apply rules → score → render.

from recaudit.audit import run_audit, write_reports
audit = run_audit([Path("records.jsonl")])
write_reports(audit, Path("out"))
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from recaudit.parallel import CHUNK_CHARS, CHUNK_ITEMS, Notice, RawLine, WorkItem, evaluate_stream
from recaudit.privacy import IdentifierFinding, PrivacyGuard
from recaudit.records import LineRange, ReadItem, Rejection, jsonl_lines, line_ranges, read_records
from recaudit.results import RecordResult
from recaudit.rulepack import Pack, load_pack
from recaudit.scoring import Tally, grade
from recaudit.store import Items, rejection_store, result_store

UNALLOCATED = "(unallocated)"
NO_TEAM = "(no team)"


class InputError(Exception):
    """An input file that cannot be read at all (missing, unreadable, not a known format)."""


class Source(Protocol):
    """Something that yields records: a JSONL file, or an export read through a mapping."""

    label: str
    paths: Sequence[Path]

    def items(self) -> Iterator[ReadItem]: ...


@dataclass
class JsonSource:
    """A canonical `.jsonl` or `.json` file."""

    path: Path
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.path.as_posix()

    @property
    def paths(self) -> Sequence[Path]:
        return (self.path,)

    def items(self) -> Iterator[ReadItem]:
        return read_records(self.path, self.label)

    def ranges(self, parts: int = 1) -> Iterator[LineRange] | None:
        """The file as ranges of whole lines (`.jsonl` only), which workers read themselves;
        `parts`: how many processes share them (the last ranges are cut smaller)."""
        if self.path.suffix.lower() == ".json":
            return None
        return line_ranges(
            self.path, self.label, CHUNK_CHARS, CHUNK_ITEMS, tail_parts=parts if parts > 1 else 0
        )

    def raw_items(self) -> Iterator[RawLine | Rejection] | None:
        """Framed but unparsed lines (`.jsonl` only), so workers can do the parsing."""
        if self.path.suffix.lower() == ".json":
            return None
        return (
            item if isinstance(item, Rejection) else RawLine(*item)
            for item in jsonl_lines(self.path, self.label)
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class InputSummary:
    path: str
    sha256: str
    records: int = 0
    rejected: int = 0


@dataclass
class Audit:
    """Everything the reports need. Records are kept in input order.

    `records` and `rejected` are disk-backed stores (`recaudit.store`) after `run_audit`:
    iterate them and take their `len`; do not index them.
    """

    pack: Pack
    inputs: list[InputSummary]
    records: Items[RecordResult]
    rejected: Items[Rejection]
    service: Tally
    teams: dict[str, Tally]
    workers: dict[str, Tally]
    generated_at: str
    period: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    # Residual identifiers found by the anonymisation guard (empty when none or not run).
    privacy: list[IdentifierFinding] = field(default_factory=list)

    @property
    def records_in(self) -> int:
        return len(self.records) + len(self.rejected)

    def service_grade(self) -> str | None:
        return grade(self.service.score, self.pack.grade_bands)

    def group_grade(self, tally: Tally) -> str | None:
        return grade(tally.score, self.pack.grade_bands)


def team_key(team: str | None) -> str:
    return team if team else NO_TEAM


def worker_key(worker: str | None) -> str:
    return worker if worker else UNALLOCATED


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("spacy", "pydantic", "openpyxl", "jinja2"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def as_sources(inputs: Iterable[Path | Source]) -> list[Source]:
    sources: list[Source] = []
    for item in inputs:
        if isinstance(item, Path):
            if not item.is_file():
                raise InputError(f"{item}: no such file")
            if item.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
                raise InputError(
                    f"{item}: expected a .jsonl or .json file of canonical records "
                    "(use --mapping for CSV/XLSX exports)"
                )
            sources.append(JsonSource(item))
        else:
            sources.append(item)
    return sources


def run_audit(
    inputs: Iterable[Path | Source],
    pack: Pack | str | Path | None = None,
    *,
    period: str | None = None,
    on_record: Callable[[int], None] | None = None,
    now: dt.datetime | None = None,
    jobs: int = 1,
    privacy: bool = True,
) -> Audit:
    """Audit every record of every input. Nothing is dropped: each input record ends up
    in `audit.records` or `audit.rejected`.

    `jobs` > 1 evaluates chunks of records in that many worker processes; the result is
    identical to `jobs=1`. Results go to disk as they are produced, so memory stays flat.

    With `privacy` (the default) the anonymisation guard scans each source's column names
    and each record as it streams; its findings (masked) go to `audit.privacy`.
    """
    if not isinstance(pack, Pack):
        pack = load_pack(pack)
    sources = as_sources(inputs)
    summaries: list[InputSummary] = []
    for source in sources:
        for path in source.paths:
            label = source.label if len(source.paths) == 1 else path.as_posix()
            try:
                summaries.append(InputSummary(label, file_sha256(path)))
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror})") from exc

    records = result_store()
    rejected = rejection_store()
    service = Tally(pack.weights)
    teams: dict[str, Tally] = {}
    workers: dict[str, Tally] = {}
    findings: list[IdentifierFinding] = []
    guard = PrivacyGuard() if privacy else None

    def all_items() -> Iterator[WorkItem]:
        for source in sources:
            if guard is not None:
                yield Notice(tuple(guard.scan_source(source)))
            ranges = source.ranges(jobs) if isinstance(source, JsonSource) else None
            # Each item is scanned by the guard where it is evaluated (see parallel.py).
            yield from source.items() if ranges is None else ranges

    summary_for = _summary_finder(summaries)
    # Duplicates are rejected across all inputs: a record_id is unique within one run.
    stream = evaluate_stream(all_items(), pack, jobs, privacy=guard is not None)
    count = 0
    for outcome, found in stream:
        if found:
            findings.extend(found)
        if outcome is None:
            continue
        count += 1
        summary = summary_for(outcome.source)
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
            summary.rejected += 1
        else:
            records.append_encoded(outcome.line)
            summary.records += 1
            for tally in (
                service,
                _group(teams, team_key(outcome.team), pack.weights),
                _group(workers, worker_key(outcome.worker), pack.weights),
            ):
                # Tally.add reads only rule_id and outcome, which RuleOutcome carries.
                tally.add(outcome.outcomes)  # type: ignore[arg-type]
        if on_record:
            on_record(count)

    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()
    return Audit(
        pack=pack,
        inputs=summaries,
        records=records,
        rejected=rejected,
        service=service,
        teams=dict(sorted(teams.items())),
        workers=dict(sorted(workers.items())),
        generated_at=stamp,
        period=period,
        versions=_versions(),
        privacy=findings,
    )


def _group(groups: dict[str, Tally], key: str, weights: Mapping[str, float]) -> Tally:
    tally = groups.get(key)
    if tally is None:
        tally = groups[key] = Tally(weights)
    return tally


def _summary_for(source: str, summaries: list[InputSummary]) -> InputSummary:
    # Sources are "label:line" (or "label:sheet:row" for exports): match the longest label.
    best = max(
        (s for s in summaries if source == s.path or source.startswith(s.path + ":")),
        key=lambda s: len(s.path),
        default=summaries[0],
    )
    return best


def _summary_finder(summaries: list[InputSummary]) -> Callable[[str], InputSummary]:
    """`_summary_for`, remembered by everything before a source's last ":" (its line).

    Only when no label holds a ":": then what a source matches does not depend on its line.
    """
    if any(":" in s.path for s in summaries):
        return lambda source: _summary_for(source, summaries)
    known: dict[str, InputSummary] = {}

    def find(source: str) -> InputSummary:
        key = source.rpartition(":")[0]
        summary = known.get(key)
        if summary is None:
            summary = known[key] = _summary_for(source, summaries)
        return summary

    return find


REPORT_FORMATS = ("json", "xlsx", "html")


def write_reports(
    audit: Audit,
    out_dir: Path,
    formats: Sequence[str] = REPORT_FORMATS,
    *,
    jobs: int = 1,
    **options: Any,
) -> list[Path]:
    """Render the requested reports into `out_dir`; returns the files written.

    With `jobs` > 1 the HTML pages (the slowest to write: 1.7 s per 3 M words, the
    workbook 1.1, audit.json 0.4) are written by a forked process while this one writes
    the others.
    """
    from recaudit.parallel import ForkedCall, can_fork

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    pages: ForkedCall[Path] | None = None
    if "html" in formats and len(formats) > 1 and jobs > 1 and can_fork():
        from recaudit.report.html import write_html

        pages = ForkedCall(lambda: write_html(audit, out_dir / "audit.html", **options))
    if "json" in formats:
        from recaudit.report.json import write_json

        written.append(write_json(audit, out_dir / "audit.json"))
    if "xlsx" in formats:
        from recaudit.report.excel import write_workbook

        written.append(write_workbook(audit, out_dir / "audit.xlsx", **options))
    if "html" in formats:
        if pages is None:
            from recaudit.report.html import write_html

            written.append(write_html(audit, out_dir / "audit.html", **options))
        else:
            written.append(pages.result())
    return written
