"""opsporing.model: features, the StepSuggester estimator, the saved artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from opsporing.errors import (
    DataError,
    ModelError,
    ModelIntegrityError,
    NotFittedError,
    OpsporingError,
)
from opsporing.evaluation import expected_calibration_error
from opsporing.instruments import get_instrument
from opsporing.model import (
    FORBIDDEN_COLUMNS,
    StepSuggester,
    build_features,
    feature_names,
    generate_keypair,
    load_model,
    monotonic_constraint,
    read_manifest,
    read_public_key,
    save_model,
    sign_model,
)
from opsporing.model._artifact import _build, model_bytes
from opsporing.model._keys import PACKAGE_KEY_DIR, verify_bytes
from opsporing.model.train import prepare, split, train
from opsporing.policy import load_policy
from opsporing.scoring import score_batch
from opsporing.synthetic import SyntheticConfig, generate

MODELS = Path(__file__).parent.parent / "models"
SCHOOL = get_instrument("opsporing.skole.trivsel")
DAYCARE = get_instrument("opsporing.dagtilbud.trivsel")


@pytest.fixture(autouse=True)
def one_thread():
    """Small fits are faster on one thread, and a busy machine cannot stall OpenMP."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    """A small synthetic population (the real generator), prepared like the training run."""
    pop = generate(SyntheticConfig(n_children=12_000, seed=7), progress=False)
    return prepare(pop)


@pytest.fixture(scope="module")
def fitted(data):
    train_rows, test_rows = split(data, seed=3)
    model = StepSuggester(max_iter=60, min_samples_leaf=30, random_state=0)
    model.fit(data.X.iloc[train_rows], data.step.iloc[train_rows])
    return model, data.X.iloc[test_rows], data.step.iloc[test_rows].to_numpy()


# --- features ----------------------------------------------------------------------------------
def test_features_by_hand():
    forms = pd.DataFrame(
        {
            "child_id": ["a", "b"],
            "age_years": [9.0, 12.0],
            "emo_sad": [3, 0],
            "emo_tense": [2, 0],
            "emo_withdrawn": [1, None],
            "emo_self_critical": [0, None],  # b: 2 of 4 answered: not scorable
            "dev_absence": [2, 0],
            "res_trusted_adult": [3, 0],
        }
    )
    earlier = forms.assign(emo_sad=[0, 0], emo_tense=[0, 0]).iloc[[0]]
    scores = score_batch(SCHOOL, forms, keep=["child_id", "age_years"])
    before = score_batch(SCHOOL, earlier, keep=["child_id", "age_years"])
    X = build_features(scores, before, id_column="child_id")
    assert list(X.columns) == list(feature_names())
    assert list(X.index) == ["a", "b"]
    a, b = X.loc["a"], X.loc["b"]
    assert a["score.emotional"] == pytest.approx(6 / 12)  # 3 + 2 + 1 + 0 of 0-12
    assert np.isnan(b["score.emotional"])  # not scorable, never 0
    assert a["answered.emotional"] == 1.0 and b["answered.emotional"] == 0.5
    assert a["missing_fraction"] == pytest.approx((32 - 6) / 32)
    assert a["setting.skole"] == 1.0 and a["age_years"] == 9.0
    assert a["concept.emotional.sadness"] == 1.0 and a["concept.learning.absence"] == 1.0
    assert a["concept.protective.trusted_adult"] == 1.0
    assert b["concept.protective.trusted_adult"] == 0.0
    assert np.isnan(a["concept.development.motor_delay"])  # daycare-only concept
    assert a["has_earlier"] == 1.0 and b["has_earlier"] == 0.0
    assert a["change.emotional"] == pytest.approx(6 / 12 - 1 / 12)  # earlier: 0 + 0 + 1 + 0
    assert np.isnan(b["change.emotional"])


def test_daycare_scaling_uses_its_own_range():
    forms = pd.DataFrame({"care_hygiene": [3], "care_hungry": [3], "care_tired": [3]})
    X = build_features(score_batch(DAYCARE, forms))
    assert X.loc[0, "setting.skole"] == 0.0
    assert X.loc[0, "score.care"] == pytest.approx(15 / 15)  # 9 prorated to 5 items of 0-15
    assert np.isnan(X.loc[0, "age_years"])


@pytest.mark.parametrize("column", ["family_background", "cpr", "Name", "municipality"])
def test_sensitive_columns_are_refused_by_build_features(column):
    scores = score_batch(SCHOOL, pd.DataFrame({"emo_sad": [1]})).assign(**{column: ["x"]})
    with pytest.raises(OpsporingError, match=column):
        build_features(scores)


@pytest.mark.parametrize("column", ["child_id", "rater_id", "sex", "family_background"])
def test_forbidden_columns_are_refused_by_the_estimator(fitted, column):
    model, X, y = fitted
    bad = X.assign(**{column: 1.0})
    with pytest.raises(DataError, match=column):
        StepSuggester(max_iter=5).fit(bad, y)
    with pytest.raises(DataError, match=column):
        model.predict_proba(bad)


def test_no_feature_is_forbidden():
    names = feature_names()
    assert not {n.lower() for n in names} & set(FORBIDDEN_COLUMNS)
    assert not any(part in n.lower() for n in names for part in ("cpr", "name", "background"))


def test_monotonic_constraints_by_name():
    assert monotonic_constraint("score.social") == 1
    assert monotonic_constraint("score.resources") == -1
    assert monotonic_constraint("concept.social.isolation") == 1
    assert monotonic_constraint("concept.protective.trusted_adult") == -1
    assert monotonic_constraint("change.social") == 0
    assert monotonic_constraint("missing_fraction") == 0


# --- the estimator -----------------------------------------------------------------------------
EXPECTED_FAILED = {
    "check_classifiers_train": (
        "predict() returns the step of lowest expected cost under the suggestion policy's "
        "cost matrix (near-ties going down the staircase), by design not argmax(predict_proba)"
    ),
}


@parametrize_with_checks(
    [StepSuggester(max_iter=20, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_api(estimator, check):
    check(estimator)


def test_unfitted_and_bad_params():
    with pytest.raises(NotFittedError):
        StepSuggester().predict_proba(np.zeros((2, 3)))
    X, y = np.random.default_rng(0).random((100, 2)), np.arange(100) % 2
    with pytest.raises(ModelError, match="policy"):
        StepSuggester(policy=42).fit(X, y)
    with pytest.raises(DataError, match="2 classes"):
        StepSuggester().fit(X, np.zeros(100))


@pytest.mark.parametrize("folds", [1, -2, 2.5, True])
def test_bad_calibration_folds_are_refused(folds):
    X, y = np.random.default_rng(0).random((100, 2)), np.arange(100) % 2
    with pytest.raises(ModelError, match="calibration_folds"):
        StepSuggester(calibration_folds=folds).fit(X, y)


def test_cross_fitted_calibration_uses_every_fitting_row():
    """K folds: the calibration map sees all non-conformal rows' out-of-fold margins."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] + 0.8 * rng.normal(size=3000) > 1.6).astype(int)  # about 8 % positives
    held = StepSuggester(max_iter=30, random_state=0).fit(X, y)
    cross = StepSuggester(max_iter=30, calibration_folds=4, random_state=0).fit(X, y)
    assert held.n_calibration_ == 300 and cross.n_calibration_ == 2700
    assert held.n_conformal_ == cross.n_conformal_ == 300
    again = StepSuggester(max_iter=30, calibration_folds=4, random_state=0).fit(X, y)
    assert np.array_equal(cross.predict_proba(X), again.predict_proba(X))
    # Calibrated on out-of-fold margins: the mean probability matches the positives.
    test = rng.normal(size=(20000, 3))
    truth = test[:, 0] + 0.8 * rng.normal(size=20000) > 1.6
    p = cross.predict_needs_support(test)
    assert abs(p.mean() - truth.mean()) < 0.01
    assert expected_calibration_error(truth, p) < 0.02


