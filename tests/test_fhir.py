"""FHIR R4 / KL Gateway / JSON Schema interoperability (opsporing.fhir).

Exported resources are validated by an independent library (fhir.resources, R4B models,
which share R4's Questionnaire structure) and by the structural rules fhir.resources does
not check (codes, linkId uniqueness, id/name patterns). JSON Schemas are checked with
jsonschema against the 2020-12 metaschema.

The KL Gateway examples in tests/data/kl_*.json are the guide's own example instances
(hl7dk/kl-children, input/fsh/sdq4-10.fsh ``SDQ4-10AnswerLars``, sdq11-17.fsh
``SDQ11-17AnswerRikke``, topi.fsh ``TOPIRikke``) written out as JSON: their
questionnaire, status, subject, authored, linkIds and answer strings, no item texts.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsporing.errors import ResponseValidationError, VocabularyError
from opsporing.fhir import (
    KL_SDQ_4_10,
    KL_SDQ_11_17,
    KL_SDQ_ANSWERS,
    KL_TOPI,
    ORDINAL_VALUE_URL,
    SDQ_IMPACT_ITEMS,
    SDQ_REVERSED,
    SDQ_SUBSCALES,
    TRANSLATION_URL,
    from_kl_sdq_response,
    from_kl_topi_response,
    from_questionnaire_response,
    from_questionnaire_responses,
    questionnaire_url,
    score_kl_sdq,
    score_sdq,
    to_json_schema,
    to_questionnaire,
    to_questionnaire_response,
)
from opsporing.fhir._common import MAX_VALUE_URL, MIN_VALUE_URL, UNIT_URL
from opsporing.instruments import Instrument, build_instrument, get_instrument, list_instruments
from opsporing.scoring import score_batch, score_form

DATA = Path(__file__).parent / "data"
INSTRUMENTS = list_instruments()
IDS = [i.key for i in INSTRUMENTS]
SKOLE = get_instrument("opsporing.skole.trivsel")
TOPI = get_instrument("topi")

#: R4 codes fhir.resources does not enforce.
R4_ITEM_TYPES = {
    "group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
    "text", "url", "choice", "open-choice", "attachment", "reference", "quantity",
}  # fmt: skip
R4_PUBLICATION_STATUS = {"draft", "active", "retired", "unknown"}
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
FHIR_NAME = re.compile(r"^[A-Z]([A-Za-z0-9_]){0,254}$")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item, groups included, depth first."""
    out = []
    for item in items:
        out.append(item)
        out += walk(item.get("item", []))
    return out


def translations(element: dict[str, Any]) -> dict[str, str]:
    found = {}
    for ext in element["extension"]:
        assert ext["url"] == TRANSLATION_URL
        parts = {e["url"]: e for e in ext["extension"]}
        found[parts["lang"]["valueCode"]] = parts["content"]["valueString"]
    return found


def problems(exc: pytest.ExceptionInfo[ResponseValidationError]) -> set[tuple[str, str]]:
    return {(p.field, p.kind) for p in exc.value.problems}


# --- Questionnaire export ----------------------------------------------------------------------
@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize("grouped", [True, False])
def test_questionnaire_validates_and_mirrors_the_instrument(
    instrument: Instrument, lang: str, grouped: bool
) -> None:
    q = to_questionnaire(instrument, lang, group_by_domain=grouped)  # type: ignore[arg-type]
    model = Questionnaire.model_validate(q)  # the independent FHIR library
    assert model.url == f"http://opsporing.example.org/fhir/Questionnaire/{instrument.id}"
    assert model.version == instrument.version
    assert q["identifier"][0]["value"] == instrument.id
    assert q["status"] in R4_PUBLICATION_STATUS
    assert FHIR_ID.match(q["id"]) and FHIR_NAME.match(q["name"])
    other = "en" if lang == "da" else "da"
    assert q["title"] == instrument.title.get(lang)  # type: ignore[arg-type]
    assert translations(q["_title"]) == {other: instrument.title.get(other)}  # type: ignore[arg-type]

    every = walk(q["item"])
    links = [i["linkId"] for i in every]
    assert len(links) == len(set(links))
    assert all(i["type"] in R4_ITEM_TYPES for i in every)
    questions = [i for i in every if i["linkId"] in set(instrument.item_ids)]
    in_groups = [i.id for d in instrument.domains for i in instrument.items_in(d.id)]
    assert [i["linkId"] for i in questions] == (in_groups if grouped else list(instrument.item_ids))
    assert {i["linkId"] for i in questions} == set(instrument.item_ids)
    for qi in questions:
        item = instrument.item(qi["linkId"])
        scale = instrument.scale(item.scale)
        assert qi["text"] == item.text.get(lang)  # type: ignore[arg-type]
        assert translations(qi["_text"]) == {other: item.text.get(other)}  # type: ignore[arg-type]
        if scale.number is not None:  # a count: an integer item with its range and unit
            assert qi["type"] == "integer" and "answerOption" not in qi
            ext = {e["url"]: e for e in qi["extension"]}
            assert ext[MIN_VALUE_URL]["valueInteger"] == scale.number.min
            assert ext[MAX_VALUE_URL]["valueInteger"] == scale.number.max
            assert ext[UNIT_URL]["valueCoding"]["display"] == scale.number.unit.get(lang)  # type: ignore[arg-type]
            continue
        assert qi["type"] == "choice"
        codings = [o["valueCoding"] for o in qi["answerOption"]]
        assert [c["code"] for c in codings] == [str(v) for v in scale.values]
        assert [c["extension"] for c in codings] == [
            [{"url": ORDINAL_VALUE_URL, "valueDecimal": v}] for v in scale.values
        ]
        assert [c["display"] for c in codings] == [o.label.get(lang) for o in scale.options]  # type: ignore[arg-type]
        assert [translations(c["_display"]) for c in codings] == [
            {other: o.label.get(other)}  # type: ignore[arg-type]
            for o in scale.options
        ]
    groups = [i for i in every if i["type"] == "group"]
    if grouped:
        assert [g["linkId"] for g in groups] == [f"domain:{d}" for d in instrument.domain_ids]
    else:
        assert groups == []


