"""Instrument reliability and rater agreement: published and hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from opsporing.errors import DataError, ResponseValidationError
from opsporing.evaluation import (
    cohen_kappa,
    corrected_item_total,
    cronbach_alpha,
    icc,
    item_total_by_domain,
    keyed_answers,
    mcdonald_omega,
    rater_agreement,
    reliability_by_domain,
)
from opsporing.instruments import get_instrument

#: Shrout & Fleiss (1979), Table 2: six targets rated by four judges.
SHROUT_FLEISS = pd.DataFrame(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    columns=["j1", "j2", "j3", "j4"],
)


def test_icc_shrout_fleiss_table() -> None:
    # Published: ICC(1,1) = .17, ICC(2,1) = .29, ICC(3,1) = .71 (Table 4), from the
    # mean squares BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02 (Table 3).
    t = icc(SHROUT_FLEISS)
    assert t["icc"].round(2).tolist() == [0.17, 0.29, 0.71]
    assert t.loc["ICC(3,1)", "F"] == pytest.approx(11.24 / 1.02, rel=0.01)
    assert t.loc["ICC(1,1)", "F"] == pytest.approx(11.24 / 6.26, rel=0.01)
    assert t.loc["ICC(3,1)", ["df1", "df2"]].tolist() == [5, 15]
    assert t.loc["ICC(3,1)", "p_value"] < 0.001


def test_icc_consistency_vs_absolute_agreement() -> None:
    # a rater who is harsher by exactly 2 points: perfectly consistent (ICC(3,1) = 1),
    # but not in absolute agreement (ICC(2,1) < 1)
    a = np.array([1.0, 3.0, 4.0, 6.0, 8.0])
    t = icc(np.column_stack([a, a + 2]))
    assert t.loc["ICC(3,1)", "icc"] == pytest.approx(1.0)
    assert t.loc["ICC(2,1)", "icc"] < 0.9


def test_cronbach_alpha_hand_computed() -> None:
    # item variances 5/3, 1/3, 8/3 (sum 14/3); totals 4 7 9 12 (mean 8, squared deviations
    # 16 + 1 + 1 + 16 = 34), variance 34/3; alpha = 3/2 · (1 - 14/34) = 15/17
    answers = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 3, 3], "c": [1, 3, 3, 5]})
    assert cronbach_alpha(answers) == pytest.approx(15 / 17)
    # a row with a missing answer is left out (listwise)
    with_missing = pd.concat([answers, pd.DataFrame({"a": [9], "b": [np.nan], "c": [0]})])
    assert cronbach_alpha(with_missing) == pytest.approx(15 / 17)
    # identical items: alpha 1
    same = pd.DataFrame({"a": [0, 1, 2, 3], "b": [0, 1, 2, 3]})
    assert cronbach_alpha(same) == pytest.approx(1.0)


def test_corrected_item_total_hand_and_numpy() -> None:
    answers = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 3, 3], "c": [1, 3, 3, 5]})
    t = corrected_item_total(answers)
    # b against a + c = 2 5 6 9: cov 4/3, var(b) 1/3, var(a + c) 25/3 -> r = 0.8
    assert t.loc["b", "r_item_rest"] == pytest.approx(0.8)
    for item in "abc":
        rest = answers.drop(columns=item).sum(axis=1)
        assert t.loc[item, "r_item_rest"] == pytest.approx(np.corrcoef(answers[item], rest)[0, 1])
        others = answers.drop(columns=item)
        assert t.loc[item, "alpha_if_deleted"] == pytest.approx(cronbach_alpha(others))


def _one_factor(n: int, k: int, loading: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    return pd.DataFrame({f"i{j}": loading * f + rng.normal(size=n) for j in range(k)})


def test_omega_and_alpha_on_parallel_items() -> None:
    # 5 parallel items, loading 1, unique variance 1: the sum has common variance 25 and
    # unique variance 5 -> omega = alpha = 25 / 30 = 0.833
    x = _one_factor(4000, 5, 1.0, seed=1)
    assert mcdonald_omega(x) == pytest.approx(25 / 30, abs=0.01)
    assert cronbach_alpha(x) == pytest.approx(25 / 30, abs=0.01)


def test_omega_above_alpha_for_unequal_loadings() -> None:
    rng = np.random.default_rng(3)
    f = rng.normal(size=4000)
    loadings = [2.0, 1.0, 0.5, 0.3]
    x = pd.DataFrame({f"i{j}": lam * f + rng.normal(size=4000) for j, lam in enumerate(loadings)})
    true_omega = sum(loadings) ** 2 / (sum(loadings) ** 2 + len(loadings))
    assert mcdonald_omega(x) == pytest.approx(true_omega, abs=0.02)
    assert mcdonald_omega(x) > cronbach_alpha(x)


def test_kappa_against_sklearn() -> None:
    rng = np.random.default_rng(8)
    a = rng.integers(0, 4, size=300)
    b = np.clip(a + rng.integers(-1, 2, size=300), 0, 3)
    for w in (None, "linear", "quadratic"):
        assert cohen_kappa(a, b, weights=w) == pytest.approx(cohen_kappa_score(a, b, weights=w))  # type: ignore[arg-type]
    # hand: O = [[1,1,0],[0,1,1],[0,0,2]] -> unweighted 0.5, quadratic 1 - 2/8 = 0.75
    assert cohen_kappa([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 2]) == pytest.approx(0.5)
    assert cohen_kappa(
        [0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 2], weights="quadratic"
    ) == pytest.approx(0.75)


def test_kappa_of_band_labels_uses_the_scale_order() -> None:
    a = pd.Series(["grøn", "gul", "rød", "rød"])
    b = pd.Series(["grøn", "rød", "rød", "gul"])
    by_label = cohen_kappa(a, b, weights="linear", labels=["grøn", "gul", "rød"])
    by_code = cohen_kappa([0, 1, 2, 2], [0, 2, 2, 1], weights="linear")
    assert by_label == pytest.approx(by_code)
    ordered = pd.CategoricalDtype(["grøn", "gul", "rød"], ordered=True)
    assert cohen_kappa(a.astype(ordered), b.astype(ordered), weights="linear") == by_label
    with pytest.raises(DataError, match="rater_b = 'blå'"):
        cohen_kappa(a, pd.Series(["grøn", "blå", "rød", "gul"]), labels=["grøn", "gul", "rød"])


def test_rater_agreement_table() -> None:
    d = pd.DataFrame({"a": [0, 1, 2, 3, 4, 5], "b": [0, 1, 2, 3, 4, 5]})
    r = rater_agreement(d, "a", "b")
    assert r[["exact_agreement", "kappa", "kappa_quadratic", "icc_2_1", "icc_3_1"]].tolist() == (
        pytest.approx([1.0, 1.0, 1.0, 1.0, 1.0])
    )
    harsh = pd.DataFrame({"a": [0, 1, 2, 3, 4], "b": [1, 2, 3, 4, 5]})
    h = rater_agreement(harsh, "a", "b")
    assert h["exact_agreement"] == 0.0
    assert h["icc_3_1"] == pytest.approx(1.0)
    assert h["icc_2_1"] < 1.0
    assert h["kappa_quadratic"] == pytest.approx(
        cohen_kappa_score(harsh["a"], harsh["b"], weights="quadratic")
    )


def _keyed_sample(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw answers to the school form from one factor per domain, and their keyed values."""
    inst = get_instrument("opsporing.skole.trivsel")
    rng = np.random.default_rng(seed)
    raw, keyed = {}, {}
    for domain in inst.domains:
        f = rng.normal(size=n)
        for item in inst.items_in(domain.id):
            scale = inst.scale(item.scale)
            latent = f + rng.normal(scale=0.8, size=n)
            k = np.digitize(latent, np.linspace(-1, 1, len(scale.values) - 1)) + scale.min
            keyed[item.id] = k.astype(float)
            raw[item.id] = (scale.min + scale.max - k) if item.reverse else k
    return pd.DataFrame(raw), pd.DataFrame(keyed)


