"""The suggestion panel and the recording of a decision: the web form's only link to a model.

Everything the web form knows about suggestions and decisions goes through two functions:

* :func:`suggestion_panel` builds what the result page shows in the suggestion panel, from
  :func:`opsporing.decision.suggest` (or :func:`~opsporing.decision.red_flag_suggestion`,
  which needs no model), with the reasons and the plot of :mod:`opsporing.explain`;
* :func:`record_decision` makes the decision with :meth:`opsporing.decision.Decision.record`,
  the protocol's only way to a decision, or raises :class:`~opsporing.errors.DecisionError`.

Without a model (no model file, or ``model=None``) the panel says "no model available"
and stores exactly that (``{"available": false, ...}``); the decision is still recorded by
:meth:`~opsporing.decision.Decision.record`, on an ``unavailable`` suggestion
(:func:`opsporing.decision.unavailable_suggestion`), so the one protocol applies: the
professional's reason is required, and only the municipality chooses its steps. This
module holds no rule of its own. A red flag never needs the model: its suggestion (follow
the duty to notify) always comes from :func:`opsporing.decision.red_flag_suggestion`.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import io
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError, OpsporingError
from ..instruments import Instrument
from ..scoring import FormScore
from ..vocabulary import Language
from ._i18n import UI

__all__ = [
    "Suggester",
    "SuggestionPanel",
    "decision_api_available",
    "load_suggester",
    "record_decision",
    "role_choices",
    "suggestion_panel",
]

log = logging.getLogger("opsporing.web")

#: Where ``model="auto"`` looks for the trained model (relative to the working folder),
#: the default of :func:`opsporing.model.load_model`.


@dataclass(frozen=True)
class SuggestionPanel:
    """What the suggestion panel of the result page shows, and what is stored of it.

    Attributes
    ----------
    available : bool
        ``True`` when :mod:`opsporing.decision` made a suggestion (by the model, or the
        red-flag rule); ``False`` shows "no model available".
    kind : {"step", "abstain", "notify"} or None
        The suggestion's kind; ``None`` without a suggestion.
    suggested_step : int or None
        The suggested staircase step; ``None`` without one (no model, abstention, red flag).
    headline : str
        One line for the panel's heading.
    details : tuple of str
        Further lines (who acts, uncertainty, why the model abstained).
    probabilities : tuple of (int, float)
        Probability of each staircase step.
    explanation : str or None
        The reasons as one plain-language sentence.
    reasons : tuple of (str, str)
        ``("up" or "down", label)`` for each finding that moves the suggestion.
    what_would_change : tuple of str
        The smallest changes of one domain score that would move the suggestion down.
    plot_data_uri : str or None
        The explanation plot as a ``data:image/png;base64,...`` URI.
    record : dict
        The JSON-serialisable suggestion stored with the decision.
    source : object or None
        The :class:`opsporing.decision.Suggestion`, when there is one.
    """

    available: bool
    kind: str | None
    suggested_step: int | None
    headline: str
    details: tuple[str, ...] = ()
    probabilities: tuple[tuple[int, float], ...] = ()
    explanation: str | None = None
    reasons: tuple[tuple[str, str], ...] = ()
    what_would_change: tuple[str, ...] = ()
    plot_data_uri: str | None = None
    record: Mapping[str, Any] = field(default_factory=dict)
    source: object | None = None

    @property
    def abstained(self) -> bool:
        return self.kind == "abstain"

    @property
    def suggestion_id(self) -> str:
        """The suggestion's content hash ("" without a suggestion)."""
        return str(self.record.get("suggestion_id") or "")

    @property
    def reason_always_required(self) -> bool:
        """With no step and no notification to follow, every decision needs its reason."""
        return self.kind is None or self.kind == "abstain"


