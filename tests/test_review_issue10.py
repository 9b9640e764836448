"""Review of issue 10 (one suggestion rule, honest explanations): hostile inputs and consistency.

Passing tests pin behaviour the review checked and found right. ``xfail(strict=True)``
tests name a real bug each: they fail today for the reason given and will turn into
XPASS (an error, strict) when it is fixed, so whoever fixes it flips the marker.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing.decision import Suggestion, suggest, suggest_batch
from opsporing.errors import DataError, OpsporingError
from opsporing.explain import Explainer, what_would_change
from opsporing.instruments import get_instrument
from opsporing.model import (
    DOMAINS,
    StepSuggester,
    build_features,
    domain_ranges,
    load_model,
)
from opsporing.model.train import score_rounds
from opsporing.policy import load_policy
from opsporing.scoring import score_batch
from opsporing.synthetic import SyntheticConfig, generate
from opsporing.vocabulary import load_vocabulary

SCHOOL = get_instrument("opsporing.skole.trivsel")
SEED = 4242  # neither the training seed (20261123) nor the model card's (20261201)
GOOD_COST = "cost: {over: [1, 2, 4, 8, 8, 8], under: [9, 9, 9, 9, 9, 9]}\n"


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model()


@pytest.fixture(scope="module")
def explainer(model: Any) -> Explainer:
    return Explainer(model)


@pytest.fixture(scope="module")
def fresh() -> dict[str, Any]:
    """800 freshly generated children (every wave), their features and true steps."""
    pop = generate(SyntheticConfig(n_children=800, seed=SEED), progress=False)
    tables = score_rounds(pop.forms)
    current, earlier = tables.current, list(tables.earlier)
    X = build_features(current, earlier, id_column="child_id")
    return {"pop": pop, "current": current, "earlier": earlier, "X": X}


@pytest.fixture(scope="module")
def fresh_suggestions(model: Any, explainer: Explainer, fresh: dict[str, Any]) -> list[Any]:
    with threadpool_limits(limits=1):
        return suggest_batch(
            model, fresh["current"], fresh["earlier"], id_column="child_id", explainer=explainer
        )


def _school(value: int, resources: int, age: float = 10.0) -> pd.DataFrame:
    """A complete school form: every concern item ``value``, resources ``resources``."""
    answers: dict[str, list[Any]] = {"form_id": ["F"], "age_years": [age]}
    for item in SCHOOL.items:
        if item.domain == "safety":
            answers[item.id] = [0]
        elif item.domain == "resources":
            answers[item.id] = [resources]
        else:
            answers[item.id] = [3 - value if item.reverse else value]
    return score_batch(SCHOOL, pd.DataFrame(answers), keep=["form_id", "age_years"])


def _policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the path users get -------------------------------------------------------------------------
def test_predict_equals_every_suggested_step_on_fresh_children(
    model: Any, fresh: dict[str, Any], fresh_suggestions: list[Any]
) -> None:
    given = [s for s in fresh_suggestions if s.kind == "step"]
    assert len(given) > 700
    predicted = model.predict(fresh["X"].loc[[s.subject for s in given]])
    assert [int(p) for p in predicted] == [s.step for s in given]
    # and the step is the policy's lowest-cost step of the probabilities it shows
    policy = load_policy()
    shown = np.array([s.probabilities for s in given])
    assert policy.choose(shown).tolist() == [s.step for s in given]


def test_the_plot_probability_is_the_suggestions(
    explainer: Explainer, fresh: dict[str, Any], fresh_suggestions: list[Any]
) -> None:
    given = [i for i, s in enumerate(fresh_suggestions) if s.kind == "step"]
    instruments = (
        fresh["current"].set_index("child_id")["instrument"].reindex(fresh["X"].index).astype(str)
    )
    explanations = explainer.explain(fresh["X"].iloc[given], instruments.iloc[given].tolist())
    got = np.array([e.probability for e in explanations])
    want = np.array([fresh_suggestions[i].p_needs_support for i in given])
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_nothing_but_a_step_carries_numbers(fresh_suggestions: list[Any]) -> None:
    numbers = ("probabilities", "p_needs_support", "interval", "expected_costs", "rule")
    others = [s for s in fresh_suggestions if s.kind != "step"]
    assert others  # red flags at least
    for s in others:
        d = s.to_dict()
        assert all(d[k] is None for k in numbers), (s.kind, d)
        assert d["reasons"] == [] and d["what_would_change"] == []
        assert "%" not in s.message("da") or s.kind == "abstain"


def test_what_would_change_is_true_and_minimal(
    model: Any, fresh: dict[str, Any], fresh_suggestions: list[Any]
) -> None:
    """Applying a 'what would change it' moves the step down; one point less does not."""
    X = fresh["X"]
    instruments = fresh["current"].set_index("child_id")["instrument"].reindex(X.index)
    checked = 0
    for s in fresh_suggestions:
        for w in s.what_would_change[:1]:
            row = X.loc[[s.subject]].copy()
            j = DOMAINS.index(w.domain)
            lo, hi = domain_ranges([instruments[s.subject]])[0, 2 * j : 2 * j + 2]
            unit = 1.0 if hi - lo >= 4 else 0.1
            towards = 1.0 if w.score_to > w.score_from else -1.0  # resources go up

            def step_at(
                score: float,
                row: pd.DataFrame = row,
                lo: float = lo,
                hi: float = hi,
                d: str = w.domain,
            ) -> int:
                moved = row.copy()
                new = (score - lo) / (hi - lo)
                delta = new - float(moved[f"score.{d}"].iloc[0])
                moved[f"score.{d}"] = new
                if not np.isnan(moved[f"change.{d}"].iloc[0]):
                    moved[f"change.{d}"] += delta
                return int(model.predict(moved)[0])

            assert step_at(w.score_to) == w.to_step < s.step, (s.subject, w)
            one_less = w.score_to - towards * unit
            if (one_less - w.score_from) * towards > 1e-9:
                assert step_at(one_less) >= s.step, (s.subject, w, one_less)
            checked += 1
        if checked >= 25:
            break
    assert checked >= 10


def test_an_empty_form_abstains_for_missing_answers_and_shows_no_numbers(model: Any) -> None:
    empty = score_batch(
        SCHOOL, pd.DataFrame({"form_id": ["A"], "age_years": [10.0]}), keep=["form_id", "age_years"]
    )
    s = suggest(model, empty, id_column="form_id")
    assert s.kind == "abstain" and s.abstain_codes == ("missing",)
    assert s.probabilities is None and s.p_needs_support is None and s.reasons == ()
    assert "100 %" in s.abstain_reason.da and "Utilstrækkelig information" in s.message("da")


# --- policy files -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "- 1\n- 2\n",
        "",
        "42\n",
        "version: x\ncost: {over: [1, 2], under: [9, 9, 9, 9, 9, 9]}\n",
        "version: x\ncost: {over: [-1, 2, 4, 8, 8, 8], under: [9, 9, 9, 9, 9, 9]}\n",
        "version: x\ncost: {over: [.nan, 2, 4, 8, 8, 8], under: [9, 9, 9, 9, 9, 9]}\n",
        "version: x\ncost: {over: [.inf, 2, 4, 8, 8, 8], under: [9, 9, 9, 9, 9, 9]}\n",
        "version: x\ncost:\n  matrix: [[0, 1], [1, 0, 1]]\n",
        "version: x\n" + GOOD_COST + "extra: 1\n",
        "version: 2026.12\n" + GOOD_COST,
        "version: x\n" + GOOD_COST + "abstain: {max_missing: .nan}\n",
        "version: x\n" + GOOD_COST + "abstain: {range_margin: -1}\n",
        "version: x\ncost: " + "[" * 1200 + "]" * 1200 + "\n",
        "!!python/object/apply:os.system ['true']\n",
        "1: 2\nversion: x\n" + GOOD_COST,
    ],
    ids=[
        "list",
        "empty",
        "scalar",
        "short",
        "negative",
        "nan",
        "inf",
        "ragged",
        "extra",
        "version-number",
        "nan-missing",
        "negative-margin",
        "deep",
        "python-tag",
        "int-key",
    ],
)
def test_a_bad_policy_file_is_a_data_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError):
        load_policy(_policy_file(tmp_path, text))


def test_a_zero_cost_for_a_wrong_step_is_refused(tmp_path: Path) -> None:
    rows = [[0 if i == j else 1 for j in range(7)] for i in range(7)]
    rows[0][1] = 0
    with pytest.raises(DataError, match="positive cost"):
        load_policy(_policy_file(tmp_path, f"version: x\ncost:\n  matrix: {rows}\n"))


def test_weights_whose_costs_overflow_are_refused(tmp_path: Path) -> None:
    text = (
        "version: x\ncost: {over: [1e308, 1e308, 1e308, 1e308, 1e308, 1e308], "
        "under: [9, 9, 9, 9, 9, 9]}\n"
    )
    try:
        policy = load_policy(_policy_file(tmp_path, text))
    except DataError:
        return
    assert np.isfinite(policy.cost_matrix()).all()


def test_an_unknown_required_domain_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_policy(
            _policy_file(
                tmp_path, "version: x\n" + GOOD_COST + "abstain: {required_domains: [behavior]}\n"
            )
        )


def test_an_unknown_refer_band_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_policy(
            _policy_file(
                tmp_path, "version: x\n" + GOOD_COST + "band_rule: {refer_bands: [yellow, red]}\n"
            )
        )


# --- Suggestion.from_dict / from_json -----------------------------------------------------------
@pytest.fixture(scope="module")
def red_flag() -> Suggestion:
    from opsporing.decision import red_flag_suggestion

    scores = score_batch(SCHOOL, pd.DataFrame({"saf_disclosure": [1]}))
    return red_flag_suggestion(scores.iloc[0], subject="S1")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p_needs_support", "x"),
        ("p_needs_support", [1]),
        ("step", [1]),
        ("interval", 5),
        ("reasons", "abc"),
        ("reasons", [1]),
        ("what_would_change", [{"domain": "x"}]),
        ("expected_costs", "abc"),
        ("rule", ["x"]),
        ("red_flags", 5),
        ("step", 99),
    ],
)
def test_a_wrong_typed_field_is_a_typed_error(red_flag: Suggestion, field: str, value: Any) -> None:
    data = {**red_flag.to_dict(), field: value}
    with pytest.raises(OpsporingError):
        Suggestion.from_dict(data)


@pytest.mark.parametrize("text", ["", "nul", "[1]", "[" * 100_000, '"x"', "1e999"])
def test_bad_json_is_a_data_error(text: str) -> None:
    with pytest.raises(DataError):
        Suggestion.from_json(text)


def _rehashed(data: dict[str, Any]) -> dict[str, Any]:
    """What anyone can do with json and hashlib: edit a suggestion and recompute its id."""
    content = {k: v for k, v in data.items() if k != "suggestion_id"}
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {**content, "suggestion_id": hashlib.sha256(payload).hexdigest()}


def test_a_rehashed_red_flag_turned_into_step_0_is_refused(red_flag: Suggestion) -> None:
    step0 = load_vocabulary().step(0)
    forged = copy.deepcopy(red_flag.to_dict())
    forged.update(
        kind="step",
        step=0,
        red_flags=[],
        duty_to_notify=None,
        step_label={"da": step0.label.da, "en": step0.label.en},
        who_acts={"da": step0.who_acts.da, "en": step0.who_acts.en},
        legal_basis={"da": step0.legal_basis.da, "en": step0.legal_basis.en},
    )
    with pytest.raises(DataError):
        Suggestion.from_dict(_rehashed(forged))


def test_a_rehashed_abstention_with_probabilities_is_refused(model: Any) -> None:
    empty = score_batch(
        SCHOOL, pd.DataFrame({"form_id": ["A"], "age_years": [10.0]}), keep=["form_id", "age_years"]
    )
    abstain = suggest(model, empty, id_column="form_id").to_dict()
    abstain.update(probabilities=[0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0], p_needs_support=0.9)
    with pytest.raises(DataError):
        Suggestion.from_dict(_rehashed(abstain))


# --- models whose classes are not the steps 0-6 -------------------------------------------------
@pytest.fixture(scope="module")
def coarse(fresh: dict[str, Any]) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """A model trained on steps 0, 2 and 4 only (e.g. a municipality that records coarsely)."""
    X = fresh["X"]
    y = fresh["pop"].children.set_index("child_id").loc[X.index, "true_step"].to_numpy()
    with threadpool_limits(limits=1):
        m = StepSuggester(max_iter=15, random_state=0).fit(X, np.minimum(y - y % 2, 4))
    return m, fresh["current"], X


def test_suggest_batch_equals_predict_for_a_model_without_every_step(
    coarse: tuple[Any, pd.DataFrame, pd.DataFrame],
    fresh: dict[str, Any],
) -> None:
    m, current, X = coarse
    coarse_earlier = fresh["earlier"]
    rows = current[current["child_id"].isin(X.index[:1000])]
    # with the earlier screenings, as X was built
    out = [
        s for s in suggest_batch(m, rows, coarse_earlier, id_column="child_id") if s.kind == "step"
    ]
    steps = [s.step for s in out]
    assert set(steps) <= {int(c) for c in m.classes_}
    assert [int(p) for p in m.predict(X.loc[[s.subject for s in out]])] == steps


def test_labels_outside_0_6_are_a_typed_error_or_work(fresh: dict[str, Any]) -> None:
    X = fresh["X"]
    y = fresh["pop"].children.set_index("child_id").loc[X.index, "true_step"].to_numpy()
    m = StepSuggester(max_iter=10, random_state=0).fit(X, (np.minimum(y, 2) + 1) * 10)
    rows = fresh["current"][fresh["current"]["child_id"].isin(X.index[:50])]
    with contextlib.suppress(OpsporingError):  # a typed refusal is fine; an IndexError not
        suggest_batch(m, rows, id_column="child_id")


# --- what_would_change as a public function -----------------------------------------------------
def test_what_would_change_refuses_ranges_of_the_wrong_shape(
    model: Any, fresh: dict[str, Any]
) -> None:
    X = fresh["X"].iloc[:20]
    with pytest.raises(OpsporingError):
        what_would_change(model, X, np.ones(20, dtype=int), np.zeros((20, 3)))


def test_what_would_change_refuses_steps_of_another_length(
    model: Any, fresh: dict[str, Any]
) -> None:
    X = fresh["X"].iloc[:20]
    ranges = domain_ranges(["opsporing.skole.trivsel"] * 20)
    with pytest.raises(OpsporingError):
        what_would_change(model, X, np.ones(5, dtype=int), ranges)


# --- inputs the model never saw -----------------------------------------------------------------
def test_a_missing_age_is_not_silently_imputed(model: Any) -> None:
    s = suggest(model, _school(2, 1, age=float("nan")), id_column="form_id")
    assert s.kind == "abstain"


def test_no_child_is_certain_to_need_support(model: Any) -> None:
    s = suggest(model, _school(3, 0), id_column="form_id")
    assert s.p_needs_support is not None and s.p_needs_support < 1.0


# --- the CLI --------------------------------------------------------------------------------------
def test_the_cli_table_says_why_it_abstains_and_what_the_rule_is(model: Any) -> None:
    from opsporing._jobs import suggestions_table

    forms = pd.DataFrame(
        {
            "form_id": ["A", "B"],
            "age_years": [10, 10],
            "emo_sad": [3, None],
            "saf_disclosure": [None, 1],
        }
    )
    table, _ = suggestions_table(SCHOOL, forms, id_column="form_id", model=model)
    text = " ".join(str(v) for v in table.to_numpy().ravel())
    assert "ubesvarede" in text or "unanswered" in text
    assert load_vocabulary().duty_to_notify.da in text


# --- what the suggestion says -------------------------------------------------------------------
def test_the_rule_sentence_never_contradicts_its_numbers() -> None:
    policy = load_policy()
    proba = np.array([[0.6, 0.21, 0.19, 0.0, 0.0, 0.0, 0.0]])
    costs = policy.expected_costs(proba)[0]
    step = int(policy.choose(proba)[0])
    assert step == 1 and costs[2] < costs[1]  # a near-tie that went down
    sentence = policy.rule_sentence(costs, step, 0.4, "en")
    assert "has the lowest expected cost" not in sentence


def test_the_named_change_is_the_smallest_of_the_searched_domains(
    model: Any, fresh: dict[str, Any], fresh_suggestions: list[Any]
) -> None:
    """By design the three domains pushing a suggestion up most are searched (documented in
    docs/model.md); among them, the named change is the smallest."""
    X = fresh["X"]
    instruments = fresh["current"].set_index("child_id")["instrument"].reindex(X.index)
    given = [s for s in fresh_suggestions if s.kind == "step" and s.step and s.step >= 1]
    rows = X.loc[[s.subject for s in given]]
    searched = [tuple(w.domain for w in s.what_would_change) for s in given]
    again = what_would_change(
        model,
        rows,
        [s.step for s in given],
        domain_ranges(instruments.loc[rows.index].astype(str)),
        policy=load_policy(),
        domains=searched,
    )
    for s, best in zip(given, again, strict=True):
        if s.what_would_change:
            assert best and s.what_would_change[0].fraction <= best[0].fraction + 1e-9


# --- the duty to notify never waits --------------------------------------------------------------
def test_a_red_flag_is_reported_even_when_another_row_is_unreadable(model: Any) -> None:
    flagged = score_batch(
        SCHOOL,
        pd.DataFrame({"form_id": ["A"], "age_years": [10], "saf_disclosure": [1]}),
        keep=["form_id", "age_years"],
    )
    topi = score_batch(
        get_instrument("topi"),
        pd.DataFrame({"form_id": ["B"], "age_years": [10], "1vurdering": [2]}),
        keep=["form_id", "age_years"],
    )
    table = pd.concat([flagged, topi], ignore_index=True)
    try:
        out = suggest_batch(model, table, id_column="form_id")
    except OpsporingError as exc:
        # acceptable only if the error itself carries the notice for A
        assert "A" in str(exc) and load_vocabulary().duty_to_notify_basis.en in str(exc)
        return
    assert out[0].kind == "notify"
