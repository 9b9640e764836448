"""The key store: one data key per child and record kind, wrapped by a master key.

Crypto-shredding needs keys that *can* be deleted, so they do not live in the append-only
audit log: they live in their own SQLite file, ``<db>.keys`` (mode 0600), the one file of
the web form from which rows are removed. Each key is 32 random bytes (AES-256-GCM),
stored only *wrapped*: encrypted with AES-GCM under the **master key**, with the child's
reference and the record kind as associated data (a wrapped key moved to another child's
row does not unwrap). The plain key exists only in memory, for one operation.

Where the master key comes from, first found wins:

1. ``OPSPORING_MASTER_KEY``: 64 hex digits in the environment (e.g. from the
   municipality's secret manager);
2. ``OPSPORING_MASTER_KEY_FILE``: a file holding 64 hex digits, mode 0600;
3. ``<db>.master-key`` beside the database, made on first start (mode 0600).

The third is a convenience for trying the library out: a backup holding the database, the
key store *and* the master key restores everything, erased children included. In use, keep
the master key where the database's backups do not go (see ``docs/data-protection.md``).
The master key is never in the repository.

Erasing ``(child, kind)`` deletes its row with ``PRAGMA secure_delete`` on (SQLite
overwrites the freed bytes with zeros) and then checkpoints and truncates the write-ahead
log, so no copy of the wrapped key is left in the file, its free pages or its WAL.

The **index key** (also wrapped by the master key) turns a child's pseudonym into the
reference stored in the log: ``child_ref = HMAC-SHA256(index key, pseudonym)``, so the log
never holds the pseudonym itself, and nobody without the key can test a guessed pseudonym
against it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import StorageError
from ._files import KEY_BYTES, beside, create_private, secret_file, tighten

__all__ = ["MASTER_KEY_ENV", "MASTER_KEY_FILE_ENV", "KeyStore", "empty_wal", "master_key"]

#: Environment variable holding the master key (64 hex digits).
MASTER_KEY_ENV = "OPSPORING_MASTER_KEY"
#: Environment variable naming a file that holds the master key.
MASTER_KEY_FILE_ENV = "OPSPORING_MASTER_KEY_FILE"
_NONCE = 12
_BUSY_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS child_keys (
    child_ref  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (child_ref, kind)
);
CREATE TABLE IF NOT EXISTS installation (
    name    TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL
);
"""


def master_key(db_path: Path) -> bytes:
    """The master key: from the environment, a named file, or ``<db>.master-key``.

    Raises
    ------
    StorageError
        The variable or file holds no key of 32 random bytes (64 hex digits), or the file
        is readable by others.
    """
    text = os.environ.get(MASTER_KEY_ENV)
    if text:
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise StorageError(
                f"{MASTER_KEY_ENV} = <{len(text)} characters>: expected 64 hex digits "
                "(32 random bytes)"
            )
        return key
    named = os.environ.get(MASTER_KEY_FILE_ENV)
    if named:
        return secret_file(Path(named), create=False)[:KEY_BYTES]
    return secret_file(beside(db_path, "master-key"), create=True)[:KEY_BYTES]


def empty_wal(con: sqlite3.Connection) -> bool:
    """Copy the write-ahead log into the main file and cut it to zero bytes; ``True`` if done.

    Here, beside the key store's own deletes, because the log's modules hold no statement
    that removes anything (a test reads them); the audit log uses it after an erasure too.
    """
    busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy


def _aad(*parts: str) -> bytes:
    return b"\x00".join(p.encode() for p in parts)


