"""The JSON API's request and response models (pydantic): what the OpenAPI document shows.

Requests are strict (``"2"`` is not the number 2, ``true`` is not 1) and closed: a field
the model does not name is refused, never ignored, so a misspelt field cannot vanish and a
``professional_role`` in a decision's body cannot pass unnoticed. What the answers must be
(an item of the instrument, a value of its scale, an age in its range, no CPR number in a
form id) is checked by :func:`opsporing.scoring.score_batch`, the one home of those rules;
these models check only the JSON's shape.

The response models mirror the library's own records field by field
(:meth:`opsporing.decision.Suggestion.to_dict`, :meth:`opsporing.decision.Decision.to_dict`,
:meth:`opsporing.scoring.FormScore.to_dict`, the columns of
:func:`opsporing.scoring.score_batch`); a test compares them, so they cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..instruments import list_instruments
from ..privacy import PSEUDONYM_PATTERN
from ..vocabulary import load_vocabulary
from ._forms import MAX_REASON
from ._problems import RedFlagRecord, TextOut

__all__ = [
    "MAX_FORMS_SCORE",
    "MAX_FORMS_SUGGEST",
    "DecisionIn",
    "DecisionOut",
    "FormIn",
    "FormScoreOut",
    "Receipt",
    "ScoreIn",
    "ScoreOut",
    "ScoredForm",
    "SuggestIn",
    "SuggestOut",
    "SuggestionOut",
]

#: Forms per scoring request. Scoring is vectorised (milliseconds for a thousand forms);
#: the body cap (256 KiB, about 370 full forms) is reached first.
MAX_FORMS_SCORE = 1000
#: Forms per suggestion request. Each suggestion runs the model, SHAP and the
#: what-would-change search: about 0.1 s a form on a busy 2-core machine, so 100 forms
#: keep a request near ten seconds.
MAX_FORMS_SUGGEST = 100

#: The form-id pattern of the web form (:data:`opsporing.privacy.PSEUDONYM_PATTERN`);
#: a CPR number that fits it is refused by scoring's privacy check.
FORM_ID_PATTERN = PSEUDONYM_PATTERN
_ITEM_ID = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_STEPS = sorted(s.number for s in load_vocabulary().steps)
_Step = Annotated[int, Field(ge=_STEPS[0], le=_STEPS[-1], strict=True)]
_STRICT_CLOSED = ConfigDict(extra="forbid", strict=True)
_CLOSED = ConfigDict(extra="forbid")
_INSTRUMENT_IDS: list[Any] = sorted({i.id for i in list_instruments()})
_INSTRUMENT_VERSIONS: list[Any] = sorted({i.version for i in list_instruments()})


# --- requests -------------------------------------------------------------------------------------
class FormIn(BaseModel):
    """One filled-in form."""

    model_config = _STRICT_CLOSED
    form_id: str = Field(
        pattern=FORM_ID_PATTERN,
        description="Pseudonymous form id (1-64 letters, digits, '.', '-', '_'); never a CPR "
        "number, never a name.",
        examples=["B-2026-041"],
    )
    age_years: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The child's age in years; checked against the instrument's age range.",
        examples=[9.5],
    )
    answers: dict[_ITEM_ID, int | None] = Field(
        default_factory=dict,
        max_length=1000,
        description="Item id to answer (a value of the item's scale, or null for not "
        "answered). Items left out count as not answered.",
        examples=[{"emo_sad": 2, "emo_tense": 3}],
    )


class _InstrumentRequest(BaseModel):
    model_config = _STRICT_CLOSED
    instrument: str = Field(
        min_length=1,
        max_length=200,
        description="A shipped instrument's id (`opsporing instruments list`).",
        examples=["opsporing.skole.trivsel"],
        # The document lists the shipped ids; the registry itself says what is unknown.
        json_schema_extra={"enum": _INSTRUMENT_IDS},
    )
    instrument_version: str | None = Field(
        default=None,
        max_length=50,
        description="The version the forms were filled in with; default the newest.",
        json_schema_extra={"enum": [*_INSTRUMENT_VERSIONS, None]},
    )


class ScoreIn(_InstrumentRequest):
    """Forms of one instrument to score."""

    forms: list[FormIn] = Field(
        min_length=1, max_length=MAX_FORMS_SCORE, description="The forms, each one child's."
    )


class SuggestIn(_InstrumentRequest):
    """Forms of one instrument to suggest a staircase step for (one form per child)."""

    forms: list[FormIn] = Field(
        min_length=1, max_length=MAX_FORMS_SUGGEST, description="The forms, one per child."
    )


class DecisionIn(_InstrumentRequest):
    """A professional's decision on the suggestion the server made for one form.

    Who decides, and in which role, is the authenticated user: a body naming a role or a
    professional is refused.
    """

    form: FormIn = Field(description="The form the suggestion was made for, as sent.")
    idempotency_key: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="32 lowercase hex digits, new for each decision (e.g. uuid4().hex): the "
        "same key with the same form is stored once.",
    )
    suggestion_id: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="The suggestion_id of the suggestion /api/v1/suggest returned for this "
        "form; refused (409) when the server would now suggest something else.",
    )
    chosen_step: _Step = Field(description="The staircase step the professional acts on.")
    notify: bool = Field(
        default=False,
        description="The professional notifies (or refers the child to) the municipality.",
    )
    reason: str | None = Field(
        default=None,
        max_length=MAX_REASON,
        description="Why; required when the decision does not follow the suggestion (and "
        "always after an abstention or without a model). Never a CPR number.",
    )


# --- responses ------------------------------------------------------------------------------------
_Cell = float | int | str | bool | None


class ScoredForm(BaseModel):
    """One form's row of :func:`opsporing.scoring.score_batch`, column by column.

    Besides the named fields, per domain of the instrument: ``score.<domain>`` (null when
    not scorable, never 0), ``band.<domain>`` (grøn/gul/rød or null),
    ``answered.<domain>``, ``scorable.<domain>``; ``score.total`` and ``band.total`` when
    the instrument has a total; ``concept.<code>`` (true when the form evidences the
    vocabulary concept).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    __pydantic_extra__: dict[str, _Cell] = Field(init=False)

    form_id: str = Field(description="The form's pseudonymous id.")
    age_years: float | None = Field(description="The child's age in years.")
    instrument: str = Field(description="id@version of the instrument.")
    band_overall: Literal["grøn", "gul", "rød"] | None = Field(
        alias="band.overall",
        description="By the instrument's overall rule (the worst band, or the total's band "
        "raised by a concern domain at rød or a critical answer); rød whenever a red flag is "
        "raised.",
    )
    red_flag: bool = Field(description="A red flag: the duty to notify applies now.")
    critical: bool = Field(
        default=False, description="A critical answer was given (the overall band is at least gul)."
    )
    n_missing: int = Field(description="Items not answered.")


