"""Reading CSVs of forms: each class of bad file is refused or read correctly, never shifted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsporing.errors import ResponseValidationError
from opsporing.instruments import get_instrument
from opsporing.scoring import _csv, read_forms, score_batch

TOPI = get_instrument("topi")
SCHOOL = get_instrument("opsporing.skole.trivsel")


def _write(folder: Path, text: str, name: str = "forms.csv", encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


# --- more fields than the header ---------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "form_id,age_years\nA1,7,5\nA2,8,0\n",  # every row: an unquoted decimal comma
        "form_id,age_years\nA1,7\nA2,8,5\n",  # one row in the middle
        "form_id,age_years,emo_sad\nA1,7,1,2,3\n",  # two extra fields
    ],
)
def test_a_row_with_more_fields_than_the_header_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ResponseValidationError) as info:
        read_forms(_write(tmp_path, text), SCHOOL)
    kinds = {p.kind for p in info.value.problems}
    assert kinds == {"too_many_fields"}
    bad_lines = [
        line for line in text.splitlines()[1:] if line.count(",") > text.split("\n")[0].count(",")
    ]
    assert len(info.value.problems) == len(bad_lines)  # every bad line, not only the first
    assert "decimal comma" in str(info.value)


def test_a_shifted_row_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ResponseValidationError) as info:
        read_forms(_write(tmp_path, "form_id,age_years\nA1,7\n\nA2,8,5\n"))
    (problem,) = info.value.problems
    assert (problem.field, problem.row) == ("line 4", 1)  # the file's line; the table's row


def test_short_rows_are_read_as_unanswered(tmp_path: Path) -> None:
    forms = read_forms(_write(tmp_path, "form_id,age_years,emo_sad\nA1,7\n"), SCHOOL)
    assert forms["emo_sad"].isna().all() and forms["age_years"].tolist() == [7]


# --- Danish Excel ------------------------------------------------------------------------------
def test_a_danish_excel_csv_is_read_with_its_separator_and_decimal_comma(tmp_path: Path) -> None:
    text = "\ufeffform_id;age_years;emo_sad;emo_tense\r\nS1;7,5;1;0\r\nS2;10;;3\r\n"
    forms = read_forms(_write(tmp_path, text), SCHOOL)
    assert list(forms.columns) == ["form_id", "age_years", "emo_sad", "emo_tense"]
    assert forms["age_years"].tolist() == [7.5, 10.0]
    assert forms.attrs["csv"] == {"sep": ";", "decimal": ","}
    scores = score_batch(SCHOOL, forms, keep=["form_id"])
    assert scores["form_id"].tolist() == ["S1", "S2"]


def test_a_tab_separated_file_is_read(tmp_path: Path) -> None:
    forms = read_forms(_write(tmp_path, "form_id\t1vurdering\na\t2\n"), TOPI)
    assert forms["1vurdering"].tolist() == [2] and forms.attrs["csv"]["sep"] == "\t"


def test_a_windows_1252_file_says_how_to_save_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "form_id;age_years\nBørn;7\n", encoding="cp1252")
    with pytest.raises(ResponseValidationError, match="CSV UTF-8") as info:
        read_forms(path)
    assert info.value.problems[0].kind == "encoding"


# --- one text cell in a number column ----------------------------------------------------------
def test_one_text_cell_is_named_not_the_whole_column(tmp_path: Path) -> None:
    text = "form_id,age_years,emo_sad\nS1,7,0\nS2,8,Ja\nS3,9,2.0\nS4,10,\n"
    forms = read_forms(_write(tmp_path, text), SCHOOL)
    result = score_batch(SCHOOL, forms, keep=["form_id"], errors="collect")
    rejected = result.rejected
    assert rejected[["row", "field", "value", "kind"]].values.tolist() == [
        [1, "emo_sad", "Ja", "not_a_number"]
    ]
    assert result.scores["form_id"].tolist() == ["S1", "S3", "S4"]


def test_a_text_age_is_named_by_its_cell(tmp_path: Path) -> None:
    forms = read_forms(_write(tmp_path, "form_id,age_years\nS1,syv\nS2,8\n"), SCHOOL)
    with pytest.raises(ResponseValidationError) as info:
        score_batch(SCHOOL, forms, keep=["form_id"])
    assert [(p.row, p.field, p.value) for p in info.value.problems] == [(0, "age_years", "syv")]


def test_text_columns_stay_text(tmp_path: Path) -> None:
    forms = read_forms(_write(tmp_path, "form_id,age_years\n007,7\nA2,8\n"), SCHOOL)
    assert forms["form_id"].tolist() == ["007", "A2"]  # an id is not turned into 7


def test_missing_value_spellings_are_missing(tmp_path: Path) -> None:
    forms = read_forms(_write(tmp_path, "emo_sad,emo_tense\nNA,1\n,\n"), SCHOOL)
    assert forms["emo_sad"].isna().all() and np.isnan(forms["emo_tense"].iloc[1])


# --- size limits ------------------------------------------------------------------------------
def test_a_huge_cell_is_refused_with_a_short_message(tmp_path: Path) -> None:
    path = _write(tmp_path, "form_id,emo_sad\n" + "x" * 100_000 + ",1\n")
    with pytest.raises(ResponseValidationError) as info:
        read_forms(path, SCHOOL)
    (problem,) = info.value.problems
    assert (problem.kind, problem.row, problem.field) == ("cell_too_large", 0, "form_id")
    assert len(str(info.value)) < 400 and "100,000 characters" in str(info.value)


@pytest.mark.parametrize("extra", ["", ",1,2"])  # read fast, or by the careful reader
def test_a_cell_beyond_the_csv_modules_limit_is_a_typed_error(tmp_path: Path, extra: str) -> None:
    path = _write(tmp_path, 'form_id,emo_sad\n"' + "x" * 200_000 + '",1' + extra + "\n")
    with pytest.raises(ResponseValidationError) as info:
        read_forms(path)
    assert info.value.problems[0].kind in {"cell_too_large", "syntax", "too_many_fields"}
    assert len(str(info.value)) < 400


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path, "form_id,emo_sad\n" + "a,1\n" * 1_000)
    with pytest.raises(ResponseValidationError, match="at most 100 bytes") as info:
        read_forms(path, max_bytes=100)
    assert info.value.problems[0].kind == "too_large"
    assert _csv.MAX_CSV_BYTES >= 100 * 1024 * 1024  # a municipality's whole year fits


@pytest.mark.parametrize(
    ("text", "kind"),
    [("", "empty"), ("\n\n", "empty"), ('a,b\n"x,1\n', "syntax")],
)
def test_empty_and_broken_files(tmp_path: Path, text: str, kind: str) -> None:
    with pytest.raises(ResponseValidationError) as info:
        read_forms(_write(tmp_path, text))
    assert info.value.problems[-1].kind == kind


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ResponseValidationError) as info:
        read_forms(tmp_path / "nowhere.csv")
    assert info.value.problems[0].kind == "io"


# --- a round trip: what pandas writes, we read back the same -----------------------------------
@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(categories=("L", "N")), min_size=1, max_size=6),
            st.one_of(st.none(), st.integers(0, 3)),
            st.floats(5, 17, allow_nan=False).map(lambda x: round(x, 1)),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([",", ";"]),
)
def test_what_pandas_writes_is_read_back(
    tmp_path_factory: pytest.TempPathFactory, rows, sep
) -> None:
    table = pd.DataFrame(rows, columns=["form_id", "emo_sad", "age_years"])
    table["form_id"] = "F" + table["form_id"]  # an id is text
    path = tmp_path_factory.mktemp("rt") / "forms.csv"
    table.to_csv(path, index=False, sep=sep, decimal="," if sep == ";" else ".")
    back = read_forms(path, SCHOOL)
    assert back["form_id"].tolist() == table["form_id"].tolist()
    assert back["age_years"].tolist() == pytest.approx(table["age_years"].tolist())
    assert back["emo_sad"].isna().tolist() == table["emo_sad"].isna().tolist()


def test_a_point_decimal_in_a_semicolon_file_and_empty_columns(tmp_path: Path) -> None:
    # found by the CLI fuzzer: empty cells everywhere and "1.0" in a ';' file
    forms = read_forms(_write(tmp_path, "emo_sad;emo_tense\r\n;\r\n;1.0\r\n"), SCHOOL)
    assert forms["emo_sad"].isna().all()
    assert forms["emo_tense"].iloc[1] == 1.0 and pd.api.types.is_numeric_dtype(forms["emo_tense"])


def test_the_fast_reader_keeps_repeated_header_names(tmp_path: Path) -> None:
    forms = read_forms(_write(tmp_path, "emo_sad,emo_sad\n1,2\n"), SCHOOL)
    assert list(forms.columns) == ["emo_sad", "emo_sad"]  # scoring then names the repeat
    with pytest.raises(ResponseValidationError, match="each column once"):
        score_batch(SCHOOL, forms)
