"""Plain page data for the HTML report, built before any template runs.

Templates only lay these objects out: every figure is already formatted for the reader's
language, every link already points at a safe file name, and every highlighted evidence
span is already cut into (before, match, after) so the template can escape each part and
wrap only the match in `<mark>`. Nothing here is HTML: record text stays plain `str` and
is escaped by the template engine.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import quote

from recaudit import __version__
from recaudit.audit import NO_TEAM, UNALLOCATED, Audit, team_key, worker_key
from recaudit.privacy import IdentifierFinding
from recaudit.report.filenames import unique_filenames
from recaudit.report.i18n import Formatter
from recaudit.report.spool import routed_lines
from recaudit.results import Evidence, RecordResult, RuleResult
from recaudit.rulepack.schema import RuleBase
from recaudit.scoring import Tally
from recaudit.store import decode_result, encode_result

WORKERS_DIR = "workers"
TEAMS_DIR = "teams"
OVERVIEW_FILE = "audit.html"

# Geometry of the compliance chart (SVG user units; the SVG scales to the page width).
CHART_LABEL_WIDTH = 230
CHART_BAR_WIDTH = 400
CHART_ROW_HEIGHT = 34
CHART_BAR_HEIGHT = 20
CHART_TOP = 28


def page_file(folder: str, stem: str) -> str:
    """Where a worker's or team's page is written, relative to the overview."""
    return f"{folder}/{stem}.html"


def page_href(folder: str, stem: str) -> str:
    """Relative link (from the overview) to a worker's or team's page. Stems may hold
    non-ASCII letters ("siân"), so the link is percent-encoded."""
    return quote(page_file(folder, stem))


@dataclass(frozen=True)
class GroupName:
    """A worker or team name; `placeholder` is set for the engine's stand-in keys so the
    template can show them in the reader's language ("(no team)", "(dim tîm)")."""

    text: str
    placeholder: str | None = None  # "unallocated" | "no_team" | None


def group_name(key: str, kind: str) -> GroupName:
    if kind == "worker" and key == UNALLOCATED:
        return GroupName(key, "unallocated")
    if kind == "team" and key == NO_TEAM:
        return GroupName(key, "no_team")
    return GroupName(key)


@dataclass(frozen=True)
class RuleRow:
    id: str
    title: str
    weight: str
    applicable: str
    met: str
    partial: str
    not_met: str
    not_applicable: str
    compliance: str
    # Chart geometry: bar lengths in SVG units, and the row's vertical position.
    met_width: float
    partial_width: float
    y: float


@dataclass(frozen=True)
class Chart:
    rows: tuple[RuleRow, ...]
    width: int
    height: int
    label_width: int = CHART_LABEL_WIDTH
    bar_width: int = CHART_BAR_WIDTH
    bar_height: int = CHART_BAR_HEIGHT
    ticks: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class GroupRow:
    name: GroupName
    href: str
    records: str
    score: str
    grade: str | None
    teams: tuple[GroupName, ...] = ()


@dataclass(frozen=True)
class InputRow:
    path: str
    sha256: str
    records: str
    rejected: str


@dataclass(frozen=True)
class RejectedRow:
    source: str
    record_id: str | None
    error: str


@dataclass(frozen=True)
class PrivacyRow:
    kind: str
    source: str
    record_id: str | None
    location: str
    masked: str


@dataclass(frozen=True)
class Summary:
    """Score, grade and counts for the service, a team or a worker."""

    score: str
    grade: str | None
    records: str
    rules: tuple[RuleRow, ...]
    chart: Chart


@dataclass(frozen=True)
class Meta:
    tool_version: str
    pack_name: str
    pack_version: str
    pack_sha256: str
    generated_at: str
    period: str | None
    versions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Overview:
    title: str
    summary: Summary
    records_in: str
    audited: str
    rejected_count: str
    teams: tuple[GroupRow, ...]
    workers: tuple[GroupRow, ...]
    meta: Meta
    inputs: tuple[InputRow, ...]
    rejected: tuple[RejectedRow, ...]
    privacy: tuple[PrivacyRow, ...]
    grade_bands: tuple[tuple[str, str], ...]


