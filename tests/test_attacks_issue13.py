"""Attacks on the issue-13 inputs: the other voices of a round and the child's history.

Every request is hostile: a red flag on any form of the round routes the child to the
duty to notify whatever else is wrong, and odd tables are refused by name, never read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing.decision import suggest_batch
from opsporing.errors import DataError
from opsporing.instruments import get_instrument
from opsporing.model import StepSuggester, build_features, feature_names
from opsporing.scoring import score_batch

SCHOOL = get_instrument("opsporing.skole.trivsel")
PARENT = get_instrument("opsporing.parent.skole")
CHILD = get_instrument("opsporing.child.11-12")


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    names = feature_names()
    X = pd.DataFrame(rng.random((300, len(names))), columns=names)
    X["missing_fraction"] = 0.0
    y = (X["score.social"] > 0.5).astype(int)
    return StepSuggester(max_iter=5, min_samples_leaf=10, random_state=0).fit(X, y)


def _answers(inst, ids, **overrides):
    table = {"child_id": list(ids)}
    for item in inst.items:
        table[item.id] = [overrides.get(item.id, 0)] * len(ids)
    return pd.DataFrame(table)


def _school(ids, ages, **values):
    forms = pd.DataFrame({"child_id": list(ids), "age_years": list(ages)})
    for item in SCHOOL.items:
        forms[item.id] = values.get(item.id, 0)
    return score_batch(SCHOOL, forms, keep=["child_id", "age_years"])


def _parent(ids, **overrides):
    return score_batch(PARENT, _answers(PARENT, ids, **overrides), keep=["child_id"])


def _child(ids, **overrides):
    return score_batch(CHILD, _answers(CHILD, ids, **overrides), keep=["child_id"])


# --- red flags: never the model, always named first -------------------------------------------
@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda t: t.drop(columns="red_flag"), id="no-red_flag-column"),
        pytest.param(lambda t: t.assign(red_flag="yes"), id="red_flag-text"),
        pytest.param(lambda t: t.assign(red_flag=np.nan), id="red_flag-nan"),
    ],
)
def test_an_odd_informant_table_still_names_the_educators_red_flag(tiny, spoil):
    scores = _school(["a", "b"], [11.5, 12.0], saf_disclosure=1)
    with pytest.raises(DataError) as err:
        suggest_batch(
            tiny, scores, informants={"child": spoil(_child(["a"]))}, id_column="child_id"
        )
    assert str(err.value).startswith("RED FLAG") and "safety.disclosure" in str(err.value)
    assert set(err.value.red_flags) == {"a", "b"}


def test_an_odd_educator_table_still_names_the_childs_red_flag(tiny):
    scores = _school(["a"], [11.5]).drop(columns="red_flag")
    child = _child(["a"], c_safe_hurt=2)
    with pytest.raises(DataError) as err:
        suggest_batch(tiny, scores, informants={"child": child}, id_column="child_id")
    assert str(err.value).startswith("RED FLAG") and "safety.disclosure" in str(err.value)


@pytest.mark.parametrize("column", ["red_flag", None])
def test_a_red_flag_concept_on_a_child_form_without_its_red_flag_column_is_named(tiny, column):
    child = _child(["a"], c_safe_hurt=2)
    child = child.drop(columns="red_flag") if column else child.assign(red_flag="odd")
    with pytest.raises(DataError) as err:
        suggest_batch(
            tiny, _school(["a"], [11.5]), informants={"child": child}, id_column="child_id"
        )
    assert str(err.value).startswith("RED FLAG") and "safety.disclosure" in str(err.value)


def test_red_flags_on_informant_tables_given_as_a_list_are_named(tiny):
    child = _child(["a"], c_safe_hurt=2)
    with pytest.raises(DataError) as err:
        suggest_batch(tiny, _school(["a"], [11.5]), informants=[child], id_column="child_id")
    assert str(err.value).startswith("RED FLAG")


@pytest.mark.parametrize("who", ["scores", "child", "parent"])
def test_a_red_flag_concept_never_reaches_the_model_even_if_red_flag_says_false(tiny, who):
    scores = _school(["a", "b"], [11.5, 12.0])
    parent, child = _parent(["a"]), _child(["a"])
    if who == "scores":
        scores = _school(["a", "b"], [11.5, 12.0], saf_disclosure=1).assign(red_flag=False)
    elif who == "child":
        child = _child(["a"], c_safe_hurt=2).assign(red_flag=False)
    else:
        parent = _parent(["a"], **{PARENT.items[0].id: 0})
        red = [c for c in parent.columns if c == "concept.safety.disclosure"]
        assert red, "the parent form asks about disclosure"
        parent = parent.assign(**{red[0]: True, "red_flag": False})
    out = suggest_batch(
        tiny, scores, informants={"parent": parent, "child": child}, id_column="child_id"
    )
    assert out[0].kind == "notify" and "safety.disclosure" in out[0].red_flags
    assert out[0].probabilities is None


# --- the child's history: ages in order -------------------------------------------------------
def test_an_earlier_screening_after_the_current_one_is_refused_by_row():
    scores = _school(["a", "b", "c"], [11.5, 12.0, 9.0])
    later = _school(["a", "b", "c"], [13.0, 11.0, 9.5])
    with pytest.raises(DataError) as err:
        build_features(scores, [later], id_column="child_id")
    rows = {p.row for p in err.value.problems}
    assert rows == {"a", "c"} and "earlier[0].age_years" in str(err.value)


def test_earlier_tables_out_of_order_are_refused():
    scores = _school(["a"], [12.0])
    with pytest.raises(DataError, match=r"earlier\[1\]\.age_years"):
        build_features(
            scores, [_school(["a"], [11.0]), _school(["a"], [10.0])], id_column="child_id"
        )


def test_same_age_twice_gives_no_slope_not_a_division_by_zero():
    scores = _school(["a"], [12.0], emo_sad=3)
    X = build_features(scores, [_school(["a"], [12.0])], id_column="child_id")
    assert np.isnan(X.loc["a", "slope.emotional"]) and X.loc["a", "n_earlier"] == 1


@pytest.mark.parametrize("age", [np.inf, -np.inf, -5.0, 1e9])
@pytest.mark.parametrize("where", ["scores", "earlier"])
def test_impossible_ages_are_refused(age, where):
    scores = _school(["a", "b"], [11.5, 12.0])
    earlier = _school(["a", "b"], [10.5, 11.0])
    if where == "scores":
        scores = scores.assign(age_years=[11.5, age])
    else:
        earlier = earlier.assign(age_years=[10.5, age])
    with pytest.raises(DataError, match=rf"{where}(\[0\])?\.age_years"):
        build_features(scores, [earlier], id_column="child_id")


# --- numbers outside the form's own range -----------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value"),
    [("score.emotional", 1e9), ("score.emotional", -1.0), ("n_missing", -50), ("n_missing", 10**6)],
)
@pytest.mark.parametrize("where", ["scores", "parent", "earlier"])
def test_numbers_outside_the_forms_range_are_refused(column, value, where):
    scores = _school(["a"], [11.5])
    parent = _parent(["a"])
    earlier = _school(["a"], [10.5])
    if where == "scores":
        scores = scores.assign(**{column: value})
    elif where == "parent":
        parent = parent.assign(**{column: value})
    else:
        earlier = earlier.assign(**{column: value})
    with pytest.raises(DataError, match=column.replace(".", r"\.")):
        build_features(scores, [earlier], informants={"parent": parent}, id_column="child_id")
