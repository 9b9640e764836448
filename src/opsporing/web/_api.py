"""The JSON HTTP API for applications, mounted at ``/api/v1`` in the web form's application.

Routes (JSON in, JSON out; the OpenAPI document at ``/api/v1/openapi.json``):

``POST /api/v1/score``            an instrument id and forms -> each form's row of
                                  :func:`opsporing.scoring.score_batch`
``POST /api/v1/suggest``          forms -> :func:`opsporing.decision.suggest_batch`'s
                                  suggestions (``Suggestion.to_dict()``); red flags carry
                                  the duty to notify
``POST /api/v1/decisions``        a decision on the suggestion the server made for a form:
                                  made by :func:`._suggest.record_decision`
                                  (:meth:`~opsporing.decision.Decision.record`) under the
                                  authenticated user and role, stored with the screening
                                  in the audit log (201, or 200 for a replay)
``GET  /api/v1/decisions/{id}``   the receipt, for who recorded it and the roles of
                                  ``access.yaml`` that read every receipt; ``?purpose=``
                                  (a code of ``protection.yaml``) is required and the read
                                  is logged with it
``GET  /api/v1/due``              the user's unit's follow-up plans whose review is overdue
                                  or due this week; ``?purpose=`` required, each due child's
                                  read logged with it (:mod:`._followup`)

**Who**: the web form's users (``opsporing users add``) over HTTP Basic, checked by
:func:`._auth.authenticate` and the same login throttle (429 after too many failures for
one name). HTTP Basic rather than a token of its own: the same users, passwords and roles,
disabled or changed in one place with an immediate effect, and no second secret to store,
expire and revoke in the append-only log. Argon2 runs once per user and password every few
minutes (:class:`._auth.VerifiedCredentials`), not on every request.

**No cookies, so no CSRF token**: a browser's session cookie does not authenticate here.
What a cross-site page could still do, a form POST riding on Basic credentials the browser
remembers, is refused: every POST must be ``Content-Type: application/json`` (415
otherwise), which no HTML form can send and a cross-site ``fetch`` can send only after a
CORS preflight this server never grants; a POST naming another ``Origin`` is refused (403)
by :class:`._security.SameOrigin`. The allowed hosts, the body cap and the security headers
are the application's middleware, around this API too.

**Errors**: RFC 9457 problem details (:mod:`._problems`), for every error: 401, 403, 404,
409, 413, 415, 422, 429, 503; an unexpected exception is a 500 with no detail (its type is
logged), never a traceback.
"""

import binascii
import json
import logging
import math
import re
from base64 import b64decode
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..errors import (
    DataError,
    OpsporingError,
    Problem,
    ResponseValidationError,
    UnknownInstrumentError,
)
from ..instruments import Instrument, get_instrument
from ..scoring import score_batch, score_form
from ..vocabulary import load_vocabulary
from ._api_models import (
    DecisionIn,
    FormIn,
    Receipt,
    ScoreIn,
    ScoreOut,
    SuggestIn,
    SuggestOut,
)
from ._auth import LoginThrottle, VerifiedCredentials, may_decide, may_read_receipt
from ._problems import (
    PROBLEM_JSON,
    ProblemDetails,
    error_body,
    problem_body,
    red_flag_records,
)
from ._records import Reader, protection_policy
from ._security import API_PREFIX
from ._store import MAX_ROW_ID, AuditLog, StoredUser, Submission
from ._suggest import Suggester, SuggestionPanel, record_decision

__all__ = ["API_ROOT", "create_api"]

# Ids and counts only: never a form id, a professional id, a reason or an answer.
log = logging.getLogger("opsporing.web")

#: Where the API is mounted (under the prefix the middleware treats as the API's).
API_ROOT = f"{API_PREFIX}v1"
_REALM = 'Basic realm="opsporing", charset="UTF-8"'


