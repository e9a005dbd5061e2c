"""Report languages: the message catalogue (gettext via Babel) and locale-aware formatting.

Every piece of report chrome is an English msgid in the templates; other languages are
GNU gettext `.po` files under `locales/<lang>/LC_MESSAGES/recaudit.po`. The `.po` text is
compiled in memory when first used, so the wheel ships only the reviewable text file and
no build step is needed. Record content and rule-pack text are never translated here.

Updating the catalogue after changing a template (from the repository root):

    cd src/recaudit/report/locales
    pybabel extract -F babel.cfg --no-location --sort-output -o recaudit.pot ../../../../templates
    pybabel update -i recaudit.pot -d . -D recaudit --no-location
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

DOMAIN = "recaudit"
DEFAULT_LANG = "en"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
NO_VALUE = "–"
# Report languages are UK languages: format numbers and dates the British way.
CLDR_LOCALES = {"en": "en_GB", "cy": "cy_GB"}


class UnknownLanguage(ValueError):
    """A `--lang` for which no catalogue ships."""


def po_path(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """English (the msgids themselves) plus every language with a shipped catalogue."""
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT_LANG, *found)


@functools.cache
def translations(lang: str) -> NullTranslations:
    if lang == DEFAULT_LANG:
        return NullTranslations()
    if lang not in languages():
        raise UnknownLanguage(
            f"no report catalogue for language {lang!r}; available: {', '.join(languages())}"
        )
    with po_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy (unreviewed) entries are left out, as gettext does
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


@dataclass(frozen=True)
class Formatter:
    """Numbers and dates written the way readers of `lang` expect (CLDR data via Babel)."""

    lang: str

    @functools.cached_property
    def locale(self) -> Locale:
        return Locale.parse(CLDR_LOCALES.get(self.lang, self.lang))

    def number(self, value: float | None) -> str:
        return NO_VALUE if value is None else format_decimal(value, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return NO_VALUE if value is None else format_percent(value, "#,##0%", locale=self.locale)

    def date(self, value: dt.date | None) -> str:
        return NO_VALUE if value is None else format_date(value, "medium", locale=self.locale)

    def timestamp(self, iso: str) -> str:
        """An ISO 8601 time stamp, shown in UTC (so two readers see the same text)."""
        try:
            moment = dt.datetime.fromisoformat(iso)
        except ValueError:
            return iso
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return format_datetime(moment, "medium", tzinfo=dt.UTC, locale=self.locale) + " UTC"
