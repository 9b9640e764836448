"""Texts in any number of languages: one text type, Danish required, codes checked.

A third language (Arabic here) travels from the file through loading, scoring, the web
form's views and every export, and every existing two-language file loads unchanged.
"""

from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from opsporing._texts import date_text, datetime_text
from opsporing.errors import DataError, InstrumentDefinitionError, OpsporingError, VocabularyError
from opsporing.fhir import (
    TRANSLATION_URL,
    from_questionnaire_response,
    to_code_systems,
    to_json_schema,
    to_questionnaire,
)
from opsporing.instruments import (
    Instrument,
    LocalText,
    instrument_languages,
    list_instruments,
    load_instrument,
)
from opsporing.interop import to_xlsform
from opsporing.scoring import score_form
from opsporing.vocabulary import LANGUAGES, Text, check_language, load_vocabulary
from opsporing.web._pages import domain_fieldsets, score_view

MINI = Path(__file__).parent / "data" / "mini_instrument.yaml"

#: Arabic wording of the mini instrument (by Danish text), for a third language.
ARABIC = {
    "Mini-test": "اختبار مصغر",
    "Aldrig": "أبدا",
    "Sjældent": "نادرا",
    "Ofte": "غالبا",
    "Næsten altid": "دائما تقريبا",
    "Humør": "المزاج",
    "Virker trist": "يبدو حزينا",
}


def _with_arabic(node: Any) -> Any:
    """The tree with ``ar`` added to every text whose Danish has an Arabic wording above."""
    if isinstance(node, dict):
        out = {k: _with_arabic(v) for k, v in node.items()}
        if isinstance(out.get("da"), str) and out["da"] in ARABIC:
            out["ar"] = ARABIC[out["da"]]
        return out
    if isinstance(node, list):
        return [_with_arabic(v) for v in node]
    return node


@pytest.fixture(scope="module")
def trilingual(tmp_path_factory: pytest.TempPathFactory) -> Instrument:
    tree = _with_arabic(yaml.safe_load(MINI.read_text(encoding="utf-8")))
    path = tmp_path_factory.mktemp("ar") / "mini_ar.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_instrument(path)


# --- the text type ---------------------------------------------------------------------------
def test_one_text_type_for_the_vocabulary_and_the_instruments() -> None:
    assert LocalText is Text
    assert isinstance(load_vocabulary().step(2).label, Text)


def test_a_text_needs_danish_and_takes_any_further_language() -> None:
    t = Text.of({"ar": "أبدا", "en": "Never", "da": "Aldrig", "pt-BR": "Nunca"})
    assert t.languages == ("da", "ar", "en", "pt-BR")  # Danish first, then as written
    assert (t.get("ar"), t.get("pt-BR"), t.da, t.en) == ("أبدا", "Nunca", "Aldrig", "Never")
    assert t == Text("Aldrig", "Never", ar="أبدا", **{"pt-BR": "Nunca"})  # type: ignore[arg-type]
    assert hash(t) == hash(Text.of(t.as_dict())) and pickle.loads(pickle.dumps(t)) == t
    with pytest.raises(AttributeError):
        t._texts = ()  # type: ignore[misc]


def test_a_missing_language_falls_back_to_danish_or_raises_when_asked() -> None:
    t = Text(da="Kun dansk")
    assert t.get("en") == t.get("fa") == t.en == "Kun dansk"
    with pytest.raises(VocabularyError, match=r"'fa'.*expected one of da"):
        t.get("fa", fallback=False)


@pytest.mark.parametrize(
    "code", ["da", "en", "de", "ar", "uk", "so", "tr", "fa", "pt-BR", "sr-Latn"]
)
def test_language_codes_accepted(code: str) -> None:
    assert check_language(code) == code