def test_questionnaire_values_by_hand() -> None:
    q = to_questionnaire(SKOLE, "da", base_url="https://kommune.example.dk/fhir/")
    assert q["url"] == "https://kommune.example.dk/fhir/Questionnaire/opsporing.skole.trivsel"
    assert q["id"] == "opsporing.skole.trivsel-1.0.0"
    assert q["name"] == "OpsporingSkoleTrivsel"
    emotional = q["item"][0]
    assert emotional["linkId"] == "domain:emotional"
    assert emotional["text"] == "Følelsesmæssig trivsel"
    sad = emotional["item"][0]
    assert sad["linkId"] == "emo_sad"
    assert sad["text"] == "Barnet virker trist og viser kun lidt glæde i skoledagen."
    assert translations(sad["_text"]) == {
        "en": "The child appears sad and shows little joy during the school day."
    }
    first = sad["answerOption"][0]["valueCoding"]
    assert first["system"] == (
        "https://kommune.example.dk/fhir/CodeSystem/opsporing.skole.trivsel.frequency"
    )
    assert (first["code"], first["display"]) == ("0", "Aldrig")
    assert translations(first["_display"]) == {"en": "Never"}


def test_questionnaire_bad_arguments_raise_typed_errors() -> None:
    with pytest.raises(VocabularyError, match="lang = 'fr': expected one of 'da', 'en'"):
        to_questionnaire(TOPI, "fr")  # type: ignore[arg-type]
    with pytest.raises(ResponseValidationError) as exc:
        to_questionnaire(TOPI, status="published")  # type: ignore[arg-type]
    assert problems(exc) == {("status", "invalid_status")}
    with pytest.raises(ResponseValidationError, match="an opsporing Instrument"):
        to_questionnaire("topi")  # type: ignore[arg-type]


# --- QuestionnaireResponse round trip ----------------------------------------------------------
def required_ids(instrument: Instrument) -> list[str]:
    """The items of ``required`` domains (safety): a blank there is an error, never "no"."""
    return [i.id for i in instrument.items if instrument.domain(i.domain).required]


def answers_of(instrument: Instrument, item_id: str) -> st.SearchStrategy[int]:
    """A value of the item's scale: one of its options, or a whole number in a count's range."""
    scale = instrument.scale(instrument.item(item_id).scale)
    if scale.is_number:
        return st.integers(scale.min, scale.max)
    return st.sampled_from(scale.values)


def forms_of(instrument: Instrument) -> st.SearchStrategy[dict[str, Any]]:
    """Random forms: each item unanswered (left out or None) or a value of its scale.

    Items of a required domain are always answered (blanks there: see
    test_a_blank_required_item_is_refused_everywhere).
    """
    required = required_ids(instrument)
    return st.fixed_dictionaries(
        {i: answers_of(instrument, i) for i in required},
        optional={
            i: st.one_of(st.none(), answers_of(instrument, i))
            for i in instrument.item_ids
            if i not in required
        },
    )


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), grouped=st.booleans())
def test_round_trip_gives_the_same_form_and_scores(
    instrument: Instrument, data: st.DataObject, grouped: bool
) -> None:
    form = data.draw(forms_of(instrument))
    qr = to_questionnaire_response(instrument, form, group_by_domain=grouped, id="f1")
    QuestionnaireResponse.model_validate(qr)
    back = from_questionnaire_response(qr, instrument)
    assert back == {i: form.get(i) for i in instrument.item_ids}
    assert score_form(instrument, back).to_dict() == score_form(instrument, form).to_dict()


def test_a_count_travels_as_a_valueinteger_and_nothing_else() -> None:
    inst = get_instrument("opsporing.skole.7-10")
    safe = dict.fromkeys(required_ids(inst), 0)
    qr = to_questionnaire_response(inst, safe | {"dev_absence_days": 14, "emo_sad": 2})
    QuestionnaireResponse.model_validate(qr)
    answers = {i["linkId"]: i["answer"][0] for g in qr["item"] for i in g["item"]}
    assert answers["dev_absence_days"] == {"valueInteger": 14}
    back = from_questionnaire_response(qr, inst)
    assert (back["dev_absence_days"], back["emo_sad"]) == (14, 2)
    with pytest.raises(ResponseValidationError) as exc:
        to_questionnaire_response(inst, safe | {"dev_absence_days": 66})
    assert problems(exc) == {("dev_absence_days", "out_of_range")}
    with pytest.raises(ResponseValidationError) as exc:
        to_questionnaire_response(inst, safe | {"dev_absence_days": 6.5})
    assert problems(exc) == {("dev_absence_days", "out_of_range")}


