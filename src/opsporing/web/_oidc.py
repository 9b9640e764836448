"""Optional login with the municipality's identity provider (OpenID Connect).

Off unless configured (``opsporing serve --oidc-config FILE``). The authorization-code flow of
OpenID Connect Core 1.0 with PKCE (RFC 7636, ``S256``), ``state`` and ``nonce``, for a
confidential client (the client secret is read from a file):

1. ``GET /login/oidc`` makes a random ``state``, ``nonce`` and PKCE verifier, keeps them in a
   short-lived signed cookie of their own (``SameSite=Lax``: the session cookie is
   ``SameSite=Strict`` and a browser does not send it on the provider's redirect back), and
   sends the browser to the provider's authorization endpoint.
2. ``GET /login/oidc/callback`` checks ``state`` against that cookie (one use), exchanges the
   code at the token endpoint (with the verifier and the client secret), and verifies the ID
   token: its signature with the provider's published keys (JWKS; asymmetric algorithms only,
   never ``none`` nor an HMAC keyed by the client secret), ``iss``, ``aud`` (and ``azp``),
   ``exp``, ``iat`` and ``nonce``.
3. The professional id is the ``sub`` claim (or the configured claim): a pseudonymous id,
   never a CPR number. The role comes only from the configured claim, mapped through the
   configuration's ``roles`` table; no mapped role, or two different ones, is refused.

JOSE (JWS, JWK, JWT claims) is done by ``joserfc``, the JOSE library of Authlib's author that
Authlib itself builds on; the flow is written here because Authlib's Starlette client keeps
its state in ``request.session``, which the browser does not send back on the provider's
cross-site redirect (the session cookie is ``SameSite=Strict``, see :mod:`._security`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .._safeload import load_tree
from ..errors import DataError, OidcError
from ..privacy import looks_like_cpr
from ..vocabulary import Text, text_problems

__all__ = [
    "ALGORITHMS",
    "OidcConfig",
    "OidcIdentity",
    "OidcLoginError",
    "OidcProvider",
    "load_oidc_config",
    "pkce_challenge",
]

#: Signature algorithms accepted on an ID token: asymmetric only. ``none`` and the HMAC
#: algorithms (keyed by the client secret, which this server also holds) are never accepted.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
#: Environment variable naming the client secret file when the configuration does not.
SECRET_FILE_ENV = "OPSPORING_OIDC_CLIENT_SECRET_FILE"
#: The login button's text unless the configuration names the provider.
DEFAULT_LABEL = Text("Log ind med kommunens login", "Log in with the municipality's login")
#: The path of the redirect URI (the route of :mod:`._app`).
CALLBACK_PATH = "/login/oidc/callback"
#: Largest response read from the identity provider (discovery, keys, tokens).
MAX_RESPONSE_BYTES = 256 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_KEYS = frozenset(
    {
        "issuer",
        "client_id",
        "client_secret_file",
        "redirect_uri",
        "scopes",
        "id_claim",
        "role_claim",
        "roles",
        "label",
        "algorithms",
        "token_auth",
        "leeway_s",
    }
)


class OidcLoginError(OidcError):
    """A login through the identity provider refused; ``reason`` names why (for the page)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"OIDC login refused ({reason}){': ' + detail if detail else ''}")
        self.reason = reason


