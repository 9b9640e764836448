"""The fixed parts of the generative model, shared by the generator and the oracle.

Everything random lives in :mod:`._generate`; everything here is a constant or a
deterministic function, so the generator and the oracle cannot disagree about the
model. The story is told in full in the package docstring and ``docs/synthetic.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit, ndtr

from ..errors import DataError, Problem, UnknownInstrumentError
from ..instruments import Instrument, current_forms, get_instrument, select_instrument
from ._config import GROUPS, SyntheticConfig

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: The settings; which instrument a child gets in each, by age, is ``instruments/forms.yaml``
#: (:func:`opsporing.instruments.select_instrument`).
SETTINGS: tuple[str, ...] = ("dagtilbud", "skole")

#: Columns of the step probabilities returned by the oracle.
STEP_COLUMNS: tuple[str, ...] = tuple(f"p_step_{k}" for k in range(7))

#: The form tables of a population (``pop.forms`` keys): the educators' forms per setting,
#: then the parents' and the children's own forms (each over both settings).
FORM_TABLES: tuple[str, ...] = ("dagtilbud", "skole", "parent", "child")
#: Who fills in the forms of each table (an instrument's ``informant``).
INFORMANT_OF_TABLE: dict[str, str] = {
    "dagtilbud": "educator",
    "skole": "educator",
    "parent": "parent",
    "child": "child",
}
#: The informants, in table order.
INFORMANTS: tuple[str, ...] = ("educator", "parent", "child")
#: A setting changes from daycare to school at this age (at wave k: ``age_k < 6``).
SCHOOL_AGE = 6.0
#: A child is screened at an earlier wave only if it was at least this old then.
MIN_SCREENING_AGE = 0.5

# --- latent state ------------------------------------------------------------------------------
#: Correlation of own difficulties D, resources R and acute-risk propensity S* with family
#: strain F. D, R and S* are independent given F (a star around F), so corr(D, R) = -0.225.
RHO_DF = 0.45
RHO_RF = -0.5
RHO_SF = 0.5
#: Acute safety risk is present when S* exceeds this (about 0.47 % of children).
SAFETY_THRESHOLD = 2.62

# --- ground truth: ordered probit on the step index --------------------------------------------
#: Step index = W_D·D + W_F·F + W_ACUTE·acute + prevalence_shift + SIGMA_STEP·ε, ε ~ N(0, 1).
W_D = 0.75
W_F = 0.75
W_ACUTE = 2.5
SIGMA_STEP = 0.85
#: Thresholds of steps 1..6 on the step index, calibrated once (``_calibrate_thresholds``) so
#: that the default population has per 1,000 children about 20, 12, 8, 3, 5 and 2 on steps
#: 1-6: 5 % on steps >= 1, 1 % placed out of home, the institution (step 6) the rarest.
STEP_THRESHOLDS: tuple[float, ...] = (2.7331, 3.1281, 3.5026, 3.9212, 4.174, 5.0921)
#: The targets the thresholds were calibrated to: P(step >= k) for k = 1..6.
STEP_TARGETS: tuple[float, ...] = (0.050, 0.030, 0.018, 0.010, 0.007, 0.002)


# --- latent change: episodes of own difficulties -----------------------------------------------
def wave_ages(cfg: SyntheticConfig, age: F64) -> F64:
    """Ages at the waves ``0 .. current_wave`` (last axis) of children aged ``age`` now.

    Wave ``k`` lies ``current_wave - k`` years before the current one; ages are in
    1/100 years (rounded), and negative before birth.

    >>> from opsporing.synthetic import SyntheticConfig
    >>> wave_ages(SyntheticConfig(n_waves=3), np.array([6.3])).tolist()
    [[4.3, 5.3, 6.3]]
    """
    back = np.arange(cfg.current_wave, -1, -1, dtype=np.float64)
    out: F64 = np.round(np.asarray(age, dtype=np.float64)[..., None] - back, 2)
    return out


def wave_settings(ages: F64) -> I64:
    """Index into :data:`SETTINGS` at each age: daycare below 6 (also before birth), school."""
    return (np.asarray(ages) >= SCHOOL_AGE).astype(np.int64)


def wave_year(cfg: SyntheticConfig, wave: int | I64) -> I64:
    """The calendar year of a wave: ``year - (current_wave - wave)``."""
    return cfg.year - (cfg.current_wave - np.asarray(wave, dtype=np.int64))


def wave_drift(cfg: SyntheticConfig, wave: int | I64) -> F64:
    """Shift of the latent means of D and F at a wave relative to the current one.

    ``-drift_per_year * (current_wave - wave)``: 0 at the current wave.
    """
    back = cfg.current_wave - np.asarray(wave, dtype=np.float64)
    return -cfg.drift_per_year * back


def episode_transition(cfg: SyntheticConfig, age_prev: F64, age_next: F64) -> tuple[F64, F64]:
    """P(onset) and P(recovery) of the episode chain between two consecutive waves.

    The one home of the episode law, read by the generator and the oracle: an episode
    starts with probability ``episode_onset`` (``episode_onset_transition`` when the child
    moved from daycare to school between the waves, ``age_prev < 6 <= age_next``) and an
    ongoing one ends with probability ``episode_recovery``. At wave 0, P(episode) is
    ``episode_start``.

    >>> from opsporing.synthetic import SyntheticConfig
    >>> onset, recovery = episode_transition(SyntheticConfig(), np.array([4.5, 5.5]),
    ...                                      np.array([5.5, 6.5]))
    >>> onset.tolist(), recovery.tolist()
    ([0.04, 0.1], [0.35, 0.35])
    """
    prev = np.asarray(age_prev, dtype=np.float64)
    nxt = np.asarray(age_next, dtype=np.float64)
    moved = (prev < SCHOOL_AGE) & (nxt >= SCHOOL_AGE)
    onset: F64 = np.where(moved, cfg.episode_onset_transition, cfg.episode_onset)
    recovery: F64 = np.full(np.broadcast(prev, nxt).shape, float(cfg.episode_recovery))
    return onset, recovery


def episode_matrices(cfg: SyntheticConfig, ages: F64) -> tuple[F64, F64]:
    """The chain's initial law and transition matrices given each child's wave ages.

    Returns ``start`` of shape ``(..., 2)`` (P(E_0 = 0), P(E_0 = 1)) and ``move`` of
    shape ``(..., n_waves - 1, 2, 2)`` with ``move[..., k - 1, i, j] = P(E_k = j | E_{k-1}
    = i)``, for ``ages`` of shape ``(..., n_waves)`` (:func:`wave_ages`).
    """
    ages = np.asarray(ages, dtype=np.float64)
    start = np.empty((*ages.shape[:-1], 2))
    start[..., 0], start[..., 1] = 1.0 - cfg.episode_start, cfg.episode_start
    onset, recovery = episode_transition(cfg, ages[..., :-1], ages[..., 1:])
    move = np.empty((*onset.shape, 2, 2))
    move[..., 0, 0], move[..., 0, 1] = 1.0 - onset, onset
    move[..., 1, 0], move[..., 1, 1] = recovery, 1.0 - recovery
    return start, move


def episode_probability(cfg: SyntheticConfig, ages: F64) -> F64:
    """P(E_k = 1) at every wave (last axis) given each child's wave ages, by the chain's law.

    >>> from opsporing.synthetic import SyntheticConfig
    >>> p = episode_probability(SyntheticConfig(), wave_ages(SyntheticConfig(), np.array([10.0])))
    >>> np.round(p, 4).tolist()
    [[0.05, 0.0705, 0.083]]
    """
    start, move = episode_matrices(cfg, ages)
    out = np.empty(np.shape(ages))
    state = start
    out[..., 0] = state[..., 1]
    for k in range(move.shape[-3]):
        state = np.einsum("...i,...ij->...j", state, move[..., k, :, :])
        out[..., k + 1] = state[..., 1]
    return out


def harshness_sd(cfg: SyntheticConfig, informant: str) -> float:
    """SD of the three-point harshness law of a form by ``informant``: the raters' for the
    educators (``rater_harshness_sd``), each form's own for parents and children
    (``informant_harshness_sd``). Only educators' forms carry the group bias."""
    return cfg.rater_harshness_sd if informant == "educator" else cfg.informant_harshness_sd


