"""``opsporing interop …``: SDC bundles, XLSForm, REDCap, the instrument schema, large files.

A typer sub-app, registered on the main command line in one line
(``app.add_typer(interop_app, name="interop")``). Like every verb, bad input prints one line
naming the problem and exits with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._cli_options import LangOption, Language
from ..errors import OpsporingError
from ..instruments import Instrument, get_instrument, load_instrument

interop_app = typer.Typer(
    help="Instruments for other tools (FHIR SDC, XLSForm, REDCap) and files larger than memory.",
    no_args_is_help=True,
)

_Instrument = Annotated[str, typer.Argument(help="Instrument id, or a path to an instrument file.")]
_Output = Annotated[Path, typer.Option("--output", "-o", help="The file to write.")]


def _instrument(name: str) -> Instrument:
    if Path(name).suffix in {".yaml", ".yml", ".json"}:
        return load_instrument(name)
    return get_instrument(name)


def _fail(exc: OpsporingError) -> None:
    lines = str(exc).splitlines()
    message = lines[0] if lines else type(exc).__name__
    problems = getattr(exc, "problems", ())
    if problems:
        message += f": {problems[0]}" + (
            f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        )
    typer.echo(f"opsporing: error: {' '.join(message.splitlines())}", err=True)
    raise typer.Exit(code=2)


@interop_app.command("sdc")
def sdc(
    instrument: _Instrument,
    output: _Output,
    lang: LangOption = Language.da,
) -> None:
    """Write the SDC Questionnaire with its CodeSystems and ValueSets as a FHIR Bundle."""
    from ..fhir import to_sdc_bundle

    try:
        bundle = to_sdc_bundle(_instrument(instrument), lang.value)
        output.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", "utf-8")
    except OpsporingError as exc:
        _fail(exc)
    typer.echo(f"wrote {output}")


@interop_app.command("xlsform")
def xlsform(instrument: _Instrument, output: _Output) -> None:
    """Write the instrument as an XLSForm workbook (.xlsx) for ODK and KoboToolbox."""
    from ._xlsform import to_xlsform

    try:
        to_xlsform(_instrument(instrument)).write(output)
    except OpsporingError as exc:
        _fail(exc)
    typer.echo(f"wrote {output}")


@interop_app.command("redcap-export")
def redcap_export(instrument: _Instrument, output: _Output) -> None:
    """Write the instrument as a REDCap data dictionary (CSV)."""
    from ._redcap import to_redcap_dictionary

    try:
        to_redcap_dictionary(_instrument(instrument)).to_csv(output, index=False)
    except OpsporingError as exc:
        _fail(exc)
    typer.echo(f"wrote {output}")


@interop_app.command("redcap-import")
def redcap_import(
    dictionary: Annotated[
        Path, typer.Argument(help="A REDCap data dictionary (CSV).", exists=True, dir_okay=False)
    ],
    output: _Output,
) -> None:
    """Read an instrument back from a REDCap data dictionary and write it as an instrument file."""
    import yaml

    from ._redcap import from_redcap_dictionary

    try:
        inst = from_redcap_dictionary(dictionary, source_name=str(dictionary))
        tree = inst.model_dump(mode="json", exclude_defaults=False)
        output.write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), "utf-8")
    except OpsporingError as exc:
        _fail(exc)
    typer.echo(f"wrote {output}")


@interop_app.command("instrument-schema")
def instrument_schema(output: _Output) -> None:
    """Write the JSON Schema of instrument files (for editors)."""
    from ._instrument_schema import schema_text

    output.write_text(schema_text(), "utf-8")
    typer.echo(f"wrote {output}")


@interop_app.command("score-parquet")
def score_parquet_command(
    instrument: _Instrument,
    source: Annotated[Path, typer.Argument(help="A Parquet file or a directory of them.")],
    output: _Output,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="A column to carry through (repeatable).")
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per chunk.")] = 262_144,
) -> None:
    """Score a Parquet file of forms in chunks (memory holds one chunk) into a Parquet file."""
    from ..scoring import score_parquet

    try:
        summary = score_parquet(
            _instrument(instrument), source, output, keep=keep or [], batch_rows=batch_rows
        )
    except OpsporingError as exc:
        _fail(exc)
        return
    typer.echo(f"scored {summary.rows_written:,} forms in {summary.batches} chunks: wrote {output}")


@interop_app.command("suggest-parquet")
def suggest_parquet_command(
    source: Annotated[Path, typer.Argument(help="A Parquet file of scores (from score-parquet).")],
    output: _Output,
    id_column: Annotated[str, typer.Option("--id", help="The form id column.")] = "form_id",
    model: Annotated[
        Path | None, typer.Option(help="Model file (default: the shipped one).")
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per chunk.")] = 65_536,
) -> None:
    """Suggestions with explanations for a Parquet file of scores, in chunks."""
    from ..model import load_model
    from ..scoring import suggest_parquet

    try:
        summary = suggest_parquet(
            load_model(model), source, output, id_column=id_column, batch_rows=batch_rows
        )
    except OpsporingError as exc:
        _fail(exc)
        return
    typer.echo(f"wrote {summary.rows_written:,} suggestions to {output}")
