"""The jobs behind the command line's suggest, explain and evaluate verbs.

Each function takes data and returns data (tables, figures, paths) so the CLI stays a
thin layer of argument parsing and printing, and the jobs can be tested without it.
None of them records or acts on a decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import OpsporingError, Problem, ResponseValidationError
from .instruments import Instrument
from .scoring import read_forms, score_batch

__all__ = ["evaluate_report", "explanation_for", "read_forms", "suggestions_table"]


def _score(inst: Instrument, forms: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    keep = [c for c in (id_column, "age_years") if c is not None and c in forms.columns]
    if id_column is not None and id_column not in forms.columns:
        raise ResponseValidationError(
            [
                Problem(
                    id_column,
                    "(missing)",
                    "a column of the table (the form id)",
                    kind="missing_column",
                )
            ]
        )
    return score_batch(inst, forms, keep=keep)


def _score_round(
    inst: Instrument,
    forms: pd.DataFrame,
    before: Sequence[tuple[Instrument, pd.DataFrame]],
    informants: Mapping[str, tuple[Instrument, pd.DataFrame]] | None,
    id_column: str | None,
) -> tuple[pd.DataFrame, list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """Score every table of a round; refuse with every red flag of every form in it.

    Every table is scored before anything is refused: a bad parents' file must not hide
    the disclosure on the educator's or the child's own form (the notice names each,
    by form id). The first refusal is raised, with the problems of every bad table.
    """
    from .decision._suggestion import _red_flags_in

    parts = [("scores", inst, forms)]
    parts += [(f"earlier[{k}]", i, f) for k, (i, f) in enumerate(before)]
    parts += [(f"informants[{who}]", i, f) for who, (i, f) in (informants or {}).items()]
    scored: dict[str, pd.DataFrame] = {}
    refused: list[tuple[str, pd.DataFrame, OpsporingError]] = []
    for where, i, f in parts:
        try:
            scored[where] = _score(i, f, id_column)
        except OpsporingError as exc:
            refused.append((where, f, exc))
    voices = {
        w.removeprefix("informants[").removesuffix("]"): t
        for w, t in scored.items()
        if w.startswith("informants[")
    }
    if refused:
        flags: dict[Any, tuple[str, ...]] = {}
        # Earlier rounds are past: only the forms of this round count for the notice.
        round_tables = {w: t for w, t in scored.items() if not w.startswith("earlier[")}
        found = [_red_flags_in(round_tables.get("scores"), id_column, voices)]
        for where, f, error in refused:
            if where.startswith("earlier["):
                continue
            found.append(
                {_form_id(f, label, id_column): codes for label, codes in error.red_flags.items()}
            )
        for each in found:
            for label, codes in each.items():
                flags[label] = tuple(dict.fromkeys((*flags.get(label, ()), *codes)))
        first = refused[0][2]
        if len(refused) > 1 and all(e.problems for _, _, e in refused):
            first = ResponseValidationError(
                [replace(p, field=f"{w}: {p.field}") for w, _, e in refused for p in e.problems],
                headline="invalid forms in the round",
            )
        raise first.with_red_flags(flags) from None
    earlier_scores = [scored[f"earlier[{k}]"] for k in range(len(before))]
    return scored["scores"], earlier_scores, voices


def _form_id(forms: pd.DataFrame, label: Any, id_column: str | None) -> Any:
    """The form id of the row ``label`` of ``forms`` (the label itself without one)."""
    if id_column is None or id_column not in forms.columns or label not in forms.index:
        return label
    value = forms.loc[label, id_column]
    return value if not isinstance(value, pd.Series) else label


def suggestions_table(
    inst: Instrument,
    forms: pd.DataFrame,
    *,
    id_column: str | None = None,
    earlier: pd.DataFrame | Sequence[tuple[Instrument, pd.DataFrame]] | None = None,
    informants: Mapping[str, tuple[Instrument, pd.DataFrame]] | None = None,
    model: Any = None,
    policy: Any = None,
) -> tuple[pd.DataFrame, list[Any]]:
    """Score forms and suggest a step for each: one row per form, plus the Suggestions.

    The table has the form id, the kind (``step``, ``abstain`` or ``notify``), the step,
    P(step >= 1), the interval, red flags, the explanation, and what a professional reads
    (``message_da``/``message_en``: the step and who acts, or why the model abstained, or
    the duty to notify; the rule with its numbers; what would change it), the rule,
    the abstention's reason and the duty-to-notify text on their own, in Danish and
    English. ``policy`` is a municipality's own suggestion policy (a YAML path).

    ``earlier``: earlier screenings of the same ids, either forms of ``inst`` or a list
    of ``(instrument, forms)`` oldest first (a child who moved from daycare to school was
    screened with another form). ``informants``: the other voices of the same round,
    ``{"parent": (instrument, forms), "child": (instrument, forms)}``, matched by the id.
    """
    from .decision import suggest_batch
    from .model import load_model

    model = load_model() if model is None else model
    if isinstance(earlier, pd.DataFrame):
        before: list[tuple[Instrument, pd.DataFrame]] = [(inst, earlier)]
    else:
        before = list(earlier or [])
    scores, earlier_scores, voices = _score_round(inst, forms, before, informants, id_column)
    suggestions = suggest_batch(
        model,
        scores,
        earlier_scores or None,
        informants=voices or None,
        id_column=id_column,
        policy=policy,
    )
    ids = scores[id_column].tolist() if id_column is not None else list(scores.index)
    rows = []
    for form_id, s in zip(ids, suggestions, strict=True):
        rows.append(
            {
                "form_id": form_id,
                "kind": s.kind,
                "suggested_step": s.step,
                "p_needs_support": s.p_needs_support,
                "interval_low": s.interval[0] if s.interval else None,
                "interval_high": s.interval[1] if s.interval else None,
                "red_flags": ";".join(s.red_flags),
                "explanation_da": s.explanation.da if s.explanation else None,
                "explanation_en": s.explanation.en if s.explanation else None,
                "rule_da": s.rule.da if s.rule else None,
                "rule_en": s.rule.en if s.rule else None,
                "abstain_reason_da": s.abstain_reason.da if s.abstain_reason else None,
                "abstain_reason_en": s.abstain_reason.en if s.abstain_reason else None,
                "duty_to_notify_da": s.duty_to_notify.da if s.duty_to_notify else None,
                "duty_to_notify_en": s.duty_to_notify.en if s.duty_to_notify else None,
                "what_would_change_da": " ".join(w.sentence("da") for w in s.what_would_change)
                or None,
                "what_would_change_en": " ".join(w.sentence("en") for w in s.what_would_change)
                or None,
                "message_da": s.message("da"),
                "message_en": s.message("en"),
                "suggestion_id": s.suggestion_id,
            }
        )
    steps = {"suggested_step": "Int64", "interval_low": "Int64", "interval_high": "Int64"}
    return pd.DataFrame(rows).astype(steps), suggestions


def explanation_for(
    inst: Instrument,
    forms: pd.DataFrame,
    form_id: str,
    *,
    id_column: str,
    lang: str = "da",
    model: Any = None,
) -> tuple[Any, Any]:
    """The Suggestion and a waterfall figure for one form of a CSV."""
    from .explain import Explainer, plot_waterfall
    from .model import build_features, load_model

    if id_column not in forms.columns or form_id not in set(forms[id_column].astype(str)):
        raise ResponseValidationError(
            [Problem(id_column, form_id, f"the id of a form in the table (column {id_column!r})")]
        )
    rows = forms[forms[id_column].astype(str) == form_id]
    if len(rows.drop_duplicates()) > 1:
        # Two different forms under one id: explaining either would be a guess.
        raise ResponseValidationError(
            [
                Problem(
                    id_column,
                    form_id,
                    f"one form per id ({len(rows)} different forms have this id, "
                    f"rows {', '.join(map(str, rows.index[:5].tolist()))})",
                    kind="duplicate_id",
                )
            ]
        )
    row = rows.head(1)
    model = load_model() if model is None else model
    _, suggestions = suggestions_table(inst, row, id_column=id_column, model=model)
    suggestion = suggestions[0]
    if suggestion.kind != "step":
        # Red flags never reach the model, and an abstention has no step to explain.
        return suggestion, None
    X = build_features(_score(inst, row, id_column), id_column=id_column)
    explanation = Explainer(model).explain(X, [inst.key])[0]
    return suggestion, plot_waterfall(explanation, lang="en" if lang == "en" else "da")


def evaluate_report(
    out: Path,
    *,
    data_dir: Path | None = None,
    model: Any = None,
    date: str | None = None,
    lang: str = "en",
    n_boot: int = 500,
) -> Path:
    """Evaluate the model, the band rule and the oracle on held-out synthetic children.

    The held-out fifth of the model card (``opsporing.model.train.split``), through the
    same evaluation as one's own data (:func:`opsporing.evaluation.evaluate_population`).
    Writes one self-contained HTML report (see :func:`opsporing.evaluation.report`).
    """
    from .evaluation import report
    from .evaluation._owneval import evaluate_population
    from .model import load_model
    from .model.train import prepare, split
    from .synthetic import SyntheticPopulation, load_default

    pop = SyntheticPopulation.load(data_dir) if data_dir is not None else load_default()
    data = prepare(pop)
    _, test = split(data)
    held_out = data.X.index[test]
    evaluation = evaluate_population(
        pop,
        model=load_model() if model is None else model,
        children=[str(c) for c in held_out],
        n_boot=n_boot,
    )
    return Path(
        report(
            *evaluation.sections,
            path=out,
            title="opsporing: detection quality on held-out synthetic children",
            date=date,
            lang="da" if lang == "da" else "en",
            provenance=evaluation.provenance,
        )
    )
