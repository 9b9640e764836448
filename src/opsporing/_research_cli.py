"""The researcher's verbs of the command line: evaluate own data, recalibrate a model.

Kept apart from ``cli.py`` so the command line stays a list of verbs: ``cli.py`` parses
the options of ``evaluate`` and hands them here, and registers :func:`recalibrate` in
one line. Nothing here records or acts on a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from .errors import DataError, OpsporingError, Problem

console = Console()


def run_evaluate(
    output: Path,
    *,
    data: Path | None,
    model: Path | None,
    screenings: Path | None,
    outcomes: Path | None,
    groups: list[str],
    label: str,
    lang: str,
    n_boot: int,
    fail: Callable[[Exception], None],
    instrument_quality: bool = False,
) -> None:
    """``opsporing evaluate``: own data when ``--screenings`` is given, else synthetic."""
    from .model import load_model

    try:
        if lang not in ("en", "da"):
            raise DataError(str(Problem("--lang", lang, "en or da")))
        if (screenings is None) != (outcomes is None):
            raise DataError(
                str(Problem("--screenings/--outcomes", "only one given", "both files, or neither"))
            )
        if screenings is not None and data is not None:
            raise DataError(str(Problem("--data", str(data), "not with --screenings")))
        output.parent.mkdir(parents=True, exist_ok=True)
        fitted = load_model(model) if model is not None else None
        if screenings is not None and outcomes is not None:
            from .evaluation import evaluate_own_data

            ev = evaluate_own_data(
                screenings,
                outcomes,
                model=fitted,
                groups=groups,
                label=label,
                path=output,
                lang="da" if lang == "da" else "en",
                n_boot=n_boot,
                instrument_quality=instrument_quality,
            )
            console.print(ev.accounting.to_string())
            path = ev.path
        else:
            from ._jobs import evaluate_report

            path = evaluate_report(output, data_dir=data, model=fitted, lang=lang, n_boot=n_boot)
    except OpsporingError as exc:
        fail(exc)
        return
    console.print(f"wrote {path}")


def _fail(exc: Exception) -> NoReturn:
    message = "\\n".join(str(exc).splitlines()[:1]) or type(exc).__name__
    problems = getattr(exc, "problems", ())
    if problems:
        message += f": {problems[0]}" + (
            f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        )
    typer.echo(f"opsporing: error: {message}", err=True)
    raise typer.Exit(code=2)


def recalibrate(
    screenings: Annotated[
        Path,
        typer.Option(
            help="Own screenings CSV (docs/researcher-guide.md).", exists=True, dir_okay=False
        ),
    ],
    out: Annotated[Path, typer.Option(help="Directory of the new model.")],
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Own outcomes CSV with decided steps (isotonic recalibration).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    prevalence: Annotated[
        float | None,
        typer.Option(help="Known local share with step >= 1 (label-free prior adjustment)."),
    ] = None,
    model: Annotated[Path | None, typer.Option(help="Parent model (default: shipped).")] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(help="The municipality's private key to sign the new model with."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="A group column in the files (ignored here)."),
    ] = None,
) -> None:
    """Recalibrate a model on local children; the boosters stay, a new model is written."""
    import pandas as pd

    from .evaluation import read_own_data
    from .evaluation._owneval import own_features
    from .model import adjust_prior, load_model, save_recalibrated
    from .model import recalibrate as refit

    try:
        if (outcomes is None) == (prevalence is None):
            raise DataError(
                str(
                    Problem(
                        "--outcomes/--prevalence",
                        "both or neither",
                        "--outcomes (labelled children) or --prevalence (no labels)",
                    )
                )
            )
        parent = load_model(model)
        if outcomes is None:
            empty = pd.DataFrame({"child_id": [], "outcome_date": []})
            X, _ = own_features(read_own_data(screenings, empty, groups=group or []))
            result = adjust_prior(parent, X, float(prevalence))  # type: ignore[arg-type]
        else:
            X, step = own_features(read_own_data(screenings, outcomes, groups=group or []))
            known = step.notna().to_numpy()
            result = refit(parent, X[known], step[known].astype(int))
        save_recalibrated(result, out, signing_key=signing_key)
    except OpsporingError as exc:
        _fail(exc)
    table = pd.DataFrame({"before": result.before, "after": result.after})
    console.print(table.to_string())
    console.print(f"wrote {out} (parent {getattr(parent, 'artifact_sha256_', '?')[:12]}…)")


def run_train_own(
    out: Path,
    *,
    screenings: Path | None,
    outcomes: Path | None,
    groups: list[str],
    seed: int | None,
    fail: Callable[[Exception], None],
    signing_key: Path | None = None,
) -> None:
    """``opsporing train --screenings --outcomes``: train on own data, split by family."""
    from .model import train_own_data

    try:
        if screenings is None or outcomes is None:
            raise DataError(str(Problem("--screenings/--outcomes", "only one given", "both files")))
        result = train_own_data(
            screenings, outcomes, out, groups=groups, seed=seed, signing_key=signing_key
        )
    except OpsporingError as exc:
        fail(exc)
        return
    assert result.manifest is not None
    split = result.manifest["training_data"]["split"]
    unit = "family" if split == "by family" else "child"
    console.print(
        f"trained on {len(result.train_children):,} children, evaluated on "
        f"{len(result.test_children):,} held-out children (split {split}: no {unit} on both "
        "sides)"
    )
    console.print(result.evaluation.figures()[["score", "n", "roc_auc"]].to_string(index=False))
    console.print(f"wrote {out}/ (model, manifest.json, EVALUATION.html)")
