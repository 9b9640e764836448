"""Bootstrap intervals: they cover known true values about 95 % of the time.

Coverage is measured over repeated seeded draws from populations whose true value is known
in closed form. The band accepted for a nominal 95 % interval is 0.90-0.99: with 300 draws
the coverage estimate itself has a standard error of about 1.3 points, and percentile
intervals are known to under-cover slightly in small samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, rankdata

from opsporing.errors import DataError
from opsporing.evaluation import (
    agreement_intervals,
    bootstrap_frame,
    detection_intervals,
    group_difference_intervals,
    reliability_intervals,
)
from opsporing.instruments import get_instrument

DRAWS = 300
N_BOOT = 200
ACCEPTED = (0.90, 0.99)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(values)`` (ties get their mean rank), without its per-call
    checks that took 40 % of the coverage test's 60,000 calls (test_average_ranks below)."""
    _, where, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2.0)[where]


def _auc_stat(frame: pd.DataFrame) -> float:
    # the Mann-Whitney form of the AUC (same value as roc_auc), fast enough for 60,000 calls
    y = frame["y"].to_numpy()
    ranks = _average_ranks(frame["s"].to_numpy())
    n_pos = int(y.sum())
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos)))


@pytest.mark.slow
def test_auc_interval_covers_the_true_auc() -> None:
    """Binormal scores, separation d: the true AUC is Phi(d / sqrt 2)."""
    d = 1.2
    truth = float(norm.cdf(d / np.sqrt(2)))
    rng = np.random.default_rng(2026)
    hits = 0
    for draw in range(DRAWS):
        y = (rng.random(240) < 0.25).astype(int)
        s = rng.normal(size=240) + d * y
        ci = bootstrap_frame(pd.DataFrame({"y": y, "s": s}), _auc_stat, n_boot=N_BOOT, seed=draw)
        hits += bool(ci.loc["value", "lower"] <= truth <= ci.loc["value", "upper"])
    coverage = hits / DRAWS
    print(f"AUC interval coverage: {coverage:.3f}")
    assert ACCEPTED[0] <= coverage <= ACCEPTED[1], coverage


def test_average_ranks_are_scipys() -> None:
    rng = np.random.default_rng(1)
    for values in (rng.normal(size=50), rng.integers(0, 5, size=60).astype(float), np.ones(3)):
        np.testing.assert_allclose(_average_ranks(values), rankdata(values))


def _families(rng: np.random.Generator, n_families: int) -> pd.DataFrame:
    """Siblings share a family effect: need is clustered within families."""
    sizes = rng.integers(1, 5, size=n_families)
    family = np.repeat(np.arange(n_families), sizes)
    u = np.repeat(rng.normal(scale=1.5, size=n_families), sizes)
    y = (u + rng.normal(size=len(family)) > 1.0).astype(int)
    return pd.DataFrame({"y": y, "family": family})


@pytest.mark.slow
def test_family_clustered_interval_covers_and_row_resampling_does_not() -> None:
    """Prevalence P(u + e > 1) = 1 - Phi(1 / sqrt(1 + 1.5^2)); siblings are correlated."""
    truth = float(1 - norm.cdf(1.0 / np.sqrt(1 + 1.5**2)))
    rng = np.random.default_rng(7)
    clustered = naive = 0
    for draw in range(DRAWS):
        data = _families(rng, 120)
        stat = lambda f: float(f["y"].mean())  # noqa: E731
        a = bootstrap_frame(data, stat, clusters="family", n_boot=N_BOOT, seed=draw)
        b = bootstrap_frame(data, stat, n_boot=N_BOOT, seed=draw)
        clustered += bool(a.loc["value", "lower"] <= truth <= a.loc["value", "upper"])
        naive += bool(b.loc["value", "lower"] <= truth <= b.loc["value", "upper"])
    print(
        f"prevalence interval coverage: clustered {clustered / DRAWS:.3f}, rows {naive / DRAWS:.3f}"
    )
    assert ACCEPTED[0] <= clustered / DRAWS <= ACCEPTED[1], clustered / DRAWS
    # ignoring the families gives intervals that are too narrow
    assert naive / DRAWS < clustered / DRAWS - 0.04, (naive / DRAWS, clustered / DRAWS)


