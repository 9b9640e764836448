"""Follow-up records in the web form's audit log: units, plans, reviews, timeline, what is due.

Plans and reviews are **personal records** of kinds ``plan`` and ``review``, written through
the log's one generic path (:meth:`opsporing.web.AuditLog.append_record`): sealed under the
child's data keys, chained, erased by retention like screenings and decisions. With each
record goes one clear row of the ``followups`` index (:mod:`opsporing.web._followup_schema`):
the unit, the plan and decision ids, the review date, the child's keyed reference (never the
pseudonym). The due list is worked out from that index; everything shown of a child's
records (the timeline, the plans of the due list, a draft, the key figures) is opened through
the **logged read** (:meth:`~opsporing.web.AuditLog.read_ref`) with a
:class:`~opsporing.web.Reader`: who, through which channel and why.

Each record holds the signed plan or review (:class:`~._records.FollowUpPlan`,
:class:`~._records.Review`); reading re-verifies it.

Units: a user works in one unit (a daycare or a school), kept in the ``units`` table (the
newest row of a name). A plan belongs to the unit of who made it; a review, or a new plan
for the same child, from another unit is refused (:class:`~opsporing.errors.UnitAccessError`)
before anything about the child is read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import FollowUpError, Problem, UnitAccessError
from ._catalogue import review_days
from ._records import FollowUpPlan, Review, check_unit, valid_id

if TYPE_CHECKING:  # pragma: no cover
    from ..web._records import PersonalRecord, Reader
    from ..web._store import AuditLog

__all__ = [
    "ChildRecords",
    "DueEntry",
    "DueItem",
    "TimelineEntry",
    "child_records",
    "child_units",
    "due",
    "due_index",
    "find_plan",
    "next_review",
    "plans",
    "record_plan",
    "record_review",
    "reviews",
    "screening_records",
    "set_unit",
    "timeline",
    "unit_of",
]

#: The kinds of personal record the follow-up process reads about a child.
CHILD_KINDS = ("screening", "decision", "plan", "review")



def _live(alias: str) -> str:
    """SQL: the index row ``alias`` points at a record retention has not erased (clear)."""
    return (
        f" {alias}.record > COALESCE((SELECT MAX(e.up_to) FROM erasures AS e"
        f" WHERE e.child_ref = {alias}.child_ref AND e.kind = {alias}.kind), 0)"
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


# --- reading (every opening of sealed content is a logged read) --------------------------------
@dataclass(frozen=True)
class ChildRecords:
    """What one logged read opened of a child: screenings with decisions, plans, reviews.

    ``screenings`` are dicts of the stored screening and its decision (``screening_id``,
    ``form_id`` (the pseudonym), ``instrument``, ``age_years``, ``scores_json``,
    ``created_at``, ``chosen_step``, ``notify``, ``role``, ``professional_id``, ``reason``,
    ``decision_json``), oldest first; those whose decision was erased are left out (as are
    erased plans and reviews), and ``form_id``, ``age_years``, ``scores_json`` are ``None``
    when the screening itself was not read or was erased.
    """

    child_ref: str
    screenings: list[dict[str, Any]] = field(default_factory=list)
    plans: list[FollowUpPlan] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        """The screening row whose decision record has id ``decision_id``."""
        for row in self.screenings:
            if json.loads(row["decision_json"]).get("decision_id") == decision_id:
                return row
        return None


def _group(store: AuditLog, child_ref: str, records: Sequence[PersonalRecord]) -> ChildRecords:
    out = ChildRecords(child_ref)
    sealed: dict[int, dict[str, Any]] = {}
    for r in records:
        if r.content is None:
            continue  # erased by retention: its index row may stay, its content is gone
        if r.kind == "plan":
            out.plans.append(FollowUpPlan.from_dict(r.content))  # re-verified on reading
        elif r.kind == "review":
            out.reviews.append(Review.from_dict(r.content))
        elif r.link and r.link.startswith("screening:"):
            sealed.setdefault(int(r.link.split(":", 1)[1]), {})[r.kind] = r.content
    if sealed:
        marks = ",".join("?" * len(sealed))
        clear = store.query(
            "SELECT s.id AS screening_id, s.instrument, s.created_at, d.chosen_step, d.notify,"
            " d.role, d.professional_id FROM screenings AS s JOIN decisions AS d"
            f" ON d.screening_id = s.id WHERE s.id IN ({marks}) ORDER BY s.id",
            tuple(sealed),
        )
        for row in clear:
            parts = sealed[int(row["screening_id"])]
            screening, decision = parts.get("screening"), parts.get("decision")
            if decision is None:
                continue  # erased (or not asked for): the decision is what the row is about
            out.screenings.append(
                row
                | {
                    # None when the screening was not asked for, or was erased before its
                    # decision (a shorter retention period).
                    "form_id": screening["form_id"] if screening else None,
                    "age_years": screening["age_years"] if screening else None,
                    "scores_json": (
                        json.dumps(screening["scores"], ensure_ascii=False) if screening else None
                    ),
                    "reason": decision.get("reason"),
                    "decision_json": json.dumps(decision["decision"], ensure_ascii=False),
                }
            )
    return out


def _read(
    store: AuditLog, child_ref: str, reader: Reader, kinds: Sequence[str] = CHILD_KINDS
) -> ChildRecords:
    return _group(store, child_ref, store.read_ref(child_ref, reader, kinds=kinds))


def child_records(
    store: AuditLog, child_id: str, reader: Reader, kinds: Sequence[str] = CHILD_KINDS
) -> ChildRecords:
    """Open the child's screenings, decisions, plans and reviews: one read, logged."""
    if not valid_id(child_id):
        raise FollowUpError(Problem("child_id", "(not shown)", "a pseudonymous id"))
    return _read(store, store.child_ref(child_id), reader, kinds)


