"""The oracle: the true P(step | what was observed) under the generator, by quadrature.

What it conditions on, per child: every answer and every missing answer of each of its
forms in scope (educator, parent and child forms of the waves up to the target wave,
whichever instrument), which wave each form belongs to, and the child's age (which
decides the instruments, the waves it can have forms in and when it moves from daycare
to school). It does **not** see the family background, any informant's harshness, the
latent state, the episode path, the municipality or the sex: the first four are
integrated out, the others carry no information under the generator.

How: the latent state is (F, D, R, acute) and the episode path E_0..E_c. D, R and the
acute-risk propensity S* are independent given F (a star around F), E is independent of
everything, and every observation depends on one of F, D + size·E_k, R, acute (plus
the form's harshness shift), so with Π_k the product over the forms of wave k

    p(obs, step_t) = Σ_g π_g Σ_F p(F|g) M(F, g) I_R(F) Σ_A p(A|F) L_A(A)
                     Σ_D p(D|F) Σ_{E_t} α_t(F, D, E_t) P(step_t | D, F, A, E_t)

    α_0(F, D, e) = P(E_0 = e) W_0(F, D, e)
    α_k(F, D, e) = Σ_{e'} α_{k-1}(F, D, e') P(E_k = e | E_{k-1} = e') W_k(F, D, e)
    W_k(F, D, e) = L_N,k(D + size·e)
                   Π_{forms f of wave k} Σ_h w_h L_F,f(F + s_fh) L_D,f(D + size·e + s_fh)

a forward recursion over the waves (2 episode states; the transition depends on the
child's ages), not a sum over the 2^waves paths. ``I_R(F) = Σ_R p(R|F) L_R(R)`` and
``M`` the likelihood of which answers are missing. F and R are integrated on the uniform
grid :data:`GRID` (spacing :data:`GRID_STEP` SD, -5 to +5.5 SD around the mean), D on
the finer :data:`GRID_D`, by the trapezoidal rule, which is exponentially accurate for
these smooth integrands; the group (3), each form's harshness (3), the episode state
(2 per wave) and the acute risk (2) are exact finite sums.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import log_expit, ndtr

from ..errors import DataError, OpsporingError, Problem
from ._config import GROUPS, SyntheticConfig
from ._model import (
    DIM_D,
    DIM_F,
    DIM_R,
    F64,
    FORM_TABLES,
    HARSHNESS_NODES,
    HARSHNESS_WEIGHTS,
    I64,
    INFORMANT_OF_TABLE,
    INFORMANTS,
    KIND_GRADED,
    KIND_NUMBER,
    KIND_SAFETY,
    RHO_DF,
    RHO_RF,
    SETTINGS,
    STEP_COLUMNS,
    ItemModel,
    acute_probability,
    concern_probabilities,
    episode_matrices,
    episode_probability,
    harshness_sd,
    item_model,
    missing_logit,
    number_log_pmf,
    resolve_instrument,
    step_probabilities,
    wave_ages,
    wave_drift,
)
from ._population import SyntheticPopulation

#: Spacing of the quadrature grid of F and R, in SD units.
GRID_STEP = 0.3
#: The grid of F and R, relative to the year's mean: -5 to +5.5 SD.
GRID = np.arange(-5.0, 5.5 + 1e-9, GRID_STEP)
GRID_POINTS = len(GRID)
#: Spacing of the grid of D (own difficulties), finer: the items of every informant and
#: wave see D, so its posterior is the narrowest (0.35 left errors of 0.01-0.02 with
#: three or four waves of forms; 0.2 keeps them below 0.001).
GRID_STEP_D = 0.2
#: The grid of D, relative to the year's mean: -5 to +5.5 SD.
GRID_D = np.arange(-5.0, 5.5 + 1e-9, GRID_STEP_D)
_CHUNK = 1024
_FLOOR = -150.0
_TINY = float(np.exp(_FLOOR))


@dataclass(frozen=True)
class _Prior:
    """The prior on the grid for one configuration (the episode state is separate)."""

    f: F64  # F nodes (Q_F,)
    d: F64  # D nodes (Q_D,)
    r: F64  # R nodes (Q_R,)
    log_pf: F64  # (G, Q_F) log p(F | group)
    pd_f: F64  # (Q_F, Q_D) p(D | F)
    pr_f: F64  # (Q_F, Q_R) p(R | F)
    pa_f: F64  # (Q_F, 2) p(acute | F)


def _exp(x: F64) -> F64:
    """``exp(x)`` for x <= 0, with anything below e^-150 set to exactly 0.

    Such terms are negligible next to the largest (which is 1), and letting them
    become subnormal numbers in later products slows the arithmetic a hundredfold.
    """
    return np.exp(np.where(x < _FLOOR, -np.inf, x))


def _flush(p: F64) -> F64:
    return np.where(p < _TINY, 0.0, p)


def _normalised(logdens: F64) -> F64:
    w = _exp(logdens - logdens.max(axis=-1, keepdims=True))
    return _flush(w / w.sum(axis=-1, keepdims=True))


def prior(cfg: SyntheticConfig) -> _Prior:
    """The prior of ``cfg`` on the grids (read at call time, so a test may refine them)."""
    shift = cfg.year_shift
    f = shift + GRID
    d = shift + GRID_D
    r = GRID.copy()
    mu = np.asarray(cfg.group_strain_shift) + shift
    log_pf = np.log(_normalised(-0.5 * (f[None, :] - mu[:, None]) ** 2))
    sd_d = np.sqrt(1 - RHO_DF**2)
    mean_d = shift + RHO_DF * (f - shift)
    pd_f = _normalised(-0.5 * ((d[None, :] - mean_d[:, None]) / sd_d) ** 2)
    sd_r = np.sqrt(1 - RHO_RF**2)
    pr_f = _normalised(-0.5 * ((r[None, :] - RHO_RF * (f - shift)[:, None]) / sd_r) ** 2)
    p1 = acute_probability(cfg, f)
    pa_f = _flush(np.stack([1 - p1, p1], axis=1))
    return _Prior(f, d, r, log_pf, pd_f, pr_f, pa_f)


def _lag(cfg: SyntheticConfig, wave: int) -> float:
    """How far the latent means of D and F at ``wave`` lie below the current wave's."""
    return -float(wave_drift(cfg, wave))


