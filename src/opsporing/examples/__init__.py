"""Example forms shipped for the demo, the docs and your first script.

Examples
--------
>>> from opsporing import examples
>>> examples.names()
['dagtilbud_forms.csv', 'skole_forms.csv']
>>> examples.path("skole_forms.csv").name
'skole_forms.csv'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["names", "path"]


def names() -> list[str]:
    """The file names of the shipped example forms, sorted."""
    root = resources.files(__name__)
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".csv"))


def path(name: str) -> Path:
    """The path of a shipped example file, e.g. ``path("skole_forms.csv")``.

    Raises
    ------
    DataError
        ``name`` is not one of :func:`names`, naming the ones there are.
    """
    from ..errors import DataError, Problem

    if name not in names():
        raise DataError(Problem("name", name, f"one of {names()}", kind="unknown_example"))
    # The package is installed as files (not zipped), so the resource is a real path.
    return Path(str(resources.files(__name__).joinpath(name)))