# --- before any route: JSON only, and no traceback ever -------------------------------------------
async def _send_problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps(problem_body(status, detail), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", f"{PROBLEM_JSON}; charset=utf-8".encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequireJson:
    """Refuses (415) a POST whose body is not ``application/json``.

    Before routing and before the body is read: an HTML form (urlencoded, multipart,
    text/plain) never reaches a view, whatever credentials the browser adds to it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            headers = dict(scope.get("headers", []))
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json":
                await _send_problem(
                    send, 415, "Send the request body as JSON, with Content-Type: application/json."
                )
                return
        await self.app(scope, receive, send)


class NoTraceback:
    """Turns an unexpected exception into a 500 problem without detail; logs its type only.

    Its message may quote the request (a child's data), so neither the client nor the log
    sees it: the log gets the exception's type and where it was raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
            log.error("API: unexpected %s at %s", type(exc).__name__, where)
            if not started and scope["type"] == "http":
                await _send_problem(send, 500, "An unexpected error; nothing was stored.")


# --- who is asking --------------------------------------------------------------------------------
class _Basic(HTTPBasic):
    """HTTP Basic, decoded as UTF-8 (RFC 7617 ``charset="UTF-8"``): Danish passwords work."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        header = request.headers.get("Authorization")
        scheme, param = get_authorization_scheme_param(header)
        if not header or scheme.lower() != "basic":
            return None
        try:
            text = b64decode(param, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _unauthenticated("The Authorization header is not valid HTTP Basic.") from None
        name, colon, password = text.partition(":")
        if not colon:
            raise _unauthenticated("The Authorization header is not valid HTTP Basic.")
        return HTTPBasicCredentials(username=name, password=password)


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": _REALM})


def _require_user(
    store: AuditLog, throttle: LoginThrottle, verified: VerifiedCredentials
) -> Callable[..., StoredUser]:
    basic = _Basic(
        scheme_name="basic",
        description="A user of the web form (`opsporing users add NAME --role ROLE`) and "
        "their password; over HTTPS only, beyond the machine itself.",
        auto_error=False,
    )

    def require_user(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    ) -> StoredUser:
        if credentials is None:
            raise _unauthenticated(
                "Send a user's name and password with HTTP Basic (curl -u NAME)."
            )
        name = credentials.username.strip()[:64]
        if throttle.blocked(name):
            log.info("API: refused, too many failed logins for one name")
            raise HTTPException(
                429,
                "Too many failed logins for this name; try again later.",
                headers={"Retry-After": str(math.ceil(throttle.window_s))},
            )
        user = verified.authenticate(store, name, credentials.password)
        if user is None:
            throttle.failed(name)
            log.info("API: login failed")
            raise _unauthenticated("Wrong user name or password, or the user is disabled.")
        throttle.succeeded(name)
        return user

    return require_user


# --- scoring and suggesting -----------------------------------------------------------------------
def _instrument(body: ScoreIn | SuggestIn | DecisionIn) -> Instrument:
    """The requested instrument; an unknown id or version names its field."""
    try:
        inst = get_instrument(body.instrument)
        if body.instrument_version is None:
            return inst
    except UnknownInstrumentError as exc:
        raise _unknown("instrument", body.instrument, exc) from None
    try:
        return get_instrument(body.instrument, body.instrument_version)
    except UnknownInstrumentError as exc:
        raise _unknown("instrument_version", body.instrument_version, exc) from None


def _unknown(field: str, value: str, exc: UnknownInstrumentError) -> UnknownInstrumentError:
    expected = str(exc).split(": expected ", 1)[-1]
    return UnknownInstrumentError(Problem(field, value, expected, kind="unknown_instrument"))


def _red_flags_of(scores: pd.DataFrame) -> dict[Any, tuple[str, ...]]:
    """The red-flag concepts of every scored form that raises one, by row label."""
    voc = load_vocabulary()
    columns = [
        c
        for c in scores.columns
        if str(c).startswith("concept.")
        and (concept := voc.concepts.get(str(c).removeprefix("concept."))) is not None
        and concept.red_flag
    ]
    out: dict[Any, tuple[str, ...]] = {}
    for label in scores.index[scores["red_flag"].to_numpy(dtype=bool)]:
        codes = tuple(str(c).removeprefix("concept.") for c in columns if scores.at[label, c])
        out[int(label)] = codes or ("red_flag",)
    return out


def score_forms(inst: Instrument, forms: Sequence[FormIn]) -> pd.DataFrame:
    """:func:`~opsporing.scoring.score_batch`'s table of ``forms`` (row label = position).

    Raises
    ------
    ResponseValidationError
        Every problem of every form (an answer to no item of the instrument, and all
        that scoring finds), with the red flags of *every* form, the refused and the good
        ones: the duty to notify never waits for the rest of the batch to be fixed.
    """
    items = set(inst.item_ids)
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    for i, form in enumerate(forms):
        row: dict[str, Any] = {
            "form_id": form.form_id,
            "age_years": math.nan if form.age_years is None else form.age_years,
        }
        for item, value in form.answers.items():
            if item in items:
                row[item] = math.nan if value is None else value
            else:
                # Scored without it, so the form's other problems and red flags are found.
                problems.append(
                    Problem(item, value, f"an item id of {inst.key}", row=i, kind="unknown_item")
                )
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.RangeIndex(len(rows)))
    result = score_batch(inst, table, errors="collect", keep=["form_id", "age_years"])
    problems += [
        Problem(
            field=str(p["field"]),
            value=p["value"],
            expected=str(p["expected"]),
            row=p["row"],
            kind=str(p["kind"]),
        )
        for p in result.rejected.to_dict("records")
    ]
    if problems:
        flags = {**_red_flags_of(result.scores), **result.red_flags}
        problems.sort(key=lambda p: p.row if isinstance(p.row, int) else -1)
        raise ResponseValidationError(
            problems, headline=f"invalid forms for {inst.key}", red_flags=flags
        )
    return result.scores


def suggestions_for(suggester: Suggester, scores: pd.DataFrame) -> list[Any]:
    """One :class:`~opsporing.decision.Suggestion` per scored form, subject = its form id.

    With a model: :func:`~opsporing.decision.suggest_batch`. Without one (or when the model
    fails, as in the web form): the red-flag suggestion for a red flag (it never needs a
    model), :func:`~opsporing.decision.unavailable_suggestion` otherwise.
    """
    from ..decision import red_flag_suggestion, suggest_batch, unavailable_suggestion

    if suggester.model is not None:
        try:
            with suggester.lock:
                return suggest_batch(
                    suggester.model, scores, id_column="form_id", explainer=suggester.explainer
                )
        except (DataError, ResponseValidationError):
            raise  # the input's fault (e.g. one form id twice): the client's to fix
        except OpsporingError as exc:
            log.warning("API: the model made no suggestion: %s", type(exc).__name__)
            failed = True
    else:
        failed = False
    return [
        red_flag_suggestion(row, subject=str(row["form_id"]))
        if bool(row["red_flag"])
        else unavailable_suggestion(str(row["form_id"]), failed=failed)
        for _, row in scores.iterrows()
    ]


def _cell(value: Any) -> Any:
    """A score-table cell as JSON: numpy scalars as Python, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _receipt(row: dict[str, Any], *, duplicate: bool) -> Receipt:
    voc = load_vocabulary()
    scores = json.loads(row["scores_json"])
    decision = json.loads(row["decision_json"])
    step = voc.step(int(row["chosen_step"])).label
    red = [str(c) for c in scores.get("red_flags", [])]
    duty = voc.duty_to_notify
    return Receipt.model_validate(
        {
            "id": int(row["screening_id"]),
            "duplicate": duplicate,
            "form_id": row["form_id"],
            "instrument": row["instrument"],
            "age_years": row["age_years"],
            "recorded_at": row["created_at"],
            "scores": scores,
            "decision": decision,
            "chosen_step_label": {"da": step.da, "en": step.en},
            "red_flags": red,
            "duty_to_notify": {"da": duty.da, "en": duty.en} if red else None,
        }
    )


# --- the application ------------------------------------------------------------------------------
_DESCRIPTIONS = {
    400: "The body is not readable JSON (e.g. nested too deeply).",
    401: "No, wrong or disabled credentials (HTTP Basic).",
    403: "The role may not do this (record a decision, choose the municipality's steps, read "
    "another's receipt), or the request came from another site.",
    404: "No such receipt.",
    410: "The receipt's content was erased under the retention rules.",
    409: "The idempotency key was used with another form, or the suggestion changed.",
    413: "The body is larger than 256 KiB.",
    415: "The body is not Content-Type: application/json.",
    422: "The request does not fit: every problem in ``errors``, red flags in ``red_flags``.",
    429: "Too many failed logins for this name.",
    503: "The audit log cannot be written; nothing was stored.",
}
_POST = (400, 401, 403, 413, 415, 422, 429)


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ProblemDetails, "description": _DESCRIPTIONS[c]} for c in codes}


