"""`--jobs N`: worker processes give exactly the output of one process, in input order."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recaudit.audit import JsonSource, run_audit
from recaudit.parallel import (
    Done,
    Failed,
    RawLine,
    Scored,
    evaluate_stream,
    reject_duplicates,
)
from recaudit.records import LineRange, Rejection
from recaudit.report.json import write_json
from recaudit.rulepack import load_pack

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "tests" / "fixtures" / "perf-pack"

VALUES = ("White - Welsh", "unknown", "", "Declined to say", None, "TBC", "Polish")


def _record(n: int) -> dict:
    child: dict = {"age_years": n % 18}
    for offset, key in enumerate(("ethnicity", "first_language", "religion")):
        value = VALUES[(n + offset) % len(VALUES)]
        if (n + offset) % 11:  # now and then the key is missing altogether
            child[key] = value
    if n % 5:
        child["siblings"] = [] if n % 2 else [{"sibling_id": "S-1"}]
    return {
        "record_id": f"R-{n:04d}",
        "worker": f"SW-{n % 9}" if n % 13 else None,
        "team": ("Hub", "CLA", None)[n % 3],
        "case_type": "child_protection",
        "child": child,
        # About 1 KB of notes per record, so a few hundred records span several chunks.
        "notes": [{"note_id": "N1", "text": f"Visit {n}. " + "I saw the child at home. " * 40}],
    }


def _write_input(path: Path, count: int, start: int = 1) -> Path:
    """Records with bad lines interleaved: invalid JSON, an empty line, a wrong type,
    and duplicates of earlier ids (within this file and, via `start`, of another file)."""
    lines = []
    for n in range(start, start + count):
        lines.append(json.dumps(_record(n)))
        if n % 97 == 0:
            lines.append("{not json")
        if n % 151 == 0:
            lines.append("")
        if n % 83 == 0:
            bad = _record(n + 100_000)
            bad["case_type"] = 7
            lines.append(json.dumps(bad))
        if n % 61 == 0:
            lines.append(json.dumps(_record(n - 30)))  # a duplicate id, later in the input
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pack():
    return load_pack(PACK)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("parallel")
    first = _write_input(folder / "first.jsonl", 700)
    # The second file repeats ids of the first (R-0650 … R-0710 overlap).
    second = _write_input(folder / "second.jsonl", 200, start=650)
    return [first, second]


def _json_body(audit, out: Path) -> list[str]:
    """audit.json without its metadata block (the only part allowed to differ)."""
    write_json(audit, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith('"metadata"')
    return lines[:1] + lines[2:]


def test_two_jobs_write_byte_identical_audit_json(pack, inputs, tmp_path: Path) -> None:
    one = run_audit(inputs, pack, jobs=1)
    two = run_audit(inputs, pack, jobs=2)
    body_one = _json_body(one, tmp_path / "one.json")
    body_two = _json_body(two, tmp_path / "two.json")
    assert body_one == body_two

    doc = json.loads((tmp_path / "two.json").read_text(encoding="utf-8"))
    # Every input line is accounted for, in input order.
    total_lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in inputs)
    assert doc["summary"]["records_in"] == total_lines
    assert len(doc["records"]) + len(doc["rejected"]) == total_lines
    assert [r["record_id"] for r in doc["records"]] == [r.record_id for r in one.records]
    sources = [r["source"] for r in doc["records"]]
    assert sources == sorted(
        sources, key=lambda s: (s.split(":")[0] != inputs[0].as_posix(), int(s.rsplit(":", 1)[1]))
    )


def test_rejections_keep_their_place_and_first_id_wins(pack, inputs) -> None:
    audit = run_audit(inputs, pack, jobs=2)
    rejected = list(audit.rejected)
    first, second = (p.as_posix() for p in inputs)
    # Rejections are listed in input order: file by file, line by line.
    keys = [
        (r.source.rsplit(":", 1)[0] != first, int(r.source.rsplit(":", 1)[1])) for r in rejected
    ]
    assert keys == sorted(keys)
    kinds = {r.error.split(" ", 1)[0] for r in rejected}
    assert {"invalid", "empty", "case_type:", "record_id:"} <= kinds
    # A duplicate inside the second file that also repeats an id of the first file names
    # the first file's line: the first occurrence across all inputs is the one kept.
    dupes = [r for r in rejected if r.error.startswith("record_id: duplicate")]
    across = [r for r in dupes if r.source.startswith(second) and f"first at {first}:" in r.error]
    assert across, "ids repeated from the first file must be rejected in the second"
    kept = {r.record_id for r in audit.records}
    assert len(kept) == len(audit.records)  # no id audited twice
    assert all(r.record_id in kept for r in dupes)


def test_worker_processes_really_run_and_order_is_kept(pack, inputs) -> None:
    items = list(JsonSource(inputs[0]).raw_items())
    expected = list(evaluate_stream(items, pack, jobs=1))
    stream = evaluate_stream(items, pack, jobs=2, chunk_items=7)
    # The first chunk is evaluated in this process (warming the context up); the pool
    # runs while the following chunks' results are being consumed.
    got = [next(stream) for _ in range(8)]
    assert len(multiprocessing.active_children()) >= 2
    got.extend(stream)
    assert got == expected
    assert [type(x.outcome) for x in got].count(Rejection) > 10


def test_byte_ranges_read_by_workers_give_what_lines_give_in_process(pack, inputs) -> None:
    source = JsonSource(inputs[0])
    ranges = list(source.ranges(2))
    assert len(ranges) > 3 and all(isinstance(r, LineRange) for r in ranges)
    assert list(evaluate_stream(ranges, pack, jobs=2, privacy=True)) == list(
        evaluate_stream(source.raw_items(), pack, jobs=1, privacy=True)
    )


def test_the_parent_warms_up_only_until_every_rule_has_run(pack, inputs) -> None:
    # Forked workers inherit what the parent built for the rules on first use, so the
    # parent evaluates records until each rule has met (or partly met) once, then forks.
    before = set(multiprocessing.active_children())
    stream = evaluate_stream(JsonSource(inputs[0]).ranges(2), pack, jobs=2)
    cold = {rule.id for rule in pack.rules}
    evaluated_here = 0
    while cold:
        done = next(stream)
        evaluated_here += 1
        assert set(multiprocessing.active_children()) == before
        if isinstance(done.outcome, Scored):
            cold -= {r.rule_id for r in done.outcome.outcomes if r.outcome in ("met", "partial")}
    next(stream)
    assert len(set(multiprocessing.active_children()) - before) == 2
    assert 1 < evaluated_here < 30
    stream.close()


def test_small_input_runs_in_process(pack, inputs) -> None:
    items = list(JsonSource(inputs[0]).raw_items())[:20]
    before = set(multiprocessing.active_children())
    stream = evaluate_stream(items, pack, jobs=4)
    next(stream)
    assert set(multiprocessing.active_children()) == before
    assert len(list(stream)) == 19


def _scored(source: str, rid: str) -> Scored:
    return Scored(source, rid, None, None, (), b"{}")


def test_duplicates_are_judged_after_evaluation_like_before_it() -> None:
    failed = Failed("B", Rejection("f:2", "B", "rule 'x' could not be evaluated"))
    items = [
        _scored("f:1", "A"),
        failed,  # a valid record whose rule failed still claims its id
        Rejection("f:3", None, "invalid JSON"),
        None,  # a notice: findings only
        _scored("f:4", "B"),
        _scored("f:5", "A"),
        _scored("f:6", "C"),
    ]
    out = [d.outcome for d in reject_duplicates(Done(item) for item in items)]
    assert out == [
        items[0],
        failed.rejection,
        items[2],
        None,
        Rejection("f:4", "B", "record_id: duplicate 'B' (first at f:2)"),
        Rejection("f:5", "A", "record_id: duplicate 'A' (first at f:1)"),
        items[6],
    ]


def test_raw_lines_and_parsed_records_give_the_same_results(pack, inputs) -> None:
    raw = list(JsonSource(inputs[0]).raw_items())
    assert all(isinstance(item, RawLine | Rejection) for item in raw)
    parsed = list(JsonSource(inputs[0]).items())
    assert list(evaluate_stream(raw, pack, jobs=2, chunk_items=50)) == list(
        evaluate_stream(parsed, pack, jobs=1)
    )


def test_cli_jobs_option_gives_the_same_audit(inputs, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    bodies = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "recaudit",
                "audit",
                *map(str, inputs),
                "--rules",
                str(PACK),
                "--out",
                str(out),
                "--jobs",
                jobs,
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        lines = (out / "audit.json").read_text(encoding="utf-8").splitlines()
        bodies.append(lines[:1] + lines[2:])
    assert bodies[0] == bodies[1]


def test_reports_written_concurrently_are_the_same_files(pack, inputs, tmp_path: Path) -> None:
    from recaudit.audit import write_reports

    audit = run_audit(inputs[1:], pack, jobs=1)
    one = write_reports(audit, tmp_path / "one", jobs=1)
    two = write_reports(audit, tmp_path / "two", jobs=2)
    assert (
        [p.name for p in one]
        == [p.name for p in two]
        == [
            "audit.json",
            "audit.xlsx",
            "audit.html",
        ]
    )
    for a, b in zip(one, two, strict=True):
        if a.suffix == ".json":  # only the metadata block (generated_at) may differ
            assert _json_lines(a)[2:] == _json_lines(b)[2:]
        else:
            assert a.read_bytes() == b.read_bytes(), a.name


def _json_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("cannot pickle this")


def _raise_unpicklable() -> None:
    raise _Unpicklable("workbook failed")


def test_forked_call_returns_or_reraises() -> None:
    from recaudit.parallel import ForkedCall, can_fork

    if not can_fork():
        pytest.skip("needs the fork start method")
    parent = os.getpid()
    assert ForkedCall(os.getpid).result() != parent
    with pytest.raises(ZeroDivisionError):
        ForkedCall(lambda: 1 / 0).result()
    with pytest.raises(RuntimeError, match="workbook failed"):
        ForkedCall(_raise_unpicklable).result()


def test_privacy_findings_keep_their_order_with_workers(pack, tmp_path: Path) -> None:
    lines = []
    for n in range(1, 601):
        record = _record(n)
        if n % 50 == 0:  # a residual e-mail address and a postcode in a note
            record["notes"][0]["text"] += f" Contact mum{n}@example.com at CF10 {n % 9}AB."
        if n % 120 == 0:  # an identifying extra key; this line also fails validation
            record["child_dob"] = "2012-03-04"
            record["case_type"] = "unknown"
        lines.append(json.dumps(record))
    path = tmp_path / "privacy.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = run_audit([path], pack, jobs=1)
    two = run_audit([path], pack, jobs=2)
    assert one.privacy == two.privacy
    kinds = [f.kind for f in one.privacy]
    assert kinds.count("email") == 12 and kinds.count("identifying_field") == 5
    lines_seen = [int(f.source.rsplit(":", 1)[1]) for f in one.privacy]
    assert lines_seen == sorted(lines_seen)
    assert len(one.rejected) == 5  # the guard also read the records that were rejected
