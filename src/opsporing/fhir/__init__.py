"""FHIR R4 and JSON Schema interoperability: export instruments, read responses back.

- :func:`to_questionnaire` exports an instrument as a FHIR R4 Questionnaire (linkIds =
  item ids, coded answer options with ordinal values, Danish and English text);
  :func:`to_questionnaire_response` writes a form as a QuestionnaireResponse, and
  :func:`from_questionnaire_response` / :func:`from_questionnaire_responses` read
  responses back into forms for :mod:`opsporing.scoring`.
- KL Gateway (the municipalities' children implementation guide, ``hl7dk/kl-children``):
  :func:`from_kl_topi_response` reads its TOPI response into a form of the shipped
  ``topi`` instrument; :func:`from_kl_sdq_response` and :func:`score_sdq` read and score
  its SDQ 4-10 and 11-17 responses by the public SDQ scoring rules (no SDQ wording is
  shipped: it is copyright youthinmind).
- SDC (Structured Data Capture 3.0.0): the Questionnaire scores itself in a form renderer
  (FHIRPath ``calculatedExpression`` of each domain score and band, the total, the overall
  band and the red flag, with ``observationExtract``); :func:`to_code_systems`,
  :func:`to_value_sets` and :func:`to_sdc_bundle` export the terminology it refers to.
- :func:`to_json_schema` describes a form as JSON Schema (draft 2020-12) for any form
  builder.

Nothing here needs a FHIR library at run time: resources are plain JSON-ready dicts.
Every reader reports bad input as one :class:`~opsporing.errors.ResponseValidationError`
naming each field (linkId), the value found and what was expected.

Examples
--------
>>> from opsporing.instruments import get_instrument
>>> from opsporing.scoring import score_form
>>> topi = get_instrument("topi")
>>> q = to_questionnaire(topi)
>>> qr = to_questionnaire_response(topi, {"1vurdering": 2})
>>> form = from_questionnaire_response(qr, topi)
>>> form, score_form(topi, form).overall_band
({'1vurdering': 2}, 'rød')
"""

from ._common import CANONICAL_BASE, ORDINAL_VALUE_URL, TRANSLATION_URL, questionnaire_url
from ._jsonschema import JSON_SCHEMA_DIALECT, to_json_schema
from ._kl import (
    KL_SDQ_4_10,
    KL_SDQ_11_17,
    KL_SDQ_ANSWERS,
    KL_TOPI,
    from_kl_sdq_response,
    from_kl_topi_response,
    score_kl_sdq,
)
from ._questionnaire import to_questionnaire
from ._response import (
    from_questionnaire_response,
    from_questionnaire_responses,
    to_questionnaire_response,
)
from ._sdc import (
    CALCULATED_EXPRESSION_URL,
    OBSERVATION_EXTRACT_URL,
    SDC_PROFILES,
    VARIABLE_URL,
    computed_link_ids,
    scoring_variables,
)
from ._sdq import SDQ_IMPACT_ITEMS, SDQ_REVERSED, SDQ_SUBSCALES, SDQScore, score_sdq
from ._terminology import to_code_systems, to_sdc_bundle, to_value_sets

__all__ = [
    "CALCULATED_EXPRESSION_URL",
    "CANONICAL_BASE",
    "JSON_SCHEMA_DIALECT",
    "KL_SDQ_4_10",
    "KL_SDQ_11_17",
    "KL_SDQ_ANSWERS",
    "KL_TOPI",
    "OBSERVATION_EXTRACT_URL",
    "ORDINAL_VALUE_URL",
    "SDC_PROFILES",
    "SDQ_IMPACT_ITEMS",
    "SDQ_REVERSED",
    "SDQ_SUBSCALES",
    "TRANSLATION_URL",
    "VARIABLE_URL",
    "SDQScore",
    "computed_link_ids",
    "from_kl_sdq_response",
    "from_kl_topi_response",
    "from_questionnaire_response",
    "from_questionnaire_responses",
    "questionnaire_url",
    "score_kl_sdq",
    "score_sdq",
    "scoring_variables",
    "to_code_systems",
    "to_json_schema",
    "to_questionnaire",
    "to_questionnaire_response",
    "to_sdc_bundle",
    "to_value_sets",
]
