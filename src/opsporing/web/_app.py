"""The FastAPI application of the reference web form.

Routes (all HTML, server-rendered, no JavaScript):

``GET  /login``, ``POST /login``           log in (Danish; ``?lang=en``)
``POST /logout``                           log out
``GET  /login/oidc``, ``GET /login/oidc/callback``
                                           log in with the municipality's identity
                                           provider (only when configured, see :mod:`._oidc`)
``GET  /``                                 pick an instrument
``GET  /form/{instrument_id}``             a blank form with a fresh idempotency token
``POST /form/{instrument_id}``             score it: the result page with the suggestion panel
                                           and the decision form (422 with the errors next to
                                           the fields when the answers are invalid)
``POST /form/{instrument_id}/decision``    record the decision under the logged-in user and
                                           role: screening and decision stored together (422
                                           when the decision is incomplete), then 303 to the
                                           receipt
``GET  /screenings/{screening_id}``        the receipt: for who recorded it, and the roles of
                                           ``access.yaml`` that read every receipt; asks
                                           for a ``purpose`` (``protection.yaml``) first and
                                           logs the read with it (410 when erased)
``GET  /children/...``, ``/plans/...``, ``/screenings/{id}/draft``
                                           the follow-up process (:mod:`._followup`)
``GET  /static/style.css``                 the style sheet
``/api/v1/...``                            the JSON API for applications (:mod:`._api`):
                                           HTTP Basic, no session, problem details

Before any route: the middleware of :mod:`._security` (allowed hosts, same-origin POSTs, body
cap, security headers, signed session) and two dependencies of every route, the CSRF check
and the login check (:func:`_require_login`). Every page takes ``?lang=en`` (or a hidden
``lang`` field) for English; Danish is the default.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadData, URLSafeTimedSerializer

from .._texts import Lang, datetime_text
from ..errors import DecisionError, UnknownInstrumentError
from ..instruments import Instrument, get_instrument
from ..vocabulary import load_vocabulary
from ._api import API_ROOT, create_api
from ._auth import (
    LoginThrottle,
    access_policy,
    authenticate,
    may_choose_step,
    may_decide,
    may_read_receipt,
    oidc_user,
)
from ._files import beside, secret_file
from ._forms import (
    DecisionInput,
    FieldErrors,
    ScreeningInput,
    new_token,
    read_decision,
    read_screening,
)
from ._i18n import parse_lang
from ._oidc import OidcConfig, OidcLoginError, OidcProvider, new_flow
from ._pages import (
    Context,
    Pages,
    domain_fieldsets,
    error_list,
    fmt,
    score_view,
    shown_instruments,
    steps_view,
)
from ._records import Reader, protection_policy
from ._security import (
    DEFAULT_ALLOWED_HOSTS,
    CsrfError,
    check_csrf,
    csrf_token,
    install,
    new_csrf_token,
)
from ._store import MAX_ROW_ID, AuditLog, IdempotencyConflictError, StoredUser, Submission
from ._suggest import Suggester, SuggestionPanel, load_suggester, record_decision, suggestion_panel

__all__ = ["create_app"]

# Ids and counts only: never a form id, a professional id, a reason or an answer.
log = logging.getLogger("opsporing.web")

#: Where a decision's protocol error points: the field of the message "field = value: ...".
_DECISION_FIELDS = {"chosen_step": "chosen_step", "reason": "reason", "notify": "notify"}
#: Paths open without a login (the login page itself).
_OPEN_PATHS = frozenset({"/login"})
#: The identity-provider login's paths (open too, when it is configured).
_OIDC_START, _OIDC_CALLBACK = "/login/oidc", "/login/oidc/callback"
#: The cookie that carries one identity-provider login's state, nonce and PKCE verifier.
_OIDC_COOKIE, _OIDC_FLOW_MAX_AGE_S = "opsporing_oidc", 600
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]{0,2000}")
_SCREENING_ID = re.compile(r"^[1-9][0-9]{0,18}$")
_SESSION_USER, _SESSION_VERSION = "user", "v"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _LoginRequired(Exception):
    pass


@dataclass
class _Deps:
    """What the routes share: the log, the model, the pages, the clock."""

    store: AuditLog
    suggester: Suggester
    now: Callable[[], datetime]
    pages: Pages = field(default_factory=Pages)
    oidc: OidcProvider | None = None
    throttle: LoginThrottle = field(
        default_factory=lambda: LoginThrottle(
            access_policy().max_failed_logins, access_policy().failed_login_window_s
        )
    )

    def context(
        self, request: Request, lang: Any, path: str, *, switchable: bool = True
    ) -> Context:
        user = getattr(request.state, "user", None)
        return Context(
            parse_lang(lang), path, user, csrf_token(request.session), switchable=switchable
        )

    def page(self, name: str, ctx: Context, status: int = 200, **values: Any) -> HTMLResponse:
        return self.pages.render(name, ctx, status, **values)

    def login_page(self, ctx: Context, status: int = 200, **values: Any) -> HTMLResponse:
        """The login page; with the identity provider's button when one is configured."""
        label = self.oidc.config.label.get(ctx.lang) if self.oidc is not None else ""
        return self.page("login.html", ctx, status, oidc_label=label, **values)