@pytest.mark.parametrize("status", ["completed", "amended"])
def test_a_finished_response_without_the_safety_answers_is_never_written(status: str) -> None:
    # What the reader refuses, the writer must not produce: a blank safety item in a
    # finished response would reach another system as "answered, nothing of concern".
    inst = get_instrument("opsporing.skole.7-10")
    required = required_ids(inst)
    with pytest.raises(ResponseValidationError) as exc:
        to_questionnaire_response(inst, {"emo_sad": 2, required[0]: 0}, status=status)
    assert problems(exc) == {(i, "required") for i in required[1:]}
    # Unfinished: allowed, and it reads back as unfinished.
    qr = to_questionnaire_response(inst, {"emo_sad": 2}, status="in-progress")
    assert qr["status"] == "in-progress"
    coded = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire_url(inst),
        "status": "completed",
        "item": [{"linkId": "dev_absence_days", "answer": [{"valueCoding": {"code": "6"}}]}],
    }
    with pytest.raises(ResponseValidationError) as exc:
        from_questionnaire_response(coded, inst)
    assert ("dev_absence_days", "wrong_type") in problems(exc)


WITH_REQUIRED = [i for i in INSTRUMENTS if required_ids(i)]


@pytest.mark.parametrize("instrument", WITH_REQUIRED, ids=[i.key for i in WITH_REQUIRED])
def test_a_blank_required_item_is_refused_everywhere(instrument: Instrument) -> None:
    """A safety item left blank: an error naming it in scoring, JSON Schema and FHIR import."""
    required = required_ids(instrument)
    gone = required[-1]
    form = {i: instrument.scale(instrument.item(i).scale).min for i in required if i != gone}
    for blank in (form, form | {gone: None}):  # left out, or answered "not answered"
        with pytest.raises(ResponseValidationError) as exc:
            score_form(instrument, blank)
        assert problems(exc) == {(gone, "required")}
        assert f"every item of domain {instrument.item(gone).domain!r}" in str(exc.value)
        errors = list(
            jsonschema.Draft202012Validator(to_json_schema(instrument)).iter_errors(blank)
        )
        assert errors and all(repr(gone) in e.message or list(e.path) == [gone] for e in errors)
    # A finished QuestionnaireResponse without it (left out, or an item with no answer).
    # (Written as a draft: the writer refuses to produce a finished one without it.)
    with pytest.raises(ResponseValidationError) as exc:
        to_questionnaire_response(instrument, form, group_by_domain=False)
    assert problems(exc) == {(gone, "required")}
    qr = to_questionnaire_response(instrument, form, group_by_domain=False, status="in-progress")
    full = form | {gone: instrument.scale(instrument.item(gone).scale).min}
    full_qr = to_questionnaire_response(instrument, full)
    for items in (qr["item"], [*qr["item"], {"linkId": gone}]):
        for status in ("completed", "amended"):
            with pytest.raises(ResponseValidationError) as exc:
                from_questionnaire_response(dict(qr, item=items, status=status), instrument)
            assert problems(exc) == {(gone, "required")}
            assert exc.value.problems[0].value is None and "never read as 'no'" in str(exc.value)
        with pytest.raises(ResponseValidationError) as exc:
            from_questionnaire_responses(
                [full_qr, dict(qr, item=items, status="completed")], instrument
            )
        assert [(p.row, p.field, p.kind) for p in exc.value.problems] == [(1, gone, "required")]
    # An unfinished response may lack it; it is read as blank, and scoring still refuses it.
    draft = from_questionnaire_response(dict(qr, status="in-progress"), instrument)
    assert draft[gone] is None
    # A wrong answer to it is reported once, as wrong, not also as missing.
    wrong = dict(qr, item=[*qr["item"], {"linkId": gone, "answer": [{"valueInteger": 9}]}])
    with pytest.raises(ResponseValidationError) as exc:
        from_questionnaire_response(wrong, instrument)
    assert problems(exc) == {(gone, "out_of_range")}
    # Answered, it is read and scored.
    assert from_questionnaire_response(full_qr, instrument)[gone] == full[gone]
    score_form(instrument, full)


def test_response_answers_in_every_accepted_form() -> None:
    url = questionnaire_url(SKOLE)
    system = "http://opsporing.example.org/fhir/CodeSystem/opsporing.skole.trivsel.frequency"
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": url,  # no version: accepted
        "status": "in-progress",
        "item": [
            {"linkId": "emo_sad", "answer": [{"valueCoding": {"system": system, "code": "2"}}]},
            {"linkId": "emo_tense", "answer": [{"valueCoding": {"code": "3"}}]},
            {"linkId": "emo_withdrawn", "answer": [{"valueInteger": 1}]},
            {"linkId": "emo_self_critical", "answer": [{"valueString": "Sjældent"}]},
            {"linkId": "soc_bullied", "answer": [{"valueString": "Often"}]},
            {"linkId": "soc_conflicts", "answer": []},
            {"linkId": "soc_cooperation"},
        ],
    }
    form = from_questionnaire_response(qr, SKOLE)
    assert {k: v for k, v in form.items() if v is not None} == {
        "emo_sad": 2,
        "emo_tense": 3,
        "emo_withdrawn": 1,
        "emo_self_critical": 1,
        "soc_bullied": 2,
    }
    assert len(form) == len(SKOLE.items)
    # 2 + 3 + 1 + 1, all four emotional items answered
    assert score_form(SKOLE, form).domains["emotional"].score == 7.0


