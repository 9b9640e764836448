"""Errors carry their Problem records, and a message never echoes a value uncapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsporing.errors import (
    VALUE_LIMIT,
    DataError,
    DecisionError,
    OpsporingError,
    Problem,
    ResponseValidationError,
    VocabularyError,
)
from opsporing.instruments import get_instrument
from opsporing.scoring import score_batch
from opsporing.synthetic import SyntheticConfig
from opsporing.vocabulary import get_concept

SRC = Path(__file__).parents[1] / "src" / "opsporing"


# --- the records travel on the exception -------------------------------------------------------
def test_an_error_made_of_problems_keeps_them() -> None:
    a = Problem("age_years", "Ja", "a number", row=3, kind="not_a_number")
    b = Problem("emo_sad", 7, "one of 0, 1, 2, 3", row=4, kind="out_of_range")
    err = DataError(a, b)
    assert err.problems == (a, b)
    assert str(err).splitlines()[1:] == [f"  - {a}", f"  - {b}"]
    assert err.to_frame()[["row", "field", "kind"]].values.tolist() == [
        [3, "age_years", "not_a_number"],
        [4, "emo_sad", "out_of_range"],
    ]
    assert a.to_dict() == {
        "field": "age_years",
        "value": "Ja",
        "expected": "a number",
        "row": 3,
        "kind": "not_a_number",
    }


def test_an_error_made_of_a_message_has_no_problems() -> None:
    err = OpsporingError("something")
    assert err.problems == () and str(err) == "something"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: SyntheticConfig(n_children=0), "SyntheticConfig.n_children"),
        (lambda: get_concept("safety.disclosure").label.get("français"), "lang"),
        (
            lambda: score_batch(get_instrument("topi"), pd.DataFrame({"1vurdering": [9]})),
            "1vurdering",
        ),
    ],
)
def test_library_errors_carry_the_field(make: Any, field: str) -> None:
    with pytest.raises(OpsporingError) as info:
        make()
    assert info.value.problems and info.value.problems[0].field == field


def test_a_decision_error_names_its_field_in_the_record() -> None:
    from opsporing.decision import Decision, red_flag_suggestion

    scores = score_batch(
        get_instrument("opsporing.skole.trivsel"), pd.DataFrame({"saf_injury": [1]})
    )
    s = red_flag_suggestion(scores.iloc[0], subject="S1")
    with pytest.raises(DecisionError) as info:
        Decision.record(s, professional_role="skole", professional_id="T-1", chosen_step=1)
    (problem,) = info.value.problems
    assert (problem.field, problem.value, problem.kind) == ("reason", None, "missing")
    with pytest.raises(DecisionError) as info:
        Decision.record(s, professional_role="skole", professional_id="T-1", chosen_step=5)
    assert info.value.problems[0].field == "chosen_step"


def test_the_web_form_reads_the_field_from_the_record_not_the_text() -> None:
    app = (SRC / "web" / "_app.py").read_text(encoding="utf-8")
    assert 'split(" = "' not in app and ".problems" in app


# --- every echoed value is capped, in one place ------------------------------------------------
def test_a_huge_value_gives_a_short_message() -> None:
    cell = "x" * 200_000_000  # a 200 MB cell
    message = str(Problem("form_id", cell, "an id", row=0))
    assert len(message) < 3 * VALUE_LIMIT
    assert "(200,000,000 characters)" in message


def test_a_huge_field_and_row_are_capped_keeping_both_ends() -> None:
    field = "/very/long/" + "folder/" * 100 + "forms.csv"
    message = str(Problem(field, 1, "x", row="r" * 10_000))
    assert len(message) < 8 * VALUE_LIMIT
    assert "forms.csv" in message and "(10,000 characters)" in message


def test_a_hostile_repr_does_not_hide_the_problem() -> None:
    class Nasty:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert str(Problem("x", Nasty(), "a number")) == "x = <Nasty>: expected a number"


@given(st.text(max_size=500), st.text(max_size=500), st.one_of(st.none(), st.text(max_size=500)))
def test_a_problem_is_always_one_short_line(field: str, value: str, row: str | None) -> None:
    message = str(Problem(field, value, "a number", row=row))
    assert len(message.splitlines()) == 1
    assert len(message) <= 8 * VALUE_LIMIT


def test_a_vocabulary_error_from_a_file_carries_the_reader_problem(tmp_path: Path) -> None:
    from opsporing.vocabulary import read_vocabulary

    path = tmp_path / "v.yaml"
    path.write_text("a: &x 1\nb: *x\n", encoding="utf-8")
    with pytest.raises(VocabularyError) as info:
        read_vocabulary(path)
    assert info.value.problems[0].kind == "alias"


def test_response_errors_keep_their_problems() -> None:
    err = ResponseValidationError([Problem("a", 1, "b")], headline="bad")
    assert err.rows == [] and err.problems[0].field == "a"
