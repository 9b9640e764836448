"""XLSForm, REDCap and the instrument-file JSON Schema (opsporing.interop)."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from opsporing.errors import InstrumentDefinitionError, ResponseValidationError
from opsporing.instruments import Instrument, list_instruments, load_instrument
from opsporing.interop import (
    REDCAP_COLUMNS,
    SCHEMA_FILE,
    from_redcap_dictionary,
    from_redcap_records,
    instrument_json_schema,
    redcap_column_map,
    to_redcap_dictionary,
    to_xlsform,
    xlsform_column_map,
    xlsform_name,
)
from opsporing.interop._instrument_schema import published_schema, schema_text
from opsporing.scoring import score_batch

DATA = Path(__file__).parent / "data"
SHIPPED = Path(__file__).parent.parent / "src" / "opsporing" / "instruments" / "data"
MINI = load_instrument(DATA / "mini_instrument.yaml")
INSTRUMENTS = [*list_instruments(), MINI]
IDS = [i.key for i in INSTRUMENTS]
XF = "{http://www.w3.org/2002/xforms}"


# --- JSON Schema of instrument files -------------------------------------------------------------
def test_published_schema_is_up_to_date() -> None:
    assert published_schema() == schema_text(), (
        f"regenerate src/opsporing/instruments/{SCHEMA_FILE}: python -c 'from opsporing.interop."
        '_instrument_schema import schema_text; print(schema_text(), end="")\' > <that file>'
    )
    jsonschema.Draft202012Validator.check_schema(instrument_json_schema())


@pytest.mark.parametrize(
    "path", [*sorted(SHIPPED.glob("*.yaml")), DATA / "mini_instrument.yaml"], ids=lambda p: p.name
)
def test_every_instrument_file_validates_against_the_schema(path: Path) -> None:
    tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(instrument_json_schema()).validate(tree)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda t: t.update(extra_key=1), ""),
        (lambda t: t.update(version="1.0"), "version"),
        (lambda t: t["items"][0].update(id="has space"), "items/0/id"),
        (lambda t: t["domains"][0].update(direction="up"), "domains/0/direction"),
        (lambda t: t["scales"][0]["options"][0]["label"].pop("da"), "scales/0/options/0/label"),
        (lambda t: t["items"][0]["text"].update(EN="x"), "items/0/text"),
        (lambda t: t.pop("items"), ""),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(change: object, where: str) -> None:
    tree = yaml.safe_load((SHIPPED / "skole_trivsel.yaml").read_text(encoding="utf-8"))
    change(tree)  # type: ignore[operator]
    errors = list(jsonschema.Draft202012Validator(instrument_json_schema()).iter_errors(tree))
    assert errors and any("/".join(map(str, e.absolute_path)) == where for e in errors)
    with pytest.raises(InstrumentDefinitionError):
        from opsporing.instruments import build_instrument

        build_instrument(tree)


# --- XLSForm -------------------------------------------------------------------------------------
pyxform = pytest.importorskip("pyxform")


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
def test_xlsform_converts_with_pyxform_and_mirrors_the_instrument(
    instrument: Instrument, tmp_path: Path
) -> None:
    from pyxform.xls2xform import convert

    path = to_xlsform(instrument).write(tmp_path / "form.xlsx")
    warnings: list[str] = []
    # ODK Validate (bundled with pyxform, needs Java) checks the XForm like ODK Collect would.
    result = convert(
        xlsform=str(path), warnings=warnings, validate=shutil.which("java") is not None
    )
    assert warnings == []
    root = ET.fromstring(result.xform)
    selects = {el.get("ref", "").rsplit("/", 1)[1]: el for el in root.iter(f"{XF}select1")}
    names = xlsform_column_map(instrument)
    counts = {i.id for i in instrument.items if instrument.scale(i.scale).is_number}
    assert {names[n] for n in selects} == set(instrument.item_ids) - counts
    binds = {b.get("nodeset", "").rsplit("/", 1)[1]: b for b in root.iter(f"{XF}bind")}
    for item_id in counts:
        number = instrument.scale(instrument.item(item_id).scale).number
        assert number is not None
        bind = binds[xlsform_name(item_id)]
        assert bind.get("type") == "int"
        assert bind.get("constraint") == f". >= {number.min} and . <= {number.max}"
    texts = {
        (tr.get("lang"), t.get("id")): "".join(t.itertext())
        for tr in root.iter(f"{XF}translation")
        for t in tr.iter(f"{XF}text")
    }
    for name, element in selects.items():
        item = instrument.item(names[name])
        label_id = element.find(f"{XF}label").get("ref").split("'")[1]  # type: ignore[union-attr]
        assert texts[("Dansk (da)", label_id)] == item.text.da
        assert texts[("English (en)", label_id)] == item.text.en
    for scale in instrument.scales:
        for o in scale.options:
            choice = f"{xlsform_name(scale.id)}-{o.value}"
            assert texts[("Dansk (da)", choice)] == o.label.da
            assert texts[("English (en)", choice)] == o.label.en


# --- REDCap --------------------------------------------------------------------------------------
@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
def test_redcap_dictionary_round_trip_through_csv(instrument: Instrument) -> None:
    dictionary = to_redcap_dictionary(instrument)
    assert tuple(dictionary.columns) == REDCAP_COLUMNS
    names = dictionary["Variable / Field Name"]
    assert names.is_unique and names.str.fullmatch(r"[a-z][a-z0-9_]*").all()
    text = dictionary.to_csv(index=False)
    back = from_redcap_dictionary(text)
    assert back == instrument
    assert back.model_dump() == instrument.model_dump()
    assert set(redcap_column_map(text).values()) == set(instrument.item_ids)


def test_redcap_asks_a_count_as_a_whole_number_and_requires_safety_items() -> None:
    from opsporing.instruments import get_instrument

    inst = get_instrument("opsporing.skole.7-10")
    dd = to_redcap_dictionary(inst).set_index("Variable / Field Name")
    names = {v: k for k, v in redcap_column_map(to_redcap_dictionary(inst)).items()}
    days = dd.loc[names["dev_absence_days"]]
    assert days["Field Type"] == "text" and days["Choices, Calculations, OR Slider Labels"] == ""
    assert days[
        ["Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max"]
    ].tolist() == ["integer", "0", "65"]
    assert dd.loc[names["saf_self_harm"], "Required Field?"] == "y"
    assert dd.loc[names["emo_sad"], "Required Field?"] == ""
    edited = to_redcap_dictionary(inst)
    edited.loc[edited["Variable / Field Name"] == names["dev_absence_days"], "Field Type"] = "radio"
    with pytest.raises(InstrumentDefinitionError, match="Field Type"):
        from_redcap_dictionary(edited.to_csv(index=False))


def test_redcap_records_score_like_the_original_forms() -> None:
    forms = pd.DataFrame(
        [{"m1": 3, "m2": 2, "m3": 0, "p1": 1, "p2": None, "s1": 1, "r1": 3, "r2": 2},
         {"m1": None, "m2": None, "m3": None, "p1": None, "p2": None, "s1": None, "r1": None, "r2": None}]
    )  # fmt: skip
    forms = forms[[c for c in MINI.item_ids if c in forms.columns]]
    columns = {v: k for k, v in redcap_column_map(to_redcap_dictionary(MINI)).items()}
    exported = forms.rename(columns=columns)
    exported.insert(0, "record_id", [1, 2])
    csv = exported.to_csv(index=False)  # what REDCap's "raw" export looks like
    records = from_redcap_records(pd.read_csv(io.StringIO(csv)), MINI)
    got = score_batch(MINI, records, keep=["record_id"])
    want = score_batch(MINI, forms)
    pd.testing.assert_frame_equal(got.drop(columns=["record_id"]), want, check_dtype=False)


def test_edited_or_broken_dictionaries_are_reported_all_at_once() -> None:
    dictionary = to_redcap_dictionary(MINI)
    dictionary.loc[1, "Choices, Calculations, OR Slider Labels"] = "0, Nej | 1, Ja"
    dictionary.loc[2, "Field Type"] = "dropdown"
    meta = json.loads(dictionary.loc[3, "Field Annotation"].split("=", 1)[1])
    meta["domain"] = "nowhere"
    dictionary.loc[3, "Field Annotation"] = "opsporing:item=" + json.dumps(meta)
    with pytest.raises(InstrumentDefinitionError) as exc:
        from_redcap_dictionary(dictionary)
    assert any("nowhere" in str(p.value) or "domain" in p.field for p in exc.value.problems)
    dictionary = to_redcap_dictionary(MINI)
    dictionary.loc[1, "Choices, Calculations, OR Slider Labels"] = "0, Nej | 1, Ja"
    dictionary.loc[2, "Field Type"] = "dropdown"
    with pytest.raises(InstrumentDefinitionError) as exc:
        from_redcap_dictionary(dictionary)
    assert {p.kind for p in exc.value.problems} == {"edited"} and len(exc.value.problems) == 2
    with pytest.raises(InstrumentDefinitionError, match="opsporing_instrument"):
        from_redcap_dictionary(to_redcap_dictionary(MINI).iloc[1:])
    with pytest.raises(InstrumentDefinitionError, match="Field Annotation"):
        from_redcap_dictionary(pd.DataFrame({"Variable / Field Name": ["x"]}))
    broken = to_redcap_dictionary(MINI)
    broken.loc[1, "Field Annotation"] = "opsporing:item={not json"
    with pytest.raises(InstrumentDefinitionError, match="JSON after the opsporing tag"):
        from_redcap_dictionary(broken)


def test_xlsform_submissions_score_like_the_forms(tmp_path: Path) -> None:
    """Headers as ODK Central (group-name), KoboToolbox (group/name) and plain names."""
    from pyxform.xls2xform import convert

    from opsporing.interop import from_xlsform_submissions

    school = next(i for i in INSTRUMENTS if i.id == "opsporing.skole.trivsel")
    result = convert(xlsform=str(to_xlsform(school).write(tmp_path / "f.xlsx")))
    paths = {
        el.get("nodeset", "").rsplit("/", 1)[1]: el.get("nodeset", "")
        for el in ET.fromstring(result.xform).iter(f"{XF}bind")
    }
    forms = pd.DataFrame(
        [{i: v for i, v in zip(school.item_ids, [k % 2, None, 1, 0] * 10, strict=False)}
         for k in range(3)]
    )  # fmt: skip
    headers = {}
    for k, item in enumerate(school.item_ids):
        group_path = paths[xlsform_name(item)].removeprefix("/data/")
        headers[item] = [group_path.replace("/", "-"), group_path, xlsform_name(item)][k % 3]
    exported = forms.rename(columns=headers).astype("Int64").astype("string").fillna("")
    exported.insert(0, "KEY", ["uuid:a", "uuid:b", "uuid:c"])
    back = from_xlsform_submissions(exported, school)
    pd.testing.assert_frame_equal(
        score_batch(school, back, keep=["KEY"]).drop(columns=["KEY"]),
        score_batch(school, forms.astype("float64")),
    )
    exported.loc[1, headers["emo_sad"]] = "often"
    with pytest.raises(ResponseValidationError) as exc:
        from_xlsform_submissions(exported, school)
    assert [(p.field, p.value, p.row) for p in exc.value.problems] == [("emo_sad", "often", 1)]
