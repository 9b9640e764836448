"""The audit log's hash chain: every way issue 11 rewrote history is now found.

Issue 11: "with file access, drop a trigger, edit a decision, recompute its id, recreate the
trigger, reset sqlite_sequence; integrity_check is happy. A deleted database is silently
recreated empty and screening numbers are reused." Each test below replays one such attack
on a real log file and checks that ``AuditLog.verify``, ``opsporing audit verify`` and the
server's start all refuse it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from typer.testing import CliRunner

from opsporing.cli import app as cli
from opsporing.errors import AuditChainError, StorageError, UserError
from opsporing.web import AuditLog, Submission, add_user, create_app
from opsporing.web._chain import GENESIS, Head

from .conftest import signed_decision

PASSWORD = "correct horse battery staple"
TRIGGERS = {
    "decisions_append_only_u": "UPDATE",
    "decisions_append_only_d": "DELETE",
    "screenings_append_only_d": "DELETE",
    "chain_append_only_d": "DELETE",
    "records_append_only_d": "DELETE",
    "sealed_append_only_d": "DELETE",
}
#: Chain entries per submission: the screening, the decision, and its three sealed records
#: (screening, suggestion, decision content; issue 18).
PER_SUBMISSION = 5
#: Entries of the fixture's log: one user and three submissions.
ENTRIES = 1 + 3 * PER_SUBMISSION


def _submission(i: int, **change: Any) -> Submission:
    decision = signed_decision(1, reason=f"r{i}")
    fields: dict[str, Any] = {
        "idempotency_key": f"{i:032x}", "form_id": f"B-{i}", "instrument": "topi@1.0.0",
        "age_years": 4.0, "answers": {"1vurdering": 1}, "scores": {"total": 1.0},
        "suggestion": {"available": False}, "suggested_step": None, "chosen_step": 1,
        "notify": True, "role": "skole", "professional_id": "P-1", "reason": f"r{i}",
        "decision": decision,
    }  # fmt: skip
    return Submission(**(fields | change))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A log with one user and three submissions: 1 + 3 × 5 = 16 chain entries."""
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    add_user(log, "P-1", "skole", PASSWORD)
    for i in range(3):
        log.record(_submission(i))
    return path


def _tamper(db: Path, *statements: str) -> None:
    """What an attacker with the file does: triggers off, statements, triggers back."""
    con = sqlite3.connect(db, isolation_level=None)
    sql = {
        name: row[0]
        for name, row in (
            (n, con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (n,)).fetchone())
            for n in TRIGGERS
        )
    }
    for name in TRIGGERS:
        con.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        con.execute(statement)
    for text in sql.values():
        con.execute(text)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def _verify_cli(db: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "verify", "--db", str(db), *extra])


def test_an_intact_log_verifies_and_its_head_is_kept_beside_it(db: Path) -> None:
    log = AuditLog(db)
    report = log.verify()
    assert report.ok and report.problem == ""
    assert report.head.count == ENTRIES and report.head.mac != GENESIS
    assert log.known_head() == report.head == log.head()
    r = _verify_cli(db)
    assert r.exit_code == 0 and f"ok: {ENTRIES} entries, head {report.head.mac}" in r.output