def test_probabilities_are_consistent(fitted):
    model, X, _ = fitted
    assert model.classes_.tolist() == list(range(7))
    assert model.get_feature_names_out().tolist() == [f"p_step_{k}" for k in range(7)]
    assert model.n_features_in_ == len(feature_names())
    assert model.feature_names_in_.tolist() == list(feature_names())
    proba = model.predict_proba(X)
    cum = model.predict_cumulative(X)
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.all(np.diff(cum, axis=1) <= 1e-12)  # P(step >= k) never rises with k
    assert np.allclose(cum, 1 - np.cumsum(proba, axis=1)[:, :-1])
    assert np.allclose(model.predict_needs_support(X), 1 - proba[:, 0])


def test_predict_is_the_lowest_expected_cost_step(fitted):
    """Written out by hand: E[cost | k] = sum_j P(j) C[j, k]; lowest k within the tie band."""
    model, X, _ = fitted
    proba = model.predict_proba(X)
    policy = load_policy()
    c = policy.cost_matrix()
    tol = policy.cost.tie_tolerance
    expected = []
    for row in proba:
        costs = [sum(row[j] * c[j, k] for j in range(7)) for k in range(7)]
        best = min(costs)
        expected.append(next(k for k in range(7) if costs[k] <= best * (1 + tol) + 1e-12))
    assert model.predict(X).tolist() == expected
    # the rule really depends on the costs: a policy that prices misses higher finds more
    eager = policy.model_copy(update={"cost": policy.cost.model_copy(update={"under": (30,) * 6})})
    more = StepSuggester(**{**model.get_params(), "policy": eager})
    more.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    assert (more.predict(X) >= 1).sum() > (model.predict(X) >= 1).sum()


