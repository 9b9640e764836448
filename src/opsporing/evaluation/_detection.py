"""Detection quality of a score or a yes/no rule: counts, rates, curves, bootstrap intervals.

Conventions used throughout :mod:`opsporing.evaluation`:

- ``y_true`` is 1 for a child who truly needs support (the *condition*), 0 otherwise.
- A score flags a child when ``score >= cutoff`` (the band rule "gul or worse" is the cut-off
  1 on the ordinal band score grøn 0, gul 1, rød 2).
- A rate whose denominator is zero (PPV when nobody is flagged) is ``NaN``, never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn import metrics as skm

from ..errors import OpsporingError
from . import _checks as chk
from ._checks import F64, I64

#: Columns of :func:`cutoff_table` (besides one F-score column per ``beta``).
COUNT_COLUMNS = ("cutoff", "n", "n_flagged", "tp", "fp", "tn", "fn")
RATE_COLUMNS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "flag_rate")

MetricFn = Callable[[I64, F64], Any]


def _div(num: F64, den: F64) -> F64:
    """``num / den`` with ``NaN`` where ``den`` is zero (and no warning)."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _f_name(beta: float) -> str:
    return f"f{beta:g}".replace(".", "_")


def _rates(tp: F64, fp: F64, tn: F64, fn: F64, betas: Sequence[float]) -> dict[str, F64]:
    """Every rate of :data:`RATE_COLUMNS` and the F-scores, from confusion counts (vectorised)."""
    n = tp + fp + tn + fn
    out = {
        "sensitivity": _div(tp, tp + fn),
        "specificity": _div(tn, tn + fp),
        "ppv": _div(tp, tp + fp),
        "npv": _div(tn, tn + fn),
        "accuracy": _div(tp + tn, n),
        "flag_rate": _div(tp + fp, n),
    }
    for beta in betas:
        b2 = beta * beta
        out[_f_name(beta)] = _div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)
    return out


def _counts_at(y: I64, s: F64, cutoffs: F64) -> tuple[F64, F64, F64, F64]:
    """TP, FP, TN, FN of the rule ``s >= cutoff`` for every cut-off, by binary search."""
    pos = np.sort(s[y == 1])
    neg = np.sort(s[y == 0])
    tp = (len(pos) - np.searchsorted(pos, cutoffs, side="left")).astype(np.float64)
    fp = (len(neg) - np.searchsorted(neg, cutoffs, side="left")).astype(np.float64)
    return tp, fp, len(neg) - fp, len(pos) - tp


def _betas(beta: float | Iterable[float]) -> tuple[float, ...]:
    betas = (beta,) if isinstance(beta, int | float) else tuple(beta)
    for b in betas:
        if isinstance(b, bool) or not isinstance(b, int | float) or not b > 0:
            raise chk.fail("beta", b, "a positive number")
    return tuple(float(b) for b in betas)


def detection_metrics(
    y_true: Any, y_pred: Any, *, beta: float | Iterable[float] = (1.0, 2.0)
) -> pd.Series:
    """Sensitivity, specificity, PPV, NPV and F-scores of a yes/no rule.

    Parameters
    ----------
    y_true : array-like of 0/1
        1 for a child who truly needs support.
    y_pred : array-like of 0/1
        1 for a child the rule flags.
    beta : float or iterable of float, default (1, 2)
        F-scores to report: ``f1`` weighs sensitivity and PPV equally, ``f2`` weighs
        sensitivity four times as much (missing a child is worse than a false alarm).

    Returns
    -------
    Series
        ``n, n_flagged, tp, fp, tn, fn`` then ``sensitivity, specificity, ppv, npv, accuracy,
        flag_rate, f1, f2``; a rate with a zero denominator is ``NaN``.

    See Also
    --------
    cutoff_table : the same for a score at several cut-offs.

    Examples
    --------
    >>> from opsporing.evaluation import detection_metrics
    >>> m = detection_metrics([1, 1, 0, 0, 0], [1, 0, 1, 0, 0])
    >>> m[["sensitivity", "specificity", "ppv", "npv", "f1"]].round(3).tolist()
    [0.5, 0.667, 0.5, 0.667, 0.5]
    """
    y = chk.binary(y_true, "y_true")
    p = chk.binary(y_pred, "y_pred")
    chk.same_length(y_true=y, y_pred=p)
    table = _table(y, p.astype(np.float64), np.array([1.0]), _betas(beta))
    return table.drop(columns="cutoff").iloc[0].rename(None)