def test_reliability_by_domain_keys_reverse_items() -> None:
    inst = get_instrument("opsporing.skole.trivsel")
    raw, keyed = _keyed_sample(800, seed=4)
    assert any(i.reverse for i in inst.items)
    pd.testing.assert_frame_equal(keyed_answers(inst, raw), keyed, check_dtype=False)
    t = reliability_by_domain(inst, raw)
    assert t["domain"].tolist() == list(inst.domain_ids)
    for row in t.itertuples():
        cols = [i.id for i in inst.items_in(row.domain)]
        assert row.n_items == len(cols)
        assert row.alpha == pytest.approx(cronbach_alpha(keyed[cols]))
        assert row.alpha > 0.6 and row.omega > 0.6
    # reading the raw answers without keying the reverse items would break alpha
    rev_domain = next(i.domain for i in inst.items if i.reverse)
    cols = [i.id for i in inst.items_in(rev_domain)]
    assert cronbach_alpha(raw[cols]) < t.set_index("domain").loc[rev_domain, "alpha"] - 0.2


def test_item_total_by_domain_rows() -> None:
    inst = get_instrument("opsporing.skole.trivsel")
    raw, _ = _keyed_sample(400, seed=6)
    t = item_total_by_domain(inst, raw)
    assert len(t) == len(inst.items)
    assert list(t.columns) == ["domain", "item", "reverse", "r_item_rest", "alpha_if_deleted"]
    assert (t["r_item_rest"] > 0.2).all()


def test_bad_answers_list_every_problem() -> None:
    inst = get_instrument("opsporing.skole.trivsel")
    raw, _ = _keyed_sample(10, seed=0)
    first, second = inst.items[0].id, inst.items[1].id
    raw.loc[2, first] = 9
    raw[second] = raw[second].astype(object)
    raw.loc[5, second] = "3"
    with pytest.raises(ResponseValidationError) as err:
        reliability_by_domain(inst, raw)
    problems = err.value.to_frame()
    assert problems[["row", "field"]].values.tolist() == [[2, first], [5, second]]
    assert "expected one of 0, 1, 2, 3 (or empty)" in str(err.value)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: icc(pd.DataFrame({"a": [1, 2], "b": [1, np.nan]})), "a missing rating"),
        (lambda: icc(pd.DataFrame({"a": [1, 2]})), "at least 2 items"),
        (lambda: cronbach_alpha(pd.DataFrame({"a": ["x"], "b": [1]})), "numeric answers"),
        (lambda: rater_agreement(pd.DataFrame({"a": [1]}), "a", "zz"), "rater_b = 'zz'"),
    ],
)
def test_bad_input(call: object, fragment: str) -> None:
    with pytest.raises(DataError) as err:
        call()  # type: ignore[operator]
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("a", "b"), [([0, ""], [0, b"\x80"]), (["x", b"\xff"], ["x", "y"]), ([b"a", b"b"], ["a", "b"])]
)
def test_bytes_among_ratings_are_a_typed_error(a: list[object], b: list[object]) -> None:
    """Found by the fuzz campaign under pandas 3: numpy decoded bytes labels and crashed."""
    from opsporing.evaluation import cohen_kappa

    with pytest.raises(DataError):
        cohen_kappa(a, b)
