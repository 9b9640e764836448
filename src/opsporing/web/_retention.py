"""Retention: erase what is kept longer than ``protection.yaml`` allows, by destroying keys.

For every child and kind of record, the period of that kind (``retention_days``) runs from
the newest record of that kind about the child. When it has passed, the records of that
kind are erased: an ``erasures`` row is appended to the chained log (which rule, how many
records, up to which record), then the data key is destroyed in the key store and the key
store's file and write-ahead log are scrubbed. The ciphertext stays in the log, unreadable;
the chain still verifies. Run it daily with ``opsporing retention run`` (cron, a systemd
timer).

An interrupted run is safe to repeat: an erasure already recorded is not recorded again,
and a key whose erasure is recorded is destroyed on the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ._records import protection_policy
from ._store import AuditLog

__all__ = ["Erased", "RetentionReport", "run_retention"]


@dataclass(frozen=True, slots=True)
class Erased:
    """The records of one kind about one child that a run erased."""

    child_ref: str
    kind: str
    records: int
    newest: str
    rule: str


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What :func:`run_retention` did.

    Attributes
    ----------
    erased : list of Erased
    kept : int
        Groups (child and kind) still within their period.
    scrubbed : bool
        Whether the key store's write-ahead log was emptied (``False``: another process
        held it; run again).
    """

    erased: list[Erased] = field(default_factory=list)
    kept: int = 0
    scrubbed: bool = True

    def by_kind(self) -> dict[str, int]:
        """Records erased per kind."""
        out: dict[str, int] = {}
        for e in self.erased:
            out[e.kind] = out.get(e.kind, 0) + e.records
        return out


def run_retention(
    store: AuditLog, *, clock: Callable[[], datetime] | None = None, dry_run: bool = False
) -> RetentionReport:
    """Apply the retention periods of ``protection.yaml`` to ``store``.

    Parameters
    ----------
    store : AuditLog
    clock : callable, optional
        The time now (aware datetime); default UTC now. Tests pass a fixed clock.
    dry_run : bool
        Report what would be erased; change nothing.

    Returns
    -------
    RetentionReport

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> _ = log.append_record("screening", "B-1", {"answers": {}})
    >>> run_retention(log).erased
    []
    """
    now = (clock or (lambda: datetime.now(UTC)))()
    days = protection_policy().retention_days
    report = RetentionReport()
    kept = 0
    groups = store.record_kinds()
    live = {(child, kind) for child, kind, *_ in groups}
    # Keys with no record left to open: a run stopped between its erasure row and the key,
    # or a key made for a submission that was never stored. Nothing readable is lost. A day's
    # grace: a key made a moment ago may belong to a submission being stored right now.
    grace = now - timedelta(days=1)
    leftovers = [
        (child, kind)
        for child, kind, made in store.keys.held()
        if (child, kind) not in live and datetime.fromisoformat(made) < grace
    ]
    for child, kind, count, last_id, newest in groups:
        if not store.keys.has_key(child, kind):
            continue  # erased before
        period = days.get(kind)
        expires = datetime.fromisoformat(newest) + timedelta(days=period or 0)
        if period is not None and expires > now:
            kept += 1
            continue
        # A kind no longer in the policy is kept no longer than nothing: erased.
        rule = f"retention_days.{kind} = {period}" if period else f"{kind}: no retention period"
        if not dry_run:
            store.record_erasure(child, kind, last_id, count, rule)
            store.keys.erase(child, kind)
        report.erased.append(Erased(child, kind, count, newest, rule))
    if not dry_run:
        for child, kind in leftovers:
            store.keys.erase(child, kind)
    scrubbed = True
    if (report.erased or leftovers) and not dry_run:
        scrubbed = store.keys.scrub() and store.scrub()
    return RetentionReport(report.erased, kept, scrubbed)
