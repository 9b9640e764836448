"""The scoring rules of issue 17: number items, critical answers, required domains and the
``overall: total`` rule, on a small hand-computable instrument (tests/data/total_instrument.yaml),
and format-1 instruments scoring exactly as before."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from opsporing.errors import InstrumentDefinitionError, ResponseValidationError
from opsporing.instruments import Instrument, build_instrument, get_instrument, load_instrument
from opsporing.scoring import score_batch, score_form, scoring_key

DATA = Path(__file__).parent / "data"

#: A calm form: every domain grøn, nothing critical, every safety item answered "Nej".
CALM: dict[str, Any] = {
    "m1": 0, "m2": 1, "m3": 3, "c1": 0, "absence": 2, "k1": 0,
    "s1": 0, "s2": 0, "r1": 3, "r2": 3,
}  # fmt: skip


@pytest.fixture(scope="module")
def total() -> Instrument:
    return load_instrument(DATA / "total_instrument.yaml")


@pytest.fixture(scope="module")
def tree() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DATA / "total_instrument.yaml").read_text("utf-8"))
    return loaded


def _form(**changes: Any) -> dict[str, Any]:
    return {**CALM, **changes}


# --- number items ------------------------------------------------------------------------------
def test_number_items_are_never_summed(total: Instrument) -> None:
    key = scoring_key(total)
    j = key.items.index("absence")
    assert not key.scored[j] and key.membership[j].sum() == 0
    assert [i.id for i in total.scored_items_in("school")] == ["c1"]
    assert [i.id for i in total.items_in("school")] == ["c1", "absence"]
    assert total.score_range("school") == (0.0, 3.0)
    low, high = score_form(total, _form(absence=0)), score_form(total, _form(absence=65))
    assert low.domains["school"].score == high.domains["school"].score == 0.0
    assert low.domains["school"].n_items == 1
    assert low.total == high.total


def test_a_blank_number_item_does_not_make_its_domain_unscorable(total: Instrument) -> None:
    result = score_form(total, _form(absence=None))
    assert result.domains["school"].scorable and result.domains["school"].answered == 1
    assert "absence" in result.missing_items
    batch = score_batch(total, pd.DataFrame([_form(absence=None), _form()]))
    assert batch["n_missing"].tolist() == [1, 0]


def test_number_items_raise_concepts_and_can_be_critical(total: Instrument) -> None:
    five, six = score_form(total, _form(absence=5)), score_form(total, _form(absence=6))
    assert "learning.absence" not in five.concerns and "learning.absence" in six.concerns
    assert not score_form(total, _form(absence=12)).critical
    critical = score_form(total, _form(absence=13))
    assert [c.item for c in critical.critical_answers] == ["absence"]
    assert critical.critical_answers[0].answer == 13
    assert critical.critical_answers[0].act_now == {
        "da": "Kontakt forældrene i dag",
        "en": "Contact the parents today",
    }


@pytest.mark.parametrize("value", [-1, 66, 2.5, 1e9])
def test_number_answers_outside_the_range_or_not_whole_are_errors(
    total: Instrument, value: float
) -> None:
    with pytest.raises(ResponseValidationError) as info:
        score_form(total, _form(absence=value))
    (problem,) = info.value.problems
    assert problem.field == "absence" and problem.kind == "out_of_range"
    assert problem.expected.startswith("a whole number from 0 to 65 (days)")
    frame = pd.DataFrame([_form(), _form(absence=value)])
    result = score_batch(total, frame, errors="collect")
    assert result.rejected[["row", "field", "kind"]].values.tolist() == [
        [1, "absence", "out_of_range"]
    ]


def test_text_in_a_number_item_names_the_range(total: Instrument) -> None:
    frame = pd.DataFrame([_form(absence="mange")])
    result = score_batch(total, frame, errors="collect")
    (row,) = result.rejected.to_dict("records")
    assert row["kind"] == "not_a_number" and "from 0 to 65" in row["expected"]


# --- critical answers and the overall rule -----------------------------------------------------
def test_calm_form_is_green(total: Instrument) -> None:
    result = score_form(total, CALM)
    assert result.overall_band == "grøn" and not result.critical and not result.red_flag


@pytest.mark.parametrize(
    ("changes", "band", "critical"),
    [
        ({"m1": 2}, "grøn", False),  # total 0+1+0+2 = 3 < 5
        ({"m1": 3}, "gul", True),  # critical answer; total 4 is still grøn
        ({"c1": 3}, "gul", True),  # critical; school 3 = rød raises too
        ({"s1": 1}, "gul", True),  # "Usikker" on a safety item
        ({"s1": 2}, "rød", False),  # "Ja": red flag (s1 is critical from 1, so also critical)
        ({"m1": 2, "m2": 2, "m3": 1}, "gul", False),  # total 6: gul from the total alone
        ({"m1": 2, "m2": 2, "m3": 0, "c1": 2}, "rød", False),  # total 9 >= 8
        ({"k1": 3}, "gul", False),  # care (not in the total) at rød raises to gul
        ({"r1": 0, "r2": 0}, "grøn", False),  # strength domain at rød never raises it
    ],
)
def test_overall_total_rule(
    total: Instrument, changes: dict[str, Any], band: str, critical: bool
) -> None:
    result = score_form(total, _form(**changes))
    assert result.overall_band == band
    if "s1" not in changes:
        assert result.critical is critical
    batch = score_batch(total, pd.DataFrame([_form(**changes)]))
    assert batch["band.overall"].tolist() == [band]
    assert bool(batch["critical"].iloc[0]) is result.critical


def test_strength_at_red_is_reported_beside(total: Instrument) -> None:
    result = score_form(total, _form(r1=0, r2=0))
    assert result.domains["res"].band == "rød" and result.overall_band == "grøn"


def test_overall_unknown_without_total_unless_raised(total: Instrument) -> None:
    blank_mood = _form(m1=None, m2=None, m3=None)
    assert score_form(total, blank_mood).overall_band is None
    assert score_form(total, {**blank_mood, "absence": 20}).overall_band == "gul"


def test_critical_answers_list_every_critical_item(total: Instrument) -> None:
    result = score_form(total, _form(m1=3, c1=3, s2=1))
    assert [c.item for c in result.critical_answers] == ["m1", "c1", "s2"]
    assert result.critical_answers[1].act_now is None
    assert result.to_dict()["critical_answers"][0]["item"] == "m1"


def test_batch_critical_matches_single_forms(total: Instrument) -> None:
    rng = np.random.default_rng(3)
    forms = pd.DataFrame(
        {
            i.id: rng.integers(total.scale(i.scale).min, total.scale(i.scale).max + 1, 300)
            for i in total.items
        }
    )
    batch = score_batch(total, forms)
    singles = [score_form(total, row) for row in forms.to_dict("records")]
    assert batch["critical"].tolist() == [s.critical for s in singles]
    assert batch["band.overall"].astype(object).tolist() == [s.overall_band for s in singles]
    assert 0 < batch["critical"].mean() < 1


# --- required domains --------------------------------------------------------------------------
def test_a_blank_safety_item_is_an_error_never_no(total: Instrument) -> None:
    with pytest.raises(ResponseValidationError) as info:
        score_form(total, _form(s2=None))
    (problem,) = info.value.problems
    assert (problem.field, problem.kind) == ("s2", "required")
    assert "safety" in problem.expected and "never read as 'no'" in problem.expected
    without = {k: v for k, v in CALM.items() if k != "s1"}
    with pytest.raises(ResponseValidationError, match="s1"):
        score_form(total, without)


def test_blank_safety_items_are_reported_for_every_row(total: Instrument) -> None:
    frame = pd.DataFrame([_form(s1=None), _form(), _form(s1=None, s2=np.nan), _form(s2=2)])
    result = score_batch(total, frame, errors="collect")
    got = result.rejected[["row", "field", "kind"]].values.tolist()
    assert got == [[0, "s1", "required"], [2, "s1", "required"], [2, "s2", "required"]]
    assert result.scores.index.tolist() == [1, 3]
    with pytest.raises(ResponseValidationError) as info:
        score_batch(total, frame)
    assert len(info.value.problems) == 3


def test_a_blank_safety_item_keeps_the_red_flags_of_the_row(total: Instrument) -> None:
    result = score_batch(total, pd.DataFrame([_form(s1=None, s2=2)]), errors="collect")
    assert result.red_flags == {0: ("safety.domestic_violence",)}


def test_a_missing_required_column_is_a_table_problem(total: Instrument) -> None:
    frame = pd.DataFrame([_form()]).drop(columns="s2")
    with pytest.raises(ResponseValidationError) as info:
        score_batch(total, frame, errors="collect")
    assert [(p.field, p.kind) for p in info.value.problems] == [("s2", "missing_column")]


def test_an_invalid_safety_answer_is_reported_once(total: Instrument) -> None:
    result = score_batch(total, pd.DataFrame([_form(s1="Ja"), _form(s1=3)]), errors="collect")
    assert result.rejected[["row", "kind"]].values.tolist() == [
        [0, "not_a_number"],
        [1, "out_of_range"],
    ]


# --- the validator -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "field", "bound", "fragment"),
    [
        ("absence", "critical", {"min": 66}, "a whole number from 0 to 65"),
        ("absence", "evidences", [{"code": "learning.absence", "min": -1}], "from 0 to 65"),
        ("s1", "critical", {"min": 3}, "a value of scale safety [0, 1, 2]"),
        ("m1", "critical", {"max": 4}, "a value of scale freq"),
    ],
)
def test_bounds_must_lie_on_the_scale(
    tree: dict[str, Any], item: str, field: str, bound: Any, fragment: str
) -> None:
    bad = copy.deepcopy(tree)
    next(i for i in bad["items"] if i["id"] == item)[field] = bound
    with pytest.raises(InstrumentDefinitionError) as info:
        build_instrument(bad)
    (problem,) = info.value.problems
    assert problem.field.startswith(f"items[{item}].") and fragment in problem.expected


def test_overall_total_needs_a_total(tree: dict[str, Any]) -> None:
    bad = copy.deepcopy(tree)
    del bad["total"]
    with pytest.raises(InstrumentDefinitionError, match="overall"):
        build_instrument(bad)


def test_a_domain_of_number_items_only_is_refused(tree: dict[str, Any]) -> None:
    bad = copy.deepcopy(tree)
    bad["domains"].append(
        {"id": "days", "label": {"da": "Dage", "en": "Days"}, "min_answered": 1,
         "bands": {"yellow": 1, "red": 2}}
    )  # fmt: skip
    next(i for i in bad["items"] if i["id"] == "absence")["domain"] = "days"
    with pytest.raises(InstrumentDefinitionError, match="ordinal scale"):
        build_instrument(bad)


def test_min_answered_counts_summed_items_only(tree: dict[str, Any]) -> None:
    bad = copy.deepcopy(tree)
    next(d for d in bad["domains"] if d["id"] == "school")["min_answered"] = 2
    with pytest.raises(InstrumentDefinitionError, match="min_answered"):
        build_instrument(bad)


# --- format-1 instruments score exactly as before ----------------------------------------------
def _instrument(key: str) -> Instrument:
    if key.startswith("test.mini@"):
        return load_instrument(DATA / "mini_instrument.yaml")
    ident, version = key.split("@")
    return get_instrument(ident, version)


def test_worst_rule_scores_exactly_as_before_issue_17() -> None:
    """tests/data/scores_before_issue17.csv.gz: forms and their scores by the code before the
    issue-17 rules (commit acaf038), for every format-1 instrument."""
    before = pd.read_csv(DATA / "scores_before_issue17.csv.gz", low_memory=False)
    for key, rows in before.groupby("instrument_key", sort=False):
        inst = _instrument(str(key))
        assert inst.overall == "worst"
        answers = rows[[f"answer.{i}" for i in inst.item_ids]]
        answers.columns = list(inst.item_ids)
        now = score_batch(inst, answers.reset_index(drop=True))
        assert not now["critical"].any()
        old = rows[[c for c in now.columns if c != "critical"]].reset_index(drop=True)
        for column in old.columns:
            if pd.api.types.is_numeric_dtype(now[column]) and now[column].dtype != bool:
                got = now[column].to_numpy(dtype=float)
                want = old[column].to_numpy(dtype=float)
                assert np.array_equal(got, want, equal_nan=True), (key, column)
            else:
                got = now[column].astype(object).where(now[column].notna(), None)
                want = old[column].astype(object).where(old[column].notna(), None)
                assert [str(v) for v in got] == [str(v) for v in want], (key, column)