def screening_records(
    store: AuditLog, screening_id: int, reader: Reader
) -> tuple[dict[str, Any], ChildRecords] | None:
    """The stored screening ``screening_id`` with the rest of its child's records (logged).

    ``None`` when there is no such screening or its content was erased.
    """
    rows = store.query("SELECT form_id FROM screenings WHERE id = ?", (int(screening_id),))
    if not rows:
        return None
    records = _read(store, str(rows[0]["form_id"]), reader)
    found = [r for r in records.screenings if r["screening_id"] == int(screening_id)]
    return (found[0], records) if found else None


def screening_owner(store: AuditLog, screening_id: int) -> tuple[str, list[str]] | None:
    """The child's reference and who recorded the screening (clear columns, nothing opened)."""
    rows = store.query(
        "SELECT s.form_id, d.professional_id FROM screenings AS s"
        " JOIN decisions AS d ON d.screening_id = s.id WHERE s.id = ?",
        (int(screening_id),),
    )
    return (str(rows[0]["form_id"]), [str(rows[0]["professional_id"])]) if rows else None


def screeners(store: AuditLog, child_ref: str) -> list[str]:
    """Who recorded the child's screenings (clear columns, nothing opened)."""
    rows = store.query(
        "SELECT DISTINCT d.professional_id FROM screenings AS s"
        " JOIN decisions AS d ON d.screening_id = s.id WHERE s.form_id = ?",
        (child_ref,),
    )
    return [str(r["professional_id"]) for r in rows]


def _refs(store: AuditLog, unit: str | None) -> list[str]:
    if unit is None:
        rows = store.query("SELECT DISTINCT child_ref FROM followups ORDER BY child_ref")
    else:
        rows = store.query(
            "SELECT DISTINCT child_ref FROM followups WHERE unit = ? ORDER BY child_ref", (unit,)
        )
    return [str(r["child_ref"]) for r in rows]


def plans(
    store: AuditLog, reader: Reader, *, unit: str | None = None, child_id: str | None = None
) -> list[FollowUpPlan]:
    """Stored plans (of a unit, of a child, or all), oldest first; each child's read logged."""
    out = []
    for ref in _select_refs(store, unit, child_id):
        out += [p for p in _read(store, ref, reader, ("plan",)).plans if unit in (None, p.unit)]
    return sorted(out, key=lambda p: p.created_at)


def reviews(
    store: AuditLog, reader: Reader, *, unit: str | None = None, child_id: str | None = None
) -> list[Review]:
    """Stored reviews (of a unit, of a child, or all), oldest first; each child's read logged."""
    out = []
    for ref in _select_refs(store, unit, child_id):
        got = _read(store, ref, reader, ("review",)).reviews
        out += [r for r in got if unit in (None, r.unit)]
    return sorted(out, key=lambda r: r.reviewed_at)


def _select_refs(store: AuditLog, unit: str | None, child_id: str | None) -> list[str]:
    if child_id is None:
        return _refs(store, unit)
    if not valid_id(child_id):
        raise FollowUpError(Problem("child_id", "(not shown)", "a pseudonymous id"))
    ref = store.child_ref(child_id)
    return [ref] if ref in _refs(store, unit) else []


def _units_of(store: AuditLog, child_ref: str) -> set[str]:
    rows = store.query(
        "SELECT DISTINCT unit FROM followups WHERE child_ref = ? AND kind = 'plan'", (child_ref,)
    )
    if rows:
        return {str(r["unit"]) for r in rows}
    return {u for name in screeners(store, child_ref) if (u := unit_of(store, name)) is not None}


