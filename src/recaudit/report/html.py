"""`audit.html` (first version: summary + findings; see issue 5 for the full report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from recaudit.audit import Audit
from recaudit.resources import templates_dir


def write_html(audit: Audit, path: Path, **_: Any) -> Path:
    env = Environment(
        loader=FileSystemLoader(templates_dir()), autoescape=select_autoescape(default=True)
    )
    html = env.get_template("audit.html.j2").render(audit=audit)
    path.write_text(html, encoding="utf-8")
    return path
