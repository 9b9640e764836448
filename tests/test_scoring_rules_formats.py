"""A number item and a required 3-option safety item through every format: FHIR (Questionnaire,
QuestionnaireResponse, SDC expressions), XLSForm, REDCap, JSON Schema, CSV and the web form."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opsporing.errors import ResponseValidationError
from opsporing.fhir import (
    from_questionnaire_response,
    to_json_schema,
    to_questionnaire,
    to_questionnaire_response,
    to_sdc_bundle,
)
from opsporing.instruments import Instrument, load_instrument
from opsporing.interop import from_redcap_dictionary, to_redcap_dictionary, to_xlsform
from opsporing.scoring import read_forms, score_batch, score_form

DATA = Path(__file__).parent / "data"
TOTAL = load_instrument(DATA / "total_instrument.yaml")
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
CALM: dict[str, Any] = {
    "m1": 0, "m2": 1, "m3": 3, "c1": 0, "absence": 2, "k1": 0,
    "s1": 0, "s2": 0, "r1": 3, "r2": 3,
}  # fmt: skip


def _walk(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for item in items:
        out[item["linkId"]] = item
        out.update(_walk(item.get("item", [])))
    return out


def random_complete_forms(instrument: Instrument, n: int, seed: int) -> list[dict[str, Any]]:
    """Random forms with every required item answered (the others sometimes blank)."""
    rng = random.Random(seed)
    forms = []
    for _ in range(n):
        form: dict[str, Any] = {}
        for item in instrument.items:
            values = instrument.scale(item.scale).values
            required = instrument.domain(item.domain).required
            form[item.id] = None if not required and rng.random() < 0.2 else rng.choice(values)
        forms.append(form)
    return forms


# --- FHIR ----------------------------------------------------------------------------------------
def test_questionnaire_has_an_integer_item_and_required_safety_items() -> None:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.questionnaire import Questionnaire

    q = to_questionnaire(TOTAL)
    Questionnaire.model_validate(q)
    Bundle.model_validate(to_sdc_bundle(TOTAL))
    items = _walk(q["item"])
    absence = items["absence"]
    assert absence["type"] == "integer" and "answerOption" not in absence
    bounds = {e["url"]: e.get("valueInteger") for e in absence["extension"]}
    assert bounds[MIN_VALUE] == 0 and bounds[MAX_VALUE] == 65
    assert absence["required"] is False
    for safety in ("s1", "s2"):
        assert items[safety]["required"] is True and items[safety]["type"] == "choice"
        assert [o["valueCoding"]["code"] for o in items[safety]["answerOption"]] == ["0", "1", "2"]
    assert items["m1"]["required"] is False


def test_questionnaire_response_round_trips_a_number_answer() -> None:
    qr = to_questionnaire_response(TOTAL, {**CALM, "absence": 14})
    answers = {i["linkId"]: i["answer"][0] for i in _walk(qr["item"]).values() if "answer" in i}
    assert answers["absence"] == {"valueInteger": 14}
    assert from_questionnaire_response(qr, TOTAL) == {**CALM, "absence": 14}


@pytest.mark.parametrize(
    "answer",
    [
        {"valueInteger": 66},
        {"valueInteger": -1},
        {"valueInteger": 10**400},
        {"valueCoding": {"code": "3"}},
        {"valueString": "3"},
    ],
)
def test_a_number_answer_outside_the_range_or_coded_is_refused(answer: dict[str, Any]) -> None:
    qr = to_questionnaire_response(TOTAL, CALM)
    _walk(qr["item"])["absence"]["answer"] = [answer]
    with pytest.raises(ResponseValidationError) as info:
        from_questionnaire_response(qr, TOTAL)
    (problem,) = info.value.problems
    assert problem.field == "absence" and "from 0 to 65" in problem.expected


def test_writing_a_response_refuses_a_number_outside_the_range() -> None:
    with pytest.raises(ResponseValidationError, match="absence"):
        to_questionnaire_response(TOTAL, {**CALM, "absence": 70})


def test_sdc_expressions_follow_the_total_rule() -> None:
    fhirpathpy = pytest.importorskip("fhirpathpy")
    from fhirpathpy.models import models

    from .test_fhir_sdc import SDCRenderer, one

    renderer = SDCRenderer(to_questionnaire(TOTAL))
    bands = set()
    for form in random_complete_forms(TOTAL, 80, seed=17):
        expected = score_form(TOTAL, form)
        got = {k: one(v) for k, v in renderer.fill(to_questionnaire_response(TOTAL, form)).items()}
        assert got["overall:band"] == expected.overall_band, form
        assert got["red-flag"] is expected.red_flag, form
        assert got["score:school"] == expected.domains["school"].score, form
        bands.add(expected.overall_band)
    assert {"grøn", "gul", "rød"} <= bands
    assert fhirpathpy and models  # the engine ran


def test_json_schema_bounds_the_number_and_requires_safety() -> None:
    schema = to_json_schema(TOTAL)
    absence = schema["properties"]["absence"]
    assert (absence["minimum"], absence["maximum"]) == (0, 65) and "enum" not in absence
    assert schema["required"] == ["s1", "s2"]
    assert schema["properties"]["s1"]["type"] == "integer"
    assert [o["const"] for o in schema["properties"]["s1"]["oneOf"]] == [0, 1, 2]


# --- XLSForm and REDCap --------------------------------------------------------------------------
def test_xlsform_has_an_integer_with_a_constraint_and_required_safety() -> None:
    rows = {r["name"]: r for r in to_xlsform(TOTAL).survey}
    assert rows["absence"]["type"] == "integer"
    assert rows["absence"]["constraint"] == ". >= 0 and . <= 65"
    assert rows["s1"]["type"] == "select_one safety" and rows["s1"]["required"] == "yes"
    assert "required" not in rows["m1"]


def test_redcap_has_a_bounded_integer_and_required_safety_and_round_trips() -> None:
    dd = to_redcap_dictionary(TOTAL).set_index("Variable / Field Name")
    absence = dd.loc["absence"]
    assert absence["Field Type"] == "text"
    assert absence["Text Validation Type OR Show Slider Number"] == "integer"
    assert (absence["Text Validation Min"], absence["Text Validation Max"]) == ("0", "65")
    assert dd.loc["s1", "Required Field?"] == "y" and dd.loc["m1", "Required Field?"] == ""
    back = from_redcap_dictionary(to_redcap_dictionary(TOTAL))
    assert back == TOTAL  # critical bounds and act-now texts travel too


def test_redcap_refuses_an_edited_number_range() -> None:
    from opsporing.errors import InstrumentDefinitionError

    dd = to_redcap_dictionary(TOTAL)
    row = dd.index[dd["Variable / Field Name"] == "absence"][0]
    dd.loc[row, "Text Validation Max"] = "99"
    with pytest.raises(InstrumentDefinitionError, match="Text Validation Max"):
        from_redcap_dictionary(dd)


# --- CSV -----------------------------------------------------------------------------------------
def test_csv_with_a_number_item_and_blank_safety_answers(tmp_path: Path) -> None:
    header = ",".join(TOTAL.item_ids)
    rows = [
        "0,1,3,0,14,0,0,0,3,3",  # fine, 14 days absent: critical
        "0,1,3,0,7.5,0,,0,3,3",  # a half day and a blank safety item
        '0,1,3,0,"12,5",0,0,0,3,3',  # a decimal comma in a number cell
    ]
    path = tmp_path / "forms.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    forms = read_forms(path, instrument=TOTAL)
    result = score_batch(TOTAL, forms, errors="collect")
    assert result.scores["critical"].tolist() == [True]
    assert result.scores["band.overall"].tolist() == ["gul"]
    got = sorted(result.rejected[["row", "field", "kind"]].values.tolist())
    assert got == [
        [1, "absence", "out_of_range"],
        [1, "s1", "required"],
        [2, "absence", "not_a_number"],
    ]


# --- a long number range -------------------------------------------------------------------------
def _with_range(maximum: int, critical: int) -> dict[str, Any]:
    import yaml

    tree: dict[str, Any] = yaml.safe_load((DATA / "total_instrument.yaml").read_text("utf-8"))
    tree["scales"][2]["number"]["max"] = maximum
    next(i for i in tree["items"] if i["id"] == "absence")["critical"] = {"min": critical}
    return tree


def test_a_long_number_range_is_never_listed() -> None:
    """A range of a million is checked by its bounds in every format (nothing enumerates it)."""
    from opsporing.instruments import build_instrument

    inst = build_instrument(_with_range(1_000_000, 999_999))
    form = {**CALM, "absence": 999_999}
    assert score_form(inst, form).critical
    assert score_batch(inst, pd.DataFrame([form]))["critical"].tolist() == [True]
    qr = to_questionnaire_response(inst, form)
    assert from_questionnaire_response(qr, inst)["absence"] == 999_999
    assert from_redcap_dictionary(to_redcap_dictionary(inst)) == inst
    to_sdc_bundle(inst)
    to_json_schema(inst)


def test_a_number_range_beyond_a_million_is_refused() -> None:
    from opsporing.errors import InstrumentDefinitionError
    from opsporing.instruments import build_instrument

    with pytest.raises(InstrumentDefinitionError) as info:
        build_instrument(_with_range(10**40, 13))
    assert [p.field for p in info.value.problems] == ["scales[days].number.max"]
