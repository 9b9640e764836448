"""Follow-up plans and reviews (issue 14): catalogue, records, the audit log, due, drafts, figures."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opsporing.decision import Decision, unavailable_suggestion
from opsporing.errors import DataError, FollowUpError, StorageError, UnitAccessError
from opsporing.followup import (
    FollowUpPlan,
    Review,
    due,
    due_index,
    key_figures,
    load_catalogue,
    notification_draft,
    plans,
    record_plan,
    record_review,
    review_days,
    reviews,
    set_unit,
    timeline,
    unit_of,
)
from opsporing.followup._catalogue import _parse
from opsporing.vocabulary import load_vocabulary
from opsporing.web import AuditLog, Reader, Submission

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
#: Who reads in these tests, and why: every read of a child's records is logged with it.
R = Reader("P-NORD", "skole", "opsporing", "cli")


class Clock:
    """A clock the test moves forward (the store and the records read it)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += timedelta(days=days)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite", clock=clock)
    for name, unit in (("P-NORD", "skole-nord"), ("P-SYD", "skole-syd")):
        # A user row without Argon2 (fast): the follow-up tests never log in.
        log.add_user_row(name, "skole", "not-a-hash")
        set_unit(log, name, unit)
    return log


def decide(
    store: AuditLog,
    clock: Callable[[], datetime],
    child: str,
    step: int,
    *,
    concerns: tuple[str, ...] = ("social.isolation",),
    band: str = "gul",
    red_flags: tuple[str, ...] = (),
    notify: bool = False,
    key: str | None = None,
) -> dict[str, Any]:
    """Store a screening of ``child`` with a signed decision at ``step``; the decision dict."""
    record = Decision.record(
        unavailable_suggestion(),
        professional_role="skole",
        professional_id="P-NORD",
        chosen_step=step,
        reason="vurdering i teamet",
        notify=notify,
        clock=clock,
    ).to_dict()
    scores = {
        "overall_band": band,
        "concerns": list(concerns),
        "red_flags": list(red_flags),
        "domains": {},
    }
    store.record(
        Submission(
            idempotency_key=key or f"{child}-{clock().isoformat()}-{step}",
            form_id=child,
            instrument="opsporing.skole.trivsel@1.0.0",
            age_years=9.0,
            answers={},
            scores=scores,
            suggestion={},
            suggested_step=None,
            chosen_step=step,
            notify=notify,
            role="skole",
            professional_id="P-NORD",
            reason="vurdering i teamet",
            decision=record,
        )
    )
    return record


def make_plan(
    decision: dict[str, Any], clock: Callable[[], datetime], child: str = "B-1", **kw: Any
) -> FollowUpPlan:
    args: dict[str, Any] = {
        "child_id": child,
        "unit": "skole-nord",
        "concerns": ["social.isolation"],
        "actions": ["s1.parent_talk", "s1.rcm"],
        "responsible_role": "skole",
        "parents_view": "Vi kan også mærke det derhjemme.",
        "child_view": "Jeg har ikke nogen at lege med.",
        "created_by": "P-NORD",
        "clock": clock,
    }
    return FollowUpPlan.make(decision, **(args | kw))


# --- the catalogue ---------------------------------------------------------------------------------
def test_catalogue_is_data_with_steps_sources_and_both_languages() -> None:
    cat = load_catalogue()
    assert {m.step for m in cat.measures.values()} == {1, 2}
    assert all(m.source.startswith("seed 00") for m in cat.measures.values())
    assert all(m.label.da and m.label.en for m in cat.measures.values())
    # The five kinds of step-2 intervention of seed 004 are all there.
    kinds = {"s2.advice_light_treatment", "s2.group", "s2.consultative", "s2.civil_society"}
    assert kinds | {"s2.mellemloest"} <= set(cat.measures)
    assert [review_days(s) for s in range(7)] == [cat.review_after_days[s] for s in range(7)]
    assert review_days(0) == 14  # the BTI's 14 days at level 0
    assert cat.parents_not_told_first <= {c.code for c in load_vocabulary().red_flags}


