"""Suggestions: what the model and the red-flag rule propose, never what is decided.

A :class:`Suggestion` is frozen and has no method that decides, records or acts.
The only way from a suggestion to a decision is
:meth:`opsporing.decision.Decision.record`, by a named professional.

The rule, for each child
------------------------
1. **Red flag** (``red_flag`` in the score table: a red-flag concern such as a
   disclosure of violence or self-harm): the model is *not* run. The suggestion is
   ``kind="notify"``: follow the duty to notify (barnets lov § 133) now, with the
   vocabulary's ``duty_to_notify`` text. No step, no probabilities.
2. **Abstain** (:meth:`~opsporing.model.StepSuggester.abstain`: more than
   ``max_missing`` of the items missing, or a conformal interval spanning more than
   ``max_interval`` steps): ``kind="abstain"``, "insufficient information — discuss
   in the team". Probabilities and reasons are still shown, but no step.
3. Otherwise ``kind="step"``: the **lowest step k with P(step > k) < threshold**
   (0.5 by default: the lowest step the child more likely than not needs no more
   than), following the staircase's downward direction. The step's meaning, legal
   basis and who acts on it come from the vocabulary; from step 3 the municipality
   must make its own assessment (barnets lov §§ 18-20).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError, Problem
from ..explain import Explainer, Explanation, Reason, render_sentence
from ..model import build_features
from ..vocabulary import Language, Step, Text, load_vocabulary

SuggestionKind = Literal["step", "abstain", "notify"]

#: What an abstention says.
ABSTAIN_TEXT = Text(
    "Utilstrækkelig information — drøft barnet i teamet.",
    "Insufficient information — discuss the child in the team.",
)
_MISSING_TEXT = Text(
    "For mange ubesvarede spørgsmål i skemaet.", "Too many questions on the form are unanswered."
)
_UNCERTAIN_TEXT = Text(
    "Modellen er for usikker: forslaget spænder over trin {lo}-{hi}.",
    "The model is too uncertain: the suggestion spans steps {lo}-{hi}.",
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
    abstain_reason : Text or None
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
        if self.kind == "abstain":
            lines.append(ABSTAIN_TEXT.get(lang))
            if self.abstain_reason is not None:
                lines.append(self.abstain_reason.get(lang))
        elif self.step_info is not None:
            word = "Forslag: trin" if lang == "da" else "Suggestion: step"
            lines.append(f"{word} {self.step} – {self.step_info.label.get(lang)}.")
            lines.append(self.step_info.who_acts.get(lang))
            if self.requires_municipal_assessment:
                lines.append(
                    "Kræver kommunens egen vurdering (barnets lov §§ 18-20)."
                    if lang == "da"
                    else "Needs the municipality's own assessment (Children's Act §§ 18-20)."
                )
        if self.p_needs_support is not None:
            label = (
                "Sandsynlighed for behov ud over almene tilbud"
                if lang == "da"
                else "Probability of needing more than universal services"
            )
            lines.append(f"{label}: {self.p_needs_support:.0%}.")
        if self.explanation is not None:
            lines.append(self.explanation.get(lang))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (texts as ``{"da": ..., "en": ...}``)."""
        return {
            "suggestion_id": self.suggestion_id,
            **_content(self.__dict__),
        }


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
    }


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
    return isinstance(value, bool | np.bool_) and bool(value)


def red_flag_suggestion(row: pd.Series, subject: str | None = None) -> Suggestion:
    """The suggestion for a red-flag screening: follow the duty to notify now.

    The model is bypassed: no step, no probabilities.
    """
    voc = load_vocabulary()
    return _make(
        subject=subject,
        kind="notify",
        step=None,
        step_info=None,
        probabilities=None,
        p_needs_support=None,
        interval=None,
        abstain_reason=None,
        red_flags=_concepts(row, "concept.", "red"),
        duty_to_notify=voc.duty_to_notify,
        reasons=(),
        protective_factors=_concepts(row, "concept.", "protective"),
        explanation=None,
        model_id=None,
    )


def _reasons(explanation: Explanation, top_up: int, top_down: int) -> tuple[Reason, ...]:
    return explanation.up(top_up) + explanation.down(top_down)


