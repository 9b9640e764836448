"""The ``opsporing`` command line.

Every verb reads data, computes and prints or writes files; none of them records
or acts on a decision. On bad input a verb prints one line naming the problem and
exits with status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import _research_cli
from ._cli_model import model_app
from ._cli_options import Format, FormatOption, LangOption, Language, RejectedOption
from ._cli_round import register as register_round
from ._texts import Lang, number, short, tr
from .errors import DataError, OpsporingError, Problem
from .instruments import Instrument, get_instrument, list_instruments, load_instrument
from .interop._cli import interop_app
from .scoring import score_batch
from .synthetic import SyntheticConfig
from .vocabulary import load_vocabulary

app = typer.Typer(
    name="opsporing",
    help="Early detection of children in vulnerable positions: decision support, never decisions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals hold the input rows (CPR numbers, ids)
)
instruments_app = typer.Typer(help="List and show the screening instruments.", no_args_is_help=True)
app.add_typer(instruments_app, name="instruments")
app.add_typer(model_app, name="model")
with contextlib.suppress(ImportError):  # `users` and `audit` need the [web] extra
    from .web._cli import register

    register(app)
    from .followup._cli import register as register_followup  # due, draft, figures, users unit

    register_followup(app)
app.add_typer(interop_app, name="interop")  # opsporing/interop/_cli.py
register_round(app)  # opsporing/_cli_round.py: the `round` verb

console = Console()
_state = {"debug": False}

_BAND_STYLE = {"grøn": "green", "gul": "yellow", "rød": "bold red"}

#: How many problems an error lists on the terminal before "and N more".
_SHOWN_PROBLEMS = 10

#: Below this many columns the tables switch to their narrow layout.
_NARROW = 120


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def _band(value: object, lang: Lang = "da") -> str:
    if not isinstance(value, str):
        return "[dim]–[/dim]"
    label = load_vocabulary().band(value).label.get(lang).lower()
    return f"[{_BAND_STYLE[value]}]{label}[/{_BAND_STYLE[value]}]"


def _score_table(
    inst: Instrument, scores: pd.DataFrame, title: str, id_column: str | None, lang: Lang = "da"
) -> Table:
    """Scores for people: every domain in a wide terminal, only the yellow/red ones in 80."""
    narrow = console.width < _NARROW
    table = Table(title=title, title_justify="left", header_style="bold")
    if id_column:
        table.add_column(id_column)
    if narrow:
        table.add_column(tr("overall", lang))
        table.add_column(tr("yellow/red", lang), overflow="fold")
        table.add_column(tr("concerns", lang), overflow="fold")
        table.add_column(tr("protect.", lang), justify="right")
    else:
        for dom in inst.domain_ids:
            table.add_column(dom, justify="right")
        if inst.total is not None:
            table.add_column(tr("total", lang), justify="right")
        table.add_column(tr("overall", lang), justify="center")
        table.add_column(tr("concerns", lang), overflow="fold")
        table.add_column(tr("protective factors", lang), justify="right")
    voc = load_vocabulary()
    concept_cols = [c for c in scores.columns if c.startswith("concept.")]
    not_scored = "[dim]" + tr("not scored", lang) + "[/dim]"
    parts = [*inst.domain_ids, *(["total"] if inst.total is not None else [])]
    for _, row in scores.iterrows():
        # An id from the file is shown as written, never read as Rich markup ("[/x]" crashed).
        cells = [escape(str(row[id_column]))] if id_column else []
        shown = {}
        for part in parts:
            score = row[f"score.{part}"]
            shown[part] = (
                None
                if pd.isna(score)
                else f"{short(score, lang)} {_band(row[f'band.{part}'], lang)}"
            )
        overall = _band(row["band.overall"], lang)
        if row["red_flag"]:
            flag = tr("⚑ § 133", lang) if narrow else tr("⚑ notify (§ 133)", lang)
            overall += f"{chr(10) if narrow else ' '}[bold red]{flag}[/bold red]"
        raised = [voc.concept(c.removeprefix("concept.")) for c in concept_cols if row[c]]
        concerns = ", ".join(c.label.get(lang) for c in raised if c.is_concern) or "–"
        protective = str(sum(c.is_protective for c in raised))
        if narrow:
            flagged = [
                f"{part} {shown[part]}" if shown[part] is not None else f"{part} {not_scored}"
                for part in parts
                if shown[part] is None or str(row[f"band.{part}"]) != "grøn"
            ]
            cells += [overall, "\n".join(flagged) or "–", concerns, protective]
        else:
            cells += [
                shown[part] or (not_scored if part != "total" else "[dim]–[/dim]") for part in parts
            ]
            cells += [overall, concerns, protective]
        table.add_row(*cells)
    return table


def _instrument(name: str) -> Instrument:
    """A shipped instrument by id, or an instrument file by path."""
    if Path(name).suffix in {".yaml", ".yml", ".json"}:
        return load_instrument(name)
    return get_instrument(name)


def _write(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all (a temporary file, then a rename).

    Every file a verb writes goes through here, so a missing folder or a full disk is the
    same one-line error for each of them, and never leaves half a file.

    Raises
    ------
    DataError
        The file could not be written; ``path`` is left as it was.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise DataError(
            Problem("--output", str(path), f"a file that can be written ({exc.strerror})")
        ) from None


#: A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV
#: injection"): a form id or a rejected answer such as ``=HYPERLINK(...)`` from a hostile
#: file must not run when a professional opens the output in Excel.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV, every text cell that a spreadsheet would run quoted with ``'``.

    Only text cells: numbers (a negative score) are written as they are.
    """

    def safe(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            return "'" + value
        return value

    text_columns = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    out = table.copy()
    for column in text_columns:
        out[column] = table[column].map(safe)
    return str(out.to_csv(index=False))


def _table_text(table: pd.DataFrame, fmt: str) -> str:
    """A result table as CSV or JSON records (one shape for files and standard output)."""
    if fmt == "json":
        return table.to_json(orient="records", force_ascii=False, indent=2) + "\n"
    return _csv_text(table)


def _write_rejected(exc: OpsporingError, rejected: Path | None, lang: Lang) -> None:
    if rejected is None or not exc.problems:
        return
    frame = exc.to_frame()
    _write(rejected, _csv_text(frame))
    typer.echo(
        tr("wrote {n} problems of rejected rows to {path}", lang, n=len(frame), path=rejected),
        err=True,
    )


def _one_line(message: str) -> str:
    # One line, whatever the input held: line breaks (also \x1c-\x1e, \u2028) escaped.
    return "\\n".join(message.splitlines())


def _fail(exc: Exception) -> None:
    """Print the error (its first problems, then how many more) and exit with status 2."""
    if _state["debug"]:
        raise exc
    problems = getattr(exc, "problems", ())
    if isinstance(exc, OpsporingError) and len(problems) > 1:
        headline = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.echo(f"opsporing: error: {_one_line(headline)}", err=True)
        for p in problems[:_SHOWN_PROBLEMS]:
            typer.echo(f"  - {_one_line(str(p))}", err=True)
        if len(problems) > _SHOWN_PROBLEMS:
            typer.echo(
                f"  ... and {len(problems) - _SHOWN_PROBLEMS} more (--rejected FILE writes all)",
                err=True,
            )
    else:
        first = str(exc).splitlines()
        message = first[0] if first else type(exc).__name__
        if problems and str(problems[0]) not in message:
            message += f": {problems[0]}"
        typer.echo(f"opsporing: error: {_one_line(message)}", err=True)
    raise typer.Exit(code=2)


def _note_dialect(forms: pd.DataFrame, path: Path, lang: Lang) -> None:
    if forms.attrs.get("csv", {}).get("sep") == ";":
        typer.echo(
            tr("read {path} as ';'-separated with decimal commas (Danish Excel)", lang, path=path),
            err=True,
        )


@app.command()
def demo(
    quick: Annotated[
        bool, typer.Option("--quick", help="Only score the example forms (skip the model part).")
    ] = False,
    lang: LangOption = Language.da,
) -> None:
    """The main job on shipped data: score example forms, suggest steps, measure quality."""
    from ._demo import example_scores, suggestions_and_quality

    language: Lang = lang.value
    try:
        for inst, scores in example_scores():
            title = f"{inst.title.get(language)} ({inst.key})"
            console.print(_score_table(inst, scores, title, "form_id", language))
            console.print()
        if not quick:
            suggestions_and_quality(console, lang=language)
    except OpsporingError as exc:
        _fail(exc)
    console.print(
        "[dim]"
        + tr(
            "Scores and suggestions are decision support. A professional decides, and the "
            "duty to notify (barnets lov § 133) never waits for a score.",
            language,
        )
        + "[/dim]"
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
    fmt: FormatOption = Format.table,
    rejected: RejectedOption = None,
    lang: LangOption = Language.da,
) -> None:
    """Score a CSV of forms; print a table (or CSV/JSON) or write the scores to CSV."""
    from ._jobs import read_forms

    language: Lang = lang.value
    try:
        inst = _instrument(instrument)
        forms = read_forms(file, inst)
        scores = score_batch(inst, forms, keep=keep or [])
        if output is not None:
            _write(output, _csv_text(scores))
    except OpsporingError as exc:
        _write_rejected(exc, rejected, language)
        _fail(exc)
        return
    _note_dialect(forms, file, language)  # after success: an error's first line is the error
    if output is not None:
        console.print(tr("wrote {n} scored forms to {path}", language, n=len(scores), path=output))
    elif fmt is not Format.table:
        typer.echo(_table_text(scores, fmt.value), nl=False)
    else:
        id_column = keep[0] if keep else None
        console.print(_score_table(inst, scores, inst.key, id_column, language))


@app.command()
def norms(
    instrument: Annotated[
        str,
        typer.Option("--instrument", "-i", help="Instrument id, or a path to an instrument file."),
    ],
    forms: Annotated[
        Path,
        typer.Option(
            "--forms", "-f", help="CSV of the norm population's forms.", exists=True, dir_okay=False
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Write the new instrument version (YAML) here.")
    ],
    yellow: Annotated[
        float, typer.Option("--yellow", help="Percentile where gul starts on the total.")
    ] = 80.0,
    red: Annotated[
        float, typer.Option("--red", help="Percentile where rød starts on the total.")
    ] = 90.0,
    domain_yellow: Annotated[
        float, typer.Option("--domain-yellow", help="Percentile where gul starts on a domain.")
    ] = 90.0,
    domain_red: Annotated[
        float, typer.Option("--domain-red", help="Percentile where rød starts on a domain.")
    ] = 97.0,
    population: Annotated[
        str | None,
        typer.Option("--population", help="Who the norm population is (written to the file)."),
    ] = None,
    rejected: RejectedOption = None,
    lang: LangOption = Language.da,
) -> None:
    """Derive band cut-offs from your own screenings and write a new instrument version."""
    import yaml

    from ._jobs import read_forms
    from .scoring import band_shares, derive_norms

    language: Lang = lang.value
    try:
        inst = _instrument(instrument)
        table = read_forms(forms, inst)
        normed = derive_norms(
            table,
            inst,
            total=(yellow, red),
            domains=(domain_yellow, domain_red),
            population_label=population,
            source=f"opsporing norms --forms {forms.name}",
        )
        tree = normed.model_dump(mode="json", exclude_none=True)
        _write(output, yaml.safe_dump(tree, allow_unicode=True, sort_keys=False))
        shares = band_shares(table, normed)
    except OpsporingError as exc:
        _write_rejected(exc, rejected, language)
        _fail(exc)
        return
    table_out = Table(
        title=f"{normed.key}: " + tr("cut-offs from {n} forms", language, n=len(table))
    )
    headings = (
        tr("score", language),
        tr("yellow", language),
        tr("red", language),
        tr("gul or rød", language),
        tr("rød", language),
    )
    for heading in headings:
        table_out.add_column(heading)
    for name, row in shares.iterrows():
        cut = (
            [number(row["yellow"], language), number(row["red"], language)]
            if name != "overall"
            else ["–", "–"]
        )
        table_out.add_row(
            str(name),
            *cut,
            f"{number(100 * row['gul_or_rød'], language, 1)} %",
            f"{number(100 * row['rød'], language, 1)} %",
        )
    console.print(table_out)
    console.print(tr("wrote {path}", language, path=output))


def _suggestion_cell(row: dict[Any, Any], lang: Lang) -> str:
    if row["kind"] == "notify":
        return "[bold red]" + tr("notify now (§ 133)", lang) + "[/bold red]"
    if row["kind"] == "abstain":
        return "[yellow]" + tr("discuss in the team", lang) + "[/yellow]"
    return tr("step {step}", lang, step=int(row["suggested_step"]))


@app.command()
def suggest(
    file: Annotated[
        Path, typer.Argument(help="CSV with one form per row.", exists=True, dir_okay=False)
    ],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument id or file.")],
    id_column: Annotated[str, typer.Option("--id", help="The form id column.")] = "form_id",
    earlier: Annotated[
        list[Path] | None,
        typer.Option(
            help="CSV of earlier screenings of the same ids (optional; repeat, oldest first)."
        ),
    ] = None,
    earlier_instrument: Annotated[
        str | None,
        typer.Option(help="Instrument of the earlier screenings (default: --instrument)."),
    ] = None,
    parent: Annotated[
        Path | None,
        typer.Option(help="CSV of the parents' forms of the same round, same ids (optional)."),
    ] = None,
    parent_instrument: Annotated[
        str | None, typer.Option(help="Instrument of the parents' forms (with --parent).")
    ] = None,
    child: Annotated[
        Path | None,
        typer.Option(help="CSV of the children's own forms of the same round (optional)."),
    ] = None,
    child_instrument: Annotated[
        str | None, typer.Option(help="Instrument of the children's own forms (with --child).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Model file (default: the shipped one).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write .csv or .json.")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="A municipality's own suggestion policy (YAML; docs/decision.md)."),
    ] = None,
    fmt: FormatOption = Format.table,
    rejected: RejectedOption = None,
    lang: LangOption = Language.da,
) -> None:
    """Suggest a staircase step for each form, with reasons. Suggestions, never decisions.

    With --parent/--child the parents' and the child's own forms of the same round are read
    too (a red flag on any of them routes the child to the duty to notify); with --earlier
    the child's earlier screenings give the trend over time.
    """
    from ._jobs import read_forms, suggestions_table
    from .model import load_model

    language: Lang = lang.value
    try:
        for option, name, path in (
            ("earlier", earlier_instrument, earlier),
            ("parent", parent_instrument, parent),
            ("child", child_instrument, child),
        ):
            if name and not path:  # never silently ignored: which forms were meant?
                raise DataError(
                    Problem(
                        f"--{option}-instrument",
                        name,
                        f"--{option} FILE with it (an instrument given without its forms)",
                    )
                )
        inst = _instrument(instrument)
        forms = read_forms(file, inst)
        before_inst = _instrument(earlier_instrument) if earlier_instrument else inst
        before = [(before_inst, read_forms(path, before_inst)) for path in earlier or []]
        voices = {}
        for who, path, name in (
            ("parent", parent, parent_instrument),
            ("child", child, child_instrument),
        ):
            if path is None:
                continue
            if not name:
                raise DataError(
                    Problem(f"--{who}-instrument", None, f"the instrument of the --{who} forms")
                )
            voice = _instrument(name)
            voices[who] = (voice, read_forms(path, voice))
        fitted = load_model(model) if model is not None else None
        table, _ = suggestions_table(
            inst,
            forms,
            id_column=id_column,
            earlier=before or None,
            informants=voices or None,
            model=fitted,
            policy=policy,
        )
        if output is not None:
            _write(output, _table_text(table, "json" if output.suffix == ".json" else "csv"))
    except OpsporingError as exc:
        _write_rejected(exc, rejected, language)
        _fail(exc)
        return
    _note_dialect(forms, file, language)
    if output is not None:
        console.print(tr("wrote {n} suggestions to {path}", language, n=len(table), path=output))
    elif fmt is not Format.table:
        typer.echo(_table_text(table, fmt.value), nl=False)
        return  # machine output only: the note below would break the CSV or JSON
    else:
        shown = Table(header_style="bold")
        shown.add_column(id_column)
        shown.add_column(tr("suggestion", language))
        shown.add_column(tr("P(step ≥ 1)", language), justify="right")
        shown.add_column(tr("reason", language), ratio=1, overflow="fold")
        for row in table.to_dict("records"):
            p = row["p_needs_support"]
            # What a professional reads: the step and who acts, or why the model abstained,
            # or the duty to notify; the rule with its numbers; what would change it.
            reason = str(row[f"message_{language}"])
            shown.add_row(
                escape(str(row["form_id"])),
                _suggestion_cell(row, language),
                "–" if p is None or pd.isna(p) else number(p, language),
                reason,
            )
        console.print(shown)
    console.print(
        "[dim]"
        + tr(
            "Suggestions, not decisions: a named professional decides and records it "
            "(opsporing.decision.Decision.record).",
            language,
        )
        + "[/dim]"
    )


@app.command()
def explain(
    file: Annotated[
        Path, typer.Argument(help="CSV with one form per row.", exists=True, dir_okay=False)
    ],
    form_id: Annotated[str, typer.Argument(help="The id of the form to explain.")],
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="Instrument id or file.")],
    id_column: Annotated[str, typer.Option("--id", help="The form id column.")] = "form_id",
    lang: LangOption = Language.da,
    plot: Annotated[Path | None, typer.Option(help="Write the waterfall plot (PNG) here.")] = None,
) -> None:
    """Explain one form's suggestion in plain language (and as a waterfall plot)."""
    from ._jobs import explanation_for, read_forms

    language: Lang = lang.value
    try:
        inst = _instrument(instrument)
        suggestion, figure = explanation_for(
            inst, read_forms(file, inst), form_id, id_column=id_column, lang=language
        )
        if plot is not None and figure is not None:
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            _write(plot, buffer.getvalue())
    except OpsporingError as exc:
        _fail(exc)
        return
    console.print(suggestion.message(language))
    if plot is not None and figure is not None:
        console.print(tr("wrote {path}", language, path=plot))


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("models"),
    seed: Annotated[int | None, typer.Option(help="Seed (default: the documented one).")] = None,
    screenings: Annotated[
        Path | None,
        typer.Option(help="Train on own screenings (docs/researcher-guide.md), split by family."),
    ] = None,
    outcomes: Annotated[Path | None, typer.Option(help="Own outcomes CSV.")] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="An evaluation-only group column.")
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(help="Private key to sign the model with (default: $OPSPORING_SIGNING_KEY)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines.")] = False,
) -> None:
    """Retrain the model on the shipped synthetic data, reproducibly (see docs/model.md)."""
    if screenings is not None or outcomes is not None:
        from ._research_cli import run_train_own

        run_train_own(
            out,
            screenings=screenings,
            outcomes=outcomes,
            groups=group or [],
            seed=seed,
            fail=_fail,
            signing_key=signing_key,
        )
        return
    from .model.train import SEED, run_training

    try:
        run_training(
            out, seed=SEED if seed is None else seed, signing_key=signing_key, progress=not quiet
        )
    except OpsporingError as exc:
        _fail(exc)


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
    screenings: Annotated[
        Path | None,
        typer.Option(help="Own screenings CSV (docs/researcher-guide.md); needs --outcomes."),
    ] = None,
    outcomes: Annotated[Path | None, typer.Option(help="Own outcomes CSV.")] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="An evaluation-only group column (repeatable)."),
    ] = None,
    label: Annotated[
        str, typer.Option(help="In need: decided_step, notified or investigation_result.")
    ] = "decided_step",
    lang: LangOption = Language.da,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates (0: no intervals).")] = 500,
    instrument_quality: Annotated[
        bool, typer.Option(help="Own data: add reliability, factor structure and item DIF.")
    ] = False,
) -> None:
    """Write a detection-quality report: model vs band rule (vs oracle), calibration, fairness."""
    from ._research_cli import run_evaluate

    run_evaluate(
        output,
        data=data,
        model=model,
        screenings=screenings,
        outcomes=outcomes,
        groups=group or [],
        label=label,
        lang=lang.value,
        n_boot=n_boot,
        fail=_fail,
        instrument_quality=instrument_quality,
    )


