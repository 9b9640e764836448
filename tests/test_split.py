"""Leakage-safe splits: siblings never on both sides, by default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsporing.errors import DataError
from opsporing.model import check_split, family_split


def _families(n_families: int, seed: int = 0) -> tuple[pd.Series, pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, size=n_families)
    fam = np.repeat([f"F{i}" for i in range(n_families)], sizes)
    kids = pd.Series([f"C{i}" for i in range(len(fam))])
    steps = rng.choice(7, size=len(fam), p=[0.8, 0.08, 0.05, 0.03, 0.02, 0.01, 0.01])
    return kids, pd.Series(fam), steps


def test_a_split_with_siblings_on_both_sides_is_refused_by_default() -> None:
    kids = pd.Series(["C1", "C2", "C3", "C4"])
    fams = pd.Series(["F1", "F1", "F2", "F3"])  # C1 and C2 are siblings
    with pytest.raises(DataError, match=r"1 families on both sides: F1 \(train: C1; test: C2\)"):
        check_split(kids, [0, 2], [1, 3], families=fams)
    check_split(kids, [0, 2], [1, 3], families=fams, allow_leak=True)  # only on purpose
    check_split(kids, [0, 1], [2, 3], families=fams)  # F1 whole on one side: fine


def test_a_child_screened_twice_is_one_cluster_without_family_ids() -> None:
    kids = pd.Series(["C1", "C1", "C2"])
    with pytest.raises(DataError, match="1 children on both sides: C1"):
        check_split(kids, [0, 2], [1])


def test_family_split_keeps_families_whole_and_balances_steps() -> None:
    kids, fams, steps = _families(3000)
    train, test = family_split(kids, fams, strata=steps, test_fraction=0.2, seed=3)
    check_split(kids, train, test, families=fams)
    assert len(train) + len(test) == len(kids)
    assert abs(len(test) / len(kids) - 0.2) < 0.01
    for s in (0, 3, 6):  # rare steps reach both sides in about the same share
        share = np.isin(test, np.flatnonzero(steps == s)).sum() / (steps == s).sum()
        assert 0.1 < share < 0.3


def test_check_split_refuses_odd_positions() -> None:
    kids = pd.Series(["C1", "C2"])
    with pytest.raises(DataError, match="row position"):
        check_split(kids, [0], [5])
    with pytest.raises(DataError, match="each row on one side"):
        check_split(kids, [0, 1], [1])
    with pytest.raises(DataError, match="test_fraction"):
        family_split(kids, test_fraction=1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(0, 10_000), st.floats(0.05, 0.95))
def test_family_split_never_leaks(n_families: int, seed: int, fraction: float) -> None:
    kids, fams, steps = _families(n_families, seed)
    fams = fams.where(np.random.default_rng(seed).random(len(fams)) > 0.2)  # some unknown
    train, test = family_split(kids, fams, strata=steps, test_fraction=fraction, seed=seed)
    check_split(kids, train, test, families=fams)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(kids)))


@pytest.fixture(scope="module")
def own_with_families() -> tuple[pd.DataFrame, pd.DataFrame]:
    from opsporing.evaluation import own_data_from_population
    from opsporing.synthetic import SyntheticConfig, generate

    pop = generate(SyntheticConfig(n_children=800, seed=9), progress=False)
    s, o = own_data_from_population(pop)
    pairs = {c: f"F{i // 2}" for i, c in enumerate(sorted(o["child_id"]))}  # pairs of siblings
    return s.assign(family_id=s["child_id"].map(pairs)), o


GROUPS = ["sex", "municipality", "setting", "family_background"]


def test_training_on_own_data_holds_out_whole_families(
    own_with_families: tuple[pd.DataFrame, pd.DataFrame], tmp_path: pytest.TempPathFactory
) -> None:
    from opsporing.model import load_model, read_manifest, train_own_data

    s, o = own_with_families
    r = train_own_data(s, o, tmp_path, groups=GROUPS, params={"max_iter": 20}, n_boot=0)
    fam = s.drop_duplicates("child_id").set_index("child_id")["family_id"]
    assert not set(fam[list(r.train_children)]) & set(fam[list(r.test_children)])
    assert 0.15 < len(r.test_children) / 800 < 0.25
    assert set(r.evaluation.table.index) == set(r.test_children)  # evaluated on held-out only
    manifest = read_manifest(tmp_path)
    assert manifest["training_data"]["split"] == "by family"
    assert load_model(tmp_path, allow_unsigned=True).artifact_sha256_ == manifest["sha256"]
    assert (tmp_path / "EVALUATION.html").is_file()
    # The same card as the shipped model's: the rule, figures through suggest_batch on the
    # held-out children (every one counted), the model, the versions.
    card = (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
    for heading in (
        "## Intended use",
        "## The rule",
        "held-out children",
        "## Model",
        "## Versions",
    ):
        assert heading in card
    held = manifest["metrics"]["overall"]
    assert held["n_children"] == len(r.test_children)
    assert f"| {held['found_among_need']:.4f}".rstrip("0").rstrip(".") in card


def test_training_refuses_a_split_that_puts_siblings_on_both_sides(
    own_with_families: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from opsporing.model import train_own_data

    s, o = own_with_families
    kids = sorted(o["child_id"])  # kids[0] and kids[1] are siblings (family F0)
    with pytest.raises(DataError, match=r"families on both sides: F0"):
        train_own_data(s, o, groups=GROUPS, split=(kids[0::2], kids[1::2]), n_boot=0)
