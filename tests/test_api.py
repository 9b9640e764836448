"""The JSON HTTP API (/api/v1): endpoints, login, roles, hostile bodies, problem details.

Through FastAPI's TestClient against the whole application (its middleware included), and
through a client generated from the OpenAPI document by schemathesis.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
import pandas as pd
from fastapi.testclient import TestClient

from opsporing.decision import Decision, Suggestion, suggest_batch, unavailable_suggestion
from opsporing.instruments import get_instrument
from opsporing.scoring import FormScore, score_batch, score_form
from opsporing.vocabulary import load_vocabulary
from opsporing.web import add_user, create_app
from opsporing.web._auth import access_policy, disable_user, set_password

from .conftest import WEB_BASE, WEB_PASSWORD

SCHOOL = "opsporing.skole.trivsel"
NOW = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)
CPR = "0102031234"  # a CPR-shaped number with a real date (1 Feb 2003)
PROBLEM_KEYS = {"type", "title", "status", "detail", "errors", "red_flags"}
RECORD_KEYS = {"field", "row", "value", "expected", "kind"}


def _full(level: int) -> dict[str, int]:
    """Every school item answered: concern items ``level``, resources ``3 - level``, safety 0."""
    return {
        i.id: 0 if i.domain == "safety" else 3 - level if i.domain == "resources" else level
        for i in get_instrument(SCHOOL).items
    }


def _form(form_id: str = "B-1", answers: dict[str, Any] | None = None, age: Any = 9.0) -> Any:
    return {
        "form_id": form_id,
        "age_years": age,
        "answers": _full(1) if answers is None else answers,
    }


def _forms(*forms: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"instrument": SCHOOL, "forms": list(forms), **extra}


RED = {**_full(1), "saf_disclosure": 1}  # a disclosure of violence: a red flag


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as con:
        return (
            con.execute("SELECT COUNT(*) FROM screenings").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM decisions").fetchone()[0],
        )


def _problem(r: Any, status: int) -> dict[str, Any]:
    """The response's problem details, checked for their RFC 9457 shape."""
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(body) == PROBLEM_KEYS and body["status"] == status
    assert all(set(e) == RECORD_KEYS for e in body["errors"])
    assert "Traceback" not in r.text
    return body  # type: ignore[no-any-return]


def _basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model() -> Any:
    from .test_web import train_test_model

    return train_test_model()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def app(db: Path) -> Any:
    """The application without a model."""
    return create_app(db, clock=lambda: NOW, model=None)


@pytest.fixture
def model_app(db: Path, small_model: Any) -> Any:
    return create_app(db, clock=lambda: NOW, model=small_model)


def _client(app: Any, name: str = "P-0042", role: str = "skole", **kw: Any) -> TestClient:
    """An API client of ``app`` with HTTP Basic credentials of user ``name`` (made if new)."""
    store = app.state.audit_log
    if store.user(name) is None:
        add_user(store, name, role, WEB_PASSWORD)
    return TestClient(app, base_url=WEB_BASE, headers=_basic(f"{name}:{WEB_PASSWORD}"), **kw)


@pytest.fixture
def api(app: Any) -> TestClient:
    return _client(app)


@pytest.fixture
def model_api(model_app: Any) -> TestClient:
    return _client(model_app)


# --- /score ---------------------------------------------------------------------------------------
def test_score_gives_score_batchs_rows_in_order(api: TestClient) -> None:
    forms = [_form("A-1", _full(0)), _form("A-2", {"emo_sad": 2, "emo_tense": 3}, age=None)]
    r = api.post("/api/v1/score", json=_forms(*forms))
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    inst = get_instrument(SCHOOL)
    expected = score_batch(
        inst,
        pd.DataFrame(
            [
                {"form_id": "A-1", "age_years": 9.0, **_full(0)},
                {"form_id": "A-2", "age_years": None, "emo_sad": 2, "emo_tense": 3},
            ]
        ),
        keep=["form_id", "age_years"],
    )
    assert body["instrument"] == inst.key
    assert [row["form_id"] for row in body["scores"]] == ["A-1", "A-2"]
    assert set(body["scores"][0]) == {str(c) for c in expected.columns}
    for got, (_, want) in zip(body["scores"], expected.iterrows(), strict=True):
        for column, value in want.items():
            if pd.isna(value):
                assert got[column] is None, column  # not scorable is null, never 0
            else:
                assert got[column] == (value.item() if hasattr(value, "item") else value), column


