"""Suggestions: what the model and the red-flag rule propose, never what is decided.

A :class:`Suggestion` is frozen and has no method that decides, records or acts.
The only way from a suggestion to a decision is
:meth:`opsporing.decision.Decision.record`, by a named professional.

The rule, for each child
------------------------
1. **Red flag** (``red_flag`` in the score table, or in the parents' or the child's
   own form of the same round: a red-flag concern such as a disclosure of violence or
   self-harm): the model is *not* run. A child who discloses on their own form is
   routed to the duty to notify, whatever the educator's form says. The suggestion is
   ``kind="notify"``: follow the duty to notify (barnets lov § 133) now, with the
   vocabulary's ``duty_to_notify`` text. No step, no probabilities.
2. **Abstain**, only for data reasons of the suggestion policy
   (:mod:`opsporing.policy`): too many unanswered questions, a domain the suggestion
   rests on not scorable, or inputs outside the training data. ``kind="abstain"``:
   "insufficient information — discuss the child in the team", with the reason; no
   step and no probabilities.
3. Otherwise ``kind="step"``: the step with the **lowest expected cost** under the
   model's calibrated probabilities and the policy's cost matrix, near-ties going down
   the staircase (:meth:`opsporing.policy.SuggestionPolicy.choose`, the same rule as
   :meth:`~opsporing.model.StepSuggester.predict`). An uncertain step is not a reason to
   abstain: the child gets the lowest step the rule supports, the uncertainty interval
   is shown, and when the interval reaches the municipality's steps the suggestion says
   that higher steps need the municipality's assessment (barnets lov §§ 18-20).
   ``what_would_change`` names, among the three domains pushing the suggestion up most,
   the smallest change of one domain score that would move it one step down.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError, OpsporingError, Problem
from ..explain import (
    Explainer,
    Reason,
    WhatIf,
    group_label,
    render_sentence,
    what_would_change,
)
from ..model import DOMAINS, build_features, domain_ranges, feature_groups, model_view
from ..policy import SuggestionPolicy, resolve_policy
from ..vocabulary import Language, Step, Text, load_vocabulary

SuggestionKind = Literal["step", "abstain", "notify", "unavailable"]

#: What an abstention says.
ABSTAIN_TEXT = Text(
    "Utilstrækkelig information — drøft barnet i teamet.",
    "Insufficient information — discuss the child in the team.",
)
#: The data reasons to abstain, as they read (filled in per child).
_REASON_TEXTS: dict[str, Text] = {
    "missing": Text(
        "{share} af spørgsmålene er ubesvarede (grænsen er {limit}).",
        "{share} of the questions are unanswered (the limit is {limit}).",
    ),
    "domain": Text(
        "{label} kunne ikke beregnes (for få svar), og forslaget hviler på den.",
        "{label} could not be computed (too few answers), and the suggestion rests on it.",
    ),
    "range": Text(
        "{label} ligger uden for de data, modellen er trænet på.",
        "{label} lies outside the data the model was trained on.",
    ),
    "input": Text(
        "{label} mangler; modellen gætter ikke.",
        "{label} is missing; the model does not guess.",
    ),
}
_HIGHER_TEXT = Text(
    "Højere trin (fra trin {from_step}) kræver kommunens egen vurdering; usikkerheden "
    "rækker til trin {hi}.",
    "Higher steps (from step {from_step}) need the municipality's own assessment; the "
    "uncertainty reaches step {hi}.",
)


@dataclass(frozen=True)
class Suggestion:
    """A suggested step for one child (or a red-flag notice, or an abstention).

    Attributes
    ----------
    suggestion_id : str
        SHA-256 of the suggestion's content; a Decision refers to it.
    subject : str or None
        The pseudonymous id of the screening (index of the score table).
    kind : {"step", "abstain", "notify"}
    step : int or None
        The suggested step (``kind="step"`` only).
    step_info : Step or None
        The vocabulary's step: label, description, legal basis, who acts.
    probabilities : tuple of float or None
        ``P(step = 0..6)``; ``None`` for red flags (the model is bypassed).
    p_needs_support : float or None
        ``P(step >= 1)``: needs more than universal services.
    interval : tuple of (int, int) or None
        Lowest and highest step of the conformal interval.
    expected_costs : tuple of float or None
        The policy's expected cost of suggesting each step 0-6 (``kind="step"`` only).
    rule : Text or None
        The rule in one sentence with the numbers behind this suggestion.
    note : Text or None
        "Higher steps need the municipality's assessment" when the interval reaches them.
    what_would_change : tuple of WhatIf
        Among the three domains pushing the suggestion up most, the smallest changes of
        one domain score that would move it one step down (``kind="step"`` with step >= 1
        only).
    abstain_reason : Text or None
        Why the model abstained (data reasons only).
    abstain_codes : tuple of str
        The same as codes: ``"missing"``, ``"domain:<id>"``, ``"range:<feature>"``.
    red_flags : tuple of str
        The red-flag concept codes raised.
    duty_to_notify : Text or None
        The vocabulary's duty-to-notify text (red flags only).
    reasons : tuple of Reason
        Top findings pushing the suggestion up, then down.
    protective_factors : tuple of str
        Protective factors the form evidences.
    explanation : Text or None
        The reasons as one sentence in Danish and English.
    model_id : str or None
        SHA-256 of the model file when loaded with ``load_model``.
    policy_version : str or None
        The version of the suggestion policy that chose the step.
    """

    suggestion_id: str
    subject: str | None
    kind: SuggestionKind
    step: int | None
    step_info: Step | None
    probabilities: tuple[float, ...] | None
    p_needs_support: float | None
    interval: tuple[int, int] | None
    abstain_reason: Text | None
    red_flags: tuple[str, ...]
    duty_to_notify: Text | None
    reasons: tuple[Reason, ...]
    protective_factors: tuple[str, ...]
    explanation: Text | None
    model_id: str | None
    expected_costs: tuple[float, ...] | None = None
    rule: Text | None = None
    note: Text | None = None
    what_would_change: tuple[WhatIf, ...] = ()
    abstain_codes: tuple[str, ...] = ()
    policy_version: str | None = None

    @property
    def requires_municipal_assessment(self) -> bool:
        """Whether the suggested step needs the municipality's assessment (step >= 3)."""
        return bool(self.step_info is not None and self.step_info.requires_municipal_assessment)

    def message(self, lang: Language = "da") -> str:
        """What the suggestion says, in a few lines of plain language.

        Examples
        --------
        >>> import pandas as pd
        >>> from opsporing.instruments import get_instrument
        >>> from opsporing.scoring import score_batch
        >>> school = get_instrument("opsporing.skole.trivsel")
        >>> scores = score_batch(school, pd.DataFrame({"saf_disclosure": [1]}))
        >>> print(red_flag_suggestion(scores.iloc[0], subject="S1").message("en"))
        RED FLAG (Disclosure of violence or abuse): follow the duty to notify now ...
        """
        voc = load_vocabulary()
        if self.kind == "notify":
            flags = ", ".join(voc.concept(c).label.get(lang) for c in self.red_flags)
            head = "RØDT FLAG" if lang == "da" else "RED FLAG"
            act = (
                "følg underretningspligten nu" if lang == "da" else "follow the duty to notify now"
            )
            basis = voc.duty_to_notify_basis.get(lang)
            duty = self.duty_to_notify.get(lang) if self.duty_to_notify else ""
            return f"{head} ({flags}): {act} ({basis}). {duty}"
        lines = []
        if self.kind == "unavailable":
            return UNAVAILABLE_TEXT.get(lang)
        if self.kind == "abstain":
            lines.append(ABSTAIN_TEXT.get(lang))
            if self.abstain_reason is not None:
                lines.append(self.abstain_reason.get(lang))
            return "\n".join(lines)
        if self.step_info is not None:
            word = "Forslag: trin" if lang == "da" else "Suggestion: step"
            lines.append(f"{word} {self.step} – {self.step_info.label.get(lang)}.")
            lines.append(self.step_info.who_acts.get(lang))
            if self.requires_municipal_assessment:
                lines.append(
                    "Kræver kommunens egen vurdering (barnets lov §§ 18-20)."
                    if lang == "da"
                    else "Needs the municipality's own assessment (Children's Act §§ 18-20)."
                )
        if self.rule is not None:
            lines.append(self.rule.get(lang))
        if self.interval is not None:
            lo, hi = self.interval
            lines.append(
                f"Usikkerhed: trin {lo}-{hi}." if lang == "da" else f"Uncertainty: steps {lo}-{hi}."
            )
        if self.note is not None:
            lines.append(self.note.get(lang))
        if self.explanation is not None:
            lines.append(self.explanation.get(lang))
        lines.extend(w.sentence(lang) for w in self.what_would_change)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (texts as ``{"da": ..., "en": ...}``).

        The same shape as the CLI's ``suggest --format json`` output and the web form's
        stored suggestion; :meth:`from_dict` reads it back.
        """
        from ._signing import _ATTRIBUTE

        return {**self.signed_payload(), "signature": self.__dict__.get(_ATTRIBUTE)}

    def signed_payload(self) -> dict[str, Any]:
        """What the installation's signature covers: :meth:`to_dict` without the signature."""
        return {
            "suggestion_id": self.suggestion_id,
            **_content(self.__dict__),
        }

    def to_json(self) -> str:
        """One line of JSON (keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> Suggestion:
        """Read a suggestion back from :meth:`to_dict`; refused unless it is unaltered.

        The content is rebuilt and hashed again, and the installation's signature it
        carries is checked: an edited field (a dropped red flag, a lower step) or a
        suggestion this installation did not make (a ``suggestion_id`` computed offline)
        is refused with a :class:`~opsporing.errors.DataError`. Nothing is signed here.

        Examples
        --------
        >>> import pandas as pd
        >>> from opsporing.instruments import get_instrument
        >>> from opsporing.scoring import score_batch
        >>> scores = score_batch(get_instrument("opsporing.skole.trivsel"),
        ...                      pd.DataFrame({"saf_disclosure": [1]}))
        >>> s = red_flag_suggestion(scores.iloc[0], subject="S1")
        >>> Suggestion.from_json(s.to_json()) == s
        True
        >>> edited = {**s.to_dict(), "red_flags": []}
        >>> Suggestion.from_dict(edited)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        opsporing.errors.DataError: suggestion.suggestion_id = '...': expected the hash of ...
        """
        return _from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> Suggestion:
        """Read a suggestion from one line of :meth:`to_json` (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            raise DataError(
                str(Problem("suggestion", type(exc).__name__, "one JSON object (to_json)"))
            ) from None
        return _from_dict(data)


def _text(t: Text | None) -> dict[str, str] | None:
    return None if t is None else {"da": t.da, "en": t.en}


def _content(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a suggestion as plain JSON values (without its id)."""
    info = fields["step_info"]
    return {
        "subject": fields["subject"],
        "kind": fields["kind"],
        "step": fields["step"],
        "step_label": _text(info.label) if info is not None else None,
        "who_acts": _text(info.who_acts) if info is not None else None,
        "legal_basis": _text(info.legal_basis) if info is not None else None,
        "probabilities": (
            [round(p, 6) for p in fields["probabilities"]]
            if fields["probabilities"] is not None
            else None
        ),
        "p_needs_support": (
            round(fields["p_needs_support"], 6) if fields["p_needs_support"] is not None else None
        ),
        "interval": list(fields["interval"]) if fields["interval"] is not None else None,
        "abstain_reason": _text(fields["abstain_reason"]),
        "red_flags": list(fields["red_flags"]),
        "duty_to_notify": _text(fields["duty_to_notify"]),
        "reasons": [
            {
                "group": r.group,
                "label": _text(r.label),
                "contribution": round(r.contribution, 6),
                "items": list(r.items),
            }
            for r in fields["reasons"]
        ],
        "protective_factors": list(fields["protective_factors"]),
        "explanation": _text(fields["explanation"]),
        "model_id": fields["model_id"],
        "expected_costs": (
            [round(c, 6) for c in fields["expected_costs"]]
            if fields.get("expected_costs") is not None
            else None
        ),
        "rule": _text(fields.get("rule")),
        "note": _text(fields.get("note")),
        "what_would_change": [
            {
                "domain": w.domain,
                "label": _text(w.label),
                "score_from": round(w.score_from, 6),
                "score_to": round(w.score_to, 6),
                "fraction": round(w.fraction, 6),
                "to_step": w.to_step,
            }
            for w in fields.get("what_would_change", ())
        ],
        "abstain_codes": list(fields.get("abstain_codes", ())),
        "policy_version": fields.get("policy_version"),
    }


def _text_from(value: Any, field: str) -> Text | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("da", "en")):
        raise DataError(str(Problem(f"suggestion.{field}", value, "{'da': text, 'en': text}")))
    return Text(value["da"], value["en"])


def _from_dict(data: Any) -> Suggestion:
    """Rebuild a suggestion from its dict, and check that its id is its content's hash."""
    if not isinstance(data, dict):
        raise DataError(str(Problem("suggestion", type(data).__name__, "a dict from to_dict")))
    try:
        voc = load_vocabulary()
        step = data["step"]
        fields: dict[str, Any] = {
            "subject": data["subject"],
            "kind": data["kind"],
            "step": step,
            "step_info": voc.step(int(step)) if step is not None else None,
            "probabilities": (
                tuple(float(p) for p in data["probabilities"])
                if data["probabilities"] is not None
                else None
            ),
            "p_needs_support": data["p_needs_support"],
            "interval": tuple(data["interval"]) if data["interval"] is not None else None,
            "abstain_reason": _text_from(data["abstain_reason"], "abstain_reason"),
            "red_flags": tuple(data["red_flags"]),
            "duty_to_notify": _text_from(data["duty_to_notify"], "duty_to_notify"),
            "reasons": tuple(
                Reason(
                    r["group"],
                    _text_from(r["label"], "reasons.label") or Text("", ""),
                    float(r["contribution"]),
                    tuple(r["items"]),
                )
                for r in data["reasons"]
            ),
            "protective_factors": tuple(data["protective_factors"]),
            "explanation": _text_from(data["explanation"], "explanation"),
            "model_id": data["model_id"],
            "expected_costs": (
                tuple(float(c) for c in data["expected_costs"])
                if data.get("expected_costs") is not None
                else None
            ),
            "rule": _text_from(data.get("rule"), "rule"),
            "note": _text_from(data.get("note"), "note"),
            "what_would_change": tuple(
                WhatIf(
                    w["domain"],
                    _text_from(w["label"], "what_would_change.label") or Text("", ""),
                    float(w["score_from"]),
                    float(w["score_to"]),
                    float(w["fraction"]),
                    int(w["to_step"]),
                )
                for w in data.get("what_would_change", [])
            ),
            "abstain_codes": tuple(data.get("abstain_codes", [])),
            "policy_version": data.get("policy_version"),
        }
        made = _make(**fields)  # hashing rounds the numbers: a wrong type fails here too
        # Inside the try: a wrong-typed field (p_needs_support="x") fails here, typed.
        payload = json.dumps(_content(fields), sort_keys=True, ensure_ascii=False)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(
            str(Problem("suggestion", f"{type(exc).__name__}: {exc}", "the fields of to_dict"))
        ) from None
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    if digest != data.get("suggestion_id"):
        raise DataError(
            str(
                Problem(
                    "suggestion.suggestion_id",
                    data.get("suggestion_id"),
                    "the hash of the suggestion's content (the suggestion was altered)",
                )
            )
        )
    from ._signing import _ATTRIBUTE, suggestion_is_authentic

    # Never signed here: the signature must come with the data and verify, or the
    # suggestion was not made by this installation (a forged or foreign one).
    made = Suggestion(suggestion_id=digest, **fields)
    object.__setattr__(made, _ATTRIBUTE, data.get("signature"))
    if not suggestion_is_authentic(made):
        raise DataError(
            str(
                Problem(
                    "suggestion.signature",
                    data.get("signature"),
                    "the signature of this installation (the suggestion was not made here)",
                )
            )
        )
    return made


def _make(**fields: Any) -> Suggestion:
    payload = json.dumps(_content(fields), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    from ._signing import sign_suggestion  # only suggestions made here are signed

    return sign_suggestion(Suggestion(suggestion_id=digest, **fields))


def _concepts(row: pd.Series, prefix: str, which: str) -> tuple[str, ...]:
    voc = load_vocabulary()
    out = []
    for col, value in row.items():
        if isinstance(col, str) and col.startswith(prefix) and _true(value):
            code = str(col).removeprefix(prefix)
            concept = voc.concepts.get(code)
            if concept is None:
                continue
            if (which == "red" and concept.red_flag) or (
                which == "protective" and concept.is_protective
            ):
                out.append(code)
    return tuple(out)


def _true(value: Any) -> bool:
    """True, or 1 (a column of True and NaN reads back as 1.0): as ``isin([True])`` does."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return isinstance(value, int | float | np.integer | np.floating) and bool(value == 1)


def red_flag_suggestion(
    row: pd.Series, subject: str | None = None, *, also: tuple[pd.Series, ...] = ()
) -> Suggestion:
    """The suggestion for a red-flag screening: follow the duty to notify now.

    The model is bypassed: no step, no probabilities. ``also``: the rows of the other
    informants' forms of the same round (parents, the child itself), whose red flags
    are named too.
    """
    voc = load_vocabulary()
    flags = tuple(dict.fromkeys(c for r in (row, *also) for c in _concepts(r, "concept.", "red")))
    return _modelless(
        subject,
        "notify",
        red_flags=flags,
        duty_to_notify=voc.duty_to_notify,
        protective_factors=_concepts(row, "concept.", "protective"),
    )


def _modelless(subject: str | None, kind: SuggestionKind, **fields: Any) -> Suggestion:
    """A suggestion the model had no part in: no step, no probabilities, no reasons."""
    base: dict[str, Any] = {
        "step": None,
        "step_info": None,
        "probabilities": None,
        "p_needs_support": None,
        "interval": None,
        "abstain_reason": None,
        "red_flags": (),
        "duty_to_notify": None,
        "reasons": (),
        "protective_factors": (),
        "explanation": None,
        "model_id": None,
    }
    return _make(subject=subject, kind=kind, **{**base, **fields})


#: What a screening without a model suggestion says.
UNAVAILABLE_TEXT = Text(
    "Intet forslag: ingen model er tilgængelig. Beslut ud fra skemaet og drøft barnet i teamet.",
    "No suggestion: no model is available. Decide from the form and discuss the child in the team.",
)


def unavailable_suggestion(subject: str | None = None, *, failed: bool = False) -> Suggestion:
    """The suggestion of a screening for which no model suggestion can be made.

    For an application running without a model (none installed, or one that could not
    be used for this form): ``kind="unavailable"``, no step, no probabilities. A decision
    recorded on it always needs the professional's reason, like an abstention, and the
    municipality's steps stay the municipality's: the protocol of
    :meth:`~opsporing.decision.Decision.record` applies unchanged. A red flag never needs a
    model: use :func:`red_flag_suggestion` for those.

    Examples
    --------
    >>> s = unavailable_suggestion("S1")
    >>> s.kind, s.step, s.probabilities
    ('unavailable', None, None)
    """
    return _modelless(
        subject, "unavailable", abstain_codes=("model_failed",) if failed else ("no_model",)
    )


def suggest_batch(
    model: Any,
    scores: pd.DataFrame,
    earlier: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    *,
    informants: Mapping[str, pd.DataFrame | None] | None = None,
    id_column: str | None = None,
    explainer: Explainer | None = None,
    policy: SuggestionPolicy | str | None = None,
    top_up: int = 3,
    top_down: int = 2,
) -> list[Suggestion]:
    """Suggestions for every screening in a score table (one per row, same order).

    The only source of a suggested step (see the module docstring for the rule); the
    model card, the CLI, the web form and the demo all count what this returns.

    Parameters
    ----------
    model : StepSuggester
        A fitted model, e.g. ``opsporing.model.load_model()``.
    scores, earlier, informants, id_column
        As for :func:`opsporing.model.build_features`: the educator's form (one row per
        child), earlier educator screenings (one table or a list, oldest first) and the
        other voices of the same round (``{"parent": ..., "child": ...}``). A red flag on
        any form of the round routes the child to the duty to notify.
    explainer : Explainer, optional
        Reuse one across calls; created from ``model`` when not given.
    policy : SuggestionPolicy or path, optional
        A municipality's own suggestion policy; by default the model's (the shipped
        ``policy.yaml`` unless the model was given another).
    top_up, top_down : int
        How many reasons up and down a suggestion names.

    Returns
    -------
    list of Suggestion

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.scoring import score_batch
    >>> from opsporing.model import load_model
    >>> school = get_instrument("opsporing.skole.trivsel")
    >>> forms = pd.DataFrame({"form_id": ["A", "B"], "age_years": [9, 10],
    ...                       "saf_disclosure": [1, 0]})
    >>> out = suggest_batch(load_model(), score_batch(school, forms, keep=["form_id", "age_years"]),
    ...                     id_column="form_id")
    >>> [(s.subject, s.kind) for s in out]  # B: most questions unanswered
    [('A', 'notify'), ('B', 'abstain')]
    """
    try:
        X = build_features(scores, earlier, informants=informants, id_column=id_column)
        table = scores.set_index(id_column) if id_column is not None else scores
        flags = _red_rows(table, "scores")
        voices = _informant_rows(informants, id_column)
    except OpsporingError as exc:
        # The duty to notify never waits: one row the model cannot read (or a bad earlier
        # or informant table, or an odd red_flag column on any of them) refuses the call,
        # but its message opens with every red flag in it, on every form of the round.
        raise exc.with_red_flags(_red_flags_in(scores, id_column, informants)) from None
    red = flags | X.index.isin(list(voices))
    model_rows = np.flatnonzero(~red)
    voc = load_vocabulary()

    out: list[Suggestion | None] = [None] * len(X)
    for r in np.flatnonzero(red):
        label = X.index[int(r)]
        out[r] = red_flag_suggestion(
            table.iloc[r], subject=_subject(label), also=voices.get(label, ())
        )
    if len(model_rows):
        # Only now is the model touched: red-flag screenings never reach it.
        rules = resolve_policy(policy if policy is not None else getattr(model, "policy", None))
        explainer = explainer if explainer is not None else Explainer(model)
        model_id = getattr(model, "artifact_sha256_", None)
        # A model fitted on fewer features (before issue 13) reads the ones it knows.
        Xm = model_view(X.iloc[model_rows], getattr(model, "feature_names_in_", None))
        summary = model.predict_summary(Xm, policy=rules)
        # The step is the policy's choice among the model's own steps (predict's, to the
        # letter); probabilities and costs are then laid out over the staircase's 0-6.
        proba = summary["proba"]
        steps = np.asarray(summary["staircase_step"], dtype=np.int64)
        lo, hi = summary["staircase_low"], summary["staircase_high"]
        full = np.zeros((len(Xm), len(voc.steps)))
        full[:, summary["staircase_steps"]] = proba
        costs = rules.expected_costs(full)
        codes = summary["abstain_reasons"]
        abstain = np.array([bool(c) for c in codes], dtype=bool)
        matrix = Xm.to_numpy(dtype=np.float64)
        shap_values = _shap(explainer, matrix)
        instruments = table["instrument"].iloc[model_rows].astype(str).tolist()
        explanations = explainer.from_values(
            matrix, shap_values, keep=max(top_up, top_down), instruments=instruments
        )
        ranges = domain_ranges(instruments)
        what_if = what_would_change(
            model,
            Xm,
            np.where(abstain, 0, steps),
            ranges,
            policy=rules,
            domains=_pushing_domains(shap_values, list(Xm.columns)),
        )
        protective_cols = [
            (c, str(c).removeprefix("concept."))
            for c in table.columns
            if str(c).startswith("concept.protective.")
        ]
        # Only a real True: NaN (an instrument without the item) must not count as present.
        protective_values = table[[c for c, _ in protective_cols]].isin([True]).to_numpy()
        from_step = voc.municipal_assessment_from_step
        for i, r in enumerate(model_rows):
            protective = tuple(
                code
                for (_, code), v in zip(protective_cols, protective_values[r], strict=True)
                if v
            )
            subject = _subject(X.index[int(r)])
            if abstain[i]:
                out[r] = _make(
                    subject=subject,
                    kind="abstain",
                    step=None,
                    step_info=None,
                    probabilities=None,
                    p_needs_support=None,
                    interval=None,
                    abstain_reason=_abstain_text(codes[i], matrix[i], Xm.columns, rules),
                    red_flags=(),
                    duty_to_notify=None,
                    reasons=(),
                    protective_factors=protective,
                    explanation=None,
                    model_id=model_id,
                    abstain_codes=tuple(codes[i]),
                    policy_version=rules.version,
                )
                continue
            e = explanations[i]
            up, down = e.up(top_up), e.down(top_down)
            step = int(steps[i])
            p_need = float(1.0 - full[i, 0])
            interval = (int(lo[i]), int(hi[i]))
            note = (
                Text(
                    _HIGHER_TEXT.da.format(from_step=from_step, hi=interval[1]),
                    _HIGHER_TEXT.en.format(from_step=from_step, hi=interval[1]),
                )
                if step < from_step <= interval[1]
                else None
            )
            out[r] = _make(
                subject=subject,
                kind="step",
                step=step,
                step_info=voc.step(step),
                probabilities=tuple(float(p) for p in full[i]),
                p_needs_support=p_need,
                interval=interval,
                abstain_reason=None,
                red_flags=(),
                duty_to_notify=None,
                reasons=up + down,
                protective_factors=protective,
                explanation=Text(render_sentence(up, down, "da"), render_sentence(up, down, "en")),
                model_id=model_id,
                expected_costs=tuple(float(c) for c in costs[i]),
                rule=Text(
                    rules.rule_sentence(costs[i], step, p_need, "da"),
                    rules.rule_sentence(costs[i], step, p_need, "en"),
                ),
                note=note,
                what_would_change=what_if[i],
                policy_version=rules.version,
            )
    return [s for s in out if s is not None]


def _red_concept_columns(table: pd.DataFrame) -> list[Any]:
    """The columns of ``table`` that evidence a red-flag concept of the vocabulary."""
    voc = load_vocabulary()
    out = []
    for col in table.columns:
        if isinstance(col, str) and col.startswith("concept."):
            concept = voc.concepts.get(col.removeprefix("concept."))
            if concept is not None and concept.red_flag:
                out.append(col)
    return out


def _red_rows(table: pd.DataFrame, field: str) -> np.ndarray:
    """Which rows raise a red flag: the ``red_flag`` column *or* any red-flag concept.

    The concepts are read too: a table whose ``red_flag`` says False next to a disclosure
    (edited, or joined from elsewhere) still routes the child to the duty to notify.
    """
    red = _red_flag_column(table, field).to_numpy(dtype=bool)
    for col in _red_concept_columns(table):
        red = red | table[col].isin([True]).to_numpy(dtype=bool)
    return np.asarray(red, dtype=bool)


def _red_flag_column(table: pd.DataFrame, field: str) -> pd.Series:
    """The ``red_flag`` column, refused unless it holds True or False in every row."""
    if "red_flag" not in table.columns:
        raise DataError(f"{field}: no red_flag column: expected the output of score_batch")
    flags = table["red_flag"]
    if isinstance(flags, pd.DataFrame) or not all(
        isinstance(v, bool | np.bool_) for v in flags.tolist()
    ):
        # Never guessed: "no" or NaN would be True, and a red flag must not hang on a guess.
        raise DataError(
            str(
                Problem(
                    f"{field}.red_flag",
                    next(
                        (
                            v
                            for v in np.ravel(flags.to_numpy(dtype=object))
                            if not isinstance(v, bool | np.bool_)
                        ),
                        "(duplicated column)",
                    ),
                    "True or False in every row (the output of score_batch)",
                )
            )
        )
    return flags


def _informant_rows(
    informants: Mapping[str, pd.DataFrame | None] | None, id_column: str | None
) -> dict[Any, tuple[pd.Series, ...]]:
    """The rows of the other informants' forms that raise a red flag, by child id.

    The tables were checked by ``build_features`` (one form per child and informant).
    """
    out: dict[Any, tuple[pd.Series, ...]] = {}
    for who, table in (informants or {}).items():
        if table is None:
            continue
        indexed = table.set_index(id_column) if id_column is not None else table
        flags = _red_rows(indexed, f"informants[{who}]")
        for r in np.flatnonzero(flags).tolist():
            label = indexed.index[r]
            out[label] = (*out.get(label, ()), indexed.iloc[r])
    return out


#: How many domains "what would change it" tries per suggestion: those pushing it up most.
_WHAT_IF_DOMAINS = 3


def _pushing_domains(shap_values: np.ndarray, names: list[str]) -> list[tuple[str, ...]]:
    """Per row, the domains whose scores push the suggestion up most (by SHAP value)."""
    cols = [names.index(f"score.{d}") for d in DOMAINS if f"score.{d}" in names]
    doms = [d for d in DOMAINS if f"score.{d}" in names]
    values = shap_values[:, cols]
    order = np.argsort(-values, axis=1, kind="stable")[:, :_WHAT_IF_DOMAINS]
    return [tuple(doms[j] for j in row if values[i, j] > 0) for i, row in enumerate(order)]


def _red_flags_in(
    scores: Any, id_column: str | None, informants: Any = None
) -> dict[Any, tuple[str, ...]]:
    """Best effort: the red flags of score tables that cannot be used as a whole.

    The educator's table and, when given as a mapping, every informant's table of the
    round: a disclosure on the child's own form is named even when another table is bad.
    """
    out: dict[Any, tuple[str, ...]] = {}
    tables = [scores]
    # Whatever shape the other voices came in (a mapping, or wrongly a list): look in them.
    if isinstance(informants, Mapping):
        tables += list(informants.values())
    elif isinstance(informants, Sequence) and not isinstance(informants, str | bytes):
        tables += list(informants)
    for table in tables:
        try:
            if not isinstance(table, pd.DataFrame):
                continue
            # The red_flag column may be missing or odd here: the concepts count on their own.
            for label, row in table.iterrows():
                found = _concepts(row, "concept.", "red")
                if found or _true(row.get("red_flag")):
                    own = id_column is not None and id_column in row
                    key = _subject(row[str(id_column)] if own else label)
                    found = found or ("red_flag",)
                    out[key] = tuple(dict.fromkeys((*out.get(key, ()), *found)))
        except Exception:  # never hide the original error behind another
            continue
    return out


def _abstain_text(
    codes: tuple[str, ...], row: np.ndarray, columns: Any, rules: SuggestionPolicy
) -> Text:
    """The data reasons to abstain, as sentences in Danish and English."""
    names = [str(c) for c in columns]
    da: list[str] = []
    en: list[str] = []
    groups = feature_groups(names)
    for code in codes:
        kind, _, what = code.partition(":")
        if kind == "missing":
            share = row[names.index("missing_fraction")] if "missing_fraction" in names else 1.0
            values = {
                "da": (f"{100 * share:.0f} %", f"{100 * rules.abstain.max_missing:.0f} %"),
                "en": (f"{100 * share:.0f}%", f"{100 * rules.abstain.max_missing:.0f}%"),
            }
            da.append(
                _REASON_TEXTS["missing"].da.format(share=values["da"][0], limit=values["da"][1])
            )
            en.append(
                _REASON_TEXTS["missing"].en.format(share=values["en"][0], limit=values["en"][1])
            )
        elif kind == "domain" and what in DOMAINS:
            label = group_label(f"domain:{what}")
            da.append(_REASON_TEXTS["domain"].da.format(label=_cap(label.da)))
            en.append(_REASON_TEXTS["domain"].en.format(label=_cap(label.en)))
        elif kind in ("range", "input"):
            label = group_label(groups.get(what, "setting")) if what in groups else Text(what, what)
            da.append(_REASON_TEXTS[kind].da.format(label=_cap(label.da)))
            en.append(_REASON_TEXTS[kind].en.format(label=_cap(label.en)))
    return Text(" ".join(dict.fromkeys(da)), " ".join(dict.fromkeys(en)))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _shap(explainer: Explainer, matrix: np.ndarray) -> np.ndarray:
    values = np.asarray(explainer.tree.shap_values(matrix), dtype=np.float64)
    return values[..., -1] if values.ndim == 3 else values


def _subject(label: Any) -> str | None:
    if label is None:
        return None
    return str(label.item() if isinstance(label, np.generic) else label)


def suggest(
    model: Any,
    scores: pd.DataFrame,
    earlier: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    *,
    informants: Mapping[str, pd.DataFrame | None] | None = None,
    id_column: str | None = None,
    explainer: Explainer | None = None,
    policy: SuggestionPolicy | str | None = None,
    top_up: int = 3,
    top_down: int = 2,
) -> Suggestion:
    """The suggestion for one screening (a score table with exactly one row).

    See :func:`suggest_batch` for the parameters and the module docstring for the rule.
    """
    if not isinstance(scores, pd.DataFrame) or len(scores) != 1:
        got = len(scores) if isinstance(scores, pd.DataFrame) else type(scores).__name__
        raise DataError(
            f"scores: {got} rows: expected a score table with exactly one row "
            "(use suggest_batch for many)"
        )
    return suggest_batch(
        model,
        scores,
        earlier,
        informants=informants,
        id_column=id_column,
        explainer=explainer,
        policy=policy,
        top_up=top_up,
        top_down=top_down,
    )[0]