def child_units(store: AuditLog, child_id: str) -> set[str]:
    """The units that follow ``child_id``: of its plans, or before any plan, of its screeners.

    The one rule of whose child a child is (the web form's child page asks it too). Empty
    when nobody with a unit has screened the child yet. Reads clear columns only.
    """
    return _units_of(store, store.child_ref(child_id))


def child_units_of_ref(store: AuditLog, child_ref: str) -> set[str]:
    """:func:`child_units` of a child known by its reference."""
    return _units_of(store, child_ref)


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
def record_plan(
    store: AuditLog, plan: FollowUpPlan, *, user_unit: str | None, reader: Reader
) -> int:
    """Store ``plan`` (made by a user of ``user_unit``) as a sealed record; its record id.

    The unit is checked first, from clear columns; then the child's decisions are opened
    through the logged read of ``reader`` to find the decision the plan follows.

    Raises
    ------
    FollowUpError
        The plan does not verify, or its decision is not a decision about this child
        stored in this log.
    UnitAccessError
        The plan's unit is not the user's, or the child is another unit's
        (:func:`child_units`).
    """
    plan.verify()
    _refuse_other_unit("a plan", plan.unit, user_unit)
    owners = child_units(store, plan.child_id)
    if owners and user_unit not in owners:
        _refuse_other_unit("a plan", sorted(owners)[0], user_unit)
    ref = store.child_ref(plan.child_id)
    if not screeners(store, ref) or _read(store, ref, reader, ("decision",)).decision(
        plan.decision_id
    ) is None:
        raise FollowUpError(
            Problem(
                "decision_id",
                plan.decision_id[:16],
                "a decision about this child (child_id) stored in this log",
            )
        )
    stored = store.append_record(
        "plan",
        plan.child_id,
        plan.to_dict(),
        link=f"plan:{plan.plan_id}",
        index=(
            "followups",
            {
                "kind": "plan",
                "record_id": plan.plan_id,
                "unit": plan.unit,
                "plan_id": plan.plan_id,
                "decision_id": plan.decision_id,
                "review_on": plan.review_on,
            },
        ),
    )
    return stored.record_id


def _plan_index(store: AuditLog, plan_id: str) -> dict[str, Any] | None:
    if not isinstance(plan_id, str) or len(plan_id) != 64:
        return None
    rows = store.query(
        "SELECT f.child_ref, f.unit, f.review_on FROM followups AS f"
        f" WHERE f.kind = 'plan' AND f.record_id = ? AND {_live('f')}",
        (plan_id,),
    )
    return rows[0] if rows else None


def plan_unit(store: AuditLog, plan_id: str) -> str | None:
    """The unit of the stored plan ``plan_id`` (clear index; ``None``: no such open record)."""
    row = _plan_index(store, plan_id)
    return None if row is None else str(row["unit"])


def find_plan(store: AuditLog, plan_id: str, reader: Reader) -> FollowUpPlan | None:
    """The stored plan ``plan_id`` (``None`` when there is none); the read is logged."""
    row = _plan_index(store, plan_id)
    if row is None:
        return None
    found = [p for p in _read(store, row["child_ref"], reader, ("plan",)).plans]
    return next((p for p in found if p.plan_id == plan_id), None)


def _closed(store: AuditLog, plan_id: str) -> bool:
    rows = store.query(
        "SELECT COUNT(*) AS n FROM followups WHERE kind = 'review' AND plan_id = ?"
        " AND review_on IS NULL",
        (plan_id,),
    )
    return bool(rows[0]["n"])


