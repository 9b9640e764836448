"""The program's own words per language (CLI, demo, web form), and numbers and dates as each
language writes them.

The words are gettext messages: the code says them in English (``tr("wrote {path}", lang)``,
or ``N_("...")`` in the web form's table of interface strings) and the Danish comes from
the catalog ``opsporing/locale/da/LC_MESSAGES/opsporing.po``, read
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
>>> when = "2026-12-01T20:15:00+00:00"
>>> date_text(when, "da"), date_text(when, "en")
('1. december 2026', '1 December 2026')
>>> datetime_text(when, "da"), datetime_text(when, "en")
('1. december 2026 21.15', '1 December 2026, 21:15')

Dates follow one convention, CLDR's through Babel: the *long* date (``1. december 2026``;
English ``1 December 2026``), and for a moment the long date with the *short* time joined
the way the language joins them, in Danish time (``Europe/Copenhagen``, summer time
included) whatever the server's zone: the audit log stores UTC, a person reads local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Literal

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format, get_timezone
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, parse_pattern

__all__ = [
    "LANGUAGES",
    "N_",
    "Lang",
    "catalog",
    "date_text",
    "datetime_text",
    "integer",
    "number",
    "percent",
    "short",
    "tr",
    "translate",
]

Lang = Literal["da", "en"]

#: The language of a run -> the CLDR locale its numbers are written in.
LANGUAGES: dict[str, str] = {"da": "da_DK", "en": "en_GB"}

#: The zone a person reads times in: the municipality's (stored times are UTC).
TIME_ZONE = "Europe/Copenhagen"

#: The language the messages are written in, in the code (needs no catalog).
SOURCE_LANGUAGE = "en"


@cache
def catalog(lang: str) -> Catalog:
    """The message catalog of ``lang`` (read once from the package's ``locale`` folder)."""
    path = resources.files("opsporing").joinpath(f"locale/{lang}/LC_MESSAGES/opsporing.po")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain="opsporing")


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it yet (gettext's ``gettext_noop``).

    For tables of messages looked up later by key (the web form's ``UI``); the extractor
    finds ``N_("...")`` like ``tr("...")``.
    """
    return message


def translate(message: str, lang: Lang) -> str:
    """``message`` (English) in ``lang``, placeholders left as they are.

    A message missing from the catalog is shown in English (the tests keep the catalog
    complete, see ``tests/test_cli_front_door.py``).
    """
    if lang != SOURCE_LANGUAGE:
        found = catalog(lang).get(message)
        if found is not None and isinstance(found.string, str) and found.string:
            return found.string
    return message


def tr(message: str, lang: Lang, **values: object) -> str:
    """``message`` (English, with ``{placeholders}``) in ``lang``, with ``values`` filled in."""
    return translate(message, lang).format(**values)


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


def _moment(value: datetime | date | str, field: str) -> datetime | date:
    """A stored timestamp (an ISO 8601 string, as the audit log keeps it) or a date/datetime."""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:
            pass
    from .errors import DataError, Problem

    raise DataError(Problem(field, value, "an ISO 8601 date or date-time"))


def _local(moment: datetime) -> datetime:
    # A naive time is UTC: what every clock of the package stamps.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(get_timezone(TIME_ZONE))


def date_text(value: datetime | date | str, lang: Lang, field: str = "date") -> str:
    """A date as a person reads it: ``1. december 2026`` (``1 December 2026`` in English).

    A date-time is first moved to Danish time, so a decision stored at 23:30 UTC on
    31 March reads as 1 April.
    """
    moment = _moment(value, field)
    day = _local(moment).date() if isinstance(moment, datetime) else moment
    return str(format_date(day, "long", locale=LANGUAGES[lang]))


def datetime_text(value: datetime | str, lang: Lang, field: str = "time") -> str:
    """A moment as a person reads it, in Danish time: ``1. december 2026 21.15``.

    English: ``1 December 2026, 21:15``. Raises :class:`~opsporing.errors.DataError` naming
    ``field`` for a value that is not an ISO 8601 date-time.
    """
    moment = _moment(value, field)
    if not isinstance(moment, datetime):
        from .errors import DataError, Problem

        raise DataError(Problem(field, value, "an ISO 8601 date-time"))
    local, locale = _local(moment), LANGUAGES[lang]
    pattern = str(get_datetime_format("long", locale=locale))
    day = format_date(local.date(), "long", locale=locale)
    clock = format_time(local, "short", locale=locale)
    return pattern.replace("{1}", str(day)).replace("{0}", str(clock))
