"""A waterfall-style plot of one explanation (matplotlib, no display needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..vocabulary import Language
from ._shap import Explanation


def _p(margin: float) -> float:
    return float(1.0 / (1.0 + np.exp(-margin)))


def plot_waterfall(
    explanation: Explanation, lang: Language = "da", max_display: int = 8, ax: Any = None
) -> Any:
    """Waterfall of one explanation: from the base value, group by group, to the child.

    Draws on ``ax`` when given; otherwise creates a :class:`matplotlib.figure.Figure`
    (no pyplot, no GUI backend needed). Returns the figure.
    """
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(7.5, 0.45 * (max_display + 2) + 1.0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    shown = list(explanation.reasons[:max_display])
    rest = sum(r.contribution for r in explanation.reasons[max_display:])
    labels = [r.label.get(lang) for r in shown]
    values = [r.contribution for r in shown]
    if explanation.reasons[max_display:]:
        labels.append("øvrige oplysninger" if lang == "da" else "everything else")
        values.append(rest)
    start = explanation.base_value
    y = np.arange(len(values))[::-1]
    for yi, value in zip(y, values, strict=True):
        color = "#c0392b" if value > 0 else "#2874a6"
        ax.barh(yi, value, left=start, color=color, height=0.6)
        ax.text(
            start + value,
            yi,
            f" {value:+.2f} ",
            va="center",
            ha="left" if value > 0 else "right",
            fontsize=8,
        )
        start += value
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(explanation.base_value, color="grey", lw=0.8, ls="--")
    ax.axvline(explanation.margin, color="black", lw=0.8)
    if lang == "da":
        ax.set_xlabel("log-odds for behov ud over almene tilbud (trin ≥ 1)")
        title = (
            f"Gennemsnit {_p(explanation.base_value):.0%} → dette barn "
            f"{_p(explanation.margin):.0%} (før kalibrering)"
        )
    else:
        ax.set_xlabel("log-odds of needing more than universal services (step ≥ 1)")
        title = (
            f"Average {_p(explanation.base_value):.0%} → this child "
            f"{_p(explanation.margin):.0%} (before calibration)"
        )
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
