"""The synthetic generator on age-banded forms of every item kind, and its exact oracle.

A scratch instrument (``tests/data/synthetic/scratch_skole.yaml``, two age bands of school)
has ordinal items of 3, 4 and 5 options, reverse keying, care and strength items, a
required safety domain on Nej / Usikker / Ja and a number item (days absent). The forms a
child gets come from the (patched) ``forms.yaml`` rule, as in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from opsporing.errors import DataError, UnknownInstrumentError
from opsporing.instruments import AgeRange, Instrument, current_forms, load_instrument
from opsporing.synthetic import (
    SyntheticConfig,
    SyntheticPopulation,
    _generate,
    _model,
    _oracle,
    generate,
    oracle_proba,
)

SCRATCH = Path(__file__).parent / "data" / "synthetic" / "scratch_skole.yaml"


def _bands() -> tuple[Instrument, Instrument]:
    young = load_instrument(SCRATCH)
    old = young.model_copy(
        update={
            "id": "scratch.skole.old",
            "age_years": AgeRange(min=11, max=18),
            # The older form drops one item and keeps the rest: its rows leave emo_sad empty.
            "items": tuple(i for i in young.items if i.id != "emo_sad"),
        }
    )
    return young, old


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Instrument, Instrument]]:
    """School gets the two scratch bands (age < 11, age >= 11); daycare keeps its form."""
    young, old = _bands()
    forms = dict(current_forms())
    forms[("educator", "skole")] = (young, old)

    def select(setting: str, age: float, informant: str = "educator") -> Instrument:
        bands = forms[(informant, setting)]
        for k, inst in enumerate(bands):
            if inst.age_years.min <= age and (age < inst.age_years.max or k == len(bands) - 1):
                return inst
        raise UnknownInstrumentError(f"age_years = {age}")

    monkeypatch.setattr(_model, "current_forms", lambda: forms)
    monkeypatch.setattr(_model, "select_instrument", select)
    yield young, old


def make(**knobs: object) -> SyntheticPopulation:
    knobs.setdefault("n_children", 3_000)
    knobs.setdefault("seed", 5)
    knobs.setdefault("share_daycare", 0.0)
    return generate(SyntheticConfig(**knobs), progress=False)  # type: ignore[arg-type]


def _latent(pop: SyntheticPopulation, forms: pd.DataFrame, column: str) -> np.ndarray:
    out: np.ndarray = pop.children.set_index("child_id").loc[forms["child_id"], column].to_numpy()
    return out


# --- which form, which columns ------------------------------------------------------------------
def test_each_form_is_the_age_band_forms_yaml_selects(
    scratch: tuple[Instrument, Instrument],
) -> None:
    young, old = scratch
    pop = make()
    school = pop.forms["skole"]
    expected = np.where(school["age_years"] < 11, young.id, old.id)
    assert (school["instrument_id"].to_numpy() == expected).all()
    assert set(school["instrument_version"]) == {"0.1.0"}
    assert {young.id, old.id} <= set(school["instrument_id"])
    # One column per item of either form; the older form leaves emo_sad empty.
    items = list(_generate.form_columns("skole"))
    assert items == list(young.item_ids)
    assert list(school.columns[7:]) == items
    is_old = (school["instrument_id"] == old.id).to_numpy()
    assert school.loc[is_old, "emo_sad"].isna().all()
    assert school.loc[~is_old, "emo_sad"].notna().mean() > 0.9


def test_every_kind_of_item_answers_in_its_range(scratch: tuple[Instrument, Instrument]) -> None:
    pop = make(n_children=4_000)
    school = pop.forms["skole"]
    # Ordinal items use every option of their scale (3, 4 and 5 options; one starts at 1).
    for item, (lo, hi) in {"emo_sad": (0, 3), "emo_worry": (0, 2), "beh_unrest": (1, 5)}.items():
        assert set(school[item].dropna().unique()) == set(range(lo, hi + 1)), item
    assert set(school["saf_injury"].unique()) <= {0.0, 1.0, 2.0}
    days = school["dev_absence"].dropna()
    assert days.between(0, 65).all() and (days == days.round()).all()
    assert days.nunique() > 15


def test_required_safety_items_are_never_blank(scratch: tuple[Instrument, Instrument]) -> None:
    pop = make(n_children=4_000, missing_rate=0.3)
    school = pop.forms["skole"]
    assert school[["saf_disclosure", "saf_injury"]].notna().all().all()
    # Every other item is missing at about the configured rate (more for strained families).
    assert 0.25 < school["emo_glad"].isna().mean() < 0.45


def test_safety_answers_follow_their_law_given_acute_risk(
    scratch: tuple[Instrument, Instrument],
) -> None:
    pop = make(n_children=60_000, seed=8)
    school = pop.forms["skole"]
    acute = _latent(pop, school, "latent_safety_risk") > _model.SAFETY_THRESHOLD
    answers = school[["saf_disclosure", "saf_injury"]].to_numpy()
    for a in (0, 1):
        rows = answers[acute == bool(a)].ravel()
        for value, p in ((1, _model.P_UNSURE[a]), (2, _model.P_FLAG[a])):
            share = (rows == value).mean()
            se = np.sqrt(p * (1 - p) / len(rows))
            assert abs(share - p) < 4 * se + 1e-4, (a, value, share, p)


def test_days_absent_follow_the_count_law_given_the_latent_state(
    scratch: tuple[Instrument, Instrument],
) -> None:
    pop = make(n_children=30_000, seed=4)
    school = pop.forms["skole"]
    current = (school["wave"] == pop.config.current_wave).to_numpy()
    x = school["dev_absence"].to_numpy()[current]
    # D at the current wave: the child's D plus its episode there (no drift by default).
    episode = _latent(pop, school, "episode")[current]
    d = _latent(pop, school, "latent_difficulties")[current] + pop.config.episode_size * episode
    seen = ~np.isnan(x)
    pmf = np.exp(_model.number_log_pmf(d[seen], 0, 65))
    assert np.allclose(pmf.sum(axis=1), 1.0)
    for cut in (1, 6, 13):
        expected = pmf[:, cut:].sum(axis=1)
        observed = x[seen] >= cut
        se = np.sqrt((expected * (1 - expected)).sum())
        assert abs(observed.sum() - expected.sum()) < 4 * se, cut
    # More difficulties, more days absent.
    assert x[seen][d[seen] > 1].mean() > 2 * x[seen][d[seen] < -1].mean()


def test_draw_numbers_inverts_the_cdf() -> None:
    theta = np.zeros(200_000)
    u = np.random.default_rng(1).random(theta.shape)
    x = _model.draw_numbers(theta, u, 0, 20)
    pmf = np.exp(_model.number_log_pmf(np.zeros(1), 0, 20))[0]
    freq = np.bincount(x.astype(int), minlength=21) / len(x)
    assert np.all(np.abs(freq - pmf) < 4 * np.sqrt(pmf * (1 - pmf) / len(x)) + 1e-4)
    assert x.max() <= 20 and x.min() >= 0


def test_same_seed_same_data_with_age_bands(scratch: tuple[Instrument, Instrument]) -> None:
    a, b = make(n_children=800), make(n_children=800)
    for s in a.forms:
        pd.testing.assert_frame_equal(a.forms[s], b.forms[s])
    c = make(n_children=800, seed=6)
    assert not a.forms["skole"]["dev_absence"].equals(c.forms["skole"]["dev_absence"])


def test_ordinal_thresholds_spread_over_the_scale(scratch: tuple[Instrument, Instrument]) -> None:
    young, _ = scratch
    m = _model.item_model(young)
    j = {item: k for k, item in enumerate(m.items)}
    # Four options: the domain's three thresholds (spread by the item's place); three
    # options: two; five options: four; inf where an item has fewer.
    assert np.isfinite(m.b[j["emo_sad"]]).sum() == 3
    # emo_sad is first of three emotional items (spread -0.2) and critical (the instrument's
    # most serious answers are rarer: +0.5); emo_glad, second, reverse-keyed (-0.6).
    base = np.array(_model.DOMAIN_PARAMS["emotional"][1])
    assert np.allclose(m.b[j["emo_sad"], :3], base - 0.2 + _model.CRITICAL_OFFSET)
    assert np.allclose(m.b[j["emo_glad"], :3], base + _model.REVERSE_OFFSET)
    assert np.isfinite(m.b[j["emo_worry"]]).sum() == 2
    assert np.isfinite(m.b[j["beh_unrest"]]).sum() == 4
    assert np.all(np.diff(m.b[j["beh_unrest"]]) > 0)
    assert m.kind[j["dev_absence"]] == _model.KIND_NUMBER
    assert m.kind[j["saf_injury"]] == _model.KIND_SAFETY and m.required[j["saf_injury"]]
    raw = np.array([[3.0, 0.0, 2.0, 5.0, 10.0, 1.0, 0.0, 1.0, 2.0, 3.0]])
    assert np.array_equal(m.raw(m.concern(raw)), raw)


# --- the oracle -----------------------------------------------------------------------------------
def test_oracle_is_calibrated_on_age_banded_forms(scratch: tuple[Instrument, Instrument]) -> None:
    """Binned by oracle P(step >= 1), observed shares within 4 binomial SE; per step too."""
    # Two waves and the educator forms only: this is about the age bands (the oracle over
    # every informant and more waves is checked in test_synthetic_oracle.py).
    pop = make(
        n_children=24_000,
        seed=12,
        n_waves=2,
        share_parent_form=0.0,
        share_child_form=0.0,
        share_earlier_screening=1.0,
        drift_per_year=0.2,
        year=2027,
        rater_bias_against="efterkommer",
    )
    proba = oracle_proba(pop)
    truth = pop.children["true_step"].to_numpy()
    p_any = 1.0 - proba["p_step_0"].to_numpy()
    bins = np.digitize(p_any, np.quantile(p_any, [0.5, 0.8, 0.9, 0.95, 0.98]))
    for b in range(6):
        inside = bins == b
        expected, observed = p_any[inside].mean(), (truth[inside] >= 1).mean()
        se = np.sqrt(expected * (1 - expected) / inside.sum())
        assert abs(observed - expected) < 4 * se, (b, expected, observed)
    share = np.bincount(truth, minlength=7) / len(truth)
    mean = proba.mean().to_numpy()
    assert np.all(np.abs(share - mean) < 4 * np.sqrt(mean * (1 - mean) / len(truth)))


def test_oracle_conditions_on_days_unsure_answers_and_blanks(
    scratch: tuple[Instrument, Instrument],
) -> None:
    # One form per child: with forms of several waves and informants, their many "Nej"
    # safety answers rule acute risk out and one more answer can no longer move it.
    pop = make(
        n_children=400, share_earlier_screening=0.0, share_parent_form=0.0, share_child_form=0.0
    )
    before = oracle_proba(pop)
    forms = {s: f.copy() for s, f in pop.forms.items()}
    school = forms["skole"]
    now = school["wave"] == pop.config.current_wave
    current = school.index[now & school["dev_absence"].notna()]
    school.loc[current, "dev_absence"] = 40.0
    more = oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))
    changed = school.loc[current, "child_id"]
    assert (more.loc[changed, "p_step_0"] < before.loc[changed, "p_step_0"]).mean() > 0.95
    # "Usikker" on a safety item: more need than "Nej", less than "Ja".
    answers = {}
    for value in (0.0, 1.0, 2.0):
        forms = {s: f.copy() for s, f in pop.forms.items()}
        forms["skole"].loc[forms["skole"]["wave"] == pop.config.current_wave, "saf_injury"] = value
        p = oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))
        answers[value] = 1 - p["p_step_0"]
    school_kids = pop.children.loc[pop.children["setting"] == "skole", "child_id"]
    assert (answers[0.0][school_kids] < answers[1.0][school_kids]).all()
    assert (answers[1.0][school_kids] < answers[2.0][school_kids]).all()
    # A blank required item (never made by the generator) is left out, not an error.
    forms = {s: f.copy() for s, f in pop.forms.items()}
    forms["skole"]["saf_injury"] = np.nan
    blank = oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))
    assert np.allclose(blank.sum(axis=1), 1.0)


def test_oracle_likelihood_is_the_generator_law_for_one_form(
    scratch: tuple[Instrument, Instrument],
) -> None:
    """The per-form likelihood tables equal the generator's laws evaluated by hand."""
    young, _ = scratch
    m = _model.item_model(young)
    cfg = SyntheticConfig(episode_size=1.3)
    pr = _oracle.prior(cfg)
    raw = np.array([[2.0, 1.0, 1.0, 4.0, 7.0, np.nan, 0.0, 1.0, 0.0, 3.0]])
    tabs = _oracle._form_tables(cfg, m, cfg.current_wave, raw, pr)
    j = {item: k for k, item in enumerate(m.items)}
    # Safety: P(Usikker | A) · P(Nej | A), A = 0, 1.
    law = m.safety
    expected = np.log(law[j["saf_disclosure"], 1]) + np.log(law[j["saf_injury"], 0])
    assert np.allclose(tabs.ls[0], expected)
    # Days: the negative-binomial pmf at 7 given D (+ the episode's 1.3) on the grid.
    assert np.allclose(tabs.ln[0, 0], _model.number_log_pmf(pr.d, 0, 65)[:, 7])
    assert np.allclose(tabs.ln[0, 1], _model.number_log_pmf(pr.d + 1.3, 0, 65)[:, 7])
    # Graded D items at harshness node 0 (typical rater), no bias: emo_sad = 2,
    # emo_glad = 1 (reverse: concern 2), emo_worry = 1, beh_unrest = 4 (concern 3);
    # without and with an episode.
    for e in (0, 1):
        theta = pr.d + 1.3 * e
        total = np.zeros_like(theta)
        for item, concern in (
            ("emo_sad", 2),
            ("emo_glad", 2),
            ("emo_worry", 1),
            ("beh_unrest", 3),
        ):
            k = j[item]
            cuts = m.b[k][np.isfinite(m.b[k])]
            ge = np.column_stack(
                [np.ones_like(theta), expit(m.a[k] * (theta[:, None] - cuts)), np.zeros_like(theta)]
            )
            total += np.log(ge[:, concern] - ge[:, concern + 1])
        assert np.allclose(tabs.ld[0, 0, 1, e], total)
    # Missing: one optional answer blank, the two safety items never counted.
    assert tabs.n_missing[0] == 1 and tabs.n_answered[0] == len(m.items) - 2 - 1


