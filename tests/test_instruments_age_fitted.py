"""The age-fitted educator forms of issue 17: the contract, the content rules and the red flags.

Every rule here is about what a form *says*, read from the shipped YAML: ids, ages, scales,
which items can raise which concepts, and the wording rules a pædagog or lærer would insist on
(one observable behaviour, nothing that judges the family or asks what staff cannot see).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from opsporing.instruments import (
    Instrument,
    current_forms,
    get_instrument,
    list_instruments,
    load_instrument,
    shipped_instrument_paths,
)
from opsporing.vocabulary import load_vocabulary

from .content_table import DOC, FORMS, render_generated

VOC = load_vocabulary()
#: id -> (file, setting, age_years) exactly as CONTRACT17 fixes them.
CONTRACT = {
    "opsporing.dagtilbud.0-2": ("dagtilbud_0_2.yaml", "dagtilbud", (0, 3)),
    "opsporing.dagtilbud.3-5": ("dagtilbud_3_5.yaml", "dagtilbud", (3, 7)),
    "opsporing.skole.0-6": ("skole_0_6.yaml", "skole", (5, 13)),
    "opsporing.skole.7-10": ("skole_7_10.yaml", "skole", (13, 18)),
}
MODEL_DOMAINS = {"emotional", "social", "behaviour", "development", "care", "safety", "resources"}
TOTAL_DOMAINS = ("emotional", "social", "behaviour", "development")
#: Wording that judges the family or asks what staff cannot see (issue 17): never in an item.
BANNED = (
    "til at samarbejde",
    "samarbejde med forældre",
    "skiftende voksne",
    "uden klar grund",
    "uden en klar grund",
    "når skolen henvender sig",
    "kontakt til barnets forældre",
    "easy to cooperate",
    "changing adults",
    "without a clear reason",
    "when the school contacts them",
    "hard to reach the child's parents",
)
#: Concepts an educator form must not score: a parent who does not answer the school is not a
#: parent who does not respond to the child.
NOT_ON_EDUCATOR_FORMS = ("parenting.low_responsiveness", "family.cooperation_difficulty")


def _form(inst_id: str) -> Instrument:
    return get_instrument(inst_id)


@pytest.fixture(params=sorted(CONTRACT), ids=str)
def form(request: pytest.FixtureRequest) -> Instrument:
    return _form(request.param)


def test_the_doc_helper_knows_exactly_the_contracted_forms() -> None:
    assert sorted(FORMS) == sorted(CONTRACT)


@pytest.mark.parametrize("inst_id", sorted(CONTRACT))
def test_each_form_is_its_contracted_file_and_validates(inst_id: str) -> None:
    file, setting, (lo, hi) = CONTRACT[inst_id]
    path = next(p for p in shipped_instrument_paths() if p.name == file)
    inst = load_instrument(path)  # full validation, every problem at once
    assert inst.id == inst_id and inst == _form(inst_id)
    assert inst.settings == (setting,)
    assert (inst.age_years.min, inst.age_years.max) == (lo, hi)
    assert inst.informant == "educator" and inst.overall == "total"
    assert 28 <= len(inst.items) <= 40, "about 5-10 minutes to answer"


def test_domains_are_the_models_and_care_stays_out_of_the_total(form: Instrument) -> None:
    assert set(form.domain_ids) == MODEL_DOMAINS
    assert form.total is not None and form.total.domains == TOTAL_DOMAINS
    assert form.domain("resources").direction == "strength"
    assert all(form.domain(d).direction == "concern" for d in MODEL_DOMAINS - {"resources"})


def test_min_answered_is_about_sixty_percent_of_the_rated_items(form: Instrument) -> None:
    for d in form.domains:
        rated = [i for i in form.items_in(d.id) if not form.scale(i.scale).is_number]
        expected = len(rated) if d.required else math.ceil(0.6 * len(rated))
        assert d.min_answered == expected, d.id


def test_the_frequency_scale_does_not_count_rarely_as_concern(form: Instrument) -> None:
    scale = form.scale("frequency")
    assert [(o.value, o.label.da, o.label.en) for o in scale.options] == [
        (0, "Aldrig eller sjældent", "Never or rarely"),
        (1, "Af og til", "Sometimes"),
        (2, "Ofte", "Often"),
        (3, "Næsten altid", "Almost always"),
    ]


def test_every_item_fits_the_forms_ages(form: Instrument) -> None:
    for item in form.items:
        assert item.fits_age is not None, item.id
        assert item.fits_age.min <= form.age_years.min, item.id
        assert form.age_years.max <= item.fits_age.max, item.id


def test_safety_is_required_on_nej_usikker_ja_with_an_act_now_text(form: Instrument) -> None:
    safety = form.domain("safety")
    assert safety.required and safety.min_answered == len(form.items_in("safety"))
    scale = form.scale("safety")
    assert [(o.value, o.label.da) for o in scale.options] == [(0, "Nej"), (1, "Usikker"), (2, "Ja")]
    for item in form.items_in("safety"):
        assert item.scale == "safety", item.id
        assert item.critical is not None and item.critical.min == 1, item.id  # Usikker → gul
        assert item.evidences and all(
            e.min == 2 and VOC.concept(e.code).red_flag for e in item.evidences
        ), item.id  # Ja → red flag
        assert item.act_now is not None and item.act_now.da and item.act_now.en, item.id


def test_every_critical_item_says_what_to_do_now(form: Instrument) -> None:
    critical = [(i, i.critical) for i in form.items if i.critical is not None]
    assert critical
    for item, bound in critical:
        assert item.act_now is not None, item.id
        assert bound.min is not None, item.id  # the most serious answers are the high ones


def test_the_most_serious_answers_are_critical(form: Instrument) -> None:
    """Hunger everywhere; being bullied and hitting from kindergarten age."""
    serious = ["health.hunger"]
    if form.age_years.min >= 3:
        serious += ["social.bullied", "behaviour.aggression"]
    for code in serious:
        items = [i for i in form.items if any(e.code == code for e in i.evidences)]
        assert any(i.critical is not None for i in items), code


@pytest.mark.parametrize("inst_id", ["opsporing.skole.0-6", "opsporing.skole.7-10"])
def test_school_absence_is_a_number_of_days(inst_id: str) -> None:
    inst = _form(inst_id)
    absence = [i for i in inst.items if any(e.code == "learning.absence" for e in i.evidences)]
    assert [i.id for i in absence] == ["dev_absence_days"]
    item = absence[0]
    scale = inst.scale(item.scale)
    assert scale.is_number and scale.number is not None
    assert (scale.number.min, scale.number.max, scale.number.unit.en) == (0, 65, "days")
    assert [(e.code, e.min) for e in item.evidences] == [("learning.absence", 6)]
    assert item.critical is not None and item.critical.min == 13
    assert not item.reverse


@pytest.mark.parametrize("inst_id", ["opsporing.dagtilbud.0-2", "opsporing.dagtilbud.3-5"])
def test_daycare_forms_have_no_number_items(inst_id: str) -> None:
    inst = _form(inst_id)
    assert not any(s.is_number for s in inst.scales)


def test_no_item_judges_the_family(form: Instrument) -> None:
    for item in form.items:
        text = f"{item.text.da} {item.text.en}".lower()
        assert not [b for b in BANNED if b in text], item.id
        assert not {e.code for e in item.evidences} & set(NOT_ON_EDUCATOR_FORMS), item.id


def test_the_banned_list_catches_the_old_wording() -> None:
    """The phrases are the ones the critique found on the format-1 forms."""
    old = [get_instrument("opsporing.dagtilbud.trivsel"), get_instrument("opsporing.skole.trivsel")]
    texts = " ".join(f"{i.text.da} {i.text.en}".lower() for inst in old for i in inst.items)
    assert sum(b in texts for b in BANNED) >= 4


def test_language_items_ask_about_all_the_childs_languages(form: Instrument) -> None:
    items = [
        i for i in form.items if any(e.code == "development.language_delay" for e in i.evidences)
    ]
    assert items
    for item in items:
        assert "sprog" in item.text.da and "language" in item.text.en, item.id


def test_sexualised_behaviour_is_worded_beyond_ordinary_curiosity() -> None:
    for inst_id in CONTRACT:
        for item in _form(inst_id).items:
            if any(e.code == "behaviour.sexualised" for e in item.evidences):
                assert "nysgerrighed" in item.text.da and "curiosity" in item.text.en, item.id


def _concepts(inst: Instrument) -> set[str]:
    return {e.code for i in inst.items for e in i.evidences}


@pytest.mark.parametrize(
    ("inst_id", "codes"),
    [
        (
            "opsporing.dagtilbud.0-2",
            {
                "development.nonverbal_communication",
                "emotional.hard_to_comfort",
                "emotional.withdrawal",
                "health.sleep_difficulty",
                "health.eating_difficulty",
                "protective.trusted_adult",
                "protective.prosocial",
                "protective.own_voice",
            },
        ),
        (
            "opsporing.dagtilbud.3-5",
            {
                "protective.prosocial",
                "protective.own_voice",
                "emotional.voiced_distress",
                "social.bullying_others",
                "health.eating_difficulty",
            },
        ),
        (
            "opsporing.skole.0-6",
            {
                "protective.prosocial",
                "protective.own_voice",
                "emotional.voiced_distress",
                "social.bullying_others",
                "social.bullied",
                "family.young_carer",
            },
        ),
        (
            "opsporing.skole.7-10",
            {
                "behaviour.substance_use",
                "social.online_harm",
                "learning.school_refusal",
                "safety.dating_violence",
                "safety.sexual_exploitation",
                "family.young_carer",
                "social.bullying_others",
                "social.bullied",
                "protective.prosocial",
                "protective.own_voice",
                "emotional.voiced_distress",
            },
        ),
    ],
)
def test_the_gaps_of_issue_17_are_covered(inst_id: str, codes: set[str]) -> None:
    assert codes <= _concepts(_form(inst_id))


def test_substance_use_only_from_thirteen() -> None:
    for inst_id in CONTRACT:
        inst = _form(inst_id)
        asks = "behaviour.substance_use" in _concepts(inst)
        assert asks == (inst.age_years.min >= 13), inst_id


def _educator_forms() -> list[Instrument]:
    """The age-fitted forms plus whatever forms.yaml currently lists for the educator."""
    forms = {i.key: i for i in map(_form, CONTRACT)}
    for (informant, _), insts in current_forms().items():
        if informant == "educator":
            forms.update({i.key: i for i in insts})
    return list(forms.values())


def test_every_red_flag_concept_has_an_educator_item_that_can_raise_it() -> None:
    raisable = {
        e.code for inst in _educator_forms() for i in inst.items_in("safety") for e in i.evidences
    }
    missing = {c.code for c in VOC.red_flags} - raisable
    assert not missing, f"red flags without an item: {sorted(missing)}"


def test_every_red_flag_concept_is_raised_by_an_age_fitted_form() -> None:
    raisable = {e.code for inst_id in CONTRACT for i in _form(inst_id).items for e in i.evidences}
    assert {c.code for c in VOC.red_flags} <= raisable


@pytest.mark.parametrize("inst", list_instruments(), ids=lambda i: i.key)
def test_red_flag_items_and_red_flag_concepts_go_together(inst: Instrument) -> None:
    """Both ways, on every shipped form: a safety item evidences only red flags, and a red
    flag is evidenced only by a safety item (so a frequency answer can never go straight to
    rød)."""
    if "safety" not in inst.domain_ids:
        return
    for item in inst.items:
        flags = [e.code for e in item.evidences if VOC.concept(e.code).red_flag]
        if item.domain == "safety":
            assert item.evidences and len(flags) == len(item.evidences), item.id
        else:
            assert not flags, item.id


def test_every_new_concept_is_asked_by_an_age_fitted_form() -> None:
    added = {
        "emotional.hard_to_comfort",
        "emotional.somatic_complaints",
        "emotional.voiced_distress",
        "social.bullying_others",
        "social.online_harm",
        "behaviour.substance_use",
        "development.nonverbal_communication",
        "learning.school_refusal",
        "health.sleep_difficulty",
        "health.eating_difficulty",
        "safety.dating_violence",
        "safety.sexual_exploitation",
        "family.young_carer",
        "protective.prosocial",
        "protective.own_voice",
    }
    assert added <= set(VOC.concepts)
    asked = set().union(*(_concepts(_form(i)) for i in CONTRACT))
    assert added <= asked


def test_the_content_table_in_the_docs_is_current() -> None:
    """docs/instrument-content.md lists every item of every age-fitted form, as generated
    from the YAML (regenerate with ``python -m tests.content_table``)."""
    text = Path(DOC).read_text(encoding="utf-8")
    assert render_generated() in text, "regenerate: python -m tests.content_table"
    for inst_id in CONTRACT:
        for item in _form(inst_id).items:
            assert f"`{item.id}`" in text, (inst_id, item.id)
