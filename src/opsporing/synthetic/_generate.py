"""Drawing a synthetic population: vectorised, one seeded random source, no per-child loop."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from ..errors import DataError, Problem
from ._config import GROUPS, SyntheticConfig
from ._model import (
    DIM_A,
    DIM_D,
    DIM_F,
    DIM_R,
    F64,
    HARSHNESS_NODES,
    HARSHNESS_WEIGHTS,
    I64,
    KIND_NUMBER,
    KIND_SAFETY,
    RHO_DF,
    RHO_RF,
    RHO_SF,
    SAFETY_THRESHOLD,
    SETTINGS,
    SIGMA_STEP,
    STEP_THRESHOLDS,
    W_ACUTE,
    W_D,
    W_F,
    ItemModel,
    current_instruments,
    draw_numbers,
    instrument_index,
    item_model,
    missing_logit,
)
from ._population import SyntheticPopulation

#: Forms drawn per block (bounds memory; fixed, so the data never depends on it).
_CHUNK = 65_536
#: Daycare ages are drawn from [0.5, 6), school ages from [6, 16], in 1/100 years.
AGE_DAYCARE = (0.5, 6.0)
AGE_SCHOOL = (6.0, 16.0)
#: Girls' share.
SHARE_GIRLS = 0.49


@dataclass(frozen=True)
class _Block:
    """Forms of one setting and wave, before they get ids."""

    setting: str
    wave: int
    child: I64
    age: F64
    rater: I64
    answers: F64  # (forms, form_columns(setting)); NaN also for other forms' items
    instrument: I64  # index into current_instruments(setting)


def generate(
    config: SyntheticConfig | None = None, *, progress: bool = True
) -> SyntheticPopulation:
    """Draw a synthetic population under ``config``.

    Parameters
    ----------
    config : SyntheticConfig, optional
        The scenario (default: ``SyntheticConfig()``, 50,000 children).
    progress : bool, default True
        Show a progress bar, but only when stderr is a terminal. The data never depend
        on it.

    Returns
    -------
    SyntheticPopulation

    Examples
    --------
    >>> from opsporing.synthetic import SyntheticConfig, generate
    >>> pop = generate(SyntheticConfig(n_children=300, seed=1), progress=False)
    >>> len(pop.children), sorted(pop.forms)
    (300, ['dagtilbud', 'skole'])
    >>> pop.children["true_step"].between(0, 6).all()
    np.True_
    """
    cfg = SyntheticConfig() if config is None else config
    if not isinstance(cfg, SyntheticConfig):
        raise DataError(Problem("config", cfg, "a SyntheticConfig"))
    ss = np.random.SeedSequence(cfg.seed)
    s_children, s_latent, s_step, s_raters, s_forms, s_ids = ss.spawn(6)
    n_chunks = sum(-(-n // _CHUNK) for n in _block_sizes_upper(cfg))
    with _progress_bar(progress, 4 + n_chunks) as tick:
        kids = _children(cfg, np.random.default_rng(s_children))
        tick()
        latent = _latent(cfg, kids["group"], np.random.default_rng(s_latent))
        step = _true_step(cfg, latent, np.random.default_rng(s_step))
        tick()
        plan = _plan_forms(cfg, kids, np.random.default_rng(s_raters))
        tick()
        blocks = []
        for (setting, wave), rng_seed in zip(_BLOCKS, s_forms.spawn(len(_BLOCKS)), strict=True):
            blocks.append(
                _answers(
                    cfg, setting, wave, plan, kids, latent, np.random.default_rng(rng_seed), tick
                )
            )
        pop = _assemble(cfg, kids, latent, step, plan, blocks, np.random.default_rng(s_ids))
        tick()
    return pop


_BLOCKS: tuple[tuple[str, int], ...] = (
    ("dagtilbud", 1),
    ("skole", 1),
    ("dagtilbud", 0),
    ("skole", 0),
)


def _block_sizes_upper(cfg: SyntheticConfig) -> list[int]:
    # Only for the length of the progress bar: an upper bound is enough (each form of an
    # age band starts a chunk of its own).
    bands = max(len(current_instruments(s)) for s in SETTINGS)
    return [cfg.n_children * bands] * 2 + [
        (int(cfg.n_children * cfg.share_earlier_screening) + 1) * bands
    ] * 2


@contextmanager
def _progress_bar(show: bool, total: int) -> Iterator[Any]:
    if not (show and sys.stderr.isatty()):
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("synthetic population", total=total)
        yield lambda: bar.advance(task)


# --- children ----------------------------------------------------------------------------------
def _children(cfg: SyntheticConfig, rng: np.random.Generator) -> dict[str, Any]:
    n = cfg.n_children
    size = np.sort(rng.lognormal(0.0, 0.8, cfg.n_municipalities))[::-1]
    municipality = rng.choice(cfg.n_municipalities, size=n, p=size / size.sum())
    daycare = rng.random(n) < cfg.share_daycare
    lo = np.where(daycare, AGE_DAYCARE[0], AGE_SCHOOL[0])
    hi = np.where(daycare, AGE_DAYCARE[1], AGE_SCHOOL[1] + 0.01)
    age = np.floor((lo + (hi - lo) * rng.random(n)) * 100.0) / 100.0
    age = np.minimum(age, np.where(daycare, 5.99, AGE_SCHOOL[1]))
    girl = rng.random(n) < SHARE_GIRLS
    group = np.searchsorted(np.cumsum(cfg.group_shares)[:-1], rng.random(n), side="right")
    return {
        "municipality": municipality.astype(np.int64),
        "daycare": daycare,
        "age": age,
        "girl": girl,
        "group": group.astype(np.int64),
    }


def _latent(cfg: SyntheticConfig, group: I64, rng: np.random.Generator) -> dict[str, F64]:
    n = len(group)
    e = rng.standard_normal((n, 4))
    shift = cfg.year_shift
    strain = np.asarray(cfg.group_strain_shift)[group] + shift + e[:, 0]
    centred = strain - shift
    difficulties = shift + RHO_DF * centred + np.sqrt(1 - RHO_DF**2) * e[:, 1]
    resources = RHO_RF * centred + np.sqrt(1 - RHO_RF**2) * e[:, 2]
    safety = RHO_SF * centred + np.sqrt(1 - RHO_SF**2) * e[:, 3]
    return {
        "difficulties": difficulties,
        "strain": strain,
        "safety": safety,
        "resources": resources,
        "acute": (safety > SAFETY_THRESHOLD).astype(np.float64),
    }


def _true_step(cfg: SyntheticConfig, latent: dict[str, F64], rng: np.random.Generator) -> I64:
    index = (
        W_D * latent["difficulties"]
        + W_F * latent["strain"]
        + W_ACUTE * latent["acute"]
        + cfg.prevalence_shift
        + SIGMA_STEP * rng.standard_normal(len(latent["strain"]))
    )
    return np.searchsorted(np.asarray(STEP_THRESHOLDS), index, side="right").astype(np.int64)


# --- who is screened, when, by whom ------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    """Every form's child, setting, wave, age and rater; and every rater."""

    child: I64
    setting: I64  # index into SETTINGS
    wave: I64
    age: F64
    rater: I64  # index into the rater arrays below
    rater_municipality: I64
    rater_setting: I64
    rater_wave: I64
    rater_number: I64
    harshness: F64


