"""``opsporing round``: several informants' forms per child, scored together, disagreement shown.

Registered on the main app by ``cli.py`` (``register(app)``); the shared helpers of
``cli.py`` (errors, writing files, band colours) are imported when the verb runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ._cli_options import Format, FormatOption, LangOption, Language, RejectedOption
from ._texts import Lang, number, tr
from .errors import OpsporingError

if TYPE_CHECKING:  # pragma: no cover
    from .child import ScreeningRound

__all__ = ["register"]

_GAP_STYLE = {"differ": "yellow", "conflict": "bold red"}


def register(app: typer.Typer) -> None:
    """Add the ``round`` verb to ``app``."""
    app.command("round")(round_)


def round_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, one form per row: child_id, round_id, date (YYYY-MM-DD), instrument_id, "
            "items (optionally instrument_version, age_years, setting).",
            exists=True,
            dir_okay=False,
        ),
    ],
    instrument: Annotated[
        list[str] | None,
        typer.Option(
            "--instrument", "-i", help="An instrument file of your own (repeat for several)."
        ),
    ] = None,
    fmt: FormatOption = Format.table,
    rejected: RejectedOption = None,
    lang: LangOption = Language.da,
) -> None:
    """Score each child's round of forms (educator, parent, child) and show disagreements."""
    from . import cli
    from ._jobs import read_forms
    from .child import score_rounds

    language: Lang = lang.value
    try:
        forms = read_forms(file)
        own = [cli._instrument(name) for name in instrument or []]
        result = score_rounds(forms, instruments=own)
    except OpsporingError as exc:
        cli._write_rejected(exc, rejected, language)
        cli._fail(exc)
        return
    if fmt is not Format.table:
        typer.echo(cli._table_text(result.to_frame(language), fmt.value), nl=False)
        return
    for r in result.rounds:
        cli.console.print(_round_table(r, language, cli._band))
        for d in r.disagreements():
            style = _GAP_STYLE[d.disagreement]
            cli.console.print(f"  [{style}]•[/{style}] {escape(d.sentence(language))}")
        if r.red_flags:
            cli.console.print(
                "  [bold red]"
                + tr("⚑ notify (§ 133)", language)
                + f"[/bold red] {escape(', '.join(r.red_flags))}"
            )
        cli.console.print()
    cli.console.print(
        "[dim]"
        + tr(
            "Disagreement between informants is information: talk together before deciding. "
            "The combined band is the most concerned informant's, never an average.",
            language,
        )
        + "[/dim]"
    )


def _round_table(r: ScreeningRound, lang: Lang, show: Callable[[object, Lang], str]) -> Table:
    # Ids and labels come from the file and the user's own forms: Rich markup in them ("[/x]")
    # is shown as written, never read as a style (an unmatched tag was a MarkupError).
    title = escape(tr("child {child}, round {round} ({date})", lang, child=r.child_id,
                      round=r.round_id, date=r.date.isoformat()))  # fmt: skip
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column(tr("domain", lang))
    names = {"educator": tr("educator", lang), "parent": tr("parent", lang),
             "child": tr("child", lang)}  # fmt: skip
    for who in r.informants:
        table.add_column(names[who], justify="center")
    table.add_column(tr("combined", lang), justify="center")
    table.add_column(tr("disagreement", lang))
    for d in r.domains:
        cells = [escape(d.label.get(lang))]
        for who in r.informants:
            v = next((v for v in d.views if v.informant == who), None)
            cells.append(
                "–"
                if v is None or v.band is None
                else f"{show(v.band, lang)} {number(v.level or 0.0, lang)}"
            )
        gap = d.disagreement
        cells += [show(d.combined_band, lang), _gap(gap, lang)]
        table.add_row(*cells)
    return table


def _gap(level: str, lang: Lang) -> str:
    # One literal tr() per level, so the catalog's extractor finds each word.
    if level == "conflict":
        return "[bold red]" + tr("conflict", lang) + "[/bold red]"
    if level == "differ":
        return "[yellow]" + tr("differ", lang) + "[/yellow]"
    if level == "agree":
        return tr("agree", lang)
    if level == "single":
        return "[dim]" + tr("one voice", lang) + "[/dim]"
    return "[dim]" + tr("not scored", lang) + "[/dim]"
