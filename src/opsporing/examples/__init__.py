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
    "FORM_EXAMPLES",
    "FORM_EXAMPLES_SEED",
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
    """Write the example pair again: 800 synthetic children (seed 20261201), every wave.

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


#: The current forms' example files: instrument id -> (file name, form-id prefix).
FORM_EXAMPLES: dict[str, tuple[str, str]] = {
    "opsporing.dagtilbud.0-2": ("dagtilbud_0_2_forms.csv", "A"),
    "opsporing.dagtilbud.3-5": ("dagtilbud_3_5_forms.csv", "B"),
    "opsporing.skole.0-6": ("skole_0_6_forms.csv", "C"),
    "opsporing.skole.7-10": ("skole_7_10_forms.csv", "E"),
}
#: The synthetic population the form examples are drawn from (4,000 children, current wave).
FORM_EXAMPLES_SEED = 20261203


def write_form_examples(directory: str | Path) -> list[Path]:
    """Write the current forms' example files again (the shipped files are exactly these).

    Eight synthetic children per form, from the current wave of 4,000 children (seed
    :data:`FORM_EXAMPLES_SEED`): five complete forms without red flags or critical answers
    at the 20th, 50th, 80th, 93rd and 99.5th percentile of the total, then one with a
    critical answer but a green total, one with a domain that cannot be scored, and one
    with a red flag. Run ``python -c "from opsporing.examples import write_form_examples;
    write_form_examples('src/opsporing/examples')"`` after the forms or the synthetic model
    change; a test checks the shipped files equal what this writes.
    """
    import numpy as np

    from ..instruments import get_instrument
    from ..scoring import score_batch
    from ..synthetic import SyntheticConfig, generate

    pop = generate(SyntheticConfig(n_children=4000, seed=FORM_EXAMPLES_SEED), progress=False)
    written = []
    for forms in pop.forms.values():
        wave = forms[forms["wave"] == pop.config.current_wave]
        for inst_id, group in wave.groupby("instrument_id"):
            if inst_id not in FORM_EXAMPLES:
                continue
            inst = get_instrument(str(inst_id))
            g = group[["age_years", *inst.item_ids]].reset_index(drop=True)
            sc = score_batch(inst, g)
            order = np.argsort(np.nan_to_num(sc["score.total"].to_numpy(), nan=99), kind="stable")
            clean = [
                i
                for i in order
                if sc.at[i, "n_missing"] == 0
                and not sc.at[i, "red_flag"]
                and not sc.at[i, "critical"]
            ]
            typical = [clean[int(q * (len(clean) - 1))] for q in (0.2, 0.5, 0.8, 0.93, 0.995)]
            critical = [
                i
                for i in order
                if sc.at[i, "critical"]
                and not sc.at[i, "red_flag"]
                and sc.at[i, "band.total"] == "grøn"
            ][:1]
            unscored = ~sc[[c for c in sc.columns if c.startswith("scorable.")]].all(axis=1)
            missing = [i for i in order if unscored[i] and not sc.at[i, "red_flag"]][:1]
            flag = [i for i in range(len(g)) if sc.at[i, "red_flag"]][:1]
            out = g.loc[typical + critical + missing + flag].reset_index(drop=True)
            name, prefix = FORM_EXAMPLES[str(inst_id)]
            out.insert(0, "form_id", [f"{prefix}{k + 1:03d}" for k in range(len(out))])
            out["age_years"] = out["age_years"].round(1)
            out["instrument_version"] = inst.version
            target = Path(directory) / name
            out.to_csv(target, index=False, float_format="%g")
            written.append(target)
    return sorted(written)


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