def test_more_concern_never_lowers_risk(fitted):
    model, X, _ = fitted
    base = X.iloc[:300].copy()
    for col, delta in (("score.social", 0.3), ("concept.learning.absence", 1.0)):
        base[col] = base[col].fillna(0)  # NaN is not "less": it goes to a learned side
        worse = base.copy()
        worse[col] = np.clip(worse[col] + delta, 0, 1)
        assert np.all(model.predict_cumulative(worse) >= model.predict_cumulative(base) - 1e-12)
    better = base.copy()
    better["concept.protective.trusted_adult"] = 1.0
    worse = base.copy()
    worse["concept.protective.trusted_adult"] = 0.0
    assert np.all(model.predict_cumulative(better) <= model.predict_cumulative(worse) + 1e-12)


def test_calibration_and_conformal_coverage(fitted):
    model, X, y = fitted
    p1 = model.predict_needs_support(X)
    assert expected_calibration_error(y >= 1, p1) < 0.03
    lo, hi = model.predict_interval(X)
    covered = (lo <= y) & (y <= hi)
    # label-conditional: 90 % of the children who need support, up to sampling noise
    assert covered[y >= 1].mean() >= 0.8
    assert np.all(lo <= hi)


def test_abstention_is_for_data_reasons_only(fitted):
    model, X, _ = fitted
    rules = load_policy().abstain
    # an uncertain step is never a reason: only missing answers, required domains, range
    reasons = model.abstain_reasons(X)
    missing = (X["missing_fraction"] > rules.max_missing).to_numpy()
    assert [("missing" in r) for r in reasons] == missing.tolist()
    assert all(code == "missing" or code.startswith("range:") for r in reasons for code in r)
    # held-out children outside the training children's range are rare (here: extreme
    # trends and informant scores; 4 of 2,399 when measured)
    outside = [r for r, m in zip(reasons, missing, strict=True) if r and not m]
    assert len(outside) < 0.005 * len(X)
    sparse = X.iloc[:5].assign(missing_fraction=0.5)
    assert model.abstain_reasons(sparse) == [("missing",)] * 5
    old = X.iloc[:3].assign(age_years=40.0)
    assert all("range:age_years" in r for r in model.abstain_reasons(old))
    strict = load_policy().model_copy(
        update={"abstain": rules.model_copy(update={"required_domains": ("social",)})}
    )
    gap = X.iloc[:4].assign(**{"score.social": np.nan})
    assert model.predict_summary(gap, policy=strict)["abstain_reasons"] == [("domain:social",)] * 4


def test_fit_is_deterministic(data):
    rows = np.arange(4000)
    a = StepSuggester(max_iter=20, random_state=5).fit(data.X.iloc[rows], data.step.iloc[rows])
    b = StepSuggester(max_iter=20, random_state=5).fit(data.X.iloc[rows], data.step.iloc[rows])
    assert np.array_equal(a.predict_proba(data.X.iloc[:500]), b.predict_proba(data.X.iloc[:500]))


# --- the artifact ------------------------------------------------------------------------------
def _resign(folder: Path, manifest: dict, key: Path) -> None:
    """Rewrite ``folder``'s manifest and sign it with a test key (as a municipality would)."""
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    sign_model(folder, key)


@pytest.fixture(scope="module")
def test_key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    public = generate_keypair(folder / "test.pem")
    return folder / "test.pem", Path(public.source)


