"""Which instrument a child gets, by informant, setting and age: read from ``forms.yaml``."""

from __future__ import annotations

from functools import cache
from importlib import resources
from itertools import pairwise
from math import isfinite
from numbers import Real
from pathlib import Path
from typing import Any, get_args

from .._safeload import load_tree
from ..errors import InstrumentDefinitionError, Problem, UnknownInstrumentError
from ._registry import get_instrument
from ._schema import Informant, Instrument, Setting

_FORMAT = "opsporing-forms/1"


def _forms_path() -> Path:
    return Path(str(resources.files("opsporing.instruments").joinpath("forms.yaml")))


@cache
def current_forms() -> dict[tuple[str, str], tuple[Instrument, ...]]:
    """The current forms per ``(informant, setting)``, in age order, from ``forms.yaml``.

    Every listed instrument must exist, answer that setting and informant, and the age
    bands of one list must not overlap.

    Examples
    --------
    >>> [i.id for i in current_forms()[("educator", "skole")]]
    ['opsporing.skole.0-6', 'opsporing.skole.7-10']
    """
    path = _forms_path()
    tree: Any = load_tree(path)
    problems: list[Problem] = []
    out: dict[tuple[str, str], tuple[Instrument, ...]] = {}
    if not isinstance(tree, dict) or tree.get("format") != _FORMAT:
        raise InstrumentDefinitionError(
            str(path), [Problem("format", _short(tree), f"a mapping with format {_FORMAT}")]
        )
    for informant, by_setting in tree.items():
        if informant == "format":
            continue
        if informant not in get_args(Informant) or not isinstance(by_setting, dict):
            problems.append(
                Problem(str(informant), _short(by_setting), f"one of {get_args(Informant)}")
            )
            continue
        for setting, ids in by_setting.items():
            where = f"{informant}.{setting}"
            if setting not in get_args(Setting) or not isinstance(ids, list) or not ids:
                problems.append(
                    Problem(where, _short(ids), f"a setting {get_args(Setting)} with a list")
                )
                continue
            found: list[Instrument] = []
            for inst_id in ids:
                try:
                    inst = get_instrument(str(inst_id))
                except UnknownInstrumentError as exc:
                    problems.append(Problem(where, inst_id, str(exc)))
                    continue
                if setting not in inst.settings or inst.informant != informant:
                    problems.append(
                        Problem(
                            where,
                            inst.key,
                            f"an instrument for setting {setting!r} and informant "
                            f"{informant!r} (it has {list(inst.settings)}, {inst.informant!r})",
                        )
                    )
                    continue
                found.append(inst)
            found.sort(key=lambda i: i.age_years.min)
            for a, b in pairwise(found):
                if b.age_years.min < a.age_years.max:
                    problems.append(
                        Problem(
                            where,
                            [a.key, b.key],
                            "age bands that do not overlap (min <= age < max)",
                        )
                    )
            out[(informant, setting)] = tuple(found)
    if problems:
        raise InstrumentDefinitionError(str(path), problems)
    return out


def _short(value: object) -> object:
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def select_instrument(setting: str, age_years: float, informant: str = "educator") -> Instrument:
    """The current instrument for a child of ``age_years`` in ``setting``.

    Parameters
    ----------
    setting : {"dagtilbud", "skole"}
    age_years : float
        The child's age in years.
    informant : {"educator", "parent", "child"}, default "educator"

    Raises
    ------
    UnknownInstrumentError
        When no current form covers that informant, setting or age; the message names
        the age bands there are.

    Examples
    --------
    >>> select_instrument("skole", 9.5).id
    'opsporing.skole.0-6'
    >>> select_instrument("dagtilbud", 1.5).id, select_instrument("dagtilbud", 3.0).id
    ('opsporing.dagtilbud.0-2', 'opsporing.dagtilbud.3-5')
    """
    forms = current_forms()
    bands = forms.get((str(informant), str(setting)))
    if not bands:
        known = sorted(f"{i}/{s}" for i, s in forms)
        raise UnknownInstrumentError(
            str(
                Problem(
                    "informant/setting",
                    f"{informant}/{setting}",
                    f"one of {known}",
                )
            )
        )
    # A number of years only: text ("5"), bytes and yes/no (True == 1) were turned into an
    # age and chose a form for a child whose age nobody gave.
    if isinstance(age_years, bool) or not isinstance(age_years, Real):
        raise UnknownInstrumentError(
            str(Problem("age_years", age_years, "a number of years (not text or yes/no)"))
        )
    age = float(age_years)
    for k, inst in enumerate(bands):
        last = k == len(bands) - 1
        lo, hi = inst.age_years.min, inst.age_years.max
        if isfinite(age) and lo <= age and (age < hi or (last and age <= hi)):
            return inst
    ranges = [f"{i.id}: {i.age_years.min:g}-{i.age_years.max:g}" for i in bands]
    raise UnknownInstrumentError(
        str(Problem("age_years", age_years, f"an age one of these forms covers: {ranges}"))
    )
