"""Metrics of the model card: discrimination, calibration, under-suggestion, by group."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..errors import DataError

F64 = npt.NDArray[np.float64]


def expected_calibration_error(y_true: Any, proba: Any, n_bins: int = 10) -> float:
    """Expected calibration error of a binary probability, equal-width bins.

    The weighted mean, over bins of the predicted probability, of
    ``|mean(y) - mean(p)|``, weighted by the share of rows in the bin.

    Examples
    --------
    >>> expected_calibration_error([0, 1, 0, 1], [0.0, 1.0, 0.0, 1.0])
    0.0
    >>> round(expected_calibration_error([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]), 3)
    0.0
    >>> round(expected_calibration_error([0, 0, 0, 0], [0.2, 0.2, 0.2, 0.2]), 3)
    0.2
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(proba, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise DataError(
            f"y_true and proba: shapes {y.shape} and {p.shape}: expected two equal 1-d arrays"
        )
    if np.any((p < 0) | (p > 1) | np.isnan(p)):
        raise DataError("proba: values outside [0, 1] or NaN: expected probabilities")
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    observed = np.bincount(bins, weights=y, minlength=n_bins)
    gap = np.abs(observed - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / count.sum())


def under_suggestion_rate(y_true: Any, suggested: Any, by: int = 2) -> float:
    """Share of children whose suggested step is ``by`` or more steps below the true one.

    Examples
    --------
    >>> under_suggestion_rate([0, 3, 4, 1], [0, 1, 4, 0])
    0.25
    """
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(suggested, dtype=np.float64)
    return float(np.mean(y - s >= by))


def auc(y_true: Any, score: Any) -> float:
    """ROC AUC, NaN when only one outcome is present."""
    y = np.asarray(y_true)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


def metrics_by_group(
    metrics: Mapping[str, Callable[[pd.DataFrame], float]],
    table: pd.DataFrame,
    groups: Mapping[str, Any],
) -> dict[str, dict[str, dict[str, float]]]:
    """Each metric overall and within each group of each sensitive feature.

    Uses :class:`fairlearn.metrics.MetricFrame` shape: ``{feature: {group: {metric: v}}}``
    plus ``"overall"`` and, per feature, ``"difference"`` (largest minus smallest).
    """
    from fairlearn.metrics import MetricFrame

    def wrap(fn: Callable[[pd.DataFrame], float]) -> Callable[..., float]:
        def metric(y_true: Any, y_pred: Any) -> float:
            return fn(table.loc[np.asarray(y_pred)])

        return metric

    rows = np.arange(len(table))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for feature, values in groups.items():
        frame = MetricFrame(
            metrics={k: wrap(fn) for k, fn in metrics.items()},
            y_true=rows,
            y_pred=rows,
            sensitive_features=pd.Series(np.asarray(values), name=feature),
        )
        by_group = frame.by_group
        out[feature] = {
            str(g): {m: _round(by_group.loc[g, m]) for m in metrics} for g in by_group.index
        }
        out[feature]["difference"] = {
            m: _round(v) for m, v in frame.difference(method="between_groups").items()
        }
        out.setdefault("overall", {"all": {m: _round(v) for m, v in frame.overall.items()}})
    return out


def _round(value: Any) -> float:
    v = float(value)
    return v if np.isnan(v) else round(v, 4)
