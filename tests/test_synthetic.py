"""The synthetic population: calibration, determinism, files, the oracle, scenario knobs."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from opsporing.errors import DataError
from opsporing.instruments import get_instrument, select_instrument
from opsporing.scoring import score_batch
from opsporing.synthetic import (
    GROUPS,
    STEP_COLUMNS,
    SyntheticConfig,
    SyntheticPopulation,
    _generate,
    _model,
    _oracle,
    _population,
    generate,
    load_default,
    oracle_proba,
    population_step_distribution,
)
from opsporing.synthetic.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "data" / "synthetic"
CPR = re.compile(r"\d{6}-?\d{4}")
KEEP = ["form_id", "child_id", "wave", "rater_id"]
FORM_HEAD = ["form_id", "child_id", "wave", "rater_id", "instrument_id", "instrument_version"]
EDUCATOR_TABLES = ("dagtilbud", "skole")


def chosen(setting: str, ages: pd.Series | np.ndarray) -> np.ndarray:
    """The instrument id ``select_instrument`` gives each age in ``setting``."""
    unique, inverse = np.unique(np.asarray(ages, dtype=np.float64), return_inverse=True)
    return np.array([select_instrument(setting, float(a)).id for a in unique])[inverse]


def by_form(
    forms: pd.DataFrame, head: list[str] = FORM_HEAD
) -> list[tuple[_model.ItemModel, pd.DataFrame]]:
    """The rows of a form table per instrument, with only that instrument's items."""
    out = []
    for (inst_id, version), rows in forms.groupby(["instrument_id", "instrument_version"]):
        model = _model.item_model(get_instrument(str(inst_id), str(version)))
        out.append((model, rows[[*head, "age_years", *model.items]]))
    return out


@pytest.fixture(scope="module")
def default() -> SyntheticPopulation:
    return load_default()


@pytest.fixture(scope="module")
def default_oracle(default: SyntheticPopulation) -> pd.DataFrame:
    return oracle_proba(default)


def small(**knobs: object) -> SyntheticPopulation:
    knobs.setdefault("n_children", 2_000)
    knobs.setdefault("seed", 5)
    return generate(SyntheticConfig(**knobs), progress=False)  # type: ignore[arg-type]


def rated_concern(pop: SyntheticPopulation, setting: str) -> pd.DataFrame:
    """Concern values (0-3, NaN missing) of the items shifted by raters, one row per form.

    One column per item of the setting's forms; NaN where the form has no such rated item.
    """
    forms = pop.forms[setting]
    out = pd.DataFrame(np.nan, index=forms.index, columns=list(_generate.form_columns(setting)))
    for model, rows in by_form(forms):
        rated = [i for i, r in zip(model.items, model.rated, strict=True) if r]
        concern = model.concern(rows[list(model.items)].to_numpy())[:, model.rated]
        out.loc[rows.index, rated] = concern
    return out.set_axis(forms["child_id"].to_numpy(), axis=0)


def optional_missing(pop: SyntheticPopulation, setting: str) -> pd.Series:
    """Per form, the share of its optional items (not of a required domain) left blank."""
    forms = pop.forms[setting]
    rate = pd.Series(np.nan, index=forms.index)
    for model, rows in by_form(forms):
        optional = [i for i, r in zip(model.items, model.required, strict=True) if not r]
        rate.loc[rows.index] = rows[optional].isna().mean(axis=1)
    return rate


# --- config ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("n_children", 0, "a whole number from 1"),
        ("n_children", 2.5, "a whole number"),
        ("share_daycare", 1.5, "from 0 to 1"),
        ("missing_rate", 0.0, "from 0 to 0.5"),
        ("group_shares", (0.5, 0.5, 0.5), "summing to 1"),
        ("group_shares", (1.0, 0.0), "a tuple of 3 numbers"),
        ("missing_group_odds", (2.0, 1.0, 1.0), "1.0 first"),
        ("rater_bias_against", "danish", "None or one of"),
        ("rater_harshness_sd", float("nan"), "from 0 to 2"),
        ("seed", -1, "a whole number from 0"),
    ],
)
def test_bad_config_names_field_value_and_expectation(
    field: str, value: object, expected: str
) -> None:
    with pytest.raises(DataError) as info:
        SyntheticConfig(**{field: value})  # type: ignore[arg-type]
    message = str(info.value)
    assert f"SyntheticConfig.{field} = {value!r}" in message
    assert expected in message


