"""The child over time: records, trajectories, reliable change, features and the figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from opsporing.child import (
    ChildRecord,
    DecisionLike,
    RoundForm,
    ScreeningRound,
    plot_trajectory,
    reliable_change,
    reliable_change_index,
    score_round,
    shipped_reliability,
    trajectory_features,
)
from opsporing.errors import DataError, OpsporingError
from opsporing.instruments import Instrument, get_instrument, load_instrument

DATA = Path(__file__).parent / "data"
SYNTHETIC = Path(__file__).parents[1] / "data" / "synthetic"
SCHOOL = get_instrument("opsporing.skole.trivsel")
DAYCARE = get_instrument("opsporing.dagtilbud.trivsel")
PARENT = load_instrument(DATA / "round_parent.yaml")

# The shipped figures (data/reliability.yaml), written out for the hand computations.
ALPHA = {"dagtilbud": 0.661, "skole": 0.659}
SD = {"dagtilbud": 2.010, "skole": 2.025}


def answers(inst: Instrument, **by_domain: int) -> dict[str, int]:
    out = {}
    for item in inst.items:
        if item.domain in by_domain:
            scale = inst.scale(item.scale)
            v = by_domain[item.domain]
            out[item.id] = scale.min + scale.max - v if item.reverse else v
    return out


def one(inst: Instrument, round_id: str, day: date, child_id: str = "C1", **by_domain: int) -> ScreeningRound:
    return score_round([RoundForm(child_id, round_id, day, inst, answers(inst, **by_domain))])


@dataclass(frozen=True)
class FakeDecision:
    """Stands in for opsporing.decision.Decision where only the time matters."""

    decision_id: str
    decided_at: str
    chosen_step: int = 1
    notify: bool = False


# --- the trajectory across the move from daycare to school ---------------------------------------
@pytest.fixture(scope="module")
def moved() -> ChildRecord:
    spring = one(DAYCARE, "2025-forår", date(2025, 4, 1), emotional=1)   # 4 of 0-12: gul
    autumn = one(SCHOOL, "2025-efterår", date(2025, 10, 1), emotional=2, development=2)  # 8; 10 of 0-15
    return ChildRecord.build("C1", [autumn, spring])


def test_the_trajectory_equals_the_hand_computed_example(moved: ChildRecord) -> None:
    t = moved.trajectory()
    emo = t[t["domain"] == "emotional"]
    assert emo[["round_id", "instrument", "score", "band"]].values.tolist() == [
        ["2025-forår", "opsporing.dagtilbud.trivsel@1.0.0", 4.0, "gul"],
        ["2025-efterår", "opsporing.skole.trivsel@1.0.0", 8.0, "rød"],
    ]
    assert emo["level"].tolist() == pytest.approx([4 / 12, 8 / 12])
    dev = t[(t["domain"] == "development")].set_index("round_id")
    assert math.isnan(dev.loc["2025-forår", "level"])  # not answered: unknown, never 0
    assert dev.loc["2025-efterår", "level"] == pytest.approx(10 / 15)
    assert list(t["date"].drop_duplicates()) == [pd.Timestamp("2025-04-01"), pd.Timestamp("2025-10-01")]


def test_the_reliable_change_index_across_instruments_equals_the_hand_computation(
    moved: ChildRecord,
) -> None:
    sem_daycare = SD["dagtilbud"] * math.sqrt(1 - ALPHA["dagtilbud"]) / 12
    sem_school = SD["skole"] * math.sqrt(1 - ALPHA["skole"]) / 12
    expected = (8 / 12 - 4 / 12) / math.sqrt(sem_daycare**2 + sem_school**2)  # ≈ 2.40
    change = moved.reliable_change()
    emo = change[change["domain"] == "emotional"].iloc[0]
    assert emo["rci"] == pytest.approx(expected, rel=1e-9)
    assert emo["reliable_change"] == "deterioration"
    assert (emo["from_instrument"], emo["to_instrument"]) == (
        "opsporing.dagtilbud.trivsel@1.0.0",
        "opsporing.skole.trivsel@1.0.0",
    )
    assert "development" not in set(change["domain"])  # one scored round: nothing to compare
    assert "safety" not in set(change["domain"])  # red flags act at once; not weighed


@pytest.mark.parametrize(
    ("before", "after", "points", "verdict"),
    [
        ({"emotional": 0}, {"emotional": 2}, 8, "deterioration"),  # 0 -> 8
        ({"emotional": 1}, {"emotional": 1}, 0, "none"),
        ({"emotional": 2}, {"emotional": 1}, -4, "improvement"),  # 8 -> 4
    ],
)
def test_the_reliable_change_index_on_one_instrument_is_jacobson_truax(
    before: dict[str, int], after: dict[str, int], points: int, verdict: str
) -> None:
    record = ChildRecord.build("C1", [one(SCHOOL, "a", date(2025, 9, 1), **before),
                                      one(SCHOOL, "b", date(2026, 3, 1), **after)])  # fmt: skip
    sem = SD["skole"] * math.sqrt(1 - ALPHA["skole"])  # raw points
    row = record.reliable_change().set_index("domain").loc["emotional"]
    assert row["rci"] == pytest.approx(points / (math.sqrt(2) * sem), rel=1e-9)
    assert row["reliable_change"] == verdict


def test_a_one_point_rise_is_not_a_reliable_change() -> None:
    a = score_round([RoundForm("C1", "a", date(2025, 9, 1), SCHOOL, answers(SCHOOL, emotional=1))])
    b = score_round([RoundForm("C1", "b", date(2026, 3, 1), SCHOOL, {**answers(SCHOOL, emotional=1), "emo_sad": 2})])
    row = ChildRecord.build("C1", [a, b]).reliable_change().set_index("domain").loc["emotional"]
    assert row["rci"] == pytest.approx(1 / (math.sqrt(2) * SD["skole"] * math.sqrt(1 - ALPHA["skole"])))
    assert row["reliable_change"] == "none"


def test_more_resources_is_an_improvement_on_the_concern_scale() -> None:
    record = ChildRecord.build("C1", [one(SCHOOL, "a", date(2025, 9, 1), resources=0),
                                      one(SCHOOL, "b", date(2026, 3, 1), resources=3)])  # fmt: skip
    row = record.reliable_change().set_index("domain").loc["resources"]
    fig = shipped_reliability()[SCHOOL.key]["resources"]
    assert row["rci"] == pytest.approx(-18 / (math.sqrt(2) * fig.sem))
    assert row["reliable_change"] == "improvement"


def test_reliable_change_index_by_hand() -> None:
    assert reliable_change_index(2.0, 6.0, 1.5) == pytest.approx(4 / (1.5 * math.sqrt(2)))
    assert reliable_change_index(0.2, 0.5, 0.1, 0.2) == pytest.approx(0.3 / math.sqrt(0.05))
    with pytest.raises(DataError):
        reliable_change_index(1.0, 2.0, 0.0)


def test_an_instrument_without_reliability_figures_is_named() -> None:
    record = ChildRecord.build("C1", [
        score_round([RoundForm("C1", "a", date(2025, 9, 1), PARENT, answers(PARENT, emotional=0))]),
        score_round([RoundForm("C1", "b", date(2026, 3, 1), PARENT, answers(PARENT, emotional=3))]),
    ])  # fmt: skip
    with pytest.raises(DataError) as err:
        record.reliable_change()
    assert err.value.problems[0].value == "test.parent@1.0.0"
    given_figures = {"test.parent@1.0.0": {"emotional": (0.8, 2.5)}}
    row = reliable_change(record, given_figures).set_index("domain").loc["emotional"]
    assert row["rci"] == pytest.approx(12 / (math.sqrt(2) * 2.5 * math.sqrt(0.2)))
    with pytest.raises(DataError) as bad:
        record.reliable_change({"test.parent@1.0.0": {"emotional": {"alpha": 1.5, "sd": -1}}})
    assert {p.field for p in bad.value.problems} == {
        "test.parent@1.0.0.emotional.alpha",
        "test.parent@1.0.0.emotional.sd",
    }


@pytest.mark.slow  # reads the synthetic forms (210,000 rows)
def test_the_shipped_reliabilities_are_what_the_evaluation_tools_measure() -> None:
    """data/reliability.yaml says how it was measured; measuring again gives its figures."""
    from opsporing.evaluation import reliability_by_domain
    from opsporing.instruments import current_forms
    from opsporing.scoring import score_batch

    table = shipped_reliability()
    # Every current form of every informant: the educators' forms live in one table per
    # setting, the parents' and the children's own in one table each.
    current = {
        inst.key: (inst, setting if informant == "educator" else informant)
        for (informant, setting), forms in current_forms().items()
        for inst in forms
    }
    assert len(current) == 9
    for inst, name in current.values():
        forms = pd.read_parquet(SYNTHETIC / f"forms_{name}.parquet")
        forms = forms[forms["wave"] == forms["wave"].max()]
        items = forms[forms["instrument_id"] == inst.id][list(inst.item_ids)]
        assert table[inst.key], inst.key
        alpha = reliability_by_domain(inst, items).set_index("domain")["alpha"]
        scores = score_batch(inst, items)
        for domain, fig in table[inst.key].items():
            assert fig.alpha == pytest.approx(alpha[domain], abs=5e-4), (inst.key, domain)
            assert fig.sd == pytest.approx(scores[f"score.{domain}"].std(), abs=5e-4)


# --- the record: time order, identity, CPR ------------------------------------------------------
def test_rounds_out_of_time_order_are_refused_and_build_sorts_them() -> None:
    early = one(SCHOOL, "a", date(2025, 9, 1), emotional=0)
    late = one(SCHOOL, "b", date(2026, 3, 1), emotional=1)
    with pytest.raises(DataError) as err:
        ChildRecord("C1", (late, early))
    assert err.value.problems[0].kind == "time_order"
    assert "ChildRecord.build sorts" in str(err.value)
    assert ChildRecord.build("C1", [late, early]).rounds == (early, late)
    assert ChildRecord("C1", (early,)).with_round(late) == ChildRecord("C1", (early, late))


def test_decisions_out_of_time_order_are_refused() -> None:
    first = FakeDecision("d1", "2026-01-10T09:00:00+00:00")
    second = FakeDecision("d2", "2026-01-10T10:30:00+01:00")  # 09:30 UTC
    with pytest.raises(DataError) as err:
        ChildRecord("C1", (), (second, first))
    assert err.value.problems[0].field == "decided_at"
    assert ChildRecord.build("C1", decisions=[second, first]).decisions == (first, second)
    frame = ChildRecord.build("C1", decisions=[second, first]).decision_frame()
    assert frame["decision_id"].tolist() == ["d1", "d2"]


@pytest.mark.parametrize("bad", [object(), FakeDecision("d1", "not a time")])
def test_a_decision_that_is_not_one_is_refused(bad: object) -> None:
    with pytest.raises(DataError, match="Decision"):
        ChildRecord.build("C1", decisions=[bad])  # type: ignore[list-item]


def test_a_round_of_another_child_or_a_repeated_round_is_refused() -> None:
    mine = one(SCHOOL, "a", date(2025, 9, 1), emotional=0)
    theirs = one(SCHOOL, "b", date(2026, 3, 1), child_id="C2", emotional=0)
    with pytest.raises(DataError) as err:
        ChildRecord.build("C1", [mine, theirs, mine])
    assert {p.kind for p in err.value.problems} == {"different_child", "duplicate"}


@pytest.mark.parametrize("cpr", ["010203-1234", "0102031234", "01.02.03 1234", 102031234])
def test_a_cpr_number_is_refused_as_child_id_and_not_echoed(cpr: object) -> None:
    with pytest.raises(OpsporingError) as err:
        ChildRecord.build(cpr)  # type: ignore[arg-type]
    assert err.value.problems[0].kind == "personal_identifier"
    assert "1234" not in str(err.value)


def test_the_decision_record_has_what_a_child_record_reads() -> None:
    """opsporing.decision.Decision (made only by Decision.record) fits DecisionLike."""
    import dataclasses
    import typing

    from opsporing.decision import Decision

    hints = typing.get_type_hints(Decision)
    assert {f.name for f in dataclasses.fields(Decision)} >= set(typing.get_type_hints(DecisionLike))
    assert {k: hints[k] for k in typing.get_type_hints(DecisionLike)} == typing.get_type_hints(DecisionLike)


# --- a property: the record does not depend on the order it is given in ------------------------
POOL = [
    one(SCHOOL, "r1", date(2025, 9, 1), emotional=0),
    one(SCHOOL, "r2", date(2025, 9, 1), emotional=1),  # same day as r1: ordered by id
    one(DAYCARE, "r0", date(2024, 9, 1), emotional=2),
    one(SCHOOL, "r3", date(2026, 3, 1), emotional=3),
    one(SCHOOL, "r4", date(2026, 9, 1), social=1),
]
DECISIONS = [
    FakeDecision("d2", "2026-01-10T09:00:00+00:00"),
    FakeDecision("d1", "2026-01-10T10:00:00+01:00"),  # the same instant: ordered by id
    FakeDecision("d3", "2025-06-01T12:00:00+00:00", chosen_step=2),
]


@settings(max_examples=40, deadline=None)
@given(st.permutations(POOL), st.permutations(DECISIONS), st.integers(1, 5))
def test_permuting_the_input_does_not_change_the_record(
    rounds: list[ScreeningRound], decisions: list[FakeDecision], k: int
) -> None:
    record = ChildRecord.build("C1", rounds[:k], decisions)
    assert record == ChildRecord.build("C1", sorted(rounds[:k], key=lambda r: r.round_id), DECISIONS)
    assert [r.date for r in record.rounds] == sorted(r.date for r in record.rounds)
    assert [d.decision_id for d in record.decisions] == ["d3", "d1", "d2"]
    pd.testing.assert_frame_equal(
        record.trajectory(), ChildRecord.build("C1", reversed(rounds[:k])).trajectory()
    )


# --- features and the figure --------------------------------------------------------------------
@pytest.fixture(scope="module")
def followed() -> ChildRecord:
    r0 = one(SCHOOL, "r0", date(2024, 9, 1), emotional=0)
    r1 = one(SCHOOL, "r1", date(2025, 9, 1), emotional=1)
    r2 = score_round([
        RoundForm("C1", "r2", date(2026, 9, 1), SCHOOL, answers(SCHOOL, emotional=3)),
        RoundForm("C1", "r2", date(2026, 9, 3), PARENT, answers(PARENT, emotional=0)),
    ])  # fmt: skip
    return ChildRecord.build("C1", [r2, r0, r1])


def test_trajectory_features_equal_the_hand_computation(followed: ChildRecord) -> None:
    a = 365 / 365.25  # one year of days, in years
    parent = {"test.parent@1.0.0": {"emotional": (0.8, 2.5)}}
    f = trajectory_features([followed], domains=["emotional", "behaviour"], reliability=parent)
    row = f.loc["C1"]
    assert row["traj.n_rounds"] == 3
    assert row["traj.years"] == pytest.approx(2 * a)
    assert row["traj.level.emotional"] == 1.0
    # levels 0, 1/3, 1 at 0, a, 2a years: slope = sum(dx * dy) / sum(dx^2) = a / (2a^2)
    assert row["traj.slope.emotional"] == pytest.approx(1 / (2 * a))
    assert row["traj.flagged.emotional"] == 2  # gul at r1, rød (educator) at r2
    assert bool(row["traj.worse.emotional"]) and not bool(row["traj.better.emotional"])
    assert math.isnan(row["traj.level.behaviour"]) and row["traj.flagged.behaviour"] == 0
    last_two = trajectory_features([followed], window=2, domains=["emotional"], reliability=parent)
    assert last_two.loc["C1", "traj.slope.emotional"] == pytest.approx((1 - 1 / 3) / a)
    by_parent = trajectory_features([followed], informant="parent", domains=["emotional"],
                                    reliability=parent)  # fmt: skip
    assert by_parent.loc["C1", "traj.level.emotional"] == 0.0
    assert math.isnan(by_parent.loc["C1", "traj.slope.emotional"])  # one point: no slope


def test_trajectory_features_are_one_row_per_child_with_stable_columns() -> None:
    kids = [ChildRecord.build(c, [one(SCHOOL, "a", date(2025, 9, 1), child_id=c, social=v)])
            for c, v in (("C1", 0), ("C2", 2))]  # fmt: skip
    f = trajectory_features(kids, domains=["social", "emotional"])
    assert f.index.tolist() == ["C1", "C2"]
    assert list(f.columns[:4]) == ["traj.n_rounds", "traj.years", "traj.level.social", "traj.slope.social"]
    assert f["traj.flagged.social"].tolist() == [0, 1]
    assert f["traj.worse.social"].dtype == bool
    assert not any("child" in c or "cpr" in c.lower() for c in f.columns)
    alone = pd.concat([trajectory_features([k], domains=["social", "emotional"]) for k in kids])
    pd.testing.assert_frame_equal(f, alone)  # one pass for many = one child at a time
    with pytest.raises(DataError):
        trajectory_features([kids[0], kids[0]])
    with pytest.raises(DataError):
        trajectory_features(kids, window=0)
    with pytest.raises(DataError, match="informant"):
        trajectory_features(kids, informant="teacher")
    with pytest.raises(DataError, match="domains"):
        trajectory_features(kids, domains="social")


def test_the_plot_is_a_figure_with_a_panel_per_domain_and_a_line_per_informant(
    followed: ChildRecord,
) -> None:
    record = followed.with_decision(FakeDecision("d1", "2026-09-10T08:00:00+00:00", chosen_step=2))
    parent = {"test.parent@1.0.0": {"emotional": (0.8, 2.5)}}
    fig = plot_trajectory(record, domains=["emotional", "social"], lang="en", reliability=parent)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["Emotional well-being", "Relationships and belonging"]
    assert [t.get_text() for t in visible[0].get_legend().get_texts()] == ["educator", "parent"]
    assert any(t.get_text() == "step 2" for t in visible[0].texts)
    line = visible[0].get_lines()[0]
    assert np.allclose(np.asarray(line.get_ydata(), dtype=float), [0, 1 / 3, 1])
    with pytest.raises(DataError):
        plot_trajectory(record, domains=["no_such_domain"])


def test_the_plot_says_when_reliable_change_cannot_be_shown() -> None:
    record = ChildRecord.build("C1", [
        score_round([RoundForm("C1", "a", date(2025, 9, 1), PARENT, answers(PARENT, emotional=0))]),
        score_round([RoundForm("C1", "b", date(2026, 3, 1), PARENT, answers(PARENT, emotional=3))]),
    ])  # fmt: skip
    fig = plot_trajectory(record, domains=["emotional"], lang="en")
    note = fig.get_supxlabel()
    assert "reliable change not shown" in note and "test.parent@1.0.0" in note
