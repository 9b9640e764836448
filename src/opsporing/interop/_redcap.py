"""REDCap data dictionaries: export an instrument, import it back, read exported records.

A REDCap data dictionary is a CSV with 18 fixed columns, one row per field. The export has a
hidden ``descriptive`` field first whose Field Annotation carries the scoring rules REDCap has
no column for (scales in both languages, domains, cut-offs, total) as JSON after
``opsporing:instrument=``, then one ``radio`` field per item (choices ``0, Aldrig | 1, …``,
Danish label, the domain as Section Header) whose annotation carries the item's id, domain,
scale, reverse keying, evidence rules, critical answers, ages it fits, act-now text and English
text after ``opsporing:item=``. An item on a number scale (days absent) is an ``integer`` text
field with the scale's min and max; an item of a required domain (safety) is a required field.

The import rebuilds the instrument from that and validates it completely
(:func:`opsporing.instruments.build_instrument`); it also checks that what REDCap users see
and may have edited (field labels, choices, field types) still says what the rules say, and
reports every difference at once.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InstrumentDefinitionError, Problem, ResponseValidationError
from ..instruments import Instrument, build_instrument

#: The columns of a REDCap data dictionary, in REDCap's order.
REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
HEADER_FIELD = "opsporing_instrument"
_INSTRUMENT_TAG = "opsporing:instrument="
_ITEM_TAG = "opsporing:item="
_NOT_FIELD = re.compile(r"[^a-z0-9_]+")


def redcap_field_name(item_id: str) -> str:
    """A REDCap variable name for an item id: lower case, ``_`` for other signs, a letter first.

    Examples
    --------
    >>> redcap_field_name("emo_sad"), redcap_field_name("1vurdering"), redcap_field_name("A.b-c")
    ('emo_sad', 'v_1vurdering', 'a_b_c')
    """
    name = _NOT_FIELD.sub("_", item_id.lower()).strip("_") or "item"
    return name if name[0].isalpha() else f"v_{name}"


def _field_names(instrument: Instrument) -> dict[str, str]:
    names: dict[str, str] = {}
    for k, item_id in enumerate(instrument.item_ids):
        name = redcap_field_name(item_id)[:90]
        names[item_id] = (
            name if name not in names.values() and name != HEADER_FIELD else f"{name}_{k}"
        )
    return names


def _form_name(instrument: Instrument) -> str:
    return redcap_field_name(instrument.id)


def _choices(instrument: Instrument, scale_id: str) -> str:
    scale = instrument.scale(scale_id)
    return " | ".join(f"{o.value}, {o.label.da}" for o in scale.options)


def _field_type(instrument: Instrument, scale_id: str) -> str:
    # A count (days absent) is typed in, validated as a whole number between min and max.
    return "text" if instrument.scale(scale_id).is_number else "radio"


def to_redcap_dictionary(instrument: Instrument) -> pd.DataFrame:
    """An instrument as a REDCap data dictionary (one row per field, REDCap's 18 columns).

    Write it with ``df.to_csv(path, index=False)`` and upload it in REDCap (Project Setup →
    Data Dictionary).

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> dd = to_redcap_dictionary(get_instrument("topi"))
    >>> dd[["Variable / Field Name", "Field Type"]].values.tolist()
    [['opsporing_instrument', 'descriptive'], ['v_1vurdering', 'radio']]
    >>> dd.loc[1, "Choices, Calculations, OR Slider Labels"]
    '0, Grøn | 1, Gul | 2, Rød'
    """
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [Problem("instrument", type(instrument).__name__, "an opsporing Instrument")]
        )
    form = _form_name(instrument)
    rules = instrument.model_dump(mode="json", exclude={"items"})
    rows: list[dict[str, str]] = [
        {
            "Variable / Field Name": HEADER_FIELD,
            "Form Name": form,
            "Field Type": "descriptive",
            "Field Label": f"{instrument.title.da} ({instrument.key}). Beslutningsstøtte: "
            "skemaet erstatter aldrig den faglige vurdering eller underretningspligten.",
            "Field Annotation": "@HIDDEN "
            + _INSTRUMENT_TAG
            + json.dumps(rules, ensure_ascii=False),
        }
    ]
    names = _field_names(instrument)
    seen_domains: set[str] = set()
    for item in instrument.items:
        meta = {
            "id": item.id,
            "domain": item.domain,
            "scale": item.scale,
            "reverse": item.reverse,
            "evidences": [e.model_dump(exclude_none=True) for e in item.evidences],
            "text_en": item.text.en,
            **item.model_dump(
                mode="json", include={"critical", "fits_age", "act_now"}, exclude_none=True
            ),
        }
        scale = instrument.scale(item.scale)
        number = scale.number
        header = ""
        if item.domain not in seen_domains:
            seen_domains.add(item.domain)
            header = instrument.domain(item.domain).label.da
        rows.append(
            {
                "Variable / Field Name": names[item.id],
                "Form Name": form,
                "Section Header": header,
                "Field Type": _field_type(instrument, item.scale),
                "Field Label": item.text.da,
                "Choices, Calculations, OR Slider Labels": _choices(instrument, item.scale),
                "Field Note": item.text.en,
                "Text Validation Type OR Show Slider Number": "integer" if number else "",
                "Text Validation Min": str(number.min) if number else "",
                "Text Validation Max": str(number.max) if number else "",
                "Required Field?": "y" if instrument.domain(item.domain).required else "",
                "Field Annotation": _ITEM_TAG + json.dumps(meta, ensure_ascii=False),
            }
        )
    return pd.DataFrame(
        [{c: row.get(c, "") for c in REDCAP_COLUMNS} for row in rows],
        columns=list(REDCAP_COLUMNS),
        dtype=object,
    )


def _read_table(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.astype(object).where(source.notna(), "")
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _tagged(annotation: str, tag: str) -> str | None:
    at = annotation.find(tag)
    return annotation[at + len(tag) :] if at >= 0 else None


def from_redcap_dictionary(
    source: pd.DataFrame | str | Path, *, source_name: str = "<REDCap dictionary>"
) -> Instrument:
    """Read an instrument back from a data dictionary made by :func:`to_redcap_dictionary`.

    Parameters
    ----------
    source : DataFrame, Path or str
        The dictionary as a table, a CSV file, or CSV text.

    Raises
    ------
    InstrumentDefinitionError
        Listing every problem: missing columns or the ``opsporing_instrument`` field, JSON that
        does not parse, labels or choices edited so that they no longer match the rules, and
        everything :func:`opsporing.instruments.build_instrument` finds.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> topi = get_instrument("topi")
    >>> from_redcap_dictionary(to_redcap_dictionary(topi)) == topi
    True
    """
    table = _read_table(source)
    problems: list[Problem] = []
    missing = [c for c in ("Variable / Field Name", "Field Type", "Field Label",
                           "Choices, Calculations, OR Slider Labels", "Field Annotation")
               if c not in table.columns]  # fmt: skip
    if missing:
        raise InstrumentDefinitionError(
            source_name,
            [
                Problem(c, "absent", "a column of a REDCap data dictionary", kind="missing_column")
                for c in missing
            ],
        )
    rules: Any = None
    items: list[dict[str, Any]] = []
    shown: list[tuple[str, dict[str, Any]]] = []
    for _, row in table.iterrows():
        name = str(row["Variable / Field Name"])
        annotation = str(row["Field Annotation"])
        header = _tagged(annotation, _INSTRUMENT_TAG)
        item = _tagged(annotation, _ITEM_TAG)
        try:
            if header is not None:
                rules = json.loads(header)
            elif item is not None:
                meta = json.loads(item)
                if not isinstance(meta, Mapping):
                    raise ValueError("not an object")
                text_en = meta.get("text_en")
                items.append(
                    {
                        "id": meta.get("id"),
                        "text": {"da": str(row["Field Label"]), "en": text_en},
                        "domain": meta.get("domain"),
                        "scale": meta.get("scale"),
                        "reverse": meta.get("reverse", False),
                        "evidences": meta.get("evidences", []),
                        **{k: meta[k] for k in ("critical", "fits_age", "act_now") if k in meta},
                    }
                )
                shown.append((name, dict(row)))
        except ValueError as exc:
            problems.append(
                Problem(
                    f"{name}.Field Annotation",
                    annotation[:80],
                    f"JSON after the opsporing tag ({exc})",
                    kind="annotation",
                )
            )
    if not isinstance(rules, Mapping):
        problems.append(
            Problem(
                HEADER_FIELD,
                "absent",
                f"a descriptive field whose annotation holds {_INSTRUMENT_TAG}{{…}}",
                kind="missing_field",
            )
        )
        raise InstrumentDefinitionError(source_name, problems)
    tree = {**rules, "items": items}
    try:
        instrument = build_instrument(tree, source_name)
    except InstrumentDefinitionError as exc:
        raise InstrumentDefinitionError(source_name, [*problems, *exc.problems]) from None
    for (name, cells), item_tree in zip(shown, items, strict=True):
        scale_id = instrument.item(item_tree["id"]).scale
        field_type = _field_type(instrument, scale_id)
        if cells["Field Type"] != field_type:
            problems.append(
                Problem(f"{name}.Field Type", cells["Field Type"], field_type, kind="edited")
            )
        expected = _choices(instrument, scale_id)
        if str(cells["Choices, Calculations, OR Slider Labels"]).strip() != expected:
            problems.append(
                Problem(
                    f"{name}.Choices",
                    cells["Choices, Calculations, OR Slider Labels"],
                    expected,
                    kind="edited",
                )
            )
    if problems:
        raise InstrumentDefinitionError(source_name, problems)
    return instrument


def redcap_column_map(dictionary: pd.DataFrame | str | Path) -> dict[str, str]:
    """REDCap variable name -> item id, from a dictionary made by :func:`to_redcap_dictionary`."""
    table = _read_table(dictionary)
    out = {}
    for _, row in table.iterrows():
        meta = _tagged(str(row.get("Field Annotation", "")), _ITEM_TAG)
        if meta is not None:
            out[str(row["Variable / Field Name"])] = json.loads(meta)["id"]
    return out


def from_redcap_records(records: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """REDCap's export of records (raw values) as forms for :func:`~opsporing.scoring.score_batch`.

    Item columns are renamed to item ids; ``record_id`` and REDCap's own columns
    (``redcap_*``, ``*_complete``) and the header field are kept as they are. Empty cells are
    unanswered items. Values are checked by ``score_batch``, which reports every bad cell.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> topi = get_instrument("topi")
    >>> records = pd.DataFrame({"record_id": [1, 2], "v_1vurdering": [2, None]})
    >>> from_redcap_records(records, topi).columns.tolist()
    ['record_id', '1vurdering']
    """
    names = {v: k for k, v in _field_names(instrument).items()}
    renamed = records.rename(columns={c: names[c] for c in records.columns if c in names})
    return renamed.drop(columns=[c for c in renamed.columns if c == HEADER_FIELD])
