"""DataFrames into the model: build_features and suggest_batch on mutated score tables.

Each call returns one row (one suggestion) per input row, or raises a typed opsporing
error (DataError for a malformed table): never a KeyError, ValueError or TypeError
from pandas or numpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.errors import OpsporingError
from opsporing.instruments import get_instrument
from opsporing.model import build_features, feature_names, load_model
from opsporing.scoring import score_batch

from .conftest import GARBAGE_SCALARS, budget, count

SCHOOL = get_instrument("opsporing.skole.trivsel")
DAYCARE = get_instrument("opsporing.dagtilbud.trivsel")


def _table(inst: Any, n: int, seed: int, ages: tuple[int, int]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    forms = pd.DataFrame(
        {
            i.id: rng.choice(np.asarray(inst.scale(i.scale).values, dtype=float), n)
            for i in inst.items
        }
    ).mask(rng.random((n, len(inst.items))) < 0.1)
    forms["age_years"] = rng.integers(*ages, n).astype(float)
    forms["child_id"] = [f"{inst.settings[0][0]}{seed}-{k}" for k in range(n)]
    return score_batch(inst, forms, keep=["child_id", "age_years"])


BASE = pd.concat([_table(SCHOOL, 4, 1, (6, 16)), _table(DAYCARE, 3, 2, (1, 6))], ignore_index=True)
EARLIER = pd.concat(
    [_table(SCHOOL, 3, 1, (6, 16)), _table(DAYCARE, 2, 2, (1, 6))], ignore_index=True
)
COLUMNS = list(BASE.columns)


@st.composite
def mutated_table(draw: st.DrawFn, base: pd.DataFrame) -> pd.DataFrame:
    """A score table after 1-3 random edits: garbage cells, dtypes, columns, index."""
    t = base.copy()
    for _ in range(draw(st.integers(1, 3))):
        action = draw(
            st.sampled_from(
                ["cell", "column", "dtype", "drop", "duplicate", "rename", "index", "rows"]
            )
        )
        col = draw(st.sampled_from(list(t.columns) or COLUMNS))
        if action == "cell" and len(t) and col in t.columns:
            at = list(t.columns).index(col)
            t = t.astype({col: object}) if not t.columns.has_duplicates else t.astype(object)
            t.iloc[draw(st.integers(0, len(t) - 1)), at] = draw(GARBAGE_SCALARS)
        elif action == "column":
            t[col] = draw(GARBAGE_SCALARS)
        elif action == "dtype" and col in t.columns:
            # As text: str() of each cell (pandas 3's astype(str) decodes bytes and would
            # fail in this generator, not in the library under test).
            t[col] = t[col].map(str) if draw(st.booleans()) else t[col].astype(object)
        elif action == "drop" and col in t.columns:
            t = t.drop(columns=[col])
        elif action == "duplicate" and col in t.columns:
            t = pd.concat([t, t[[col]]], axis=1)
        elif action == "rename":
            new = draw(st.sampled_from(["cpr", "name", "Child_ID", "", "score.total", "x"]))
            t = t.rename(columns={col: new})
        elif action == "index":
            t.index = draw(
                st.sampled_from(
                    [[0] * len(t), list(range(len(t)))[::-1], [str(i) for i in t.index]]
                )
            )
        elif action == "rows":
            t = t.iloc[draw(st.sampled_from([slice(0, 0), slice(0, 1), slice(None, None, -1)]))]
    return t


def _features(scores: Any, earlier: Any = None, id_column: str | None = None) -> None:
    count("model.build_features")
    try:
        X = build_features(scores, earlier, id_column=id_column)
    except OpsporingError as exc:
        assert str(exc)
        return
    assert list(X.columns) == list(feature_names())
    assert len(X) == len(scores)
    values = X.to_numpy(dtype=np.float64)  # every feature is a number (or NaN)
    assert values.shape == (len(scores), len(feature_names()))


@budget(300)
@given(scores=mutated_table(BASE), id_column=st.sampled_from([None, "child_id"]))
@example(scores=BASE.assign(**{"score.social": "x"}), id_column=None)  # to_numpy(float)
@example(scores=pd.concat([BASE, BASE[["n_missing"]]], axis=1), id_column=None)  # duplicated
@example(scores=BASE.assign(instrument=1.5), id_column=None)  # a number as instrument key
def test_build_features_on_mutated_score_tables(
    scores: pd.DataFrame, id_column: str | None
) -> None:
    _features(scores, id_column=id_column)


@budget(150)
@given(earlier=mutated_table(EARLIER), id_column=st.sampled_from([None, "child_id"]))
def test_build_features_with_a_mutated_earlier_table(
    earlier: pd.DataFrame, id_column: str | None
) -> None:
    _features(BASE, earlier, id_column=id_column)


@budget(60)
@given(scores=st.one_of(st.none(), st.integers(), st.text(max_size=3), st.just(BASE.to_dict())))
def test_build_features_on_things_that_are_not_tables(scores: Any) -> None:
    _features(scores)


# --- suggest_batch --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model() -> Any:
    pytest.importorskip("shap")
    return load_model()


@budget(80)
@given(scores=mutated_table(BASE))
@example(scores=BASE.assign(red_flag="no"))
@example(scores=BASE.assign(red_flag=np.nan))
def test_suggest_batch_on_mutated_score_tables(model: Any, scores: pd.DataFrame) -> None:
    from opsporing.decision import suggest_batch

    count("decision.suggest_batch")
    try:
        out = suggest_batch(model, scores)
    except OpsporingError as exc:
        assert str(exc)
        return
    assert len(out) == len(scores)
    for s in out:
        assert s.kind in ("step", "abstain", "notify")
        if s.probabilities is not None:
            assert math.isclose(sum(s.probabilities), 1.0, abs_tol=1e-6)


def test_a_protective_factor_the_instrument_does_not_ask_is_never_listed(model: Any) -> None:
    """Regression: in a table of school and daycare screenings, a concept column the other
    instrument lacks is NaN, and ``to_numpy(dtype=bool)`` made NaN a protective factor present
    (fixed in opsporing/decision/_suggestion.py)."""
    from opsporing.decision import suggest_batch

    count("decision.suggest_batch")
    table = BASE.assign(red_flag=False)
    protective = [c for c in table.columns if c.startswith("concept.protective.")]
    assert table[protective].isna().any().any(), "the fixture must hold NaN concept cells"
    out = suggest_batch(model, table)
    assert len(out) == len(table)
    for i, s in enumerate(out):
        present = {
            c.removeprefix("concept.")
            for c in protective
            if isinstance(table[c].iloc[i], bool | np.bool_) and table[c].iloc[i]
        }
        assert set(s.protective_factors) <= present, (i, s.protective_factors, present)
