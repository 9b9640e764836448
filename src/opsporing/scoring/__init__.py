"""Scoring of screening forms: one form, or a whole DataFrame of forms at once.

Examples
--------
>>> from opsporing.instruments import get_instrument
>>> from opsporing.scoring import score_form
>>> score_form(get_instrument("topi"), {"1vurdering": 2}).overall_band
'rød'
"""

from ._batch import (
    META_COLUMNS,
    ScoringResult,
    band_column,
    concept_column,
    score_batch,
    score_column,
)
from ._csv import MAX_CELL_CHARS, MAX_CSV_BYTES, read_forms
from ._form import CriticalAnswer, DomainScore, FormScore, score_form
from ._key import ScoringKey, scoring_key
from ._norms import DOMAIN_RULE, MIN_NORM_FORMS, TOTAL_RULE, band_shares, derive_norms
from ._stream import (
    StreamSummary,
    score_dask,
    score_parquet,
    suggest_dask,
    suggest_parquet,
)

__all__ = [
    "DOMAIN_RULE",
    "MAX_CELL_CHARS",
    "MAX_CSV_BYTES",
    "META_COLUMNS",
    "MIN_NORM_FORMS",
    "TOTAL_RULE",
    "CriticalAnswer",
    "DomainScore",
    "FormScore",
    "ScoringKey",
    "ScoringResult",
    "StreamSummary",
    "band_column",
    "band_shares",
    "concept_column",
    "derive_norms",
    "read_forms",
    "score_batch",
    "score_column",
    "score_dask",
    "score_form",
    "score_parquet",
    "scoring_key",
    "suggest_dask",
    "suggest_parquet",
]
