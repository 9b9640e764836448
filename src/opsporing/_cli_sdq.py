"""``opsporing sdq FILE``: score SDQ responses and show the published bands with their sources.

Registered on the main command line in ``cli.py``; it uses that module's ``--format``,
error printing and console, so the verb behaves like every other verb.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from ._cli_options import Format, FormatOption, LangOption, Language, RejectedOption
from ._texts import Lang, tr
from .cli import _fail, _table_text, _write_rejected, console
from .errors import OpsporingError
from .interop import read_sdq, score_sdq_responses, sdq_bands, sdq_key
from .interop._sdq import BANDED

__all__ = ["sdq"]


def sdq(
    file: Annotated[
        Path,
        typer.Argument(
            help="KL Gateway FHIR export (.json/.ndjson) or a table (.csv/.json) of SDQ responses.",
            exists=True,
            dir_okay=False,
        ),
    ],
    fmt: FormatOption = Format.table,
    rejected: RejectedOption = None,
    lang: LangOption = Language.da,
) -> None:
    """Score SDQ responses (parent, teacher, self-report) and show the published bands."""
    language: Lang = lang.value
    try:
        responses = read_sdq(file)
        scores = score_sdq_responses(responses)
        bands = sdq_bands(responses, scores)
    except OpsporingError as exc:
        _write_rejected(exc, rejected, language)
        _fail(exc)
        return
    if fmt is not Format.table:
        typer.echo(_table_text(bands, fmt.value), nl=False)
        return
    _print_tables(scores, bands, language)


def _print_tables(scores: pd.DataFrame, bands: pd.DataFrame, lang: Lang) -> None:
    key = sdq_key()
    scales = [*BANDED, "impact"]
    who = {k: v.get(lang, v["en"]) for k, v in key.informant_labels.items()}
    by_set = bands.dropna(subset=["band_set"])
    shown: list[str] = []
    for set_id, rows in by_set.groupby("band_set", sort=False):
        band_set = next(b for b in key.band_sets if b.id == set_id)
        shown.append(str(set_id))
        table = Table(title=band_set.label.get(lang, band_set.label["en"]), title_justify="left")
        for col in ("child", "respondent", "date", *scales):
            label = key.labels[col].get(lang) if col in key.labels else col
            table.add_column(str(label), justify="right" if col in scales else "left")
        for pos in sorted({int(p) for p in rows["response"]}):
            one = rows[rows["response"] == pos]
            cells = {r.scale: _cell(r.score, getattr(r, f"band_{lang}")) for r in one.itertuples()}
            row = scores.iloc[pos]
            impact = row["score.impact"]
            cells["impact"] = "–" if pd.isna(impact) else str(int(impact))
            date = "" if row["date"] is None or pd.isna(row["date"]) else str(row["date"])
            table.add_row(str(row["child"]), who[row["respondent"]], date,
                          *(cells.get(s, "–") for s in scales))  # fmt: skip
        console.print(table)
    unbanded = sorted(set(range(len(scores))) - set(by_set["response"].astype(int)))
    if unbanded:
        table = Table(title="SDQ", title_justify="left")
        for col in ("child", "respondent", "date", *scales):
            label = key.labels[col].get(lang) if col in key.labels else col
            table.add_column(str(label), justify="right" if col in scales else "left")
        for pos in unbanded:
            row = scores.iloc[pos]
            date = "" if row["date"] is None or pd.isna(row["date"]) else str(row["date"])
            values = [row[f"score.{s}"] for s in scales]
            table.add_row(str(row["child"]), who[row["respondent"]], date,
                          *("–" if pd.isna(v) else str(int(v)) for v in values))  # fmt: skip
        console.print(table)
    for set_id in shown:
        band_set = next(b for b in key.band_sets if b.id == set_id)
        console.print(f"[dim]{set_id}: {band_set.source}[/dim]")
    console.print(
        "[dim]"
        + tr(
            "Scores and suggestions are decision support. A professional decides, and the "
            "duty to notify (barnets lov § 133) never waits for a score.",
            lang,
        )
        + "[/dim]"
    )


def _cell(score: object, band: object) -> str:
    if score is None or pd.isna(score):  # type: ignore[call-overload]
        return "–"
    return f"{int(score)} {band}" if isinstance(band, str) else str(int(score))  # type: ignore[call-overload]
