"""The audit log's follow-up tables (issue 14): units of users, follow-up plans and reviews.

Kept apart from :mod:`._store` so that the store only names them: ``AuditLog`` creates them with
its own tables, and :mod:`._chain` chains every row like the rows of decisions.

``units``
    Which daycare or school a user works in: name, unit, time. A change is a new row; the
    newest row of a name is the user's unit now (append-only, like ``users``).
``followups``
    The clear, non-personal **index** of the follow-up records, one row per plan or review:
    ``kind`` (``plan`` or ``review``), ``record_id`` (the plan's or review's content hash),
    ``child_ref`` (the child's keyed reference, as in ``records``: never the pseudonym), the
    unit, the plan it belongs to, the decision a plan follows (``NULL`` for a review),
    ``review_on`` (a plan: its review date; a review: the plan's next review date, ``NULL``
    when the review closed the plan), ``record`` (the id of the sealed personal record in
    ``records`` that holds the signed plan or review) and the time. The due list is computed
    from these columns; everything else (concerns, actions, responsible role, the parents'
    and the child's views, what happened, the outcome) is only in the sealed record, written
    with the index row in one transaction by ``AuditLog.append_record(..., index=...)``.
"""

from __future__ import annotations

from ._sql import append_only

__all__ = ["FOLLOWUP_COLUMNS", "FOLLOWUP_SCHEMA", "FOLLOWUP_TABLES", "INDEX_TABLES"]

#: The columns a caller writes to each follow-up table (``id`` and ``created_at`` are the
#: store's); also the only names that go into the INSERT statement.
FOLLOWUP_COLUMNS: dict[str, frozenset[str]] = {
    "units": frozenset({"name", "unit"}),
    "followups": frozenset({"kind", "record_id", "unit", "plan_id", "decision_id", "review_on"}),
}
#: The follow-up tables whose every row is chained (:data:`._chain.CHAINED_TABLES`).
FOLLOWUP_TABLES = tuple(FOLLOWUP_COLUMNS)
#: The index tables whose rows each point at a sealed record (``child_ref`` and ``record``
#: are the store's, from the record written with the row).
INDEX_TABLES = ("followups",)

FOLLOWUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    unit            TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS units_by_name ON units (name, id);
CREATE TABLE IF NOT EXISTS followups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL CHECK (kind IN ('plan', 'review')),
    record_id       TEXT    NOT NULL UNIQUE,
    child_ref       TEXT    NOT NULL,
    unit            TEXT    NOT NULL,
    plan_id         TEXT    NOT NULL,
    decision_id     TEXT,
    review_on       TEXT,
    record          INTEGER NOT NULL UNIQUE REFERENCES records (id),
    created_at      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS followups_by_child ON followups (child_ref, id);
CREATE INDEX IF NOT EXISTS followups_by_plan ON followups (plan_id, id);
CREATE INDEX IF NOT EXISTS followups_by_unit ON followups (unit, kind);
""" + append_only("units", "followups")
