"""Metrics by group on fairlearn's MetricFrame; a shifted group shows a larger gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame

from opsporing.errors import DataError
from opsporing.evaluation import (
    age_band,
    default_metrics,
    detection_metrics,
    fairness_table,
    metrics_by_group,
    roc_auc,
)


def _population(shift: float, n: int = 4000, seed: int = 9) -> pd.DataFrame:
    """Children of two family backgrounds with the same need; scores of one group shifted
    upwards by ``shift`` (a harsher rater), the truth untouched."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.7, "dansk", "indvandrer")
    y = (rng.random(n) < 0.1).astype(int)
    score = 1.5 * y + rng.normal(size=n) + shift * (group == "indvandrer")
    return pd.DataFrame(
        {
            "y_true": y,
            "score": score,
            "family_background": group,
            "sex": np.where(rng.random(n) < 0.5, "pige", "dreng"),
            "age_years": rng.uniform(0, 18, size=n),
        }
    )


def _gap(data: pd.DataFrame, metric: str) -> float:
    g = metrics_by_group(data, y_score="score", cutoff=1.0, groups=["family_background"])
    return float(g.gaps.set_index("metric").loc[metric, "difference"])


def test_shifted_group_shows_a_larger_gap() -> None:
    fair, biased = _population(shift=0.0), _population(shift=0.8)
    for metric in ("flag_rate", "specificity", "ppv", "mean_score"):
        assert _gap(biased, metric) > _gap(fair, metric) + 0.05, metric
    # a shift of every score in a group leaves its ranking, and so its AUC, alone
    assert _gap(biased, "roc_auc") == pytest.approx(_gap(fair, "roc_auc"), abs=1e-12)
    # the harsher group is the one flagged more often
    g = metrics_by_group(biased, y_score="score", cutoff=1.0, groups=["family_background"])
    assert g.gaps.set_index("metric").loc["flag_rate", "max_group"] == "indvandrer"


def test_built_on_metricframe() -> None:
    data = _population(shift=0.5)
    g = metrics_by_group(data, y_score="score", cutoff=1.0, groups=["family_background", "sex"])
    assert set(g.frames) == {"family_background", "sex"}
    frame = g.frames["family_background"]
    assert isinstance(frame, MetricFrame)
    gaps = g.gaps.set_index(["group_column", "metric"])
    assert "brier" not in gaps.index.get_level_values("metric")  # scores, not probabilities
    for metric in ("sensitivity", "roc_auc", "flag_rate"):
        assert gaps.loc[("family_background", metric), "difference"] == pytest.approx(
            frame.difference()[metric]
        )
        assert gaps.loc[("family_background", metric), "ratio"] == pytest.approx(
            frame.ratio()[metric]
        )
    # overall values are the ungrouped metrics
    assert g.overall["roc_auc"] == pytest.approx(roc_auc(data["y_true"], data["score"]))
    flags = data["score"] >= 1.0
    assert g.overall["sensitivity"] == pytest.approx(
        detection_metrics(data["y_true"], flags)["sensitivity"]
    )


def test_by_group_table_is_tidy_and_hand_checkable() -> None:
    # group a: y 1 1 0 0, flags 1 1 0 0 -> sensitivity 1, flag rate 0.5
    # group b: y 1 1 0 0, flags 1 0 0 0 -> sensitivity 0.5, flag rate 0.25
    d = pd.DataFrame(
        {
            "y_true": [1, 1, 0, 0] * 2,
            "flag": [1, 1, 0, 0, 1, 0, 0, 0],
            "sex": ["a"] * 4 + ["b"] * 4,
        }
    )
    t = fairness_table(d, y_pred="flag", groups=["sex"])
    assert list(t.columns) == [
        "group_column", "group", "metric", "value", "n", "n_positive", "overall", "difference",
        "ratio",
    ]  # fmt: skip
    assert list(default_metrics("flag")) == list(dict.fromkeys(t["metric"]))
    sens = t[t["metric"] == "sensitivity"].set_index("group")
    assert sens.loc["a", "value"] == 1.0 and sens.loc["b", "value"] == 0.5
    assert sens["overall"].tolist() == [0.75, 0.75]
    assert sens["difference"].tolist() == [0.5, 0.5]
    assert sens["ratio"].tolist() == [0.5, 0.5]
    assert sens["n"].tolist() == [4, 4] and sens["n_positive"].tolist() == [2, 2]
    flag_rate = t[t["metric"] == "flag_rate"].set_index("group")["value"]
    assert flag_rate.tolist() == [0.5, 0.25]