def test_api_responses_carry_the_security_headers_and_no_cookie(api: TestClient) -> None:
    for r in (
        api.post("/api/v1/score", json=_forms(_form())),
        api.post("/api/v1/score", content=b"x=1", headers={"Content-Type": "text/plain"}),
        TestClient(api.app, base_url=WEB_BASE).post("/api/v1/score", json=_forms(_form())),
    ):
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "set-cookie" not in r.headers


def test_a_refused_batch_names_every_bad_row_and_the_red_flags_of_all(api: TestClient) -> None:
    forms = [
        _form("R-0", RED),  # valid, red flag
        _form("B-1", {**_full(1), "emo_sad": 7, "no_such_item": 1}),  # two problems
        _form("R-2", {**RED, "emo_tense": 9}),  # red flag and a bad answer
        _form("G-3", _full(0)),  # valid
    ]
    body = _problem(api.post("/api/v1/score", json=_forms(*forms)), 422)
    assert body["type"] == "tag:opsporing,2026:problem:ResponseValidationError"
    assert {(e["row"], e["field"], e["kind"]) for e in body["errors"]} == {
        (1, "emo_sad", "out_of_range"),
        (1, "no_such_item", "unknown_item"),
        (2, "emo_tense", "out_of_range"),
    }
    voc = load_vocabulary()
    assert [
        (f["row"], f["form_id"]) for f in sorted(body["red_flags"], key=lambda f: f["row"])
    ] == [
        (0, "R-0"),
        (2, "R-2"),
    ]
    for flag in body["red_flags"]:
        assert flag["concepts"] == ["safety.disclosure"]
        assert flag["duty_to_notify"] == {"da": voc.duty_to_notify.da, "en": voc.duty_to_notify.en}
        assert flag["legal_basis"]["da"] == voc.duty_to_notify_basis.da
    assert body["title"].startswith("Refused; RED FLAG")
    assert body["detail"].startswith("RED FLAG")


# --- /suggest -------------------------------------------------------------------------------------
def test_suggest_gives_suggest_batchs_suggestions(model_api: TestClient, small_model: Any) -> None:
    forms = [_form("S-1", _full(1)), _form("S-2", _full(2)), _form("S-3", RED)]
    r = model_api.post("/api/v1/suggest", json=_forms(*forms))
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    table = score_batch(
        get_instrument(SCHOOL),
        pd.DataFrame([{"form_id": f["form_id"], "age_years": 9.0, **f["answers"]} for f in forms]),
        keep=["form_id", "age_years"],
    )
    expected = suggest_batch(small_model, table, id_column="form_id")
    assert body["suggestions"] == json.loads(json.dumps([s.to_dict() for s in expected]))
    assert [s["kind"] for s in body["suggestions"]] == ["step", "step", "notify"]
    assert body["model_available"] is True
    notify = body["suggestions"][2]
    assert notify["duty_to_notify"]["da"] == load_vocabulary().duty_to_notify.da
    assert notify["step"] is None and notify["probabilities"] is None
    assert [(f["row"], f["form_id"], f["concepts"]) for f in body["red_flags"]] == [
        (2, "S-3", ["safety.disclosure"])
    ]
    # What the API returns is a suggestion this installation made, unaltered.
    assert Suggestion.from_dict(body["suggestions"][0]).suggestion_id == expected[0].suggestion_id


def test_suggest_without_a_model_says_so_and_still_flags(api: TestClient) -> None:
    r = api.post("/api/v1/suggest", json=_forms(_form("S-1"), _form("S-2", RED)))
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["model_available"] is False
    assert [(s["subject"], s["kind"]) for s in body["suggestions"]] == [
        ("S-1", "unavailable"),
        ("S-2", "notify"),
    ]
    assert body["suggestions"][1]["duty_to_notify"] is not None


