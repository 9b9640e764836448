"""Instruments in the tools researchers and municipalities already use.

- :func:`to_xlsform` writes an instrument as an **XLSForm** (ODK Collect, KoboToolbox,
  Enketo); :func:`from_xlsform_submissions` reads the submissions those tools export.
- :func:`to_redcap_dictionary` / :func:`from_redcap_dictionary` write and read a **REDCap data
  dictionary** (lossless: the scoring rules travel in the Field Annotations);
  :func:`from_redcap_records` reads REDCap's export of records for ``score_batch``.
- :func:`read_sdq` reads **SDQ** responses (parent, teacher, self-report) from a KL Gateway
  FHIR export or a table; :func:`score_sdq_responses` scores them by the published rules
  (:func:`opsporing.fhir.score_sdq`) and :func:`sdq_bands` gives the published bands, each
  labelled with its source.
- :func:`instrument_json_schema` is the **JSON Schema** of instrument files, published as
  ``opsporing/instruments/instrument.schema.json`` for editors.

The XLSForm workbook needs ``openpyxl`` and its validation ``pyxform``: ``pip install
'opsporing[interop]'``.

Examples
--------
>>> from opsporing.instruments import get_instrument
>>> topi = get_instrument("topi")
>>> from_redcap_dictionary(to_redcap_dictionary(topi)) == topi
True
>>> [r["name"] for r in to_xlsform(topi).survey if r["type"].startswith("select_one")]
['_1vurdering']
"""

from ._instrument_schema import SCHEMA_FILE, instrument_json_schema
from ._redcap import (
    REDCAP_COLUMNS,
    from_redcap_dictionary,
    from_redcap_records,
    redcap_column_map,
    redcap_field_name,
    to_redcap_dictionary,
)
from ._sdq import SDQ_INFORMANTS, SdqResponse, score_sdq_responses, sdq_bands, sdq_key
from ._sdq_read import read_sdq, sdq_responses_from_records
from ._xlsform import (
    XLSForm,
    from_xlsform_submissions,
    to_xlsform,
    xlsform_column_map,
    xlsform_name,
)

__all__ = [
    "REDCAP_COLUMNS",
    "SCHEMA_FILE",
    "SDQ_INFORMANTS",
    "SdqResponse",
    "XLSForm",
    "from_redcap_dictionary",
    "from_redcap_records",
    "from_xlsform_submissions",
    "instrument_json_schema",
    "read_sdq",
    "redcap_column_map",
    "redcap_field_name",
    "score_sdq_responses",
    "sdq_bands",
    "sdq_key",
    "sdq_responses_from_records",
    "to_redcap_dictionary",
    "to_xlsform",
    "xlsform_column_map",
    "xlsform_name",
]
