"""Example files shipped for the demo, the docs, your first script and the researcher notebook.

- ``dagtilbud_0_2_forms.csv``, ``dagtilbud_3_5_forms.csv``, ``skole_0_6_forms.csv``,
  ``skole_7_10_forms.csv``: forms on the four current (age-fitted) educator forms, for the
  demo: eight synthetic children each (thriving to high concern, a critical answer, missing
  answers, a red flag).
- ``dagtilbud_forms.csv``, ``skole_forms.csv``: forms on the earlier one-form-for-all-ages
  versions (``opsporing.dagtilbud.trivsel``, ``opsporing.skole.trivsel``), which still load
  and score; used by the README's first script and the docs.
- ``own_screenings.csv``, ``own_outcomes.csv``: a pair of files in the format for one's
  own data (``docs/researcher-guide.md``), written by :func:`write_own_data_example` from
  synthetic children (**not real children**).

Examples
--------
>>> from opsporing import examples
>>> examples.names()  # doctest: +NORMALIZE_WHITESPACE
['dagtilbud_0_2_forms.csv', 'dagtilbud_3_5_forms.csv', 'dagtilbud_forms.csv',
 'own_outcomes.csv', 'own_screenings.csv', 'skole_0_6_forms.csv', 'skole_7_10_forms.csv',
 'skole_forms.csv']
>>> examples.path("skole_forms.csv").name
'skole_forms.csv'
>>> screenings, outcomes = own_data_paths()
>>> screenings.name, outcomes.name
('own_screenings.csv', 'own_outcomes.csv')
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = [
    "OWN_DATA_CHILDREN",
    "OWN_DATA_SEED",
    "names",
    "own_data_paths",
    "path",
    "write_own_data_example",
]

#: The synthetic population of the own-data example: how many children, which seed.
OWN_DATA_CHILDREN = 800
OWN_DATA_SEED = 20261201

_SCREENINGS, _OUTCOMES = "own_screenings.csv", "own_outcomes.csv"


def own_data_paths() -> tuple[Path, Path]:
    """Paths of the shipped example screenings and outcomes (inside the installed package)."""
    root = Path(str(resources.files("opsporing.examples")))
    return root / _SCREENINGS, root / _OUTCOMES


def write_own_data_example(directory: str | Path) -> tuple[Path, Path]:
    """Write the example pair again: 800 synthetic children (seed 20261201), both waves.

    The shipped files are exactly what this writes (a test checks it). Group columns in the
    outcomes file: ``sex``, ``municipality``, ``setting``, ``family_background``.
    """
    from ..evaluation import write_own_data
    from ..synthetic import SyntheticConfig, generate

    pop = generate(
        SyntheticConfig(n_children=OWN_DATA_CHILDREN, seed=OWN_DATA_SEED), progress=False
    )
    screenings, outcomes = write_own_data(pop, directory)
    out = Path(directory)
    return (
        screenings.replace(out / _SCREENINGS),
        outcomes.replace(out / _OUTCOMES),
    )


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
