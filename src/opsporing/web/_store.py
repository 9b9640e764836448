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

``users``
    The people who may log in to the web form: name, role, Argon2 password hash (``NULL``
    when the user is disabled), time. A change to a user is a new row; the newest row of a
    name is the user as they are now, so this table is append-only too.
``chain``
    One entry per row of the three tables above, in the order written, each a keyed hash
    (HMAC-SHA256) of its row and of the entry before it (see :mod:`._chain`): an
    edited, removed or slipped-in row is found by :meth:`AuditLog.verify`, a log cut short
    or reset by comparing with its last known head, kept in ``<db>.head`` after every write.

A screening is never stored without its decision: both rows and their chain entries are
written in one transaction (:meth:`AuditLog.record`). The database runs in WAL mode with a
busy timeout, and each submission takes the write lock at the start of its transaction
(``BEGIN IMMEDIATE``), so concurrent submissions queue instead of failing or overwriting.

The database, its key and its head are created readable by their owner only (mode 0600).
A database that is missing while its head says rows existed is never created anew.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import AuditChainError, DecisionError, IdempotencyConflictError, StorageError
from . import _chain
from ._chain import ChainReport, Head
from ._files import beside, create_private, secret_file, tighten, write_private_atomically
from ._followup_schema import FOLLOWUP_COLUMNS, FOLLOWUP_SCHEMA

__all__ = [
    "AuditLog",
    "IdempotencyConflictError",
    "StorageError",
    "StoredScreening",
    "StoredUser",
    "Submission",
]

log = logging.getLogger("opsporing.web")

#: The largest row id SQLite can hold (a signed 64-bit integer).
MAX_ROW_ID = 2**63 - 1
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
CREATE TABLE IF NOT EXISTS users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    password_hash   TEXT,
    created_at      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS users_by_name ON users (name, id);