# --- observations ------------------------------------------------------------------------------
#: Which latent dimension drives an item. D: own difficulties; F: family strain (care items);
#: R: resources (strength domains); A: acute safety risk (safety items).
DIM_D, DIM_F, DIM_R, DIM_A = 0, 1, 2, 3
#: How an item is answered. GRADED: graded response on an ordinal scale (any number of
#: options); SAFETY: a red-flag item of the ``safety`` domain (Nej / [Usikker /] Ja), whose
#: law depends only on acute risk; NUMBER: a count on a ``number`` scale (days absent).
KIND_GRADED, KIND_SAFETY, KIND_NUMBER = 0, 1, 2
#: Graded-response parameters per domain, in the *concern* direction: discrimination a and
#: thresholds b_1 < b_2 < b_3, P(concern >= k | θ) = logistic(a (θ - b_k)). A scale of
#: ``k`` options gets ``k - 1`` thresholds spread evenly from b_1 to b_3 (linear
#: interpolation; exactly these three for the four-option frequency scale).
DOMAIN_PARAMS: dict[str, tuple[float, tuple[float, float, float]]] = {
    "emotional": (1.7, (1.0, 2.0, 3.0)),
    "social": (1.6, (1.1, 2.1, 3.1)),
    "behaviour": (1.8, (1.2, 2.1, 3.0)),
    "development": (1.5, (0.9, 1.9, 2.9)),
    "care": (1.9, (1.5, 2.4, 3.3)),
    "resources": (1.4, (0.0, 1.5, 2.7)),
}
DEFAULT_PARAMS: tuple[float, tuple[float, float, float]] = (1.6, (1.1, 2.1, 3.1))
#: How an informant other than the educator answers the graded items of a domain: a factor
#: on the discrimination a (below 1: noisier) and an offset added to every threshold b (in
#: the concern direction; above 0: concern reported less readily). Parents under-report
#: care and behaviour and are a bit noisier; children report feelings others miss
#: (emotional items sharper and more readily) and under-report behaviour and care. A
#: missing key is (1.0, 0.0); the educator has no entries (the educator law). Safety and
#: number items follow the same law for every informant.
INFORMANT_EFFECTS: dict[tuple[str, str], tuple[float, float]] = {
    ("parent", "emotional"): (0.9, 0.0),
    ("parent", "social"): (0.9, 0.2),
    ("parent", "behaviour"): (0.9, 0.3),
    ("parent", "development"): (0.9, 0.2),
    ("parent", "care"): (0.8, 0.7),
    ("parent", "resources"): (0.9, 0.0),
    ("child", "emotional"): (1.3, -0.3),
    ("child", "social"): (1.0, 0.0),
    ("child", "behaviour"): (0.8, 0.4),
    ("child", "development"): (0.8, 0.3),
    ("child", "care"): (0.9, 0.4),
    ("child", "resources"): (0.9, 0.0),
}
#: Positively worded concern items (``reverse: true``) are answered "almost always" less
#: readily than negatively worded ones are answered "never": their thresholds move down.
REVERSE_OFFSET = -0.6
#: Items an instrument names ``critical`` describe its most serious behaviours (hitting,
#: being bullied or hungry "almost always", lost skills, intoxication): at the same latent
#: level they are rarer than the domain's other items, so their thresholds move up.
CRITICAL_OFFSET = 0.5
#: The domain whose items are red-flag observations driven by acute safety risk.
SAFETY_DOMAIN = "safety"
#: P("Ja") of a safety item without and with acute safety risk.
P_FLAG = (0.0005, 0.30)
#: P("Usikker") of a three-option safety item (Nej / Usikker / Ja) without and with acute
#: safety risk: unsure is more common than yes, and far more common with acute risk.
P_UNSURE = (0.002, 0.35)
#: Number items (days absent in the last three months) count X ~ negative binomial with
#: mean exp(NUMBER_LOG_MEAN + NUMBER_SLOPE · θ) and dispersion NUMBER_DISPERSION, θ = D
#: (not shifted by rater harshness or bias: a count from the register, not a rating); a
#: count above the scale's max is recorded as the max (censored). At θ = 0 the mean is 2
#: days; over the population about 13 % have 6 days or more, 2.4 % 13 or more.
NUMBER_LOG_MEAN = float(np.log(2.0))
NUMBER_SLOPE = 0.7
NUMBER_DISPERSION = 1.5


