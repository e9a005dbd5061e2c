"""Safe file names from untrusted worker/team ids (shared by the Excel and HTML reports)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudit.report.filenames import (
    EMPTY_STEM,
    MAX_STEM_BYTES,
    safe_filename,
    unique_filenames,
)

RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in range(10)
}
SAFE = re.compile(r"^[\w][\w.-]*$")


def assert_safe(stem: str, max_bytes: int = MAX_STEM_BYTES) -> None:
    assert stem and SAFE.match(stem), stem
    assert "/" not in stem and "\\" not in stem and ".." not in stem
    assert not stem.startswith((".", "-")) and not stem.endswith((".", " "))
    assert stem.split(".")[0].upper() not in RESERVED
    assert len(stem.encode("utf-8")) <= max_bytes
    assert all(ch.isprintable() for ch in stem)


@pytest.mark.parametrize(
    "name",
    ["../../x", "..", ".", "CON", "con", "Con.txt", "NUL", "COM1", "LPT9", "COM¹", "ＣＯＮ",
     "a/b", "a\\b", "", "   ", "\x00\x01", "-rf", "x\ny", "C:\\Windows", "con .txt",
     "a" * 500, "é" * 300, "😀" * 100, "a:b*c?d\"e<f>g|h"],
)  # fmt: skip
def test_hostile_names_give_safe_stems(name: str) -> None:
    assert_safe(safe_filename(name))


def test_plain_names_are_kept_as_they_are() -> None:
    for name in ("SW-01", "Team_A", "Siân", "w.smith"):
        assert safe_filename(name) == name


def test_changed_names_get_a_deterministic_hash_suffix() -> None:
    assert safe_filename("a/b") == safe_filename("a/b")
    assert re.fullmatch(r"a_b-[0-9a-f]{8}", safe_filename("a/b"))
    # Two names that sanitise alike stay apart.
    assert safe_filename("a/b") != safe_filename("a\\b")
    assert safe_filename("../../x").startswith("x-")
    assert safe_filename("CON").startswith("_CON-")
    assert safe_filename("").startswith(EMPTY_STEM + "-")


def test_long_names_are_bounded_in_bytes() -> None:
    stem = safe_filename("ŵ" * 400, max_bytes=40)
    assert len(stem.encode("utf-8")) <= 40
    assert stem.startswith("ŵ")


def test_unique_filenames_separates_case_only_and_crafted_clashes() -> None:
    crafted = safe_filename("../../x")  # an unchanged name equal to another's result
    names = ["Alice", "alice", "../../x", crafted, "Bob"]
    stems = unique_filenames(names)
    assert set(stems) == set(names)
    folded = [s.casefold() for s in stems.values()]
    assert len(set(folded)) == len(folded)
    assert stems["Bob"] == "Bob"
    # Order does not matter.
    assert unique_filenames(reversed(names)) == stems


def test_stems_create_files_inside_the_folder(tmp_path: Path) -> None:
    names = ["../../x", "CON", "a/b", "", "..", "/etc/passwd"]
    for name, stem in unique_filenames(names).items():
        target = tmp_path / f"{stem}.xlsx"
        target.write_text(name or "empty", encoding="utf-8")
        assert target.resolve().parent == tmp_path.resolve()
    assert len(list(tmp_path.iterdir())) == len(names)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_safe_stem(name: str) -> None:
    stem = safe_filename(name)
    assert_safe(stem)
    assert safe_filename(name) == stem


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="aA./\\-_ ＡCON1", max_size=6), max_size=12))
def test_unique_filenames_never_clash(names: list[str]) -> None:
    stems = unique_filenames(names)
    folded = [s.casefold() for s in stems.values()]
    assert len(set(folded)) == len(folded)
    for stem in stems.values():
        assert_safe(stem)