def create_app(
    db_path: str | Path,
    *,
    clock: Callable[[], datetime] | None = None,
    model: Any = "auto",
    allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
    https_only: bool = False,
    oidc: OidcConfig | OidcProvider | None = None,
) -> FastAPI:
    """The reference web form as a FastAPI application.

    Parameters
    ----------
    db_path : str or Path
        The SQLite audit log (created, mode 0600, when missing). See :class:`AuditLog`.
        Beside it: its chain key, its last known head, and the key that signs the session
        cookies (``<db>.session-key``), each made on first start with mode 0600.
    clock : callable, optional
        Returns the current time as an aware datetime (default: UTC now); stamped on
        every stored row and decision.
    model : "auto", str, Path, fitted model or None
        The model behind the suggestions. ``"auto"`` (default): the shipped model when it
        exists and passes its manifest check, else none. A path: that model file
        (a failing check raises :class:`~opsporing.errors.ModelIntegrityError`). A fitted
        :class:`~opsporing.model.StepSuggester`: used as is. ``None``: no model; the panel
        says "no model available". Red flags never need a model.
    allowed_hosts : iterable of str
        The ``Host`` names answered (default ``127.0.0.1`` and ``localhost``); any other
        gets 400. Add the name the municipality serves the form under.
    https_only : bool
        Send the session cookie only over HTTPS (set it when served behind TLS).
    oidc : OidcConfig or OidcProvider, optional
        Log in with the municipality's identity provider too (OpenID Connect, see
        :func:`~opsporing.web.load_oidc_config`). Off by default: only the password login.

    Raises
    ------
    AuditChainError
        The audit log does not verify: changed, cut short, reset, or deleted.

    Returns
    -------
    fastapi.FastAPI

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastapi.testclient import TestClient
    >>> app = create_app(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite", model=None)
    >>> client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    >>> r = client.get("/")
    >>> r.status_code, r.headers["location"]
    (303, '/login?next=/')
    """
    now = clock or _utc_now
    store = AuditLog(db_path, clock=now)
    store.check()
    provider = OidcProvider(oidc) if isinstance(oidc, OidcConfig) else oidc
    deps = _Deps(store, load_suggester(model), now, oidc=provider)
    open_paths = _OPEN_PATHS | ({_OIDC_START, _OIDC_CALLBACK} if provider else set())
    app = FastAPI(
        title="opsporing",
        description="Reference web form: screening, suggestion, and the professional's decision.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Before every route, in this order: the CSRF token, then who is logged in.
        dependencies=[Depends(check_csrf), Depends(_require_login(store, open_paths))],
    )
    app.state.audit_log = store
    session_key = secret_file(beside(store.path, "session-key"), create=True)
    install(
        app,
        session_key=session_key,
        allowed_hosts=allowed_hosts,
        https_only=https_only,
        session_max_age_s=access_policy().session_max_age_s,
    )
    # The JSON API: its own login (HTTP Basic), errors and OpenAPI document; the same users,
    # model, throttle and middleware (the web form's CSRF and session login do not apply).
    app.mount(API_ROOT, create_api(store, deps.suggester, deps.throttle, now))
    app.mount("/static", StaticFiles(packages=[("opsporing.web", "static")]), name="static")
    _add_error_handlers(app, deps)
    _add_login_routes(app, deps)
    if provider is not None:
        _add_oidc_routes(app, deps, provider, session_key, https_only=https_only)
    _add_form_routes(app, deps)
    _add_receipt_route(app, deps)
    # The follow-up process (issue 14): the child's page, plans, reviews, drafts.
    from ._followup import add_followup_routes

    add_followup_routes(app, deps)
    return app


