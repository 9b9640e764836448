"""Follow-up plans and their reviews: signed, frozen records attached to a recorded decision.

The process (the seeds' common detection model; Norway's BTI *stafettlogg*; GIRFEC's child's
plan): after a recorded :class:`~opsporing.decision.Decision`, the professional agrees with the
parents (and the child) on actions and a date to look again. A :class:`FollowUpPlan` says

* which concerns it addresses (codes of the common vocabulary, concerns only);
* the agreed actions (ids of the catalogue of :mod:`._catalogue`), of the decision's step or
  below (a step-1 decision agrees step-1 measures; the municipality's steps may use any);
* who is responsible (a role of ``vocabulary.yaml``);
* the parents' view and the child's own view, in their words (free text without a CPR
  number: :func:`opsporing.privacy.looks_like_cpr`, the one detector);
* the review date (by default :func:`~._catalogue.default_review_date` of the decision's step).

A :class:`Review` says what happened and whether the concern is ``resolved``, ``continues``,
or ``escalates`` to a new decision (whose id it names).

Both are made only by :meth:`FollowUpPlan.make` / :meth:`Review.make`, which check every field
at once (:class:`~opsporing.errors.FollowUpError` carrying every
:class:`~opsporing.errors.Problem`) and sign the record with the installation's key
(:mod:`opsporing.decision._signing`, its own purpose), as decisions are. :meth:`from_dict`
re-verifies id and signature, so an edited or hand-made record is refused before it is stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from ..decision import Decision, current_signing_key, verify_decision
from ..decision._signing import SigningKey
from ..errors import DecisionError, FollowUpError, Problem, UnknownCodeError
from ..privacy import looks_like_cpr, valid_pseudonymous_id
from ..vocabulary import load_vocabulary
from ._catalogue import OUTCOMES, default_review_date, load_catalogue

__all__ = ["MAX_TEXT", "FollowUpPlan", "Review", "check_unit", "valid_id"]

#: Longest free text accepted (a view, what happened): as long as a decision's reason.
MAX_TEXT = 2000
#: Longest a review date may lie ahead of the plan.
MAX_REVIEW_DAYS = 366
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

PLAN_PURPOSE = "opsporing-followup-plan/1"
REVIEW_PURPOSE = "opsporing-followup-review/1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def valid_id(text: object) -> bool:
    """Whether ``text`` is a pseudonymous id (:func:`opsporing.privacy.valid_pseudonymous_id`)."""
    return valid_pseudonymous_id(text)


def _shown(value: object) -> object:
    return "(not shown: looks like a CPR number)" if looks_like_cpr(value) else value


def _check_id(field: str, value: object, problems: list[Problem]) -> None:
    if not valid_id(value):
        problems.append(
            Problem(field, _shown(value), "a pseudonymous id of 1-64 letters, digits, '.-_'")
        )


def check_unit(unit: object) -> str:
    """``unit`` as a daycare's or school's id, or :class:`~opsporing.errors.FollowUpError`."""
    problems: list[Problem] = []
    _check_id("unit", unit, problems)
    if problems:
        raise FollowUpError(*problems)
    return str(unit)


def _check_text(field: str, value: object, problems: list[Problem], *, required: bool) -> str:
    if not isinstance(value, str):
        problems.append(Problem(field, type(value).__name__, "text"))
        return ""
    text = value.strip()
    if required and not text:
        problems.append(Problem(field, value, "their view in their own words (not empty)"))
    elif len(text) > MAX_TEXT:
        problems.append(Problem(field, text[:40] + "…", f"at most {MAX_TEXT} characters"))
    elif looks_like_cpr(text):
        problems.append(
            Problem(field, "(not shown: holds a CPR number)", "text without a CPR number")
        )
    return text


def _codes(field: str, values: object, problems: list[Problem]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        problems.append(Problem(field, values, "a list of codes"))
        return ()
    out = tuple(str(v) for v in values)
    if not out:
        problems.append(Problem(field, [], "at least one code"))
    if len(set(out)) != len(out):
        problems.append(Problem(field, list(out), "each code once"))
    return out


def _content_id(payload: Mapping[str, Any], id_field: str) -> str:
    content = {k: v for k, v in payload.items() if k not in (id_field, "signature")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def _decision(decision: Decision | Mapping[str, Any], problems: list[Problem]) -> Decision | None:
    try:
        if isinstance(decision, Decision):
            verify_decision(decision)
            return decision
        return Decision.from_dict(dict(decision))
    except (DecisionError, TypeError, ValueError) as exc:
        problems.append(Problem("decision", str(exc)[:80], "a decision recorded and signed here"))
        return None


def _names(cls: type) -> list[str]:
    # dataclasses.fields, not __dataclass_fields__ (which also lists the ClassVars).
    return [f.name for f in fields(cls)]


class _Signed:
    """Shared by plans and reviews: content id, signature, dict form, verification."""

    _PURPOSE: ClassVar[str]
    _ID: ClassVar[str]
    _TUPLES: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        out: dict[str, Any] = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self) -> str:
        """One line of JSON (keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def _sealed(cls, values: dict[str, Any], key: SigningKey | None = None) -> Any:
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        plain[cls._ID] = _content_id(plain, cls._ID)
        signature = (key or current_signing_key()).sign(cls._PURPOSE, plain)
        return cls(**{**values, cls._ID: plain[cls._ID], "signature": signature})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, key: SigningKey | None = None) -> Any:
        """Rebuild a record from :meth:`to_dict`, verifying its id and signature.

        Raises
        ------
        FollowUpError
            Fields missing or extra, the id does not match the content, or the signature
            is not this installation's.
        """
        names = set(_names(cls))
        if not isinstance(data, Mapping) or set(data) != names:
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise FollowUpError(Problem(cls.__name__, got, f"exactly the fields {sorted(names)}"))
        plain = dict(data)
        payload = {k: v for k, v in plain.items() if k != "signature"}
        if plain[cls._ID] != _content_id(plain, cls._ID):
            raise FollowUpError(
                Problem(cls._ID, str(plain[cls._ID])[:16], "the hash of the record's content")
            )
        if not (key or current_signing_key()).verify(cls._PURPOSE, payload, plain["signature"]):
            raise FollowUpError(
                Problem("signature", str(plain["signature"])[:16], "this installation's signature")
            )
        values = {k: tuple(v) if k in cls._TUPLES else v for k, v in plain.items()}
        return cls(**values)

    def verify(self, key: SigningKey | None = None) -> None:
        """Raise :class:`~opsporing.errors.FollowUpError` unless id and signature hold."""
        type(self).from_dict(self.to_dict(), key=key)


