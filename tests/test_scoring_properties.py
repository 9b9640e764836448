"""Property tests of scoring (hypothesis) on the mini instrument and the shipped ones."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsporing.errors import OpsporingError
from opsporing.instruments import Instrument, list_instruments, load_instrument
from opsporing.scoring import score_batch, score_form

from .conftest import DATA

MINI = load_instrument(DATA / "mini_instrument.yaml")
INSTRUMENTS = [MINI, *list_instruments()]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def forms(draw: st.DrawFn, inst: Instrument) -> dict[str, int | None]:
    """A valid form: each item answered from its scale or left empty (never a required one)."""
    answers: dict[str, int | None] = {}
    for item in inst.items:
        values = st.sampled_from(inst.scale(item.scale).values)
        required = inst.domain(item.domain).required
        answers[item.id] = draw(values if required else st.one_of(st.none(), values))
    return answers


def _band_rank(band: str | None) -> int:
    return {None: -1, "grøn": 0, "gul": 1, "rød": 2}[band]


@pytest.mark.parametrize("inst", INSTRUMENTS, ids=lambda i: i.key)
@FAST
@given(data=st.data())
def test_raising_a_problem_answer_never_lowers_its_domain(inst, data):
    form = data.draw(forms(inst))
    item = data.draw(st.sampled_from(inst.items))
    domain = inst.domain(item.domain)
    values = inst.scale(item.scale).values
    current = form[item.id]
    # "More problem" is a higher keyed answer: higher raw unless reverse-keyed; for a strength
    # domain the problem direction is fewer resources, i.e. a lower keyed answer.
    worse_is_higher = (not item.reverse) == (domain.direction == "concern")
    candidates = [
        v for v in values if current is None or (v > current if worse_is_higher else v < current)
    ]
    if current is None or not candidates:
        return
    worse = dict(form, **{item.id: data.draw(st.sampled_from(candidates))})
    before = score_form(inst, form).domains[domain.id]
    after = score_form(inst, worse).domains[domain.id]
    assert before.scorable == after.scorable
    if before.scorable:
        assert before.score is not None and after.score is not None
        if domain.direction == "concern":
            assert after.score >= before.score
        else:
            assert after.score <= before.score
        assert _band_rank(after.band) >= _band_rank(before.band)


@pytest.mark.parametrize("inst", INSTRUMENTS, ids=lambda i: i.key)
@FAST
@given(data=st.data())
def test_item_order_never_changes_a_score(inst, data):
    rows = data.draw(st.lists(forms(inst), min_size=1, max_size=5))
    order = data.draw(st.permutations(inst.item_ids))
    table = pd.DataFrame(rows, columns=list(inst.item_ids), dtype=float)
    a = score_batch(inst, table)
    b = score_batch(inst, table[list(order)])
    pd.testing.assert_frame_equal(a, b)
    one = score_form(inst, dict(reversed(list(rows[0].items()))))
    assert one.to_dict() == score_form(inst, rows[0]).to_dict()


@pytest.mark.parametrize("inst", INSTRUMENTS, ids=lambda i: i.key)
@FAST
@given(data=st.data())
def test_batch_and_single_form_agree(inst, data):
    rows = data.draw(st.lists(forms(inst), min_size=1, max_size=6))
    out = score_batch(inst, pd.DataFrame(rows, columns=list(inst.item_ids), dtype=float))
    for i, row in enumerate(rows):
        single = score_form(inst, row)
        for dom, ds in single.domains.items():
            batch_score = out[f"score.{dom}"].iloc[i]
            assert (ds.score is None and math.isnan(batch_score)) or ds.score == pytest.approx(
                batch_score
            )
        got = out["band.overall"].iloc[i]
        assert (None if pd.isna(got) else got) == single.overall_band


garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.decimals(allow_nan=True),
    st.complex_numbers(),
)


@FAST
@given(
    answers=st.one_of(
        st.dictionaries(
            st.one_of(st.sampled_from(MINI.item_ids), st.text(max_size=4), st.integers()),
            garbage,
            max_size=10,
        ),
        garbage,
    ),
    age=st.one_of(st.none(), garbage),
)
def test_garbage_form_gives_an_opsporing_error_or_a_score(answers, age):
    try:
        result = score_form(MINI, answers, age_years=age)
    except OpsporingError:
        return
    assert result.instrument == MINI.key


@FAST
@given(
    columns=st.lists(
        st.one_of(
            st.sampled_from([*MINI.item_ids, "age_years", "setting", "instrument_version"]),
            st.text(max_size=3),
        ),
        max_size=6,
    ),
    cells=st.lists(garbage, min_size=0, max_size=24),
    n_rows=st.integers(min_value=0, max_value=4),
)
def test_garbage_table_gives_an_opsporing_error_or_every_row(columns, cells, n_rows):
    data = {}
    for k, c in enumerate(columns):
        data[c] = [cells[(k * n_rows + r) % len(cells)] if cells else None for r in range(n_rows)]
    try:
        table = pd.DataFrame(data, columns=list(dict.fromkeys(columns)))
    except Exception:
        return
    try:
        result = score_batch(MINI, table, errors="collect")
    except OpsporingError:
        return
    assert set(result.scores.index) | set(result.rejected["row"]) == set(table.index)
    assert not set(result.scores.index) & set(result.rejected["row"])


def test_garbage_strategy_really_hits_errors():
    """Guard against a vacuous garbage test: these must raise, not score."""
    for bad in (
        {"m1": "x"},
        {"m1": float("inf")},
        {"m1": 2.5},
        {"m1": True},
        {"m1": 1j},
        {"nope": 1},
    ):
        with pytest.raises(OpsporingError):
            score_form(MINI, bad)
    assert score_form(MINI, {"m1": float("nan")}).domains["mood"].score is None
