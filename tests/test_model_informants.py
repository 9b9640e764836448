"""Issue 13 in the model: the parents' and the child's own forms, and the child over time.

Small hand-made score tables on the shipped parent, child and educator forms; tiny models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing._trajectory import slope_by_group, slope_by_row
from opsporing.decision import suggest, suggest_batch
from opsporing.errors import DataError, OpsporingError
from opsporing.explain import Explainer, group_label
from opsporing.instruments import get_instrument
from opsporing.model import (
    DOMAINS,
    StepSuggester,
    build_features,
    feature_groups,
    feature_names,
    monotonic_constraint,
)
from opsporing.scoring import score_batch

SCHOOL = get_instrument("opsporing.skole.trivsel")
PARENT = get_instrument("opsporing.parent.skole")
CHILD = get_instrument("opsporing.child.11-12")
PARENT_DAYCARE = get_instrument("opsporing.parent.dagtilbud")


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


def _answers(inst, ids, value=0, **overrides):
    """Every item of ``inst`` answered ``value`` (safety items 0) for each id."""
    table = {"child_id": list(ids)}
    for item in inst.items:
        v = 0 if item.domain == "safety" else value
        if inst.scale(item.scale).number is not None:
            v = 0
        table[item.id] = [overrides.get(item.id, v)] * len(ids)
    return pd.DataFrame(table)


def _school(ids, ages, **values):
    forms = pd.DataFrame({"child_id": list(ids), "age_years": list(ages)})
    for item in SCHOOL.items:
        forms[item.id] = values.get(item.id, 0)
    return score_batch(SCHOOL, forms, keep=["child_id", "age_years"])


def _parent(ids, value=0, inst=PARENT, **overrides):
    return score_batch(inst, _answers(inst, ids, value, **overrides), keep=["child_id"])


def _child(ids, value=0, **overrides):
    return score_batch(CHILD, _answers(CHILD, ids, value, **overrides), keep=["child_id"])


# --- the shared slope rule -------------------------------------------------------------------
def test_slope_equals_least_squares_by_hand():
    rng = np.random.default_rng(1)
    x = rng.random((30, 4)) * 5
    y = rng.random((30, 4))
    x[3, 1:] = np.nan  # one point left: no slope
    y[4, 0] = np.nan  # three points left
    got = slope_by_row(x, y)
    for r in range(30):
        ok = ~(np.isnan(x[r]) | np.isnan(y[r]))
        want = np.polyfit(x[r, ok], y[r, ok], 1)[0] if ok.sum() >= 2 else np.nan
        np.testing.assert_allclose(got[r], want, rtol=1e-9, equal_nan=True)
    # no time between the points: no slope
    assert np.isnan(slope_by_group([0, 0], [2.0, 2.0], [0.1, 0.9], 1)[0])


# --- features of the other voices -------------------------------------------------------------
def test_informant_features_by_hand():
    scores = _school(["a", "b", "c"], [9.0, 10.0, 12.0])
    parent = _parent(["b", "a"], value=1)  # any order: matched by id
    child = _child(["c"], value=0, c_emo_sad=3, c_emo_worried=3)
    X = build_features(scores, informants={"parent": parent, "child": child}, id_column="child_id")
    assert X["has_parent"].tolist() == [1.0, 1.0, 0.0]
    assert X["has_child"].tolist() == [0.0, 0.0, 1.0]
    # parents answered 1 on every emotional item: 4 of 0-12
    assert X.loc["a", "parent.score.emotional"] == pytest.approx(4 / 12)
    assert np.isnan(X.loc["c", "parent.score.emotional"])
    assert X.loc["c", "child.score.emotional"] == pytest.approx(6 / 12)
    assert X.loc["a", "parent.missing_fraction"] == 0.0
    assert np.isnan(X.loc["a", "child.missing_fraction"])
    # without informants the same educator features, the voices absent
    alone = build_features(scores, id_column="child_id")
    same = [c for c in X.columns if not c.startswith(("has_", "parent.", "child."))]
    pd.testing.assert_frame_equal(X[same], alone[same])
    assert (alone[["has_parent", "has_child"]] == 0).all().all()
    assert list(X.columns) == list(feature_names())


def test_informant_missing_fraction_and_unscorable_domain():
    scores = _school(["a"], [9.0])
    parent = _parent(["a"], value=1, ps_emo_sad=None, ps_emo_worried=None)
    X = build_features(scores, informants={"parent": parent}, id_column="child_id")
    assert X.loc["a", "parent.missing_fraction"] == pytest.approx(2 / len(PARENT.items))
    assert np.isnan(X.loc["a", "parent.score.emotional"])  # 2 of 4 answered: min is 3


def test_every_bad_informant_row_is_reported():
    scores = _school(["a", "b"], [9.0, 10.0])
    parent = pd.concat([_parent(["a", "a", "zz"]), _child(["b"])], ignore_index=True)
    with pytest.raises(DataError) as err:
        build_features(scores, informants={"parent": parent}, id_column="child_id")
    problems = err.value.problems
    kinds = sorted(p.kind for p in problems)
    assert kinds == ["duplicate_id", "informant", "unknown_id"]
    text = str(err.value)
    assert "'zz'" in text and "opsporing.child.11-12@1.0.0" in text and "'a'" in text
    with pytest.raises(DataError, match="informants = 'teacher'"):
        build_features(scores, informants={"teacher": _parent(["a"])}, id_column="child_id")
    with pytest.raises(DataError, match="informants = 'list'"):
        build_features(scores, informants=[_parent(["a"])], id_column="child_id")  # type: ignore[arg-type]


def test_a_parent_form_is_not_the_screening():
    scores = pd.concat([_school(["a"], [9.0]), _parent(["b", "c"])], ignore_index=True)
    with pytest.raises(DataError) as err:
        build_features(scores, id_column="child_id")
    assert len(err.value.problems) == 2  # every row, not the first
    assert "informants=" in str(err.value)


def test_informant_tables_refuse_sensitive_columns_and_cpr_ids():
    scores = _school(["a"], [9.0])
    with pytest.raises(DataError, match="sensitive"):
        build_features(
            scores,
            informants={"parent": _parent(["a"]).assign(family_background="x")},
            id_column="child_id",
        )
    # a CPR number in an informant's ids (score_batch refuses it; here set afterwards)
    cpr = _parent(["a"]).assign(child_id="0101701234")
    with pytest.raises(OpsporingError) as err:
        build_features(scores, informants={"parent": cpr}, id_column="child_id")
    assert "0101701234" not in str(err.value)


# --- trajectory features ------------------------------------------------------------------------
def test_trajectory_features_by_hand():
    emo = [i.id for i in SCHOOL.items_in("emotional")]  # 4 items, 0-12
    w0 = _school(["a", "b"], [7.0, 8.0], **dict.fromkeys(emo, 0))
    w1 = _school(["a"], [8.0], **dict.fromkeys(emo, 1))  # b skipped this wave
    now = _school(["a", "b", "c"], [9.0, 10.0, 11.0], **dict.fromkeys(emo, 3))
    X = build_features(now, [w0, w1], id_column="child_id")
    assert X["n_earlier"].tolist() == [2.0, 1.0, 0.0]
    assert X["has_earlier"].tolist() == [1.0, 1.0, 0.0]
    # a: 0, 4/12, 1 at ages 7, 8, 9 -> least squares 0.5 a year
    assert X.loc["a", "slope.emotional"] == pytest.approx(0.5)
    # b: 0 at 8, 1 at 10 -> 0.5 a year; c: one point, no slope
    assert X.loc["b", "slope.emotional"] == pytest.approx(0.5)
    assert np.isnan(X.loc["c", "slope.emotional"])
    assert X.loc["a", "mean_earlier.emotional"] == pytest.approx(2 / 12)
    assert X.loc["b", "mean_earlier.emotional"] == 0.0
    assert np.isnan(X.loc["c", "mean_earlier.emotional"])
    # change: against each child's most recent earlier screening
    assert X.loc["a", "change.emotional"] == pytest.approx(1 - 4 / 12)
    assert X.loc["b", "change.emotional"] == pytest.approx(1.0)
    # one table or a list of one: the same features
    pd.testing.assert_frame_equal(
        build_features(now, w0, id_column="child_id"),
        build_features(now, [w0], id_column="child_id"),
    )


def test_earlier_tables_are_checked_like_the_screening():
    now = _school(["a"], [9.0])
    with pytest.raises(DataError, match=r"earlier\[1\]"):
        build_features(now, [now, now.drop(columns=["instrument"])], id_column="child_id")
    with pytest.raises(DataError, match="earlier = 'str'"):
        build_features(now, "wave0", id_column="child_id")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="informant"):
        build_features(now, [_parent(["a"])], id_column="child_id")


def test_new_features_groups_labels_and_constraints():
    groups = feature_groups()
    for d in DOMAINS:
        assert groups[f"slope.{d}"] == f"trajectory:{d}"
        assert groups[f"child.score.{d}"] == f"informant:child:{d}"
        strength = -1 if d == "resources" else 1
        assert monotonic_constraint(f"parent.score.{d}") == strength
        assert monotonic_constraint(f"mean_earlier.{d}") == strength
        assert monotonic_constraint(f"slope.{d}") == 0
    for g in set(groups.values()):
        label = group_label(g)
        assert label.da and label.en
        if g.startswith(("trajectory:", "informant:")):
            assert label.da != label.en
    assert group_label("trajectory:emotional").da == "udviklingen over tid (følelser)"
    assert group_label("informant:parent", present=False).da == "intet skema fra forældrene"
    assert not any(n in ("child_id", "form_id", "rater_id") for n in feature_names())


# --- suggestions --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    """A tiny model on random features in which the parents' social score matters."""
    rng = np.random.default_rng(0)
    names = feature_names()
    X = pd.DataFrame(rng.random((600, len(names))), columns=names)
    X["missing_fraction"] = 0.0
    X["age_years"] = rng.uniform(0.5, 17, 600)
    X["n_earlier"] = rng.integers(0, 4, 600)
    for who in ("parent", "child"):
        X[f"has_{who}"] = rng.integers(0, 2, 600)
        X.loc[X[f"has_{who}"] == 0, [c for c in names if c.startswith(f"{who}.")]] = np.nan
    y = ((X["parent.score.social"] + X["score.social"] + 0.3 * rng.random(600)) > 1.3).astype(int)
    y[y == 1] += (X.loc[y == 1, "score.care"] > 0.6).astype(int)
    return StepSuggester(max_iter=20, min_samples_leaf=10, random_state=0).fit(X, y)


