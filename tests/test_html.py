"""The HTML report, rendered from a real audit of the fixture records and read back with a
spec-conforming HTML parser (html5lib, strict: any parse error fails the test)."""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from recaudit.audit import Audit
from recaudit.cli import app
from recaudit.report.filenames import unique_filenames
from recaudit.report.html import write_html
from recaudit.report.i18n import Formatter, languages, po_path
from recaudit.report.pages import RecordSpool, evidence_parts
from recaudit.resources import templates_dir
from recaudit.results import Evidence

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures" / "html"))
from support import PACK, PRIVACY, RECORDS, XSS_IMG, XSS_SCRIPT, fixture_audit, fixture_kind

SVG = "{http://www.w3.org/2000/svg}"
WORKERS = ["(unallocated)", "../../etc/passwd", "<img src=x onerror=alert(1)>", "Alys Evans"]
WORKERS.append("ffion.jones")

# --- helpers --------------------------------------------------------------------------------


def parse(path: Path) -> ET.Element:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    with path.open("rb") as handle:
        return parser.parse(handle, transport_encoding="utf-8")


def text(element: ET.Element) -> str:
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def find_text(root: ET.Element, tag: str) -> list[str]:
    return [text(e) for e in root.iter(tag)]


def visible_text(root: ET.Element, skip_classes: frozenset[str] = frozenset()) -> str:
    """Everything a reader (or a screen reader) gets: text outside <style>, plus labels;
    elements with one of `skip_classes` are left out."""
    parts: list[str] = []

    def walk(element: ET.Element) -> None:
        skipped = skip_classes & set(element.get("class", "").split())
        if element.tag in ("style", "script") or skipped:
            if element.tail:
                parts.append(element.tail)
            return
        for attribute in ("aria-label", "title", "alt"):
            if element.get(attribute):
                parts.append(element.get(attribute, ""))
        if element.text:
            parts.append(element.text)
        for child in element:
            walk(child)
        if element.tail:
            parts.append(element.tail)

    walk(root)
    return re.sub(r"\s+", " ", " ".join(parts))


def worker_page(out: Path, worker: str) -> Path:
    (stem,) = (s for name, s in unique_filenames(WORKERS).items() if name == worker)
    return out / "workers" / f"{stem}.html"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audit() -> Audit:
    return fixture_audit()


