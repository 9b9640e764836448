"""The usual appendix in one call: detection, calibration, staircase and fairness sections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _checks as chk
from ._compare import compare_scores
from ._fairness import DEFAULT_GROUPS, metrics_by_group
from ._ordinal import staircase_error
from ._plots import (
    plot_decision_curve,
    plot_group_metric,
    plot_pr,
    plot_reliability,
    plot_roc,
    plot_step_confusion,
)
from ._report import Content, Section

_CAVEAT = (
    "Every number here describes the children in this table and nothing else. If the table "
    "is synthetic (opsporing.synthetic), the numbers describe the simulation, not real "
    "children; they show that the method works, not that a cut-off or model is valid."
)


def evaluation_sections(
    data: pd.DataFrame,
    *,
    y_true: str = "y_true",
    scores: Sequence[str],
    cutoffs: Mapping[str, float] | None = None,
    groups: Sequence[str] | None = None,
    fairness_score: str | None = None,
    steps: tuple[str, str] | None = None,
    n_bins: int = 10,
    probabilities: Sequence[str] | None = None,
    intervals: pd.DataFrame | None = None,
    group_intervals: pd.DataFrame | None = None,
) -> list[Section]:
    """The standard sections of an evaluation report, ready for :func:`report`.

    Parameters
    ----------
    data : DataFrame
        One row per child: ``y_true`` (0/1), the score columns, group columns, and
        optionally a true and a suggested step.
    y_true : str, default "y_true"
    scores : sequence of str
        Score columns to compare (see :func:`compare_scores`); probabilities also get the
        calibration section. ``NaN`` in a score means "no score for this child" (no
        suggestion): that score is measured on the others, ``n_no_score`` says how many
        it lacks, and the curves are drawn on the children every score has.
    cutoffs : dict of str to float, optional
        Cut-offs per score (see :func:`compare_scores`); also used for fairness.
    groups : sequence of str, optional
        Group columns for the fairness section; default those of ``DEFAULT_GROUPS`` present.
        No fairness section when there are none.
    fairness_score : str, optional
        The score whose gaps are shown; default the first of ``scores``.
    steps : (str, str), optional
        Columns of the true and the suggested step for the staircase section.
    n_bins : int, default 10
        Equal-width bins of ECE and the reliability diagrams.
    probabilities : sequence of str, optional
        The scores that are probabilities (see :func:`compare_scores`).
    intervals : DataFrame, optional
        Confidence intervals to show under the detection table (e.g. from
        :func:`opsporing.evaluation.detection_intervals`).
    group_intervals : DataFrame, optional
        Confidence intervals of the group differences, shown in the fairness section.

    Returns
    -------
    list of Section
        "Data", "Detection", "Calibration" (if any probability), "Staircase" (if ``steps``)
        and "Fairness" (if any group column).

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import evaluation_sections
    >>> d = pd.DataFrame({"y_true": [0, 0, 1, 1] * 3, "p": [0.1, 0.4, 0.35, 0.8] * 3,
    ...                   "sex": ["pige", "dreng"] * 6})
    >>> [s.title for s in evaluation_sections(d, scores=["p"])]
    ['Data', 'Detection', 'Calibration', 'Fairness']
    """
    table = compare_scores(
        data,
        y_true=y_true,
        scores=scores,
        cutoffs=cutoffs,
        n_bins=n_bins,
        probabilities=probabilities,
    )
    y = data[y_true]
    n, n_pos = len(data), int(np.asarray(y).sum())
    counts = pd.Series(
        {"children": n, "in need (y_true = 1)": n_pos, "prevalence": n_pos / n},
        name="value",
        dtype=object,  # counts stay integers
    )
    out = [Section("Data", (_CAVEAT, counts))]
    named = data[list(scores)]
    common = named.notna().all(axis=1).to_numpy()
    note = (
        ""
        if common.all()
        else f" Curves: the {int(common.sum()):,} children with every score "
        f"({int((~common).sum()):,} lack at least one)."
    )
    detection: list[Content] = [
        "AUC, average precision and the rates at each score's cut-off "
        "(score >= cut-off flags a child); Brier score and ECE for probabilities only." + note,
        table,
    ]
    if intervals is not None:
        detection += ["Bootstrap confidence intervals:", intervals]
    detection += [plot_roc(y[common], named[common]), plot_pr(y[common], named[common])]
    out.append(Section("Detection", tuple(detection)))
    probs = [str(s) for s, p in zip(table["score"], table["is_probability"], strict=True) if p]
    if probs:
        has = data[probs].notna().all(axis=1).to_numpy()
        out.append(
            Section(
                "Calibration",
                (
                    f"Reliability diagram with {n_bins} equal-width bins; decision curve: net "
                    "benefit against the threshold probability, with refer all / refer none.",
                    plot_reliability(y[has], data.loc[has, probs], n_bins=n_bins),
                    plot_decision_curve(y[has], data.loc[has, probs]),
                ),
            )
        )
    if steps is not None:
        true_col, pred_col = steps
        t = chk.column(data, true_col, "steps")
        p = chk.column(data, pred_col, "steps")
        stepped = (t.notna() & p.notna()).to_numpy()
        t, p = t[stepped], p[stepped]
        lacking = (
            ""
            if stepped.all()
            else f" Children without a suggested step (red flags, abstentions: "
            f"{int((~stepped).sum()):,}) are not in this table."
        )
        out.append(
            Section(
                "Staircase",
                (
                    "Suggested vs true step. Under-suggestion (below the diagonal) costs 2 per "
                    "step, over-suggestion 1 per step in the cost-weighted error." + lacking,
                    staircase_error(t, p).rename("value"),
                    plot_step_confusion(t, p),
                ),
            )
        )
    if groups is None:
        groups = [g for g in DEFAULT_GROUPS if g in data.columns]
    if groups:
        score = fairness_score or str(scores[0])
        at = table.index[table["score"] == score]
        if not len(at):
            raise chk.fail("fairness_score", score, f"one of the scores {list(scores)}")
        cut = float(table["cutoff"].to_numpy()[at[0]])
        if np.isnan(cut):
            raise chk.fail("cutoffs", chk.text(f"no cut-off for {score!r}"), "a cut-off for it")
        scored = data[data[score].notna().to_numpy()]
        g = metrics_by_group(
            scored, y_true=y_true, y_score=score, groups=groups, cutoff=cut, task="score"
        )
        content: list[Content] = [
            f"Metrics of {score!r} (cut-off {cut:g}) by group; difference = largest minus "
            "smallest group value (fairlearn MetricFrame). Small groups give noisy gaps: "
            "check n and n_positive.",
            g.gaps,
        ]
        if group_intervals is not None:
            content += ["Bootstrap confidence intervals of the group differences:", group_intervals]
        content += [plot_group_metric(g.by_group, m) for m in ("flag_rate", "sensitivity")]
        out.append(Section("Fairness", tuple(content)))
    return out
