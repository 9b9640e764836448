"""Command-line options shared by every CLI module (one definition each).

``cli.py`` and the sub-apps registered in it (``interop``, ``model``, ``users``/``audit``)
import these, so ``--lang`` means the same everywhere (a test checks it).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["Format", "FormatOption", "LangOption", "Language", "RejectedOption"]


class Language(str, enum.Enum):  # noqa: UP042 - typer needs a str-valued Enum
    """The language of a run's output (labels, sentences, decimal commas)."""

    da = "da"
    en = "en"


#: The one definition of ``--lang``, shared by every verb that prints text.
LangOption = Annotated[
    Language, typer.Option("--lang", "-l", help="Language of the output: da or en.")
]


class Format(str, enum.Enum):  # noqa: UP042
    """How a table is printed: for people, or for other programs."""

    table = "table"
    csv = "csv"
    json = "json"


#: The one definition of ``--format``.
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table (for people), csv or json (for programs).")
]
#: The one definition of ``--rejected``.
RejectedOption = Annotated[
    Path | None,
    typer.Option(
        "--rejected", help="On bad input, write every problem (row, field, value) to this CSV."
    ),
]
