"""Evaluate records in worker processes, keeping input order: `recaudit audit --jobs N`.

Parallelism is at the record level (design-notes.md, "Throughput facts"): each worker takes
units of work and sends back only small results (the `RecordResult` line already encoded for
the store, plus what the tallies and duplicate checks need), never spaCy Docs or pydantic
models, which are slow to pickle. A unit of a `.jsonl` input is a byte range of whole lines
(`records.line_ranges`): the worker reads, frames, decodes, scans (anonymisation guard),
validates, evaluates and encodes its lines itself, so the parent only cuts the file at line
ends, rejects duplicates in input order, writes the store and keeps the tallies.

The parent evaluates the first records itself until every rule has run once (that imports
spaCy and compiles the rules' patterns), then forks: workers inherit the warmed-up context.

`--jobs 1` runs the very same per-unit function in-process, and duplicates are rejected in
the parent in input order after evaluation, so the output is identical whatever the number
of jobs.
"""

from __future__ import annotations

import gc
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
    LineRange,
    Rejection,
    SourcedRecord,
    decode_jsonl_line,
    duplicate_rejection,
    frame_lines,
    read_range,
    validate_jsonl_line,
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


WorkItem = RawLine | SourcedRecord | Rejection | Notice | LineRange
# What is evaluated in one go, here or in a worker: a list of items, or a range of a
# `.jsonl` file that the worker reads and frames itself.
Unit = list[WorkItem] | LineRange


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
    if isinstance(item, RawLine):
        obj = decode_jsonl_line(item.text, item.source)
        if isinstance(obj, Rejection):
            return Done(obj)  # not JSON: no values the guard could locate
        # The guard reads every line that decodes, even one that fails validation.
        found = (
            tuple(guard.scan_record(item.source, obj))
            if guard is not None and isinstance(obj, dict)
            else ()
        )
        parsed = validate_jsonl_line(item.text, obj, item.source)
        if isinstance(parsed, Rejection):
            return Done(parsed, found)
        return Done(_evaluate(parsed, pack, ctx), found)
    if isinstance(item, LineRange):
        raise TypeError("a LineRange is a unit of work: use evaluate_unit")
    found = tuple(guard.scan_item(item)) if guard is not None else ()
    return Done(_evaluate(item, pack, ctx), found)


def unit_items(unit: Unit) -> Iterator[WorkItem]:
    """The items of a unit of work; a `.jsonl` range is read and framed here."""
    if isinstance(unit, LineRange):
        for framed in frame_lines(read_range(unit), unit.label, unit.first_line):
            yield framed if isinstance(framed, Rejection) else RawLine(*framed)
    else:
        yield from unit


def evaluate_unit(
    unit: Unit, pack: Pack, ctx: EvalContext, guard: PrivacyGuard | None = None
) -> list[Done]:
    return [evaluate_item(item, pack, ctx, guard) for item in unit_items(unit)]


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
) -> Iterator[Unit]:
    """Units of work: items gathered into lists, and each `LineRange` on its own (a range
    is cut to the same limits when the file is framed; see `records.line_ranges`)."""
    chunk: list[WorkItem] = []
    size = 0
    for item in items:
        if isinstance(item, LineRange):
            if chunk:
                yield chunk
                chunk, size = [], 0
            yield item
            continue
        chunk.append(item)
        size += _item_size(item)
        if size >= max_chars or len(chunk) >= max_items:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _has_records(unit: Unit) -> bool:
    # Units of notices and rejections only are not worth sending to a worker.
    return isinstance(unit, LineRange) or any(
        isinstance(item, RawLine | SourcedRecord) for item in unit
    )


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


def _evaluate_unit(unit: Unit) -> list[Done]:
    assert _worker_pack is not None and _worker_ctx is not None, "worker not initialised"
    return evaluate_unit(unit, _worker_pack, _worker_ctx, _worker_guard)


