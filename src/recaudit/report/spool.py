"""Records with their stored JSON lines, for reports that regroup records on disk.

Per-worker pages and workbooks spool each worker's records to their own file. A
disk-backed store (`recaudit.store.Store`) already holds every record as one JSON line;
handing that line on saves encoding each record a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import BaseModel, ConfigDict

from recaudit.results import RecordResult
from recaudit.store import decode_result, encode_result


def with_lines(records: Iterable[RecordResult]) -> Iterator[tuple[RecordResult, bytes]]:
    """Each record and its JSON line (no newline), in order; works on a store or a list."""
    encoded = getattr(records, "encoded", None)
    if callable(encoded):
        for line in encoded():
            yield decode_result(line), line
    else:
        for record in records:
            yield record, encode_result(record)


class _Routing(BaseModel):
    """Where a record goes. Reading just these two fields from a stored line costs a third
    of validating the whole record (its evidence, dates and cues)."""

    model_config = ConfigDict(extra="ignore")

    worker: str | None
    team: str | None


def routed_lines(records: Iterable[RecordResult]) -> Iterator[tuple[str | None, str | None, bytes]]:
    """Each record's worker, team and JSON line (no newline), in order."""
    encoded = getattr(records, "encoded", None)
    if callable(encoded):
        for line in encoded():
            routing = _Routing.model_validate_json(line)
            yield routing.worker, routing.team, line
    else:
        for record in records:
            yield record.worker, record.team, encode_result(record)