@pytest.mark.parametrize(
    "code", ["", "EN", "english", "xx", "qq", "d", "de_DE", "de-de", "en-", 7, None, "da\n"]
)
def test_junk_language_codes_are_typed_errors_naming_the_value(code: object) -> None:
    with pytest.raises(VocabularyError) as info:
        check_language(code)
    (problem,) = info.value.problems
    assert problem.field == "lang" and problem.value == code
    assert "language code (BCP 47)" in problem.expected
    with pytest.raises(VocabularyError):
        Text(da="x").get(code)  # type: ignore[arg-type]


def test_every_bad_entry_of_a_text_is_reported_at_once() -> None:
    with pytest.raises(VocabularyError) as info:
        Text.of({"EN": "x", "de": "  ", "ar": 3}, "items[2].text")  # type: ignore[dict-item]
    fields = {p.field: p.expected for p in info.value.problems}
    assert set(fields) == {"items[2].text.EN", "items[2].text.de", "items[2].text.ar",
                           "items[2].text.da"}  # fmt: skip
    assert "Danish" in fields["items[2].text.da"]


@given(st.dictionaries(st.text(max_size=6), st.text(max_size=8), max_size=4))
def test_any_mapping_is_a_text_or_a_typed_error(node: dict[str, str]) -> None:
    try:
        t = Text.of(node)
    except OpsporingError:
        return
    assert t.da == node["da"].strip() and set(t.languages) == set(node)


# --- files ------------------------------------------------------------------------------------
def test_every_shipped_text_carries_the_shipped_languages() -> None:
    for instrument in list_instruments():
        assert set(LANGUAGES) <= set(instrument_languages(instrument)), instrument.key
        texts = [instrument.title, *(i.text for i in instrument.items)]
        assert all(set(LANGUAGES) <= set(t.languages) for t in texts), instrument.key
    voc = load_vocabulary()
    for concept in voc.concepts.values():
        assert set(concept.label.languages) >= set(LANGUAGES)


def test_a_bad_language_code_in_an_instrument_file_names_the_field(tmp_path: Path) -> None:
    tree = yaml.safe_load(MINI.read_text(encoding="utf-8"))
    tree["items"][1]["text"]["Deutsch"] = "Wirkt besorgt"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError) as info:
        load_instrument(path)
    (problem,) = info.value.problems
    assert problem.field == "items[1].text"
    assert "Deutsch: expected a language code" in problem.expected


# --- a third language end to end --------------------------------------------------------------
def test_a_third_language_loads(trilingual: Instrument) -> None:
    assert instrument_languages(trilingual) == ("da", "en", "ar")
    assert trilingual.item("m1").text.get("ar") == "يبدو حزينا"
    assert trilingual.item("m2").text.get("ar") == "Virker bekymret"  # no Arabic: Danish


def test_a_third_language_scores_like_the_two_language_file(trilingual: Instrument) -> None:
    plain = load_instrument(MINI)
    form = {"m1": 3, "m2": 2, "m3": 0, "p1": 2, "p2": 1, "s1": 0, "r1": 3, "r2": 3}
    assert score_form(trilingual, form) == score_form(plain, form)
    # The web form's views show the request's language only, never the Arabic.
    for lang in ("da", "en"):
        view = score_view(trilingual, score_form(trilingual, form), lang)
        assert view["rows"][0]["label"] == trilingual.domain("mood").label.get(lang)
        fields = domain_fieldsets(trilingual, lang, {}, {})
        assert fields[0]["questions"][0]["text"] == trilingual.item("m1").text.get(lang)
        assert fields[0]["questions"][0]["options"][0][1] == ("Aldrig" if lang == "da" else "Never")


def _translations(element: dict[str, Any]) -> dict[str, str]:
    out = {}
    for ext in element["extension"]:
        assert ext["url"] == TRANSLATION_URL
        parts = {e["url"]: e for e in ext["extension"]}
        out[parts["lang"]["valueCode"]] = parts["content"]["valueString"]
    return out