def test_a_disclosure_on_the_childs_own_form_routes_to_notify(tiny):
    scores = _school(["a", "b"], [11.5, 12.0])
    child = _child(["a", "b"], c_safe_hurt=2)  # both disclose on their own form
    parent = _parent(["b"])
    out = suggest_batch(
        tiny, scores, informants={"child": child, "parent": parent}, id_column="child_id"
    )
    assert [s.kind for s in out] == ["notify", "notify"]
    assert all("safety.disclosure" in s.red_flags for s in out)
    assert all(s.probabilities is None for s in out)
    # the educator's form alone: the model suggests
    assert {s.kind for s in suggest_batch(tiny, scores, id_column="child_id")} <= {
        "step",
        "abstain",
    }
    one = suggest(tiny, scores.head(1), informants={"child": child.head(1)}, id_column="child_id")
    assert one.kind == "notify"


def test_a_refused_round_still_names_the_childs_disclosure(tiny):
    scores = _school(["a"], [11.5])
    child = _child(["a", "zz"], c_safe_hurt=2)  # zz has no screening: the call is refused
    with pytest.raises(DataError) as err:
        suggest_batch(tiny, scores, informants={"child": child}, id_column="child_id")
    assert err.value.red_flags and "safety.disclosure" in str(err.value)


