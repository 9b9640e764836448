"""RFC 9457 problem details: every error of the JSON API as ``application/problem+json``.

One shape for every refusal of the API, whatever raised it: an
:class:`~opsporing.errors.OpsporingError` (its :class:`~opsporing.errors.Problem` records
become ``errors``), a request body that does not fit the API's models (pydantic's errors
become the same records), a missing login, a body too large, a wrong content type. A
refusal of a batch that holds red flags carries them in ``red_flags``, with the duty to
notify: the duty never waits for the rest of the input to be fixed.

Nothing echoed is trusted: every value is capped, CPR numbers are masked, and a nested
value is named by its type only (:func:`safe_value`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    VALUE_LIMIT,
    DecisionError,
    IdempotencyConflictError,
    OpsporingError,
    Problem,
    StorageError,
    UnknownInstrumentError,
)
from ..privacy import looks_like_cpr, mask_cpr
from ..vocabulary import load_vocabulary

__all__ = [
    "PROBLEM_JSON",
    "ProblemDetails",
    "ProblemRecord",
    "RedFlagRecord",
    "TextOut",
    "problem_body",
    "safe_value",
    "status_of",
    "type_of",
]

#: The media type of every error body (RFC 9457).
PROBLEM_JSON = "application/problem+json"
#: How many problem records one response lists (the count of all is in ``detail``).
MAX_RECORDS = 1000


class TextOut(BaseModel):
    """A text in Danish and English."""

    model_config = ConfigDict(extra="forbid")
    da: str = Field(description="Danish.")
    en: str = Field(description="English.")


class ProblemRecord(BaseModel):
    """One thing wrong with the request: where, what was found, what was expected."""

    model_config = ConfigDict(extra="forbid")
    field: str = Field(description="The item id, or the request field, that is wrong.")
    row: int | str | None = Field(
        description="Position of the form in the request's ``forms`` (0 first); null when "
        "the problem is not about one form."
    )
    value: str | int | float | bool | None = Field(
        description="The value received: capped, CPR numbers masked, a list or object named "
        "by its type only."
    )
    expected: str = Field(description="What would have been accepted, in words.")
    kind: str = Field(
        description="A stable machine-readable category, e.g. out_of_range, unknown_item, "
        "personal_identifier, missing, municipal_step, or pydantic's error type."
    )


class RedFlagRecord(BaseModel):
    """A form whose valid answers raise a red flag: the duty to notify applies now."""

    model_config = ConfigDict(extra="forbid")
    row: int | None = Field(description="Position of the form in the request (0 first).")
    form_id: str | None = Field(description="The form's pseudonymous id.")
    concepts: list[str] = Field(description="The red-flag concept codes of the vocabulary.")
    duty_to_notify: TextOut = Field(description="What the duty to notify asks, now.")
    legal_basis: TextOut = Field(description="The duty's legal basis (barnets lov § 133).")


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(
        description="A URI naming the kind of problem: ``about:blank`` for plain HTTP errors, "
        "``tag:opsporing,2026:problem:<ErrorClass>`` for the library's typed errors."
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, in English.")
    errors: list[ProblemRecord] = Field(
        default_factory=list, description="Every problem found (not just the first)."
    )
    red_flags: list[RedFlagRecord] = Field(
        default_factory=list,
        description="Forms of a refused request whose valid answers raise a red flag.",
    )


def safe_value(value: Any) -> str | int | float | bool | None:
    """A received value as it may be echoed: capped, CPR numbers masked, no containers.

    Examples
    --------
    >>> safe_value("0102031234"), safe_value([1, 2]), safe_value(float("nan"))
    ('[CPR]', '(list of 2)', None)
    >>> len(safe_value("x" * 10_000)) < 120
    True
    """
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        try:
            value = value.item()
        except (TypeError, ValueError):
            value = str(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if looks_like_cpr(value):
            return "[CPR]"
        return value if abs(value) < 2**53 else f"(a {len(str(abs(value)))}-digit number)"
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple | dict | set):
        return f"({type(value).__name__} of {len(value)})"
    text = value if isinstance(value, str) else f"({type(value).__name__})"
    if len(text) > VALUE_LIMIT:
        text = f"{text[: VALUE_LIMIT - 1]}… ({len(text):,} characters)"
    return mask_cpr(text)


def _record(p: Problem) -> ProblemRecord:
    row = p.row if isinstance(p.row, int | str) and not isinstance(p.row, bool) else None
    if isinstance(row, str):
        row = mask_cpr(row[:VALUE_LIMIT])
    return ProblemRecord(
        field=mask_cpr(str(p.field)[: 2 * VALUE_LIMIT]),
        row=row,
        value=safe_value(p.value),
        expected=mask_cpr(str(p.expected)[:1000]),
        kind=str(p.kind),
    )


def status_of(exc: OpsporingError) -> int:
    """The HTTP status of a library error.

    403 for a step only the municipality may choose, 409 for a replayed idempotency key,
    503 when the audit log cannot be written, 422 for every other error of the input.
    """
    if isinstance(exc, DecisionError) and any(p.kind == "municipal_step" for p in exc.problems):
        return 403
    if isinstance(exc, IdempotencyConflictError):
        return 409
    if isinstance(exc, StorageError):
        return 503
    return 422


def type_of(exc: OpsporingError) -> str:
    """The problem type URI of a library error: one per error class (RFC 9457 § 3.1.1)."""
    return f"tag:opsporing,2026:problem:{type(exc).__name__}"


def title_of(status: int) -> str:
    """The status's phrase: the title RFC 9457 asks for with ``type`` ``about:blank``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def red_flag_records(
    red_flags: Mapping[Any, Sequence[str]], form_ids: Sequence[str] = ()
) -> list[RedFlagRecord]:
    """``red_flags`` (by row position or by form id) as records carrying the duty to notify."""
    voc = load_vocabulary()
    duty = TextOut(da=voc.duty_to_notify.da, en=voc.duty_to_notify.en)
    basis = TextOut(da=voc.duty_to_notify_basis.da, en=voc.duty_to_notify_basis.en)
    out = []
    for key, codes in red_flags.items():
        row: int | None = None
        form_id: str | None = None
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(form_ids):
            row, form_id = key, form_ids[key]
        elif isinstance(key, str) and key in form_ids:
            row, form_id = list(form_ids).index(key), key
        elif isinstance(key, str):
            form_id = mask_cpr(key[:VALUE_LIMIT])
        out.append(
            RedFlagRecord(
                row=row,
                form_id=form_id,
                concepts=[str(c) for c in codes],
                duty_to_notify=duty,
                legal_basis=basis,
            )
        )
    return out