def test_load_model_checks_signature_hash_and_versions(tmp_path, test_key):
    private, public = test_key
    model = load_model(MODELS / "step_suggester.skops")
    assert isinstance(model, StepSuggester)
    manifest = read_manifest(MODELS)
    assert model.artifact_sha256_ == manifest["sha256"]
    assert model.feature_names_in_.tolist() == manifest["features"]

    copy = tmp_path / "m"
    shutil.copytree(MODELS, copy)
    path = copy / "step_suggester.skops"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model(path)

    shutil.copy(MODELS / "step_suggester.skops", path)
    changed = dict(manifest, versions={**manifest["versions"], "scikit-learn": "0.1.0"})
    (copy / "manifest.json").write_text(json.dumps(changed), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="does not verify"):
        load_model(copy)  # the release signature no longer fits the manifest
    _resign(copy, changed, private)
    with pytest.raises(ModelIntegrityError, match="key_id"):
        load_model(copy)  # signed, but by a key nobody trusts
    with pytest.raises(ModelIntegrityError, match=r"scikit-learn version = 0\.1\.0"):
        load_model(copy, trusted_keys=[public])

    (copy / "manifest.json").unlink()
    with pytest.raises(ModelIntegrityError, match="manifest"):
        load_model(path)


def test_a_municipality_signs_and_trusts_its_own_model(tmp_path, test_key, monkeypatch):
    private, public = test_key
    model = load_model()
    save_model(model, tmp_path, extra={"note": "retrained locally"}, signing_key=private)
    with pytest.raises(ModelIntegrityError, match="key_id"):
        load_model(tmp_path)
    assert (
        load_model(tmp_path, trusted_keys=[public]).artifact_sha256_
        == read_manifest(tmp_path)["sha256"]
    )
    monkeypatch.setenv("OPSPORING_TRUSTED_KEYS", str(public))
    assert isinstance(load_model(tmp_path), StepSuggester)
    # Saving again without a key removes the signature: unsigned is refused unless asked for.
    monkeypatch.delenv("OPSPORING_TRUSTED_KEYS")
    save_model(model, tmp_path)
    assert not (tmp_path / "manifest.json.sig").exists()
    with pytest.raises(ModelIntegrityError, match=r"manifest\.json\.sig = <missing>"):
        load_model(tmp_path, trusted_keys=[public])
    assert isinstance(load_model(tmp_path, allow_unsigned=True), StepSuggester)


def test_the_shipped_signature_verifies_with_the_committed_public_key():
    keys = sorted(PACKAGE_KEY_DIR.glob("*.pub"))
    assert keys, "the release public key ships in the package"
    text = (MODELS / "manifest.json").read_bytes()
    signature = (MODELS / "manifest.json.sig").read_text(encoding="utf-8")
    key_id = verify_bytes(text, signature, [read_public_key(k) for k in keys])
    assert key_id == json.loads(signature)["key_id"]
    with pytest.raises(ModelIntegrityError, match="does not verify"):
        verify_bytes(text.replace(b'"seed"', b'"Seed"'), signature, [read_public_key(keys[0])])


def test_retraining_reproduces_the_manifest(tmp_path):
    """One command retrains the shipped model; file, metrics and card match exactly.

    No private key here (CI has none): the retrained manifest is byte for byte the
    shipped one, so the shipped signature, checked with the committed public key,
    vouches for the retrained file too.
    """
    manifest = train(out_dir=tmp_path, progress=False)
    shipped = read_manifest(MODELS)
    assert manifest["training_data"] == shipped["training_data"]
    assert manifest["metrics"] == shipped["metrics"]
    assert manifest["sha256"] == shipped["sha256"]  # byte for byte, whatever ran before
    assert (tmp_path / "manifest.json").read_bytes() == (MODELS / "manifest.json").read_bytes()
    assert not (tmp_path / "manifest.json.sig").exists()  # no key: written unsigned
    with pytest.raises(ModelIntegrityError, match="sig = <missing>"):
        load_model(tmp_path)
    shutil.copy(MODELS / "manifest.json.sig", tmp_path / "manifest.json.sig")
    X = build_features(
        score_batch(
            SCHOOL, pd.DataFrame({"emo_sad": [0, 1, 2, 3] * 25, "soc_bullied": [3, 2, 1, 0] * 25})
        )
    )
    retrained, committed = load_model(tmp_path), load_model(MODELS)
    assert np.array_equal(retrained.predict_proba(X), committed.predict_proba(X))
    assert retrained.interval_tail_ == committed.interval_tail_
    assert (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8") == (
        MODELS / "MODEL_CARD.md"
    ).read_text(encoding="utf-8")
    held = shipped["metrics"]["overall"]
    # predict and suggest_batch agree on every held-out child suggested a step
    assert held["predict_equals_suggestion"] == held["n_suggested_a_step"] > 1000
    # The targets, on freshly generated children at another seed, through
    # suggest_batch (the figures were just recomputed and found equal above).
    fresh = shipped["metrics"]["fresh"]
    assert fresh["seed"] != shipped["seed"] and fresh["overall"]["n_children"] >= 20_000
    m = fresh["overall"]
    assert m["found_among_need"] >= 0.70
    assert m["found_gap_to_oracle"] <= 0.03
    assert m["suggested_step_ge_1_share"] <= 0.15
    assert m["abstention_rate"] <= 0.05
    assert m["cost_ratio_to_oracle"] <= 1.10
    assert m["under_2plus_gap_to_oracle"] <= 0.05
    assert m["ece_p_need"] <= 0.03
    assert shipped["metrics"]["band_rule"]["auc"] < m["auc_p_need"]


