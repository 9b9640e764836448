"""Staircase error: hand-computed and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from opsporing.errors import DataError
from opsporing.evaluation import (
    cost_weighted_step_error,
    mean_absolute_step_error,
    quadratic_weighted_kappa,
    staircase_error,
    step_confusion,
    step_costs,
)
from opsporing.policy import load_policy


@pytest.fixture(scope="module")
def steps() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    true = rng.choice(7, size=1500, p=[0.8, 0.08, 0.06, 0.03, 0.015, 0.01, 0.005])
    pred = np.clip(true + rng.choice([-2, -1, 0, 0, 0, 1], size=1500), 0, 6)
    return true, pred


def test_hand_computed_table() -> None:
    # true       0  0  3  5  2
    # suggested  0  1  2  5  0
    # difference 0 +1 -1  0 -2
    # exact 2/5; MAE (0+1+1+0+2)/5 = 0.8; under 2/5; over 1/5; under by 2+ 1/5
    # in need (true >= 1): 3, 5, 2 -> under 2 of 3
    # cost (under 2/step, over 1/step): 0 + 1 + 2 + 0 + 4 = 7 -> 7/5 = 1.4
    e = staircase_error([0, 0, 3, 5, 2], [0, 1, 2, 5, 0])
    assert e["n"] == 5
    assert e["exact"] == pytest.approx(0.4)
    assert e["mean_absolute_error"] == pytest.approx(0.8)
    assert e["under_rate"] == pytest.approx(0.4)
    assert e["over_rate"] == pytest.approx(0.2)
    assert e["under_2plus_rate"] == pytest.approx(0.2)
    assert e["over_2plus_rate"] == 0.0
    assert e["under_rate_in_need"] == pytest.approx(2 / 3)
    assert e["cost_weighted_error"] == pytest.approx((1 + 9 + 18) / 5)  # the policy's costs
    # symmetric costs make the cost-weighted error the MAE
    sym = staircase_error([0, 0, 3, 5, 2], [0, 1, 2, 5, 0], costs=step_costs(1.0, 1.0))
    assert sym["cost_weighted_error"] == pytest.approx(0.8)


def test_under_suggestion_costs_more_than_over() -> None:
    # the same absolute error, in opposite directions
    under = cost_weighted_step_error([3, 3], [2, 1])
    over = cost_weighted_step_error([1, 2], [3, 3])
    assert mean_absolute_step_error([3, 3], [2, 1]) == mean_absolute_step_error([1, 2], [3, 3])
    assert under == pytest.approx((9 + 18) / 2) and over == pytest.approx((6 + 4) / 2)
    assert under > over


def test_costs_matrix() -> None:
    c = step_costs()
    assert c.shape == (7, 7)
    assert np.all(np.diag(c.to_numpy()) == 0)
    assert c.loc[6, 0] == 54.0 and c.loc[0, 6] == 31.0  # 6 x 9; 1 + 2 + 4 + 8 + 8 + 8
    np.testing.assert_array_equal(c.to_numpy(), load_policy().cost_matrix())  # one home
    lin = step_costs(2, 1)
    assert lin.loc[6, 0] == 12.0 and lin.loc[0, 6] == 6.0
    custom = pd.DataFrame(np.ones((7, 7)) - np.eye(7))
    assert cost_weighted_step_error([0, 1, 2], [0, 2, 2], costs=custom) == pytest.approx(1 / 3)
    with pytest.raises(DataError, match="7 x 7"):
        cost_weighted_step_error([0], [0], costs=np.ones((3, 3)))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="under = -1"):
        step_costs(under=-1, over=1)


def test_against_sklearn(steps: tuple[np.ndarray, np.ndarray]) -> None:
    true, pred = steps
    m = step_confusion(true, pred)
    np.testing.assert_array_equal(m.to_numpy(), confusion_matrix(true, pred, labels=range(7)))
    assert quadratic_weighted_kappa(true, pred) == pytest.approx(
        cohen_kappa_score(true, pred, labels=list(range(7)), weights="quadratic")
    )
    assert mean_absolute_step_error(true, pred) == pytest.approx(np.mean(np.abs(true - pred)))


def test_confusion_always_has_seven_steps() -> None:
    m = step_confusion([0, 0, 1], [0, 1, 1])
    assert m.shape == (7, 7)
    assert list(m.index) == list(range(7)) and list(m.columns) == list(range(7))
    assert m.index.name == "true_step" and m.columns.name == "suggested_step"
    assert int(m.to_numpy().sum()) == 3


def test_kappa_of_perfect_and_of_one_step() -> None:
    assert quadratic_weighted_kappa([0, 1, 2, 6], [0, 1, 2, 6]) == 1.0
    # only step 0 on both sides: chance agreement is 1, kappa undefined
    assert np.isnan(quadratic_weighted_kappa([0, 0], [0, 0]))


@pytest.mark.parametrize(
    ("true", "pred", "fragment"),
    [
        ([0, 7], [0, 1], "y_true = 7: expected a staircase step, one of 0, 1, 2, 3, 4, 5, 6"),
        ([0, 1], [0, -1], "y_pred = -1"),
        ([0, 1], [0, 2.5], "y_pred = 2.5"),
        ([0, 1], [0, np.nan], "missing values are not allowed"),
        ([0, 1, 2], [0, 1], "y_pred = 2 values: expected the same length as y_true (3 values)"),
    ],
)
def test_bad_steps(true: list[float], pred: list[float], fragment: str) -> None:
    with pytest.raises(DataError) as err:
        staircase_error(true, pred)
    assert fragment in str(err.value)
