"""The parent and child forms of issue 13: metadata, selection, age fit and the self-report rules."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from opsporing._safeload import load_tree
from opsporing.errors import InstrumentDefinitionError, UnknownInstrumentError
from opsporing.instruments import (
    build_instrument,
    current_forms,
    get_instrument,
    list_instruments,
    select_instrument,
    shipped_instrument_paths,
)
from opsporing.instruments._informants import (
    SELF_HARM_CONCEPT,
    promises_same_day_response,
)
from opsporing.scoring import score_form
from opsporing.vocabulary import load_vocabulary

PARENT = ("opsporing.parent.dagtilbud", "opsporing.parent.skole")
CHILD = ("opsporing.child.6-10", "opsporing.child.11-12", "opsporing.child.13-16")
FORMS = (*PARENT, *CHILD)
#: The domain ids the model reads; every informant form uses exactly these.
MODEL_DOMAINS = {"emotional", "social", "behaviour", "development", "care", "safety", "resources"}

#: Wording that judges the family or asks a parent to incriminate themselves (issue 17 review
#: and the brief of issue 13). None of it may appear on a parent or child form in either language.
JUDGING = (
    "er til at samarbejde med", "skiftende voksne", "uden klar grund", "omsorgssvigt",
    "forsømmer", "forsømt", "dårlig opdragelse", "dårlige forældre", "uansvarlig",
    "easy to cooperate with", "changing adults", "without clear reason", "neglect",
)  # fmt: skip
#: What a parent form never asks parents about themselves (drinking, drugs, violence between
#: adults, their own mental health): read at home by the person concerned, an answer can put
#: the child or a parent at risk.
PARENT_SELF_INCRIMINATING = (
    "drikker", "stoffer", "alkohol", "vold mellem", "vold i hjemmet", "slår hinanden",
    "jeres psykiske", "din psykiske", "jeres misbrug", "truer hinanden",
    "drinks", "drugs", "alcohol", "violence between", "each other",
)  # fmt: skip


def _path(form_id: str) -> Path:
    name = form_id.removeprefix("opsporing.").replace(".", "_").replace("-", "_") + ".yaml"
    (path,) = [p for p in shipped_instrument_paths() if p.name == name]
    return path


def _tree(form_id: str) -> dict[str, Any]:
    tree = load_tree(_path(form_id))
    assert isinstance(tree, dict)
    return copy.deepcopy(tree)


def _texts(form_id: str) -> list[str]:
    inst = get_instrument(form_id)
    out = [inst.title.da, inst.title.en]
    out += [t for n in inst.notices for t in (n.da, n.en)]
    out += [t for i in inst.items for t in (i.text.da, i.text.en)]
    return [t.lower() for t in out]


# --- metadata ---------------------------------------------------------------------------------
@pytest.mark.parametrize("form_id", FORMS)
def test_informant_forms_declare_who_answers_and_use_the_model_domains(form_id: str) -> None:
    inst = get_instrument(form_id)
    assert inst.informant == ("parent" if form_id in PARENT else "child")
    assert inst.overall == "total"
    assert set(inst.domain_ids) == MODEL_DOMAINS
    assert inst.total is not None and set(inst.total.domains) == MODEL_DOMAINS - {
        "care", "safety", "resources",
    }  # fmt: skip
    assert inst.domain("resources").direction == "strength"
    assert inst.notices, "a parent or child form explains itself before the first item"


@pytest.mark.parametrize("bad", ["teacher", "", "Parent", None, 3])
def test_an_unknown_informant_is_refused_naming_the_field(bad: object) -> None:
    tree = _tree("opsporing.parent.skole")
    tree["informant"] = bad
    with pytest.raises(InstrumentDefinitionError) as err:
        build_instrument(tree, "parent.yaml")
    (problem,) = err.value.problems
    assert problem.field == ".informant" and problem.value == bad
    assert "'educator', 'parent' or 'child'" in problem.expected
    assert "parent.yaml" in str(err.value)


def test_a_form_without_informant_is_an_educator_form_and_keeps_loading() -> None:
    tree = _tree("opsporing.parent.skole")
    del tree["informant"]
    assert build_instrument(tree).informant == "educator"


# --- selection --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "age", "informant", "expected"),
    [
        ("dagtilbud", 0, "parent", "opsporing.parent.dagtilbud"),
        ("dagtilbud", 6.9, "parent", "opsporing.parent.dagtilbud"),
        ("skole", 5, "parent", "opsporing.parent.skole"),
        ("skole", 17.5, "parent", "opsporing.parent.skole"),
        ("skole", 6, "child", "opsporing.child.6-10"),
        ("skole", 10.99, "child", "opsporing.child.6-10"),
        ("skole", 11, "child", "opsporing.child.11-12"),
        ("skole", 12.99, "child", "opsporing.child.11-12"),
        ("skole", 13, "child", "opsporing.child.13-16"),
        ("skole", 17, "child", "opsporing.child.13-16"),  # last band: max inclusive
    ],
)
def test_select_instrument_picks_the_informant_forms(
    setting: str, age: float, informant: str, expected: str
) -> None:
    assert select_instrument(setting, age, informant).id == expected


@pytest.mark.parametrize(
    ("setting", "age", "informant"),
    [("skole", 5.5, "child"), ("skole", 17.5, "child"), ("dagtilbud", 4, "child")],
)
def test_no_child_form_below_six_or_in_daycare(setting: str, age: float, informant: str) -> None:
    with pytest.raises(UnknownInstrumentError, match=r"informant|age_years"):
        select_instrument(setting, age, informant)


@pytest.mark.parametrize(
    "age", ["5", b"5", True, False, None, float("nan"), float("inf"), -1, 1e308, 2**70, [5]]
)
@pytest.mark.parametrize("setting", ["skole", "dagtilbud"])
def test_select_instrument_refuses_what_is_no_age(setting: str, age: Any) -> None:
    with pytest.raises(UnknownInstrumentError, match="age_years"):
        select_instrument(setting, age)


def test_forms_yaml_lists_each_informant_form_once() -> None:
    listed = [
        i.id for (inf, _), insts in current_forms().items() if inf != "educator" for i in insts
    ]
    assert sorted(listed) == sorted(FORMS)


# --- age fit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("form_id", FORMS)
def test_every_item_fits_the_forms_whole_age_range(form_id: str) -> None:
    inst = get_instrument(form_id)
    for item in inst.items:
        assert item.fits_age is not None, item.id
        assert item.fits_age.min <= inst.age_years.min, item.id
        assert inst.age_years.max <= item.fits_age.max, item.id


def test_an_item_that_does_not_fit_the_age_range_is_refused() -> None:
    tree = _tree("opsporing.child.11-12")
    tree["items"][0]["fits_age"] = {"min": 12, "max": 18}
    with pytest.raises(InstrumentDefinitionError) as err:
        build_instrument(tree)
    (problem,) = err.value.problems
    assert problem.field == f"items[{tree['items'][0]['id']}].fits_age"
    assert "11-13" in problem.expected


# --- safety -----------------------------------------------------------------------------------
@pytest.mark.parametrize("form_id", FORMS)
def test_safety_items_are_required_three_point_and_say_what_to_do_now(form_id: str) -> None:
    inst = get_instrument(form_id)
    voc = load_vocabulary()
    assert inst.domain("safety").required
    assert inst.domain("safety").min_answered == len(inst.items_in("safety"))
    for item in inst.items_in("safety"):
        scale = inst.scale(item.scale)
        assert [(o.value, o.label.da) for o in scale.options] == [
            (0, "Nej"), (1, "Usikker"), (2, "Ja"),
        ]  # fmt: skip
        assert item.act_now is not None and "§ 133" in item.act_now.da + item.act_now.en
        assert item.critical is not None and item.critical.min == 1
        flags = [e for e in item.evidences if voc.concept(e.code).red_flag]
        assert flags and all(e.min == 2 for e in flags), item.id


@pytest.mark.parametrize("form_id", FORMS)
def test_a_yes_on_any_safety_item_raises_a_red_flag(form_id: str) -> None:
    inst = get_instrument(form_id)

    def best(item_id: str) -> int:  # the answer that raises no concern and is a resource
        item = inst.item(item_id)
        scale = inst.scale(item.scale)
        high_is_good = (item.domain == "resources") != item.reverse
        return scale.max if high_is_good else scale.min

    calm = {i.id: best(i.id) for i in inst.items}
    assert score_form(inst, calm).red_flag is False
    for item in inst.items_in("safety"):
        result = score_form(inst, {**calm, item.id: 2})
        assert result.red_flag and result.overall_band == "rød", item.id


@pytest.mark.parametrize("form_id", FORMS)
def test_a_missing_act_now_text_is_refused(form_id: str) -> None:
    tree = _tree(form_id)
    safety = next(i for i in tree["items"] if i["domain"] == "safety")
    del safety["act_now"]
    with pytest.raises(InstrumentDefinitionError, match="act_now"):
        build_instrument(tree)


# --- self-report rules ------------------------------------------------------------------------
def test_self_harm_items_are_only_on_forms_that_promise_a_same_day_response() -> None:
    with_self_harm = [
        inst
        for inst in list_instruments()
        if any(e.code == SELF_HARM_CONCEPT for i in inst.items for e in i.evidences)
        and inst.informant != "educator"
    ]
    assert {i.id for i in with_self_harm} >= {"opsporing.child.11-12", "opsporing.child.13-16"}
    assert all(promises_same_day_response(i) for i in with_self_harm)


def test_a_self_harm_item_without_the_same_day_notice_is_refused() -> None:
    tree = _tree("opsporing.child.13-16")
    tree["notices"] = [n for n in tree["notices"] if "samme dag" not in n["da"]]
    with pytest.raises(InstrumentDefinitionError) as err:
        build_instrument(tree)
    assert {p.value for p in err.value.problems} == {SELF_HARM_CONCEPT}
    assert [p.field for p in err.value.problems] == ["items[c_safe_self_harm]"]


@pytest.mark.parametrize("form_id", CHILD)
def test_the_self_report_explains_confidentiality_in_the_childs_words(form_id: str) -> None:
    notices = " ".join(n.da for n in get_instrument(form_id).notices).lower()
    # who reads it, where confidentiality ends, and that the child is told first
    assert "læst af" in notices
    assert "fortælle det til andre" in notices and "fortæller dig det først" in notices
    assert "116 111" in notices  # a number a child can call itself


def test_substance_use_is_asked_from_thirteen_only() -> None:
    ages = {
        inst.id: inst.age_years.min
        for inst in list_instruments()
        if inst.informant != "educator" and any("substance" in i.id for i in inst.items)
    }
    assert ages == {"opsporing.child.13-16": 13}


def test_a_substance_item_on_a_form_for_under_thirteens_is_refused() -> None:
    tree = _tree("opsporing.child.13-16")
    tree["age_years"] = {"min": 11, "max": 17}
    for item in tree["items"]:
        item["fits_age"] = {"min": 10, "max": 18}
    with pytest.raises(InstrumentDefinitionError) as err:
        build_instrument(tree)
    assert [p.field for p in err.value.problems] == ["items[c_beh_substances]"]


@pytest.mark.parametrize("form_id", FORMS)
def test_no_wording_judges_the_family(form_id: str) -> None:
    texts = _texts(form_id)
    found = [(p, t) for p in JUDGING for t in texts if p in t]
    assert found == []


@pytest.mark.parametrize("form_id", PARENT)
def test_a_parent_form_never_asks_parents_about_themselves(form_id: str) -> None:
    inst = get_instrument(form_id)
    items = [t.lower() for i in inst.items for t in (i.text.da, i.text.en)]
    found = [(p, t) for p in PARENT_SELF_INCRIMINATING for t in items if p in t]
    assert found == []
    # ...and its red flags are what the parent noticed in the child, never the parents' own
    codes = {e.code for i in inst.items for e in i.evidences}
    assert not codes & {"safety.domestic_violence", "parenting.intoxicated_parent"}


@pytest.mark.parametrize("form_id", CHILD)
def test_child_items_are_short_sentences_addressed_to_the_child(form_id: str) -> None:
    for item in get_instrument(form_id).items:
        words = len(item.text.da.split())
        assert words <= 22, (item.id, words)
        assert re.search(r"\b(jeg|mig|min|mit|mine|du|dig|din)\b", item.text.da.lower()), item.id


def test_the_picture_form_answers_with_faces_and_asks_no_self_harm_or_substances() -> None:
    inst = get_instrument("opsporing.child.6-10")
    faces = inst.scale("faces")
    assert [o.label.en.split(" (")[1] for o in faces.options] == [
        "happy face)", "in-between face)", "sad face)",
    ]  # fmt: skip
    assert all(i.scale in {"faces", "safety"} for i in inst.items)
    assert all(i.reverse for i in inst.items_in("resources"))
    codes = {e.code for i in inst.items for e in i.evidences}
    assert SELF_HARM_CONCEPT not in codes
    assert not any("substance" in i.id or "drikker" in i.text.da for i in inst.items)
