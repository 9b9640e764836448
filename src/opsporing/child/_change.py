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

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import DataError, Problem
from ._reliability import resolve_reliability

if TYPE_CHECKING:  # pragma: no cover
    from ._record import ChildRecord

__all__ = ["CHANGE_COLUMNS", "reliable_change", "reliable_change_index"]

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
    table = resolve_reliability(reliability)
    traj = record.trajectory()
    traj = traj[traj["level"].notna()]
    ranges = {
        (f.instrument, v.domain): v.score_range
        for r in record.rounds
        for f in r.forms
        for v in f.views
    }

    missing: set[str] = set()

    def sem(instrument: str, domain: str) -> float | None:
        if instrument not in table:
            missing.add(instrument)
            return None
        fig = table[instrument].get(domain)
        if fig is None:
            return None
        lo, hi = ranges[(instrument, domain)]
        return fig.sem / (hi - lo)

    rows = []
    for (informant, domain), track in traj.groupby(["informant", "domain"], sort=False):
        seq: list[dict[str, Any]] = [
            {str(k): v for k, v in rec.items()}
            for rec in track.sort_values(["date", "round_id"]).to_dict("records")
        ]
        for a, b in itertools.pairwise(seq):
            sem_a, sem_b = sem(a["instrument"], str(domain)), sem(b["instrument"], str(domain))
            if sem_a is None or sem_b is None:
                continue
            before, after = float(a["level"]), float(b["level"])
            rci = reliable_change_index(before, after, sem_a, sem_b)
            rows.append(
                {
                    "child_id": record.child_id,
                    "informant": informant,
                    "domain": domain,
                    "from_round": a["round_id"],
                    "to_round": b["round_id"],
                    "from_date": a["date"],
                    "to_date": b["date"],
                    "from_instrument": a["instrument"],
                    "to_instrument": b["instrument"],
                    "from_level": before,
                    "to_level": after,
                    "change": after - before,
                    "s_diff": math.hypot(sem_a, sem_b),
                    "rci": rci,
                    "reliable_change": (
                        "deterioration" if rci > z else "improvement" if rci < -z else "none"
                    ),
                }
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
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)