@dataclass(frozen=True)
class OidcConfig:
    """How to log in with the municipality's identity provider (see :func:`load_oidc_config`)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    role_claim: str
    roles: Mapping[str, str]
    id_claim: str = "sub"
    scopes: tuple[str, ...] = ("openid",)
    label: Text = DEFAULT_LABEL
    algorithms: tuple[str, ...] = ALGORITHMS
    token_auth: str = "client_secret_basic"
    leeway_s: int = 60


@dataclass(frozen=True)
class OidcIdentity:
    """Who the identity provider says logged in: a pseudonymous id and the mapped role."""

    professional_id: str
    role: str


def _fail(field_name: str, value: object, expected: str) -> OidcError:
    return OidcError(f"{field_name} = {str(value)[:80]!r}: expected {expected}")


def _url(field_name: str, value: object) -> str:
    """An https URL (plain http only on loopback, for trying it out), no fragment."""
    if not isinstance(value, str):
        raise _fail(field_name, value, "an https URL")
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" or local) or not parts.hostname or parts.fragment:
        raise _fail(field_name, value, "an https URL without a fragment (http only on loopback)")
    return value


def _callback(value: object) -> str:
    url = _url("redirect_uri", value)
    parts = urlsplit(url)
    if not parts.path.endswith(CALLBACK_PATH) or parts.query:
        raise _fail("redirect_uri", value, f"this server's URL ending in {CALLBACK_PATH}")
    return url


def _text(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, value, "a non-empty string")
    return value.strip()


def _read_secret(path: Path) -> str:
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise OidcError(f"client_secret_file = {str(path)!r}: cannot be read ({exc})") from None
    if mode & 0o077:
        raise OidcError(
            f"client_secret_file = {str(path)!r} has mode {mode:04o}: expected 0600 "
            f"(readable by its owner only); run chmod 600 {path}"
        )
    if not text or "\n" in text:
        raise _fail("client_secret_file", path, "one line holding the client secret")
    return text


def load_oidc_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> OidcConfig:
    """Read the identity-provider configuration of ``path`` (YAML).

    Keys: ``issuer``, ``client_id``, ``client_secret_file`` (or the environment variable
    ``OPSPORING_OIDC_CLIENT_SECRET_FILE``; a file of mode 0600 holding the secret),
    ``redirect_uri`` (this server's ``/login/oidc/callback``), ``role_claim`` and ``roles``
    (claim value to role); optional ``id_claim`` (default ``sub``), ``scopes`` (``openid`` is
    always asked for), ``label`` (``{da: ..., en: ...}``, the login button), ``algorithms``,
    ``token_auth`` (``client_secret_basic`` or ``client_secret_post``), ``leeway_s``.

    Raises
    ------
    OidcError
        A key is missing, unknown or has a bad value (named with the value and what was
        expected); the secret file is missing, empty or readable by others.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> secret = d / "secret"; _ = secret.write_text("s3cret"); os.chmod(secret, 0o600)
    >>> _ = (d / "oidc.yaml").write_text(
    ...     "issuer: https://login.example.dk\\nclient_id: opsporing\\n"
    ...     f"client_secret_file: {secret}\\n"
    ...     "redirect_uri: https://opsporing.example.dk/login/oidc/callback\\n"
    ...     "role_claim: groups\\nroles: {opsporing-skole: skole}\\n")
    >>> load_oidc_config(d / "oidc.yaml").roles
    {'opsporing-skole': 'skole'}
    """
    from ._auth import user_roles

    env = os.environ if environ is None else environ
    try:
        data = load_tree(path, fmt="yaml")
    except DataError as exc:
        raise OidcError(str(exc)) from None
    if not isinstance(data, dict):
        raise _fail("oidc config", type(data).__name__, "a mapping of keys")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise _fail("key", unknown[0], f"one of {sorted(_KEYS)}")
    secret_path = data.get("client_secret_file") or env.get(SECRET_FILE_ENV)
    if not isinstance(secret_path, str) or not secret_path:
        raise _fail("client_secret_file", secret_path, f"a file path (or {SECRET_FILE_ENV})")
    base = Path(path).parent
    secret_file = Path(secret_path) if Path(secret_path).is_absolute() else base / secret_path
    roles_raw = data.get("roles")
    allowed = user_roles()
    if not isinstance(roles_raw, dict) or not roles_raw:
        raise _fail("roles", roles_raw, "a mapping of claim values to roles")
    roles: dict[str, str] = {}
    for value, role in roles_raw.items():
        if role not in allowed:
            raise _fail(f"roles[{str(value)[:40]}]", role, f"one of {list(allowed)}")
        roles[str(value)] = str(role)
    scopes = data.get("scopes", ["openid"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise _fail("scopes", scopes, "a list of scope names")
    algorithms = data.get("algorithms", list(ALGORITHMS))
    if not isinstance(algorithms, list) or not algorithms or not set(algorithms) <= set(ALGORITHMS):
        raise _fail("algorithms", algorithms, f"a non-empty list out of {list(ALGORITHMS)}")
    token_auth = data.get("token_auth", "client_secret_basic")
    if token_auth not in ("client_secret_basic", "client_secret_post"):
        raise _fail("token_auth", token_auth, "client_secret_basic or client_secret_post")
    leeway = data.get("leeway_s", 60)
    if not isinstance(leeway, int) or isinstance(leeway, bool) or not 0 <= leeway <= 300:
        raise _fail("leeway_s", leeway, "a whole number of seconds from 0 to 300")
    label = data.get("label")
    if label is None:
        text = DEFAULT_LABEL
    elif not text_problems(label, "label"):
        text = Text.of(label, "label")
    else:
        raise _fail("label", label, "{da: ..., en: ...} (Danish, then any language codes)")
    return OidcConfig(
        issuer=_url("issuer", data.get("issuer")).rstrip("/"),
        client_id=_text(data, "client_id"),
        client_secret=_read_secret(secret_file),
        redirect_uri=_callback(data.get("redirect_uri")),
        role_claim=_text(data, "role_claim"),
        roles=roles,
        id_claim=_text(data, "id_claim", "sub"),
        scopes=tuple(dict.fromkeys(["openid", *scopes])),
        label=text,
        algorithms=tuple(algorithms),
        token_auth=str(token_auth),
        leeway_s=leeway,
    )


def pkce_challenge(verifier: str) -> str:
    """The ``S256`` code challenge of a PKCE verifier (RFC 7636 § 4.2).

    Examples
    --------
    >>> pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")  # RFC 7636, appendix B
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class OidcProvider:
    """The identity provider as this server talks to it: discovery, keys, code exchange.

    Parameters
    ----------
    config : OidcConfig
    transport : httpx.BaseTransport, optional
        How requests reach the provider (the tests pass an in-process fake provider).
    clock : callable, optional
        Seconds since the epoch (default :func:`time.time`), for ``exp`` and ``iat``.

    Examples
    --------
    >>> discovery = {"issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks",
    ...     "authorization_endpoint": "https://idp.example/auth",
    ...     "token_endpoint": "https://idp.example/token"}
    >>> fake = httpx.MockTransport(lambda request: httpx.Response(200, json=discovery))
    >>> config = OidcConfig("https://idp.example", "opsporing", "secret",
    ...     "https://form.example/login/oidc/callback", "groups", {"g-skole": "skole"})
    >>> url = OidcProvider(config, transport=fake).authorization_url("s", "n", "v" * 43)
    >>> url.startswith("https://idp.example/auth?response_type=code"), "S256" in url
    (True, True)
    """

    def __init__(
        self,
        config: OidcConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._http = httpx.Client(timeout=10.0, follow_redirects=False, transport=transport)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_fetched = 0.0

    # --- talking to the provider --------------------------------------------------------------
    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise OidcLoginError("provider", f"{what} answered HTTP {response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise OidcLoginError("provider", f"{what} answered more than {MAX_RESPONSE_BYTES} B")
        try:
            data = response.json()
        except ValueError:
            raise OidcLoginError("provider", f"{what} answered no JSON") from None
        if not isinstance(data, dict):
            raise OidcLoginError("provider", f"{what} answered no JSON object")
        return data

    def _get(self, url: str, what: str) -> dict[str, Any]:
        try:
            return self._json(self._http.get(url, headers={"Accept": "application/json"}), what)
        except httpx.HTTPError as exc:
            raise OidcLoginError("provider", f"{what} unreachable ({type(exc).__name__})") from None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once; its ``issuer`` must match)."""
        with self._lock:
            if self._metadata is None:
                url = self.config.issuer + "/.well-known/openid-configuration"
                meta = self._get(url, "discovery")
                # OpenID Connect Discovery § 4.3: the issuer must be exactly the one configured.
                if meta.get("issuer", "").rstrip("/") != self.config.issuer:
                    raise OidcLoginError("provider", "discovery names another issuer")
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    try:
                        _url(key, meta.get(key))
                    except OidcError:
                        raise OidcLoginError("provider", f"discovery has no valid {key}") from None
                self._metadata = meta
            return self._metadata

    def key_set(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys; ``refresh`` fetches them again (at most every 60 s)."""
        meta = self.metadata()
        with self._lock:
            stale = refresh and time.monotonic() - self._keys_fetched > 60
            if self._keys is None or stale:
                jwks = self._get(str(meta["jwks_uri"]), "jwks")
                try:
                    self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError):
                    raise OidcLoginError("provider", "jwks holds no usable keys") from None
                self._keys_fetched = time.monotonic()
            return self._keys

    def authorization_url(self, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser: the authorization endpoint with this login's values."""
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        endpoint = str(self.metadata()["authorization_endpoint"])
        return endpoint + ("&" if urlsplit(endpoint).query else "?") + urlencode(query)

    def exchange(self, code: str, verifier: str) -> str:
        """The ID token the token endpoint gives for ``code`` (and the PKCE ``verifier``)."""
        cfg = self.config
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": cfg.redirect_uri,
            "code_verifier": verifier,
        }
        # RFC 6749 § 2.3.1: both halves form-urlencoded before they are joined and encoded.
        auth: httpx.Auth | None = httpx.BasicAuth(
            quote(cfg.client_id, safe=""), quote(cfg.client_secret, safe="")
        )
        if cfg.token_auth == "client_secret_post":
            form |= {"client_id": cfg.client_id, "client_secret": cfg.client_secret}
            auth = None
        try:
            response = self._http.post(
                str(self.metadata()["token_endpoint"]),
                data=form,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise OidcLoginError("provider", f"token unreachable ({type(exc).__name__})") from None
        token = self._json(response, "token").get("id_token")
        if not isinstance(token, str) or not token:
            raise OidcLoginError("token", "the token response holds no id_token")
        return token

    # --- the ID token ---------------------------------------------------------------------------
    def _decode(self, id_token: str) -> dict[str, Any]:
        algorithms = list(self.config.algorithms)
        for refresh in (False, True):  # a key unknown to us: the provider may have rotated
            try:
                return dict(jwt.decode(id_token, self.key_set(refresh=refresh), algorithms).claims)
            except JoseError as exc:
                error = exc
            except (ValueError, TypeError, KeyError) as exc:  # not even a JWS
                raise OidcLoginError("token", f"not a signed JWT ({type(exc).__name__})") from None
        raise OidcLoginError("token", f"signature: {type(error).__name__}")

    def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of ``id_token`` once signature, iss, aud, azp, exp, iat, nonce all check.

        Raises
        ------
        OidcLoginError
            With ``reason == "token"`` when any check fails.
        """
        claims = self._decode(id_token)
        cfg = self.config
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=cfg.leeway_s,
            iss={"essential": True, "value": cfg.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": cfg.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise OidcLoginError("token", f"claims: {type(exc).__name__}") from None
        # Two checks joserfc leaves to the caller: an iat in the future, and azp.
        if int(claims["iat"]) > self._clock() + cfg.leeway_s:
            raise OidcLoginError("token", "issued in the future")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != cfg.client_id:
            raise OidcLoginError("token", "azp is not this client")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(
            token_nonce.encode(), nonce.encode()
        ):
            raise OidcLoginError("token", "nonce is not this login's")
        return claims

    def identity(self, claims: Mapping[str, Any]) -> OidcIdentity:
        """The professional id and role of verified ``claims`` (role only from the mapping)."""
        cfg = self.config
        pid = _claim(claims, cfg.id_claim)
        if not isinstance(pid, str) or not pid:
            raise OidcLoginError("bad_id", f"no {cfg.id_claim} claim")
        if looks_like_cpr(pid) or looks_like_cpr(pid.replace(" ", "")):
            raise OidcLoginError("bad_id", f"{cfg.id_claim} looks like a CPR number")
        raw = _claim(claims, cfg.role_claim)
        values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        mapped = {cfg.roles[v] for v in values if isinstance(v, str) and v in cfg.roles}
        if not mapped:
            raise OidcLoginError("no_role", f"no value of {cfg.role_claim} is mapped to a role")
        if len(mapped) > 1:
            raise OidcLoginError("ambiguous_role", f"{sorted(mapped)} mapped from one login")
        return OidcIdentity(pid, mapped.pop())

    def login(self, code: str, verifier: str, nonce: str) -> OidcIdentity:
        """Exchange ``code``, verify the ID token against ``nonce``, map the identity."""
        return self.identity(self.verify_id_token(self.exchange(code, verifier), nonce))


def new_flow() -> dict[str, str]:
    """A login's fresh ``state``, ``nonce`` and PKCE ``verifier`` (256 bits each)."""
    return {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48),  # 64 characters: RFC 7636 allows 43-128
    }
