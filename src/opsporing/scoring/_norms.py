"""Band cut-offs from a norm population: the percentile rule behind ``opsporing norms``.

The rule
--------
For a concern score (higher = more concern) and a percentile rule ``yellow: Y, red: R``:

* ``gul`` starts at the lowest cut-off ``c`` such that the share of the norm population with
  a score of at least ``c`` is **at most** ``1 - Y/100`` (``Y = 80``: at most 20 % flagged gul
  or rød); ``rød`` likewise with ``1 - R/100``.
* Scores are discrete and tie: every child with the same score lands in the same band, so the
  share flagged can rarely be exactly the target. The rule takes the cut-off whose share is the
  closest to the target **from below**: never more children flagged than the percentile says,
  where that is possible. Cut-offs are taken on the score's own grid (whole numbers for a
  ``sum`` domain and the total, multiples of one item's step for a ``mean`` domain), so they
  read as answers add up.
* ``rød`` is at least one grid step above ``gul``. When a tie at the top makes the target
  impossible (more than ``1 - R/100`` of the population at the highest reachable score),
  ``rød`` is the highest reachable score and ``gul`` the step below: the only case where more
  are flagged than the target.
* A strength score (higher = more resources) is mirrored: ``gul`` at or below the highest
  cut-off whose share at or below it is at most ``1 - Y/100``.

Only scorable scores count (an unscorable domain is unknown, not zero); each domain and the
total must have at least ``min_forms`` of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, Problem
from ..instruments import Cutoffs, Instrument, LocalText, Norms, PercentileRule, build_instrument
from ._batch import band_column, score_batch, score_column

#: Fewest scorable forms per domain (and for the total) a norm population must have: below it,
#: the 97th percentile rests on a handful of children.
MIN_NORM_FORMS = 200

#: The SDQ convention for the total: gul from the 80th percentile, rød from the 90th.
TOTAL_RULE = PercentileRule(yellow=80, red=90)
#: Stricter for single domains, so that a child is not flagged by one of seven domains at
#: the rate the total flags: gul from the 90th percentile, rød from the 97th.
DOMAIN_RULE = PercentileRule(yellow=90, red=97)

#: Decimals a cut-off is written with (mean domains have fractional grids).
_DECIMALS = 4


@dataclass(frozen=True)
class _Score:
    """One score to derive cut-offs for: a domain or the total."""

    name: str  # domain id or "total"
    where: str  # field name for messages: "domains[mood].bands" or "total.bands"
    lo: float
    hi: float
    step: float
    strength: bool
    rule: PercentileRule


def _rule(value: Any, field: str) -> PercentileRule:
    if isinstance(value, PercentileRule):
        return value
    try:
        if isinstance(value, Mapping):
            return PercentileRule.model_validate(dict(value))
        yellow, red = value
        return PercentileRule(yellow=yellow, red=red)
    except Exception as exc:  # pydantic's ValidationError, or not a pair
        raise DataError(
            Problem(
                field,
                value,
                "a percentile rule (yellow, red) with 0 < yellow < red < 100",
                kind="argument",
            )
        ) from exc


def _scores_of(population: Any, instrument: Instrument) -> pd.DataFrame:
    """The population's scores: ``population`` is a score table or a form table."""
    if not isinstance(population, pd.DataFrame):
        raise DataError(
            Problem(
                "population",
                type(population).__name__,
                "a DataFrame of forms or of their scores (score_batch)",
                kind="type",
            )
        )
    if "instrument" in population.columns and any(
        str(c).startswith("score.") for c in population.columns
    ):
        keys = population["instrument"].astype("string").unique().tolist()
        if keys != [instrument.key]:
            raise DataError(
                Problem(
                    "population.instrument",
                    keys[:5],
                    f"scores of {instrument.key} only",
                    kind="wrong_instrument",
                )
            )
        return population
    # Forms: scored here; any bad row is an error (norms rest on clean data only).
    return score_batch(instrument, population)


def _targets(
    instrument: Instrument, total: PercentileRule, domains: PercentileRule
) -> list[_Score]:
    out = []
    for d in instrument.domains:
        lo, hi = instrument.score_range(d.id)
        n = len(instrument.scored_items_in(d.id))
        step = 1.0 if d.method == "sum" else 1.0 / n
        out.append(
            _Score(d.id, f"domains[{d.id}].bands", lo, hi, step, d.direction == "strength", domains)
        )
    if instrument.total is not None:
        ranges = [instrument.score_range(d) for d in instrument.total.domains]
        lo, hi = sum(r[0] for r in ranges), sum(r[1] for r in ranges)
        out.append(_Score("total", "total.bands", lo, hi, 1.0, False, total))
    return out