def test_config_round_trips_through_json() -> None:
    cfg = SyntheticConfig(n_children=10, rater_bias_against="efterkommer", drift_per_year=0.1)
    assert SyntheticConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(DataError, match="a field of SyntheticConfig"):
        SyntheticConfig.from_dict({"n_childs": 10})


# --- shape of the data -------------------------------------------------------------------------
def test_tables_have_the_promised_columns_and_types(default: SyntheticPopulation) -> None:
    kids = default.children
    assert list(kids.columns) == [
        "child_id",
        "municipality",
        "setting",
        "age_years",
        "sex",
        "family_background",
        "latent_difficulties",
        "latent_family_strain",
        "latent_safety_risk",
        "latent_resources",
        "true_step",
        "episode",
    ]
    assert len(kids) == 100_000 and kids["child_id"].is_unique
    assert kids["child_id"].str.fullmatch(r"C\d{7}").all()
    assert set(kids["setting"]) == {"dagtilbud", "skole"}
    assert set(kids["sex"]) == {"pige", "dreng"}
    assert set(kids["family_background"]) == set(GROUPS)
    assert kids["true_step"].dtype == np.int64 and kids["true_step"].between(0, 6).all()
    daycare = kids["setting"] == "dagtilbud"
    assert kids.loc[daycare, "age_years"].between(0.5, 6.0, inclusive="left").all()
    assert kids.loc[~daycare, "age_years"].between(6.0, 16.0).all()
    assert abs(daycare.mean() - 0.35) < 0.01
    sizes = kids["municipality"].value_counts()
    assert len(sizes) == 14 and sizes.index[0] == "K01" and sizes.max() > 3 * sizes.min()
    assert kids["episode"].dtype == np.int8 and set(kids["episode"]) == {0, 1}
    assert list(default.forms) == ["dagtilbud", "skole", "parent", "child"]
    for setting in EDUCATOR_TABLES:
        forms = default.forms[setting]
        items = list(_generate.form_columns(setting))
        assert list(forms.columns) == [*FORM_HEAD, "age_years", *items]
        # Each form is the one forms.yaml gives a child of that age in that setting.
        assert (forms["instrument_id"].to_numpy() == chosen(setting, forms["age_years"])).all()
        assert len(set(forms["instrument_id"])) == len(_model.current_instruments(setting)) == 2
        assert (forms[items].dtypes == np.dtype("float64")).all()
        assert set(forms["wave"]) == {0, 1, 2}
        for model, rows in by_form(forms):
            # A form leaves the other age band's items empty.
            other = [c for c in items if c not in model.items]
            assert rows.index.size and forms.loc[rows.index, other].isna().all().all()


def test_every_child_has_one_current_form_and_followed_children_earlier_ones(
    default: SyntheticPopulation,
) -> None:
    assert pd.concat([f["form_id"] for f in default.forms.values()]).is_unique
    forms = pd.concat([default.forms[s] for s in EDUCATOR_TABLES], ignore_index=True)
    per_wave = forms.groupby(["child_id", "wave"]).size()
    assert per_wave.max() == 1
    c = default.config.current_wave
    current = forms[forms["wave"] == c].set_index("child_id")
    kids = default.children.set_index("child_id")
    assert len(current) == len(kids)
    assert (current.loc[kids.index, "age_years"] == kids["age_years"]).all()
    for setting in ("dagtilbud", "skole"):
        here = kids[kids["setting"] == setting]
        ids = current.loc[here.index, "instrument_id"].to_numpy()
        assert (ids == chosen(setting, here["age_years"])).all()
    earlier = forms[forms["wave"] < c].set_index("child_id")
    age = kids.loc[earlier.index, "age_years"]
    assert np.allclose(earlier["age_years"], age - (c - earlier["wave"]))
    assert (earlier["age_years"] >= 0.5).all()
    then = np.where(earlier["age_years"] < 6.0, "dagtilbud", "skole")
    for setting in ("dagtilbud", "skole"):
        rows = then == setting
        expected = chosen(setting, earlier["age_years"].to_numpy()[rows])
        assert (earlier["instrument_id"].to_numpy()[rows] == expected).all()
    # A child is followed (a form at every earlier wave it was 0.5 or older) or not.
    eligible = kids["age_years"] - 1.0 >= 0.5
    followed = kids.index.isin(earlier.index)
    assert abs(followed[eligible].mean() - 0.5) < 0.015
    two_back = kids.index[followed & (kids["age_years"] - 2.0 >= 0.5)]
    assert (earlier.loc[two_back].groupby(level=0).size() == 2).all()