def _plan_forms(cfg: SyntheticConfig, kids: dict[str, Any], rng: np.random.Generator) -> _Plan:
    n = cfg.n_children
    age0 = np.round(kids["age"] - 1.0, 2)
    earlier = (age0 >= AGE_DAYCARE[0]) & (rng.random(n) < cfg.share_earlier_screening)
    idx0 = np.flatnonzero(earlier)
    child = np.concatenate([np.arange(n), idx0])
    wave = np.concatenate([np.ones(n, np.int64), np.zeros(len(idx0), np.int64)])
    age = np.concatenate([kids["age"], age0[idx0]])
    setting = np.where(age < AGE_DAYCARE[1], 0, 1).astype(np.int64)
    # One pool of raters per municipality, setting and wave; each form to a random rater.
    n_cells = cfg.n_municipalities * 2 * 2
    cell = (kids["municipality"][child] * 2 + setting) * 2 + wave
    count = np.bincount(cell, minlength=n_cells)
    pool = np.where(count > 0, -(-count // cfg.children_per_rater), 0)
    first = np.concatenate([[0], np.cumsum(pool)[:-1]])
    rater = first[cell] + np.floor(rng.random(len(child)) * pool[cell]).astype(np.int64)
    n_raters = int(pool.sum())
    rater_cell = np.repeat(np.arange(n_cells), pool)
    kind = np.searchsorted(np.cumsum(HARSHNESS_WEIGHTS)[:-1], rng.random(n_raters), side="right")
    return _Plan(
        child=child,
        setting=setting,
        wave=wave,
        age=age,
        rater=rater,
        rater_municipality=rater_cell // 4,
        rater_setting=(rater_cell // 2) % 2,
        rater_wave=rater_cell % 2,
        rater_number=np.arange(n_raters) - first[rater_cell] + 1,
        harshness=cfg.rater_harshness_sd * HARSHNESS_NODES[kind],
    )


# --- answers -----------------------------------------------------------------------------------
def form_columns(setting: str) -> tuple[str, ...]:
    """The item columns of a setting's form table: every current form's items, in order.

    The forms of the age bands are listed in age order, each item once (an item id two
    forms share is one column); a form leaves the columns of the other forms' items empty.
    """
    seen: dict[str, None] = {}
    for inst in current_instruments(setting):
        seen.update(dict.fromkeys(inst.item_ids))
    return tuple(seen)


def _answers(
    cfg: SyntheticConfig,
    setting: str,
    wave: int,
    plan: _Plan,
    kids: dict[str, Any],
    latent: dict[str, F64],
    rng: np.random.Generator,
    tick: Any,
) -> _Block:
    rows = np.flatnonzero((plan.setting == SETTINGS.index(setting)) & (plan.wave == wave))
    columns = form_columns(setting)
    which = instrument_index(setting, plan.age[rows])
    out = np.full((len(rows), len(columns)), np.nan)
    # One random stream per setting and wave; the forms of the age bands draw from it in
    # turn (age order), so a setting with one form draws exactly as before.
    for t, inst in enumerate(current_instruments(setting)):
        model = item_model(inst)
        cols = np.array([columns.index(i) for i in model.items], dtype=np.int64)
        sub = np.flatnonzero(which == t)
        for start in range(0, len(sub), _CHUNK):
            part = sub[start : start + _CHUNK]
            raw = _draw_forms(cfg, model, wave, plan, kids, latent, rows[part], rng)
            out[np.ix_(part, cols)] = raw
            tick()
    return _Block(setting, wave, plan.child[rows], plan.age[rows], plan.rater[rows], out, which)


def _draw_forms(
    cfg: SyntheticConfig,
    model: ItemModel,
    wave: int,
    plan: _Plan,
    kids: dict[str, Any],
    latent: dict[str, F64],
    r: I64,
    rng: np.random.Generator,
) -> F64:
    """Raw answers (NaN = missing) of the forms ``r`` of plan, all on ``model``'s instrument."""
    c = plan.child[r]
    group = kids["group"][c]
    drift = cfg.drift_per_year if wave == 0 else 0.0
    shift = plan.harshness[plan.rater[r]] - drift
    if cfg.rater_bias_against is not None:
        shift = shift + cfg.rater_bias_size * (group == GROUPS.index(cfg.rater_bias_against))
    by_dim = np.empty((len(r), 4))
    by_dim[:, DIM_D] = latent["difficulties"][c] + shift
    by_dim[:, DIM_F] = latent["strain"][c] + shift
    by_dim[:, DIM_R] = -latent["resources"][c]  # few resources = concern
    by_dim[:, DIM_A] = latent["acute"][c]
    theta = by_dim[:, model.dim]
    u = rng.random(theta.shape)
    # Graded response: concern >= k  <=>  u < logistic(a (θ - b_k))  <=>  y > b_k with
    # y = θ - logit(u) / a, so one logistic quantile per answer instead of one per threshold.
    with np.errstate(divide="ignore"):
        y = theta - logit(u) / np.where(model.a > 0, model.a, 1.0)
    concern = (y[:, :, None] > model.b[None, :, :]).sum(axis=2).astype(np.float64)
    # Safety items: concern >= c  <=>  u < P(concern >= c | acute), counted over c >= 1.
    safe = np.flatnonzero(model.kind == KIND_SAFETY)
    if len(safe):
        acute = (theta[:, safe] > 0.5).astype(np.int64)
        law = model.safety[safe][None, :, :, :]  # (1, S, levels, 2)
        probs = np.where(acute[:, :, None] == 1, law[..., 1], law[..., 0])  # (n, S, levels)
        at_least = np.cumsum(probs[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
        concern[:, safe] = (u[:, safe, None] < at_least).sum(axis=2)
    # Number items: a count read from the register, driven by D (no rater shift).
    for j in np.flatnonzero(model.kind == KIND_NUMBER):
        base = latent["difficulties"][c] - drift
        concern[:, j] = draw_numbers(base, u[:, j], 0, int(model.top[j] - model.low[j]))
    raw = model.raw(concern)
    p_missing = expit(missing_logit(cfg, latent["strain"][c], group))
    missing = rng.random(theta.shape) < p_missing[:, None]
    raw[missing & ~model.required] = np.nan  # a required (safety) item is never left blank
    return raw


# --- tables ------------------------------------------------------------------------------------
def _ids(prefix: str, digits: int, n: int, rng: np.random.Generator) -> Any:
    """``n`` distinct random ids ``prefix`` + ``digits`` digits, as a NumPy str array."""
    numbers = rng.choice(10**digits, size=n, replace=False)
    return _fixed_width(prefix, numbers, digits)


def _fixed_width(prefix: str, numbers: Any, digits: int) -> Any:
    """``prefix`` + zero-padded ``numbers`` without a Python-level loop over the numbers."""
    powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    text = np.empty((len(numbers), len(prefix) + digits), dtype=np.uint8)
    text[:, : len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    text[:, len(prefix) :] = (np.asarray(numbers, dtype=np.int64)[:, None] // powers) % 10 + 48
    return text.view(f"S{text.shape[1]}").ravel().astype(str)


def _assemble(
    cfg: SyntheticConfig,
    kids: dict[str, Any],
    latent: dict[str, F64],
    step: I64,
    plan: _Plan,
    blocks: list[_Block],
    rng: np.random.Generator,
) -> SyntheticPopulation:
    munis = np.array([f"K{i + 1:02d}" for i in range(cfg.n_municipalities)])
    child_id = _ids("C", 7, cfg.n_children, rng)
    form_id = _ids("F", 8, len(plan.child), rng)
    children = pd.DataFrame(
        {
            "child_id": child_id,
            "municipality": munis[kids["municipality"]],
            "setting": np.where(kids["daycare"], "dagtilbud", "skole"),
            "age_years": kids["age"],
            "sex": np.where(kids["girl"], "pige", "dreng"),
            "family_background": np.asarray(GROUPS)[kids["group"]],
            "latent_difficulties": latent["difficulties"],
            "latent_family_strain": latent["strain"],
            "latent_safety_risk": latent["safety"],
            "latent_resources": latent["resources"],
            "true_step": step,
        }
    )
    rater_ids = _rater_ids(cfg, plan, munis)
    forms: dict[str, pd.DataFrame] = {}
    used = 0
    for setting in SETTINGS:
        parts = [b for b in blocks if b.setting == setting]
        child = np.concatenate([b.child for b in parts])
        wave = np.concatenate([np.full(len(b.child), b.wave, np.int64) for b in parts])
        order = np.lexsort((wave, child))
        insts = current_instruments(setting)
        which = np.concatenate([b.instrument for b in parts])[order]
        n = len(order)
        table: dict[str, Any] = {
            "form_id": form_id[used : used + n],
            "child_id": child_id[child[order]],
            "wave": wave[order],
            "rater_id": rater_ids[np.concatenate([b.rater for b in parts])[order]],
            "instrument_id": np.asarray([i.id for i in insts], dtype=object)[which].astype(str),
            "instrument_version": np.asarray([i.version for i in insts], dtype=object)[
                which
            ].astype(str),
            "age_years": np.concatenate([b.age for b in parts])[order],
        }
        answers = np.concatenate([b.answers for b in parts])[order]
        for j, item in enumerate(form_columns(setting)):
            table[item] = answers[:, j]
        forms[setting] = pd.DataFrame(table)
        used += n
    raters = pd.DataFrame(
        {
            "rater_id": rater_ids,
            "municipality": munis[plan.rater_municipality],
            "setting": np.asarray(SETTINGS)[plan.rater_setting],
            "wave": plan.rater_wave,
            "harshness": plan.harshness,
        }
    )
    return SyntheticPopulation(children=children, forms=forms, config=cfg, raters=raters)


def _rater_ids(cfg: SyntheticConfig, plan: _Plan, munis: Any) -> Any:
    """``"K03-S26-0042"``: municipality, D/S, two-digit year, number in the pool."""
    width = max(4, len(str(int(plan.rater_number.max(initial=0)))))
    number = _fixed_width("-", plan.rater_number, width)
    yy = np.where(plan.rater_wave == 1, cfg.year, cfg.year - 1) % 100
    cell = np.char.add(
        np.char.add(munis[plan.rater_municipality], np.array(["-D", "-S"])[plan.rater_setting]),
        _fixed_width("", yy, 2),
    )
    return np.char.add(cell, number)
