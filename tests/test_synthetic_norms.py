"""The shipped forms' cut-offs come from a synthetic norm population by the percentile rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsporing.instruments import current_forms, load_instrument
from opsporing.model.train import FRESH_SEED, SEED
from opsporing.scoring import derive_norms
from opsporing.synthetic import SyntheticConfig, generate, norms
from opsporing.synthetic._model import SAFETY_DOMAIN

CURRENT = [
    i for (informant, _), bands in current_forms().items() if informant == "educator" for i in bands
]


def test_the_norm_seed_is_neither_the_training_nor_the_fresh_seed() -> None:
    assert len({norms.NORM_SEED, SEED, FRESH_SEED}) == 3


@pytest.mark.parametrize("inst", CURRENT, ids=lambda i: i.id)
def test_every_current_form_carries_its_norms_block(inst: object) -> None:
    block = inst.norms  # type: ignore[attr-defined]
    assert block is not None, "derive the cut-offs with python -m opsporing.synthetic.norms"
    assert block.total == norms.TOTAL_RULE and block.domains == norms.DOMAIN_RULE
    assert str(norms.NORM_SEED) in block.source and str(norms.NORM_SEED) in block.population.en
    assert block.n > 10_000  # every age band rests on many thousands of forms
    assert "ikke rigtige børn" in block.population.da and "not real" in block.population.en


def test_normed_text_writes_bands_and_block_and_keeps_the_rest(tmp_path: Path) -> None:
    inst = CURRENT[-1]
    path = norms.shipped_path(inst)
    text = path.read_text(encoding="utf-8")
    pop = generate(SyntheticConfig(n_children=6_000, seed=3), progress=False)
    forms = norms.norm_forms(pop, inst)
    normed = derive_norms(forms, inst, total=(80, 90), domains=(85, 95))
    out = tmp_path / "form.yaml"
    out.write_text(norms.normed_text(text, normed), encoding="utf-8")
    back = load_instrument(out)
    assert back.key == inst.key  # the file's own version is kept
    assert back.items == inst.items and back.scales == inst.scales
    for domain in back.domains:
        expected = inst if domain.id == SAFETY_DOMAIN else normed
        assert domain.bands == expected.domain(domain.id).bands, domain.id
    assert back.total is not None and normed.total is not None
    assert back.total.bands == normed.total.bands
    assert back.norms == normed.norms and back.norms is not None
    assert back.norms.total is not None and back.norms.total.yellow == 80
    # Comments and wording survive; a second pass changes nothing.
    assert "# Changing wording" in out.read_text(encoding="utf-8")
    again = norms.normed_text(out.read_text(encoding="utf-8"), normed)
    assert again == out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_shipped_cut_offs_are_what_the_documented_rule_gives() -> None:
    """``python -m opsporing.synthetic.norms --check``: no shipped file would change."""
    assert norms.write_norms(check=True) == []


def test_every_age_band_flags_at_most_a_fifth_and_reds_at_most_six_percent() -> None:
    """Issue 17's targets, on children of a seed used for nothing else (20,000 children)."""
    from opsporing._measure import band_rule_by_form
    from opsporing.model.train import score_population
    from opsporing.policy import load_policy

    pop = generate(SyntheticConfig(n_children=20_000, seed=20261207), progress=False)
    educator = {t: pop.forms[t] for t in ("dagtilbud", "skole")}  # the norms' forms
    current = score_population(educator, wave=pop.config.current_wave)
    steps = pop.children.set_index("child_id").loc[current["child_id"], "true_step"]
    by_form = band_rule_by_form(
        current["band.overall"], current["instrument"], steps.to_numpy(), load_policy()
    )
    assert sorted(by_form) == sorted(i.key for i in CURRENT)
    for key, figures in by_form.items():
        assert figures["n_children"] > 2_000, key
        assert figures["referral_rate"] <= 0.20 and figures["red_rate"] <= 0.06, (key, figures)
        # ... and the band rule still finds most children in need.
        assert figures["found_among_need"] >= 0.6, (key, figures)
