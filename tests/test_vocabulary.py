from __future__ import annotations

import pytest
import yaml

from opsporing.errors import OpsporingError, UnknownCodeError, VocabularyError
from opsporing.vocabulary import (
    get_band,
    get_concept,
    get_step,
    load_vocabulary,
    read_vocabulary,
)

VOC = load_vocabulary()


def test_covers_the_required_breadth():
    assert len(VOC.concerns) >= 25
    assert len(VOC.protective_factors) >= 6
    areas = {c.area for c in VOC.concerns}
    assert areas == {
        "emotional",
        "social",
        "behaviour",
        "development",
        "learning",
        "health",
        "safety",
        "family",
    }
    assert {c.ics_domain for c in VOC.concepts.values()} == {"child", "parenting", "family"}


def test_every_concept_is_bilingual_and_has_a_definition():
    for c in VOC.concepts.values():
        for text in (c.label, c.definition):
            assert text.da.strip() and text.en.strip()
        assert c.definition.da != c.definition.en, c.code


def test_red_flags_are_high_severity_concerns():
    assert {c.code for c in VOC.red_flags} >= {"safety.disclosure", "safety.unexplained_injury"}
    for c in VOC.red_flags:
        assert c.kind == "concern" and c.severity == "high"


@pytest.mark.parametrize("n", range(7))
def test_staircase_steps(n):
    step = get_step(n)
    assert step.number == n
    assert step.requires_municipal_assessment == (n >= 3)
    assert step.is_placement == (n >= 4)
    assert step.label.da and step.label.en and step.legal_basis.da


def test_step_legal_basis():
    assert "§ 30" in get_step(2).legal_basis.da
    assert "§ 32" in get_step(3).legal_basis.da
    assert "§§ 46-47" in get_step(6).legal_basis.da


@pytest.mark.parametrize("bad", [7, -1, "3x", None, 2.5, True])
def test_unknown_step_is_a_clear_error(bad):
    with pytest.raises(UnknownCodeError, match="staircase step"):
        get_step(bad)


@pytest.mark.parametrize(
    ("alias", "code"), [("green", "grøn"), ("Gul", "gul"), ("RED", "rød"), ("rød", "rød")]
)
def test_bands_accept_danish_and_english(alias, code):
    assert get_band(alias).code == code


def test_bands_are_ordered():
    assert [b.code for b in VOC.bands.values()] == ["grøn", "gul", "rød"]


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("social.isolaton", "social.isolation"),
        ("isolation", "social.isolation"),
        ("safety.disclosur", "safety.disclosure"),
    ],
)
def test_typo_lists_close_matches(typo, suggestion):
    with pytest.raises(UnknownCodeError) as info:
        get_concept(typo)
    assert suggestion in info.value.suggestions
    assert suggestion in str(info.value)
    assert isinstance(info.value, LookupError) and isinstance(info.value, OpsporingError)


def test_duty_to_notify_cites_section_133():
    assert "§ 133" in VOC.duty_to_notify_basis.da


def test_to_frame_has_one_row_per_code():
    frame = VOC.to_frame("en")
    assert frame.index.is_unique and len(frame) == len(VOC.concepts)
    assert frame.loc["social.isolation", "label"] == "Social isolation"


def test_a_broken_vocabulary_file_lists_every_problem(tmp_path):
    from importlib import resources

    tree = yaml.safe_load(
        resources.files("opsporing.vocabulary").joinpath("data/vocabulary.yaml").read_text("utf-8")
    )
    tree["concerns"]["social.isolation"]["area"] = "nowhere"
    tree["concerns"]["emotional.sadness"]["severity"] = "extreme"
    del tree["steps"][6]
    path = tmp_path / "voc.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    with pytest.raises(VocabularyError) as info:
        read_vocabulary(path)
    message = str(info.value)
    assert "nowhere" in message and "extreme" in message and "steps" in message


def test_unreadable_vocabulary_file(tmp_path):
    with pytest.raises(VocabularyError, match="expected a readable file") as info:
        read_vocabulary(tmp_path / "missing.yaml")
    assert info.value.problems[0].field.endswith("missing.yaml")
