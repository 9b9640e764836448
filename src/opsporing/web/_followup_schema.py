"""The audit log's follow-up tables (issue 14): units of users, follow-up plans and reviews.

Kept apart from :mod:`._store` so that the store only names them: ``AuditLog`` creates them with
its own tables, and :mod:`._chain` chains every row like the rows of decisions.

``units``
    Which daycare or school a user works in: name, unit, time. A change is a new row; the
    newest row of a name is the user's unit now (append-only, like ``users``).
``followups``
    One signed follow-up record per row: ``kind`` ``plan`` or ``review``, the child's
    pseudonymous id, the unit, the plan it belongs to, the decision a plan follows, the
    review date (plans), the record as JSON (:mod:`opsporing.followup`), the time.
"""

from __future__ import annotations

__all__ = ["FOLLOWUP_COLUMNS", "FOLLOWUP_SCHEMA", "FOLLOWUP_TABLES"]

#: The columns a caller writes to each follow-up table (``id`` and ``created_at`` are the
#: store's); also the only names that go into the INSERT statement.
FOLLOWUP_COLUMNS: dict[str, frozenset[str]] = {
    "units": frozenset({"name", "unit"}),
    "followups": frozenset(
        {
            "kind",
            "record_id",
            "child_id",
            "unit",
            "plan_id",
            "decision_id",
            "review_on",
            "record_json",
        }
    ),
}
#: The follow-up tables whose every row is chained (:data:`._chain.CHAINED_TABLES`).
FOLLOWUP_TABLES = tuple(FOLLOWUP_COLUMNS)

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
    child_id        TEXT    NOT NULL,
    unit            TEXT    NOT NULL,
    plan_id         TEXT    NOT NULL,
    decision_id     TEXT,
    review_on       TEXT,
    record_json     TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS followups_by_child ON followups (child_id, id);
CREATE INDEX IF NOT EXISTS followups_by_unit ON followups (unit, kind);
CREATE TRIGGER IF NOT EXISTS units_append_only_u BEFORE UPDATE ON units
    BEGIN SELECT RAISE(ABORT, 'units is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS units_append_only_d BEFORE DELETE ON units
    BEGIN SELECT RAISE(ABORT, 'units is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS followups_append_only_u BEFORE UPDATE ON followups
    BEGIN SELECT RAISE(ABORT, 'followups is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS followups_append_only_d BEFORE DELETE ON followups
    BEGIN SELECT RAISE(ABORT, 'followups is an append-only audit log'); END;
"""