def test_forms_score_with_score_batch(default: SyntheticPopulation) -> None:
    kids = default.children.set_index("child_id")
    for table, forms in default.forms.items():
        educator = table in EDUCATOR_TABLES
        keep = KEEP if educator else [c for c in KEEP if c != "rater_id"]
        head = FORM_HEAD if educator else [c for c in FORM_HEAD if c != "rater_id"]
        for model, rows in by_form(forms, head):
            inst = model.instrument
            scores = score_batch(inst, rows, keep=keep)
            # Parent and child forms have fewer items per domain: more cannot be banded.
            banded = 0.98 if educator else 0.95
            assert len(scores) == len(rows) and scores["band.overall"].notna().mean() > banded
            bare = score_batch(inst, rows.drop(columns=keep))
            assert (bare["score.total"].fillna(-1) == scores["score.total"].fillna(-1)).all()
            # Red flags are rare (about 1 % of forms) and come from acute safety risk.
            flag = scores["red_flag"].to_numpy()
            assert 0.002 < flag.mean() < 0.015, (inst.key, flag.mean())
            acute = kids.loc[rows["child_id"], "latent_safety_risk"].to_numpy()
            acute = acute > _model.SAFETY_THRESHOLD
            # P(a red flag | acute risk) = 1 - (1 - 0.30)^k for k safety items (0.51 for 2).
            k = int((model.kind == _model.KIND_SAFETY).sum())
            assert flag[acute].mean() > 1 - 0.7**k - 0.2 > 0.01 > flag[~acute].mean()
            # The safety items of the new forms are required: never blank.
            required = [i for i, r in zip(model.items, model.required, strict=True) if r]
            assert required and rows[required].notna().all().all()


def test_no_cpr_shaped_identifiers_anywhere(default: SyntheticPopulation) -> None:
    tables = [default.children, default.raters, default.waves, *default.forms.values()]
    for table in tables:
        for column in table.columns:
            assert not CPR.search(column)
            if not pd.api.types.is_numeric_dtype(table[column]):
                assert not table[column].astype(str).str.contains(CPR).any(), column
    for name in ("config.json", "manifest.json", "DATASHEET.md"):
        text = (DEFAULT_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"(?<![0-9a-f])\d{6}-?\d{4}(?![0-9a-f])", text), name


# --- calibration -------------------------------------------------------------------------------
def test_step_distribution_matches_targets(default: SyntheticPopulation) -> None:
    share = (
        default.children["true_step"].value_counts(normalize=True).reindex(range(7), fill_value=0)
    )
    assert abs(share[1:].sum() - 0.05) <= 0.01  # about 5 % need more than universal services
    assert abs(share[4:].sum() - 0.01) <= 0.003  # about 1 % placed out of home
    assert share[6] == share[1:].min()  # the institution is the rarest step
    # And the exact population distribution agrees with the sample within 4 standard errors.
    expected = population_step_distribution(default.config)
    se = np.sqrt(expected * (1 - expected) / len(default.children))
    assert np.all(np.abs(share.to_numpy() - expected) < 4 * se)
    per_1000 = np.round(expected * 1000).astype(int).tolist()
    assert per_1000 == [950, 20, 12, 8, 3, 5, 2]


def test_step_thresholds_are_the_calibrated_ones() -> None:
    cuts = _oracle.calibrate_thresholds(SyntheticConfig(), _model.STEP_TARGETS)
    assert np.allclose(cuts, _model.STEP_THRESHOLDS, atol=2e-4)


