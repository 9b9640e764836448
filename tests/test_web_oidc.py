"""The optional identity-provider login (OpenID Connect), against a fake provider in-process.

The fake provider (:class:`FakeProvider`) answers the server's requests through an
``httpx.MockTransport``: a discovery document, a JWKS with a freshly generated EC key, and a
token endpoint that checks the client secret, the redirect URI and the PKCE verifier. The
browser's visit to the authorization endpoint is :meth:`FakeProvider.authorize`. The last test
serves the same fake provider over HTTP on ``localhost`` (another site than the form's
``127.0.0.1``) and logs in with headless Chromium.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("fastapi")
import httpx
import uvicorn
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from opsporing.errors import OidcError, UserError
from opsporing.web import AuditLog, add_user, create_app, load_oidc_config, run
from opsporing.web._oidc import OidcConfig, OidcProvider, pkce_challenge

BASE = "http://127.0.0.1"
ISSUER = "https://login.kommune.example"
CLIENT_ID = "opsporing-web"
SECRET = "a client secret of the municipality, 40 chars"
REDIRECT = f"{BASE}/login/oidc/callback"
NOW = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)
SCHOOL = "opsporing.skole.trivsel"
ROLES = {
    "opsporing-skole": "skole",
    "opsporing-myndighed": "myndighed",
    "opsporing-admin": "admin",
}
SUBJECT = "7c0f6a2e-61d4-4f57-9d1e-2b7c4a9e1f00"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def signing_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def attacker_key() -> ECKey:
    # Same kid as the provider's key: only the signature tells them apart.
    return ECKey.generate_key("P-256", parameters={"kid": "k1"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeProvider:
    """A tiny OpenID Connect provider: discovery, JWKS, token endpoint, and "the user logs in"."""

    key: ECKey
    issuer: str = ISSUER
    redirect_uri: str = REDIRECT
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    #: Makes the ID token from (claims, provider); the default signs them with ``key``.
    make_token: Callable[[dict[str, Any], FakeProvider], str] | None = None

    def sign(self, claims: dict[str, Any], key: Any = None, alg: str = "ES256") -> str:
        key = key or self.key
        return jwt.encode({"alg": alg, "kid": key.kid or "k1"}, claims, key)

    def handler(self, request: httpx.Request) -> httpx.Response:
        url, issuer = str(request.url), self.issuer
        if url == f"{issuer}/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/authorize",
                    "token_endpoint": f"{issuer}/token",
                    "jwks_uri": f"{issuer}/jwks",
                    "id_token_signing_alg_values_supported": ["ES256"],
                },
            )
        if url == f"{issuer}/jwks":
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        if url == f"{issuer}/token" and request.method == "POST":
            return self._token(request)
        return httpx.Response(404)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.token_requests.append(form)
        # The secret is sent form-urlencoded (RFC 6749 § 2.3.1): spaces as %20.
        expected_auth = (
            "Basic "
            + base64.b64encode(
                f"{CLIENT_ID}:{SECRET.replace(' ', '%20').replace(',', '%2C')}".encode()
            ).decode()
        )
        grant = self.codes.pop(form.get("code", ""), None)
        if (
            request.headers.get("authorization") != expected_auth
            or grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != self.redirect_uri
            or pkce_challenge(form.get("code_verifier", "")) != grant["challenge"]
        ):
            return httpx.Response(400, json={"error": "invalid_grant"})
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": SUBJECT,
            "iat": int(time.time()),
            "exp": int(time.time()) + 300,
            "nonce": grant["nonce"],
        } | grant["claims"]
        maker = self.make_token or (lambda c, p: p.sign(c))
        return httpx.Response(200, json={"id_token": maker(claims, self), "token_type": "Bearer"})

    def authorize(self, location: str, **claims: Any) -> str:
        """The user logs in at the provider: the callback URL the browser is sent back to."""
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{self.issuer}/authorize"
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
        assert q["redirect_uri"] == self.redirect_uri and q["code_challenge_method"] == "S256"
        assert "openid" in q["scope"].split()
        code = _b64(os.urandom(16))
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "nonce": q["nonce"],
            "claims": claims,
        }
        return f"/login/oidc/callback?code={code}&state={q['state']}"


def _config(**changes: Any) -> OidcConfig:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
        "role_claim": "groups",
        "roles": ROLES,
    }
    return OidcConfig(**(values | changes))


@pytest.fixture
def idp(signing_key: ECKey) -> FakeProvider:
    return FakeProvider(signing_key)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def app(db: Path, idp: FakeProvider) -> Any:
    provider = OidcProvider(_config(), transport=httpx.MockTransport(idp.handler))
    return create_app(db, clock=lambda: NOW, model=None, oidc=provider)


@pytest.fixture
def browser(app: Any) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False)


def _login(browser: TestClient, idp: FakeProvider, **claims: Any) -> httpx.Response:
    """The whole round: start at /login/oidc, log in at the provider, come back."""
    start = browser.get("/login/oidc?next=/form/" + SCHOOL + "&lang=en")
    assert start.status_code == 303
    return browser.get(idp.authorize(start.headers["location"], **claims))


def _users(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT name, role FROM users ORDER BY id").fetchall()


def _logged_out(browser: TestClient) -> bool:
    r = browser.get("/")
    return r.status_code == 303 and r.headers["location"].startswith("/login")


# --- the happy path --------------------------------------------------------------------------------
def test_a_mapped_user_logs_in_and_records_a_decision_under_the_mapped_role(
    browser: TestClient, idp: FakeProvider, db: Path
) -> None:
    login_page = browser.get("/login?lang=en")
    assert 'id="oidc-login"' in login_page.text
    done = _login(browser, idp, groups=["staff", "opsporing-myndighed"])
    assert done.status_code == 200
    # The page moves on by itself (a same-site navigation carries the Strict session cookie).
    assert f'content="0; url=/form/{SCHOOL}"' in done.text
    assert "opsporing_oidc=" in done.headers["set-cookie"]  # the one-use flow cookie, deleted
    assert _users(db) == [(SUBJECT, "myndighed")]
    # PKCE: the token request carried the verifier whose S256 the provider was shown.
    assert len(idp.token_requests) == 1 and len(idp.token_requests[0]["code_verifier"]) >= 43

    page = browser.get(f"/form/{SCHOOL}")
    assert page.status_code == 200 and SUBJECT in page.text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page.text)
    assert csrf and token
    form = {
        "csrf_token": csrf.group(1), "token": token.group(1), "lang": "da",
        "instrument_version": "1.0.0", "form_id": "B-1", "age_years": "9",
        "chosen_step": "6", "notify": "1", "reason": "Børnefaglig undersøgelse.",
        "suggestion_id": "", "item.emo_sad": "2", "role": "skole",
    }  # fmt: skip
    r = browser.post(f"/form/{SCHOOL}/decision", data=form, headers={"Origin": BASE})
    assert r.status_code == 303, r.text
    with sqlite3.connect(db) as con:
        row = con.execute("SELECT role, professional_id, chosen_step FROM decisions").fetchone()
    assert row == ("myndighed", SUBJECT, 6)


def test_a_new_role_at_the_provider_ends_the_old_session(
    app: Any, idp: FakeProvider, db: Path
) -> None:
    first = TestClient(app, base_url=BASE, follow_redirects=False)
    _login(first, idp, groups=["opsporing-myndighed"])
    assert first.get("/").status_code == 200
    second = TestClient(app, base_url=BASE, follow_redirects=False)
    _login(second, idp, groups=["opsporing-skole"])
    assert _users(db) == [(SUBJECT, "myndighed"), (SUBJECT, "skole")]
    assert _logged_out(first)  # the session made under the old role
    assert second.get("/").status_code == 200


def test_the_professional_id_can_be_another_claim(db: Path, idp: FakeProvider) -> None:
    provider = OidcProvider(
        _config(id_claim="employee_pseudonym", role_claim="realm_access.roles"),
        transport=httpx.MockTransport(idp.handler),
    )
    browser = TestClient(create_app(db, model=None, oidc=provider), base_url=BASE)
    browser.follow_redirects = False
    r = _login(
        browser,
        idp,
        employee_pseudonym="E-4711",
        realm_access={"roles": ["opsporing-skole"]},
    )
    assert r.status_code == 200 and _users(db) == [("E-4711", "skole")]


# --- the ID token is verified ------------------------------------------------------------------
def _none_token(claims: dict[str, Any], _: FakeProvider) -> str:
    header = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hmac_with_client_secret(claims: dict[str, Any], p: FakeProvider) -> str:
    # Algorithm confusion: an HMAC keyed by the client secret, which the server also knows.
    return p.sign(claims, OctKey.import_key(SECRET.encode()), "HS256")


BAD_TOKENS: dict[str, Callable[[dict[str, Any], FakeProvider], str]] = {
    "unsigned (alg none)": _none_token,
    "HMAC with the client secret": _hmac_with_client_secret,
    "expired": lambda c, p: p.sign(c | {"exp": int(time.time()) - 3600, "iat": 0}),
    "issued in the future": lambda c, p: p.sign(c | {"iat": int(time.time()) + 3600}),
    "wrong audience": lambda c, p: p.sign(c | {"aud": "another-client"}),
    "another client's azp": lambda c, p: p.sign(c | {"aud": [CLIENT_ID, "x"], "azp": "x"}),
    "wrong issuer": lambda c, p: p.sign(c | {"iss": "https://evil.example"}),
    "wrong nonce": lambda c, p: p.sign(c | {"nonce": "not-this-login"}),
    "no nonce": lambda c, p: p.sign({k: v for k, v in c.items() if k != "nonce"}),
    "no exp": lambda c, p: p.sign({k: v for k, v in c.items() if k != "exp"}),
    "not a JWT": lambda c, p: "definitely.not.a-jwt",
    "payload changed after signing": lambda c, p: (
        p.sign(c).split(".")[0]
        + "."
        + _b64(json.dumps(c | {"groups": ["opsporing-myndighed"]}).encode())
        + "."
        + p.sign(c).split(".")[2]
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_id_token_is_refused_and_logs_nobody_in(
    browser: TestClient, idp: FakeProvider, db: Path, kind: str
) -> None:
    idp.make_token = BAD_TOKENS[kind]
    r = _login(browser, idp, groups=["opsporing-skole"])
    assert r.status_code == 403 and 'id="oidc-refused"' in r.text
    assert "could not be verified" in r.text  # the English of the flow's ?lang=en
    assert _users(db) == [] and _logged_out(browser)


def test_a_token_signed_by_another_key_is_refused(
    browser: TestClient, idp: FakeProvider, db: Path, attacker_key: ECKey
) -> None:
    idp.make_token = lambda c, p: p.sign(c | {"groups": ["opsporing-admin"]}, attacker_key)
    r = _login(browser, idp, groups=["opsporing-skole"])
    assert r.status_code == 403 and "could not be verified" in r.text
    assert _users(db) == [] and _logged_out(browser)


def test_the_good_token_passes_the_same_checks(browser: TestClient, idp: FakeProvider) -> None:
    # The control of the table above: the provider's own signature, unchanged claims.
    idp.make_token = lambda c, p: p.sign(c)
    assert _login(browser, idp, groups=["opsporing-skole"]).status_code == 200


def test_a_rotated_key_is_fetched_again_at_most_once_a_minute(db: Path, idp: FakeProvider) -> None:
    provider = OidcProvider(_config(), transport=httpx.MockTransport(idp.handler))
    browser = TestClient(create_app(db, model=None, oidc=provider), base_url=BASE)
    browser.follow_redirects = False
    assert _login(browser, idp, groups=["opsporing-skole"]).status_code == 200
    idp.key = ECKey.generate_key("P-256", parameters={"kid": "k2"})  # the provider rotates
    # Within a minute of the last fetch, an unknown key is not fetched again (a flood of
    # forged tokens cannot make the server hammer the provider) ...
    assert _login(browser, idp, groups=["opsporing-skole"]).status_code == 403
    # ... after it, the new key set is fetched and the token verifies.
    provider._keys_fetched -= 120  # as if a minute had passed
    assert _login(browser, idp, groups=["opsporing-skole"]).status_code == 200


# --- state, and the browser that started the login ----------------------------------------------
def test_a_state_mismatch_is_refused(browser: TestClient, idp: FakeProvider, db: Path) -> None:
    start = browser.get("/login/oidc?lang=en")
    callback = idp.authorize(start.headers["location"], groups=["opsporing-skole"])
    forged = re.sub(r"state=[^&]+", "state=" + "A" * 43, callback)
    r = browser.get(forged)
    assert r.status_code == 403 and "not started in this browser" in r.text
    assert idp.token_requests == []  # refused before the code is exchanged
    assert _users(db) == [] and _logged_out(browser)


def test_a_callback_in_another_browser_is_refused(
    app: Any, browser: TestClient, idp: FakeProvider, db: Path
) -> None:
    # Login CSRF: the attacker's own code and state, replayed in the victim's browser.
    start = browser.get("/login/oidc")
    callback = idp.authorize(start.headers["location"], groups=["opsporing-myndighed"])
    victim = TestClient(app, base_url=BASE, follow_redirects=False)
    r = victim.get(callback)
    assert r.status_code == 403 and idp.token_requests == [] and _users(db) == []


def test_a_callback_is_used_once(browser: TestClient, idp: FakeProvider) -> None:
    start = browser.get("/login/oidc")
    callback = idp.authorize(start.headers["location"], groups=["opsporing-skole"])
    assert browser.get(callback).status_code == 200
    browser.cookies.clear()
    assert browser.get(callback).status_code == 403


def test_a_provider_error_is_a_clear_page(browser: TestClient, idp: FakeProvider) -> None:
    start = browser.get("/login/oidc?lang=en")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    r = browser.get(f"/login/oidc/callback?error=access_denied&state={state}")
    assert r.status_code == 403 and "did not answer as expected" in r.text


# --- roles and ids -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("claims", "text"),
    [
        ({"groups": ["staff", "teachers"]}, "has no role in opsporing"),
        ({}, "has no role in opsporing"),
        ({"groups": "opsporing-admin-NOT"}, "has no role in opsporing"),
        ({"groups": ["opsporing-skole", "opsporing-myndighed"]}, "more than one role"),
        ({"groups": ["opsporing-skole"], "sub": "0102031234"}, "never a CPR number"),
        ({"groups": ["opsporing-skole"], "sub": "010203-1234"}, "never a CPR number"),
        ({"groups": ["opsporing-skole"], "sub": "Jens Hansen"}, "never a CPR number"),
        ({"groups": ["opsporing-skole"], "role": "myndighed"}, None),  # a claim is not mapped
    ],
)
def test_a_user_without_exactly_one_mapped_role_or_a_pseudonymous_id_is_refused(
    browser: TestClient, idp: FakeProvider, db: Path, claims: dict[str, Any], text: str | None
) -> None:
    r = _login(browser, idp, **claims)
    if text is None:
        assert r.status_code == 200 and _users(db) == [(SUBJECT, "skole")]
        return
    assert r.status_code == 403 and text in r.text
    assert _users(db) == [] and _logged_out(browser)


def test_a_provider_login_never_takes_over_a_local_user(
    browser: TestClient, idp: FakeProvider, db: Path
) -> None:
    add_user(AuditLog(db), "P-0042", "skole", "correct horse battery staple")
    r = _login(browser, idp, sub="P-0042", groups=["opsporing-myndighed"])
    assert r.status_code == 403 and "local user with a password" in r.text
    assert _users(db) == [("P-0042", "skole")] and _logged_out(browser)


def test_a_provider_user_has_no_password_and_can_be_disabled_here(
    browser: TestClient, idp: FakeProvider, db: Path
) -> None:
    from opsporing.web._auth import authenticate, disable_user

    assert _login(browser, idp, groups=["opsporing-skole"]).status_code == 200
    store = AuditLog(db)
    assert authenticate(store, SUBJECT, "!oidc") is None  # the mark is no password
    disable_user(store, SUBJECT)
    assert _logged_out(browser)
    r = _login(browser, idp, groups=["opsporing-skole"])
    assert r.status_code == 403 and "disabled" in r.text


# --- off by default, and the configuration ------------------------------------------------------
def test_the_provider_login_is_off_by_default(db: Path) -> None:
    browser = TestClient(create_app(db, model=None), base_url=BASE, follow_redirects=False)
    assert "oidc" not in browser.get("/login").text
    assert browser.get("/login/oidc").status_code == 404
    assert browser.get("/login/oidc/callback?code=x&state=y").status_code == 404
    assert _users(db) == []


def _write_config(tmp_path: Path, **changes: Any) -> Path:
    secret = tmp_path / "client-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    data: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret_file": str(secret),
        "redirect_uri": "https://opsporing.kommune.example/login/oidc/callback",
        "role_claim": "groups",
        "roles": ROLES,
    } | changes
    path = tmp_path / "oidc.yaml"
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    return path


def test_the_configuration_is_read(tmp_path: Path) -> None:
    cfg = load_oidc_config(_write_config(tmp_path, scopes=["profile", "groups"]))
    assert cfg.client_secret == SECRET and cfg.roles == ROLES and cfg.id_claim == "sub"
    assert cfg.scopes == ("openid", "profile", "groups")
    assert SECRET not in repr(cfg)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"issuer": "http://login.kommune.example"}, "issuer"),
        ({"issuer": None}, "issuer"),
        ({"redirect_uri": "https://opsporing.kommune.example/elsewhere"}, "redirect_uri"),
        ({"roles": {"opsporing-rektor": "rektor"}}, "roles[opsporing-rektor]"),
        ({"roles": {}}, "roles"),
        ({"client_id": ""}, "client_id"),
        ({"algorithms": ["HS256"]}, "algorithms"),
        ({"algorithms": ["none"]}, "algorithms"),
        ({"client_secret_file": None}, "client_secret_file"),
        ({"clientid": "typo"}, "key"),
        ({"leeway_s": 3600}, "leeway_s"),
    ],
)
def test_a_bad_configuration_names_the_field(
    tmp_path: Path, changes: dict[str, Any], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSPORING_OIDC_CLIENT_SECRET_FILE", raising=False)
    with pytest.raises(OidcError, match=re.escape(field) + " = "):
        load_oidc_config(_write_config(tmp_path, **changes))


def test_a_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = _write_config(tmp_path)
    (tmp_path / "client-secret").chmod(0o644)
    with pytest.raises(OidcError, match="chmod 600"):
        load_oidc_config(path)


def test_the_secret_file_can_come_from_the_environment(tmp_path: Path) -> None:
    path = _write_config(tmp_path, client_secret_file=None)
    env = {"OPSPORING_OIDC_CLIENT_SECRET_FILE": str(tmp_path / "client-secret")}
    assert load_oidc_config(path, environ=env).client_secret == SECRET


def test_serve_starts_without_local_users_when_a_provider_is_configured(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    with pytest.raises(UserError, match="--oidc-config FILE"):
        run(db_path=db, model=None)
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    run(db_path=db, model=None, oidc_config=_write_config(tmp_path))
    browser = TestClient(served[0], base_url=BASE, follow_redirects=False)
    assert 'id="oidc-login"' in browser.get("/login").text


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil.example"]
)
def test_after_login_only_a_local_path_is_followed(
    app: Any, browser: TestClient, idp: FakeProvider, target: str
) -> None:
    # A browser drops tabs and newlines from a URL: "/<tab>/evil.example" is "//evil.example".
    start = browser.get("/login/oidc", params={"next": target})
    done = browser.get(idp.authorize(start.headers["location"], groups=["opsporing-skole"]))
    assert done.status_code == 200 and 'content="0; url=/"' in done.text
    add_user(app.state.audit_log, "P-1", "skole", "correct horse battery staple")
    client = TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert csrf
    data = {"username": "P-1", "password": "correct horse battery staple", "next": target}
    r = client.post("/login", data=data | {"csrf_token": csrf.group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_users_list_says_who_logs_in_through_the_provider(
    browser: TestClient, idp: FakeProvider, db: Path
) -> None:
    from typer.testing import CliRunner

    from opsporing.cli import app as cli

    _login(browser, idp, groups=["opsporing-skole"])
    add_user(AuditLog(db), "P-1", "admin", "correct horse battery staple")
    out = CliRunner().invoke(cli, ["users", "list", "--db", str(db)]).output
    assert f"{SUBJECT}\tskole\tactive (identity provider)" in out
    assert "P-1\tadmin\tactive\t" in out


def _refused_start(db: Path, handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    provider = OidcProvider(_config(), transport=httpx.MockTransport(handler))
    browser = TestClient(create_app(db, model=None, oidc=provider), base_url=BASE)
    return browser.get("/login/oidc?lang=en", follow_redirects=False)


def test_an_unreachable_provider_is_a_clear_page(db: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    r = _refused_start(db, down)
    assert r.status_code == 403 and "did not answer as expected" in r.text


def test_a_discovery_document_of_another_issuer_is_refused(db: Path, idp: FakeProvider) -> None:
    def other(request: httpx.Request) -> httpx.Response:
        r = idp.handler(request)
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=r.json() | {"issuer": "https://evil.example"})
        return r

    r = _refused_start(db, other)
    assert r.status_code == 403 and "did not answer as expected" in r.text


def test_a_response_naming_another_issuer_is_refused(
    browser: TestClient, idp: FakeProvider, db: Path
) -> None:
    # RFC 9207: the authorization response's iss, when the provider sends one, must be ours.
    start = browser.get("/login/oidc")
    callback = idp.authorize(start.headers["location"], groups=["opsporing-skole"])
    r = browser.get(callback + "&iss=https%3A%2F%2Fevil.example")
    assert r.status_code == 403 and idp.token_requests == [] and _users(db) == []


# --- in a real browser ----------------------------------------------------------------------------
class _Served:
    """An ASGI app served by uvicorn in a daemon thread on a loopback port the OS picked."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()


