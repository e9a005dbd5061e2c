"""Evaluate records in worker processes, keeping input order: `recaudit audit --jobs N`.

Parallelism is at the record level (design-notes.md, "Throughput facts"): each worker builds
the pack's evaluation context once, takes chunks of input items and sends back only small
results (the encoded `RecordResult` line plus what the tallies need), never spaCy Docs or
pydantic models, which are slow to pickle. `.jsonl` lines travel as raw text and are parsed
in the workers, so the parent process only frames lines, merges results and writes them.

`--jobs 1` runs the very same per-item function in-process, and duplicates are rejected in
the parent in input order after evaluation, so the output is identical whatever the number
of jobs.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import chain, islice
from multiprocessing.connection import Connection
from typing import Any, Generic, NamedTuple, TypeVar

from recaudit.engine import RuleEvaluationError, context_for, evaluate_record
from recaudit.kinds.base import EvalContext
from recaudit.privacy import IdentifierFinding, PrivacyGuard
from recaudit.records import (
    Rejection,
    SourcedRecord,
    duplicate_rejection,
    parse_jsonl_line,
)
from recaudit.rulepack import Pack
from recaudit.store import encode_result

# A chunk is cut when its items hold this many characters of input (about 35 typical records,
# a few tenths of a second of text analysis) or this many items, whichever comes first:
# big enough to amortise inter-process overhead, small enough to keep workers evenly fed.
CHUNK_CHARS = 256 * 1024
CHUNK_ITEMS = 256
# Chunks in flight per worker: enough to hide latency, few enough to keep memory flat.
IN_FLIGHT_PER_JOB = 3

T = TypeVar("T")


class RawLine(NamedTuple):
    """A framed `.jsonl` line, parsed where it is evaluated."""

    source: str
    text: str


class Notice(NamedTuple):
    """Privacy findings known before any record is read (e.g. identifying column names).

    They travel in the item stream so that they keep their place among the records'
    findings whatever the number of jobs.
    """

    findings: tuple[IdentifierFinding, ...]


WorkItem = RawLine | SourcedRecord | Rejection | Notice


class RuleOutcome(NamedTuple):
    """The part of a `RuleResult` the tallies read (`Tally.add` uses only these two)."""

    rule_id: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Scored:
    """One audited record, as the run loop needs it: small and cheap to pickle."""

    source: str
    record_id: str
    team: str | None
    worker: str | None
    outcomes: tuple[RuleOutcome, ...]
    line: bytes  # the RecordResult, encoded for the result store


@dataclass(frozen=True, slots=True)
class Failed:
    """A valid record that a rule could not evaluate (still counts for duplicate checks)."""

    record_id: str
    rejection: Rejection


Evaluated = Scored | Failed | Rejection


class Done(NamedTuple):
    """What one work item produced: an outcome (None for a `Notice`) and privacy findings."""

    outcome: Scored | Failed | Rejection | None
    findings: tuple[IdentifierFinding, ...] = ()


def default_jobs() -> int:
    """All the cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def evaluate_item(
    item: WorkItem, pack: Pack, ctx: EvalContext, guard: PrivacyGuard | None = None
) -> Done:
    """Scan (with the anonymisation guard), parse (if raw) and evaluate one input item.

    Runs in a worker process or in-process: the same function either way.
    """
    if isinstance(item, Notice):
        return Done(None, item.findings)
    if isinstance(item, Rejection):
        return Done(item)
    # The guard reads every item the reader produced, even one that fails validation.
    found = tuple(guard.scan_item(item)) if guard is not None else ()
    if isinstance(item, RawLine):
        parsed = parse_jsonl_line(item.text, item.source)
        if isinstance(parsed, Rejection):
            return Done(parsed, found)
        item = parsed
    return Done(_evaluate(item, pack, ctx), found)


def _evaluate(item: SourcedRecord, pack: Pack, ctx: EvalContext) -> Evaluated:
    record = item.record
    try:
        result = evaluate_record(record, item.source, pack, ctx)
    except RuleEvaluationError as exc:
        return Failed(record.record_id, Rejection(item.source, record.record_id, str(exc)))
    return Scored(
        source=item.source,
        record_id=record.record_id,
        team=result.team,
        worker=result.worker,
        outcomes=tuple(RuleOutcome(r.rule_id, r.outcome) for r in result.results),
        line=encode_result(result),
    )


def reject_duplicates(done: Iterable[Done]) -> Iterator[Done]:
    """A second record with an already-seen `record_id` is rejected, the first kept.

    Done after evaluation, in input order, so that chunks can be evaluated anywhere; the
    outcome is the same as `records.dedupe` before evaluation. Outcomes come out as
    `Scored`, `Rejection` or None (a notice).
    """
    first_seen: dict[str, str] = {}
    for item in done:
        outcome = item.outcome
        if outcome is None or isinstance(outcome, Rejection):
            yield item
            continue
        source = outcome.source if isinstance(outcome, Scored) else outcome.rejection.source
        seen = first_seen.get(outcome.record_id)
        if seen is not None:
            yield Done(duplicate_rejection(source, outcome.record_id, seen), item.findings)
            continue
        first_seen[outcome.record_id] = source
        if isinstance(outcome, Failed):
            yield Done(outcome.rejection, item.findings)
        else:
            yield item