@dataclass(frozen=True, eq=False)
class ItemModel:
    """The observation model of one instrument, as arrays in item order.

    Attributes
    ----------
    instrument : Instrument
    items : tuple of str
    kind : ndarray of int
        ``KIND_GRADED``, ``KIND_SAFETY`` or ``KIND_NUMBER`` per item.
    dim : ndarray of int
        Latent dimension driving each item (``DIM_D``, ``DIM_F``, ``DIM_R``, ``DIM_A``).
    flip : ndarray of bool
        The raw answer is ``top - concern`` (reverse-keyed concern items and
        strength items); otherwise the raw answer is ``low + concern``.
    low, top : ndarray of int
        Lowest and highest raw answer (0 and 3 for frequency, 0 and 1 for yes/no, 0 and
        2 for Nej/Usikker/Ja, the scale's min and max for a number).
    a : ndarray (n_items,)
        Discrimination (graded items; 0 otherwise).
    b : ndarray (n_items, K)
        Thresholds in the concern direction (graded items), K the most thresholds of any
        item; an item with fewer options has +inf in the unused places.
    rated : ndarray of bool
        Items shifted by rater harshness, bias and drift: the graded items of the
        concern domains (not the resources, not the safety or number items).
    required : ndarray of bool
        Items of a ``required`` domain: never missing.
    safety : ndarray (n_items, K + 1, 2)
        P(concern = c | acute = 0, 1) of the safety items (0 for other items).
    """

    instrument: Instrument
    items: tuple[str, ...]
    kind: I64
    dim: I64
    flip: npt.NDArray[np.bool_]
    low: I64
    top: I64
    a: F64
    b: F64
    rated: npt.NDArray[np.bool_]
    required: npt.NDArray[np.bool_]
    safety: F64

    @property
    def levels(self) -> int:
        """Most concern levels of any ordinal item (thresholds + 1)."""
        return int(self.b.shape[1]) + 1

    def concern(self, raw: F64) -> F64:
        """Concern values of raw answers (rows of forms, columns in item order)."""
        out: F64 = np.where(self.flip, self.top - raw, raw - self.low)
        return out

    def raw(self, concern: F64) -> F64:
        """Raw answers of concern values (the inverse of :meth:`concern`)."""
        out: F64 = np.where(self.flip, self.top - concern, concern + self.low)
        return out