@pytest.fixture(scope="module")
def out(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-en")
    write_html(audit, folder / "audit.html")
    return folder


@pytest.fixture(scope="module")
def out_cy(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-cy")
    write_html(audit, folder / "audit.html", lang="cy")
    return folder


@pytest.fixture(scope="module")
def overview(out: Path) -> ET.Element:
    return parse(out / "audit.html")


# --- the overview ---------------------------------------------------------------------------


def test_every_page_parses_without_errors_and_shares_the_layout(out: Path) -> None:
    pages = [out / "audit.html", *sorted((out / "workers").glob("*.html"))]
    pages += sorted((out / "teams").glob("*.html"))
    assert len(pages) == 1 + 5 + 4
    for page in pages:
        root = parse(page)  # strict: raises on any HTML parse error
        assert root.get("lang") == "en"
        assert len(list(root.iter("h1"))) == 1, page
        assert [m.get("id") for m in root.iter("main")] == ["main"]
        assert root.find(".//a[@class='skip-link']").get("href") == "#main"
        assert len(list(root.iter("nav"))) == 1
        assert len(list(root.iter("footer"))) == 1


def test_pages_are_self_contained_with_a_strict_csp(out: Path) -> None:
    for page in [out / "audit.html", *sorted(out.glob("*/*.html"))]:
        root = parse(page)
        assert not list(root.iter("script")), page
        assert not list(root.iter("img")), page
        assert not list(root.iter("link")), page
        for element in root.iter():
            for attribute in ("src", "href", "action", "srcset", "data"):
                value = element.get(attribute, "")
                assert not re.match(r"(?i)\s*(https?:|//|javascript:|data:)", value), (page, value)
        (style,) = list(root.iter("style"))
        css = style.text or ""
        assert "@import" not in css and "url(" not in css
        policy = root.find(".//meta[@http-equiv='Content-Security-Policy']").get("content")
        assert "default-src 'none'" in policy and "script-src 'none'" in policy
        assert "unsafe-inline" not in policy
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in policy  # the hash matches the inline sheet


def test_overview_shows_score_grade_and_counts(audit: Audit, overview: ET.Element) -> None:
    headline = overview.find(".//dl[@class='headline']")
    values = dict(zip(find_text(headline, "dt"), find_text(headline, "dd"), strict=True))
    assert values["Score"] == f"{round(audit.service.score * 100)}%"
    assert values["Grade"] == audit.service_grade()
    assert values["Records audited"] == "6"
    assert "6 of 8 records were audited; 2 could not be read" in visible_text(overview)


def rule_table(root: ET.Element) -> dict[str, list[str]]:
    for table in root.iter("table"):
        if text(table.find("caption")).startswith("Outcomes by rule"):
            return {
                text(row.find("th/code")): [text(td) for td in row.findall("td")]
                for row in table.find("tbody").findall("tr")
            }
    raise AssertionError("no rule table")


def test_rule_table_and_chart_agree_with_the_tallies(audit: Audit, overview: ET.Element) -> None:
    table = rule_table(overview)
    assert list(table) == [rule.id for rule in audit.pack.rules]
    for rule_id, cells in table.items():
        tally = audit.service.rules[rule_id]
        _weight, applicable, met, partial, not_met, na, compliance = cells
        assert [applicable, met, partial, not_met, na] == [
            str(tally.applicable),
            str(tally.met),
            str(tally.partial),
            str(tally.not_met),
            str(tally.not_applicable),
        ]
        assert compliance == f"{round(tally.compliance * 100)}%"
    # voice-of-child: 3 met, 1 partial, 2 not met of 6 applicable.
    assert table["voice-of-child"][1:5] == ["6", "3", "1", "2"]

    (svg,) = list(overview.iter(f"{SVG}svg"))
    assert svg.get("role") == "img"
    labelled = svg.get("aria-labelledby").split()
    assert [e.tag for e in svg if e.get("id") in labelled] == [f"{SVG}title", f"{SVG}desc"]
    bars = list(svg.iter(f"{SVG}g"))
    assert [text(g.findall(f"{SVG}text")[0]) for g in bars] == list(table)
    for g, (rule_id, cells) in zip(bars, table.items(), strict=True):
        frame, met_bar, partial_bar = g.findall(f"{SVG}rect")
        tally = audit.service.rules[rule_id]
        full = float(frame.get("width"))
        assert float(met_bar.get("width")) == pytest.approx(
            full * tally.met / tally.applicable, abs=0.01
        )
        assert float(partial_bar.get("width")) == pytest.approx(
            full * tally.partial / tally.applicable, abs=0.01
        )
        assert text(g.findall(f"{SVG}text")[1]) == cells[-1]


def group_links(root: ET.Element, caption_start: str) -> dict[str, str]:
    for table in root.iter("table"):
        if text(table.find("caption")).startswith(caption_start):
            return {text(a): a.get("href") for a in table.iter("a")}
    raise AssertionError(f"no table {caption_start!r}")


def test_team_and_worker_tables_link_to_their_pages(
    audit: Audit, out: Path, overview: ET.Element
) -> None:
    workers = group_links(overview, "Score by worker")
    teams = group_links(overview, "Score by team")
    assert sorted(workers) == sorted(audit.workers)
    assert sorted(teams) == sorted(audit.teams)
    for name, href in [*workers.items(), *teams.items()]:
        target = (out / href).resolve()
        assert target.is_file(), href
        assert target.parent.parent == out.resolve()  # inside workers/ or teams/, never above
        heading = text(parse(target).find(".//h1"))
        assert heading.endswith(": " + name)


def test_page_file_names_are_safe(out: Path) -> None:
    names = sorted(p.name for p in out.glob("*/*.html"))
    assert all(re.fullmatch(r"\w[\w.-]*\.html", n) and ".." not in n for n in names), names
    assert "ffion.jones.html" in names  # an already-safe name stays readable
    assert not (out.parent / "etc").exists()
    assert {p.parent.name for p in out.glob("**/*.html") if p.parent != out} == {
        "workers",
        "teams",
    }


def test_run_metadata_inputs_and_rejections(audit: Audit, overview: ET.Element) -> None:
    page = visible_text(overview)
    assert audit.pack.sha256 in page
    assert "html-fixture 0.1.0" in page
    assert "1 May 2024" in page or "May 1, 2024" in page
    inputs = next(t for t in overview.iter("table") if text(t.find("caption")) == "Input files")
    (row,) = inputs.find("tbody").findall("tr")
    assert [text(td) for td in row.findall("td")] == [
        audit.inputs[0].path,
        audit.inputs[0].sha256,
        "6",
        "2",
    ]
    rejected = next(t for t in overview.iter("table") if "could not be audited" in text(t))
    rows = [[text(td) for td in tr.findall("td")] for tr in rejected.find("tbody").findall("tr")]
    assert [r[0] for r in rows] == [r.source for r in audit.rejected]
    assert rows[0][1] == "R009" and "case_type" in rows[0][2]
    assert rows[1][1] == "Unknown" and "invalid JSON" in rows[1][2]


def test_privacy_section_lists_masked_findings_only_when_present(
    overview: ET.Element, tmp_path: Path
) -> None:
    section = overview.find(".//section[@class='privacy']")
    assert section is not None
    cells = [text(td) for td in section.iter("td")]
    assert cells == ["nhs_number", PRIVACY.source, "R003", PRIVACY.location, PRIVACY.masked]
    assert overview.find(".//a[@href='#privacy']") is not None

    write_html(fixture_audit(privacy=False), tmp_path / "audit.html")
    clean = parse(tmp_path / "audit.html")
    assert clean.find(".//section[@class='privacy']") is None
    assert "anonymised" not in visible_text(clean)


# --- worker pages ---------------------------------------------------------------------------


def records_on(page: ET.Element) -> dict[str, ET.Element]:
    return {
        text(s.find("h3")).removeprefix("Record "): s
        for s in page.iter("section")
        if s.get("class") == "record"
    }


def outcomes_of(section: ET.Element) -> dict[str, tuple[str, ET.Element]]:
    """Rule title -> (outcome label, the elements up to the next rule heading)."""
    found: dict[str, tuple[str, ET.Element]] = {}
    current: ET.Element | None = None
    for child in section:
        if child.tag == "h4":
            title = text(child).rsplit(":", 1)[0]
            current = ET.Element("div")
            badge = next(s for s in child.iter("span") if "outcome" in s.get("class", "").split())
            found[title] = (text(badge), current)
        elif current is not None:
            current.append(child)
    return found


def test_worker_page_lists_records_outcomes_and_evidence(audit: Audit, out: Path) -> None:
    page = parse(worker_page(out, "Alys Evans"))
    records = records_on(page)
    assert list(records) == ["R001", "R002"]  # input order
    r1 = outcomes_of(records["R001"])
    assert list(r1) == [rule.title for rule in audit.pack.rules]
    label, voice = r1["Voice of the child"]
    assert label == "Met"
    (quote,) = list(voice.iter("blockquote"))
    (mark,) = list(quote.iter("mark"))
    assert text(mark) == "told me"
    assert text(quote) == "Cara told me she likes her new school."
    cite = text(voice.find(".//span[@class='cite']"))
    assert cite == "Note N1, 15 Jan 2024"
    assert "1 note(s) mention it" in text(voice)
    assert voice.find(".//div[@class='guidance']") is None  # met: no guidance

    label, ethnicity = outcomes_of(records["R002"])["Ethnicity recorded"]
    assert label == "Not met"
    assert 'child.ethnicity = "unknown"' in text(ethnicity)
    guidance = ethnicity.find(".//div[@class='guidance']")
    assert "Ask the child and family" in text(guidance)

    label, partial = outcomes_of(records["R002"])["Voice of the child"]
    assert label == "Partly met"
    assert text(partial.find(".//mark")) == "did not want to talk"
    assert "Quote the child's own words" in text(partial.find(".//div[@class='guidance']"))
    assert "Care Inspectorate Wales (2022)" in text(partial)

    label, advocacy = outcomes_of(records["R002"])["Active offer of advocacy"]
    assert label == "Not applicable"
    assert advocacy.find(".//div[@class='guidance']") is None


def test_record_text_is_escaped_never_markup(out: Path, overview: ET.Element) -> None:
    page = parse(worker_page(out, "ffion.jones"))
    assert not list(page.iter("script")) and not list(page.iter("img"))
    (mark,) = list(page.iter("mark"))
    assert text(mark) == "said she"
    quote = text(mark.getparent() if hasattr(mark, "getparent") else page.find(".//blockquote"))
    assert XSS_SCRIPT in quote and XSS_IMG in quote
    raw = worker_page(out, "ffion.jones").read_text(encoding="utf-8")
    assert "&lt;script&gt;document.title=" in raw
    # Names and ids from records are escaped too: the worker named like an <img> tag.
    assert "<img src=x onerror=alert(1)>" in visible_text(overview)
    assert not list(overview.iter("img"))
    odd = parse(worker_page(out, "<img src=x onerror=alert(1)>"))
    assert list(records_on(odd)) == ["R<b>6</b>"]
    assert not list(odd.iter("b")) and not list(odd.iter("i"))
    assert "Note N<i>1</i>, 20 Apr 2024" in visible_text(odd)


def test_unallocated_and_no_team_have_their_own_labels(out: Path, overview: ET.Element) -> None:
    workers = group_links(overview, "Score by worker")
    assert "(unallocated)" in workers
    page = parse(out / workers["(unallocated)"])
    (record,) = records_on(page).values()
    assert "(no team)" in text(record.find("dl"))


def test_team_page_lists_its_workers(out: Path, overview: ET.Element) -> None:
    teams = group_links(overview, "Score by team")
    page = parse(out / teams["South"])
    links = {text(a): a.get("href") for a in page.find(".//main").iter("a")}
    assert set(links) == {"ffion.jones", "../../etc/passwd"}
    for href in links.values():
        assert (out / "teams" / href).resolve().is_file()


def test_spooling_with_few_open_files_gives_the_same_pages(
    audit: Audit, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records are regrouped per worker through spool files; with one handle open at a
    # time every append reopens its file, and the pages must not change.
    monkeypatch.setattr(RecordSpool, "OPEN_FILES", 1)
    write_html(audit, tmp_path / "audit.html")
    for page in sorted(out.glob("**/*.html")):
        assert (tmp_path / page.relative_to(out)).read_bytes() == page.read_bytes(), page


def test_output_is_deterministic_and_stale_pages_are_removed(audit: Audit, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        (folder / "workers").mkdir()
        (folder / "workers" / "someone-from-last-month.html").write_text("old")
        write_html(audit, folder / "audit.html")
    files = sorted(p.relative_to(first) for p in first.rglob("*.html"))
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.html"))
    assert Path("workers/someone-from-last-month.html") not in files
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


# --- the shipped samples with the default pack ---------------------------------------------


def test_samples_with_the_default_pack_show_every_piece_of_evidence(tmp_path: Path) -> None:
    from recaudit.audit import run_audit

    samples = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"
    audit = run_audit([samples], "wales-children")
    write_html(audit, tmp_path / "audit.html")
    stems = unique_filenames(audit.workers)
    marks: dict[str, list[str]] = {}
    for record in audit.records:
        worker = record.worker or "(unallocated)"
        for result in record.results:
            marks.setdefault(worker, []).extend(e.text for e in result.evidence)
    assert sum(len(m) for m in marks.values()) > 20
    for worker, expected in marks.items():
        page = parse(tmp_path / "workers" / f"{stems[worker]}.html")  # strict parse
        assert [text(m) for m in page.iter("mark")] == [re.sub(r"\s+", " ", m) for m in expected]
    parse(tmp_path / "audit.html")
    for team in (tmp_path / "teams").glob("*.html"):
        parse(team)


# --- evidence cutting -----------------------------------------------------------------------


def test_evidence_parts_cut_the_sentence_around_the_span() -> None:
    text_ = 'Visit. She said "no" & left.'
    evidence = Evidence(
        note_id="N1", start=11, end=15, text="said", sentence=text_[7:], sentence_start=7
    )
    assert evidence_parts(evidence) == ("She ", "said", ' "no" & left.')
    wrong = evidence.model_copy(update={"sentence_start": 9})
    assert evidence_parts(wrong) == ("", "said", "")  # offsets disagree: show the span only
    bare = Evidence(note_id="N1", start=11, end=15, text="said")
    assert evidence_parts(bare) == ("", "said", "")


# --- languages ------------------------------------------------------------------------------


def catalogue(lang: str):
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def test_welsh_catalogue_covers_every_template_message() -> None:
    assert "cy" in languages()
    used = {
        message[2]
        for message in extract_from_dir(
            str(templates_dir()),
            method_map=[("**.j2", "jinja2")],
            options_map={"**.j2": {"extensions": "jinja2.ext.i18n"}},
        )
    }
    assert used, "no messages found in the templates"
    welsh = {m.id: m for m in catalogue("cy") if m.id}
    assert sorted(used - set(welsh)) == []  # every message has a Welsh entry
    assert sorted(set(welsh) - used) == []  # and no stale ones are left
    for message in welsh.values():
        assert message.string and not message.fuzzy, message.id
        assert message.string != message.id, message.id
        wanted = sorted(re.findall(r"%\(\w+\)s", message.id))
        assert sorted(re.findall(r"%\(\w+\)s", message.string)) == wanted, message.id


def english_fragments() -> list[str]:
    """Each catalogue message's English text, split at its placeholders."""
    fragments = set()
    for message in catalogue("cy"):
        if not message.id:
            continue
        for part in re.split(r"%\(\w+\)s", message.id):
            part = part.strip(" .,:;")
            # Two-letter words ("of", "by") also occur in rule titles from the pack.
            if re.search(r"[A-Za-z]{3}", part):
                fragments.add(part)
    return sorted(fragments)


def test_welsh_report_has_no_english_chrome_left(out_cy: Path) -> None:
    fragments = english_fragments()
    assert len(fragments) > 60
    # On worker pages, leave out what is not chrome: quoted notes, the engine's reasons and
    # the pack's guidance and rule titles (English in this pack).
    content = frozenset({"quote", "reason", "guidance", "rule-title"})
    pages = [out_cy / "audit.html", next((out_cy / "teams").glob("*.html"))]
    pages += sorted((out_cy / "workers").glob("*.html"))
    for path in pages:
        root = parse(path)
        assert root.get("lang") == "cy"
        page = visible_text(root, content if path.parent.name == "workers" else frozenset())
        left = [f for f in fragments if re.search(rf"(?<![\w']){re.escape(f)}(?![\w'])", page)]
        assert left == [], (path.name, left)
    overview = visible_text(parse(out_cy / "audit.html"))
    assert "Trosolwg o'r gwasanaeth" in overview
    assert "1 Mai 2024" in overview  # dates from CLDR via Babel
    assert "(heb ei ddyrannu)" in overview


def test_the_english_report_does_show_those_fragments(out: Path) -> None:
    # Guards the Welsh test above: the same check on the English page must find them.
    page = visible_text(parse(out / "audit.html"))
    found = [f for f in english_fragments() if f in page]
    assert {
        "Service overview",
        "Compliance by rule",
        "Rejected inputs",
        "Skip to main content",
    } <= set(found)


def test_formatter_follows_the_language() -> None:
    import datetime as dt

    assert Formatter("en").percent(0.856) == "86%"
    assert Formatter("en").percent(None) == "–"
    assert Formatter("cy").date(dt.date(2024, 6, 3)) == "3 Meh 2024"
    assert Formatter("en").number(12345) == "12,345"


# --- the command line -----------------------------------------------------------------------


def test_cli_lang_option(tmp_path: Path) -> None:
    runner = CliRunner()
    with fixture_kind():
        done = runner.invoke(
            app,
            [
                "audit",
                str(RECORDS),
                "--rules",
                str(PACK),
                "--out",
                str(tmp_path),
                "--format",
                "html",
                "--lang",
                "cy",
            ],
        )
    assert done.exit_code == 0, done.output
    assert parse(tmp_path / "audit.html").get("lang") == "cy"
    with fixture_kind():
        bad = runner.invoke(app, ["audit", str(RECORDS), "--rules", str(PACK), "--lang", "xx"])
    assert bad.exit_code == 2
    assert "xx" in bad.output


# --- the templates' gettext -----------------------------------------------------------------


def test_template_gettext_escapes_values_remembers_and_fails_on_a_missing_value() -> None:
    from markupsafe import Markup

    from recaudit.report.html import environment

    env = environment("cy")
    template = env.from_string('{{ _("Record %(id)s", id=value) }}|{{ _("Record %(id)s") }}')
    with pytest.raises(KeyError):  # the message needs a value it was not given
        template.render(value="x")
    underscore = env.globals["_"]
    hostile = '<img src=x onerror="alert(1)">'
    first = underscore("Record %(id)s", id=hostile)
    assert isinstance(first, Markup)
    assert "<img" not in first and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in first
    assert not first.startswith("Record ")  # translated (Welsh catalogue)
    assert underscore("Record %(id)s", id=hostile) is first  # formatted once
    assert underscore("Record %(id)s", id="other") != first
    # Values that compare equal but print differently are never mixed up.
    assert "1.0" not in underscore("note %(note)s", note=1)
    assert "1.0" in underscore("note %(note)s", note=1.0)
    assert "&lt;b&gt;" in underscore("note %(note)s", note="<b>")
    assert "<b>" in underscore("note %(note)s", note=Markup("<b>"))


def test_the_records_loop_of_a_worker_page_is_a_plain_loop() -> None:
    # jinja2 gives every loop around a use of `loop` (loop.last, loop.index...) a LoopContext;
    # in the records loop, which runs for every record, outcome and quote, that costs a
    # tenth of the page. Only the teams line and the `mentions` macro may use `loop`. The
    # outcome sections (with their quotes) are a macro of macros.html.j2, joined in Python.
    from recaudit.report.html import environment

    env = environment("en")
    loops = []
    for name in ("worker.html.j2", "macros.html.j2"):
        source = (templates_dir() / name).read_text(encoding="utf-8")
        code = env.compile(source, name, raw=True)
        # Compiled loops read "for l_<depth>_<name>[, l_<depth>_loop] in [LoopContext(]...".
        loops += re.findall(r"for l_\d+_(\w+)(?:, l_\d+_loop)? in (LoopContext\()?", code)
    assert {"record", "f"} <= {name for name, _ in loops}
    in_context = {name for name, context in loops if context}
    assert not in_context & {"record", "f"}
    assert "cue" in in_context and "team" in in_context


def test_outcome_sections_are_rendered_once_per_distinct_outcome() -> None:
    from markupsafe import Markup

    from recaudit.report.html import Fragments, environment
    from recaudit.report.pages import Cue, Finding, Outcome

    env = environment("en")
    section = env.get_template("macros.html.j2").module.outcome_section  # type: ignore[attr-defined]
    calls: list[Outcome] = []

    def counted(item: Outcome) -> Markup:
        calls.append(item)
        return section(item)

    hostile = Outcome("r1", "<b>Title</b>", "not_met", "<script>x</script>", (), (), None, ())
    cued = hostile._replace(cues=(Cue("negated", "no <i>", "N1"),), guidance="Do <u>this</u>")
    fragment = Fragments()
    first = fragment(counted, hostile)
    assert fragment(counted, hostile._replace()) is first  # an equal value: rendered once
    assert fragment(counted, cued) == section(cued)  # a different one: rendered itself
    assert calls == [hostile, cued]
    assert first == section(hostile)
    assert "<script>" not in first and "&lt;script&gt;x&lt;/script&gt;" in first
    assert "&lt;b&gt;Title&lt;/b&gt;" in first and "&lt;i&gt;" in fragment(counted, cued)
    quoted = hostile._replace(findings=(Finding("N1", "1 May", "a ", "<q>", " b"),))
    calls.clear()
    joined = fragment.sections(counted, [hostile, quoted, hostile, quoted])
    assert joined == section(hostile) + section(quoted) + section(hostile) + section(quoted)
    assert calls == [quoted, quoted]  # quoting sections are rendered each time
    assert "&lt;q&gt;" in joined
    fragment.LIMIT = 2  # full: starts afresh rather than growing
    fragment(counted, hostile._replace(rule_id="r2"))
    assert len(fragment.memo) == 1
