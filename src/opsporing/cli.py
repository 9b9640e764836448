"""The ``opsporing`` command line.

Every verb reads data, computes and prints or writes files; none of them records
or acts on a decision. On bad input a verb prints one line naming the problem and
exits with status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from .errors import DataError, OpsporingError, Problem, ResponseValidationError
from .instruments import Instrument, get_instrument, list_instruments, load_instrument
from .scoring import score_batch
from .vocabulary import Language, load_vocabulary

app = typer.Typer(
    name="opsporing",
    help="Early detection of children in vulnerable positions: decision support, never decisions.",
    no_args_is_help=True,
    add_completion=False,
)
instruments_app = typer.Typer(help="List and show the screening instruments.", no_args_is_help=True)
app.add_typer(instruments_app, name="instruments")

console = Console()
_state = {"debug": False}

_BAND_STYLE = {"grøn": "green", "gul": "yellow", "rød": "bold red"}


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def _band(value: object) -> str:
    if not isinstance(value, str):
        return "[dim]–[/dim]"
    return f"[{_BAND_STYLE[value]}]{value}[/{_BAND_STYLE[value]}]"


def _score_table(
    inst: Instrument, scores: pd.DataFrame, title: str, id_column: str | None
) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    if id_column:
        table.add_column(id_column)
    for dom in inst.domain_ids:
        table.add_column(dom, justify="right")
    if inst.total is not None:
        table.add_column("total", justify="right")
    table.add_column("samlet", justify="center")
    table.add_column("bekymringer")
    table.add_column("beskyttende faktorer", justify="right")
    voc = load_vocabulary()
    concept_cols = [c for c in scores.columns if c.startswith("concept.")]
    for _, row in scores.iterrows():
        cells = [str(row[id_column])] if id_column else []
        for dom in inst.domain_ids:
            score = row[f"score.{dom}"]
            cells.append(
                "[dim]ikke scoret[/dim]"
                if pd.isna(score)
                else f"{score:.3g} {_band(row[f'band.{dom}'])}"
            )
        if inst.total is not None:
            total = row["score.total"]
            cells.append(
                "[dim]–[/dim]" if pd.isna(total) else f"{total:.3g} {_band(row['band.total'])}"
            )
        overall = _band(row["band.overall"])
        if row["red_flag"]:
            overall += " [bold red]⚑ underretning § 133[/bold red]"
        cells.append(overall)
        raised = [voc.concept(c.removeprefix("concept.")) for c in concept_cols if row[c]]
        cells.append(", ".join(c.label.da for c in raised if c.is_concern) or "–")
        cells.append(str(sum(c.is_protective for c in raised)))
        table.add_row(*cells)
    return table


def _instrument(name: str) -> Instrument:
    """A shipped instrument by id, or an instrument file by path."""
    if Path(name).suffix in {".yaml", ".yml", ".json"}:
        return load_instrument(name)
    return get_instrument(name)


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename).

    Raises
    ------
    DataError
        The file could not be written; ``path`` is left as it was.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise DataError(
            str(Problem("--output", str(path), f"a file that can be written ({exc.strerror})"))
        ) from None


def _fail(exc: Exception) -> None:
    if _state["debug"]:
        raise exc
    first = str(exc).splitlines()
    message = first[0] if first else type(exc).__name__
    if isinstance(exc, ResponseValidationError) and len(exc.problems) > 0:
        message += f": {exc.problems[0]}" + (
            f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        )
    # One line, whatever the input held: line breaks (also \x1c-\x1e, \u2028) escaped.
    message = "\\n".join(message.splitlines())
    typer.echo(f"opsporing: error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def demo(
    quick: Annotated[
        bool, typer.Option("--quick", help="Only score the example forms (skip the model part).")
    ] = False,
) -> None:
    """The main job on shipped data: score example forms, suggest steps, measure quality."""
    from ._demo import example_scores, suggestions_and_quality

    try:
        for inst, scores in example_scores():
            console.print(_score_table(inst, scores, f"{inst.title.da} ({inst.key})", "form_id"))
            console.print()
        if not quick:
            suggestions_and_quality(console)
    except OpsporingError as exc:
        _fail(exc)
    console.print(
        "[dim]Scores and suggestions are decision support. A professional decides, and the "
        "duty to notify (barnets lov § 133) never waits for a score.[/dim]"
    )


@app.command()
def score(
    file: Annotated[
        Path, typer.Argument(help="CSV with one form per row.", exists=True, dir_okay=False)
    ],
    instrument: Annotated[
        str,
        typer.Option("--instrument", "-i", help="Instrument id, or a path to an instrument file."),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the scores to this CSV.")
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", "-k", help="Columns to carry through, e.g. form_id."),
    ] = None,
) -> None:
    """Score a CSV of forms; print a table or write the scores to CSV."""
    from ._jobs import read_forms

    try:
        inst = _instrument(instrument)
        scores = score_batch(inst, read_forms(file, inst), keep=keep or [])
        if output is not None:
            _write(output, scores.to_csv(index=False))
    except OpsporingError as exc:
        _fail(exc)
        return
    if output is not None:
        console.print(f"wrote {len(scores)} scored forms to {output}")
    else:
        id_column = keep[0] if keep else None
        console.print(_score_table(inst, scores, inst.key, id_column))


def _write_table(table: pd.DataFrame, output: Path) -> None:
    if output.suffix == ".json":
        output.write_text(table.to_json(orient="records", force_ascii=False, indent=2), "utf-8")
    else:
        table.to_csv(output, index=False)


@app.command()
def suggest(
    file: Annotated[
        Path, typer.Argument(help="CSV with one form per row.", exists=True, dir_okay=False)
    ],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument id or file.")],
    id_column: Annotated[str, typer.Option("--id", help="The form id column.")] = "form_id",
    earlier: Annotated[
        Path | None, typer.Option(help="CSV of earlier screenings of the same ids (optional).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Model file (default: the shipped one).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write .csv or .json.")
    ] = None,
) -> None:
    """Suggest a staircase step for each form, with reasons. Suggestions, never decisions."""
    from ._jobs import read_forms, suggestions_table
    from .model import load_model

    try:
        inst = _instrument(instrument)
        forms = read_forms(file, inst)
        before = read_forms(earlier, inst) if earlier is not None else None
        fitted = load_model(model) if model is not None else None
        table, _ = suggestions_table(inst, forms, id_column=id_column, earlier=before, model=fitted)
    except OpsporingError as exc:
        _fail(exc)
        return
    if output is not None:
        _write_table(table, output)
        console.print(f"wrote {len(table)} suggestions to {output}")
    else:
        shown = Table(header_style="bold")
        for column in ("form_id", "kind", "suggested_step", "p_needs_support", "explanation_da"):
            shown.add_column(column)
        for row in table.to_dict("records"):
            p = row["p_needs_support"]
            step = row["suggested_step"]
            text = (
                row["explanation_da"]
                if isinstance(row["explanation_da"], str)
                else row["red_flags"]
            )
            shown.add_row(
                str(row["form_id"]),
                str(row["kind"]),
                "–" if step is None or pd.isna(step) else str(int(step)),
                "–" if p is None or pd.isna(p) else f"{p:.2f}",
                str(text),
            )
        console.print(shown)
    console.print(
        "[dim]Suggestions, not decisions: a named professional decides and records it "
        "(opsporing.decision.Decision.record).[/dim]"
    )


@app.command()
def explain(
    file: Annotated[
        Path, typer.Argument(help="CSV with one form per row.", exists=True, dir_okay=False)
    ],
    form_id: Annotated[str, typer.Argument(help="The id of the form to explain.")],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument id or file.")],
    id_column: Annotated[str, typer.Option("--id", help="The form id column.")] = "form_id",
    lang: Annotated[str, typer.Option(help="da or en.")] = "da",
    plot: Annotated[Path | None, typer.Option(help="Write the waterfall plot (PNG) here.")] = None,
) -> None:
    """Explain one form's suggestion in plain language (and as a waterfall plot)."""
    from ._jobs import explanation_for, read_forms

    try:
        inst = _instrument(instrument)
        suggestion, figure = explanation_for(
            inst, read_forms(file, inst), form_id, id_column=id_column, lang=lang
        )
    except OpsporingError as exc:
        _fail(exc)
        return
    language: Language = "en" if lang == "en" else "da"
    console.print(suggestion.message(language))
    if plot is not None and figure is not None:
        figure.savefig(plot, dpi=100, bbox_inches="tight")
        console.print(f"wrote {plot}")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("models"),
    seed: Annotated[int | None, typer.Option(help="Seed (default: the documented one).")] = None,
) -> None:
    """Retrain the model on the shipped synthetic data, reproducibly (see docs/model.md)."""
    from .model.train import main as train_main

    argv = ["--out", str(out)] + (["--seed", str(seed)] if seed is not None else [])
    try:
        code = train_main(argv)
    except OpsporingError as exc:
        _fail(exc)
        return
    raise typer.Exit(code=code)


