"""Evaluation functions with garbage y_true / y_score / y_pred / item tables.

Each returns a result (finite where it is a metric of valid input) or raises a typed
opsporing error naming the field: never a ValueError from numpy or an IndexError.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing import evaluation as ev
from opsporing.errors import OpsporingError

from .conftest import GARBAGE_SCALARS, budget, count

N = st.integers(0, 8)
CELL = st.one_of(
    st.sampled_from([0, 1, 0.0, 1.0, True, False, 0.5, 2, 3, 6, 7, -1, np.nan, np.inf, None]),
    GARBAGE_SCALARS,
)


@st.composite
def vector(draw: st.DrawFn, n: int, kind: str) -> Any:
    """A vector of length ``n``: mostly plausible values of ``kind``, sometimes garbage."""
    plausible = {
        "binary": st.sampled_from([0, 1]),
        "prob": st.floats(0, 1),
        "score": st.floats(-10, 10),
        "step": st.integers(0, 6),
    }[kind]
    values = draw(
        st.lists(st.one_of(plausible, plausible, plausible, CELL), min_size=n, max_size=n)
    )
    shape = draw(st.sampled_from(["list", "array", "series", "object", "2d", "scalar", "str"]))
    if shape == "array":
        try:
            return np.asarray(values)
        except (ValueError, TypeError):
            return values
    if shape == "series":
        index = draw(st.sampled_from([None, [0] * n, list(range(n))[::-1]]))
        return pd.Series(values, index=index, dtype=object)
    if shape == "object":
        return np.asarray(values, dtype=object)
    if shape == "2d":
        return [values, values]
    if shape == "scalar":
        return values[0] if values else 1
    if shape == "str":
        return "0,1,1"
    return values


PAIRS = {
    "roc_auc": (ev.roc_auc, "binary", "score"),
    "roc_curve": (ev.roc_curve, "binary", "score"),
    "pr_curve": (ev.pr_curve, "binary", "score"),
    "average_precision": (ev.average_precision, "binary", "score"),
    "detection_metrics": (ev.detection_metrics, "binary", "binary"),
    "brier_score": (ev.brier_score, "binary", "prob"),
    "expected_calibration_error": (ev.expected_calibration_error, "binary", "prob"),
    "reliability_table": (ev.reliability_table, "binary", "prob"),
    "decision_curve": (ev.decision_curve, "binary", "prob"),
    "step_confusion": (ev.step_confusion, "step", "step"),
    "mean_absolute_step_error": (ev.mean_absolute_step_error, "step", "step"),
    "quadratic_weighted_kappa": (ev.quadratic_weighted_kappa, "step", "step"),
    "cost_weighted_step_error": (ev.cost_weighted_step_error, "step", "step"),
    "staircase_error": (ev.staircase_error, "step", "step"),
    "cohen_kappa": (ev.cohen_kappa, "step", "step"),
}


def _check(result: Any) -> None:
    if isinstance(result, float):
        assert not math.isinf(result)
    elif isinstance(result, pd.DataFrame | pd.Series):
        assert result.shape[0] >= 0


@pytest.mark.parametrize("name", sorted(PAIRS))
@budget(70)
@given(data=st.data(), n=N, m=N)
@example(data=None, n=4, m=4)
def test_pairs_of_garbage_vectors(name: str, data: st.DataObject | None, n: int, m: int) -> None:
    fn, kind_a, kind_b = PAIRS[name]
    count(f"evaluation.{name}")
    if data is None:  # a valid input gives a result
        a, b = ([0, 1, 0, 1], [0, 1, 1, 1]) if kind_a != "step" else ([0, 1, 3, 6], [0, 2, 3, 5])
        if kind_b in ("score", "prob"):
            b = [0.1, 0.8, 0.3, 0.9]
        _check(fn(a, b))
        return
    m = n if data.draw(st.integers(0, 4)) else m  # usually equal lengths
    a = data.draw(vector(n, kind_a))
    b = data.draw(vector(m, kind_b))
    try:
        result = fn(a, b)
    except OpsporingError as exc:
        assert str(exc)
        return
    _check(result)


@budget(80)
@given(data=st.data(), n=N)
def test_cutoff_table_and_bootstrap_with_garbage(data: st.DataObject, n: int) -> None:
    count("evaluation.cutoff_table/bootstrap_ci")
    y = data.draw(vector(n, "binary"))
    s = data.draw(vector(n, "score"))
    cutoffs = data.draw(st.lists(CELL, max_size=3) | CELL)
    with contextlib.suppress(OpsporingError):
        ev.cutoff_table(y, s, cutoffs)
    n_boot = data.draw(st.sampled_from([0, 1, 5, -1, 2.5, "x", 10**12]))
    level = data.draw(st.sampled_from([0.95, 0, 1, -1, math.nan, 2, "x"]))
    if isinstance(n_boot, int) and n_boot > 50:
        n_boot = 10**12  # must be refused before any work, or it would hang
    with contextlib.suppress(OpsporingError):
        ev.bootstrap_ci(y, s, ev.roc_auc, n_boot=n_boot, level=level)


@st.composite
def item_table(draw: st.DrawFn) -> Any:
    n_rows, n_cols = draw(st.integers(0, 6)), draw(st.integers(0, 4))
    cols = draw(st.lists(st.sampled_from(["a", "b", "c", "a"]), min_size=n_cols, max_size=n_cols))
    cells = [[draw(st.one_of(st.integers(0, 3), CELL)) for _ in cols] for _ in range(n_rows)]
    if draw(st.booleans()):
        return cells
    try:
        return pd.DataFrame(cells, columns=cols, dtype=object)
    except (ValueError, TypeError):
        return cells


TABLES = {
    "cronbach_alpha": ev.cronbach_alpha,
    "mcdonald_omega": ev.mcdonald_omega,
    "corrected_item_total": ev.corrected_item_total,
    "icc": ev.icc,
}


@pytest.mark.parametrize("name", sorted(TABLES))
@budget(80)
@given(items=item_table())
def test_item_tables_of_garbage(name: str, items: Any) -> None:
    count(f"evaluation.{name}")
    try:
        result = TABLES[name](items)
    except OpsporingError as exc:
        assert str(exc)
        return
    _check(result)


@budget(80)
@given(
    bands=st.lists(
        st.one_of(st.sampled_from(["grøn", "gul", "rød", "red", None]), CELL), max_size=6
    )
)
def test_band_score_of_garbage(bands: list[Any]) -> None:
    count("evaluation.band_score")
    try:
        out = ev.band_score(bands)
    except OpsporingError:
        return
    assert len(out) == len(bands)


@pytest.mark.parametrize(
    "call",
    [
        # Regressions found by the tests above (fixed in opsporing/evaluation):
        lambda: ev.roc_auc([0, 1], [b"\x80", "x"]),  # UnicodeDecodeError from np.asarray
        lambda: ev.band_score(["grøn", b"\x80"]),  # the same, through as_1d
        lambda: ev.band_score([["grøn"], "gul"]),  # an unhashable band
        lambda: ev.cronbach_alpha(pd.DataFrame([[1, 2], [2, 3]], columns=["a", "a"])),  # .dtype
        lambda: ev.icc([[1, 2], [3]]),  # a ragged table
        lambda: ev.cutoff_table([0, 1], [0.2, 0.8], 5),  # type: ignore[arg-type]  # list(5)
    ],
)
def test_evaluation_regressions_are_data_errors(call: Any) -> None:
    count("evaluation.regressions")
    with pytest.raises(OpsporingError):
        call()