def record_review(
    store: AuditLog, review: Review, *, user_unit: str | None, reader: Reader
) -> int:
    """Store ``review`` (made by a user of ``user_unit``) as a sealed record; its record id.

    Its index row holds the plan's next review date (``NULL`` when the review closes the
    plan), so the due list needs nothing opened to know what is due.

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
    index = _plan_index(store, review.plan_id)
    if index is None:
        raise FollowUpError(Problem("plan_id", review.plan_id[:16], "a plan stored in this log"))
    _refuse_other_unit("a review", str(index["unit"]), user_unit)
    if _closed(store, review.plan_id):
        raise FollowUpError(
            Problem("plan_id", review.plan_id[:16], "an open plan (this one was closed)")
        )
    ref = str(index["child_ref"])
    if ref != store.child_ref(review.child_id):
        raise FollowUpError(Problem("plan_id", review.plan_id[:16], "the plan of this child"))
    records = _read(store, ref, reader, ("decision", "plan", "review"))
    plan = next((p for p in records.plans if p.plan_id == review.plan_id), None)
    if plan is None or (review.child_id, review.unit) != (plan.child_id, plan.unit):
        raise FollowUpError(Problem("plan_id", review.plan_id[:16], "the plan of this child"))
    earlier = [r for r in records.reviews if r.plan_id == plan.plan_id]
    if review.new_decision_id is not None and records.decision(review.new_decision_id) is None:
        raise FollowUpError(
            Problem(
                "new_decision_id",
                review.new_decision_id[:16],
                "a decision about this child stored in this log",
            )
        )
    after = next_review(plan, [*earlier, review])
    stored = store.append_record(
        "review",
        review.child_id,
        review.to_dict(),
        link=f"review:{review.review_id}",
        index=(
            "followups",
            {
                "kind": "review",
                "record_id": review.review_id,
                "unit": review.unit,
                "plan_id": review.plan_id,
                "decision_id": None,
                "review_on": None if after is None else after.isoformat(),
            },
        ),
    )
    return stored.record_id


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


@dataclass(frozen=True, slots=True)
class DueEntry:
    """A due plan as the clear index knows it: no child's pseudonym, nothing sealed."""

    plan_id: str
    child_ref: str
    due_on: date
    status: str
    days: int


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


def due_index(store: AuditLog, unit: str, today: date) -> list[DueEntry]:
    """The unit's open plans due by the end of this week, from the clear index only.

    Nothing about a child is opened (and so nothing logged): the start page can say that
    something is due before the user has said why they look. Plans whose records were
    erased by retention are left out.
    """
    unit = check_unit(unit)
    if not isinstance(today, date):
        raise FollowUpError(Problem("today", type(today).__name__, "a date"))
    week_end = today + timedelta(days=6 - today.weekday())
    rows = store.query(
        "SELECT f.plan_id, f.child_ref, f.review_on FROM followups AS f"
        " WHERE f.id IN (SELECT MAX(g.id) FROM followups AS g WHERE g.unit = ?"
        " GROUP BY g.plan_id)"
        " AND f.plan_id IN (SELECT p.plan_id FROM followups AS p WHERE p.kind = 'plan'"
        f" AND p.unit = ? AND {_live('p')})",
        (unit, unit),
    )
    out = []
    for r in rows:
        if r["review_on"] is None:
            continue  # closed
        when = date.fromisoformat(str(r["review_on"]))
        if when > week_end:
            continue
        late = (today - when).days
        out.append(
            DueEntry(str(r["plan_id"]), str(r["child_ref"]), when,
                     "overdue" if late > 0 else "due", late)
        )  # fmt: skip
    return sorted(out, key=lambda d: (d.status != "overdue", d.due_on, d.plan_id))


def due(store: AuditLog, unit: str, today: date, reader: Reader) -> list[DueItem]:
    """The unit's open plans whose review is overdue or due by the end of this week.

    "This week" ends on the Sunday of ``today``'s ISO week. Overdue first (longest late
    first), then by date. The plans are worked out from the clear index
    (:func:`due_index`); each due child's plans are then opened through the logged read
    of ``reader`` (one access entry per child).

    Raises
    ------
    FollowUpError
        ``unit`` is not a unit id.
    """
    entries = due_index(store, unit, today)
    opened: dict[str, dict[str, FollowUpPlan]] = {}
    out = []
    for e in entries:
        if e.child_ref not in opened:
            got = _read(store, e.child_ref, reader, ("plan",)).plans
            opened[e.child_ref] = {p.plan_id: p for p in got}
        plan = opened[e.child_ref].get(e.plan_id)
        if plan is not None:
            out.append(DueItem(plan, e.due_on, e.status, e.days))
    return sorted(out, key=lambda d: (d.status != "overdue", d.due_on, d.plan.child_id))


# --- the child's timeline ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event in a child's timeline: ``kind`` screening, plan or review, and its record."""

    at: str
    kind: str
    record: Any


def timeline_of(records: ChildRecords) -> list[TimelineEntry]:
    """The timeline of records already opened, oldest first."""
    entries = [TimelineEntry(str(r["created_at"]), "screening", r) for r in records.screenings]
    entries += [TimelineEntry(p.created_at, "plan", p) for p in records.plans]
    entries += [TimelineEntry(r.reviewed_at, "review", r) for r in records.reviews]
    return sorted(entries, key=lambda e: e.at)


def timeline(store: AuditLog, child_id: str, reader: Reader) -> list[TimelineEntry]:
    """The child's screenings (each with its decision), plans and reviews, oldest first.

    One logged read of ``reader``.
    """
    return timeline_of(child_records(store, child_id, reader))