# A worker's records, their outcomes, evidence and cues are many (tens of thousands on a
# large audit): named tuples, which are as immutable as the frozen dataclasses above and
# several times cheaper to build.


class Finding(NamedTuple):
    """One piece of evidence: the sentence cut around the matched span."""

    note_id: str
    date: str
    before: str
    match: str
    after: str


class Cue(NamedTuple):
    category: str
    text: str
    note_id: str


class Outcome(NamedTuple):
    rule_id: str
    title: str
    outcome: str  # met | partial | not_met | not_applicable (the template labels it)
    reason: str
    findings: tuple[Finding, ...]
    cues: tuple[Cue, ...]
    guidance: str | None  # the pack's "what good looks like", for partial / not met only
    references: tuple[str, ...]


class RecordView(NamedTuple):
    anchor: str
    record_id: str
    case_type: str
    team: GroupName
    source: str
    score: str
    grade: str | None
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class WorkerPage:
    name: GroupName
    file: str
    teams: tuple[GroupRow, ...]
    summary: Summary
    # Built one at a time while the page is written (one pass), so a worker with
    # thousands of records never has them all in memory.
    records: Iterable[RecordView]
    meta: Meta


@dataclass(frozen=True)
class TeamPage:
    name: GroupName
    file: str
    summary: Summary
    workers: tuple[GroupRow, ...]
    meta: Meta


@dataclass
class Pages:
    """Page data for one audit. Worker pages are built one at a time while iterating
    `workers()`, and each page's records one at a time while it is written, so memory
    holds one record's view at once."""

    overview: Overview
    teams: list[TeamPage]
    workers: Callable[[], Iterator[WorkerPage]]


