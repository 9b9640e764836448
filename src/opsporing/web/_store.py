"""The audit log of the web form: screenings and their decisions in embedded SQLite.

The log is **append-only**. This module contains no statement that changes or removes a
row (a test reads this file to prove it), and the database itself refuses such statements
with triggers, so a record, once written, says forever what was seen and decided.

Two tables:

``screenings``
    One filled-in form: the pseudonymous form id, the instrument (``id@version``), the
    child's age, the answers and the scores (JSON), the time, and the idempotency key of
    the rendered form it came from (unique, so a double submit stores once).
``decisions``
    The professional's decision on exactly one screening: the model's suggestion as it was
    shown (JSON, including the suggested step), the chosen step, whether the professional
    notifies the municipality, the role, the pseudonymous professional id, the reason, the
    decision record of :mod:`opsporing.decision` (JSON), the time.

A screening is never stored without its decision: both rows are written in one
transaction (:meth:`AuditLog.record`). The database runs in WAL mode with a busy timeout,
and each submission takes the write lock at the start of its transaction
(``BEGIN IMMEDIATE``), so concurrent submissions queue instead of failing or overwriting.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import IdempotencyConflictError, StorageError

__all__ = [
    "AuditLog",
    "IdempotencyConflictError",
    "StorageError",
    "StoredScreening",
    "Submission",
]

#: Seconds a writer waits for the lock held by another writer before giving up.
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS screenings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    form_id         TEXT    NOT NULL,
    instrument      TEXT    NOT NULL,
    age_years       REAL,
    answers_json    TEXT    NOT NULL,
    scores_json     TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    screening_id    INTEGER NOT NULL UNIQUE REFERENCES screenings (id),
    suggestion_json TEXT    NOT NULL,
    suggested_step  INTEGER CHECK (suggested_step BETWEEN 0 AND 6),
    chosen_step     INTEGER NOT NULL CHECK (chosen_step BETWEEN 0 AND 6),
    notify          INTEGER NOT NULL CHECK (notify IN (0, 1)),
    role            TEXT    NOT NULL,
    professional_id TEXT    NOT NULL,
    reason          TEXT,
    decision_json   TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS screenings_append_only_u BEFORE UPDATE ON screenings
    BEGIN SELECT RAISE(ABORT, 'screenings is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS screenings_append_only_d BEFORE DELETE ON screenings
    BEGIN SELECT RAISE(ABORT, 'screenings is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_u BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_d BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions is an append-only audit log'); END;
"""


@dataclass(frozen=True, slots=True)
class Submission:
    """One screening and the decision on it, ready to be stored together.

    Attributes
    ----------
    idempotency_key : str
        The hidden token of the rendered form; the same token is stored once.
    form_id : str
        Pseudonymous form id (never a CPR number, never a name).
    instrument : str
        ``"id@version"`` of the instrument.
    age_years : float or None
    answers, scores : mapping
        JSON-serialisable answers (item id to value) and scores (``FormScore.to_dict()``).
    suggestion : mapping
        The suggestion as shown to the professional (JSON-serialisable), or the record of
        "no model available".
    suggested_step : int or None
    chosen_step : int
    notify : bool
        Whether the professional notifies (or refers the child to) the municipality.
    role, professional_id : str
    reason : str or None
    decision : mapping
        The decision record itself (from :mod:`opsporing.decision` when present).
    """

    idempotency_key: str
    form_id: str
    instrument: str
    age_years: float | None
    answers: Mapping[str, Any]
    scores: Mapping[str, Any]
    suggestion: Mapping[str, Any]
    suggested_step: int | None
    chosen_step: int
    notify: bool
    role: str
    professional_id: str
    reason: str | None
    decision: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredScreening:
    """What :meth:`AuditLog.record` wrote (or had already written for the same token)."""

    screening_id: int
    decision_id: int
    created_at: str
    duplicate: bool


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _prior(
    con: sqlite3.Connection, key: str, form_id: str, instrument: str, answers_json: str
) -> StoredScreening | None:
    """The screening stored under ``key`` (same content), ``None``, or a conflict."""
    row = con.execute(
        "SELECT s.id, d.id, s.created_at, s.form_id, s.instrument, s.answers_json"
        " FROM screenings AS s JOIN decisions AS d ON d.screening_id = s.id"
        " WHERE s.idempotency_key = ?",
        (key,),
    ).fetchone()
    if row is None:
        return None
    if (row[3], row[4], row[5]) != (form_id, instrument, answers_json):
        raise IdempotencyConflictError(
            "this form was already submitted with different content; open a new form"
        )
    return StoredScreening(int(row[0]), int(row[1]), row[2], True)