def _table(y: I64, s: F64, cutoffs: F64, betas: Sequence[float]) -> pd.DataFrame:
    tp, fp, tn, fn = _counts_at(y, s, cutoffs)
    data: dict[str, Any] = {
        "cutoff": cutoffs,
        "n": np.full(len(cutoffs), len(y), dtype=np.int64),
        "n_flagged": (tp + fp).astype(np.int64),
        "tp": tp.astype(np.int64),
        "fp": fp.astype(np.int64),
        "tn": tn.astype(np.int64),
        "fn": fn.astype(np.int64),
    }
    data.update(_rates(tp, fp, tn, fn, betas))
    return pd.DataFrame(data)


def cutoff_table(
    y_true: Any,
    y_score: Any,
    cutoffs: Iterable[float],
    *,
    beta: float | Iterable[float] = (1.0, 2.0),
) -> pd.DataFrame:
    """Detection quality of the rule ``y_score >= cutoff`` at each of several cut-offs.

    Parameters
    ----------
    y_true : array-like of 0/1
        1 for a child who truly needs support.
    y_score : array-like of float
        Any score where higher means more concern (a probability, a domain score, the
        ordinal band grøn 0 / gul 1 / rød 2).
    cutoffs : iterable of float
        The cut-offs, one row each, in the order given.
    beta : float or iterable of float, default (1, 2)
        F-scores to report (columns ``f1``, ``f2``, ...).

    Returns
    -------
    DataFrame
        One row per cut-off: ``cutoff, n, n_flagged, tp, fp, tn, fn, sensitivity,
        specificity, ppv, npv, accuracy, flag_rate, f1, f2``.

    Examples
    --------
    Five children, two in need; the scores and the worked counts::

        score   0.9  0.8  0.4  0.3  0.1
        y_true    1    0    1    0    0
        >= 0.5    x    x                -> tp 1, fp 1, fn 1, tn 2
        >= 0.2    x    x    x    x      -> tp 2, fp 2, fn 0, tn 1

    >>> from opsporing.evaluation import cutoff_table
    >>> t = cutoff_table([1, 0, 1, 0, 0], [0.9, 0.8, 0.4, 0.3, 0.1], [0.5, 0.2])
    >>> t[["cutoff", "tp", "fp", "sensitivity", "specificity", "ppv"]].round(3)
       cutoff  tp  fp  sensitivity  specificity  ppv
    0     0.5   1   1          0.5        0.667  0.5
    1     0.2   2   2          1.0        0.333  0.5
    """
    y = chk.binary(y_true, "y_true")
    s = chk.scores(y_score, "y_score")
    chk.same_length(y_true=y, y_score=s)
    if isinstance(cutoffs, str | bytes) or not isinstance(cutoffs, Iterable):
        raise chk.fail("cutoffs", cutoffs, "a list of cut-offs (numbers)")
    c = chk.scores(chk.as_array(list(cutoffs), "cutoffs").astype(object), "cutoffs")
    return _table(y, s, c, _betas(beta))


def _curve_input(y_true: Any, y_score: Any) -> tuple[I64, F64]:
    y = chk.binary(y_true, "y_true")
    s = chk.scores(y_score, "y_score")
    chk.same_length(y_true=y, y_score=s)
    chk.both_classes(y, "y_true")
    return y, s


