"""Command-line options shared by every CLI module (one definition each).

``cli.py`` and the sub-apps registered in it (``interop``, ``model``, ``users``/``audit``)
import these, so ``--lang`` means the same everywhere (a test checks it).
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

__all__ = ["LangOption", "Language"]


class Language(str, enum.Enum):  # noqa: UP042 - typer needs a str-valued Enum
    """The language of a run's output (labels, sentences, decimal commas)."""

    da = "da"
    en = "en"


#: The one definition of ``--lang``, shared by every verb that prints text.
LangOption = Annotated[
    Language, typer.Option("--lang", "-l", help="Language of the output: da or en.")
]
