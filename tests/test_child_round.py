"""Screening rounds: several informants for one child at one time, disagreement as information."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from opsporing.child import (
    RoundForm,
    ScreeningRound,
    concern_level,
    score_round,
    score_rounds,
)
from opsporing.cli import app
from opsporing.errors import ResponseValidationError
from opsporing.instruments import Instrument, get_instrument, load_instrument

DATA = Path(__file__).parent / "data"
SCHOOL = get_instrument("opsporing.skole.trivsel")
DAYCARE = get_instrument("opsporing.dagtilbud.trivsel")
WHEN = date(2026, 10, 1)


@pytest.fixture(scope="module")
def parent() -> Instrument:
    return load_instrument(DATA / "round_parent.yaml")


@pytest.fixture(scope="module")
def child() -> Instrument:
    return load_instrument(DATA / "round_child.yaml")


def answers(inst: Instrument, **by_domain: int) -> dict[str, int]:
    """Every item of the named domains answered so that its *keyed* value is the given one."""
    out = {}
    for item in inst.items:
        if item.domain in by_domain:
            scale = inst.scale(item.scale)
            v = by_domain[item.domain]
            out[item.id] = scale.min + scale.max - v if item.reverse else v
    return out


def form(
    inst: Instrument, child_id: str = "C1", round_id: str = "r1", **by_domain: int
) -> RoundForm:
    return RoundForm(child_id, round_id, WHEN, inst, answers(inst, **by_domain))


# --- one round -----------------------------------------------------------------------------------
def test_conflicting_informants_show_the_disagreement(parent: Instrument) -> None:
    # The educator: every emotional item "Næsten altid" (12 of 0-12, rød from 7).
    # The parent: every emotional item "Aldrig" (0, grøn).
    r = score_round([form(SCHOOL, emotional=3), form(parent, emotional=0)])
    d = r.domain("emotional")
    assert d.disagreement == "conflict"
    assert d.band_gap == 2
    assert d.combined_band == "rød"  # the most concerned voice, never an average
    assert [(v.informant, v.score, v.band, v.level) for v in d.views] == [
        ("educator", 12.0, "rød", 1.0),
        ("parent", 0.0, "grøn", 0.0),
    ]
    assert d.level_spread == 1.0
    assert d.sentence("en").startswith(
        "Emotional well-being: the educator sees red, the parent sees green. The informants see "
        "the child very differently"
    )
    assert d.sentence("da").startswith(
        "Følelsesmæssig trivsel: pædagogen/læreren ser rød, forælderen ser grøn. Informanterne "
        "ser barnet meget forskelligt"
    )
    assert r.disagreements() == (d,)


@pytest.mark.parametrize(
    ("educator", "parent_value", "level", "gap", "combined"),
    [
        (0, 0, "agree", 0, "grøn"),   # 0 and 0: both grøn
        (1, 2, "differ", 1, "rød"),   # 4 (gul) and 8 (rød)
        (2, 1, "differ", 1, "rød"),   # 8 (rød) and 4 (gul)
        (3, 3, "agree", 0, "rød"),
    ],
)  # fmt: skip
def test_the_disagreement_level_is_the_band_gap(
    parent: Instrument, educator: int, parent_value: int, level: str, gap: int, combined: str
) -> None:
    r = score_round([form(SCHOOL, social=educator), form(parent, social=parent_value)])
    d = r.domain("social")
    assert (d.disagreement, d.band_gap, d.combined_band) == (level, gap, combined)


def test_a_domain_only_one_informant_scored_is_one_voice_not_agreement(parent: Instrument) -> None:
    r = score_round([form(SCHOOL, behaviour=2, emotional=0), form(parent, emotional=0)])
    assert r.domain("behaviour").disagreement == "single"
    assert r.domain("behaviour").sentence("en") == "Behaviour: only the educator scored it (red)."
    assert r.domain("care").disagreement == "unscored"  # nobody answered
    assert r.domain("care").combined_band is None
    assert r.domain("emotional").disagreement == "agree"


def test_three_informants_on_different_scales_line_up_on_the_concern_level(
    parent: Instrument, child: Instrument
) -> None:
    r = score_round([
        form(child, emotional=1),    # 3 of 0-6: level 0.5, gul (from 2)
        form(SCHOOL, emotional=1),   # 4 of 0-12: level 1/3, gul (from 4)
        form(parent, emotional=0),   # 0: level 0, grøn
    ])  # fmt: skip
    assert r.informants == ("educator", "parent", "child")  # shown in a fixed order
    d = r.domain("emotional")
    assert [v.level for v in d.views] == pytest.approx([1 / 3, 0.0, 0.5])
    assert (d.disagreement, d.level_spread) == ("differ", pytest.approx(0.5))
    frame = r.to_frame("en")
    row = frame.set_index("domain").loc["emotional"]
    assert (row["band.educator"], row["band.parent"], row["band.child"]) == ("gul", "grøn", "gul")
    assert row["sentence"] == d.sentence("en")


def test_a_strength_domain_counts_towards_concern_on_the_common_scale(parent: Instrument) -> None:
    assert concern_level(parent, "resources", 6.0) == 0.0
    assert concern_level(parent, "resources", 0.0) == 1.0
    assert concern_level(SCHOOL, "emotional", None) is None


def test_a_red_flag_in_any_form_shows_on_the_round(parent: Instrument) -> None:
    flagged = {"saf_disclosure": 1, **answers(SCHOOL, emotional=0)}
    r = score_round([RoundForm("C1", "r1", WHEN, SCHOOL, flagged), form(parent, emotional=0)])
    assert r.red_flags and r.overall_band == "rød"


# --- validation --------------------------------------------------------------------------------
def test_forms_of_different_children_or_rounds_are_refused_by_field(parent: Instrument) -> None:
    with pytest.raises(ResponseValidationError) as err:
        score_round([form(SCHOOL), form(parent, child_id="C2"), form(parent, round_id="r2")])
    kinds = {(p.row, p.field, p.kind) for p in err.value.problems}
    assert (1, "child_id", "different_round") in kinds
    assert (2, "round_id", "different_round") in kinds
    assert (2, "informant", "duplicate_informant") in kinds  # two parent forms
    assert "'C1'" in str(err.value)  # names what was expected


def test_every_bad_form_is_reported_not_only_the_first(parent: Instrument) -> None:
    bad_school = RoundForm("C1", "r1", WHEN, SCHOOL, {"emo_sad": 7})
    bad_parent = RoundForm("C1", "r1", "yesterday", parent, {"p_emo_sad": -1, "nope": 1})  # type: ignore[arg-type]
    with pytest.raises(ResponseValidationError) as err:
        score_round([bad_school, bad_parent])
    found = {(p.row, p.field, p.kind) for p in err.value.problems}
    assert found == {
        (0, "emo_sad", "out_of_range"),
        (1, "date", "not_a_date"),
        (1, "p_emo_sad", "out_of_range"),
        (1, "nope", "unknown_item"),
    }


def test_a_cpr_number_as_child_id_is_refused_and_never_echoed() -> None:
    with pytest.raises(ResponseValidationError) as err:
        score_round([RoundForm("010203-1234", "r1", WHEN, SCHOOL, {})])
    assert err.value.problems[0].kind == "personal_identifier"
    assert "1234" not in str(err.value)


@pytest.mark.parametrize("bad", [[], "not forms", None, [object()]])
def test_a_round_of_no_forms_is_a_typed_error(bad: object) -> None:
    with pytest.raises(ResponseValidationError):
        score_round(bad)  # type: ignore[arg-type]


# --- a table of rounds -------------------------------------------------------------------------
def _row(
    inst: Instrument, child_id: str, round_id: str, day: str, **by_domain: int
) -> dict[str, object]:
    return {"child_id": child_id, "round_id": round_id, "date": day, "instrument_id": inst.id,
            **answers(inst, **by_domain)}  # fmt: skip


def test_a_table_of_forms_gives_the_same_rounds_as_one_at_a_time(parent: Instrument) -> None:
    table = pd.DataFrame([
        _row(SCHOOL, "C1", "r1", "2026-10-01", emotional=3, social=1),
        _row(parent, "C1", "r1", "2026-10-04", emotional=0, social=1),
        _row(SCHOOL, "C2", "r1", "2026-10-02", emotional=1),
    ])  # fmt: skip
    result = score_rounds(table, instruments=[parent])
    assert [(r.child_id, r.informants) for r in result.rounds] == [
        ("C1", ("educator", "parent")),
        ("C2", ("educator",)),
    ]
    one = score_round([
        RoundForm("C1", "r1", date(2026, 10, 1), SCHOOL, answers(SCHOOL, emotional=3, social=1)),
        RoundForm("C1", "r1", date(2026, 10, 4), parent, answers(parent, emotional=0, social=1)),
    ])  # fmt: skip
    assert result.rounds[0] == one
    assert result.rounds[0].date == date(2026, 10, 1)  # the round's first form
    assert result.rejected.empty


def test_a_table_reports_every_bad_row_and_rejects_a_round_whole(parent: Instrument) -> None:
    table = pd.DataFrame([
        _row(SCHOOL, "C1", "r1", "2026-10-01", emotional=3),
        _row(parent, "C1", "r1", "2026-13-01", emotional=0),     # no 13th month
        _row(SCHOOL, "C2", "r1", "2026-10-01", emotional=1),     # fine, kept
        _row(SCHOOL, "010203-1234", "r1", "2026-10-01"),          # a CPR number
        {**_row(SCHOOL, "C4", "r1", "2026-10-01"), "p_emo_sad": 2},  # a parent item on a school row
        _row(SCHOOL, "C5", "r1", "2026-10-01") | {"instrument_id": "no.such"},
        _row(SCHOOL, "C6", "r1", "2026-10-01", emotional=1),
        _row(SCHOOL, "C6", "r1", "2026-10-01", emotional=2),     # two educator forms
    ])  # fmt: skip
    with pytest.raises(ResponseValidationError) as err:
        score_rounds(table, instruments=[parent])
    found = {(p.row, p.field, p.kind) for p in err.value.problems}
    assert {
        (1, "date", "not_a_date"),
        (0, "round_id", "round_incomplete"),  # the educator's form of C1 goes with it
        (3, "child_id", "personal_identifier"),
        (4, "p_emo_sad", "unknown_item"),
        (5, "instrument_id", "unknown_instrument"),
        (6, "informant", "duplicate_informant"),
        (7, "informant", "duplicate_informant"),
    } <= found
    assert "1234" not in str(err.value)
    kept = score_rounds(table, instruments=[parent], errors="collect")
    assert [r.child_id for r in kept.rounds] == ["C2"]
    assert set(kept.rejected["row"]) == {0, 1, 3, 4, 5, 6, 7}  # every other row is named


def test_a_table_without_the_round_columns_is_refused_naming_them() -> None:
    with pytest.raises(ResponseValidationError) as err:
        score_rounds(pd.DataFrame({"child_id": ["C1"], "emo_sad": [1]}))
    assert {p.field for p in err.value.problems} == {"round_id", "date", "instrument_id"}


# --- the command line --------------------------------------------------------------------------
def test_the_round_verb_shows_each_informant_and_the_disagreement(
    tmp_path: Path, parent: Instrument
) -> None:
    path = tmp_path / "forms.csv"
    pd.DataFrame([
        _row(SCHOOL, "C1", "r1", "2026-10-01", emotional=3),
        _row(parent, "C1", "r1", "2026-10-04", emotional=0),
    ]).to_csv(path, index=False)  # fmt: skip
    runner = CliRunner()
    args = ["round", str(path), "-i", str(DATA / "round_parent.yaml")]
    shown = runner.invoke(app, [*args, "--lang", "en"], env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    assert "the educator sees red, the parent sees green" in shown.output
    as_json = runner.invoke(app, [*args, "--format", "json"])
    rows = json.loads(as_json.output)
    emo = next(r for r in rows if r["domain"] == "emotional")
    assert (emo["band.educator"], emo["band.parent"], emo["disagreement"]) == (
        "rød",
        "grøn",
        "conflict",
    )
    failed = runner.invoke(app, ["round", str(path)])  # the parent form is unknown without -i
    assert failed.exit_code == 2
    assert "test.parent" in failed.output


@pytest.mark.parametrize("text", ["[/x]", "[bold]C1", "[link=http://evil.example]C1[/link]"])
def test_rich_markup_in_the_ids_is_shown_as_written(tmp_path: Path, text: str) -> None:
    path = tmp_path / "forms.csv"
    pd.DataFrame([_row(SCHOOL, f"C{text}", text, "2026-10-01", emotional=3)]).to_csv(
        path, index=False
    )
    shown = CliRunner().invoke(app, ["round", str(path), "--lang", "en"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"child C{text}, round {text}" in " ".join(shown.output.split())


def test_rounds_are_frozen(parent: Instrument) -> None:
    r = score_round([form(SCHOOL, emotional=1)])
    assert isinstance(r, ScreeningRound)
    with pytest.raises(AttributeError):
        r.child_id = "C2"  # type: ignore[misc]


_CHILD = load_instrument(DATA / "round_child.yaml")
_PARENT = load_instrument(DATA / "round_parent.yaml")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=3, max_size=3),
    st.permutations([0, 1, 2]),
)
def test_the_order_of_the_forms_does_not_change_the_round(
    values: list[int], order: list[int]
) -> None:
    forms = [
        form(SCHOOL, emotional=values[0], social=values[0]),
        form(_PARENT, emotional=values[1], social=values[1]),
        form(_CHILD, emotional=min(values[2], 2), social=min(values[2], 2)),
    ]
    r = score_round([forms[i] for i in order])
    assert r == score_round(forms)
    for d in r.domains:  # the combined band is the worst voice, whatever the order
        bands = [v.band for v in d.views if v.band is not None]
        ranks = ["grøn", "gul", "rød"]
        assert d.combined_band == (max(bands, key=ranks.index) if bands else None)