# --- login --------------------------------------------------------------------------------------
def _session_user(request: Request, store: AuditLog) -> StoredUser | None:
    """The logged-in user, if the session names one that is still as it was at login."""
    name, version = request.session.get(_SESSION_USER), request.session.get(_SESSION_VERSION)
    if not isinstance(name, str) or not isinstance(version, int):
        return None
    user = store.user(name)
    if user is None or not user.active or user.version != version:
        return None  # disabled, or a new password since: every older session ends
    return user


def _require_login(store: AuditLog, open_paths: frozenset[str]) -> Callable[[Request], None]:
    def require_login(request: Request) -> None:
        request.state.user = _session_user(request, store)
        if request.state.user is None and request.url.path not in open_paths:
            raise _LoginRequired

    return require_login


def _safe_next(value: Any) -> str:
    """A local path to go to after login; anything else (another site, ``//host``) is "/".

    Printable ASCII only, no backslash: a browser drops tabs and newlines from a URL and
    reads ``\\`` as ``/``, so ``/<tab>/evil.example`` would be ``//evil.example``.
    """
    if isinstance(value, str) and _LOCAL_PATH.fullmatch(value):
        return value
    return "/"


def _start_session(request: Request, user: StoredUser) -> None:
    """Log ``user`` in: a new session, nothing from before survives (no session fixation)."""
    request.session.clear()
    request.session.update({_SESSION_USER: user.name, _SESSION_VERSION: user.version})
    new_csrf_token(request.session)


def _add_error_handlers(app: FastAPI, deps: _Deps) -> None:
    @app.exception_handler(_LoginRequired)
    async def login_required(request: Request, exc: _LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(CsrfError)
    async def csrf_failed(request: Request, exc: CsrfError) -> Response:
        log.info("POST %s refused: no valid CSRF token", request.url.path)
        ctx = deps.context(request, request.query_params.get("lang"), "/", switchable=False)
        return deps.page("forbidden.html", ctx, status=403, message=ctx.t["err_csrf"])


def _add_login_routes(app: FastAPI, deps: _Deps) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, lang: str | None = None, next: str = "/") -> HTMLResponse:
        ctx = deps.context(request, lang, "/login")
        return deps.login_page(ctx, next=_safe_next(next), username="", error="")

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await request.form()
        ctx = deps.context(request, form.get("lang"), "/login", switchable=False)
        name, password = form.get("username"), form.get("password")
        target = _safe_next(form.get("next"))
        name = name.strip()[:64] if isinstance(name, str) else ""
        password = password if isinstance(password, str) else ""
        if deps.throttle.blocked(name):
            log.info("login refused: too many failed attempts for one name")
            return deps.login_page(
                ctx, 429, next=target, username=name, error=ctx.t["err_login_blocked"]
            )
        user = authenticate(deps.store, name, password)
        if user is None:
            deps.throttle.failed(name)
            log.info("login failed")
            return deps.login_page(ctx, 401, next=target, username=name, error=ctx.t["err_login"])
        deps.throttle.succeeded(name)
        _start_session(request, user)
        log.info("login (role %s)", user.role)
        return RedirectResponse(target, status_code=303)

    @app.post("/logout", response_model=None)
    async def logout(request: Request) -> Response:
        form = await request.form()
        request.session.clear()
        new_csrf_token(request.session)
        return RedirectResponse(f"/login?lang={parse_lang(form.get('lang'))}", status_code=303)


