"""Instrument quality: factor structure (CFA) recovers known loadings; MH finds planted DIF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import DataError
from opsporing.evaluation import factor_structure, item_dif
from opsporing.evaluation._structure import _fit_cfa, _fit_indices
from opsporing.instruments import get_instrument

SCHOOL = get_instrument("opsporing.skole.trivsel")


def test_cfa_recovers_a_known_model_exactly() -> None:
    lam = np.array([0.8, 0.7, 0.6, 0.5, 0.9, 0.6, 0.7])
    pattern = np.array([0, 0, 0, 1, 1, 1, 1])
    phi = np.array([[1.0, 0.4], [0.4, 1.0]])
    full = np.zeros((7, 2))
    full[np.arange(7), pattern] = lam
    psi = 1.0 - lam**2
    sigma = full @ phi @ full.T + np.diag(psi)
    est_lam, est_phi, est_psi = _fit_cfa(sigma, pattern, 2)
    assert np.allclose(np.abs(est_lam), lam, atol=2e-3)
    assert abs(abs(est_phi[0, 1]) - 0.4) < 2e-3
    assert np.allclose(est_psi, psi, atol=2e-3)
    fit = _fit_indices(sigma, sigma, 500, 2 * 7 + 1)
    assert fit["chi2"] == pytest.approx(0.0, abs=1e-8)
    assert fit["cfi"] == pytest.approx(1.0) and fit["rmsea"] == pytest.approx(0.0)


def _answers(n: int, seed: int, dif_item: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Graded answers driven by one latent trait per domain; group 'b' is no different,
    except on ``dif_item``, which raters answer 1 point higher for group 'b'."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.3, "b", "a")
    cols = {}
    for domain in ("emotional", "social", "behaviour"):
        trait = rng.normal(size=n)
        for item in SCHOOL.items_in(domain):
            latent = trait * 0.9 + rng.normal(scale=0.6, size=n)
            value = np.clip(np.round(1 + (-latent if item.reverse else latent)), 0, 3)
            if item.id == dif_item:
                value = np.where(group == "b", np.clip(value + 1, 0, 3), value)
            cols[item.id] = value
    return pd.DataFrame(cols), group


def test_factor_structure_of_graded_domains() -> None:
    answers, _ = _answers(1500, 1)
    fs = factor_structure(SCHOOL, answers)
    assert set(fs["loadings"]["domain"]) == {"emotional", "social", "behaviour"}
    assert (fs["loadings"]["loading"] > 0.6).all()  # reverse-keyed items were keyed first
    assert fs["fit"].loc[0, "cfi"] > 0.95 and fs["fit"].loc[0, "rmsea"] < 0.06
    corr = fs["factor_correlations"].to_numpy()
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.15  # independent traits
    with pytest.raises(DataError, match="complete forms"):
        factor_structure(SCHOOL, answers.head(50))


def test_mantel_haenszel_finds_a_planted_dif_item_and_not_the_others() -> None:
    answers, group = _answers(3000, 2, dif_item="soc_bullied")
    dif = item_dif(SCHOOL, answers, group).set_index("item")
    assert dif.loc["soc_bullied", "ets_class"] == "C"
    assert dif.loc["soc_bullied", "delta"] > 1.5  # group b: more concern answers
    others = dif.drop(index="soc_bullied")
    assert (others["ets_class"] == "A").mean() >= 0.8
    assert (dif["reference"] == "a").all()  # the largest group by default
    with pytest.raises(DataError, match="group"):
        item_dif(SCHOOL, answers, group[:-1])


def test_instrument_quality_sections_of_the_shipped_example() -> None:
    from opsporing.evaluation import instrument_quality_sections, read_own_data
    from opsporing.examples import own_data_paths

    data = read_own_data(
        *own_data_paths(), groups=["sex", "family_background"], ignore=["municipality", "setting"]
    )
    sections = instrument_quality_sections(data, n_boot=20)
    # One section per current form in the file (the age-fitted forms of issue 17).
    assert [s.title for s in sections] == [
        "Instrument quality: opsporing.dagtilbud.0-2@1.0.0",
        "Instrument quality: opsporing.dagtilbud.3-5@1.0.0",
        "Instrument quality: opsporing.skole.0-6@1.0.0",
        "Instrument quality: opsporing.skole.7-10@1.0.0",
    ]
    school = sections[2].content
    assert "350 current screenings" in school[0]
    rel = school[1]
    assert isinstance(rel, pd.DataFrame) and ("emotional", "alpha") in rel.index
    # 350 forms are too few for a CFA of this form: said, not crashed
    assert any(isinstance(c, str) and c.startswith("No factor analysis") for c in school)
    dif = next(c for c in school if isinstance(c, pd.DataFrame) and "ets_class" in c.columns)
    assert set(dif["group_column"]) <= {"sex", "family_background"}