def test_a_refused_suggest_batch_still_reports_the_red_flags_of_the_others(
    model_api: TestClient,
) -> None:
    r = model_api.post(
        "/api/v1/suggest", json=_forms(_form("S-1", RED), _form("S-2", {"emo_sad": "2"}))
    )
    body = _problem(r, 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "emo_sad")]
    # A body the models refuse never reaches scoring: a clean batch with one bad row does.
    r = model_api.post(
        "/api/v1/suggest", json=_forms(_form("S-1", RED), _form("S-2", {"emo_sad": 5}))
    )
    body = _problem(r, 422)
    assert [(e["row"], e["field"], e["kind"]) for e in body["errors"]] == [
        (1, "emo_sad", "out_of_range")
    ]
    assert [(f["row"], f["form_id"]) for f in body["red_flags"]] == [(0, "S-1")]
    assert body["red_flags"][0]["duty_to_notify"]["en"].startswith("As a public employee")


def test_two_forms_under_one_id_are_refused_with_their_red_flags(model_api: TestClient) -> None:
    r = model_api.post("/api/v1/suggest", json=_forms(_form("S-1", RED), _form("S-1")))
    body = _problem(r, 422)
    assert body["type"].endswith(":DataError")
    assert [(f["row"], f["form_id"]) for f in body["red_flags"]] == [(0, "S-1")]


