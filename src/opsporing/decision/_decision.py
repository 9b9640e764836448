"""Decisions: the only way to act on a suggestion, made by a named professional.

A :class:`Decision` can only be made with :meth:`Decision.record`; calling the class
directly (or ``dataclasses.replace``) raises :class:`~opsporing.errors.DecisionError`.
Decisions are frozen, JSON-serialisable and identified by the SHA-256 of their
content; a :class:`DecisionLog` only ever appends them.

The protocol
------------
1. ``professional_role`` is one of :data:`ROLES`; ``professional_id`` is a non-empty
   pseudonymous id; ``chosen_step`` is a staircase step 0-6.
2. Only the municipality (role ``"myndighed"``) can choose steps 3-6 (barnets lov
   §§ 18-20). A daycare, school, health visitor or PPR records the step it acts on
   (0-2) and ``notify=True`` (a notification/referral to the municipality).
3. The decision *follows* the suggestion when:

   - red flag (``kind="notify"``): ``notify=True``;
   - step ``s``: ``chosen_step == s``; or, for ``s >= 3`` and a role outside the
     municipality, ``notify=True``;
   - abstention: never (there is nothing to follow: the team's reason is recorded).

   Otherwise a ``reason`` (non-empty text) is required; overriding a red flag
   (``notify=False``) always needs one.
4. ``decided_at`` comes from ``clock`` (a callable returning an aware
   :class:`~datetime.datetime`; UTC now by default), so tests can fix time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import DecisionError, Problem
from ..vocabulary import Text
from ._suggestion import Suggestion

#: Professional roles, and who they are.
ROLES: dict[str, Text] = {
    "dagtilbud": Text("Pædagogisk personale i dagtilbud", "Daycare staff"),
    "skole": Text("Lærer eller pædagog i skolen", "School teacher or educator"),
    "sundhedspleje": Text("Sundhedsplejerske", "Health visitor"),
    "ppr": Text("Pædagogisk-psykologisk rådgivning (PPR)", "Educational-psychological service"),
    "myndighed": Text("Kommunens myndighed (sagsbehandler)", "The municipality's case workers"),
}

#: Roles that may choose steps from 3 (the municipality's own assessment).
MUNICIPAL_ROLES: frozenset[str] = frozenset({"myndighed"})

#: The first step that needs the municipality's assessment.
MUNICIPAL_FROM_STEP = 3

#: Something shaped like a CPR number (DDMMYY-SSSS, with or without the dash).
_CPR = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")

_RECORDING: ContextVar[bool] = ContextVar("opsporing_decision_recording", default=False)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Decision:
    """What a named professional decided about a suggestion. Make one with :meth:`record`.

    Attributes
    ----------
    decision_id : str
        SHA-256 of the record's other fields.
    suggestion_id : str
    suggestion_kind : {"step", "abstain", "notify"}
    suggested_step : int or None
    chosen_step : int
    notify : bool
        Whether the professional notifies (or refers to) the municipality.
    follows_suggestion : bool
    reason : str or None
    professional_role, professional_id : str
    decided_at : str
        ISO 8601 time with its UTC offset.
    red_flags : tuple of str
    """

    decision_id: str
    suggestion_id: str
    suggestion_kind: str
    suggested_step: int | None
    chosen_step: int
    notify: bool
    follows_suggestion: bool
    reason: str | None
    professional_role: str
    professional_id: str
    decided_at: str
    red_flags: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _RECORDING.get():
            raise DecisionError(
                "Decision(...): constructed directly: expected Decision.record(suggestion, "
                "professional_role=..., professional_id=..., chosen_step=..., reason=...)"
            )

    @classmethod
    def record(
        cls,
        suggestion: Suggestion,
        *,
        professional_role: str,
        professional_id: str,
        chosen_step: int,
        reason: str | None = None,
        notify: bool = False,
        clock: Callable[[], datetime] = _utc_now,
    ) -> Decision:
        """Record a professional's decision on ``suggestion``.

        Parameters
        ----------
        suggestion : Suggestion
        professional_role : str
            One of :data:`ROLES`.
        professional_id : str
            A pseudonymous id of the professional (never a CPR number or a name).
        chosen_step : int
            The staircase step (0-6) the professional acts on.
        reason : str, optional
            Required when the decision does not follow the suggestion.
        notify : bool
            The professional notifies (or refers the child to) the municipality.
        clock : callable, optional
            Returns the time of the decision (an aware datetime).

        Raises
        ------
        DecisionError
            Naming the field, the value and what the protocol expects.

        Examples
        --------
        >>> import pandas as pd
        >>> from datetime import datetime, UTC
        >>> from opsporing.instruments import get_instrument
        >>> from opsporing.scoring import score_batch
        >>> from opsporing.decision import red_flag_suggestion
        >>> scores = score_batch(get_instrument("opsporing.skole.trivsel"),
        ...                      pd.DataFrame({"saf_injury": [1]}))
        >>> s = red_flag_suggestion(scores.iloc[0], subject="S7")
        >>> d = Decision.record(s, professional_role="skole", professional_id="T-12",
        ...                     chosen_step=1, notify=True,
        ...                     clock=lambda: datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        >>> d.follows_suggestion, d.decided_at
        (True, '2026-11-23T08:00:00+00:00')
        >>> Decision.record(s, professional_role="skole", professional_id="T-12",
        ...                 chosen_step=1, notify=False)
        Traceback (most recent call last):
        ...
        opsporing.errors.DecisionError: reason = None: expected a reason: overriding a red flag ...
        """
        if not isinstance(suggestion, Suggestion):
            raise DecisionError(
                Problem(
                    "suggestion",
                    type(suggestion).__name__,
                    "a Suggestion from opsporing.decision.suggest",
                )
            )
        if professional_role not in ROLES:
            raise DecisionError(
                Problem("professional_role", professional_role, f"one of {list(ROLES)}")
            )
        if not isinstance(professional_id, str) or not professional_id.strip():
            raise DecisionError(
                Problem("professional_id", professional_id, "a non-empty pseudonymous id")
            )
        if _CPR.search(professional_id):
            raise DecisionError(
                Problem(
                    "professional_id",
                    "(looks like a CPR number, not shown)",  # never echo the number itself
                    "a pseudonymous id, never a CPR number",
                    kind="cpr",
                )
            )
        if (
            isinstance(chosen_step, bool)
            or not isinstance(chosen_step, int)
            or not 0 <= chosen_step <= 6
        ):
            raise DecisionError(Problem("chosen_step", chosen_step, "a step 0-6 (int)"))
        if not isinstance(notify, bool):
            raise DecisionError(Problem("notify", notify, "True or False"))
        municipal = professional_role in MUNICIPAL_ROLES
        if chosen_step >= MUNICIPAL_FROM_STEP and not municipal:
            raise DecisionError(
                Problem(
                    "chosen_step",
                    chosen_step,
                    f"0-2 for role {professional_role!r}; steps 3-6 need the municipality's "
                    "assessment (barnets lov §§ 18-20): record the step you act on and "
                    "notify=True",
                    kind="municipal_step",
                )
            )
        if suggestion.kind == "notify":
            follows = notify
        elif suggestion.kind == "step" and suggestion.step is not None:
            if suggestion.step >= MUNICIPAL_FROM_STEP and not municipal:
                follows = notify
            else:
                follows = chosen_step == suggestion.step
        else:
            follows = False
        text = reason.strip() if isinstance(reason, str) else None
        if reason is not None and not isinstance(reason, str):
            raise DecisionError(Problem("reason", reason, "text or None"))
        if not follows and not text:
            why = {
                "notify": "overriding a red flag (notify=False) needs a reason",
                "abstain": "the model abstained, so the team's reason must be recorded",
                "step": f"chosen step {chosen_step} differs from suggested step {suggestion.step}",
            }[suggestion.kind]
            raise DecisionError(Problem("reason", reason, f"a reason: {why}", kind="missing"))
        at = clock()
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise DecisionError(Problem("clock()", at, "a timezone-aware datetime"))
        fields: dict[str, Any] = {
            "suggestion_id": suggestion.suggestion_id,
            "suggestion_kind": suggestion.kind,
            "suggested_step": suggestion.step,
            "chosen_step": chosen_step,
            "notify": notify,
            "follows_suggestion": follows,
            "reason": text or None,
            "professional_role": professional_role,
            "professional_id": professional_id.strip(),
            "decided_at": at.isoformat(),
            "red_flags": tuple(suggestion.red_flags),
        }
        digest = hashlib.sha256(
            json.dumps({**fields, "red_flags": list(fields["red_flags"])}, sort_keys=True)
            .encode("utf-8")
        ).hexdigest()
        token = _RECORDING.set(True)
        try:
            return cls(decision_id=digest, **fields)
        finally:
            _RECORDING.reset(token)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        return {
            "decision_id": self.decision_id,
            "suggestion_id": self.suggestion_id,
            "suggestion_kind": self.suggestion_kind,
            "suggested_step": self.suggested_step,
            "chosen_step": self.chosen_step,
            "notify": self.notify,
            "follows_suggestion": self.follows_suggestion,
            "reason": self.reason,
            "professional_role": self.professional_role,
            "professional_id": self.professional_id,
            "decided_at": self.decided_at,
            "red_flags": list(self.red_flags),
        }

    def to_json(self) -> str:
        """One line of JSON (keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)


class DecisionLog:
    """An append-only sequence of decisions (no removal, no replacement).

    Examples
    --------
    >>> log = DecisionLog()
    >>> len(log)
    0
    >>> log.append("not a decision")
    Traceback (most recent call last):
    ...
    opsporing.errors.DecisionError: decision = 'str': expected a Decision made with Decision.record
    """

    def __init__(self) -> None:
        self._entries: list[Decision] = []
        self._ids: set[str] = set()

    def append(self, decision: Decision) -> None:
        """Add a decision at the end; the same decision twice is refused."""
        if not isinstance(decision, Decision):
            raise DecisionError(
                f"decision = {type(decision).__name__!r}: expected a Decision made with "
                "Decision.record"
            )
        if decision.decision_id in self._ids:
            raise DecisionError(
                f"decision_id = {decision.decision_id!r}: expected a decision not yet in the log"
            )
        self._entries.append(decision)
        self._ids.add(decision.decision_id)

    @property
    def entries(self) -> tuple[Decision, ...]:
        """The decisions, oldest first (a tuple: the log itself cannot be edited)."""
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Decision]:
        return iter(tuple(self._entries))

    def to_jsonl(self) -> str:
        """Every decision as one JSON line, oldest first."""
        return "".join(d.to_json() + "\n" for d in self._entries)
