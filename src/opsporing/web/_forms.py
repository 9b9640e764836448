"""Reading the submitted HTML forms: field by field, every error at once, nothing guessed.

Browsers send every field as text. This module turns the text into typed values and
collects, per field, what was wrong, so the page can show each message next to its field.
Answers are then checked by :func:`opsporing.scoring.score_form`, whose problems are shown
next to the items they name.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._texts import short
from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument, ResponseScale
from ..privacy import (
    looks_like_cpr,  # the one CPR detector (all separators, real dates)
    valid_pseudonymous_id,  # the one id rule (re-exported for the web)
)
from ..scoring import FormScore, score_form
from ._i18n import UI

__all__ = [
    "DecisionInput",
    "FieldErrors",
    "ScreeningInput",
    "looks_like_cpr",
    "new_token",
    "read_decision",
    "read_screening",
    "valid_pseudonymous_id",
]

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: A whole number as a browser sends an option's value: ASCII digits, at most 18 of them
#: (``int()`` refuses more than 4,300 digits; anything longer goes to scoring as text, and
#: scoring says what was expected).
_INT = re.compile(r"^-?[0-9]{1,18}$")
#: Prefix of an item's field name in the HTML form: ``item.<item id>``.
ITEM_PREFIX = "item."
MAX_REASON = 2000

#: Field name -> messages to show next to that field ("" = the form as a whole).
FieldErrors = dict[str, list[str]]


def new_token() -> str:
    """A fresh idempotency token for one rendered form (32 hex digits)."""
    return secrets.token_hex(16)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _pseudonymous_id(form: Mapping[str, Any], name: str, t: UI, errors: FieldErrors) -> str:
    value = _text(form, name)
    if not value:
        errors.setdefault(name, []).append(t["err_required"])
    elif looks_like_cpr(value):
        errors.setdefault(name, []).append(t["err_cpr"])
    elif not valid_pseudonymous_id(value):  # the shape (the CPR case is said above)
        errors.setdefault(name, []).append(t["err_id"])
    return value


@dataclass(frozen=True)
class ScreeningInput:
    """A submitted screening form, read and (when ``errors`` is empty) scored.

    ``raw_answers`` keeps the answers as submitted (for re-rendering the form);
    ``answers`` holds the parsed ones passed to scoring.
    """

    instrument: Instrument
    token: str
    form_id: str
    age_text: str
    age_years: float | None
    raw_answers: dict[str, str]
    answers: dict[str, Any]
    score: FormScore | None
    errors: FieldErrors = field(default_factory=dict)
    #: Red flags raised by the valid answers, whatever else is wrong with the form: the
    #: duty to notify never waits for the form to be fixed.
    red_flags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and self.score is not None

    def stored_answers(self) -> dict[str, int | None]:
        """Every item of the instrument with its answer (``None`` when not answered)."""
        return {
            item: (int(v) if isinstance(v, int) else None)
            for item, v in ((i, self.answers.get(i)) for i in self.instrument.item_ids)
        }


def _scale_of(instrument: Instrument, item_id: str) -> ResponseScale | None:
    try:
        return instrument.scale(instrument.item(item_id).scale)
    except KeyError:
        return None


def _problem_text(problem: Problem, instrument: Instrument, t: UI) -> str:
    """A scoring problem in the page's language alone (the record's ``kind``, not its text)."""
    if problem.field == "age_years":
        low, high = (short(v, t.lang) for v in (instrument.age_years.min, instrument.age_years.max))
        return t["err_age_range"].format(low=low, high=high)
    if problem.field == "instrument_version":
        got = repr(str(problem.value)[:40])  # sent by the browser: shown short
        return t["err_version"].format(got=got, expected=repr(instrument.version))
    if problem.kind == "required":
        return t["err_answer_required"]
    if problem.kind in ("out_of_range", "not_a_number"):
        scale = _scale_of(instrument, problem.field)
        if scale is not None and scale.is_number:
            return t["err_number"].format(low=scale.min, high=scale.max)
        return t["err_choice"]  # the options are on the page; the value is not echoed
    return t["err_invalid"]


def read_screening(instrument: Instrument, form: Mapping[str, Any], t: UI) -> ScreeningInput:
    """Read and score a submitted screening form; every problem lands in ``errors``."""
    errors: FieldErrors = {}
    token = _text(form, "token")
    if not _TOKEN.fullmatch(token):
        errors.setdefault("", []).append(t["err_token"])
    form_id = _pseudonymous_id(form, "form_id", t, errors)

    age_text = _text(form, "age_years")
    age: float | None = None
    if not age_text:
        errors.setdefault("age_years", []).append(t["err_required"])
    else:
        try:
            age = float(age_text.replace(",", "."))
        except ValueError:
            errors.setdefault("age_years", []).append(t["err_age"])

    raw: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for name in form:
        if not name.startswith(ITEM_PREFIX):
            continue
        item = name[len(ITEM_PREFIX) :]
        text = _text(form, name)
        raw[item] = text
        # The browser sends the option's value as text; a whole number is that number,
        # anything else goes to scoring as it came, and scoring says what was expected.
        answers[item] = None if text == "" else int(text) if _INT.fullmatch(text) else text

    score: FormScore | None = None
    red_flags: tuple[str, ...] = ()
    version = _text(form, "instrument_version") or None
    try:
        score = score_form(
            instrument,
            answers,
            age_years=age if age is not None and "age_years" not in errors else None,
            version=version,
        )
        red_flags = tuple(score.red_flags)
    except ResponseValidationError as exc:
        red_flags = exc.red_flags.get(0, ())
        for p in exc.problems:
            # An unanswered required item is not in the submission at all (no radio chosen).
            is_item = p.field in answers or p.field in instrument.item_ids
            name = f"{ITEM_PREFIX}{p.field}" if is_item else p.field
            if p.field == "instrument_version":
                name = ""
            errors.setdefault(name, []).append(_problem_text(p, instrument, t))
    return ScreeningInput(
        instrument=instrument,
        token=token,
        form_id=form_id,
        age_text=age_text,
        age_years=age,
        raw_answers=raw,
        answers=answers,
        score=score if not errors else None,
        errors=errors,
        red_flags=red_flags,
    )


@dataclass(frozen=True)
class DecisionInput:
    """The professional's decision as submitted: chosen step, notify, reason.

    Who decides, and in which role, is never read from the form: it is the logged-in user.
    """

    chosen_step: int | None
    chosen_step_text: str
    notify: bool
    reason: str | None
    suggestion_id: str
    errors: FieldErrors = field(default_factory=dict)


def read_decision(form: Mapping[str, Any], t: UI) -> DecisionInput:
    """Read the decision fields; the protocol's rules are checked by the decision module.

    A ``role`` or ``professional_id`` field in the form is ignored: both come from the login.
    """
    errors: FieldErrors = {}
    step_text = _text(form, "chosen_step")
    step: int | None = None
    if step_text in {str(n) for n in range(7)}:
        step = int(step_text)
    else:
        errors.setdefault("chosen_step", []).append(
            t["err_choice"] if step_text else t["err_required"]
        )
    reason = _text(form, "reason") or None
    if reason is not None:
        if len(reason) > MAX_REASON:
            errors.setdefault("reason", []).append(t["err_reason_long"])
        if looks_like_cpr(reason):
            errors.setdefault("reason", []).append(t["err_cpr"])
    return DecisionInput(
        chosen_step=step,
        chosen_step_text=step_text,
        notify=_text(form, "notify") == "1",
        reason=reason,
        suggestion_id=_text(form, "suggestion_id"),
        errors=errors,
    )
