"""Follow-up records in the web form's audit log: units, plans, reviews, timeline, what is due.

Plans and reviews are rows of the log's ``followups`` table, written through
:meth:`opsporing.web.AuditLog.append_row`: append-only (the database refuses changes) and
chained by the same keyed hash as screenings and decisions, so ``opsporing audit verify``
finds an edited plan as it finds an edited decision. Each row holds the signed record
(:class:`~._records.FollowUpPlan`, :class:`~._records.Review`); reading re-verifies it.

Units: a user works in one unit (a daycare or a school), kept in the ``units`` table (the
newest row of a name). A plan belongs to the unit of who made it; a review, or a new plan
for the same child, from another unit is refused (:class:`~opsporing.errors.UnitAccessError`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import FollowUpError, Problem, UnitAccessError
from ._catalogue import review_days
from ._records import FollowUpPlan, Review, check_unit, valid_id

if TYPE_CHECKING:  # pragma: no cover
    from ..web._store import AuditLog

__all__ = [
    "DueItem",
    "TimelineEntry",
    "child_units",
    "decision_row",
    "due",
    "find_plan",
    "next_review",
    "plans",
    "record_plan",
    "record_review",
    "reviews",
    "set_unit",
    "timeline",
    "unit_of",
]

_DECISION_SQL = (
    "SELECT s.id AS screening_id, s.form_id, s.instrument, s.age_years, s.scores_json,"
    " s.created_at, d.id AS decision_id_row, d.chosen_step, d.notify, d.role,"
    " d.professional_id, d.reason, d.decision_json"
    " FROM screenings AS s JOIN decisions AS d ON d.screening_id = s.id"
)


# --- units ---------------------------------------------------------------------------------------
def set_unit(store: AuditLog, name: str, unit: str) -> str:
    """Put user ``name`` in ``unit`` (a new row; the newest is the user's unit now)."""
    unit = check_unit(unit)
    if store.user(name) is None:
        raise FollowUpError(Problem("name", name[:40], "an existing user of the web form"))
    store.append_row("units", {"name": name, "unit": unit})
    return unit


def unit_of(store: AuditLog, name: str) -> str | None:
    """The unit user ``name`` works in now (``None`` when none was set)."""
    rows = store.query("SELECT unit FROM units WHERE name = ? ORDER BY id DESC LIMIT 1", (name,))
    return str(rows[0]["unit"]) if rows else None


# --- reading -------------------------------------------------------------------------------------
def decision_row(store: AuditLog, decision_id: str) -> dict[str, Any] | None:
    """The stored screening and decision whose decision record has id ``decision_id``."""
    rows = store.query(
        _DECISION_SQL + " WHERE json_extract(d.decision_json, '$.decision_id') = ?",
        (decision_id,),
    )
    return rows[0] if rows else None


def _records(store: AuditLog, kind: str, where: str, params: tuple[Any, ...]) -> list[Any]:
    rows = store.query(
        f"SELECT record_json FROM followups WHERE kind = ? AND {where} ORDER BY id",
        (kind, *params),
    )
    cls = FollowUpPlan if kind == "plan" else Review
    # Re-verified on reading: a record changed in the file is refused, never shown as true.
    return [cls.from_dict(json.loads(r["record_json"])) for r in rows]


def plans(
    store: AuditLog, *, unit: str | None = None, child_id: str | None = None
) -> list[FollowUpPlan]:
    """Stored plans (of a unit, of a child, or all), oldest first."""
    where, params = _filter(unit, child_id)
    return _records(store, "plan", where, params)


def reviews(
    store: AuditLog, *, unit: str | None = None, child_id: str | None = None
) -> list[Review]:
    """Stored reviews (of a unit, of a child, or all), oldest first."""
    where, params = _filter(unit, child_id)
    return _records(store, "review", where, params)


def _filter(unit: str | None, child_id: str | None) -> tuple[str, tuple[Any, ...]]:
    parts, params = ["1 = 1"], []
    if unit is not None:
        parts.append("unit = ?")
        params.append(unit)
    if child_id is not None:
        parts.append("child_id = ?")
        params.append(child_id)
    return " AND ".join(parts), tuple(params)


def child_units(store: AuditLog, child_id: str) -> set[str]:
    """The units that follow ``child_id``: of its plans, or before any plan, of its screeners.

    The one rule of whose child a child is (the web form's child page asks it too). Empty
    when nobody with a unit has screened the child yet.
    """
    rows = store.query(
        "SELECT DISTINCT unit FROM followups WHERE child_id = ? AND kind = 'plan'", (child_id,)
    )
    if rows:
        return {str(r["unit"]) for r in rows}
    screeners = store.query(
        "SELECT DISTINCT d.professional_id FROM screenings AS s"
        " JOIN decisions AS d ON d.screening_id = s.id WHERE s.form_id = ?",
        (child_id,),
    )
    return {u for r in screeners if (u := unit_of(store, str(r["professional_id"]))) is not None}


def _refuse_other_unit(what: str, child_unit: str, user_unit: str | None) -> None:
    if user_unit is None or child_unit != user_unit:
        raise UnitAccessError(
            Problem(
                "unit",
                user_unit,
                f"the unit that follows this child ({what} of another unit's child is refused)",
            )
        )


# --- writing -------------------------------------------------------------------------------------
def record_plan(store: AuditLog, plan: FollowUpPlan, *, user_unit: str | None) -> int:
    """Store ``plan`` (made by a user of ``user_unit``); its row id.

    Raises
    ------
    FollowUpError
        The plan does not verify, its decision is not in this log, or the decision's
        screening is about another child.
    UnitAccessError
        The plan's unit is not the user's, or the child is another unit's
        (:func:`child_units`).
    """
    plan.verify()
    _refuse_other_unit("a plan", plan.unit, user_unit)
    owners = child_units(store, plan.child_id)
    if owners and user_unit not in owners:
        _refuse_other_unit("a plan", sorted(owners)[0], user_unit)
    row = decision_row(store, plan.decision_id)
    if row is None:
        raise FollowUpError(
            Problem("decision_id", plan.decision_id[:16], "a decision stored in this log")
        )
    if row["form_id"] != plan.child_id:
        raise FollowUpError(
            Problem("child_id", plan.child_id, "the child of the decision's screening")
        )
    row_id, _ = store.append_row(
        "followups",
        {
            "kind": "plan",
            "record_id": plan.plan_id,
            "child_id": plan.child_id,
            "unit": plan.unit,
            "plan_id": plan.plan_id,
            "decision_id": plan.decision_id,
            "review_on": plan.review_on,
            "record_json": plan.to_json(),
        },
    )
    return row_id


def find_plan(store: AuditLog, plan_id: str) -> FollowUpPlan | None:
    """The stored plan ``plan_id`` (``None`` when there is none)."""
    if not isinstance(plan_id, str) or len(plan_id) != 64:
        return None
    found = _records(store, "plan", "record_id = ?", (plan_id,))
    return found[0] if found else None


def record_review(store: AuditLog, review: Review, *, user_unit: str | None) -> int:
    """Store ``review`` (made by a user of ``user_unit``); its row id.

    Raises
    ------
    FollowUpError
        The review does not verify, its plan is not in this log, the plan was closed
        (resolved or escalated) before, or an escalation's new decision is not in this
        log or is about another child.
    UnitAccessError
        The plan belongs to another unit than the user's.
    """
    review.verify()
    plan = find_plan(store, review.plan_id)
    if plan is None:
        raise FollowUpError(Problem("plan_id", review.plan_id[:16], "a plan stored in this log"))
    _refuse_other_unit("a review", plan.unit, user_unit)
    if (review.child_id, review.unit) != (plan.child_id, plan.unit):
        raise FollowUpError(Problem("plan_id", review.plan_id[:16], "the plan of this child"))
    earlier = _records(store, "review", "plan_id = ?", (plan.plan_id,))
    if any(r.outcome != "continues" for r in earlier):
        raise FollowUpError(
            Problem("plan_id", plan.plan_id[:16], "an open plan (this one was closed)")
        )
    if review.new_decision_id is not None:
        row = decision_row(store, review.new_decision_id)
        if row is None or row["form_id"] != plan.child_id:
            raise FollowUpError(
                Problem(
                    "new_decision_id",
                    review.new_decision_id[:16],
                    "a decision about this child stored in this log",
                )
            )
    row_id, _ = store.append_row(
        "followups",
        {
            "kind": "review",
            "record_id": review.review_id,
            "child_id": review.child_id,
            "unit": review.unit,
            "plan_id": review.plan_id,
            "decision_id": review.new_decision_id,
            "review_on": None,
            "record_json": review.to_json(),
        },
    )
    return row_id


# --- what is due ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DueItem:
    """An open plan and when it is (or was) to be reviewed.

    ``status`` is ``"overdue"`` (the date has passed) or ``"due"`` (today or later this
    week); ``days`` is how many days late (positive) or left (zero or negative).
    """

    plan: FollowUpPlan
    due_on: date
    status: str
    days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan.plan_id,
            "child_id": self.plan.child_id,
            "unit": self.plan.unit,
            "responsible_role": self.plan.responsible_role,
            "due_on": self.due_on.isoformat(),
            "status": self.status,
            "days": self.days,
        }