def roc_curve(y_true: Any, y_score: Any) -> pd.DataFrame:
    """The ROC curve: false- and true-positive rate of ``y_score >= threshold``.

    A thin, validated wrapper of :func:`sklearn.metrics.roc_curve` (intermediate
    collinear points dropped; the first row has ``threshold = inf``: nobody flagged).

    Returns
    -------
    DataFrame
        Columns ``threshold, fpr, tpr``, ``fpr`` increasing.

    Examples
    --------
    >>> from opsporing.evaluation import roc_curve
    >>> roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
       threshold  fpr  tpr
    0        inf  0.0  0.0
    1       0.80  0.0  0.5
    2       0.40  0.5  0.5
    3       0.35  0.5  1.0
    4       0.10  1.0  1.0
    """
    y, s = _curve_input(y_true, y_score)
    fpr, tpr, thr = skm.roc_curve(y, s)
    return pd.DataFrame({"threshold": thr, "fpr": fpr, "tpr": tpr})


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve: the chance that a random child in need scores above a
    random child not in need (ties count one half).

    Examples
    --------
    >>> from opsporing.evaluation import roc_auc
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, s = _curve_input(y_true, y_score)
    return float(skm.roc_auc_score(y, s))


def pr_curve(y_true: Any, y_score: Any) -> pd.DataFrame:
    """The precision-recall curve of ``y_score >= threshold``.

    A validated wrapper of :func:`sklearn.metrics.precision_recall_curve`.

    Returns
    -------
    DataFrame
        Columns ``threshold, recall, precision``, recall decreasing; the last row is the
        end point recall 0, precision 1 (``threshold = inf``).

    Examples
    --------
    >>> from opsporing.evaluation import pr_curve
    >>> pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).round(3)
       threshold  recall  precision
    0       0.10     1.0      0.500
    1       0.35     1.0      0.667
    2       0.40     0.5      0.500
    3       0.80     0.5      1.000
    4        inf     0.0      1.000
    """
    y, s = _curve_input(y_true, y_score)
    precision, recall, thr = skm.precision_recall_curve(y, s)
    return pd.DataFrame(
        {"threshold": np.append(thr, np.inf), "recall": recall, "precision": precision}
    )


def average_precision(y_true: Any, y_score: Any) -> float:
    """Area under the precision-recall curve as a step function (average precision).

    Its baseline is the prevalence, not 0.5: compare it with ``mean(y_true)``.

    Examples
    --------
    >>> from opsporing.evaluation import average_precision
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y, s = _curve_input(y_true, y_score)
    return float(skm.average_precision_score(y, s))


def _rank_auc(y: I64, s: F64) -> float:
    """AUC as the Mann-Whitney statistic from mid-ranks: the same value as
    :func:`roc_auc`, several times faster on the bootstrap's validated replicates."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _as_named(metric: MetricFn | Mapping[str, MetricFn]) -> dict[str, MetricFn]:
    if isinstance(metric, Mapping):
        named = dict(metric)
    elif callable(metric):
        named = {getattr(metric, "__name__", "metric"): metric}
    else:
        raise chk.fail(
            "metric", chk.text(type(metric).__name__), "a function or a dict of functions"
        )
    if not named:
        raise chk.fail("metric", chk.text("{}"), "at least one metric")
    # replicates are already validated: compute AUC directly from ranks
    return {name: (_rank_auc if fn is roc_auc else fn) for name, fn in named.items()}


def _evaluate(named: Mapping[str, MetricFn], y: I64, s: F64) -> dict[str, float]:
    """Every metric on one sample, flattened to ``name`` or ``name.key`` -> float."""
    out: dict[str, float] = {}
    for name, fn in named.items():
        try:
            value = fn(y, s)
        except (OpsporingError, ZeroDivisionError):
            value = np.nan
        if isinstance(value, pd.Series | Mapping):
            for key, v in dict(value).items():
                out[f"{name}.{key}" if len(named) > 1 else str(key)] = float(v)
        else:
            out[name] = float(value)
    return out


