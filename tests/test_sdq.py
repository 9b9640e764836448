"""SDQ as it is used: reading KL Gateway and table exports, published scoring, sourced bands.

Every expected score below is worked out by hand from the published rules (items 7, 11, 14,
21, 25 reversed; a subscale needs 3 of 5 answers and is prorated as round(mean x 5); impact
recodes 0,0,1,2), in the comment next to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsporing.cli import app
from opsporing.errors import DataError, OpsporingError, ResponseValidationError
from opsporing.fhir import SDQ_IMPACT_ITEMS
from opsporing.fhir._sdq import SDQ_CHRONICITY, SDQ_DIFFICULTIES, SDQ_ITEMS
from opsporing.interop import (
    SdqResponse,
    read_sdq,
    score_sdq_responses,
    sdq_bands,
    sdq_key,
    sdq_responses_from_records,
)

KL = "http://fhir.kl.dk/children/Questionnaire/klgateway-children-"
ITEMS = [f"item{n}" for n in range(1, 26)]
#: KL's answer strings by raw answer (the answer options of its SDQ questionnaires).
KL_ITEM = ["Passer ikke", "Passer delvist", "Passer godt"]
KL_IMPACT = ["Slet ikke", "Kun lidt", "Ret meget", "Virkelig meget"]


def _row(respondent: str, answers: list[int | str], **extra: Any) -> dict[str, Any]:
    return {"respondent": respondent, "child": "C-1", **dict(zip(ITEMS, answers, strict=True)),
            **extra}  # fmt: skip


def _scores(respondent: str, answers: list[int | str], **extra: Any) -> dict[str, Any]:
    (r,) = sdq_responses_from_records([_row(respondent, answers, **extra)])
    row = score_sdq_responses([r]).iloc[0]
    return {k.removeprefix("score."): row[k] for k in row.index if k.startswith("score.")}


# --- hand-scored examples, one per informant --------------------------------------------------
#: A parent's answers, items 1-25 as marked.
PARENT = [2, 1, 0, 2, 1, 0, 1, 2, 2, 1, 2, 0, 1, 2, 2, 0, 2, 0, 0, 1, 1, 0, 0, 1, 0]


def test_parent_response_scored_by_hand() -> None:
    got = _scores("parent", PARENT, impact_difficulties=2, impact_distress=2, impact_home=3,
                  impact_friendships=0, impact_classroom=1, impact_leisure=2)  # fmt: skip
    # emotional 3,8,13,16,24 = 0+2+1+0+1 = 4
    # conduct 5,7r,12,18,22 = 1+(2-1)+0+0+0 = 2
    # hyperactivity 2,10,15,21r,25r = 1+1+2+(2-1)+(2-0) = 7
    # peer 6,11r,14r,19,23 = 0+(2-2)+(2-2)+0+0 = 0
    # prosocial 1,4,9,17,20 = 2+2+2+2+1 = 9 ; total 4+2+7+0 = 13
    # impact: distress 2->1, home 3->2, friendships 0->0, classroom 1->0, leisure 2->1 = 4
    assert got == {"emotional": 4, "conduct": 2, "hyperactivity": 7, "peer": 0,
                   "prosocial": 9, "total": 13, "impact": 4,
                   "externalising": 2 + 7, "internalising": 4 + 0}  # fmt: skip


def test_teacher_response_scored_by_hand_with_three_impact_items() -> None:
    answers = [0, 2, 1, 1, 2, 1, 0, 0, 1, 2, 1, 2, 0, 0, 2, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0]
    got = _scores("lærer", answers, impact_difficulties=3, impact_distress=1,
                  impact_friendships=3, impact_classroom=2)  # fmt: skip
    # emotional 3,8,13,16,24 = 1+0+0+1+0 = 2
    # conduct 5,7r,12,18,22 = 2+2+2+1+0 = 7
    # hyperactivity 2,10,15,21r,25r = 2+2+2+2+2 = 10
    # peer 6,11r,14r,19,23 = 1+1+2+1+1 = 6
    # prosocial 1,4,9,17,20 = 0+1+1+0+0 = 2 ; total 2+7+10+6 = 25
    # impact (teacher: distress, peers, classroom) 1->0, 3->2, 2->1 = 3; home/leisure not asked
    assert got == {"emotional": 2, "conduct": 7, "hyperactivity": 10, "peer": 6,
                   "prosocial": 2, "total": 25, "impact": 3,
                   "externalising": 7 + 10, "internalising": 2 + 6}  # fmt: skip


def test_self_report_with_blanks_is_prorated_and_difficulties_no_means_impact_zero() -> None:
    answers: list[int | str] = [2, 1, 2, "", 0, 1, 2, 2, "", 0, 2, 0, "", 2, 1, 2, 2, 0, 0, 2, 2,
                                0, 0, 1, 1]  # fmt: skip
    got = _scores("self", answers, impact_difficulties=0)
    # emotional 3,8,13,16,24 = 2+2+_+2+1 -> mean 7/4 x 5 = 8.75 -> 9
    # conduct 5,7r,12,18,22 = 0+0+0+0+0 = 0
    # hyperactivity 2,10,15,21r,25r = 1+0+1+0+1 = 3
    # peer 6,11r,14r,19,23 = 1+0+0+0+0 = 1
    # prosocial 1,4,9,17,20 = 2+_+_+2+2 -> 6/3 x 5 = 10 ; total 9+0+3+1 = 13 ; impact 0
    assert got == {"emotional": 9, "conduct": 0, "hyperactivity": 3, "peer": 1,
                   "prosocial": 10, "total": 13, "impact": 0,
                   "externalising": 0 + 3, "internalising": 9 + 1}  # fmt: skip


def test_a_half_is_rounded_up_like_the_published_syntax() -> None:
    answers: list[int | str] = [0] * 25
    for n, v in ((3, 1), (8, 1), (13, ""), (16, ""), (24, 0)):
        answers[n - 1] = v
    # emotional: 1+1+0 over 3 answered -> 2/3 x 5 = 3.33 -> 3 ; with 4 answered: 2/4 x 5 = 2.5 -> 3
    assert _scores("parent", answers)["emotional"] == 3
    answers[15] = 0
    assert _scores("parent", answers)["emotional"] == 3


def test_fewer_than_three_answers_is_not_scorable_never_zero() -> None:
    answers: list[int | str] = [1] * 25
    for n in (3, 8, 13):  # emotional keeps 16 and 24 only
        answers[n - 1] = ""
    got = _scores("parent", answers, impact_difficulties=1)
    assert got["emotional"] is pd.NA
    assert got["total"] is pd.NA and got["conduct"] == 5
    assert got["impact"] is pd.NA  # difficulties "yes" but no impact item answered
    # one impact item answered: the others count 0, as in the published syntax (2 -> 1)
    assert _scores("parent", answers, impact_difficulties=1, impact_distress=2)["impact"] == 1


# --- bands, each labelled with its source -----------------------------------------------------
def _bands(response: SdqResponse) -> dict[tuple[str, str], str | None]:
    table = sdq_bands([response])
    return {(r.band_set, r.scale): r.band for r in table.itertuples() if r.band_set}


def test_parent_bands_use_the_uk_cut_offs_and_danish_norms_where_they_apply() -> None:
    (r,) = sdq_responses_from_records([_row("parent", PARENT, age_years=6, sex="dreng")])
    got = _bands(r)
    # UK parent 3-band: total 13 < 14 normal; emotional 4 borderline (4); hyperactivity 7 abnormal
    assert got[("uk-3band-parent", "total")] == "normal"
    assert got[("uk-3band-parent", "emotional")] == "borderline"
    assert got[("uk-3band-parent", "hyperactivity")] == "abnormal"
    assert got[("uk-3band-parent", "prosocial")] == "normal"  # 9 > 5
    # Danish boys 5-7: total 13 borderline (10-13), emotional 4 borderline, hyperactivity 7 abnormal
    assert got[("dk-parent-5-7-boys", "total")] == "borderline"
    assert got[("dk-parent-5-7-boys", "hyperactivity")] == "abnormal"
    assert not any(k[0] == "dk-parent-5-7-girls" for k in got)


@pytest.mark.parametrize(
    ("age", "sex", "sets"),
    [
        (6, "girl", {"uk-3band-parent", "dk-parent-5-7-girls"}),
        (7.9, "boy", {"uk-3band-parent", "dk-parent-5-7-boys"}),
        (8, "boy", {"uk-3band-parent"}),  # the Danish 5-7 norms end before 8
        (6, None, {"uk-3band-parent"}),  # sex-stratified norms need the sex
        (None, "girl", {"uk-3band-parent"}),  # no age: only the default (UK) set
        (3, None, set()),  # below the UK 4-17 range: scored, not banded
    ],
)
def test_which_band_sets_apply(age: float | None, sex: str | None, sets: set[str]) -> None:
    r = SdqResponse("parent", "C", (1,) * 25, age_years=age, sex=sex)  # type: ignore[arg-type]
    table = sdq_bands([r])
    assert set(table["band_set"].dropna()) == sets
    assert set(table["scale"]) == {"total", "emotional", "conduct", "hyperactivity", "peer",
                                   "prosocial", "impact"}  # fmt: skip


def test_teacher_four_bands_and_a_strength_scale_reads_low_not_high() -> None:
    r = SdqResponse("teacher", "C", (0,) * 25)
    table = sdq_bands([r]).set_index("scale")
    # all 0: peer = 11r + 14r = 4 -> slightly raised (3-4); prosocial 0 -> very low (0-3)
    assert table.loc["peer", "band"] == "slightly_raised"
    assert table.loc["prosocial", "band"] == "very_high"
    assert table.loc["prosocial", "band_en"] == "Very low"
    assert table.loc["prosocial", "band_da"] == "Meget lav"


def test_every_band_names_its_source_and_self_reports_are_not_banded() -> None:
    key = sdq_key()
    assert all("doi:" in b.source or "PMC" in b.source for b in key.band_sets)
    r = SdqResponse("self", "C", (2,) * 25, age_years=14)
    table = sdq_bands([r])
    assert table["band_set"].isna().all() and table["source"].isna().all()
    assert table.set_index("scale").loc["total", "score"] == 30


def test_the_scoring_key_ships_no_questionnaire_wording() -> None:
    text = Path(__file__).parents[1].joinpath("src/opsporing/interop/data/sdq.yaml").read_text()
    for wording in ("hensynsfuld", "rastløs", "hovedpine", "considerate", "restless", "headache"):
        assert wording not in text.lower()


# --- reading: KL Gateway FHIR -----------------------------------------------------------------
def _qr(kind: str, answers: list[int], impact: list[int] | None = None, **top: Any) -> dict:
    items = [{"linkId": link, "answer": [{"valueString": KL_ITEM[a]}]}
             for link, a in zip(SDQ_ITEMS, answers, strict=True)]  # fmt: skip
    if impact is not None:
        difficulties = ["Nej", "Ja, mindre vanskeligheder", "Ja, tydelige vanskeligheder",
                        "Ja, alvorlige vanskeligheder"]  # fmt: skip
        items.append(
            {"linkId": SDQ_DIFFICULTIES, "answer": [{"valueString": difficulties[impact[0]]}]}
        )
        items.append({"linkId": SDQ_CHRONICITY, "answer": [{"valueString": "1-5 måneder"}]})
        for link, a in zip(SDQ_IMPACT_ITEMS, impact[1:], strict=True):
            items.append({"linkId": link, "answer": [{"valueString": KL_IMPACT[a]}]})
    return {"resourceType": "QuestionnaireResponse", "id": f"qr-{kind}", "status": "completed",
            "questionnaire": KL + kind, "subject": {"reference": "Patient/pseudo-17"},
            "authored": "2026-02-03", "item": items, **top}  # fmt: skip


def test_a_kl_gateway_bundle_takes_the_informant_from_each_response(tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _qr("sdq4-10", PARENT, [1, 3, 0, 2, 1, 0])},
        {"resource": _qr("sdq11-17", [2] * 25)},
    ]}  # fmt: skip
    path = tmp_path / "kl.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    parent, child = read_sdq(path)
    assert (parent.respondent, child.respondent) == ("parent", "self")
    assert parent.child == "pseudo-17" and parent.date == "2026-02-03"
    row = score_sdq_responses([parent, child])
    # parent as in the hand-scored example; impact 3->2, 0->0, 2->1, 1->0, 0->0 = 3
    assert row["score.total"].tolist() == [13, 30]
    assert row["score.impact"].tolist()[0] == 3


def test_ndjson_export_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "kl.ndjson"
    lines = [json.dumps(_qr("sdq4-10", [1] * 25)), "", json.dumps(_qr("sdq11-17", [0] * 25))]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert [r.respondent for r in read_sdq(path)] == ["parent", "self"]


def test_every_bad_fhir_answer_of_every_response_is_reported(tmp_path: Path) -> None:
    bad = _qr("sdq4-10", [1] * 25)
    bad["item"][6]["answer"] = [{"valueString": "Passer måske"}]
    bad["item"][9]["answer"] = [{"valueInteger": 7}]
    other = _qr("sdq-teacher-9", [1] * 25, status="in-progress")
    other["subject"] = {"reference": "Patient/0101901234"}  # CPR-shaped: never echoed
    path = tmp_path / "kl.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [
        {"resource": bad}, {"resource": other}, {"resource": {"resourceType": "Patient"}}]}))  # fmt: skip
    with pytest.raises(ResponseValidationError) as err:
        read_sdq(path)
    found = {(str(p.row).split()[0], p.field) for p in err.value.problems}
    assert found == {
        ("entry[0]", "7followInstructions"), ("entry[0]", "10restlessBody"),
        ("entry[1]", "questionnaire"), ("entry[1]", "status"), ("entry[1]", "subject.reference"),
        ("entry[2]", "resourceType"),
    }  # fmt: skip
    assert "0101901234" not in str(err.value)
    assert "Passer måske" in str(err.value)


# --- reading: the assumed table layout --------------------------------------------------------
def test_every_bad_cell_of_every_row_is_reported_with_its_row(tmp_path: Path) -> None:
    head = "respondent;child;date;age_years;sex;" + ";".join(ITEMS) + ";impact_difficulties"
    rows = [
        "forælder;A-1;2026-01-05;6;pige;" + ";".join(["1"] * 25) + ";0",
        "teacher;A-2;5/1/2026;six;x;" + ";".join(["1"] * 24 + ["3"]) + ";4",
        "mor;;;;;" + ";".join(["1"] * 23 + ["Ja", "1,5"]) + ";",
    ]
    path = tmp_path / "sdq.csv"
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(ResponseValidationError) as err:
        read_sdq(path)
    found = sorted((p.row, p.field) for p in err.value.problems)
    assert found == [
        (2, "age_years"), (2, "date"), (2, "impact_difficulties"), (2, "item25"), (2, "sex"),
        (3, "child"), (3, "item24"), (3, "item25"), (3, "respondent"),
    ]  # fmt: skip
    assert all(p.expected for p in err.value.problems)


def test_unknown_and_missing_columns_are_refused_not_dropped(tmp_path: Path) -> None:
    records = [{"respondent": "parent", "child": "A", "score": 3,
                **{i: 1 for i in ITEMS[:-1]}}]  # fmt: skip
    with pytest.raises(ResponseValidationError) as err:
        sdq_responses_from_records(records)
    assert {(p.field, p.kind) for p in err.value.problems} == {
        ("score", "unknown_column"),
        ("item25", "missing_column"),
    }


def test_json_records_in_the_table_layout(tmp_path: Path) -> None:
    path = tmp_path / "sdq.json"
    path.write_text(json.dumps([_row("teacher", [0] * 25, date="2026-04-01")]))
    (r,) = read_sdq(path)
    assert (r.respondent, r.date, r.items[6]) == ("teacher", "2026-04-01", 0)


@pytest.mark.parametrize(
    ("name", "content"),
    [("x.json", "{not json"), ("x.txt", "a,b"), ("x.csv", b"\xff\xfe\x00bad"),
     ("x.ndjson", '{"resourceType": "QuestionnaireResponse"}\n[1,')],
)  # fmt: skip
def test_unreadable_files_are_a_data_error(tmp_path: Path, name: str, content: str | bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError):
        read_sdq(path)


def test_every_line_of_an_ndjson_export_that_is_no_json_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "kl.ndjson"
    good = json.dumps(_qr("sdq4-10", [1] * 25))
    path.write_text("\n".join(['{"a":', good, "[[[", good, "nope"]), encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_sdq(path)
    assert [p.field.rsplit(" ", 1)[-1] for p in err.value.problems] == ["1", "3", "5"]


@pytest.mark.parametrize("ref", [["Patient/A-1"], {"reference": "A-1"}, 17, True])
def test_a_subject_reference_that_is_no_text_is_refused(tmp_path: Path, ref: object) -> None:
    path = tmp_path / "kl.json"
    path.write_text(json.dumps(_qr("sdq4-10", [1] * 25, subject={"reference": ref})))
    with pytest.raises(ResponseValidationError) as err:
        read_sdq(path)
    assert [p.field for p in err.value.problems] == ["subject.reference"]


def test_a_ragged_csv_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sdq.csv"
    path.write_text("respondent,child," + ",".join(ITEMS) + "\nparent,A,1,1\n")
    with pytest.raises(OpsporingError, match="missing cells"):
        read_sdq(path)


# --- the command line -------------------------------------------------------------------------
def test_cli_prints_bands_with_sources_and_json_for_programs(tmp_path: Path) -> None:
    path = tmp_path / "sdq.json"
    path.write_text(json.dumps([_row("parent", PARENT, age_years=6, sex="girl")]))
    runner = CliRunner()
    out = runner.invoke(app, ["sdq", str(path), "--lang", "en"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "UK norms, 3 bands (parent, 4-17 years)" in out.output
    assert "Danish norms, girls 5-7 years (parent)" in out.output
    assert "doi:10.1186/s12887-023-03837-1" in out.output
    data = json.loads(runner.invoke(app, ["sdq", str(path), "--format", "json"]).output)
    dk_total = [r for r in data if r["band_set"] == "dk-parent-5-7-girls" and r["scale"] == "total"]
    assert dk_total == [dict(dk_total[0], score=13, band="abnormal")]  # girls: 12+ abnormal


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "sdq.json"
    path.write_text(json.dumps([_row("principal", [1] * 25)]))
    out = CliRunner().invoke(app, ["sdq", str(path)])
    assert out.exit_code == 2
    assert "respondent" in out.output and "Traceback" not in out.output