def test_default_groups_and_age_bands() -> None:
    data = _population(shift=0.0, n=600)
    data["age_band"] = age_band(data["age_years"])
    g = metrics_by_group(data, y_score="score")
    assert list(g.frames) == ["sex", "age_band", "family_background"]
    bands = g.by_group[g.by_group["group_column"] == "age_band"]["group"].unique().tolist()
    assert bands == ["0-2", "3-5", "6-9", "10-13", "14-17"]
    rows = g.by_group[(g.by_group["group_column"] == "age_band") & (g.by_group["metric"] == "ppv")]
    assert rows["n"].sum() == 600
    assert rows["n_positive"].sum() == data["y_true"].sum()


def test_undefined_metric_in_a_small_group_is_nan() -> None:
    d = pd.DataFrame(
        {"y_true": [0, 1, 0, 1, 0], "s": [0.1, 0.9, 0.2, 0.8, 0.3], "m": list("aaaab")}
    )
    g = metrics_by_group(d, y_score="s", groups=["m"])
    auc = g.by_group[(g.by_group["metric"] == "roc_auc")].set_index("group")["value"]
    assert auc["a"] == 1.0 and np.isnan(auc["b"])
    gap = g.gaps.set_index("metric").loc["roc_auc"]
    assert gap["n_groups"] == 1 and gap["smallest_n"] == 4


def test_steps_task() -> None:
    d = pd.DataFrame(
        {
            "true_step": [0, 3, 2, 0, 3, 2],
            "suggested": [0, 3, 2, 0, 1, 0],
            "setting": ["skole"] * 3 + ["dagtilbud"] * 3,
        }
    )
    g = metrics_by_group(
        d, y_true="true_step", y_pred="suggested", task="steps", groups=["setting"]
    )
    under = g.gaps.set_index("metric").loc["under_rate"]
    assert under["group_max"] == pytest.approx(2 / 3) and under["group_min"] == 0.0
    assert under["max_group"] == "dagtilbud"


def test_custom_metrics() -> None:
    data = _population(shift=0.0, n=500)
    g = metrics_by_group(
        data, y_score="score", groups=["sex"], metrics={"top": lambda y, s: float(np.max(s))}
    )
    assert list(g.overall.index) == ["top"]
    assert g.overall["top"] == pytest.approx(data["score"].max())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"y_score": "score", "groups": ["nope"]}, "groups = 'nope': expected a column"),
        ({"y_score": "score", "y_pred": "score"}, "exactly one of the two columns"),
        ({"y_pred": "score"}, "score = "),
        ({"y_score": "score", "groups": ["grp"]}, "row 3: grp = None: expected a group label"),
        ({"y_score": "score", "groups": ["empty"]}, "empty = only missing values"),
    ],
)
def test_bad_input(kwargs: dict[str, object], fragment: str) -> None:
    d = pd.DataFrame(
        {
            "y_true": [0, 1, 0, 1],
            "score": [0.1, 0.7, 0.4, 0.9],
            "grp": ["a", "b", "a", None],
            "empty": [None] * 4,
        }
    )
    with pytest.raises(DataError) as err:
        metrics_by_group(d, **kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value)


def test_one_group_column_as_a_string() -> None:
    data = _population(shift=0.0, n=300)
    g = metrics_by_group(data, y_score="score", groups="sex")  # type: ignore[arg-type]
    assert list(g.frames) == ["sex"]


def test_empty_table_is_refused() -> None:
    d = pd.DataFrame({"y_true": [], "score": [], "sex": []})
    with pytest.raises(DataError, match="at least one child"):
        metrics_by_group(d, y_score="score")
