"""The scenario of a synthetic population: one frozen, validated record."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import DataError, Problem

#: The family-background groups, in the order of every per-group tuple of the config.
#: They follow Statistics Denmark's *herkomst* categories. They are an **evaluation group
#: only**: never an input of a model, and never observed by the oracle.
GROUPS: tuple[str, ...] = ("dansk", "efterkommer", "indvandrer")

#: The year the model is calibrated for; ``drift_per_year`` counts from here.
REFERENCE_YEAR = 2026

#: Format name written into ``config.json`` and ``manifest.json``. Version 2: waves
#: ``0 .. n_waves - 1``, the ``waves`` table, the parent and child form tables.
FORMAT = "opsporing-synthetic/2"

#: Most children a configuration may ask for (ids are ``"C"`` + 7 digits).
MAX_CHILDREN = 2_000_000


@dataclass(frozen=True)
class SyntheticConfig:
    """The knobs of a synthetic population, with documented defaults.

    Every field is checked when the config is made; a bad value raises
    :class:`~opsporing.errors.DataError` naming the field, the value and what
    was expected.

    Parameters
    ----------
    n_children : int, default 50_000
        Children in the population (1 to 2,000,000).
    seed : int, default 20261123
        Seed of the only random source (:func:`numpy.random.default_rng` via a
        :class:`numpy.random.SeedSequence`); same seed, same data.
    year : int, default 2026
        Year of the current screening (wave :attr:`current_wave`); wave ``k`` is
        ``year - (current_wave - k)``.
    n_waves : int, default 3
        Yearly screening waves ``0 .. n_waves - 1`` (1 to 10); the last is the current one.
    n_municipalities : int, default 14
        Municipalities ``"K01"``, ``"K02"``, …, of varying size (K01 the largest).
    share_daycare : float, default 0.35
        Share of children in daycare (dagtilbud, age 0.5-6); the rest are at school (6-16).
    share_earlier_screening : float, default 0.5
        Probability that a child is *followed*: drawn once per child, independently of
        everything else; a followed child also has a screening in every earlier wave at
        which it was at least 0.5 years old.
    group_shares : tuple of 3 float, default (0.80, 0.12, 0.08)
        Population shares of the groups in :data:`GROUPS`; must sum to 1.
    group_strain_shift : tuple of 3 float, default (0.0, 0.15, 0.25)
        Mean of the latent family strain per group (SD units). Through the latent
        correlations this moves the other dimensions slightly too.
    prevalence_shift : float, default 0.0
        Added to the step index before the fixed step thresholds: positive values put
        more children on steps >= 1 *at the same latent state* (a change of practice).
        +0.3 roughly turns 5 % into 7 %.
    drift_per_year : float, default 0.0
        Shift of the means of latent difficulties and family strain per year after
        2026 (so ``year=2027, drift_per_year=0.2`` is a needier population than 2026),
        and the change of those two dimensions from the earlier screening to the
        current one for every child (``drift_per_year`` per wave).
    episode_size : float, default 1.2
        SD added to own difficulties D during an episode (0 to 4; 0 switches latent
        change off).
    episode_start : float, default 0.05
        P(an episode at wave 0).
    episode_onset : float, default 0.04
        P(an episode starts at wave k | none at wave k - 1).
    episode_onset_transition : float, default 0.10
        The same when the child moved from daycare to school between the two waves.
    episode_recovery : float, default 0.35
        P(an episode ends at wave k | one at wave k - 1).
    share_parent_form : float, default 0.7
        P(a parent form beside an educator form), per screened wave, independently.
    share_child_form : float, default 0.8
        P(the child's own form beside an educator form), per screened wave at school
        (ages 6+), independently.
    informant_harshness_sd : float, default 0.4
        SD of the harshness of each parent or child form (the three-point law of the
        raters'; every form its own draw).
    rater_harshness_sd : float, default 0.3
        SD of the raters' harshness (a shift of every concern item's latent value, in
        SD units). Each rater is mild, typical or harsh: -sqrt(3)*sd, 0, +sqrt(3)*sd with
        probabilities 1/6, 2/3, 1/6 (the three-point Gauss-Hermite law, SD exactly ``sd``).
    children_per_rater : int, default 20
        Average number of forms one rater (educator) fills in per municipality,
        setting and wave.
    rater_bias_against : str or None, default None
        A group of :data:`GROUPS` whose children every rater rates harsher, without any
        change in their latent state or true step; ``None`` for no bias.
    rater_bias_size : float, default 0.5
        Size of that bias (added to the latent value of every concern item, SD units).
    missing_rate : float, default 0.03
        Probability that an answer is missing, for a child of group ``"dansk"`` with
        average family strain.
    missing_group_odds : tuple of 3 float, default (1.0, 1.5, 2.5)
        Odds ratio of a missing answer per group (first must be 1.0 by convention of
        reference; set all to 1.0 to switch group-dependent missingness off).
    missing_strain_effect : float, default 0.3
        Log-odds of a missing answer per SD of latent family strain (0 = no dependence
        on the latent state).

    Examples
    --------
    >>> cfg = SyntheticConfig(n_children=1_000, seed=7)
    >>> cfg.n_children, cfg.rater_bias_against
    (1000, None)
    >>> SyntheticConfig(share_daycare=1.5)
    Traceback (most recent call last):
    ...
    opsporing.errors.DataError: SyntheticConfig.share_daycare = 1.5: expected a number from 0 to 1
    """

    n_children: int = 50_000
    seed: int = 20261123
    year: int = REFERENCE_YEAR
    n_municipalities: int = 14
    share_daycare: float = 0.35
    share_earlier_screening: float = 0.5
    group_shares: tuple[float, float, float] = (0.80, 0.12, 0.08)
    group_strain_shift: tuple[float, float, float] = (0.0, 0.15, 0.25)
    prevalence_shift: float = 0.0
    drift_per_year: float = 0.0
    rater_harshness_sd: float = 0.3
    children_per_rater: int = 20
    rater_bias_against: str | None = None
    rater_bias_size: float = 0.5
    missing_rate: float = 0.03
    missing_group_odds: tuple[float, float, float] = (1.0, 1.5, 2.5)
    missing_strain_effect: float = 0.3
    n_waves: int = 3
    episode_size: float = 1.2
    episode_start: float = 0.05
    episode_onset: float = 0.04
    episode_onset_transition: float = 0.10
    episode_recovery: float = 0.35
    share_parent_form: float = 0.7
    share_child_form: float = 0.8
    informant_harshness_sd: float = 0.4

    def __post_init__(self) -> None:
        _check_int(self, "n_children", 1, MAX_CHILDREN)
        _check_int(self, "seed", 0, 2**63 - 1)
        _check_int(self, "year", 1900, 2200)
        _check_int(self, "n_municipalities", 1, 99)
        _check_int(self, "children_per_rater", 1, 10_000)
        _check_int(self, "n_waves", 1, 10)
        for name in (
            "share_daycare",
            "share_earlier_screening",
            "episode_start",
            "episode_onset",
            "episode_onset_transition",
            "episode_recovery",
            "share_parent_form",
            "share_child_form",
        ):
            _check_float(self, name, 0.0, 1.0, "a number from 0 to 1")
        _check_float(self, "missing_rate", 0.0, 0.5, "a number from 0 to 0.5", closed_low=False)
        _check_float(self, "rater_harshness_sd", 0.0, 2.0, "a number from 0 to 2")
        _check_float(self, "informant_harshness_sd", 0.0, 2.0, "a number from 0 to 2")
        _check_float(self, "episode_size", 0.0, 4.0, "a number from 0 to 4")
        _check_float(self, "rater_bias_size", -3.0, 3.0, "a number from -3 to 3")
        _check_float(self, "prevalence_shift", -3.0, 3.0, "a number from -3 to 3")
        _check_float(self, "drift_per_year", -1.0, 1.0, "a number from -1 to 1")
        _check_float(self, "missing_strain_effect", -3.0, 3.0, "a number from -3 to 3")
        shares = _check_triple(self, "group_shares", 0.0, 1.0)
        if abs(sum(shares) - 1.0) > 1e-9 or min(shares) <= 0:
            _fail("group_shares", shares, "three positive shares summing to 1")
        _check_triple(self, "group_strain_shift", -3.0, 3.0)
        odds = _check_triple(self, "missing_group_odds", 1e-3, 1e3)
        if odds[0] != 1.0:
            _fail("missing_group_odds", odds, f"1.0 first (the reference group {GROUPS[0]!r})")
        if self.rater_bias_against is not None and self.rater_bias_against not in GROUPS:
            _fail("rater_bias_against", self.rater_bias_against, f"None or one of {list(GROUPS)}")
        if abs(self.drift_per_year * (self.year - REFERENCE_YEAR)) > 3.0:
            _fail(
                "year",
                self.year,
                f"a year for which |drift_per_year × (year - {REFERENCE_YEAR})| <= 3",
            )

    # --- views -----------------------------------------------------------------------------
    @property
    def current_wave(self) -> int:
        """The number of the current wave, ``n_waves - 1`` (waves are ``0 .. current_wave``).

        >>> SyntheticConfig(n_waves=3).current_wave
        2
        """
        return self.n_waves - 1

    @property
    def year_shift(self) -> float:
        """Shift of the latent means of difficulties and strain in ``year`` (SD units)."""
        return self.drift_per_year * (self.year - REFERENCE_YEAR)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Any) -> SyntheticConfig:
        """The config written by :meth:`to_dict` (unknown keys are an error).

        >>> cfg = SyntheticConfig(n_children=10)
        >>> SyntheticConfig.from_dict(cfg.to_dict()) == cfg
        True
        """
        if not isinstance(data, dict):
            _fail("<config>", type(data).__name__, "a mapping of field names to values")
        known = {f.name for f in fields(cls)}
        # Keys of any type (a dict built in code): compared and sorted as text.
        unknown = sorted((k for k in data if k not in known), key=repr)
        if unknown:
            _fail(
                unknown[0], data[unknown[0]], f"a field of SyntheticConfig, one of {sorted(known)}"
            )
        values: dict[str, Any] = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()
        }
        return cls(**values)


def _fail(name: str, value: Any, expected: str) -> None:
    raise DataError(Problem(f"SyntheticConfig.{name}", value, expected))


def _check_int(cfg: SyntheticConfig, name: str, lo: int, hi: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        _fail(name, value, f"a whole number from {lo:,} to {hi:,}")


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_float(
    cfg: SyntheticConfig, name: str, lo: float, hi: float, expected: str, closed_low: bool = True
) -> None:
    value = getattr(cfg, name)
    ok = _is_real(value) and (lo <= value if closed_low else lo < value) and value <= hi
    if not ok:
        _fail(name, value, expected)


def _check_triple(cfg: SyntheticConfig, name: str, lo: float, hi: float) -> tuple[float, ...]:
    value = getattr(cfg, name)
    if (
        not isinstance(value, tuple)
        or len(value) != len(GROUPS)
        or not all(_is_real(v) and lo <= v <= hi for v in value)
    ):
        _fail(name, value, f"a tuple of {len(GROUPS)} numbers from {lo:g} to {hi:g}, one per group")
    return tuple(float(v) for v in value)
