"""Issue 11's web attacks, replayed: each now fails safe (FastAPI's TestClient).

"Broke" in the issue, and the test(s) here:

* cross-site posting, any-32-hex form token        -> test_cross_site_*, test_csrf_*
  (the Chromium replay is in tests/test_web_live.py)
* the role is a form field                         -> test_role_*, test_municipal_steps_*
* receipts are public                              -> test_receipt_*
* the database file is world-readable              -> test_database_file_mode_is_0600
* ``Host: evil.example`` answered                  -> test_a_foreign_host_is_refused
* no security headers, framing                     -> test_security_headers_*
* a 380 MB body is accepted                        -> test_a_huge_body_*
* ``/screenings/99999999999999999999`` gives 500   -> test_out_of_range_ids_are_404
"""

from __future__ import annotations

import re
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opsporing.cli import app as cli
from opsporing.errors import UserError
from opsporing.web import AuditLog, add_user, create_app, run
from opsporing.web._auth import disable_user, set_password
from opsporing.web._security import CONTENT_SECURITY_POLICY, MAX_BODY_BYTES

from .conftest import opened_rows

SCHOOL = "opsporing.skole.trivsel"
BASE = "http://127.0.0.1"
PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)
#: A red flag: no model needed, the decision protocol suggests notifying.
RED_FLAG = {"emo_sad": 2, "saf_disclosure": 1}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def app(db: Path) -> Any:
    return create_app(db, clock=lambda: NOW, model=None)


@pytest.fixture
def school(app: Any, web_login: Any) -> TestClient:
    """Logged in as school staff P-0042."""
    return web_login(app)  # type: ignore[no-any-return]


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert m
    return m.group(1)


def _form(
    client: TestClient, answers: dict[str, int] | None = None, **extra: str
) -> dict[str, str]:
    """A complete, valid decision post from a freshly rendered form (reason given)."""
    page = client.get(f"/form/{SCHOOL}").text
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
    assert token
    data = {
        "token": token.group(1), "lang": "da", "instrument_version": "1.0.0",
        "form_id": "B-1", "age_years": "9", "chosen_step": "1", "notify": "1",
        "reason": "Samtale med forældrene.", "suggestion_id": "",
    }  # fmt: skip
    data |= {f"item.{k}": str(v) for k, v in (answers or {"emo_sad": 2}).items()}
    return data | extra


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as con:
        return (
            con.execute("SELECT COUNT(*) FROM screenings").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM decisions").fetchone()[0],
        )


def _decide(client: TestClient, **extra: str) -> Any:
    return client.post(f"/form/{SCHOOL}/decision", data=_form(client, **extra))


# --- cross-site posting ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},  # another port: another origin, same site
        {"Origin": "null"},  # a sandboxed frame or a data: page
        {"Origin": "https://127.0.0.1"},  # another scheme
        {"Origin": "", "Referer": "http://evil.example/page"},
    ],
)
def test_cross_site_posts_are_refused_even_with_a_valid_token(
    school: TestClient, db: Path, headers: dict[str, str]
) -> None:
    data = _form(school) | {"csrf_token": school.csrf}  # type: ignore[attr-defined]
    r = school.post(f"/form/{SCHOOL}/decision", data=data, headers=headers)
    assert r.status_code == 403 and r.text == "Cross-site request refused."
    assert _counts(db) == (0, 0)


def test_cross_site_post_without_origin_or_referer_is_refused(school: TestClient, db: Path) -> None:
    # httpx would send the client's default Origin: take it away for this one request.
    del school.headers["Origin"]
    r = school.post(f"/form/{SCHOOL}/decision", data=_form(school))
    assert r.status_code == 403
    # A same-origin Referer stands in for a missing Origin (as in Django).
    r = school.post(
        f"/form/{SCHOOL}/decision", data=_form(school), headers={"Referer": f"{BASE}/form/x"}
    )
    assert r.status_code == 303
    assert _counts(db) == (1, 1)