def test_clustered_resampling_keeps_families_whole() -> None:
    data = pd.DataFrame({"family": list("aabbbc"), "x": [1, 1, 5, 5, 5, 9]})
    size = {"a": 2, "b": 3, "c": 1}
    seen: list[dict[str, int]] = []

    def stat(frame: pd.DataFrame) -> float:
        seen.append(frame["family"].value_counts().to_dict())
        return float(frame["x"].mean())

    bootstrap_frame(data, stat, clusters="family", n_boot=50, seed=1)
    for rows in seen[1:]:  # seen[0] is the estimate on the data itself
        # each drawn family comes with all its members, and 3 families are drawn
        assert all(n % size[f] == 0 for f, n in rows.items())
        assert sum(n // size[f] for f, n in rows.items()) == 3
    assert len({tuple(sorted(r.items())) for r in seen[1:]}) > 3  # replicates differ


def test_detection_intervals_treat_nan_as_no_score() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.3).astype(int)
    p = np.clip(0.3 + 0.4 * y + rng.normal(scale=0.2, size=300), 0, 1)
    p[:10] = np.nan  # e.g. red flags: the model is bypassed
    data = pd.DataFrame({"y_true": y, "p": p, "flag": (p >= 0.5).astype(float)})
    ci = detection_intervals(
        data, scores=["p", "flag"], cutoffs={"flag": 1.0}, probabilities=["p"], n_boot=100
    )
    assert {"roc_auc", "ece", "observed_over_expected"} <= set(ci.loc["p"].index)
    assert "ece" not in ci.loc["flag"].index  # a flag is not a probability
    assert (ci["lower"] <= ci["estimate"] + 1e-12).all()
    assert (ci["estimate"] <= ci["upper"] + 1e-12).all()


def test_group_difference_and_reliability_and_agreement_intervals() -> None:
    rng = np.random.default_rng(4)
    n = 400
    g = np.where(rng.random(n) < 0.5, "a", "b")
    y = (rng.random(n) < 0.3).astype(int)
    flag = ((y == 1) & (rng.random(n) < np.where(g == "a", 0.9, 0.5))).astype(float)
    data = pd.DataFrame({"y_true": y, "flag": flag, "g": g})
    gi = group_difference_intervals(data, score="flag", cutoff=1.0, groups=["g"], n_boot=100)
    row = gi.loc[("g", "sensitivity_difference")]
    assert 0.2 < row["estimate"] < 0.6 and row["lower"] > 0.1  # a real gap of 0.4

    inst = get_instrument("opsporing.skole.trivsel")
    emo = [i.id for i in inst.items_in("emotional")]
    latent = rng.normal(size=n)
    answers = pd.DataFrame(
        {c: np.clip(np.round(1 + latent + rng.normal(scale=0.7, size=n)), 0, 3) for c in emo}
    )
    rel = reliability_intervals(inst, answers, n_boot=50)
    alpha = rel.loc[("emotional", "alpha")]
    assert alpha["lower"] < alpha["estimate"] < alpha["upper"] and alpha["estimate"] > 0.7

    rater = np.clip(np.round(latent + 1), 0, 2)
    other = np.where(rng.random(n) < 0.8, rater, rng.integers(0, 3, size=n))
    ag = agreement_intervals(pd.DataFrame({"a": rater, "b": other}), n_boot=50)
    assert {"kappa", "kappa_quadratic", "ICC(2,1)"} <= set(ag.index)
    assert 0 < ag.loc["kappa", "lower"] < ag.loc["kappa", "estimate"] < ag.loc["kappa", "upper"]


def test_bootstrap_frame_refuses_bad_input() -> None:
    data = pd.DataFrame({"y": [0, 1, 1]})
    with pytest.raises(DataError, match="clusters"):
        bootstrap_frame(data, lambda f: 1.0, clusters=[1, None, 2])
    with pytest.raises(DataError, match="same length"):
        bootstrap_frame(data, lambda f: 1.0, clusters=[1, 2])
    with pytest.raises(DataError, match="n_boot"):
        bootstrap_frame(data, lambda f: 1.0, n_boot=0)
    with pytest.raises(DataError, match="at least one row"):
        bootstrap_frame(data.iloc[:0], lambda f: 1.0)


def test_bootstrap_ci_resamples_families_when_given() -> None:
    from opsporing.evaluation import bootstrap_ci, detection_metrics

    data = _families(np.random.default_rng(11), 150)
    rng = np.random.default_rng(12)
    score = data["y"] + rng.normal(scale=1.0, size=len(data))

    def sensitivity(y: np.ndarray, s: np.ndarray) -> float:
        return float(detection_metrics(y, s >= 0.5)["sensitivity"])

    rows = bootstrap_ci(data["y"], score, sensitivity, n_boot=200, stratify=False, seed=3)
    fams = bootstrap_ci(data["y"], score, sensitivity, n_boot=200, clusters=data["family"], seed=3)
    assert rows.loc["sensitivity", "estimate"] == fams.loc["sensitivity", "estimate"]
    # the prevalence moves with the families drawn: the clustered interval is the wider one
    prevalence = bootstrap_ci(
        data["y"], score, lambda y, s: float(np.mean(y)), n_boot=200, stratify=False, seed=3
    )
    clustered = bootstrap_ci(
        data["y"],
        score,
        lambda y, s: float(np.mean(y)),
        n_boot=200,
        clusters=data["family"],
        seed=3,
    )
    assert clustered["std_error"].iloc[0] > 1.2 * prevalence["std_error"].iloc[0]
    with pytest.raises(DataError, match="clusters"):
        bootstrap_ci(data["y"], score, sensitivity, clusters=data["family"][:-1])
