from __future__ import annotations

import copy
import json

import pytest
import yaml

from opsporing.errors import InstrumentDefinitionError, OpsporingError, UnknownInstrumentError
from opsporing.instruments import (
    build_instrument,
    get_instrument,
    list_instruments,
    load_instrument,
)
from opsporing.vocabulary import load_vocabulary


@pytest.fixture
def tree(mini_path):
    return yaml.safe_load(mini_path.read_text(encoding="utf-8"))


def test_mini_instrument_loads(mini):
    assert mini.key == "test.mini@2.1.0"
    assert mini.item_ids == ("m1", "m2", "m3", "p1", "p2", "s1", "r1", "r2")
    assert mini.score_range("mood") == (0.0, 9.0)
    assert mini.score_range("play") == (0.0, 3.0)


def test_a_file_with_many_problems_reports_all_of_them(tree):
    bad = copy.deepcopy(tree)
    bad["version"] = "2.1"  # not semver
    bad["items"][0]["scale"] = "f5"  # unknown scale
    bad["items"][1]["evidences"] = [{"code": "emotional.sadnes", "min": 2}]  # typo
    bad["items"][2]["id"] = "m1"  # duplicate id
    bad["items"][3]["text"] = {"en": "English only", "xx": "?"}  # no Danish; not a language
    bad["domains"][0]["bands"] = {"yellow": 4, "red": 60}  # beyond the reachable 0-9
    bad["domains"][1]["min_answered"] = 5  # only 2 items
    bad["domains"][3]["bands"] = {"yellow": 1, "red": 3}  # strength: yellow must be above red
    bad["total"]["domains"] = ["mood", "res"]  # a strength domain in the total
    bad["items"][4]["evidences"] = [{"code": "social.isolation", "min": 7}]  # not on the scale
    with pytest.raises(InstrumentDefinitionError) as info:
        build_instrument(bad, "bad.yaml")
    fields = {p.field for p in info.value.problems}
    expected = {
        ".version", "items[m1].scale", "items[m2].evidences.code",
        "items[].id", "items[3].text", "domains[mood].bands.red", "domains[play].min_answered",
        "domains[res].bands", "total.domains", "items[p2].evidences[social.isolation]",
    }  # fmt: skip
    assert expected <= fields, expected - fields
    assert "emotional.sadness" in str(info.value)  # the typo's suggestion
    text = next(p for p in info.value.problems if p.field == "items[3].text")
    assert "da: expected a Danish text" in text.expected and "xx: expected a language code" in text.expected
    assert "bad.yaml" in str(info.value)
    table = info.value.to_frame()
    assert list(table.columns) == ["row", "field", "value", "expected", "kind"]
    assert len(table) == len(info.value.problems) >= 10


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.pop("items"), "items"),
        (lambda t: t.update(settings=["vuggestue"]), ".settings[0]"),
        (lambda t: t.update(age_years={"min": 6, "max": 1}), ".age_years"),
        (lambda t: t.update(colour="blue"), ".colour"),
        (lambda t: t["scales"][0]["options"].reverse(), "scales[0]"),
        (
            lambda t: t["domains"].append(
                {
                    "id": "empty",
                    "label": {"da": "x", "en": "y"},
                    "min_answered": 1,
                    "bands": {"yellow": 0, "red": 1},
                }
            ),
            "domains[empty]",
        ),
        (
            lambda t: t["items"][0].update(evidences=[{"code": "emotional.sadness"}]),
            "items[0].evidences[0]",
        ),
    ],
)
def test_each_kind_of_problem_is_found(tree, mutate, field):
    mutate(tree)
    with pytest.raises(InstrumentDefinitionError) as info:
        build_instrument(tree)
    assert any(p.field == field for p in info.value.problems), [str(p) for p in info.value.problems]


@pytest.mark.parametrize("garbage", [None, 3, "text", [1, 2], {"id": 3}])
def test_garbage_is_an_instrument_error(garbage):
    with pytest.raises(InstrumentDefinitionError):
        build_instrument(garbage)


def test_load_yaml_and_json_from_disk(tree, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(tree), encoding="utf-8")
    assert load_instrument(tmp_path / "a.json").key == "test.mini@2.1.0"
    (tmp_path / "b.yaml").write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match="valid YAML"):
        load_instrument(tmp_path / "b.yaml")
    with pytest.raises(InstrumentDefinitionError, match="readable"):
        load_instrument(tmp_path / "nope.yaml")


def test_shipped_instruments():
    keys = [i.key for i in list_instruments()]
    assert set(keys) >= {
        "opsporing.child.11-12@1.0.0",
        "opsporing.child.13-16@1.0.0",
        "opsporing.dagtilbud.trivsel@1.0.0",
        "opsporing.parent.dagtilbud@1.0.0",
        "opsporing.parent.skole@1.0.0",
        "opsporing.skole.trivsel@1.0.0",
        "opsporing.dagtilbud.0-2@1.0.0",
        "opsporing.dagtilbud.3-5@1.0.0",
        "opsporing.skole.0-6@1.0.0",
        "opsporing.skole.7-10@1.0.0",
        "topi@1.0.0",
    }
    assert keys == sorted(keys, key=lambda k: k.split("@")[0])
    voc = load_vocabulary()
    for inst in list_instruments():
        if inst.id == "topi":
            assert inst.item_ids == ("1vurdering",)
            continue
        if inst.informant != "educator":
            continue  # parent and child forms have their own tests
        # The age-fitted forms (issue 17) are longer: 5-10 minutes, see test_instruments_age_fitted.
        assert 20 <= len(inst.items) <= (35 if inst.overall == "worst" else 40)
        assert set(inst.domain_ids) == {
            "emotional",
            "social",
            "behaviour",
            "development",
            "care",
            "safety",
            "resources",
        }
        evidenced = {e.code for i in inst.items for e in i.evidences}
        assert {c for c in evidenced if voc.concept(c).is_protective}, "needs protective items"
        assert any(i.reverse for i in inst.items)
        for item in inst.items_in("safety"):
            assert all(voc.concept(e.code).red_flag for e in item.evidences)
        assert inst.domain("resources").direction == "strength"


def test_shipped_settings_and_ages():
    assert get_instrument("opsporing.dagtilbud.trivsel").settings == ("dagtilbud",)
    assert get_instrument("opsporing.skole.trivsel").settings == ("skole",)
    assert get_instrument("opsporing.dagtilbud.trivsel").age_years.max <= 7
    assert get_instrument("opsporing.skole.trivsel").age_years.min >= 5


def test_unknown_instrument_and_version():
    with pytest.raises(UnknownInstrumentError, match=r"did you mean 'topi'\?"):
        get_instrument("topj")
    with pytest.raises(UnknownInstrumentError, match=r"no version '9\.9\.9'"):
        get_instrument("topi", "9.9.9")
    assert isinstance(UnknownInstrumentError("x"), OpsporingError)


def test_instruments_are_immutable(mini):
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        mini.version = "3.0.0"  # type: ignore[misc]