def test_predict_summary_agrees_with_the_single_methods(fitted):
    model, X, _ = fitted
    summary = model.predict_summary(X)
    lo, hi = model.predict_interval(X)
    np.testing.assert_allclose(summary["proba"], model.predict_proba(X))
    np.testing.assert_allclose(summary["cumulative"], model.predict_cumulative(X))
    assert summary["step"].tolist() == model.predict(X).tolist()
    assert summary["low"].tolist() == lo.tolist() and summary["high"].tolist() == hi.tolist()
    assert [bool(r) for r in summary["abstain_reasons"]] == model.abstain(X).tolist()
    np.testing.assert_allclose(summary["costs"], summary["proba"] @ load_policy().cost_matrix())


def test_saved_bytes_do_not_depend_on_object_identity(fitted):
    """A model and its pickled copy with sharing broken save to the same bytes."""
    import pickle

    model, X, _ = fitted
    twin = pickle.loads(pickle.dumps(model))
    twin.classes_ = twin.classes_.copy()  # no longer the same object as in the original
    twin.estimators_ = list(twin.estimators_)
    blob = model_bytes(model)
    assert model_bytes(twin) == blob
    rebuilt = _build(blob, Path("m.skops"))
    assert model_bytes(rebuilt) == blob
    np.testing.assert_array_equal(rebuilt.predict_proba(X), model.predict_proba(X))


def test_a_new_instrument_needs_only_its_yaml_file(tmp_path, monkeypatch):
    """One more instrument file: scores, features and suggestions work with no code change,
    and the model's features stay the same (they are keyed by the vocabulary)."""
    from opsporing.decision import suggest_batch
    from opsporing.instruments import _registry, shipped_instrument_paths

    shipped = next(p for p in shipped_instrument_paths() if p.name == "skole_trivsel.yaml")
    text = shipped.read_text(encoding="utf-8").replace(
        "id: opsporing.skole.trivsel", "id: kommune.skole.trivsel"
    )
    extra = tmp_path / "kommune_skole.yaml"
    extra.write_text(text, encoding="utf-8")
    paths = [*shipped_instrument_paths(), extra]
    monkeypatch.setattr(_registry, "shipped_instrument_paths", lambda: paths)
    _registry._shipped.cache_clear()
    try:
        inst = get_instrument("kommune.skole.trivsel")
        forms = pd.DataFrame(
            {
                "form_id": ["K1", "K2"],
                "age_years": [9.0, 12.0],
                "emo_sad": [0, 3],
                "emo_tense": [0, 3],
                "soc_bullied": [0, 3],
                "beh_hits": [0, 2],
                "res_trusted_adult": [3, 0],
            }
        )
        scores = score_batch(inst, forms, keep=["form_id", "age_years"])
        X = build_features(scores, id_column="form_id")
        assert list(X.columns) == list(feature_names()) == list(load_model().feature_names_in_)
        out = suggest_batch(load_model(), scores, id_column="form_id")
        assert [s.subject for s in out] == ["K1", "K2"]
        assert all(s.kind in ("step", "abstain") for s in out)
        items = {i for s in out for r in s.reasons for i in r.items}
        assert items <= set(inst.item_ids)
    finally:
        _registry._shipped.cache_clear()


def test_an_instrument_without_the_models_domains_is_refused():
    topi = get_instrument("topi")
    scores = score_batch(topi, pd.DataFrame({"1vurdering": [1]}))
    with pytest.raises(DataError, match="domains are among"):
        build_features(scores)
