"""The trajectory figure: each domain's concern level over time, one line per informant."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .._texts import Lang, tr
from ..errors import DataError, Problem
from ._record import ChildRecord
from ._round import INFORMANTS

__all__ = ["plot_trajectory"]

_BAND_COLOUR = {"grøn": "#2e7d32", "gul": "#f9a825", "rød": "#c62828"}
_LINE = {"educator": "-", "parent": "--", "child": ":"}


def plot_trajectory(
    record: ChildRecord,
    *,
    domains: Sequence[str] | None = None,
    lang: Lang = "da",
    reliability: Mapping[str, Any] | None = None,
) -> Figure:
    """A figure of the child's trajectory: one panel per domain.

    Each informant is a line of the concern level (0 = least concern the form can show,
    1 = most); each point is coloured by its band. A reliable deterioration is marked ▲,
    a reliable improvement ▼ (with reliability figures for every instrument compared, as
    for :func:`opsporing.child.reliable_change`; otherwise the figure says which are
    missing); a change of instrument (daycare to
    school) is a grey dotted line; each decision a black dashed line with its step.

    Examples
    --------
    >>> from datetime import date
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.child import ChildRecord, RoundForm, score_round
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> emo = [i.id for i in inst.items_in("emotional")]
    >>> rounds = [score_round([RoundForm("C1", f"r{k}", date(2024 + k, 9, 1), inst,
    ...                                  dict.fromkeys(emo, k))]) for k in range(3)]
    >>> fig = plot_trajectory(ChildRecord.build("C1", rounds), domains=["emotional"], lang="en")
    >>> [ax.get_title() for ax in fig.axes]
    ['Emotional well-being']
    """
    if not isinstance(record, ChildRecord):
        raise DataError(Problem("record", type(record).__name__, "a ChildRecord", kind="type"))
    traj = record.trajectory()
    shown = list(domains) if domains is not None else list(dict.fromkeys(traj["domain"]))
    unknown = [d for d in shown if d not in set(traj["domain"])]
    if unknown or not shown:
        raise DataError(
            *[Problem("domains", d, "a domain of the record's forms") for d in unknown]
            or [Problem("record", "(no rounds)", "at least one scored round")]
        )
    try:
        change: pd.DataFrame | None = record.reliable_change(reliability)
        missing = ""
    except DataError as err:  # shown on the figure, not hidden
        change = None
        missing = ", ".join(str(p.value) for p in err.problems)
    labels = {d.domain: d.label.get(lang) for r in record.rounds for d in r.domains}
    cols = 1 if len(shown) == 1 else 2
    nrows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(6.0 * cols, 2.6 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False, sharex=True)
    for k, domain in enumerate(shown):
        ax = axes[k // cols][k % cols]
        part = traj[traj["domain"] == domain]
        plotted = False
        for who in INFORMANTS:
            line = part[(part["informant"] == who) & part["level"].notna()]
            if line.empty:
                continue
            ax.plot(line["date"], line["level"], _LINE[who], color="0.3", label=_who(who, lang))
            ax.scatter(
                line["date"], line["level"], c=[_BAND_COLOUR[b] for b in line["band"]], zorder=3
            )
            _transitions(ax, line)
            plotted = True
        if change is not None and not change.empty:
            for kind, marker in (("deterioration", "^"), ("improvement", "v")):
                hit = change[(change["domain"] == domain) & (change["reliable_change"] == kind)]
                ax.scatter(hit["to_date"], hit["to_level"], marker=marker, s=120,
                           facecolors="none", edgecolors="black", zorder=4)  # fmt: skip
        for d in record.decision_frame().to_dict("records"):
            when = pd.Timestamp(d["decided_at"]).tz_localize(None)
            ax.axvline(when, color="black", linestyle="--", linewidth=0.8)
            ax.annotate(
                tr("step {step}", lang, step=d["chosen_step"]),
                (when, 1.0),
                fontsize=7,
                va="top",
            )
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(labels.get(domain, domain))
        ax.set_ylabel(tr("concern level", lang))
        if plotted:
            ax.legend(fontsize=7, loc="upper left")
    for k in range(len(shown), nrows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(tr("Trajectory of {child}", lang, child=record.child_id))
    if missing:
        fig.supxlabel(
            tr(
                "reliable change not shown: no reliability figures for {names}", lang, names=missing
            ),
            fontsize=7,
        )
    return fig


def _transitions(ax: Any, line: pd.DataFrame) -> None:
    changed = line["instrument"].ne(line["instrument"].shift()) & line["instrument"].shift().notna()
    for when in line.loc[changed, "date"]:
        ax.axvline(when, color="0.6", linestyle=":", linewidth=1)


def _who(informant: str, lang: Lang) -> str:
    # One literal tr() per informant, so the catalog's extractor finds each message.
    if informant == "parent":
        return tr("parent", lang)
    if informant == "child":
        return tr("child", lang)
    return tr("educator", lang)
