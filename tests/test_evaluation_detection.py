"""Detection metrics, curves and bootstrap intervals: hand-computed and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from opsporing.errors import DataError, OpsporingError
from opsporing.evaluation import (
    average_precision,
    bootstrap_ci,
    cutoff_table,
    detection_metrics,
    pr_curve,
    roc_auc,
    roc_curve,
)


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """600 children, ~10 % in need, scores with ties (rounded to 2 decimals)."""
    rng = np.random.default_rng(11)
    y = (rng.random(600) < 0.1).astype(int)
    s = np.round(1 / (1 + np.exp(-(rng.normal(size=600) + 1.5 * y - 2))), 2)
    return y, s


def test_cutoff_table_hand_computed() -> None:
    # score   0.9 0.8 0.7 0.4 0.3 0.2 0.1 0.05
    # y_true    1   0   1   1   0   0   0   0
    # cutoff 0.5: flagged 0.9 0.8 0.7 -> tp 2 fp 1 fn 1 tn 4
    #   sensitivity 2/3, specificity 4/5, ppv 2/3, npv 4/5, accuracy 6/8
    #   f1 = 2·2 / (2·2 + 1 + 1) = 4/6, f2 = 5·2 / (5·2 + 4·1 + 1) = 10/15
    # cutoff 0.35: also 0.4 -> tp 3 fp 1 fn 0 tn 4: sens 1, spec 4/5, ppv 3/4, npv 1
    y = [1, 0, 1, 1, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1, 0.05]
    t = cutoff_table(y, s, [0.5, 0.35, 1.0])
    first = t.iloc[0]
    assert first[["tp", "fp", "tn", "fn", "n_flagged", "n"]].tolist() == [2, 1, 4, 1, 3, 8]
    assert first["sensitivity"] == pytest.approx(2 / 3)
    assert first["specificity"] == pytest.approx(4 / 5)
    assert first["ppv"] == pytest.approx(2 / 3)
    assert first["npv"] == pytest.approx(4 / 5)
    assert first["accuracy"] == pytest.approx(6 / 8)
    assert first["f1"] == pytest.approx(4 / 6)
    assert first["f2"] == pytest.approx(10 / 15)
    second = t.iloc[1]
    assert second[["tp", "fp", "tn", "fn"]].tolist() == [3, 1, 4, 0]
    assert second["ppv"] == pytest.approx(3 / 4)
    assert second["npv"] == 1.0
    # nobody flagged at 1.0: PPV has no denominator and is NaN, not 0
    third = t.iloc[2]
    assert third["n_flagged"] == 0
    assert np.isnan(third["ppv"])
    assert third["specificity"] == 1.0


def test_cutoff_table_matches_brute_force_and_sklearn(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    y, s = sample
    cutoffs = [0.05, 0.1, 0.2, 0.21, 0.3, 0.5, 0.9]
    t = cutoff_table(y, s, cutoffs, beta=[0.5, 1, 2])
    for c, row in zip(cutoffs, t.itertuples(), strict=True):
        flag = (s >= c).astype(int)
        tn, fp, fn, tp = skm.confusion_matrix(y, flag, labels=[0, 1]).ravel()
        assert (row.tp, row.fp, row.tn, row.fn) == (tp, fp, tn, fn)
        assert row.sensitivity == pytest.approx(skm.recall_score(y, flag))
        assert row.specificity == pytest.approx(skm.recall_score(1 - y, 1 - flag))
        assert row.ppv == pytest.approx(skm.precision_score(y, flag, zero_division=np.nan))
        assert row.f1 == pytest.approx(skm.f1_score(y, flag))
        assert row.f2 == pytest.approx(skm.fbeta_score(y, flag, beta=2))
        assert row.f0_5 == pytest.approx(skm.fbeta_score(y, flag, beta=0.5))


def test_detection_metrics_of_flags() -> None:
    # y 1 1 0 0 0, flags 1 0 1 0 0: tp 1 fn 1 fp 1 tn 2
    m = detection_metrics([1, 1, 0, 0, 0], [True, False, True, False, False])
    assert m[["tp", "fn", "fp", "tn"]].tolist() == [1, 1, 1, 2]
    assert m["sensitivity"] == 0.5
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["flag_rate"] == pytest.approx(2 / 5)


def test_auc_and_ap_match_sklearn(sample: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = sample
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))


def test_auc_hand_computed_as_pairs() -> None:
    # positives 0.8, 0.35; negatives 0.1, 0.4. Pairs (pos > neg): 0.8>0.1, 0.8>0.4,
    # 0.35>0.1 -> 3 of 4; with a tie 0.4 vs 0.4 it counts one half.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8]) == pytest.approx(3.5 / 4)


def test_curves_are_sklearns(sample: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = sample
    roc = roc_curve(y, s)
    fpr, tpr, _ = skm.roc_curve(y, s)
    np.testing.assert_allclose(roc["fpr"], fpr)
    np.testing.assert_allclose(roc["tpr"], tpr)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(roc_auc(y, s))
    pr = pr_curve(y, s)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    np.testing.assert_allclose(pr["precision"], precision)
    np.testing.assert_allclose(pr["recall"], recall)
    assert list(pr.columns) == ["threshold", "recall", "precision"]


def test_bootstrap_is_deterministic_and_contains_estimate(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    y, s = sample
    a = bootstrap_ci(y, s, {"auc": roc_auc, "ap": average_precision}, n_boot=300, seed=42)
    b = bootstrap_ci(y, s, {"auc": roc_auc, "ap": average_precision}, n_boot=300, seed=42)
    c = bootstrap_ci(y, s, {"auc": roc_auc, "ap": average_precision}, n_boot=300, seed=43)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.loc["auc", "estimate"] == pytest.approx(roc_auc(y, s))
    assert (a["lower"] <= a["estimate"]).all() and (a["estimate"] <= a["upper"]).all()
    assert (a["lower"] < a["upper"]).all()
    assert (a["n_boot"] == 300).all()
    # a Generator works as the seed too, and gives the same as the int it came from
    g = bootstrap_ci(
        y, s, {"auc": roc_auc, "ap": average_precision}, n_boot=300, seed=np.random.default_rng(42)
    )
    pd.testing.assert_frame_equal(a, g)


def test_bootstrap_stratified_keeps_prevalence(sample: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = sample

    def prevalence(yy: np.ndarray, _: np.ndarray) -> float:
        return float(yy.mean())

    strat = bootstrap_ci(y, s, prevalence, n_boot=200, seed=0)
    assert strat.loc["prevalence", "lower"] == strat.loc["prevalence", "upper"] == y.mean()
    free = bootstrap_ci(y, s, prevalence, n_boot=200, seed=0, stratify=False)
    assert free.loc["prevalence", "lower"] < y.mean() < free.loc["prevalence", "upper"]


def test_bootstrap_of_a_series_metric_and_wider_with_higher_level(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    y, s = sample

    def at_half(yy: np.ndarray, ss: np.ndarray) -> pd.Series:
        return detection_metrics(yy, ss >= 0.2)[["sensitivity", "specificity"]]

    ci90 = bootstrap_ci(y, s, at_half, n_boot=200, seed=3, level=0.90)
    ci99 = bootstrap_ci(y, s, at_half, n_boot=200, seed=3, level=0.99)
    assert list(ci90.index) == ["sensitivity", "specificity"]
    assert ((ci99["upper"] - ci99["lower"]) >= (ci90["upper"] - ci90["lower"])).all()


def test_bootstrap_counts_undefined_replicates() -> None:
    # without stratification some replicates of 6 children hold one class: AUC undefined
    y, s = [0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.5, 0.9]
    ci = bootstrap_ci(y, s, roc_auc, n_boot=400, seed=5, stratify=False)
    assert 0 < ci.loc["roc_auc", "n_boot"] < 400


@pytest.mark.parametrize(
    ("y", "s", "field", "fragment"),
    [
        ([0, 1, 1], [0.1, 0.2], "y_score", "same length as y_true (3 values)"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "y_true", "y_true = 2: expected 0 or 1"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], "y_true", "missing values are not allowed"),
        (["0", "1"], [0.1, 0.2], "y_true", "y_true = '0': expected a number"),
        ([0, 1], [0.1, np.inf], "y_score", "y_score = inf: expected a finite number"),
        ([1, 1], [0.1, 0.2], "y_true", "only 1s (2 values): expected both 0s and 1s"),
        ([], [], "y_true", "an empty sequence"),
    ],
)
def test_bad_input_names_field_value_expectation(
    y: list[object], s: list[float], field: str, fragment: str
) -> None:
    with pytest.raises(DataError) as err:
        roc_auc(y, s)
    assert field in str(err.value)
    assert fragment in str(err.value)


def test_bad_value_is_located_by_series_label() -> None:
    y = pd.Series([0, 1, 5], index=["F1", "F2", "F3"])
    with pytest.raises(DataError, match="row F3: y_true = 5"):
        detection_metrics(y, [0, 1, 1])


def test_errors_are_opsporing_errors_not_sklearn_ones() -> None:
    with pytest.raises(OpsporingError):
        cutoff_table([0, 1], [0.2, 0.3], [])
    with pytest.raises(OpsporingError, match="beta"):
        cutoff_table([0, 1], [0.2, 0.3], [0.5], beta=0)
    with pytest.raises(OpsporingError, match="n_boot"):
        bootstrap_ci([0, 1], [0.2, 0.3], roc_auc, n_boot=0)
    with pytest.raises(OpsporingError, match="level"):
        bootstrap_ci([0, 1], [0.2, 0.3], roc_auc, level=95)
