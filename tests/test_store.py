"""The disk-backed result store behind `Audit.records` / `Audit.rejected`."""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
from pathlib import Path

import pytest

from recaudit.records import Rejection
from recaudit.results import CueHit, Evidence, RecordResult, RuleResult
from recaudit.store import Store, rejection_store, result_store


def _record(n: int, text: str = 'She said "I like it at Nan\'s".') -> RecordResult:
    evidence = Evidence(
        note_id="N1",
        start=3,
        end=3 + len(text),
        text=text,
        note_date=dt.date(2023, 2, 8),
        sentence=f"Visit. {text}",
        sentence_start=0,
    )
    return RecordResult(
        record_id=f"R-{n}",
        source=f"records.jsonl:{n}",
        worker=None if n % 3 == 0 else f"SW-{n % 7}",
        team="Safeguarding Hub",
        case_type="child_protection",
        score=round(2 / 3, 6),
        grade="Adequate",
        results=(
            RuleResult(
                rule_id="voice-of-child",
                outcome="met",
                reason="child's own words recorded in N1",
                evidence=(evidence,),
                cues=(CueHit(category="declined", text="declined", note_id="N1", start=0, end=8),),
            ),
            RuleResult(rule_id="religion-recorded", outcome="not_met", reason="missing"),
        ),
    )


def test_results_come_back_equal_and_in_order() -> None:
    store = result_store()
    originals = [_record(n) for n in range(1, 501)]
    for record in originals:
        store.append(record)
    assert len(store) == 500
    assert list(store) == originals
    # Re-iterable: a second pass reads the same items again.
    assert [r.record_id for r in store] == [r.record_id for r in originals]


def test_untrusted_text_round_trips_exactly() -> None:
    awkward = 'Line one\nline two\r\n\t"quoted" \\ \u2028 Dw i\'n hoffi — 🙂 \x00 =SUM(A1)'
    store = result_store()
    store.append(_record(1, awkward))
    (back,) = list(store)
    assert back == _record(1, awkward)
    assert back.results[0].evidence[0].text == awkward


def test_rejections_round_trip() -> None:
    store = rejection_store()
    items = [
        Rejection("a.jsonl:3", None, "invalid JSON at column 1: Expecting value"),
        Rejection("a.jsonl:9", "R-9", "record_id: duplicate 'R-9' (first at a.jsonl:2)"),
    ]
    store.extend(items)
    assert list(store) == items
    assert bool(store) and len(store) == 2


def test_empty_store_touches_no_disk_and_is_falsy(tmp_path: Path) -> None:
    store = result_store(directory=tmp_path)
    assert len(store) == 0
    assert not store
    assert list(store) == []
    assert list(tmp_path.iterdir()) == []


def test_iteration_sees_the_items_present_when_it_started() -> None:
    store = Store(str.encode, bytes.decode)
    store.extend(["a", "b"])
    seen = []
    for item in store:
        seen.append(item)
        store.append(item + "!")
    assert seen == ["a", "b"]
    assert list(store) == ["a", "b", "a!", "b!"]


def test_items_larger_than_a_read_block() -> None:
    big = "x" * (3 * 1024 * 1024 + 17)
    store = Store(str.encode, bytes.decode)
    store.extend(["small", big, "", "last"])
    assert list(store) == ["small", big, "", "last"]


def test_an_encoded_item_must_be_one_line() -> None:
    store = Store(str.encode, bytes.decode)
    with pytest.raises(ValueError, match="single line"):
        store.append("two\nlines")
    assert len(store) == 0


def test_file_is_removed_on_close_and_on_garbage_collection(tmp_path: Path) -> None:
    store = result_store(directory=tmp_path)
    store.append(_record(1))
    (path,) = tmp_path.iterdir()
    store.close()
    assert not path.exists()
    with pytest.raises(ValueError, match="closed"):
        list(store)

    other = result_store(directory=tmp_path)
    other.append(_record(2))
    assert len(list(tmp_path.iterdir())) == 1
    del other
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def _drop_store_in_child(store: Store[RecordResult]) -> None:
    # What a forked worker might do: let go of its copy of the store.
    store.close()
    del store
    gc.collect()


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_a_forked_child_never_deletes_or_corrupts_the_parents_file(tmp_path: Path) -> None:
    store = result_store(directory=tmp_path)
    store.append(_record(1))
    child = multiprocessing.get_context("fork").Process(target=_drop_store_in_child, args=(store,))
    child.start()
    child.join()
    assert child.exitcode == 0
    store.append(_record(2))
    assert [r.record_id for r in store] == ["R-1", "R-2"]
    (path,) = tmp_path.iterdir()
    assert path.stat().st_size == sum(len(line) + 1 for line in store.encoded())
    store.close()
    assert not path.exists()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_command_leaves_no_temporary_files(tmp_path: Path, jobs: str) -> None:
    # `recaudit.cli.main` freezes the collector as the process ends (a faster shutdown), so
    # nothing left in a reference cycle is collected then: the stores, spools and workbook
    # parts in the temporary folder must be removed all the same.
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "TMPDIR": str(temp)}
    done = subprocess.run(
        [sys.executable, "-m", "recaudit", "audit", str(repo / "samples" / "records.jsonl"),
         "--out", str(tmp_path / "out"), "--jobs", jobs, "--per-worker"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "audit.xlsx").is_file()
    assert list(temp.iterdir()) == []
