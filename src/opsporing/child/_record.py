"""The child over time: a pseudonymous child's screening rounds and decisions, in time order."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from ..errors import DataError, Problem
from ._round import ScreeningRound, check_child_id

__all__ = ["TRAJECTORY_COLUMNS", "ChildRecord", "DecisionLike", "long_frame"]

#: The columns of :meth:`ChildRecord.trajectory`.
TRAJECTORY_COLUMNS = (
    "child_id", "round_id", "date", "informant", "instrument", "setting", "age_years",
    "domain", "direction", "score", "band", "level",
)  # fmt: skip


@runtime_checkable
class DecisionLike(Protocol):
    """What a record needs of a decision: :class:`opsporing.decision.Decision` fits.

    (A protocol rather than the class itself: the decision layer sits above this one and
    may one day read records; this package never imports it.)
    """

    decision_id: str
    chosen_step: int
    notify: bool
    decided_at: str


def _decided_at(decision: DecisionLike) -> datetime:
    return datetime.fromisoformat(decision.decided_at)


def _round_key(r: ScreeningRound) -> tuple[Any, str]:
    return (r.date, r.round_id)


@dataclass(frozen=True, slots=True)
class ChildRecord:
    """A pseudonymous child's screening rounds and decisions, each in time order.

    Build one with :meth:`build` (which sorts); constructing it directly checks that the
    rounds and decisions are already in order, so a record is never out of order.
    Rounds may use different instruments over time (the daycare form, then the school
    form): trajectories compare them on the concern level (see :mod:`opsporing.child`).

    Attributes
    ----------
    child_id : str
        Pseudonymous id; a CPR number is refused.
    rounds : tuple of ScreeningRound
        Ordered by date, then round id; round ids are unique.
    decisions : tuple of Decision
        Recorded human decisions (:meth:`opsporing.decision.Decision.record`), ordered by
        ``decided_at``. A decision carries no child id: the caller links it to the child.

    Raises
    ------
    DataError
        Naming every problem: a CPR number or empty id, a round of another child, a
        repeated round id, rounds or decisions out of time order, a decision that is not
        one.

    Examples
    --------
    >>> from datetime import date
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.child import RoundForm, score_round
    >>> inst = get_instrument("opsporing.dagtilbud.trivsel")
    >>> emo = [i.id for i in inst.items_in("emotional")]
    >>> spring = score_round([RoundForm("C7", "forår", date(2026, 4, 1), inst,
    ...                                 dict.fromkeys(emo, 0))])
    >>> autumn = score_round([RoundForm("C7", "efterår", date(2026, 10, 1), inst,
    ...                                 dict.fromkeys(emo, 2))])
    >>> record = ChildRecord.build("C7", [autumn, spring])
    >>> [r.round_id for r in record.rounds]
    ['forår', 'efterår']
    >>> record.trajectory().query("domain == 'emotional'")["score"].tolist()
    [0.0, 8.0]
    >>> ChildRecord.build("010203-1234")
    Traceback (most recent call last):
    ...
    opsporing.errors.DataError: child_id = '[CPR]': expected a pseudonymous id, never a CPR number
    """

    child_id: str
    rounds: tuple[ScreeningRound, ...] = ()
    decisions: tuple[DecisionLike, ...] = ()

    def __post_init__(self) -> None:
        problems = check_child_id(self.child_id)
        if not isinstance(self.rounds, tuple) or not isinstance(self.decisions, tuple):
            problems.append(
                Problem("rounds/decisions", type(self.rounds).__name__, "tuples", kind="type")
            )
            raise DataError(*problems)
        id_ok = not problems
        ids: set[str] = set()
        for i, r in enumerate(self.rounds):
            if not isinstance(r, ScreeningRound):
                problems.append(
                    Problem("rounds", type(r).__name__, "a ScreeningRound", row=i, kind="type")
                )
                continue
            if id_ok and r.child_id != self.child_id:
                problems.append(
                    Problem(
                        "child_id",
                        r.child_id,
                        f"{self.child_id!r}: every round of the record is of one child",
                        row=i,
                        kind="different_child",
                    )
                )
            if r.round_id in ids:
                problems.append(
                    Problem("round_id", r.round_id, "each round once", row=i, kind="duplicate")
                )
            ids.add(r.round_id)
            prev = self.rounds[i - 1] if i else None
            if isinstance(prev, ScreeningRound) and _round_key(r) < _round_key(prev):
                problems.append(
                    Problem(
                        "date",
                        f"{r.date} ({r.round_id})",
                        f"on or after the previous round ({prev.date}, {prev.round_id}); "
                        "ChildRecord.build sorts",
                        row=i,
                        kind="time_order",
                    )
                )
        times: list[datetime | None] = []
        for i, d in enumerate(self.decisions):
            try:
                if not isinstance(d, DecisionLike):
                    raise TypeError
                times.append(_decided_at(d))
            except (TypeError, ValueError):
                problems.append(
                    Problem(
                        "decisions",
                        type(d).__name__,
                        "a Decision (Decision.record) with an ISO decided_at",
                        row=i,
                        kind="type",
                    )
                )
                times.append(None)
        for i in range(1, len(times)):
            a, b = times[i - 1], times[i]
            if a is not None and b is not None and _before(b, a):
                problems.append(
                    Problem(
                        "decided_at",
                        self.decisions[i].decided_at,
                        f"on or after the previous one ({self.decisions[i - 1].decided_at}); "
                        "ChildRecord.build sorts",
                        row=i,
                        kind="time_order",
                    )
                )
        if problems:
            raise DataError(*problems)

    @classmethod
    def build(
        cls,
        child_id: str,
        rounds: Iterable[ScreeningRound] = (),
        decisions: Iterable[DecisionLike] = (),
    ) -> ChildRecord:
        """A record with ``rounds`` and ``decisions`` put in time order (any input order).

        Rounds are ordered by date, then round id; decisions by ``decided_at``, then id.
        """
        rounds = tuple(rounds)
        decisions = tuple(decisions)
        if all(isinstance(r, ScreeningRound) for r in rounds):
            rounds = tuple(sorted(rounds, key=_round_key))
        # A decision that is not one is reported, with every other problem, by __post_init__.
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            decisions = tuple(
                sorted(decisions, key=lambda d: (_utc(_decided_at(d)), d.decision_id))
            )
        return cls(child_id, rounds, decisions)

    def with_round(self, round_: ScreeningRound) -> ChildRecord:
        """A new record with ``round_`` added in its place in time."""
        return ChildRecord.build(self.child_id, (*self.rounds, round_), self.decisions)

    def with_decision(self, decision: DecisionLike) -> ChildRecord:
        """A new record with ``decision`` added in its place in time."""
        return ChildRecord.build(self.child_id, self.rounds, (*self.decisions, decision))

    # --- views ---------------------------------------------------------------------------------
    def trajectory(self) -> pd.DataFrame:
        """Every informant's view of every domain in every round, in time order.

        Returns
        -------
        DataFrame
            One row per round, informant and domain: ``child_id, round_id, date,
            informant, instrument, setting, age_years, domain, direction, score, band,
            level``. ``level`` is the common scale (concern share of the domain's range),
            so a daycare form and a school form line up; ``instrument`` shows where the
            form changed.
        """
        return long_frame([self])[list(TRAJECTORY_COLUMNS)]

    def decision_frame(self) -> pd.DataFrame:
        """The decisions in time order: ``decided_at, chosen_step, notify, decision_id``."""
        return pd.DataFrame(
            [
                {
                    "decided_at": pd.Timestamp(_decided_at(d)),
                    "chosen_step": d.chosen_step,
                    "notify": d.notify,
                    "decision_id": d.decision_id,
                }
                for d in self.decisions
            ],
            columns=["decided_at", "chosen_step", "notify", "decision_id"],
        )

    def reliable_change(
        self, reliability: Mapping[str, Any] | None = None, *, z: float = 1.96
    ) -> pd.DataFrame:
        """Reliable changes between each informant's consecutive rounds; see
        :func:`opsporing.child.reliable_change`."""
        from ._change import reliable_change

        return reliable_change(self, reliability, z=z)


def _utc(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _before(b: datetime, a: datetime) -> bool:
    return _utc(b) < _utc(a)


def long_frame(records: Iterable[ChildRecord]) -> pd.DataFrame:
    """The trajectories of many records in one table (one pass, no per-child frames).

    The columns of :meth:`ChildRecord.trajectory`, and for the computations built on it:
    ``pos`` (the round's place in its record, from 0), ``n_rounds`` (the record's rounds),
    ``combined_band`` (the round's combined band of the domain) and ``lo``, ``hi`` (the
    domain's score range on the instrument).
    """
    rows = [
        (
            *(rec.child_id, r.round_id, r.date, f.informant, f.instrument, f.setting),
            *(f.age_years, v.domain, v.direction, v.score, v.band, v.level),
            *(pos, len(rec.rounds), combined[v.domain], *v.score_range),
        )
        for rec in records
        for pos, r in enumerate(rec.rounds)
        for combined in ({d.domain: d.combined_band for d in r.domains},)
        for f in r.forms
        for v in f.views
    ]
    columns = [*TRAJECTORY_COLUMNS, "pos", "n_rounds", "combined_band", "lo", "hi"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["date"] = pd.to_datetime(frame["date"])
    for c in ("score", "level", "age_years", "lo", "hi"):
        frame[c] = frame[c].astype(float)
    return frame
