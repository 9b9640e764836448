"""The command line's own words per language, and numbers written the way each language does.

The words are gettext messages: the code says them in English (``tr("wrote {path}", lang)``)
and the Danish comes from the catalog ``opsporing/locale/da/LC_MESSAGES/opsporing.po``, read
with Babel, so translators use the usual tools (``pybabel extract`` / ``update``) and a new
language is one more ``.po`` file. Numbers go through Babel's CLDR data: a decimal comma and
``.`` between thousands in Danish. Error messages come from the library and are English.

Texts of the domain (concepts, steps, bands, items) come from the vocabulary and the
instruments, never from here.

Examples
--------
>>> tr("wrote {n} scored forms to {path}", "da", n=2, path="s.csv")
'skrev 2 scorede skemaer til s.csv'
>>> number(0.25, "da"), number(0.25, "en")
('0,25', '0.25')
>>> integer(50_000, "da"), percent(0.123, "da")
('50.000', '12,3\\xa0%')
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, parse_pattern

__all__ = ["LANGUAGES", "Lang", "catalog", "integer", "number", "percent", "short", "tr"]

Lang = Literal["da", "en"]

#: The language of a run -> the CLDR locale its numbers are written in.
LANGUAGES: dict[str, str] = {"da": "da_DK", "en": "en_GB"}

#: The language the messages are written in, in the code (needs no catalog).
SOURCE_LANGUAGE = "en"


@cache
def catalog(lang: str) -> Catalog:
    """The message catalog of ``lang`` (read once from the package's ``locale`` folder)."""
    path = resources.files("opsporing").joinpath(f"locale/{lang}/LC_MESSAGES/opsporing.po")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain="opsporing")


def tr(message: str, lang: Lang, **values: object) -> str:
    """``message`` (English, with ``{placeholders}``) in ``lang``, with ``values`` filled in.

    A message missing from the catalog is shown in English (the tests keep the catalog
    complete, see ``tests/test_cli_front_door.py``).
    """
    template = message
    if lang != SOURCE_LANGUAGE:
        found = catalog(lang).get(message)
        if found is not None and isinstance(found.string, str) and found.string:
            template = found.string
    return template.format(**values)


def number(value: float, lang: Lang, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals: ``0,25`` in Danish, ``0.25`` in English."""
    pattern = "0." + "0" * digits if digits else "0"
    return str(format_decimal(value, format=pattern, locale=LANGUAGES[lang]))


def short(value: float, lang: Lang) -> str:
    """A score as short as it is exact to two decimals: ``16``, ``1,67`` (``1.67`` in English)."""
    return str(format_decimal(value, format="#,##0.##", locale=LANGUAGES[lang]))


def integer(value: int, lang: Lang) -> str:
    """A count with its thousands marked: ``50.000`` in Danish, ``50,000`` in English."""
    return str(format_decimal(value, format="#,##0", locale=LANGUAGES[lang]))


def percent(value: float, lang: Lang, digits: int = 1) -> str:
    """A share as a percentage, as the language writes it: ``12,3 %`` or ``12.3%``."""
    locale = Locale.parse(LANGUAGES[lang])
    pattern = parse_pattern(locale.percent_formats[None].pattern)  # the language's own layout
    pattern.frac_prec = (digits, digits)
    return str(pattern.apply(value, locale))
