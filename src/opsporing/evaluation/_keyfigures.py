"""Population key figures: children per staircase step per 1,000 children aged 0-17.

The seeds follow municipalities' results as key figures per 1,000 children aged 0-17 per
step of the staircase, by municipality, and their change between two periods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _checks as chk
from ._checks import STEPS

KEY_FIGURE_COLUMNS = ("municipality", "period", "step", "children", "population", "per_1000")
CHANGE_COLUMNS = (
    "municipality",
    "step",
    "per_1000_before",
    "per_1000_after",
    "change",
    "relative_change",
)


def _labels(col: pd.Series, field: str) -> pd.Series:
    missing = col.isna().to_numpy()
    if missing.any():
        r = int(np.flatnonzero(missing)[0])
        label = col.index[r]
        raise chk.fail(
            field, None, "a value on every row", row=label if isinstance(label, int | str) else r
        )
    return col.astype(object)


def key_figures(
    children: pd.DataFrame,
    population: pd.DataFrame,
    *,
    municipality: str = "municipality",
    period: str = "period",
    step: str = "step",
    count: str | None = None,
    population_column: str = "children_0_17",
) -> pd.DataFrame:
    """Children per staircase step per 1,000 children aged 0-17, by municipality and period.

    Parameters
    ----------
    children : DataFrame
        One row per child (and period) with the municipality, the period and the step 0-6;
        or, with ``count``, one row per municipality x period x step with a count column.
    population : DataFrame
        One row per municipality x period with the number of children aged 0-17
        (``population_column``), the denominator.
    municipality, period, step : str
        Column names (the same in both tables for municipality and period).
    count : str, optional
        Column of counts when ``children`` is already aggregated.
    population_column : str, default "children_0_17"

    Returns
    -------
    DataFrame
        ``municipality, period, step, children, population, per_1000``: every municipality x
        period of ``population`` with all seven steps (zero where no child was counted).
        Step 0 is only meaningful when ``children`` lists every child, not only those with
        an intervention.

    Raises
    ------
    DataError
        A step outside 0-6, a missing value, a population that is not a positive number,
        a municipality x period listed twice in ``population``, or children counted where
        ``population`` has no denominator.

    Examples
    --------
    A municipality of 9,048 children (seed 003's average advisory municipality) with 181
    children on step 2: ``181 / 9048 · 1000 = 20.0`` per 1,000.

    >>> import pandas as pd
    >>> from opsporing.evaluation import key_figures
    >>> kids = pd.DataFrame({"municipality": ["A", "A"], "period": [2024, 2024],
    ...                      "step": [2, 3], "n": [181, 45]})
    >>> pop = pd.DataFrame({"municipality": ["A"], "period": [2024], "children_0_17": [9048]})
    >>> k = key_figures(kids, pop, count="n")
    >>> k[k.step.isin([2, 3])][["step", "children", "per_1000"]].round(2)
       step  children  per_1000
    2     2       181     20.00
    3     3        45      4.97
    """
    mun = _labels(chk.column(children, municipality, "municipality"), municipality)
    per = _labels(chk.column(children, period, "period"), period)
    st = chk.steps(chk.column(children, step, "step"), step)
    if count is not None:
        w = chk.scores(chk.column(children, count, "count"), count)
        bad = (w < 0) | (w != np.round(w))
        if bad.any():
            raise chk.fail(count, float(w[bad][0]), "a whole number of children >= 0")
    else:
        w = np.ones(len(st))
    pop_mun = _labels(chk.column(population, municipality, "municipality"), municipality)
    pop_per = _labels(chk.column(population, period, "period"), period)
    pop_n = chk.scores(
        chk.column(population, population_column, "population_column"), population_column
    )
    if (pop_n <= 0).any():
        raise chk.fail(population_column, float(pop_n[pop_n <= 0][0]), "a number of children > 0")
    denom = pd.Series(pop_n, index=pd.MultiIndex.from_arrays([pop_mun, pop_per]))
    if denom.index.has_duplicates:
        dup = denom.index[denom.index.duplicated()][0]
        raise chk.fail(
            "population",
            tuple(chk.plain(v) for v in dup),
            "one row per municipality and period",
        )

    keys = pd.MultiIndex.from_arrays([mun, per, st])
    counted = pd.Series(w, index=keys).groupby(level=[0, 1, 2]).sum()
    pairs = pd.MultiIndex.from_arrays(
        [counted.index.get_level_values(0), counted.index.get_level_values(1)]
    )
    known = pairs.isin(denom.index)
    if not known.all():
        m, p, _ = counted.index[~known][0]
        raise chk.fail(
            "population",
            chk.text(f"no row for municipality {chk.plain(m)!r}, period {chk.plain(p)!r}"),
            "a population for every municipality and period with children",
        )
    full = pd.MultiIndex.from_tuples(
        [(m, p, s) for m, p in denom.index for s in STEPS],
        names=["municipality", "period", "step"],
    )
    n = counted.reindex(full, fill_value=0.0).to_numpy()
    pop = np.repeat(denom.to_numpy(), len(STEPS))
    out = full.to_frame(index=False)
    out["step"] = out["step"].astype(np.int64)
    out["children"] = n.astype(np.int64)
    out["population"] = pop
    out["per_1000"] = n / pop * 1000.0
    return out.loc[:, list(KEY_FIGURE_COLUMNS)]


def key_figure_change(figures: pd.DataFrame, before: Any, after: Any) -> pd.DataFrame:
    """Change in children per 1,000 per step between two periods, by municipality.

    Parameters
    ----------
    figures : DataFrame
        The output of :func:`key_figures`.
    before, after : period labels
        The two periods compared; only municipalities present in both are shown.

    Returns
    -------
    DataFrame
        ``municipality, step, per_1000_before, per_1000_after, change, relative_change``
        with ``change = after - before`` (per 1,000) and ``relative_change = after / before
        - 1`` (``NaN`` where ``before`` is 0).

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import key_figures, key_figure_change
    >>> kids = pd.DataFrame({"municipality": ["A", "A"], "period": [2020, 2024], "step": [6, 6],
    ...                      "n": [40, 30]})
    >>> pop = pd.DataFrame({"municipality": ["A", "A"], "period": [2020, 2024],
    ...                     "children_0_17": [10000, 10000]})
    >>> c = key_figure_change(key_figures(kids, pop, count="n"), 2020, 2024)
    >>> c[c.step == 6][["per_1000_before", "per_1000_after", "change", "relative_change"]]
       per_1000_before  per_1000_after  change  relative_change
    6              4.0             3.0    -1.0            -0.25
    """
    for col in KEY_FIGURE_COLUMNS:
        chk.column(figures, col, "figures")
    periods = set(figures["period"].tolist())
    for name, value in (("before", before), ("after", after)):
        if value not in periods:
            raise chk.fail(
                name, value, f"one of the periods in figures {sorted(map(str, periods))}"
            )
    idx = ["municipality", "step"]
    b = figures.loc[figures["period"] == before].set_index(idx)["per_1000"]
    a = figures.loc[figures["period"] == after].set_index(idx)["per_1000"]
    both = pd.concat({"per_1000_before": b, "per_1000_after": a}, axis=1, join="inner")
    both["change"] = both["per_1000_after"] - both["per_1000_before"]
    before_v = both["per_1000_before"].to_numpy()
    rel = np.full(len(both), np.nan)
    np.divide(both["per_1000_after"].to_numpy(), before_v, out=rel, where=before_v != 0)
    both["relative_change"] = np.where(before_v != 0, rel - 1.0, np.nan)
    out: pd.DataFrame = both.reset_index().loc[:, list(CHANGE_COLUMNS)]
    return out