def step_table(cfg: SyntheticConfig, pr: _Prior, wave: int) -> F64:
    """P(step at ``wave`` = k | F, E, D, acute) on the grid: (Q_F, 2, Q_D, 2 × 7).

    The last axis holds the seven steps given acute = 0, then given acute = 1; the second
    is the episode state at that wave (the child's D is ``D + episode_size`` in one).
    """
    lag = _lag(cfg, wave)
    ff, ee, dd = np.meshgrid(pr.f, [0.0, 1.0], pr.d, indexing="ij")
    difficulties = dd + cfg.episode_size * ee - lag
    strain = ff - lag
    return _flush(
        np.concatenate(
            [
                step_probabilities(cfg, difficulties, strain, np.full_like(ff, a))
                for a in (0.0, 1.0)
            ],
            axis=-1,
        )
    )


# --- the episode chain -------------------------------------------------------------------------
def _age_law(cfg: SyntheticConfig) -> tuple[F64, F64]:
    """The generator's law of the current age: every 1/100 year it can draw, with its probability.

    Daycare ages are uniform on the hundredths of [0.5, 6), school ages on those of
    [6, 16] (``_generate._children``: the uniform draw floored to 1/100 year).
    """
    from ._generate import AGE_DAYCARE, AGE_SCHOOL

    day = np.arange(round(AGE_DAYCARE[0] * 100), round(AGE_DAYCARE[1] * 100)) / 100.0
    school = np.arange(round(AGE_SCHOOL[0] * 100), round(AGE_SCHOOL[1] * 100) + 1) / 100.0
    weights = np.concatenate(
        [
            np.full(len(day), cfg.share_daycare / len(day)),
            np.full(len(school), (1.0 - cfg.share_daycare) / len(school)),
        ]
    )
    return np.concatenate([day, school]), weights


def current_episode_share(cfg: SyntheticConfig) -> float:
    """P(E_c = 1): the share of the population in an episode at the current wave.

    Exact: the chain's marginal at the current wave for every age the generator can
    draw, averaged over the age law (the chain is independent of everything else).

    >>> from opsporing.synthetic import SyntheticConfig
    >>> round(current_episode_share(SyntheticConfig()), 4)
    0.0889
    """
    ages, weights = _age_law(cfg)
    return float(weights @ episode_probability(cfg, wave_ages(cfg, ages))[:, -1])


# --- population margins -------------------------------------------------------------------------
def population_step_distribution(cfg: SyntheticConfig) -> F64:
    """The exact marginal P(step = k), k = 0..6, at the current wave of the population ``cfg``.

    The episode state at the current wave is integrated with its marginal
    (:func:`current_episode_share`, which averages over the generator's age law).

    >>> from opsporing.synthetic import SyntheticConfig
    >>> p = population_step_distribution(SyntheticConfig())
    >>> round(float(p[1:].sum()), 3), round(float(p[4:].sum()), 3)
    (0.05, 0.01)
    """
    pr = prior(cfg)
    q = current_episode_share(cfg)
    step = np.tensordot(np.array([1.0 - q, q]), step_table(cfg, pr, cfg.current_wave), (0, 1))
    pf = np.asarray(cfg.group_shares) @ np.exp(pr.log_pf)  # (Q_F,)
    per_f = np.einsum("fd,fdk->fk", pr.pd_f, step)  # (Q_F, 14)
    out = pf @ (per_f[:, :7] * pr.pa_f[:, :1] + per_f[:, 7:] * pr.pa_f[:, 1:])
    return out / out.sum()  # type: ignore[no-any-return]


