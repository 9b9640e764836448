"""Personal records in the audit log: sealed per child, chained, and every read logged.

This is the one path for personal content about a child, whatever its kind (screening,
suggestion, decision, and later kinds such as plans and reviews). Four tables, created
beside the log's own (:mod:`._store`), all append-only and the first three chained
(:mod:`._chain`):

``records``
    One personal record: the child's reference (a keyed hash of the pseudonym, see
    :class:`._keystore.KeyStore`, never the pseudonym), the kind, an optional clear link
    (``"screening:12"``), the time, and the **SHA-256 of its ciphertext**. The chain covers
    this row, so the chain covers the ciphertext's hash.
``sealed``
    The record's content: canonical JSON, encrypted with AES-256-GCM under the data key of
    ``(child, kind)``, the record's metadata as associated data. Not chained itself;
    :func:`check_content` compares it with the chained hash.
``access``
    Who read which child's records, when, through which channel (web, api, cli) and for which
    purpose (a code of ``protection.yaml``), and what was read.
``erasures``
    Which ``(child, kind)`` had its data key destroyed, by which retention rule, covering
    which records.

Erasure destroys the data key in the key store (crypto-shredding): the ciphertext stays,
unreadable, and the chain still verifies, because nothing in the log changes. A record
whose key is gone reads as *erased* when an ``erasures`` row covers it; without one, it is
an error (a key lost or removed behind the log's back).

The API for other kinds of records (on :class:`._store.AuditLog`)::

    stored = log.append_record("plan", "B-2026-041", {"goal": ...}, link="plan:7")
    reader = Reader(user="P-0042", role="skole", purpose="opsporing", channel="web")
    records = log.read_child("B-2026-041", reader, kinds=("plan",))   # logged in ``access``

A new kind needs a retention period in ``protection.yaml``; writing one without is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import StorageError, UserError
from ..vocabulary import Language, Text
from . import _chain
from ._chain import Head
from ._keystore import KeyStore
from ._sql import append_only

__all__ = [
    "CHANNELS",
    "SCHEMA",
    "AccessEntry",
    "PersonalRecord",
    "Protection",
    "Reader",
    "check_content",
    "insert_access",
    "insert_erasure",
    "insert_record",
    "protection_policy",
    "select_access",
    "select_records",
]

#: Environment variable naming a municipality's own ``protection.yaml``.
POLICY_ENV = "OPSPORING_PROTECTION_POLICY"
#: How a read reached the records.
CHANNELS = ("web", "api", "cli")
_NONCE = 12
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    child_ref  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    link       TEXT,
    digest     TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_child ON records (child_ref, kind, id);
CREATE INDEX IF NOT EXISTS records_by_link ON records (link);
CREATE TABLE IF NOT EXISTS sealed (
    record_id  INTEGER PRIMARY KEY REFERENCES records (id),
    nonce      BLOB    NOT NULL,
    ciphertext BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS access (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    child_ref  TEXT    NOT NULL,
    user       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    what       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS access_by_child ON access (child_ref, id);
CREATE INDEX IF NOT EXISTS access_by_user ON access (user, id);
CREATE TABLE IF NOT EXISTS erasures (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    child_ref  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    up_to      INTEGER NOT NULL,
    records    INTEGER NOT NULL,
    rule       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS erasures_by_child ON erasures (child_ref, kind);
""" + append_only("records", "sealed", "access", "erasures")


# --- the policy ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Protection:
    """Purposes of reading and retention periods (``protection.yaml``)."""

    purposes: Mapping[str, Text]
    retention_days: Mapping[str, int]
    #: The purpose of the receipt shown right after recording a decision.
    recording_purpose: str

    def purpose_label(self, code: str, lang: Language = "da") -> str:
        return self.purposes[code].get(lang)

    def check_purpose(self, purpose: object) -> str:
        """``purpose`` when it is one of the policy's codes, else a :class:`UserError`."""
        if isinstance(purpose, str) and purpose in self.purposes:
            return purpose
        shown = repr(purpose)[:40]
        raise UserError(f"purpose = {shown}: expected one of {', '.join(self.purposes)}")

    def check_kind(self, kind: object) -> str:
        """``kind`` when the policy gives it a retention period, else a :class:`UserError`."""
        if isinstance(kind, str) and kind in self.retention_days:
            return kind
        shown = repr(kind)[:40]
        raise UserError(
            f"kind = {shown}: expected a record kind with a retention period in "
            f"protection.yaml ({', '.join(self.retention_days)})"
        )


#: The record kinds this library writes (submissions, follow-up plans and reviews). Every
#: policy gives each a period: retention erases a kind without one at once, so a policy copied
#: before a kind existed would otherwise erase every stored record of it on the next run.
WRITTEN_KINDS = ("screening", "suggestion", "decision", "plan", "review")