def test_a_bad_catalogue_reports_every_problem() -> None:
    tree = {
        "measures": {
            "x.a": {"step": 3, "source": "seed 004", "label": {"da": "a", "en": "a"}},
            # Every text needs Danish (further languages are optional).
            "x.b": {"step": 1, "source": "a blog", "label": {"en": "b"}},
        },
        "review_after_days": {0: 14, 1: 0},
        "outcomes": {"resolved": {"da": "r", "en": "r"}},
        "parents_not_told_first": ["social.isolation"],
    }
    with pytest.raises(DataError) as info:
        _parse(tree)
    fields = [p.field for p in info.value.problems]
    assert fields == [
        "measures.x.a.step",
        "measures.x.b.source",
        "measures.x.b.label.da",
        "review_after_days.1",
        "review_after_days",
        "outcomes",
        "parents_not_told_first",
    ]


# --- the records -----------------------------------------------------------------------------------
def test_a_plan_defaults_its_review_date_by_step(store: AuditLog, clock: Clock) -> None:
    for step, days in ((1, review_days(1)), (2, review_days(2))):
        plan = make_plan(decide(store, clock, "B-1", step), clock)
        assert plan.review_on == (T0.date() + timedelta(days=days)).isoformat()
        assert plan.decision_step == step


def test_every_bad_field_of_a_plan_is_reported_at_once(store: AuditLog, clock: Clock) -> None:
    d = decide(store, clock, "B-1", 1)
    with pytest.raises(FollowUpError) as info:
        make_plan(
            d,
            clock,
            child="010203-1234",
            concerns=["social.isolaton", "protective.trusted_adult"],
            actions=["s2.group", "s9.magic"],
            responsible_role="rektor",
            parents_view="  ",
            child_view="mit cpr er 010203 1234",
            review_on="2025-01-01",
        )
    problems = info.value.problems
    assert [p.field for p in problems] == [
        "child_id",
        "concerns",
        "concerns",
        "actions",
        "actions",
        "responsible_role",
        "parents_view",
        "child_view",
        "review_on",
    ]
    assert "1234" not in str(info.value)  # no CPR number echoed
    assert "step 1 or below" in str(problems[3].expected)


@pytest.mark.parametrize(
    "view", ["010203-1234", "cpr 0102031234 står her", "010203.1234", "01 02 03 - 1234"]
)
def test_views_with_a_cpr_number_are_refused(store: AuditLog, clock: Clock, view: str) -> None:
    d = decide(store, clock, "B-1", 1)
    for field in ("parents_view", "child_view"):
        with pytest.raises(FollowUpError, match=field):
            make_plan(d, clock, **{field: view})


def test_a_plan_needs_a_decision_this_installation_signed(store: AuditLog, clock: Clock) -> None:
    d = decide(store, clock, "B-1", 1)
    with pytest.raises(FollowUpError, match="decision"):
        make_plan(d | {"chosen_step": 2}, clock)


