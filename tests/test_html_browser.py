"""The HTML report in a real headless browser: Debian's Chromium driven by Playwright.

Pages are opened from `file://` (as a manager would open them from a shared drive) and
checked with axe-core for WCAG 2.1 A/AA violations, for script injection from case notes,
for network requests, and for the print stylesheet. Skipped only where no Chromium is
installed (CI installs Debian's `chromium`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from recaudit.audit import Audit
from recaudit.report.filenames import unique_filenames
from recaudit.report.html import write_html

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures" / "html"))
from support import XSS_IMG, XSS_SCRIPT, fixture_audit

pytestmark = pytest.mark.browser

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).is_file()
    ),
    None,
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

if CHROMIUM is None:
    pytest.skip(
        "no Chromium installed (apt-get install chromium); browser tests skipped",
        allow_module_level=True,
    )

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
)


@pytest.fixture(scope="module")
def audit() -> Audit:
    return fixture_audit()


@pytest.fixture(scope="module")
def report(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for lang in ("en", "cy"):
        folder = tmp_path_factory.mktemp(f"browser-{lang}")
        write_html(audit, folder / "audit.html", lang=lang)
        out[lang] = folder
    return out


@pytest.fixture(scope="module")
def samples_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped samples audited with the default pack (real evidence engine)."""
    from recaudit.audit import run_audit

    samples = Path(__file__).resolve().parents[1] / "samples" / "records.jsonl"
    folder = tmp_path_factory.mktemp("browser-samples")
    write_html(run_audit([samples], "wales-children"), folder / "audit.html")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    opened = context.new_page()
    requests: list[str] = []
    dialogs: list[str] = []
    opened.on("request", lambda r: requests.append(r.url))
    opened.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    opened.requests, opened.dialogs = requests, dialogs  # type: ignore[attr-defined]
    yield opened
    context.close()


def worker_file(out: Path, name: str) -> Path:
    return out / "workers" / f"{unique_filenames([name])[name]}.html"


def violations(page) -> list[str]:
    results = axe_module.Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    found = results.response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in found
    ]


def pages_to_check(report: dict[str, Path]) -> list[Path]:
    en, cy = report["en"], report["cy"]
    return [
        en / "audit.html",
        worker_file(en, "Alys Evans"),
        worker_file(en, "ffion.jones"),
        next((en / "teams").glob("*.html")),
        cy / "audit.html",
        worker_file(cy, "Alys Evans"),
    ]


def test_zero_wcag_21_aa_violations(page, report: dict[str, Path], samples_report: Path) -> None:
    problems = {}
    samples = [samples_report / "audit.html", *sorted((samples_report / "workers").glob("*.html"))]
    for path in [*pages_to_check(report), *samples[:3]]:
        page.goto(path.as_uri())
        found = violations(page)
        if found:
            problems[f"{path.parent.name}/{path.name}"] = found
    assert problems == {}


def test_axe_does_report_a_broken_page(page, report: dict[str, Path], tmp_path: Path) -> None:
    # Guards the test above: the same check must fail on a page with known problems.
    html = report["en"].joinpath("audit.html").read_text(encoding="utf-8")
    broken = html.replace('<html lang="en">', "<html>").replace("<caption>", "<caption hidden>")
    broken = broken.replace('<main id="main" tabindex="-1">', '<main id="main"><img src="x.png">')
    target = tmp_path / "audit.html"
    target.write_text(broken, encoding="utf-8")
    page.goto(target.as_uri())
    found = " ".join(violations(page))
    assert "html-has-lang" in found and "image-alt" in found


def test_script_in_a_note_is_shown_as_text_and_never_runs(page, report: dict[str, Path]) -> None:
    path = worker_file(report["en"], "ffion.jones")
    page.goto(path.as_uri())
    assert page.title() == "Worker: ffion.jones – Case record audit"
    quote = page.locator("blockquote", has_text="Young person").inner_text()
    assert XSS_SCRIPT in quote and XSS_IMG in quote
    assert page.locator("mark").all_inner_texts() == ["said she"]
    assert page.locator("main script, main img").count() == 0
    assert page.dialogs == []

    page.goto(report["en"].joinpath("audit.html").as_uri())
    assert page.title() == "Service overview – Case record audit"
    assert page.get_by_role("link", name="<img src=x onerror=alert(1)>").count() == 1
    assert page.dialogs == []


def test_nothing_is_fetched_from_the_network(page, report: dict[str, Path]) -> None:
    for path in pages_to_check(report):
        page.goto(path.as_uri())
    assert page.requests and all(url.startswith("file://") for url in page.requests)


def test_links_between_pages_work_from_file_urls(page, report: dict[str, Path]) -> None:
    page.goto(report["en"].joinpath("audit.html").as_uri())
    page.get_by_role("link", name="Alys Evans").click()
    assert page.locator("h1").inner_text() == "Worker: Alys Evans"
    page.get_by_role("link", name="North").click()
    assert page.locator("h1").inner_text() == "Team: North"
    page.get_by_role("link", name="Service overview").click()
    assert page.locator("h1").inner_text() == "Service overview"


def test_reads_fully_without_javascript(browser, report: dict[str, Path]) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(worker_file(report["en"], "Alys Evans").as_uri())
        assert page.locator("section.record").count() == 2
        assert page.locator("mark").all_inner_texts() == [
            "told me",
            "advocacy",
            "did not want to talk",
        ]
    finally:
        context.close()


def test_print_stylesheet_hides_navigation_and_breaks_pages(page, report: dict[str, Path]) -> None:
    page.goto(worker_file(report["en"], "Alys Evans").as_uri())
    assert page.locator("header nav").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header nav").is_visible()
    second = page.locator("section.record").nth(1)
    assert second.evaluate("e => getComputedStyle(e).breakBefore") == "page"
    link_after = page.locator("main a[href^='../teams/']").first.evaluate(
        "e => getComputedStyle(e, '::after').content"
    )
    assert "../teams/" in link_after
