"""`recaudit rules ...` end to end through the real CLI (typer's runner, real files)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from recaudit.cli import rules_app
from recaudit.rulepack import listcache

REPO = Path(__file__).resolve().parents[1]
PACKS = REPO / "tests" / "fixtures" / "packs"
BASE = PACKS / "fields-base"
runner = CliRunner()


# `rules list` records listings: every test here keeps them out of the user's cache.
pytestmark = pytest.mark.usefixtures("listing_cache")


def run(*args: str):
    return runner.invoke(rules_app, list(args))


def test_validate_reports_every_error_and_exits_2() -> None:
    result = run("validate", str(PACKS / "broken"))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if ": error: " in line]
    assert [line.split(": error: ")[0] for line in lines] == [
        "broken/rules/local.yaml:6:3",
        "broken/rules/local.yaml:12:3",
        "broken/rules/local.yaml:18:3",
        "broken/pack.yaml:9:3",
    ]


def test_validate_ok() -> None:
    result = run("validate", str(BASE))
    assert result.exit_code == 0, result.output
    assert "fields-base 1.0.0: 4 rule(s) OK" in result.output


def test_list_formats() -> None:
    as_csv = run("list", str(BASE), "--format", "csv")
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [r["id"] for r in rows][:2] == ["siblings-recorded", "ethnicity-recorded"]
    assert rows[1]["identity"].startswith("sha256:")
    as_json = json.loads(run("list", str(BASE), "--format", "json").output)
    assert as_json["pack"]["name"] == "fields-base" and len(as_json["rules"]) == 4
    table = run("list", str(BASE))
    assert table.exit_code == 0 and "religion-recorded" in table.output
    assert run("list", str(BASE), "--format", "xml").exit_code == 2


def test_show_and_show_pack(tmp_path: Path) -> None:
    shown = run("show", "ethnicity-recorded", "--rules", str(BASE))
    assert shown.exit_code == 0
    definition = yaml.safe_load(shown.output)
    assert definition["field"] == "child.ethnicity"
    assert definition["lexicons_used"] == ["placeholders"]
    assert run("show", "nope", "--rules", str(BASE)).exit_code == 2

    shutil.copytree(BASE, tmp_path / "fields-base")
    local = tmp_path / "local"
    local.mkdir()
    (local / "pack.yaml").write_text(
        "name: local\nversion: '1'\nextends: [../fields-base]\n"
        "overrides:\n  religion-recorded: {enabled: false}\n  ethnicity-recorded: {weight: 2}\n"
    )
    resolved = yaml.safe_load(run("show-pack", str(local)).output)
    assert resolved["extends"] == ["fields-base 1.0.0"]
    assert resolved["disabled"] == ["religion-recorded"]
    weights = {r["id"]: r["weight"] for r in resolved["rules"]}
    assert weights == {
        "siblings-recorded": 1.0,
        "ethnicity-recorded": 2.0,
        "language-recorded": 1.0,
    }


def test_rules_test_passes_and_counts() -> None:
    result = run("test", str(BASE))
    assert result.exit_code == 0, result.output
    assert "21 expectation(s) passed" in result.output


def test_rules_test_failure_and_unknown_rule(tmp_path: Path) -> None:
    pack = shutil.copytree(BASE, tmp_path / "p")
    (pack / "tests" / "wrong.yaml").write_text(
        "defaults: {case_type: early_help}\n"
        "cases:\n"
        "  - name: wrong expectation\n"
        "    record: {child: {ethnicity: WBRI}}\n"
        "    expect: {ethnicity-recorded: not_met}\n"
    )
    failed = run("test", str(pack))
    assert failed.exit_code == 1
    assert "p/tests/wrong.yaml:5:14: FAIL ethnicity-recorded in 'wrong expectation'" in (
        failed.output.replace("\n", " ")
    )
    (pack / "tests" / "wrong.yaml").write_text(
        "cases:\n"
        "  - name: unknown rule\n"
        "    record: {case_type: early_help}\n"
        "    expect: {ethnicity-recordd: met}\n"
    )
    unknown = run("test", str(pack))
    assert unknown.exit_code == 2
    assert "p/tests/wrong.yaml:4:14: error: expect: unknown rule 'ethnicity-recordd'" in (
        unknown.output.replace("\n", " ")
    )


def test_init_scaffolds_a_pack_whose_tests_pass(tmp_path: Path) -> None:
    dest = tmp_path / "my-council"
    result = run("init", "my-council", "--extends", str(BASE), "--dir", str(dest))
    assert result.exit_code == 0, result.output
    assert (dest / "pack.yaml").is_file() and (dest / "tests" / "ethnicity-coded.yaml").is_file()
    tested = run("test", str(dest))
    assert tested.exit_code == 0, tested.output
    assert "4 expectation(s) passed" in tested.output
    assert run("init", "my-council", "--extends", str(BASE), "--dir", str(dest)).exit_code == 2


def test_rules_list_does_not_import_spacy() -> None:
    code = (
        "import sys; from recaudit.cli import rules_app\n"
        "try:\n    rules_app(['list', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "print('SPACY' if 'spacy' in sys.modules else 'NO-SPACY')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(BASE)],
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": str(REPO / "src"),
            "PATH": "/usr/bin:/bin",
            "COLUMNS": "200",
            "RECAUDIT_CACHE_DIR": os.environ["RECAUDIT_CACHE_DIR"],
        },
        check=True,
    )
    assert out.stdout.strip().endswith("NO-SPACY")


# --------------------------------------------------------------------------- recorded listings
# `rules list` records the listing of a pack that loaded cleanly and reuses it while the
# pack's files, where its `extends` lead, and recaudit are unchanged (rulepack/listcache.py).


def _local_pack(tmp_path: Path, extends: str = "../fields-base") -> Path:
    """A pack extending a copy of fields-base, with one override, beside it in tmp_path."""
    if not (tmp_path / "fields-base").exists():
        shutil.copytree(BASE, tmp_path / "fields-base")
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    (local / "pack.yaml").write_text(
        f"name: local\nversion: '1'\nextends: [{extends}]\n"
        "overrides:\n  religion-recorded: {enabled: false}\n  ethnicity-recorded: {weight: 2}\n"
    )
    return local


def _listings(*args: str) -> dict[str, str]:
    outputs = {}
    for fmt in ("table", "csv", "json"):
        result = run("list", *args, "--format", fmt)
        assert result.exit_code == 0, result.output
        outputs[fmt] = result.output
    return outputs


def _records(folder: Path) -> list[Path]:
    return sorted(folder.glob("listing-*.json"))


@pytest.mark.parametrize("which", ["fields-base", "local", "wales-children-timescales"])
def test_a_recorded_listing_prints_exactly_what_loading_prints(
    which: str, tmp_path: Path, listing_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = {"fields-base": str(BASE), "local": str(_local_pack(tmp_path))}.get(which, which)
    monkeypatch.setenv("RECAUDIT_NO_CACHE", "1")
    loaded = _listings(pack)
    assert not _records(listing_cache)
    monkeypatch.delenv("RECAUDIT_NO_CACHE")
    first = _listings(pack)
    assert len(_records(listing_cache)) == 1
    assert _listings(pack) == first == loaded


def _tamper(record: Path) -> None:
    """Change a title inside a record, so that a test can see whether it was used."""
    document = json.loads(record.read_text(encoding="utf-8"))
    document["listing"]["rules"][0]["title"] = "FROM THE RECORD"
    record.write_text(json.dumps(document), encoding="utf-8")


def test_the_record_is_used_until_a_file_of_the_pack_or_its_base_changes(
    tmp_path: Path, listing_cache: Path
) -> None:
    local = _local_pack(tmp_path)
    assert "FROM THE RECORD" not in run("list", str(local), "--format", "csv").output
    [record] = _records(listing_cache)
    _tamper(record)
    assert "FROM THE RECORD" in run("list", str(local), "--format", "csv").output  # reused

    rules = tmp_path / "fields-base" / "rules" / "demographics.yaml"
    rules.write_text(rules.read_text().replace("Siblings recorded", "Siblings listed"))
    listed = run("list", str(local), "--format", "csv").output
    assert "FROM THE RECORD" not in listed and "Siblings listed" in listed

    _tamper(record)
    (local / "notes.txt").write_text("any file of the pack counts, as in its sha256\n")
    assert "FROM THE RECORD" not in run("list", str(local), "--format", "csv").output

    _tamper(record)  # a changed lexicon changes identities, so it must not be missed either
    lexicon = tmp_path / "fields-base" / "lexicons" / "placeholders.yaml"
    before = run("list", str(local), "--format", "json").output
    lexicon.write_text(lexicon.read_text() + "  - tbc\n")
    after = json.loads(run("list", str(local), "--format", "json").output)
    assert after["rules"] != json.loads(before)["rules"]
    assert "FROM THE RECORD" not in json.dumps(after)


def test_the_record_is_not_used_when_extends_leads_elsewhere(
    tmp_path: Path, listing_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `extends: [fields-base]` is looked up inside the pack's folder, then as a path from the
    # working directory, then among shipped packs: what it finds can change with no edit.
    for here, title in (("a", "Siblings (a)"), ("b", "Siblings (b)")):
        rules = shutil.copytree(BASE, tmp_path / here / "fields-base") / "rules"
        text = (rules / "demographics.yaml").read_text()
        (rules / "demographics.yaml").write_text(text.replace("Siblings recorded", title))
    local = _local_pack(tmp_path / "packs", extends="fields-base")
    shutil.rmtree(tmp_path / "packs" / "fields-base")

    monkeypatch.chdir(tmp_path / "a")
    assert "Siblings (a)" in run("list", str(local), "--format", "csv").output
    _tamper(_records(listing_cache)[0])
    assert "FROM THE RECORD" in run("list", str(local), "--format", "csv").output
    monkeypatch.chdir(tmp_path / "b")
    listed = run("list", str(local), "--format", "csv").output
    assert "FROM THE RECORD" not in listed and "Siblings (b)" in listed


def test_a_pack_that_became_invalid_is_reported_not_listed(
    tmp_path: Path, listing_cache: Path
) -> None:
    local = _local_pack(tmp_path)
    assert run("list", str(local)).exit_code == 0
    assert _records(listing_cache)
    rules = tmp_path / "fields-base" / "rules" / "demographics.yaml"
    rules.write_text(rules.read_text().replace("  weight: 1\n", "  weigth: 1\n", 1))
    result = run("list", str(local))
    assert result.exit_code == 2
    assert "unknown key 'weigth'" in result.output
    assert "error: invalid rule pack (3 problem(s))" in result.output  # and what follows


def test_an_invalid_pack_is_never_recorded(listing_cache: Path) -> None:
    for _ in range(2):
        result = run("list", str(PACKS / "broken"), "--format", "csv")
        assert result.exit_code == 2
        assert "invalid rule pack (4 problem(s))" in result.output
    assert not _records(listing_cache)


def test_a_broken_record_or_cache_folder_only_costs_a_reload(
    tmp_path: Path, listing_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = run("list", str(BASE), "--format", "csv").output
    [record] = _records(listing_cache)
    for garbage in ("{not json", "[]", json.dumps({"format": 1}), ""):
        record.write_text(garbage, encoding="utf-8")
        assert run("list", str(BASE), "--format", "csv").output == expected
        assert json.loads(record.read_text(encoding="utf-8"))["format"] == listcache.FORMAT

    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("RECAUDIT_CACHE_DIR", str(not_a_folder))
    result = run("list", str(BASE), "--format", "csv")
    assert result.exit_code == 0 and result.output == expected


def test_recording_can_be_turned_off_and_is_bounded(
    tmp_path: Path, listing_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECAUDIT_NO_CACHE", "1")
    assert run("list", str(BASE)).exit_code == 0
    assert not listing_cache.exists()
    monkeypatch.delenv("RECAUDIT_NO_CACHE")

    monkeypatch.setattr(listcache, "MAX_ENTRIES", 2)
    for name in ("a", "b", "c"):
        assert run("list", str(shutil.copytree(BASE, tmp_path / name))).exit_code == 0
    kept = _records(listing_cache)
    assert len(kept) == 2
    roots = {json.loads(p.read_text(encoding="utf-8"))["root"] for p in kept}
    assert roots == {str(tmp_path / "b"), str(tmp_path / "c")}


def test_the_fingerprint_covers_recaudits_own_code() -> None:
    source = Path(listcache.__file__).resolve().parents[1] / "rulepack" / "schema.py"
    before = listcache.environment()
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert listcache.environment() != before
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert listcache.environment() == before


def test_the_library_reads_records_but_only_the_cli_writes_them(listing_cache: Path) -> None:
    from recaudit.rulepack.commands import pack_listing

    loaded = pack_listing(BASE)
    assert not _records(listing_cache)  # this process imported the loader long ago
    assert run("list", str(BASE)).exit_code == 0
    assert len(_records(listing_cache)) == 1
    assert pack_listing(BASE) == loaded