# --- /decisions -----------------------------------------------------------------------------------
def _suggestion(client: TestClient, form: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/suggest", json=_forms(form))
    assert r.status_code == 200, r.text[:500]
    return r.json()["suggestions"][0]  # type: ignore[no-any-return]


def _decision(form: dict[str, Any], suggestion_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "instrument": SCHOOL,
        "form": form,
        "idempotency_key": fields.pop("key", "a" * 32),
        "suggestion_id": suggestion_id,
        **fields,
    }


def test_a_decision_is_recorded_under_the_login_and_read_back(
    model_api: TestClient, db: Path
) -> None:
    form = _form("D-1", _full(1))
    s = _suggestion(model_api, form)
    assert s["kind"] == "step" and s["step"] in (1, 2)
    r = model_api.post(
        "/api/v1/decisions", json=_decision(form, s["suggestion_id"], chosen_step=s["step"])
    )
    assert r.status_code == 201, r.text[:500]
    receipt = r.json()
    assert r.headers["location"] == f"/api/v1/decisions/{receipt['id']}"
    decision = receipt["decision"]
    assert (decision["professional_id"], decision["professional_role"]) == ("P-0042", "skole")
    assert decision["follows_suggestion"] is True and decision["reason"] is None
    assert decision["suggestion_id"] == s["suggestion_id"]
    assert decision["decided_at"] == NOW.isoformat()
    Decision.from_dict(decision)  # signed by this installation's protocol, unaltered
    assert receipt["duplicate"] is False and receipt["form_id"] == "D-1"
    scores = score_form(get_instrument(SCHOOL), _full(1), age_years=9.0).to_dict()
    assert receipt["scores"] == json.loads(json.dumps(scores))
    assert _counts(db) == (1, 1)
    again = model_api.get(f"/api/v1/decisions/{receipt['id']}?purpose=opsporing")
    assert again.status_code == 200 and again.json() == receipt
    # The same key and form again (a retry): the receipt, stored once.
    replay = model_api.post(
        "/api/v1/decisions", json=_decision(form, s["suggestion_id"], chosen_step=s["step"])
    )
    assert replay.status_code == 200 and replay.json() == {**receipt, "duplicate": True}
    assert _counts(db) == (1, 1)
    # The same key with another form: a conflict, nothing stored.
    other = _form("D-2", _full(1))
    body = _problem(
        model_api.post(
            "/api/v1/decisions", json=_decision(other, s["suggestion_id"], chosen_step=1)
        ),
        409,
    )
    assert body["type"].endswith(":IdempotencyConflictError")
    assert _counts(db) == (1, 1)


def test_the_web_receipt_shows_a_decision_made_through_the_api(
    app: Any, api: TestClient, web_login: Any
) -> None:
    s = _suggestion(api, _form("D-9", RED))
    r = api.post(
        "/api/v1/decisions",
        json=_decision(_form("D-9", RED), s["suggestion_id"], chosen_step=1, notify=True),
    )
    assert r.status_code == 201, r.text[:500]
    assert r.json()["red_flags"] == ["safety.disclosure"]
    assert r.json()["duty_to_notify"]["da"] == load_vocabulary().duty_to_notify.da
    page = web_login(app).get(f"/screenings/{r.json()['id']}?purpose=opsporing")
    assert page.status_code == 200
    assert "P-0042 (skole)" in page.text  # recorded by the API's user
    assert load_vocabulary().duty_to_notify_basis.da in page.text  # the red flag, first


@pytest.mark.parametrize(
    "smuggled",
    [{"professional_role": "myndighed"}, {"professional_id": "P-9999"}, {"role": "admin"}],
)
def test_who_decides_is_never_read_from_the_body(
    api: TestClient, db: Path, smuggled: dict[str, str]
) -> None:
    s = _suggestion(api, _form())
    body = _problem(
        api.post(
            "/api/v1/decisions",
            json={**_decision(_form(), s["suggestion_id"], chosen_step=4, reason="x"), **smuggled},
        ),
        422,
    )
    assert [(e["field"], e["kind"]) for e in body["errors"]] == [
        (next(iter(smuggled)), "extra_forbidden")
    ]
    assert _counts(db) == (0, 0)


def test_only_the_municipality_chooses_its_steps(app: Any, api: TestClient, db: Path) -> None:
    form = _form()
    s = _suggestion(api, form)
    decision = _decision(form, s["suggestion_id"], chosen_step=4, reason="Anbringelse nu.")
    body = _problem(api.post("/api/v1/decisions", json=decision), 403)
    assert [(e["field"], e["kind"]) for e in body["errors"]] == [("chosen_step", "municipal_step")]
    assert _counts(db) == (0, 0)
    municipal = _client(app, "M-1", "myndighed")
    r = municipal.post("/api/v1/decisions", json=decision)
    assert r.status_code == 201, r.text[:500]
    assert r.json()["decision"]["professional_role"] == "myndighed"


def test_an_admin_records_no_decisions(app: Any, db: Path) -> None:
    admin = _client(app, "A-1", "admin")
    s = _suggestion(admin, _form())  # an admin may score and see suggestions
    body = _problem(
        admin.post(
            "/api/v1/decisions",
            json=_decision(_form(), s["suggestion_id"], chosen_step=0, reason="x"),
        ),
        403,
    )
    assert "records no decisions" in body["detail"]
    assert _counts(db) == (0, 0)


def test_a_decision_on_a_suggestion_the_server_did_not_make_is_refused(
    model_api: TestClient, db: Path
) -> None:
    form = _form()
    forged = unavailable_suggestion("B-1").suggestion_id  # a real id, but not this form's
    body = _problem(
        model_api.post(
            "/api/v1/decisions", json=_decision(form, forged, chosen_step=1, reason="r")
        ),
        409,
    )
    assert "suggestion_id" in body["detail"]
    assert _counts(db) == (0, 0)


def test_the_protocols_rules_are_problem_records(api: TestClient, db: Path) -> None:
    s = _suggestion(api, _form())  # no model: kind unavailable, a reason is always required
    body = _problem(
        api.post("/api/v1/decisions", json=_decision(_form(), s["suggestion_id"], chosen_step=1)),
        422,
    )
    assert body["type"].endswith(":DecisionError")
    assert [(e["field"], e["kind"]) for e in body["errors"]] == [("reason", "missing")]
    r = api.post(
        "/api/v1/decisions",
        json=_decision(_form(), s["suggestion_id"], chosen_step=1, reason=f"Barnet {CPR} ..."),
    )
    body = _problem(r, 422)
    assert [(e["field"], e["kind"]) for e in body["errors"]] == [("reason", "cpr")]
    assert CPR not in r.text
    assert _counts(db) == (0, 0)


def test_receipts_are_for_who_recorded_them_and_the_roles_of_access_yaml(
    app: Any, api: TestClient
) -> None:
    s = _suggestion(api, _form())
    r = api.post(
        "/api/v1/decisions",
        json=_decision(_form(), s["suggestion_id"], chosen_step=1, reason="Samtale med forældre."),
    )
    assert r.status_code == 201, r.text[:500]
    url = f"/api/v1/decisions/{r.json()['id']}?purpose=faglig_vurdering"
    assert api.get(url).status_code == 200
    _problem(_client(app, "P-0043", "skole").get(url), 403)
    readers = access_policy().read_every_receipt
    for name, role in (("M-1", "myndighed"), ("A-1", "admin")):
        assert (_client(app, name, role).get(url).status_code == 200) == (role in readers)
    _problem(api.get("/api/v1/decisions/999?purpose=opsporing"), 404)
    for bad in ("0", "abc", "-1", str(2**63)):
        _problem(api.get(f"/api/v1/decisions/{bad}?purpose=opsporing"), 422)


# --- who is asking --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        _basic(f"P-0042:{WEB_PASSWORD}x"),
        _basic(f"nobody:{WEB_PASSWORD}"),
        _basic("P-0042"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": f"Bearer {WEB_PASSWORD}"},
    ],
    ids=["none", "wrong-password", "unknown-user", "no-colon", "not-base64", "bearer"],
)
def test_requests_without_a_valid_login_are_refused(
    app: Any, api: TestClient, headers: dict[str, str]
) -> None:
    anonymous = TestClient(app, base_url=WEB_BASE)
    for r in (
        anonymous.post("/api/v1/score", json=_forms(_form()), headers=headers),
        anonymous.get("/api/v1/decisions/1", headers=headers),
    ):
        _problem(r, 401)
        assert r.headers["www-authenticate"].startswith('Basic realm="opsporing"')


