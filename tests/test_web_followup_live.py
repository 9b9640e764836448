"""One child's course through the follow-up process, in headless Chromium (issue 14).

A school professional logs in, screens a child (yellow) and records step 1, makes a follow-up
plan with the parents' and the child's views, finds the plan overdue on the start page when
the (injected) clock has moved past its review date, screens again (red) and records step 2
with a notification, reviews the plan as an escalation to that decision, opens the
dialogue-based notification draft and edits it, and later records step 1 again: down the
staircase. Screenshots go to ``reports/followup/``, including each page at 390 px wide, where
nothing may overflow sideways.

Skipped only when /usr/bin/chromium is absent and ``CI`` is not set (as tests/test_web_live.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from opsporing.followup import key_figures, plans, reviews, set_unit
from opsporing.instruments import get_instrument
from opsporing.web import AuditLog, add_user, create_app

from . import test_web as _test_web  # noqa: F401 - imported first: test_web_live reuses it
from .test_followup import Clock, R
from .test_web_live import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    REPORTS,
    SCHOOL,
    _needs_browser,
    _Server,
    small_model,  # noqa: F401 - the fixture
)

USER, PASSWORD = "P-SKOLE", "correct horse battery staple"
CHILD = "FU-0001"
SHOTS = REPORTS / "followup"
PHONE = {"width": 390, "height": 844}


def _answers(domain: str | None, level: int) -> dict[str, int]:
    """No concern anywhere, except ``level`` on every item of ``domain``."""
    out = {}
    for item in get_instrument(SCHOOL).items:
        value = 3 if item.domain == "resources" else 0
        if item.domain == domain:
            value = level
        out[item.id] = value
    return out


def _screen(page: Any, url: str, answers: dict[str, int], step: int, *, notify: bool) -> int:
    """Fill the school form for CHILD, record ``step``; the stored screening's number."""
    page.goto(f"{url}/form/{SCHOOL}")
    page.get_by_label("Skema-id (pseudonymt)").fill(CHILD)
    page.get_by_label("Barnets alder (år)").fill("10")
    for item, value in answers.items():
        page.locator(f'label[for="item.{item}-{value}"]').click()
    page.get_by_role("button", name="Beregn og se resultat").click()
    page.locator(f'label[for="chosen_step-{step}"]').click()
    if notify:
        page.locator("#notify").check()
    page.get_by_label("Begrundelse").fill("Drøftet i teamet og med forældrene.")
    page.get_by_role("button", name="Registrér beslutning og gem").click()
    page.locator("#saved").wait_for()
    return int(page.locator("#screening-id").inner_text())


def _fits_a_phone(page: Any, name: str) -> None:
    """At 390 px: nothing wider than the viewport; a full-page screenshot."""
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(50)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth,"
        " Math.max(...[...document.querySelectorAll('main *')]"
        ".map(e => e.getBoundingClientRect().right))]"
    )
    assert max(widths) <= PHONE["width"], (name, widths)
    page.screenshot(path=str(SHOTS / f"{name}_390px.png"), full_page=True)
    page.set_viewport_size({"width": 1000, "height": 900})


