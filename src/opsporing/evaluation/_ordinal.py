"""Error on the intervention staircase: suggested step vs the step the child truly needed.

Steps are ordered (0 universal services ... 6 residential institution), so an error of three
steps is worse than one of one step, and the direction matters: suggesting too low a step
(under-suggestion) can leave a child without help, while too high a step means one
conversation or assessment too many. The metrics here keep the two directions apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _checks as chk
from ._agreement import confusion, kappa_from_codes
from ._checks import F64, I64, STEPS


def _steps(y_true: Any, y_pred: Any) -> tuple[I64, I64]:
    t = chk.steps(y_true, "y_true")
    p = chk.steps(y_pred, "y_pred")
    chk.same_length(y_true=t, y_pred=p)
    return t, p


def step_confusion(y_true: Any, y_pred: Any) -> pd.DataFrame:
    """Confusion matrix of true step (rows) vs suggested step (columns), all 7 steps always.

    Examples
    --------
    >>> from opsporing.evaluation import step_confusion
    >>> m = step_confusion([0, 0, 3, 5], [0, 1, 2, 5])
    >>> m.shape, int(m.loc[3, 2]), int(m.to_numpy().trace())
    ((7, 7), 1, 2)
    """
    t, p = _steps(y_true, y_pred)
    counts = confusion(t, p, len(STEPS)).astype(np.int64)
    return pd.DataFrame(
        counts,
        index=pd.Index(STEPS, name="true_step"),
        columns=pd.Index(STEPS, name="suggested_step"),
    )


def mean_absolute_step_error(y_true: Any, y_pred: Any) -> float:
    """Mean of ``|suggested - true|`` in steps.

    Examples
    --------
    >>> from opsporing.evaluation import mean_absolute_step_error
    >>> mean_absolute_step_error([0, 0, 3, 5], [0, 1, 2, 5])
    0.5
    """
    t, p = _steps(y_true, y_pred)
    return float(np.mean(np.abs(p - t)))


def quadratic_weighted_kappa(y_true: Any, y_pred: Any) -> float:
    """Cohen's kappa with quadratic weights over the seven steps 0-6.

    All seven steps count as categories even when unused, so the value equals
    ``sklearn.metrics.cohen_kappa_score(y_true, y_pred, labels=range(7), weights="quadratic")``.

    Examples
    --------
    >>> from opsporing.evaluation import quadratic_weighted_kappa
    >>> quadratic_weighted_kappa([0, 0, 3, 5], [0, 1, 2, 5])
    0.9375
    """
    t, p = _steps(y_true, y_pred)
    return kappa_from_codes(t, p, len(STEPS), "quadratic")


def step_costs(under: float | None = None, over: float | None = None) -> pd.DataFrame:
    """The 7 x 7 cost matrix ``C[true step, suggested step]``, 0 on the diagonal.

    Without arguments: the suggestion policy's matrix (``opsporing/policy/data/policy.yaml``,
    the same costs the suggestions minimise; one home for the value judgement). With
    ``under`` and ``over``: a linear matrix, ``under · (true - suggested)`` below and
    ``over · (suggested - true)`` above the diagonal, for a sensitivity analysis. Costs are a
    value choice, not an estimate: agree them with the professionals, and report them.

    Examples
    --------
    >>> from opsporing.evaluation import step_costs
    >>> c = step_costs()  # the policy's: a missed step 9, a step too high 1-8 by intrusiveness
    >>> float(c.loc[1, 0]), float(c.loc[0, 1]), float(c.loc[3, 5])
    (9.0, 1.0, 16.0)
    >>> lin = step_costs(under=2, over=1)
    >>> float(lin.loc[3, 1]), float(lin.loc[1, 3])
    (4.0, 2.0)
    """
    if under is None and over is None:
        from ..policy import load_policy

        cost = load_policy().cost_matrix()
    else:
        for name, v in (("under", under), ("over", over)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise chk.fail(name, v, "a finite cost >= 0 (give both under and over)")
        assert under is not None and over is not None
        i, j = np.indices((len(STEPS), len(STEPS)))
        cost = np.where(j < i, under * (i - j), over * (j - i)).astype(np.float64)
    return pd.DataFrame(
        cost,
        index=pd.Index(STEPS, name="true_step"),
        columns=pd.Index(STEPS, name="suggested_step"),
    )


def _cost_matrix(costs: pd.DataFrame | None) -> F64:
    if costs is None:
        return step_costs().to_numpy()
    arr = np.asarray(costs, dtype=np.float64)
    if arr.shape != (7, 7) or not np.isfinite(arr).all() or (arr < 0).any():
        raise chk.fail(
            "costs",
            chk.text(f"a matrix of shape {arr.shape}"),
            "a 7 x 7 matrix of finite costs >= 0",
        )
    return arr


def cost_weighted_step_error(y_true: Any, y_pred: Any, costs: pd.DataFrame | None = None) -> float:
    """Mean cost per child under a cost matrix (default: the policy's, :func:`step_costs`).

    Examples
    --------
    True 3, suggested 2 costs 9 (one step of need missed); true 0, suggested 1 costs 1
    (one step too high): ``(0 + 1 + 9 + 0) / 4 = 2.5``.

    >>> from opsporing.evaluation import cost_weighted_step_error
    >>> cost_weighted_step_error([0, 0, 3, 5], [0, 1, 2, 5])
    2.5
    """
    t, p = _steps(y_true, y_pred)
    return float(np.mean(_cost_matrix(costs)[t, p]))


def staircase_error(y_true: Any, y_pred: Any, *, costs: pd.DataFrame | None = None) -> pd.Series:
    """Every staircase error measure in one Series.

    Parameters
    ----------
    y_true : array-like of int 0-6
        The step the child truly needed.
    y_pred : array-like of int 0-6
        The suggested step.
    costs : 7 x 7 DataFrame or array, optional
        Cost of suggesting column step when row step was needed; default the suggestion
        policy's matrix (:func:`step_costs`).

    Returns
    -------
    Series
        ``n``; ``exact`` (share suggested exactly); ``mean_absolute_error`` (steps);
        ``quadratic_kappa``; ``under_rate`` / ``over_rate`` (share of all children suggested
        below / above their step); ``under_2plus_rate`` / ``over_2plus_rate`` (by two steps or
        more); ``under_rate_in_need`` (share of children with true step >= 1 suggested too
        low; ``NaN`` if none); ``cost_weighted_error`` (mean cost per child).

    Examples
    --------
    ::

        true       0 0 3 5 2
        suggested  0 1 2 5 0    differences 0 +1 -1 0 -2

    >>> from opsporing.evaluation import staircase_error
    >>> e = staircase_error([0, 0, 3, 5, 2], [0, 1, 2, 5, 0])
    >>> e[["exact", "mean_absolute_error", "under_rate", "over_rate", "under_2plus_rate"]].tolist()
    [0.4, 0.8, 0.4, 0.2, 0.2]
    >>> float(e["under_rate_in_need"]), float(e["cost_weighted_error"])  # (1+9+18)/5 = 5.6
    (0.6666666666666666, 5.6)
    """
    t, p = _steps(y_true, y_pred)
    d = p - t
    in_need = t >= 1
    return pd.Series(
        {
            "n": float(len(t)),
            "exact": float(np.mean(d == 0)),
            "mean_absolute_error": float(np.mean(np.abs(d))),
            "quadratic_kappa": kappa_from_codes(t, p, len(STEPS), "quadratic"),
            "under_rate": float(np.mean(d < 0)),
            "over_rate": float(np.mean(d > 0)),
            "under_2plus_rate": float(np.mean(d <= -2)),
            "over_2plus_rate": float(np.mean(d >= 2)),
            "under_rate_in_need": float(np.mean(d[in_need] < 0)) if in_need.any() else np.nan,
            "cost_weighted_error": float(np.mean(_cost_matrix(costs)[t, p])),
        },
        dtype=np.float64,
    )