def test_oracle_rejects_an_unknown_instrument_and_out_of_range_answers(
    scratch: tuple[Instrument, Instrument],
) -> None:
    pop = make(n_children=60)
    forms = {s: f.copy() for s, f in pop.forms.items()}
    forms["skole"].loc[forms["skole"].index[0], "saf_injury"] = 3.0
    with pytest.raises(DataError, match=r"saf_injury = 3\.0.*from 0 to 2"):
        oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))
    forms = {s: f.copy() for s, f in pop.forms.items()}
    forms["skole"]["instrument_id"] = "no.such.form"
    with pytest.raises(DataError, match=r"no\.such\.form@0\.1\.0"):
        oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))


def test_oracle_quadrature_has_converged_with_numbers_and_unsure(
    scratch: tuple[Instrument, Instrument], oracle_grids: Callable[[Any, Any], None]
) -> None:
    pop = make(n_children=300, drift_per_year=0.2, year=2028)
    coarse = oracle_proba(pop).to_numpy()
    fine = np.arange(-6.5, 7.0 + 1e-9, 0.15)
    oracle_grids(fine, fine)
    assert np.abs(oracle_proba(pop).to_numpy() - coarse).max() < 2e-3


def test_the_shipped_form_examples_are_what_their_documented_function_writes(
    tmp_path: Path,
) -> None:
    """The demo's example forms are reproducible from one documented call (issue 17)."""
    from opsporing.examples import FORM_EXAMPLES, path, write_form_examples

    written = write_form_examples(tmp_path)
    assert sorted(p.name for p in written) == sorted(n for n, _ in FORM_EXAMPLES.values())
    for again in written:
        assert path(again.name).read_bytes() == again.read_bytes(), again.name
