"""Commands that need no text analysis must not import spaCy (it alone takes about a second),
and `--help` and a recorded `rules list` must not even import the pack loader (issue 8).

A behavioural check on what gets imported, not a timing test: start-up time is measured in
`benchmarks/startup.py` and `benchmarks/run.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("spacy", "thinc", "openpyxl", "jinja2")
# What loading a pack needs and a recorded listing does not (~150 ms between them).
PACK_LOADING = (
    "yaml",
    "packaging",
    "recaudit.rulepack.loader",
    "recaudit.rulepack.schema",
    "recaudit.kinds",
    "recaudit.records",
)


# `rules list` records listings: every test here keeps them out of the user's cache.
pytestmark = pytest.mark.usefixtures("listing_cache")


def _imported_modules(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m recaudit ARGS` and list every module it imported."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])
        ),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "recaudit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    return done, modules


def _top_level(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


def test_importtime_output_is_understood() -> None:
    # Guards the check below: the parser must see the modules that *are* imported.
    done, modules = _imported_modules("--help")
    assert done.returncode == 0, done.stderr
    assert {"recaudit", "recaudit.cli", "typer"} <= modules


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("audit", "--help"), ("rules", "list")],
    ids=lambda a: " ".join(a),
)
def test_light_commands_do_not_import_heavy_libraries(args: tuple[str, ...]) -> None:
    done, modules = _imported_modules(*args)
    if done.returncode == 2 and "No such command" in done.stderr:
        pytest.skip(f"`recaudit {' '.join(args)}` does not exist yet")
    assert done.returncode == 0, done.stderr
    assert not _top_level(modules) & set(HEAVY), sorted(_top_level(modules) & set(HEAVY))


@pytest.mark.parametrize("args", [("--help",), ("--version",)], ids=lambda a: " ".join(a))
def test_help_and_version_import_neither_rich_nor_pydantic(args: tuple[str, ...]) -> None:
    done, modules = _imported_modules(*args)
    assert done.returncode == 0, done.stderr
    loaded = _top_level(modules) & {"rich", "pydantic", "yaml"}
    assert not loaded, sorted(loaded)
    assert "recaudit.rulepack" not in modules


def _pack_loading(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith(PACK_LOADING)}


@pytest.mark.parametrize("pack", ["wales-children", "wales-children-timescales"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_recorded_listing_prints_without_loading_the_pack(
    pack: str, fmt: str, listing_cache: Path
) -> None:
    first, first_modules = _imported_modules("rules", "list", pack, "--format", fmt)
    assert first.returncode == 0, first.stderr
    # The first listing loads and checks the pack (this is what the check below rules out).
    assert {"recaudit.rulepack.loader", "recaudit.kinds", "yaml"} <= first_modules
    assert list(listing_cache.glob("listing-*.json")), "nothing was recorded"

    again, modules = _imported_modules("rules", "list", pack, "--format", fmt)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert not _pack_loading(modules), sorted(_pack_loading(modules))
    assert not _top_level(modules) & set(HEAVY)
    # typer would coerce the arguments through pydantic (~110 ms): recaudit.plainparams.
    assert "pydantic" not in _top_level(modules)
    assert ("rich" in _top_level(modules)) == (fmt == "table")


def test_an_invalid_pack_is_loaded_every_time(tmp_path: Path, listing_cache: Path) -> None:
    pack = _pack_with_a_bad_term(tmp_path)
    (pack / "rules" / "demographics.yaml").write_text("- id: x\n  kind: nope\n  title: X\n")
    for _ in range(2):
        done, modules = _imported_modules("rules", "list", str(pack))
        assert done.returncode == 2, done.stderr
        assert "unknown rule kind 'nope'" in done.stderr
        assert "recaudit.rulepack.loader" in modules
    assert not list(listing_cache.glob("listing-*.json"))


def _pack_with_a_bad_term(tmp_path: Path) -> Path:
    """The shipped default pack with one invalid regex term in a text rule's lexicon."""
    pack = shutil.copytree(REPO / "rules" / "wales-children", tmp_path / "pack")
    lexicon = pack / "lexicons" / "advocacy.yaml"
    text = lexicon.read_text(encoding="utf-8")
    assert "advocacy_terms:\n" in text
    lexicon.write_text(
        text.replace("advocacy_terms:\n", "advocacy_terms:\n  - {regex: 'advoca(cy'}\n", 1),
        encoding="utf-8",
    )
    return pack


def test_listing_skips_term_checks_that_validate_and_audit_keep(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recaudit.cli import app
    from recaudit.rulepack import PackError, load_pack

    pack = _pack_with_a_bad_term(tmp_path)
    with pytest.raises(PackError) as caught:
        load_pack(pack)
    assert "invalid regex" in str(caught.value.problems[0])
    assert "advocacy_terms" in str(caught.value.problems[0])
    assert load_pack(pack, check_terms=False).rule("advocacy-active-offer") is not None

    runner = CliRunner()
    listed = runner.invoke(app, ["rules", "list", str(pack), "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert "advocacy-active-offer" in listed.output
    validated = runner.invoke(app, ["rules", "validate", str(pack)])
    assert validated.exit_code != 0
    assert "invalid regex" in validated.output
    audited = runner.invoke(
        app, ["audit", str(REPO / "samples" / "records.jsonl"), "--rules", str(pack), "--out",
              str(tmp_path / "out")],
    )  # fmt: skip
    assert audited.exit_code != 0
    assert "invalid regex" in audited.output


def test_audit_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    # rich is imported on first print (cli._LazyConsole); the progress display must still
    # get a real Console when stderr is a terminal (here a pseudo-terminal).
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "100"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "recaudit", "audit", str(REPO / "samples" / "records.jsonl"),
             "--out", str(tmp_path / "out"), "--format", "json", "--jobs", "1"],
            stdout=subprocess.PIPE, stderr=follower, env=env, timeout=300, text=True,
        )  # fmt: skip
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 0
    assert "Service score" in done.stdout
    assert (tmp_path / "out" / "audit.json").is_file()
