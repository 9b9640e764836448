"""An instrument as a JSON Schema (draft 2020-12), so any form builder can render it."""

from __future__ import annotations

from typing import Any, Literal

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument
from ._common import CANONICAL_BASE, check_lang

#: The JSON Schema dialect of the exported schemas.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_NOT_ANSWERED = {"da": "Ikke besvaret", "en": "Not answered"}


def to_json_schema(
    instrument: Instrument,
    lang: Literal["da", "en"] = "da",
    *,
    base_url: str = CANONICAL_BASE,
) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of one filled-in form of an instrument.

    A form is a JSON object with one property per item id; its value is one of the
    item's scale values, or ``null`` (not answered); items may be left out; any other
    property is invalid. Annotations let a form builder render it in Danish or English.

    Parameters
    ----------
    instrument : Instrument
    lang : {"da", "en"}
        Language of ``title``/``description``; every language of the texts (Danish,
        English and any further one) is in the ``x-`` annotations.
    base_url : str
        The schema's ``$id`` is ``{base_url}/JSONSchema/{id}/{version}``.

    Returns
    -------
    dict
        Per item: ``title`` (the question), ``type`` ``["integer", "null"]``, ``enum``
        of the allowed values, and ``oneOf`` with one ``{"const": value, "title":
        label}`` per answer (plus ``null``, "Ikke besvaret"), each carrying
        ``x-label: {"da", "en"}``; the item also has ``x-text: {"da", "en"}``,
        ``x-domain``, ``x-scale``, ``x-reverse`` and ``x-order``. An item on a number scale
        (a count such as days absent) has ``minimum``, ``maximum`` and ``x-unit: {"da",
        "en"}`` instead of ``enum`` and ``oneOf``. An item of a ``required`` domain (safety)
        is ``type: "integer"`` with no ``null`` option and no ``default``, and is listed in
        the schema's ``required``: a blank is never read as "no". At the top,
        ``x-instrument`` gives id, version and domains.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> schema = to_json_schema(get_instrument("topi"))
    >>> schema["$schema"]
    'https://json-schema.org/draft/2020-12/schema'
    >>> prop = schema["properties"]["1vurdering"]
    >>> prop["enum"]
    [0, 1, 2, None]
    >>> [(o["const"], o["title"], o["x-label"]["en"]) for o in prop["oneOf"]]
    [(0, 'Grøn', 'Green'), (1, 'Gul', 'Yellow'), (2, 'Rød', 'Red'), (None, 'Ikke besvaret', 'Not answered')]
    """  # noqa: E501
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [
                Problem(
                    "instrument", type(instrument).__name__, "an opsporing Instrument", kind="type"
                )
            ]
        )
    lang = check_lang(lang)
    properties: dict[str, Any] = {}
    for order, item in enumerate(instrument.items):
        scale = instrument.scale(item.scale)
        required = instrument.domain(item.domain).required
        answer: dict[str, Any]
        if scale.number is not None:
            # A count (days absent): any whole number in the range, with its unit.
            answer = {
                "minimum": scale.number.min,
                "maximum": scale.number.max,
                "x-unit": scale.number.unit.as_dict(),
            }
        else:
            one_of: list[dict[str, Any]] = [
                {"const": o.value, "title": o.label.get(lang), "x-label": o.label.as_dict()}
                for o in scale.options
            ]
            if required:  # safety items: a blank is never read as "no"
                answer = {"enum": list(scale.values), "oneOf": one_of}
            else:
                one_of.append(
                    {"const": None, "title": _NOT_ANSWERED[lang], "x-label": dict(_NOT_ANSWERED)}
                )
                answer = {"enum": [*scale.values, None], "oneOf": one_of}
        properties[item.id] = {
            "title": item.text.get(lang),
            "type": "integer" if required else ["integer", "null"],
            **answer,
            **({} if required else {"default": None}),
            "x-text": item.text.as_dict(),
            "x-domain": item.domain,
            "x-scale": scale.id,
            "x-reverse": item.reverse,
            "x-order": order,
        }
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{base_url.rstrip('/')}/JSONSchema/{instrument.id}/{instrument.version}",
        "title": instrument.title.get(lang),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "x-title": instrument.title.as_dict(),
        "x-instrument": {
            "id": instrument.id,
            "version": instrument.version,
            "key": instrument.key,
            "domains": [
                {
                    "id": d.id,
                    "label": d.label.as_dict(),
                    "items": [i.id for i in instrument.items_in(d.id)],
                }
                for d in instrument.domains
            ],
        },
    }
    required_items = [i.id for i in instrument.items if instrument.domain(i.domain).required]
    if required_items:
        schema["required"] = required_items
    if instrument.description is not None:
        schema["description"] = instrument.description.get(lang)
    return schema
