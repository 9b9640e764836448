"""Reliable change (Jacobson & Truax 1991) on the common scale.

Between two rounds of one informant, the change of a domain's concern level is reliable
when it is larger than measurement error alone would make it at the 5 % level:

``RCI = (level_2 - level_1) / S_diff``,  ``S_diff = sqrt(SEM_1² + SEM_2²)``,

with ``SEM = sd * sqrt(1 - alpha) / (hi - lo)``: the instrument's standard error of
measurement in raw points, as a share of the domain's score range (the level's unit).
For one instrument at both rounds this is Jacobson and Truax's ``sqrt(2) * SEM`` exactly;
across the daycare-to-school transition each form brings its own SEM. ``|RCI| > 1.96``
is reliable; a positive RCI means more concern (deterioration, for strength domains too,
since the level counts towards concern).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError, Problem
from ._reliability import ReliabilityTable, resolve_reliability
from ._round import INFORMANTS

if TYPE_CHECKING:  # pragma: no cover
    from ._record import ChildRecord

__all__ = ["CHANGE_COLUMNS", "changes", "reliable_change", "reliable_change_index"]

CHANGE_COLUMNS = [
    "child_id", "informant", "domain", "from_round", "to_round", "from_date", "to_date",
    "from_instrument", "to_instrument", "from_level", "to_level", "change", "s_diff", "rci",
    "reliable_change",
]  # fmt: skip


def reliable_change_index(
    before: float, after: float, sem_before: float, sem_after: float | None = None
) -> float:
    """Jacobson-Truax reliable change index: ``(after - before) / sqrt(sem_b² + sem_a²)``.

    Examples
    --------
    Same instrument twice (SEM 1.2 points): a rise of 4 points.

    >>> round(reliable_change_index(2.0, 6.0, 1.2), 3)   # 4 / (1.2 * sqrt 2)
    2.357
    """
    sem_after = sem_before if sem_after is None else sem_after
    s_diff = math.sqrt(sem_before**2 + sem_after**2)
    if not (s_diff > 0 and math.isfinite(s_diff)):
        raise DataError(Problem("sem", s_diff, "a positive standard error of measurement"))
    return (after - before) / s_diff


def reliable_change(
    record: ChildRecord, reliability: Mapping[str, Any] | None = None, *, z: float = 1.96
) -> pd.DataFrame:
    """Reliable changes in every domain between each informant's consecutive rounds.

    Parameters
    ----------
    record : ChildRecord
    reliability : mapping, optional
        ``{"id@version": {domain: (alpha, sd)}}`` for instruments not in the shipped
        table (``opsporing/child/data/reliability.yaml``), or to use one's own figures.
    z : float
        The threshold on ``|RCI|`` (1.96: two-sided 5 %).

    Returns
    -------
    DataFrame
        One row per informant, domain and pair of consecutive rounds in which that
        informant scored the domain: the levels, ``change``, ``s_diff``, ``rci`` and
        ``reliable_change`` (``"deterioration"``, ``"improvement"`` or ``"none"``).
        Domains an instrument's table leaves out (safety: red flags act at once) are
        not weighed.

    Raises
    ------
    DataError
        An instrument used in two rounds to compare but without reliability figures
        (each named, with how to give them).
    """
    from ._record import long_frame

    return changes(long_frame([record]), resolve_reliability(reliability), z=z)


def changes(long: pd.DataFrame, table: ReliabilityTable, *, z: float = 1.96) -> pd.DataFrame:
    """:func:`reliable_change` for the trajectories of many children at once.

    ``long`` is :func:`opsporing.child._record.long_frame` output; one vectorised pass.
    """
    if not (isinstance(z, int | float) and not isinstance(z, bool) and math.isfinite(z) and z > 0):
        raise DataError(Problem("z", z, "a positive number (1.96: two-sided 5 %)"))
    t = long[long["level"].notna()]
    t = t.assign(
        _who=t["informant"].map({w: k for k, w in enumerate(INFORMANTS)}),
        _dom=t["domain"].map({d: k for k, d in enumerate(dict.fromkeys(t["domain"]))}),
    ).sort_values(["child_id", "_who", "_dom", "date", "round_id"], kind="stable")
    sems = {}
    missing: set[str] = set()
    for inst, dom, lo, hi in (
        t[["instrument", "domain", "lo", "hi"]].drop_duplicates().itertuples(index=False)
    ):
        fig = table.get(str(inst), {}).get(str(dom))
        sems[(inst, dom)] = math.nan if fig is None else fig.sem / (float(hi) - float(lo))
    sem = pd.Series(
        [sems[k] for k in zip(t["instrument"], t["domain"], strict=True)], index=t.index
    )
    known = t["instrument"].isin(list(table))
    t = t.assign(_sem=sem)
    prev = t.groupby(["child_id", "informant", "domain"], sort=False)[
        ["round_id", "date", "instrument", "level", "_sem"]
    ].shift()
    pair = prev["round_id"].notna()
    prev_known = prev["instrument"].isin(list(table))
    missing |= set(t.loc[pair & ~known, "instrument"]) | set(
        prev.loc[pair & ~prev_known, "instrument"]
    )
    if missing:
        raise DataError(
            *[
                Problem(
                    "reliability",
                    key,
                    "figures for this instrument: reliability={'" + key + "': "
                    "{domain: (alpha, sd)}} (see docs/child-over-time.md)",
                    kind="missing_reliability",
                )
                for key in sorted(missing)
            ]
        )
    # Domains a table leaves out (safety) have no SEM: not weighed.
    keep = pair & t["_sem"].notna() & prev["_sem"].notna()
    now, before = t[keep], prev[keep]
    s_diff = np.hypot(now["_sem"].to_numpy(float), before["_sem"].to_numpy(float))
    change = now["level"].to_numpy(float) - before["level"].to_numpy(float)
    rci = change / s_diff
    verdict = np.where(rci > z, "deterioration", np.where(rci < -z, "improvement", "none"))
    out = pd.DataFrame(
        {
            "child_id": now["child_id"].to_numpy(),
            "informant": now["informant"].to_numpy(),
            "domain": now["domain"].to_numpy(),
            "from_round": before["round_id"].to_numpy(),
            "to_round": now["round_id"].to_numpy(),
            "from_date": pd.to_datetime(before["date"]).to_numpy(),
            "to_date": now["date"].to_numpy(),
            "from_instrument": before["instrument"].to_numpy(),
            "to_instrument": now["instrument"].to_numpy(),
            "from_level": before["level"].to_numpy(float),
            "to_level": now["level"].to_numpy(float),
            "change": change,
            "s_diff": s_diff,
            "rci": rci,
            "reliable_change": verdict,
        },
        columns=CHANGE_COLUMNS,
    )
    return out