def test_response_problems_name_field_value_and_expectation() -> None:
    url = questionnaire_url(SKOLE)
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{url}|0.9.0",
        "status": "done",
        "item": [
            {"linkId": "emo_sad", "answer": [{"valueCoding": {"code": "7"}}]},
            {"linkId": "emo_tense", "answer": [{"valueString": "Tit"}]},
            {"linkId": "emo_withdrawn", "answer": [{"valueInteger": 1}, {"valueInteger": 2}]},
            {"linkId": "emo_self_critical", "answer": [{"valueBoolean": True}]},
            {"linkId": "emo_sadd", "answer": [{"valueInteger": 1}]},
            {"linkId": "soc_bullied", "answer": [{"valueCoding": {"system": "x", "code": "1"}}]},
            {"linkId": "soc_conflicts", "answer": [{"valueInteger": True}]},
            {"linkId": "soc_conflicts"},
            {"answer": []},
        ],
    }
    with pytest.raises(ResponseValidationError) as exc:
        from_questionnaire_response(qr, SKOLE)
    assert problems(exc) == {
        ("questionnaire", "wrong_instrument"),
        ("status", "invalid_status"),
        ("emo_sad", "out_of_range"),
        ("emo_tense", "out_of_range"),
        ("emo_withdrawn", "repeated_answer"),
        ("emo_self_critical", "wrong_type"),
        ("emo_sadd", "unknown_item"),
        ("soc_bullied.system", "wrong_system"),
        ("soc_conflicts", "out_of_range"),
        ("soc_conflicts", "duplicate_item"),
        ("item[8].linkId", "structure"),
    }
    by_field = {p.field: p for p in exc.value.problems}
    assert by_field["emo_sad"].value == "7"
    assert by_field["emo_sad"].expected.startswith("one of 0, 1, 2, 3 (valueCoding.code")
    assert by_field["questionnaire"].expected == f"version '1.0.0' ({url}|1.0.0)"
    assert "emo_tense = 'Tit': expected one of 0, 1, 2, 3" in str(exc.value)


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"questionnaire": f"{KL_TOPI}|1.0.0"}, "questionnaire", "wrong_instrument"),
        ({"questionnaire": None}, "questionnaire", "wrong_instrument"),
        ({"resourceType": "Questionnaire"}, "resourceType", "wrong_resource_type"),
        ({"status": "entered-in-error"}, "status", "entered_in_error"),
        ({"item": {"linkId": "1vurdering"}}, "item", "structure"),
    ],
)
def test_response_envelope_problems(change: dict[str, Any], field: str, kind: str) -> None:
    qr = to_questionnaire_response(TOPI, {"1vurdering": 1}) | change
    with pytest.raises(ResponseValidationError) as exc:
        from_questionnaire_response(qr, TOPI)
    assert (field, kind) in problems(exc)


def test_to_questionnaire_response_rejects_bad_forms() -> None:
    with pytest.raises(ResponseValidationError) as exc:
        to_questionnaire_response(SKOLE, {"emo_sad": 4, "emo_sadd": 1, "emo_tense": True})
    assert problems(exc) == {
        ("emo_sad", "out_of_range"),
        ("emo_sadd", "unknown_item"),
        ("emo_tense", "out_of_range"),
    }
    assert "item" not in to_questionnaire_response(SKOLE, {"emo_sad": None})


def test_batch_reads_lists_and_bundles_and_scores_like_one_by_one() -> None:
    forms = [{"emo_sad": 3, "emo_tense": 2, "emo_withdrawn": 1}, {"res_friends": 0}, {}]
    qrs = [to_questionnaire_response(SKOLE, f, id=f"f{k}") for k, f in enumerate(forms)]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient"}}] + [{"resource": r} for r in qrs],
    }
    for source in (qrs, bundle):
        table = from_questionnaire_responses(source, SKOLE)
        assert table["form_id"].tolist() == ["f0", "f1", "f2"]
        assert table["emo_sad"].tolist() == [3, pd.NA, pd.NA]
        scores = score_batch(SKOLE, table, keep=["form_id"])
        for k, form in enumerate(forms):
            one = score_form(SKOLE, form)
            assert scores.loc[k, "band.overall"] == one.overall_band or (
                one.overall_band is None and pd.isna(scores.loc[k, "band.overall"])
            )
        # (3 + 2 + 1) × 4/3 = 8, prorated from 3 of 4 answers
        assert scores.loc[0, "score.emotional"] == 8.0


def test_batch_problems_carry_the_row() -> None:
    good = to_questionnaire_response(TOPI, {"1vurdering": 0})
    bad = to_questionnaire_response(TOPI, {"1vurdering": 0})
    bad["item"][0]["item"][0]["answer"] = [{"valueInteger": 9}]
    with pytest.raises(ResponseValidationError) as exc:
        from_questionnaire_responses([good, bad, "junk"], TOPI)
    assert exc.value.rows == [1, 2]
    assert [(p.row, p.field) for p in exc.value.problems] == [(1, "1vurdering"), (2, "resource")]


# --- KL Gateway TOPI ---------------------------------------------------------------------------
def kl_topi(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": KL_TOPI,
        "status": "completed",
        "subject": {"reference": "Patient/x"},
        "authored": "2024-01-01",
        "item": [{"linkId": "1vurdering", "answer": [answer]}],
    }


@pytest.mark.parametrize(
    ("string", "value", "band"), [("Grøn", 0, "grøn"), ("Gul", 1, "gul"), ("Rød", 2, "rød")]
)
def test_kl_topi_reads_into_the_shipped_topi(string: str, value: int, band: str) -> None:
    qr = kl_topi({"valueString": string})
    QuestionnaireResponse.model_validate(qr)
    form = from_kl_topi_response(qr)
    assert form == {"1vurdering": value}
    assert score_form(TOPI, form).overall_band == band