_MODELS: dict[str, tuple[Instrument, ItemModel]] = {}


def item_model(instrument: Instrument | str) -> ItemModel:
    """The observation model of an instrument (or of the current form of a setting).

    Parameters are derived from the instrument: the domain chooses the latent dimension
    and the base parameters (:data:`DOMAIN_PARAMS`), the item's position in its domain
    spreads them (thresholds ±0.2, discrimination ±15 %), ``reverse`` and the domain's
    direction choose the keying, the scale the number of thresholds, the instrument's
    ``informant`` the :data:`INFORMANT_EFFECTS` on a and b; items of the
    ``safety`` domain follow :data:`P_FLAG` / :data:`P_UNSURE`, items on a ``number``
    scale the count law (``NUMBER_*``).

    ``instrument`` may be an :class:`~opsporing.instruments.Instrument` or, for the
    forms of one age, a setting name: the setting's only current form (an error when
    the setting has forms for several age bands).

    >>> from opsporing.instruments import get_instrument
    >>> m = item_model(get_instrument("opsporing.skole.trivsel"))
    >>> m.items[0], int(m.dim[0]), bool(m.flip[0])
    ('emo_sad', 0, False)
    >>> m.items[4], bool(m.flip[4])                     # soc_part_of_class, reverse-keyed
    ('soc_part_of_class', True)
    """
    if isinstance(instrument, str):
        bands = current_instruments(instrument)
        if len(bands) != 1:
            raise DataError(
                Problem("setting", instrument, "a setting with one current form (or an Instrument)")
            )
        instrument = bands[0]
    hit = _MODELS.get(instrument.key)
    if hit is not None and (hit[0] is instrument or hit[0] == instrument):
        return hit[1]
    model = _build(instrument)
    _MODELS[instrument.key] = (instrument, model)
    return model


