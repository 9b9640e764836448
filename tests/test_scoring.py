"""Scoring against scores computed by hand on tests/data/mini_instrument.yaml.

The mini instrument: mood = m1 + m2 + (3 - m3) (sum, ≥2 answered, prorated; gul ≥4, rød ≥6);
play = mean(p1, p2) (≥2 answered; gul ≥1.5, rød ≥2.5); safe = s1 (yes/no; rød at 1);
res = r1 + r2 (strength, ≥2 answered; gul ≤3, rød ≤1); total = mood + play (gul ≥5, rød ≥8).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import OpsporingError, ResponseValidationError
from opsporing.instruments import get_instrument
from opsporing.scoring import score_batch, score_form

NaN = float("nan")

# (answers, expected domain scores, expected bands, total, total band, overall, concepts raised)
CASES = {
    "thriving": (
        dict(m1=1, m2=2, m3=3, p1=0, p2=1, s1=0, r1=3, r2=2),
        dict(mood=3.0, play=0.5, safe=0.0, res=5.0),  # m3 reversed: 3 - 3 = 0
        dict(mood="grøn", play="grøn", safe="grøn", res="grøn"),
        3.5, "grøn", "grøn",
        {"protective.trusted_adult"},
    ),
    "serious": (
        dict(m1=3, m2=2, m3=0, p1=3, p2=2, s1=0, r1=1, r2=0),
        dict(mood=8.0, play=2.5, safe=0.0, res=1.0),  # 3 + 2 + (3 - 0)
        dict(mood="rød", play="rød", safe="grøn", res="rød"),  # res 1 ≤ red cut-off 1
        10.5, "rød", "rød",
        {"emotional.sadness", "social.isolation"},
    ),
    "prorated_and_not_scorable": (
        dict(m1=2, m3=2, r1=2),  # m2, p1, p2, s1, r2 missing
        dict(mood=4.5, play=NaN, safe=NaN, res=NaN),  # (2 + (3-2)) * 3 / 2 = 4.5
        dict(mood="gul", play=None, safe=None, res=None),
        NaN, None, "gul",  # total needs play, which is not scorable
        {"emotional.sadness"},
    ),
    "red_flag": (
        dict(m1=0, m2=0, m3=3, p1=0, p2=0, s1=1, r1=3, r2=3),
        dict(mood=0.0, play=0.0, safe=1.0, res=6.0),
        dict(mood="grøn", play="grøn", safe="rød", res="grøn"),
        0.0, "grøn", "rød",
        {"safety.disclosure", "protective.trusted_adult"},
    ),
    "yellow_by_strength": (
        dict(m1=0, m2=1, m3=3, p1=1, p2=1, s1=0, r1=2, r2=1),
        dict(mood=1.0, play=1.0, safe=0.0, res=3.0),
        dict(mood="grøn", play="grøn", safe="grøn", res="gul"),  # res 3 ≤ yellow 3
        2.0, "grøn", "gul",
        set(),
    ),
}  # fmt: skip


def _same(a: float | None, b: float) -> bool:
    return (a is None and math.isnan(b)) or (a is not None and a == pytest.approx(b))


@pytest.mark.parametrize("case", CASES)
def test_single_form_matches_hand_computation(mini, case):
    answers, scores, bands, total, total_band, overall, concepts = CASES[case]
    result = score_form(mini, answers)
    for dom, expected in scores.items():
        assert _same(result.domains[dom].score, expected), dom
        assert result.domains[dom].band == bands[dom], dom
        assert result.domains[dom].scorable == (not math.isnan(expected))
    assert _same(result.total, total)
    assert result.total_band == total_band
    assert result.overall_band == overall
    assert set(result.concerns) | set(result.protective_factors) == concepts
    assert result.red_flag == ("safety.disclosure" in concepts)
    assert set(result.missing_items) == set(mini.item_ids) - set(answers)


def test_batch_matches_hand_computation_and_single_forms(mini):
    forms = pd.DataFrame([c[0] for c in CASES.values()], index=list(CASES))
    out = score_batch(mini, forms)
    assert list(out.index) == list(CASES)
    for case, (answers, scores, bands, _, total_band, overall, concepts) in CASES.items():
        row = out.loc[case]
        for dom, expected in scores.items():
            assert _same(None if pd.isna(row[f"score.{dom}"]) else row[f"score.{dom}"], expected)
            assert (None if pd.isna(row[f"band.{dom}"]) else row[f"band.{dom}"]) == bands[dom]
        assert (None if pd.isna(row["band.total"]) else row["band.total"]) == total_band
        assert row["band.overall"] == overall
        raised = {
            c.removeprefix("concept.") for c in out.columns if c.startswith("concept.") and row[c]
        }
        assert raised == concepts
        assert row["n_missing"] == len(mini.items) - len(answers)


def test_not_scorable_domain_is_never_zero(mini):
    out = score_batch(mini, pd.DataFrame({"m1": [0.0], "p1": [0.0]}))
    assert np.isnan(out.loc[0, "score.mood"]) and not out.loc[0, "scorable.mood"]
    assert pd.isna(out.loc[0, "band.mood"])
    assert np.isnan(out.loc[0, "score.total"])


def test_empty_form_is_not_assessed(mini):
    result = score_form(mini, {})
    assert result.overall_band is None
    assert all(not d.scorable for d in result.domains.values())


def test_out_of_scale_answer_names_row_item_value_and_allowed(mini):
    forms = pd.DataFrame({"m1": [1, 7, 2], "s1": [0, 0, 3]}, index=["a", "b", "c"])
    with pytest.raises(ResponseValidationError) as info:
        score_batch(mini, forms)
    problems = {(p.row, p.field, p.value) for p in info.value.problems}
    assert problems == {("b", "m1", 7), ("c", "s1", 3)}  # every bad row, not the first
    message = str(info.value)
    assert "row b: m1 = 7: expected one of 0, 1, 2, 3" in message
    assert "row c: s1 = 3: expected one of 0, 1" in message


def test_collect_mode_returns_good_rows_and_every_rejected_row(mini):
    forms = pd.DataFrame(
        {"m1": [1, 7, 2, 1.5], "m2": [0, 0, "x", 1], "age_years": [3, 4, 5, 9]},
        index=[10, 11, 12, 13],
    )
    result = score_batch(mini, forms, errors="collect")
    assert list(result.scores.index) == [10]
    rejected = result.rejected
    assert set(rejected["row"]) == {11, 12, 13}
    assert set(zip(rejected["row"], rejected["field"], strict=True)) == {
        (11, "m1"),
        (12, "m2"),
        (13, "m1"),
        (13, "age_years"),
    }
    assert set(rejected["kind"]) == {"out_of_range", "not_a_number", "age_out_of_range"}
    # Nothing vanished: every input row is scored or rejected.
    assert set(result.scores.index) | set(rejected["row"]) == set(forms.index)


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("instrument_version", "1.0.0", "wrong_instrument"),
        ("instrument_id", "opsporing.skole.trivsel", "wrong_instrument"),
        ("age_years", 12, "age_out_of_range"),
        ("age_years", "fem", "not_a_number"),
        ("setting", "skole", "wrong_setting"),
    ],
)
def test_meta_columns_are_checked_per_row(mini, column, value, kind):
    good = {"instrument_version": "2.1.0", "instrument_id": "test.mini",
            "age_years": 3, "setting": "dagtilbud"}[column]  # fmt: skip
    forms = pd.DataFrame({"m1": [1, 1], column: pd.Series([good, value], dtype=object)})
    with pytest.raises(ResponseValidationError) as info:
        score_batch(mini, forms)
    assert [(p.row, p.field, p.kind) for p in info.value.problems] == [(1, column, kind)]


def test_unknown_column_is_an_error_not_dropped(mini):
    with pytest.raises(ResponseValidationError, match="m11"):
        score_batch(mini, pd.DataFrame({"m1": [1], "m11": [2]}))


def test_keep_carries_columns_through(mini):
    forms = pd.DataFrame({"form_id": ["x1", "x2"], "m1": [1, 2]})
    out = score_batch(mini, forms, keep=["form_id"])
    assert out["form_id"].tolist() == ["x1", "x2"]


def test_string_numbers_are_not_silently_coerced(mini):
    with pytest.raises(ResponseValidationError) as info:
        score_batch(mini, pd.DataFrame({"m1": ["2"]}))
    assert info.value.problems[0].kind == "not_a_number"


def test_single_form_errors_are_all_reported(mini):
    with pytest.raises(ResponseValidationError) as info:
        score_form(
            mini, {"m1": 9, "zz": 1, "m2": True}, age_years=40, version="1.0.0", setting="skole"
        )
    fields = sorted(p.field for p in info.value.problems)
    assert fields == ["age_years", "instrument_version", "m1", "m2", "setting", "zz"]


def test_empty_table_scores_to_empty_table(mini):
    out = score_batch(mini, pd.DataFrame({"m1": pd.Series([], dtype=float)}))
    assert len(out) == 0 and "score.mood" in out.columns


@pytest.mark.parametrize("bad", [None, 3, "forms", [1, 2], {"m1": 1}])
def test_wrong_types_give_opsporing_errors(mini, bad):
    with pytest.raises(OpsporingError):
        score_batch(mini, bad)


def test_form_score_is_json_serialisable(mini):
    import json

    d = score_form(mini, CASES["red_flag"][0]).to_dict()
    assert json.loads(json.dumps(d))["red_flags"] == ["safety.disclosure"]


# --- the duty to notify never waits for the rest of the form ---------------------------------
def test_a_rejected_form_still_raises_its_red_flag():
    from opsporing.errors import ResponseValidationError

    school = get_instrument("opsporing.skole.trivsel")
    forms = pd.DataFrame(
        {"saf_disclosure": [1, 0, 1], "emo_sad": [9, 9, 1], "age_years": [9, 9, 9]},
        index=["A", "B", "C"],
    )
    with pytest.raises(ResponseValidationError) as info:
        score_batch(school, forms)
    # A is rejected (emo_sad out of range) but its valid disclosure answer is a red flag;
    # B has no red flag; C is valid, but the refused call returns no scores for it either,
    # so its red flag is named too.
    assert info.value.red_flags == {"A": ("safety.disclosure",), "C": ("safety.disclosure",)}
    assert str(info.value).startswith("RED FLAG (safety.disclosure) in 2 form(s) (A, C)")
    assert "§ 133" in str(info.value).splitlines()[0]
    collected = score_batch(school, forms, errors="collect")
    assert collected.red_flags == {"A": ("safety.disclosure",)}
    assert list(collected.scores.index) == ["C"] and bool(collected.scores.loc["C", "red_flag"])
    with pytest.raises(ResponseValidationError) as one:
        score_form(school, {"saf_disclosure": 1, "emo_sad": "ofte"}, age_years=99)
    assert one.value.red_flags == {0: ("safety.disclosure",)}
    with pytest.raises(ResponseValidationError) as none:
        score_form(school, {"saf_disclosure": 0, "emo_sad": 7})
    assert none.value.red_flags == {} and not str(none.value).startswith("RED FLAG")