def test_a_disabled_user_or_an_old_password_stops_working_at_once(
    app: Any, api: TestClient
) -> None:
    assert api.post("/api/v1/score", json=_forms(_form())).status_code == 200  # now remembered
    store = app.state.audit_log
    set_password(store, "P-0042", "another horse battery staple")
    _problem(api.post("/api/v1/score", json=_forms(_form())), 401)
    renewed = TestClient(
        app, base_url=WEB_BASE, headers=_basic("P-0042:another horse battery staple")
    )
    assert renewed.post("/api/v1/score", json=_forms(_form())).status_code == 200
    disable_user(store, "P-0042")
    _problem(renewed.post("/api/v1/score", json=_forms(_form())), 401)


def test_a_user_of_the_identity_provider_has_no_password_for_the_api(app: Any) -> None:
    from opsporing.web._auth import OIDC_MARK, oidc_user

    user = oidc_user(app.state.audit_log, "7f3c9a", "skole")
    assert user.active and user.password_hash == OIDC_MARK
    for password in (OIDC_MARK, "", WEB_PASSWORD):
        client = TestClient(app, base_url=WEB_BASE, headers=_basic(f"7f3c9a:{password}"))
        _problem(client.post("/api/v1/score", json=_forms(_form())), 401)


def test_a_danish_password_works(app: Any) -> None:
    add_user(app.state.audit_log, "P-0050", "skole", "rødgrød med fløde æøå")
    client = TestClient(app, base_url=WEB_BASE, headers=_basic("P-0050:rødgrød med fløde æøå"))
    assert client.post("/api/v1/score", json=_forms(_form())).status_code == 200


def test_a_web_session_does_not_authenticate_the_api(app: Any, web_login: Any) -> None:
    browser = web_login(app)  # logged in to the web form: a session cookie
    _problem(browser.post("/api/v1/score", json=_forms(_form())), 401)


def test_failed_logins_are_throttled_for_the_api_and_the_web_form(
    app: Any, api: TestClient
) -> None:
    limit = access_policy().max_failed_logins
    wrong = TestClient(app, base_url=WEB_BASE, headers=_basic("P-0042:wrong horse battery staple"))
    for _ in range(limit):
        _problem(wrong.post("/api/v1/score", json=_forms(_form())), 401)
    r = api.post("/api/v1/score", json=_forms(_form()))  # the right password, too late
    _problem(r, 429)
    assert int(r.headers["retry-after"]) == access_policy().failed_login_window_s
    # One throttle: the web form's login refuses the name too.
    browser = TestClient(app, base_url=WEB_BASE, headers={"Origin": WEB_BASE})
    page = browser.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    login = browser.post(
        "/login", data={"username": "P-0042", "password": WEB_PASSWORD, "csrf_token": token}
    )
    assert login.status_code == 429


