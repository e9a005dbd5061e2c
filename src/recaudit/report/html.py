"""The HTML report: `audit.html` (service overview) plus `workers/*.html` and `teams/*.html`.

Pages are self-contained (stylesheet inline, nothing fetched, works from `file://`, no
JavaScript needed). Page data is built first (`report.pages`), then autoescaped jinja2
templates lay it out; report text comes from the message catalogue (`report.i18n`).
A Content-Security-Policy allows only our own stylesheet (by hash): no script, no image,
no frame, no form may run or load, whatever a case note contains.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from recaudit.audit import Audit
from recaudit.report.i18n import DEFAULT_LANG, Formatter, translations
from recaudit.report.pages import TEAMS_DIR, WORKERS_DIR, build_pages
from recaudit.resources import templates_dir

STYLESHEET = "report.css"


def csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str) -> str:
    return (
        "default-src 'none'; "
        f"style-src {csp_hash(css)}; "
        "img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'"
    )


def environment(lang: str = DEFAULT_LANG) -> Environment:
    """The template environment for one report language (autoescape on for everything)."""
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=False,
        keep_trailing_newline=True,
        # The shipped templates do not change during a run: no file check per page.
        auto_reload=False,
    )
    # newstyle gettext escapes the values put into a message, and fails loudly on a
    # message whose placeholders do not match.
    catalogue = translations(lang)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = Gettext(catalogue.gettext)
    env.globals["fragment"] = Fragments()
    return env


class Gettext:
    """The templates' `_`: what jinja2's newstyle gettext does with autoescape on (the
    translation is markup, the values are escaped into it, a placeholder without a value
    fails), minus its per-call context lookups, and remembering each message it formats.

    A worker page asks for "Note %(note)s, %(date)s" once per piece of evidence, with the
    same few notes and dates over and over; jinja2's own gettext costs ~15 µs a call.
    """

    # Distinct formatted messages kept, then the memo starts afresh: "Record %(id)s" is
    # new for every record, and memory must not grow with them.
    LIMIT = 4096

    def __init__(self, translate: Callable[[str], str]) -> None:
        self.translate = translate
        self.memo: dict[tuple[Any, ...], Markup] = {}

    def __call__(self, message: str, /, **values: Any) -> Markup:
        # Only plain strings are remembered: 1 and 1.0, or "<b>" and Markup("<b>"), are
        # equal keys that format differently.
        if not all(type(value) is str for value in values.values()):
            return self._format(message, values)
        key = (message, *values.items())
        text = self.memo.get(key)
        if text is None:
            if len(self.memo) >= self.LIMIT:
                self.memo.clear()
            text = self.memo[key] = self._format(message, values)
        return text

    def _format(self, message: str, values: dict[str, Any]) -> Markup:
        return Markup(self.translate(message)) % values


class Fragments:
    """The templates' `fragment(macro, value)`: the macro's markup for `value`, rendered
    once per distinct value and then reused.

    A worker page shows one section per rule outcome of every record, and most are the
    same section again ("not applicable: …", "child.siblings lists 2 item(s)"): on the
    benchmark corpus 3 in 4 repeat one shown before. Only for macros whose markup depends
    on nothing but their argument (and the page language); the argument must be plain
    data (str, None, numbers, tuples of them), where equal values render the same: so
    never `Markup`, which equals the `str` of its text but is not escaped.
    """

    # Distinct sections kept, then the memo starts afresh (memory must not grow with
    # the records: a section with evidence quotes the note).
    LIMIT = 2048

    def __init__(self) -> None:
        self.memo: dict[tuple[Any, Any], Markup] = {}

    def __call__(self, macro: Callable[[Any], Markup], value: Any) -> Markup:
        key = (macro, value)
        html = self.memo.get(key)
        if html is None:
            if len(self.memo) >= self.LIMIT:
                self.memo.clear()
            html = self.memo[key] = macro(value)
        return html

    def sections(self, macro: Callable[[Any], Markup], items: Iterable[Any]) -> Markup:
        """`macro` of each of a record's outcomes, joined: one template call per record
        rather than one per outcome (jinja2 spends ~2 µs on each call). Sections quoting
        evidence are rendered each time: they are as unique as the notes they quote."""
        return Markup("").join(
            macro(item) if item.findings else self(macro, item) for item in items
        )


def _write(
    env: Environment, template: str, path: Path, *, page: Any, root: str = "../", **shared: Any
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Streamed: a worker's page may be megabytes; it is never held whole.
    chunks = env.get_template(template).generate(page=page, meta=page.meta, root=root, **shared)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.writelines(chunks)
    return path


def write_html(audit: Audit, path: Path, lang: str = DEFAULT_LANG, **_: Any) -> Path:
    """Write the overview to `path` and the worker and team pages beside it."""
    env = environment(lang)
    css_text = (templates_dir() / STYLESHEET).read_text(encoding="utf-8")
    # Our own static stylesheet, not record text: it must reach the page unescaped.
    shared = {
        "lang": lang,
        "css": Markup(css_text),
        "csp": content_security_policy(css_text),
    }
    out_dir = path.parent
    written: set[Path] = set()
    with build_pages(audit, Formatter(lang)) as pages:
        for worker in pages.workers():
            written.add(_write(env, "worker.html.j2", out_dir / worker.file, page=worker, **shared))
        for team in pages.teams:
            written.add(_write(env, "team.html.j2", out_dir / team.file, page=team, **shared))
        _remove_stale(out_dir, written)
        return _write(env, "overview.html.j2", path, page=pages.overview, root="", **shared)


def _remove_stale(out_dir: Path, written: set[Path]) -> None:
    """Pages left from an earlier run into the same folder would show workers who are not
    in this audit; the two page folders belong to the report, so tidy them."""
    for folder in (WORKERS_DIR, TEAMS_DIR):
        for old in (out_dir / folder).glob("*.html"):
            if old not in written:
                old.unlink()
