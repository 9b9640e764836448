"""Which languages an instrument's texts carry."""

from __future__ import annotations

from pydantic import BaseModel

from ..vocabulary import Text


def instrument_languages(record: BaseModel) -> tuple[str, ...]:
    """Every language a text of ``record`` (an instrument, or any part of one) carries.

    Danish first, then the others in the order they first appear. Exports that write one
    column or one translation per language (XLSForm, FHIR) read it, so a file that adds
    Arabic labels gets Arabic everywhere without touching the exporters.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> instrument_languages(get_instrument("topi"))
    ('da', 'en')
    """
    found: dict[str, None] = {"da": None}

    def walk(value: object) -> None:
        if isinstance(value, Text):
            found.update(dict.fromkeys(value.languages))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, tuple | list):
            for part in value:
                walk(part)

    walk(record)
    return tuple(found)