class AuditLog:
    """The append-only SQLite audit log of screenings and decisions.

    Parameters
    ----------
    path : str or Path
        The database file; created (with its folder) when missing.
    clock : callable, optional
        Returns the current time (an aware :class:`~datetime.datetime`); default UTC now.
        Tests pass a fixed clock.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> log.counts()
    {'screenings': 0, 'decisions': 0}
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or _utc_now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                # WAL lets readers go on while one writer writes; it is a property of the file.
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                con.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the audit log {self.path}: {exc}") from None
        if str(mode).lower() != "wal":
            raise StorageError(f"the audit log {self.path} cannot use WAL mode (got {mode!r})")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: sqlite3 connections are not shared
        # between the server's worker threads. isolation_level=None: we say BEGIN ourselves.
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA synchronous = NORMAL")
            yield con
        finally:
            con.close()

    def record(self, sub: Submission) -> StoredScreening:
        """Store a screening and its decision in one transaction, once per token.

        Returns the stored ids. When the token was stored before with the same content
        (a double submit), nothing new is written and ``duplicate`` is ``True``.

        Raises
        ------
        IdempotencyConflictError
            The token was stored before with different content; nothing is written.
        StorageError
            The database could not be written; nothing is written.
        """
        created_at = self._clock().isoformat(timespec="microseconds")
        answers = _dumps(dict(sub.answers))
        try:
            with self._connect() as con:
                # IMMEDIATE: take the write lock now, so the duplicate check and the inserts
                # see and write one consistent state even with many concurrent submitters.
                con.execute("BEGIN IMMEDIATE")
                try:
                    prior = _prior(con, sub.idempotency_key, sub.form_id, sub.instrument, answers)
                    if prior is not None:
                        con.execute("ROLLBACK")
                        return prior
                    cur = con.execute(
                        "INSERT INTO screenings (idempotency_key, form_id, instrument, age_years,"
                        " answers_json, scores_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            sub.idempotency_key,
                            sub.form_id,
                            sub.instrument,
                            sub.age_years,
                            answers,
                            _dumps(dict(sub.scores)),
                            created_at,
                        ),
                    )
                    screening_id = int(cur.lastrowid or 0)
                    cur = con.execute(
                        "INSERT INTO decisions (screening_id, suggestion_json, suggested_step,"
                        " chosen_step, notify, role, professional_id, reason, decision_json,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            screening_id,
                            _dumps(dict(sub.suggestion)),
                            sub.suggested_step,
                            sub.chosen_step,
                            int(sub.notify),
                            sub.role,
                            sub.professional_id,
                            sub.reason,
                            _dumps(dict(sub.decision)),
                            created_at,
                        ),
                    )
                    decision_id = int(cur.lastrowid or 0)
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StorageError(f"the submission was not stored: {exc}") from None
        return StoredScreening(screening_id, decision_id, created_at, False)

    def lookup(
        self, idempotency_key: str, form_id: str, instrument: str, answers: Mapping[str, Any]
    ) -> StoredScreening | None:
        """What was stored for this form token, if anything (a cheap check before the work).

        Raises
        ------
        IdempotencyConflictError
            The token was stored with different content.
        """
        try:
            with self._connect() as con:
                return _prior(con, idempotency_key, form_id, instrument, _dumps(dict(answers)))
        except sqlite3.Error as exc:
            raise StorageError(f"the audit log could not be read: {exc}") from None

    def counts(self) -> dict[str, int]:
        """Number of rows in each table."""
        with self._connect() as con:
            return {
                "screenings": int(con.execute("SELECT COUNT(*) FROM screenings").fetchone()[0]),
                "decisions": int(con.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]),
            }

    def get(self, screening_id: int) -> dict[str, Any] | None:
        """One screening with its decision, as a dict of columns (``None`` when unknown)."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            row = con.execute(
                "SELECT s.id AS screening_id, s.form_id, s.instrument, s.age_years,"
                " s.answers_json, s.scores_json, s.created_at, d.id AS decision_id,"
                " d.suggestion_json, d.suggested_step, d.chosen_step, d.notify, d.role,"
                " d.professional_id, d.reason, d.decision_json"
                " FROM screenings AS s JOIN decisions AS d ON d.screening_id = s.id"
                " WHERE s.id = ?",
                (int(screening_id),),
            ).fetchone()
        return None if row is None else dict(row)
