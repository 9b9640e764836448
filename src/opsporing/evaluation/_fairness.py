"""Every metric by group, and the largest gap between groups, on fairlearn's MetricFrame.

Nothing here re-implements disaggregation: one :class:`fairlearn.metrics.MetricFrame` per
group column does the splitting, ``overall``, ``by_group``, ``group_min/max``,
``difference()`` and ``ratio()``; this module picks the metrics, validates the table once
and lays the frames out as tidy tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn import metrics as skm

from ..errors import DataError
from . import _checks as chk
from ._agreement import kappa_from_codes
from ._checks import STEPS
from ._detection import _counts_at, _rates
from ._ordinal import _cost_matrix

Task = Literal["score", "flag", "steps"]
GroupMetricFn = Callable[[Any, Any], float]

#: The group columns looked for by default (those present in the table are used).
DEFAULT_GROUPS = ("sex", "age_band", "setting", "municipality", "family_background")


BY_GROUP_COLUMNS = (
    "group_column",
    "group",
    "metric",
    "value",
    "n",
    "n_positive",
    "overall",
    "difference",
    "ratio",
)
GAP_COLUMNS = (
    "group_column",
    "metric",
    "overall",
    "group_min",
    "group_max",
    "difference",
    "ratio",
    "min_group",
    "max_group",
    "n_groups",
    "smallest_n",
)


def _arr(v: Any) -> np.ndarray:
    return np.asarray(v)


def _prevalence(y: Any, _: Any) -> float:
    return float(np.mean(_arr(y) > 0))


def _rate_at(y: Any, s: Any, *, cutoff: float, name: str) -> float:
    tp, fp, tn, fn = _counts_at(
        _arr(y).astype(np.int64), _arr(s).astype(np.float64), np.array([cutoff])
    )
    return float(_rates(tp, fp, tn, fn, ())[name][0])


def _auc(y: Any, s: Any) -> float:
    y = _arr(y)
    if y.min() == y.max():
        return float("nan")
    return float(skm.roc_auc_score(y, _arr(s)))


def _ap(y: Any, s: Any) -> float:
    y = _arr(y)
    if y.max() == 0:
        return float("nan")
    return float(skm.average_precision_score(y, _arr(s)))


def _brier(y: Any, s: Any) -> float:
    return float(np.mean((_arr(s) - _arr(y)) ** 2))


def _mean_score(_: Any, s: Any) -> float:
    return float(np.mean(_arr(s)))


def _step_mae(y: Any, p: Any) -> float:
    return float(np.mean(np.abs(_arr(p) - _arr(y))))


def _step_qwk(y: Any, p: Any) -> float:
    return kappa_from_codes(_arr(y), _arr(p), len(STEPS), "quadratic")


def _step_under(y: Any, p: Any) -> float:
    return float(np.mean(_arr(p) < _arr(y)))


def _step_over(y: Any, p: Any) -> float:
    return float(np.mean(_arr(p) > _arr(y)))


def _step_under2(y: Any, p: Any) -> float:
    return float(np.mean(_arr(p) <= _arr(y) - 2))


def _step_cost(y: Any, p: Any, *, costs: np.ndarray) -> float:
    return float(np.mean(costs[_arr(y), _arr(p)]))


def _step_mean(_: Any, p: Any) -> float:
    return float(np.mean(_arr(p)))


def default_metrics(
    task: Task, *, cutoff: float = 0.5, probabilities: bool = True
) -> dict[str, GroupMetricFn]:
    """The metrics :func:`metrics_by_group` computes unless told otherwise.

    - ``"score"`` (a continuous score and the rule ``score >= cutoff``): ``prevalence,
      mean_score, roc_auc, average_precision, brier`` (only if the scores are probabilities),
      ``sensitivity, specificity, ppv, npv, flag_rate``.
    - ``"flag"`` (0/1 flags): ``prevalence, sensitivity, specificity, ppv, npv, flag_rate``.
    - ``"steps"`` (true and suggested step 0-6): ``mean_suggested_step, mean_absolute_error,
      quadratic_kappa, under_rate, over_rate, under_2plus_rate, cost_weighted_error``.

    Group sizes (``n``, ``n_positive``) are counted separately, not as metrics.

    Examples
    --------
    >>> from opsporing.evaluation import default_metrics
    >>> list(default_metrics("flag"))
    ['prevalence', 'sensitivity', 'specificity', 'ppv', 'npv', 'flag_rate']
    """
    if task == "steps":
        return {
            "mean_suggested_step": _step_mean,
            "mean_absolute_error": _step_mae,
            "quadratic_kappa": _step_qwk,
            "under_rate": _step_under,
            "over_rate": _step_over,
            "under_2plus_rate": _step_under2,
            "cost_weighted_error": partial(_step_cost, costs=_cost_matrix(None)),
        }
    out: dict[str, GroupMetricFn] = {"prevalence": _prevalence}
    if task == "score":
        out["mean_score"] = _mean_score
        out["roc_auc"] = _auc
        out["average_precision"] = _ap
        if probabilities:
            out["brier"] = _brier
    elif task != "flag":
        raise chk.fail("task", task, "'score', 'flag' or 'steps'")
    cut = cutoff if task == "score" else 1.0
    for name in ("sensitivity", "specificity", "ppv", "npv", "flag_rate"):
        out[name] = partial(_rate_at, cutoff=cut, name=name)
    return out


#: Default age bands (years, left-closed): infants/toddlers, preschool, school start,
#: middle school, teenagers.
AGE_EDGES = (0.0, 3.0, 6.0, 10.0, 14.0, 18.0)


def age_band(age_years: Any, edges: Sequence[float] = AGE_EDGES) -> pd.Series:
    """Ages as an ordered categorical of bands ``"0-2"``, ``"3-5"``, ... (``[lo, hi)``).

    Examples
    --------
    >>> from opsporing.evaluation import age_band
    >>> age_band([0.5, 5.99, 6.0, 17.5]).tolist()
    ['0-2', '3-5', '6-9', '14-17']
    """
    ages = chk.scores(age_years, "age_years")
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or not (np.diff(e) > 0).all():
        raise chk.fail("edges", list(edges), "at least two increasing ages")
    outside = (ages < e[0]) | (ages >= e[-1])
    if outside.any():
        raise chk.fail(
            "age_years", float(ages[outside][0]), f"an age from {e[0]:g} to below {e[-1]:g}"
        )
    labels = [f"{lo:g}-{hi - 1:g}" for lo, hi in pairwise(e)]
    codes = np.searchsorted(e, ages, side="right") - 1
    index = age_years.index if isinstance(age_years, pd.Series) else None
    return pd.Series(
        pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(labels, ordered=True)),
        index=index,
        name="age_band",
    )


@dataclass(frozen=True)
class GroupMetrics:
    """What :func:`metrics_by_group` returns: MetricFrame's answers, laid out tidy.

    Attributes
    ----------
    overall : Series
        Every metric on the whole table.
    by_group : DataFrame
        One row per group column x group x metric: ``group_column, group, metric, value, n,
        n_positive, overall, difference, ratio``. ``n`` is the group's size, ``n_positive``
        its children with ``y_true >= 1`` (in need); ``difference`` and ``ratio`` are the
        metric's largest gap within that group column, repeated on each of its rows.
    gaps : DataFrame
        One row per group column x metric: ``group_column, metric,
        overall, group_min, group_max, difference, ratio, min_group, max_group, n_groups,
        smallest_n``. ``difference`` is ``MetricFrame.difference()`` (largest minus smallest
        group value), ``ratio`` is ``MetricFrame.ratio()`` (smallest over largest).
    frames : dict of str to MetricFrame
        The underlying fairlearn frames, one per group column.
    """

    overall: pd.Series
    by_group: pd.DataFrame
    gaps: pd.DataFrame
    frames: dict[str, Any]


def _group_column(data: pd.DataFrame, name: str) -> pd.Series:
    col = chk.column(data, name, "groups")
    missing = col.isna().to_numpy()
    if missing.all():
        raise chk.fail(name, chk.text("only missing values"), "a group label for every row")
    if missing.any():
        r = int(np.flatnonzero(missing)[0])
        label = data.index[r]
        raise chk.fail(
            name,
            None,
            "a group label for every row",
            row=label if isinstance(label, int | str) else r,
        )
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.cat.remove_unused_categories()
    return col.rename(name)


def metrics_by_group(
    data: pd.DataFrame,
    *,
    y_true: str = "y_true",
    y_score: str | None = None,
    y_pred: str | None = None,
    groups: Sequence[str] | None = None,
    task: Task | None = None,
    cutoff: float = 0.5,
    metrics: Mapping[str, GroupMetricFn] | None = None,
) -> GroupMetrics:
    """Every metric overall and by group, for each group column, with the largest gaps.

    Parameters
    ----------
    data : DataFrame
        One row per child: the truth, a score or a prediction, and the group columns.
    y_true : str, default "y_true"
        Column of the truth: 0/1 (tasks ``"score"``, ``"flag"``) or step 0-6 (``"steps"``).
    y_score : str, optional
        Column of a continuous score (higher = more concern); gives task ``"score"``.
    y_pred : str, optional
        Column of 0/1 flags (task ``"flag"``) or suggested steps (task ``"steps"``).
    groups : sequence of str, optional
        Group columns; default those of :data:`DEFAULT_GROUPS` present in ``data``.
    task : {"score", "flag", "steps"}, optional
        Default ``"score"`` with ``y_score``, else ``"flag"``.
    cutoff : float, default 0.5
        The rule ``y_score >= cutoff`` for the rates of task ``"score"``.
    metrics : dict of str to callable, optional
        ``fn(y_true, y_score_or_pred) -> float`` on numpy arrays; default
        :func:`default_metrics`. A metric undefined in a group (AUC where the group has
        only one class) should return ``NaN``.

    Returns
    -------
    GroupMetrics

    Notes
    -----
    ``MetricFrame`` converts every row for every metric call in Python, so the time grows
    with rows x metrics x group columns: about a second per group column for 50,000 children
    and the default metrics. Group sizes are counted with pandas, outside the frames.

    Examples
    --------
    ::

        group a: y 1 1 0 0, flags 1 1 0 0 -> sensitivity 1.0
        group b: y 1 1 0 0, flags 1 0 0 0 -> sensitivity 0.5      difference 0.5

    >>> import pandas as pd
    >>> from opsporing.evaluation import metrics_by_group
    >>> d = pd.DataFrame({"y_true": [1, 1, 0, 0] * 2, "flag": [1, 1, 0, 0, 1, 0, 0, 0],
    ...                   "sex": ["a"] * 4 + ["b"] * 4})
    >>> g = metrics_by_group(d, y_pred="flag", groups=["sex"])
    >>> g.gaps.set_index("metric").loc["sensitivity", ["group_min", "group_max", "difference"]]
    group_min     0.5
    group_max     1.0
    difference    0.5
    Name: sensitivity, dtype: float64
    """
    if not isinstance(data, pd.DataFrame):
        raise chk.fail("data", chk.text(type(data).__name__), "a pandas DataFrame")
    if len(data) == 0:
        raise chk.fail("data", chk.text("a table without rows"), "at least one child")
    if (y_score is None) == (y_pred is None):
        raise chk.fail("y_score/y_pred", (y_score, y_pred), "exactly one of the two columns")
    if task is None:
        task = "score" if y_score is not None else "flag"
    predicted_col = y_score if y_score is not None else y_pred
    assert predicted_col is not None
    truth = chk.column(data, y_true, "y_true")
    predicted = chk.column(data, predicted_col, "y_score" if y_score else "y_pred")
    is_prob = False
    if task == "steps":
        y = chk.steps(truth, y_true)
        s: np.ndarray = chk.steps(predicted, predicted_col)
    elif task in ("score", "flag"):
        y = chk.binary(truth, y_true)
        if task == "score":
            s = chk.scores(predicted, predicted_col)
            is_prob = bool(((s >= 0) & (s <= 1)).all())
        else:
            s = chk.binary(predicted, predicted_col)
    else:
        raise chk.fail("task", task, "'score', 'flag' or 'steps'")
    if isinstance(groups, str):
        groups = [groups]
    if groups is None:
        groups = [g for g in DEFAULT_GROUPS if g in data.columns]
        if not groups:
            raise chk.fail(
                "groups",
                chk.text("none given"),
                f"group columns (none of {DEFAULT_GROUPS} in the table)",
            )
    chosen = (
        dict(metrics)
        if metrics is not None
        else default_metrics(task, cutoff=cutoff, probabilities=is_prob)
    )
    if not chosen:
        raise chk.fail("metrics", chk.text("{}"), "at least one metric")
    frames: dict[str, Any] = {}
    by_parts, gap_parts = [], []
    overall: pd.Series | None = None
    for name in groups:
        sf = _group_column(data, name)
        labels = sf.to_numpy(dtype=object)
        frame = MetricFrame(metrics=chosen, y_true=y, y_pred=s, sensitive_features=labels)
        frames[name] = frame
        # group sizes by pandas (cheap), not as MetricFrame metrics (each costs a pass)
        sizes = pd.DataFrame({"n": 1, "n_positive": (y > 0).astype(np.int64)}).groupby(labels).sum()
        order = list(sf.cat.categories) if isinstance(sf.dtype, pd.CategoricalDtype) else None
        by_parts.append(_tidy_by_group(frame, name, chosen, order, sizes))
        gap_parts.append(_tidy_gaps(frame, name, chosen, sizes["n"]))
        if overall is None:
            overall = frame.overall[list(chosen)].astype(np.float64)
    if overall is None:
        raise DataError("groups: an empty list: expected at least one group column")
    return GroupMetrics(
        overall=overall.rename(None),
        by_group=pd.concat(by_parts, ignore_index=True),
        gaps=pd.concat(gap_parts, ignore_index=True),
        frames=frames,
    )


def _tidy_by_group(
    frame: Any,
    name: str,
    chosen: Mapping[str, Any],
    order: list[Any] | None,
    sizes: pd.DataFrame,
) -> pd.DataFrame:
    bg = frame.by_group.copy()
    bg.index = pd.Index(list(bg.index), name="group")
    if order is not None:  # an ordered categorical (age bands) keeps its own order
        bg = bg.reindex([g for g in order if g in bg.index])
    long = (
        bg[list(chosen)]
        .astype(np.float64)
        .reset_index()
        .melt(id_vars="group", var_name="metric", value_name="value")
    )
    long.insert(0, "group_column", name)
    long["n"] = long["group"].map(sizes["n"]).astype(np.int64)
    long["n_positive"] = long["group"].map(sizes["n_positive"]).astype(np.int64)
    long["overall"] = long["metric"].map(frame.overall.astype(np.float64))
    long["difference"] = long["metric"].map(frame.difference().astype(np.float64))
    long["ratio"] = long["metric"].map(frame.ratio().astype(np.float64))
    out: pd.DataFrame = long.loc[:, list(BY_GROUP_COLUMNS)]
    return out


def _tidy_gaps(frame: Any, name: str, chosen: Mapping[str, Any], n: pd.Series) -> pd.DataFrame:
    compared = list(chosen)
    bg = frame.by_group[compared].astype(np.float64)
    sizes = n.reindex(bg.index).astype(np.float64)
    valid = bg.notna()
    return pd.DataFrame(
        {
            "group_column": name,
            "metric": compared,
            "overall": frame.overall[compared].astype(np.float64).to_numpy(),
            "group_min": frame.group_min(errors="coerce")[compared].astype(np.float64).to_numpy(),
            "group_max": frame.group_max(errors="coerce")[compared].astype(np.float64).to_numpy(),
            "difference": frame.difference()[compared].astype(np.float64).to_numpy(),
            "ratio": frame.ratio()[compared].astype(np.float64).to_numpy(),
            "min_group": [bg[m].idxmin() if valid[m].any() else None for m in compared],
            "max_group": [bg[m].idxmax() if valid[m].any() else None for m in compared],
            "n_groups": [int(valid[m].sum()) for m in compared],
            "smallest_n": [int(sizes[valid[m]].min()) if valid[m].any() else 0 for m in compared],
        }
    ).loc[:, list(GAP_COLUMNS)]


def fairness_table(
    data: pd.DataFrame,
    *,
    y_true: str = "y_true",
    y_score: str | None = None,
    y_pred: str | None = None,
    groups: Sequence[str] | None = None,
    task: Task | None = None,
    cutoff: float = 0.5,
    metrics: Mapping[str, GroupMetricFn] | None = None,
) -> pd.DataFrame:
    """The tidy by-group table of :func:`metrics_by_group` (same parameters).

    One row per group column x group x metric with columns ``group_column, group, metric,
    value, n, n_positive, overall, difference, ratio``.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import fairness_table
    >>> d = pd.DataFrame({"y_true": [1, 0, 1, 0], "flag": [1, 0, 0, 0],
    ...                   "setting": ["skole", "skole", "dagtilbud", "dagtilbud"]})
    >>> t = fairness_table(d, y_pred="flag", groups=["setting"])
    >>> t[t.metric == "sensitivity"][["group", "value", "n", "difference"]]
           group  value  n  difference
    2  dagtilbud    0.0  2         1.0
    3      skole    1.0  2         1.0
    """
    return metrics_by_group(
        data,
        y_true=y_true,
        y_score=y_score,
        y_pred=y_pred,
        groups=groups,
        task=task,
        cutoff=cutoff,
        metrics=metrics,
    ).by_group
