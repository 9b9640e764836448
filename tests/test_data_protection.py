"""Data protection by design (issue 18): access log, sealed records, retention, insight.

Every read of a child's records (web page, JSON API, CLI export) is in the chained access
log with who, when, which child and why; personal content is sealed per child and kind, so
destroying a key erases exactly the expired records while ``audit verify`` still passes and
no key material is left on disk; an insight export holds everything about one child and
nothing about another.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opsporing import _texts
from opsporing.cli import app as cli
from opsporing.errors import ResponseValidationError, StorageError, UserError
from opsporing.instruments import get_instrument
from opsporing.scoring import score_form
from opsporing.web import AuditLog, Submission, add_user, create_app
from opsporing.web._records import Reader
from opsporing.web._retention import run_retention

from .conftest import WEB_BASE, WEB_PASSWORD, signed_decision

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOPI = get_instrument("topi")


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db: Path, clock: Clock) -> AuditLog:
    return AuditLog(db, clock=clock)


def _submit(
    store: AuditLog, child: str, *, by: str = "P-0042", answer: int = 1, token: str = ""
) -> int:
    answers = {"1vurdering": answer}
    stored = store.record(
        Submission(
            idempotency_key=token
            or hashlib.sha256(f"{child}{answer}{by}".encode()).hexdigest()[:32],
            form_id=child,
            instrument=TOPI.key,
            age_years=4.5,
            answers=answers,
            scores=json.loads(json.dumps(score_form(TOPI, answers, age_years=4.5).to_dict())),
            suggestion={"available": False, "kind": "unavailable", "step": None},
            suggested_step=None,
            chosen_step=1,
            notify=False,
            role="skole",
            professional_id=by,
            reason=f"samtale med forældrene om {child}",
            decision=signed_decision(1, reason=f"samtale med forældrene om {child}", notify=False),
        )
    )
    return stored.screening_id


def _basic(name: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{name}:{WEB_PASSWORD}".encode()).decode()
    }


# --- every read path is in the access log ----------------------------------------------------------
def test_a_web_receipt_asks_why_first_and_logs_the_read(db: Path, web_login: Any) -> None:
    app = create_app(db, model=None)
    client = web_login(app, "P-0042", "skole")
    store: AuditLog = app.state.audit_log
    sid = _submit(store, "B-2026-041")
    ask = client.get(f"/screenings/{sid}")
    assert ask.status_code == 200 and 'name="purpose"' in ask.text
    assert "B-2026-041" not in ask.text  # nothing about the child before the purpose
    assert client.get(f"/screenings/{sid}?purpose=curiosity").text.count('name="purpose"') == 1
    assert store.access_log(child="B-2026-041") == []
    shown = client.get(f"/screenings/{sid}?purpose=faglig_vurdering")
    assert shown.status_code == 200 and 'id="screening-id">1<' in shown.text
    (entry,) = store.access_log(child="B-2026-041")
    assert (entry.user, entry.role, entry.purpose, entry.channel) == (
        "P-0042", "skole", "faglig_vurdering", "web",
    )  # fmt: skip
    assert entry.what == (f"screening:{sid}",) and entry.child_ref == store.child_ref("B-2026-041")
    assert store.verify().ok


def test_an_api_receipt_needs_a_purpose_and_logs_the_read(db: Path) -> None:
    app = create_app(db, model=None)
    store: AuditLog = app.state.audit_log
    add_user(store, "M-0001", "myndighed", WEB_PASSWORD)
    sid = _submit(store, "B-7")
    api = TestClient(app, base_url=WEB_BASE, headers=_basic("M-0001"))
    r = api.get(f"/api/v1/decisions/{sid}")
    assert r.status_code == 422 and "purpose" in r.text
    assert api.get(f"/api/v1/decisions/{sid}?purpose=nosy").status_code == 422
    assert store.access_log(child="B-7") == []
    r = api.get(f"/api/v1/decisions/{sid}?purpose=tilsyn")
    assert r.status_code == 200 and r.json()["form_id"] == "B-7"
    (entry,) = store.access_log(user="M-0001")
    assert (entry.purpose, entry.channel, entry.role) == ("tilsyn", "api", "myndighed")


def test_a_cli_export_is_logged_and_listed_by_child_and_by_user(db: Path, tmp_path: Path) -> None:
    store = AuditLog(db)
    add_user(store, "A-0001", "admin", WEB_PASSWORD)
    _submit(store, "B-1")
    out = tmp_path / "out"
    r = CliRunner().invoke(
        cli,
        ["export", "--child", "B-1", "--user", "A-0001", "--purpose", "foraeldres_indsigt",
         "--out", str(out), "--db", str(db)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (entry,) = store.access_log(child="B-1")
    assert (entry.user, entry.purpose, entry.channel) == ("A-0001", "foraeldres_indsigt", "cli")
    for args in (["--child", "B-1"], ["--user", "A-0001"]):
        listed = CliRunner().invoke(cli, ["audit", "access", *args, "--db", str(db)])
        assert listed.exit_code == 0 and "foraeldres_indsigt\tcli" in listed.output
        assert "1 read(s)" in listed.output
    nobody = CliRunner().invoke(cli, ["audit", "access", "--child", "B-2", "--db", str(db)])
    assert "0 read(s)" in nobody.output
    bad = CliRunner().invoke(
        cli,
        ["export", "--child", "B-1", "--user", "A-0001", "--purpose", "nysgerrighed",
         "--out", str(out), "--db", str(db)],
    )  # fmt: skip
    assert bad.exit_code == 2 and "purpose = 'nysgerrighed'" in bad.output
    # Not a pseudonymous id (a trailing newline, a space, a path): refused before any read,
    # so nothing is filed or logged under a look-alike of "B-1".
    for child in ("B-1\n", " B-1", "B-1 ", "../B-1", ""):
        odd = CliRunner().invoke(
            cli,
            ["export", "--child", child, "--user", "A-0001", "--purpose", "foraeldres_indsigt",
             "--out", str(out), "--db", str(db)],
        )  # fmt: skip
        assert odd.exit_code == 2 and "expected a pseudonymous id" in odd.output, child
    assert len(store.access_log()) == 1  # the one good export, nothing else


# --- sealed content ---------------------------------------------------------------------------------
def test_personal_content_is_not_in_the_database_in_clear(store: AuditLog, db: Path) -> None:
    _submit(store, "B-2026-041")
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.is_file())
    for secret in (b"B-2026-041", "samtale med forældrene".encode()):
        assert secret not in raw
    row = store.get(1)
    assert row is not None and row["form_id"] == "B-2026-041"
    assert json.loads(str(row["answers_json"])) == {"1vurdering": 1}


def test_the_generic_path_refuses_unknown_kinds_and_cpr_numbers(store: AuditLog) -> None:
    with pytest.raises(UserError, match="kind = 'diary'"):
        store.append_record("diary", "B-1", {"x": 1})
    with pytest.raises(ResponseValidationError, match="child"):
        store.append_record("decision", "010203-1234", {"x": 1})
    with pytest.raises(UserError, match="expected a pseudonymous id"):
        store.append_record("decision", "B-1\n", {"x": 1})
    with pytest.raises(UserError, match="purpose"):
        Reader("P-1", "skole", "because", "web")


def test_a_wrong_master_key_opens_nothing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSPORING_MASTER_KEY", "11" * 32)
    AuditLog(db).append_record("decision", "B-1", {"chosen_step": 2})
    monkeypatch.setenv("OPSPORING_MASTER_KEY", "22" * 32)
    with pytest.raises(StorageError, match="does not unwrap with this master key"):
        AuditLog(db)
    monkeypatch.setenv("OPSPORING_MASTER_KEY", "not hex")
    with pytest.raises(StorageError, match="expected 64 hex digits"):
        AuditLog(db)
    assert not (db.parent / "audit.sqlite.master-key").exists()  # never written beside


@pytest.mark.parametrize("damage", ["missing", "empty", "no index key"])
def test_a_lost_key_store_of_a_log_with_children_is_refused_not_replaced(
    store: AuditLog, db: Path, damage: str
) -> None:
    # A new index key would give every stored child a new reference: their records would
    # silently look erased and verify would still pass. The log refuses to open instead.
    _submit(store, "B-1")
    store.keys.close()
    keys = db.parent / "audit.sqlite.keys"
    if damage == "no index key":
        with sqlite3.connect(keys) as con:
            con.execute("DELETE FROM installation")
    else:
        for suffix in ("-wal", "-shm"):
            Path(f"{keys}{suffix}").unlink(missing_ok=True)
        keys.unlink() if damage == "missing" else keys.write_bytes(b"")
    with pytest.raises(StorageError, match=r"holds no index key.*restore"):
        AuditLog(db)


def test_a_new_log_and_a_log_without_children_make_their_index_key(db: Path) -> None:
    add_user(AuditLog(db), "P-0042", "skole", WEB_PASSWORD)  # a user is no child's record
    (db.parent / "audit.sqlite.keys").unlink()
    assert AuditLog(db).child_ref("B-1")


def test_a_log_written_before_sealing_is_refused_with_a_way_out(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.executescript(
            "CREATE TABLE screenings (id INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT"
            " NOT NULL UNIQUE, form_id TEXT NOT NULL, instrument TEXT NOT NULL, age_years REAL,"
            " answers_json TEXT NOT NULL, scores_json TEXT NOT NULL, created_at TEXT NOT NULL);"
            "INSERT INTO screenings VALUES (1, 'k', 'B-1', 'topi@1.0.0', 4, '{\"1vurdering\":1}',"
            " '{}', '2026-01-01');"
        )
    with pytest.raises(StorageError, match="1 screening\\(s\\) written before personal content"):
        AuditLog(db)


# --- retention ----------------------------------------------------------------------------------------
def _schedule(store: AuditLog, clock: Clock) -> dict[str, int]:
    """Three children written at different times; returns screening ids by child."""
    ids = {}
    for child, days in (("OLD", 0), ("MID", 800), ("NEW", 1500)):
        clock.now = T0 + timedelta(days=days)
        ids[child] = _submit(store, child)
    return ids


def _readable(store: AuditLog, child: str) -> dict[str, bool]:
    reader = Reader("A-1", "admin", "tilsyn", "cli")
    return {r.kind: not r.erased for r in store.read_child(child, reader)}


def test_retention_erases_exactly_the_expired_records(store: AuditLog, clock: Clock) -> None:
    _schedule(store, clock)
    # Day 1500 + a bit: OLD's screening and suggestion (1095 days) are past their period,
    # its decision (1826 days) is not; MID (day 800) and NEW are within every period.
    clock.now = T0 + timedelta(days=1500, hours=1)
    preview = run_retention(store, clock=clock, dry_run=True)
    assert sorted((e.child_ref, e.kind) for e in preview.erased) == sorted(
        (store.child_ref("OLD"), k) for k in ("screening", "suggestion")
    )
    assert all(_readable(store, "OLD").values())  # a dry run changes nothing
    report = run_retention(store, clock=clock)
    assert report.by_kind() == {"screening": 1, "suggestion": 1} and report.scrubbed
    assert _readable(store, "OLD") == {"screening": False, "suggestion": False, "decision": True}
    assert all(_readable(store, "MID").values()) and all(_readable(store, "NEW").values())
    assert store.verify().ok
    # The boundaries: a day before MID's screening expires only OLD's decision (day 1826)
    # goes; a second after MID's screening expires, its screening and suggestion go.
    clock.now = T0 + timedelta(days=800 + 1095 - 1)
    erased = {(e.child_ref, e.kind) for e in run_retention(store, clock=clock).erased}
    assert erased == {(store.child_ref("OLD"), "decision")}
    clock.now = T0 + timedelta(days=800 + 1095, seconds=1)
    erased = {(e.child_ref, e.kind) for e in run_retention(store, clock=clock).erased}
    assert erased == {(store.child_ref("MID"), "screening"), (store.child_ref("MID"), "suggestion")}
    # A second run erases nothing again and the erasures are recorded once, chained.
    assert run_retention(store, clock=clock).erased == []
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT COUNT(*) FROM erasures").fetchone()[0] == 5
    assert store.verify().ok
    receipt = store.get(1)
    assert receipt is not None and receipt["erased"] and receipt["answers_json"] is None


def test_a_child_screened_again_keeps_the_new_record(store: AuditLog, clock: Clock) -> None:
    _submit(store, "B-1", answer=1)
    clock.now = T0 + timedelta(days=1200)
    run_retention(store, clock=clock)
    _submit(store, "B-1", answer=2)  # a new key: the new screening is readable
    records = store.read_child("B-1", Reader("A-1", "admin", "tilsyn", "cli"), kinds=["screening"])
    assert [r.erased for r in records] == [True, False]
    assert records[1].content is not None and records[1].content["answers"] == {"1vurdering": 2}
    assert store.verify().ok


def test_verify_passes_after_erasure_and_fails_after_tampering(
    store: AuditLog, clock: Clock, db: Path
) -> None:
    _schedule(store, clock)
    clock.now = T0 + timedelta(days=4000)
    assert len(run_retention(store, clock=clock).erased) == 9
    assert store.verify().ok
    r = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert r.exit_code == 0, r.output
    with sqlite3.connect(db) as con:
        con.execute("DROP TRIGGER sealed_append_only_u")
        con.execute("UPDATE sealed SET ciphertext = X'00' || ciphertext WHERE record_id = 2")
    report = AuditLog(db).verify()
    assert not report.ok and "record 2: its sealed content was changed" in report.problem
    r = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert r.exit_code == 1


@pytest.mark.parametrize(
    "statement, problem",
    [
        ("UPDATE erasures SET up_to = 99 WHERE id = 1", "row erasures 1 was changed"),
        ("UPDATE access SET purpose = 'opsporing' WHERE id = 1", "row access 1 was changed"),
        ("UPDATE records SET kind = 'decision' WHERE id = 1", "row records 1 was changed"),
        ("DELETE FROM sealed WHERE record_id = 1", "record 1: its sealed content is missing"),
    ],
)
def test_tampering_with_records_access_or_erasures_is_found(
    store: AuditLog, clock: Clock, db: Path, statement: str, problem: str
) -> None:
    _submit(store, "B-1")
    store.read_child("B-1", Reader("A-1", "admin", "tilsyn", "cli"))
    clock.now = T0 + timedelta(days=1200)
    run_retention(store, clock=clock)
    assert store.verify().ok
    table = statement.split()[2 if statement.startswith("DELETE") else 1]
    with sqlite3.connect(db) as con:
        con.execute(f"DROP TRIGGER {table}_append_only_{'d' if 'DELETE' in statement else 'u'}")
        con.execute(statement)
    report = AuditLog(db).verify()
    assert not report.ok and problem in report.problem


def test_key_material_of_erased_children_is_gone_from_disk(store: AuditLog, clock: Clock) -> None:
    _schedule(store, clock)
    keys_db = store.keys.path

    def wrapped() -> dict[tuple[str, str], bytes]:
        with sqlite3.connect(keys_db) as con:
            rows = con.execute("SELECT child_ref, kind, wrapped FROM child_keys").fetchall()
        return {(a, b): bytes(c) for a, b, c in rows}

    before = wrapped()
    old = store.child_ref("OLD")
    clock.now = T0 + timedelta(days=1900)  # OLD: everything; MID: screening, suggestion
    report = run_retention(store, clock=clock)
    assert {e.child_ref for e in report.erased} == {old, store.child_ref("MID")}
    after = wrapped()
    gone = set(before) - set(after)
    assert {(old, "screening"), (old, "suggestion"), (old, "decision")} <= gone
    on_disk = b"".join(
        p.read_bytes() for p in keys_db.parent.iterdir() if p.name.startswith(keys_db.name)
    )
    for k in gone:
        assert before[k] not in on_disk, k  # not in the file, its free pages or its WAL
    for k in after:
        assert after[k] in on_disk  # the control: kept keys are found the same way


# --- insight ------------------------------------------------------------------------------------------
def test_the_insight_export_holds_every_record_of_the_child_and_nothing_else(
    store: AuditLog, clock: Clock
) -> None:
    from opsporing.web._export import insight, insight_html

    _submit(store, "B-1", answer=1)
    _submit(store, "B-1", answer=2)
    _submit(store, "B-2", answer=0)  # another child
    store.append_record("decision", "B-1", {"chosen_step": 2, "reason": "opfølgning"})
    store.read_child("B-2", Reader("P-0042", "skole", "opsporing", "web"))
    reader = Reader("A-1", "admin", "foraeldres_indsigt", "cli")
    data = insight(store, "B-1", reader)
    with sqlite3.connect(store.path) as con:
        ref = store.child_ref("B-1")
        expected = [
            i
            for (i,) in con.execute(
                "SELECT id FROM records WHERE child_ref = ? ORDER BY id", (ref,)
            )
        ]
    assert [r["record_id"] for r in data["records"]] == expected and len(expected) == 7
    assert [a["purpose"] for a in data["access_log"]] == ["foraeldres_indsigt"]
    text = json.dumps(data, ensure_ascii=False)
    assert "B-2" not in text and "samtale med forældrene om B-2" not in text
    html = insight_html(data)
    for shown in (TOPI.item("1vurdering").text.get("da"), "Gul", "Rød", "opfølgning",
                  "samtale med forældrene om B-1", "Forældres eller barnets indsigt"):  # fmt: skip
        assert shown in html, shown
    assert "B-2" not in html and "<script" not in html
    # Times as Danish writes them, in Danish time (the one helper): never the stored UTC text.
    for when in [r["created_at"] for r in data["records"]] + [data["generated_at"]]:
        assert _texts.datetime_text(when, "da") in html and when not in html


def test_the_insight_page_shows_a_stored_date_that_is_no_date_as_stored(store: AuditLog) -> None:
    from opsporing.web._export import insight, insight_html

    store.append_record("review", "B-1", {"outcome": "x", "reviewed_at": "sidste tirsdag"})
    store.append_record("plan", "B-1", {"review_on": "2026-02-16", "actions": []})
    html = insight_html(insight(store, "B-1", Reader("A-1", "admin", "tilsyn", "cli")))
    assert "sidste tirsdag" in html and "16. februar 2026" in html


def test_the_insight_export_escapes_what_was_recorded(store: AuditLog) -> None:
    from opsporing.web._export import insight, insight_html

    store.append_record("decision", "B-1", {"reason": "<script>alert(1)</script>"})
    html = insight_html(insight(store, "B-1", Reader("A-1", "admin", "tilsyn", "cli")))
    assert "<script>alert" not in html and "&lt;script&gt;" in html


# --- retention as a property ----------------------------------------------------------------------
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(["screening", "suggestion", "decision"]),
            st.integers(0, 3000),
        ),
        min_size=1,
        max_size=8,
    ),
    run_day=st.integers(0, 5000),
)
def test_retention_erases_a_group_exactly_when_its_newest_record_has_expired(
    tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[str, str, int]], run_day: int
) -> None:
    from opsporing.web import protection_policy

    clock = Clock()
    store = AuditLog(tmp_path_factory.mktemp("prop") / "audit.sqlite", clock=clock)
    for child, kind, day in sorted(writes, key=lambda w: w[2]):
        clock.now = T0 + timedelta(days=day)
        store.append_record(kind, child, {"day": day})
    clock.now = T0 + timedelta(days=run_day, seconds=1)
    days = protection_policy().retention_days
    newest: dict[tuple[str, str], int] = {}
    for child, kind, day in writes:
        newest[(child, kind)] = max(day, newest.get((child, kind), 0))
    expected = {(store.child_ref(c), k) for (c, k), d in newest.items() if d + days[k] <= run_day}
    got = {(e.child_ref, e.kind) for e in run_retention(store, clock=clock).erased}
    assert got == expected
    reader = Reader("A-1", "admin", "tilsyn", "cli")
    for child in {c for c, _, _ in writes}:
        for r in store.read_child(child, reader):
            assert r.erased == ((store.child_ref(child), r.kind) in expected)
    assert store.verify().ok


def test_a_policy_without_a_period_for_a_written_kind_is_refused_before_any_erasure(
    store: AuditLog, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installation's copy of protection.yaml from before plans and reviews existed: the
    # retention run would have erased every stored plan at once ("no retention period").
    from importlib import resources

    store.append_record("plan", "B-1", {"plan_id": "p"})
    shipped = resources.files("opsporing.web").joinpath("protection.yaml").read_text("utf-8")
    old = "\n".join(
        line for line in shipped.splitlines() if not line.startswith(("  plan:", "  review:"))
    )
    policy = tmp_path / "old-protection.yaml"
    policy.write_text(old, encoding="utf-8")
    monkeypatch.setenv("OPSPORING_PROTECTION_POLICY", str(policy))
    with pytest.raises(UserError, match="no period for plan, review"):
        run_retention(store, clock=clock)
    monkeypatch.delenv("OPSPORING_PROTECTION_POLICY")
    assert store.keys.has_key(store.child_ref("B-1"), "plan")


@pytest.mark.parametrize("garbled", ["abc", 17, b"short", b"\x00" * 60])
def test_a_garbled_wrapped_key_is_a_storage_error(
    store: AuditLog, db: Path, garbled: object
) -> None:
    _submit(store, "B-1")
    store.keys.close()
    with sqlite3.connect(db.parent / "audit.sqlite.keys") as con:
        con.execute("UPDATE child_keys SET wrapped = ?", (garbled,))
    with pytest.raises(StorageError, match="does not unwrap"):
        store.keys.data_key(store.child_ref("B-1"), "screening")
    with sqlite3.connect(db.parent / "audit.sqlite.keys") as con:
        con.execute("UPDATE installation SET wrapped = ?", (garbled,))
    with pytest.raises(StorageError, match="does not unwrap"):
        AuditLog(db)
