"""Local recalibration: the boosters stay, the probabilities become local."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from opsporing.decision import suggest_batch
from opsporing.errors import DataError, ModelError
from opsporing.model import (
    StepSuggester,
    adjust_prior,
    load_model,
    read_manifest,
    recalibrate,
    save_recalibrated,
)
from opsporing.model.train import prepare, score_rounds
from opsporing.synthetic import SyntheticConfig, generate

#: +0.6 on the step index: about 10 % of children need support, twice the training 5 %.
SHIFT = 0.6


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model()


@pytest.fixture(scope="module")
def local() -> Any:
    """2,000 labelled local children from the shifted population (the recalibration data)."""
    return prepare(
        generate(SyntheticConfig(n_children=2000, seed=101, prevalence_shift=SHIFT), progress=False)
    )


@pytest.fixture(scope="module")
def recalibrated(model: Any, local: Any) -> Any:
    return recalibrate(model, local.X, local.step)


def _observed_over_expected(model: Any, pop: Any) -> tuple[float, float]:
    """O/E of need among children suggested a step (suggest_batch), and the AUC of P(>=1)."""
    tables = score_rounds(pop.forms)
    cur, ear = tables.current, list(tables.earlier)
    y = pop.children.set_index("child_id").loc[cur["child_id"], "true_step"].to_numpy() >= 1
    s = suggest_batch(model, cur, ear, id_column="child_id")
    p = np.array([np.nan if x.p_needs_support is None else x.p_needs_support for x in s])
    step = np.array([x.kind == "step" for x in s])
    has = ~np.isnan(p)
    return float(y[step].mean() / p[step].mean()), float(roc_auc_score(y[has], p[has]))


@pytest.mark.slow
def test_recalibration_fixes_calibration_under_a_prevalence_shift(
    model: Any, recalibrated: Any
) -> None:
    """On new children with twice the need: O/E among suggested steps goes to 0.8-1.25."""
    new = generate(
        SyntheticConfig(n_children=2000, seed=202, prevalence_shift=SHIFT), progress=False
    )
    oe_before, auc_before = _observed_over_expected(model, new)
    oe_after, auc_after = _observed_over_expected(recalibrated.model, new)
    assert oe_before > 1.8  # the shipped model under-states need about threefold
    assert 0.8 <= oe_after <= 1.25
    # isotonic maps tie a few margins, so the AUC may move in the third decimal, no more
    assert abs(auc_after - auc_before) < 0.01


def test_recalibration_keeps_the_boosters_and_states_before_and_after(
    model: Any, recalibrated: Any
) -> None:
    new = recalibrated.model
    assert new is not model and new.estimators_[0] is not model.estimators_[0]
    assert all(
        np.array_equal(
            a.decision_function(np.zeros((1, model.n_features_in_))),
            b.decision_function(np.zeros((1, model.n_features_in_))),
        )
        for a, b in zip(model.estimators_, new.estimators_, strict=True)
    )
    assert recalibrated.refit[0] is True and not all(recalibrated.refit)  # too few on 5-6
    assert recalibrated.before["observed_over_expected"] > 2.0
    assert 0.9 < recalibrated.after["observed_over_expected"] < 1.1  # cross-fitted
    assert new.parent_sha256_ == model.artifact_sha256_
    assert not hasattr(new, "artifact_sha256_")
    assert model.calibrators_ is not new.calibrators_  # the parent is unchanged


def test_saved_recalibrated_model_names_its_parent_and_data(
    recalibrated: Any, model: Any, tmp_path: Path
) -> None:
    manifest = save_recalibrated(recalibrated, tmp_path)
    assert manifest["parent_model_sha256"] == model.artifact_sha256_
    assert manifest["recalibration"]["data_sha256"] == recalibrated.data_sha256
    again = load_model(tmp_path, allow_unsigned=True)  # saved without a municipality key
    assert read_manifest(tmp_path)["sha256"] == again.artifact_sha256_
    json.dumps(manifest)  # plain JSON
    text = (tmp_path / "RECALIBRATION.md").read_text(encoding="utf-8")
    assert model.artifact_sha256_ in text and "observed_over_expected" in text


def test_prior_adjustment_without_labels_keeps_the_ranking(model: Any, local: Any) -> None:
    r = adjust_prior(model, local.X, 0.10)
    p_old = model.predict_needs_support(local.X)
    p_new = r.model.predict_needs_support(local.X)
    assert p_new.mean() == pytest.approx(0.10, abs=1e-6)
    assert r.after["shift"] > 0
    # a constant shift of the log-odds is monotone: the order of children is unchanged,
    # except where the shown bounds (0.1 % and 99 %) tie children before or after the shift
    lo, hi = model.min_probability, model.max_probability
    free = ~(
        np.isclose(p_old, lo)
        | np.isclose(p_old, hi)
        | np.isclose(p_new, lo)
        | np.isclose(p_new, hi)
    )
    assert free.mean() > 0.5
    order = np.argsort(p_old[free], kind="stable")
    rising = np.diff(p_old[free][order]) > 0
    assert np.all(np.diff(p_new[free][order])[rising] > 0)
    y = (local.step >= 1).to_numpy()
    assert roc_auc_score(y, p_new) == pytest.approx(roc_auc_score(y, p_old), abs=2e-3)
    # higher steps' conditional maps are the parent's
    assert r.model.calibrators_[1:] == model.calibrators_[1:]


@pytest.mark.parametrize("prevalence", [0, 1, 1.5, -0.1, True, "0.1"])
def test_prior_adjustment_refuses_a_bad_prevalence(model: Any, local: Any, prevalence: Any) -> None:
    with pytest.raises(DataError, match="prevalence"):
        adjust_prior(model, local.X, prevalence)


def test_recalibration_refuses_bad_input(model: Any, local: Any) -> None:
    with pytest.raises(ModelError, match="fitted StepSuggester"):
        recalibrate(StepSuggester(), local.X, local.step)
    with pytest.raises(DataError, match="missing columns"):
        recalibrate(model, local.X.drop(columns=[local.X.columns[0]]), local.step)
    bad = local.step.to_numpy().astype(object)
    bad[[3, 7]] = [9, "x"]
    with pytest.raises(DataError, match="2 bad values") as info:
        recalibrate(model, local.X, bad)
    assert "row 3" in str(info.value) and "row 7" in str(info.value)
    with pytest.raises(DataError, match="with and without a need"):
        recalibrate(model, local.X, pd.Series(0, index=local.X.index))
