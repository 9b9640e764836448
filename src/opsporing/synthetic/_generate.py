"""Drawing a synthetic population: vectorised, one seeded random source, no per-child loop."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
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
    FORM_TABLES,
    HARSHNESS_NODES,
    HARSHNESS_WEIGHTS,
    I64,
    INFORMANT_OF_TABLE,
    KIND_NUMBER,
    KIND_SAFETY,
    MIN_SCREENING_AGE,
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
    episode_matrices,
    harshness_sd,
    instrument_index,
    item_model,
    missing_logit,
    table_instruments,
    wave_ages,
    wave_drift,
    wave_settings,
    wave_year,
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
    """Forms of one table and wave, before they get ids."""

    table: str
    wave: int
    form: I64  # index into the plan's forms of this informant (educator or informant plan)
    answers: F64  # (forms, form_columns(table)); NaN also for other forms' items
    instrument: I64  # index into table_instruments(table)


def generate(
    config: SyntheticConfig | None = None, *, progress: bool = True
) -> SyntheticPopulation:
    """Draw a synthetic population under ``config``.

    Parameters
    ----------
    config : SyntheticConfig, optional
        The scenario (default: ``SyntheticConfig()``, 50,000 children, 3 waves).
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
    >>> len(pop.children), sorted(pop.forms), len(pop.waves)
    (300, ['child', 'dagtilbud', 'parent', 'skole'], 900)
    >>> pop.children["true_step"].between(0, 6).all()
    np.True_
    """
    cfg = SyntheticConfig() if config is None else config
    if not isinstance(cfg, SyntheticConfig):
        raise DataError(Problem("config", cfg, "a SyntheticConfig"))
    ss = np.random.SeedSequence(cfg.seed)
    (
        s_children,
        s_latent,
        s_step,
        s_raters,
        s_forms,
        s_ids,
        s_episodes,
        s_informants,
    ) = ss.spawn(8)
    blocks_order = _blocks(cfg)
    n_chunks = _chunks_upper(cfg)
    with _progress_bar(progress, 4 + n_chunks) as tick:
        kids = _children(cfg, np.random.default_rng(s_children))
        tick()
        latent = _latent(cfg, kids["group"], np.random.default_rng(s_latent))
        ages = wave_ages(cfg, kids["age"])
        episode = _episodes(cfg, ages, np.random.default_rng(s_episodes))
        step = _true_steps(cfg, latent, episode, np.random.default_rng(s_step))
        tick()
        plan = _plan_forms(cfg, kids, ages, np.random.default_rng(s_raters))
        extra = _plan_informants(cfg, plan, np.random.default_rng(s_informants))
        tick()
        state = _State(cfg, kids, latent, episode)
        blocks = []
        for (table, wave), rng_seed in zip(
            blocks_order, s_forms.spawn(len(blocks_order)), strict=True
        ):
            blocks.append(
                _answers(state, table, wave, plan, extra, np.random.default_rng(rng_seed), tick)
            )
        pop = _assemble(
            cfg,
            kids,
            latent,
            ages,
            episode,
            step,
            plan,
            extra,
            blocks,
            np.random.default_rng(s_ids),
        )
        tick()
    return pop


def _blocks(cfg: SyntheticConfig) -> tuple[tuple[str, int], ...]:
    """(table, wave) of every block of forms, in the order they draw: current wave first."""
    return tuple((table, wave) for wave in range(cfg.current_wave, -1, -1) for table in FORM_TABLES)


def _chunks_upper(cfg: SyntheticConfig) -> int:
    # Only for the length of the progress bar: an upper bound is enough (each form of an
    # age band starts a chunk of its own).
    total = 0
    for table, wave in _blocks(cfg):
        n = cfg.n_children
        if wave != cfg.current_wave:
            n = int(n * cfg.share_earlier_screening) + 1
        total += len(table_instruments(table)) * -(-n // _CHUNK)
    return total


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


def _episodes(cfg: SyntheticConfig, ages: F64, rng: np.random.Generator) -> npt.NDArray[np.int8]:
    """The episode chain E_0 .. E_c of every child (rows), screened or not.

    A two-state Markov chain with the law of :func:`._model.episode_matrices` (which
    depends on the ages only), drawn independently of everything else: one uniform per
    child and wave, a loop over the (at most ten) waves, vectorised over children.
    """
    start, move = episode_matrices(cfg, ages)
    u = rng.random(ages.shape)
    out = np.zeros(ages.shape, dtype=np.int8)
    out[:, 0] = u[:, 0] < start[:, 1]
    rows = np.arange(len(ages))
    for k in range(1, ages.shape[1]):
        p_on = move[rows, k - 1, out[:, k - 1], 1]  # P(E_k = 1 | E_{k-1})
        out[:, k] = u[:, k] < p_on
    return out


def _wave_latent(
    cfg: SyntheticConfig, latent: dict[str, F64], episode: Any, wave: int
) -> tuple[F64, F64]:
    """D_k and F_k of every child at wave ``wave`` (``episode`` is that wave's E column)."""
    drift = float(wave_drift(cfg, wave))
    d_k = latent["difficulties"] + cfg.episode_size * episode + drift
    f_k = latent["strain"] + drift
    return d_k, f_k


def _true_steps(
    cfg: SyntheticConfig, latent: dict[str, F64], episode: Any, rng: np.random.Generator
) -> I64:
    """The true step at every wave (children x waves), one ε per child shared by the waves."""
    eps = rng.standard_normal(len(latent["strain"]))
    out = np.empty(episode.shape, dtype=np.int64)
    cuts = np.asarray(STEP_THRESHOLDS)
    for k in range(episode.shape[1]):
        d_k, f_k = _wave_latent(cfg, latent, episode[:, k], k)
        index = (
            W_D * d_k
            + W_F * f_k
            + W_ACUTE * latent["acute"]
            + cfg.prevalence_shift
            + SIGMA_STEP * eps
        )
        out[:, k] = np.searchsorted(cuts, index, side="right")
    return out


# --- who is screened, when, by whom ------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    """Every educator form's child, setting, wave, age and rater; and every rater."""

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


def _plan_forms(
    cfg: SyntheticConfig, kids: dict[str, Any], ages: F64, rng: np.random.Generator
) -> _Plan:
    n, waves, c = cfg.n_children, cfg.n_waves, cfg.current_wave
    followed = rng.random(n) < cfg.share_earlier_screening
    screened = np.zeros((n, waves), dtype=bool)
    screened[:, c] = True
    screened[:, :c] = followed[:, None] & (ages[:, :c] >= MIN_SCREENING_AGE)
    child, wave = np.nonzero(screened)  # child-major, waves in order
    child, wave = child.astype(np.int64), wave.astype(np.int64)
    age = ages[child, wave]
    setting = wave_settings(age)
    # One pool of raters per municipality, setting and wave; each form to a random rater.
    n_cells = cfg.n_municipalities * 2 * waves
    cell = (kids["municipality"][child] * 2 + setting) * waves + wave
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
        rater_municipality=rater_cell // (2 * waves),
        rater_setting=(rater_cell // waves) % 2,
        rater_wave=rater_cell % waves,
        rater_number=np.arange(n_raters) - first[rater_cell] + 1,
        harshness=harshness_sd(cfg, "educator") * HARSHNESS_NODES[kind],
    )


@dataclass(frozen=True)
class _Extra:
    """The parent and child forms: which educator form each accompanies, and its harshness."""

    form: dict[str, I64]  # per informant table: index into the educator plan
    instrument: dict[str, I64]  # index into table_instruments(table)
    harshness: dict[str, F64]


def _plan_informants(cfg: SyntheticConfig, plan: _Plan, rng: np.random.Generator) -> _Extra:
    """Beside each educator form a parent form (``share_parent_form``) and, where a form of
    the child's own fits, the child's form (``share_child_form``): presence drawn
    independently of everything, each form its own harshness from the three-point law."""
    m = len(plan.child)
    u = rng.random((m, 4))  # parent present, child present, parent harshness, child harshness
    shares = {"parent": cfg.share_parent_form, "child": cfg.share_child_form}
    form: dict[str, I64] = {}
    instrument: dict[str, I64] = {}
    harshness: dict[str, F64] = {}
    cum = np.cumsum(HARSHNESS_WEIGHTS)[:-1]
    for j, table in enumerate(("parent", "child")):
        informant = INFORMANT_OF_TABLE[table]
        keys = [i.key for i in table_instruments(table)]
        which = np.full(m, -1, dtype=np.int64)
        for s, setting in enumerate(SETTINGS):
            rows = np.flatnonzero(plan.setting == s)
            local = instrument_index(setting, plan.age[rows], informant)
            to_table = np.array(
                [keys.index(i.key) for i in current_instruments(setting, informant)] + [-1],
                dtype=np.int64,
            )
            which[rows] = to_table[local]  # -1 (no form fits) picks the appended -1
        present = (u[:, j] < shares[table]) & (which >= 0)
        kind = np.searchsorted(cum, u[:, 2 + j], side="right")
        rows = np.flatnonzero(present)
        form[table] = rows
        instrument[table] = which[rows]
        harshness[table] = harshness_sd(cfg, informant) * HARSHNESS_NODES[kind[rows]]
    return _Extra(form=form, instrument=instrument, harshness=harshness)


# --- answers -----------------------------------------------------------------------------------
def form_columns(table: str) -> tuple[str, ...]:
    """The item columns of a form table (:data:`FORM_TABLES`; a setting name is its
    educator table): every current form's items, in order.

    The forms are listed in ``forms.yaml`` order (the age bands in age order; for the
    parent and child tables the daycare list, then the school list), each item once (an
    item id two forms share is one column); a form leaves the columns of the other forms'
    items empty.
    """
    seen: dict[str, None] = {}
    for inst in table_instruments(table):
        seen.update(dict.fromkeys(inst.item_ids))
    return tuple(seen)


@dataclass(frozen=True)
class _State:
    """What the answers are drawn from: the config, children, latent state and episodes."""

    cfg: SyntheticConfig
    kids: dict[str, Any]
    latent: dict[str, F64]
    episode: npt.NDArray[np.int8]


def _answers(
    state: _State,
    table: str,
    wave: int,
    plan: _Plan,
    extra: _Extra,
    rng: np.random.Generator,
    tick: Any,
) -> _Block:
    cfg = state.cfg
    informant = INFORMANT_OF_TABLE[table]
    insts = table_instruments(table)
    if informant == "educator":
        forms = np.flatnonzero((plan.setting == SETTINGS.index(table)) & (plan.wave == wave))
        which = instrument_index(table, plan.age[forms])
        shift = plan.harshness[plan.rater[forms]]
        group = state.kids["group"][plan.child[forms]]
        if cfg.rater_bias_against is not None:  # professionals only
            shift = shift + cfg.rater_bias_size * (group == GROUPS.index(cfg.rater_bias_against))
        index = forms
    else:
        sel = np.flatnonzero(plan.wave[extra.form[table]] == wave)
        index = sel  # positions in the informant's own plan
        forms = extra.form[table][sel]
        which = extra.instrument[table][sel]
        shift = extra.harshness[table][sel]
    columns = form_columns(table)
    out = np.full((len(forms), len(columns)), np.nan)
    d_all, f_all = _wave_latent(cfg, state.latent, state.episode[:, wave], wave)
    # One random stream per table and wave; the forms of the instruments draw from it in
    # turn (forms.yaml order), in fixed chunks, so the data never depend on memory.
    for t, inst in enumerate(insts):
        model = item_model(inst)
        cols = np.array([columns.index(i) for i in model.items], dtype=np.int64)
        sub = np.flatnonzero(which == t)
        for start in range(0, len(sub), _CHUNK):
            part = sub[start : start + _CHUNK]
            c = plan.child[forms[part]]
            out[np.ix_(part, cols)] = _draw_forms(
                cfg, model, state, c, d_all[c], f_all[c], shift[part], rng
            )
            tick()
    return _Block(table, wave, index, out, which)


def _draw_forms(
    cfg: SyntheticConfig,
    model: ItemModel,
    state: _State,
    c: I64,
    d_k: F64,
    f_k: F64,
    shift: F64,
    rng: np.random.Generator,
) -> F64:
    """Raw answers (NaN = missing) of forms of children ``c``, all on ``model``'s instrument.

    ``d_k`` and ``f_k`` are the children's latent D and F at the form's wave (episode and
    drift included), ``shift`` the form's harshness (and, for educators, the group bias).
    """
    latent = state.latent
    group = state.kids["group"][c]
    by_dim = np.empty((len(c), 4))
    by_dim[:, DIM_D] = d_k + shift
    by_dim[:, DIM_F] = f_k + shift
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
    # Number items: a count read from the register, driven by D_k (no harshness shift).
    for j in np.flatnonzero(model.kind == KIND_NUMBER):
        concern[:, j] = draw_numbers(d_k, u[:, j], 0, int(model.top[j] - model.low[j]))
    raw = model.raw(concern)
    # Missingness depends on the child's family strain F (its current-wave value, as the
    # oracle's grid), not on the wave's drift.
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
    ages: F64,
    episode: npt.NDArray[np.int8],
    step: I64,
    plan: _Plan,
    extra: _Extra,
    blocks: list[_Block],
    rng: np.random.Generator,
) -> SyntheticPopulation:
    n, waves, c = cfg.n_children, cfg.n_waves, cfg.current_wave
    munis = np.array([f"K{i + 1:02d}" for i in range(cfg.n_municipalities)])
    child_id = _ids("C", 7, n, rng)
    n_forms = len(plan.child) + sum(len(f) for f in extra.form.values())
    form_id = _ids("F", 8, n_forms, rng)
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
            "true_step": step[:, c],
            "episode": episode[:, c],
        }
    )
    screened = np.zeros((n, waves), dtype=bool)
    screened[plan.child, plan.wave] = True
    wave_table = pd.DataFrame(
        {
            "child_id": np.repeat(child_id, waves),
            "wave": np.tile(np.arange(waves, dtype=np.int64), n),
            "age_years": ages.reshape(-1),
            "setting": np.asarray(SETTINGS)[wave_settings(ages)].reshape(-1),
            "screened": screened.reshape(-1),
            "episode": episode.reshape(-1),
            "true_step": step.reshape(-1),
        }
    )
    rater_ids = _rater_ids(cfg, plan, munis)
    forms: dict[str, pd.DataFrame] = {}
    used = 0
    for table in FORM_TABLES:
        parts = [b for b in blocks if b.table == table]
        index = np.concatenate([b.form for b in parts])
        educator = INFORMANT_OF_TABLE[table] == "educator"
        plan_row = index if educator else extra.form[table][index]
        child = plan.child[plan_row]
        wave = plan.wave[plan_row]
        order = np.lexsort((wave, child))
        insts = table_instruments(table)
        which = np.concatenate([b.instrument for b in parts])[order]
        m = len(order)
        head: dict[str, Any] = {
            "form_id": form_id[used : used + m],
            "child_id": child_id[child[order]],
            "wave": wave[order],
        }
        if educator:
            head["rater_id"] = rater_ids[plan.rater[plan_row[order]]]
        table_data: dict[str, Any] = {
            **head,
            "instrument_id": np.asarray([i.id for i in insts], dtype=object)[which].astype(str),
            "instrument_version": np.asarray([i.version for i in insts], dtype=object)[
                which
            ].astype(str),
            "age_years": plan.age[plan_row[order]],
        }
        answers = np.concatenate([b.answers for b in parts])[order]
        for j, item in enumerate(form_columns(table)):
            table_data[item] = answers[:, j]
        forms[table] = pd.DataFrame(table_data)
        used += m
    raters = pd.DataFrame(
        {
            "rater_id": rater_ids,
            "municipality": munis[plan.rater_municipality],
            "setting": np.asarray(SETTINGS)[plan.rater_setting],
            "wave": plan.rater_wave,
            "harshness": plan.harshness,
        }
    )
    return SyntheticPopulation(
        children=children, forms=forms, config=cfg, raters=raters, waves=wave_table
    )


def _rater_ids(cfg: SyntheticConfig, plan: _Plan, munis: Any) -> Any:
    """``"K03-S26-0042"``: municipality, D/S, two-digit year of the rater's wave, number."""
    width = max(4, len(str(int(plan.rater_number.max(initial=0)))))
    number = _fixed_width("-", plan.rater_number, width)
    yy = wave_year(cfg, plan.rater_wave) % 100
    cell = np.char.add(
        np.char.add(munis[plan.rater_municipality], np.array(["-D", "-S"])[plan.rater_setting]),
        _fixed_width("", yy, 2),
    )
    return np.char.add(cell, number)
