"""opsporing.explain: SHAP values, their groups, sentences, plots, global importance."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing.errors import ModelError
from opsporing.explain import (
    Explainer,
    Explanation,
    Reason,
    global_importance,
    group_items,
    group_label,
    plot_waterfall,
    render_sentence,
)
from opsporing.model import build_features, feature_groups, feature_names, load_model
from opsporing.model.train import score_rounds
from opsporing.synthetic import SyntheticConfig, generate
from opsporing.vocabulary import Text

MODELS = Path(__file__).parent.parent / "models"


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP thread: small predictions are faster, and a busy machine cannot stall them."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def explainer():
    return Explainer(load_model(MODELS / "step_suggester.skops"))


@pytest.fixture(scope="module")
def current():
    pop = generate(SyntheticConfig(n_children=3000, seed=21), progress=False)
    tables = score_rounds(pop.forms)
    return tables.current, list(tables.earlier)


@pytest.fixture(scope="module")
def X(current):
    now, before = current
    return build_features(now, before, id_column="child_id")


def test_shap_values_add_up_to_the_margin(explainer, X):
    values = explainer.shap_values(X)
    assert values.shape == X.shape and list(values.columns) == list(feature_names())
    total = explainer.base_value + values.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, explainer.margin(X), atol=1e-6)
    assert explainer.check_additivity(X) < 1e-6
    # the margin is what the calibrated P(step >= 1) is a monotone map of
    order = np.argsort(explainer.margin(X))
    p1 = explainer.model.predict_needs_support(X)[order]
    assert np.all(np.diff(p1) >= -1e-12)


def test_groups_sum_the_features(explainer, X):
    values = explainer.shap_values(X.head(50))
    grouped = explainer.group_values(values)
    np.testing.assert_allclose(grouped.sum(axis=1), values.sum(axis=1), atol=1e-9)
    groups = feature_groups()
    social = [f for f, g in groups.items() if g == "domain:social"]
    np.testing.assert_allclose(grouped["domain:social"], values[social].sum(axis=1))
    assert set(groups.values()) == set(explainer.groups)


def test_explanations_name_items_and_concepts(explainer, X, current):
    keys = current[0].set_index("child_id")["instrument"].reindex(X.index[:200]).tolist()
    explanations = explainer.explain(X.head(200), keys)
    assert len(explanations) == 200
    for e, (_, row) in zip(explanations, X.head(200).iterrows(), strict=True):
        assert e.margin == pytest.approx(
            e.base_value + sum(r.contribution for r in e.reasons), abs=1e-9
        )
        for r in e.reasons:
            if r.group.startswith("concept:") and row["concept." + r.group[8:]] == 1:
                assert r.items, r.group
    assert all(not r.items for e in explainer.explain(X.head(5)) for r in e.reasons)  # no key
    school = "opsporing.skole.trivsel"
    assert group_items("concept:protective.trusted_adult", school) == ("res_trusted_adult",)
    assert group_items("domain:safety", school) == (
        "saf_disclosure",
        "saf_injury",
        "saf_fear",
        "saf_self_harm",
    )
    assert group_label("concept:emotional.withdrawal").da == "tilbagetrækning"
    assert group_label("change", present=False).en == "no earlier screening"


def test_sentences_in_danish_and_english():
    up = (
        Reason("concept:social.isolation", group_label("concept:social.isolation"), 0.9),
        Reason("concept:learning.absence", group_label("concept:learning.absence"), 0.4),
    )
    down = (
        Reason(
            "concept:protective.trusted_adult",
            group_label("concept:protective.trusted_adult"),
            -0.3,
        ),
    )
    assert render_sentence(up, down, "da") == (
        "Social isolation og højt fravær trækker forslaget op; en fortrolig voksen trækker ned."
    )
    assert render_sentence(up, down, "en") == (
        "The suggestion is pushed up by social isolation and high absence, and pulled down by a trusted adult."
    )
    assert render_sentence(up[:1], (), "en") == "The suggestion is pushed up by social isolation."
    assert render_sentence((), down, "da") == "En fortrolig voksen trækker forslaget ned."
    assert render_sentence((), (), "da").startswith("Ingen enkelt oplysning")
    e = Explanation(-3.0, -2.0, (*up, Reason("age", Text("alder", "age"), 0.01), *down))
    assert e.up() == up  # tiny effects are not named
    assert e.down() == down


def test_waterfall_plot(explainer, X):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    e = explainer.explain(X.head(1))[0]
    fig = plot_waterfall(e, lang="en", max_display=5)
    ax = fig.axes[0]
    assert len(ax.patches) == min(5, len(e.reasons)) + (len(e.reasons) > 5)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == e.reasons[0].label.en
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    assert buffer.getvalue()[:4] == b"\x89PNG"


def test_global_importance(explainer, X):
    table = global_importance(explainer, X)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["mean_abs_shap"].is_monotonic_decreasing
    assert {"label_da", "label_en"} <= set(table.columns)
    assert table.index[0].startswith(("domain:", "concept:"))
    by_feature = global_importance(explainer, X, by="feature")
    assert len(by_feature) == len(feature_names())
    with pytest.raises(ModelError, match="by = 'item'"):
        global_importance(explainer, X, by="item")


def test_explainer_refuses_what_it_cannot_explain(explainer, X):
    from opsporing.model import StepSuggester

    with pytest.raises(ModelError, match="not fitted"):
        Explainer(StepSuggester())
    with pytest.raises(ModelError, match="columns differ"):
        explainer.shap_values(X.iloc[:, ::-1])
    bare = StepSuggester(max_iter=5).fit(
        np.random.default_rng(0).random((200, 2)), np.arange(200) % 2
    )
    with pytest.raises(ModelError, match="feature names"):
        Explainer(bare)
    assert isinstance(X, pd.DataFrame)


def test_keeping_only_the_strongest_reasons(explainer, X):
    matrix = X.head(100).to_numpy()
    values = explainer.shap_values(X.head(100)).to_numpy()
    full = explainer.from_values(matrix, values)
    short = explainer.from_values(matrix, values, keep=2)
    for a, b in zip(full, short, strict=True):
        assert b.margin == a.margin
        assert b.up(2, 0.0) == a.up(2, 0.0) and b.down(2, 0.0) == a.down(2, 0.0)
        assert len(b.reasons) <= 4


def test_missing_group_reads_all_answered_when_nothing_is_missing():
    from opsporing.explain._labels import group_label

    assert group_label("missing").en == "missing answers"
    assert group_label("missing", present=False).en == "all questions being answered"