@pytest.mark.parametrize(
    "token",
    [None, "", "0" * 64, "0" * 32, "x" * 64],  # absent, empty, well-formed but not the session's
)
def test_csrf_token_must_be_the_sessions_own(
    school: TestClient, db: Path, token: str | None
) -> None:
    data = _form(school)
    data = data if token is None else data | {"csrf_token": token}
    # Posted with the client's plain TestClient.post: no token is added.
    r = TestClient.post(school, f"/form/{SCHOOL}/decision", data=data)
    assert r.status_code == 403 and "Intet er gemt" in r.text
    assert _counts(db) == (0, 0)


def test_csrf_token_of_another_session_is_refused(
    app: Any, school: TestClient, web_login: Any, db: Path
) -> None:
    other = web_login(app, "P-0043", "skole")
    assert other.csrf != school.csrf  # type: ignore[attr-defined]
    r = school.post(f"/form/{SCHOOL}/decision", data=_form(school) | {"csrf_token": other.csrf})
    assert r.status_code == 403
    assert _counts(db) == (0, 0)


def test_the_login_form_needs_its_csrf_token_too(app: Any, db: Path) -> None:
    add_user(app.state.audit_log, "P-1", "skole", PASSWORD)
    client = TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})
    r = client.post("/login", data={"username": "P-1", "password": PASSWORD})
    assert r.status_code == 403
    assert client.get("/").status_code == 303  # not logged in


def test_a_post_without_login_stores_nothing(app: Any, db: Path) -> None:
    client = TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})
    csrf = _csrf(client.get("/login").text)  # an anonymous session's token
    r = client.post(f"/form/{SCHOOL}/decision", data={"csrf_token": csrf, "chosen_step": "6"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert _counts(db) == (0, 0)


# --- identity and roles ---------------------------------------------------------------------------
def test_role_and_professional_id_in_the_form_are_ignored(school: TestClient, db: Path) -> None:
    r = _decide(school, role="myndighed", professional_id="M-9")
    assert r.status_code == 303
    o = opened_rows(db)[0]
    row = (o["role"], o["professional_id"], str(o["decision_json"]))
    assert row[:2] == ("skole", "P-0042")
    assert '"professional_role":"skole"' in row[2] and '"professional_id":"P-0042"' in row[2]


@pytest.mark.parametrize("step", ["3", "4", "5", "6"])
def test_municipal_steps_are_refused_to_a_school_even_as_a_forged_role(
    school: TestClient, db: Path, step: str
) -> None:
    r = _decide(school, chosen_step=step, role="myndighed")
    assert r.status_code == 422 and 'id="chosen_step-error"' in r.text
    assert _counts(db) == (0, 0)


def test_municipal_steps_are_open_to_the_municipality(app: Any, web_login: Any, db: Path) -> None:
    municipality = web_login(app, "M-1", "myndighed")
    r = _decide(municipality, chosen_step="6")
    assert r.status_code == 303
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT role, chosen_step FROM decisions").fetchone() == ("myndighed", 6)


@pytest.mark.parametrize("from_step", [2, 5])
def test_the_municipal_step_is_read_from_the_vocabulary(
    school: TestClient, db: Path, monkeypatch: pytest.MonkeyPatch, from_step: int
) -> None:
    import dataclasses

    import opsporing.web._auth as auth

    voc = auth.load_vocabulary()
    monkeypatch.setattr(
        auth,
        "load_vocabulary",
        lambda: dataclasses.replace(voc, municipal_assessment_from_step=from_step),
    )
    assert auth.may_choose_step("skole", from_step - 1)
    assert not auth.may_choose_step("skole", from_step)
    r = _decide(school, chosen_step=str(from_step))
    assert r.status_code == 422 and 'id="chosen_step-error"' in r.text


def test_an_admin_records_no_decisions(app: Any, web_login: Any, db: Path) -> None:
    admin = web_login(app, "A-1", "admin")
    result = admin.post(f"/form/{SCHOOL}", data=_form(admin))
    assert result.status_code == 200 and 'id="cannot-decide"' in result.text
    assert "/decision" not in result.text  # no decision form
    r = _decide(admin)
    assert r.status_code == 403 and "Din rolle registrerer ikke beslutninger" in r.text
    assert _counts(db) == (0, 0)


# --- receipts ---------------------------------------------------------------------------------------
def test_receipts_are_readable_by_who_recorded_them_and_the_reading_roles(
    app: Any, school: TestClient, web_login: Any
) -> None:
    location = _decide(school).headers["location"]
    mine = school.get(location)
    assert mine.status_code == 200 and 'id="recorded-by">P-0042 (skole)<' in mine.text
    colleague = web_login(app, "P-0043", "skole")
    r = colleague.get(location)
    assert r.status_code == 403 and "B-1" not in r.text and "P-0042" not in r.text
    for name, role in (("M-1", "myndighed"), ("A-1", "admin")):
        assert web_login(app, name, role).get(location).status_code == 200
    anonymous = TestClient(app, base_url=BASE, follow_redirects=False)
    r = anonymous.get(location)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/screenings/1%3Flang%3Dda%26purpose%3Dopsporing"


@pytest.mark.parametrize(
    "ident", ["99999999999999999999", "9223372036854775808", "0", "-1", "1e3", "abc", "٣"]
)
def test_out_of_range_ids_are_404(school: TestClient, ident: str) -> None:
    r = school.get(f"/screenings/{ident}")
    assert r.status_code == 404 and "Ikke fundet" in r.text


# --- sessions -----------------------------------------------------------------------------------------
def test_wrong_password_and_unknown_user_look_the_same_and_are_throttled(app: Any) -> None:
    add_user(app.state.audit_log, "P-1", "skole", PASSWORD)
    client = TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})
    csrf = _csrf(client.get("/login").text)

    def attempt(name: str, password: str) -> Any:
        return client.post(
            "/login", data={"username": name, "password": password, "csrf_token": csrf}
        )

    wrong, unknown = attempt("P-1", "x" * 12), attempt("P-2", "x" * 12)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text.replace("P-1", "") == unknown.text.replace("P-2", "")
    for _ in range(4):
        attempt("P-1", "y" * 12)
    r = attempt("P-1", PASSWORD)  # the sixth attempt, right password: refused for a while
    assert r.status_code == 429 and "For mange forkerte forsøg" in r.text


