"""The oracle over several informants and waves, with latent change (issue 13).

The oracle conditions on every educator, parent and child form of the waves up to a
target wave and integrates the episode path by a forward recursion. Checked here: the
recursion equals the sum over the 2^waves episode paths; the per-form tables of parent
and child forms are their own law; with two waves, no episodes and educator forms only
it is the oracle of before (reference values of ``main``'s implementation); the prior of
a child without forms is the population's; Monte-Carlo agreement at the current and at
earlier waves on a population with every informant and episodes; the informant filter and
the wave cut are what they say; the quadrature has converged; bad input is a DataError.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from opsporing.errors import DataError
from opsporing.instruments import current_forms, select_instrument
from opsporing.synthetic import (
    FORM_TABLES,
    STEP_COLUMNS,
    SyntheticConfig,
    SyntheticPopulation,
    _model,
    _oracle,
    generate,
    oracle_proba,
    population_step_distribution,
)
from opsporing.synthetic._model import HARSHNESS_NODES, HARSHNESS_WEIGHTS

#: The step thresholds before issue 13 (the reference values below were computed with them).
OLD_THRESHOLDS = (2.6121, 2.9989, 3.3659, 3.7772, 4.0267, 4.9458)


def hand_population(
    cfg: SyntheticConfig,
    ages: Sequence[float],
    forms_of: Sequence[Sequence[tuple[int, str]]],
    seed: int = 0,
) -> SyntheticPopulation:
    """Children of ``ages``; child i has a form per (wave, informant) in ``forms_of[i]``.

    Each form is the instrument ``select_instrument`` gives the child's age and setting at
    that wave; its answers are drawn from a fixed seed (mostly low concern, 10 % of the
    optional items blank), independent of any generator.
    """
    rng = np.random.default_rng(seed)
    ids = [f"C{i + 1:07d}" for i in range(len(ages))]
    children = pd.DataFrame(
        {
            "child_id": ids,
            "setting": ["dagtilbud" if a < 6 else "skole" for a in ages],
            "age_years": np.asarray(ages, dtype=np.float64),
        }
    )
    rows: dict[str, list[dict[str, object]]] = {t: [] for t in FORM_TABLES}
    for i, spec in enumerate(forms_of):
        for wave, informant in spec:
            age = float(np.round(ages[i] - (cfg.current_wave - wave), 2))
            setting = "dagtilbud" if age < 6 else "skole"
            inst = select_instrument(setting, age, informant)
            table = setting if informant == "educator" else informant
            model = _model.item_model(inst)
            span = model.top - model.low
            concern = np.minimum(rng.geometric(0.6, len(model.items)) - 1, span)
            raw = model.raw(concern.astype(np.float64))
            raw[(rng.random(len(raw)) < 0.1) & ~model.required] = np.nan
            row: dict[str, object] = {
                "form_id": f"F{len(rows[table]):07d}{table[0]}",
                "child_id": ids[i],
                "wave": wave,
                "instrument_id": inst.id,
                "instrument_version": inst.version,
                "age_years": age,
            }
            row.update(zip(model.items, raw.tolist(), strict=True))
            rows[table].append(row)
    forms = {t: pd.DataFrame(r) for t, r in rows.items() if r}
    return SyntheticPopulation(children=children, forms=forms, config=cfg)


def replaced(pop: SyntheticPopulation, **tables: pd.DataFrame | None) -> SyntheticPopulation:
    """``pop`` with some form tables replaced (``None``: dropped)."""
    forms = {k: v for k, v in pop.forms.items() if k not in tables}
    forms.update({k: v for k, v in tables.items() if v is not None})
    return SyntheticPopulation(pop.children, forms, pop.config, pop.raters)


# --- the forward recursion ------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [0, 1])
def test_forward_recursion_is_the_sum_over_the_episode_paths(
    oracle_grids: Callable[[Any, Any], None], beta: int
) -> None:
    """α_t(F, D, e) of the recursion equals Σ over all 2^(t+1) paths, by brute force."""
    oracle_grids(np.linspace(-4.0, 4.5, 9), np.linspace(-4.0, 5.0, 11))
    cfg = SyntheticConfig(
        n_waves=4,
        episode_size=1.5,
        episode_start=0.2,
        episode_onset=0.3,
        episode_onset_transition=0.7,
        episode_recovery=0.4,
        drift_per_year=0.2,
        rater_bias_against="efterkommer",
    )
    ages = [8.5, 4.0, 12.0]  # the first moves to school between waves 0 and 1
    spec = [
        [(0, "educator"), (1, "educator"), (1, "parent"), (3, "educator"), (3, "child")],
        [(2, "parent")],
        [(1, "child"), (2, "educator"), (2, "parent"), (2, "child")],
    ]
    pop = hand_population(cfg, ages, spec, seed=2)
    pr = _oracle.prior(cfg)
    start, move = _model.episode_matrices(cfg, _model.wave_ages(cfg, np.array(ages)))
    assert move[0, 0, 0, 1] == 0.7 and move[1, 0, 0, 1] == 0.3  # the transition is seen
    ids = list(pop.children["child_id"])
    chunk = _oracle._Chunk(len(ages), start, move, {})
    for table, frame in pop.forms.items():
        informant = _model.INFORMANT_OF_TABLE[table]
        for _, form in frame.iterrows():
            model = _model.item_model(
                _model.resolve_instrument(form["instrument_id"], form["instrument_version"])
            )
            raw = form[list(model.items)].to_numpy(dtype=np.float64)[None, :]
            tabs = _oracle._form_tables(cfg, model, int(form["wave"]), raw, pr)
            # One form per key here (each child and wave has one form per informant).
            key = (int(form["wave"]), informant)
            child = np.array([ids.index(form["child_id"])])
            if key in chunk.forms:
                rows, old = chunk.forms[key]
                both = _oracle._FormTables.empty(len(rows) + 1, old.lf.shape[1], pr)
                both.put(np.arange(len(rows)), old)
                both.put(np.array([len(rows)]), tabs)
                chunk.forms[key] = (np.concatenate([rows, child]), both)
            else:
                chunk.forms[key] = (child, tabs)
    for target in (1, 3):
        alpha, log_scale = _oracle._forward(cfg, pr, chunk, beta, target)
        got = alpha * np.exp(log_scale)[:, None, None, None]
        for i in range(len(ages)):
            expected = np.zeros_like(got[i])
            for path in itertools.product((0, 1), repeat=target + 1):
                p = start[i, path[0]] * np.prod(
                    [move[i, k - 1, path[k - 1], path[k]] for k in range(1, target + 1)]
                )
                w = pr.pd_f.copy()
                for (k, _informant), (rows, tabs) in chunk.forms.items():
                    if k > target or i not in rows:
                        continue
                    r = int(np.flatnonzero(rows == i)[0])
                    b = min(beta, tabs.lf.shape[1] - 1)
                    e = path[k]
                    h = sum(
                        HARSHNESS_WEIGHTS[j]
                        * np.exp(tabs.lf[r, b, j])[:, None]
                        * np.exp(tabs.ld[r, b, j, e])[None, :]
                        for j in range(3)
                    )
                    w = w * h * np.exp(tabs.ln[r, e])[None, :]
                expected[:, path[-1], :] += p * w
            # (Terms below e^-150 of the largest are set to 0 by the oracle: negligible.)
            tiny = 1e-60 * expected.max()
            assert np.allclose(got[i], expected, rtol=1e-9, atol=tiny), (target, i)


def test_parent_and_child_forms_have_their_own_harshness_and_no_group_bias() -> None:
    """The per-form tables of a parent form: its harshness law, the episode shift, no bias."""
    cfg = SyntheticConfig(
        rater_bias_against="indvandrer",
        rater_harshness_sd=0.9,
        informant_harshness_sd=0.25,
        episode_size=1.1,
        drift_per_year=0.3,
    )
    pr = _oracle.prior(cfg)
    inst = current_forms()[("parent", "skole")][0]
    model = _model.item_model(inst)
    rng = np.random.default_rng(4)
    raw = model.raw(np.minimum(rng.integers(0, 3, (2, len(model.items))), model.top - model.low))
    tabs = _oracle._form_tables(cfg, model, 0, raw.astype(np.float64), pr)
    assert tabs.ld.shape[1] == 1 and tabs.lf.shape[1] == 1  # no bias class for parents
    lag = 0.3 * cfg.current_wave  # wave 0 lies current_wave years back
    d_items = np.flatnonzero((model.kind == _model.KIND_GRADED) & (model.dim == _model.DIM_D))
    f_items = np.flatnonzero((model.kind == _model.KIND_GRADED) & (model.dim == _model.DIM_F))
    assert len(d_items) and len(f_items)
    concern = model.concern(raw)
    for j, node in enumerate(HARSHNESS_NODES):
        for e in (0, 1):
            theta = pr.d + 0.25 * node + 1.1 * e - lag
            expected = sum(
                np.log(
                    _model.concern_probabilities(model.a[i], model.b[i], theta)[
                        :, int(concern[0, i])
                    ]
                )
                for i in d_items
            )
            assert np.allclose(tabs.ld[0, 0, j, e], expected)
        theta = pr.f + 0.25 * node - lag
        expected = sum(
            np.log(
                _model.concern_probabilities(model.a[i], model.b[i], theta)[:, int(concern[0, i])]
            )
            for i in f_items
        )
        assert np.allclose(tabs.lf[0, 0, j], expected)
    # An educator form of the same config has two bias classes, 0.9 harshness.
    edu = _model.item_model(select_instrument("skole", 9.0))
    raw = edu.raw(np.zeros((1, len(edu.items))))
    tabs = _oracle._form_tables(cfg, edu, cfg.current_wave, raw, pr)
    assert tabs.ld.shape[1] == 2
    shifts = _oracle._shifts(cfg, "educator", cfg.current_wave)
    expected = 0.9 * HARSHNESS_NODES[None, :] + np.array([[0.0], [0.5]])  # typical, biased-against
    assert np.allclose(shifts, expected)


# --- the oracle of before -------------------------------------------------------------------------
#: ``main``'s oracle (before issue 13, one form per wave, waves 0 and 1) on
#: ``hand_population(SyntheticConfig(n_waves=2, episode_size=0, **knobs), AGES, SPEC, seed=1)``
#: with the thresholds and the quadrature grid of then: P(step = 0) and P(step >= 2) per child.
AGES = [1.2, 5.5, 6.4, 9.0, 14.3]
SPEC = [
    [(1, "educator")],
    [(0, "educator"), (1, "educator")],
    [(0, "educator"), (1, "educator")],
    [(1, "educator")],
    [(0, "educator"), (1, "educator")],
]
BEFORE = [
    (
        {},
        [0.2249059366, 0.1163401246, 0.0661782142, 0.1045675177, 0.0855892096],
        [0.64833336, 0.8273811878, 0.8634897341, 0.8081064484, 0.8321147138],
    ),
    (
        {
            "rater_bias_against": "indvandrer",
            "drift_per_year": 0.3,
            "year": 2027,
            "missing_strain_effect": 1.0,
        },
        [0.1815398796, 0.1693482224, 0.0629872274, 0.169495052, 0.0817570381],
        [0.7002096633, 0.7736313174, 0.8704744399, 0.713029181, 0.8363909466],
    ),
]


@pytest.mark.parametrize(("knobs", "p0", "p2"), BEFORE)
def test_two_waves_without_episodes_or_informants_is_the_oracle_of_before(
    monkeypatch: pytest.MonkeyPatch,
    oracle_grids: Callable[[Any, Any], None],
    knobs: dict[str, object],
    p0: list[float],
    p2: list[float],
) -> None:
    # The thresholds where the oracle's step_probabilities reads them (see oracle_grids).
    law = oracle_proba.__globals__["step_probabilities"].__globals__
    for space in {id(s): s for s in (vars(_model), law)}.values():
        monkeypatch.setitem(space, "STEP_THRESHOLDS", OLD_THRESHOLDS)
    before = np.arange(-5.0, 5.5 + 1e-9, 0.35)  # the grid of then, for F, D and R alike
    oracle_grids(before, before)
    cfg = SyntheticConfig(n_waves=2, episode_size=0.0, **knobs)  # type: ignore[arg-type]
    p = oracle_proba(hand_population(cfg, AGES, SPEC, seed=1))
    assert np.allclose(p["p_step_0"], p0, atol=1e-9)
    assert np.allclose(1 - p["p_step_0"] - p["p_step_1"], p2, atol=1e-9)


# --- the prior --------------------------------------------------------------------------------
def test_a_child_without_forms_gets_the_prior_of_its_ages() -> None:
    """Over the generator's age law, the oracle's priors average to the population margin."""
    cfg = SyntheticConfig(n_waves=4, episode_onset_transition=0.5, episode_size=2.0)
    ages, weights = _oracle._age_law(cfg)
    children = pd.DataFrame(
        {
            "child_id": [f"C{i:07d}" for i in range(len(ages))],
            "setting": np.where(ages < 6, "dagtilbud", "skole"),
            "age_years": ages,
        }
    )
    pop = SyntheticPopulation(children=children, forms={}, config=cfg)
    p = oracle_proba(pop).to_numpy()
    assert np.allclose(weights @ p, population_step_distribution(cfg), atol=1e-12)
    # The prior depends on the age only through the move to school: more need right after.
    moved = (ages >= 6) & (ages < 6 + cfg.current_wave)
    assert p[moved, 0].max() < p[~moved, 0].min()
    assert np.ptp(p[~moved & (ages < 6)], axis=0).max() < 1e-12


def test_thresholds_give_the_target_margin_at_the_current_wave() -> None:
    p = population_step_distribution(SyntheticConfig())
    at_least = p[::-1].cumsum()[::-1][1:]
    assert np.allclose(at_least, _model.STEP_TARGETS, atol=5e-5)
    # Without episodes the same thresholds give fewer children in need.
    calm = population_step_distribution(SyntheticConfig(episode_size=0.0))
    assert calm[1:].sum() < p[1:].sum() - 0.005


# --- bad input ----------------------------------------------------------------------------------
def _two_children(cfg: SyntheticConfig | None = None) -> SyntheticPopulation:
    cfg = cfg or SyntheticConfig(n_waves=3)
    return hand_population(
        cfg,
        [4.5, 11.0],
        [[(2, "educator"), (2, "parent")], [(1, "educator"), (2, "educator"), (2, "child")]],
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wave": 3}, r"wave = 3: expected None or a whole number from 0 to 2"),
        ({"wave": -1}, r"wave = -1"),
        ({"wave": 1.0}, r"wave = 1\.0"),
        ({"wave": True}, r"wave = True"),
        ({"informants": "educator"}, r"informants = 'educator'"),
        ({"informants": ("educator", "teacher")}, r"informants = \['educator', 'teacher'\]"),
        ({"setting": "vuggestue"}, r"setting = 'vuggestue'"),
    ],
)
def test_bad_arguments_are_data_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataError, match=match):
        oracle_proba(_two_children(), **kwargs)  # type: ignore[arg-type]


def test_forms_that_the_generator_cannot_make_are_data_errors_naming_every_row() -> None:
    pop = _two_children()
    school = pop.forms["skole"]
    # A second educator form for the same child and wave, in the other educator table.
    twice = school[school["wave"] == 2].copy()
    day = pd.concat([pop.forms["dagtilbud"], twice], ignore_index=True)
    with pytest.raises(DataError, match=r"C0000002.*at most one educator form per wave"):
        oracle_proba(replaced(pop, dagtilbud=day))
    parent = pop.forms["parent"]
    with pytest.raises(DataError, match=r"C0000001.*at most one parent form per wave"):
        oracle_proba(replaced(pop, parent=pd.concat([parent, parent], ignore_index=True)))
    # An educator instrument in the parent table.
    wrong = parent.copy()
    wrong["instrument_id"] = pop.forms["dagtilbud"]["instrument_id"].iloc[0]
    with pytest.raises(DataError, match=r"instrument of informant 'parent'"):
        oracle_proba(replaced(pop, parent=wrong))
    # Waves out of range or not whole, a child not in pop.children, bad answers: all at once.
    bad = school.astype({"emo_sad": object})
    bad["wave"] = [5, 1.5, "x"][: len(bad)]
    bad.loc[bad.index[0], "emo_sad"] = 9.0
    bad.loc[bad.index[1], "emo_sad"] = "Ja"
    with pytest.raises(DataError) as caught:
        oracle_proba(replaced(pop, skole=bad))
    fields = [(p.field, p.value, p.row) for p in caught.value.problems]
    assert ("wave", 5, 0) in fields and ("wave", 1.5, 1) in fields
    assert ("emo_sad", 9.0, 0) in fields and ("emo_sad", "Ja", 1) in fields
    stranger = parent.copy()
    stranger["child_id"] = "C9999999"
    with pytest.raises(
        DataError, match=r"child_id = 'C9999999': expected a child of pop\.children"
    ):
        oracle_proba(replaced(pop, parent=stranger))
    with pytest.raises(DataError, match=r"forms = 'teacher'"):
        oracle_proba(replaced(pop, teacher=parent))
    kids = pop.children.astype({"age_years": object})
    kids.loc[1, "age_years"] = "ti"
    with pytest.raises(DataError, match=r"row 1: age_years = 'ti'"):
        oracle_proba(SyntheticPopulation(kids, pop.forms, pop.config))


# --- Monte Carlo: the oracle against the generator ---------------------------------------------
#: Four waves, stronger episodes, most children followed, parent and child forms, drift.
FOLLOWED = {
    "n_waves": 4,
    "share_earlier_screening": 0.8,
    "episode_size": 1.5,
    "episode_onset": 0.06,
    "drift_per_year": 0.1,
    "year": 2027,
}


@pytest.fixture(scope="module")
def followed() -> SyntheticPopulation:
    """A few hundred children of the :data:`FOLLOWED` scenario, for the exact checks."""
    return generate(SyntheticConfig(n_children=600, seed=32, **FOLLOWED), progress=False)  # type: ignore[arg-type]


def _assert_calibrated(proba: pd.DataFrame, truth: np.ndarray) -> None:
    """Binned by P(step >= 1), and per step: observed shares within 4 binomial SE."""
    p_any = 1.0 - proba["p_step_0"].to_numpy()
    bins = np.digitize(p_any, np.quantile(p_any, [0.5, 0.8, 0.9, 0.95, 0.98]))
    for b in range(6):
        inside = bins == b
        expected, observed = p_any[inside].mean(), (truth[inside] >= 1).mean()
        se = np.sqrt(expected * (1 - expected) / inside.sum())
        assert abs(observed - expected) < max(4 * se, 1e-3), (b, expected, observed)
    share = np.bincount(truth, minlength=7) / len(truth)
    mean = proba.mean().to_numpy()
    assert np.all(np.abs(share - mean) < 4 * np.sqrt(mean * (1 - mean) / len(truth)))


def _log_loss(proba: pd.DataFrame, truth: np.ndarray) -> float:
    p = proba.to_numpy()[np.arange(len(truth)), truth]
    return float(-np.log(np.clip(p, 1e-15, 1.0)).mean())


@pytest.mark.slow  # 16,000 children over four waves, the oracle at three target waves
def test_oracle_agrees_with_monte_carlo_over_informants_waves_and_episodes() -> None:
    pop = generate(SyntheticConfig(n_children=16_000, seed=31, **FOLLOWED), progress=False)  # type: ignore[arg-type]
    assert {"parent", "child"} <= set(pop.forms)
    assert pop.children["episode"].mean() > 0.05  # the episodes are there
    proba = oracle_proba(pop)
    assert list(proba.columns) == list(STEP_COLUMNS)
    assert proba.index.equals(pd.Index(pop.children["child_id"], name="child_id"))
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    truth = pop.children["true_step"].to_numpy()
    _assert_calibrated(proba, truth)
    # More information, better predictions: the current educator form alone is worse.
    current = {k: f[f["wave"] == pop.config.current_wave] for k, f in pop.forms.items()}
    alone = oracle_proba(
        SyntheticPopulation(pop.children, current, pop.config, pop.raters),
        informants=("educator",),
    )
    _assert_calibrated(alone, truth)
    assert _log_loss(proba, truth) < _log_loss(alone, truth) - 0.005
    assert roc_auc_score(truth >= 1, 1 - proba["p_step_0"]) > roc_auc_score(
        truth >= 1, 1 - alone["p_step_0"]
    )
    # An earlier wave: calibrated against the true steps of that wave in pop.waves.
    waves = pop.waves
    for k in (0, 2):
        earlier = oracle_proba(pop, wave=k)
        truth_k = (
            waves[waves["wave"] == k]
            .set_index("child_id")["true_step"]
            .reindex(earlier.index)
            .to_numpy(dtype=np.int64)
        )
        _assert_calibrated(earlier, truth_k)
    # At wave 0 a child not screened then has its prior (the same for every daycare child).
    screened = waves[(waves["wave"] == 0) & waves["screened"]]["child_id"]
    unscreened = oracle_proba(pop, wave=0).drop(index=screened)
    ages = pop.children.set_index("child_id").loc[unscreened.index, "age_years"]
    young = unscreened[(ages < 6).to_numpy()]
    assert len(young) > 500
    assert np.ptp(young.to_numpy(), axis=0).max() < 1e-12


def _subset(pop: SyntheticPopulation, n: int) -> SyntheticPopulation:
    keep = set(pop.children["child_id"].iloc[:n])
    return SyntheticPopulation(
        pop.children[pop.children["child_id"].isin(keep)].reset_index(drop=True),
        {k: f[f["child_id"].isin(keep)].reset_index(drop=True) for k, f in pop.forms.items()},
        pop.config,
        pop.raters,
    )


def test_informant_filter_equals_dropping_the_other_tables(followed: SyntheticPopulation) -> None:
    pop = followed
    educator = oracle_proba(pop, informants=("educator",))
    emptied = replaced(pop, parent=pop.forms["parent"].iloc[:0], child=pop.forms["child"].iloc[:0])
    pd.testing.assert_frame_equal(educator, oracle_proba(emptied))
    pd.testing.assert_frame_equal(educator, oracle_proba(replaced(pop, parent=None, child=None)))
    # And the informants do change what it says.
    assert np.abs(oracle_proba(pop).to_numpy() - educator.to_numpy()).max() > 0.05
    with_parent = oracle_proba(pop, informants=["educator", "parent"])
    pd.testing.assert_frame_equal(with_parent, oracle_proba(replaced(pop, child=None)))
    # No informant at all: every child its prior given its ages.
    prior = oracle_proba(pop, informants=())
    assert prior["p_step_0"].between(0.9, 0.98).all()


def test_later_waves_change_nothing_for_an_earlier_target(followed: SyntheticPopulation) -> None:
    pop = followed
    for k in (0, 1, 2):
        cut = {name: f[f["wave"] <= k] for name, f in pop.forms.items()}
        masked = SyntheticPopulation(pop.children, cut, pop.config, pop.raters)
        pd.testing.assert_frame_equal(oracle_proba(pop, wave=k), oracle_proba(masked, wave=k))
    # ... while they do inform the current wave.
    cut = {name: f[f["wave"] <= 2] for name, f in pop.forms.items()}
    masked = SyntheticPopulation(pop.children, cut, pop.config, pop.raters)
    assert not np.allclose(oracle_proba(pop), oracle_proba(masked))
    # The setting restriction is a restriction of the rows.
    school = oracle_proba(pop, setting="skole", wave=1)
    assert np.allclose(school, oracle_proba(pop, wave=1).loc[school.index], atol=1e-12)


def test_quadrature_has_converged_with_informants_and_episodes(
    followed: SyntheticPopulation, oracle_grids: Callable[[Any, Any], None]
) -> None:
    pop = _subset(followed, 300)
    coarse = oracle_proba(pop).to_numpy()
    earlier = oracle_proba(pop, wave=1).to_numpy()
    fine = np.arange(-6.5, 7.0 + 1e-9, 0.15)
    oracle_grids(fine, fine)
    assert np.abs(oracle_proba(pop).to_numpy() - coarse).max() < 2e-3
    assert np.abs(oracle_proba(pop, wave=1).to_numpy() - earlier).max() < 2e-3


def test_episode_share_is_the_generators() -> None:
    """The chain's marginal over the age law (used for the thresholds) against the draws."""
    cfg = SyntheticConfig(n_children=20_000, seed=8)
    pop = generate(cfg, progress=False)
    share = pop.children["episode"].mean()
    expected = _oracle.current_episode_share(cfg)
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / cfg.n_children)
    ages, weights = _oracle._age_law(cfg)
    drawn = pop.children["age_years"].round(2).value_counts(normalize=True)
    law = pd.Series(weights, index=np.round(ages, 2))
    assert set(drawn.index) <= set(law.index)
    assert abs(drawn.reindex(law.index, fill_value=0.0)[law.index >= 6].sum() - 0.65) < 0.01