def _context() -> multiprocessing.context.BaseContext:
    # fork: workers inherit the loaded pack and every module the parent imported, so they
    # start in milliseconds; spawn where fork is unavailable or unsafe (macOS, Windows).
    return multiprocessing.get_context("fork" if can_fork() else "spawn")


GC_THRESHOLD = 20_000


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
    units = chunked(items, chunk_chars, chunk_items)
    ctx = context_for(pack)
    guard = PrivacyGuard() if privacy else None
    # Evaluation allocates millions of short-lived, acyclic tuples: with the default
    # threshold the cyclic collector runs every 700 of them (~10 % of rule time). Rarer
    # young-generation passes here (and in the workers, which inherit the setting).
    saved = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *saved[1:])
    try:
        yield from reject_duplicates(_evaluated(units, pack, jobs, guard, ctx))
    finally:
        gc.set_threshold(*saved)


def _evaluated(
    units: Iterator[Unit], pack: Pack, jobs: int, guard: PrivacyGuard | None, ctx: EvalContext
) -> Iterator[Done]:
    # Workers start only when there are at least two units with records: not worth it for
    # less. Units before the first one with records (notices) are evaluated here.
    head: list[Unit] = []
    for unit in units:
        head.append(unit)
        if sum(map(_has_records, head)) >= 2:
            break
    if jobs <= 1 or sum(map(_has_records, head)) < 2:
        for unit in chain(head, units):
            yield from evaluate_unit(unit, pack, ctx, guard)
        return
    first = next(i for i, unit in enumerate(head) if _has_records(unit))
    for unit in head[:first]:
        yield from evaluate_unit(unit, pack, ctx, guard)
    # Warm up here, then fork: the text rules import spaCy and compile their patterns on
    # first use (a second or two of CPU), and forked workers inherit all that instead of
    # each paying for it again. Items of the first unit are evaluated here until every rule
    # has met or partly met once (so it has run all the way through); the rest of that
    # unit goes to the workers with the others.
    warming = {rule.id for rule in pack.rules}
    items = list(unit_items(head[first]))
    done = 0
    while done < len(items) and warming:
        result = evaluate_item(items[done], pack, ctx, guard)
        if isinstance(result.outcome, Scored):
            warming.difference_update(
                r.rule_id for r in result.outcome.outcomes if r.outcome in ("met", "partial")
            )
        done += 1
        yield result
    rest: list[Unit] = [items[done:]] if done < len(items) else []
    yield from _pooled(chain(rest, head[first + 1 :], units), pack, jobs, guard, ctx)


def _pooled(
    units: Iterable[Unit],
    pack: Pack,
    jobs: int,
    guard: PrivacyGuard | None,
    ctx: EvalContext,
) -> Iterator[Done]:
    # A bounded window of futures, consumed oldest first: input order is kept, and reading
    # never runs far ahead of the workers (Pool.imap would read the whole input into memory).
    # Objects that exist now are never freed while the workers run, so keep their garbage
    # collector off them: a collection would touch (and so copy) every inherited page.
    gc.freeze()
    executor = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=_context(),
        initializer=_init_worker,
        initargs=(pack, guard is not None, ctx if can_fork() else None),
    )
    pending: deque[Future[list[Done]]] = deque()
    window = jobs * IN_FLIGHT_PER_JOB
    source = iter(units)

    def submit(unit: Unit) -> None:
        if _has_records(unit):
            pending.append(executor.submit(_evaluate_unit, unit))
        else:  # notices and rejections: nothing to evaluate, keep their place
            ready: Future[list[Done]] = Future()
            ready.set_result(evaluate_unit(unit, pack, ctx, guard))
            pending.append(ready)

    try:
        for unit in islice(source, window):
            submit(unit)
        while pending:
            oldest = pending.popleft()
            for unit in islice(source, 1):
                submit(unit)
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
        gc.unfreeze()


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