def test_files_beside_the_log_are_readable_by_their_owner_only(db: Path) -> None:
    create_app(db, model=None)  # makes the session key too
    for name in ("audit.sqlite", "audit.sqlite.audit-key", "audit.sqlite.head",
                 "audit.sqlite.session-key"):  # fmt: skip
        mode = stat.S_IMODE((db.parent / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


def test_the_issue_11_rewrite_is_found(db: Path) -> None:
    """Drop the triggers, edit a decision, recompute its id, recreate, reset the sequence."""
    row = AuditLog(db).get(2)
    assert row is not None
    forged = json.loads(str(row["decision_json"]))
    forged.pop("decision_id")
    forged |= {"chosen_step": 6, "professional_role": "myndighed"}
    forged["decision_id"] = hashlib.sha256(json.dumps(forged, sort_keys=True).encode()).hexdigest()
    text = json.dumps(forged, sort_keys=True, separators=(",", ":")).replace("'", "''")
    _tamper(
        db,
        f"UPDATE decisions SET chosen_step = 6, role = 'myndighed', decision_json = '{text}'"
        " WHERE id = 2",
        "UPDATE sqlite_sequence SET seq = 3 WHERE name = 'decisions'",
    )
    report = AuditLog(db).verify()
    # Entry 8 is decision 2 (entries: user, then screening, decision and three records of
    # each submission).
    assert not report.ok and report.broken_at == 8
    assert report.problem == "entry 8: row decisions 2 was changed after it was written"
    assert report.head.count == 7  # verified as far as entry 7
    r = _verify_cli(db)
    assert r.exit_code == 1
    assert "does not verify: entry 8: row decisions 2 was changed after it was written" in r.output
    with pytest.raises(AuditChainError, match="does not verify: entry 8"):
        create_app(db, model=None)


def test_an_edited_user_role_is_found(db: Path) -> None:
    _tamper_users = "UPDATE users SET role = 'myndighed' WHERE name = 'P-1'"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DROP TRIGGER users_append_only_u")
    con.execute(_tamper_users)
    con.close()
    report = AuditLog(db).verify()
    assert not report.ok and report.broken_at == 1 and "users 1" in report.problem


def test_a_row_slipped_in_without_the_chain_is_found(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES ('X', 'admin', 'h', 't')"
        )
    report = AuditLog(db).verify()
    assert not report.ok and report.problem == "row users 2 was written without the chain"


def test_a_removed_row_in_the_middle_is_found(db: Path) -> None:
    _tamper(db, "DELETE FROM decisions WHERE id = 1")
    report = AuditLog(db).verify()
    assert not report.ok and report.broken_at == 3
    assert report.problem == "entry 3: row decisions 1 is missing"


def test_a_log_cut_short_is_found_by_its_kept_and_its_exported_head(
    db: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "head-exported.json"
    r = CliRunner().invoke(cli, ["audit", "head", "--db", str(db), "--out", str(exported)])
    assert r.exit_code == 0 and Head.from_json(exported.read_text()).count == ENTRIES
    # Remove the last submission with its chain entries, and reset the sequences: what is
    # left is a perfectly consistent, shorter chain, and the next id would be reused.
    _tamper(
        db,
        f"DELETE FROM chain WHERE seq > {ENTRIES - PER_SUBMISSION}",
        "DELETE FROM decisions WHERE id = 3",
        "DELETE FROM screenings WHERE id = 3",
        "DELETE FROM sealed WHERE record_id > 6",
        "DELETE FROM records WHERE id > 6",
        "UPDATE sqlite_sequence SET seq = 2 WHERE name IN ('screenings', 'decisions')",
        "UPDATE sqlite_sequence SET seq = 6 WHERE name = 'records'",
        f"UPDATE sqlite_sequence SET seq = {ENTRIES - PER_SUBMISSION} WHERE name = 'chain'",
    )
    report = AuditLog(db).verify()
    assert not report.ok and f"fewer than the {ENTRIES} of its known head" in report.problem
    with pytest.raises(AuditChainError, match=f"fewer than the {ENTRIES}"):
        create_app(db, model=None)
    # Nothing more is written to it: a new row would move the kept head past the evidence.
    kept = db.with_name("audit.sqlite.head").read_text()
    with pytest.raises(AuditChainError, match=f"fewer than the {ENTRIES}"):
        add_user(AuditLog(db), "P-2", "skole", PASSWORD)
    with pytest.raises(AuditChainError, match=f"fewer than the {ENTRIES}"):
        AuditLog(db).record(_submission(9))
    assert db.with_name("audit.sqlite.head").read_text() == kept
    # The attacker also rewrites the head beside the log: the exported head still knows.
    log = AuditLog(db)
    log.head_path.write_text(log.head().to_json())
    assert log.verify().ok
    r = _verify_cli(db, "--head", str(exported))
    assert r.exit_code == 1 and f"fewer than the {ENTRIES} of its known head" in r.output


def test_a_rewritten_history_of_the_same_length_differs_from_the_exported_head(
    db: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "head.json"
    exported.write_text(AuditLog(db).head().to_json())
    # Someone who has the key rebuilds the chain over edited rows: it verifies on its own ...
    key = AuditLog(db).key_path
    other = tmp_path / "other" / "audit.sqlite"
    log = AuditLog(other)
    other.with_name("audit.sqlite.audit-key").write_bytes(key.read_bytes())
    log = AuditLog(other)
    add_user(log, "P-1", "skole", PASSWORD)
    for i in range(3):
        log.record(_submission(i, chosen_step=2 if i == 1 else 1))
    assert log.verify().ok and log.head().count == ENTRIES
    # ... but not through the head exported before.
    report = log.verify(Head.from_json(exported.read_text()))
    assert not report.ok and report.broken_at == ENTRIES
    assert "history was rewritten" in report.problem


def test_a_deleted_log_is_not_created_anew(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(AuditChainError, match=rf"is missing, but its head .* held {ENTRIES} entries"):
        AuditLog(db)
    with pytest.raises(AuditChainError, match="is missing"):
        create_app(db, model=None)
    assert not db.exists()
    r = _verify_cli(db)
    assert r.exit_code == 2 and "no audit log there" in r.output


def test_a_missing_head_file_is_refused_until_restored(db: Path) -> None:
    head = db.with_name("audit.sqlite.head")
    saved = head.read_text()
    head.unlink()
    with pytest.raises(AuditChainError, match=r"head file .* is missing"):
        create_app(db, model=None)
    r = CliRunner().invoke(cli, ["audit", "head", "--db", str(db), "--out", str(head)])
    assert r.exit_code == 0 and head.read_text() == saved
    create_app(db, model=None)


def test_a_head_that_cannot_be_kept_does_not_lose_the_submission(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AuditLog(db)

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("opsporing.web._store.write_private_atomically", full_disk)
    stored = log.record(_submission(7))
    assert stored.screening_id == 4 and not stored.duplicate
    report = log.verify()  # the kept head is behind (16 of 21 entries): still a valid lower bound
    assert report.ok and report.head.count == ENTRIES + PER_SUBMISSION
    assert log.known_head().count == ENTRIES  # type: ignore[union-attr]


def test_another_key_breaks_the_first_entry(db: Path) -> None:
    key = db.with_name("audit.sqlite.audit-key")
    key.write_text("11" * 32 + "\n")
    report = AuditLog(db).verify()
    assert not report.ok and report.broken_at == 1


@pytest.mark.parametrize(
    ("content", "mode", "match"),
    [("ab" * 32, 0o644, "mode 0644: expected 0600"), ("abcd", 0o600, "holds no key")],
)
def test_a_key_file_others_can_read_or_too_short_is_refused(
    db: Path, content: str, mode: int, match: str
) -> None:
    key = db.with_name("audit.sqlite.audit-key")
    key.write_text(content)
    key.chmod(mode)
    with pytest.raises(StorageError, match=match):
        AuditLog(db)


def test_a_missing_key_for_a_log_with_rows_is_refused(db: Path) -> None:
    db.with_name("audit.sqlite.audit-key").unlink()
    with pytest.raises(StorageError, match=r"key file .* is missing"):
        AuditLog(db)


@pytest.mark.parametrize(
    "text",
    ['{"count": -1, "mac": "' + "0" * 64 + '"}', '{"count": 1, "mac": "xyz"}', "[]", "not json"],
)
def test_a_malformed_head_is_refused_with_what_was_expected(text: str) -> None:
    with pytest.raises(AuditChainError, match="expected"):
        Head.from_json(text, "head.json")


# --- users on the command line ------------------------------------------------------------------
def test_users_add_list_passwd_disable(tmp_path: Path) -> None:
    db = str(tmp_path / "audit.sqlite")
    run = CliRunner().invoke
    r = run(cli, ["users", "add", "P-7", "--role", "skole", "--db", db, "--password-stdin"],
            input=PASSWORD + "\n")  # fmt: skip
    assert r.exit_code == 0 and "added user P-7 (skole)" in r.output
    r = run(cli, ["users", "add", "M-1", "--role", "myndighed", "--db", db],
            input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run(cli, ["users", "list", "--db", db])
    assert [line.split("\t")[:3] for line in r.output.splitlines()] == [
        ["M-1", "myndighed", "active"], ["P-7", "skole", "active"],
    ]  # fmt: skip
    since = r.output.splitlines()[0].split("\t")[3]  # "1 December 2026, 21:15": a person reads it
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d", since), since
    r = run(cli, ["users", "disable", "P-7", "--db", db])
    assert r.exit_code == 0
    assert "P-7\tskole\tdisabled" in run(cli, ["users", "list", "--db", db]).output
    r = run(cli, ["users", "passwd", "P-7", "--db", db, "--password-stdin"], input="x" * 20 + "\n")
    assert r.exit_code == 0
    assert "P-7\tskole\tactive" in run(cli, ["users", "list", "--db", db]).output
    log = AuditLog(db)
    assert log.verify().ok and log.head().count == 4  # every change is a chained row
    hashes = [u.password_hash or "" for u in log.users()]
    assert all(h.startswith("$argon2id$") for h in hashes) and PASSWORD not in "".join(hashes)


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("0102031234", "skole", PASSWORD, "name = (not shown"),
        ("Anna Jensen", "skole", PASSWORD, "expected a pseudonymous id"),
        ("P-9", "rektor", PASSWORD, "role = 'rektor': expected one of ['dagtilbud'"),
        ("P-9", "skole", "short", "expected 12 to 256 characters"),
        ("P-1", "skole", PASSWORD, "this user exists"),
    ],
)
def test_users_add_refuses_bad_input_in_one_line(
    db: Path, name: str, role: str, password: str, message: str
) -> None:
    r = CliRunner().invoke(
        cli, ["users", "add", name, "--role", role, "--db", str(db), "--password-stdin"],
        input=password + "\n",
    )  # fmt: skip
    assert r.exit_code == 2 and message in r.output
    with pytest.raises(UserError):
        add_user(AuditLog(db), name, role, password)
