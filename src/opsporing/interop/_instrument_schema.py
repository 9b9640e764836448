"""The JSON Schema of instrument files, generated from the pydantic models that read them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..instruments import Instrument

#: Where the published schema lives (in the package, next to the shipped instruments).
SCHEMA_FILE = "instrument.schema.json"
SCHEMA_ID = "https://opsporing.example.org/schema/opsporing-instrument-1.schema.json"


def instrument_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an ``opsporing-instrument/1`` file.

    Generated from :class:`opsporing.instruments.Instrument`, so it checks what pydantic
    checks field by field (names, types, id and version patterns, required fields, no unknown
    keys). The cross-references (an item's domain and scale, concept codes, band cut-offs in
    the score range) are checked by :func:`opsporing.instruments.load_instrument`, not here.

    Examples
    --------
    >>> schema = instrument_json_schema()
    >>> schema["$schema"], schema["required"][:3]
    ('https://json-schema.org/draft/2020-12/schema', ['id', 'version', 'title'])
    >>> schema["additionalProperties"]
    False
    """
    body = Instrument.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "opsporing instrument file (format opsporing-instrument/1)",
        "description": (
            "A screening instrument as data. Cross-references (an item's domain and scale, "
            "vocabulary codes, cut-offs within the score range) are checked when the file "
            "is loaded (opsporing.instruments.load_instrument), not by this schema."
        ),
        **{k: v for k, v in body.items() if k not in {"title", "description"}},
    }


def schema_text() -> str:
    """The schema as the published file holds it (sorted keys, two-space indent)."""
    return json.dumps(instrument_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def published_schema() -> str:
    """The text of the schema file shipped in the package."""
    return (resources.files("opsporing.instruments") / SCHEMA_FILE).read_text(encoding="utf-8")