def test_a_new_password_or_disabling_ends_every_session(app: Any, web_login: Any) -> None:
    first = web_login(app, "P-1", "skole")
    assert first.get("/").status_code == 200
    set_password(app.state.audit_log, "P-1", "another long password")
    assert first.get("/").status_code == 303
    second = TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})
    csrf = _csrf(second.get("/login").text)
    data = {"username": "P-1", "password": "another long password", "csrf_token": csrf}
    assert second.post("/login", data=data).status_code == 303
    assert second.get("/").status_code == 200
    disable_user(app.state.audit_log, "P-1")
    assert second.get("/").status_code == 303
    csrf = _csrf(second.get("/login").text)
    assert second.post("/login", data=data | {"csrf_token": csrf}).status_code == 401


def test_logout_ends_the_session_and_changes_the_token(school: TestClient) -> None:
    old = school.csrf  # type: ignore[attr-defined]
    r = school.post("/logout", data={"lang": "en"})
    assert r.status_code == 303 and r.headers["location"] == "/login?lang=en"
    assert school.get("/").status_code == 303
    assert _csrf(school.get("/login").text) != old


def test_login_redirects_only_to_local_paths(app: Any) -> None:
    add_user(app.state.audit_log, "P-1", "skole", PASSWORD)
    for target, expected in (("/form/topi", "/form/topi"), ("//evil.example", "/"),
                             ("https://evil.example", "/"), ("/\\evil.example", "/")):  # fmt: skip
        client = TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})
        csrf = _csrf(client.get("/login").text)
        data = {"username": "P-1", "password": PASSWORD, "csrf_token": csrf, "next": target}
        assert client.post("/login", data=data).headers["location"] == expected


def test_the_session_cookie_is_httponly_and_strict(app: Any) -> None:
    client = TestClient(app, base_url=BASE)
    cookie = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "opsporing_session=" in cookie