def test_prevalence_shift_and_drift_move_the_distribution() -> None:
    base = population_step_distribution(SyntheticConfig())[1:].sum()
    more = population_step_distribution(SyntheticConfig(prevalence_shift=0.3))[1:].sum()
    later = SyntheticConfig(year=2028, drift_per_year=0.2)
    assert more > base + 0.015
    assert population_step_distribution(later)[1:].sum() > base + 0.02
    pop = small(n_children=20_000, year=2028, drift_per_year=0.2)
    kids = pop.children
    assert abs(kids["latent_difficulties"].mean() - (0.4 + 0.45 * 0.04)) < 0.03
    assert abs(kids["latent_family_strain"].mean() - (0.4 + 0.042)) < 0.03


# --- determinism and files ---------------------------------------------------------------------
def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = small(), small(), small(seed=6)
    pd.testing.assert_frame_equal(a.children, b.children)
    for s in a.forms:
        pd.testing.assert_frame_equal(a.forms[s], b.forms[s])
    pd.testing.assert_frame_equal(a.raters, b.raters)
    pd.testing.assert_frame_equal(a.waves, b.waves)
    assert not a.children["child_id"].equals(c.children["child_id"])
    assert not np.allclose(a.children["latent_difficulties"], c.children["latent_difficulties"])