def _load_policy(text: str, source: str) -> Protection:
    try:
        data = yaml.safe_load(text)
        purposes = {
            str(code): Text(str(label["da"]), str(label["en"]))
            for code, label in data["purposes"].items()
        }
        days = {str(kind): data["retention_days"][kind] for kind in data["retention_days"]}
        recording = str(data["recording_purpose"])
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(
            f"{source}: expected 'purposes' (code: {{da, en}}), 'recording_purpose' and "
            f"'retention_days' (kind: days): {str(exc)[:80]}"
        ) from None
    for kind, value in days.items():
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 36500
        if not ok or not kind or set(kind) - _KIND_CHARS:
            raise UserError(
                f"{source}: retention_days.{kind[:40]} = {str(value)[:20]!r}: expected a kind of "
                "lower-case letters and a whole number of days from 1 to 36500"
            )
    missing = [kind for kind in WRITTEN_KINDS if kind not in days]
    if missing:
        raise UserError(
            f"{source}: retention_days has no period for {', '.join(missing)}: expected one for "
            f"every kind of record the library writes ({', '.join(WRITTEN_KINDS)}); without "
            "one, retention would erase every stored record of that kind"
        )
    if recording not in purposes:
        raise UserError(
            f"{source}: recording_purpose = {recording[:40]!r}: expected one of the purposes"
        )
    return Protection(purposes, days, recording)


@functools.cache
def _policy(path: str) -> Protection:
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{POLICY_ENV} = {path[:80]!r}: cannot read it: {exc}") from None
        return _load_policy(text, path)
    text = resources.files("opsporing.web").joinpath("protection.yaml").read_text(encoding="utf-8")
    return _load_policy(text, "protection.yaml")


def protection_policy() -> Protection:
    """The policy: ``$OPSPORING_PROTECTION_POLICY`` when set, else the shipped file.

    Examples
    --------
    >>> p = protection_policy()
    >>> "foraeldres_indsigt" in p.purposes, p.retention_days["decision"] > 365
    (True, True)
    """
    return _policy(os.environ.get(POLICY_ENV, ""))


# --- records ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads, through which channel, and why: recorded in the access log.

    Examples
    --------
    >>> Reader("P-0042", "skole", "opsporing", "web").purpose
    'opsporing'
    """

    user: str
    role: str
    purpose: str
    channel: str

    def __post_init__(self) -> None:
        protection_policy().check_purpose(self.purpose)
        if self.channel not in CHANNELS:
            raise UserError(f"channel = {self.channel!r:.40}: expected one of {CHANNELS}")
        if not self.user or not self.role:
            raise UserError("user, role: expected the reader's user name and role")


@dataclass(frozen=True, slots=True)
class PersonalRecord:
    """One personal record as read: ``content`` is ``None`` when it was erased."""

    record_id: int
    child_ref: str
    kind: str
    link: str | None
    created_at: str
    content: Mapping[str, Any] | None

    @property
    def erased(self) -> bool:
        return self.content is None


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One read of a child's records, as the access log holds it."""

    entry_id: int
    child_ref: str
    user: str
    role: str
    purpose: str
    channel: str
    what: tuple[str, ...]
    created_at: str


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _aad(child_ref: str, kind: str, link: str | None, created_at: str) -> bytes:
    return _dumps(["opsporing-record-v1", child_ref, kind, link, created_at])


def _digest(nonce: bytes, ciphertext: bytes) -> str:
    return hashlib.sha256(nonce + ciphertext).hexdigest()


def insert_record(
    con: sqlite3.Connection,
    chain_key: bytes,
    data_key: bytes,
    kind: str,
    child_ref: str,
    content: Mapping[str, Any],
    *,
    link: str | None,
    created_at: str,
) -> tuple[int, Head]:
    """Seal and chain one record inside the caller's write transaction."""
    nonce = secrets.token_bytes(_NONCE)
    try:
        plain = _dumps(dict(content))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"content of a {kind} record: expected JSON values: {exc}") from None
    ciphertext = AESGCM(data_key).encrypt(nonce, plain, _aad(child_ref, kind, link, created_at))
    cur = con.execute(
        "INSERT INTO records (child_ref, kind, link, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        (child_ref, kind, link, _digest(nonce, ciphertext), created_at),
    )
    record_id = int(cur.lastrowid or 0)
    con.execute(
        "INSERT INTO sealed (record_id, nonce, ciphertext) VALUES (?, ?, ?)",
        (record_id, nonce, ciphertext),
    )
    return record_id, _chain.append(con, chain_key, "records", record_id)


def _erased_up_to(con: sqlite3.Connection, child_ref: str, kind: str) -> int:
    row = con.execute(
        "SELECT MAX(up_to) FROM erasures WHERE child_ref = ? AND kind = ?", (child_ref, kind)
    ).fetchone()
    return int(row[0] or 0)