# --- the identity provider ---------------------------------------------------------------------
def _add_oidc_routes(
    app: FastAPI, deps: _Deps, provider: OidcProvider, key: bytes, *, https_only: bool
) -> None:
    """``/login/oidc`` and its callback: the authorization-code flow of :mod:`._oidc`."""
    flows = URLSafeTimedSerializer(key, salt="opsporing.web.oidc-flow")

    def refused(request: Request, lang: Any, exc: OidcLoginError) -> HTMLResponse:
        # The reason's category only: never the subject, a claim or a token.
        log.info("identity-provider login refused (%s)", exc.reason)
        ctx = deps.context(request, lang, "/login", switchable=False)
        response = deps.page("oidc_refused.html", ctx, 403, message=ctx.t[f"err_oidc_{exc.reason}"])
        response.delete_cookie(_OIDC_COOKIE, path=_OIDC_START)
        return response

    @app.get(_OIDC_START, response_model=None)
    def oidc_start(request: Request, lang: str | None = None, next: str = "/") -> Response:
        flow = new_flow()
        try:
            target = provider.authorization_url(flow["state"], flow["nonce"], flow["verifier"])
        except OidcLoginError as exc:
            return refused(request, lang, exc)
        response = RedirectResponse(target, status_code=303)
        # Its own cookie, SameSite=Lax: the provider's redirect back is a cross-site
        # navigation, on which the browser sends no SameSite=Strict session cookie.
        response.set_cookie(
            _OIDC_COOKIE,
            flows.dumps({**flow, "next": _safe_next(next), "lang": parse_lang(lang)}),
            max_age=_OIDC_FLOW_MAX_AGE_S,
            path=_OIDC_START,
            secure=https_only,
            httponly=True,
            samesite="lax",
        )
        return response

    @app.get(_OIDC_CALLBACK, response_model=None)
    def oidc_callback(request: Request) -> Response:
        query = request.query_params
        try:
            flow = flows.loads(request.cookies.get(_OIDC_COOKIE, ""), max_age=_OIDC_FLOW_MAX_AGE_S)
        except BadData:
            flow = {}
        lang = flow.get("lang") if isinstance(flow, dict) else None
        try:
            if not isinstance(flow, dict) or not all(
                isinstance(flow.get(k), str) for k in ("state", "nonce", "verifier", "next")
            ):
                raise OidcLoginError("state", "no login of this browser is under way")
            state = query.get("state", "")
            if not hmac.compare_digest(state.encode(), str(flow["state"]).encode()):
                raise OidcLoginError("state", "state is not this browser's login")
            # RFC 9207: a provider that names itself in the response must be ours (mix-up).
            if "iss" in query and query["iss"].rstrip("/") != provider.config.issuer:
                raise OidcLoginError("provider", "the response names another issuer")
            if query.get("error") or not query.get("code"):
                raise OidcLoginError("provider", f"error {query.get('error', '')[:40]!r}")
            identity = provider.login(query["code"], flow["verifier"], flow["nonce"])
            user = oidc_user(deps.store, identity.professional_id, identity.role)
        except OidcLoginError as exc:
            return refused(request, lang, exc)
        _start_session(request, user)
        log.info("login through the identity provider (role %s)", user.role)
        ctx = deps.context(request, lang, "/", switchable=False)
        # A page that moves on by itself rather than a redirect: a browser sends the new
        # SameSite=Strict session cookie only on a navigation this site starts.
        response = deps.page("oidc_done.html", ctx, target=_safe_next(flow["next"]))
        response.delete_cookie(_OIDC_COOKIE, path=_OIDC_START)  # one use
        return response


