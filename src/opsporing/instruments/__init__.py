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

from ._languages import instrument_languages
from ._registry import (
    get_instrument,
    list_instruments,
    load_instrument,
    shipped_instrument_paths,
)
from ._schema import (
    FORMAT,
    MAX_AGE_YEARS,
    AgeRange,
    Bound,
    Cutoffs,
    Domain,
    Evidence,
    Informant,
    Instrument,
    InstrumentHeader,
    Item,
    LocalText,
    Norms,
    NumberRange,
    OverallRule,
    PercentileRule,
    ResponseScale,
    ScaleOption,
    Total,
)
from ._selection import current_forms, select_instrument
from ._validate import build_instrument

__all__ = [
    "FORMAT",
    "MAX_AGE_YEARS",
    "AgeRange",
    "Bound",
    "Cutoffs",
    "Domain",
    "Evidence",
    "Informant",
    "Instrument",
    "InstrumentHeader",
    "Item",
    "LocalText",
    "Norms",
    "NumberRange",
    "OverallRule",
    "PercentileRule",
    "ResponseScale",
    "ScaleOption",
    "Total",
    "build_instrument",
    "current_forms",
    "get_instrument",
    "instrument_languages",
    "list_instruments",
    "load_instrument",
    "select_instrument",
    "shipped_instrument_paths",
]