def calibrate_thresholds(cfg: SyntheticConfig, targets: tuple[float, ...]) -> tuple[float, ...]:
    """Step thresholds giving ``targets`` = P(step >= k), k = 1..6, at ``cfg``'s current wave.

    This is how :data:`~._model.STEP_THRESHOLDS` was set (with the default config and
    :data:`~._model.STEP_TARGETS`); the test suite checks it still agrees. The episode
    state is integrated like in :func:`population_step_distribution`.
    """
    from scipy.optimize import brentq

    from ._model import SIGMA_STEP, W_ACUTE, W_D, W_F

    pr = prior(cfg)
    q = current_episode_share(cfg)
    pf = np.asarray(cfg.group_shares) @ np.exp(pr.log_pf)
    ff, dd = np.meshgrid(pr.f, pr.d, indexing="ij")

    def tail(cut: float) -> float:
        total = 0.0
        for e, pe in ((0, 1.0 - q), (1, q)):
            for a in (0, 1):
                index = (
                    W_D * (dd + cfg.episode_size * e)
                    + W_F * ff
                    + W_ACUTE * a
                    + cfg.prevalence_shift
                )
                p = ndtr((index - cut) / SIGMA_STEP)
                total += pe * float(pf @ ((pr.pd_f * p).sum(axis=1) * pr.pa_f[:, a]))
        return total

    cuts = []
    for target in targets:
        cuts.append(round(float(brentq(lambda c, t=target: tail(c) - t, -10.0, 20.0)), 4))
    return tuple(cuts)


# --- per-form likelihood tables ----------------------------------------------------------------
@dataclass
class _FormTables:
    """Log-likelihood tables of one form each (rows), on the grid.

    ``B`` is the number of bias classes of the form's informant: 2 for educator forms
    when ``rater_bias_against`` is set (not biased / biased), otherwise 1.
    """

    ld: F64  # (n, B, 3, 2, Q_D): the D items, per (bias, harshness, episode state)
    lf: F64  # (n, B, 3, Q_F): the F (care) items
    lr: F64  # (n, Q_R)
    ls: F64  # (n, 2): the safety items given acute = 0, 1
    ln: F64  # (n, 2, Q_D): the number items (driven by D + size·E, no harshness)
    n_missing: F64  # (n,)
    n_answered: F64  # (n,)

    @classmethod
    def empty(cls, n: int, bias_classes: int, pr: _Prior) -> _FormTables:
        qf, qd = len(pr.f), len(pr.d)
        return cls(
            np.zeros((n, bias_classes, 3, 2, qd)),
            np.zeros((n, bias_classes, 3, qf)),
            np.zeros((n, len(pr.r))),
            np.zeros((n, 2)),
            np.zeros((n, 2, qd)),
            np.zeros(n),
            np.zeros(n),
        )

    def put(self, rows: I64, other: _FormTables) -> None:
        self.ld[rows] = other.ld
        self.lf[rows] = other.lf
        self.lr[rows] = other.lr
        self.ls[rows] = other.ls
        self.ln[rows] = other.ln
        self.n_missing[rows] = other.n_missing
        self.n_answered[rows] = other.n_answered


def _shifts(cfg: SyntheticConfig, informant: str, wave: int) -> F64:
    """Latent shift of the rated items per (bias class, harshness node): (B, 3).

    Educator forms: the rater law, with the group bias when one is set. Parent and child
    forms: their own harshness law, no group bias (the bias is about professionals).
    """
    bias = np.array([0.0, cfg.rater_bias_size])[: bias_classes(cfg, informant)]
    sd = harshness_sd(cfg, informant)
    out: F64 = bias[:, None] + sd * HARSHNESS_NODES[None, :] - _lag(cfg, wave)
    return out


def bias_classes(cfg: SyntheticConfig, informant: str) -> int:
    """How many bias classes the forms of ``informant`` have (the ``B`` of :class:`_FormTables`)."""
    return 2 if informant == "educator" and cfg.rater_bias_against is not None else 1


def _log_table(a: F64, b: F64, nodes: F64) -> F64:
    """log P(concern_j = x | θ) of graded items, rows (j, x), columns the nodes (raveled)."""
    levels = b.shape[1] + 1
    if len(a) == 0:
        return np.zeros((0, nodes.size))
    logp = np.stack(
        [np.log(concern_probabilities(a[j], b[j], nodes.ravel())) for j in range(len(a))]
    )  # (J, nodes, levels)
    out: F64 = logp.transpose(0, 2, 1).reshape(len(a) * levels, nodes.size)
    return out