def test_kl_topi_guide_example() -> None:
    example = load("kl_topi_rikke.json")
    QuestionnaireResponse.model_validate(example)
    # The guide's example TOPIRikke points at the SDQ 11-17 Questionnaire: rejected by default.
    with pytest.raises(ResponseValidationError) as exc:
        from_kl_topi_response(example)
    assert problems(exc) == {("questionnaire", "wrong_instrument")}
    assert KL_TOPI in exc.value.problems[0].expected
    assert from_kl_topi_response(example, check_questionnaire=False) == {"1vurdering": 0}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"valueString": "grøn"}, "out_of_range"),  # only the exact strings
        ({"valueString": "Green"}, "out_of_range"),
        ({"valueInteger": 0}, "wrong_type"),
        ({"valueCoding": {"code": "0"}}, "wrong_type"),
    ],
)
def test_kl_topi_rejects_anything_but_the_exact_strings(answer: dict[str, Any], kind: str) -> None:
    with pytest.raises(ResponseValidationError) as exc:
        from_kl_topi_response(kl_topi(answer))
    assert problems(exc) == {("1vurdering", kind)}
    assert "exactly one of 'Grøn', 'Gul', 'Rød'" in exc.value.problems[0].expected


def test_kl_topi_needs_an_instrument_with_the_item() -> None:
    with pytest.raises(ResponseValidationError, match="'1vurdering'"):
        from_kl_topi_response(kl_topi({"valueString": "Gul"}), SKOLE)


# --- KL Gateway SDQ ----------------------------------------------------------------------------
def test_kl_sdq_4_10_guide_example_scores_as_computed_by_hand() -> None:
    example = load("kl_sdq4-10_lars.json")
    QuestionnaireResponse.model_validate(example)
    # SDQ4-10AnswerLars (parent report), answers: ikke = 0, delvist = 1, godt = 2;
    # (R) = reverse-scored, 2 - answer.
    # emotional  3headache 1 + 8oftenWorried 1 + 13sad 1 + 16uneasy 0 + 24afraid 0      = 3
    # conduct    5angry 0 + 7followInstructions(R) 2-1=1 + 12fighting 0 + 18lying 0
    #            + 22steal 0                                                             = 1
    # hyper      2restless 1 + 10restlessBody 1 + 15distracted 0
    #            + 21consideration(R) 2-2=0 + 25finish(R) 2-2=0                          = 2
    # peer       6keepingToOneSelf 0 + 11friend(R) 2-2=0 + 14liked(R) 2-2=0
    #            + 19bullied 0 + 23PreferAdults 0                                        = 0
    # prosocial  1friendly 2 + 4sharing 2 + 9helpfull 2 + 17treatWell 2 + 20offersHelp 2 = 10
    # total difficulties 3 + 1 + 2 + 0 = 6; externalising 1 + 2 = 3; internalising 3 + 0 = 3
    # impact: 26difficulties "Nej" -> 0 (items 27-33 are not in the response)
    score = score_kl_sdq(example)
    assert score.to_dict() == {
        "emotional": 3,
        "conduct": 1,
        "hyperactivity": 2,
        "peer": 0,
        "prosocial": 10,
        "total_difficulties": 6,
        "externalising": 3,
        "internalising": 3,
        "impact": 0,
        "answered": dict.fromkeys(SDQ_SUBSCALES, 5),
    }


def test_kl_sdq_11_17_guide_example_scores_as_computed_by_hand() -> None:
    example = load("kl_sdq11-17_rikke.json")
    QuestionnaireResponse.model_validate(example)
    # SDQ11-17AnswerRikke (self-report), all 33 items answered.
    # emotional  3headache 0 + 8oftenWorried 2 + 13sad 1 + 16uneasy 2 + 24afraid 2      = 7
    # conduct    5angry 0 + 7followInstructions(R) 2-1=1 + 12fighting 0 + 18lying 0
    #            + 22steal 0                                                             = 1
    # hyper      2restless 2 + 10restlessBody 0 + 15distracted 0
    #            + 21consideration(R) 2-2=0 + 25finish(R) 2-2=0                          = 2
    # peer       6keepingToOneSelf 0 + 11friend(R) 2-2=0 + 14liked(R) 2-1=1
    #            + 19bullied 0 + 23PreferAdults 2                                        = 3
    # prosocial  1friendly 1 + 4sharing 1 + 9helpfull 2 + 17treatWell 2 + 20offersHelp 2 = 8
    # total difficulties 7 + 1 + 2 + 3 = 13; externalising 1 + 2 = 3; internalising 7 + 3 = 10
    # impact: 26difficulties "Ja, mindre vanskeligheder" (not "Nej"), so sum the five
    #   28difficultiesUnhappy "Kun lidt" 0 + 29affectFamilyLife "Slet ikke" 0
    #   + 30affectFriendships "Ret meget" 1 + 31affectLearning "Slet ikke" 0
    #   + 32affectLeisureActivities "Kun lidt" 0                                         = 1
    #   (27difficultiesPeriod and 33AffectOthers are not scored)
    answers = from_kl_sdq_response(example)
    assert answers["27difficultiesPeriod"] == 3 and answers["33AffectOthers"] == 1
    assert score_kl_sdq(example).to_dict() == {
        "emotional": 7,
        "conduct": 1,
        "hyperactivity": 2,
        "peer": 3,
        "prosocial": 8,
        "total_difficulties": 13,
        "externalising": 3,
        "internalising": 10,
        "impact": 1,
        "answered": dict.fromkeys(SDQ_SUBSCALES, 5),
    }


