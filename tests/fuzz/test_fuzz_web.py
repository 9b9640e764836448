"""The web form's POST routes with garbage fields: never a 500, and no row stored on error.

Every response is a page (200 result, 303 stored, 404, 409, 422 with the errors); a
response other than 303 leaves the audit log exactly as it was. The client is logged in,
and every post carries its session's CSRF token (tests/test_web_security.py fuzzes neither).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.instruments import get_instrument
from opsporing.web import add_user, create_app

from .conftest import budget, count

SCHOOL = "opsporing.skole.trivsel"
ITEMS = get_instrument(SCHOOL).item_ids
TOKEN = "0123456789abcdef0123456789abcdef"


BASE = "http://127.0.0.1"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Path]:
    """A client logged in as school staff; its CSRF token in ``client.csrf``."""
    db = tmp_path_factory.mktemp("web") / "audit.sqlite"
    application = create_app(db, model=None)
    add_user(application.state.audit_log, "P-0042", "skole", "correct horse battery staple")
    client = TestClient(
        application, base_url=BASE, follow_redirects=False, headers={"Origin": BASE}
    )
    token = _CSRF.search(client.get("/login").text)
    assert token is not None
    login = {"username": "P-0042", "password": "correct horse battery staple"}
    r = client.post("/login", data=login | {"csrf_token": token.group(1)})
    assert r.status_code == 303
    token = _CSRF.search(client.get("/").text)
    assert token is not None
    client.csrf = token.group(1)  # type: ignore[attr-defined]
    return client, db


def _rows(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as con:
        return (
            con.execute("SELECT COUNT(*) FROM screenings").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM decisions").fetchone()[0],
        )


TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "0", "1", "2", "3", "4", "-1", "1.5", "nan", "inf", "-inf", "1e308", "٣",
         "9" * 5000, "010203-1234", "x" * 3000, "\u2028", "<script>", "%00", "None", "true"]
    ),
    st.text(max_size=12),
)  # fmt: skip
GOOD = {
    "token": TOKEN,
    "lang": "da",
    "instrument_version": "1.0.0",
    "form_id": "B-2026-041",
    "age_years": "9",
    "item.emo_sad": "2",
    "item.emo_tense": "3",
    "role": "skole",
    "professional_id": "P-0042",
    "chosen_step": "1",
    "reason": "Tæt samarbejde med forældrene.",
}
FIELDS = [*GOOD, *(f"item.{i}" for i in ITEMS[:6]), "suggestion_id", "notify", "item.nope", "x"]


@st.composite
def posted(draw: st.DrawFn) -> dict[str, str]:
    """The good form with some fields replaced by garbage, dropped or added."""
    data = dict(GOOD)
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(FIELDS) | st.text(max_size=8))
        if draw(st.integers(0, 4)) == 0:
            data.pop(name, None)
        else:
            data[name] = draw(TEXT)
    return data


def _post(client: TestClient, db: Path, path: str, data: dict[str, str]) -> Any:
    count("web.POST /form/{id}/decision" if path.endswith("/decision") else "web.POST /form/{id}")
    before = _rows(db)
    data = {**data, "csrf_token": client.csrf}  # type: ignore[attr-defined]
    r = client.post(path, data=data)  # an exception inside the app fails the test here
    assert r.status_code in (200, 303, 404, 409, 422), (r.status_code, r.text[:300])
    after = _rows(db)
    if r.status_code == 303:
        assert after[0] - before[0] in (0, 1) and after[1] - before[1] == after[0] - before[0]
    else:
        assert after == before, "a refused form stored a row"
    if r.status_code == 422:
        assert "error" in r.text.lower() or "fejl" in r.text.lower()
    return r


@budget(200)
@given(data=posted())
@example(data={**GOOD, "item.emo_sad": "9" * 5000})  # int() of > 4300 digits: ValueError
@example(data={**GOOD, "age_years": "nan"})
@example(data={**GOOD, "age_years": "1e400"})
def test_posting_a_garbage_screening(app: tuple[TestClient, Path], data: dict[str, str]) -> None:
    client, db = app
    r = _post(client, db, f"/form/{SCHOOL}", data)
    if r.status_code == 200:
        assert re.search(r'name="suggestion_id"', r.text)


@budget(200)
@given(data=posted(), fresh=st.booleans())
@example(data={**GOOD, "chosen_step": "٣"}, fresh=True)
@example(data={**GOOD, "item.emo_sad": "9" * 5000}, fresh=True)
def test_posting_a_garbage_decision(
    app: tuple[TestClient, Path], data: dict[str, str], fresh: bool
) -> None:
    client, db = app
    if fresh:  # a new token, so a good decision could really be stored
        import secrets

        data = {**data, "token": secrets.token_hex(16)}
    _post(client, db, f"/form/{SCHOOL}/decision", data)


@budget(40)
@given(instrument=st.text(min_size=1, max_size=10).filter(lambda s: s not in (".", "..")))
def test_posting_to_an_unknown_instrument(app: tuple[TestClient, Path], instrument: str) -> None:
    client, db = app
    _post(client, db, f"/form/{quote(instrument, safe='')}/decision", GOOD)


def test_posting_raw_bodies(app: tuple[TestClient, Path]) -> None:
    """Bodies that are not form-encoded at all."""
    client, db = app
    for body, ctype in [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
        (b"", "application/x-www-form-urlencoded"),
        (b"token=%ZZ&form_id=%", "application/x-www-form-urlencoded"),
        (f"csrf_token={client.csrf}&token=%ZZ&form_id=%".encode(),  # type: ignore[attr-defined]
         "application/x-www-form-urlencoded"),
        (f"csrf_token={client.csrf}".encode() + b"&\xff\xfe=\x00",  # type: ignore[attr-defined]
         "application/x-www-form-urlencoded"),
    ]:  # fmt: skip
        count("web.POST /form/{id}/decision")
        before = _rows(db)
        r = client.post(f"/form/{SCHOOL}/decision", content=body, headers={"content-type": ctype})
        # 403: no CSRF token in what could be read of the body.
        assert r.status_code in (400, 403, 422), r.status_code
        assert _rows(db) == before