def _item_block(table: F64, levels: int, concern: F64) -> F64:
    """Σ_j log P(concern_j | θ) on the nodes of ``table``; concern NaN = missing (adds 0)."""
    if concern.shape[1] == 0:
        return np.zeros((concern.shape[0], table.shape[1]))
    onehot = (concern[:, :, None] == np.arange(levels)).reshape(concern.shape[0], -1)
    return onehot.astype(np.float64) @ table  # type: ignore[no-any-return]


def _form_tables(
    cfg: SyntheticConfig,
    model: ItemModel,
    wave: int,
    raw: F64,
    pr: _Prior,
    cache: dict[tuple[str, int, str], F64] | None = None,
) -> _FormTables:
    """The log-likelihood tables of forms on ``model``'s instrument filled in at ``wave``.

    ``cache`` keeps the items' log-probabilities on the grid between calls with the same
    configuration and grid (one call of :func:`oracle_proba` fills it chunk by chunk).
    """
    n = raw.shape[0]
    concern = model.concern(raw)
    qf, qd = len(pr.f), len(pr.d)
    informant = model.instrument.informant
    shifts = _shifts(cfg, informant, wave)  # (B, 3)
    n_bias = shifts.shape[0]
    graded = model.kind == KIND_GRADED
    episode = cfg.episode_size * np.array([0.0, 1.0])
    levels = model.levels
    store = {} if cache is None else cache

    def table(name: str, cols: npt.NDArray[np.bool_], nodes: F64) -> F64:
        key = (model.instrument.key, wave, name)
        if key not in store:
            store[key] = _log_table(model.a[cols], model.b[cols], nodes)
        return store[key]

    out = _FormTables.empty(0, n_bias, pr)
    cols = graded & (model.dim == DIM_D)
    theta = shifts[:, :, None, None] + episode[None, None, :, None] + pr.d  # (B, 3, 2, Q)
    out.ld = _item_block(table("d", cols, theta), levels, concern[:, cols]).reshape(
        n, n_bias, 3, 2, qd
    )
    cols = graded & (model.dim == DIM_F)
    theta = shifts[:, :, None] + pr.f  # (B, 3, Q)
    out.lf = _item_block(table("f", cols, theta), levels, concern[:, cols]).reshape(
        n, n_bias, 3, qf
    )
    cols = graded & (model.dim == DIM_R)
    out.lr = _item_block(table("r", cols, -pr.r), levels, concern[:, cols])
    # Safety items: Σ_j log P(c_j | acute), from each item's table (a missing answer adds 0).
    out.ls = np.zeros((n, 2))
    for j in np.flatnonzero(model.kind == KIND_SAFETY):
        with np.errstate(divide="ignore"):
            log_law = np.log(model.safety[j])  # (levels, 2)
        onehot = (concern[:, j, None] == np.arange(log_law.shape[0])).astype(np.float64)
        # Unused levels have probability 0: only 0 × log 0 = nan would arise, never observed.
        out.ls += onehot @ np.where(np.isfinite(log_law), log_law, 0.0)
    # Number items: the count's law given D + size·E on the grid (drift only, no harshness).
    out.ln = np.zeros((n, 2, qd))
    theta = episode[:, None] + pr.d - _lag(cfg, wave)  # (2, Q)
    for j in np.flatnonzero(model.kind == KIND_NUMBER):
        span = int(model.top[j] - model.low[j])
        key = (model.instrument.key, wave, f"n{j}")
        if key not in store:
            store[key] = number_log_pmf(theta, 0, span)  # (2, Q_D, span + 1)
        x = concern[:, j]
        seen = ~np.isnan(x)
        out.ln[seen] += store[key][:, :, x[seen].astype(np.int64)].transpose(2, 0, 1)
    # Which answers are missing: a blank required item is not a draw of the missingness
    # law (the generator never leaves one blank), so it is neither counted nor conditioned on.
    optional = ~model.required
    out.n_missing = np.isnan(raw[:, optional]).sum(axis=1).astype(np.float64)
    out.n_answered = float(optional.sum()) - out.n_missing
    return out


# --- combining a chunk of children -------------------------------------------------------------
@dataclass
class _Chunk:
    """The forms of a chunk of children: per (wave, informant), which children and tables."""

    n: int
    start: F64  # (n, 2): P(E_0 = e)
    move: F64  # (n, c, 2, 2): P(E_k = j | E_{k-1} = i) at [:, k - 1, i, j]
    forms: dict[tuple[int, str], tuple[I64, _FormTables]]  # (wave, informant) -> (rows, tables)


