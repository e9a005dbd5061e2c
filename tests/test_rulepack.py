"""Rule packs: composition (extends/overrides), requires, validation messages, safety, identity."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from recaudit.rulepack import PackError, load_pack
from recaudit.rulepack.identity import rule_identity
from recaudit.rulepack.regex import UnsafePattern, compile_pattern
from recaudit.rulepack.yamlsafe import YamlError, load_yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "packs"
BASE = FIXTURES / "fields-base"


def write_pack(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def extending(tmp_path: Path, manifest_extra: str = "", files: dict[str, str] | None = None):
    """A pack in tmp_path/local extending a copy of the fields-base fixture."""
    shutil.copytree(BASE, tmp_path / "fields-base")
    manifest = "name: local\nversion: 0.1.0\nextends: [../fields-base]\n" + textwrap.dedent(
        manifest_extra
    )
    return write_pack(tmp_path / "local", {"pack.yaml": manifest, **(files or {})})


def messages(exc: pytest.ExceptionInfo[PackError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# ----------------------------------------------------------------------------- composition


def test_extends_merges_base_rules_and_bands(tmp_path: Path) -> None:
    pack = load_pack(extending(tmp_path))
    assert [r.id for r in pack.rules] == [
        "siblings-recorded",
        "ethnicity-recorded",
        "language-recorded",
        "religion-recorded",
    ]
    assert pack.grade_bands[0].min_score == 0.85  # inherited from the base
    assert pack.extends == ("fields-base 1.0.0",)
    assert pack.defined_in["siblings-recorded"] == "fields-base"


def test_override_disables_reweights_and_changes_applicability(tmp_path: Path) -> None:
    pack = load_pack(
        extending(
            tmp_path,
            """
            overrides:
              religion-recorded: {enabled: false}
              ethnicity-recorded:
                weight: 2
                applies_when: [{field: case_type, in: [child_protection]}]
              siblings-recorded:
                applies_when_add: [{field: child.age_years, max: 17}]
            grade_bands:
              - {grade: Pass, min_score: 0.5}
              - {grade: Fail, min_score: 0}
            """,
        )
    )
    assert pack.rule("religion-recorded") is None
    assert pack.disabled == ("religion-recorded",)
    assert pack.weights["ethnicity-recorded"] == 2
    ethnicity = pack.rule("ethnicity-recorded")
    assert ethnicity is not None
    assert [c.describe() for c in ethnicity.applies_when] == ["case_type in ['child_protection']"]
    siblings = pack.rule("siblings-recorded")
    assert siblings is not None and siblings.applies_when[-1].max == 17
    assert [b.grade for b in pack.grade_bands] == ["Pass", "Fail"]
    assert pack.overridden["ethnicity-recorded"]["weight"] == 2


def test_lexicons_add_and_replace(tmp_path: Path) -> None:
    added = load_pack(
        extending(tmp_path, "lexicons_add:\n  placeholders: [awaiting information]\n")
    )
    assert "awaiting information" in added.lexicons["placeholders"]
    assert "tbc" in added.lexicons["placeholders"]
    shutil.rmtree(tmp_path / "local")
    replaced = load_pack(
        extending(tmp_path / "r", "lexicons_replace:\n  placeholders: ['', pending]\n")
    )
    assert replaced.lexicons["placeholders"] == ("", "pending")


def test_override_of_unknown_rule_is_an_error_with_position(tmp_path: Path) -> None:
    folder = extending(tmp_path, "overrides:\n  ethnicity-recordd: {weight: 2}\n")
    with pytest.raises(PackError) as exc:
        load_pack(folder)
    (message,) = messages(exc)
    assert message.startswith("local/pack.yaml:5:3: error: overrides: unknown rule")
    assert "did you mean 'ethnicity-recorded'" in message


def test_override_with_bad_value_points_at_the_override(tmp_path: Path) -> None:
    folder = extending(
        tmp_path, "overrides:\n  ethnicity-recorded:\n    weight: -1\n    kind: field_in\n"
    )
    with pytest.raises(PackError) as exc:
        load_pack(folder)
    assert messages(exc) == [
        "local/pack.yaml:7:5: error: overrides.ethnicity-recorded: 'kind' cannot be changed"
    ]
    shutil.rmtree(tmp_path / "local")
    folder = extending(tmp_path / "x", "overrides:\n  ethnicity-recorded:\n    weight: -1\n")
    with pytest.raises(PackError) as exc:
        load_pack(folder)
    assert messages(exc) == ["local/pack.yaml:6:5: error: weight: Input should be greater than 0"]


def test_redefining_an_inherited_rule_or_lexicon_is_an_error(tmp_path: Path) -> None:
    folder = extending(
        tmp_path,
        "rules: [rules/r.yaml]\nlexicons: [lexicons/l.yaml]\n",
        {
            "rules/r.yaml": """\
                - id: siblings-recorded
                  kind: field_recorded
                  title: Siblings again
                  field: child.siblings
                """,
            "lexicons/l.yaml": "placeholders: [x]\n",
        },
    )
    with pytest.raises(PackError) as exc:
        load_pack(folder)
    text = "\n".join(messages(exc))
    assert "local/lexicons/l.yaml:1:1: error: lexicon 'placeholders' is inherited" in text
    assert "local/rules/r.yaml:1:3: error: duplicate rule id 'siblings-recorded'" in text
    assert "use overrides" not in text and "overrides in pack.yaml" in text


def test_extends_cycle_is_detected(tmp_path: Path) -> None:
    write_pack(tmp_path / "a", {"pack.yaml": "name: a\nversion: '1'\nextends: [../b]\n"})
    write_pack(tmp_path / "b", {"pack.yaml": "name: b\nversion: '1'\nextends: [../a]\n"})
    with pytest.raises(PackError) as exc:
        load_pack(tmp_path / "a")
    (message,) = messages(exc)
    assert message == "b/pack.yaml:3:11: error: extends: cycle a -> b -> a"


def test_extends_unknown_pack(tmp_path: Path) -> None:
    write_pack(tmp_path / "a", {"pack.yaml": "name: a\nversion: '1'\nextends: [nowhere]\n"})
    with pytest.raises(PackError) as exc:
        load_pack(tmp_path / "a")
    assert messages(exc)[0].startswith("a/pack.yaml:3:11: error: extends: no pack 'nowhere'")


def test_requires_is_checked_against_the_version(tmp_path: Path) -> None:
    write_pack(tmp_path / "new", {"pack.yaml": "name: new\nversion: '1'\nrequires: '>=99'\n"})
    with pytest.raises(PackError) as exc:
        load_pack(tmp_path / "new")
    assert "needs recaudit >=99; this is recaudit" in messages(exc)[0]
    write_pack(tmp_path / "bad", {"pack.yaml": "name: bad\nversion: '1'\nrequires: 'soon'\n"})
    with pytest.raises(PackError) as exc:
        load_pack(tmp_path / "bad")
    assert "is not a version specifier" in messages(exc)[0]
    write_pack(tmp_path / "ok", {"pack.yaml": "name: ok\nversion: '1'\nrequires: '>=0.1,<9'\n"})
    assert load_pack(tmp_path / "ok").requires == ">=0.1,<9"


def test_acceptance_2_one_error_per_problem_with_positions() -> None:
    with pytest.raises(PackError) as exc:
        load_pack(FIXTURES / "broken")
    assert [str(p.mark) for p in exc.value.problems] == [
        "broken/rules/local.yaml:6:3",
        "broken/rules/local.yaml:12:3",
        "broken/rules/local.yaml:18:3",
        "broken/pack.yaml:9:3",
    ]
    text = messages(exc)
    assert "unknown key 'weigth'" in text[0]
    assert "valid number" in text[1]
    assert "linear-time engine" in text[2]
    assert "unknown rule 'ethnicity-recordd'" in text[3]


def test_unused_lexicon_is_a_warning(tmp_path: Path) -> None:
    folder = extending(
        tmp_path, "lexicons: [lexicons/l.yaml]\n", {"lexicons/l.yaml": "spare: [a]\n"}
    )
    pack = load_pack(folder)
    assert [str(w) for w in pack.warnings] == [
        "local/lexicons/l.yaml:1:1: warning: lexicon 'spare' is never used"
    ]


# ----------------------------------------------------------------------------- safety


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert bomb.stat().st_size < 1024
    with pytest.raises(YamlError, match="alias"):
        load_yaml(bomb)


def test_recursive_alias_and_tags_are_refused(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text("a: &a [*a]\n")
    with pytest.raises(YamlError, match="alias refers to a value containing it"):
        load_yaml(loop)
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("a: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(YamlError, match="not allowed"):
        load_yaml(tagged)


def test_patterns_run_on_re2() -> None:
    pattern = compile_pattern("(a+)+$")
    # RE2 is a linear-time automaton: no backtracking, so this cannot blow up
    # (timing is measured in benchmarks/, not asserted here).
    assert type(pattern).__module__.startswith("re2")
    assert pattern.search("a" * 50 + "b") is None
    assert pattern.search("aaa") is not None
    for unsupported in (r"(a)\1", "(?=a)", "(?<!a)b"):
        with pytest.raises(UnsafePattern, match="RE2"):
            compile_pattern(unsupported)


# ----------------------------------------------------------------------------- identity


def test_identity_covers_lexicon_content_but_not_wording(tmp_path: Path) -> None:
    base = load_pack(extending(tmp_path / "1"))
    reworded = load_pack(
        extending(tmp_path / "2", "overrides:\n  ethnicity-recorded: {title: Ethnic origin}\n")
    )
    more_terms = load_pack(extending(tmp_path / "3", "lexicons_add:\n  placeholders: [awaiting]\n"))
    assert base.identity("ethnicity-recorded") == reworded.identity("ethnicity-recorded")
    assert base.identity("ethnicity-recorded") != more_terms.identity("ethnicity-recorded")
    # siblings-recorded reads no lexicon: its identity is untouched by the new term.
    assert base.identity("siblings-recorded") == more_terms.identity("siblings-recorded")
    rule = base.rule("ethnicity-recorded")
    assert rule is not None
    assert rule_identity(rule, base.lexicons) == base.identity("ethnicity-recorded")


def test_audit_json_carries_overrides_and_identity(tmp_path: Path) -> None:
    from recaudit.audit import run_audit, write_reports

    folder = extending(
        tmp_path,
        "overrides:\n  religion-recorded: {enabled: false}\n  ethnicity-recorded: {weight: 3}\n",
    )
    samples = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"
    audit = run_audit([samples], load_pack(folder))
    (path,) = write_reports(audit, tmp_path / "out", ["json"])
    data = json.loads(path.read_text())
    rules = {r["id"]: r for r in data["rule_pack"]["rules"]}
    assert set(rules) == {"siblings-recorded", "ethnicity-recorded", "language-recorded"}
    assert rules["ethnicity-recorded"]["weight"] == 3
    for record in data["records"]:
        assert "religion-recorded" not in {r["rule_id"] for r in record["results"]}
    pack = audit.pack
    assert rules["language-recorded"]["identity"] == pack.identity("language-recorded")


def test_audit_json_identity_follows_lexicon_content(tmp_path: Path) -> None:
    from recaudit.audit import run_audit, write_reports

    samples = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"

    def identities(folder: Path) -> dict[str, str]:
        audit = run_audit([samples], load_pack(folder))
        (path,) = write_reports(audit, folder / "out", ["json"])
        return {r["id"]: r["identity"] for r in json.loads(path.read_text())["rule_pack"]["rules"]}

    plain = identities(extending(tmp_path / "a"))
    renamed = identities(
        extending(tmp_path / "b", "overrides:\n  language-recorded: {title: Main language}\n")
    )
    more = identities(extending(tmp_path / "c", "lexicons_add:\n  placeholders: [pending]\n"))
    assert plain == renamed
    changed = {k for k in plain if plain[k] != more[k]}
    assert changed == {"ethnicity-recorded", "language-recorded", "religion-recorded"}


# ----------------------------------------------------------------------------- shipped packs


@pytest.mark.parametrize("name", ["wales-children", "wales-children-timescales"])
def test_shipped_pack_tests_pass(name: str) -> None:
    from recaudit.rulepack.ruletest import run_pack_tests

    report = run_pack_tests(name)
    assert report.problems == [] and report.failures == [], report.failures
    assert report.ok
    counts = report.by_rule()
    pack = report.pack
    # The text rules' cases are written with the evidence engine; every other rule the
    # pack defines has >= 3 cases incl. not_met, and not_applicable where it can apply.
    own = [
        r for r in pack.rules if pack.defined_in[r.id] == pack.name and r.kind != "text_evidence"
    ]
    assert own
    for rule in own:
        assert counts[rule.id].cases >= 3 and "not_met" in counts[rule.id].outcomes, rule.id
        if rule.applies_when:
            assert "not_applicable" in counts[rule.id].outcomes, rule.id


def test_timescales_pack_extends_the_default_pack() -> None:
    pack = load_pack("wales-children-timescales")
    base = load_pack("wales-children")
    assert [r.id for r in pack.rules][: len(base.rules)] == [r.id for r in base.rules]
    assert pack.extends == (f"wales-children {base.version}",)
    for rule in pack.rules[len(base.rules) :]:
        assert rule.kind == "event_within" and rule.references, rule.id


def test_acceptance_4_disable_and_reweight_wales_children(tmp_path: Path) -> None:
    from recaudit.audit import run_audit, write_reports

    samples = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"
    local = write_pack(
        tmp_path / "local",
        {
            "pack.yaml": """\
                name: local
                version: 0.1.0
                extends: [wales-children]
                overrides:
                  religion-recorded: {enabled: false}
                  voice-of-child: {weight: 3}
                """
        },
    )

    def audit_json(pack_ref) -> dict:
        audit = run_audit([samples], load_pack(pack_ref))
        (path,) = write_reports(audit, tmp_path / str(abs(hash(str(pack_ref)))), ["json"])
        return json.loads(path.read_text())

    before, after = audit_json("wales-children"), audit_json(local)
    rules_before = {r["id"]: r for r in before["rule_pack"]["rules"]}
    rules_after = {r["id"]: r for r in after["rule_pack"]["rules"]}
    assert set(rules_before) - set(rules_after) == {"religion-recorded"}
    changed = {rule_id for rule_id, rule in rules_after.items() if rule != rules_before[rule_id]}
    assert changed == {"voice-of-child"}
    assert rules_after["voice-of-child"]["weight"] == 3
    # Outcomes of every remaining rule are unchanged; religion results are gone.
    for old, new in zip(before["records"], after["records"], strict=True):
        old_results = {r["rule_id"]: r for r in old["results"]}
        new_results = {r["rule_id"]: r for r in new["results"]}
        assert set(old_results) - set(new_results) == {"religion-recorded"}
        assert all(new_results[k] == old_results[k] for k in new_results)
