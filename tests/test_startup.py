"""Commands that need no text analysis must not import spaCy (it alone takes about a second).

A behavioural check on what gets imported, not a timing test: start-up time is measured in
`benchmarks/run.py`.
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


def _imported_modules(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m recaudit ARGS` and list every module it imported."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])
        ),
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
