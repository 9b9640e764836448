"""Trajectory features per child, from a child's record of screening rounds.

The step-suggestion model builds its own trend features from score tables
(:func:`opsporing.model.build_features`: ``n_earlier``, ``slope.<d>``,
``mean_earlier.<d>``) with the same slope rule (:mod:`opsporing._trajectory`); these
describe a :class:`ChildRecord` for people and for research.

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

from .._trajectory import slope_by_group
from ..errors import DataError, Problem
from ._change import changes
from ._record import ChildRecord, long_frame
from ._reliability import resolve_reliability
from ._round import INFORMANTS
from ._scale import BANDS

__all__ = ["trajectory_features"]

_DAYS_PER_YEAR = 365.25
_EPOCH = pd.Timestamp("2000-01-01")


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
    if informant not in INFORMANTS:
        raise DataError(Problem("informant", informant, f"one of {list(INFORMANTS)}"))
    if domains is not None and (
        isinstance(domains, str) or not all(isinstance(d, str) for d in domains)
    ):
        raise DataError(Problem("domains", domains, "a list of domain ids"))
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
    table = resolve_reliability(reliability)
    long = long_frame(records)
    win = long[long["pos"] >= long["n_rounds"] - window]
    seen = list(domains) if domains is not None else list(dict.fromkeys(win["domain"]))
    change = changes(win, table)
    index = pd.Index([r.child_id for r in records], name="child_id")
    frame = pd.DataFrame(index=index)
    kept = [r.rounds[-window:] for r in records]
    frame["traj.n_rounds"] = [len(k) for k in kept]
    frame["traj.years"] = [
        (k[-1].date - k[0].date).days / _DAYS_PER_YEAR if k else np.nan for k in kept
    ]
    by = ["child_id", "domain"]
    mine = win[(win["informant"] == informant) & win["level"].notna()].sort_values(
        ["child_id", "domain", "date", "round_id"], kind="stable"
    )
    level = mine.groupby(by)["level"].last()
    # Least squares per child and domain (the one slope rule, opsporing._trajectory).
    x = (mine["date"] - _EPOCH).dt.days.to_numpy(float) / _DAYS_PER_YEAR
    keys = pd.MultiIndex.from_frame(mine[by])
    codes, uniques = keys.factorize()
    slope = pd.Series(
        slope_by_group(codes, x, mine["level"].to_numpy(float), len(uniques)),
        index=pd.MultiIndex.from_tuples(list(uniques), names=by) if len(uniques) else keys[:0],
    )
    rounds = win.drop_duplicates(["child_id", "round_id", "domain"])
    flagged = rounds[rounds["combined_band"].isin(BANDS[1:])].groupby(by).size()
    worse = change[change["reliable_change"] == "deterioration"].groupby(by).size() > 0
    better = change[change["reliable_change"] == "improvement"].groupby(by).size() > 0
    stats = {"level": level, "slope": slope, "flagged": flagged, "worse": worse, "better": better}
    wide = {k: v.unstack("domain") for k, v in stats.items() if len(v)}

    def column(kind: str, domain: str) -> pd.Series:
        part = wide.get(kind)
        if part is None or domain not in part.columns:
            return pd.Series(np.nan, index=index, dtype=float)
        return part[domain].reindex(index).astype(float)

    for d in seen:
        frame[f"traj.level.{d}"] = column("level", d)
        frame[f"traj.slope.{d}"] = column("slope", d)
        # Absent from a count = none in the window (not unknown).
        frame[f"traj.flagged.{d}"] = column("flagged", d).fillna(0).astype(int)
        frame[f"traj.worse.{d}"] = column("worse", d).fillna(0).astype(bool)
        frame[f"traj.better.{d}"] = column("better", d).fillna(0).astype(bool)
    return frame
