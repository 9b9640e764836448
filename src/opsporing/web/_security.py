"""Web hardening applied once, before any view: hosts, origins, CSRF, body size, headers.

Modelled on Django's ``ALLOWED_HOSTS``, ``CsrfViewMiddleware`` and ``SecurityMiddleware``,
the OWASP CSRF cheat sheet and OWASP ASVS V14. :func:`install` wraps the application in, from
the outside in:

1. :class:`SecurityHeaders`: every response (errors too) carries a Content-Security-Policy
   with ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
   ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` and, for everything
   but the style sheet, ``Cache-Control: no-store`` (pages hold children's data).
2. Starlette's ``TrustedHostMiddleware``: a ``Host`` header not in the allowed list gets 400
   (DNS rebinding: a foreign name pointed at 127.0.0.1 reaches nothing).
3. :class:`BodyLimit`: a request body over :data:`MAX_BODY_BYTES` gets 413, whether it
   announces its length or streams it.
4. :class:`SameOrigin`: a POST (any unsafe method) whose ``Origin`` (or, without one, whose
   ``Referer``) is not this server's own origin gets 403. A request with neither is refused,
   except under :data:`API_PREFIX`: the JSON API's clients are programs, which send neither;
   a browser always sends ``Origin`` with a cross-site POST, and that is still refused
   there. (The API takes no cookie, and its own guard requires ``application/json``.)
5. Starlette's ``SessionMiddleware``: the signed session cookie (``SameSite=Strict``,
   ``HttpOnly``; ``Secure`` when served over HTTPS).

Then, as a dependency of every route of the web form, :func:`check_csrf`: a POST must carry
the session's own CSRF token (random, server-issued, compared in constant time) in
``csrf_token``. Refusals under :data:`API_PREFIX` are RFC 9457 problem details
(``application/problem+json``), like every other error of the API; elsewhere plain text.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "API_PREFIX",
    "CSRF_FIELD",
    "DEFAULT_ALLOWED_HOSTS",
    "MAX_BODY_BYTES",
    "BodyLimit",
    "CsrfError",
    "SameOrigin",
    "SecurityHeaders",
    "check_csrf",
    "csrf_token",
    "install",
]

#: Hosts answered when none are given: only the machine itself.
DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost")
#: The largest request body accepted. The largest form (every item, a 2,000-character reason)
#: is under 10 KiB; 256 KiB leaves room and refuses a flood.
MAX_BODY_BYTES = 256 * 1024
#: Where the JSON API lives (:mod:`._api`): its refusals are problem details, and its
#: clients need not send ``Origin``.
API_PREFIX = "/api/"
#: The form field that carries the CSRF token.
CSRF_FIELD = "csrf_token"
_SESSION_CSRF = "csrf"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: No scripts, no plugins, no framing; styles and images from this server (and the plot,
#: which is a data: URI); forms post only here. ``style-src-attr``: the probability bars'
#: widths are style attributes (no script can use them).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class CsrfError(Exception):
    """A POST without this session's CSRF token (forged, expired, or from another site)."""


def _is_api(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith(API_PREFIX)


async def _plain(scope: Scope, send: Send, status: int, text: str) -> None:
    """Refuse with ``text``: plain for the web form, problem details under the API."""
    if _is_api(scope):
        from ._problems import PROBLEM_JSON, problem_body

        body = json.dumps(problem_body(status, text), ensure_ascii=False).encode()
        content_type = f"{PROBLEM_JSON}; charset=utf-8".encode()
    else:
        body = text.encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in _HEADERS} | {b"cache-control"}
                ]
                headers += _HEADERS
                headers.append((b"cache-control", b"no-cache" if cacheable else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses a request body larger than ``max_bytes`` with 413, announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _plain(scope, send, 413, "Request body too large.")
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _TooLarge:
            if not started:
                await _plain(scope, send, 413, "Request body too large.")


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class SameOrigin:
    """Refuses an unsafe request that does not come from a page of this server (403).

    The browser says where a POST comes from in ``Origin`` (every current browser sends it
    with a form POST); without it, ``Referer``. The request's own origin is its scheme and
    its ``Host`` header, which :class:`TrustedHostMiddleware` has already checked. Under
    :data:`API_PREFIX` a request with neither header is let through (a program, not a
    browser); one that names another origin is refused there too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        own = f"{scope.get('scheme', 'http')}://{headers.get(b'host', '')}".lower()
        origin = headers.get(b"origin")
        claimed = _origin_of(origin) if origin and origin != "null" else None
        referer = headers.get(b"referer")
        if origin is None:
            claimed = _origin_of(referer) if referer else None
        if claimed is None and origin is None and referer is None and _is_api(scope):
            pass  # a program, not a browser: the API's own guard and login apply
        elif claimed is None or not hmac.compare_digest(claimed, own):
            await _plain(scope, send, 403, "Cross-site request refused.")
            return
        await self.app(scope, receive, send)


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """This session's CSRF token, made on first use (32 random bytes, hex)."""
    token = session.get(_SESSION_CSRF)
    if not isinstance(token, str) or len(token) != 64:
        token = secrets.token_hex(32)
        session[_SESSION_CSRF] = token
    return token


def new_csrf_token(session: MutableMapping[str, Any]) -> str:
    """A new CSRF token for this session (on login and logout: the old one stops working)."""
    session.pop(_SESSION_CSRF, None)
    return csrf_token(session)


async def check_csrf(request: Request) -> None:
    """Dependency of every route: an unsafe request must carry the session's CSRF token."""
    if request.method not in _UNSAFE:
        return
    expected = request.session.get(_SESSION_CSRF)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not (
        isinstance(expected, str)
        and isinstance(sent, str)
        and len(expected) == 64
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfError


def install(
    app: FastAPI,
    *,
    session_key: bytes,
    allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
    https_only: bool = False,
    session_max_age_s: int = 8 * 3600,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> None:
    """Wrap ``app`` in the middleware above (the order is the module docstring's)."""
    # add_middleware puts each new one outside the ones before: innermost first.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key.hex(),
        session_cookie="opsporing_session",
        max_age=session_max_age_s,
        same_site="strict",
        https_only=https_only,
    )
    app.add_middleware(SameOrigin)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeaders)