def test_suggestions_read_the_voices_and_explain_them_honestly(tiny):
    scores = _school(["a", "b"], [9.0, 9.0])
    worried = _parent(["a"], value=3)
    out = suggest_batch(tiny, scores, informants={"parent": worried}, id_column="child_id")
    alone = suggest_batch(tiny, scores, id_column="child_id")
    assert out[0].p_needs_support != alone[0].p_needs_support
    assert out[1].p_needs_support == alone[1].p_needs_support  # b has no parent form
    ex = Explainer(tiny)
    X = build_features(scores, informants={"parent": worried}, id_column="child_id")
    explanations = ex.explain(X)
    with_form, without = ({r.group: r for r in e.reasons} for e in explanations)
    # a: the parents' social score (which the model leans on) is credited by name
    assert with_form["informant:parent:social"].label.en == "the parents' answers (relationships)"
    # b: no parent form: nothing credits the parents' answers on a domain; what the
    # missing form does goes to "no form from the parents"
    assert not any(g.startswith("informant:parent:") for g in without)
    assert without["informant:parent"].label.en == "no form from the parents"
    # the grouped values still add up to the margin
    for e in explanations:
        assert sum(r.contribution for r in e.reasons) + e.base_value == pytest.approx(e.margin)


def test_a_model_fitted_on_the_older_features_keeps_working():
    rng = np.random.default_rng(2)
    old = [
        n
        for n in feature_names()
        if not n.startswith(("has_parent", "has_child", "parent.", "child.", "slope."))
        and not n.startswith(("mean_earlier.", "n_earlier"))
    ]
    X = pd.DataFrame(rng.random((300, len(old))), columns=old)
    X["missing_fraction"] = 0.0
    X["age_years"] = rng.uniform(0.5, 17, 300)
    y = (X["score.social"] > 0.7).astype(int)
    model = StepSuggester(max_iter=10, random_state=0).fit(X, y)
    scores = _school(["a"], [9.0])
    out = suggest_batch(model, scores, informants={"parent": _parent(["a"])}, id_column="child_id")
    assert out[0].kind in ("step", "abstain")