app.command("recalibrate")(_research_cli.recalibrate)


@app.command("export-fhir")
def export_fhir(
    instrument: Annotated[
        str, typer.Argument(help="Instrument id, or a path to an instrument file.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON here (default: stdout).")
    ] = None,
    lang: LangOption = Language.da,
    json_schema: Annotated[
        bool, typer.Option("--json-schema", help="Export a JSON Schema instead.")
    ] = False,
) -> None:
    """Export an instrument as a FHIR R4 Questionnaire (or a JSON Schema for form builders)."""
    import json

    from .fhir import to_json_schema, to_questionnaire

    try:
        inst = _instrument(instrument)
        language: Lang = lang.value
        resource = to_json_schema(inst) if json_schema else to_questionnaire(inst, lang=language)
        document = json.dumps(resource, ensure_ascii=False, indent=2)
        if output is not None:
            _write(output, document + "\n")
    except OpsporingError as exc:
        _fail(exc)
        return
    if output is None:
        typer.echo(document)
    else:
        console.print(tr("wrote {path}", language, path=output))


_SYNTH = SyntheticConfig()  # the documented defaults: one home, read by the options below


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (created if needed).")],
    n_children: Annotated[int, typer.Option(help="Number of children.")] = _SYNTH.n_children,
    seed: Annotated[int, typer.Option(help="Random seed.")] = _SYNTH.seed,
    year: Annotated[
        int | None, typer.Option(help="Reference year (drift is counted from it).")
    ] = None,
    prevalence_shift: Annotated[
        float, typer.Option(help="Shift of the need index.")
    ] = _SYNTH.prevalence_shift,
    drift_per_year: Annotated[
        float, typer.Option(help="Latent mean shift per year.")
    ] = _SYNTH.drift_per_year,
    rater_harshness_sd: Annotated[
        float, typer.Option(help="Spread of rater harshness.")
    ] = _SYNTH.rater_harshness_sd,
    rater_bias_against: Annotated[
        str | None, typer.Option(help="Family-background group rated harsher.")
    ] = _SYNTH.rater_bias_against,
    rater_bias_size: Annotated[
        float, typer.Option(help="Size of that bias.")
    ] = _SYNTH.rater_bias_size,
    missing_rate: Annotated[
        float, typer.Option(help="Base rate of missing answers.")
    ] = _SYNTH.missing_rate,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate a synthetic population with known ground truth (see docs/synthetic.md)."""
    from .synthetic import generate

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
    except OSError as exc:  # e.g. --out is a file, or the disk is full
        _fail(DataError(Problem("--out", str(out), f"a writable folder ({exc.strerror})")))
        return
    n_forms = sum(len(f) for f in pop.forms.values())
    console.print(f"wrote {len(pop.children):,} children and {n_forms:,} forms to {out}")


#: ``python -m opsporing.synthetic``: the ``synth`` verb alone, with the same options.
synth_app = typer.Typer(add_completion=False)
synth_app.command(help=synth.__doc__)(synth)

#: ``python -m opsporing.model.train`` runs this: the ``train`` verb alone.
train_app = typer.Typer(add_completion=False)
train_app.command(help=train.__doc__)(train)


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
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="A Host name to answer (repeat it); default 127.0.0.1 and localhost."),
    ] = None,
    oidc_config: Annotated[
        Path | None,
        typer.Option(
            envvar="OPSPORING_OIDC_CONFIG",
            help="YAML configuring a login with the municipality's identity provider "
            "(OpenID Connect; see docs/security.md). Off when not given.",
        ),
    ] = None,
) -> None:
    """Serve the reference web form (needs the "web" extra). Stop it with Ctrl+C."""
    try:
        from .web import run
    except ImportError as exc:  # pragma: no cover - only without the [web] extra
        typer.echo(f"opsporing: error: the web form needs the [web] extra ({exc})", err=True)
        raise typer.Exit(code=2) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            "[bold yellow]Beyond loopback, serve the form only behind TLS (see "
            "docs/security.md).[/bold yellow]"
        )
    hosts = allowed_host or ("127.0.0.1", "localhost")
    try:
        run(
            host=host,
            port=port,
            db_path=db,
            model=None if model == "none" else model,
            allowed_hosts=hosts,
            oidc_config=oidc_config,
        )
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
    lang: LangOption = Language.da,
) -> None:
    """Show an instrument's domains and items."""
    try:
        inst = get_instrument(instrument_id)
    except OpsporingError as exc:
        _fail(exc)
        return
    language: Lang = lang.value
    console.print(f"[bold]{inst.title.get(language)}[/bold] ({inst.key})")
    for dom in inst.domains:
        console.print(
            f"\n[bold]{dom.label.get(language)}[/bold] "
            f"[dim]({dom.id}, {dom.direction}, {dom.method}, "
            f"≥{dom.min_answered} answered, gul {dom.bands.yellow:g}, rød {dom.bands.red:g})[/dim]"
        )
        for item in inst.items_in(dom.id):
            scale = inst.scale(item.scale)
            notes = [
                *(["reverse"] if item.reverse else []),
                *(
                    [f"{scale.min}-{scale.max} {scale.number.unit.get(language)}, not summed"]
                    if scale.number is not None
                    else []
                ),
                *(["required"] if dom.required else []),
                *(
                    [f"critical {item.critical.model_dump(exclude_none=True)}"]
                    if item.critical
                    else []
                ),
            ]
            extra = f" [dim]({'; '.join(notes)})[/dim]" if notes else ""
            console.print(f"  {item.id:24s} {item.text.get(language)}{extra}")


# `opsporing sdq` lives in its own module, which reads this module's helpers (defined above).
from ._cli_sdq import sdq  # noqa: E402

app.command("sdq")(sdq)


def main() -> None:
    """Entry point of the ``opsporing`` console script."""
    try:
        app(prog_name="opsporing")
    except Exception as exc:  # --debug, or a bug: the traceback, CPR numbers masked, no locals
        import sys
        import traceback

        from .privacy import mask_cpr

        sys.stderr.write(mask_cpr("".join(traceback.format_exception(exc))))
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
