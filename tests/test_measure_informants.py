"""Issue 13's figures: rounds of a synthetic population, informants and history, onsets.

Small populations and a tiny model: these check the plumbing and the definitions, not
the sizes of the figures (the lead measures those at scale).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing import _measure
from opsporing.model import StepSuggester
from opsporing.model.train import current_wave, prepare, score_population, score_rounds
from opsporing.synthetic import SyntheticConfig, generate


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def pop():
    return generate(SyntheticConfig(n_children=1000, seed=31, n_waves=3), progress=False)


@pytest.fixture(scope="module")
def model(pop):
    data = prepare(pop)
    with threadpool_limits(limits=1):
        return StepSuggester(max_iter=30, min_samples_leaf=20, random_state=0).fit(
            data.X, data.step
        )


def test_score_rounds_splits_the_round_by_informant_and_wave(pop):
    tables = score_rounds(pop.forms)
    assert current_wave(pop.forms) == pop.config.current_wave == 2
    assert set(tables.current["child_id"]) == set(pop.children["child_id"])
    assert set(tables.informants) == {"parent", "child"}
    assert len(tables.earlier) == 2
    for who, table in tables.informants.items():
        # only that informant's forms, only the current wave's
        assert {i.split("@")[0].split(".")[1] for i in table["instrument"]} == {who}
        forms = pop.forms[who]
        assert len(table) == int((forms["wave"] == 2).sum())
    for k, table in enumerate(tables.earlier):
        expected = sum(int((pop.forms[s]["wave"] == k).sum()) for s in ("dagtilbud", "skole"))
        assert len(table) == expected
    # an earlier round: its own wave's forms, and only older waves as history
    one = score_rounds(pop.forms, wave=1)
    assert len(one.earlier) == 1
    assert set(one.current["child_id"]) <= set(tables.current["child_id"])
    with pytest.raises(Exception, match="no educator forms of wave 7"):
        score_population(pop.forms, 7)


def test_prepare_uses_every_informant_and_wave(pop):
    data = prepare(pop)
    assert data.X["has_parent"].mean() == pytest.approx(0.7, abs=0.06)
    assert data.X["n_earlier"].max() == 2
    assert set(data.informants) == {"parent", "child"}
    some = data.X.index[:10]
    part = data.tables_of(some)
    assert set(part.current["child_id"]) == set(some)
    assert all(set(t["child_id"]) <= set(some) for t in part.informants.values())


def test_onsets_by_hand():
    waves = pd.DataFrame(
        {
            "child_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["d"] * 4,
            "wave": [0, 1, 2, 3] * 4,
            "true_step": [*(0, 0, 2, 2), *(1, 1, 1, 1), *(0, 1, 0, 1), *(0, 0, 1, 1)],
            "screened": [True] * 4 + [True] * 4 + [True] * 4 + [False, False, True, True],
        }
    )
    got = _measure.onsets(waves)
    # a: onset at 2; b: in need from the start (no onset seen); c: the first onset (1);
    # d: not screened before its onset at 2 (not followed then)
    assert got.to_dict() == {"a": 2, "c": 1}


def test_informant_figures_compare_like_with_like(model, pop):
    fig = _measure.informant_figures(model, pop)
    for name in ("educator", "round", "round_and_history"):
        row = fig[name]
        assert row["n_children"] == len(pop.children)
        assert 0.5 < row["auc_p_need"] <= 1 and 0.5 < row["oracle"]["auc_p_need"] <= 1
        assert row["auc_gap_to_oracle"] == pytest.approx(
            row["oracle"]["auc_p_need"] - row["auc_p_need"], abs=1e-3
        )
    # the oracle with more information is at least as good on these children
    assert fig["round_and_history"]["oracle"]["auc_p_need"] >= (
        fig["educator"]["oracle"]["auc_p_need"] - 0.01
    )
    assert fig["gain"]["auc_round_minus_educator"] == pytest.approx(
        fig["round"]["auc_p_need"] - fig["educator"]["auc_p_need"], abs=1e-3
    )


def test_the_round_with_history_reuses_measure_population_to_the_digit(model, pop):
    # The training job passes measure_population's figures instead of measuring the same
    # suggestions and oracle twice: both ways must give the very same table.
    again = _measure.informant_figures(model, pop)
    measured = _measure.measure_population(model, pop)["overall"]
    assert _measure.informant_figures(model, pop, measured=measured) == again


def test_current_round_view_keeps_only_the_current_wave(pop):
    view = _measure.current_round_view(pop)
    assert all(set(t["wave"]) <= {2} for t in view.forms.values())
    assert view.children is pop.children


def test_earlier_detection_counts_every_onset_child(model):
    followed = generate(
        SyntheticConfig(n_children=1200, seed=32, n_waves=5, share_earlier_screening=1.0),
        progress=False,
    )
    out = _measure.earlier_detection(model, followed)
    n = out["n_children_with_onset"]
    assert n == len(_measure.onsets(followed.waves)) > 0
    for name in ("with_history", "without_history", "oracle_with_history"):
        row = out[name]
        assert 0 <= row["never_found_share"] <= 1
        # the median counts never-found children as +inf: None exactly when half or more
        assert (row["median_waves"] is None) == (row["never_found_share"] >= 0.5)
        if row["median_waves"] is not None:
            assert row["median_waves"] >= 0 and not math.isnan(row["median_waves"])
    assert np.isfinite(out["n_waves"]) and out["n_waves"] == 5