# --- the form -----------------------------------------------------------------------------------
def _add_form_routes(app: FastAPI, deps: _Deps) -> None:
    @app.get("/", response_class=HTMLResponse)
    def index(
        request: Request, lang: str | None = None, purpose: str | None = None
    ) -> HTMLResponse:
        ctx = deps.context(request, lang, "/")
        shown = [
            {
                "id": i.id,
                "title": i.title.get(ctx.lang),
                "description": i.description.get(ctx.lang) if i.description else "",
                "ages": f"{fmt(i.age_years.min)}-{fmt(i.age_years.max)}",
                "version": i.version,
            }
            for i in shown_instruments()
        ]
        from ._followup import due_view  # the unit's due list (issue 14)

        due = due_view(deps.store, ctx.user, ctx.lang, deps.now().date(), purpose)
        return deps.page("index.html", ctx, instruments=shown, due=due)

    @app.get("/form/{instrument_id}", response_class=HTMLResponse)
    def blank_form(request: Request, instrument_id: str, lang: str | None = None) -> HTMLResponse:
        ctx = deps.context(request, lang, f"/form/{instrument_id}")
        inst = _instrument_or_404(deps, instrument_id, ctx)
        if isinstance(inst, HTMLResponse):
            return inst
        return _form_page(deps, inst, ctx, token=new_token())

    @app.post("/form/{instrument_id}", response_class=HTMLResponse)
    async def score(instrument_id: str, request: Request) -> HTMLResponse:
        posted = await _posted_screening(deps, instrument_id, request)
        if isinstance(posted, HTMLResponse):
            return posted
        ctx, _, screening, _ = posted
        return _result_page(deps, screening, _panel(deps, screening, ctx.lang), ctx)

    @app.post("/form/{instrument_id}/decision", response_model=None)
    async def decide(instrument_id: str, request: Request) -> Response:
        posted = await _posted_screening(deps, instrument_id, request)
        if isinstance(posted, HTMLResponse):
            return posted
        return _decide(deps, *posted)


def _instrument_or_404(deps: _Deps, instrument_id: str, ctx: Context) -> Instrument | HTMLResponse:
    try:
        return get_instrument(instrument_id)
    except UnknownInstrumentError:
        return deps.page("not_found.html", ctx, status=404)


def _form_page(
    deps: _Deps,
    inst: Instrument,
    ctx: Context,
    *,
    token: str,
    form_id: str = "",
    age_text: str = "",
    chosen: Mapping[str, str] | None = None,
    errors: FieldErrors | None = None,
    red_flags: Sequence[str] = (),
    status: int = 200,
) -> HTMLResponse:
    errors = errors or {}
    voc = load_vocabulary()
    return deps.page(
        "form.html",
        ctx,
        status=status,
        inst=inst,
        title=inst.title.get(ctx.lang),
        description=inst.description.get(ctx.lang) if inst.description else "",
        respondent=inst.respondent.get(ctx.lang) if inst.respondent else "",
        token=token,
        form_id=form_id,
        age_text=age_text,
        fieldsets=domain_fieldsets(inst, ctx.lang, chosen or {}, errors),
        errors=errors,
        error_list=error_list(inst, errors, ctx.lang),
        # The duty to notify never waits: a rejected form's red-flag answers show the notice.
        red_flags=[voc.concept(c).label.get(ctx.lang) for c in red_flags],
        duty_text=voc.duty_to_notify.get(ctx.lang),
        duty_basis=voc.duty_to_notify_basis.get(ctx.lang),
    )


