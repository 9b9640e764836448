"""Calibration and decision curves: hand-computed and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from opsporing.errors import DataError
from opsporing.evaluation import (
    brier_score,
    decision_curve,
    expected_calibration_error,
    reliability_table,
)


@pytest.fixture(scope="module")
def probs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    p = rng.beta(1, 6, size=2000)
    y = (rng.random(2000) < np.clip(p * 1.3, 0, 1)).astype(int)  # risk understated by 30 %
    return y, p


def test_brier_hand_and_sklearn(probs: tuple[np.ndarray, np.ndarray]) -> None:
    # (0.1² + 0.6² + 0.2² + 0.3²) / 4 = 0.5 / 4
    assert brier_score([0, 0, 1, 1], [0.1, 0.6, 0.8, 0.7]) == pytest.approx(0.125)
    y, p = probs
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_table_is_sklearns_calibration_curve(
    probs: tuple[np.ndarray, np.ndarray], strategy: str
) -> None:
    y, p = probs
    t = reliability_table(y, p, n_bins=8, strategy=strategy)  # type: ignore[arg-type]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(t["observed_rate"], prob_true)
    np.testing.assert_allclose(t["mean_predicted"], prob_pred)
    assert t["n"].sum() == len(y)


def test_equal_mass_bins_hold_equal_numbers() -> None:
    p = np.arange(1, 101) / 101.0  # 100 distinct probabilities
    y = np.zeros(100, dtype=int)
    t = reliability_table(y, p, n_bins=4, strategy="quantile")
    assert t["n"].tolist() == [25, 25, 25, 25]
    u = reliability_table(y, p, n_bins=4, strategy="uniform")
    assert u["lower"].tolist() == [0.0, 0.25, 0.5, 0.75]


def test_ece_hand_computed() -> None:
    # bins (0, 0.5]: p 0.1 0.15, y 0 0 -> gap |0 - 0.125| = 0.125, n 2
    #      (0.5, 1]: p 0.6 0.7 0.9, y 1 1 1 -> gap |1 - 0.7333| = 0.2667, n 3
    # ECE = (2 · 0.125 + 3 · 0.26667) / 5 = (0.25 + 0.8) / 5 = 0.21
    y, p = [0, 0, 1, 1, 1], [0.1, 0.15, 0.6, 0.7, 0.9]
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.21)
    # a perfectly calibrated table: each bin's rate equals its probability
    y2 = [0, 0, 0, 1, 0, 1, 1, 1]  # 1 of 4 at 0.25, 3 of 4 at 0.75
    p2 = [0.25] * 4 + [0.75] * 4
    assert expected_calibration_error(y2, p2) == pytest.approx(0.0)
    assert expected_calibration_error(y2, p2, strategy="quantile", n_bins=2) == pytest.approx(0.0)


def test_ece_sees_understated_risk(probs: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = probs
    t = reliability_table(y, p)
    assert (t.loc[t["n"] > 100, "gap"] > 0).all()  # observed above predicted
    assert expected_calibration_error(y, p) > 0.01


def test_decision_curve_hand_computed() -> None:
    # p_t 0.5 (odds 1): referred p >= 0.5: 0.6 (y 0), 0.8, 0.7 (y 1) -> TP 2, FP 1
    #   NB = 2/4 - 1/4 · 1 = 0.25; refer all = 0.5 - 0.5 · 1 = 0
    # p_t 0.2 (odds 0.25): all four referred except 0.1 -> TP 2, FP 1
    #   NB = 0.5 - 0.25 · 0.25 = 0.4375; refer all = 0.5 - 0.5 · 0.25 = 0.375
    t = decision_curve([0, 0, 1, 1], [0.1, 0.6, 0.8, 0.7], [0.5, 0.2])
    assert t["net_benefit"].tolist() == pytest.approx([0.25, 0.4375])
    assert t["refer_all"].tolist() == pytest.approx([0.0, 0.375])
    assert t["refer_none"].tolist() == [0.0, 0.0]
    assert t["n_referred"].tolist() == [3, 3]


def test_decision_curve_brute_force_and_defaults(probs: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = probs
    t = decision_curve(y, p)
    assert len(t) == 99 and t["threshold"].iloc[0] == 0.01 and t["threshold"].iloc[-1] == 0.99
    for pt, nb in zip(t["threshold"][::10], t["net_benefit"][::10], strict=True):
        refer = p >= pt
        tp, fp = np.sum(refer & (y == 1)), np.sum(refer & (y == 0))
        assert nb == pytest.approx(tp / len(y) - fp / len(y) * pt / (1 - pt))
    # below every probability the model refers everybody: its curve is "refer all"
    low = decision_curve(y, p, [p.min() / 2])
    assert low["net_benefit"].iloc[0] == pytest.approx(low["refer_all"].iloc[0])


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: brier_score([0, 1], [0.5, 1.2]), "y_prob = 1.2: expected a probability in [0, 1]"),
        (lambda: brier_score([0, 1], [0.5, np.nan]), "missing values are not allowed"),
        (lambda: brier_score([0, 1, 1], [0.5, 0.2]), "same length"),
        (lambda: reliability_table([0, 1], [0.1, 0.2], strategy="x"), "strategy = 'x'"),  # type: ignore[arg-type]
        (lambda: reliability_table([0, 1], [0.1, 0.2], n_bins=0), "n_bins = 0"),
        (lambda: decision_curve([0, 1], [0.1, 0.2], [1.0]), "thresholds = 1.0: expected"),
    ],
)
def test_bad_input(call: object, fragment: str) -> None:
    with pytest.raises(DataError) as err:
        call()  # type: ignore[operator]
    assert fragment in str(err.value)