def _forward(
    cfg: SyntheticConfig, pr: _Prior, chunk: _Chunk, beta: int, wave: int
) -> tuple[F64, F64]:
    """α at ``wave``, (n, Q_F, 2, Q_D), and its log scale (n,), for bias class ``beta``."""
    n, qf, qd = chunk.n, len(pr.f), len(pr.d)
    alpha = np.empty((n, qf, 2, qd))
    alpha[:] = pr.pd_f[:, None, :]
    log_scale = np.zeros(n)
    weights = HARSHNESS_WEIGHTS[None, :, None]
    # The chain's steps since a child's last wave with forms, composed (a 2 × 2 matrix per
    # child): α is moved only where a form is about to be multiplied in, and at the end,
    # so a child without forms in the earlier waves costs one move, not one per wave.
    pending = chunk.start[:, None, :] * np.eye(2)[None, :, :]  # P(E_0) as a diagonal
    everyone = np.arange(n)
    for k in range(wave + 1):
        if k > 0:
            pending = np.matmul(pending, chunk.move[:, k - 1])
        found = [chunk.forms[key] for key in ((k, i) for i in INFORMANTS) if key in chunk.forms]
        if not found and k < wave:
            continue
        rows = everyone if k == wave else np.unique(np.concatenate([r for r, _ in found]))
        if len(rows) == n:
            _move(alpha, pending)
        else:
            part = alpha[rows]
            _move(part, pending[rows])
            alpha[rows] = part
        pending[rows] = np.eye(2)
        for rows, tabs in found:
            b = min(beta, tabs.lf.shape[1] - 1)
            lf = tabs.lf[:, b]  # (m, 3, Q_F)
            ld = tabs.ld[:, b].reshape(len(rows), 3, 2 * qd)  # (m, 3, 2 Q_D)
            c_f = lf.max(axis=(1, 2))
            c_d = ld.max(axis=(1, 2))
            c_n = tabs.ln.max(axis=(1, 2))
            ef = _exp(lf - c_f[:, None, None]) * weights  # (m, 3, Q_F)
            ed = _exp(ld - c_d[:, None, None])  # (m, 3, 2 Q_D)
            # Σ_h w_h L_F(F + s_h) L_D(D + size·e + s_h): one (Q_F × 3) @ (3 × 2 Q_D) per form.
            h = np.matmul(ef.transpose(0, 2, 1), ed).reshape(len(rows), qf, 2, qd)
            h *= _exp(tabs.ln - c_n[:, None, None])[:, None, :, :]
            if len(rows) == n:  # every child of the chunk (rows are sorted and distinct)
                alpha *= h
            else:
                alpha[rows] *= h
            log_scale[rows] += c_f + c_d + c_n
        if found:
            # Rescaled after a wave with forms so that many forms never underflow (the scale
            # is kept in logs), and terms below e^-150 of the largest set to 0 (see _exp).
            top = alpha.max(axis=(1, 2, 3))
            alpha /= top[:, None, None, None]
            alpha[alpha < _TINY] = 0.0
            log_scale += np.log(top)
    return alpha, log_scale


def _move(alpha: F64, matrix: F64) -> None:
    """α(e) <- Σ_e' α(e') M[e', e] in place, per child: α (m, Q_F, 2, Q_D), M (m, 2, 2)."""
    m = matrix[:, :, :, None, None]
    a0, a1 = alpha[:, :, 0], alpha[:, :, 1]  # views
    stay = a0 * m[:, 0, 0] + a1 * m[:, 1, 0]
    a1 *= m[:, 1, 1]
    a1 += a0 * m[:, 0, 1]
    a0[...] = stay


