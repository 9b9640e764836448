"""The synthetic generator over waves: followed children, episodes, per-wave need, informants.

The law these tests hold the generator to is ``docs/synthetic.md`` ("Waves, episodes and
informants") and ``_model``'s one home of it (``wave_ages``, ``episode_matrices``,
``INFORMANT_EFFECTS``); the oracle's own tests are elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import DataError
from opsporing.instruments import get_instrument, select_instrument
from opsporing.synthetic import (
    FORM_TABLES,
    INFORMANT_OF_TABLE,
    SyntheticConfig,
    SyntheticPopulation,
    _generate,
    _model,
    generate,
)

FORM_HEAD = ["form_id", "child_id", "wave", "instrument_id", "instrument_version", "age_years"]


def make(**knobs: object) -> SyntheticPopulation:
    knobs.setdefault("n_children", 3_000)
    knobs.setdefault("seed", 21)
    return generate(SyntheticConfig(**knobs), progress=False)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def four() -> SyntheticPopulation:
    """Four waves, 6,000 children, every knob at its default otherwise."""
    return make(n_children=6_000, n_waves=4)


def within(observed: float, p: float, n: int, k: float = 4.0) -> bool:
    """``observed`` share within ``k`` binomial standard errors of ``p`` over ``n`` draws."""
    return abs(observed - p) <= k * np.sqrt(p * (1 - p) / n) + 1e-12


# --- config ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("n_waves", 0, "a whole number from 1 to 10"),
        ("n_waves", 11, "a whole number from 1 to 10"),
        ("n_waves", 2.0, "a whole number"),
        ("episode_size", 4.5, "a number from 0 to 4"),
        ("episode_size", -0.1, "a number from 0 to 4"),
        ("episode_start", 1.2, "a number from 0 to 1"),
        ("episode_onset", float("nan"), "a number from 0 to 1"),
        ("episode_onset_transition", -0.01, "a number from 0 to 1"),
        ("episode_recovery", True, "a number from 0 to 1"),
        ("share_parent_form", 2, "a number from 0 to 1"),
        ("share_child_form", "0.8", "a number from 0 to 1"),
        ("informant_harshness_sd", 2.5, "a number from 0 to 2"),
    ],
)
def test_bad_wave_and_informant_knobs_name_field_value_and_expectation(
    field: str, value: object, expected: str
) -> None:
    with pytest.raises(DataError) as info:
        SyntheticConfig(**{field: value})  # type: ignore[arg-type]
    message = str(info.value)
    assert f"SyntheticConfig.{field} = {value!r}" in message
    assert expected in message


def test_current_wave_is_the_last_and_the_knobs_round_trip() -> None:
    assert SyntheticConfig().current_wave == 2
    assert SyntheticConfig(n_waves=1).current_wave == 0
    cfg = SyntheticConfig(n_waves=5, episode_size=0.0, share_child_form=0.0)
    assert SyntheticConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


# --- waves, ages, settings ---------------------------------------------------------------------
def test_wave_ages_settings_and_episode_law_of_a_hand_picked_child() -> None:
    cfg = SyntheticConfig(n_waves=4, episode_onset=0.03, episode_onset_transition=0.2)
    ages = _model.wave_ages(cfg, np.array([6.3]))
    assert ages.tolist() == [[3.3, 4.3, 5.3, 6.3]]
    assert _model.wave_settings(ages).tolist() == [[0, 0, 0, 1]]
    assert _model.wave_year(cfg, np.arange(4)).tolist() == [2023, 2024, 2025, 2026]
    start, move = _model.episode_matrices(cfg, ages)
    assert start.tolist() == [[0.95, 0.05]]
    # Daycare to school between waves 2 and 3 (5.3 -> 6.3): the transition's onset rate.
    assert move[0, :, 0, 1].tolist() == [0.03, 0.03, 0.2]
    assert np.allclose(move[0, :, 1, 0], 0.35) and np.allclose(move.sum(axis=-1), 1.0)


def test_the_waves_table_of_a_hand_picked_child(four: SyntheticPopulation) -> None:
    kids, waves = four.children, four.waves
    assert list(waves.columns) == [
        "child_id",
        "wave",
        "age_years",
        "setting",
        "screened",
        "episode",
        "true_step",
    ]
    assert len(waves) == 4 * len(kids)
    assert waves["child_id"].to_numpy()[::4].tolist() == kids["child_id"].tolist()
    assert waves["wave"].tolist() == [0, 1, 2, 3] * len(kids)
    assert waves["screened"].dtype == bool and waves["episode"].dtype == np.int8
    assert waves["true_step"].dtype == np.int64
    # A school child of 6.something: two daycare waves before, 3.x years old at wave 0.
    child = kids[kids["age_years"].between(6.0, 6.99)].iloc[0]
    rows = waves[waves["child_id"] == child["child_id"]]
    age = float(child["age_years"])
    assert rows["age_years"].tolist() == [round(age - 3 + k, 2) for k in range(4)]
    assert rows["setting"].tolist() == ["dagtilbud", "dagtilbud", "dagtilbud", "skole"]
    # The current wave is the children table's.
    current = waves[waves["wave"] == 3].set_index("child_id").loc[kids["child_id"]]
    assert (current["true_step"].to_numpy() == kids["true_step"].to_numpy()).all()
    assert (current["episode"].to_numpy() == kids["episode"].to_numpy()).all()
    assert current["screened"].all()
    # A daycare child of 0.5-2.49 was not yet 0.5 at wave 0: a row, never screened.
    young = waves.merge(kids[["child_id"]][kids["age_years"] < 2.5], on="child_id")
    unborn = young[young["age_years"] < 0.5]
    assert len(unborn) and not unborn["screened"].any()
    assert (unborn["setting"] == "dagtilbud").all()


def test_followed_children_have_a_form_at_every_eligible_earlier_wave(
    four: SyntheticPopulation,
) -> None:
    c = four.config.current_wave
    educator = pd.concat([four.forms["dagtilbud"], four.forms["skole"]], ignore_index=True)
    assert educator.groupby(["child_id", "wave"]).size().max() == 1
    waves = four.waves.set_index(["child_id", "wave"])
    has_form = pd.Series(True, index=pd.MultiIndex.from_frame(educator[["child_id", "wave"]]))
    screened = has_form.reindex(waves.index, fill_value=False)
    assert (screened == waves["screened"]).all()  # the waves table says who has a form
    # Each form sits in its wave's age and setting, on the form forms.yaml gives.
    at = waves.loc[pd.MultiIndex.from_frame(educator[["child_id", "wave"]])]
    assert np.allclose(educator["age_years"].to_numpy(), at["age_years"].to_numpy())
    for setting in ("dagtilbud", "skole"):
        forms = four.forms[setting]
        assert (forms["age_years"] < 6.0).all() == (setting == "dagtilbud")
        expected = [select_instrument(setting, float(a)).id for a in forms["age_years"]]
        assert forms["instrument_id"].tolist() == expected
    # All or nothing: a child is followed (every earlier wave at 0.5 years or older) or not.
    eligible = (four.waves["wave"] < c) & (four.waves["age_years"] >= 0.5)
    frame = four.waves.assign(eligible=eligible, early=four.waves["screened"] & eligible)
    per_child = frame.groupby("child_id")[["eligible", "early"]].sum()
    assert ((per_child["early"] == 0) | (per_child["early"] == per_child["eligible"])).all()
    assert not (frame["screened"] & (frame["wave"] < c) & ~frame["eligible"]).any()
    can = per_child[per_child["eligible"] > 0]
    followed = (can["early"] > 0).mean()
    assert within(followed, 0.5, len(can))
    # Nobody followed, nobody earlier; everybody followed, every eligible wave.
    assert (
        make(n_children=500, share_earlier_screening=0.0).waves.query("wave < 2")
    ).screened.sum() == 0
    every = make(n_children=500, share_earlier_screening=1.0).waves
    assert (every["screened"] == ((every["wave"] == 2) | (every["age_years"] >= 0.5))).all()


# --- episodes and need per wave ----------------------------------------------------------------
def test_episode_chain_frequencies_match_the_law() -> None:
    cfg = SyntheticConfig(
        n_waves=3,
        episode_start=0.2,
        episode_onset=0.06,
        episode_onset_transition=0.3,
        episode_recovery=0.45,
    )
    n = 200_000
    now = np.where(np.arange(n) % 2 == 0, 6.5, 10.0)  # half move to school between 1 and 2
    ages = _model.wave_ages(cfg, now)
    e = _generate._episodes(cfg, ages, np.random.default_rng(3))
    assert e.dtype == np.int8 and set(np.unique(e)) <= {0, 1}
    assert within(e[:, 0].mean(), 0.2, n)
    moved = _model.wave_settings(ages[:, 1]) < _model.wave_settings(ages[:, 2])
    assert moved.sum() == n // 2
    for k in (1, 2):
        healthy, ill = e[:, k - 1] == 0, e[:, k - 1] == 1
        still = healthy & ~(moved if k == 2 else np.zeros(n, bool))
        assert within(e[still, k].mean(), 0.06, int(still.sum()))
        assert within(1 - e[ill, k].mean(), 0.45, int(ill.sum()))
    onset_moved = e[(e[:, 1] == 0) & moved, 2]
    assert within(onset_moved.mean(), 0.3, len(onset_moved))
    # Markov: given E_1, E_2 does not depend on E_0.
    for prev in (0, 1):
        rows = (e[:, 1] == prev) & ~moved
        a, b = e[rows & (e[:, 0] == 0), 2].mean(), e[rows & (e[:, 0] == 1), 2].mean()
        assert abs(a - b) < 4 * np.sqrt(0.25 / (rows & (e[:, 0] == 1)).sum())


def test_episode_shares_per_wave_are_the_chains_marginals(four: SyntheticPopulation) -> None:
    ages = four.waves["age_years"].to_numpy().reshape(-1, 4)
    episode = four.waves["episode"].to_numpy().reshape(-1, 4)
    expected = _model.episode_probability(four.config, ages)
    assert np.allclose(expected[:, 0], 0.05)
    for k in range(4):
        p, n = expected[:, k].mean(), len(ages)
        assert within(episode[:, k].mean(), p, n), k
    # The move to school raises the onsets: more children in an episode after it.
    moved = (ages[:, 2] < 6.0) & (ages[:, 3] >= 6.0)
    assert (expected[moved, 3] > expected[~moved & (ages[:, 2] >= 6.0), 3].max() - 1e-12).all()


def test_need_changes_only_through_episodes_and_drift(four: SyntheticPopulation) -> None:
    steps = four.waves["true_step"].to_numpy().reshape(-1, 4)
    episode = four.waves["episode"].to_numpy().reshape(-1, 4)
    same = (episode == episode[:, :1]).all(axis=1)
    # One ε per child shared by the waves: without an episode change the step stays.
    assert same.sum() > 1000 and (steps[same] == steps[same, :1]).all()
    # An episode starting never lowers the step, ending never raises it; some move.
    up = (episode[:, 1:] > episode[:, :-1]).ravel()
    down = (episode[:, 1:] < episode[:, :-1]).ravel()
    change = np.diff(steps, axis=1).ravel()
    assert (change[up] >= 0).all() and (change[down] <= 0).all()
    assert (change[up] > 0).mean() > 0.05
    # With no latent change and no drift every child's need is the same at every wave.
    flat = make(n_children=2_000, n_waves=4, episode_size=0.0).waves["true_step"]
    assert (flat.to_numpy().reshape(-1, 4) == flat.to_numpy()[3::4, None]).all()


def test_drift_shifts_every_earlier_wave_by_its_distance() -> None:
    pop = make(n_children=4_000, n_waves=3, episode_size=0.0, drift_per_year=0.4)
    steps = pop.waves["true_step"].to_numpy().reshape(-1, 3)
    assert (np.diff(steps, axis=1) >= 0).all()  # earlier waves were less needy
    assert steps[:, 0].mean() < steps[:, 1].mean() < steps[:, 2].mean()
    assert np.allclose(_model.wave_drift(pop.config, np.arange(3)), [-0.8, -0.4, 0.0])
    # The earlier forms are answered from the drifted state too: less concern at wave 0.
    forms = pop.forms["skole"]
    care = [c for c in forms.columns if c.startswith("care_")]
    mean = forms[care].mean(axis=1).groupby(forms["wave"]).mean()
    assert mean[0] < mean[2]


def test_rater_ids_carry_their_waves_year_and_no_rater_spans_two_waves(
    four: SyntheticPopulation,
) -> None:
    raters = four.raters
    assert set(raters["wave"]) == {0, 1, 2, 3}
    year = raters["rater_id"].str.slice(5, 7).astype(int)
    assert (year == (2026 - 3 + raters["wave"]) % 100).all()
    assert raters["rater_id"].is_unique
    educator = pd.concat([four.forms["dagtilbud"], four.forms["skole"]])
    assert educator.groupby("rater_id")["wave"].nunique().max() == 1
    wave_of = raters.set_index("rater_id")["wave"]
    assert (wave_of.loc[educator["rater_id"]].to_numpy() == educator["wave"].to_numpy()).all()


# --- informants --------------------------------------------------------------------------------
def test_informant_tables_have_the_promised_columns(four: SyntheticPopulation) -> None:
    assert tuple(four.forms) == FORM_TABLES
    ids = pd.concat([f["form_id"] for f in four.forms.values()])
    assert ids.is_unique and ids.str.fullmatch(r"F\d{8}").all()
    for table in ("parent", "child"):
        forms = four.forms[table]
        items = list(_generate.form_columns(table))
        assert list(forms.columns) == [*FORM_HEAD, *items]
        assert "rater_id" not in forms.columns
        assert (forms[items].dtypes == np.dtype("float64")).all()
        keys = forms[["child_id", "wave"]]
        assert not keys.duplicated().any()
        order = four.children.reset_index().set_index("child_id").loc[keys["child_id"], "index"]
        assert (np.lexsort((keys["wave"], order.to_numpy())) == np.arange(len(forms))).all()
        for (inst_id, version), rows in forms.groupby(["instrument_id", "instrument_version"]):
            inst = get_instrument(str(inst_id), str(version))
            assert inst.informant == INFORMANT_OF_TABLE[table] == table
            other = [c for c in items if c not in inst.item_ids]
            assert rows[other].isna().all().all()
            required = [i.id for i in inst.items if inst.domain(i.domain).required]
            assert required and rows[required].notna().all().all()
    # Items of a parent form shared by the two settings' lists would be one column.
    assert len(set(_generate.form_columns("child"))) == len(_generate.form_columns("child"))


def test_parent_and_child_forms_sit_beside_an_educator_form_at_the_configured_shares(
    four: SyntheticPopulation,
) -> None:
    educator = pd.concat([four.forms["dagtilbud"], four.forms["skole"]], ignore_index=True)
    key = pd.MultiIndex.from_frame(educator[["child_id", "wave"]])
    at_school = (educator["age_years"] >= 6.0).to_numpy()
    for table, share in (("parent", 0.7), ("child", 0.8)):
        forms = four.forms[table]
        here = pd.MultiIndex.from_frame(forms[["child_id", "wave"]])
        assert here.isin(key).all()  # never without the educator's form
        has = key.isin(here)
        pool = at_school if table == "child" else np.ones(len(key), bool)
        assert within(has[pool].mean(), share, int(pool.sum()))
        assert not has[~pool].any()  # no child's own form in daycare
        for setting in ("dagtilbud", "skole"):
            rows = forms[(forms["age_years"] < 6.0) == (setting == "dagtilbud")]
            expected = [select_instrument(setting, float(a), table).id for a in rows["age_years"]]
            assert rows["instrument_id"].tolist() == expected
    none = make(n_children=400, share_parent_form=0.0, share_child_form=0.0)
    assert none.forms["parent"].empty and none.forms["child"].empty
    assert list(none.forms["child"].columns) == [*FORM_HEAD, *_generate.form_columns("child")]


def test_informant_effects_are_the_item_models_parameters() -> None:
    for inst_id in ("opsporing.parent.skole", "opsporing.child.13-16"):
        inst = get_instrument(inst_id)
        as_educator = inst.model_copy(
            update={"id": inst_id + ".as-educator", "informant": "educator"}
        )
        m, base = _model.item_model(inst), _model.item_model(as_educator)
        for j, item in enumerate(inst.items):
            domain = item.domain
            factor, offset = _model.INFORMANT_EFFECTS.get((inst.informant, domain), (1.0, 0.0))
            if m.kind[j] != _model.KIND_GRADED:
                factor, offset = 1.0, 0.0  # safety and number items: one law for everybody
                assert np.array_equal(m.safety[j], base.safety[j])
            assert m.a[j] == pytest.approx(factor * base.a[j]), item.id
            assert np.allclose(m.b[j], base.b[j] + offset), item.id
    assert ("parent", "care") in _model.INFORMANT_EFFECTS
    assert not any(who == "educator" for who, _ in _model.INFORMANT_EFFECTS)


def test_parents_report_less_care_concern_and_children_more_feelings() -> None:
    """Same children, same wave: parents' care concern below educators', children's
    emotional concern above (on four-option scales, so the concern values compare)."""
    pop = make(
        n_children=12_000,
        share_daycare=0.0,
        rater_harshness_sd=0.0,
        informant_harshness_sd=0.0,
        missing_rate=0.001,
    )

    def concern(table: str, domain: str) -> pd.Series:
        forms = pop.forms[table]
        parts = []
        for (inst_id, version), rows in forms.groupby(["instrument_id", "instrument_version"]):
            model = _model.item_model(get_instrument(str(inst_id), str(version)))
            cols = [
                i.id
                for i in model.instrument.items
                if i.domain == domain and model.levels == 4 and not i.reverse
            ]
            if not cols:
                continue
            j = [model.items.index(c) for c in cols]
            values = model.concern(rows[list(model.items)].to_numpy())[:, j]
            parts.append(pd.Series(np.nanmean(values, axis=1), index=rows.index))
        out = pd.concat(parts)
        return out.set_axis(pd.MultiIndex.from_frame(forms.loc[out.index, ["child_id", "wave"]]))

    care = pd.concat({"edu": concern("skole", "care"), "par": concern("parent", "care")}, axis=1)
    care = care.dropna()
    assert len(care) > 5_000
    assert care["par"].mean() < care["edu"].mean() - 0.05
    emo = pd.concat(
        {"edu": concern("skole", "emotional"), "kid": concern("child", "emotional")}, axis=1
    )
    emo = emo.dropna()
    assert len(emo) > 2_000
    assert emo["kid"].mean() > emo["edu"].mean() + 0.05


def test_rater_bias_touches_the_educators_only() -> None:
    knobs = {"n_children": 1_500, "rater_bias_size": 1.0}
    off, on = make(**knobs), make(**knobs, rater_bias_against="indvandrer")
    for table in ("parent", "child"):
        pd.testing.assert_frame_equal(off.forms[table], on.forms[table])
    assert not off.forms["skole"].equals(on.forms["skole"])


# --- determinism and files ---------------------------------------------------------------------
def test_same_seed_same_frames_every_table() -> None:
    a, b = make(n_children=700, n_waves=5), make(n_children=700, n_waves=5)
    for table in FORM_TABLES:
        pd.testing.assert_frame_equal(a.forms[table], b.forms[table])
    pd.testing.assert_frame_equal(a.waves, b.waves)
    pd.testing.assert_frame_equal(a.children, b.children)
    pd.testing.assert_frame_equal(a.raters, b.raters)
    c = make(n_children=700, n_waves=5, seed=22)
    assert not a.waves["episode"].equals(c.waves["episode"])
    assert not a.forms["parent"]["form_id"].equals(c.forms["parent"]["form_id"])


def test_save_and_load_the_new_files_and_name_an_old_layout(tmp_path: Path) -> None:
    pop = make(n_children=300)
    pop.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for name in ("forms_parent.parquet", "forms_child.parquet", "waves.parquet"):
        assert len(manifest["files"][name]["sha256"]) == 64
    back = SyntheticPopulation.load(tmp_path)
    for table in FORM_TABLES:
        pd.testing.assert_frame_equal(back.forms[table], pop.forms[table])
    pd.testing.assert_frame_equal(back.waves, pop.waves)
    (tmp_path / "waves.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataError, match=r"waves\.parquet: SHA-256 .*altered"):
        SyntheticPopulation.load(tmp_path)
    manifest["format"] = "opsporing-synthetic/1"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"format = 'opsporing-synthetic/1'.*older layout"):
        SyntheticPopulation.load(tmp_path)
    with pytest.raises(DataError, match="a form table for each of"):
        SyntheticPopulation(pop.children, {"skole": pop.forms["skole"]}, pop.config).save(
            tmp_path / "other"
        )