@dataclass(frozen=True)
class FollowUpPlan(_Signed):
    """What was agreed after a decision, by whom, and when it is looked at again.

    Make one with :meth:`make`. Attributes are those of :meth:`make`, plus ``plan_id``
    (SHA-256 of the content), ``decision_id`` and ``decision_step`` (of the decision it
    follows), ``review_on`` (ISO date), ``created_at`` (ISO time) and ``signature``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from opsporing.decision import Decision, unavailable_suggestion
    >>> clock = lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    >>> d = Decision.record(unavailable_suggestion(), professional_role="skole",
    ...     professional_id="P-7", chosen_step=1, reason="gul TOPI", clock=clock)
    >>> plan = FollowUpPlan.make(d, child_id="B-2026-041", unit="skole-nord",
    ...     concerns=["social.isolation"], actions=["s1.parent_talk", "s1.rcm"],
    ...     responsible_role="skole", parents_view="Vi kan også mærke det derhjemme.",
    ...     child_view="Jeg har ikke nogen at lege med.", created_by="P-7", clock=clock)
    >>> plan.review_on, plan.decision_step
    ('2027-01-12', 1)
    >>> FollowUpPlan.from_dict(plan.to_dict()) == plan
    True
    """

    _PURPOSE: ClassVar[str] = PLAN_PURPOSE
    _ID: ClassVar[str] = "plan_id"
    _TUPLES: ClassVar[tuple[str, ...]] = ("concerns", "actions")

    plan_id: str
    child_id: str
    unit: str
    decision_id: str
    decision_step: int
    concerns: tuple[str, ...]
    actions: tuple[str, ...]
    responsible_role: str
    parents_view: str
    child_view: str
    review_on: str
    created_by: str
    created_at: str
    signature: str

    @classmethod
    def make(
        cls,
        decision: Decision | Mapping[str, Any],
        *,
        child_id: str,
        unit: str,
        concerns: Iterable[str],
        actions: Iterable[str],
        responsible_role: str,
        parents_view: str,
        child_view: str = "",
        created_by: str,
        review_on: date | str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> FollowUpPlan:
        """Check and sign a plan following ``decision``.

        Parameters
        ----------
        decision : Decision or its dict
            A decision this installation recorded and signed.
        child_id : str
            The child's pseudonymous id (the form id of its screenings).
        unit : str
            The daycare or school that made the plan (the user's unit).
        concerns : iterable of str
            Concern codes of the common vocabulary.
        actions : iterable of str
            Measure ids of the catalogue, of the decision's step or below.
        responsible_role : str
            A role of ``vocabulary.yaml``.
        parents_view, child_view : str
            In their own words; the parents' view is required (the plan is agreed with
            them), the child's may be empty (a baby); neither may hold a CPR number.
        created_by : str
            The professional's pseudonymous id.
        review_on : date or ISO str, optional
            Default: :func:`~opsporing.followup.default_review_date` of the decision's step.
        clock : callable

        Raises
        ------
        FollowUpError
            With every problem found.
        """
        problems: list[Problem] = []
        dec = _decision(decision, problems)
        _check_id("child_id", child_id, problems)
        _check_id("unit", unit, problems)
        _check_id("created_by", created_by, problems)
        voc = load_vocabulary()
        codes = _codes("concerns", concerns, problems)
        for code in codes:
            try:
                if not voc.concept(code).is_concern:
                    problems.append(
                        Problem("concerns", code, "a concern (not a protective factor)")
                    )
            except UnknownCodeError as exc:
                problems.append(Problem("concerns", code[:40], str(exc)[:160]))
        catalogue = load_catalogue()
        measures = _codes("actions", actions, problems)
        step = dec.chosen_step if dec is not None else 0
        highest = step if step >= voc.municipal_assessment_from_step else max(step, 1)
        for mid in measures:
            if mid not in catalogue.measures:
                problems.append(
                    Problem("actions", mid[:40], f"one of {sorted(catalogue.measures)}")
                )
            elif catalogue.measures[mid].step > highest:
                problems.append(
                    Problem(
                        "actions", mid, f"a measure of step {highest} or below (the decision's)"
                    )
                )
        if responsible_role not in voc.roles:
            problems.append(
                Problem("responsible_role", responsible_role, f"one of {list(voc.roles)}")
            )
        parents = _check_text("parents_view", parents_view, problems, required=True)
        child = _check_text("child_view", child_view, problems, required=False)
        now = clock()
        today = now.astimezone(UTC).date()
        review = _review_date(review_on, step, today, problems)
        if problems:
            raise FollowUpError(*problems)
        assert dec is not None and review is not None
        return cls._sealed(  # type: ignore[no-any-return]
            {
                "child_id": child_id,
                "unit": unit,
                "decision_id": dec.decision_id,
                "decision_step": dec.chosen_step,
                "concerns": codes,
                "actions": measures,
                "responsible_role": responsible_role,
                "parents_view": parents,
                "child_view": child,
                "review_on": review.isoformat(),
                "created_by": created_by,
                "created_at": now.isoformat(timespec="microseconds"),
            }
        )


def _review_date(
    value: date | str | None, step: int, today: date, problems: list[Problem]
) -> date | None:
    if value is None or value == "":
        return default_review_date(step, today)
    # A date, or text YYYY-MM-DD only: a datetime was stored as '…T09:00:00+00:00', and a
    # number (20260301) or ISO week text ('2026-W09') slipped through date.fromisoformat.
    if isinstance(value, datetime) or not isinstance(value, date | str):
        problems.append(Problem("review_on", repr(value)[:40], "a date YYYY-MM-DD"))
        return None
    try:
        if isinstance(value, date):
            day = value
        elif _ISO_DAY.fullmatch(value):
            day = date.fromisoformat(value)
        else:
            raise ValueError(value)
    except ValueError:
        problems.append(Problem("review_on", str(value)[:40], "a date YYYY-MM-DD"))
        return None
    if not today < day <= today + timedelta(days=MAX_REVIEW_DAYS):
        problems.append(
            Problem(
                "review_on", day.isoformat(), f"a date after today, within {MAX_REVIEW_DAYS} days"
            )
        )
        return None
    return day


@dataclass(frozen=True)
class Review(_Signed):
    """What happened after a plan, and whether the concern is resolved, continues or escalates.

    Make one with :meth:`make`. ``new_decision_id`` names the new decision of an
    escalation (``None`` otherwise); ``on_time`` says whether it was made on or before the
    plan's review date.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from opsporing.decision import Decision, unavailable_suggestion
    >>> clock = lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    >>> d = Decision.record(unavailable_suggestion(), professional_role="skole",
    ...     professional_id="P-7", chosen_step=1, reason="gul", clock=clock)
    >>> plan = FollowUpPlan.make(d, child_id="B-1", unit="skole-nord",
    ...     concerns=["social.isolation"], actions=["s1.parent_talk"],
    ...     responsible_role="skole", parents_view="Enige.", created_by="P-7", clock=clock)
    >>> later = lambda: datetime(2027, 1, 20, 9, 0, tzinfo=UTC)
    >>> r = Review.make(plan, happened="Hun leger nu med to andre.", outcome="resolved",
    ...     reviewed_by="P-7", clock=later)
    >>> r.outcome, r.on_time
    ('resolved', False)
    """

    _PURPOSE: ClassVar[str] = REVIEW_PURPOSE
    _ID: ClassVar[str] = "review_id"

    review_id: str
    plan_id: str
    child_id: str
    unit: str
    happened: str
    outcome: str
    new_decision_id: str | None
    on_time: bool
    reviewed_by: str
    reviewed_at: str
    signature: str

    @classmethod
    def make(
        cls,
        plan: FollowUpPlan,
        *,
        happened: str,
        outcome: str,
        reviewed_by: str,
        new_decision: Decision | Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> Review:
        """Check and sign a review of ``plan``.

        Parameters
        ----------
        plan : FollowUpPlan
            A signed plan (verified here).
        happened : str
            What happened since the plan (required; no CPR number).
        outcome : {"resolved", "continues", "escalates"}
        reviewed_by : str
            The professional's pseudonymous id.
        new_decision : Decision or dict, optional
            Required for (and only for) ``"escalates"``: the new, recorded decision.
        clock : callable

        Raises
        ------
        FollowUpError
            With every problem found.
        """
        problems: list[Problem] = []
        if not isinstance(plan, FollowUpPlan):
            raise FollowUpError(Problem("plan", type(plan).__name__, "a FollowUpPlan"))
        plan.verify()
        text = _check_text("happened", happened, problems, required=True)
        if outcome not in OUTCOMES:
            problems.append(Problem("outcome", outcome, f"one of {list(OUTCOMES)}"))
        _check_id("reviewed_by", reviewed_by, problems)
        new_id: str | None = None
        if outcome == "escalates":
            if new_decision is None:
                problems.append(Problem("new_decision", None, "the new decision of an escalation"))
            else:
                dec = _decision(new_decision, problems)
                new_id = dec.decision_id if dec is not None else None
        elif new_decision is not None:
            problems.append(Problem("new_decision", "given", "a new decision only when escalating"))
        now = clock()
        if problems:
            raise FollowUpError(*problems)
        on_time = now.astimezone(UTC).date() <= date.fromisoformat(plan.review_on)
        return cls._sealed(  # type: ignore[no-any-return]
            {
                "plan_id": plan.plan_id,
                "child_id": plan.child_id,
                "unit": plan.unit,
                "happened": text,
                "outcome": outcome,
                "new_decision_id": new_id,
                "on_time": on_time,
                "reviewed_by": reviewed_by,
                "reviewed_at": now.isoformat(timespec="microseconds"),
            }
        )
