"""The main job shown by ``opsporing demo``: score, suggest, measure, on shipped data only.

1. Score the example forms shipped with the package.
2. Suggest a staircase step for a few synthetic children with the shipped model,
   with the plain-language reasons, and show that nothing was decided.
3. Measure detection quality on the held-out synthetic children, counting what
   ``suggest_batch`` gives each child (a step, an abstention, the duty to notify):
   the model against the instruments' own band rule and the oracle (the best any
   model could do) under the same suggestion policy.
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
from .instruments import get_instrument
from .scoring import read_forms, score_batch
from .vocabulary import load_vocabulary

#: The example forms shipped for the demo, and the instrument each was filled in with: the
#: current form of each setting and age band (``instruments/forms.yaml``).
EXAMPLES = {
    "dagtilbud_0_2_forms.csv": "opsporing.dagtilbud.0-2",
    "dagtilbud_3_5_forms.csv": "opsporing.dagtilbud.3-5",
    "skole_0_6_forms.csv": "opsporing.skole.0-6",
    "skole_7_10_forms.csv": "opsporing.skole.7-10",
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
    from ._measure import band_rule_figures, detection_figures, suggestions_frame
    from .decision import suggest_batch
    from .model import load_model
    from .model.train import prepare, split
    from .policy import load_policy
    from .synthetic import load_default

    pop = load_default()
    data = prepare(pop)
    model = load_model()
    policy = load_policy()
    _, test = split(data)
    test_ids = data.X.index[test]
    # The same tables training used: the current round and the earlier screenings.
    tables = data.tables_of(test_ids)
    by_id = {
        s.subject: s
        for s in suggest_batch(
            model,
            tables.current,
            tables.earlier,
            informants=tables.informants,
            id_column="child_id",
        )
    }
    suggestions = [by_id[str(c)] for c in test_ids]
    scores = data.scores.loc[test_ids].reset_index()

    # One block per child (not a wide table): readable in an 80-column terminal, and the
    # text is exactly what Suggestion.message() says to a professional.
    title = tr(
        "Suggestions for selected synthetic children (held out) — suggestions, not decisions",
        lang,
    )
    console.print(f"[bold]{title}[/bold]\n")
    voc = load_vocabulary()
    for i in _pick(data, np.flatnonzero(test), suggestions)[:n_show]:
        s = suggestions[i]
        child = str(scores.at[i, "child_id"])
        band = voc.band(str(scores.at[i, "band.overall"])).label.get(lang)
        console.print(
            f"[bold]{child}[/bold] · "
            + tr(
                "overall band {band} · true step* {step}", lang, band=band, step=data.step.at[child]
            )
        )
        for line in s.message(lang).splitlines():
            console.print(f"  {line}", highlight=False)
        console.print()
    footnote = tr(
        "* Synthetic children with known truth: not real children. Nothing was decided: a "
        "suggestion becomes a decision only when a named professional records it "
        "(Decision.record).",
        lang,
    )
    console.print(f"[dim]{footnote}[/dim]\n")

    y = data.step.to_numpy()[test]
    oracle = data.oracle.loc[test_ids].to_numpy() if data.oracle is not None else None
    fig = detection_figures(suggestions_frame(suggestions), y, policy, oracle)
    need = y >= 1
    band_rule = band_rule_figures(data.scores.loc[test_ids, "band.overall"], y, policy)
    quality = Table(
        title=tr(
            "Who is found? {n} held-out synthetic children, {share} in need "
            "(counted as suggest_batch gives each child)",
            lang,
            n=integer(len(y), lang),
            share=percent(float(need.mean()), lang),
        ),
        title_justify="left",
        header_style="bold",
    )
    quality.add_column(tr("rule", lang))
    quality.add_column(tr("found among children in need", lang), justify="right")
    quality.add_column(tr("all children flagged", lang), justify="right")
    quality.add_column(tr("abstain", lang), justify="right")
    quality.add_row(
        tr("the model: step ≥ 1 or duty to notify", lang),
        percent(fig["found_among_need"], lang),
        percent(fig["suggested_step_ge_1_share"] + fig["notify_rate"], lang),
        percent(fig["abstention_rate"], lang),
    )
    if "oracle" in fig:
        o = fig["oracle"]
        quality.add_row(
            tr("the oracle, same policy (Bayes-optimal)", lang),
            percent(o["found_among_need"], lang),
            percent(o["suggested_step_ge_1_share"] + fig["notify_rate"], lang),
            "–",
        )
    quality.add_row(
        tr("band rule (gul/rød → refer)", lang),
        percent(band_rule["found_among_need"], lang),
        percent(band_rule["referral_rate"], lang),
        "–",
    )
    console.print(quality)
    per = Table(
        title=tr("Per 1,000 children: true step and suggestion", lang),
        title_justify="left",
        header_style="bold",
    )
    per.add_column("")
    per.add_column(tr("true step", lang), justify="right")
    per.add_column(tr("suggested", lang), justify="right")
    true, sug = fig["per_1000_true"], fig["per_1000_suggested"]
    for k in range(7):
        per.add_row(
            tr("step {step}", lang, step=k),
            number(true[str(k)], lang, 1),
            number(sug[str(k)], lang, 1),
        )
    per.add_row(tr("abstain (discuss in the team)", lang), "–", number(sug["abstain"], lang, 1))
    per.add_row(tr("notify now (red flag)", lang), "–", number(sug["notify"], lang, 1))
    console.print(per)
