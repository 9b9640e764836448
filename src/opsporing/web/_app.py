"""The FastAPI application of the reference web form.

Routes (all HTML, server-rendered, no JavaScript):

``GET  /``                                 pick an instrument
``GET  /form/{instrument_id}``             a blank form with a fresh idempotency token
``POST /form/{instrument_id}``             score it: the result page with the suggestion panel
                                           and the decision form (422 with the errors next to
                                           the fields when the answers are invalid)
``POST /form/{instrument_id}/decision``    record the decision: screening and decision stored
                                           together (422 when the decision is incomplete), then
                                           303 to the receipt
``GET  /screenings/{screening_id}``        the receipt of a stored screening
``GET  /static/style.css``                 the style sheet

Every page takes ``?lang=en`` (or a hidden ``lang`` field) for English; Danish is the default.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from ..errors import DecisionError, UnknownInstrumentError
from ..instruments import Instrument, get_instrument, list_instruments
from ..scoring import FormScore
from ..vocabulary import Language, load_vocabulary
from ._forms import (
    ITEM_PREFIX,
    DecisionInput,
    FieldErrors,
    ScreeningInput,
    new_token,
    read_decision,
    read_screening,
)
from ._i18n import UI, parse_lang
from ._store import AuditLog, IdempotencyConflictError, Submission
from ._suggest import (
    SuggestionPanel,
    load_suggester,
    record_decision,
    role_choices,
    suggestion_panel,
)

__all__ = ["create_app"]

# Ids and counts only: never a form id, a professional id, a reason or an answer.
log = logging.getLogger("opsporing.web")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opsporing.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    return env


def _fmt(value: float | None) -> str:
    """A score for display: at most two decimals, no trailing zeros."""
    if value is None:
        return "–"
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class _Context:
    """What every page needs."""

    lang: Language
    path: str
    #: Pages answering a POST offer no language link: following it would drop the answers.
    switchable: bool = True

    @property
    def t(self) -> UI:
        return UI(self.lang)

    @property
    def other_lang_href(self) -> str | None:
        if not self.switchable:
            return None
        return f"{self.path}?lang={'da' if self.lang == 'en' else 'en'}"


def _shown_instruments() -> list[Instrument]:
    """The newest version of every shipped instrument."""
    newest: dict[str, Instrument] = {}
    for inst in list_instruments():
        newest[inst.id] = inst
    return list(newest.values())


def _domain_fieldsets(
    inst: Instrument, lang: Language, chosen: Mapping[str, str], errors: FieldErrors
) -> list[dict[str, Any]]:
    fieldsets = []
    for dom in inst.domains:
        items = []
        for item in inst.items_in(dom.id):
            scale = inst.scale(item.scale)
            items.append(
                {
                    "id": item.id,
                    "name": f"{ITEM_PREFIX}{item.id}",
                    "text": item.text.get(lang),
                    "options": [(str(o.value), o.label.get(lang)) for o in scale.options],
                    "chosen": chosen.get(item.id, ""),
                    "errors": errors.get(f"{ITEM_PREFIX}{item.id}", []),
                }
            )
        fieldsets.append({"id": dom.id, "legend": dom.label.get(lang), "questions": items})
    return fieldsets


def _score_view(inst: Instrument, score: FormScore, lang: Language) -> dict[str, Any]:
    voc = load_vocabulary()

    def band(code: str | None) -> dict[str, str] | None:
        if code is None:
            return None
        b = voc.band(code)
        return {"code": b.code, "label": b.label.get(lang), "action": b.action.get(lang)}

    rows = []
    for dom in inst.domains:
        ds = score.domains[dom.id]
        rows.append(
            {
                "label": dom.label.get(lang),
                "score": ds.score,
                "answered": ds.answered,
                "n_items": ds.n_items,
                "scorable": ds.scorable,
                "band": band(ds.band),
            }
        )

    def concept(code: str) -> dict[str, Any]:
        c = voc.concept(code)
        return {
            "code": c.code,
            "label": c.label.get(lang),
            "definition": c.definition.get(lang),
            "red_flag": c.red_flag,
        }

    return {
        "rows": rows,
        "total": score.total,
        "total_label": inst.total.label.get(lang) if inst.total is not None else None,
        "total_band": band(score.total_band),
        "overall_band": band(score.overall_band),
        "concerns": [concept(c) for c in score.concerns],
        "protective": [concept(c) for c in score.protective_factors],
        "red_flags": [concept(c) for c in score.red_flags],
    }


def _steps_view(lang: Language) -> list[dict[str, Any]]:
    return [
        {
            "number": s.number,
            "label": s.label.get(lang),
            "description": s.description.get(lang),
            "legal_basis": s.legal_basis.get(lang),
            "who_acts": s.who_acts.get(lang),
            "municipal": s.requires_municipal_assessment,
        }
        for s in load_vocabulary().steps
    ]


#: Where a decision's protocol error points: the field of the message "field = value: ...".
_DECISION_FIELDS = {
    "professional_role": "role",
    "professional_id": "professional_id",
    "chosen_step": "chosen_step",
    "reason": "reason",
    "notify": "notify",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    db_path: str | Path,
    *,
    clock: Callable[[], datetime] | None = None,
    model: Any = "auto",
) -> FastAPI:
    """The reference web form as a FastAPI application.

    Parameters
    ----------
    db_path : str or Path
        The SQLite audit log (created when missing). See :class:`AuditLog`.
    clock : callable, optional
        Returns the current time as an aware datetime (default: UTC now); stamped on
        every stored row and decision.
    model : "auto", str, Path, fitted model or None
        The model behind the suggestions. ``"auto"`` (default): ``models/step_suggester.joblib``
        when it exists and passes its manifest check, else none. A path: that model file
        (a failing check raises :class:`~opsporing.errors.ModelIntegrityError`). A fitted
        :class:`~opsporing.model.StepSuggester`: used as is. ``None``: no model; the panel
        says "no model available". Red flags never need a model.

    Returns
    -------
    fastapi.FastAPI

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastapi.testclient import TestClient
    >>> app = create_app(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite", model=None)
    >>> TestClient(app).get("/").status_code
    200
    """
    now = clock or _utc_now
    store = AuditLog(db_path, clock=now)
    suggester = load_suggester(model)
    env = _environment()
    voc = load_vocabulary()
    app = FastAPI(
        title="opsporing",
        description="Reference web form: screening, suggestion, and the professional's decision.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.audit_log = store
    app.mount("/static", StaticFiles(packages=[("opsporing.web", "static")]), name="static")

    def page(name: str, ctx: _Context, status: int = 200, **values: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            t=ctx.t,
            lang=ctx.lang,
            other_lang_href=ctx.other_lang_href,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def instrument_or_404(instrument_id: str, ctx: _Context) -> Instrument | HTMLResponse:
        try:
            return get_instrument(instrument_id)
        except UnknownInstrumentError:
            return page("not_found.html", ctx, status=404)

    def form_page(
        inst: Instrument,
        ctx: _Context,
        *,
        token: str,
        form_id: str = "",
        age_text: str = "",
        chosen: Mapping[str, str] | None = None,
        errors: FieldErrors | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        errors = errors or {}
        return page(
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
            fieldsets=_domain_fieldsets(inst, ctx.lang, chosen or {}, errors),
            errors=errors,
            error_list=_error_list(inst, errors, ctx.lang),
        )

    def result_page(
        screening: ScreeningInput,
        panel: SuggestionPanel,
        ctx: _Context,
        *,
        decision: DecisionInput | None = None,
        errors: FieldErrors | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        inst = screening.instrument
        assert screening.score is not None
        errors = errors or {}
        return page(
            "result.html",
            ctx,
            status=status,
            inst=inst,
            title=inst.title.get(ctx.lang),
            screening=screening,
            scores=_score_view(inst, screening.score, ctx.lang),
            duty_text=voc.duty_to_notify.get(ctx.lang),
            duty_basis=voc.duty_to_notify_basis.get(ctx.lang),
            panel=panel,
            steps=_steps_view(ctx.lang),
            roles=role_choices(ctx.lang),
            decision=decision,
            errors=errors,
            error_list=_error_list(inst, errors, ctx.lang),
        )

    @app.get("/", response_class=HTMLResponse)
    def index(lang: str | None = None) -> HTMLResponse:
        ctx = _Context(parse_lang(lang), "/")
        shown = [
            {
                "id": i.id,
                "title": i.title.get(ctx.lang),
                "description": i.description.get(ctx.lang) if i.description else "",
                "ages": f"{_fmt(i.age_years.min)}-{_fmt(i.age_years.max)}",
                "version": i.version,
            }
            for i in _shown_instruments()
        ]
        return page("index.html", ctx, instruments=shown)

    @app.get("/form/{instrument_id}", response_class=HTMLResponse)
    def blank_form(instrument_id: str, lang: str | None = None) -> HTMLResponse:
        ctx = _Context(parse_lang(lang), f"/form/{instrument_id}")
        inst = instrument_or_404(instrument_id, ctx)
        if isinstance(inst, HTMLResponse):
            return inst
        return form_page(inst, ctx, token=new_token())

    async def posted_screening(
        instrument_id: str, request: Request
    ) -> tuple[_Context, Instrument, ScreeningInput, Any] | HTMLResponse:
        """The context, instrument, scored screening and raw form of a POST, or the error page."""
        form = await request.form()
        ctx = _Context(parse_lang(form.get("lang")), f"/form/{instrument_id}", switchable=False)
        inst = instrument_or_404(instrument_id, ctx)
        if isinstance(inst, HTMLResponse):
            return inst
        screening = read_screening(inst, form, ctx.t)
        if not screening.ok:
            return _invalid_form(screening, ctx)
        return ctx, inst, screening, form

    @app.post("/form/{instrument_id}", response_class=HTMLResponse)
    async def score(instrument_id: str, request: Request) -> HTMLResponse:
        posted = await posted_screening(instrument_id, request)
        if isinstance(posted, HTMLResponse):
            return posted
        ctx, _, screening, _ = posted
        return result_page(screening, _panel(screening, ctx.lang), ctx)

    @app.post("/form/{instrument_id}/decision", response_model=None)
    async def decide(instrument_id: str, request: Request) -> Response:
        posted = await posted_screening(instrument_id, request)
        if isinstance(posted, HTMLResponse):
            return posted
        ctx, inst, screening, form = posted
        assert screening.score is not None
        try:
            # A double submit of a stored form: its receipt, without running the model again.
            prior = store.lookup(
                screening.token, screening.form_id, inst.key, screening.stored_answers()
            )
        except IdempotencyConflictError:
            return page("conflict.html", ctx, status=409)
        if prior is not None:
            log.info("screening %d already stored (double submit)", prior.screening_id)
            return RedirectResponse(
                f"/screenings/{prior.screening_id}?lang={ctx.lang}&duplicate=1", status_code=303
            )
        panel = _panel(screening, ctx.lang, plot=False)
        decision = read_decision(form, ctx.t, {code for code, _ in role_choices(ctx.lang)})
        errors: FieldErrors = {k: list(v) for k, v in decision.errors.items()}
        record: dict[str, Any] | None = None
        if decision.suggestion_id != panel.suggestion_id:
            # The decision must be about the suggestion that was shown (a model replaced
            # in between, or a forged form): show the current one and ask again.
            errors.setdefault("", []).append(ctx.t["err_suggestion_changed"])
            panel = _panel(screening, ctx.lang)
        elif decision.chosen_step is not None:
            # The protocol's own check (a reason when required) runs even when other fields
            # are wrong, so every problem is shown at once.
            try:
                record = record_decision(
                    panel,
                    screening.score,
                    role=decision.role,
                    professional_id=decision.professional_id,
                    chosen_step=decision.chosen_step,
                    reason=decision.reason,
                    notify=decision.notify,
                    clock=now,
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
        if errors or record is None:
            log.info("decision rejected (%d field(s) with errors); nothing stored", len(errors))
            if panel.source is not None and panel.plot_data_uri is None:
                panel = _panel(screening, ctx.lang)  # the page is shown again: with its plot
            return result_page(screening, panel, ctx, decision=decision, errors=errors, status=422)
        assert decision.chosen_step is not None
        try:
            stored = store.record(
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
                    role=decision.role,
                    professional_id=decision.professional_id,
                    reason=record.get("reason"),
                    decision=record,
                )
            )
        except IdempotencyConflictError:
            return page("conflict.html", ctx, status=409)
        log.info(
            "screening %d and decision %d %s",
            stored.screening_id,
            stored.decision_id,
            "already stored (double submit)" if stored.duplicate else "stored",
        )
        suffix = "&duplicate=1" if stored.duplicate else ""
        return RedirectResponse(
            f"/screenings/{stored.screening_id}?lang={ctx.lang}{suffix}", status_code=303
        )

    @app.get("/screenings/{screening_id}", response_class=HTMLResponse)
    def receipt(screening_id: int, lang: str | None = None, duplicate: int = 0) -> HTMLResponse:
        ctx = _Context(parse_lang(lang), f"/screenings/{screening_id}")
        row = store.get(screening_id)
        if row is None:
            return page("not_found.html", ctx, status=404)
        scores = json.loads(row["scores_json"])
        step = voc.step(int(row["chosen_step"]))
        return page(
            "saved.html",
            ctx,
            row=row,
            duplicate=bool(duplicate),
            red_flags=[voc.concept(c).label.get(ctx.lang) for c in scores["red_flags"]],
            duty_text=voc.duty_to_notify.get(ctx.lang),
            duty_basis=voc.duty_to_notify_basis.get(ctx.lang),
            step_label=step.label.get(ctx.lang),
            instrument_id=str(row["instrument"]).split("@")[0],
        )

    def _invalid_form(screening: ScreeningInput, ctx: _Context) -> HTMLResponse:
        log.info("form rejected (%d field(s) with errors); nothing stored", len(screening.errors))
        return form_page(
            screening.instrument,
            ctx,
            token=screening.token if not screening.errors.get("") else new_token(),
            form_id=screening.form_id,
            age_text=screening.age_text,
            chosen=screening.raw_answers,
            errors=screening.errors,
            status=422,
        )

    def _panel(screening: ScreeningInput, lang: Language, *, plot: bool = True) -> SuggestionPanel:
        assert screening.score is not None
        return suggestion_panel(
            suggester,
            screening.instrument,
            screening.stored_answers(),
            screening.score,
            age_years=screening.age_years,
            lang=lang,
            plot=plot,
        )

    return app


def _error_list(inst: Instrument, errors: FieldErrors, lang: Language) -> list[dict[str, str]]:
    """The error summary at the top of a page: each message with a link to its field."""
    t = UI(lang)
    names = {
        "form_id": t["form_id"],
        "age_years": t["age"],
        "role": t["role"],
        "professional_id": t["professional_id"],
        "chosen_step": t["chosen_step"],
        "notify": t["notify"],
        "reason": t["reason"],
        "": "",
    }
    out = []
    for name, messages in errors.items():
        label = names.get(name)
        anchor = name
        if label is None and name.startswith(ITEM_PREFIX):
            item_id = name[len(ITEM_PREFIX) :]
            try:
                label = inst.item(item_id).text.get(lang)
                anchor = f"{name}-fieldset"
            except KeyError:
                label, anchor = item_id, ""
        for message in messages:
            out.append({"anchor": anchor, "label": label or "", "message": message})
    return out
