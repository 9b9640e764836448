"""Instrument files from disk (load_instrument) and FHIR responses as mutated valid documents.

tests/fuzz/test_fuzz_instrument_trees.py mutates parsed trees and tests/test_fhir.py builds garbage
from scratch; here the bytes on disk are damaged (truncated, bit-flipped, re-encoded, a
JSON twin), and valid QuestionnaireResponses are mutated node by node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.errors import InstrumentDefinitionError, ResponseValidationError
from opsporing.fhir import (
    from_kl_topi_response,
    from_questionnaire_response,
    from_questionnaire_responses,
    to_questionnaire_response,
)
from opsporing.instruments import (
    Instrument,
    get_instrument,
    load_instrument,
    shipped_instrument_paths,
)
from opsporing.scoring import score_batch, score_form

from ._mutate import mutated
from .conftest import budget, count

SHIPPED = {p.name: p.read_bytes() for p in shipped_instrument_paths()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instruments")


@st.composite
def damaged_file(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    data = SHIPPED[name]
    kind = draw(st.sampled_from(["truncate", "flip", "encode", "json", "random", "bom"]))
    suffix = ".yaml"
    if kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "flip":
        b = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            b[draw(st.integers(0, len(b) - 1))] ^= 1 << draw(st.integers(0, 7))
        data = bytes(b)
    elif kind == "encode":
        data = data.decode("utf-8").encode(
            draw(st.sampled_from(["utf-16", "latin-1", "cp1252"])), errors="replace"
        )
    elif kind == "json":
        tree = yaml.safe_load(data)
        text = json.dumps(tree, ensure_ascii=False)
        data = text[: draw(st.integers(0, len(text)))].encode("utf-8")
        suffix = ".json"
    elif kind == "bom":
        data = b"\xef\xbb\xbf" + data
    else:
        data = draw(st.binary(max_size=300))
    return suffix, data


@budget(250)
@given(damaged=damaged_file())
@example(damaged=(".yaml", b"- a\n- b\n"))  # a list, not a mapping
@example(damaged=(".yaml", b"a: &x [*x]\n"))  # a YAML alias loop
@example(damaged=(".json", b"NaN"))
def test_damaged_instrument_files_load_or_raise(folder: Path, damaged: tuple[str, bytes]) -> None:
    count("instruments.load_instrument")
    suffix, data = damaged
    path = folder / f"instrument{suffix}"
    path.write_bytes(data)
    try:
        inst = load_instrument(path)
    except InstrumentDefinitionError as exc:
        assert exc.problems and all(p.field and p.expected for p in exc.problems)
        return
    assert isinstance(inst, Instrument)


def test_a_folder_or_a_missing_file_is_an_instrument_error(folder: Path) -> None:
    count("instruments.load_instrument")
    for path in (folder, folder / "missing.yaml"):
        with pytest.raises(InstrumentDefinitionError):
            load_instrument(path)


# --- FHIR: valid responses, mutated -----------------------------------------------------------
SCHOOL = get_instrument("opsporing.skole.trivsel")
TOPI = get_instrument("topi")
VALID = {
    "school": to_questionnaire_response(SCHOOL, {"emo_sad": 2, "emo_tense": 3, "saf_fear": 1}),
    "topi": to_questionnaire_response(TOPI, {"1vurdering": 1}),
}
READERS = {
    "school": lambda r: from_questionnaire_response(r, SCHOOL),
    "school (list)": lambda r: from_questionnaire_responses([r, r], SCHOOL),
    "topi": lambda r: from_questionnaire_response(r, TOPI),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@budget(120)
@given(data=st.data())
def test_mutated_valid_responses_read_or_raise(reader: str, data: st.DataObject) -> None:
    count(f"fhir.{reader.split()[0]} responses (mutated)")
    resource = data.draw(mutated(VALID["topi" if reader == "topi" else "school"], max_mutations=2))
    inst = TOPI if reader == "topi" else SCHOOL
    try:
        form = READERS[reader](resource)
    except ResponseValidationError as exc:
        assert exc.problems and all(isinstance(p.field, str) and p.expected for p in exc.problems)
        return
    # What a reader returns always scores.
    if isinstance(form, pd.DataFrame):
        assert len(form) == 2
        items = [c for c in form.columns if c in inst.item_ids]
        score_batch(inst, form, keep=[c for c in form.columns if c not in items])
    else:
        score_form(inst, form)


@budget(60)
@given(form=st.dictionaries(
    st.sampled_from([*SCHOOL.item_ids[:5], "x", ""]),
    st.one_of(st.none(), st.integers(-3, 5), st.floats(allow_nan=True), st.text(max_size=3)),
    max_size=5,
))  # fmt: skip
def test_to_questionnaire_response_of_garbage_forms(form: dict[str, Any]) -> None:
    count("fhir.to_questionnaire_response")
    try:
        qr = to_questionnaire_response(SCHOOL, form)
    except ResponseValidationError:
        return
    back = from_questionnaire_response(qr, SCHOOL)  # what was written reads back
    answered = {k: v for k, v in form.items() if v is not None and v == v}  # NaN = missing
    assert {k: v for k, v in back.items() if v is not None} == answered


def test_kl_topi_reader_on_a_mutated_generic_response() -> None:
    count("fhir.from_kl_topi_response")
    with pytest.raises(ResponseValidationError):
        from_kl_topi_response(VALID["topi"])
