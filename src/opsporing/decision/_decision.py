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
5. Only a suggestion this library made, unchanged, can be decided on (its keyed
   signature is checked), and the decision is signed in turn: a decision forged in the
   process (``object.__new__``, an edited pickle, the private recording flag) carries no
   valid signature, and :class:`DecisionLog`, :func:`verify_decision` and
   :meth:`Decision.from_dict` refuse it (see :mod:`opsporing.decision._signing`).
6. Neither ``professional_id`` nor ``reason`` may hold a CPR number
   (:func:`opsporing.privacy.looks_like_cpr`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ..errors import DecisionError, Problem
from ..privacy import looks_like_cpr
from ..vocabulary import Text, load_vocabulary
from ._signing import DECISION_PURPOSE, SigningKey, current_signing_key, suggestion_is_authentic
from ._suggestion import Suggestion

# Policy lives in the vocabulary's data (vocabulary.yaml: roles, municipal_assessment_from_step);
# these names only read it, so the protocol, the web form and the docs cannot drift apart.

#: Professional roles, and who they are (``roles`` in vocabulary.yaml).
ROLES: dict[str, Text] = dict(load_vocabulary().roles)

#: Roles that may choose the municipality's steps (``municipal: true`` in vocabulary.yaml).
MUNICIPAL_ROLES: frozenset[str] = load_vocabulary().municipal_roles

#: The first step that needs the municipality's assessment (barnets lov §§ 18-20).
MUNICIPAL_FROM_STEP: int = load_vocabulary().municipal_assessment_from_step

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
    suggestion_kind : {"step", "abstain", "notify", "unavailable"}
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
    signature : str
        HMAC-SHA256 of the other fields under the installation's
        :class:`~opsporing.decision.SigningKey`.
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
    signature: str

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
        if not isinstance(suggestion, Suggestion) or not suggestion_is_authentic(suggestion):
            raise DecisionError(
                Problem(
                    "suggestion",
                    f"{type(suggestion).__name__} (unsigned or changed)",
                    "a Suggestion made by opsporing.decision.suggest, suggest_batch, "
                    "red_flag_suggestion or unavailable_suggestion in this installation, "
                    "unchanged",
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
        if looks_like_cpr(professional_id):
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
                    f"0-{MUNICIPAL_FROM_STEP - 1} for role {professional_role!r}; steps "
                    f"{MUNICIPAL_FROM_STEP}-6 need the municipality's assessment (barnets lov "
                    "§§ 18-20): record the step you act on and notify=True",
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
        if looks_like_cpr(reason):
            raise DecisionError(
                Problem(
                    "reason",
                    "(holds a CPR number, not shown)",  # never echo the number itself
                    "the reason without personal identifiers; refer to the child by the "
                    "screening's pseudonymous id",
                    kind="cpr",
                )
            )
        if not follows and not text:
            why = {
                "notify": "overriding a red flag (notify=False) needs a reason",
                "abstain": "the model abstained, so the team's reason must be recorded",
                "unavailable": "there is no suggestion to follow (no model)",
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
        digest = _decision_id(fields)
        signature = current_signing_key().sign(
            DECISION_PURPOSE, _plain({"decision_id": digest, **fields})
        )
        return cls._build({"decision_id": digest, **fields, "signature": signature})

    @classmethod
    def _build(cls, fields: Mapping[str, Any]) -> Decision:
        token = _RECORDING.set(True)
        try:
            return cls(**fields)
        finally:
            _RECORDING.reset(token)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, key: SigningKey | None = None) -> Decision:
        """The decision in ``data`` (the shape :meth:`to_dict` writes), if its signature holds.

        For reading back a stored decision: nothing is decided here, and a record whose
        fields, id or signature were changed is refused.

        Parameters
        ----------
        data : mapping
            As written by :meth:`to_dict` (or :meth:`to_json`, parsed).
        key : SigningKey, optional
            The key the decision was signed with; default :func:`current_signing_key`.

        Raises
        ------
        DecisionError
            A field is missing, extra or of the wrong type, or the id or signature does
            not match the content.
        """
        if not isinstance(data, Mapping):
            raise DecisionError(
                f"data = {type(data).__name__}: expected a mapping as written by to_dict"
            )
        names = [f.name for f in fields(cls)]
        if sorted(data) != sorted(names):
            missing = sorted(set(names) - set(map(str, data)))
            extra = sorted(str(k) for k in data if k not in names)
            raise DecisionError(
                f"data: missing {missing[:5]}, unexpected {extra[:5]}: expected exactly the "
                "fields of Decision.to_dict"
            )
        for name, ok in _FIELD_CHECKS.items():
            if not ok(data[name]):
                raise DecisionError(
                    f"{name} = {str(data[name])[:60]!r}: expected {_FIELD_EXPECTED[name]}"
                )
        decision = cls._build({**data, "red_flags": tuple(data["red_flags"])})
        verify_decision(decision, key=key)
        return decision

    @classmethod
    def from_json(cls, text: str | bytes, *, key: SigningKey | None = None) -> Decision:
        """:meth:`from_dict` of one JSON object (as :meth:`to_json` writes it)."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DecisionError(
                f"text: not JSON ({exc}): expected one decision as written by to_json"
            ) from None
        return cls.from_dict(data, key=key)

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
            "signature": self.signature,
        }

    def to_json(self) -> str:
        """One line of JSON (keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)


def _plain(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def _decision_id(fields: Mapping[str, Any]) -> str:
    """SHA-256 of a decision's content (every field but its id and signature)."""
    content = {k: v for k, v in fields.items() if k not in ("decision_id", "signature")}
    return hashlib.sha256(json.dumps(_plain(content), sort_keys=True).encode("utf-8")).hexdigest()


def _is_text(v: object) -> bool:
    return isinstance(v, str)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_FIELD_CHECKS: dict[str, Callable[[object], bool]] = {
    "decision_id": _is_text,
    "suggestion_id": _is_text,
    "suggestion_kind": lambda v: v in ("step", "abstain", "notify", "unavailable"),
    "suggested_step": lambda v: v is None or _is_int(v),
    "chosen_step": _is_int,
    "notify": lambda v: isinstance(v, bool),
    "follows_suggestion": lambda v: isinstance(v, bool),
    "reason": lambda v: v is None or _is_text(v),
    "professional_role": lambda v: v in ROLES,
    "professional_id": _is_text,
    "decided_at": _is_text,
    "red_flags": lambda v: isinstance(v, list | tuple) and all(map(_is_text, v)),
    "signature": _is_text,
}
_FIELD_EXPECTED = {
    name: "text" if check is _is_text else "the type Decision.to_dict writes"
    for name, check in _FIELD_CHECKS.items()
}


def verify_decision(decision: object, *, key: SigningKey | None = None) -> None:
    """Raise unless ``decision`` is a :class:`Decision` recorded under ``key``, unchanged.

    The id must be the SHA-256 of the content and the signature the key's HMAC of the
    content and id. This is what :class:`DecisionLog` checks, and what a store of
    decisions (the web form's audit log) calls when it reads one back.

    Parameters
    ----------
    decision : Decision
    key : SigningKey, optional
        Default :func:`~opsporing.decision.current_signing_key`.

    Raises
    ------
    DecisionError
        The object is not a Decision, its id does not match its content, or its signature
        is missing or wrong (forged in the process, edited, or signed with another key).

    Examples
    --------
    >>> verify_decision("a forged decision")
    Traceback (most recent call last):
    ...
    opsporing.errors.DecisionError: decision = 'str': expected a Decision made with Decision.record
    """
    if not isinstance(decision, Decision):
        raise DecisionError(
            f"decision = {type(decision).__name__!r}: expected a Decision made with Decision.record"
        )
    try:
        record = decision.to_dict()
        digest = _decision_id(record)
    except (AttributeError, TypeError, ValueError):  # fields missing or not JSON
        record, digest = {}, ""
    key = key if key is not None else current_signing_key()
    content = {k: v for k, v in record.items() if k != "signature"}
    if (
        not record
        or not hmac.compare_digest(digest, str(record.get("decision_id")))
        or not key.verify(DECISION_PURPOSE, content, record.get("signature"))
    ):
        raise DecisionError(
            f"decision_id = {str(record.get('decision_id'))[:64]!r}: expected a decision "
            "recorded with Decision.record under this installation's key, unchanged (its "
            "id or signature does not match its content)"
        )


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
        """Add a decision at the end; the same decision twice, or a forged one, is refused."""
        if not isinstance(decision, Decision):
            raise DecisionError(
                f"decision = {type(decision).__name__!r}: expected a Decision made with "
                "Decision.record"
            )
        verify_decision(decision)
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