def test_an_edited_or_replaced_record_is_refused(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    with pytest.raises(FollowUpError, match="plan_id"):
        FollowUpPlan.from_dict(plan.to_dict() | {"review_on": "2027-01-01"})
    forged = dataclasses.replace(plan, review_on="2027-01-01")
    with pytest.raises(FollowUpError):
        forged.verify()
    data = plan.to_dict() | {"review_on": "2027-01-01"}
    from opsporing.followup._records import _content_id

    data["plan_id"] = _content_id(data, "plan_id")  # id recomputed: the signature still fails
    with pytest.raises(FollowUpError, match="signature"):
        FollowUpPlan.from_dict(data)
    with pytest.raises(FollowUpError):
        record_plan(store, forged, user_unit="skole-nord", reader=R)


def test_an_escalation_names_its_new_decision(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    with pytest.raises(FollowUpError, match="new_decision"):
        Review.make(plan, happened="Værre.", outcome="escalates", reviewed_by="P-NORD")
    with pytest.raises(FollowUpError, match="new_decision"):
        Review.make(
            plan,
            happened="Bedre.",
            outcome="resolved",
            reviewed_by="P-NORD",
            new_decision=decide(store, clock, "B-1", 2),
        )
    with pytest.raises(FollowUpError, match="outcome"):
        Review.make(plan, happened="?", outcome="forgotten", reviewed_by="P-NORD")


# --- the audit log -----------------------------------------------------------------------------------
def test_plans_and_reviews_are_chained_and_append_only(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    clock.advance(30)
    review = Review.make(plan, happened="Hun leger igen.", outcome="resolved", reviewed_by="P-NORD",
                         clock=clock)  # fmt: skip
    record_review(store, review, user_unit="skole-nord", reader=R)
    assert plans(store, R) == [plan] and reviews(store, R) == [review]
    assert store.verify().ok
    with sqlite3.connect(store.path) as con:
        chained = [t for (t,) in con.execute("SELECT tbl FROM chain ORDER BY seq")]
        # Each plan and review: its sealed record and its index row, chained together.
        assert chained.count("followups") == 2 and "units" in chained
        at = [i for i, t in enumerate(chained) if t == "followups"]
        assert all(chained[i - 1] == "records" for i in at)
        kinds = [k for (k,) in con.execute("SELECT kind FROM records ORDER BY id")]
        assert kinds[-2:] == ["plan", "review"]
        for sql in ("UPDATE followups SET unit = 'x'", "DELETE FROM followups",
                    "UPDATE records SET link = 'x' WHERE kind = 'plan'"):  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
    # With file access: drop the trigger and edit the plan's review date. The chain finds it.
    with sqlite3.connect(store.path) as con:
        con.execute("DROP TRIGGER followups_append_only_u")
        con.execute("UPDATE followups SET review_on = '2030-01-01' WHERE kind = 'plan'")
    report = store.verify()
    assert not report.ok and "followups" in report.problem and "changed" in report.problem


def test_a_slipped_in_plan_row_is_found(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    with sqlite3.connect(store.path) as con:
        con.execute(
            "INSERT INTO followups (kind, record_id, child_ref, unit, plan_id, decision_id,"
            " review_on, record, created_at) VALUES ('plan', ?, ?, 'skole-nord', ?, ?,"
            " ?, 999, 'x')",
            (plan.plan_id, store.child_ref("B-1"), plan.plan_id, plan.decision_id, plan.review_on),
        )
    report = store.verify()
    assert not report.ok and "without the chain" in report.problem


def test_a_review_of_another_units_child_is_refused(store: AuditLog, clock: Clock) -> None:
    assert unit_of(store, "P-SYD") == "skole-syd"
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    review = Review.make(plan, happened="Set fra syd.", outcome="resolved", reviewed_by="P-SYD")
    count, reads = store.head().count, len(store.access_log(child="B-1"))
    with pytest.raises(UnitAccessError):
        record_review(store, review, user_unit="skole-syd", reader=R)
    with pytest.raises(UnitAccessError):
        record_review(store, review, user_unit=None, reader=R)  # a user without a unit
    # Nor a new plan for that child from the other unit.
    d = decide(store, clock, "B-1", 1, key="second")
    other = make_plan(d, clock, unit="skole-syd", created_by="P-SYD")
    with pytest.raises(UnitAccessError):
        record_plan(store, other, user_unit="skole-syd", reader=R)
    # The second screening and its decision with their three sealed records only: the
    # refusals stored nothing, and read nothing (no access entry).
    assert store.head().count == count + 5
    assert len(store.access_log(child="B-1")) == reads
    assert reviews(store, R) == [] and plans(store, R) == [plan]


def test_a_plan_must_follow_a_stored_decision_about_the_same_child(
    store: AuditLog, clock: Clock
) -> None:
    d = decide(store, clock, "B-1", 1)
    with pytest.raises(FollowUpError, match="child_id"):
        record_plan(store, make_plan(d, clock, child="B-2"), user_unit="skole-nord", reader=R)
    with pytest.raises(UnitAccessError):
        record_plan(store, make_plan(d, clock), user_unit="skole-syd", reader=R)
    unstored = Decision.record(
        unavailable_suggestion(), professional_role="skole", professional_id="P-1",
        chosen_step=1, reason="r", clock=clock,
    ).to_dict()  # fmt: skip
    with pytest.raises(FollowUpError, match="decision_id"):
        record_plan(store, make_plan(unstored, clock), user_unit="skole-nord", reader=R)


def test_a_closed_plan_takes_no_more_reviews(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    first = Review.make(plan, happened="Løst.", outcome="resolved", reviewed_by="P-NORD")
    record_review(store, first, user_unit="skole-nord", reader=R)
    again = Review.make(plan, happened="Igen.", outcome="continues", reviewed_by="P-NORD",
                        clock=lambda: T0 + timedelta(days=1))  # fmt: skip
    with pytest.raises(FollowUpError, match="closed"):
        record_review(store, again, user_unit="skole-nord", reader=R)


# --- what is due -------------------------------------------------------------------------------------
def test_due_lists_overdue_and_this_weeks_plans_of_the_unit(store: AuditLog, clock: Clock) -> None:
    # Three plans on Monday 5 January: step 0 (review 19 Jan), step 1 (16 Feb), step 2 (2 Mar).
    made = {}
    for child, step in (("B-0", 0), ("B-1", 1), ("B-2", 2)):
        made[child] = make_plan(decide(store, clock, child, step), clock, child=child,
                                actions=["s1.parent_talk"])  # fmt: skip
        record_plan(store, made[child], user_unit="skole-nord", reader=R)
    assert due(store, "skole-nord", date(2026, 1, 12), R) == []
    week = due(store, "skole-nord", date(2026, 1, 19), R)  # Monday: B-0 due today
    assert [(d.plan.child_id, d.status, d.days) for d in week] == [("B-0", "due", 0)]
    later = due(store, "skole-nord", date(2026, 2, 12), R)  # Thursday; B-1 due Monday 16 Feb? no
    assert [(d.plan.child_id, d.status, d.days) for d in later] == [("B-0", "overdue", 24)]
    sunday = due(store, "skole-nord", date(2026, 2, 15), R)
    assert [d.plan.child_id for d in sunday] == ["B-0"]
    monday = due(store, "skole-nord", date(2026, 2, 16), R)
    assert [(d.plan.child_id, d.status) for d in monday] == [("B-0", "overdue"), ("B-1", "due")]
    assert due(store, "skole-syd", date(2026, 2, 16), R) == []  # another unit sees none
    # A "continues" review puts the plan on the list again a step's interval later.
    clock.now = datetime(2026, 2, 16, 10, tzinfo=UTC)
    r = Review.make(made["B-0"], happened="Bedre, men ikke godt.", outcome="continues",
                    reviewed_by="P-NORD", clock=clock)  # fmt: skip
    record_review(store, r, user_unit="skole-nord", reader=R)
    assert [d.plan.child_id for d in due(store, "skole-nord", date(2026, 2, 16), R)] == ["B-1"]
    again = due(store, "skole-nord", date(2026, 3, 2), R)  # 16 Feb + 14 days
    assert [(d.plan.child_id, d.status) for d in again][:2] == [("B-1", "overdue"), ("B-0", "due")]
    with pytest.raises(FollowUpError, match="unit"):
        due(store, "../etc", date(2026, 3, 2), R)


def test_timeline_orders_screenings_plans_and_reviews(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    clock.advance(50)
    new = decide(store, clock, "B-1", 2, notify=True)
    clock.advance(0.01)
    r = Review.make(plan, happened="Værre.", outcome="escalates", reviewed_by="P-NORD",
                    new_decision=new, clock=clock)  # fmt: skip
    record_review(store, r, user_unit="skole-nord", reader=R)
    assert [e.kind for e in timeline(store, "B-1", R)] == [
        "screening",
        "plan",
        "screening",
        "review",
    ]
    assert timeline(store, "B-9", R) == []


# --- the notification draft -----------------------------------------------------------------------
def _row(store: AuditLog, child: str) -> dict[str, Any]:
    return [e.record for e in timeline(store, child, R) if e.kind == "screening"][-1]  # type: ignore[no-any-return]


def test_a_draft_is_dialogue_based_with_the_parents_view(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    decide(store, clock, "B-1", 2, notify=True, band="rød")
    draft = notification_draft(_row(store, "B-1"), [plan], [])
    assert draft.parents_told_first and draft.violence_flags == ()
    text = draft.text
    assert text.startswith("UDKAST")
    assert "ikke sendt" in text and "Dialogbaseret underretning" in text
    assert "»Vi kan også mærke det derhjemme.«" in text
    assert "»Jeg har ikke nogen at lege med.«" in text
    assert "Social isolation" in text and "ressourcecentermøde (RCM)" in text
    assert "trin 2, Forebyggende indsatser" in text
    assert "må ikke orienteres" not in text
    # Dates as Danish writes them (the one helper, opsporing._texts.date_text): 42 days by step 1.
    assert "udfyldt 5. januar 2026" in text
    assert "- Plan af 5. januar 2026 (trin 1)" in text
    assert "Opfølgning aftalt til 16. februar 2026." in text


def test_a_draft_dates_in_danish_time(store: AuditLog, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # 1 April, 01:30 in Copenhagen
    decide(store, clock, "B-1", 1)
    assert "udfyldt 1. april 2026" in notification_draft(_row(store, "B-1")).text


@pytest.mark.parametrize("bad", ["", "31.12.2026", "2026-13-01", "x" * 500])
def test_a_draft_of_a_row_without_a_date_names_the_field(bad: str) -> None:
    row = {"form_id": "B-1", "instrument": "x", "created_at": bad, "scores_json": "{}"}
    with pytest.raises(DataError, match="created_at") as info:
        notification_draft(row)
    assert len(str(info.value)) < 300  # the value is capped


@pytest.mark.parametrize("flag", sorted(load_catalogue().parents_not_told_first))
def test_violence_or_abuse_means_the_parents_are_not_told_first(
    store: AuditLog, clock: Clock, flag: str
) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    decide(store, clock, "B-1", 2, notify=True, band="rød", concerns=(flag,), red_flags=(flag,))
    draft = notification_draft(_row(store, "B-1"), [plan], [])
    assert not draft.parents_told_first and draft.violence_flags == (flag,)
    lines = draft.text.splitlines()
    notice = next(
        i for i, line in enumerate(lines) if "Forældrene må ikke orienteres først" in line
    )
    assert notice < next(i for i, line in enumerate(lines) if line.startswith("1. "))
    assert "Dialogbaseret" not in draft.text
    assert "»Vi kan også" not in draft.text  # the parents' words are not put into it either


def test_self_harm_is_a_red_flag_but_the_dialogue_stays(store: AuditLog, clock: Clock) -> None:
    decide(store, clock, "B-1", 2, notify=True, band="rød", concerns=("emotional.self_harm",),
           red_flags=("emotional.self_harm",))  # fmt: skip
    draft = notification_draft(_row(store, "B-1"))
    assert draft.parents_told_first and "(rødt flag)" in draft.text


# --- key figures from a generated year ------------------------------------------------------------
def _generate_year(store: AuditLog, clock: Clock, seed: int) -> dict[str, list[Any]]:
    """Synthetic records over about a year, and each event as it is made (for a hand count)."""
    rng = np.random.default_rng(seed)
    facts: dict[str, list[Any]] = {"decisions": [], "concerns": [], "plans": []}
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    for i in range(30):
        child = f"Y-{i:03d}"
        clock.now = start + timedelta(days=int(rng.integers(0, 200)), hours=i % 7)
        steps = [int(s) for s in rng.integers(0, 3, size=int(rng.integers(1, 4)))]
        for k, step in enumerate(steps):
            concern = step > 0 or bool(rng.integers(0, 2))
            d = decide(store, clock, child, step, band="gul" if concern else "grøn",
                       concerns=("social.isolation",) if concern else ())  # fmt: skip
            facts["decisions"].append((child, clock.now, step))
            if concern:
                facts["concerns"].append((child, clock.now))
            if concern and rng.integers(0, 3) > 0:
                clock.advance(float(rng.integers(1, 20)))
                plan = make_plan(d, clock, child=child, actions=["s1.parent_talk"])
                record_plan(store, plan, user_unit="skole-nord", reader=R)
                made, reviewed = clock.now, None
                if rng.integers(0, 4) > 0:
                    clock.advance(float(rng.integers(10, 80)))
                    outcome = "continues" if k < len(steps) - 1 else "resolved"
                    r = Review.make(plan, happened="Set igen.", outcome=outcome,
                                    reviewed_by="P-NORD", clock=clock)  # fmt: skip
                    record_review(store, r, user_unit="skole-nord", reader=R)
                    reviewed = clock.now
                facts["plans"].append((child, made, date.fromisoformat(plan.review_on), reviewed))
            clock.advance(float(rng.integers(20, 60)))
    return facts


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditLog, dict[str, list[Any]]]:
    clock = Clock()
    store = AuditLog(tmp_path_factory.mktemp("year") / "audit.sqlite", clock=clock)
    store.add_user_row("P-NORD", "skole", "not-a-hash")
    set_unit(store, "P-NORD", "skole-nord")
    return store, _generate_year(store, clock, seed=14)


@pytest.mark.parametrize("as_of", [date(2026, 12, 31), date(2026, 6, 30)])
def test_key_figures_of_a_generated_year_equal_a_hand_count(
    year: tuple[AuditLog, dict[str, list[Any]]], as_of: date
) -> None:
    store, facts = year
    figures = key_figures(store, 9048, R, as_of=as_of)
    # The hand count, from the events as generated (not from the store).
    seen = [(c, t, s) for c, t, s in facts["decisions"] if t.date() <= as_of]
    steps: dict[str, list[int]] = {}
    for c, _, s in sorted(seen, key=lambda e: e[1]):
        steps.setdefault(c, []).append(s)
    last = [s[-1] for s in steps.values()]
    assert figures.children_with_decision == len(steps)
    assert figures.children_by_step == {s: last.count(s) for s in range(7)}
    assert figures.per_1000_by_step[1] == pytest.approx(1000 * last.count(1) / 9048)
    pairs = [(s[i - 1], s[i]) for s in steps.values() for i in range(1, len(s))]
    ups, downs = sum(b > a for a, b in pairs), sum(b < a for a, b in pairs)
    assert (figures.escalations, figures.de_escalations) == (ups, downs)
    assert ups > 0 and downs > 0
    made = [(c, m, r, v) for c, m, r, v in facts["plans"] if m.date() <= as_of]
    due_plans = [(r, v) for _, _, r, v in made if r <= as_of]
    on_time = sum(1 for r, v in due_plans if v is not None and v.date() <= r and v.date() <= as_of)
    assert (figures.plans_due, figures.plans_reviewed_on_time) == (len(due_plans), on_time)
    assert figures.share_reviewed_on_time == pytest.approx(on_time / len(due_plans))
    assert 0 < on_time < len(due_plans)
    first_concern: dict[str, datetime] = {}
    for c, t in facts["concerns"]:
        if t.date() <= as_of:
            first_concern.setdefault(c, t)
    first_plan: dict[str, datetime] = {}
    for c, m, _, _ in made:
        first_plan.setdefault(c, m)
    waits = [(first_plan[c] - t).total_seconds() / 86400 for c, t in first_concern.items()
             if c in first_plan]  # fmt: skip
    assert figures.children_concern_to_action == len(waits) > 0
    assert figures.median_days_concern_to_action == pytest.approx(float(np.median(waits)))
    assert figures.mean_days_concern_to_action == pytest.approx(float(np.mean(waits)))


def test_key_figures_refuse_a_bad_population(store: AuditLog) -> None:
    for bad in (0, -5, 2.5, True, "9048"):
        with pytest.raises(FollowUpError, match="population"):
            key_figures(store, bad, R)  # type: ignore[arg-type]


def test_a_plan_is_sealed_and_only_its_index_is_in_clear(store: AuditLog, clock: Clock) -> None:
    # (The test's own idempotency keys hold the pseudonym: this one does not.)
    plan = make_plan(decide(store, clock, "B-1", 1, key="token-1"), clock,
                     parents_view="Mor siger, at Ida græder om aftenen.",
                     child_view="Jeg er ked af det i frikvarteret.")  # fmt: skip
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    clock.advance(50)
    review = Review.make(plan, happened="Far fortæller om søvnløse nætter.", outcome="continues",
                         reviewed_by="P-NORD", clock=clock)  # fmt: skip
    record_review(store, review, user_unit="skole-nord", reader=R)
    # The bytes of the database (and its write-ahead log, and every file beside it).
    raw = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.is_file())
    for secret in ("Ida græder", "ked af det i frikvarteret", "søvnløse nætter", "B-1",
                   "s1.parent_talk", "social.isolation"):  # fmt: skip
        assert secret.encode() not in raw, secret
    with sqlite3.connect(store.path) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM followups ORDER BY id")]
    assert set(rows[0]) == {"id", "kind", "record_id", "child_ref", "unit", "plan_id",
                            "decision_id", "review_on", "record", "created_at"}  # fmt: skip
    assert rows[0]["child_ref"] == store.child_ref("B-1") != "B-1"
    assert (rows[0]["review_on"], rows[1]["review_on"]) == (
        plan.review_on,
        (T0.date() + timedelta(days=50 + review_days(1))).isoformat(),
    )  # a "continues" review: the plan's next date
    # The sealed record opens (logged) to exactly the signed plan.
    [opened] = store.read_child("B-1", R, kinds=("plan",))
    assert opened.record_id == rows[0]["record"]
    assert opened.content is not None and FollowUpPlan.from_dict(opened.content) == plan
    with pytest.raises(StorageError, match="append_record"):
        store.append_row("followups", {k: rows[0][k] for k in
                                       ("kind", "record_id", "unit", "plan_id", "decision_id",
                                        "review_on")})  # fmt: skip


def test_every_read_of_plans_is_in_the_access_log(store: AuditLog, clock: Clock) -> None:
    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    before = len(store.access_log(child="B-1"))
    assert before == 1  # recording the plan opened the child's decisions, with R's purpose
    why = Reader("P-NORD", "skole", "faglig_vurdering", "web")
    assert [e.kind for e in timeline(store, "B-1", why)] == ["screening", "plan"]
    clock.advance(45)
    assert [d.plan for d in due(store, "skole-nord", clock().date(), why)] == [plan]
    entries = store.access_log(child="B-1")[before:]
    assert [(e.user, e.purpose, e.channel) for e in entries] == [
        ("P-NORD", "faglig_vurdering", "web")
    ] * 2
    assert entries[0].what == ("decision:*", "plan:*", "review:*", "screening:*")
    assert entries[1].what == ("plan:*",)
    # The clear index alone tells what is due, and reads (and logs) nothing.
    [entry] = due_index(store, "skole-nord", clock().date())
    assert (entry.plan_id, entry.status) == (plan.plan_id, "overdue")
    assert len(store.access_log(child="B-1")) == before + 2


def test_retention_erases_plans_and_reviews_and_the_chain_still_verifies(
    store: AuditLog, clock: Clock
) -> None:
    from opsporing.web import protection_policy
    from opsporing.web._retention import run_retention

    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    clock.advance(10)
    review = Review.make(plan, happened="Bedre.", outcome="continues", reviewed_by="P-NORD",
                         clock=clock)  # fmt: skip
    record_review(store, review, user_unit="skole-nord", reader=R)
    days = protection_policy().retention_days
    assert days["plan"] == days["review"]  # below: the plan expires 10 days before its review
    clock.now = T0 + timedelta(days=days["plan"] - 1)
    assert not {"plan", "review"} & set(run_retention(store, clock=clock).by_kind())
    clock.now = T0 + timedelta(days=days["plan"], seconds=1)
    assert run_retention(store, clock=clock).by_kind().get("plan") == 1
    assert [r.kind for r in store.read_child("B-1", R) if not r.erased] == ["review"]
    clock.now = T0 + timedelta(days=days["review"] + 10, seconds=1)
    assert run_retention(store, clock=clock).by_kind() == {"review": 1}
    assert store.verify().ok
    erased = store.read_child("B-1", R, kinds=("plan", "review"))
    assert [(r.kind, r.erased) for r in erased] == [("plan", True), ("review", True)]
    # Erased plans are neither shown nor due any more; the index rows stay (chained).
    assert plans(store, R) == [] and reviews(store, R) == []
    assert due_index(store, "skole-nord", clock().date()) == []
    assert timeline(store, "B-1", R) == []
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT COUNT(*) FROM followups").fetchone()[0] == 2


def test_the_insight_export_includes_plans_and_reviews(store: AuditLog, clock: Clock) -> None:
    from opsporing.web._export import insight, insight_html

    plan = make_plan(decide(store, clock, "B-1", 1), clock)
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    review = Review.make(plan, happened="Hun leger igen.", outcome="resolved",
                         reviewed_by="P-NORD", clock=clock)  # fmt: skip
    record_review(store, review, user_unit="skole-nord", reader=R)
    decide(store, clock, "B-2", 1)
    data = insight(store, "B-1", Reader("A-1", "admin", "foraeldres_indsigt", "cli"))
    assert list(data["by_kind"]) == ["screening", "suggestion", "decision", "plan", "review"]
    [p] = [r for r in data["records"] if r["kind"] == "plan"]
    assert FollowUpPlan.from_dict(p["content"]) == plan
    html = insight_html(data)
    for shown in ("Opfølgningsplaner", "Vi kan også mærke det derhjemme.",
                  "Jeg har ikke nogen at lege med.", "Samtale med forældrene om bekymringen",
                  "Hun leger igen.", "Opfølgninger"):  # fmt: skip
        assert shown in html, shown
    assert "B-2" not in html


def test_before_any_plan_a_child_belongs_to_the_unit_that_screened_it(
    store: AuditLog, clock: Clock
) -> None:
    from opsporing.followup import child_units

    d = decide(store, clock, "B-1", 1)  # recorded by P-NORD (skole-nord)
    assert child_units(store, "B-1") == {"skole-nord"}
    other = make_plan(d, clock, unit="skole-syd", created_by="P-SYD")
    with pytest.raises(UnitAccessError):
        record_plan(store, other, user_unit="skole-syd", reader=R)
    assert plans(store, R) == []
    record_plan(store, make_plan(d, clock), user_unit="skole-nord", reader=R)
    assert child_units(store, "B-9") == set()


# --- properties ------------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CONCERNS = sorted(c.code for c in load_vocabulary().concerns)
_STEP1 = sorted(m.id for m in load_catalogue().measures.values() if m.step == 1)
_DECISION = Decision.record(
    unavailable_suggestion(), professional_role="skole", professional_id="P-1",
    chosen_step=1, reason="r", clock=lambda: T0,
).to_dict()  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    concerns=st.lists(st.sampled_from(_CONCERNS), min_size=1, max_size=4, unique=True),
    actions=st.lists(st.sampled_from(_STEP1), min_size=1, max_size=3, unique=True),
    view=st.text(st.characters(blacklist_categories=["Cs", "Nd"]), min_size=1, max_size=60),
    days=st.integers(1, 366),
    field=st.sampled_from(["concerns", "actions", "parents_view", "review_on", "unit"]),
)
def test_a_plan_round_trips_and_any_change_breaks_it(
    concerns: list[str], actions: list[str], view: str, days: int, field: str
) -> None:
    if not view.strip():
        view = "enige"
    plan = FollowUpPlan.make(
        _DECISION, child_id="B-1", unit="skole-nord", concerns=concerns, actions=actions,
        responsible_role="skole", parents_view=view, created_by="P-1",
        review_on=T0.date() + timedelta(days=days), clock=lambda: T0,
    )  # fmt: skip
    assert FollowUpPlan.from_dict(json.loads(plan.to_json())) == plan
    assert plan.review_on == (T0.date() + timedelta(days=days)).isoformat()
    changed = plan.to_dict()
    changed[field] = (
        [*changed[field], "x"] if isinstance(changed[field], list) else changed[field] + "x"
    )
    with pytest.raises(FollowUpError):
        FollowUpPlan.from_dict(changed)


@pytest.mark.parametrize(
    "when",
    [T0 + timedelta(days=10), 20260301, 2026.5, ["2026-03-01"], b"2026-03-01", "2026-W09-1"],
)
def test_a_review_date_that_is_no_date_is_a_problem_of_review_on(
    store: AuditLog, clock: Clock, when: object
) -> None:
    d = decide(store, clock, "B-1", 1)
    with pytest.raises(FollowUpError) as info:
        make_plan(d, clock, review_on=when)
    assert [p.field for p in info.value.problems] == ["review_on"]