def _item_size(item: WorkItem) -> int:
    if isinstance(item, RawLine):
        return len(item.text)
    if isinstance(item, SourcedRecord):
        return sum(len(note.text) for note in item.record.notes) + 200
    return 100


def chunked(
    items: Iterable[WorkItem], max_chars: int = CHUNK_CHARS, max_items: int = CHUNK_ITEMS
) -> Iterator[list[WorkItem]]:
    chunk: list[WorkItem] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += _item_size(item)
        if size >= max_chars or len(chunk) >= max_items:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


# Worker-process state: built once per worker by `_init_worker`.
_worker_pack: Pack | None = None
_worker_ctx: EvalContext | None = None
_worker_guard: PrivacyGuard | None = None


def _init_worker(pack: Pack, privacy: bool, ctx: EvalContext | None) -> None:
    global _worker_pack, _worker_ctx, _worker_guard
    # A forked worker gets the parent's warmed-up context (compiled patterns, and spaCy
    # already imported and built); a spawned one builds its own.
    _worker_pack, _worker_ctx = pack, ctx if ctx is not None else context_for(pack)
    _worker_guard = PrivacyGuard() if privacy else None


def _evaluate_chunk(chunk: list[WorkItem]) -> list[Done]:
    assert _worker_pack is not None and _worker_ctx is not None, "worker not initialised"
    return [evaluate_item(item, _worker_pack, _worker_ctx, _worker_guard) for item in chunk]


def _context() -> multiprocessing.context.BaseContext:
    # fork: workers inherit the loaded pack and every module the parent imported, so they
    # start in milliseconds; spawn where fork is unavailable or unsafe (macOS, Windows).
    return multiprocessing.get_context("fork" if can_fork() else "spawn")


def evaluate_stream(
    items: Iterable[WorkItem],
    pack: Pack,
    jobs: int = 1,
    *,
    privacy: bool = False,
    chunk_chars: int = CHUNK_CHARS,
    chunk_items: int = CHUNK_ITEMS,
) -> Iterator[Done]:
    """Evaluate every item, in input order, on `jobs` processes (1 = in this process).

    With `privacy`, the anonymisation guard scans each item where it is evaluated.
    """
    chunks = chunked(items, chunk_chars, chunk_items)
    ctx = context_for(pack)
    guard = PrivacyGuard() if privacy else None
    # The first chunk is always evaluated here. That warms up the context (the text rules
    # import spaCy and compile their patterns on first use, about a second of CPU), so
    # forked workers inherit it instead of each paying for it again.
    # Workers start only when there is more than one chunk: not worth it for less.
    first = next(chunks, [])
    second = next(chunks, None)
    evaluated: Iterator[Done] = (evaluate_item(item, pack, ctx, guard) for item in first)
    if second is not None:
        rest = chain([second], chunks)
        if jobs > 1:
            later = _pooled(rest, pack, jobs, privacy, ctx)
        else:
            later = (evaluate_item(item, pack, ctx, guard) for chunk in rest for item in chunk)
        evaluated = chain(evaluated, later)
    yield from reject_duplicates(evaluated)


def _pooled(
    chunks: Iterable[list[WorkItem]],
    pack: Pack,
    jobs: int,
    privacy: bool,
    ctx: EvalContext,
) -> Iterator[Done]:
    # A bounded window of futures, consumed oldest first: input order is kept, and reading
    # never runs far ahead of the workers (Pool.imap would read the whole input into memory).
    executor = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=_context(),
        initializer=_init_worker,
        initargs=(pack, privacy, ctx if can_fork() else None),
    )
    pending: deque[Future[list[Done]]] = deque()
    window = jobs * IN_FLIGHT_PER_JOB
    source = iter(chunks)
    try:
        for chunk in islice(source, window):
            pending.append(executor.submit(_evaluate_chunk, chunk))
        while pending:
            oldest = pending.popleft()
            for chunk in islice(source, 1):
                pending.append(executor.submit(_evaluate_chunk, chunk))
            try:
                results = oldest.result()
            except BrokenProcessPool as exc:
                raise RuntimeError(
                    "a worker process died during the audit (out of memory?); "
                    "try again with --jobs 1"
                ) from exc
            yield from results
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


class ForkedCall(Generic[T]):
    """Run `fn()` in a forked child process; `result()` waits and returns or re-raises.

    Used to write the slowest report (the workbook) while this process writes the others:
    the child inherits the finished audit (its result stores are files), so nothing has to
    be pickled on the way in, and only the return value or the exception comes back.
    """

    def __init__(self, fn: Callable[[], T]) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_run_and_send, args=(fn, send), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> T:
        try:
            ok, value = self._receive.recv()
        except EOFError:
            ok, value = False, None
        finally:
            self._receive.close()
            self._process.join()
        if ok:
            return value
        if isinstance(value, BaseException):
            raise value
        raise RuntimeError(
            value or f"a report process ended without a result (exit code {self._process.exitcode})"
        )


def _run_and_send(fn: Callable[[], Any], send: Connection) -> None:
    try:
        value: tuple[bool, Any] = (True, fn())
    except BaseException as exc:
        value = (False, exc)
    try:
        send.send(value)
    except Exception:  # the exception itself would not pickle: send its text instead
        send.send((False, "".join(traceback.format_exception(value[1]))))
    send.close()


def can_fork() -> bool:
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
