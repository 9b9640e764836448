"""Figures for the evaluation: ROC, precision-recall, reliability, decision curve, steps, groups.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot``, no
global state, no window), renders with the Agg backend when saved, and returns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import _checks as chk
from ._calibration import Strategy, decision_curve, reliability_table
from ._detection import average_precision, pr_curve, roc_auc, roc_curve
from ._ordinal import step_confusion

_SIZE = (5.0, 4.0)


def _named(scores: Any) -> dict[str, Any]:
    """A score, a dict of named scores, or a DataFrame (one score per column)."""
    if isinstance(scores, pd.DataFrame):
        return {str(c): scores[c] for c in scores.columns}
    if isinstance(scores, Mapping):
        return {str(k): v for k, v in scores.items()}
    if isinstance(scores, pd.Series) and scores.name is not None:
        return {str(scores.name): scores}
    return {"score": scores}


def plot_roc(y_true: Any, scores: Any, *, title: str = "ROC") -> Figure:
    """ROC curves of one or more scores, AUC in the legend, chance diagonal dashed.

    Examples
    --------
    >>> from opsporing.evaluation import plot_roc
    >>> fig = plot_roc([0, 0, 1, 1], {"model": [0.1, 0.4, 0.35, 0.8]})
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'model (AUC 0.750)'
    """
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    for name, s in _named(scores).items():
        curve = roc_curve(y_true, s)
        ax.step(
            curve["fpr"], curve["tpr"], where="post", label=f"{name} (AUC {roc_auc(y_true, s):.3f})"
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(
        xlabel="1 - specificity (false-positive rate)",
        ylabel="sensitivity",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_pr(y_true: Any, scores: Any, *, title: str = "Precision-recall") -> Figure:
    """Precision-recall curves, average precision in the legend, prevalence dashed."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    y = chk.binary(y_true, "y_true")
    for name, s in _named(scores).items():
        curve = pr_curve(y, s)
        ax.step(
            curve["recall"],
            curve["precision"],
            where="pre",
            label=f"{name} (AP {average_precision(y, s):.3f})",
        )
    ax.axhline(
        float(y.mean()),
        linestyle="--",
        color="grey",
        linewidth=0.8,
        label=f"prevalence {y.mean():.3f}",
    )
    ax.set(
        xlabel="recall (sensitivity)",
        ylabel="precision (PPV)",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_reliability(
    y_true: Any,
    probabilities: Any,
    *,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
    title: str = "Reliability diagram",
) -> Figure:
    """Reliability diagram: observed rate vs mean predicted probability per bin, with the
    diagonal of perfect calibration and a histogram of the predictions below."""
    fig = Figure(figsize=(5.0, 5.0))
    ax, hist = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for name, p in _named(probabilities).items():
        t = reliability_table(y_true, p, n_bins=n_bins, strategy=strategy)
        ax.plot(t["mean_predicted"], t["observed_rate"], marker="o", label=name)
        hist.hist(chk.probabilities(p, name), bins=np.linspace(0, 1, 21), histtype="step")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="perfect")
    ax.set(ylabel="observed rate", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    hist.set(xlabel="predicted probability", ylabel="children")
    fig.tight_layout()
    return fig


def plot_decision_curve(
    y_true: Any,
    probabilities: Any,
    *,
    thresholds: Iterable[float] | None = None,
    title: str = "Decision curve",
) -> Figure:
    """Net benefit vs threshold probability, with "refer all" and "refer none"."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    curve = pd.DataFrame()
    for name, p in _named(probabilities).items():
        curve = decision_curve(y_true, p, thresholds)
        ax.plot(curve["threshold"], curve["net_benefit"], label=name)
    ax.plot(curve["threshold"], curve["refer_all"], color="grey", label="refer all")
    ax.axhline(0.0, color="black", linewidth=0.8, label="refer none")
    prevalence = float(curve["refer_all"].iloc[0]) if len(curve) else 0.0
    ax.set(
        xlabel="threshold probability",
        ylabel="net benefit",
        title=title,
        ylim=(min(-0.05, -abs(prevalence) * 0.2), max(0.05, prevalence * 1.1 + 0.01)),
    )
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_step_confusion(
    y_true: Any, y_pred: Any, *, title: str = "Suggested vs true step"
) -> Figure:
    """Heat map of :func:`step_confusion`, counts written in the cells; cells below the
    diagonal are under-suggestions."""
    m = step_confusion(y_true, y_pred)
    fig = Figure(figsize=(5.0, 4.5))
    ax = fig.add_subplot()
    image = ax.imshow(m.to_numpy(), cmap="Blues")
    for (i, j), v in np.ndenumerate(m.to_numpy()):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7)
    ax.set(
        xticks=range(7), yticks=range(7), xlabel="suggested step", ylabel="true step", title=title
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def plot_group_metric(by_group: pd.DataFrame, metric: str, *, title: str | None = None) -> Figure:
    """Horizontal bars of one metric per group, one panel per group column, overall dashed.

    ``by_group`` is :attr:`GroupMetrics.by_group` (or :func:`fairness_table`).
    """
    for col in ("group_column", "group", "metric", "value", "overall"):
        chk.column(by_group, col, "by_group")
    rows = by_group[by_group["metric"] == metric]
    if rows.empty:
        raise chk.fail("metric", metric, f"one of {sorted(by_group['metric'].unique())}")
    columns = list(dict.fromkeys(rows["group_column"]))
    fig = Figure(figsize=(5.0, 1.2 + 0.9 * len(columns) + 0.25 * len(rows)))
    axes = np.atleast_1d(fig.subplots(len(columns), 1, squeeze=False)[:, 0])
    for ax, col in zip(axes, columns, strict=True):
        part = rows[rows["group_column"] == col]
        ax.barh([str(g) for g in part["group"]], part["value"], color="tab:blue")
        ax.axvline(float(part["overall"].iloc[0]), linestyle="--", color="grey", linewidth=0.8)
        ax.set_title(col, fontsize=9, loc="left")
    axes[-1].set_xlabel(metric)
    fig.suptitle(title or f"{metric} by group", fontsize=10)
    fig.tight_layout()
    return fig
