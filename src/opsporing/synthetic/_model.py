"""The fixed parts of the generative model, shared by the generator and the oracle.

Everything random lives in :mod:`._generate`; everything here is a constant or a
deterministic function, so the generator and the oracle cannot disagree about the
model. The story is told in full in the package docstring and ``docs/synthetic.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy.special import expit, ndtr

from ..instruments import Instrument, get_instrument
from ._config import GROUPS, SyntheticConfig

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: The shipped instrument answered in each setting.
INSTRUMENT_IDS: dict[str, str] = {
    "dagtilbud": "opsporing.dagtilbud.trivsel",
    "skole": "opsporing.skole.trivsel",
}
SETTINGS: tuple[str, ...] = ("dagtilbud", "skole")

#: Columns of the step probabilities returned by the oracle.
STEP_COLUMNS: tuple[str, ...] = tuple(f"p_step_{k}" for k in range(7))

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
STEP_THRESHOLDS: tuple[float, ...] = (2.6121, 2.9989, 3.3659, 3.7772, 4.0267, 4.9458)
#: The targets the thresholds were calibrated to: P(step >= k) for k = 1..6.
STEP_TARGETS: tuple[float, ...] = (0.050, 0.030, 0.018, 0.010, 0.007, 0.002)

# --- observations ------------------------------------------------------------------------------
#: Which latent dimension drives an item. D: own difficulties; F: family strain (care items);
#: R: resources (strength domains); A: acute safety risk (yes/no items).
DIM_D, DIM_F, DIM_R, DIM_A = 0, 1, 2, 3
#: Graded-response parameters per domain, in the *concern* direction: discrimination a and
#: thresholds b_1 < b_2 < b_3, P(concern >= k | θ) = logistic(a (θ - b_k)).
DOMAIN_PARAMS: dict[str, tuple[float, tuple[float, float, float]]] = {
    "emotional": (1.7, (1.0, 2.0, 3.0)),
    "social": (1.6, (1.1, 2.1, 3.1)),
    "behaviour": (1.8, (1.2, 2.1, 3.0)),
    "development": (1.5, (0.9, 1.9, 2.9)),
    "care": (1.9, (1.5, 2.4, 3.3)),
    "resources": (1.4, (0.0, 1.5, 2.7)),
}
DEFAULT_PARAMS: tuple[float, tuple[float, float, float]] = (1.6, (1.1, 2.1, 3.1))
#: Positively worded concern items (``reverse: true``) are answered "almost always" less
#: readily than negatively worded ones are answered "never": their thresholds move down.
REVERSE_OFFSET = -0.6
#: P("Ja") of a yes/no (red-flag) item without and with acute safety risk.
P_FLAG = (0.0005, 0.30)


@dataclass(frozen=True, eq=False)
class ItemModel:
    """The observation model of one instrument, as arrays in item order.

    Attributes
    ----------
    instrument : Instrument
    items : tuple of str
    dim : ndarray of int
        Latent dimension driving each item (``DIM_D``, ``DIM_F``, ``DIM_R``, ``DIM_A``).
    flip : ndarray of bool
        The raw answer is ``top - concern`` (reverse-keyed concern items and
        strength items); otherwise the raw answer is the concern value itself.
    top : ndarray of int
        Highest raw answer (3 for frequency, 1 for yes/no).
    a : ndarray (n_items,)
        Discrimination (frequency items; 0 for yes/no).
    b : ndarray (n_items, 3)
        Thresholds in the concern direction (frequency items).
    rated : ndarray of bool
        Items shifted by rater harshness, bias and drift: the frequency items of the
        concern domains (not the resources, not the yes/no red flags).
    """

    instrument: Instrument
    items: tuple[str, ...]
    dim: I64
    flip: npt.NDArray[np.bool_]
    top: I64
    a: F64
    b: F64
    rated: npt.NDArray[np.bool_]


@cache
def item_model(setting: str) -> ItemModel:
    """The observation model of the shipped instrument of ``setting``.

    Parameters are derived from the instrument: the domain chooses the latent dimension
    and the base parameters (:data:`DOMAIN_PARAMS`), the item's position in its domain
    spreads them (thresholds ±0.2, discrimination ±15 %), ``reverse`` and the domain's
    direction choose the keying.

    >>> m = item_model("skole")
    >>> m.items[0], int(m.dim[0]), bool(m.flip[0])
    ('emo_sad', 0, False)
    >>> m.items[4], bool(m.flip[4])                     # soc_part_of_class, reverse-keyed
    ('soc_part_of_class', True)
    """
    inst = get_instrument(INSTRUMENT_IDS[setting])
    n = len(inst.items)
    dim = np.zeros(n, dtype=np.int64)
    flip = np.zeros(n, dtype=bool)
    top = np.zeros(n, dtype=np.int64)
    a = np.zeros(n)
    b = np.zeros((n, 3))
    rated = np.zeros(n, dtype=bool)
    for j, item in enumerate(inst.items):
        domain = inst.domain(item.domain)
        scale = inst.scale(item.scale)
        top[j] = scale.max
        siblings = inst.items_in(item.domain)
        pos = [s.id for s in siblings].index(item.id)
        spread = 0.0 if len(siblings) == 1 else 2.0 * pos / (len(siblings) - 1) - 1.0
        if len(scale.values) == 2:
            dim[j] = DIM_A
            continue
        base_a, base_b = DOMAIN_PARAMS.get(domain.id, DEFAULT_PARAMS)
        strength = domain.direction == "strength"
        dim[j] = DIM_R if strength else (DIM_F if domain.id == "care" else DIM_D)
        flip[j] = strength != item.reverse
        rated[j] = not strength
        a[j] = base_a * (1.0 + 0.15 * spread)
        b[j] = np.asarray(base_b) + 0.2 * spread
        if item.reverse and not strength:
            b[j] += REVERSE_OFFSET
    return ItemModel(inst, inst.item_ids, dim, flip, top, a, b, rated)


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
    """P(concern = x | θ), x = 0..3 on the last axis, for one graded-response item."""
    at_least = expit(a * (theta[..., None] - b))  # P(c >= 1), P(c >= 2), P(c >= 3)
    upper = np.concatenate([np.ones_like(at_least[..., :1]), at_least], axis=-1)
    lower = np.concatenate([at_least, np.zeros_like(at_least[..., :1])], axis=-1)
    return np.clip(upper - lower, 1e-300, 1.0)  # type: ignore[no-any-return]


def group_index(name: str) -> int:
    return GROUPS.index(name)
