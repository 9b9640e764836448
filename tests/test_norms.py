"""Band cut-offs from a norm population: ``derive_norms``, ``band_shares`` and ``opsporing norms``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from opsporing.cli import app
from opsporing.errors import DataError, ResponseValidationError
from opsporing.instruments import Instrument, get_instrument, load_instrument
from opsporing.scoring import (
    MIN_NORM_FORMS,
    band_shares,
    derive_norms,
    score_batch,
    score_column,
)

DATA = Path(__file__).parent / "data"
TOTAL = load_instrument(DATA / "total_instrument.yaml")
SCHOOL = get_instrument("opsporing.skole.trivsel", "1.0.0")
CALM: dict[str, Any] = {
    "m1": 0, "m2": 0, "m3": 3, "c1": 0, "absence": 0, "k1": 0,
    "s1": 0, "s2": 0, "r1": 3, "r2": 3,
}  # fmt: skip


def latent_population(instrument: Instrument, n: int, seed: int) -> pd.DataFrame:
    """Forms whose answers rise with a skewed latent difficulty: fine-grained domain scores."""
    rng = np.random.default_rng(seed)
    level = rng.gamma(1.2, 0.5, n)
    forms = {}
    for item in instrument.items:
        top = instrument.scale(item.scale).max
        raw = np.clip(np.round(level * rng.random(n) * 1.6), 0, top)
        # Resources fall as difficulties rise: a strength item is answered the other way up.
        flip = item.reverse != (instrument.domain(item.domain).direction == "strength")
        forms[item.id] = top - raw if flip else raw
    return pd.DataFrame(forms)


@pytest.fixture(scope="module")
def school_population() -> pd.DataFrame:
    return latent_population(SCHOOL, 3000, seed=17)


@pytest.fixture(scope="module")
def school_normed(school_population: pd.DataFrame) -> Instrument:
    return derive_norms(school_population, SCHOOL)


# --- the rule ------------------------------------------------------------------------------------
def test_derived_cutoffs_flag_close_to_and_never_above_the_targets(
    school_population: pd.DataFrame, school_normed: Instrument
) -> None:
    shares = band_shares(school_population, school_normed)
    total = shares.loc["total"]
    assert 0.15 <= total["gul_or_rød"] <= 0.20 and 0.06 <= total["rød"] <= 0.10
    for dom in ("emotional", "social", "behaviour", "development", "care", "resources"):
        row = shares.loc[dom]
        assert 0.05 <= row["gul_or_rød"] <= 0.10, (dom, row.to_dict())
        assert 0.01 <= row["rød"] <= 0.03, (dom, row.to_dict())


def test_each_cutoff_is_the_closest_to_the_target_from_below(
    school_population: pd.DataFrame, school_normed: Instrument
) -> None:
    """One step lower (higher, for a strength score) would flag more than the target."""
    scores = score_batch(SCHOOL, school_population)
    rules = {"total": (80, 90)} | {d: (90, 97) for d in SCHOOL.domain_ids}
    for name, (y, r) in rules.items():
        values = scores[score_column(name)].dropna().to_numpy()
        bands = (
            school_normed.total.bands if name == "total" else school_normed.domain(name).bands  # type: ignore[union-attr]
        )
        strength = name != "total" and SCHOOL.domain(name).direction == "strength"
        for cut, pct in ((bands.yellow, y), (bands.red, r)):
            target = 1 - pct / 100
            if strength:
                share, one_step_more = np.mean(values <= cut), np.mean(values <= cut + 1)
            else:
                share, one_step_more = np.mean(values >= cut), np.mean(values >= cut - 1)
            if share <= target:  # the target was reachable: taken as closely as possible
                assert one_step_more > target, (name, cut, share, one_step_more)


def test_hand_checked_small_example() -> None:
    """200 forms, everything calm except the strength domain ``res`` (r1 + r2, 0-6).

    res = 0 for 4 forms (2 %), 1 for 16 (cumulative 10 %), 2 for 30 (25 %), 6 for 150.
    Domain rule 90/97 on a strength score: gul at or below the highest cut-off flagging at
    most 10 %: 1 (exactly 10 %); rød at most 3 %: 0 (2 %). ``mood`` is 0 everywhere: gul
    from 1 (0 % flagged), rød one step above, 2. The total (mood + school) likewise.
    """
    res = [(0, 0)] * 4 + [(1, 0)] * 16 + [(1, 1)] * 30 + [(3, 3)] * 150
    forms = pd.DataFrame([{**CALM, "r1": a, "r2": b} for a, b in res])
    normed = derive_norms(forms, TOTAL, source="hand-checked")
    assert normed.domain("res").bands.model_dump() == {"yellow": 1.0, "red": 0.0}
    assert normed.domain("mood").bands.model_dump() == {"yellow": 1.0, "red": 2.0}
    assert normed.total is not None and normed.total.bands.model_dump() == {"yellow": 1, "red": 2}
    shares = band_shares(forms, normed)
    assert shares.loc["res", "gul_or_rød"] == 0.10 and shares.loc["res", "rød"] == 0.02


def test_a_share_exactly_at_the_target_is_taken() -> None:
    topi = get_instrument("topi")
    answers = pd.DataFrame({"1vurdering": np.repeat([0, 1, 2], [160, 30, 10])})
    normed = derive_norms(answers, topi, domains=(80, 95))  # 20 % at >= 1, 5 % at 2
    assert normed.domain("vurdering").bands.model_dump() == {"yellow": 1.0, "red": 2.0}
    tighter = derive_norms(answers, topi, domains=(81, 96))  # neither share reachable
    assert tighter.domain("vurdering").bands.model_dump() == {"yellow": 1.0, "red": 2.0}


def test_ties_at_the_top_keep_red_above_yellow() -> None:
    """A one-item domain with 5 % at the top: rød at most 3 % is impossible; rød is the top
    and gul the step below (the one documented case that flags more than the target)."""
    answers = pd.DataFrame({"1vurdering": np.repeat([0, 1, 2], [150, 40, 10])})
    normed = derive_norms(answers, get_instrument("topi"))
    assert normed.domain("vurdering").bands.model_dump() == {"yellow": 1.0, "red": 2.0}


# --- the new version -----------------------------------------------------------------------------
def test_new_version_has_the_norms_block_and_round_trips(
    tmp_path: Path, school_population: pd.DataFrame, school_normed: Instrument
) -> None:
    assert school_normed.version == "1.1.0" and SCHOOL.version == "1.0.0"
    assert school_normed.norms is not None
    assert school_normed.norms.n == len(school_population)
    assert (school_normed.norms.total.yellow, school_normed.norms.total.red) == (80, 90)  # type: ignore[union-attr]
    assert (school_normed.norms.domains.yellow, school_normed.norms.domains.red) == (90, 97)
    assert school_normed.items == SCHOOL.items and school_normed.scales == SCHOOL.scales
    path = tmp_path / "normed.yaml"
    tree = school_normed.model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), "utf-8")
    assert load_instrument(path) == school_normed


def test_scores_or_forms_give_the_same_norms(school_population: pd.DataFrame) -> None:
    scores = score_batch(SCHOOL, school_population)
    assert derive_norms(scores, SCHOOL) == derive_norms(school_population, SCHOOL)


# --- refusals ------------------------------------------------------------------------------------
def test_a_small_norm_population_is_refused_naming_every_score() -> None:
    forms = pd.DataFrame([CALM] * (MIN_NORM_FORMS - 1))
    with pytest.raises(DataError) as info:
        derive_norms(forms, TOTAL)
    fields = [p.field for p in info.value.problems]
    assert fields == [f"population.score.{d}" for d in (*TOTAL.domain_ids, "total")]
    assert all(p.kind == "too_few_forms" for p in info.value.problems)


def test_unscorable_forms_do_not_count() -> None:
    forms = pd.DataFrame([CALM] * MIN_NORM_FORMS + [{**CALM, "k1": None}])
    derive_norms(forms, TOTAL)  # 200 scorable everywhere
    forms.loc[: MIN_NORM_FORMS // 2, "k1"] = None
    with pytest.raises(DataError, match=r"score\.care"):
        derive_norms(forms, TOTAL)


@pytest.mark.parametrize("rule", [(90, 80), (0, 50), (50, 100), "80/90", (80,)])
def test_a_malformed_rule_is_refused(rule: Any) -> None:
    with pytest.raises(DataError, match="percentile rule"):
        derive_norms(pd.DataFrame([CALM] * 200), TOTAL, total=rule)


def test_scores_of_another_instrument_are_refused(school_population: pd.DataFrame) -> None:
    scores = score_batch(SCHOOL, school_population)
    with pytest.raises(DataError, match=r"scores of test\.total"):
        derive_norms(scores, TOTAL)


def test_bad_forms_are_reported_not_normed() -> None:
    forms = pd.DataFrame([CALM] * 200 + [{**CALM, "s1": None}])
    with pytest.raises(ResponseValidationError, match="s1"):
        derive_norms(forms, TOTAL)


# --- the command line ----------------------------------------------------------------------------
def test_cli_writes_a_new_version_that_loads(
    tmp_path: Path, school_population: pd.DataFrame, school_normed: Instrument
) -> None:
    forms = tmp_path / "forms.csv"
    school_population.to_csv(forms, index=False)
    out = tmp_path / "normed.yaml"
    args = ["norms", "-i", SCHOOL.id, "--forms", str(forms), "-o", str(out), "--lang", "en"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "total" in result.output and f"wrote {out}" in result.output
    written = load_instrument(out)
    assert written.domain_ids == school_normed.domain_ids
    assert [d.bands for d in written.domains] == [d.bands for d in school_normed.domains]
    assert written.norms is not None and written.norms.source == "opsporing norms --forms forms.csv"


def test_cli_takes_the_percentiles_and_refuses_a_small_population(tmp_path: Path) -> None:
    forms = tmp_path / "forms.csv"
    pd.DataFrame([CALM] * 50).to_csv(forms, index=False)
    out = tmp_path / "normed.yaml"
    args = ["norms", "-i", str(DATA / "total_instrument.yaml"), "-f", str(forms), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--yellow", "85", "--red", "95"])
    assert result.exit_code == 2 and "at least 200 scorable forms" in result.output
    assert not out.exists()
    result = CliRunner().invoke(app, [*args, "--domain-yellow", "97", "--domain-red", "90"])
    assert result.exit_code == 2 and "percentile rule" in result.output
