"""Attacks on the issue-13 inputs: the other voices of a round and the child's history.

Every request is hostile: a red flag on any form of the round routes the child to the
duty to notify whatever else is wrong, and odd tables are refused by name, never read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from opsporing.decision import suggest_batch
from opsporing.errors import DataError, OpsporingError
from opsporing.instruments import get_instrument
from opsporing.model import StepSuggester, build_features, feature_names
from opsporing.scoring import score_batch

SCHOOL = get_instrument("opsporing.skole.trivsel")
PARENT = get_instrument("opsporing.parent.skole")
CHILD = get_instrument("opsporing.child.11-12")


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    names = feature_names()
    X = pd.DataFrame(rng.random((300, len(names))), columns=names)
    X["missing_fraction"] = 0.0
    y = (X["score.social"] > 0.5).astype(int)
    return StepSuggester(max_iter=5, min_samples_leaf=10, random_state=0).fit(X, y)


def _answers(inst, ids, **overrides):
    table = {"child_id": list(ids)}
    for item in inst.items:
        table[item.id] = [overrides.get(item.id, 0)] * len(ids)
    return pd.DataFrame(table)


def _school(ids, ages, **values):
    forms = pd.DataFrame({"child_id": list(ids), "age_years": list(ages)})
    for item in SCHOOL.items:
        forms[item.id] = values.get(item.id, 0)
    return score_batch(SCHOOL, forms, keep=["child_id", "age_years"])


def _parent(ids, **overrides):
    return score_batch(PARENT, _answers(PARENT, ids, **overrides), keep=["child_id"])


def _child(ids, **overrides):
    return score_batch(CHILD, _answers(CHILD, ids, **overrides), keep=["child_id"])


# --- red flags: never the model, always named first -------------------------------------------
@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda t: t.drop(columns="red_flag"), id="no-red_flag-column"),
        pytest.param(lambda t: t.assign(red_flag="yes"), id="red_flag-text"),
        pytest.param(lambda t: t.assign(red_flag=np.nan), id="red_flag-nan"),
    ],
)
def test_an_odd_informant_table_still_names_the_educators_red_flag(tiny, spoil):
    scores = _school(["a", "b"], [11.5, 12.0], saf_disclosure=1)
    with pytest.raises(DataError) as err:
        suggest_batch(
            tiny, scores, informants={"child": spoil(_child(["a"]))}, id_column="child_id"
        )
    assert str(err.value).startswith("RED FLAG") and "safety.disclosure" in str(err.value)
    assert set(err.value.red_flags) == {"a", "b"}


def test_an_odd_educator_table_still_names_the_childs_red_flag(tiny):
    scores = _school(["a"], [11.5]).drop(columns="red_flag")
    child = _child(["a"], c_safe_hurt=2)
    with pytest.raises(DataError) as err:
        suggest_batch(tiny, scores, informants={"child": child}, id_column="child_id")
    assert str(err.value).startswith("RED FLAG") and "safety.disclosure" in str(err.value)


@pytest.mark.parametrize("column", ["red_flag", None])
def test_a_red_flag_concept_on_a_child_form_without_its_red_flag_column_is_named(tiny, column):
    child = _child(["a"], c_safe_hurt=2)
    child = child.drop(columns="red_flag") if column else child.assign(red_flag="odd")
    with pytest.raises(DataError) as err:
        suggest_batch(
            tiny, _school(["a"], [11.5]), informants={"child": child}, id_column="child_id"
        )
    assert str(err.value).startswith("RED FLAG") and "safety.disclosure" in str(err.value)


def test_red_flags_on_informant_tables_given_as_a_list_are_named(tiny):
    child = _child(["a"], c_safe_hurt=2)
    with pytest.raises(DataError) as err:
        suggest_batch(tiny, _school(["a"], [11.5]), informants=[child], id_column="child_id")
    assert str(err.value).startswith("RED FLAG")


@pytest.mark.parametrize("who", ["scores", "child", "parent"])
def test_a_red_flag_concept_never_reaches_the_model_even_if_red_flag_says_false(tiny, who):
    scores = _school(["a", "b"], [11.5, 12.0])
    parent, child = _parent(["a"]), _child(["a"])
    if who == "scores":
        scores = _school(["a", "b"], [11.5, 12.0], saf_disclosure=1).assign(red_flag=False)
    elif who == "child":
        child = _child(["a"], c_safe_hurt=2).assign(red_flag=False)
    else:
        parent = _parent(["a"], **{PARENT.items[0].id: 0})
        red = [c for c in parent.columns if c == "concept.safety.disclosure"]
        assert red, "the parent form asks about disclosure"
        parent = parent.assign(**{red[0]: True, "red_flag": False})
    out = suggest_batch(
        tiny, scores, informants={"parent": parent, "child": child}, id_column="child_id"
    )
    assert out[0].kind == "notify" and "safety.disclosure" in out[0].red_flags
    assert out[0].probabilities is None


# --- the child's history: ages in order -------------------------------------------------------
def test_an_earlier_screening_after_the_current_one_is_refused_by_row():
    scores = _school(["a", "b", "c"], [11.5, 12.0, 9.0])
    later = _school(["a", "b", "c"], [13.0, 11.0, 9.5])
    with pytest.raises(DataError) as err:
        build_features(scores, [later], id_column="child_id")
    rows = {p.row for p in err.value.problems}
    assert rows == {"a", "c"} and "earlier[0].age_years" in str(err.value)


def test_earlier_tables_out_of_order_are_refused():
    scores = _school(["a"], [12.0])
    with pytest.raises(DataError, match=r"earlier\[1\]\.age_years"):
        build_features(
            scores, [_school(["a"], [11.0]), _school(["a"], [10.0])], id_column="child_id"
        )


def test_same_age_twice_gives_no_slope_not_a_division_by_zero():
    scores = _school(["a"], [12.0], emo_sad=3)
    X = build_features(scores, [_school(["a"], [12.0])], id_column="child_id")
    assert np.isnan(X.loc["a", "slope.emotional"]) and X.loc["a", "n_earlier"] == 1


@pytest.mark.parametrize("age", [np.inf, -np.inf, -5.0, 1e9])
@pytest.mark.parametrize("where", ["scores", "earlier"])
def test_impossible_ages_are_refused(age, where):
    scores = _school(["a", "b"], [11.5, 12.0])
    earlier = _school(["a", "b"], [10.5, 11.0])
    if where == "scores":
        scores = scores.assign(age_years=[11.5, age])
    else:
        earlier = earlier.assign(age_years=[10.5, age])
    with pytest.raises(DataError, match=rf"{where}(\[0\])?\.age_years"):
        build_features(scores, [earlier], id_column="child_id")


# --- numbers outside the form's own range -----------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value"),
    [("score.emotional", 1e9), ("score.emotional", -1.0), ("n_missing", -50), ("n_missing", 10**6)],
)
@pytest.mark.parametrize("where", ["scores", "parent", "earlier"])
def test_numbers_outside_the_forms_range_are_refused(column, value, where):
    scores = _school(["a"], [11.5])
    parent = _parent(["a"])
    earlier = _school(["a"], [10.5])
    if where == "scores":
        scores = scores.assign(**{column: value})
    elif where == "parent":
        parent = parent.assign(**{column: value})
    else:
        earlier = earlier.assign(**{column: value})
    with pytest.raises(DataError, match=column.replace(".", r"\.")):
        build_features(scores, [earlier], informants={"parent": parent}, id_column="child_id")


# --- the CLI's round: every file of the round is read before anything is refused --------------
def _forms(inst, ids, **over):
    table = {"form_id": list(ids)}
    for item in inst.items:
        table[item.id] = [0] * len(ids)
    frame = pd.DataFrame(table)
    for k, v in over.items():
        frame[k] = v
    return frame


def test_a_bad_informant_file_still_names_every_red_flag_of_the_round(tiny):
    from opsporing._jobs import suggestions_table

    forms = _forms(SCHOOL, ["a", "b"], saf_disclosure=[0, 1]).assign(age_years=[11.5, 12.0])
    child = _forms(CHILD, ["a"], c_safe_hurt=[2])
    parent = _forms(PARENT, ["a", "b"], ps_emo_sad=[0, 99])  # row 1: out of range
    with pytest.raises(OpsporingError) as err:
        suggestions_table(
            SCHOOL,
            forms,
            id_column="form_id",
            informants={"parent": (PARENT, parent), "child": (CHILD, child)},
            model=tiny,
        )
    text = str(err.value)
    assert text.startswith("RED FLAG") and text.count("RED FLAG") == 1
    assert set(err.value.red_flags) == {"a", "b"}
    assert "ps_emo_sad" in text  # the bad parent row is still named


def test_a_refused_form_table_names_the_red_flags_of_its_valid_rows_too():
    child = _forms(CHILD, ["a", "b"], c_safe_hurt=[2, 0], c_emo_sad=[0, 99])
    with pytest.raises(OpsporingError) as err:
        score_batch(CHILD, child, keep=["form_id"])
    assert str(err.value).startswith("RED FLAG") and 0 in err.value.red_flags


def test_red_flags_are_merged_never_announced_twice():
    err = DataError("bad").with_red_flags({"a": ("safety.disclosure",)})
    err.with_red_flags({"b": ("safety.disclosure",), "a": ("safety.fear_of_adult",)})
    assert str(err).count("RED FLAG") == 1 and str(err).endswith("\nbad")
    assert err.red_flags == {
        "a": ("safety.disclosure", "safety.fear_of_adult"),
        "b": ("safety.disclosure",),
    }


@pytest.mark.parametrize(
    "option", ["--parent-instrument", "--child-instrument", "--earlier-instrument"]
)
def test_an_instrument_option_without_its_file_is_refused(tmp_path, option):
    from typer.testing import CliRunner

    from opsporing.cli import app

    path = tmp_path / "forms.csv"
    _forms(SCHOOL, ["a"]).to_csv(path, index=False)
    out = CliRunner().invoke(
        app,
        ["suggest", str(path), "-i", "opsporing.skole.trivsel", option, "opsporing.parent.skole"],
    )
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert option in out.output and "without" in out.output


# --- a synthetic population on disk: the layout, not only the checksums -----------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from opsporing.synthetic import SyntheticConfig, generate

    out = tmp_path_factory.mktemp("pop")
    generate(SyntheticConfig(n_children=120, seed=7)).save(out)
    return out


def _tampered(saved, tmp_path, name, change):
    """A copy of ``saved`` whose ``name``.parquet is ``change``d, the manifest re-hashed."""
    import hashlib
    import json
    import shutil

    root = tmp_path / "pop"
    shutil.copytree(saved, root)
    path = root / f"{name}.parquet"
    change(pd.read_parquet(path)).to_parquet(path, index=False)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][path.name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.parametrize(
    ("name", "change", "says"),
    [
        ("forms_parent", lambda f: f.assign(family_background="x"), "family_background"),
        ("forms_child", lambda f: f.assign(name="Ida"), "name"),
        ("children", lambda f: f.assign(cpr="0101901234"), "cpr"),
        ("forms_skole", lambda f: f.drop(columns="rater_id"), "rater_id"),
        ("children", lambda f: f.assign(child_id=[f"0101{i:06d}" for i in range(len(f))]), "CPR"),
        ("forms_child", lambda f: f.assign(child_id="stranger"), "stranger"),
        ("waves", lambda f: f.iloc[:-1], "waves.parquet"),
        ("waves", lambda f: f.assign(wave=f["wave"].to_numpy()[::-1]), "waves.parquet"),
    ],
)
def test_a_re_hashed_population_with_another_layout_is_refused(saved, tmp_path, name, change, says):
    from opsporing.synthetic import SyntheticPopulation

    root = _tampered(saved, tmp_path, name, change)
    with pytest.raises(OpsporingError, match=says):
        SyntheticPopulation.load(root)


def test_an_untouched_population_loads(saved):
    from opsporing.synthetic import SyntheticPopulation

    assert len(SyntheticPopulation.load(saved).children) == 120


# --- the oracle reads answers as the generator writes them, nothing coerced ------------------
@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda col: col.fillna(0) > 0, id="bool-dtype"),
        pytest.param(lambda col: col.astype(str), id="text-numbers"),
        pytest.param(lambda col: col.astype(object).where(col.isna(), True), id="object-bools"),
    ],
)
def test_the_oracle_refuses_answers_that_are_not_numbers(saved, spoil):
    import dataclasses

    from opsporing.synthetic import SyntheticPopulation, oracle_proba

    pop = SyntheticPopulation.load(saved)
    item = next(c for c in pop.forms["parent"].columns if c.startswith(("pd_", "ps_")))
    forms = dict(pop.forms)
    forms["parent"] = forms["parent"].assign(**{item: spoil(forms["parent"][item])})
    with pytest.raises(DataError, match=item):
        oracle_proba(dataclasses.replace(pop, forms=forms), informants=["parent"])


# --- python -m opsporing._measure --informants: bad options are one line, before anything slow -
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--n-children", "-5"], "n_children"),
        (["--n-children", "10000000000"], "n_children"),
        (["--waves", "0"], "--waves"),
        (["--waves", "1"], "--waves"),
        (["--waves", "100"], "n_waves"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_measure_refuses_bad_options_in_one_line(capsys, monkeypatch, argv, says):
    import opsporing.model as model_module
    from opsporing._measure import main

    def no_model(*args, **kwargs):
        raise AssertionError("the model is loaded only after the options are checked")

    monkeypatch.setattr(model_module, "load_model", no_model)
    assert main(["--informants", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_onsets_of_a_single_wave_are_none():
    from opsporing._measure import onsets

    waves = pd.DataFrame(
        {"child_id": ["a", "b"], "wave": [0, 0], "true_step": [0, 2], "screened": [True, True]}
    )
    assert onsets(waves).empty


def test_cli_csv_output_never_carries_a_spreadsheet_formula(tmp_path):
    from typer.testing import CliRunner

    from opsporing.cli import app

    forms = _forms(PARENT, ['=HYPERLINK("http://x","y")', "+1", "ok"]).astype(
        {"ps_emo_sad": object}
    )
    forms.loc[2, "ps_emo_sad"] = "=cmd|' /C calc'!A0"  # a rejected answer, echoed back
    path, out, rejected = tmp_path / "f.csv", tmp_path / "out.csv", tmp_path / "rej.csv"
    forms.to_csv(path, index=False)
    args = ["score", str(path), "-i", "opsporing.parent.skole", "-k", "form_id"]
    CliRunner().invoke(app, [*args, "--rejected", str(rejected)])
    bad = pd.read_csv(rejected, dtype=str)
    assert not bad.stack().str.startswith(("=", "+", "@")).any()
    assert bad["value"].str.contains("cmd").any()  # still named, only neutralised
    forms.loc[2, "ps_emo_sad"] = 0
    forms.to_csv(path, index=False)
    ok = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    written = pd.read_csv(out, dtype=str)
    assert written["form_id"].tolist() == ['\'=HYPERLINK("http://x","y")', "'+1", "ok"]


@pytest.mark.parametrize("where", ["earlier", "parent"])
def test_ids_of_another_kind_are_refused_not_silently_unmatched(where):
    scores = _school([1, 2], [11.5, 12.0])
    earlier, parent = [], {}
    if where == "earlier":
        earlier = [_school(["1", "2"], [10.5, 11.0])]
    else:
        parent = {"parent": _parent(["1"])}
    with pytest.raises(DataError, match="text ids"):
        build_features(scores, earlier, informants=parent, id_column="child_id")


def test_a_cpr_number_as_an_unknown_informant_id_is_masked_in_the_records_too():
    scores = _school(["a"], [11.5])
    parent = _parent(["a"]).assign(child_id=["0101901234"])
    with pytest.raises(DataError) as err:
        build_features(scores, informants={"parent": parent}, id_column="child_id")
    records = err.value.to_frame().astype(str)
    assert not records.stack().str.contains("0101901234").any()
    assert "0101901234" not in str(err.value)


@pytest.mark.parametrize("where", ["earlier", "parent"])
def test_tables_joined_by_row_number_whose_child_ids_disagree_are_refused(where):
    scores = _school(["a", "b"], [11.5, 12.0])  # index 0, 1
    earlier, parent = [], {}
    if where == "earlier":
        earlier = [_school(["b", "a"], [10.5, 11.0])]  # also 0, 1: b's form on row 0
    else:
        parent = {"parent": _parent(["b"])}  # row 0 is b's parents, not a's
    with pytest.raises(DataError, match="id_column='child_id'"):
        build_features(scores, earlier, informants=parent)
    # the same tables matched by child: fine
    build_features(scores, earlier, informants=parent, id_column="child_id")
