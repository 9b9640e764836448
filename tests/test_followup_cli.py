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

from .test_followup import Clock, R, decide

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
    record_plan(store, plan, user_unit="skole-nord", reader=R)
    return path


def test_users_unit_refuses_a_bad_unit_or_an_unknown_user(db: Path) -> None:
    r = runner.invoke(app, ["users", "unit", "P-NORD", "skole/../nord", "--db", str(db)])
    assert r.exit_code == 2 and "unit" in r.output
    r = runner.invoke(app, ["users", "unit", "P-NOBODY", "skole-nord", "--db", str(db)])
    assert r.exit_code == 2 and "existing user" in r.output


WHO = ["--user", "P-NORD", "--purpose", "opsporing"]


def test_due_lists_the_overdue_plan(db: Path) -> None:
    r = runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db), "--today", "2026-01-06",
                            *WHO])  # fmt: skip
    assert r.exit_code == 0 and "nothing due for skole-nord" in r.output
    r = runner.invoke(
        app,
        ["due", "--unit", "skole-nord", "--db", str(db), "--today", "2026-02-20", "--json", *WHO],
    )
    assert r.exit_code == 0
    [item] = [json.loads(line) for line in r.output.splitlines()]
    assert (item["child_id"], item["status"], item["days"], item["due_on"]) == (
        "B-1", "overdue", 4, "2026-02-16",
    )  # fmt: skip
    # The read of the child's plan is in the access log, with who and why.
    reads = AuditLog(db).access_log(child="B-1")
    assert [(e.user, e.purpose, e.channel, e.what) for e in reads][-1] == (
        "P-NORD", "opsporing", "cli", ("plan:*",),
    )  # fmt: skip
    r = runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db), "--today", "20/2",
                            *WHO])  # fmt: skip
    assert r.exit_code == 2 and "today" in r.output
    assert runner.invoke(app, ["due", "--unit", "x", "--db", "missing.sqlite", *WHO]).exit_code == 2
    r = runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db), "--user", "P-NORD",
                            "--purpose", "nysgerrighed"])  # fmt: skip
    assert r.exit_code == 2 and "purpose = 'nysgerrighed'" in r.output
    r = runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db), "--user", "P-NOBODY",
                            "--purpose", "opsporing"])  # fmt: skip
    assert r.exit_code == 2 and "active user" in r.output
    assert runner.invoke(app, ["due", "--unit", "skole-nord", "--db", str(db)]).exit_code == 2


def test_draft_prints_a_text_and_sends_nothing(db: Path, tmp_path: Path) -> None:
    store = AuditLog(db)
    before = store.counts(), len(store.access_log())
    r = runner.invoke(app, ["draft", "1", "--db", str(db), *WHO])
    assert r.exit_code == 0 and r.output.startswith("UDKAST") and "»Enige.«" in r.output
    out = tmp_path / "draft.txt"
    r = runner.invoke(app, ["draft", "1", "--db", str(db), "--out", str(out), *WHO])
    assert r.exit_code == 0 and "not sent" in r.output
    assert out.read_text("utf-8").startswith("UDKAST")
    # Nothing stored but the two reads, in the access log.
    assert (store.counts(), len(store.access_log())) == (before[0], before[1] + 2)
    assert store.access_log()[-1].what == ("decision:*", "plan:*", "review:*", "screening:*")
    assert runner.invoke(app, ["draft", "7", "--db", str(db), *WHO]).exit_code == 2


def test_figures_and_audit_verify_cover_the_follow_up_rows(db: Path) -> None:
    r = runner.invoke(app, ["figures", "--population", "1000", "--db", str(db), "--user", "P-NORD",
                            "--purpose", "tilsyn"])  # fmt: skip
    assert r.exit_code == 0
    figures = json.loads(r.output)
    assert figures["children_by_step"]["1"] == 1 and figures["per_1000_by_step"]["1"] == 1.0
    assert AuditLog(db).access_log()[-1].purpose == "tilsyn"
    r = runner.invoke(app, ["figures", "--population", "0", "--db", str(db), *WHO])
    assert r.exit_code == 2
    r = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    # user, unit; screening, decision and their 3 sealed records; the plan's read of the
    # decisions, its sealed record and its index row; the figures' read.
    assert r.exit_code == 0 and "ok: 11 entries" in r.output
