"""The common vocabulary (fælles sprog): concerns, protective factors, staircase, bands.

Examples
--------
>>> from opsporing.vocabulary import get_concept, get_step
>>> get_concept("protective.trusted_adult").label.da
'En fortrolig voksen'
>>> get_step(2).legal_basis.da
'Barnets lov § 30 (tidl. SEL § 11, stk. 3)'
"""

from ._model import (
    LANGUAGE_PATTERN,
    LANGUAGES,
    Band,
    Concept,
    Language,
    PreventionLevel,
    Step,
    Text,
    check_language,
    text_problems,
)
from ._vocabulary import (
    Vocabulary,
    get_band,
    get_concept,
    get_step,
    load_vocabulary,
    read_vocabulary,
)

__all__ = [
    "LANGUAGES",
    "LANGUAGE_PATTERN",
    "Band",
    "Concept",
    "Language",
    "PreventionLevel",
    "Step",
    "Text",
    "Vocabulary",
    "check_language",
    "get_band",
    "get_concept",
    "get_step",
    "load_vocabulary",
    "read_vocabulary",
    "text_problems",
]
