"""Screening instruments defined as versioned data.

An instrument file (YAML or JSON) declares its id, version, title, setting and
age range, response scales, items (with reverse keys and the vocabulary concepts
they evidence), domains with their missing-data rule and band cut-offs, and a
total. Loading validates everything and reports every problem at once.

Examples
--------
>>> from opsporing.instruments import get_instrument
>>> inst = get_instrument("opsporing.skole.trivsel")
>>> inst.settings
('skole',)
>>> len(inst.items) >= 20
True
"""

from ._registry import (
    get_instrument,
    list_instruments,
    load_instrument,
    shipped_instrument_paths,
)
from ._schema import (
    FORMAT,
    AgeRange,
    Cutoffs,
    Domain,
    Evidence,
    Instrument,
    InstrumentHeader,
    Item,
    LocalText,
    ResponseScale,
    ScaleOption,
    Total,
)
from ._validate import build_instrument

__all__ = [
    "FORMAT",
    "AgeRange",
    "Cutoffs",
    "Domain",
    "Evidence",
    "Instrument",
    "InstrumentHeader",
    "Item",
    "LocalText",
    "ResponseScale",
    "ScaleOption",
    "Total",
    "build_instrument",
    "get_instrument",
    "list_instruments",
    "load_instrument",
    "shipped_instrument_paths",
]