@app.command()
def evaluate(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML report.")] = Path(
        "reports/evaluation.html"
    ),
    data: Annotated[
        Path | None, typer.Option(help="A synthetic population directory (default: shipped).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Model file (default: the shipped one).")
    ] = None,
) -> None:
    """Write a detection-quality report: model vs band rule vs oracle, calibration, fairness."""
    from ._jobs import evaluate_report
    from .model import load_model

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        path = evaluate_report(
            output, data_dir=data, model=load_model(model) if model is not None else None
        )
    except OpsporingError as exc:
        _fail(exc)
        return
    console.print(f"wrote {path}")


@app.command("export-fhir")
def export_fhir(
    instrument: Annotated[
        str, typer.Argument(help="Instrument id, or a path to an instrument file.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON here (default: stdout).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Main language of the texts: da or en.")] = "da",
    json_schema: Annotated[
        bool, typer.Option("--json-schema", help="Export a JSON Schema instead.")
    ] = False,
) -> None:
    """Export an instrument as a FHIR R4 Questionnaire (or a JSON Schema for form builders)."""
    import json

    from .fhir import to_json_schema, to_questionnaire

    try:
        inst = _instrument(instrument)
        if lang not in ("da", "en"):
            raise ResponseValidationError([Problem("--lang", lang, "'da' or 'en'")])
        language: Language = "en" if lang == "en" else "da"
        resource = to_json_schema(inst) if json_schema else to_questionnaire(inst, lang=language)
        text = json.dumps(resource, ensure_ascii=False, indent=2)
        if output is not None:
            _write(output, text + "\n")
    except OpsporingError as exc:
        _fail(exc)
        return
    if output is None:
        typer.echo(text)
    else:
        console.print(f"wrote {output}")


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).")],
    n_children: Annotated[int, typer.Option(help="Number of children.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261123,
    year: Annotated[
        int | None, typer.Option(help="Reference year (drift is counted from it).")
    ] = None,
    prevalence_shift: Annotated[float, typer.Option(help="Shift of the need index.")] = 0.0,
    drift_per_year: Annotated[float, typer.Option(help="Latent mean shift per year.")] = 0.0,
    rater_harshness_sd: Annotated[float, typer.Option(help="Spread of rater harshness.")] = 0.3,
    rater_bias_against: Annotated[
        str | None, typer.Option(help="Family-background group rated harsher.")
    ] = None,
    rater_bias_size: Annotated[float, typer.Option(help="Size of that bias.")] = 0.5,
    missing_rate: Annotated[float, typer.Option(help="Base rate of missing answers.")] = 0.03,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate a synthetic population with known ground truth (see docs/synthetic.md)."""
    from .synthetic import SyntheticConfig, generate

    knobs: dict[str, object] = {
        "n_children": n_children,
        "seed": seed,
        "prevalence_shift": prevalence_shift,
        "drift_per_year": drift_per_year,
        "rater_harshness_sd": rater_harshness_sd,
        "rater_bias_against": rater_bias_against,
        "rater_bias_size": rater_bias_size,
        "missing_rate": missing_rate,
    }
    if year is not None:
        knobs["year"] = year
    try:
        pop = generate(SyntheticConfig(**knobs), progress=progress)  # type: ignore[arg-type]
        pop.save(out)
    except OpsporingError as exc:
        _fail(exc)
        return
    n_forms = sum(len(f) for f in pop.forms.values())
    console.print(f"wrote {len(pop.children):,} children and {n_forms:,} forms to {out}")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    db: Annotated[Path, typer.Option(help="The SQLite audit log.")] = Path(
        "opsporing-audit.sqlite"
    ),
    model: Annotated[
        str,
        typer.Option(help="'auto' (the shipped model if it verifies), a model path, or 'none'."),
    ] = "auto",
) -> None:
    """Serve the reference web form (needs the "web" extra). Stop it with Ctrl+C."""
    try:
        from .web import run
    except ImportError as exc:  # pragma: no cover - only without the [web] extra
        typer.echo(f"opsporing: error: the web form needs the [web] extra ({exc})", err=True)
        raise typer.Exit(code=2) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            "[bold yellow]The form has no login: bind beyond loopback only behind the "
            "municipality's own authentication.[/bold yellow]"
        )
    try:
        run(host=host, port=port, db_path=db, model=None if model == "none" else model)
    except OpsporingError as exc:
        _fail(exc)


@instruments_app.command("list")
def instruments_list() -> None:
    """List the shipped instruments."""
    table = Table(header_style="bold")
    for column in ("id", "version", "title", "settings", "age (years)", "items"):
        table.add_column(column)
    for inst in list_instruments():
        table.add_row(
            inst.id, inst.version, inst.title.da, ", ".join(inst.settings),
            f"{inst.age_years.min:g}-{inst.age_years.max:g}", str(len(inst.items)),
        )  # fmt: skip
    console.print(table)


@instruments_app.command("show")
def instruments_show(
    instrument_id: Annotated[str, typer.Argument(help="Instrument id.")],
    lang: Annotated[str, typer.Option(help="da or en.")] = "da",
) -> None:
    """Show an instrument's domains and items."""
    try:
        inst = get_instrument(instrument_id)
    except OpsporingError as exc:
        _fail(exc)
        return
    language: Language = "en" if lang == "en" else "da"
    console.print(f"[bold]{inst.title.get(language)}[/bold] ({inst.key})")
    for dom in inst.domains:
        console.print(
            f"\n[bold]{dom.label.get(language)}[/bold] "
            f"[dim]({dom.id}, {dom.direction}, {dom.method}, "
            f"≥{dom.min_answered} answered, gul {dom.bands.yellow:g}, rød {dom.bands.red:g})[/dim]"
        )
        for item in inst.items_in(dom.id):
            rev = " [dim](reverse)[/dim]" if item.reverse else ""
            console.print(f"  {item.id:24s} {item.text.get(language)}{rev}")


def main() -> None:
    """Entry point of the ``opsporing`` console script."""
    app(prog_name="opsporing")


if __name__ == "__main__":  # pragma: no cover
    main()
