"""Suggestions say only what the form shows (issue: honest explanations).

Over thousands of generated forms with random missingness: no reason credits a domain
that was not scored or a concept whose items were not answered; an abstention shows no
probabilities; the probability in the plot is the one in the text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing.decision import suggest_batch
from opsporing.explain import Explainer, plot_waterfall
from opsporing.instruments import get_instrument
from opsporing.model import build_features, load_model
from opsporing.model.train import score_population
from opsporing.synthetic import SyntheticConfig, generate


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)


@pytest.fixture(scope="module")
def holey_scores():
    """Current screenings of 3,000 synthetic children, answers blanked at random rates."""
    pop = generate(SyntheticConfig(n_children=3000, seed=99), progress=False)
    rng = np.random.default_rng(99)
    forms = {}
    for setting, table in pop.forms.items():
        table = table.copy()
        meta = (
            "form_id",
            "child_id",
            "wave",
            "rater_id",
            "instrument_id",
            "instrument_version",
            "age_years",
        )
        # The items of a required domain (safety) are never blank: a blank there is a
        # refused form, not a missing answer.
        required = {
            item.id
            for inst in map(get_instrument, set(table["instrument_id"]))
            for item in inst.items
            if inst.domain(item.domain).required
        }
        items = [c for c in table.columns if c not in meta and c not in required]
        # Each form gets its own missingness rate, 0-60 %, so many domains end unscored.
        rate = rng.uniform(0.0, 0.6, size=len(table))[:, None]
        blank = rng.random((len(table), len(items))) < rate
        values = table[items].to_numpy(dtype=np.float64, copy=True)
        values[blank] = np.nan
        table[items] = values
        forms[setting] = table
    return score_population(forms, wave=pop.config.current_wave)


def test_no_reason_credits_what_was_not_observed(model, explainer, holey_scores):
    scores = holey_scores.set_index("child_id")
    with threadpool_limits(1):
        suggestions = suggest_batch(
            model, holey_scores, id_column="child_id", explainer=explainer, top_up=5, top_down=5
        )
    kinds = pd.Series([s.kind for s in suggestions]).value_counts()
    assert kinds.get("step", 0) > 1000 and kinds.get("abstain", 0) > 50  # both paths exercised
    unscored_seen = 0
    for s in suggestions:
        row = scores.loc[s.subject]
        if s.kind == "abstain":
            assert s.reasons == () and s.probabilities is None and s.p_needs_support is None
            assert s.abstain_reason is not None and s.abstain_codes
            continue
        unscored = [c for c in row.index if c.startswith("score.") and pd.isna(row[c])]
        unscored_seen += bool(unscored)
        for r in s.reasons:
            if r.group.startswith("domain:"):
                d = r.group.removeprefix("domain:")
                assert not pd.isna(row[f"score.{d}"]), (s.subject, r.group)
            if r.group.startswith("concept:"):
                value = row.get(f"concept.{r.group.removeprefix('concept:')}")
                assert value is not None and not pd.isna(value), (s.subject, r.group)
        for w in s.what_would_change:
            assert not pd.isna(row[f"score.{w.domain}"])
    assert unscored_seen > 100  # the check ran on forms with unscored domains


def test_the_plot_shows_the_probability_of_the_text(model, explainer, holey_scores):
    sample = holey_scores.head(200)
    suggestions = suggest_batch(model, sample, id_column="child_id", explainer=explainer)
    X = build_features(sample, id_column="child_id")
    given = [i for i, s in enumerate(suggestions) if s.kind == "step"][:5]
    for e, i in zip(explainer.explain(X.iloc[given]), given, strict=True):
        assert e.probability == pytest.approx(suggestions[i].p_needs_support, abs=1e-9)
        fig = plot_waterfall(e, "da")
        title = fig.axes[0].get_title()
        assert f"{100 * suggestions[i].p_needs_support:.0f} %" in title
        assert "log-odds" not in fig.axes[0].get_xlabel() and "kalibrering" not in title
