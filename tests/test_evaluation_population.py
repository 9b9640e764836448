"""Model vs band rule vs oracle, and population key figures per 1,000 children."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from opsporing.errors import DataError
from opsporing.evaluation import (
    band_score,
    compare_scores,
    detection_metrics,
    expected_calibration_error,
    key_figure_change,
    key_figures,
)


@pytest.fixture(scope="module")
def children() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    n = 3000
    oracle = rng.beta(1, 12, size=n)
    y = (rng.random(n) < oracle).astype(int)
    model = np.clip(oracle + rng.normal(scale=0.03, size=n), 0, 1)
    bands = np.select([oracle > 0.2, oracle > 0.1], ["rød", "gul"], "grøn")
    return pd.DataFrame({"y_true": y, "oracle": oracle, "model": model, "band": bands})


def test_band_score() -> None:
    s = band_score(pd.Series(["grøn", "gul", None, "rød"], index=[5, 6, 7, 8]))
    assert s.index.tolist() == [5, 6, 7, 8]
    assert s.tolist()[:2] == [0.0, 1.0] and np.isnan(s[7]) and s[8] == 2.0
    cat = pd.Series(["rød", "grøn"], dtype=pd.CategoricalDtype(["grøn", "gul", "rød"]))
    assert band_score(cat).tolist() == [2.0, 0.0]
    with pytest.raises(DataError, match="row 1: bands = 'green': expected one of grøn, gul, rød"):
        band_score(["gul", "green"])


def test_compare_model_band_rule_oracle(children: pd.DataFrame) -> None:
    data = children.assign(band_rule=band_score(children["band"]))
    t = compare_scores(
        data, scores=["model", "band_rule", "oracle"], cutoffs={"band_rule": 1, "model": 0.1}
    )
    assert t["score"].tolist() == ["model", "band_rule", "oracle"]
    row = t.set_index("score")
    y = data["y_true"]
    for name in ("model", "band_rule", "oracle"):
        assert row.loc[name, "roc_auc"] == pytest.approx(roc_auc_score(y, data[name]))
        assert row.loc[name, "average_precision"] == pytest.approx(
            average_precision_score(y, data[name])
        )
    for name in ("model", "oracle"):
        assert row.loc[name, "is_probability"]
        assert row.loc[name, "brier"] == pytest.approx(brier_score_loss(y, data[name]))
        assert row.loc[name, "ece"] == pytest.approx(expected_calibration_error(y, data[name]))
    assert not row.loc["band_rule", "is_probability"]
    assert np.isnan(row.loc["band_rule", "brier"]) and np.isnan(row.loc["band_rule", "ece"])
    rule = detection_metrics(y, data["band_rule"] >= 1)
    for m in ("sensitivity", "specificity", "ppv", "npv", "flag_rate"):
        assert row.loc["band_rule", m] == pytest.approx(rule[m])
    assert row.loc["oracle", "cutoff"] == 0.5  # probabilities default to 0.5
    # the oracle knows the true probabilities: nothing discriminates better on average
    assert row.loc["oracle", "roc_auc"] >= row.loc["band_rule", "roc_auc"]


def test_compare_without_cutoff_for_a_non_probability(children: pd.DataFrame) -> None:
    data = children.assign(band_rule=band_score(children["band"]))
    t = compare_scores(data, scores=["band_rule"]).iloc[0]
    assert np.isnan(t["cutoff"]) and np.isnan(t["sensitivity"])
    with pytest.raises(DataError, match="cutoffs = 'x'"):
        compare_scores(data, scores=["band_rule"], cutoffs={"x": 1})
    with pytest.raises(DataError, match=r"band = 'grøn': expected a number .* band_score"):
        compare_scores(children, scores=["band"])  # text bands must go through band_score


def test_key_figures_hand_computed() -> None:
    # A: 9,048 children (seed 003's average advisory municipality); 181 on step 2 -> 20.0
    #    per 1,000; 45 on step 3 -> 4.97. B: 11,721 (the Danish average), nobody counted.
    kids = pd.DataFrame(
        {"municipality": ["A"] * 226, "period": [2024] * 226, "step": [2] * 181 + [3] * 45}
    )
    pop = pd.DataFrame(
        {"municipality": ["A", "B"], "period": [2024, 2024], "children_0_17": [9048, 11721]}
    )
    k = key_figures(kids, pop)
    assert list(k.columns) == [
        "municipality",
        "period",
        "step",
        "children",
        "population",
        "per_1000",
    ]
    assert len(k) == 14  # 2 municipalities x 7 steps
    a = k[k["municipality"] == "A"].set_index("step")
    assert a.loc[2, "children"] == 181 and a.loc[2, "per_1000"] == pytest.approx(181 / 9.048)
    assert a.loc[3, "per_1000"] == pytest.approx(4.9735, abs=1e-4)
    assert a.loc[0, "children"] == 0
    b = k[k["municipality"] == "B"]
    assert (b["children"] == 0).all() and (b["population"] == 11721).all()
    # the same from aggregated counts
    agg = pd.DataFrame(
        {"municipality": ["A", "A"], "period": [2024, 2024], "step": [2, 3], "n": [181, 45]}
    )
    pd.testing.assert_frame_equal(key_figures(agg, pop, count="n"), k)


def test_key_figure_change() -> None:
    # step 6 (institution) from 4.0 to 3.0 per 1,000: change -1.0, relative -25 %
    # step 1 from 0 to 2 per 1,000: relative change undefined
    kids = pd.DataFrame(
        {
            "municipality": ["A"] * 4,
            "period": ["2020", "2024", "2024", "2020"],
            "step": [6, 6, 1, 2],
            "n": [40, 30, 20, 10],
        }
    )
    pop = pd.DataFrame(
        {"municipality": ["A", "A"], "period": ["2020", "2024"], "children_0_17": [10000, 10000]}
    )
    c = key_figure_change(key_figures(kids, pop, count="n"), "2020", "2024").set_index("step")
    assert c.loc[6, ["per_1000_before", "per_1000_after", "change"]].tolist() == [4.0, 3.0, -1.0]
    assert c.loc[6, "relative_change"] == pytest.approx(-0.25)
    assert np.isnan(c.loc[1, "relative_change"]) and c.loc[1, "change"] == 2.0
    assert c.loc[2, "relative_change"] == -1.0
    with pytest.raises(DataError, match="after = '2030'"):
        key_figure_change(key_figures(kids, pop, count="n"), "2020", "2030")


@pytest.mark.parametrize(
    ("kids", "pop", "fragment"),
    [
        (
            {"municipality": ["A"], "period": [1], "step": [7]},
            {"municipality": ["A"], "period": [1], "children_0_17": [100]},
            "step = 7: expected a staircase step",
        ),
        (
            {"municipality": ["C"], "period": [1], "step": [1]},
            {"municipality": ["A"], "period": [1], "children_0_17": [100]},
            "no row for municipality 'C', period 1",
        ),
        (
            {"municipality": ["A"], "period": [1], "step": [1]},
            {"municipality": ["A", "A"], "period": [1, 1], "children_0_17": [100, 100]},
            "one row per municipality and period",
        ),
        (
            {"municipality": ["A"], "period": [1], "step": [1]},
            {"municipality": ["A"], "period": [1], "children_0_17": [0]},
            "children_0_17 = 0.0: expected a number of children > 0",
        ),
        (
            {"municipality": [None], "period": [1], "step": [1]},
            {"municipality": ["A"], "period": [1], "children_0_17": [10]},
            "row 0: municipality = None",
        ),
    ],
)
def test_key_figures_bad_input(
    kids: dict[str, list[object]], pop: dict[str, list[object]], fragment: str
) -> None:
    with pytest.raises(DataError) as err:
        key_figures(pd.DataFrame(kids), pd.DataFrame(pop))
    assert fragment in str(err.value)