# --- the command line ---------------------------------------------------------------------------
def test_cli_suggest_reads_the_round_and_the_history(tmp_path):
    import json

    from typer.testing import CliRunner

    from opsporing.cli import app

    school = get_instrument("opsporing.skole.7-10")
    row = {i.id: school.scale(i.scale).min for i in school.items}
    forms = pd.DataFrame([{"form_id": "F1", "age_years": 15.0, **row}, {"form_id": "F2", **row}])
    forms.loc[1, "age_years"] = 15.5
    forms.to_csv(tmp_path / "now.csv", index=False)
    forms.assign(age_years=forms["age_years"] - 1).to_csv(tmp_path / "before.csv", index=False)
    own = _answers(CHILD, ["F2"], c_safe_touched=2).rename(columns={"child_id": "form_id"})
    own.to_csv(tmp_path / "child.csv", index=False)
    args = ["suggest", str(tmp_path / "now.csv"), "-i", school.id, "--id", "form_id"]
    out = tmp_path / "s.json"
    result = CliRunner().invoke(
        app,
        [
            *args,
            "--earlier",
            str(tmp_path / "before.csv"),
            "--child",
            str(tmp_path / "child.csv"),
            "--child-instrument",
            CHILD.id,
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {r["form_id"]: r for r in json.loads(out.read_text(encoding="utf-8"))}
    assert rows["F2"]["kind"] == "notify" and "safety.disclosure" in rows["F2"]["red_flags"]
    assert rows["F1"]["kind"] in ("step", "abstain")
    # a child's form without its instrument is refused, naming the option
    result = CliRunner().invoke(app, [*args, "--child", str(tmp_path / "child.csv")])
    assert result.exit_code != 0 and "--child-instrument" in result.output