def _result_page(
    deps: _Deps,
    screening: ScreeningInput,
    panel: SuggestionPanel,
    ctx: Context,
    *,
    decision: DecisionInput | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    inst = screening.instrument
    assert screening.score is not None
    voc = load_vocabulary()
    errors = errors or {}
    return deps.page(
        "result.html",
        ctx,
        status=status,
        inst=inst,
        title=inst.title.get(ctx.lang),
        screening=screening,
        scores=score_view(inst, screening.score, ctx.lang),
        duty_text=voc.duty_to_notify.get(ctx.lang),
        duty_basis=voc.duty_to_notify_basis.get(ctx.lang),
        panel=panel,
        steps=steps_view(ctx.lang),
        can_decide=ctx.user is not None and may_decide(ctx.user.role),
        decision=decision,
        errors=errors,
        error_list=error_list(inst, errors, ctx.lang),
    )


async def _posted_screening(
    deps: _Deps, instrument_id: str, request: Request
) -> tuple[Context, Instrument, ScreeningInput, Any] | HTMLResponse:
    """The context, instrument, scored screening and raw form of a POST, or the error page."""
    form = await request.form()
    ctx = deps.context(request, form.get("lang"), f"/form/{instrument_id}", switchable=False)
    inst = _instrument_or_404(deps, instrument_id, ctx)
    if isinstance(inst, HTMLResponse):
        return inst
    screening = read_screening(inst, form, ctx.t)
    if not screening.ok:
        log.info("form rejected (%d field(s) with errors); nothing stored", len(screening.errors))
        return _form_page(
            deps,
            screening.instrument,
            ctx,
            token=screening.token if not screening.errors.get("") else new_token(),
            form_id=screening.form_id,
            age_text=screening.age_text,
            chosen=screening.raw_answers,
            errors=screening.errors,
            red_flags=screening.red_flags,
            status=422,
        )
    return ctx, inst, screening, form


def _panel(
    deps: _Deps, screening: ScreeningInput, lang: Lang, *, plot: bool = True
) -> SuggestionPanel:
    assert screening.score is not None
    return suggestion_panel(
        deps.suggester,
        screening.instrument,
        screening.stored_answers(),
        screening.score,
        age_years=screening.age_years,
        lang=lang,
        plot=plot,
    )


def _check_decision(
    deps: _Deps,
    ctx: Context,
    screening: ScreeningInput,
    panel: SuggestionPanel,
    decision: DecisionInput,
    user: StoredUser,
) -> tuple[FieldErrors, dict[str, Any] | None, SuggestionPanel]:
    """The decision's errors, its record (when it has none) and the panel to show."""
    assert screening.score is not None
    errors: FieldErrors = {k: list(v) for k, v in decision.errors.items()}
    if decision.suggestion_id != panel.suggestion_id:
        # The decision must be about the suggestion that was shown (a model replaced
        # in between, or a forged form): show the current one and ask again.
        errors.setdefault("", []).append(ctx.t["err_suggestion_changed"])
        return errors, None, _panel(deps, screening, ctx.lang)
    if decision.chosen_step is None:
        return errors, None, panel
    if not may_choose_step(user.role, decision.chosen_step):
        errors["chosen_step"] = [ctx.t["err_municipal"]]
    # The protocol's own check (a reason when required) runs even when other fields are
    # wrong, so every problem is shown at once.
    try:
        record = record_decision(
            panel,
            screening.score,
            role=user.role,  # from the login, never from the form
            professional_id=user.name,
            chosen_step=decision.chosen_step,
            reason=decision.reason,
            notify=decision.notify,
            clock=deps.now,
        )
    except DecisionError as exc:
        # The field comes from the error's Problem record, never from its text.
        field = exc.problems[0].field if exc.problems else ""
        name = _DECISION_FIELDS.get(field, "")
        if name in errors:
            pass  # already explained by the form's own check
        elif name == "reason":
            errors["reason"] = [
                ctx.t["err_reason_no_suggestion"]
                if panel.reason_always_required
                else ctx.t["err_reason"]
            ]
        elif name == "chosen_step":
            errors["chosen_step"] = [ctx.t["err_municipal"]]
        else:
            errors.setdefault(name, []).append(str(exc))
        return errors, None, panel
    return errors, record, panel


def _decide(
    deps: _Deps, ctx: Context, inst: Instrument, screening: ScreeningInput, form: Any
) -> Response:
    user = ctx.user
    assert user is not None and screening.score is not None
    if not may_decide(user.role):
        return deps.page("forbidden.html", ctx, 403, message=ctx.t["err_cannot_decide"])
    try:
        # A double submit of a stored form: its receipt, without running the model again.
        prior = deps.store.lookup(
            screening.token, screening.form_id, inst.key, screening.stored_answers()
        )
    except IdempotencyConflictError:
        return deps.page("conflict.html", ctx, status=409)
    if prior is not None:
        log.info("screening %d already stored (double submit)", prior.screening_id)
        purpose = protection_policy().recording_purpose
        return RedirectResponse(
            f"/screenings/{prior.screening_id}?lang={ctx.lang}&purpose={purpose}&duplicate=1",
            status_code=303,
        )
    decision = read_decision(form, ctx.t)
    errors, record, panel = _check_decision(
        deps, ctx, screening, _panel(deps, screening, ctx.lang, plot=False), decision, user
    )
    if errors or record is None:
        log.info("decision rejected (%d field(s) with errors); nothing stored", len(errors))
        if panel.source is not None and panel.plot_data_uri is None:
            panel = _panel(deps, screening, ctx.lang)  # the page is shown again: with its plot
        return _result_page(
            deps, screening, panel, ctx, decision=decision, errors=errors, status=422
        )
    assert decision.chosen_step is not None
    try:
        stored = deps.store.record(
            Submission(
                idempotency_key=screening.token,
                form_id=screening.form_id,
                instrument=inst.key,
                age_years=screening.age_years,
                answers=screening.stored_answers(),
                scores=screening.score.to_dict(),
                suggestion=panel.record,
                suggested_step=panel.suggested_step,
                chosen_step=decision.chosen_step,
                notify=decision.notify,
                role=user.role,
                professional_id=user.name,
                reason=record.get("reason"),
                decision=record,
            )
        )
    except IdempotencyConflictError:
        return deps.page("conflict.html", ctx, status=409)
    log.info(
        "screening %d and decision %d %s",
        stored.screening_id,
        stored.decision_id,
        "already stored (double submit)" if stored.duplicate else "stored",
    )
    suffix = "&duplicate=1" if stored.duplicate else ""
    purpose = protection_policy().recording_purpose
    return RedirectResponse(
        f"/screenings/{stored.screening_id}?lang={ctx.lang}&purpose={purpose}{suffix}",
        status_code=303,
    )


# --- the receipt --------------------------------------------------------------------------------
def _add_receipt_route(app: FastAPI, deps: _Deps) -> None:
    @app.get("/screenings/{screening_id}", response_class=HTMLResponse)
    def receipt(
        request: Request,
        screening_id: str,
        lang: str | None = None,
        duplicate: str = "",
        purpose: str | None = None,
    ) -> HTMLResponse:
        ctx = deps.context(request, lang, f"/screenings/{quote(screening_id)}")
        # Any path segment is a string: what is not a stored row's id is "not found".
        number = int(screening_id) if _SCREENING_ID.fullmatch(screening_id) else 0
        row = deps.store.get(number) if 0 < number <= MAX_ROW_ID else None
        if row is None:
            return deps.page("not_found.html", ctx, status=404)
        assert ctx.user is not None
        if not may_read_receipt(ctx.user, str(row["professional_id"])):
            log.info("receipt %d refused to another user (role %s)", number, ctx.user.role)
            return deps.page("forbidden.html", ctx, 403, message=ctx.t["err_not_yours"])
        policy = protection_policy()
        if purpose not in policy.purposes:
            # Nothing about the child is shown before the user says why they look.
            return deps.page(
                "purpose.html",
                ctx,
                action=f"/screenings/{number}",
                purposes=[(c, policy.purpose_label(c, ctx.lang)) for c in policy.purposes],
            )
        if row["erased"]:
            return deps.page("erased.html", ctx, status=410)
        reader = Reader(ctx.user.name, ctx.user.role, str(purpose), "web")
        deps.store.log_access(str(row["child_ref"]), reader, [f"screening:{number}"])
        voc = load_vocabulary()
        scores = json.loads(row["scores_json"])
        step = voc.step(int(row["chosen_step"]))
        return deps.page(
            "saved.html",
            ctx,
            row=row,
            purpose=purpose,  # carried on to the child's page and the draft
            duplicate=duplicate == "1",
            red_flags=[voc.concept(c).label.get(ctx.lang) for c in scores["red_flags"]],
            duty_text=voc.duty_to_notify.get(ctx.lang),
            duty_basis=voc.duty_to_notify_basis.get(ctx.lang),
            step_label=step.label.get(ctx.lang),
            stored_at=datetime_text(str(row["created_at"]), ctx.lang, "created_at"),
            instrument_id=str(row["instrument"]).split("@")[0],
        )