CREATE TRIGGER IF NOT EXISTS users_append_only_u BEFORE UPDATE ON users
    BEGIN SELECT RAISE(ABORT, 'users is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS users_append_only_d BEFORE DELETE ON users
    BEGIN SELECT RAISE(ABORT, 'users is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS screenings_append_only_u BEFORE UPDATE ON screenings
    BEGIN SELECT RAISE(ABORT, 'screenings is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS screenings_append_only_d BEFORE DELETE ON screenings
    BEGIN SELECT RAISE(ABORT, 'screenings is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_u BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS decisions_append_only_d BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions is an append-only audit log'); END;
"""


def _check_decision_signature(record: Mapping[str, Any]) -> None:
    """Refuse a decision record that this installation's protocol did not sign.

    :meth:`opsporing.decision.Decision.from_dict` re-verifies the id and the signature:
    a forged or edited decision (an object built around the protocol, a pickle, a dict)
    never reaches the append-only log.
    """
    from ..decision import Decision

    try:
        Decision.from_dict(dict(record))
    except DecisionError as exc:
        raise DecisionError(f"decision: refused before storing: {exc}") from None


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


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A user as they are now: the newest row of their name in ``users``.

    ``version`` is that row's id: a session made before a later change (new password,
    disabled) names an older version and is no longer valid.
    """

    name: str
    role: str
    password_hash: str | None
    version: int
    created_at: str

    @property
    def active(self) -> bool:
        return self.password_hash is not None


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
    """The append-only, hash-chained SQLite audit log of screenings, decisions and users.

    Parameters
    ----------
    path : str or Path
        The database file; created (with its folder, mode 0600) when missing, unless its
        head file says rows existed (then :class:`~opsporing.errors.AuditChainError`).
        Beside it: ``<path>.audit-key`` (the chain's key) and ``<path>.head`` (its head).
    clock : callable, optional
        Returns the current time (an aware :class:`~datetime.datetime`); default UTC now.
        Tests pass a fixed clock.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> log.counts()
    {'screenings': 0, 'decisions': 0}
    >>> log.verify().ok, log.head().count
    (True, 0)
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self.key_path = beside(self.path, "audit-key")
        self.head_path = beside(self.path, "head")
        self._clock = clock or _utc_now
        # One writer of the head file at a time, in the order of the commits.
        self._head_lock = threading.Lock()
        known = _chain.read_head(self.head_path)
        if not self.path.exists() and known is not None and known.count > 0:
            raise AuditChainError(
                f"the audit log {self.path} is missing, but its head {self.head_path} says it "
                f"held {known.count} entries: restore it from a backup; it is not created anew"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = create_private(self.path)
            for suffix in ("", "-wal", "-shm"):
                tighten(Path(f"{self.path}{suffix}"))
            with self._connect() as con:
                # WAL lets readers go on while one writer writes; it is a property of the file.
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                con.executescript(_SCHEMA + FOLLOWUP_SCHEMA + _chain.SCHEMA)
                empty = _chain.current_head(con).count == 0
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the audit log {self.path}: {exc}") from None
        if str(mode).lower() != "wal":
            raise StorageError(f"the audit log {self.path} cannot use WAL mode (got {mode!r})")
        # A key is made only for a log that has nothing to check yet.
        self._key = secret_file(self.key_path, create=empty)
        #: Whether the chain was verified since opening: nothing is written to a log that
        #: does not verify (a new head would hide that it was cut short).
        self._checked = False
        if new or (empty and known is None):
            try:
                self._write_head(Head(0, _chain.GENESIS))
            except OSError as exc:
                raise StorageError(f"cannot write the head {self.head_path}: {exc}") from None

    def _write_head(self, head: Head) -> None:
        write_private_atomically(self.head_path, head.to_json())

    def _keep_head(self, head: Head) -> None:
        """Keep the head after a commit; the rows are stored even when this fails."""
        try:
            self._write_head(head)
        except OSError as exc:
            # The kept head stays behind (a lower bound, still safe); the next write retries.
            log.warning("the head %s was not updated: %s", self.head_path, exc)

    def _check_before_writing(self) -> None:
        if not self._checked:
            self.check()

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
        AuditChainError
            The log does not verify (checked before the first write); nothing is written.
        StorageError
            The database could not be written; nothing is written.
        """
        created_at = self._clock().isoformat(timespec="microseconds")
        answers = _dumps(dict(sub.answers))
        _check_decision_signature(sub.decision)
        self._check_before_writing()
        try:
            with self._head_lock, self._connect() as con:
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
                    _chain.append(con, self._key, "screenings", screening_id)
                    head = _chain.append(con, self._key, "decisions", decision_id)
                    con.execute("COMMIT")
                    self._keep_head(head)
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
        if not 0 < screening_id <= MAX_ROW_ID:
            return None  # SQLite holds no larger id (and would overflow on one)
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

    # --- users ------------------------------------------------------------------------------
    def add_user_row(self, name: str, role: str, password_hash: str | None) -> StoredUser:
        """Append a row for user ``name`` (new, new password, or disabled with ``None``).

        Checking the name, role and password is the caller's job (:mod:`._auth`).
        """
        created_at = self._clock().isoformat(timespec="microseconds")
        self._check_before_writing()
        try:
            with self._head_lock, self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                try:
                    cur = con.execute(
                        "INSERT INTO users (name, role, password_hash, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (name, role, password_hash, created_at),
                    )
                    user_id = int(cur.lastrowid or 0)
                    head = _chain.append(con, self._key, "users", user_id)
                    con.execute("COMMIT")
                    self._keep_head(head)
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StorageError(f"the user was not stored: {exc}") from None
        return StoredUser(name, role, password_hash, user_id, created_at)

    _USERS_NOW = (
        "SELECT name, role, password_hash, id, created_at FROM users"
        " WHERE id IN (SELECT MAX(id) FROM users GROUP BY name)"
    )

    def user(self, name: str) -> StoredUser | None:
        """User ``name`` as they are now (``None`` when there is no such user)."""
        with self._connect() as con:
            row = con.execute(
                "SELECT name, role, password_hash, id, created_at FROM users"
                " WHERE name = ? ORDER BY id DESC LIMIT 1",
                (name,),
            ).fetchone()
        return None if row is None else StoredUser(*row)

    def users(self) -> list[StoredUser]:
        """Every user as they are now, by name."""
        with self._connect() as con:
            rows = con.execute(self._USERS_NOW + " ORDER BY name").fetchall()
        return [StoredUser(*row) for row in rows]

    # --- follow-up records (issue 14: units, plans, reviews; see ._followup_schema) ---------
    def append_row(self, table: str, values: Mapping[str, Any]) -> tuple[int, str]:
        """Append one row to a follow-up table and chain it; its id and time.

        Checking the values is the caller's job (:mod:`opsporing.followup`).
        """
        if table not in FOLLOWUP_COLUMNS or set(values) != FOLLOWUP_COLUMNS[table]:
            raise StorageError(
                f"table = {table!r}, columns = {sorted(values)}: expected one of "
                f"{sorted(FOLLOWUP_COLUMNS)} with its columns"
            )
        created_at = self._clock().isoformat(timespec="microseconds")
        row = {**values, "created_at": created_at}
        columns = ", ".join(row)  # names checked against FOLLOWUP_COLUMNS above
        self._check_before_writing()
        try:
            with self._head_lock, self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                try:
                    cur = con.execute(
                        f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
                        tuple(row.values()),
                    )
                    row_id = int(cur.lastrowid or 0)
                    head = _chain.append(con, self._key, table, row_id)
                    con.execute("COMMIT")
                    self._keep_head(head)
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StorageError(f"the {table} row was not stored: {exc}") from None
        return row_id, created_at

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query, as dicts (the connection refuses writes)."""
        with self._connect() as con:
            con.execute("PRAGMA query_only = ON")
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, params).fetchall()]

    # --- the chain --------------------------------------------------------------------------
    def head(self) -> Head:
        """The chain's head now: entry count and last mac (export it with ``audit head``)."""
        with self._connect() as con:
            return _chain.current_head(con)

    def known_head(self) -> Head | None:
        """The head kept beside the database after the last write (``None`` when missing)."""
        return _chain.read_head(self.head_path)

    def verify(self, known: Head | None = None, *, use_kept: bool = True) -> ChainReport:
        """Check the whole chain, and that it passes through ``known`` and the kept head.

        Parameters
        ----------
        known : Head, optional
            A head exported earlier (``opsporing audit head``).
        use_kept : bool
            Also check against the head kept beside the database (a missing one is a
            problem once the log holds rows).
        """
        kept = self.known_head() if use_kept else None
        with self._connect() as con:
            report = _chain.verify(con, self._key, kept)
            if report.ok and known is not None:
                report = _chain.verify(con, self._key, known)
        if report.ok and use_kept and kept is None and report.head.count > 0:
            return ChainReport(
                False, report.head, None,
                f"the head file {self.head_path} is missing: restore it from your copy, or "
                f"after checking the log write it anew with `opsporing audit head --db "
                f"{self.path} --out {self.head_path}`",
            )  # fmt: skip
        return report

    def check(self) -> None:
        """Raise :class:`~opsporing.errors.AuditChainError` unless :meth:`verify` is ok."""
        report = self.verify()
        if not report.ok:
            raise AuditChainError(
                f"the audit log {self.path} does not verify: {report.problem}. "
                f"Check it with: opsporing audit verify --db {self.path}"
            )
        self._checked = True