def _build(inst: Instrument) -> ItemModel:
    n = len(inst.items)
    levels = max(
        (len(inst.scale(i.scale).values) for i in inst.items if not inst.scale(i.scale).is_number),
        default=2,
    )
    kind = np.full(n, KIND_GRADED, dtype=np.int64)
    dim = np.zeros(n, dtype=np.int64)
    flip = np.zeros(n, dtype=bool)
    low = np.zeros(n, dtype=np.int64)
    top = np.zeros(n, dtype=np.int64)
    a = np.zeros(n)
    b = np.full((n, max(levels - 1, 1)), np.inf)
    rated = np.zeros(n, dtype=bool)
    required = np.zeros(n, dtype=bool)
    safety = np.zeros((n, b.shape[1] + 1, 2))
    for j, item in enumerate(inst.items):
        domain = inst.domain(item.domain)
        scale = inst.scale(item.scale)
        low[j], top[j] = scale.min, scale.max
        required[j] = domain.required
        if not scale.is_contiguous:
            raise DataError(
                Problem(
                    f"{inst.key}: scale {scale.id}",
                    list(scale.values),
                    "contiguous answer values (the synthetic generator answers k = 0, 1, …)",
                )
            )
        if domain.id == SAFETY_DOMAIN:
            kind[j], dim[j] = KIND_SAFETY, DIM_A
            k = len(scale.values)
            if not 2 <= k <= 3 or scale.is_number:
                raise DataError(
                    Problem(
                        f"{inst.key}: item {item.id}",
                        scale.id,
                        "a safety item on a scale of 2 (Nej/Ja) or 3 (Nej/Usikker/Ja) options",
                    )
                )
            for acute in (0, 1):
                yes = P_FLAG[acute]
                unsure = P_UNSURE[acute] if k == 3 else 0.0
                safety[j, k - 1, acute] = yes
                if k == 3:
                    safety[j, 1, acute] = unsure
                safety[j, 0, acute] = 1.0 - yes - unsure
            continue
        if scale.is_number:
            kind[j], dim[j] = KIND_NUMBER, DIM_D
            continue
        siblings = inst.items_in(item.domain)
        pos = [s.id for s in siblings].index(item.id)
        spread = 0.0 if len(siblings) == 1 else 2.0 * pos / (len(siblings) - 1) - 1.0
        base_a, base_b = DOMAIN_PARAMS.get(domain.id, DEFAULT_PARAMS)
        strength = domain.direction == "strength"
        dim[j] = DIM_R if strength else (DIM_F if domain.id == "care" else DIM_D)
        flip[j] = strength != item.reverse
        rated[j] = not strength
        a[j] = base_a * (1.0 + 0.15 * spread)
        k = len(scale.values)
        cuts = np.interp(np.linspace(0.0, 2.0, k - 1), [0.0, 1.0, 2.0], base_b)
        b[j, : k - 1] = cuts + 0.2 * spread
        if item.reverse and not strength:
            b[j, : k - 1] += REVERSE_OFFSET
        if item.critical is not None and not strength:
            b[j, : k - 1] += CRITICAL_OFFSET
        factor, offset = INFORMANT_EFFECTS.get((inst.informant, domain.id), (1.0, 0.0))
        a[j] *= factor
        b[j, : k - 1] += offset
    return ItemModel(inst, inst.item_ids, kind, dim, flip, low, top, a, b, rated, required, safety)


def current_instruments(setting: str, informant: str = "educator") -> tuple[Instrument, ...]:
    """The current forms of ``informant`` in ``setting``, in age order (``forms.yaml``)."""
    return current_forms().get((informant, setting), ())


def table_instruments(table: str) -> tuple[Instrument, ...]:
    """The current forms of a form table (:data:`FORM_TABLES`): the setting's educator
    forms, or every current form of the informant (the daycare list, then the school
    list, each instrument once)."""
    informant = INFORMANT_OF_TABLE[table]
    settings = (table,) if informant == "educator" else SETTINGS
    found: dict[str, Instrument] = {}
    for setting in settings:
        for inst in current_instruments(setting, informant):
            found.setdefault(inst.key, inst)
    return tuple(found.values())


def instrument_index(setting: str, ages: F64, informant: str = "educator") -> I64:
    """Which of :func:`current_instruments` each age gets: ``select_instrument`` per age.

    Called once per distinct age (ages are in 1/100 years), so it is the selection rule
    of ``forms.yaml`` itself, not a copy of it. An age no current form of the informant
    and setting covers gets -1 (only the educator forms cover every age of a setting).
    """
    bands = [i.key for i in current_instruments(setting, informant)]
    if not bands and informant != "educator":  # e.g. no child's own form in daycare
        return np.full(np.shape(ages), -1, dtype=np.int64).reshape(-1)
    unique, inverse = np.unique(np.asarray(ages, dtype=np.float64), return_inverse=True)
    chosen = np.full(len(unique), -1, dtype=np.int64)
    for u, age in enumerate(unique):
        try:
            chosen[u] = bands.index(select_instrument(setting, float(age), informant).key)
        except UnknownInstrumentError:
            if informant == "educator":
                raise
    return chosen[inverse].reshape(-1) if len(unique) else np.zeros(0, dtype=np.int64)