class KeyStore:
    """The wrapped data keys of one audit log (``<db>.keys``).

    Parameters
    ----------
    db_path : Path
        The audit log's database; the key store is ``<db_path>.keys``.
    master : bytes
        The master key (:func:`master_key`).
    create : bool
        Make the index key when the store has none (a new store). ``False`` for a log that
        already holds children's records: a missing or emptied key store is then refused
        (:class:`~opsporing.errors.StorageError`), never replaced by a new index key under
        which every stored child silently looks erased.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite"
    >>> ks = KeyStore(db, b"k" * 32)
    >>> ref = ks.child_ref("B-2026-041")
    >>> key = ks.data_key(ref, "screening", create=True, now="2026-12-01T00:00:00+00:00")
    >>> same = ks.data_key(ref, "screening") == key
    >>> same, ks.erase(ref, "screening"), ks.data_key(ref, "screening")
    (True, True, None)
    """

    def __init__(self, db_path: Path, master: bytes, *, create: bool = True) -> None:
        self.path = beside(db_path, "keys")
        self._wrap = AESGCM(master)
        self._con: sqlite3.Connection | None = None
        # One connection for the store's life, shared by the server's threads under a lock:
        # closing the last connection of a WAL file checkpoints it (milliseconds per key).
        self._lock = threading.Lock()
        try:
            create_private(self.path)
            for suffix in ("", "-wal", "-shm"):
                tighten(Path(f"{self.path}{suffix}"))
            with self._connect() as con:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
            self._index = self._installation_key("index", create=create)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the key store {self.path}: {exc}") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._con is None:
                con = sqlite3.connect(
                    self.path,
                    timeout=_BUSY_MS / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
                con.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
                # Freed bytes are overwritten with zeros: an erased key leaves no trace.
                con.execute("PRAGMA secure_delete = ON")
                con.execute("PRAGMA synchronous = NORMAL")
                self._con = con
            try:
                yield self._con
            except BaseException:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the store's connection (it is opened again when needed)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _seal(self, key: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._wrap.encrypt(nonce, key, aad)

    def _open(self, wrapped: object, aad: bytes, what: str) -> bytes:
        try:
            # A garbled row may hold text or a number (SQLite keeps any type): no key either.
            if not isinstance(wrapped, bytes):
                raise ValueError(type(wrapped).__name__)
            return self._wrap.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
        except (InvalidTag, ValueError):
            raise StorageError(
                f"{what} in {self.path} does not unwrap with this master key: expected the "
                f"master key the store was made with ({MASTER_KEY_ENV}, {MASTER_KEY_FILE_ENV} "
                "or the .master-key file beside the database)"
            ) from None

    def _installation_key(self, name: str, *, create: bool) -> bytes:
        aad = _aad("installation", name)
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT wrapped FROM installation WHERE name = ?", (name,)).fetchone()
            if row is None and not create:
                raise StorageError(
                    f"the key store {self.path} holds no {name} key, but its audit log holds "
                    "children's records: expected the key store made with the log (restore "
                    "it from the backup that holds the database); a new one would make every "
                    "stored child unreadable"
                )
            if row is None:
                key = secrets.token_bytes(KEY_BYTES)
                con.execute(
                    "INSERT INTO installation (name, wrapped) VALUES (?, ?)",
                    (name, self._seal(key, aad)),
                )
                con.execute("COMMIT")
                return key
            con.execute("COMMIT")
        return self._open(row[0], aad, f"the {name} key")

    def child_ref(self, pseudonym: str) -> str:
        """The reference the log stores for the child with this pseudonym (32 hex digits)."""
        return hmac.new(self._index, pseudonym.encode(), hashlib.sha256).hexdigest()[:32]

    def data_key(
        self, child_ref: str, kind: str, *, create: bool = False, now: str = ""
    ) -> bytes | None:
        """The data key of ``(child_ref, kind)``; a new one with ``create``; ``None`` if erased."""
        aad = _aad("child", child_ref, kind)
        with self._connect() as con:
            row = con.execute(
                "SELECT wrapped FROM child_keys WHERE child_ref = ? AND kind = ?",
                (child_ref, kind),
            ).fetchone()
            if row is None and create:
                key = secrets.token_bytes(KEY_BYTES)
                # Two writers may race for a new child: the first key stays, the other is read.
                con.execute(
                    "INSERT OR IGNORE INTO child_keys (child_ref, kind, wrapped, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (child_ref, kind, self._seal(key, aad), now),
                )
                row = con.execute(
                    "SELECT wrapped FROM child_keys WHERE child_ref = ? AND kind = ?",
                    (child_ref, kind),
                ).fetchone()
        if row is None:
            return None
        return self._open(row[0], aad, f"the key of child {child_ref} ({kind})")

    def has_key(self, child_ref: str, kind: str) -> bool:
        """Whether ``(child_ref, kind)`` still has a key (its records are readable)."""
        with self._connect() as con:
            row = con.execute(
                "SELECT 1 FROM child_keys WHERE child_ref = ? AND kind = ?", (child_ref, kind)
            ).fetchone()
        return row is not None

    def held(self) -> list[tuple[str, str, str]]:
        """Every ``(child_ref, kind, created_at)`` that has a key."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT child_ref, kind, created_at FROM child_keys ORDER BY 1, 2"
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def erase(self, child_ref: str, kind: str) -> bool:
        """Destroy the key of ``(child_ref, kind)``; ``True`` when there was one.

        Call :meth:`scrub` after a batch of erasures to empty the write-ahead log.
        """
        with self._connect() as con:
            # The key store is not the audit log: removing a key is its one job.
            cur = con.execute(
                "DELETE FROM child_keys WHERE child_ref = ? AND kind = ?", (child_ref, kind)
            )
            return cur.rowcount > 0

    def scrub(self) -> bool:
        """Move everything into the main file and empty the WAL; ``True`` when complete.

        ``False`` when another connection kept the WAL busy: run it again later (the
        retention report says so).
        """
        with self._connect() as con:
            first = empty_wal(con)
            con.execute("VACUUM")  # rebuilds the file: no free page keeps old bytes
            return empty_wal(con) and first