def test_a_third_language_travels_as_fhir_translations(trilingual: Instrument) -> None:
    q = to_questionnaire(trilingual, "da", group_by_domain=False)
    assert q["title"] == "Mini-test"
    assert _translations(q["_title"]) == {"en": "Mini test", "ar": "اختبار مصغر"}
    m1 = next(i for i in q["item"] if i["linkId"] == "m1")
    assert _translations(m1["_text"]) == {"en": "Seems sad", "ar": "يبدو حزينا"}
    never = m1["answerOption"][0]["valueCoding"]
    assert _translations(never["_display"]) == {"en": "Never", "ar": "أبدا"}
    m2 = next(i for i in q["item"] if i["linkId"] == "m2")
    assert _translations(m2["_text"]) == {"en": "Seems worried"}  # no Arabic: none made up
    english = to_questionnaire(trilingual, "en", group_by_domain=False)
    assert _translations(english["_title"]) == {"da": "Mini-test", "ar": "اختبار مصغر"}
    f4 = to_code_systems(trilingual)[0]["concept"][0]
    assert f4["designation"] == [{"language": "en", "value": "Never"},
                                 {"language": "ar", "value": "أبدا"}]  # fmt: skip
    schema = to_json_schema(trilingual)
    assert schema["x-title"] == {"da": "Mini-test", "en": "Mini test", "ar": "اختبار مصغر"}


def test_an_answer_given_as_an_arabic_label_is_read(trilingual: Instrument) -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": to_questionnaire(trilingual)["url"],
        "status": "completed",
        "item": [{"linkId": "m1", "answer": [{"valueString": "غالبا"}]}],
    }
    assert from_questionnaire_response(response, trilingual)["m1"] == 2


def test_a_third_language_gets_its_own_xlsform_column(trilingual: Instrument) -> None:
    form = to_xlsform(trilingual)
    m1 = next(r for r in form.survey if r["name"] == "m1")
    assert m1["label::Arabic (ar)"] == "يبدو حزينا"
    assert m1["label::English (en)"] == "Seems sad"
    note = form.survey[0]
    assert note["label::Arabic (ar)"] == note["label::Dansk (da)"]  # no Arabic note: Danish


# --- dates ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stamp", "da", "en"),
    [
        ("2026-12-01T20:15:00+00:00", "1. december 2026 21.15", "1 December 2026, 21:15"),
        ("2026-07-01T10:00:00+00:00", "1. juli 2026 12.00", "1 July 2026, 12:00"),  # summer
        ("2026-03-31T23:30:00+00:00", "1. april 2026 01.30", "1 April 2026, 01:30"),  # midnight
        ("2026-02-03T09:05:00", "3. februar 2026 10.05", "3 February 2026, 10:05"),  # naive: UTC
    ],
)
def test_moments_are_written_as_each_language_writes_them(stamp: str, da: str, en: str) -> None:
    assert (datetime_text(stamp, "da"), datetime_text(stamp, "en")) == (da, en)
    moment = datetime.fromisoformat(stamp)
    assert datetime_text(moment, "da") == da
    day = da.rsplit(" ", 1)[0]
    assert date_text(stamp, "da") == day  # the date of the Danish moment, not of UTC


def test_a_date_reads_as_the_long_date() -> None:
    assert date_text(date(2026, 12, 1), "da") == "1. december 2026"
    assert date_text("2026-05-17", "en") == "17 May 2026"


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-13-01", "2026-12-01T25:00", "1.12.2026"])
def test_a_bad_timestamp_is_a_typed_error_naming_the_field(bad: str) -> None:
    with pytest.raises(DataError) as info:
        datetime_text(bad, "da", "created_at")
    (problem,) = info.value.problems
    assert (problem.field, problem.value) == ("created_at", bad)
    assert "ISO 8601" in problem.expected


def test_a_moment_needs_a_time() -> None:
    with pytest.raises(DataError, match="date-time"):
        datetime_text("2026-12-01", "en")