# --- building -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoFormatter(Formatter):
    """A `Formatter` that formats each distinct value once. Pages repeat the same few
    scores, counts and note dates thousands of times, and each Babel call costs ~50 µs."""

    memo: dict[tuple[str, type, object], str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _once(self, kind: str, value: object, format: Callable[[Any], str]) -> str:
        key = (kind, type(value), value)
        text = self.memo.get(key)
        if text is None:
            text = self.memo[key] = format(value)
        return text

    def number(self, value: float | None) -> str:
        return self._once("number", value, super().number)

    def percent(self, value: float | None) -> str:
        return self._once("percent", value, super().percent)

    def date(self, value: dt.date | None) -> str:
        return self._once("date", value, super().date)


def rule_rows(rules: Iterable[RuleBase], tally: Tally, fmt: Formatter) -> tuple[RuleRow, ...]:
    rows = []
    for index, rule in enumerate(r for r in rules if r.id in tally.rules):
        counts = tally.rules[rule.id]
        applicable = counts.applicable
        met_share = counts.met / applicable if applicable else 0.0
        partial_share = counts.partial / applicable if applicable else 0.0
        rows.append(
            RuleRow(
                id=rule.id,
                title=rule.title,
                weight=fmt.number(rule.weight),
                applicable=fmt.number(applicable),
                met=fmt.number(counts.met),
                partial=fmt.number(counts.partial),
                not_met=fmt.number(counts.not_met),
                not_applicable=fmt.number(counts.not_applicable),
                compliance=fmt.percent(counts.compliance),
                met_width=round(met_share * CHART_BAR_WIDTH, 2),
                partial_width=round(partial_share * CHART_BAR_WIDTH, 2),
                y=CHART_TOP + index * CHART_ROW_HEIGHT,
            )
        )
    return tuple(rows)


def chart(rows: tuple[RuleRow, ...], fmt: Formatter) -> Chart:
    ticks = tuple(
        (CHART_LABEL_WIDTH + share * CHART_BAR_WIDTH, fmt.percent(share))
        for share in (0, 0.25, 0.5, 0.75, 1)
    )
    return Chart(
        rows=rows,
        width=CHART_LABEL_WIDTH + CHART_BAR_WIDTH + 70,
        height=CHART_TOP + len(rows) * CHART_ROW_HEIGHT + 6,
        ticks=ticks,
    )


def summary(audit: Audit, tally: Tally, fmt: Formatter) -> Summary:
    rows = rule_rows(audit.pack.rules, tally, fmt)
    return Summary(
        score=fmt.percent(tally.score),
        grade=audit.group_grade(tally),
        records=fmt.number(tally.records),
        rules=rows,
        chart=chart(rows, fmt),
    )


def meta(audit: Audit, fmt: Formatter) -> Meta:
    pack = audit.pack
    return Meta(
        tool_version=__version__,
        pack_name=pack.name,
        pack_version=pack.version,
        pack_sha256=pack.sha256,
        generated_at=fmt.timestamp(audit.generated_at),
        period=audit.period,
        versions=tuple(sorted(audit.versions.items())),
    )


def evidence_parts(evidence: Evidence) -> tuple[str, str, str]:
    """(before, match, after) of the sentence around the span; just the span when the
    sentence is missing or does not contain it (never trust offsets blindly)."""
    sentence, offset = evidence.sentence, evidence.sentence_start
    if sentence is None or offset is None:
        return "", evidence.text, ""
    start, end = evidence.start - offset, evidence.end - offset
    if not (0 <= start <= end <= len(sentence)) or sentence[start:end] != evidence.text:
        return "", evidence.text, ""
    return sentence[:start], sentence[start:end], sentence[end:]


def finding(evidence: Evidence, fmt: Formatter) -> Finding:
    before, match, after = evidence_parts(evidence)
    return Finding(
        note_id=evidence.note_id,
        date=fmt.date(evidence.note_date),
        before=before,
        match=match,
        after=after,
    )


def outcome(result: RuleResult, rule: RuleBase | None, fmt: Formatter) -> Outcome:
    unmet = result.outcome in ("partial", "not_met")
    guidance = rule.guidance.strip() if rule is not None and unmet and rule.guidance else None
    return Outcome(
        rule_id=result.rule_id,
        title=rule.title if rule is not None else result.rule_id,
        outcome=result.outcome,
        reason=result.reason,
        findings=tuple(finding(e, fmt) for e in result.evidence) if result.evidence else (),
        cues=tuple(Cue(c.category, c.text, c.note_id) for c in result.cues) if result.cues else (),
        guidance=guidance,
        references=tuple(rule.references) if rule is not None and unmet else (),
    )


def record_view(
    index: int,
    record: RecordResult,
    audit: Audit,
    fmt: Formatter,
    rules: Mapping[str, RuleBase] | None = None,
) -> RecordView:
    """One record's section of its worker's page (`rules`: the pack's rules by id)."""
    if rules is None:
        rules = {rule.id: rule for rule in audit.pack.rules}
    return RecordView(
        anchor=f"record-{index}",
        record_id=record.record_id,
        case_type=record.case_type,
        team=group_name(team_key(record.team), "team"),
        source=record.source,
        score=fmt.percent(record.score),
        grade=record.grade,
        outcomes=tuple(outcome(r, rules.get(r.rule_id), fmt) for r in record.results),
    )


def group_row(
    key: str, kind: str, tally: Tally, audit: Audit, fmt: Formatter, stem: str, prefix: str = ""
) -> GroupRow:
    folder = WORKERS_DIR if kind == "worker" else TEAMS_DIR
    return GroupRow(
        name=group_name(key, kind),
        href=prefix + page_href(folder, stem),
        records=fmt.number(tally.records),
        score=fmt.percent(tally.score),
        grade=audit.group_grade(tally),
    )


def privacy_row(finding: IdentifierFinding) -> PrivacyRow:
    return PrivacyRow(
        kind=finding.kind,
        source=finding.source,
        record_id=finding.record_id,
        location=finding.location,
        masked=finding.masked,
    )


class RecordSpool:
    """Records regrouped by worker on disk, in input order within each worker.

    `audit.records` is a disk-backed stream in input order, but a worker page needs that
    worker's records together. One pass appends each record to its worker's spool file
    (a few handles kept open, the rest reopened in append mode when needed), so memory
    holds one worker's records at a time however large the audit.
    """

    OPEN_FILES = 128  # reopening a file for every record costs more than its write

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: OrderedDict[int, IO[bytes]] = OrderedDict()

    def _path(self, slot: int) -> Path:
        return self.folder / f"{slot}.jsonl"

    def add(self, slot: int, record: RecordResult) -> None:
        self.add_line(slot, encode_result(record))

    def add_line(self, slot: int, line: bytes) -> None:
        """Append a record already encoded as one JSON line (e.g. as the store holds it)."""
        handle = self._open.pop(slot, None) or self._path(slot).open("ab")
        handle.write(line + b"\n")
        self._open[slot] = handle
        if len(self._open) > self.OPEN_FILES:
            self._open.popitem(last=False)[1].close()

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()

    def records(self, slot: int) -> Iterator[RecordResult]:
        path = self._path(slot)
        if not path.is_file():
            return
        with path.open("rb") as handle:
            for line in handle:
                yield decode_result(line)


@contextmanager
def build_pages(audit: Audit, fmt: Formatter) -> Iterator[Pages]:
    """Every page's data, from one pass over the audited records."""
    fmt = MemoFormatter(fmt.lang)
    rules = {rule.id: rule for rule in audit.pack.rules}
    worker_files = unique_filenames(audit.workers)
    team_files = unique_filenames(audit.teams)
    slots = {key: slot for slot, key in enumerate(audit.workers)}
    worker_teams: dict[str, set[str]] = {}
    team_workers: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="recaudit-html-") as folder:
        spool = RecordSpool(Path(folder))
        try:
            for worker_id, team_id, line in routed_lines(audit.records):
                worker, team = worker_key(worker_id), team_key(team_id)
                worker_teams.setdefault(worker, set()).add(team)
                team_workers.setdefault(team, set()).add(worker)
                spool.add_line(slots[worker], line)
        finally:
            spool.close()

        the_meta = meta(audit, fmt)
        team_rows = {
            key: group_row(key, "team", t, audit, fmt, team_files[key])
            for key, t in audit.teams.items()
        }
        worker_rows = [
            _with_teams(
                group_row(key, "worker", t, audit, fmt, worker_files[key]),
                worker_teams.get(key, ()),
            )
            for key, t in audit.workers.items()
        ]
        overview = Overview(
            title=audit.pack.name,
            summary=summary(audit, audit.service, fmt),
            records_in=fmt.number(audit.records_in),
            audited=fmt.number(audit.service.records),
            rejected_count=fmt.number(len(audit.rejected)),
            teams=tuple(team_rows.values()),
            workers=tuple(worker_rows),
            meta=the_meta,
            inputs=tuple(
                InputRow(i.path, i.sha256, fmt.number(i.records), fmt.number(i.rejected))
                for i in audit.inputs
            ),
            rejected=tuple(RejectedRow(r.source, r.record_id, r.error) for r in audit.rejected),
            privacy=tuple(privacy_row(f) for f in audit.privacy),
            grade_bands=tuple(
                (b.grade, fmt.percent(b.min_score))
                for b in sorted(audit.pack.grade_bands, key=lambda b: -b.min_score)
            ),
        )
        teams = [
            TeamPage(
                name=group_name(key, "team"),
                file=page_file(TEAMS_DIR, team_files[key]),
                summary=summary(audit, tally, fmt),
                workers=tuple(
                    group_row(w, "worker", audit.workers[w], audit, fmt, worker_files[w], "../")
                    for w in sorted(team_workers.get(key, ()))
                ),
                meta=the_meta,
            )
            for key, tally in audit.teams.items()
        ]

        def worker_pages() -> Iterator[WorkerPage]:
            for key, tally in audit.workers.items():
                yield WorkerPage(
                    name=group_name(key, "worker"),
                    file=page_file(WORKERS_DIR, worker_files[key]),
                    teams=tuple(_relative(team_rows[t]) for t in sorted(worker_teams.get(key, ()))),
                    summary=summary(audit, tally, fmt),
                    records=(
                        record_view(i, r, audit, fmt, rules)
                        for i, r in enumerate(spool.records(slots[key]), start=1)
                    ),
                    meta=the_meta,
                )

        yield Pages(overview, teams, worker_pages)


def _with_teams(row: GroupRow, teams: Iterable[str]) -> GroupRow:
    names = tuple(group_name(t, "team") for t in sorted(teams))
    return GroupRow(row.name, row.href, row.records, row.score, row.grade, names)


def _relative(row: GroupRow) -> GroupRow:
    # Worker and team pages sit one folder below the overview.
    return GroupRow(row.name, "../" + row.href, row.records, row.score, row.grade, row.teams)