def test_kl_sdq_accepts_both_canonicals_and_rejects_others() -> None:
    example = load("kl_sdq4-10_lars.json")
    for canonical in (KL_SDQ_4_10, f"{KL_SDQ_11_17}|2.0.0"):
        assert score_kl_sdq(example | {"questionnaire": canonical}).total_difficulties == 6
    with pytest.raises(ResponseValidationError) as exc:
        from_kl_sdq_response(example | {"questionnaire": KL_TOPI})
    assert problems(exc) == {("questionnaire", "wrong_instrument")}


def test_kl_sdq_problems_name_linkid_value_and_strings() -> None:
    example = load("kl_sdq11-17_rikke.json")
    example["item"][0]["answer"] = [{"valueString": "Passer nogenlunde"}]
    example["item"][27]["answer"] = [{"valueString": "Passer godt"}]  # 28difficultiesUnhappy
    example["item"].append({"linkId": "34extra", "answer": [{"valueString": "Nej"}]})
    with pytest.raises(ResponseValidationError) as exc:
        from_kl_sdq_response(example)
    assert problems(exc) == {
        ("1friendly", "out_of_range"),
        ("28difficultiesUnhappy", "out_of_range"),
        ("34extra", "unknown_item"),
    }
    first = exc.value.problems[0]
    assert first.value == "Passer nogenlunde"
    assert first.expected == "exactly one of 'Passer ikke', 'Passer delvist', 'Passer godt'"


def test_sdq_key_is_the_published_one() -> None:
    assert [len(v) for v in SDQ_SUBSCALES.values()] == [5] * 5
    assert len({i for v in SDQ_SUBSCALES.values() for i in v}) == 25
    # items 7, 11, 14, 21, 25 of the SDQ
    assert sorted(int(re.match(r"\d+", i).group()) for i in SDQ_REVERSED) == [7, 11, 14, 21, 25]  # type: ignore[union-attr]
    assert len(KL_SDQ_ANSWERS) == 33


def test_sdq_prorating_rounding_and_missing_by_hand() -> None:
    # The scoring instructions' own example: 4 points from 3 items -> 6.67 -> 7.
    s = score_sdq({"3headache": 2, "8oftenWorried": 2, "13sad": 0})
    assert s.emotional == 7 and s.answered["emotional"] == 3
    # 2 points from 4 items -> 2.5 -> 3 (half rounds up, not to even)
    s = score_sdq({"3headache": 1, "8oftenWorried": 1, "13sad": 0, "16uneasy": 0})
    assert s.emotional == 3
    # 2 of 5 answered: not scored, and neither is anything that needs it
    s = score_sdq({"3headache": 2, "8oftenWorried": 2})
    assert (s.emotional, s.total_difficulties, s.internalising) == (None, None, None)
    # reverse items: 0 on all five reverse items gives 2 each
    s = score_sdq(dict.fromkeys(SDQ_REVERSED, 0))
    assert s.answered == dict(emotional=0, conduct=1, hyperactivity=2, peer=2, prosocial=0)
    # worst possible form
    worst = {i: 0 if i in SDQ_REVERSED else 2 for v in SDQ_SUBSCALES.values() for i in v}
    s = score_sdq(worst | dict.fromkeys(SDQ_IMPACT_ITEMS, 3) | {"26difficulties": 3})
    assert s.to_dict() | {"answered": None} == {
        "emotional": 10,
        "conduct": 10,
        "hyperactivity": 10,
        "peer": 10,
        "prosocial": 10,
        "total_difficulties": 40,
        "externalising": 20,
        "internalising": 20,
        "impact": 10,
        "answered": None,
    }


def test_sdq_impact_rules() -> None:
    assert score_sdq({"26difficulties": 0}).impact == 0
    assert score_sdq({"26difficulties": 0, "28difficultiesUnhappy": 3}).impact == 0
    # "Kun lidt" (1) counts 0, "Ret meget" (2) counts 1, "Virkelig meget" (3) counts 2
    five = dict(zip(SDQ_IMPACT_ITEMS, (1, 2, 3, 0, 3), strict=True))
    assert score_sdq({"26difficulties": 2} | five).impact == 0 + 1 + 2 + 0 + 2
    assert score_sdq(five).impact == 5  # overall question left out
    # an unanswered impact item counts 0 (as the published scoring syntax recodes it) …
    assert score_sdq({"26difficulties": 1, **dict(list(five.items())[:4])}).impact == 3
    # … but with none of the five answered there is no impact score
    assert score_sdq({"26difficulties": 1}).impact is None
    assert score_sdq({}).impact is None


def test_sdq_bad_answers() -> None:
    with pytest.raises(ResponseValidationError) as exc:
        score_sdq(
            {"1friendly": 3, "26difficulties": 4, "nope": 1, "2restless": "1", "4sharing": True}
        )
    assert problems(exc) == {
        ("1friendly", "out_of_range"),
        ("26difficulties", "out_of_range"),
        ("nope", "unknown_item"),
        ("2restless", "out_of_range"),
        ("4sharing", "out_of_range"),
    }
    assert "expected one of 0, 1, 2 (or None)" in str(exc.value)


