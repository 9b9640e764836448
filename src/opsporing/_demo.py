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

from .instruments import get_instrument
from .scoring import score_batch

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
            forms = pd.read_csv(path)
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


def suggestions_and_quality(console: Console, n_show: int = 5) -> None:
    """Parts 2 and 3 of the demo, on the shipped synthetic data and model."""
    from ._measure import detection_figures, suggestions_frame
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
    # The same tables training used: the current screening and the earlier one.
    current = data.current[data.current["child_id"].isin(test_ids)]
    earlier = (
        data.earlier[data.earlier["child_id"].isin(test_ids)] if data.earlier is not None else None
    )
    by_id = {s.subject: s for s in suggest_batch(model, current, earlier, id_column="child_id")}
    suggestions = [by_id[str(c)] for c in test_ids]
    scores = data.scores.loc[test_ids].reset_index()

    # One block per child (not a wide table): readable in an 80-column terminal, and
    # the text is exactly what Suggestion.message() says to a professional.
    console.print(
        "[bold]Forslag for udvalgte syntetiske børn (held-out) — forslag, ikke "
        "beslutninger[/bold]\n"
    )
    for i in _pick(data, np.flatnonzero(test), suggestions)[:n_show]:
        s = suggestions[i]
        child = str(scores.at[i, "child_id"])
        console.print(
            f"[bold]{child}[/bold] · samlet bånd {scores.at[i, 'band.overall']!s} · "
            f"sandt trin* {data.step.at[child]}"
        )
        for line in s.message("da").splitlines():
            console.print(f"  {line}", highlight=False)
        console.print()
    console.print(
        "[dim]* Syntetiske børn med kendt sandhed: ikke rigtige børn. Intet er besluttet: et "
        "forslag bliver først en beslutning, når en navngiven fagperson registrerer den "
        "(Decision.record).[/dim]\n"
    )

    y = data.step.to_numpy()[test]
    table_ = suggestions_frame(suggestions)
    oracle = data.oracle.loc[test_ids].to_numpy() if data.oracle is not None else None
    fig = detection_figures(table_, y, policy, oracle)
    need = y >= 1
    refer = policy.refers(data.scores.loc[test_ids, "band.overall"].astype(str))
    quality = Table(
        title=f"Hvem findes? {len(y):,} syntetiske børn (held-out), {need.mean():.1%} med "
        "behov; talt som suggest_batch giver hvert barn".replace(",", "."),
        title_justify="left",
        header_style="bold",
    )
    for col in ("regel", "fundet blandt børn med behov", "alle børn markeret", "afstår"):
        quality.add_column(col, justify="left" if col == "regel" else "right")

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %".replace(".", ",")

    quality.add_row(
        "modellen: trin ≥ 1 eller underretning",
        pct(fig["found_among_need"]),
        pct(fig["suggested_step_ge_1_share"] + fig["notify_rate"]),
        pct(fig["abstention_rate"]),
    )
    if "oracle" in fig:
        o = fig["oracle"]
        quality.add_row(
            "oraklet, samme politik (bedst mulige)",
            pct(o["found_among_need"]),
            pct(o["suggested_step_ge_1_share"] + fig["notify_rate"]),
            "–",
        )
    quality.add_row(
        "båndreglen (gul/rød → henvis)", pct(refer[need].mean()), pct(refer.mean()), "–"
    )
    console.print(quality)
    per = Table(title="Pr. 1.000 børn: sandt trin og forslag", title_justify="left",
                header_style="bold")
    for col in ("", "sandt trin", "foreslået"):
        per.add_column(col, justify="left" if not col else "right")
    true, sug = fig["per_1000_true"], fig["per_1000_suggested"]

    def num(x: float) -> str:
        return f"{x:g}".replace(".", ",")

    for k in range(7):
        per.add_row(f"trin {k}", num(true[str(k)]), num(sug[str(k)]))
    per.add_row("afstår (drøft i teamet)", "–", num(sug["abstain"]))
    per.add_row("underret nu (rødt flag)", "–", num(sug["notify"]))
    console.print(per)