def _combine(cfg: SyntheticConfig, pr: _Prior, chunk: _Chunk, wave: int, step: F64) -> F64:
    n, qf, qd = chunk.n, len(pr.f), len(pr.d)

    def total(name: str, shape: tuple[int, ...]) -> F64:
        out = np.zeros((n, *shape))
        for rows, tabs in chunk.forms.values():
            out[rows] += getattr(tabs, name)
        return out

    # Resources: I_R(F) = Σ_R p(R|F) L_R(R), every form's answers at once.
    lr = total("lr", (len(pr.r),))
    c_r = lr.max(axis=1, keepdims=True)
    log_ir = np.log(_exp(lr - c_r) @ pr.pr_f.T) + c_r  # (n, Q_F)
    ls = total("ls", (2,))
    c_s = ls.max(axis=1, keepdims=True)
    like_a = _exp(ls - c_s)  # (n, 2)
    n_missing = total("n_missing", ())
    n_answered = total("n_answered", ())
    bias_group = None if cfg.rater_bias_against is None else GROUPS.index(cfg.rater_bias_against)
    # Only the educator forms' bias depends on the group: one forward pass per bias class.
    by_beta: dict[int, tuple[F64, F64]] = {}
    for beta in sorted({int(g == bias_group) for g in range(len(GROUPS))}):
        alpha, log_alpha = _forward(cfg, pr, chunk, beta, wave)
        # Σ_{E_t, D}: (Q_F, n, 2 Q_D) @ (Q_F, 2 Q_D, 14) -> (Q_F, n, 14)
        by_f = np.matmul(
            alpha.reshape(n, qf, 2 * qd).transpose(1, 0, 2), step.reshape(qf, 2 * qd, 14)
        ).transpose(1, 0, 2)
        by_beta[beta] = (by_f, log_alpha)
    parts = []
    log_scale = np.full(n, -np.inf)
    for g in range(len(GROUPS)):
        by_f, log_alpha = by_beta[int(g == bias_group)]
        logit = missing_logit(cfg, pr.f, np.full(qf, g))  # (Q_F,)
        lf = (
            pr.log_pf[g][None, :]
            + n_missing[:, None] * log_expit(logit)[None, :]
            + n_answered[:, None] * log_expit(-logit)[None, :]
            + log_ir
        )
        c_f = lf.max(axis=1)
        wf = _exp(lf - c_f[:, None])  # (n, Q_F)
        wa = wf[:, :, None] * pr.pa_f[None, :, :] * like_a[:, None, :]  # (n, Q_F, 2)
        contrib = np.einsum("nf,nfk->nk", wa[:, :, 0], by_f[:, :, :7]) + np.einsum(
            "nf,nfk->nk", wa[:, :, 1], by_f[:, :, 7:]
        )
        scale = np.log(cfg.group_shares[g]) + log_alpha + c_f
        parts.append((contrib, scale))
        log_scale = np.maximum(log_scale, scale)
    p = np.zeros((n, 7))
    for contrib, scale in parts:
        p += contrib * np.exp(scale - log_scale)[:, None]
    return p / p.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


# --- public ------------------------------------------------------------------------------------
def oracle_proba(
    pop: SyntheticPopulation,
    setting: str | None = None,
    *,
    wave: int | None = None,
    informants: Iterable[str] | None = None,
) -> pd.DataFrame:
    """True P(step at ``wave`` = k | everything observed up to ``wave``), k = 0..6.

    Computed by numerical integration over the latent state and the episode path (not
    fitted): see ``docs/synthetic.md`` for the method. It reads the answers from
    ``pop.forms`` (so masking answers there changes what it conditions on), the ages from
    ``pop.children["age_years"]`` and the model parameters from ``pop.config``; it never
    reads the latent columns, the episodes, the true steps or the family background.

    Parameters
    ----------
    pop : SyntheticPopulation
    setting : {"dagtilbud", "skole"} or None
        Only the children currently in that setting (default: every child).
    wave : int, optional
        The wave whose true step is predicted, 0 .. ``current_wave`` (default: the
        current wave). Only forms of this wave and earlier ones are used.
    informants : iterable of {"educator", "parent", "child"}, optional
        Whose forms are used (default: all three). A child with no form in scope gets
        its prior given its ages.

    Returns
    -------
    DataFrame
        Indexed by ``child_id`` in the order of ``pop.children``, columns
        :data:`STEP_COLUMNS`; every row sums to 1.

    Raises
    ------
    DataError
        A bad argument, or forms that cannot come from the generator: an unknown table
        or instrument, an instrument of another informant than its table's, a wave or
        an answer out of range, a child unknown to ``pop.children``, two forms of one
        informant for one child in one wave. Every bad row is reported.

    Examples
    --------
    >>> from opsporing.synthetic import SyntheticConfig, generate, oracle_proba
    >>> pop = generate(SyntheticConfig(n_children=200, seed=3), progress=False)
    >>> p = oracle_proba(pop)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0))
    ((200, 7), True)
    >>> earlier = oracle_proba(pop, wave=0, informants=("educator",))
    >>> bool(np.allclose(earlier.sum(axis=1), 1.0))
    True
    """
    if not isinstance(pop, SyntheticPopulation):
        raise DataError(Problem("pop", type(pop).__name__, "a SyntheticPopulation"))
    cfg = pop.config
    if setting is not None and setting not in SETTINGS:
        raise DataError(Problem("setting", setting, f"None or one of {list(SETTINGS)}"))
    target = _checked_wave(cfg, wave)
    scope = _checked_informants(informants)
    all_ids = pd.Index(pop.children["child_id"])
    ages = _checked_ages(pop.children)
    placed = _checked_forms(pop, all_ids)
    kids = np.arange(len(all_ids))
    if setting is not None:
        kids = np.flatnonzero((pop.children["setting"] == setting).to_numpy())
    n = len(kids)
    where = np.full(len(all_ids), -1, dtype=np.int64)
    where[kids] = np.arange(n)
    # Per (wave, informant): each child's form as (index into `models`, row of its answers).
    models: list[ItemModel] = []
    answers: list[F64] = []
    slots: dict[tuple[int, str], tuple[I64, I64]] = {}
    for informant, model, child, form_wave, raw in placed:
        if informant not in scope:
            continue
        t = len(models)
        models.append(model)
        answers.append(raw)
        pos = where[child]
        for k in range(target + 1):
            sel = np.flatnonzero((pos >= 0) & (form_wave == k))
            if not len(sel):
                continue
            which, row = slots.setdefault(
                (k, informant), (np.full(n, -1, np.int64), np.full(n, -1, np.int64))
            )
            which[pos[sel]] = t
            row[pos[sel]] = sel
    start_e, move = episode_matrices(cfg, wave_ages(cfg, ages[kids]))
    pr = prior(cfg)
    step = step_table(cfg, pr, target)
    out = np.empty((n, 7))
    cache: dict[tuple[str, int, str], F64] = {}
    # Many small matrix products: threads only add overhead (and stall on a busy machine).
    with import_module("threadpoolctl").threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            chunk = _Chunk(stop - start, start_e[start:stop], move[start:stop], {})
            for key, (which, row) in slots.items():
                part = which[start:stop]
                rows = np.flatnonzero(part >= 0)
                if not len(rows):
                    continue
                tabs = _FormTables.empty(len(rows), bias_classes(cfg, key[1]), pr)
                for t in np.unique(part[rows]):
                    sel = np.flatnonzero(part[rows] == t)
                    raw = answers[t][row[start:stop][rows[sel]]]
                    tabs.put(sel, _form_tables(cfg, models[t], key[0], raw, pr, cache))
                chunk.forms[key] = (rows, tabs)
            out[start:stop] = _combine(cfg, pr, chunk, target, step)
    ids = all_ids[kids]
    return pd.DataFrame(out, index=pd.Index(ids, name="child_id"), columns=list(STEP_COLUMNS))