def _grid(s: _Score) -> np.ndarray:
    """Possible cut-offs: the score's grid from ``lo`` to ``hi`` (both included)."""
    steps = round((s.hi - s.lo) / s.step)
    return np.round(s.lo + s.step * np.arange(steps + 1), _DECIMALS)


def _cutoffs(values: np.ndarray, s: _Score) -> Cutoffs:
    """Cut-offs for one score by the percentile rule (see the module docstring)."""
    grid = _grid(s)
    if s.strength:
        # Mirror: a strength score flags the lowest; negate, apply the concern rule, negate.
        flipped = _Score(s.name, s.where, -s.hi, -s.lo, s.step, False, s.rule)
        c = _concern_cutoffs(-values, -grid[::-1], flipped)
        return Cutoffs(yellow=-c.yellow + 0.0, red=-c.red + 0.0)
    return _concern_cutoffs(values, grid, s)


def _concern_cutoffs(values: np.ndarray, grid: np.ndarray, s: _Score) -> Cutoffs:
    ordered = np.sort(values)
    n = len(ordered)
    # Share flagged (score >= c) at every candidate; tiny tolerance for prorated floats.
    share = (n - np.searchsorted(ordered, grid - 1e-9, side="left")) / n
    y = _lowest_within(share, 1 - s.rule.yellow / 100)
    r = _lowest_within(share, 1 - s.rule.red / 100)
    if r <= y:  # ties: rød one step above gul, or gul one step below the top
        if y + 1 < len(grid):
            r = y + 1
        else:
            y, r = len(grid) - 2, len(grid) - 1
    return Cutoffs(yellow=float(grid[y]), red=float(grid[r]))


def _lowest_within(share: np.ndarray, target: float) -> int:
    """Index of the lowest cut-off whose share is at most ``target`` (the top one if none is)."""
    within = np.flatnonzero(share <= target + 1e-12)
    return int(within[0]) if within.size else len(share) - 1


def _bumped(version: str) -> str:
    major, minor, _ = version.split(".")
    return f"{major}.{int(minor) + 1}.0"


def _label(value: LocalText | Mapping[str, str] | str | None, n: int) -> LocalText:
    if value is None:
        return LocalText(
            da=f"Normpopulation på {n:,} skemaer".replace(",", "."),
            en=f"Norm population of {n:,} forms",
        )
    if isinstance(value, LocalText):
        return value
    if isinstance(value, str):
        return LocalText(da=value, en=value)
    try:
        return LocalText.of(dict(value), "population_label")
    except Exception as exc:
        raise DataError(
            Problem(
                "population_label",
                value,
                "a text: Danish ('da') and any further language codes",
                kind="argument",
            )
        ) from exc