class ScoreOut(BaseModel):
    """The scores of every form, in the order sent."""

    model_config = _CLOSED
    instrument: str = Field(description="id@version of the instrument used.")
    scores: list[ScoredForm] = Field(description="One row per form, in the order sent.")


class ReasonOut(BaseModel):
    """A finding that moves the suggestion (a SHAP contribution of a domain or concept)."""

    model_config = _CLOSED
    group: str = Field(description="The feature group, e.g. domain:emotional.")
    label: TextOut = Field(description="The finding in words.")
    contribution: float = Field(description="Positive: pushes the suggestion up.")
    items: list[str] = Field(description="The items behind the finding.")


class WhatIfOut(BaseModel):
    """The smallest change of one domain score that would move the suggestion down."""

    model_config = _CLOSED
    domain: str = Field(description="The domain id.")
    label: TextOut = Field(description="The domain in words.")
    score_from: float = Field(description="The domain score now.")
    score_to: float = Field(description="The score at which the suggestion moves down.")
    fraction: float = Field(description="The change as a share of the domain's range.")
    to_step: int = Field(description="The step suggested then.")


class SuggestionOut(BaseModel):
    """A suggestion, as :meth:`opsporing.decision.Suggestion.to_dict` writes it.

    A suggestion, never a decision: record what is decided with ``POST /api/v1/decisions``.
    """

    model_config = _CLOSED
    suggestion_id: str = Field(description="SHA-256 of the content; a decision names it.")
    subject: str | None = Field(description="The form id.")
    kind: Literal["step", "abstain", "notify", "unavailable"] = Field(
        description="step: a suggested step; abstain: too little information, discuss the "
        "child in the team; notify: a red flag, follow the duty to notify now; "
        "unavailable: no model."
    )
    step: int | None = Field(description="The suggested step (kind step only).")
    step_label: TextOut | None = Field(description="The step's name in the vocabulary.")
    who_acts: TextOut | None = Field(description="Who acts on the step.")
    legal_basis: TextOut | None = Field(description="The step's legal basis.")
    probabilities: list[float] | None = Field(description="P(step = 0..6).")
    p_needs_support: float | None = Field(description="P(step >= 1).")
    interval: list[int] | None = Field(description="Lowest and highest step of the interval.")
    abstain_reason: TextOut | None = Field(description="Why the model abstained.")
    red_flags: list[str] = Field(description="The red-flag concept codes raised.")
    duty_to_notify: TextOut | None = Field(description="Set whenever kind is notify.")
    reasons: list[ReasonOut] = Field(description="Findings pushing it up, then down.")
    protective_factors: list[str] = Field(description="Protective factors the form shows.")
    explanation: TextOut | None = Field(description="The reasons as one sentence.")
    model_id: str | None = Field(description="SHA-256 of the model file.")
    expected_costs: list[float] | None = Field(
        description="The policy's expected cost of suggesting each step 0-6."
    )
    rule: TextOut | None = Field(description="The rule, with the numbers behind this step.")
    note: TextOut | None = Field(
        description="Higher steps need the municipality's assessment, when the interval "
        "reaches them."
    )
    what_would_change: list[WhatIfOut] = Field(
        description="Changes of one domain score that would move the step down."
    )
    abstain_codes: list[str] = Field(
        description="Why it abstained, as codes: missing, domain:<id>, range:<feature>, "
        "no_model, model_failed."
    )
    policy_version: str | None = Field(description="The suggestion policy's version.")
    signature: str | None = Field(description="This installation's signature.")