def _provider_app(idp: FakeProvider, app_url: str) -> Any:
    """The fake provider over HTTP: its handler, and an authorize endpoint that logs in at once."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        url = f"{idp.issuer}{scope['path']}" + (f"?{query}" if query else "")
        if scope["path"] == "/authorize" and scope["method"] == "GET":
            # The provider's own login page: the user's click there starts the way back, so
            # the redirect to the callback is a navigation another site started.
            status, headers = 200, [(b"content-type", b"text/html")]
            content = (
                '<!doctype html><form method="post" action="/authorize">'
                f'<input type="hidden" name="url" value="{html.escape(url)}">'
                "<button>Log in at the provider</button></form>"
            ).encode()
        elif scope["path"] == "/authorize":
            asked = parse_qs(body.decode())["url"][0]
            callback = idp.authorize(asked, groups=["opsporing-myndighed"])
            status, headers, content = 303, [(b"location", (app_url + callback).encode())], b""
        else:
            request = httpx.Request(
                scope["method"], url, headers=[(k, v) for k, v in scope["headers"]], content=body
            )
            answer = idp.handler(request)
            status, content = answer.status_code, answer.content
            headers = [(b"content-type", answer.headers.get("content-type", "").encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return asgi


def test_the_provider_login_in_headless_chromium(db: Path, signing_key: ECKey) -> None:
    """Chromium logs in through a provider on another *site* (localhost vs 127.0.0.1).

    The provider's redirect back is a cross-site navigation: the flow cookie (Lax) must go
    along, and after the callback's page moves on, the new SameSite=Strict session cookie
    must too, or the browser would land on the login page again.
    """
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("no /usr/bin/chromium here; the browser test always runs when CI is set")
    from playwright.sync_api import sync_playwright

    form, provider = _Served(), _Served()
    app_url = f"http://127.0.0.1:{form.port}"
    idp = FakeProvider(
        signing_key,
        issuer=f"http://localhost:{provider.port}",
        redirect_uri=f"{app_url}/login/oidc/callback",
    )
    config = _config(issuer=idp.issuer, redirect_uri=idp.redirect_uri)
    try:
        provider.start(_provider_app(idp, app_url))
        form.start(create_app(db, model=None, oidc=config))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=30_000
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(15_000)
                page.goto(f"{app_url}/form/{SCHOOL}")  # not logged in: the login page
                page.get_by_role("link", name="Log ind med kommunens login").click()
                page.get_by_role("button", name="Log in at the provider").click()
                page.wait_for_url(f"{app_url}/form/{SCHOOL}")
                assert SUBJECT in page.locator("#whoami").inner_text()
            finally:
                browser.close()
    finally:
        form.stop()
        provider.stop()
    assert _users(db) == [(SUBJECT, "myndighed")]
