"""Calibration of predicted probabilities and the net benefit of acting on them.

A probability is *calibrated* when, among the children given 0.2, about one in five is in
need. Discrimination (AUC) says nothing about that: a model can rank children perfectly and
still overstate every risk tenfold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import _checks as chk
from ._checks import F64, I64

Strategy = Literal["uniform", "quantile"]

RELIABILITY_COLUMNS = ("bin", "lower", "upper", "n", "mean_predicted", "observed_rate", "gap")


def _prob_input(y_true: Any, y_prob: Any) -> tuple[I64, F64]:
    y = chk.binary(y_true, "y_true")
    p = chk.probabilities(y_prob, "y_prob")
    chk.same_length(y_true=y, y_prob=p)
    return y, p


def brier_score(y_true: Any, y_prob: Any) -> float:
    """Brier score: the mean squared difference between probability and outcome.

    ``mean((y_prob - y_true) ** 2)``; 0 is perfect, and always predicting the prevalence
    ``π`` scores ``π (1 - π)``, the baseline to beat.

    Examples
    --------
    ``(0.1² + 0.6² + 0.2² + 0.3²) / 4 = (0.01 + 0.36 + 0.04 + 0.09) / 4 = 0.125``

    >>> from opsporing.evaluation import brier_score
    >>> brier_score([0, 0, 1, 1], [0.1, 0.6, 0.8, 0.7])
    0.125
    """
    y, p = _prob_input(y_true, y_prob)
    return float(np.mean((p - y) ** 2))


def _bins(p: F64, n_bins: int, strategy: str) -> tuple[F64, I64]:
    """Bin edges and each probability's bin, exactly as
    :func:`sklearn.calibration.calibration_curve` assigns them."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0.0, 100.0, n_bins + 1))
    else:
        raise chk.fail("strategy", strategy, "'uniform' (equal width) or 'quantile' (equal mass)")
    return edges, np.searchsorted(edges[1:-1], p).astype(np.int64)


def reliability_table(
    y_true: Any, y_prob: Any, *, n_bins: int = 10, strategy: Strategy = "uniform"
) -> pd.DataFrame:
    """Reliability-diagram data: mean predicted probability vs observed rate per bin.

    Parameters
    ----------
    y_true : array-like of 0/1
    y_prob : array-like of float in [0, 1]
    n_bins : int, default 10
    strategy : {"uniform", "quantile"}, default "uniform"
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: equal-mass bins whose edges
        are the quantiles of ``y_prob``, so each holds about ``n / n_bins`` children (tied
        probabilities stay together, so bins can be unequal or merge).
        Bins are closed on the right, ``(lower, upper]`` (the first also holds ``lower``),
        exactly as in :func:`sklearn.calibration.calibration_curve`; empty bins are left out.

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``bin, lower, upper, n, mean_predicted, observed_rate,
        gap`` with ``gap = observed_rate - mean_predicted`` (positive: risk understated).

    Examples
    --------
    >>> from opsporing.evaluation import reliability_table
    >>> reliability_table([0, 0, 1, 1, 1], [0.1, 0.15, 0.6, 0.7, 0.9], n_bins=2)
       bin  lower  upper  n  mean_predicted  observed_rate   gap
    0    0    0.0    0.5  2           0.125            0.0 -0.125
    1    1    0.5    1.0  3           0.733            1.0  0.267
    """
    y, p = _prob_input(y_true, y_prob)
    n_bins = chk.positive_int(n_bins, "n_bins")
    edges, ids = _bins(p, n_bins, strategy)
    total = np.bincount(ids, minlength=n_bins)
    sum_p = np.bincount(ids, weights=p, minlength=n_bins)
    sum_y = np.bincount(ids, weights=y.astype(np.float64), minlength=n_bins)
    keep = np.flatnonzero(total > 0)
    mean_p = sum_p[keep] / total[keep]
    rate = sum_y[keep] / total[keep]
    return pd.DataFrame(
        {
            "bin": keep.astype(np.int64),
            "lower": edges[keep],
            "upper": edges[keep + 1],
            "n": total[keep].astype(np.int64),
            "mean_predicted": mean_p,
            "observed_rate": rate,
            "gap": rate - mean_p,
        }
    )


