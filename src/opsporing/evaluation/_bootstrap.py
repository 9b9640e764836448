"""Clustered bootstrap intervals for any statistic of a table, and the usual ones ready-made.

Children of one family are not independent (shared home, often the same rater), and a
child screened twice is one child: resampling rows would treat them as independent and
give intervals that are too narrow. Here whole *clusters* are resampled: each replicate
draws as many clusters as there are, with replacement, and keeps every row of a drawn
cluster as often as it was drawn. Clusters are the family when a family id is known,
otherwise the child.

The interval is the percentile interval of the replicates; a replicate on which a
statistic is undefined (``NaN``, e.g. sensitivity without a child in need) is left out of
that statistic's interval and ``n_boot`` says how many counted. The coverage of these
intervals is tested against known true values in ``tests/test_evaluation_intervals.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OpsporingError
from . import _checks as chk
from ._agreement import cohen_kappa
from ._calibration import expected_calibration_error
from ._detection import _rank_auc
from ._reliability import icc, reliability_by_domain

Statistic = Callable[[pd.DataFrame], Any]


def _flatten(value: Any) -> dict[Any, float]:
    if isinstance(value, pd.DataFrame):
        stacked = pd.Series(value.stack(future_stack=True))
        return {k: float(v) for k, v in stacked.items()}
    if isinstance(value, pd.Series | Mapping):
        return {k: float(v) for k, v in dict(value).items()}
    return {"value": float(value)}


def _safe(statistic: Statistic, frame: pd.DataFrame) -> dict[Any, float]:
    try:
        return _flatten(statistic(frame))
    except (OpsporingError, ZeroDivisionError, ValueError, FloatingPointError):
        return {}


def resample_counts(
    clusters: Any, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster codes of each row and, per replicate, how often each cluster was drawn.

    Returns ``codes`` (n,) and ``counts`` (n_boot, n_clusters): row ``i`` appears
    ``counts[b, codes[i]]`` times in replicate ``b``.
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(clusters, dtype=object)), sort=False)
    if (codes < 0).any():
        raise chk.fail("clusters", None, "a cluster id for every row (no missing values)")
    k = len(uniques)
    draws = rng.integers(0, k, size=(n_boot, k))
    counts = np.zeros((n_boot, k), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_boot), k), draws.ravel()), 1)
    return codes.astype(np.int64), counts


def bootstrap_frame(
    data: pd.DataFrame,
    statistic: Statistic,
    *,
    clusters: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """Percentile bootstrap intervals of ``statistic(data)``, resampling clusters of rows.

    Parameters
    ----------
    data : DataFrame
        One row per observation (child, or form).
    statistic : callable
        ``statistic(frame) -> float``, or a Series / dict / DataFrame of floats (each
        entry gets an interval; a DataFrame is stacked to (row, column) entries).
    clusters : array-like or str, optional
        Cluster id per row (or the name of a column of ``data``): family id, else child
        id. Default: every row is its own cluster.
    n_boot : int, default 1000
    level : float, default 0.95
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    DataFrame
        Index: the statistic's entries; columns ``estimate, lower, upper, std_error,
        n_boot``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"y": [0, 1, 1, 0, 1, 1], "family": ["a", "a", "b", "c", "c", "d"]})
    >>> ci = bootstrap_frame(d, lambda f: f["y"].mean(), clusters="family", n_boot=200)
    >>> round(float(ci.loc["value", "estimate"]), 3), bool(ci.loc["value", "lower"] < 0.667)
    (0.667, True)
    """
    if not isinstance(data, pd.DataFrame):
        raise chk.fail("data", chk.text(type(data).__name__), "a pandas DataFrame")
    if len(data) == 0:
        raise chk.fail("data", chk.text("an empty table"), "at least one row")
    n_boot = chk.positive_int(n_boot, "n_boot")
    level = chk.unit_interval(level, "level")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if isinstance(clusters, str):
        clusters = chk.column(data, clusters, "clusters").to_numpy()
    elif clusters is None:
        clusters = np.arange(len(data))
    ids = chk.as_1d(clusters, "clusters")
    chk.same_length(data=np.empty(len(data)), clusters=ids)
    estimate = _flatten(statistic(data))
    codes, counts = resample_counts(ids, n_boot, rng)
    rows = np.arange(len(data))
    reps = []
    for b in range(n_boot):
        idx = np.repeat(rows, counts[b, codes])
        reps.append(_safe(statistic, data.iloc[idx]))
    keys = list(estimate)
    values = np.array([[r.get(k, np.nan) for k in keys] for r in reps], dtype=np.float64)
    valid = ~np.isnan(values)
    n_valid = valid.sum(axis=0)
    alpha = (1.0 - level) / 2.0
    lower = np.full(len(keys), np.nan)
    upper = np.full(len(keys), np.nan)
    spread = np.full(len(keys), np.nan)
    with np.errstate(all="ignore"):
        for j in range(len(keys)):
            v = values[valid[:, j], j]
            if len(v):
                lower[j], upper[j] = np.quantile(v, [alpha, 1.0 - alpha])
            if len(v) > 1:
                spread[j] = np.std(v, ddof=1)
    index = (
        pd.MultiIndex.from_tuples(keys)
        if keys and all(isinstance(k, tuple) for k in keys)
        else pd.Index(keys)
    )
    return pd.DataFrame(
        {
            "estimate": [estimate[k] for k in keys],
            "lower": lower,
            "upper": upper,
            "std_error": spread,
            "n_boot": n_valid.astype(np.int64),
        },
        index=index,
    )


# --- the usual statistics ------------------------------------------------------------------
def _rates(y: np.ndarray, flag: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(flag & (y == 1)))
    fp = float(np.sum(flag & (y == 0)))
    pos, neg = float(np.sum(y == 1)), float(np.sum(y == 0))
    nan = float("nan")
    return {
        "sensitivity": tp / pos if pos else nan,
        "specificity": (neg - fp) / neg if neg else nan,
        "ppv": tp / (tp + fp) if tp + fp else nan,
        "flag_rate": (tp + fp) / len(y) if len(y) else nan,
    }


def _detection_statistic(
    y_true: str,
    scores: Sequence[str],
    cutoffs: Mapping[str, float],
    probabilities: Sequence[str],
) -> Statistic:
    def stat(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        y_all = frame[y_true].to_numpy(dtype=np.int64)
        for name in scores:
            col = frame[name].to_numpy(dtype=np.float64)
            has = ~np.isnan(col)
            y, s = y_all[has], col[has]
            out[(name, "roc_auc")] = _rank_auc(y, s) if len(y) else np.nan
            cut = cutoffs.get(name)
            if cut is not None and not np.isnan(cut):
                for k, v in _rates(y, s >= cut).items():
                    out[(name, k)] = v
            if name in probabilities and len(y):
                out[(name, "ece")] = (
                    expected_calibration_error(y, s) if len(np.unique(y)) else np.nan
                )
                mean_p = float(s.mean())
                out[(name, "observed_over_expected")] = (
                    float(y.mean()) / mean_p if mean_p > 0 else np.nan
                )
        return out

    return stat


def detection_intervals(
    data: pd.DataFrame,
    *,
    y_true: str = "y_true",
    scores: Sequence[str],
    cutoffs: Mapping[str, float] | None = None,
    probabilities: Sequence[str] = (),
    clusters: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Clustered bootstrap intervals of AUC, the rates at each cut-off and calibration.

    For every score: ``roc_auc``; at its cut-off (``score >= cutoff`` flags)
    ``sensitivity, specificity, ppv, flag_rate``; for probabilities ``ece`` and
    ``observed_over_expected`` (share in need over mean predicted probability; 1 is
    calibrated in the large). ``NaN`` scores ("no score for this child") are left out
    of that score's statistics, as in :func:`compare_scores`.

    Returns
    -------
    DataFrame
        Index (score, metric); columns ``estimate, lower, upper, std_error, n_boot``.
    """
    chk.binary(chk.column(data, y_true, "y_true"), y_true)
    for name in scores:
        chk.column(data, name, "scores")
    cols = [y_true, *scores]
    frame = data[cols].astype({s: np.float64 for s in scores})
    out = bootstrap_frame(
        frame,
        _detection_statistic(y_true, list(scores), dict(cutoffs or {}), list(probabilities)),
        clusters=clusters,
        n_boot=n_boot,
        level=level,
        seed=seed,
    )
    out.index = out.index.set_names(["score", "metric"])
    return out


