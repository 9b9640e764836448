"""The audit log of the web form: screenings and their decisions in embedded SQLite.

The log is **append-only**. This module contains no statement that changes or removes a
row (a test reads this file to prove it), and the database itself refuses such statements
with triggers, so a record, once written, says forever what was seen and decided.

The tables:

``screenings``
    One filled-in form: the child's reference (in ``form_id``: a keyed hash of the
    pseudonymous form id), the instrument (``id@version``), the time, and the idempotency
    key of the rendered form it came from (unique, so a double submit stores once). The
    age, answers and scores are sealed records (below); the columns say ``"sealed"``.
``decisions``
    The professional's decision on exactly one screening: the suggested and the chosen
    step, whether the professional notifies the municipality, the role, the pseudonymous
    professional id, the time. The suggestion as shown, the reason and the decision record
    of :mod:`opsporing.decision` are sealed records.
``records``, ``sealed``, ``access``, ``erasures``
    Personal records sealed per child and kind, every read of them, and what retention
    erased (:mod:`._records`).

``users``
    The people who may log in to the web form: name, role, Argon2 password hash (``NULL``
    when the user is disabled), time. A change to a user is a new row; the newest row of a
    name is the user as they are now, so this table is append-only too.
``chain``
    One entry per row of the tables above but ``sealed`` (whose hash is in ``records``), in
    the order written, each a keyed hash
    (HMAC-SHA256) of its row and of the entry before it (see :mod:`._chain`): an
    edited, removed or slipped-in row is found by :meth:`AuditLog.verify`, a log cut short
    or reset by comparing with its last known head, kept in ``<db>.head`` after every write.

A screening is never stored without its decision: both rows and their chain entries are
written in one transaction (:meth:`AuditLog.record`). The database runs in WAL mode with a
busy timeout, and each submission takes the write lock at the start of its transaction
(``BEGIN IMMEDIATE``), so concurrent submissions queue instead of failing or overwriting.

The database, its key and its head are created readable by their owner only (mode 0600).
A database that is missing while its head says rows existed is never created anew.

**Personal content is sealed** (:mod:`._records`): the answers, scores, suggestion, reason
and decision record of a submission are stored as three encrypted records (kinds
``screening``, ``suggestion``, ``decision``, linked ``"screening:<id>"``) under data keys
of the child kept in the key store beside the log (:mod:`._keystore`); the ``screenings``
and ``decisions`` rows keep only what is not about the child (instrument, steps, role,
professional, time) and the child's keyed reference in ``form_id``. Retention destroys
keys (``opsporing retention run``); the chain still verifies.

The generic path for any kind of personal record (for example the follow-up plans)::

    log.append_record(kind, pseudonym, content, link=None, index=None)
                                                            -> StoredRecord  (sealed, chained)
    log.read_child(pseudonym, reader, kinds=None)           -> [PersonalRecord]  (logged)
    log.read_ref(child_ref, reader, kinds=None)             -> the same, by reference (logged)
    log.log_access(child_ref, reader, what)                 (a read made some other way)
    log.access_log(child=..., user=...)                     -> [AccessEntry]

A log written before personal content was sealed (its screenings in clear) is refused on
opening, with what to do: it cannot be erased by key without rewriting its chain.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import (
    AuditChainError,
    DecisionError,
    IdempotencyConflictError,
    StorageError,
    UserError,
)
from ..privacy import looks_like_cpr, reject_cpr, valid_pseudonymous_id
from . import _chain, _records
from ._chain import ChainReport, Head
from ._files import beside, create_private, secret_file, tighten, write_private_atomically
from ._followup_schema import FOLLOWUP_COLUMNS, FOLLOWUP_SCHEMA, INDEX_TABLES
from ._keystore import KeyStore, empty_wal, master_key
from ._records import AccessEntry, PersonalRecord, Reader, protection_policy
from ._sql import append_only

__all__ = [
    "AuditLog",
    "IdempotencyConflictError",
    "StorageError",
    "StoredRecord",
    "StoredScreening",
    "StoredUser",
    "Submission",
]

#: What the ``screenings`` and ``decisions`` rows hold in place of sealed content.
SEALED = '"sealed"'
#: The kinds of record one submission is stored as.
SUBMISSION_KINDS = ("screening", "suggestion", "decision")

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
""" + append_only("users", "screenings", "decisions")


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
class StoredRecord:
    """What :meth:`AuditLog.append_record` wrote."""

    record_id: int
    child_ref: str
    kind: str
    created_at: str


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
                con.executescript(_SCHEMA + _records.SCHEMA + FOLLOWUP_SCHEMA + _chain.SCHEMA)
                empty = _chain.current_head(con).count == 0
                # Records keyed by a child's reference need the index key they were made with.
                children = bool(
                    con.execute(
                        "SELECT EXISTS (SELECT 1 FROM records) OR EXISTS (SELECT 1 FROM screenings)"
                    ).fetchone()[0]
                )
                in_clear = con.execute(
                    "SELECT COUNT(*) FROM screenings WHERE answers_json <> ?", (SEALED,)
                ).fetchone()[0]
                # The follow-up table of before plans were sealed held them in clear.
                followup_columns = {r[1] for r in con.execute("PRAGMA table_info(followups)")}
                plans_in_clear = "record_json" in followup_columns
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the audit log {self.path}: {exc}") from None
        if plans_in_clear:
            raise StorageError(
                f"the audit log {self.path} has a follow-up table from before plans and reviews "
                "were sealed (their views and texts in clear): it cannot be erased by "
                "destroying a key. Keep it read-only and start a new log "
                "(docs/data-protection.md, 'Existing logs')"
            )
        if in_clear:
            raise StorageError(
                f"the audit log {self.path} holds {in_clear} screening(s) written before "
                "personal content was encrypted: they cannot be erased by destroying a key, and "
                "rewriting them would break the chain. Keep the file read-only where the "
                "municipality's archive rules say (verify it with an older opsporing), and "
                "start a new log for new screenings (docs/data-protection.md, 'Existing logs')"
            )
        self.keys = KeyStore(self.path, master_key(self.path), create=not children)
        # Held open while the log is: the per-operation connections then never close the
        # file's last connection, which would checkpoint the WAL every time (milliseconds).
        self._keeper = sqlite3.connect(self.path, check_same_thread=False)
        self._keeper.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file
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

    def _write(self, work: Callable[[sqlite3.Connection], tuple[Any, Head]], what: str) -> Any:
        """Run ``work`` in one write transaction; commit and keep the head it returns."""
        self._check_before_writing()
        try:
            with self._head_lock, self._connect() as con:
                # IMMEDIATE: take the write lock now, so every check and insert sees and
                # writes one consistent state even with many concurrent writers.
                con.execute("BEGIN IMMEDIATE")
                try:
                    result, head = work(con)
                    if not con.in_transaction:
                        return result  # the work rolled back: nothing to keep
                    con.execute("COMMIT")
                    self._keep_head(head)
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StorageError(f"{what} was not stored: {exc}") from None
        return result

    def _now(self) -> str:
        return self._clock().isoformat(timespec="microseconds")

    def record(self, sub: Submission) -> StoredScreening:
        """Store a screening and its decision in one transaction, once per token.

        Returns the stored ids. When the token was stored before with the same content
        (a double submit), nothing new is written and ``duplicate`` is ``True``. The
        personal content is sealed under the child's keys (see the module's docstring).

        Raises
        ------
        IdempotencyConflictError
            The token was stored before with different content; nothing is written.
        AuditChainError
            The log does not verify (checked before the first write); nothing is written.
        StorageError
            The database could not be written; nothing is written.
        """
        created_at = self._now()
        _check_decision_signature(sub.decision)
        child = self.child_ref(sub.form_id)
        keys = {
            kind: self.keys.data_key(child, kind, create=True, now=created_at)
            for kind in SUBMISSION_KINDS
        }
        contents: dict[str, dict[str, Any]] = {
            "screening": {
                "form_id": sub.form_id,
                "instrument": sub.instrument,
                "age_years": sub.age_years,
                "answers": dict(sub.answers),
                "scores": dict(sub.scores),
            },
            "suggestion": {
                "suggestion": dict(sub.suggestion),
                "suggested_step": sub.suggested_step,
            },
            "decision": {
                "decision": dict(sub.decision),
                "chosen_step": sub.chosen_step,
                "notify": sub.notify,
                "role": sub.role,
                "professional_id": sub.professional_id,
                "reason": sub.reason,
            },
        }

        def work(con: sqlite3.Connection) -> tuple[StoredScreening, Head]:
            prior = self._prior(con, sub.idempotency_key, sub.form_id, sub.instrument, sub.answers)
            if prior is not None:
                con.execute("ROLLBACK")
                return prior, Head(0, _chain.GENESIS)
            cur = con.execute(
                "INSERT INTO screenings (idempotency_key, form_id, instrument, age_years,"
                " answers_json, scores_json, created_at) VALUES (?, ?, ?, NULL, ?, ?, ?)",
                (sub.idempotency_key, child, sub.instrument, SEALED, SEALED, created_at),
            )
            screening_id = int(cur.lastrowid or 0)
            cur = con.execute(
                "INSERT INTO decisions (screening_id, suggestion_json, suggested_step,"
                " chosen_step, notify, role, professional_id, reason, decision_json,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    screening_id,
                    SEALED,
                    sub.suggested_step,
                    sub.chosen_step,
                    int(sub.notify),
                    sub.role,
                    sub.professional_id,
                    SEALED,
                    created_at,
                ),
            )
            decision_id = int(cur.lastrowid or 0)
            _chain.append(con, self._key, "screenings", screening_id)
            head = _chain.append(con, self._key, "decisions", decision_id)
            for kind in SUBMISSION_KINDS:
                key = keys[kind]
                assert key is not None
                _, head = _records.insert_record(
                    con, self._key, key, kind, child, contents[kind],
                    link=f"screening:{screening_id}", created_at=created_at,
                )  # fmt: skip
            return StoredScreening(screening_id, decision_id, created_at, False), head

        result: StoredScreening = self._write(work, "the submission")
        return result

    def _prior(
        self,
        con: sqlite3.Connection,
        key: str,
        form_id: str,
        instrument: str,
        answers: Mapping[str, Any],
    ) -> StoredScreening | None:
        """The screening stored under ``key`` (same content), ``None``, or a conflict."""
        row = con.execute(
            "SELECT s.id, d.id, s.created_at, s.form_id, s.instrument"
            " FROM screenings AS s JOIN decisions AS d ON d.screening_id = s.id"
            " WHERE s.idempotency_key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        same = (row[3], row[4]) == (self.keys.child_ref(form_id), instrument)
        if same:
            stored = _records.select_records(
                con, self.keys, links=[f"screening:{row[0]}"], kinds=("screening",)
            )
            same = (
                bool(stored)
                and stored[0].content is not None
                and (_dumps(stored[0].content.get("answers")) == _dumps(dict(answers)))
            )
        if not same:
            raise IdempotencyConflictError(
                "this form was already submitted with different content; open a new form"
            )
        return StoredScreening(int(row[0]), int(row[1]), row[2], True)

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
                return self._prior(con, idempotency_key, form_id, instrument, answers)
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
        """One screening with its decision, as a dict of columns (``None`` when unknown).

        The sealed content is opened: the columns read as they were submitted, and
        ``child_ref`` and ``erased`` are added. An erased submission has ``None`` in its
        personal columns. Reading here is not logged: who shows the row to a person logs
        it with :meth:`log_access`.
        """
        if not 0 < screening_id <= MAX_ROW_ID:
            return None  # SQLite holds no larger id (and would overflow on one)
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            row = con.execute(
                "SELECT s.id AS screening_id, s.form_id AS child_ref, s.instrument,"
                " s.created_at, d.id AS decision_id, d.suggested_step, d.chosen_step, d.notify,"
                " d.role, d.professional_id"
                " FROM screenings AS s JOIN decisions AS d ON d.screening_id = s.id"
                " WHERE s.id = ?",
                (int(screening_id),),
            ).fetchone()
            if row is None:
                return None
            con.row_factory = None
            records = _records.select_records(con, self.keys, links=[f"screening:{screening_id}"])
        out = dict(row)
        by_kind = {r.kind: r.content for r in records}
        screening, suggestion = by_kind.get("screening"), by_kind.get("suggestion")
        decision = by_kind.get("decision")
        erased = screening is None or suggestion is None or decision is None
        out.update(
            erased=erased,
            form_id=screening["form_id"] if screening else None,
            age_years=screening["age_years"] if screening else None,
            answers_json=_dumps(screening["answers"]) if screening else None,
            scores_json=_dumps(screening["scores"]) if screening else None,
            suggestion_json=_dumps(suggestion["suggestion"]) if suggestion else None,
            reason=decision["reason"] if decision else None,
            decision_json=_dumps(decision["decision"]) if decision else None,
        )
        return out

    # --- personal records (the generic path; see the module docstring) ----------------------------
    def child_ref(self, pseudonym: str) -> str:
        """The reference under which the log stores the child with this pseudonym.

        Raises
        ------
        UserError
            The pseudonym is not one (:func:`opsporing.privacy.valid_pseudonymous_id`:
            1-64 letters, digits, ``.-_``, the whole text, no CPR number).
        """
        if isinstance(pseudonym, str) and looks_like_cpr(pseudonym):
            reject_cpr([pseudonym], "child")  # named as a CPR number (masked), not echoed
        if not valid_pseudonymous_id(pseudonym):
            # The one rule of the library: the id the web form, the API and the follow-up
            # records accept, so a record can never be filed under "B-7\n" or " B-7".
            raise UserError(
                f"child = {str(pseudonym)[:40]!r}: expected a pseudonymous id (1-64 letters, "
                "digits, '.', '-' or '_')"
            )
        return self.keys.child_ref(pseudonym)

    def append_record(
        self,
        kind: str,
        pseudonym: str,
        content: Mapping[str, Any],
        *,
        link: str | None = None,
        index: tuple[str, Mapping[str, Any]] | None = None,
    ) -> StoredRecord:
        """Seal and append one personal record of ``kind`` about the child ``pseudonym``.

        Parameters
        ----------
        kind : str
            A kind with a retention period in ``protection.yaml`` (else :class:`UserError`).
        pseudonym : str
            The child's pseudonymous id; the log stores only its keyed reference.
        content : mapping
            JSON values; sealed with the child's data key of this kind.
        link : str, optional
            A clear, non-personal reference (e.g. ``"plan:<id>"``) to find the record by.
        index : (table, values), optional
            A clear, non-personal index row written in the same transaction (e.g. a row of
            ``followups``: what the due list needs). The store adds ``child_ref`` and
            ``record`` (the new record's id) and ``created_at``; both rows are chained.
        """
        kind = protection_policy().check_kind(kind)
        if index is not None:
            table, values = index
            if table not in INDEX_TABLES or set(values) != FOLLOWUP_COLUMNS[table]:
                raise StorageError(
                    f"index = {table!r}, columns = {sorted(values)}: expected one of "
                    f"{list(INDEX_TABLES)} with its columns"
                )
        created_at = self._now()
        child = self.child_ref(pseudonym)
        key = self.keys.data_key(child, kind, create=True, now=created_at)
        assert key is not None

        def work(con: sqlite3.Connection) -> tuple[StoredRecord, Head]:
            rid, head = _records.insert_record(
                con, self._key, key, kind, child, content, link=link, created_at=created_at
            )
            if index is not None:
                table, values = index
                row = {**values, "child_ref": child, "record": rid, "created_at": created_at}
                names = ", ".join(row)  # checked against FOLLOWUP_COLUMNS above
                cur = con.execute(
                    f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )
                head = _chain.append(con, self._key, table, int(cur.lastrowid or 0))
            return StoredRecord(rid, child, kind, created_at), head

        result: StoredRecord = self._write(work, f"the {kind} record")
        return result

    def log_access(self, child_ref: str, reader: Reader, what: Sequence[str]) -> None:
        """Record that ``reader`` read ``what`` of the child ``child_ref`` (chained)."""
        created_at = self._now()

        def work(con: sqlite3.Connection) -> tuple[None, Head]:
            return None, _records.insert_access(con, self._key, child_ref, reader, what, created_at)

        self._write(work, "the access entry")

    def read_child(
        self, pseudonym: str, reader: Reader, *, kinds: Sequence[str] | None = None
    ) -> list[PersonalRecord]:
        """Every record of the child (of ``kinds``), opened; the read is logged first."""
        return self.read_ref(self.child_ref(pseudonym), reader, kinds=kinds)

    def read_ref(
        self, child_ref: str, reader: Reader, *, kinds: Sequence[str] | None = None
    ) -> list[PersonalRecord]:
        """As :meth:`read_child`, for a child known by its reference (an index row's)."""
        wanted = sorted(kinds) if kinds is not None else ["*"]
        self.log_access(child_ref, reader, [f"{k}:*" for k in wanted])
        with self._connect() as con:
            return _records.select_records(con, self.keys, child_ref=child_ref, kinds=kinds)

    def access_log(self, *, child: str | None = None, user: str | None = None) -> list[AccessEntry]:
        """The access log of one child (by pseudonym), one user, or everyone."""
        ref = self.child_ref(child) if child is not None else None
        with self._connect() as con:
            return _records.select_access(con, child_ref=ref, user=user)

    def record_kinds(self) -> list[tuple[str, str, int, int, str]]:
        """Per child and kind, records not erased: ``(child_ref, kind, count, last id, newest)``."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT r.child_ref, r.kind, COUNT(*), MAX(r.id), MAX(r.created_at)"
                " FROM records AS r WHERE r.id > COALESCE((SELECT MAX(e.up_to) FROM erasures"
                " AS e WHERE e.child_ref = r.child_ref AND e.kind = r.kind), 0)"
                " GROUP BY r.child_ref, r.kind ORDER BY r.child_ref, r.kind"
            ).fetchall()
        return [(str(a), str(b), int(c), int(d), str(e)) for a, b, c, d, e in rows]

    def record_erasure(
        self, child_ref: str, kind: str, up_to: int, records: int, rule: str
    ) -> bool:
        """Append the erasure of ``(child_ref, kind)`` up to ``up_to`` unless it is there."""
        created_at = self._now()

        def work(con: sqlite3.Connection) -> tuple[bool, Head]:
            if _records._erased_up_to(con, child_ref, kind) >= up_to:
                con.execute("ROLLBACK")
                return False, Head(0, _chain.GENESIS)
            head = _records.insert_erasure(
                con, self._key, child_ref, kind, up_to, records, rule, created_at
            )
            return True, head

        result: bool = self._write(work, "the erasure")
        return result

    def scrub(self) -> bool:
        """Checkpoint and empty the log's write-ahead log (after erasures); ``True`` if done."""
        with self._connect() as con:
            return empty_wal(con)

    # --- users ------------------------------------------------------------------------------
    def add_user_row(self, name: str, role: str, password_hash: str | None) -> StoredUser:
        """Append a row for user ``name`` (new, new password, or disabled with ``None``).

        Checking the name, role and password is the caller's job (:mod:`._auth`).
        """
        created_at = self._now()

        def work(con: sqlite3.Connection) -> tuple[int, Head]:
            cur = con.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, password_hash, created_at),
            )
            user_id = int(cur.lastrowid or 0)
            return user_id, _chain.append(con, self._key, "users", user_id)

        user_id: int = self._write(work, "the user")
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
        plain = sorted(set(FOLLOWUP_COLUMNS) - set(INDEX_TABLES))
        if table not in plain or set(values) != FOLLOWUP_COLUMNS[table]:
            # An index row of a personal record is written only with its sealed record.
            raise StorageError(
                f"table = {table!r}, columns = {sorted(values)}: expected one of "
                f"{plain} with its columns (plans and reviews: append_record)"
            )
        created_at = self._clock().isoformat(timespec="microseconds")
        row = {**values, "created_at": created_at}
        columns = ", ".join(row)  # names checked against FOLLOWUP_COLUMNS above

        def work(con: sqlite3.Connection) -> tuple[int, Head]:
            cur = con.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            row_id = int(cur.lastrowid or 0)
            return row_id, _chain.append(con, self._key, table, row_id)

        # The one chained write transaction (lock, BEGIN IMMEDIATE, commit, keep the head).
        return int(self._write(work, f"the {table} row")), created_at

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
            problem = _records.check_content(con) if report.ok else ""
        if problem:
            return ChainReport(False, report.head, None, problem)
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