class SuggestOut(BaseModel):
    """A suggestion for every form, in the order sent."""

    model_config = _CLOSED
    instrument: str = Field(description="id@version of the instrument used.")
    model_available: bool = Field(
        description="False: no model is loaded; every form without a red flag gets kind "
        "unavailable."
    )
    suggestions: list[SuggestionOut] = Field(description="One per form, in the order sent.")
    red_flags: list[RedFlagRecord] = Field(
        description="The forms with a red flag, with the duty to notify."
    )


class DomainScoreOut(BaseModel):
    """The score of one domain of one form."""

    model_config = _CLOSED
    domain: str = Field(description="The domain id.")
    score: float | None = Field(description="Null when not scorable (never 0).")
    band: str | None = Field(description="grøn, gul or rød; null when not scorable.")
    answered: int = Field(description="Items of the domain answered.")
    n_items: int = Field(description="Items of the domain.")
    scorable: bool = Field(description="Enough answers to score the domain.")
    direction: str = Field(description="concern or resource: which way is worse.")


class CriticalAnswerOut(BaseModel):
    """A critical answer: the item, the raw answer and what to do now."""

    model_config = _CLOSED
    item: str = Field(description="The item id.")
    answer: float = Field(description="The raw answer that met the item's critical bound.")
    act_now: dict[str, str] | None = Field(
        description="What to do now, by language (da, en); null when the item has no text."
    )


class FormScoreOut(BaseModel):
    """The scores of one form, as :meth:`opsporing.scoring.FormScore.to_dict` writes them."""

    model_config = _CLOSED
    instrument: str = Field(description="id@version of the instrument used.")
    domains: dict[str, DomainScoreOut] = Field(description="Domain id to its score.")
    total: float | None = Field(description="The total score, when the instrument has one.")
    total_band: str | None = Field(description="The total's band.")
    overall_band: str | None = Field(
        description="By the instrument's overall rule (worst band, or the total's band raised "
        "to at least gul by a concern domain at rød or a critical answer); rød with a red flag."
    )
    concerns: list[str] = Field(description="Concern concepts the answers evidence.")
    protective_factors: list[str] = Field(description="Protective factors evidenced.")
    red_flags: list[str] = Field(description="Red-flag concepts raised.")
    missing_items: list[str] = Field(description="Items not answered.")
    critical_answers: list[CriticalAnswerOut] = Field(
        default=[], description="Items answered at their critical bound (at least gul)."
    )


class DecisionOut(BaseModel):
    """A decision, as :meth:`opsporing.decision.Decision.to_dict` writes it (signed)."""

    model_config = _CLOSED
    decision_id: str = Field(description="SHA-256 of the decision's content.")
    suggestion_id: str = Field(description="The suggestion decided on.")
    suggestion_kind: str = Field(description="step, abstain, notify or unavailable.")
    suggested_step: int | None = Field(description="The step suggested, if any.")
    chosen_step: int = Field(description="The step the professional acts on.")
    notify: bool = Field(description="The professional notifies the municipality.")
    follows_suggestion: bool = Field(description="Whether the decision follows it.")
    reason: str | None = Field(description="The professional's reason.")
    professional_role: str = Field(description="The authenticated user's role.")
    professional_id: str = Field(description="The authenticated user's name.")
    decided_at: str = Field(description="ISO 8601 time with its UTC offset.")
    red_flags: list[str] = Field(description="The suggestion's red flags.")
    signature: str = Field(description="This installation's signature of the decision.")


class Receipt(BaseModel):
    """A stored screening and its decision: the receipt (like the web form's)."""

    model_config = _CLOSED
    id: int = Field(description="The receipt's number (the web form's /screenings/{id}).")
    duplicate: bool = Field(description="True: this form and key were stored before.")
    form_id: str = Field(description="The form's pseudonymous id.")
    instrument: str = Field(description="id@version of the instrument used.")
    age_years: float | None = Field(description="The child's age in years.")
    recorded_at: str = Field(description="When it was stored (ISO 8601).")
    scores: FormScoreOut = Field(description="The form's scores.")
    decision: DecisionOut = Field(description="The decision, signed.")
    chosen_step_label: TextOut = Field(description="The chosen step's name.")
    red_flags: list[str] = Field(description="Red-flag concepts the form raised.")
    duty_to_notify: TextOut | None = Field(description="Set whenever there are red flags.")