# CAST: a tampered cell of another type reads as bytes (and fails its check), never crashes.
_SELECT = (
    "SELECT r.id, r.child_ref, r.kind, r.link, r.created_at, CAST(s.nonce AS BLOB),"
    " CAST(s.ciphertext AS BLOB) FROM records AS r LEFT JOIN sealed AS s ON s.record_id = r.id"
)


def select_records(
    con: sqlite3.Connection,
    keys: KeyStore,
    *,
    child_ref: str | None = None,
    links: Sequence[str] = (),
    kinds: Iterable[str] | None = None,
) -> list[PersonalRecord]:
    """Read and open the records of one child, or of some links, in the order written.

    Raises
    ------
    StorageError
        A record does not open and no erasure covers it (a lost key, an edited ciphertext).
    """
    if child_ref is not None:
        rows = con.execute(
            _SELECT + " WHERE r.child_ref = ? ORDER BY r.id",
            (child_ref,),
        ).fetchall()
    else:
        marks = ",".join("?" * len(links))
        rows = con.execute(
            _SELECT + f" WHERE r.link IN ({marks}) ORDER BY r.id",
            tuple(links),
        ).fetchall()
    wanted = None if kinds is None else frozenset(kinds)
    opened: dict[tuple[str, str], bytes | None] = {}
    out = []
    for rid, ref, kind, link, created_at, nonce, ciphertext in rows:
        if wanted is not None and kind not in wanted:
            continue
        if (ref, kind) not in opened:
            opened[(ref, kind)] = keys.data_key(ref, kind)
        key = opened[(ref, kind)]
        content: Mapping[str, Any] | None = None
        if key is not None and nonce is not None:
            try:
                plain = AESGCM(key).decrypt(
                    bytes(nonce), bytes(ciphertext), _aad(ref, kind, link, created_at)
                )
                content = json.loads(plain)
            except InvalidTag:
                content = None  # erased earlier: a later key of the same kind does not open it
        if content is None and _erased_up_to(con, ref, kind) < int(rid):
            raise StorageError(
                f"record {rid} ({kind}) cannot be opened and no erasure covers it: its key "
                "is missing or its content was changed; check the key store and run "
                "`opsporing audit verify`"
            )
        out.append(PersonalRecord(int(rid), str(ref), str(kind), link, str(created_at), content))
    return out


def insert_access(
    con: sqlite3.Connection,
    chain_key: bytes,
    child_ref: str,
    reader: Reader,
    what: Sequence[str],
    created_at: str,
) -> Head:
    """Record one read of a child's records, inside the caller's write transaction."""
    cur = con.execute(
        "INSERT INTO access (child_ref, user, role, purpose, channel, what, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            child_ref,
            reader.user,
            reader.role,
            reader.purpose,
            reader.channel,
            _dumps(list(what)).decode(),
            created_at,
        ),
    )
    return _chain.append(con, chain_key, "access", int(cur.lastrowid or 0))


def select_access(
    con: sqlite3.Connection, *, child_ref: str | None = None, user: str | None = None
) -> list[AccessEntry]:
    """The access log, for one child, one user, or both, in the order written."""
    where, args = [], []
    if child_ref is not None:
        where.append("child_ref = ?")
        args.append(child_ref)
    if user is not None:
        where.append("user = ?")
        args.append(user)
    sql = "SELECT id, child_ref, user, role, purpose, channel, what, created_at FROM access"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = con.execute(sql + " ORDER BY id", tuple(args)).fetchall()
    return [
        AccessEntry(int(r[0]), r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7])
        for r in rows
    ]


def insert_erasure(
    con: sqlite3.Connection,
    chain_key: bytes,
    child_ref: str,
    kind: str,
    up_to: int,
    records: int,
    rule: str,
    created_at: str,
) -> Head:
    """Record that ``(child_ref, kind)`` was erased up to record ``up_to``."""
    cur = con.execute(
        "INSERT INTO erasures (child_ref, kind, up_to, records, rule, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (child_ref, kind, up_to, records, rule, created_at),
    )
    return _chain.append(con, chain_key, "erasures", int(cur.lastrowid or 0))


def check_content(con: sqlite3.Connection) -> str:
    """The first record whose ciphertext is missing or is not what the chain holds ("" if none)."""
    cur = con.execute(
        "SELECT r.id, r.digest, CAST(s.nonce AS BLOB), CAST(s.ciphertext AS BLOB)"
        " FROM records AS r LEFT JOIN sealed AS s ON s.record_id = r.id ORDER BY r.id"
    )
    for rid, digest, nonce, ciphertext in cur:
        if nonce is None:
            return f"record {rid}: its sealed content is missing"
        if _digest(bytes(nonce), bytes(ciphertext)) != digest:
            return f"record {rid}: its sealed content was changed after it was written"
    stray = con.execute(
        "SELECT MIN(record_id) FROM sealed WHERE record_id NOT IN (SELECT id FROM records)"
    ).fetchone()[0]
    if stray is not None:
        return f"sealed content {stray} belongs to no record"
    return ""