# --- validation -----------------------------------------------------------------------------------
def _checked_wave(cfg: SyntheticConfig, wave: Any) -> int:
    c = cfg.current_wave
    if wave is None:
        return c
    if isinstance(wave, bool) or not isinstance(wave, int | np.integer) or not 0 <= wave <= c:
        raise DataError(Problem("wave", wave, f"None or a whole number from 0 to {c}"))
    return int(wave)


def _checked_informants(informants: Any) -> frozenset[str]:
    if informants is None:
        return frozenset(INFORMANTS)
    expected = f"None or a collection of {list(INFORMANTS)}"
    if isinstance(informants, str | bytes) or not isinstance(informants, Iterable):
        raise DataError(Problem("informants", informants, expected))
    chosen = list(informants)
    if not all(isinstance(i, str) and i in INFORMANTS for i in chosen):
        raise DataError(Problem("informants", chosen, expected))
    return frozenset(chosen)


def _checked_ages(children: pd.DataFrame) -> F64:
    """The children's current ages (they decide the episode chain's transitions)."""
    for column in ("child_id", "setting", "age_years"):
        if column not in children.columns:
            raise DataError(Problem("children", column, f"a table with a column {column!r}"))
    twice = children["child_id"].duplicated(keep="first").to_numpy()
    if twice.any():
        raise DataError(
            *(
                Problem(
                    "child_id",
                    _plain(children["child_id"].iloc[r]),
                    "a unique child id",
                    row=int(r),
                )
                for r in np.flatnonzero(twice)
            )
        )
    ages = pd.to_numeric(children["age_years"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(ages) | (ages < 0) | (ages > 18))
    if len(bad):
        raise DataError(
            *(
                Problem(
                    "age_years",
                    _plain(children["age_years"].iloc[r]),
                    "an age from 0 to 18 years",
                    row=int(r),
                )
                for r in bad
            )
        )
    return ages


_Placed = tuple[str, ItemModel, I64, I64, F64]  # informant, model, child positions, waves, answers


def _checked_forms(pop: SyntheticPopulation, ids: pd.Index) -> list[_Placed]:
    """Every form table's rows per instrument, checked; problems of every row at once."""
    cfg = pop.config
    problems: list[Problem] = []
    for name in pop.forms:
        if name not in FORM_TABLES:
            problems.append(Problem("forms", name, f"a form table of {list(FORM_TABLES)}"))
    placed: list[_Placed] = []
    seen: dict[str, list[tuple[I64, I64, str, I64]]] = {}
    for name in FORM_TABLES:
        forms = pop.forms.get(name)
        if forms is None:
            continue
        informant = INFORMANT_OF_TABLE[name]
        missing = [
            c for c in ("child_id", "wave", "instrument_id", "instrument_version") if c not in forms
        ]
        if missing:
            problems.append(Problem(f"forms[{name!r}]", missing[0], "a column of that name"))
            continue
        child = ids.get_indexer(pd.Index(forms["child_id"]))
        for r in np.flatnonzero(child < 0):
            problems.append(
                Problem(
                    "child_id",
                    _plain(forms["child_id"].iloc[r]),
                    f"a child of pop.children (forms[{name!r}])",
                    row=int(r),
                )
            )
        wave = pd.to_numeric(forms["wave"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(wave) & (wave == np.round(wave)) & (wave >= 0) & (wave <= cfg.current_wave)
        for r in np.flatnonzero(~ok):
            problems.append(
                Problem(
                    "wave",
                    _plain(forms["wave"].iloc[r]),
                    f"a whole number from 0 to {cfg.current_wave} (forms[{name!r}])",
                    row=int(r),
                )
            )
        good = (child >= 0) & ok
        wave_int = np.where(ok, wave, -1).astype(np.int64)
        for model, rows, raw, found in _checked_answers(forms, name, informant):
            problems += found
            if model is not None and not found:
                keep = good[rows]
                placed.append(
                    (informant, model, child[rows][keep], wave_int[rows][keep], raw[keep])
                )
        seen.setdefault(informant, []).append(
            (child[good], wave_int[good], name, np.flatnonzero(good))
        )
    # At most one form per informant, child and wave (the two educator tables together).
    for informant, parts in seen.items():
        child = np.concatenate([p[0] for p in parts])
        wave = np.concatenate([p[1] for p in parts])
        key = child * 100 + wave
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        for i in np.flatnonzero(counts > 1):
            problems.append(
                Problem(
                    "child_id",
                    ids[child[first[i]]],
                    f"at most one {informant} form per wave ({int(counts[i])} in wave "
                    f"{int(wave[first[i]])})",
                )
            )
    if problems:
        raise DataError(*problems)
    return placed


def _checked_answers(
    forms: pd.DataFrame, table: str, informant: str
) -> list[tuple[ItemModel | None, I64, F64, list[Problem]]]:
    """Per instrument the forms name: its model, its rows of ``forms``, their answers, problems."""
    keys = forms["instrument_id"].astype(str) + "@" + forms["instrument_version"].astype(str)
    out: list[tuple[ItemModel | None, I64, F64, list[Problem]]] = []
    for key in _in_order(keys):
        rows = np.flatnonzero((keys == key).to_numpy())
        inst_id, version = key.rsplit("@", 1)
        try:
            model = item_model(resolve_instrument(inst_id, version))
        except OpsporingError as exc:
            problem = Problem(
                "instrument_id", key, f"a shipped instrument ({exc})", row=int(rows[0])
            )
            out.append((None, rows, np.zeros((0, 0)), [problem]))
            continue
        found: list[Problem] = []
        if model.instrument.informant != informant:
            found.append(
                Problem(
                    "instrument_id",
                    key,
                    f"an instrument of informant {informant!r} (forms[{table!r}])",
                    row=int(rows[0]),
                )
            )
        missing = [c for c in model.items if c not in forms.columns]
        if missing:
            found.append(Problem(f"forms[{table!r}]", missing[0], f"a column of that name ({key})"))
            out.append((None, rows, np.zeros((0, 0)), found))
            continue
        given = forms[list(model.items)].iloc[rows]
        # Text or other objects in an answer column are bad answers, not a crash.
        raw = (
            np.column_stack(
                [
                    pd.to_numeric(given[c], errors="coerce").to_numpy(dtype=np.float64)
                    for c in model.items
                ]
            )
            if len(model.items)
            else np.zeros((len(rows), 0))
        )
        blank = given.isna().to_numpy()
        ok = (np.isnan(raw) & blank) | (
            (raw >= model.low) & (raw <= model.top) & (raw == np.round(raw))
        )
        ok &= _numbers(given)
        for r, j in np.argwhere(~ok):
            found.append(
                Problem(
                    model.items[j],
                    _plain(given.iat[r, j]),
                    f"a whole number from {model.low[j]} to {model.top[j]} or NaN "
                    f"(forms[{table!r}], {key})",
                    row=int(rows[r]),
                )
            )
        out.append((model, rows, raw, found))
    return out


def _numbers(given: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Which cells hold a number or nothing: never True/False or text such as "2".

    ``to_numeric`` would read both as numbers; an answer table of booleans or text is not
    what the generator writes, so it is refused, not coerced.
    """
    out = np.ones(given.shape, dtype=bool)
    for j, column in enumerate(given.columns):
        values = given[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            out[:, j] = False
        elif values.dtype == object or not pd.api.types.is_numeric_dtype(values.dtype):
            out[:, j] = [
                v is None
                or v is pd.NA
                or (
                    isinstance(v, int | float | np.integer | np.floating)
                    and not isinstance(v, bool | np.bool_)
                )
                for v in values.tolist()
            ]
    return out


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (so a message shows ``7.0``)."""
    return value.item() if isinstance(value, np.generic) else value


def _in_order(keys: pd.Series) -> list[str]:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(keys.tolist()))
