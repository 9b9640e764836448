"""Trajectory features per child: what the model may one day read besides the latest form.

One row per child, computed from the child's last ``window`` rounds (by date):

=========================  =============================================================
``traj.n_rounds``          rounds in the window
``traj.years``             years between the window's first and last round
``traj.level.<d>``         the informant's latest concern level of domain ``d`` (0-1)
``traj.slope.<d>``         least-squares slope of that informant's level per year over the
                           window (NaN with fewer than two rounds or no time between them)
``traj.flagged.<d>``       rounds in the window whose combined band of ``d`` is gul or rød
``traj.worse.<d>``         a reliable deterioration of ``d`` (any informant) in the window
``traj.better.<d>``        a reliable improvement of ``d`` (any informant) in the window
=========================  =============================================================

The level is the common scale (:mod:`opsporing.child`), so a child who moved from the
daycare form to the school form has one trajectory. The features carry no identifier
beyond the index (the pseudonymous child id) and no sensitive attribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, Problem
from ._change import reliable_change
from ._record import ChildRecord

__all__ = ["trajectory_features"]

_DAYS_PER_YEAR = 365.25


def _slope(days: np.ndarray, levels: np.ndarray) -> float:
    """Least-squares slope per year; NaN with fewer than two points or no time between."""
    ok = ~np.isnan(levels)
    x, y = days[ok] / _DAYS_PER_YEAR, levels[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def trajectory_features(
    records: Iterable[ChildRecord],
    *,
    window: int = 3,
    informant: str = "educator",
    domains: Sequence[str] | None = None,
    reliability: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Trajectory features of each child (see the module docs for the columns).

    Parameters
    ----------
    records : iterable of ChildRecord
        One per child (child ids unique).
    window : int
        How many of the latest rounds to read (at least 2 for a slope).
    informant : {"educator", "parent", "child"}
        Whose levels give ``level`` and ``slope`` (the flags use every informant).
    domains : sequence of str, optional
        The domains to describe, in column order (give the model's list for a stable
        feature set); by default every domain seen, in order of first appearance.
    reliability : mapping, optional
        As for :func:`opsporing.child.reliable_change`.

    Returns
    -------
    DataFrame
        Indexed by ``child_id``.

    Examples
    --------
    >>> from datetime import date
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.child import ChildRecord, RoundForm, score_round
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> emo = [i.id for i in inst.items_in("emotional")]
    >>> rounds = [score_round([RoundForm("C1", f"r{k}", date(2024 + k, 9, 1), inst,
    ...                                  dict.fromkeys(emo, v))]) for k, v in enumerate([0, 1, 3])]
    >>> f = trajectory_features([ChildRecord.build("C1", rounds)], domains=["emotional"])
    >>> cols = ["traj.n_rounds", "traj.flagged.emotional", "traj.worse.emotional"]
    >>> f.loc["C1", cols].astype(int).tolist()  # 3 rounds, 2 of them gul/rød, worse: yes
    [3, 2, 1]
    >>> round(float(f.loc["C1", "traj.slope.emotional"]), 3)  # (0, 1/3, 1) over 2 years
    0.5
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise DataError(Problem("window", window, "a whole number of rounds, at least 1"))
    records = list(records)
    problems = [
        Problem("records", type(r).__name__, "a ChildRecord", row=i, kind="type")
        for i, r in enumerate(records)
        if not isinstance(r, ChildRecord)
    ]
    ids = [r.child_id for r in records if isinstance(r, ChildRecord)]
    problems += [
        Problem("child_id", c, "one record per child", kind="duplicate")
        for c in sorted({c for c in ids if ids.count(c) > 1})
    ]
    if problems:
        raise DataError(*problems)
    rows: dict[str, dict[str, Any]] = {}
    seen: list[str] = list(domains) if domains is not None else []
    for record in records:
        kept = record.rounds[-window:]
        last = ChildRecord(record.child_id, kept)
        traj = last.trajectory()
        if domains is None:
            seen += [d for d in dict.fromkeys(traj["domain"]) if d not in seen]
        change = reliable_change(last, reliability)
        row: dict[str, Any] = {"traj.n_rounds": len(kept)}
        row["traj.years"] = (
            (kept[-1].date - kept[0].date).days / _DAYS_PER_YEAR if kept else float("nan")
        )
        mine = traj[traj["informant"] == informant]
        for d in seen:
            track = mine[mine["domain"] == d].sort_values(["date", "round_id"])
            levels = track["level"].to_numpy(dtype=float)
            known = levels[~np.isnan(levels)]
            row[f"traj.level.{d}"] = float(known[-1]) if len(known) else float("nan")
            days = (track["date"] - track["date"].min()).dt.days.to_numpy(dtype=float)
            row[f"traj.slope.{d}"] = _slope(days, levels)
            row[f"traj.flagged.{d}"] = sum(
                1
                for r in kept
                if any(x.domain == d and x.combined_band in ("gul", "rød") for x in r.domains)
            )
            mask = change["domain"] == d
            row[f"traj.worse.{d}"] = bool(
                (change.loc[mask, "reliable_change"] == "deterioration").any()
            )
            row[f"traj.better.{d}"] = bool(
                (change.loc[mask, "reliable_change"] == "improvement").any()
            )
        rows[record.child_id] = row
    kinds = ("level", "slope", "flagged", "worse", "better")
    columns = ["traj.n_rounds", "traj.years"] + [f"traj.{k}.{d}" for d in seen for k in kinds]
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    frame.index.name = "child_id"
    for d in seen:  # a domain first seen in a later child: the earlier rows hold no flags
        for kind in ("flagged",):
            frame[f"traj.{kind}.{d}"] = frame[f"traj.{kind}.{d}"].fillna(0).astype(int)
        for kind in ("worse", "better"):
            frame[f"traj.{kind}.{d}"] = frame[f"traj.{kind}.{d}"].fillna(False).astype(bool)
    frame["traj.n_rounds"] = frame["traj.n_rounds"].astype(int)
    return frame