# --- no cross-site requests -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"instrument": SCHOOL}},  # an HTML form, urlencoded
        {"files": {"f": ("a.json", b"{}")}},  # an HTML form, multipart
        {"content": json.dumps(_forms(_form())), "headers": {"Content-Type": "text/plain"}},
        {"content": json.dumps(_forms(_form())), "headers": {"Content-Type": ""}},
        {"content": json.dumps(_forms(_form()))},  # no content type at all
    ],
    ids=["urlencoded", "multipart", "text-plain", "empty-type", "no-type"],
)
def test_a_form_post_never_reaches_the_api(api: TestClient, db: Path, kwargs: Any) -> None:
    for path in ("/api/v1/score", "/api/v1/decisions"):
        body = _problem(api.post(path, **kwargs), 415)
        assert "application/json" in body["detail"]
    assert _counts(db) == (0, 0)


def test_a_cross_site_origin_is_refused_and_the_own_one_accepted(api: TestClient) -> None:
    evil = api.post(
        "/api/v1/score", json=_forms(_form()), headers={"Origin": "https://evil.example"}
    )
    _problem(evil, 403)
    _problem(api.post("/api/v1/score", json=_forms(_form()), headers={"Origin": "null"}), 403)
    own = api.post("/api/v1/score", json=_forms(_form()), headers={"Origin": WEB_BASE})
    assert own.status_code == 200


def test_a_foreign_host_is_refused(api: TestClient) -> None:
    r = api.post("/api/v1/score", json=_forms(_form()), headers={"Host": "evil.example"})
    assert r.status_code == 400


# --- hostile bodies -------------------------------------------------------------------------------
def test_a_huge_body_is_refused_before_it_is_read(api: TestClient) -> None:
    huge = json.dumps(_forms(*[_form(f"F-{i}") for i in range(600)]))
    assert len(huge) > 256 * 1024
    _problem(
        api.post("/api/v1/score", content=huge, headers={"Content-Type": "application/json"}),
        413,
    )