class Suggester:
    """The model (or none) and its explainer, loaded once per application.

    Calls are serialised with a lock: the model and SHAP's tree explainer are shared by the
    server's worker threads. The suggestions and plots of the last :attr:`CACHE_SIZE` forms
    are kept (a suggestion depends only on the model and the form), so the decision on a
    form that was just shown, or a page shown again with errors, does not run the model twice.
    """

    #: How many forms' suggestions and plots are kept.
    CACHE_SIZE = 256

    def __init__(self, model: Any | None) -> None:
        self.model = model
        self.explainer: Any | None = None
        if model is not None:
            from ..explain import Explainer

            self.explainer = Explainer(model)
        self.lock = threading.Lock()
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()

    @property
    def has_model(self) -> bool:
        return self.model is not None

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``, or what it returned before for ``key``; one call at a time."""
        with self.lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            value = compute()
            self._cache[key] = value
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
            return value


def decision_api_available() -> bool:
    """Whether :mod:`opsporing.decision` with its ``suggest`` and ``Decision`` is installed."""
    if importlib.util.find_spec("opsporing.decision") is None:
        return False
    module = importlib.import_module("opsporing.decision")
    return hasattr(module, "suggest") and hasattr(module, "Decision")


def load_suggester(model: Any = "auto") -> Suggester:
    """The model the web form suggests with.

    Parameters
    ----------
    model : "auto", str, Path, fitted model or None
        ``"auto"``: the shipped model (``opsporing.model._artifact.default_model_path``,
        found from a checkout or an installed wheel) when it exists and passes its
        manifest check, otherwise no model (logged). A path: that model file, checked by
        :func:`opsporing.model.load_model` (a failing check raises). A fitted
        :class:`~opsporing.model.StepSuggester`: used as is. ``None``: no model.

    Raises
    ------
    ModelIntegrityError
        A model file given by path failed its manifest check.
    """
    if model is None or not decision_api_available():
        return Suggester(None)
    if isinstance(model, str | Path):
        from ..model import load_model
        from ..model._artifact import default_model_path

        if isinstance(model, str) and model == "auto":
            try:
                # The shipped model: the checkout's models/ first, then the installed wheel's.
                path = default_model_path()
            except ModelIntegrityError:
                log.info("no shipped model found: suggestions off")
                return Suggester(None)
            try:
                return Suggester(load_model(path))
            except ModelIntegrityError as exc:
                log.warning("model not loaded, suggestions off: %s", exc)
                return Suggester(None)
        return Suggester(load_model(model))
    return Suggester(model)


def role_choices(lang: Language) -> list[tuple[str, str]]:
    """The professional roles a decision can be recorded under: ``(code, label)``.

    From the vocabulary's data (``roles`` in vocabulary.yaml), like the protocol's.
    """
    from ..decision import ROLES

    return [(code, text.get(lang)) for code, text in ROLES.items()]


def _score_table(
    instrument: Instrument, answers: Mapping[str, int | None], age_years: float | None
) -> Any:
    import pandas as pd

    from ..scoring import score_batch

    row: dict[str, float] = {
        item: math.nan if value is None else float(value) for item, value in answers.items()
    }
    row["age_years"] = math.nan if age_years is None else float(age_years)
    return score_batch(instrument, pd.DataFrame([row]), keep=["age_years"])


def _png_data_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def suggestion_panel(
    suggester: Suggester,
    instrument: Instrument,
    answers: Mapping[str, int | None],
    score: FormScore,
    *,
    age_years: float | None,
    lang: Language,
    plot: bool = True,
) -> SuggestionPanel:
    """The suggestion panel for one scored form.

    Parameters
    ----------
    suggester : Suggester
        From :func:`load_suggester`.
    instrument : Instrument
    answers : mapping of item id to answer
        Every item of the instrument, ``None`` when not answered.
    score : FormScore
        The form's scores (from :func:`opsporing.scoring.score_form`).
    age_years : float or None
    lang : {"da", "en"}
    plot : bool
        Draw the explanation plot (only the result page needs it).

    Returns
    -------
    SuggestionPanel
    """
    if not decision_api_available():
        return _no_model_panel(score, lang)
    from ..decision import red_flag_suggestion, suggest

    if score.red_flag:
        table = _score_table(instrument, answers, age_years)
        return _panel(red_flag_suggestion(table.iloc[0]), lang)
    if suggester.model is None:
        return _no_model_panel(score, lang)
    from ..explain import plot_waterfall
    from ..model import build_features

    table = _score_table(instrument, answers, age_years)
    key = (instrument.key, tuple(sorted(answers.items())), age_years)
    explainer = suggester.explainer
    try:
        suggestion = suggester.cached(
            ("suggestion", *key),
            lambda: suggest(suggester.model, table, explainer=explainer),
        )
        uri = None
        if plot and explainer is not None and suggestion.kind == "step":
            uri = suggester.cached(
                ("plot", lang, *key),
                lambda: _png_data_uri(
                    plot_waterfall(
                        explainer.explain(build_features(table), [instrument.key])[0], lang
                    )
                ),
            )
    except OpsporingError as exc:
        # A model that does not fit this installation (e.g. other features) suggests nothing;
        # the panel says so and the decision is recorded as without a model.
        log.warning("the model made no suggestion: %s", type(exc).__name__)
        return _no_model_panel(score, lang, failed=True)
    return _panel(suggestion, lang, uri)


def _percent(p: float, lang: Language) -> str:
    """``33 %`` in Danish, ``33%`` in English (whole percents: the model is not more exact)."""
    return f"{100 * p:.0f} %" if lang == "da" else f"{100 * p:.0f}%"


def _panel(s: Any, lang: Language, plot_data_uri: str | None = None) -> SuggestionPanel:
    """A panel from an :class:`opsporing.decision.Suggestion`.

    An abstention shows why and nothing else: no probabilities, no reasons, no plot
    (there is no step to explain). A step shows the rule in one sentence with its
    numbers, the uncertainty, and what would change it.
    """
    t = UI(lang)
    details: list[str] = []
    if s.kind == "notify":
        headline = t["notify_headline"]
        details.append(t["notify_detail"])
    elif s.kind == "abstain":
        from ..decision import ABSTAIN_TEXT

        headline = ABSTAIN_TEXT.get(lang)
        if s.abstain_reason is not None:
            details.append(s.abstain_reason.get(lang))
        return SuggestionPanel(
            available=True,
            kind="abstain",
            suggested_step=None,
            headline=headline,
            details=tuple(details),
            record={"available": True, **s.to_dict()},
            source=s,
        )
    else:
        headline = f"{t['suggested_step']}: {s.step} – {s.step_info.label.get(lang)}"
        details.append(f"{t['who_acts']}: {s.step_info.who_acts.get(lang)}")
        if s.requires_municipal_assessment:
            details.append(t["municipal_note"])
        if s.rule is not None:
            details.append(s.rule.get(lang))
    if s.p_needs_support is not None:
        details.append(f"{t['p_needs']}: {_percent(s.p_needs_support, lang)}")
    if s.interval is not None and s.kind != "notify":
        details.append(t["interval"].format(lo=s.interval[0], hi=s.interval[1]))
    if s.note is not None:
        details.append(s.note.get(lang))
    probabilities = (
        tuple(enumerate(float(p) for p in s.probabilities)) if s.probabilities is not None else ()
    )
    return SuggestionPanel(
        available=True,
        kind=str(s.kind),
        suggested_step=s.step,
        headline=headline,
        details=tuple(details),
        probabilities=probabilities,
        explanation=s.explanation.get(lang) if s.explanation is not None else None,
        reasons=tuple((r.direction, r.label.get(lang)) for r in s.reasons),
        what_would_change=tuple(w.sentence(lang) for w in s.what_would_change),
        plot_data_uri=plot_data_uri,
        record={"available": True, **s.to_dict()},
        source=s,
    )


def record_decision(
    panel: SuggestionPanel,
    score: FormScore,
    *,
    role: str,
    professional_id: str,
    chosen_step: int,
    reason: str | None,
    notify: bool,
    clock: Callable[[], datetime],
) -> dict[str, Any]:
    """The decision record, made by the decision protocol (JSON-serialisable).

    With a suggestion this is :meth:`opsporing.decision.Decision.record` and nothing else.

    Raises
    ------
    DecisionError
        Naming the field (``"reason = ..."``, ``"chosen_step = ..."``, ...) that breaks the
        protocol: a missing reason when required, steps 3-6 chosen outside the
        municipality, an unknown role.
    """
    from ..decision import Decision

    # One protocol: a screening without a model suggestion carries an "unavailable"
    # suggestion, and Decision.record applies the same rules to it (a reason always, the
    # municipality's steps only for the municipality).
    source = panel.source
    if source is None:
        from ..decision import unavailable_suggestion

        source = unavailable_suggestion(failed=bool(panel.record.get("model_failed")))
    decision = Decision.record(
        source,  # type: ignore[arg-type]
        professional_role=role,
        professional_id=professional_id,
        chosen_step=chosen_step,
        reason=reason,
        notify=notify,
        clock=clock,
    )
    return decision.to_dict()


# --- no model available -------------------------------------------------------------------------
# The panel shows that there is no model and stores exactly that; it never produces a step, a
# probability or a reason.


def _no_model_panel(score: FormScore, lang: Language, *, failed: bool = False) -> SuggestionPanel:
    t = UI(lang)
    return SuggestionPanel(
        available=False,
        kind=None,
        suggested_step=None,
        headline=t["no_model"],
        details=(t["model_failed"],) if failed else (),
        record={
            "available": False,
            "model_failed": failed,
            "source": "no-model adapter (opsporing.web)",
            "kind": None,
            "step": None,
            "red_flags": list(score.red_flags),
        },
    )