def resolve_instrument(inst_id: str, version: str) -> Instrument:
    """The instrument a form names: a current one first, then any shipped version."""
    for bands in current_forms().values():
        for inst in bands:
            if inst.id == inst_id and inst.version == version:
                return inst
    return get_instrument(inst_id, version)


def number_log_pmf(theta: F64, low: int, top: int) -> F64:
    """log P(raw = low .. top | θ) of a number item (last axis), the top censored."""
    from scipy.stats import nbinom

    mean = np.exp(NUMBER_LOG_MEAN + NUMBER_SLOPE * np.asarray(theta, dtype=np.float64))
    p = NUMBER_DISPERSION / (NUMBER_DISPERSION + mean)
    counts = np.arange(top - low)
    logp = nbinom.logpmf(counts, NUMBER_DISPERSION, p[..., None])
    tail = nbinom.logsf(top - low - 1, NUMBER_DISPERSION, p)[..., None]
    out: F64 = np.concatenate([logp, tail], axis=-1)
    return out


def draw_numbers(theta: F64, u: F64, low: int, top: int) -> F64:
    """Counts of number items by inverting the CDF at uniforms ``u`` (same shape as θ)."""
    cdf = np.cumsum(np.exp(number_log_pmf(theta, low, top)), axis=-1)
    return low + (u[..., None] >= cdf[..., :-1]).sum(axis=-1).astype(np.float64)  # type: ignore[no-any-return]


# --- rater harshness ---------------------------------------------------------------------------
#: The three-point law of rater harshness in units of its SD (Gauss-Hermite, 3 nodes).
HARSHNESS_NODES = np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)])
HARSHNESS_WEIGHTS = np.array([1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0])


def missing_logit(cfg: SyntheticConfig, strain: F64, group: I64) -> F64:
    """Log-odds of a missing answer given latent family strain and group."""
    base = np.log(cfg.missing_rate / (1.0 - cfg.missing_rate))
    log_or = np.log(np.asarray(cfg.missing_group_odds))[group]
    return base + log_or + cfg.missing_strain_effect * strain  # type: ignore[no-any-return]


def acute_probability(cfg: SyntheticConfig, strain: F64) -> F64:
    """P(acute safety risk | family strain F) = P(S* > threshold | F), in closed form."""
    centred = strain - cfg.year_shift
    sd = np.sqrt(1.0 - RHO_SF**2)
    return ndtr((RHO_SF * centred - SAFETY_THRESHOLD) / sd)  # type: ignore[no-any-return]


def step_probabilities(cfg: SyntheticConfig, difficulties: F64, strain: F64, acute: F64) -> F64:
    """P(step = k | latent state) for k = 0..6 (last axis), in closed form.

    >>> from opsporing.synthetic import SyntheticConfig
    >>> p = step_probabilities(SyntheticConfig(), np.array([0.0, 3.0]), np.array([0.0, 2.0]),
    ...                        np.array([0.0, 1.0]))
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0))
    ((2, 7), True)
    >>> round(float(p[0, 0]), 3), int(p[1].argmax())
    (0.999, 6)
    """
    index = W_D * difficulties + W_F * strain + W_ACUTE * acute + cfg.prevalence_shift
    cuts = np.asarray(STEP_THRESHOLDS)
    at_least = ndtr((index[..., None] - cuts) / SIGMA_STEP)  # P(step >= k), k = 1..6
    upper = np.concatenate([np.ones_like(at_least[..., :1]), at_least], axis=-1)
    lower = np.concatenate([at_least, np.zeros_like(at_least[..., :1])], axis=-1)
    return np.clip(upper - lower, 0.0, 1.0)  # type: ignore[no-any-return]


def concern_probabilities(a: F64, b: F64, theta: F64) -> F64:
    """P(concern = x | θ), x = 0..len(b) on the last axis, for one graded-response item.

    Thresholds of +inf (unused places of an item with fewer options) give probability
    (clipped to) 0 to the levels above its top.
    """
    at_least = expit(a * (theta[..., None] - b))  # P(c >= 1), P(c >= 2), …
    upper = np.concatenate([np.ones_like(at_least[..., :1]), at_least], axis=-1)
    lower = np.concatenate([at_least, np.zeros_like(at_least[..., :1])], axis=-1)
    return np.clip(upper - lower, 1e-300, 1.0)  # type: ignore[no-any-return]


def group_index(name: str) -> int:
    return GROUPS.index(name)