# --- hosts, headers, bodies, files ------------------------------------------------------------------
def test_a_foreign_host_is_refused(app: Any, db: Path) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 reaches nothing."""
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost.", ""):
        r = TestClient(app, base_url=f"http://{host or 'x'}").get("/login", headers={"Host": host})
        assert r.status_code == 400, host
    assert TestClient(app, base_url="http://localhost").get("/login").status_code == 200
    named = create_app(db, model=None, allowed_hosts=["opsporing.kommune.dk"])
    assert (
        TestClient(named, base_url="http://opsporing.kommune.dk").get("/login").status_code == 200
    )
    assert TestClient(named, base_url=BASE).get("/login").status_code == 400


def test_security_headers_are_on_every_response(school: TestClient, app: Any) -> None:
    responses = [
        ("page", school.get("/")),
        ("login", TestClient(app, base_url=BASE).get("/login")),
        ("404", school.get("/screenings/999")),
        ("403", school.post("/form/x", data={"csrf_token": "0" * 64})),
        ("cross-site", school.post("/form/x", data={}, headers={"Origin": "http://e.x"})),
        ("400", TestClient(app, base_url="http://evil.example").get("/")),
        ("413", school.post("/form/x", content=b"a", headers={"Content-Length": "9" * 12})),
    ]
    assert [r.status_code for _, r in responses] == [200, 200, 404, 403, 403, 400, 413]
    for what, r in responses:
        h = r.headers
        assert h["content-security-policy"] == CONTENT_SECURITY_POLICY, what
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "script-src" not in h["content-security-policy"]  # default-src 'none': no scripts
        assert h["x-frame-options"] == "DENY", what
        assert h["x-content-type-options"] == "nosniff", what
        assert h["referrer-policy"] == "same-origin", what
        assert h["cache-control"] == "no-store", what


def test_security_headers_child_data_pages_are_not_cached_the_style_sheet_is(
    school: TestClient,
) -> None:
    result = school.post(f"/form/{SCHOOL}", data=_form(school))
    assert result.status_code == 200 and result.headers["cache-control"] == "no-store"
    css = school.get("/static/style.css")
    assert css.status_code == 200 and css.headers["cache-control"] == "no-cache"
    assert css.headers["x-content-type-options"] == "nosniff"


def test_a_huge_body_is_refused_before_it_is_read(school: TestClient, db: Path) -> None:
    big = _form(school) | {"reason": "x" * (MAX_BODY_BYTES + 1)}
    r = school.post(f"/form/{SCHOOL}/decision", data=big)
    assert r.status_code == 413
    r = school.post(
        f"/form/{SCHOOL}/decision", content=b"a=1", headers={"Content-Length": "380000000"}
    )
    assert r.status_code == 413
    assert _counts(db) == (0, 0)


def test_a_huge_streamed_body_is_refused(school: TestClient, db: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield f"csrf_token={school.csrf}&reason=".encode()  # type: ignore[attr-defined]
        for _ in range(64):
            yield b"x" * 8192

    r = school.post(
        f"/form/{SCHOOL}/decision",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert _counts(db) == (0, 0)


def test_database_file_mode_is_0600(school: TestClient, db: Path) -> None:
    assert _decide(school).status_code == 303
    for path in sorted(db.parent.iterdir()):
        if path.name.startswith("audit.sqlite"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_world_readable_database_is_tightened_on_open(db: Path) -> None:
    AuditLog(db)
    db.chmod(0o644)
    AuditLog(db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


# --- serve ----------------------------------------------------------------------------------------------
def test_serve_refuses_to_start_without_a_user_and_says_how_to_make_one(db: Path) -> None:
    with pytest.raises(UserError, match="opsporing users add NAME --role ROLE"):
        run(db_path=db, model=None)
    r = CliRunner().invoke(cli, ["serve", "--db", str(db), "--model", "none"])
    assert r.exit_code == 2 and "opsporing users add NAME --role ROLE" in r.output
    log = AuditLog(db)
    add_user(log, "P-1", "skole", PASSWORD)
    disable_user(log, "P-1")  # a disabled user cannot log in either
    with pytest.raises(UserError, match="users = none"):
        run(db_path=db, model=None)
