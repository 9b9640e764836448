"""The follow-up verbs of the command line: users unit, due, draft, figures (issue 14)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsporing.cli import app
from opsporing.followup import FollowUpPlan, record_plan
from opsporing.web import AuditLog

from .test_followup import Clock, decide

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A log with one user in skole-nord, a yellow decision and a plan made on 5 January."""
    path = tmp_path / "audit.sqlite"
    clock = Clock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    store = AuditLog(path, clock=clock)
    store.add_user_row("P-NORD", "skole", "not-a-hash")
    r = runner.invoke(app, ["users", "unit", "P-NORD", "skole-nord", "--db", str(path)])
    assert r.exit_code == 0 and "P-NORD works in skole-nord" in r.output
    d = decide(store, clock, "B-1", 1)
    plan = FollowUpPlan.make(
        d, child_id="B-1", unit="skole-nord", concerns=["social.isolation"],
        actions=["s1.parent_talk"], responsible_role="skole", parents_view="Enige.",
        created_by="P-NORD", clock=clock,
    )  # fmt: skip
    record_plan(store, plan, user_unit="skole-nord")
    return path


def test_users_unit_refuses_a_bad_unit_or_an_unknown_user(db: Path) -> None:
    r = runner.invoke(app, ["users", "unit", "P-NORD", "skole/../nord", "--db", str(db)])
    assert r.exit_code == 2 and "unit" in r.output
    r = runner.invoke(app, ["users", "unit", "P-NOBODY", "skole-nord", "--db", str(db)])
    assert r.exit_code == 2 and "existing user" in r.output


def test_due_lists_the_overdue_plan(db: Path) -> None:
    r = runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db), "--today", "2026-01-06"])
    assert r.exit_code == 0 and "nothing due for skole-nord" in r.output
    r = runner.invoke(
        app, ["due", "--unit", "skole-nord", "--db", str(db), "--today", "2026-02-20", "--json"]
    )
    assert r.exit_code == 0
    [item] = [json.loads(line) for line in r.output.splitlines()]
    assert (item["child_id"], item["status"], item["days"], item["due_on"]) == (
        "B-1", "overdue", 4, "2026-02-16",
    )  # fmt: skip
    r = runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db), "--today", "20/2"])
    assert r.exit_code == 2 and "today" in r.output
    assert runner.invoke(app, ["due", "--unit", "x", "--db", "missing.sqlite"]).exit_code == 2


def test_draft_prints_a_text_and_sends_nothing(db: Path, tmp_path: Path) -> None:
    before = AuditLog(db).head()
    r = runner.invoke(app, ["draft", "1", "--db", str(db)])
    assert r.exit_code == 0 and r.output.startswith("UDKAST") and "»Enige.«" in r.output
    out = tmp_path / "draft.txt"
    r = runner.invoke(app, ["draft", "1", "--db", str(db), "--out", str(out)])
    assert r.exit_code == 0 and "not sent" in r.output
    assert out.read_text("utf-8").startswith("UDKAST")
    assert AuditLog(db).head() == before
    assert runner.invoke(app, ["draft", "7", "--db", str(db)]).exit_code == 2


def test_figures_and_audit_verify_cover_the_follow_up_rows(db: Path) -> None:
    r = runner.invoke(app, ["figures", "--population", "1000", "--db", str(db)])
    assert r.exit_code == 0
    figures = json.loads(r.output)
    assert figures["children_by_step"]["1"] == 1 and figures["per_1000_by_step"]["1"] == 1.0
    assert runner.invoke(app, ["figures", "--population", "0", "--db", str(db)]).exit_code == 2
    r = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert r.exit_code == 0 and "ok: 5 entries" in r.output  # user, unit, screening, decision, plan
