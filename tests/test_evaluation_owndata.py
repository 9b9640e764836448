"""Own data: the documented format, its checks, and the same figures as the synthetic path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import ResponseValidationError
from opsporing.evaluation import (
    evaluate_own_data,
    own_data_from_population,
    read_own_data,
    write_own_data,
)
from opsporing.evaluation._owneval import (
    BAND_RULE,
    MODEL_PROBABILITY,
    MODEL_SUGGESTION,
    MODEL_SUGGESTION_ABSTAIN_FLAGS,
    evaluate_population,
)
from opsporing.model import load_model
from opsporing.synthetic import SyntheticConfig, generate

GROUPS = ["sex", "municipality", "setting", "family_background"]


@pytest.fixture(scope="module")
def pop() -> object:
    return generate(SyntheticConfig(n_children=400, seed=5), progress=False)


@pytest.fixture(scope="module")
def model() -> object:
    return load_model()


@pytest.fixture(scope="module")
def files(pop: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_own_data(pop, tmp_path_factory.mktemp("own"))


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    s = pd.DataFrame(
        {
            "child_id": ["A", "A", "B"],
            "family_id": ["F1", "F1", "F1"],
            "screening_date": ["2025-09-15", "2026-09-15", "2026-09-15"],
            "instrument_id": ["opsporing.skole.trivsel"] * 3,
            "age_years": [8.0, 9.0, 11.0],
            "emo_sad": [0, 2, 3],
            "sex": ["pige", "pige", "dreng"],
        }
    )
    o = pd.DataFrame(
        {
            "child_id": ["A", "B"],
            "outcome_date": ["2026-12-01", "2026-12-01"],
            "decided_step": [0, 2],
            "notified": [0, 1],
        }
    )
    return s, o


@pytest.fixture(scope="module")
def own(files: tuple[Path, Path], model: object, tmp_path_factory: pytest.TempPathFactory) -> Any:
    screenings, outcomes = files
    return evaluate_own_data(
        screenings,
        outcomes,
        model=model,
        groups=GROUPS,
        n_boot=50,
        path=tmp_path_factory.mktemp("report") / "r.html",
        lang="da",
    )


@pytest.mark.slow
def test_the_full_own_data_path_gives_the_synthetic_paths_figures(
    pop: object, model: object, own: Any
) -> None:
    """Written to CSV in the documented format, read back, scored, suggested: same figures."""
    synthetic = evaluate_population(pop, model=model, n_boot=0)
    scores = [MODEL_PROBABILITY, MODEL_SUGGESTION, MODEL_SUGGESTION_ABSTAIN_FLAGS, BAND_RULE]
    a = own.figures().set_index("score").loc[scores]
    b = synthetic.figures().set_index("score").loc[scores]
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(own.accounting, synthetic.accounting)
    assert own.accounting.loc["all", "all"] == 400
    # the synthetic path also has the oracle; the own-data path cannot
    assert "oracle" in set(synthetic.figures()["score"]) - set(own.figures()["score"])
    # the model never saw the groups, yet they are in the evaluation table
    assert {"sex", "family_background"} <= set(own.table.columns)
    assert own.provenance["model_sha256"] == model.artifact_sha256_  # type: ignore[attr-defined]
    assert len(own.provenance["data_sha256"]) == 64


def test_report_states_accounting_provenance_and_no_brier_for_rules(own: Any) -> None:
    ev = own
    assert ev.path is not None
    text = ev.path.read_text(encoding="utf-8")
    assert "Accounting: who got which suggestion" in text
    assert ev.provenance["data_sha256"] in text and "model_sha256" in text
    fig = ev.figures().set_index("score")
    for rule in (MODEL_SUGGESTION, MODEL_SUGGESTION_ABSTAIN_FLAGS, BAND_RULE):
        assert np.isnan(fig.loc[rule, "brier"]) and np.isnan(fig.loc[rule, "ece"])
    assert not np.isnan(fig.loc[MODEL_PROBABILITY, "brier"])
    assert "<td>400</td>" in text and "400.000" not in text  # counts as integers
    assert "0,0" in text  # Danish decimal comma
    # abstentions are counted, not dropped: n + n_no_score is every child
    assert (fig["n"] + fig["n_no_score"] == 400).all()
    assert fig.loc[MODEL_SUGGESTION, "n_no_score"] == ev.accounting.loc["abstain", "all"]
    # age bands keep their natural order (not "10-13" before "3-5") into the group tables
    from opsporing.evaluation import metrics_by_group

    assert list(ev.table["age_band"].cat.categories) == ["0-2", "3-5", "6-9", "10-13", "14-17"]
    g = metrics_by_group(
        ev.table, y_score=MODEL_SUGGESTION_ABSTAIN_FLAGS, groups=["age_band"], cutoff=1.0
    )
    shown = list(dict.fromkeys(g.by_group["group"].astype(str)))
    assert shown == sorted(shown, key=lambda b: int(b.split("-")[0]))


def test_reader_takes_groups_out_before_the_model() -> None:
    s, o = _tables()
    d = read_own_data(s, o, groups=["sex"])
    assert "sex" not in d.screenings.columns
    assert d.groups.loc["B", "sex"] == "dreng"
    assert d.families is not None and d.families.tolist() == ["F1", "F1"]
    assert d.outcomes.loc["B", "notified"] == 1


def test_reader_reports_every_problem_at_once() -> None:
    s, o = _tables()
    s.loc[0, "screening_date"] = "15/09/2025"
    s.loc[1, "child_id"] = "010203-1234"  # CPR-shaped
    s.loc[2, "instrument_id"] = "sdq"
    o.loc[0, "decided_step"] = 9
    o.loc[1, "notified"] = 2
    o = pd.concat([o, o.iloc[[0]].assign(child_id="Z")], ignore_index=True)  # never screened
    with pytest.raises(ResponseValidationError) as info:
        read_own_data(s, o, groups=["sex"])
    kinds = info.value.to_frame()
    assert set(kinds["field"]) >= {
        "screenings.screening_date",
        "screenings.child_id",
        "screenings.instrument_id",
        "outcomes.decided_step",
        "outcomes.notified",
        "outcomes.child_id",
    }
    assert "010203-1234" not in str(info.value)  # the CPR number is masked


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s, o: (s.assign(name=["x"] * 3), o), "screenings.name"),
        (lambda s, o: (s.drop(columns=["age_years"]), o), "screenings.age_years"),
        (lambda s, o: (s, o.drop(columns=["outcome_date"])), "outcomes.outcome_date"),
        (lambda s, o: (s.assign(care_pickup=[1, None, None]), o), "screenings.care_pickup"),
        (lambda s, o: (s.assign(family_id=["F1", "F2", "F1"]), o), "screenings.family_id"),
    ],
)
def test_reader_refuses_bad_tables(change: object, field: str) -> None:
    s, o = _tables()
    s2, o2 = change(s, o)  # type: ignore[operator]
    with pytest.raises(ResponseValidationError) as info:
        read_own_data(s2, o2, groups=["sex"])
    assert field in set(info.value.to_frame()["field"])


def test_bad_answers_name_their_row(model: object) -> None:
    s, o = _tables()
    s.loc[2, "emo_sad"] = 7
    with pytest.raises(ResponseValidationError) as info:
        evaluate_own_data(s, o, model=model, groups=["sex"], n_boot=0)
    assert info.value.rows == [2]


def test_screenings_after_the_outcome_are_not_used_and_counted(pop: object) -> None:
    s, o = own_data_from_population(pop)
    late = s.iloc[[0]].assign(screening_date="2027-01-10")
    from opsporing.evaluation import score_own_data

    data = read_own_data(pd.concat([s, late], ignore_index=True), o, groups=GROUPS)
    current, earlier, counts = score_own_data(data)
    assert counts["screenings after the outcome date (not used)"] == 1
    assert counts["children with every screening after the outcome (not evaluated)"] == 0
    assert len(current) == 400 and earlier is not None
    # a child screened only after its outcome is counted, not silently lost
    latest = s.drop_duplicates("child_id", keep="last")  # one screening per child
    first = o["child_id"].iloc[0]
    moved = latest.assign(
        screening_date=np.where(latest["child_id"] == first, "2027-02-01", latest["screening_date"])
    )
    current, _, counts = score_own_data(read_own_data(moved, o, groups=GROUPS))
    assert counts["children with every screening after the outcome (not evaluated)"] == 1
    assert len(current) == 399
    with pytest.raises(ResponseValidationError, match="no usable screenings"):
        score_own_data(read_own_data(latest.assign(screening_date="2027-02-01"), o, groups=GROUPS))


def test_cli_evaluate_and_recalibrate(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from opsporing.cli import app

    small = generate(SyntheticConfig(n_children=200, seed=8), progress=False)
    s, o = write_own_data(small, tmp_path / "own")
    groups = [a for g in GROUPS for a in ("-g", g)]
    runner = CliRunner()
    out = tmp_path / "r" / "report.html"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--screenings",
            str(s),
            "--outcomes",
            str(o),
            *groups,
            "--n-boot",
            "0",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "abstain" in result.output and out.is_file()
    # one file without the other, or an unnamed extra column: one line, exit 2
    only = runner.invoke(app, ["evaluate", "--screenings", str(s), "-o", str(out)])
    assert only.exit_code == 2 and "both files" in only.output
    unnamed = runner.invoke(
        app, ["evaluate", "--screenings", str(s), "--outcomes", str(o), "-o", str(out)]
    )
    assert unnamed.exit_code == 2 and "outcomes.sex" in unnamed.output
    prior = runner.invoke(
        app,
        [
            "recalibrate",
            "--screenings",
            str(s),
            "--prevalence",
            "0.1",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert prior.exit_code == 0, prior.output
    assert (tmp_path / "m" / "manifest.json").is_file()
    both = runner.invoke(app, ["recalibrate", "--screenings", str(s), "--out", str(tmp_path)])
    assert both.exit_code == 2 and "--prevalence" in both.output


def test_the_shipped_example_is_what_its_documented_function_writes(tmp_path: Path) -> None:
    from opsporing.examples import own_data_paths, write_own_data_example

    shipped = own_data_paths()
    again = write_own_data_example(tmp_path)
    for a, b in zip(shipped, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    data = read_own_data(*shipped, groups=GROUPS)  # and it reads without a problem
    assert len(data.outcomes) == 800 and data.families is None


def test_a_label_nobody_has_and_odd_groups_are_typed_errors(model: object) -> None:
    from opsporing.errors import DataError

    s, o = _tables()
    with pytest.raises(DataError, match=r"outcomes\.investigation_result"):
        evaluate_own_data(s, o, model=model, groups=["sex"], label="investigation_result", n_boot=0)
    with pytest.raises(DataError, match="label"):
        evaluate_own_data(s, o, model=model, groups=["sex"], label="cpr", n_boot=0)
    with pytest.raises(ResponseValidationError, match="groups"):
        read_own_data(s, o, groups=5)  # type: ignore[arg-type]