def expected_calibration_error(
    y_true: Any, y_prob: Any, *, n_bins: int = 10, strategy: Strategy = "uniform"
) -> float:
    """Expected calibration error: the bin-size-weighted mean absolute gap.

    ``ECE = Σ_b (n_b / n) · |observed_rate_b - mean_predicted_b|`` over the bins of
    :func:`reliability_table` (``strategy="uniform"``: equal width; ``"quantile"``: equal
    mass). ECE depends on the binning and is biased upwards in small samples; report the
    binning with it.

    Examples
    --------
    With two equal-width bins, ``(2 · 0.125 + 3 · 0.2667) / 5 = 0.21``:

    >>> from opsporing.evaluation import expected_calibration_error
    >>> round(expected_calibration_error([0, 0, 1, 1, 1], [0.1, 0.15, 0.6, 0.7, 0.9], n_bins=2), 4)
    0.21
    """
    table = reliability_table(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    n = table["n"].to_numpy(dtype=np.float64)
    return float(np.sum(n * np.abs(table["gap"].to_numpy())) / n.sum())


def decision_curve(
    y_true: Any, y_prob: Any, thresholds: Iterable[float] | None = None
) -> pd.DataFrame:
    """Decision-curve analysis: net benefit of referring children with ``y_prob >= p_t``.

    At threshold probability ``p_t`` (the risk at which a professional would act: it says a
    missed child counts ``(1 - p_t) / p_t`` times a needless referral),

    ``net benefit = TP / n - FP / n · p_t / (1 - p_t)``

    and the reference strategies are "refer all" (``π - (1 - π) · p_t / (1 - p_t)`` with
    prevalence ``π``) and "refer none" (0). A model is useful at ``p_t`` where its net benefit
    is above both (Vickers & Elkin 2006).

    Parameters
    ----------
    y_true : array-like of 0/1
    y_prob : array-like of float in [0, 1]
    thresholds : iterable of float in (0, 1), optional
        Default: 0.01, 0.02, ..., 0.99.

    Returns
    -------
    DataFrame
        ``threshold, net_benefit, refer_all, refer_none, n_referred``.

    Examples
    --------
    Four children, two in need; at ``p_t = 0.5`` the model refers the three with
    ``y_prob >= 0.5`` (TP 2, FP 1): ``2/4 - 1/4 · 1 = 0.25``; refer all: ``0.5 - 0.5 = 0``.

    >>> from opsporing.evaluation import decision_curve
    >>> decision_curve([0, 0, 1, 1], [0.1, 0.6, 0.8, 0.7], [0.5])
       threshold  net_benefit  refer_all  refer_none  n_referred
    0        0.5         0.25        0.0         0.0           3
    """
    y, p = _prob_input(y_true, y_prob)
    if thresholds is None:
        pt = np.round(np.arange(1, 100) / 100.0, 2)
    else:
        pt = chk.scores(np.asarray(list(thresholds), dtype=object), "thresholds")
        bad = (pt <= 0) | (pt >= 1)
        if bad.any():
            raise chk.fail("thresholds", float(pt[bad][0]), "threshold probabilities in (0, 1)")
    n = float(len(y))
    pos, neg = np.sort(p[y == 1]), np.sort(p[y == 0])
    tp = len(pos) - np.searchsorted(pos, pt, side="left")
    fp = len(neg) - np.searchsorted(neg, pt, side="left")
    odds = pt / (1.0 - pt)
    prevalence = len(pos) / n
    return pd.DataFrame(
        {
            "threshold": pt,
            "net_benefit": tp / n - fp / n * odds,
            "refer_all": prevalence - (1.0 - prevalence) * odds,
            "refer_none": np.zeros(len(pt)),
            "n_referred": (tp + fp).astype(np.int64),
        }
    )