def problem_body(
    status: int,
    detail: str,
    *,
    type: str = "about:blank",
    title: str | None = None,
    problems: Sequence[Problem] = (),
    red_flags: Sequence[RedFlagRecord] = (),
) -> dict[str, Any]:
    """The JSON body of a problem-details response."""
    return ProblemDetails(
        type=type,
        title=title or title_of(status),
        status=status,
        detail=mask_cpr(detail),
        errors=[_record(p) for p in problems[:MAX_RECORDS]],
        red_flags=list(red_flags),
    ).model_dump(mode="json")


def error_body(
    exc: OpsporingError, form_ids: Sequence[str] = (), *, field: str = ""
) -> tuple[int, dict[str, Any]]:
    """The status and problem-details body of a library error.

    An error made from a message alone (no :class:`Problem` records) gets one record for
    ``field``, so a client always finds where the problem is in ``errors``.
    """
    status = status_of(exc)
    problems = list(exc.problems)
    if not problems and field:
        expected = str(exc).split(": expected ", 1)[-1] if ": expected " in str(exc) else str(exc)
        kind = "unknown_instrument" if isinstance(exc, UnknownInstrumentError) else "invalid"
        problems = [Problem(field, "(see detail)", expected, kind=kind)]
    return status, problem_body(
        status,
        str(exc),
        type=type_of(exc),
        title=_error_title(exc, status),
        problems=problems,
        red_flags=red_flag_records(exc.red_flags, form_ids),
    )


def _error_title(exc: OpsporingError, status: int) -> str:
    if exc.red_flags:
        return "Refused; RED FLAG: the duty to notify applies now"
    return {
        "ResponseValidationError": "Invalid answers",
        "DecisionError": "The decision breaks the protocol",
        "UnknownInstrumentError": "Unknown instrument",
        "IdempotencyConflictError": "Idempotency key replayed with different content",
        "DataError": "Invalid data",
    }.get(type(exc).__name__, title_of(status))