def reference_sdq(answers: dict[str, int | None]) -> dict[str, int | None]:
    """An independent transcription of the scoring rules (Decimal, ROUND_HALF_UP)."""
    out: dict[str, int | None] = {}
    for scale, items in SDQ_SUBSCALES.items():
        raw = {i: answers.get(i) for i in items}
        pts = [2 - a if i in SDQ_REVERSED else a for i, a in raw.items() if a is not None]
        out[scale] = (
            int((Decimal(sum(pts)) / len(pts) * 5).quantize(Decimal(1), ROUND_HALF_UP))
            if len(pts) >= 3
            else None
        )
    four = [out[s] for s in ("emotional", "conduct", "hyperactivity", "peer")]
    out["total_difficulties"] = None if None in four else sum(four)  # type: ignore[arg-type]
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            i: st.one_of(st.none(), st.integers(0, 2))
            for items in SDQ_SUBSCALES.values()
            for i in items
        },
    )
)
def test_sdq_matches_an_independent_reference(answers: dict[str, int | None]) -> None:
    score = score_sdq(answers).to_dict()
    expected = reference_sdq(answers)
    assert {k: score[k] for k in expected} == expected
    for name, value in expected.items():
        assert value is None or 0 <= value <= (40 if name == "total_difficulties" else 10)


# --- JSON Schema -------------------------------------------------------------------------------
@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
@pytest.mark.parametrize("lang", ["da", "en"])
def test_json_schema_is_valid_2020_12_and_checks_forms(instrument: Instrument, lang: str) -> None:
    schema = to_json_schema(instrument, lang)  # type: ignore[arg-type]
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert set(schema["properties"]) == set(instrument.item_ids)
    lowest = {i.id: instrument.scale(i.scale).min for i in instrument.items}
    highest = {i.id: instrument.scale(i.scale).max for i in instrument.items}
    required = {i: lowest[i] for i in required_ids(instrument)}
    assert schema.get("required", []) == list(required)
    blanks = dict.fromkeys(instrument.item_ids)
    for form in (required, lowest, highest, blanks | required):
        validator.validate(form)
        score_form(instrument, form)  # and the scorer agrees
    for item_id in required:  # a required item left out or blank: refused by both
        for form in ({k: v for k, v in required.items() if k != item_id}, blanks | required):
            form = {**form, item_id: None} if item_id in form else form
            assert not validator.is_valid(form)
            with pytest.raises(ResponseValidationError) as exc:
                score_form(instrument, form)
            assert problems(exc) == {(item_id, "required")}
    first = instrument.items[0]
    for bad in (highest[first.id] + 1, -1, str(lowest[first.id]), True, 0.5):
        errors = list(validator.iter_errors(required | {first.id: bad}))
        assert errors and all(list(e.absolute_path) == [first.id] for e in errors)
    assert list(validator.iter_errors({"not_an_item": 1}))


def test_json_schema_annotations_by_hand() -> None:
    schema = to_json_schema(SKOLE, "en")
    assert schema["title"] == "Well-being at school – detection form"
    prop = schema["properties"]["emo_sad"]
    assert prop["title"] == "The child appears sad and shows little joy during the school day."
    assert prop["x-text"]["da"] == "Barnet virker trist og viser kun lidt glæde i skoledagen."
    assert prop["enum"] == [0, 1, 2, 3, None]
    assert prop["oneOf"][3] == {
        "const": 3,
        "title": "Almost always",
        "x-label": {"da": "Næsten altid", "en": "Almost always"},
    }
    assert prop["x-domain"] == "emotional" and prop["x-order"] == 0
    assert schema["x-instrument"]["key"] == "opsporing.skole.trivsel@1.0.0"


def test_json_schema_asks_a_count_as_a_whole_number_in_its_range() -> None:
    inst = get_instrument("opsporing.skole.0-6")
    schema = to_json_schema(inst, "en")
    prop = schema["properties"]["dev_absence_days"]
    assert (prop["type"], prop["minimum"], prop["maximum"]) == (["integer", "null"], 0, 65)
    assert prop["x-unit"] == {"da": "dage", "en": "days"} and prop["x-scale"] == "days"
    assert "enum" not in prop and "oneOf" not in prop
    assert prop["title"] == inst.item("dev_absence_days").text.en
    validator = jsonschema.Draft202012Validator(schema)
    safe = dict.fromkeys(required_ids(inst), 0)  # the safety items must be answered
    for good in (0, 13, 65, None):
        assert validator.is_valid(safe | {"dev_absence_days": good})
        score_form(inst, safe | {"dev_absence_days": good})  # and the scorer agrees
    for bad in (-1, 66, 6.5, "6", True):
        errors = list(validator.iter_errors(safe | {"dev_absence_days": bad}))
        assert errors and all(list(e.absolute_path) == ["dev_absence_days"] for e in errors)
        with pytest.raises(ResponseValidationError) as exc:
            score_form(inst, safe | {"dev_absence_days": bad})
        assert {p.field for p in exc.value.problems} == {"dev_absence_days"}


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {}, optional={i.id: st.one_of(st.none(), st.integers(-1, 4)) for i in SKOLE.items}
    )
)
def test_json_schema_accepts_exactly_what_the_scorer_accepts(form: dict[str, int | None]) -> None:
    valid = jsonschema.Draft202012Validator(SCHEMA_SKOLE).is_valid(form)
    try:
        score_form(SKOLE, form)
        scored = True
    except ResponseValidationError:
        scored = False
    assert valid == scored


SCHEMA_SKOLE = to_json_schema(SKOLE)


# --- garbage in: typed errors only -------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "item",
                    "linkId",
                    "answer",
                    "valueString",
                    "valueCoding",
                    "valueInteger",
                    "code",
                    "system",
                    "status",
                    "questionnaire",
                    "resourceType",
                    "entry",
                    "resource",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