def next_review(plan: FollowUpPlan, earlier: Sequence[Review]) -> date | None:
    """When ``plan`` is next to be reviewed, given its reviews so far (``None``: closed).

    A plan is open until a review that is not ``continues``; after a ``continues`` review
    it is due again :func:`~._catalogue.review_days` of its step after that review.
    """
    if any(r.outcome != "continues" for r in earlier):
        return None
    if not earlier:
        return date.fromisoformat(plan.review_on)
    last = max(date.fromisoformat(r.reviewed_at[:10]) for r in earlier)
    return last + timedelta(days=review_days(plan.decision_step))


def due(store: AuditLog, unit: str, today: date) -> list[DueItem]:
    """The unit's open plans whose review is overdue or due by the end of this week.

    "This week" ends on the Sunday of ``today``'s ISO week. Overdue first (longest late
    first), then by date.

    Raises
    ------
    FollowUpError
        ``unit`` is not a unit id.
    """
    unit = check_unit(unit)
    if not isinstance(today, date):
        raise FollowUpError(Problem("today", type(today).__name__, "a date"))
    week_end = today + timedelta(days=6 - today.weekday())
    by_plan: dict[str, list[Review]] = {}
    for r in reviews(store, unit=unit):
        by_plan.setdefault(r.plan_id, []).append(r)
    out = []
    for plan in plans(store, unit=unit):
        when = next_review(plan, by_plan.get(plan.plan_id, []))
        if when is None or when > week_end:
            continue
        late = (today - when).days
        out.append(DueItem(plan, when, "overdue" if late > 0 else "due", late))
    return sorted(out, key=lambda d: (d.status != "overdue", d.due_on, d.plan.child_id))


# --- the child's timeline ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event in a child's timeline: ``kind`` screening, plan or review, and its record."""

    at: str
    kind: str
    record: Any


def timeline(store: AuditLog, child_id: str) -> list[TimelineEntry]:
    """The child's screenings (each with its decision), plans and reviews, oldest first."""
    if not valid_id(child_id):
        raise FollowUpError(Problem("child_id", "(not shown)", "a pseudonymous id"))
    entries = [
        TimelineEntry(str(row["created_at"]), "screening", row)
        for row in store.query(_DECISION_SQL + " WHERE s.form_id = ? ORDER BY s.id", (child_id,))
    ]
    entries += [TimelineEntry(p.created_at, "plan", p) for p in plans(store, child_id=child_id)]
    entries += [
        TimelineEntry(r.reviewed_at, "review", r) for r in reviews(store, child_id=child_id)
    ]
    return sorted(entries, key=lambda e: e.at)
