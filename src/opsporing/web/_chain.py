"""The audit log's hash chain: every stored row bound to all rows before it by a keyed hash.

Certificate Transparency (RFC 9162) in its simplest form, a hash chain instead of a Merkle
tree: the ``chain`` table has one entry per row written to ``screenings``, ``decisions``,
``users``, ``records``, ``access`` or ``erasures``, in the order they were written, and

    mac[n] = HMAC-SHA256(key, "opsporing-audit-v1" | mac[n-1] | n | table | row id | row)

where ``row`` is the row's columns as canonical JSON and ``mac[0]`` is 64 zeros. The key is
32 random bytes in a 0600 file beside the database (see :mod:`._files`), never in the
database itself. So:

* editing a stored row, even with the append-only triggers dropped and the ids recomputed,
  breaks the entry of that row (its recomputed mac differs);
* deleting a row, or inserting one without the chain, leaves a row without an entry or an
  entry without a row;
* cutting rows off the end, or replacing the database by an empty one, gives a chain that is
  internally fine but *shorter* than a head taken earlier: the **head** (row count and last
  mac) is kept beside the database after every write, can be exported
  (``opsporing audit head``), and is checked on start and by ``opsporing audit verify``.

Anyone who holds the key *and* can write the database can rewrite the whole chain; a head
exported to somewhere they cannot write still catches that. See ``docs/security.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AuditChainError
from ._followup_schema import FOLLOWUP_TABLES

__all__ = [
    "CHAINED_TABLES",
    "GENESIS",
    "ChainReport",
    "Head",
    "append",
    "current_head",
    "read_head",
    "verify",
]

#: The tables whose every row is chained (personal records, reads of them and their erasures:
#: see :mod:`._records`; follow-up plans and reviews: see :mod:`._followup_schema`).
CHAINED_TABLES = (
    "screenings", "decisions", "users", "records", "access", "erasures", *FOLLOWUP_TABLES
)  # fmt: skip
#: The mac "before" the first entry.
GENESIS = "0" * 64
_DOMAIN = b"opsporing-audit-v1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS chain (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl     TEXT    NOT NULL,
    row_id  INTEGER NOT NULL,
    mac     TEXT    NOT NULL,
    UNIQUE (tbl, row_id)
);
CREATE TRIGGER IF NOT EXISTS chain_append_only_u BEFORE UPDATE ON chain
    BEGIN SELECT RAISE(ABORT, 'chain is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS chain_append_only_d BEFORE DELETE ON chain
    BEGIN SELECT RAISE(ABORT, 'chain is an append-only audit log'); END;
"""


@dataclass(frozen=True, slots=True)
class Head:
    """How long the chain was and what its last mac was, at one moment.

    Examples
    --------
    >>> Head.from_json(Head(2, "ab" * 32).to_json()) == Head(2, "ab" * 32)
    True
    """

    count: int
    mac: str

    def to_json(self) -> str:
        return json.dumps({"count": self.count, "mac": self.mac}, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "head") -> Head:
        try:
            data = json.loads(text)
            count, mac = data["count"], data["mac"]
        except (ValueError, TypeError, KeyError):
            raise AuditChainError(
                f'{source}: expected a head as JSON {{"count": N, "mac": "<64 hex>"}}'
            ) from None
        ok_count = isinstance(count, int) and not isinstance(count, bool) and count >= 0
        ok_mac = (
            isinstance(mac, str) and len(mac) == 64 and all(c in "0123456789abcdef" for c in mac)
        )
        if not (ok_count and ok_mac):
            shown = repr(text.strip())[:80]
            raise AuditChainError(f"{source} = {shown}: expected count >= 0 and a 64-hex mac")
        return cls(count, mac)


def read_head(path: Path) -> Head | None:
    """The head stored in ``path``, or ``None`` when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditChainError(f"the head file {path} cannot be read: {exc}") from None
    return Head.from_json(text, str(path))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify` found.

    Attributes
    ----------
    ok : bool
    head : Head
        The head of the chain as far as it verified.
    broken_at : int or None
        The sequence number of the first entry that does not verify (``None`` when ``ok``,
        or when the problem is not one entry, e.g. the chain is shorter than a known head).
    problem : str
        What is wrong, in one line ("" when ``ok``).
    """

    ok: bool
    head: Head
    broken_at: int | None = None
    problem: str = ""