def derive_norms(
    population: pd.DataFrame,
    instrument: Instrument,
    *,
    total: PercentileRule | tuple[float, float] | Mapping[str, float] = TOTAL_RULE,
    domains: PercentileRule | tuple[float, float] | Mapping[str, float] = DOMAIN_RULE,
    population_label: LocalText | Mapping[str, str] | str | None = None,
    source: str = "opsporing.scoring.derive_norms",
    min_forms: int = MIN_NORM_FORMS,
) -> Instrument:
    """A new version of ``instrument`` with band cut-offs derived from a norm population.

    Parameters
    ----------
    population : DataFrame
        The norm population: forms (item columns, scored here; any bad row is an error) or
        their scores from :func:`score_batch` for this instrument.
    instrument : Instrument
    total, domains : PercentileRule or (yellow, red)
        Percentile rules for the total (default 80/90, the SDQ convention) and for every
        domain (default 90/97). ``gul`` flags at most ``100 - yellow`` % of the population,
        ``rød`` at most ``100 - red`` % (see the module docstring for ties).
    population_label : LocalText, mapping or str, optional
        Who the population is, in Danish and English (a str is used for both), e.g.
        "Screeninger i Aarhus Kommune 2026". Default: "Norm population of N forms".
    source : str
        Where the forms come from (a file name, a study), written to ``norms.source``.
    min_forms : int
        Fewest scorable forms per domain and for the total (default
        :data:`MIN_NORM_FORMS`, 200).

    Returns
    -------
    Instrument
        The same instrument with ``bands`` replaced, the ``norms`` block filled and the
        minor version bumped (``1.0.0`` -> ``1.1.0``). Validated like any loaded file.

    Raises
    ------
    DataError
        Too few scorable forms for a domain or the total (every one named), a score table of
        another instrument, or a malformed rule.
    ResponseValidationError
        Forms with bad answers (every problem of every row).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> topi = get_instrument("topi")
    >>> answers = np.repeat([0, 1, 2], [160, 30, 10])  # 200 forms
    >>> normed = derive_norms(pd.DataFrame({"1vurdering": answers}), topi)
    >>> normed.version, normed.domain("vurdering").bands
    ('1.1.0', Cutoffs(yellow=1.0, red=2.0))
    """
    total_rule, domain_rule = _rule(total, "total"), _rule(domains, "domains")
    if isinstance(min_forms, bool) or not isinstance(min_forms, int) or min_forms < 1:
        raise DataError(Problem("min_forms", min_forms, "a positive whole number", kind="argument"))
    if not isinstance(instrument, Instrument):
        raise DataError(
            Problem("instrument", type(instrument).__name__, "an opsporing Instrument", kind="type")
        )
    scores = _scores_of(population, instrument)
    targets = _targets(instrument, total_rule, domain_rule)
    columns = {
        s.name: scores[score_column(s.name)].to_numpy(dtype=np.float64, na_value=np.nan)
        for s in targets
    }
    problems = [
        Problem(
            f"population.{score_column(s.name)}",
            f"{int(np.count_nonzero(~np.isnan(columns[s.name])))} scorable forms",
            f"at least {min_forms} scorable forms for a norm (a smaller population gives "
            "cut-offs that rest on a handful of children)",
            kind="too_few_forms",
        )
        for s in targets
        if np.count_nonzero(~np.isnan(columns[s.name])) < min_forms
    ]
    if problems:
        raise DataError(*problems)
    cut = {s.name: _cutoffs(columns[s.name][~np.isnan(columns[s.name])], s) for s in targets}

    tree = instrument.model_dump(mode="json", exclude_none=True)
    tree["version"] = _bumped(instrument.version)
    for d in tree["domains"]:
        d["bands"] = cut[d["id"]].model_dump()
    if instrument.total is not None:
        tree["total"]["bands"] = cut["total"].model_dump()
    tree["norms"] = Norms(
        total=total_rule if instrument.total is not None else None,
        domains=domain_rule,
        population=_label(population_label, len(scores)),
        n=max(len(scores), 1),
        source=source[:500] or "opsporing.scoring.derive_norms",
    ).model_dump(mode="json", exclude_none=True)
    return build_instrument(tree, f"{instrument.key} with norms")


def band_shares(population: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """The share of a population each band flags, per domain, the total and overall.

    Parameters
    ----------
    population : DataFrame
        Forms, or their scores from :func:`score_batch` for ``instrument``.
    instrument : Instrument

    Returns
    -------
    DataFrame
        One row per domain, ``total`` and ``overall``: ``n`` (scorable forms), ``yellow``,
        ``red`` (the cut-offs; NaN for overall), ``gul_or_rød`` and ``rød`` (shares of the
        scorable forms).

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> t = band_shares(pd.DataFrame({"1vurdering": [0, 0, 1, 2]}), get_instrument("topi"))
    >>> row = t.loc["vurdering"]
    >>> int(row["n"]), float(row["gul_or_rød"]), float(row["rød"])
    (4, 0.5, 0.25)
    """
    scores = _scores_of(population, instrument)
    rows = []
    names = [*instrument.domain_ids, *(["total"] if instrument.total is not None else [])]
    for name in [*names, "overall"]:
        band = scores[band_column(name)]
        n = int(band.notna().sum())
        bands = (
            instrument.total.bands
            if name == "total" and instrument.total is not None
            else instrument.domain(name).bands
            if name != "overall"
            else None
        )
        rows.append(
            {
                "score": name,
                "n": n,
                "yellow": bands.yellow if bands is not None else math.nan,
                "red": bands.red if bands is not None else math.nan,
                "gul_or_rød": float(band.isin(["gul", "rød"]).sum() / n) if n else math.nan,
                "rød": float((band == "rød").sum() / n) if n else math.nan,
            }
        )
    return pd.DataFrame(rows).set_index("score")