def test_progress_bar_never_changes_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = small(n_children=500)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    shown = generate(SyntheticConfig(n_children=500, seed=5), progress=True)
    pd.testing.assert_frame_equal(quiet.forms["skole"], shown.forms["skole"])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    pop = small(n_children=300, rater_bias_against="indvandrer")
    pop.save(tmp_path)
    back = SyntheticPopulation.load(tmp_path)
    assert back.config == pop.config
    pd.testing.assert_frame_equal(back.children, pop.children)
    for s in pop.forms:
        pd.testing.assert_frame_equal(back.forms[s], pop.forms[s])
    pd.testing.assert_frame_equal(back.raters, pop.raters)
    pd.testing.assert_frame_equal(back.waves, pop.waves)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    pop.save(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first


def test_committed_data_is_regenerated_by_the_documented_command(
    tmp_path: Path, default: SyntheticPopulation
) -> None:
    documented = "python -m opsporing.synthetic --out data/synthetic "
    documented += "--n-children 100000 --seed 20261123 --no-progress"
    assert documented in (DEFAULT_DIR / "DATASHEET.md").read_text(encoding="utf-8")
    command = [sys.executable, *documented.split()[1:]]
    command[command.index("data/synthetic")] = str(tmp_path)
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    fresh = SyntheticPopulation.load(tmp_path)
    # The documented command: the defaults except n_children (twice the training data).
    assert fresh.config == default.config == SyntheticConfig(n_children=100_000)
    pd.testing.assert_frame_equal(fresh.children, default.children)
    for s in default.forms:
        pd.testing.assert_frame_equal(fresh.forms[s], default.forms[s])
    pd.testing.assert_frame_equal(fresh.waves, default.waves)
    committed = json.loads((DEFAULT_DIR / "manifest.json").read_text())
    if committed["versions"] != _population.library_versions():
        pytest.skip(f"library versions differ from the manifest's {committed['versions']}")
    for name, entry in committed["files"].items():
        data = (tmp_path / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert data == (DEFAULT_DIR / name).read_bytes(), name
    assert (tmp_path / "manifest.json").read_bytes() == (DEFAULT_DIR / "manifest.json").read_bytes()


def test_loading_a_missing_or_damaged_file_is_a_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy"
    small(n_children=200).save(copy)
    path = copy / "forms_skole.parquet"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(
        DataError, match=r"forms_skole.parquet: SHA-256 .*\(truncated or altered file\)"
    ):
        SyntheticPopulation.load(copy)
    path.unlink()
    with pytest.raises(DataError, match=r"forms_skole\.parquet: file missing"):
        SyntheticPopulation.load(copy)
    with pytest.raises(DataError, match=r"manifest\.json = '\(missing\)'"):
        SyntheticPopulation.load(tmp_path / "nowhere")
    monkeypatch.setattr(_population, "DEFAULT_DIRECTORY", tmp_path / "nowhere")
    with pytest.raises(DataError, match="default synthetic data set is missing"):
        load_default()


def test_command_line_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--n-children", "0", "--no-progress"]) == 2
    assert "SyntheticConfig.n_children = 0" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--n-children", "50", "--no-progress"]) == 0
    assert SyntheticPopulation.load(tmp_path).config.n_children == 50


# --- the oracle --------------------------------------------------------------------------------
def test_oracle_rows_are_distributions_over_steps(
    default: SyntheticPopulation, default_oracle: pd.DataFrame
) -> None:
    assert list(default_oracle.columns) == list(STEP_COLUMNS)
    assert default_oracle.index.equals(pd.Index(default.children["child_id"], name="child_id"))
    assert np.allclose(default_oracle.sum(axis=1), 1.0, atol=1e-12)
    assert (default_oracle >= 0).all().all()
    school = oracle_proba(default, setting="skole")
    assert np.allclose(school, default_oracle.loc[school.index], atol=1e-12)


def test_oracle_agrees_with_monte_carlo_frequencies(
    default: SyntheticPopulation, default_oracle: pd.DataFrame
) -> None:
    """Binned by oracle P(step >= 1), observed shares within 4 binomial SE of the mean oracle."""
    truth = default.children["true_step"].to_numpy()
    p_any = 1.0 - default_oracle["p_step_0"].to_numpy()
    edges = np.quantile(p_any, [0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995])
    bins = np.digitize(p_any, edges)
    for b in range(len(edges) + 1):
        inside = bins == b
        expected = p_any[inside].mean()
        observed = (truth[inside] >= 1).mean()
        se = np.sqrt(expected * (1 - expected) / inside.sum())
        assert abs(observed - expected) < max(4 * se, 1e-3), (b, expected, observed)
    # Mean oracle probability of each step against the empirical share of that step.
    mean = default_oracle.mean().to_numpy()
    share = np.bincount(truth, minlength=7) / len(truth)
    se = np.sqrt(mean * (1 - mean) / len(truth))
    assert np.all(np.abs(share - mean) < 4 * se)
    # The best possible detection on this data (documented in the datasheet).
    assert 0.93 < roc_auc_score(truth >= 1, p_any) < 0.96


def test_oracle_agrees_with_monte_carlo_under_a_stress_scenario() -> None:
    """Bias, drift, strong rater effects and informative missingness: still calibrated."""
    # Two waves (every child screened in both) keep it quick; informants and episodes on.
    pop = small(
        n_children=24_000,
        seed=9,
        n_waves=2,
        rater_bias_against="indvandrer",
        rater_bias_size=0.8,
        drift_per_year=0.3,
        year=2027,
        prevalence_shift=0.3,
        share_earlier_screening=1.0,
        rater_harshness_sd=0.6,
        missing_rate=0.1,
        missing_strain_effect=1.0,
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
    # The oracle does not know the group: the biased-against group is over-predicted.
    group = (pop.children["family_background"] == "indvandrer").to_numpy()
    assert p_any[group].mean() > (truth[group] >= 1).mean() + 0.05


def test_oracle_uses_only_what_was_observed() -> None:
    pop = small(n_children=400)
    before = oracle_proba(pop)
    hidden = pop.children.copy()
    for column in ("latent_difficulties", "latent_family_strain", "latent_safety_risk"):
        hidden[column] = 0.0
    hidden["true_step"] = 0
    hidden["family_background"] = "dansk"
    scrubbed = SyntheticPopulation(hidden, pop.forms, pop.config, pop.raters)
    pd.testing.assert_frame_equal(oracle_proba(scrubbed), before)
    # Masking an answer changes what it conditions on.
    forms = {s: f.copy() for s, f in pop.forms.items()}
    forms["skole"]["emo_sad"] = np.nan
    masked = oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))
    assert not np.allclose(masked, before)


def test_oracle_quadrature_has_converged(oracle_grids: Callable[[Any, Any], None]) -> None:
    pop = small(n_children=300, rater_bias_against="efterkommer", drift_per_year=0.2, year=2028)
    coarse = oracle_proba(pop).to_numpy()
    fine = np.arange(-6.5, 7.0 + 1e-9, 0.15)
    oracle_grids(fine, fine)
    assert np.abs(oracle_proba(pop).to_numpy() - coarse).max() < 2e-3


def test_oracle_rejects_bad_input() -> None:
    pop = small(n_children=50)
    with pytest.raises(DataError, match="setting = 'vuggestue'"):
        oracle_proba(pop, setting="vuggestue")
    forms = {s: f.copy() for s, f in pop.forms.items()}
    forms["skole"].loc[forms["skole"].index[0], "emo_sad"] = 7.0
    with pytest.raises(DataError, match=r"emo_sad = 7\.0"):
        oracle_proba(SyntheticPopulation(pop.children, forms, pop.config, pop.raters))


# --- scenario knobs ----------------------------------------------------------------------------
def test_rater_bias_visible_when_on_and_absent_when_off() -> None:
    knobs = {
        "n_children": 20_000,
        "group_strain_shift": (0.0, 0.0, 0.0),  # the groups' latent states are alike
        "missing_group_odds": (1.0, 1.0, 1.0),
    }
    off = small(**knobs)
    on = small(**knobs, rater_bias_against="indvandrer", rater_bias_size=0.8)
    pd.testing.assert_frame_equal(on.children, off.children)  # same children, same truth
    group = off.children.set_index("child_id")["family_background"]
    for setting in ("dagtilbud", "skole"):
        c_off, c_on = rated_concern(off, setting), rated_concern(on, setting)
        target = (group.loc[c_off.index] == "indvandrer").to_numpy()
        # Other groups' answers are untouched, the target group's only go up.
        assert c_on[~target].equals(c_off[~target])
        assert (c_on[target].fillna(0).to_numpy() >= c_off[target].fillna(0).to_numpy()).all()
        gap_off = c_off[target].mean(axis=1).mean() - c_off[~target].mean(axis=1).mean()
        gap_on = c_on[target].mean(axis=1).mean() - c_on[~target].mean(axis=1).mean()
        assert abs(gap_off) < 0.04  # absent (within noise) when off
        assert gap_on > 0.12  # clearly visible when on


def test_group_dependent_missingness_visible_when_on_and_absent_when_off() -> None:
    def missing_by_group(pop: SyntheticPopulation) -> pd.Series:
        forms = pop.forms["skole"]
        group = pop.children.set_index("child_id").loc[forms["child_id"], "family_background"]
        rate = optional_missing(pop, "skole").to_numpy()
        return pd.Series(rate).groupby(group.to_numpy()).mean()

    on = missing_by_group(small(n_children=20_000))
    assert on["indvandrer"] > 1.8 * on["dansk"] and on["efterkommer"] > 1.2 * on["dansk"]
    off = missing_by_group(
        small(n_children=20_000, missing_group_odds=(1.0, 1.0, 1.0), missing_strain_effect=0.0)
    )
    assert abs(off["indvandrer"] / off["dansk"] - 1) < 0.1
    assert abs(off["dansk"] - 0.03) < 0.003


def test_missingness_depends_on_family_strain_when_asked() -> None:
    pop = small(n_children=10_000, missing_strain_effect=1.0)
    forms = pop.forms["skole"]
    strain = pop.children.set_index("child_id").loc[forms["child_id"], "latent_family_strain"]
    rate = optional_missing(pop, "skole").to_numpy()
    assert np.corrcoef(strain.to_numpy(), rate)[0, 1] > 0.2


def test_rater_harshness_shows_in_the_answers() -> None:
    pop = small(n_children=20_000, rater_harshness_sd=0.6)
    harsh = pop.raters.set_index("rater_id")["harshness"]
    assert set(np.round(harsh.unique() / (0.6 * np.sqrt(3)), 6)) == {-1.0, 0.0, 1.0}
    forms = pop.forms["skole"]
    concern = rated_concern(pop, "skole").mean(axis=1).to_numpy()
    h = harsh.loc[forms["rater_id"]].to_numpy()
    assert concern[h > 0].mean() > concern[h == 0].mean() > concern[h < 0].mean()
