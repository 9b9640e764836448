"""The main job shown by ``opsporing demo``: score, suggest, measure, on shipped data only.

1. Score the example forms shipped with the package.
2. Suggest a staircase step for a few synthetic children with the shipped model,
   with the plain-language reasons, and show that nothing was decided.
3. Measure detection quality on the held-out synthetic children: the model against
   the instruments' own band rule and the oracle (the best any model could do).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ._texts import Lang, integer, number, percent, tr
from .evaluation import roc_auc
from .instruments import get_instrument
from .scoring import read_forms, score_batch
from .vocabulary import load_vocabulary

#: The example forms shipped for the demo, and the instrument each was filled in with.
EXAMPLES = {
    "dagtilbud_forms.csv": "opsporing.dagtilbud.trivsel",
    "skole_forms.csv": "opsporing.skole.trivsel",
}


def example_scores() -> list[tuple[Any, pd.DataFrame]]:
    """Each shipped example file scored with its instrument."""
    out = []
    root = resources.files("opsporing.examples")
    for filename, instrument_id in EXAMPLES.items():
        inst = get_instrument(instrument_id)
        with resources.as_file(root.joinpath(filename)) as path:
            forms = read_forms(path, inst)
        out.append((inst, score_batch(inst, forms, keep=["form_id"])))
    return out


def _pick(data: Any, test: np.ndarray, suggestions: list[Any]) -> list[int]:
    """A few telling held-out children: thriving, in need, uncertain, a red flag."""
    kinds = [s.kind for s in suggestions]
    steps = data.step.to_numpy()[test]
    wanted: list[Callable[[int], bool]] = [
        lambda i: kinds[i] == "step" and suggestions[i].step == 0 and steps[i] == 0,
        lambda i: kinds[i] == "step" and (suggestions[i].step or 0) >= 1,
        lambda i: kinds[i] == "step" and (suggestions[i].step or 0) >= 3,
        lambda i: kinds[i] == "abstain",
        lambda i: kinds[i] == "notify",
    ]
    picked: list[int] = []
    for rule in wanted:
        found = next((i for i in range(len(kinds)) if rule(i) and i not in picked), None)
        if found is not None:
            picked.append(found)
    return picked


def suggestions_and_quality(console: Console, n_show: int = 5, lang: Lang = "da") -> None:
    """Parts 2 and 3 of the demo, on the shipped synthetic data and model, in ``lang``."""
    from .decision import suggest_batch
    from .model import load_model
    from .model.train import prepare, split
    from .synthetic import load_default

    pop = load_default()
    data = prepare(pop)
    model = load_model()
    _, test = split(data)
    test_ids = data.X.index[test]
    scores = data.scores.loc[test_ids].reset_index()
    suggestions = suggest_batch(model, scores, id_column="child_id")
    voc = load_vocabulary()

    table = Table(
        title=tr(
            "Suggestions for selected synthetic children (held out) — suggestions, not decisions",
            lang,
        ),
        title_justify="left",
        header_style="bold",
    )
    for header in (
        tr("child", lang),
        tr("overall band", lang),
        tr("suggestion", lang),
        tr("P(step ≥ 1)", lang),
        tr("uncertainty", lang),
        tr("reason", lang),
    ):
        table.add_column(header)
    table.add_column(tr("true step*", lang))
    for i in _pick(data, np.flatnonzero(test), suggestions)[:n_show]:
        s = suggestions[i]
        if s.kind == "notify":
            what = "[bold red]" + tr("notify now (§ 133)", lang) + "[/bold red]"
        elif s.kind == "abstain":
            what = "[yellow]" + tr("discuss in the team", lang) + "[/yellow]"
        elif s.step_info is not None:
            what = tr("step {step}", lang, step=s.step) + ": " + s.step_info.label.get(lang)
            if s.step_info.requires_municipal_assessment:
                municipal = tr("(needs the municipality's assessment)", lang)
                what += f" [dim]{municipal}[/dim]"
        else:  # pragma: no cover - a step suggestion always carries its step
            what = "–"
        reason = s.explanation.get(lang) if s.explanation is not None else "–"
        if s.kind == "notify":
            flags = ", ".join(voc.concept(c).label.get(lang) for c in s.red_flags)
            reason = tr("Red flags: {flags}", lang, flags=flags)
        p = number(s.p_needs_support, lang) if s.p_needs_support is not None else "–"
        interval = (
            tr("steps {low}-{high}", lang, low=s.interval[0], high=s.interval[1])
            if s.interval is not None
            else "–"
        )
        child = str(scores.at[i, "child_id"])
        band = voc.band(str(scores.at[i, "band.overall"])).label.get(lang)
        table.add_row(child, band, what, p, interval, reason, str(data.step.at[child]))
    console.print(table)
    footnote = tr(
        "* Synthetic children with known truth: not real children. Nothing was decided: a "
        "suggestion becomes a decision only when a named professional records it "
        "(Decision.record).",
        lang,
    )
    console.print(f"[dim]{footnote}[/dim]\n")

    y = (data.step.to_numpy()[test] >= 1).astype(int)
    p_model = 1.0 - model.predict_proba(data.X.loc[test_ids])[:, 0]
    bands = data.scores.loc[test_ids, "band.overall"].astype(object)
    band_rule = bands.isin(["gul", "rød"]).to_numpy(dtype=float)
    rows = [(tr("the model, P(step ≥ 1)", lang), roc_auc(y, p_model))]
    rows.append((tr("band rule (gul/rød → refer)", lang), roc_auc(y, band_rule)))
    if data.oracle is not None:
        p_oracle = 1.0 - data.oracle.loc[test_ids, "p_step_0"].to_numpy()
        rows.append((tr("oracle (Bayes-optimal)", lang), roc_auc(y, p_oracle)))
    quality = Table(
        title=tr(
            "Needs more than universal services? {n} held-out synthetic children, {share} in need",
            lang,
            n=integer(len(y), lang),
            share=percent(float(y.mean()), lang),
        ),
        title_justify="left",
        header_style="bold",
    )
    quality.add_column(tr("rule", lang))
    quality.add_column("AUC", justify="right")
    for name, value in rows:
        quality.add_row(name, number(value, lang, 3))
    console.print(quality)