LINK_IDS = st.sampled_from(["1vurdering", "1friendly", "26difficulties", "emo_sad", "?"])
#: Answer values that are sometimes right, so the readers get past the first check.
VALUES = JSON | st.sampled_from(["Grøn", "Passer godt", "Nej", "Sjældent", 0, 2, {"code": "1"}])
ANSWER = st.dictionaries(
    st.sampled_from(["valueString", "valueCoding", "valueInteger", "item"]), VALUES, max_size=2
)
ITEM = st.fixed_dictionaries(
    {"linkId": LINK_IDS | JSON},
    optional={"answer": st.lists(ANSWER, max_size=2) | JSON, "item": JSON},
)


def envelope(questionnaire: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "resourceType": st.just("QuestionnaireResponse"),
            "questionnaire": st.just(questionnaire) | JSON,
            "status": st.sampled_from(["completed", "amended"]) | JSON,
            "item": st.lists(ITEM, max_size=5) | JSON,
        }
    )


READERS = [
    (lambda r: from_questionnaire_response(r, TOPI), questionnaire_url(TOPI)),
    (lambda r: from_questionnaire_response(r, SKOLE), questionnaire_url(SKOLE)),
    (lambda r: from_questionnaire_responses(r, SKOLE), questionnaire_url(SKOLE)),
    (lambda r: from_questionnaire_responses([r], SKOLE), questionnaire_url(SKOLE)),
    (from_kl_topi_response, KL_TOPI),
    (from_kl_sdq_response, KL_SDQ_4_10),
    (score_kl_sdq, KL_SDQ_11_17),
]


@pytest.mark.parametrize("k", range(len(READERS)))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_readers_turn_garbage_into_typed_errors(k: int, data: st.DataObject) -> None:
    reader, canonical = READERS[k]
    resource = data.draw(JSON | envelope(canonical))
    try:
        reader(resource)
    except ResponseValidationError as exc:
        assert exc.problems
        for p in exc.problems:
            assert isinstance(p.field, str) and p.expected
            str(p)  # printable
    # anything else (KeyError, TypeError, RecursionError, …) fails the test


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=12) | st.sampled_from(list(KL_SDQ_ANSWERS)), JSON))
def test_score_sdq_turns_garbage_into_typed_errors(answers: dict[str, Any]) -> None:
    try:
        score = score_sdq(answers)
    except ResponseValidationError as exc:
        assert exc.problems
    else:
        assert score.total_difficulties is None or 0 <= score.total_difficulties <= 40


def test_deep_nesting_is_a_typed_error_not_a_recursion_error() -> None:
    item: dict[str, Any] = {"linkId": "1vurdering"}
    for _ in range(10_000):
        item = {"linkId": "g", "item": [item]}
    qr = kl_topi({}) | {"item": [item]}
    with pytest.raises(ResponseValidationError) as exc:
        from_kl_topi_response(qr)
    assert (
        "item[0].item[0].item[0].item[0].item[0].item[0].item[0].item[0].item",
        "structure",
    ) in (problems(exc))


def test_nan_and_infinite_answers_are_typed_errors() -> None:
    qr = to_questionnaire_response(TOPI, {"1vurdering": 1})
    qr["item"][0]["item"][0]["answer"] = [{"valueInteger": math.inf}]
    with pytest.raises(ResponseValidationError):
        from_questionnaire_response(qr, TOPI)


def test_an_instrument_of_ones_own_with_gaps_and_clashing_ids() -> None:
    """Scale values with gaps, a domain id equal to an item id, underscores in the id."""
    text = {"da": "Tekst", "en": "Text"}
    inst = build_instrument(
        {
            "format": "opsporing-instrument/1",
            "id": "kommune_x.trivsel",
            "version": "2.1.0",
            "title": text,
            "settings": ["skole"],
            "age_years": {"min": 6, "max": 16},
            "scales": [
                {"id": "gap", "options": [
                    {"value": 0, "label": {"da": "Ingen", "en": "None"}},
                    {"value": 2, "label": {"da": "Noget", "en": "Some"}},
                    {"value": 4, "label": {"da": "Meget", "en": "Much"}},
                ]},
            ],
            "domains": [
                {"id": "a", "label": text, "min_answered": 1, "bands": {"yellow": 4, "red": 6}},
            ],
            "items": [
                {"id": "a", "text": text, "domain": "a", "scale": "gap"},
                {"id": "b_2", "text": text, "domain": "a", "scale": "gap", "reverse": True},
            ],
        },
        "test",
    )  # fmt: skip
    q = to_questionnaire(inst)
    Questionnaire.model_validate(q)
    assert q["id"] == "kommune-x.trivsel-2.1.0" and FHIR_ID.match(q["id"])
    assert q["name"] == "KommuneXTrivsel"
    assert [i["linkId"] for i in walk(q["item"])] == [
        "domain:a", "a", "b_2", "score:a", "band:a", "overall:band", "red-flag"
    ]  # fmt: skip
    plain = to_questionnaire(inst, scoring=False)
    assert [i["linkId"] for i in walk(plain["item"])] == ["domain:a", "a", "b_2"]
    assert "meta" not in plain and "extension" not in plain
    qr = to_questionnaire_response(inst, {"a": 4, "b_2": 0})
    form = from_questionnaire_response(qr, inst)
    assert form == {"a": 4, "b_2": 0}
    assert score_form(inst, form).domains["a"].score == 8.0  # 4 + (0 + 4 - 0)
    qr["item"][0]["item"][0]["answer"] = [{"valueInteger": 3}]  # between the allowed values
    with pytest.raises(ResponseValidationError, match="a = 3: expected one of 0, 2, 4"):
        from_questionnaire_response(qr, inst)
    schema = to_json_schema(inst)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert not jsonschema.Draft202012Validator(schema).is_valid({"a": 3})