@pytest.mark.parametrize(
    "content",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"forms":' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"instrument": "x", "forms": [',
        "",
        "null",
        '"text"',
        "1" * 5000,
    ],
    ids=["deep-list", "deep-field", "truncated", "empty", "null", "string", "long-number"],
)
def test_unreadable_or_nested_json_is_a_problem_not_a_crash(api: TestClient, content: str) -> None:
    r = api.post("/api/v1/score", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text[:300]
    _problem(r, r.status_code)


@pytest.mark.parametrize(
    ("form", "field", "kind"),
    [
        ({"form_id": "B-1", "answers": {"emo_sad": "2"}}, "emo_sad", "int_type"),
        ({"form_id": "B-1", "answers": {"emo_sad": 2.5}}, "emo_sad", "int_type"),
        ({"form_id": "B-1", "answers": {"emo_sad": True}}, "emo_sad", "int_type"),
        ({"form_id": "B-1", "answers": {"emo_sad": [2]}}, "emo_sad", "int_type"),
        ({"form_id": "B-1", "answers": ["emo_sad"]}, "answers", "dict_type"),
        ({"form_id": "B-1", "age_years": "9"}, "age_years", "float_type"),
        ({"form_id": 42}, "form_id", "string_type"),
        ({"form_id": "B 1"}, "form_id", "string_pattern_mismatch"),
        ({"form_id": "x" * 65}, "form_id", "string_pattern_mismatch"),
        ({"answers": {}}, "form_id", "missing"),
        ({"form_id": "B-1", "extra": 1}, "extra", "extra_forbidden"),
    ],
)
def test_wrong_types_are_problem_records_at_their_row(
    api: TestClient, form: dict[str, Any], field: str, kind: str
) -> None:
    body = _problem(api.post("/api/v1/score", json=_forms(_form("G-0"), form)), 422)
    assert [(e["row"], e["field"], e["kind"]) for e in body["errors"]] == [(1, field, kind)]


@pytest.mark.parametrize("form_id", [CPR, "010203-1234", "01.02.03.1234", "010203 1234"])
def test_cpr_numbers_in_form_ids_are_refused_and_never_echoed(
    api: TestClient, form_id: str
) -> None:
    for path in ("/api/v1/score", "/api/v1/suggest"):
        r = api.post(path, json=_forms(_form(form_id)))
        body = _problem(r, 422)
        assert body["errors"][0]["field"] == "form_id"
        assert body["errors"][0]["kind"] in ("personal_identifier", "string_pattern_mismatch")
        assert form_id not in r.text and form_id.replace(" ", "") not in r.text


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        (
            {"instrument": "opsporing.skole.trivse", "forms": [_form()]},
            "instrument",
            "unknown_instrument",
        ),
        (
            {"instrument": SCHOOL, "instrument_version": "9.9.9", "forms": [_form()]},
            "instrument_version",
            "unknown_instrument",
        ),
        ({"instrument": SCHOOL, "forms": []}, "forms", "too_short"),
        ({"instrument": SCHOOL, "forms": [{"form_id": "F"}] * 1001}, "forms", "too_long"),
        ({"instrument": SCHOOL}, "forms", "missing"),
        ({"instrument": SCHOOL, "forms": {"0": _form()}}, "forms", "list_type"),
        ([_form()], "body", "model_attributes_type"),
    ],
)
def test_a_malformed_request_names_its_field(
    api: TestClient, body: Any, field: str, kind: str
) -> None:
    got = _problem(api.post("/api/v1/score", json=body), 422)
    assert (got["errors"][0]["field"], got["errors"][0]["kind"]) == (field, kind)


def test_a_cpr_number_as_an_item_id_is_never_echoed(api: TestClient) -> None:
    r = api.post("/api/v1/score", json=_forms(_form(answers={CPR: 1, "emo_sad": 1})))
    body = _problem(r, 422)
    assert [(e["field"], e["kind"]) for e in body["errors"]] == [("[CPR]", "unknown_item")]
    assert CPR not in r.text


def test_a_wrong_method_is_a_problem_too(api: TestClient) -> None:
    _problem(api.get("/api/v1/score"), 405)
    _problem(api.put("/api/v1/decisions/1", json={}), 405)
    _problem(api.get("/api/v1/no-such-thing"), 404)