def bootstrap_ci(
    y_true: Any,
    y_score: Any,
    metric: MetricFn | Mapping[str, MetricFn],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    stratify: bool = True,
    clusters: Any = None,
) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals of one or more metrics.

    Each replicate draws children with replacement; with ``stratify`` (default) the
    children in need and the others are drawn separately, so every replicate keeps the
    observed prevalence and AUC is always defined. A replicate on which a metric is
    undefined (``NaN``, or an :class:`~opsporing.errors.OpsporingError`) is left out of
    that metric's interval; ``n_boot`` in the result says how many counted.

    Parameters
    ----------
    y_true : array-like of 0/1
    y_score : array-like of float
        Scores, probabilities or 0/1 flags: passed to ``metric`` unchanged.
    metric : callable or dict of callables
        ``metric(y_true, y_score)`` returning a float, or a Series / dict of floats (e.g.
        ``lambda y, s: detection_metrics(y, s >= 0.5)``).
    n_boot : int, default 1000
        Number of bootstrap replicates.
    level : float, default 0.95
        Coverage of the interval; the bounds are the ``(1 - level) / 2`` and
        ``(1 + level) / 2`` quantiles of the replicates.
    seed : int or numpy.random.Generator, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same intervals.
    stratify : bool, default True
        Resample within ``y_true == 1`` and ``y_true == 0`` separately.
    clusters : array-like, optional
        A cluster id per child (the family, or the child when a child has several rows):
        whole clusters are resampled instead of children, so siblings are not counted as
        independent (see :func:`bootstrap_frame`). Replaces ``stratify``.

    Returns
    -------
    DataFrame
        Index: metric names; columns ``estimate`` (on the full sample), ``lower``,
        ``upper``, ``std_error`` (standard deviation of the replicates) and ``n_boot``.

    Examples
    --------
    >>> from opsporing.evaluation import bootstrap_ci, roc_auc
    >>> y = [0, 0, 0, 1, 0, 1, 1, 0, 1, 1]
    >>> s = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.75, 0.8, 0.9]
    >>> ci = bootstrap_ci(y, s, roc_auc, n_boot=200, seed=1)
    >>> round(float(ci.loc["roc_auc", "estimate"]), 4)
    0.84
    >>> bool(ci.loc["roc_auc", "lower"] <= 0.84 <= ci.loc["roc_auc", "upper"])
    True
    """
    y = chk.binary(y_true, "y_true")
    s = chk.scores(y_score, "y_score")
    chk.same_length(y_true=y, y_score=s)
    n_boot = chk.positive_int(n_boot, "n_boot")
    level = chk.unit_interval(level, "level")
    named = _as_named(metric)
    if stratify and clusters is None:
        chk.both_classes(y, "y_true")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    estimate = _evaluate(named, y, s)
    if clusters is not None:
        from ._bootstrap import resample_counts

        ids = chk.as_1d(clusters, "clusters")
        chk.same_length(y_true=y, clusters=ids)
        codes, counts = resample_counts(ids, n_boot, rng)
        rows = np.arange(len(y))
        idx_list = [np.repeat(rows, counts[b, codes]) for b in range(n_boot)]
        reps = pd.DataFrame(
            [_evaluate(named, y[i], s[i]) for i in idx_list], columns=list(estimate)
        )
    elif stratify:
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        idx = np.hstack(
            [
                pos[rng.integers(0, len(pos), size=(n_boot, len(pos)))],
                neg[rng.integers(0, len(neg), size=(n_boot, len(neg)))],
            ]
        )
    else:
        idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    if clusters is None:
        reps = pd.DataFrame([_evaluate(named, y[i], s[i]) for i in idx], columns=list(estimate))
    values = reps.to_numpy(dtype=np.float64)
    valid = ~np.isnan(values)
    counts = valid.sum(axis=0)
    alpha = (1.0 - level) / 2.0
    with np.errstate(all="ignore"):
        bounds = np.full((2, values.shape[1]), np.nan)
        keep = counts > 0
        if keep.any():
            bounds[:, keep] = np.nanquantile(values[:, keep], [alpha, 1.0 - alpha], axis=0)
        spread = np.full(values.shape[1], np.nan)
        spread[counts > 1] = np.nanstd(values[:, counts > 1], axis=0, ddof=1)
    return pd.DataFrame(
        {
            "estimate": pd.Series(estimate, dtype=np.float64),
            "lower": bounds[0],
            "upper": bounds[1],
            "std_error": spread,
            "n_boot": counts.astype(np.int64),
        },
        index=pd.Index(list(estimate), name="metric"),
    )
