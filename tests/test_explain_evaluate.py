"""`recaudit explain` and `recaudit evaluate`: the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recaudit.cli import app
from recaudit.evaluate import cohens_kappa, compare, evaluate_files, load_gold
from recaudit.explain import explain_record, find_record
from recaudit.rulepack import load_pack

RECORDS = [
    {
        "record_id": "R1",
        "case_type": "child_protection",
        "child": {"age_years": 9},
        "carers": [{"carer_id": "C1"}],
        "notes": [
            {
                "note_id": "N1",
                "text": "Advocacy was not discussed. Child A told me she likes school.",
            },
            {
                "note_id": "N2",
                "text": "I explained advocacy to Child A. Child A declined an advocate.",
            },
        ],
    },
    {
        "record_id": "R2",
        "case_type": "care_leaver",
        "child": {"age_years": 18},
        "notes": [{"note_id": "N1", "text": "Mum was offered an advocate. I will offer advocacy."}],
    },
]
GOLD = [
    ("R1", "advocacy-active-offer", "met"),
    ("R1", "voice-of-child", "met"),
    ("R1", "carers-assessment-offer", "met"),  # the tool says not_met
    ("R2", "advocacy-active-offer", "not_met"),
    ("R2", "voice-of-child", "not_met"),
    ("R3", "voice-of-child", "met"),  # no such record
]


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps({"record_id": a, "rule_id": b, "outcome": c, "why": ""}) for a, b, c in GOLD
        )
        + "\n",
        encoding="utf-8",
    )
    return records, gold


def test_explain_api_gives_evidence_and_near_misses(files) -> None:
    records, _ = files
    pack = load_pack("wales-children")
    explanation = explain_record(find_record([records], "R1"), pack, "advocacy-active-offer")
    (item,) = explanation.rules
    assert item.outcome == "met"
    assert item.evidence[0].note_id == "N2"
    assert "declined" in {c.category for c in item.cues}
    assert any(
        m.note_id == "N1" and any("negated" in w for w in m.why_not) for m in item.near_misses
    )


def test_evaluate_api(files) -> None:
    records, gold = files
    result = evaluate_files([records], gold, load_pack("wales-children"))
    adv = result.rule("advocacy-active-offer")
    assert adv is not None and adv.total == 2 and adv.agreed == 2
    carers = result.rule("carers-assessment-offer")
    assert carers is not None and carers.confusion["met"]["not_met"] == 1
    assert carers.recall_met == 0.0
    assert result.unmatched_gold == 1
    assert result.total == 5 and result.agreed == 4


def test_kappa_and_prf() -> None:
    assert cohens_kappa({"met": {"met": 5}, "not_met": {"not_met": 5}}) == 1.0
    # Example: 20/5/10/15 table → po 0.7, pe 0.5 → kappa 0.4
    k = cohens_kappa({"met": {"met": 20, "not_met": 5}, "not_met": {"met": 10, "not_met": 15}})
    assert k == pytest.approx(0.4)
    ev = compare(
        {("a", "r"): "met", ("b", "r"): "not_met", ("c", "r"): "met"},
        {("a", "r"): "met", ("b", "r"): "met", ("c", "r"): "not_met"},
        ["r"],
        3,
    )
    r = ev.rule("r")
    assert r is not None
    assert r.precision_met == 0.5 and r.recall_met == 0.5 and r.f1_met == 0.5


def test_load_gold_reports_bad_lines(tmp_path: Path) -> None:
    from recaudit.evaluate import GoldError

    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"record_id": "R1", "rule_id": "x", "outcome": "maybe"}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=":1: unknown outcome"):
        load_gold(bad)


runner = CliRunner()


def test_cli_explain(files) -> None:
    records, _ = files
    out = runner.invoke(app, ["explain", str(records), "R1"])
    assert out.exit_code == 0, out.output
    assert "advocacy-active-offer" in out.output and "MET" in out.output
    assert "almost counted" in out.output and "negated" in out.output
    out = runner.invoke(app, ["explain", str(records), "R9"])
    assert out.exit_code == 1
    out = runner.invoke(app, ["explain", str(records), "R1", "--rule", "nope"])
    assert out.exit_code == 2


def test_cli_evaluate_table_and_json(files) -> None:
    records, gold = files
    out = runner.invoke(app, ["evaluate", str(records), "--gold", str(gold)])
    assert out.exit_code == 0, out.output
    assert "voice-of-child" in out.output and "kappa" in out.output
    out = runner.invoke(app, ["evaluate", str(records), "--gold", str(gold), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["overall"]["labels"] == 5
    rules = {r["rule_id"]: r for r in data["rules"]}
    assert rules["carers-assessment-offer"]["confusion"]["met"]["not_met"] == 1


def test_cli_evaluate_dev_set(shared_dir: Path) -> None:
    dev = shared_dir / "dev-set"
    out = runner.invoke(
        app,
        [
            "evaluate",
            str(dev / "records.jsonl"),
            "--gold",
            str(dev / "gold.jsonl"),
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    rules = {r["rule_id"]: r for r in json.loads(out.output)["rules"]}
    for rule_id in ("voice-of-child", "advocacy-active-offer", "carers-assessment-offer"):
        assert rules[rule_id]["agreement"] >= 0.95
