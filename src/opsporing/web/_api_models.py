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

#: The form-id pattern of the web form (:func:`opsporing.web._forms.valid_pseudonymous_id`);
#: a CPR number that fits it is refused by scoring's privacy check.
FORM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
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

    forms: list[FormIn] = Field(min_length=1, max_length=MAX_FORMS_SCORE)


class SuggestIn(_InstrumentRequest):
    """Forms of one instrument to suggest a staircase step for (one form per child)."""

    forms: list[FormIn] = Field(min_length=1, max_length=MAX_FORMS_SUGGEST)


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

    form_id: str
    age_years: float | None
    instrument: str = Field(description="id@version of the instrument.")
    band_overall: Literal["grøn", "gul", "rød"] | None = Field(
        alias="band.overall", description="The worst band; rød whenever a red flag is raised."
    )
    red_flag: bool = Field(description="A red flag: the duty to notify applies now.")
    n_missing: int = Field(description="Items not answered.")


class ScoreOut(BaseModel):
    """The scores of every form, in the order sent."""

    model_config = _CLOSED
    instrument: str = Field(description="id@version of the instrument used.")
    scores: list[ScoredForm]


class ReasonOut(BaseModel):
    model_config = _CLOSED
    group: str
    label: TextOut
    contribution: float
    items: list[str]


class WhatIfOut(BaseModel):
    model_config = _CLOSED
    domain: str
    label: TextOut
    score_from: float
    score_to: float
    fraction: float
    to_step: int


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
    step: int | None
    step_label: TextOut | None
    who_acts: TextOut | None
    legal_basis: TextOut | None
    probabilities: list[float] | None = Field(description="P(step = 0..6).")
    p_needs_support: float | None = Field(description="P(step >= 1).")
    interval: list[int] | None = Field(description="Lowest and highest step of the interval.")
    abstain_reason: TextOut | None
    red_flags: list[str]
    duty_to_notify: TextOut | None = Field(description="Set whenever kind is notify.")
    reasons: list[ReasonOut]
    protective_factors: list[str]
    explanation: TextOut | None
    model_id: str | None
    expected_costs: list[float] | None
    rule: TextOut | None
    note: TextOut | None
    what_would_change: list[WhatIfOut]
    abstain_codes: list[str]
    policy_version: str | None
    signature: str | None = Field(description="This installation's signature.")


class SuggestOut(BaseModel):
    """A suggestion for every form, in the order sent."""

    model_config = _CLOSED
    instrument: str = Field(description="id@version of the instrument used.")
    model_available: bool = Field(
        description="False: no model is loaded; every form without a red flag gets kind "
        "unavailable."
    )
    suggestions: list[SuggestionOut]
    red_flags: list[RedFlagRecord] = Field(
        description="The forms with a red flag, with the duty to notify."
    )


class DomainScoreOut(BaseModel):
    model_config = _CLOSED
    domain: str
    score: float | None
    band: str | None
    answered: int
    n_items: int
    scorable: bool
    direction: str


class FormScoreOut(BaseModel):
    """The scores of one form, as :meth:`opsporing.scoring.FormScore.to_dict` writes them."""

    model_config = _CLOSED
    instrument: str
    domains: dict[str, DomainScoreOut]
    total: float | None
    total_band: str | None
    overall_band: str | None
    concerns: list[str]
    protective_factors: list[str]
    red_flags: list[str]
    missing_items: list[str]


class DecisionOut(BaseModel):
    """A decision, as :meth:`opsporing.decision.Decision.to_dict` writes it (signed)."""

    model_config = _CLOSED
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
    red_flags: list[str]
    signature: str


class Receipt(BaseModel):
    """A stored screening and its decision: the receipt (like the web form's)."""

    model_config = _CLOSED
    id: int = Field(description="The receipt's number (the web form's /screenings/{id}).")
    duplicate: bool = Field(description="True: this form and key were stored before.")
    form_id: str
    instrument: str = Field(description="id@version of the instrument used.")
    age_years: float | None
    recorded_at: str
    scores: FormScoreOut
    decision: DecisionOut
    chosen_step_label: TextOut
    red_flags: list[str]
    duty_to_notify: TextOut | None = Field(description="Set whenever there are red flags.")
