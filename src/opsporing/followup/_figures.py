"""Key figures of the follow-up process, computed from the stored records of an audit log.

For a municipality (seed 003 follows its outcomes per 1,000 children aged 0-17 per staircase
step; seed 002/004 set movement *down* the staircase as the goal):

* **children per 1,000 at each step**: every child with a decision up to ``as_of``, at the
  step of their latest decision, per 1,000 of the municipality's ``population`` aged 0-17;
* **share of plans reviewed on time**: among plans whose review date is on or before
  ``as_of``, the share whose first review was made on or before that date;
* **days from first concern to first action**: per child, from their first screening with a
  concern (a concern code, a yellow or red band, or a decision at step 1 or above) to their
  first follow-up plan (the agreed actions); median and mean over the children with both;
* **escalations and de-escalations**: between a child's consecutive decisions, a higher
  step is an escalation, a lower one a de-escalation.

The steps are clear columns of the log; whether a screening showed a concern, and the plans
and reviews, are sealed personal records: they are opened through the logged read with the
``reader``'s purpose (one access entry per child). A record erased by retention no longer
counts.

Examples
--------
>>> import tempfile, pathlib
>>> from opsporing.web import AuditLog, Reader
>>> reader = Reader("A-1", "admin", "tilsyn", "cli")
>>> figures = key_figures(AuditLog(pathlib.Path(tempfile.mkdtemp()) / "a.sqlite"), 9048, reader)
>>> figures.children_with_decision, figures.share_reviewed_on_time
(0, None)
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from ..errors import FollowUpError, Problem
from ..vocabulary import load_vocabulary
from ._log import _read

if TYPE_CHECKING:  # pragma: no cover
    from ..web._records import Reader
    from ..web._store import AuditLog

__all__ = ["KeyFigures", "key_figures"]


@dataclass(frozen=True)
class KeyFigures:
    """What :func:`key_figures` found (see the module docstring for each definition)."""

    population: int
    as_of: str
    children_with_decision: int
    children_by_step: dict[int, int]
    per_1000_by_step: dict[int, float]
    plans_due: int
    plans_reviewed_on_time: int
    share_reviewed_on_time: float | None
    children_concern_to_action: int
    median_days_concern_to_action: float | None
    mean_days_concern_to_action: float | None
    escalations: int
    de_escalations: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _has_concern(row: dict[str, Any]) -> bool:
    # An erased screening (no scores left) counts by its step, a clear column.
    scores = json.loads(str(row["scores_json"])) if row["scores_json"] is not None else {}
    return bool(
        scores.get("concerns")
        or scores.get("red_flags")
        or scores.get("overall_band") in ("gul", "rød")
        or int(row["chosen_step"]) >= 1
    )


def _per_1000(by_step: dict[int, int], population: int) -> dict[int, float]:
    """Children per 1,000 at each step: the evaluation's one key-figure function."""
    import pandas as pd

    from ..evaluation import key_figures as per_1000

    table = per_1000(
        pd.DataFrame(
            {
                "municipality": "all",
                "period": "all",
                "step": list(by_step),
                "n": list(by_step.values()),
            }
        ),
        pd.DataFrame({"municipality": ["all"], "period": ["all"], "children_0_17": [population]}),
        count="n",
    )
    steps = table["step"].astype(int).tolist()
    return dict(zip(steps, table["per_1000"].astype(float).tolist(), strict=True))


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def key_figures(
    store: AuditLog, population: int, reader: Reader, *, as_of: date | None = None
) -> KeyFigures:
    """The key figures of every record in ``store`` up to the end of ``as_of``.

    Parameters
    ----------
    store : AuditLog
    population : int
        Children aged 0-17 in the municipality (the denominator per 1,000).
    reader : Reader
        Who computes the figures, and why (every child's read is logged).
    as_of : date, optional
        Count records made on or before this day (default: every record; plans due by
        today are then those with a review date up to the latest record's day).

    Raises
    ------
    FollowUpError
        ``population`` is not a positive whole number.
    """
    if isinstance(population, bool) or not isinstance(population, int) or population <= 0:
        raise FollowUpError(Problem("population", population, "a positive number of children"))
    rows = store.query(
        "SELECT s.id AS screening_id, s.form_id, s.created_at, d.chosen_step"
        " FROM screenings AS s JOIN decisions AS d ON d.screening_id = s.id ORDER BY s.id"
    )
    refs = sorted({str(r["form_id"]) for r in rows} | {
        str(r["child_ref"]) for r in store.query("SELECT DISTINCT child_ref FROM followups")
    })  # fmt: skip
    scores: dict[int, str] = {}
    all_plans, all_reviews = [], []
    for ref in refs:
        opened = _read(store, ref, reader, ("screening", "decision", "plan", "review"))
        scores.update({int(r["screening_id"]): str(r["scores_json"]) for r in opened.screenings})
        all_plans += opened.plans
        all_reviews += opened.reviews
    rows = [r | {"scores_json": scores.get(int(r["screening_id"]))} for r in rows]
    if as_of is None:
        days = [r["created_at"][:10] for r in rows] + [p.created_at[:10] for p in all_plans]
        days += [r.reviewed_at[:10] for r in all_reviews]
        as_of = date.fromisoformat(max(days)) if days else date.today()
    end = as_of.isoformat()

    def until(iso: str) -> bool:
        return iso[:10] <= end

    rows = [r for r in rows if until(str(r["created_at"]))]
    all_plans = [p for p in all_plans if until(p.created_at)]
    all_reviews = [r for r in all_reviews if until(r.reviewed_at)]

    steps_of: dict[str, list[int]] = defaultdict(list)
    first_concern: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: str(r["created_at"])):
        child = str(r["form_id"])
        steps_of[child].append(int(r["chosen_step"]))
        if child not in first_concern and _has_concern(r):
            first_concern[child] = str(r["created_at"])
    n_steps = len(load_vocabulary().steps)
    by_step = {s: 0 for s in range(n_steps)}
    ups = downs = 0
    for seq in steps_of.values():
        by_step[seq[-1]] += 1
        ups += sum(b > a for a, b in pairwise(seq))
        downs += sum(b < a for a, b in pairwise(seq))

    first_review: dict[str, str] = {}
    for rv in sorted(all_reviews, key=lambda r: r.reviewed_at):
        first_review.setdefault(rv.plan_id, rv.reviewed_at)
    due = [p for p in all_plans if p.review_on <= end]
    on_time = sum(
        1 for p in due if p.plan_id in first_review and first_review[p.plan_id][:10] <= p.review_on
    )

    first_plan: dict[str, str] = {}
    for p in sorted(all_plans, key=lambda p: p.created_at):
        first_plan.setdefault(store.child_ref(p.child_id), p.created_at)  # as form_id
    waits = [
        (_moment(first_plan[c]) - _moment(first_concern[c])).total_seconds() / 86400
        for c in first_concern
        if c in first_plan and first_plan[c] >= first_concern[c]
    ]
    return KeyFigures(
        population=population,
        as_of=end,
        children_with_decision=len(steps_of),
        children_by_step=by_step,
        per_1000_by_step=_per_1000(by_step, population),
        plans_due=len(due),
        plans_reviewed_on_time=on_time,
        share_reviewed_on_time=on_time / len(due) if due else None,
        children_concern_to_action=len(waits),
        median_days_concern_to_action=statistics.median(waits) if waits else None,
        mean_days_concern_to_action=statistics.fmean(waits) if waits else None,
        escalations=ups,
        de_escalations=downs,
    )
