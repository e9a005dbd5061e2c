"""Take the README screenshots of the HTML report with the system's headless Chromium.

    python docs/make_screenshots.py [RECORDS ...] [--out-dir DIR] [--lang en]

Audits `samples/records.jsonl` (or the records given) with the default rule pack, renders
the HTML report into a temporary folder and writes `docs/screenshot-overview.png` and
`docs/screenshot-worker.png` (the worker with the most records). Needs Debian's
`chromium` and the `playwright` Python package; it never downloads a browser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no Chromium found: install Debian's `chromium` package")


def render(records: list[Path], pack: str | None, out: Path, lang: str) -> Path:
    sys.path.insert(0, str(ROOT / "src"))
    from recaudit.audit import run_audit, write_reports

    audit = run_audit(records, pack, period="2024-25 Q1 (sample data)")
    write_reports(audit, out, ["html"], lang=lang)
    return out


def busiest_worker_page(out: Path) -> Path:
    pages = sorted((out / "workers").glob("*.html"))
    if not pages:
        sys.exit("the report has no worker pages")
    # The page with the most record sections is the most useful picture.
    return max(pages, key=lambda p: (p.read_text(encoding="utf-8").count('class="record"'), p.name))


def shoot(pages: dict[Path, Path], width: int = 1100, max_height: int = 2600) -> None:
    """Full-width pictures, cut at `max_height` (a worker page runs to many screens)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
        for source, target in pages.items():
            page.goto(source.as_uri())
            height = min(page.evaluate("document.documentElement.scrollHeight"), max_height)
            clip = {"x": 0, "y": 0, "width": width, "height": height}
            page.screenshot(path=str(target), full_page=True, clip=clip)
            print(f"wrote {target}")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", type=Path)
    parser.add_argument("--rules", default=None, help="rule pack (default: the shipped pack)")
    parser.add_argument("--out-dir", type=Path, default=DOCS)
    parser.add_argument("--lang", default="en")
    args = parser.parse_args()
    # Relative paths, so the report shows "samples/records.jsonl", not this machine's path.
    os.chdir(ROOT)
    records = args.records or [Path("samples/records.jsonl")]
    if not all(path.is_file() for path in records):
        sys.exit(f"records not found: {', '.join(str(p) for p in records if not p.is_file())}")
    with tempfile.TemporaryDirectory() as tmp:
        out = render(records, args.rules, Path(tmp), args.lang)
        shoot(
            {
                out / "audit.html": args.out_dir.resolve() / "screenshot-overview.png",
                busiest_worker_page(out): args.out_dir.resolve() / "screenshot-worker.png",
            }
        )


if __name__ == "__main__":
    main()