def test_an_audit_log_that_cannot_be_written_is_a_503_and_stores_nothing(
    app: Any, api: TestClient, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsporing.errors import StorageError

    def full_disk(*args: Any) -> None:
        raise StorageError("the submission was not stored: database or disk is full")

    monkeypatch.setattr(app.state.audit_log, "record", full_disk)
    s = _suggestion(api, _form())
    r = api.post(
        "/api/v1/decisions",
        json=_decision(_form(), s["suggestion_id"], chosen_step=1, reason="Samtale med forældre."),
    )
    body = _problem(r, 503)
    assert body["type"].endswith(":StorageError")
    assert _counts(db) == (0, 0)


def test_a_huge_answer_is_out_of_range_not_a_crash(api: TestClient) -> None:
    body = _problem(api.post("/api/v1/score", json=_forms(_form(answers={"emo_sad": 10**30}))), 422)
    assert [(e["field"], e["kind"]) for e in body["errors"]] == [("emo_sad", "out_of_range")]


def test_too_many_forms_to_suggest_for_are_refused(api: TestClient) -> None:
    from opsporing.web._api_models import MAX_FORMS_SUGGEST

    forms = [_form(f"F-{i}", {}) for i in range(MAX_FORMS_SUGGEST + 1)]
    body = _problem(api.post("/api/v1/suggest", json=_forms(*forms)), 422)
    assert body["errors"][0]["kind"] == "too_long"


def test_an_unexpected_error_is_a_500_without_detail(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from opsporing.web import _api

    def boom(*args: Any) -> None:
        raise RuntimeError(f"secret {CPR} in a message")

    monkeypatch.setattr(_api, "score_forms", boom)
    r = api.post("/api/v1/score", json=_forms(_form()))
    body = _problem(r, 500)
    assert "secret" not in r.text and CPR not in r.text
    assert body["detail"] == "An unexpected error; nothing was stored."
    assert "RuntimeError" in caplog.text and CPR not in caplog.text


# --- the OpenAPI document -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    import tempfile

    app = create_app(Path(tempfile.mkdtemp()) / "audit.sqlite", model=None)
    r = TestClient(app, base_url=WEB_BASE).get("/api/v1/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return doc["components"]["schemas"][name]  # type: ignore[no-any-return]


def test_the_document_names_every_operation_and_its_errors(openapi: dict[str, Any]) -> None:
    assert openapi["servers"] == [{"url": "/api/v1"}]
    assert set(openapi["paths"]) == {
        "/score", "/suggest", "/decisions", "/decisions/{id}", "/due"
    }  # fmt: skip
    assert openapi["components"]["securitySchemes"]["basic"]["scheme"] == "basic"
    for path in openapi["paths"].values():
        for op in path.values():
            assert op["security"] == [{"basic": []}]
            for code, response in op["responses"].items():
                if code[0] in "45":
                    assert list(response["content"]) == ["application/problem+json"], code
    assert {"401", "413", "415", "422", "429"} <= set(
        openapi["paths"]["/score"]["post"]["responses"]
    )
    assert {"201", "200", "403", "409"} <= set(openapi["paths"]["/decisions"]["post"]["responses"])


def test_the_documents_models_are_the_librarys_records(openapi: dict[str, Any]) -> None:
    table = score_batch(
        get_instrument(SCHOOL),
        pd.DataFrame([_full(1)]).assign(form_id="x", age_years=9.0),
        keep=["form_id", "age_years"],
    )
    suggestion = unavailable_suggestion("x")
    decision = Decision.record(
        suggestion, professional_role="skole", professional_id="P-1", chosen_step=1, reason="r"
    )
    score = score_form(get_instrument(SCHOOL), _full(1))
    assert set(_schema(openapi, "SuggestionOut")["properties"]) == set(suggestion.to_dict())
    assert set(_schema(openapi, "DecisionOut")["properties"]) == set(decision.to_dict())
    assert set(_schema(openapi, "FormScoreOut")["properties"]) == set(score.to_dict())
    assert isinstance(score, FormScore)
    assert set(_schema(openapi, "ScoredForm")["properties"]) <= set(table.columns)
    # Every field of every model is described for the reader of the document.
    for name, model in openapi["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue  # FastAPI's own, unused: its 422 is a problem here
        for field, spec in model.get("properties", {}).items():
            assert spec.get("description"), (name, field)
    assert SCHOOL in _schema(openapi, "ScoreIn")["properties"]["instrument"]["enum"]


# --- a client generated from the document ---------------------------------------------------------
def test_a_generated_client_meets_only_documented_answers(tmp_path: Path) -> None:
    """schemathesis, in process: every operation answers only documented status codes,
    content types and schema-valid bodies (a few examples each, to stay fast)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis import checks

    app = create_app(
        tmp_path / "audit.sqlite", clock=lambda: NOW, model=None, allowed_hosts=["testserver"]
    )
    add_user(app.state.audit_log, "P-0042", "myndighed", WEB_PASSWORD)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    login = _basic(f"P-0042:{WEB_PASSWORD}")
    seen: dict[str, set[int]] = {}

    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case: Any) -> None:
            r = case.call_and_validate(
                headers=login,
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                    checks.response_headers_conformance,
                    checks.missing_required_header,
                ],
            )
            seen.setdefault(f"{case.method} {case.path}", set()).add(r.status_code)

        given(case=op.as_strategy())(run)()
    assert set(seen) == {
        "POST /score", "POST /suggest", "POST /decisions", "GET /decisions/{id}", "GET /due"
    }  # fmt: skip
    assert seen["GET /due"] <= {403, 422}  # a user in no unit: refused, as documented
    assert 200 in seen["POST /score"] | seen["POST /suggest"]  # valid bodies were tried too