def _canonical(row: Mapping[str, Any]) -> bytes:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(key: bytes, prev: str, seq: int, tbl: str, row_id: int, row: Mapping[str, Any]) -> str:
    message = b"\n".join(
        [_DOMAIN, prev.encode(), str(seq).encode(), tbl.encode(), str(row_id).encode(),
         _canonical(row)]
    )  # fmt: skip
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _row(con: sqlite3.Connection, tbl: str, row_id: int) -> dict[str, Any] | None:
    if tbl not in CHAINED_TABLES:  # the name goes into SQL: only the known tables
        return None
    cur = con.execute(f"SELECT * FROM {tbl} WHERE id = ?", (row_id,))
    values = cur.fetchone()
    if values is None:
        return None
    return dict(zip([d[0] for d in cur.description], values, strict=True))


def _last(con: sqlite3.Connection) -> tuple[int, str]:
    row = con.execute("SELECT seq, mac FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(con: sqlite3.Connection, key: bytes, tbl: str, row_id: int) -> Head:
    """Chain the row ``tbl.id = row_id``, inside the caller's open write transaction."""
    row = _row(con, tbl, row_id)
    if row is None:
        raise AuditChainError(f"table = {tbl!r}, id = {row_id}: expected a stored row to chain")
    seq, prev = _last(con)
    mac = _mac(key, prev, seq + 1, tbl, row_id, row)
    con.execute(
        "INSERT INTO chain (seq, tbl, row_id, mac) VALUES (?, ?, ?, ?)", (seq + 1, tbl, row_id, mac)
    )
    return Head(seq + 1, mac)


def current_head(con: sqlite3.Connection) -> Head:
    """The head as the database says (not verified)."""
    return Head(*_last(con))


def verify(con: sqlite3.Connection, key: bytes, known: Head | None = None) -> ChainReport:
    """Check every entry of the chain, every chained row, and the chain against ``known``.

    Parameters
    ----------
    con : sqlite3.Connection
    key : bytes
        The chain's HMAC key.
    known : Head, optional
        A head taken earlier: the chain must be at least that long and pass through it.

    Returns
    -------
    ChainReport
        The first problem found, or ``ok``.
    """
    prev, n = GENESIS, 0
    cur = con.execute("SELECT seq, tbl, row_id, mac FROM chain ORDER BY seq")
    heads = {0: GENESIS}
    for seq, tbl, row_id, mac in cur:
        n += 1
        head = Head(n - 1, prev)
        if seq != n:
            return ChainReport(False, head, n, f"entry {n} is missing (next entry is {seq})")
        row = _row(con, str(tbl), int(row_id))
        if row is None:
            return ChainReport(False, head, n, f"entry {n}: row {tbl} {row_id} is missing")
        if not hmac.compare_digest(_mac(key, prev, n, str(tbl), int(row_id), row), str(mac)):
            return ChainReport(
                False, head, n, f"entry {n}: row {tbl} {row_id} was changed after it was written"
            )
        prev = str(mac)
        if known is not None and n == known.count:
            heads[n] = prev
    head = Head(n, prev)
    for tbl in CHAINED_TABLES:
        stray = con.execute(
            f"SELECT MIN(id) FROM {tbl} WHERE id NOT IN (SELECT row_id FROM chain WHERE tbl = ?)",
            (tbl,),
        ).fetchone()[0]
        if stray is not None:
            return ChainReport(
                False, head, None, f"row {tbl} {stray} was written without the chain"
            )
    if known is not None:
        if n < known.count:
            return ChainReport(
                False, head, None,
                f"the log has {n} entries, fewer than the {known.count} of its known head: "
                "rows were removed or the log was reset",
            )  # fmt: skip
        if heads.get(known.count) != known.mac:
            return ChainReport(
                False, head, known.count,
                f"entry {known.count} differs from the known head: history was rewritten",
            )  # fmt: skip
    return ChainReport(True, head)
