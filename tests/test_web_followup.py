"""The follow-up process in the web form and the JSON API (issue 14), with FastAPI's TestClient."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from opsporing.followup import plans, reviews, set_unit
from opsporing.web import AuditLog, create_app

from .test_followup import Clock, R, decide

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Any:
    return create_app(tmp_path / "audit.sqlite", clock=clock, model=None)


@pytest.fixture
def nord(app: Any, web_login: Callable[..., Any]) -> Any:
    client = web_login(app, "P-NORD", "skole")
    set_unit(app.state.audit_log, "P-NORD", "skole-nord")
    return client


@pytest.fixture
def syd(app: Any, web_login: Callable[..., Any]) -> Any:
    client = web_login(app, "P-SYD", "skole")
    set_unit(app.state.audit_log, "P-SYD", "skole-syd")
    return client


def _written(store: AuditLog) -> int:
    """Chain entries but reads: what was stored (a read of the child is logged and chained)."""
    return store.head().count - len(store.access_log())


def _decision_ids(page: str) -> list[str]:
    return re.findall(r'<option value="([0-9a-f]{64})"', page)


def _plan(client: Any, child: str = "B-1", **extra: Any) -> Any:
    page = client.get(f"/children/{child}?purpose=opsporing").text
    data = {
        "purpose": "opsporing",
        "decision_id": _decision_ids(page)[0],
        "concerns": ["social.isolation"],
        "actions": ["s1.parent_talk", "s1.rcm"],
        "responsible_role": "skole",
        "parents_view": "Vi kan også mærke det derhjemme.",
        "child_view": "Jeg har ingen at lege med.",
        "lang": "da",
    }
    return client.post(f"/children/{child}/plans", data=data | extra)


def test_the_child_page_shows_the_timeline_and_takes_a_plan(
    app: Any, nord: Any, clock: Clock
) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    ask = nord.get("/children/B-1")  # nothing about the child before the user says why
    assert ask.status_code == 200 and 'name="purpose"' in ask.text and "Gul" not in ask.text
    assert store.access_log(child="B-1") == []
    page = nord.get("/children/B-1?purpose=opsporing")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    [read] = store.access_log(child="B-1")
    assert (read.user, read.purpose, read.channel) == ("P-NORD", "opsporing", "web")
    assert 'name="purpose" value="opsporing"' in page.text  # the forms carry it on
    assert 'id="timeline"' in page.text and "Gul" in page.text
    assert 'name="csrf_token"' in page.text
    r = _plan(nord)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/children/B-1?lang=da&purpose=opsporing")
    [plan] = plans(store, R)
    assert plan.unit == "skole-nord" and plan.created_by == "P-NORD"
    assert plan.review_on == (T0.date() + timedelta(days=42)).isoformat()
    page = nord.get("/children/B-1?lang=en&purpose=opsporing").text
    assert "Follow-up plan" in page and "Talk with the parents about the concern" in page
    # Dates as each language writes them (opsporing._texts.date_text): the review 42 days on.
    assert "5 January 2026" in page and "16 February 2026" in page
    page = nord.get("/children/B-1?lang=da&purpose=opsporing").text
    assert "Opfølgningsplan" in page and "5. januar 2026" in page and "16. februar 2026" in page
    assert store.verify().ok


def test_a_plan_with_a_cpr_number_is_refused_and_nothing_is_stored(
    app: Any, nord: Any, clock: Clock
) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    count = _written(store)
    r = _plan(nord, parents_view="Mor (010203-1234) er enig.", actions=["s2.group"])
    assert r.status_code == 422
    assert "010203-1234" not in r.text  # neither echoed in the page ...
    assert "Mor (" in r.text or "parents_view" in r.text
    assert 'id="followup-errors"' in r.text
    assert "parents_view" in r.text and "actions" in r.text  # ... every problem shown at once
    assert plans(store, R) == [] and _written(store) == count


def test_csrf_and_origin_guard_the_plan_form(app: Any, nord: Any, clock: Clock) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    assert _plan(nord, csrf_token="0" * 64).status_code == 403
    page = nord.get("/children/B-1?purpose=opsporing").text
    data = {"decision_id": _decision_ids(page)[0], "csrf_token": nord.csrf, "purpose": "opsporing"}
    r = nord.post("/children/B-1/plans", data=data, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert plans(store, R) == []


def test_another_units_child_is_neither_shown_nor_followed(
    app: Any, nord: Any, syd: Any, clock: Clock
) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    assert _plan(nord).status_code == 303
    assert syd.get("/children/B-1").status_code == 403
    assert syd.get("/screenings/1/draft").status_code == 403
    [plan] = plans(store, R)
    reads = len(store.access_log(child="B-1"))
    r = syd.post(
        f"/plans/{plan.plan_id}/review",
        data={"happened": "Set fra syd.", "outcome": "resolved", "purpose": "opsporing"},
    )
    assert r.status_code == 403
    assert syd.get("/children/B-1?purpose=opsporing").status_code == 403
    assert len(store.access_log(child="B-1")) == reads  # refused before anything was read
    assert reviews(store, R) == []
    assert nord.get("/children/B-9").status_code == 404
    assert nord.get("/children/..%2F..%2Fetc").status_code == 404
    assert nord.get("/plans/abc/review").status_code in (404, 405)


def test_an_admin_makes_no_plans(app: Any, nord: Any, web_login: Any, clock: Clock) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    admin = web_login(app, "A-1", "admin")
    page = admin.get("/children/B-1?purpose=tilsyn")
    assert page.status_code == 200 and "save-plan" not in page.text  # reads every receipt
    assert store.access_log(user="A-1")[-1].purpose == "tilsyn"
    decision_id = _decision_ids(nord.get("/children/B-1?purpose=opsporing").text)[0]
    r = admin.post("/children/B-1/plans", data={"decision_id": decision_id})
    assert r.status_code == 403


def test_an_overdue_review_and_an_escalation(app: Any, nord: Any, clock: Clock) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    _plan(nord)
    [plan] = plans(store, R)
    assert "B-1" not in nord.get("/").text.split('id="due"')[-1]  # nothing due on day one
    clock.advance(50)  # the review date (day 42) has passed
    reads = len(store.access_log(child="B-1"))
    start = nord.get("/").text  # from the clear index: dates, no child, nothing read
    assert 'id="due"' in start and "Overskredet" in start and "8 dage for sent" in start
    assert "B-1" not in start and 'id="due-purpose"' in start
    assert len(store.access_log(child="B-1")) == reads
    start = nord.get("/?purpose=opsporing").text  # with a purpose: the child, logged
    assert "B-1" in start.split('id="due"')[-1] and "8 dage for sent" in start
    assert 'href="/children/B-1?lang=da&amp;purpose=opsporing"' in start
    assert store.access_log(child="B-1")[-1].what == ("plan:*",)
    new = decide(store, clock, "B-1", 2, notify=True, band="rød")
    page = nord.get("/children/B-1?purpose=opsporing").text
    assert "Løft: trin 1 → 2" in page and "(Overskredet)" in page
    r = nord.post(
        f"/plans/{plan.plan_id}/review",
        data={"happened": "Det går ikke bedre.", "outcome": "escalates", "purpose": "opsporing"},
    )
    assert r.status_code == 422 and "new_decision" in r.text  # an escalation names its decision
    r = nord.post(
        f"/plans/{plan.plan_id}/review",
        data={
            "happened": "Det går ikke bedre.",
            "outcome": "escalates",
            "new_decision_id": new["decision_id"],
            "purpose": "opsporing",
        },
    )
    assert r.status_code == 303
    [review] = reviews(store, R)
    assert review.new_decision_id == new["decision_id"] and not review.on_time
    assert 'id="due"' in nord.get("/").text and "Ingen opfølgninger" in nord.get("/").text


def test_the_draft_page_is_an_editable_text_never_sent(app: Any, nord: Any, clock: Clock) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    _plan(nord)
    counts = store.counts(), len(store.access_log(child="B-1"))
    assert 'name="purpose"' in nord.get("/screenings/1/draft").text  # asks why first
    page = nord.get("/screenings/1/draft?purpose=underretning")
    assert page.status_code == 200
    area = re.search(r'<textarea id="draft-text"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert area is not None and area.group(1).startswith("UDKAST")
    assert "Dialogbaseret underretning" in area.group(1)
    assert "»Vi kan også mærke det derhjemme.«" in area.group(1)
    assert 'id="not-first-notice"' not in page.text
    # Looking at a draft stores nothing but its read, in the access log.
    assert (store.counts(), len(store.access_log(child="B-1"))) == (counts[0], counts[1] + 1)
    assert store.access_log(child="B-1")[-1].purpose == "underretning"
    decide(store, clock, "B-1", 2, notify=True, band="rød", concerns=("safety.disclosure",),
           red_flags=("safety.disclosure",))  # fmt: skip
    page = nord.get("/screenings/2/draft?purpose=underretning")
    assert 'id="not-first-notice"' in page.text
    assert "må ikke orienteres først" in page.text
    assert nord.get("/screenings/99999999999999999999/draft").status_code == 404


def test_the_due_api_lists_the_users_own_unit(app: Any, nord: Any, clock: Clock) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    _plan(nord)
    api = TestClient(app, base_url="http://127.0.0.1")
    auth = ("P-NORD", PASSWORD)
    assert api.get("/api/v1/due?purpose=opsporing").status_code == 401
    assert api.get("/api/v1/due", auth=auth).status_code == 422  # why, first
    assert api.get("/api/v1/due?purpose=nosy", auth=auth).status_code == 422
    r = api.get("/api/v1/due?purpose=opsporing", auth=auth)
    assert r.status_code == 200 and r.json() == {
        "unit": "skole-nord",
        "today": "2026-01-05",
        "due": [],
    }
    clock.advance(43)
    body = api.get("/api/v1/due?purpose=faglig_vurdering", auth=auth).json()
    assert [(d["child_id"], d["status"], d["days"]) for d in body["due"]] == [("B-1", "overdue", 1)]
    read = store.access_log(child="B-1")[-1]
    assert (read.purpose, read.channel, read.what) == ("faglig_vurdering", "api", ("plan:*",))
    other = api.get("/api/v1/due?unit=skole-syd&purpose=opsporing", auth=auth)
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    spec = api.get("/api/v1/openapi.json").json()
    assert "/due" in spec["paths"]


def test_a_user_without_a_unit_is_told_how_to_get_one(
    app: Any, web_login: Any, clock: Clock
) -> None:
    client = web_login(app, "P-NONE", "skole")
    assert "opsporing users unit" in client.get("/").text
    api = TestClient(app, base_url="http://127.0.0.1")
    assert api.get("/api/v1/due?purpose=opsporing", auth=("P-NONE", PASSWORD)).status_code == 403


def test_a_review_with_a_cpr_number_is_refused_and_shown_masked(
    app: Any, nord: Any, clock: Clock
) -> None:
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    _plan(nord)
    [plan] = plans(store, R)
    count = _written(store)
    r = nord.post(
        f"/plans/{plan.plan_id}/review",
        data={"happened": "Far 010203-1234 ringede.", "outcome": "continues", "purpose": "opsporing"},
    )
    assert r.status_code == 422 and "010203-1234" not in r.text and "Far " in r.text
    assert reviews(store, R) == [] and _written(store) == count
    assert nord.post("/plans/" + "0" * 64 + "/review", data={}).status_code == 404


def test_records_signed_under_another_key_are_never_shown_as_true(
    app: Any, nord: Any, clock: Clock
) -> None:
    """A restart without OPSPORING_DECISION_KEY: the stored plan no longer verifies."""
    from opsporing.decision import SigningKey, set_signing_key

    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    _plan(nord)
    clock.advance(60)
    before = set_signing_key(SigningKey.generate())
    try:
        start = nord.get("/?purpose=opsporing")
        assert start.status_code == 200 and "OPSPORING_DECISION_KEY" in start.text
        assert nord.get("/children/B-1?purpose=opsporing").status_code == 503
        assert nord.get("/screenings/1/draft?purpose=opsporing").status_code == 503
    finally:
        set_signing_key(before)
    assert nord.get("/children/B-1?purpose=opsporing").status_code == 200


def test_a_child_screened_without_a_unit_is_not_opened_by_another_units_plan_form(
    app: Any, syd: Any, clock: Clock
) -> None:
    # The screener (P-NORD) is in no unit, so no unit follows the child yet: the plan
    # form must still ask the child page's question (who may see the child) before it
    # opens anything, or a 422 would show another unit's child's timeline.
    store: AuditLog = app.state.audit_log
    decide(store, clock, "B-1", 1)
    assert syd.get("/children/B-1?purpose=opsporing").status_code == 403
    data = {"purpose": "opsporing", "decision_id": "0" * 64, "lang": "da"}
    r = syd.post("/children/B-1/plans", data=data)
    assert r.status_code == 403
    assert 'id="timeline"' not in r.text and "Gul" not in r.text
    assert store.access_log(child="B-1") == []
    assert plans(store, R) == []
