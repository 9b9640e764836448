"""A form without an id is refused by row, never turned into subject 'nan'."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import DataError
from opsporing.instruments import get_instrument
from opsporing.model import build_features
from opsporing.scoring import score_batch

SCHOOL = get_instrument("opsporing.skole.trivsel")


def _scores(ids: list[Any]) -> pd.DataFrame:
    forms = pd.DataFrame({"form_id": ids, "emo_sad": [1] * len(ids), "age_years": [9] * len(ids)})
    return score_batch(SCHOOL, forms, keep=["form_id"])


@pytest.mark.parametrize("blank", [None, np.nan, "", "   ", pd.NA])
def test_a_blank_id_is_refused_naming_its_row(blank: Any) -> None:
    with pytest.raises(DataError) as info:
        build_features(_scores(["A1", blank, "A3"]), id_column="form_id")
    (problem,) = info.value.problems
    assert (problem.field, problem.row, problem.kind) == ("form_id", 1, "missing_id")


def test_every_blank_id_is_named() -> None:
    with pytest.raises(DataError) as info:
        build_features(_scores([None, "A2", "", "A4", np.nan]), id_column="form_id")
    assert [p.row for p in info.value.problems] == [0, 2, 4]


def test_whole_number_and_text_ids_pass() -> None:
    assert list(build_features(_scores([1, 2, 3]), id_column="form_id").index) == [1, 2, 3]
    assert list(build_features(_scores(["a", "b"]), id_column="form_id").index) == ["a", "b"]


def test_suggest_batch_refuses_a_blank_id() -> None:
    from opsporing.decision import suggest_batch
    from opsporing.model import load_model

    with pytest.raises(DataError, match="an id in every row"):
        suggest_batch(load_model(), _scores(["A1", None]), id_column="form_id")
