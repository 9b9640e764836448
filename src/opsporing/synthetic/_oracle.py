"""The oracle: the true P(step | what was observed) under the generator, by quadrature.

What it conditions on, per child: every answer and every missing answer of each of
its forms (wave 0 and wave 1, whichever instrument), which wave each form belongs to,
and (through the instruments) its setting and age. It does **not** see the family
background, the rater's harshness, the latent state, the municipality or the sex: the
first two are integrated out (a finite mixture over the three groups with their
population shares; a three-point mixture over each form's rater harshness), the
others carry no information under the generator.

How: the latent state is (F, D, R, acute). D, R and the acute-risk propensity S* are
independent given F (a star around F), and every observation depends on one of them
(plus the form's rater shift), so

    p(obs, step) = Σ_g π_g Σ_F p(F|g) M(F, g) I_R(F) Σ_A p(A|F) L_A(A)
                   Σ_D p(D|F) Π_waves [Σ_m w_m L_F(F + s_gm) L_D(D + s_gm)] P(step | D, F, A)

with ``I_R(F) = Σ_R p(R|F) L_R(R)`` and ``M`` the likelihood of which answers are
missing. F, D and R are integrated on the same uniform grid of :data:`GRID_POINTS`
nodes (spacing :data:`GRID_STEP` SD, ±5 SD around the mean), the trapezoidal rule,
which is exponentially accurate for these smooth integrands; the group (3), the
harshness (3 per form) and the acute risk (2) are exact finite sums. That is
31 × 31 (F, D) × 2 (acute) × 3 (groups) nodes per child, with 3 harshness nodes
per form and 31 R nodes per F node summed separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

import numpy as np
import pandas as pd
from scipy.special import log_expit, ndtr

from ..errors import DataError, OpsporingError, Problem
from ._config import GROUPS, SyntheticConfig
from ._model import (
    DIM_D,
    DIM_F,
    DIM_R,
    F64,
    HARSHNESS_NODES,
    HARSHNESS_WEIGHTS,
    I64,
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
    item_model,
    missing_logit,
    number_log_pmf,
    resolve_instrument,
    step_probabilities,
)
from ._population import SyntheticPopulation

#: Spacing of the quadrature grid of F, D and R, in SD units.
GRID_STEP = 0.35
#: The grid, relative to the year's mean: -5 to +5.5 SD.
GRID = np.arange(-5.0, 5.5 + 1e-9, GRID_STEP)
GRID_POINTS = len(GRID)
_CHUNK = 2048
_FLOOR = -150.0
_TINY = float(np.exp(_FLOOR))


@dataclass(frozen=True)
class _Prior:
    """The prior on the grid, and P(step | node), for one configuration."""

    f: F64  # F nodes (Q,)
    d: F64  # D nodes (Q,)
    r: F64  # R nodes (Q,)
    log_pf: F64  # (G, Q) log p(F | group)
    pd_f: F64  # (Q_F, Q_D) p(D | F)
    pr_f: F64  # (Q_F, Q_R) p(R | F)
    pa_f: F64  # (Q_F, 2) p(acute | F)
    step: F64  # (Q_F, Q_D, 2 * 7): P(step | F, D, acute=0) then acute=1


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
    shift = cfg.year_shift
    f = shift + GRID
    d = shift + GRID
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
    ff, dd = np.meshgrid(f, d, indexing="ij")
    step = _flush(
        np.concatenate(
            [step_probabilities(cfg, dd, ff, np.full_like(ff, a)) for a in (0.0, 1.0)], axis=-1
        )
    )
    return _Prior(f, d, r, log_pf, pd_f, pr_f, pa_f, step)


def population_step_distribution(cfg: SyntheticConfig) -> F64:
    """The exact marginal P(step = k), k = 0..6, of the population ``cfg`` describes.

    >>> from opsporing.synthetic import SyntheticConfig
    >>> p = population_step_distribution(SyntheticConfig())
    >>> round(float(p[1:].sum()), 3), round(float(p[4:].sum()), 3)
    (0.05, 0.01)
    """
    pr = prior(cfg)
    pf = np.asarray(cfg.group_shares) @ np.exp(pr.log_pf)  # (Q_F,)
    per_f = np.einsum("fd,fdk->fk", pr.pd_f, pr.step)  # (Q_F, 14)
    out = pf @ (per_f[:, :7] * pr.pa_f[:, :1] + per_f[:, 7:] * pr.pa_f[:, 1:])
    return out / out.sum()  # type: ignore[no-any-return]


def calibrate_thresholds(cfg: SyntheticConfig, targets: tuple[float, ...]) -> tuple[float, ...]:
    """Step thresholds that give ``targets`` = P(step >= k), k = 1..6, in population ``cfg``.

    This is how :data:`~._model.STEP_THRESHOLDS` was set (with the default config and
    :data:`~._model.STEP_TARGETS`); the test suite checks it still agrees.
    """
    from scipy.optimize import brentq

    from ._model import SIGMA_STEP, W_ACUTE, W_D, W_F

    pr = prior(cfg)
    pf = np.asarray(cfg.group_shares) @ np.exp(pr.log_pf)
    ff, dd = np.meshgrid(pr.f, pr.d, indexing="ij")

    def tail(cut: float) -> float:
        total = 0.0
        for a in (0, 1):
            index = W_D * dd + W_F * ff + W_ACUTE * a + cfg.prevalence_shift
            p = ndtr((index - cut) / SIGMA_STEP)
            total += float(pf @ ((pr.pd_f * p).sum(axis=1) * pr.pa_f[:, a]))
        return total

    cuts = []
    for target in targets:
        cuts.append(round(float(brentq(lambda c, t=target: tail(c) - t, -10.0, 20.0)), 4))
    return tuple(cuts)


# --- per-form likelihood tables ----------------------------------------------------------------
@dataclass
class _FormTables:
    ld: F64  # (n, 2, 3, Q_D): log L of the D items, per (bias, harshness) shift
    lf: F64  # (n, 2, 3, Q_F): log L of the F (care) items
    lr: F64  # (n, Q_R)
    ls: F64  # (n, 2): log L of the safety items given acute = 0, 1
    ln: F64  # (n, Q_D): log L of the number items (driven by D, no rater shift)
    n_missing: F64  # (n,)
    n_answered: F64  # (n,)

    @classmethod
    def empty(cls, n: int) -> _FormTables:
        q = GRID_POINTS
        return cls(
            np.zeros((n, 2, 3, q)),
            np.zeros((n, 2, 3, q)),
            np.zeros((n, q)),
            np.zeros((n, 2)),
            np.zeros((n, q)),
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


def _shifts(cfg: SyntheticConfig, wave: int) -> F64:
    """Latent shift of the rated items per (bias 0/1, harshness node): (2, 3)."""
    bias = np.array([0.0, cfg.rater_bias_size])[:, None]
    drift = cfg.drift_per_year if wave == 0 else 0.0
    return bias + cfg.rater_harshness_sd * HARSHNESS_NODES[None, :] - drift


def _item_block(a: F64, b: F64, nodes: F64, concern: F64) -> F64:
    """Σ_j log P(concern_j | θ) over nodes of any shape; concern NaN = missing (adds 0)."""
    if concern.shape[1] == 0:
        return np.zeros((concern.shape[0], nodes.size))
    levels = b.shape[1] + 1
    logp = np.stack(
        [np.log(concern_probabilities(a[j], b[j], nodes.ravel())) for j in range(len(a))]
    )  # (J, nodes, levels)
    table = logp.transpose(0, 2, 1).reshape(len(a) * levels, nodes.size)
    onehot = (concern[:, :, None] == np.arange(levels)).reshape(concern.shape[0], -1)
    return onehot.astype(np.float64) @ table  # type: ignore[no-any-return]


def _form_tables(
    cfg: SyntheticConfig, model: ItemModel, wave: int, raw: F64, pr: _Prior
) -> _FormTables:
    n = raw.shape[0]
    concern = model.concern(raw)
    q = GRID_POINTS
    shifts = _shifts(cfg, wave)
    graded = model.kind == KIND_GRADED
    out = _FormTables.empty(0)
    for dim, nodes, name in ((DIM_D, pr.d, "ld"), (DIM_F, pr.f, "lf")):
        cols = graded & (model.dim == dim)
        theta = shifts[:, :, None] + nodes[None, None, :]  # (2, 3, Q)
        block = _item_block(model.a[cols], model.b[cols], theta, concern[:, cols])
        setattr(out, name, block.reshape(n, 2, 3, q))
    cols = graded & (model.dim == DIM_R)
    out.lr = _item_block(model.a[cols], model.b[cols], -pr.r, concern[:, cols])
    # Safety items: Σ_j log P(c_j | acute), from each item's table (a missing answer adds 0).
    safe = np.flatnonzero(model.kind == KIND_SAFETY)
    out.ls = np.zeros((n, 2))
    for j in safe:
        with np.errstate(divide="ignore"):
            log_law = np.log(model.safety[j])  # (levels, 2)
        onehot = (concern[:, j, None] == np.arange(log_law.shape[0])).astype(np.float64)
        # Unused levels have probability 0: only 0 × log 0 = nan would arise, never observed.
        out.ls += onehot @ np.where(np.isfinite(log_law), log_law, 0.0)
    # Number items: the count's law given D on the grid (drift only: no rater shift).
    out.ln = np.zeros((n, q))
    drift = cfg.drift_per_year if wave == 0 else 0.0
    for j in np.flatnonzero(model.kind == KIND_NUMBER):
        span = int(model.top[j] - model.low[j])
        table = number_log_pmf(pr.d - drift, 0, span)  # (Q_D, span + 1)
        x = concern[:, j]
        seen = ~np.isnan(x)
        out.ln[seen] += table[:, x[seen].astype(np.int64)].T
    # Which answers are missing: a blank required item is not a draw of the missingness
    # law (the generator never leaves one blank), so it is neither counted nor conditioned on.
    optional = ~model.required
    out.n_missing = np.isnan(raw[:, optional]).sum(axis=1).astype(np.float64)
    out.n_answered = float(optional.sum()) - out.n_missing
    return out


# --- combining a chunk of children -------------------------------------------------------------
def _total(arrays: list[F64]) -> F64:
    out: F64 = np.sum(np.stack(arrays), axis=0)
    return out


def _combine(cfg: SyntheticConfig, pr: _Prior, waves: list[_FormTables]) -> F64:
    n = waves[0].ld.shape[0]
    # Resources: I_R(F) = Σ_R p(R|F) L_R(R), both waves' answers at once.
    lr = _total([w.lr for w in waves])
    c_r = lr.max(axis=1, keepdims=True)
    log_ir = np.log(_exp(lr - c_r) @ pr.pr_f.T) + c_r  # (n, Q_F)
    ls = _total([w.ls for w in waves])
    c_s = ls.max(axis=1, keepdims=True)
    like_a = _exp(ls - c_s)  # (n, 2)
    ln = _total([w.ln for w in waves])
    c_n = ln.max(axis=1, keepdims=True)
    like_n = _exp(ln - c_n)  # (n, Q_D): the number items, a factor of D alone
    n_missing = _total([w.n_missing for w in waves])
    n_answered = _total([w.n_answered for w in waves])
    bias_group = None if cfg.rater_bias_against is None else GROUPS.index(cfg.rater_bias_against)
    weights = HARSHNESS_WEIGHTS[None, :, None]
    total = np.zeros((n, 14))
    log_scale = np.full(n, -np.inf)
    parts = []
    for g in range(len(GROUPS)):
        beta = int(g == bias_group)
        h = np.ones((n, GRID_POINTS, GRID_POINTS))
        log_h = np.zeros(n)
        for w in waves:
            a = w.lf[:, beta]
            b = w.ld[:, beta]
            c_a = a.max(axis=(1, 2))
            c_b = b.max(axis=(1, 2))
            ea = _exp(a - c_a[:, None, None]) * weights  # (n, 3, Q_F)
            eb = _exp(b - c_b[:, None, None])  # (n, 3, Q_D)
            h *= _flush(np.matmul(ea.transpose(0, 2, 1), eb))
            log_h += c_a + c_b
        logit = missing_logit(cfg, pr.f, np.full(GRID_POINTS, g))  # (Q_F,)
        lf = (
            pr.log_pf[g][None, :]
            + n_missing[:, None] * log_expit(logit)[None, :]
            + n_answered[:, None] * log_expit(-logit)[None, :]
            + log_ir
        )
        c_f = lf.max(axis=1)
        wf = _exp(lf - c_f[:, None])  # (n, Q_F)
        h *= pr.pd_f[None] * like_n[:, None, :]
        # Σ_D: (Q_F, n, Q_D) @ (Q_F, Q_D, 14) -> (Q_F, n, 14)
        by_f = np.matmul(h.transpose(1, 0, 2), pr.step).transpose(1, 0, 2)  # (n, Q_F, 14)
        wa = wf[:, :, None] * pr.pa_f[None, :, :] * like_a[:, None, :]  # (n, Q_F, 2)
        contrib = np.concatenate(
            [
                np.einsum("nf,nfk->nk", wa[:, :, 0], by_f[:, :, :7]),
                np.einsum("nf,nfk->nk", wa[:, :, 1], by_f[:, :, 7:]),
            ],
            axis=1,
        )
        scale = np.log(cfg.group_shares[g]) + log_h + c_f + c_n[:, 0]
        parts.append((contrib, scale))
        log_scale = np.maximum(log_scale, scale)
    for contrib, scale in parts:
        total += contrib * np.exp(scale - log_scale)[:, None]
    p = total[:, :7] + total[:, 7:]
    return p / p.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


# --- public ------------------------------------------------------------------------------------
def oracle_proba(pop: SyntheticPopulation, setting: str | None = None) -> pd.DataFrame:
    """True P(step = k | everything observed about the child), k = 0..6, under the generator.

    Computed by numerical integration over the latent state (not fitted): see
    ``docs/synthetic.md`` for the method. It reads the answers from ``pop.forms`` (so
    masking answers there changes what it conditions on) and the model parameters from
    ``pop.config``; it never reads the latent columns, the true step or the family
    background.

    Parameters
    ----------
    pop : SyntheticPopulation
    setting : {"dagtilbud", "skole"} or None
        Only the children currently in that setting (default: every child).

    Returns
    -------
    DataFrame
        Indexed by ``child_id`` in the order of ``pop.children``, columns
        :data:`STEP_COLUMNS`; every row sums to 1.

    Examples
    --------
    >>> from opsporing.synthetic import SyntheticConfig, generate, oracle_proba
    >>> pop = generate(SyntheticConfig(n_children=200, seed=3), progress=False)
    >>> p = oracle_proba(pop)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0))
    ((200, 7), True)
    """
    if not isinstance(pop, SyntheticPopulation):
        raise DataError(Problem("pop", type(pop).__name__, "a SyntheticPopulation"))
    if setting is not None and setting not in SETTINGS:
        raise DataError(Problem("setting", setting, f"None or one of {list(SETTINGS)}"))
    cfg = pop.config
    kids = pop.children
    if setting is not None:
        kids = kids[kids["setting"] == setting]
    ids = pd.Index(kids["child_id"])
    n = len(ids)
    # Where each child's form of each wave is: which instrument (index into `models`) and
    # which row of that instrument's answers; -1 for none.
    table = {w: np.full(n, -1, np.int64) for w in (0, 1)}
    row = {w: np.full(n, -1, np.int64) for w in (0, 1)}
    models: list[ItemModel] = []
    answers: list[F64] = []
    for s in SETTINGS:
        forms = pop.forms[s]
        for model, rows, raw in _checked_answers(forms, s):
            t = len(models)
            models.append(model)
            answers.append(raw)
            pos = ids.get_indexer(forms["child_id"].to_numpy()[rows])
            wave = forms["wave"].to_numpy()[rows]
            for w in (0, 1):
                sel = np.flatnonzero((pos >= 0) & (wave == w))
                if np.any(table[w][pos[sel]] >= 0) or len(np.unique(pos[sel])) != len(sel):
                    raise DataError(f"forms: a child has more than one form in wave {w}")
                table[w][pos[sel]] = t
                row[w][pos[sel]] = sel
    pr = prior(cfg)
    out = np.empty((n, 7))
    # Many small matrix products: threads only add overhead (and stall on a busy machine).
    with import_module("threadpoolctl").threadpool_limits(limits=1, user_api="blas"):
        _fill(cfg, pr, models, answers, table, row, out)
    return pd.DataFrame(out, index=pd.Index(ids, name="child_id"), columns=list(STEP_COLUMNS))


def _fill(
    cfg: SyntheticConfig,
    pr: _Prior,
    models: list[ItemModel],
    answers: list[F64],
    table: dict[int, I64],
    row: dict[int, I64],
    out: F64,
) -> None:
    n = len(out)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        waves = []
        for w in (1, 0):
            tabs = _FormTables.empty(stop - start)
            for t, model in enumerate(models):
                sel = np.flatnonzero(table[w][start:stop] == t)
                if len(sel):
                    raw = answers[t][row[w][start:stop][sel]]
                    tabs.put(sel, _form_tables(cfg, model, w, raw, pr))
            waves.append(tabs)
        out[start:stop] = _combine(cfg, pr, waves)


def _checked_answers(forms: pd.DataFrame, setting: str) -> list[tuple[ItemModel, I64, F64]]:
    """Per instrument the forms name: its model, its rows of ``forms`` and their answers."""
    for column in ("child_id", "wave", "instrument_id", "instrument_version"):
        if column not in forms.columns:
            raise DataError(f"forms[{setting!r}]: column {column!r} missing")
    keys = forms["instrument_id"].astype(str) + "@" + forms["instrument_version"].astype(str)
    out = []
    for key in _in_order(keys):
        inst_id, version = key.rsplit("@", 1)
        try:
            model = item_model(resolve_instrument(inst_id, version))
        except OpsporingError as exc:
            raise DataError(
                Problem("instrument_id", key, f"a shipped instrument ({exc})")
            ) from None
        rows = np.flatnonzero((keys == key).to_numpy())
        missing = [c for c in model.items if c not in forms.columns]
        if missing:
            raise DataError(f"forms[{setting!r}]: column {missing[0]!r} missing")
        raw = forms[list(model.items)].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        ok = np.isnan(raw) | ((raw >= model.low) & (raw <= model.top) & (raw == np.round(raw)))
        if not ok.all():
            r, j = np.argwhere(~ok)[0]
            raise DataError(
                Problem(
                    model.items[j],
                    float(raw[r, j]),
                    f"a whole number from {model.low[j]} to {model.top[j]} or NaN "
                    f"(forms[{setting!r}], {key})",
                    row=int(rows[r]),
                )
            )
        out.append((model, rows, raw))
    return out


def _in_order(keys: pd.Series) -> list[str]:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(keys.tolist()))