def group_difference_intervals(
    data: pd.DataFrame,
    *,
    y_true: str = "y_true",
    score: str,
    cutoff: float,
    groups: Sequence[str],
    clusters: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Intervals of the largest minus smallest group value of sensitivity and flag rate.

    The same difference as ``MetricFrame.difference()`` in :func:`metrics_by_group`,
    recomputed on every clustered replicate (a group absent from a replicate is left out of
    it). The percentile interval of a max-minus-min difference is biased away from 0 in
    small groups: read the lower bound, and the group sizes.

    Returns
    -------
    DataFrame
        Index (group column, metric); columns ``estimate, lower, upper, std_error, n_boot``.
    """
    y_col = chk.column(data, y_true, "y_true")
    chk.binary(y_col, y_true)
    chk.column(data, score, "score")
    for g in groups:
        chk.column(data, g, "groups")

    def stat(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        y = frame[y_true].to_numpy(dtype=np.int64)
        flag = frame[score].to_numpy(dtype=np.float64) >= cutoff
        for g in groups:
            labels = frame[g].astype(str).to_numpy()
            per: dict[str, list[float]] = {"sensitivity": [], "flag_rate": []}
            for lab in np.unique(labels):
                m = labels == lab
                r = _rates(y[m], flag[m])
                per["sensitivity"].append(r["sensitivity"])
                per["flag_rate"].append(r["flag_rate"])
            for metric, values in per.items():
                v = np.array(values, dtype=np.float64)
                v = v[~np.isnan(v)]
                out[(g, f"{metric}_difference")] = (
                    float(v.max() - v.min()) if len(v) > 1 else (np.nan)
                )
        return out

    frame = data[[y_true, score, *groups]]
    out = bootstrap_frame(frame, stat, clusters=clusters, n_boot=n_boot, level=level, seed=seed)
    out.index = out.index.set_names(["group_column", "metric"])
    return out


def reliability_intervals(
    instrument: Any,
    answers: pd.DataFrame,
    *,
    clusters: Any = None,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Intervals of Cronbach's alpha and McDonald's omega of every domain.

    ``answers`` as for :func:`reliability_by_domain` (one row per form); ``clusters`` the
    child (or family) of each form, so a child screened twice counts once per draw.

    Returns
    -------
    DataFrame
        Index (domain, statistic); columns ``estimate, lower, upper, std_error, n_boot``.
    """

    def stat(frame: pd.DataFrame) -> pd.DataFrame:
        t = reliability_by_domain(instrument, frame).set_index("domain")
        return t[["alpha", "omega"]].astype(np.float64)

    out = bootstrap_frame(answers, stat, clusters=clusters, n_boot=n_boot, level=level, seed=seed)
    out.index = out.index.set_names(["domain", "statistic"])
    return out


def agreement_intervals(
    ratings: pd.DataFrame,
    *,
    labels: Sequence[Any] | None = None,
    clusters: Any = None,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Intervals of Cohen's kappa (unweighted and quadratic) and the ICCs of two raters.

    ``ratings`` has one row per child and two columns (the raters), complete; numeric
    ratings also get ICC(1,1), ICC(2,1), ICC(3,1).

    Returns
    -------
    DataFrame
        Index: the statistics; columns ``estimate, lower, upper, std_error, n_boot``.
    """
    if not isinstance(ratings, pd.DataFrame) or ratings.shape[1] != 2:
        raise chk.fail("ratings", chk.text(type(ratings).__name__), "a DataFrame of 2 columns")
    a, b = ratings.columns
    numeric = all(pd.api.types.is_numeric_dtype(ratings[c]) for c in (a, b))

    def stat(frame: pd.DataFrame) -> dict[str, float]:
        out = {
            "kappa": cohen_kappa(frame[a], frame[b], labels=labels),
            "kappa_quadratic": cohen_kappa(frame[a], frame[b], weights="quadratic", labels=labels),
        }
        if numeric:
            for name, value in icc(frame.to_numpy(dtype=np.float64))["icc"].items():
                out[str(name)] = float(value)
        return out

    return bootstrap_frame(ratings, stat, clusters=clusters, n_boot=n_boot, level=level, seed=seed)