def test_one_child_from_a_yellow_screening_to_down_the_staircase(
    tmp_path: Path,
    small_model: Any,  # noqa: F811 - the fixture
) -> None:
    _needs_browser()
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    clock = Clock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # a Monday
    db = tmp_path / "audit.sqlite"
    store = AuditLog(db)
    add_user(store, USER, "skole", PASSWORD)
    set_unit(store, USER, "skole-nord")
    with (
        _Server(create_app(db, clock=clock, model=small_model)) as server,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/")
            page.get_by_label("Medarbejder-id").fill(USER)
            page.get_by_label("Adgangskode").fill(PASSWORD)
            page.get_by_role("button", name="Log ind").click()
            expect(page.locator("#due")).to_contain_text("Ingen opfølgninger")

            # 1. A yellow screening: step 1, acted on in the school.
            first = _screen(page, server.url, _answers("social", 1), 1, notify=False)
            page.locator("#child-link").click()
            expect(page.locator("#child-id")).to_have_text(CHILD)
            expect(page.locator(f"#screening-{first} .band")).to_have_text("Gul")

            # 2. The plan, agreed with the parents and the child.
            page.locator('label[for="action-s1.parent_talk"]').click()
            page.locator('label[for="action-s1.rcm"]').click()
            page.get_by_label("Forældrenes syn (med deres ord)").fill(
                "Vi har også set, at hun trækker sig derhjemme."
            )
            page.get_by_label("Barnets eget syn").fill("Jeg vil gerne have en at lege med.")
            page.screenshot(path=str(SHOTS / "1_plan_form.png"), full_page=True)
            page.get_by_role("button", name="Gem opfølgningsplan").click()
            plan_item = page.locator(".timeline .event.plan")
            expect(plan_item).to_contain_text("Samtale med forældrene om bekymringen")
            expect(plan_item).to_contain_text("16. februar 2026")  # 42 days by step 1
            page.screenshot(path=str(SHOTS / "2_child_with_plan.png"), full_page=True)

            # 3. Fifty days later the review is overdue: on the start page of the unit, first
            # as the clear index has it (no child), then, with a purpose, who it is (logged).
            clock.advance(50)
            page.goto(f"{server.url}/")
            due = page.locator("#due")
            expect(due).to_contain_text("Overskredet")
            expect(due).to_contain_text("8 dage for sent")
            expect(due).not_to_contain_text(CHILD)
            page.screenshot(path=str(SHOTS / "3_start_page_no_purpose.png"), full_page=True)
            _fits_a_phone(page, "3_start_page_no_purpose")
            page.locator("#due-purpose-select").select_option("opsporing")
            page.locator("#due-purpose button").click()
            expect(due).to_contain_text(CHILD)
            expect(due).to_contain_text("8 dage for sent")
            page.screenshot(path=str(SHOTS / "3_start_page_overdue.png"), full_page=True)
            _fits_a_phone(page, "3_start_page_overdue")

            # 4. Worse: a red screening, step 2 and a notification; the review escalates.
            second = _screen(page, server.url, _answers("emotional", 2), 2, notify=True)
            page.locator("#child-link").click()
            expect(page.locator(".move-up")).to_have_text("Løft: trin 1 → 2")
            form = page.locator(".review-form")
            expect(form).to_contain_text("Overskredet")
            form.get_by_label("Hvad er der sket?").fill(
                "Samtalerne hjalp ikke; hun er mere ked af det og isolerer sig."
            )
            form.get_by_label("Løftes til en ny beslutning").check()
            form.get_by_label("Ny beslutning (ved løft)").select_option(index=1)
            form.get_by_role("button", name="Gem opfølgning").click()
            review = page.locator(".timeline .event.review")
            expect(review).to_contain_text("Løftes til en ny beslutning")
            expect(review).to_contain_text("for sent")
            page.screenshot(path=str(SHOTS / "4_child_escalated.png"), full_page=True)

            # 5. The notification draft: dialogue-based, editable, never sent.
            page.locator(f"#screening-{second} .draft-link").click()
            area = page.get_by_label("Udkastets tekst")
            expect(area).to_be_editable()
            text = area.input_value()
            assert text.startswith("UDKAST") and "Dialogbaseret underretning" in text
            assert "»Vi har også set, at hun trækker sig derhjemme.«" in text
            assert "løftes til en ny beslutning" in text
            expect(page.locator("#not-first-notice")).to_have_count(0)
            area.fill(text + "\nTilføjet af pædagogen.")
            assert area.input_value().endswith("Tilføjet af pædagogen.")
            page.screenshot(path=str(SHOTS / "5_notification_draft.png"), full_page=True)
            _fits_a_phone(page, "5_notification_draft")

            # 6. Two months later, better: step 1 again, down the staircase.
            clock.advance(60)
            _screen(page, server.url, _answers(None, 0), 1, notify=False)
            page.locator("#child-link").click()
            expect(page.locator(".move-down")).to_have_text("Ned ad trappen: trin 2 → 1")
            page.screenshot(path=str(SHOTS / "6_child_down_the_staircase.png"), full_page=True)
            _fits_a_phone(page, "6_child_down_the_staircase")
            page.goto(f"{server.url}/children/{CHILD}?lang=en")  # asks why first
            page.locator("#purpose").select_option("faglig_vurdering")
            page.get_by_role("button", name="Show").click()
            expect(page.locator(".move-down")).to_have_text("Down the staircase: step 2 → 1")
        finally:
            browser.close()

    store = AuditLog(db)
    assert store.verify().ok
    [plan] = plans(store, R)
    [review] = reviews(store, R)
    assert (plan.child_id, plan.decision_step, review.outcome) == (CHILD, 1, "escalates")
    assert review.new_decision_id is not None and not review.on_time
    reads = store.access_log(child=CHILD)
    assert {(e.user, e.purpose) for e in reads} >= {
        (USER, "opsporing"), (USER, "faglig_vurdering"),
    }  # fmt: skip
    figures = key_figures(store, 9048, R)
    assert (figures.escalations, figures.de_escalations) == (1, 1)
    assert figures.children_by_step[1] == 1 and figures.plans_reviewed_on_time == 0
    assert (SHOTS / "6_child_down_the_staircase_390px.png").stat().st_size > 5_000