#: The document's description (CommonMark): what a client's developer reads first.
DESCRIPTION = """\
Score screening forms, get a suggested staircase step for each child, and record the
professional's decision: the web form's server, for applications. **Suggestions, never
decisions**: only `POST /decisions`, by an authenticated professional, records one.

* **Log in** with HTTP Basic as a user of the web form (`opsporing users add`); the decision is
  recorded under that user and role, never under what the body says. Too many failed logins
  for one name: 429.
* **POST bodies are `application/json`** (415 otherwise); at most 256 KiB (413).
* **Errors** are RFC 9457 problem details (`application/problem+json`): every problem of every
  form in `errors` (field, row, value, expected, kind), and the forms with a red flag in
  `red_flags`, with the duty to notify, even when the request is refused.
"""
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _plain_text(text: str) -> str:
    """A docstring's reST roles and literals as CommonMark: ``:func:`a.b``` -> ```a.b```."""
    return _ROLE.sub(r"`\1`", text).replace("``", "`")


def _tidy(node: Any) -> Any:
    """The document: error responses as ``application/problem+json``, descriptions plain."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = _plain_text(value)
            elif key == "responses" and isinstance(value, dict):
                for code, response in value.items():
                    content = response.get("content", {})
                    if str(code)[0] in "45" and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
                _tidy(value)
            else:
                _tidy(value)
    elif isinstance(node, list):
        for value in node:
            _tidy(value)
    return node


def create_api(
    store: AuditLog,
    suggester: Suggester,
    throttle: LoginThrottle,
    now: Callable[[], datetime],
) -> FastAPI:
    """The JSON API as a FastAPI application, to mount at :data:`API_ROOT`.

    Parameters
    ----------
    store : AuditLog
        The web form's audit log: its users log in here, decisions are stored there.
    suggester : Suggester
        The web form's model (or none).
    throttle : LoginThrottle
        The web form's login throttle: failures here and there count together.
    now : callable
        The clock stamped on decisions.
    """
    api = FastAPI(
        title="opsporing API",
        version=__version__,
        summary="Score screening forms, get suggested steps, record the professional's "
        "decision. Suggestions, never decisions.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        servers=[{"url": API_ROOT}],
        root_path_in_servers=False,
    )
    api.add_middleware(RequireJson)
    api.add_middleware(NoTraceback)
    require_user = _require_user(store, throttle, VerifiedCredentials())
    User = Annotated[StoredUser, Depends(require_user)]

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _tidy(
                get_openapi(
                    title=api.title,
                    version=api.version,
                    summary=api.summary,
                    description=DESCRIPTION,
                    routes=api.routes,
                    servers=api.servers,
                )
            )
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    _add_handlers(api)

    @api.post(
        "/score",
        response_model=ScoreOut,
        responses=_responses(*_POST),
        summary="Score forms of one instrument",
    )
    def score(body: ScoreIn, request: Request, user: User) -> dict[str, Any]:
        request.state.form_ids = [f.form_id for f in body.forms]
        inst = _instrument(body)
        scores = score_forms(inst, body.forms)
        records = [{str(k): _cell(v) for k, v in rec.items()} for rec in scores.to_dict("records")]
        log.info("API: %d form(s) scored (role %s)", len(records), user.role)
        return {"instrument": inst.key, "scores": records}

    @api.post(
        "/suggest",
        response_model=SuggestOut,
        responses=_responses(*_POST),
        summary="Suggest a staircase step for each form (never a decision)",
    )
    def suggest(body: SuggestIn, request: Request, user: User) -> dict[str, Any]:
        form_ids = [f.form_id for f in body.forms]
        request.state.form_ids = form_ids
        inst = _instrument(body)
        suggestions = suggestions_for(suggester, score_forms(inst, body.forms))
        flags = {s.subject: s.red_flags for s in suggestions if s.kind == "notify"}
        log.info("API: %d suggestion(s) (role %s)", len(suggestions), user.role)
        return {
            "instrument": inst.key,
            "model_available": suggester.has_model,
            "suggestions": [s.to_dict() for s in suggestions],
            "red_flags": [r.model_dump() for r in red_flag_records(flags, form_ids)],
        }

    @api.post(
        "/decisions",
        status_code=201,
        response_model=Receipt,
        responses={
            200: {"model": Receipt, "description": "Stored before under this key: its receipt."},
            **_responses(*_POST, 409, 410, 503),
        },
        summary="Record the professional's decision on the server's suggestion",
    )
    def decide(body: DecisionIn, request: Request, user: User) -> JSONResponse:
        request.state.form_ids = [body.form.form_id]
        if not may_decide(user.role):
            raise HTTPException(403, f"Role {user.role!r} records no decisions.")
        inst = _instrument(body)
        scores = score_forms(inst, [body.form])
        answers = {item: body.form.answers.get(item) for item in inst.item_ids}
        # A replay of a stored decision: its receipt, without running the model again.
        prior = store.lookup(body.idempotency_key, body.form.form_id, inst.key, answers)
        if prior is None:
            suggestion = suggestions_for(suggester, scores)[0]
            if suggestion.suggestion_id != body.suggestion_id:
                raise HTTPException(
                    409,
                    "suggestion_id: the server's suggestion for this form is now "
                    f"{suggestion.suggestion_id}: ask /api/v1/suggest again and decide on it.",
                )
            prior = _store_decision(store, now, inst, body, user, suggestion, answers)
        row = store.get(prior.screening_id)
        assert row is not None
        if not may_read_receipt(user, str(row["professional_id"])):
            raise HTTPException(409, "idempotency_key: already used for another decision.")
        if row["erased"]:
            raise HTTPException(
                410, "This decision's content was erased under the retention rules."
            )
        reader = Reader(user.name, user.role, protection_policy().recording_purpose, "api")
        store.log_access(str(row["child_ref"]), reader, [f"screening:{prior.screening_id}"])
        log.info(
            "API: decision %d %s", prior.decision_id, "replayed" if prior.duplicate else "stored"
        )
        receipt = _receipt(row, duplicate=prior.duplicate)
        return JSONResponse(
            receipt.model_dump(mode="json"),
            status_code=200 if prior.duplicate else 201,
            headers={"Location": f"{API_ROOT}/decisions/{receipt.id}"},
        )

    @api.get(
        "/decisions/{id}",
        response_model=Receipt,
        responses=_responses(401, 403, 404, 410, 422, 429),
        summary="A stored decision's receipt",
    )
    def receipt(
        id: Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The receipt's number.")],
        purpose: Annotated[
            str,
            Query(
                max_length=64,
                description="Why the child's data is read: a purpose code of the "
                "installation's protection.yaml (e.g. opsporing, faglig_vurdering, "
                "foraeldres_indsigt, tilsyn). Recorded in the access log.",
            ),
        ],
        user: User,
    ) -> Receipt:
        policy = protection_policy()
        if purpose not in policy.purposes:
            raise HTTPException(
                422, f"purpose = {purpose[:40]!r}: expected one of {', '.join(policy.purposes)}."
            )
        row = store.get(id)
        if row is None:
            raise HTTPException(404, "No receipt with this number.")
        if not may_read_receipt(user, str(row["professional_id"])):
            log.info("API: receipt %d refused to another user (role %s)", id, user.role)
            raise HTTPException(403, "This receipt is not yours, and your role reads only yours.")
        if row["erased"]:
            raise HTTPException(
                410, "This decision's content was erased under the retention rules."
            )
        store.log_access(str(row["child_ref"]), Reader(user.name, user.role, purpose, "api"),
                         [f"screening:{id}"])  # fmt: skip
        return _receipt(row, duplicate=False)

    from ._followup import add_due_api  # GET /due (issue 14)

    add_due_api(api, store, require_user, now)
    return api


def _store_decision(
    store: AuditLog,
    now: Callable[[], datetime],
    inst: Instrument,
    body: DecisionIn,
    user: StoredUser,
    suggestion: Any,
    answers: dict[str, int | None],
) -> Any:
    """Decide by the web form's protocol path, and store screening and decision together."""
    form = body.form
    score = score_form(inst, answers, age_years=form.age_years, version=body.instrument_version)
    available = suggestion.kind != "unavailable"
    panel = SuggestionPanel(
        available=available,
        kind=suggestion.kind,
        suggested_step=suggestion.step,
        headline="",
        record={"available": available, **suggestion.to_dict()},
        source=suggestion,
    )
    record = record_decision(
        panel,
        score,
        role=user.role,  # from the login, never from the body
        professional_id=user.name,
        chosen_step=body.chosen_step,
        reason=body.reason,
        notify=body.notify,
        clock=now,
    )
    return store.record(
        Submission(
            idempotency_key=body.idempotency_key,
            form_id=form.form_id,
            instrument=inst.key,
            age_years=form.age_years,
            answers=answers,
            scores=score.to_dict(),
            suggestion=panel.record,
            suggested_step=suggestion.step,
            chosen_step=body.chosen_step,
            notify=body.notify,
            role=user.role,
            professional_id=user.name,
            reason=record.get("reason"),
            decision=record,
        )
    )