def suggest_batch(
    model: Any,
    scores: pd.DataFrame,
    earlier: pd.DataFrame | None = None,
    *,
    id_column: str | None = None,
    explainer: Explainer | None = None,
    top_up: int = 3,
    top_down: int = 2,
) -> list[Suggestion]:
    """Suggestions for every screening in a score table (one per row, same order).

    Parameters
    ----------
    model : StepSuggester
        A fitted model, e.g. ``opsporing.model.load_model()``.
    scores, earlier, id_column
        As for :func:`opsporing.model.build_features`.
    explainer : Explainer, optional
        Reuse one across calls; created from ``model`` when not given.
    top_up, top_down : int
        How many reasons up and down a suggestion names.

    Returns
    -------
    list of Suggestion
    """
    X = build_features(scores, earlier, id_column=id_column)
    table = scores.set_index(id_column) if id_column is not None else scores
    if "red_flag" not in table.columns:
        raise DataError("scores: no red_flag column: expected the output of score_batch")
    flags = table["red_flag"]
    if isinstance(flags, pd.DataFrame) or not all(
        isinstance(v, bool | np.bool_) for v in flags.tolist()
    ):
        # Never guessed: "no" or NaN would be True, and a red flag must not hang on a guess.
        raise DataError(
            str(
                Problem(
                    "scores.red_flag",
                    next((v for v in np.ravel(flags.to_numpy(dtype=object))
                          if not isinstance(v, bool | np.bool_)), "(duplicated column)"),
                    "True or False in every row (the output of score_batch)",
                )
            )
        )
    red = flags.to_numpy(dtype=bool)
    model_rows = np.flatnonzero(~red)
    voc = load_vocabulary()

    out: list[Suggestion | None] = [None] * len(X)
    for r in np.flatnonzero(red):
        out[r] = red_flag_suggestion(table.iloc[r], subject=_subject(X.index[int(r)]))
    if len(model_rows):
        # Only now is the model touched: red-flag screenings never reach it.
        explainer = explainer if explainer is not None else Explainer(model)
        model_id = getattr(model, "artifact_sha256_", None)
        Xm = X.iloc[model_rows]
        summary = model.predict_summary(Xm)
        proba, cum, steps = summary["proba"], summary["cumulative"], summary["step"]
        lo, hi, abstain = summary["low"], summary["high"], summary["abstain"]
        missing = Xm["missing_fraction"].to_numpy(dtype=np.float64)
        too_many_missing = np.nan_to_num(missing, nan=1.0) > float(model.max_missing)
        matrix = Xm.to_numpy(dtype=np.float64)
        explanations = explainer.from_values(
            matrix, _shap(explainer, matrix), keep=max(top_up, top_down)
        )
        protective_cols = [
            (c, str(c).removeprefix("concept."))
            for c in table.columns
            if str(c).startswith("concept.protective.")
        ]
        # Only a real True: NaN (an instrument without the item) must not count as present.
        protective_values = table[[c for c, _ in protective_cols]].isin([True]).to_numpy()
        classes = [int(c) for c in model.classes_]
        for i, r in enumerate(model_rows):
            probs = dict(zip(classes, proba[i].tolist(), strict=True))
            e = explanations[i]
            up, down = e.up(top_up), e.down(top_down)
            if abstain[i]:
                kind: SuggestionKind = "abstain"
                reason = (
                    _MISSING_TEXT
                    if too_many_missing[i]
                    else Text(
                        _UNCERTAIN_TEXT.da.format(lo=lo[i], hi=hi[i]),
                        _UNCERTAIN_TEXT.en.format(lo=lo[i], hi=hi[i]),
                    )
                )
                step = None
            else:
                kind, reason, step = "step", None, int(steps[i])
            out[r] = _make(
                subject=_subject(X.index[int(r)]),
                kind=kind,
                step=step,
                step_info=voc.step(step) if step is not None else None,
                probabilities=tuple(float(probs.get(k, 0.0)) for k in range(len(voc.steps))),
                p_needs_support=float(cum[i, 0]),
                interval=(int(lo[i]), int(hi[i])),
                abstain_reason=reason,
                red_flags=(),
                duty_to_notify=None,
                reasons=up + down,
                protective_factors=tuple(
                    code for (_, code), v in zip(protective_cols, protective_values[r], strict=True)
                    if v
                ),
                explanation=Text(
                    render_sentence(up, down, "da"), render_sentence(up, down, "en")
                ),
                model_id=model_id,
            )
    return [s for s in out if s is not None]


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
    earlier: pd.DataFrame | None = None,
    *,
    id_column: str | None = None,
    explainer: Explainer | None = None,
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
        id_column=id_column,
        explainer=explainer,
        top_up=top_up,
        top_down=top_down,
    )[0]
