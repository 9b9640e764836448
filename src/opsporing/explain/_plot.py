"""A waterfall-style plot of one explanation (matplotlib, no display needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..vocabulary import Language
from ._shap import Explanation


def _pct(p: float, lang: Language, signed: bool = False) -> str:
    """A percentage as people read it: ``33 %`` / ``+2,5 %-point`` in Danish."""
    text = f"{100 * p:+.1f}" if signed else f"{100 * p:.0f}"
    if signed:
        text = text.rstrip("0").rstrip(".") if "." in text else text
    if lang == "da":
        return text.replace(".", ",") + (" %-point" if signed else " %")
    return text + (" pp" if signed else "%")


def plot_waterfall(
    explanation: Explanation, lang: Language = "da", max_display: int = 8, ax: Any = None
) -> Any:
    """Waterfall of one explanation in probabilities, from the average child to this child.

    The bars run from the calibrated ``P(step >= 1)`` of the average child to this
    child's (the probability the suggestion shows). Each group's bar is its share of
    that change, in proportion to its SHAP value (the calibration is monotone, so every
    bar keeps the direction of its SHAP value and the bars add up exactly). Numbers in
    Danish format on Danish plots. Draws on ``ax`` when given; otherwise creates a
    :class:`matplotlib.figure.Figure` (no pyplot, no GUI backend). Returns the figure.
    """
    from matplotlib.figure import Figure

    if explanation.probability is None or explanation.base_probability is None:
        raise ValueError("explanation: no probabilities: expected one made by an Explainer")
    if ax is None:
        fig = Figure(figsize=(7.5, 0.45 * (max_display + 2) + 1.0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    shown = list(explanation.reasons[:max_display])
    rest = sum(r.contribution for r in explanation.reasons[max_display:])
    labels = [r.label.get(lang) for r in shown]
    logits = [r.contribution for r in shown]
    if explanation.reasons[max_display:]:
        labels.append("øvrige oplysninger" if lang == "da" else "everything else")
        logits.append(rest)
    total = explanation.margin - explanation.base_value
    change = explanation.probability - explanation.base_probability
    scale = change / total if abs(total) > 1e-12 else 0.0
    values = [v * scale for v in logits]
    start = explanation.base_probability
    y = np.arange(len(values))[::-1]
    for yi, value in zip(y, values, strict=True):
        color = "#c0392b" if value > 0 else "#2874a6"
        ax.barh(yi, value, left=start, color=color, height=0.6)
        ax.text(
            start + value,
            yi,
            f" {_pct(value, lang, signed=True)} ",
            va="center",
            ha="left" if value >= 0 else "right",
            fontsize=8,
        )
        start += value
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(explanation.base_probability, color="grey", lw=0.8, ls="--")
    ax.axvline(explanation.probability, color="black", lw=0.8)
    ax.xaxis.set_major_formatter(lambda x, _pos: _pct(x, lang))
    base, child = _pct(explanation.base_probability, lang), _pct(explanation.probability, lang)
    if lang == "da":
        ax.set_xlabel("sandsynlighed for behov ud over almene tilbud (trin ≥ 1)")
        title = f"Gennemsnitsbarnet {base} → dette barn {child}"
    else:
        ax.set_xlabel("probability of needing more than universal services (step ≥ 1)")
        title = f"Average child {base} → this child {child}"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