# --- errors as problem details --------------------------------------------------------------------
def _problem(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_problems(errors: Sequence[Any]) -> list[Problem]:
    """pydantic's errors as :class:`Problem` records: row = the form's position."""
    out = []
    for e in errors:
        loc = list(e.get("loc", ()))
        where = str(loc.pop(0)) if loc and loc[0] in ("body", "path", "query") else "body"
        row = None
        if len(loc) >= 2 and loc[0] == "forms" and isinstance(loc[1], int):
            row, loc = loc[1], loc[2:]
        elif loc[:1] == ["form"]:
            loc = loc[1:]
        if len(loc) >= 2 and loc[0] == "answers":
            loc = loc[1:]  # the item id, as scoring names it
        field = ".".join(str(x) for x in loc) or where
        out.append(
            Problem(
                field,
                e.get("input"),
                str(e.get("msg", "a valid value")),
                row=row,
                kind=str(e.get("type", "invalid")),
            )
        )
    return out


def _add_handlers(api: FastAPI) -> None:
    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        return _problem(
            exc.status_code, problem_body(exc.status_code, str(exc.detail)), exc.headers
        )

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        problems = _validation_problems(exc.errors())
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        detail = f"{len(problems)} problem(s) in the request: {shown}{more}"
        return _problem(422, problem_body(422, detail, problems=problems))

    @api.exception_handler(OpsporingError)
    async def refused(request: Request, exc: OpsporingError) -> Any:
        form_ids = getattr(request.state, "form_ids", ())
        status, body = error_body(exc, form_ids)
        log.info(
            "API: %s refused: %s (%d problem(s))",
            request.url.path,
            type(exc).__name__,
            len(exc.problems),
        )
        return _problem(status, body)
