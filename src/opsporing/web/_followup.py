"""The follow-up process in the web form (issue 14): the child's page, plans, reviews, drafts.

Routes (HTML, server-rendered, no JavaScript; the CSRF, Origin and login checks of
:mod:`._security` and :mod:`._app` run before each, as for every route of the form):

``GET  /children/{child_id}``            the child's page (pseudonymous id): the timeline of
                                         screenings (with their decisions), plans and reviews,
                                         a form for a plan and a form per open plan's review
``POST /children/{child_id}/plans``      record a follow-up plan (303 back, 422 with errors)
``POST /plans/{plan_id}/review``         record a review of an open plan (303 back, 422)
``GET  /screenings/{id}/draft``          a dialogue-based notification draft in an editable
                                         text area (never sent: the professional copies it)
``GET  /api/v1/due?purpose=``            (JSON API, HTTP Basic) the user's unit's plans whose
                                         review is overdue or due this week (a read, logged)

Every page that shows a child's records asks first why the user looks (``?purpose=``, a
code of ``protection.yaml``, as the receipt does) and opens them through the log's logged
read with that purpose; the links and forms of such a page carry the purpose on. The start
page (``GET /``) shows from the clear index what is due this week for the logged-in user's
unit (dates only, no child), and with a chosen purpose the children and plans of the due
list (:func:`due_view`). Who may see a child: a user of the unit that follows it (the unit of its
plans), or before any plan, a user of the unit of who recorded a screening, who recorded it,
and the roles of ``access.yaml`` that read every receipt. Only the professional roles may
record plans and reviews, and only for their own unit's children
(:class:`~opsporing.errors.UnitAccessError`, 403).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from .._texts import N_, date_text, translate
from ..errors import FollowUpError, UnitAccessError
from ..followup import (
    ChildRecords,
    FollowUpPlan,
    Review,
    child_records,
    child_units,
    default_review_date,
    due,
    due_index,
    load_catalogue,
    next_review,
    notification_draft,
    record_plan,
    record_review,
    screening_records,
    unit_of,
)
from ..followup._log import (
    child_units_of_ref,
    plan_unit,
    screeners,
    screening_owner,
    timeline_of,
)
from ..privacy import mask_cpr
from ..vocabulary import Language, load_vocabulary
from ._auth import access_policy, may_decide, may_read_receipt
from ._forms import valid_pseudonymous_id
from ._i18n import parse_lang
from ._pages import Context
from ._records import Reader, protection_policy
from ._store import MAX_ROW_ID, AuditLog, StoredUser

if TYPE_CHECKING:  # pragma: no cover
    from ._app import _Deps

__all__ = ["DueOut", "add_due_api", "add_followup_routes", "due_view", "followup_text"]

log = logging.getLogger("opsporing.web")

_SCREENING_ID = re.compile(r"^[1-9][0-9]{0,18}$")
_PLAN_ID = re.compile(r"^[0-9a-f]{64}$")

#: The follow-up pages' own strings: key -> English message (the Danish is in the
#: catalog, as for :mod:`._i18n`'s common ones).
_TEXTS: dict[str, str] = {
    "child_title": N_("The child's course"),
    "child_intro": N_(
        "Screenings, decisions, follow-up plans and reviews of the child, oldest first."
    ),
    "child_link": N_("See the child's course and make a follow-up plan"),
    "timeline": N_("Timeline"),
    "screening": N_("Screening"),
    "decision": N_("Decision"),
    "step": N_("step"),
    "notify": N_("notifies the municipality"),
    "plan": N_("Follow-up plan"),
    "review": N_("Review"),
    "concerns": N_("Concerns (common language)"),
    "other_concerns": N_("Other concerns"),
    "actions": N_("Agreed actions"),
    "responsible": N_("Responsible"),
    "parents_view": N_("The parents' view (in their words)"),
    "child_view": N_("The child's own view"),
    "views_help": N_("Never write CPR numbers or names."),
    "review_on": N_("Review by"),
    "review_on_help": N_("Empty: {days} days by the decision's step, i.e. {default}."),
    "follows": N_("Follows the decision"),
    "save_plan": N_("Save follow-up plan"),
    "happened": N_("What happened?"),
    "outcome": N_("Outcome"),
    "new_decision": N_("New decision (when escalating)"),
    "new_decision_help": N_("Record the new screening and decision first; then choose it here."),
    "none": N_("None"),
    "save_review": N_("Save review"),
    "overdue": N_("Overdue"),
    "due": N_("Due"),
    "days_late": N_("{n} days late"),
    "due_today": N_("today"),
    "due_in": N_("in {n} days"),
    "due_title": N_("Reviews due this week"),
    "due_none": N_("No reviews are overdue or due this week."),
    "due_show": N_("Choose the purpose to see the children and plans (the view is logged)."),
    "due_hidden": N_("child not shown"),
    "no_unit": N_(
        "You are not in a daycare or school. Ask an administrator to run `opsporing users "
        "unit`."
    ),
    "unit": N_("Unit"),
    "closed": N_("Closed"),
    "open_until": N_("Open – next review"),
    "on_time": N_("on time"),
    "late": N_("late"),
    "up": N_("Escalation: step {a} → {b}"),
    "down": N_("Down the staircase: step {a} → {b}"),
    "draft_link": N_("Notification draft"),
    "draft_title": N_("Notification draft (dialogue-based)"),
    "draft_intro": N_(
        "A draft to edit. Nothing is sent from here: copy the text, edit it, and send it the "
        "municipality's usual way."
    ),
    "draft_not_first": N_(
        "Suspected violence or abuse: the parents are not to be told first. Contact the "
        "municipality at once."
    ),
    "draft_label": N_("The draft's text"),
    "back_to_child": N_("Back to the child's course"),
    "err_other_unit": N_(
        "Another unit follows this child. You cannot make plans or reviews for it."
    ),
    "err_cannot_follow": N_("Your role makes no follow-up plans."),
    "err_unverified": N_(
        "A stored follow-up record does not verify under this installation's key "
        "(OPSPORING_DECISION_KEY). Ask an administrator to run `opsporing audit verify`."
    ),
    "err_not_your_child": N_("You have no access to this child's course."),
}


def followup_text(lang: str, key: str, **values: Any) -> str:
    """A follow-up page string in ``lang`` ("da" or "en"), with ``{name}`` values filled in.

    The English is :data:`_TEXTS`' message, the Danish the catalog's
    (:func:`opsporing._texts.translate`); any other ``lang`` reads as Danish, like ``?lang=``.

    Examples
    --------
    >>> followup_text("en", "days_late", n=3), followup_text("da", "days_late", n=3)
    ('3 days late', '3 dage for sent')
    """
    text = translate(_TEXTS[key], parse_lang(lang))
    return text.format(**values) if values else text


def _day(moment: str | date, lang: str) -> str:
    """A stored date or timestamp as the page's language writes a date (:func:`date_text`)."""
    return date_text(moment, parse_lang(lang))


# --- who may see and follow a child -------------------------------------------------------
def _may_see(store: AuditLog, user: StoredUser, child_ref: str, recorded_by: list[str]) -> bool:
    """Whether ``user`` may open the child's records (clear columns only: nothing opened)."""
    if user.role in access_policy().read_every_receipt:
        return True
    unit = unit_of(store, user.name)
    if unit is not None and unit in child_units_of_ref(store, child_ref):
        return True
    return any(may_read_receipt(user, name) for name in recorded_by)


def _purpose(value: object) -> str | None:
    """``value`` when it is a purpose code of ``protection.yaml``, else ``None``."""
    return value if isinstance(value, str) and value in protection_policy().purposes else None


def _purposes(lang: Language) -> list[tuple[str, str]]:
    policy = protection_policy()
    return [(c, policy.purpose_label(c, lang)) for c in policy.purposes]


# --- view models --------------------------------------------------------------------------
def _labels(codes: Any, lang: Language) -> list[str]:
    voc = load_vocabulary()
    return [voc.concept(c).label.get(lang) for c in codes]


def _timeline_view(records: ChildRecords, lang: Language, today: date) -> dict[str, Any]:
    voc, cat = load_vocabulary(), load_catalogue()
    entries, decisions, open_plans = [], [], []
    all_reviews = records.reviews
    last_step: int | None = None
    for e in timeline_of(records):
        if e.kind == "screening":
            row = e.record
            scores = json.loads(row["scores_json"] or "{}")  # erased before its decision: {}
            record = json.loads(row["decision_json"])
            step = int(row["chosen_step"])
            move, move_kind = "", ""
            if last_step is not None and step != last_step:
                move_kind = "up" if step > last_step else "down"
                move = followup_text(lang, move_kind, a=last_step, b=step)
            last_step = step
            band = scores.get("overall_band")
            decisions.append(
                {
                    "id": record["decision_id"],
                    "at": e.at,
                    "label": f"{_day(e.at, lang)} – {followup_text(lang, 'step')} {step}",
                    "step": step,
                }
            )
            entries.append(
                {
                    "kind": "screening",
                    "at": _day(e.at, lang),
                    "screening_id": row["screening_id"],
                    "band": band,
                    "band_label": voc.band(band).label.get(lang) if band else "",
                    "concerns": _labels(scores.get("concerns") or [], lang),
                    "step": step,
                    "step_label": voc.step(step).label.get(lang),
                    "notify": bool(row["notify"]),
                    "move": move,
                    "move_kind": move_kind,
                }
            )
        elif e.kind == "plan":
            plan: FollowUpPlan = e.record
            mine = [r for r in all_reviews if r.plan_id == plan.plan_id]
            when = next_review(plan, mine)
            view = {
                "kind": "plan",
                "at": _day(e.at, lang),
                "plan_id": plan.plan_id,
                "concerns": _labels(plan.concerns, lang),
                "actions": [cat.measure(a).label.get(lang) for a in plan.actions],
                "responsible": voc.roles[plan.responsible_role].get(lang),
                "parents_view": plan.parents_view,
                "child_view": plan.child_view,
                "review_on": _day(plan.review_on, lang),
                "unit": plan.unit,
                "open": when is not None,
                "next": _day(when, lang) if when else "",
                "overdue": when is not None and when < today,
            }
            entries.append(view)
            if when is not None:
                open_plans.append(view | {"created_at": plan.created_at})
        else:
            rv: Review = e.record
            entries.append(
                {
                    "kind": "review",
                    "at": _day(e.at, lang),
                    "happened": rv.happened,
                    "outcome": cat.outcomes[rv.outcome].get(lang),
                    "outcome_code": rv.outcome,
                    "on_time": rv.on_time,
                }
            )
    for view in open_plans:  # an escalation names a decision made after the plan
        view["new_decisions"] = [d for d in decisions if d["at"] > view["created_at"]]
    return {"entries": entries, "decisions": decisions, "open_plans": open_plans}


def _plan_form_view(
    records: ChildRecords, lang: Language, today: date, decisions: list[Any]
) -> dict[str, Any]:
    voc, cat = load_vocabulary(), load_catalogue()
    seen: list[str] = []
    for row in records.screenings:
        for c in json.loads(row["scores_json"] or "{}").get("concerns") or []:
            if c not in seen:
                seen.append(c)
    latest_step = decisions[-1]["step"] if decisions else 1
    days = load_catalogue().review_after_days[latest_step]
    return {
        "seen": [(c, voc.concept(c).label.get(lang)) for c in seen],
        "other": [(c.code, c.label.get(lang)) for c in voc.concerns if c.code not in seen],
        "measures": [
            {"id": m.id, "label": m.label.get(lang), "step": m.step} for m in cat.measures.values()
        ],
        "roles": [(code, text.get(lang)) for code, text in voc.roles.items()],
        "review_help": followup_text(
            lang,
            "review_on_help",
            days=days,
            default=_day(default_review_date(latest_step, today), lang),
        ),
        "outcomes": [(code, text.get(lang)) for code, text in cat.outcomes.items()],
    }


def due_view(
    store: AuditLog,
    user: StoredUser | None,
    lang: Language,
    today: date,
    purpose: str | None = None,
) -> dict[str, Any]:
    """What the start page shows of the user's unit's due list.

    Without a purpose: what the clear index says (status and date, no child), and a choice
    of purpose. With one: the children and plans, opened through the logged read.
    """
    if user is None:
        return {"unit": None, "items": []}
    unit = unit_of(store, user.name)
    if unit is None:
        return {"unit": None, "items": [], "no_unit": may_decide(user.role)}
    code = _purpose(purpose)
    items = []
    try:
        if code is None:
            listed: list[Any] = due_index(store, unit, today)
        else:
            listed = due(store, unit, today, Reader(user.name, user.role, code, "web"))
    except FollowUpError:  # a record that does not verify: say so, keep the start page
        log.warning("the due list of a unit holds a record that does not verify")
        return {"unit": unit, "items": [], "error": followup_text(lang, "err_unverified")}
    for item in listed:
        if item.status == "overdue":
            when = followup_text(lang, "days_late", n=item.days)
        elif item.days == 0:
            when = followup_text(lang, "due_today")
        else:
            when = followup_text(lang, "due_in", n=-item.days)
        view = {
            "status": item.status,
            "status_label": followup_text(lang, item.status),
            "due_on": _day(item.due_on, lang),
            "when": when,
        }
        if code is not None:
            view |= {
                "child_id": item.plan.child_id,
                "responsible": load_vocabulary().roles[item.plan.responsible_role].get(lang),
            }
        items.append(view)
    return {
        "unit": unit,
        "items": items,
        "purpose": code,
        "purposes": _purposes(lang) if code is None and items else [],
    }


# --- the routes ---------------------------------------------------------------------------------
def _errors_of(exc: FollowUpError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for p in exc.problems or ():
        errors.setdefault(p.field, []).append(str(p))
    if not errors:
        errors[""] = [str(exc)]
    return errors


def add_followup_routes(app: FastAPI, deps: _Deps) -> None:
    """Add the child's page, the plan and review forms and the draft page to ``app``."""
    deps.pages.env.globals["ft"] = followup_text
    store = deps.store

    def today() -> date:
        return deps.now().date()

    def ask_purpose(ctx: Context, action: str) -> HTMLResponse:
        # Nothing about the child is shown before the user says why they look.
        return deps.page("purpose.html", ctx, action=action, purposes=_purposes(ctx.lang))

    def child_page(
        ctx: Context,
        child_id: str,
        purpose: str,
        *,
        status: int = 200,
        errors: Mapping[str, list[str]] | None = None,
        plan_form: Mapping[str, Any] | None = None,
        review_plan: str = "",
        review_form: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        assert ctx.user is not None
        reader = Reader(ctx.user.name, ctx.user.role, purpose, "web")
        try:
            records = child_records(store, child_id, reader)
        except FollowUpError:  # a stored record that does not verify: never shown as true
            log.warning("a child's page holds a follow-up record that does not verify")
            message = followup_text(ctx.lang, "err_unverified")
            return deps.page("forbidden.html", ctx, 503, message=message)
        if not records.screenings:
            return deps.page("erased.html", ctx, status=410)
        view = _timeline_view(records, ctx.lang, today())
        return deps.page(
            "child.html",
            ctx,
            status=status,
            child_id=child_id,
            purpose=purpose,
            unit=unit_of(store, ctx.user.name),
            can_follow=may_decide(ctx.user.role),
            form=_plan_form_view(records, ctx.lang, today(), view["decisions"]),
            errors=errors or {},
            plan_form=plan_form or {},
            review_plan=review_plan,
            review_form=review_form or {},
            **view,
        )

    def refused(ctx: Context, key: str) -> HTMLResponse:
        return deps.page("forbidden.html", ctx, 403, message=followup_text(ctx.lang, key))

    @app.get("/children/{child_id}", response_class=HTMLResponse)
    def child(
        request: Request, child_id: str, lang: str | None = None, purpose: str | None = None
    ) -> HTMLResponse:
        ctx = deps.context(request, lang, f"/children/{quote(child_id)}")
        if not valid_pseudonymous_id(child_id):
            return deps.page("not_found.html", ctx, status=404)
        assert ctx.user is not None
        ref = store.child_ref(child_id)
        recorded_by = screeners(store, ref)
        if not recorded_by:
            return deps.page("not_found.html", ctx, status=404)
        if not _may_see(store, ctx.user, ref, recorded_by):
            log.info("child page refused (role %s)", ctx.user.role)
            return refused(ctx, "err_not_your_child")
        code = _purpose(purpose)
        if code is None:
            return ask_purpose(ctx, f"/children/{quote(child_id)}")
        return child_page(ctx, child_id, code)

    @app.post("/children/{child_id}/plans", response_model=None)
    async def new_plan(request: Request, child_id: str) -> Response:
        form = await request.form()
        ctx = deps.context(
            request, form.get("lang"), f"/children/{quote(child_id)}", switchable=False
        )
        if not valid_pseudonymous_id(child_id):
            return deps.page("not_found.html", ctx, status=404)
        user = ctx.user
        assert user is not None
        if not may_decide(user.role):
            return refused(ctx, "err_cannot_follow")
        user_unit = unit_of(store, user.name)
        owners = child_units(store, child_id)
        if user_unit is None or (owners and user_unit not in owners):
            log.info("plan refused: another unit's child (role %s)", user.role)
            return refused(ctx, "err_other_unit")  # before anything about the child is read
        # The child page's own rule of who may see the child, before anything is opened: a
        # child no unit follows yet (its screener is in no unit) is not any unit's to open.
        ref = store.child_ref(child_id)
        recorded_by = screeners(store, ref)
        if not recorded_by:
            return deps.page("not_found.html", ctx, status=404)
        if not _may_see(store, user, ref, recorded_by):
            log.info("plan refused: a child the user may not see (role %s)", user.role)
            return refused(ctx, "err_not_your_child")
        code = _purpose(form.get("purpose"))
        if code is None:
            return ask_purpose(ctx, f"/children/{quote(child_id)}")
        reader = Reader(user.name, user.role, code, "web")
        text = {
            k: str(form.get(k) or "")
            for k in ("decision_id", "responsible_role", "parents_view", "child_view", "review_on")
        }
        concerns = [str(v) for v in form.getlist("concerns")]
        actions = [str(v) for v in form.getlist("actions")]
        # Shown again on an error: with every CPR number masked, never echoed.
        values: dict[str, Any] = {
            **{k: mask_cpr(v) for k, v in text.items()},
            "concerns": concerns,
            "actions": actions,
        }
        try:
            known = child_records(store, child_id, reader, kinds=("screening", "decision"))
            row = known.decision(text["decision_id"]) if text["decision_id"] else None
            if row is None:
                raise FollowUpError(
                    _problem(
                        "decision_id", values["decision_id"][:16], "a decision about this child"
                    )
                )
            plan = FollowUpPlan.make(
                json.loads(row["decision_json"]),
                child_id=child_id,
                unit=user_unit,
                concerns=concerns,
                actions=actions,
                responsible_role=text["responsible_role"],
                parents_view=text["parents_view"],
                child_view=text["child_view"],
                created_by=user.name,
                review_on=text["review_on"] or None,
                clock=deps.now,
            )
            record_plan(store, plan, user_unit=user_unit, reader=reader)
        except UnitAccessError:
            log.info("plan refused: another unit's child (role %s)", user.role)
            return refused(ctx, "err_other_unit")
        except FollowUpError as exc:
            log.info("plan rejected (%d problem(s)); nothing stored", len(exc.problems))
            return child_page(
                ctx, child_id, code, status=422, errors=_errors_of(exc), plan_form=values
            )
        log.info("plan stored")
        return RedirectResponse(
            f"/children/{quote(child_id)}?lang={ctx.lang}&purpose={code}"
            f"#plan-{plan.plan_id[:12]}",
            status_code=303,
        )

    @app.post("/plans/{plan_id}/review", response_model=None)
    async def new_review(request: Request, plan_id: str) -> Response:
        form = await request.form()
        ctx = deps.context(request, form.get("lang"), "/", switchable=False)
        unit = plan_unit(store, plan_id) if _PLAN_ID.fullmatch(plan_id) else None
        if unit is None:
            return deps.page("not_found.html", ctx, status=404)
        user = ctx.user
        assert user is not None
        if not may_decide(user.role):
            return refused(ctx, "err_cannot_follow")
        user_unit = unit_of(store, user.name)
        if user_unit != unit:
            log.info("review refused: another unit's child (role %s)", user.role)
            return refused(ctx, "err_other_unit")  # before anything about the child is read
        code = _purpose(form.get("purpose"))
        if code is None:
            return ask_purpose(ctx, "/")
        reader = Reader(user.name, user.role, code, "web")
        values = {
            "happened": mask_cpr(str(form.get("happened") or "")),
            "outcome": str(form.get("outcome") or ""),
            "new_decision_id": str(form.get("new_decision_id") or ""),
        }
        from ..followup import find_plan

        try:
            plan = find_plan(store, plan_id, reader)
        except FollowUpError:
            return deps.page(
                "forbidden.html", ctx, 503, message=followup_text(ctx.lang, "err_unverified")
            )
        if plan is None:
            return deps.page("not_found.html", ctx, status=404)
        ctx = deps.context(
            request, form.get("lang"), f"/children/{quote(plan.child_id)}", switchable=False
        )
        try:
            new = None
            if values["new_decision_id"]:
                known = child_records(store, plan.child_id, reader, kinds=("decision",))
                row = known.decision(values["new_decision_id"])
                if row is None:
                    raise FollowUpError(
                        _problem(
                            "new_decision",
                            values["new_decision_id"][:16],
                            "a decision about this child",
                        )
                    )
                new = json.loads(row["decision_json"])
            review = Review.make(
                plan,
                happened=str(form.get("happened") or ""),
                outcome=values["outcome"],
                reviewed_by=user.name,
                new_decision=new,
                clock=deps.now,
            )
            record_review(store, review, user_unit=user_unit, reader=reader)
        except UnitAccessError:
            log.info("review refused: another unit's child (role %s)", user.role)
            return refused(ctx, "err_other_unit")
        except FollowUpError as exc:
            log.info("review rejected (%d problem(s)); nothing stored", len(exc.problems))
            return child_page(
                ctx,
                plan.child_id,
                code,
                status=422,
                errors=_errors_of(exc),
                review_plan=plan.plan_id,
                review_form=values,
            )
        log.info("review stored")
        return RedirectResponse(
            f"/children/{quote(plan.child_id)}?lang={ctx.lang}&purpose={code}", status_code=303
        )

    @app.get("/screenings/{screening_id}/draft", response_class=HTMLResponse)
    def draft(
        request: Request, screening_id: str, lang: str | None = None, purpose: str | None = None
    ) -> HTMLResponse:
        ctx = deps.context(request, lang, f"/screenings/{quote(screening_id)}/draft")
        number = int(screening_id) if _SCREENING_ID.fullmatch(screening_id) else 0
        owner = screening_owner(store, number) if 0 < number <= MAX_ROW_ID else None
        if owner is None:
            return deps.page("not_found.html", ctx, status=404)
        assert ctx.user is not None
        child_ref, recorded_by = owner
        if not _may_see(store, ctx.user, child_ref, recorded_by):
            return refused(ctx, "err_not_your_child")
        code = _purpose(purpose)
        if code is None:
            return ask_purpose(ctx, f"/screenings/{number}/draft")
        reader = Reader(ctx.user.name, ctx.user.role, code, "web")
        try:
            found = screening_records(store, number, reader)
            if found is None:
                return deps.page("erased.html", ctx, status=410)
            row, records = found
            text = notification_draft(row, records.plans, records.reviews)
        except FollowUpError:  # a stored record that does not verify: never shown as true
            message = followup_text(ctx.lang, "err_unverified")
            return deps.page("forbidden.html", ctx, 503, message=message)
        log.info("notification draft shown for screening %d (not sent)", number)
        return deps.page(
            "draft.html", ctx, draft=text, child_id=str(row["form_id"]), purpose=code
        )


def _problem(field: str, value: Any, expected: str) -> Any:
    from ..errors import Problem

    return Problem(field, value, expected)


# --- the JSON API -------------------------------------------------------------------------------
class DueItemOut(BaseModel):
    """One plan whose review is overdue or due this week."""

    plan_id: str = Field(description="The plan's id (SHA-256 of its content).")
    child_id: str = Field(description="The child's pseudonymous id.")
    unit: str = Field(description="The daycare or school that follows the child.")
    responsible_role: str = Field(description="The role responsible for the agreed actions.")
    due_on: date = Field(description="When the plan is to be reviewed.")
    status: str = Field(description="`overdue` or `due`.")
    days: int = Field(description="Days late (positive), or left (zero or negative).")


class DueOut(BaseModel):
    """The unit's plans whose review is overdue or due by the end of this week."""

    unit: str = Field(description="Your unit (`opsporing users unit`).")
    today: date = Field(description="The server's today; the week ends on its Sunday.")
    due: list[DueItemOut] = Field(description="Overdue first, then by date.")


def add_due_api(
    api: FastAPI,
    store: AuditLog,
    require_user: Callable[..., StoredUser],
    now: Callable[[], datetime],
) -> None:
    """Add ``GET /due`` to the JSON API (its HTTP Basic user; their own unit only)."""
    from ._api import _responses  # the API's one table of documented problem responses

    @api.get(
        "/due",
        response_model=DueOut,
        responses=_responses(401, 403, 422, 429),
        summary="Plans of your unit whose review is overdue or due this week",
    )
    def due_list(
        purpose: Annotated[
            str,
            Query(
                max_length=64,
                description="Why the children's plans are read: a purpose code of the "
                "installation's protection.yaml (e.g. opsporing). Every due child's read is "
                "recorded in the access log.",
            ),
        ],
        unit: Annotated[
            str | None, Query(max_length=64, description="Your unit (default).")
        ] = None,
        # A default, not Annotated: the dependency is a local name, and this module's
        # annotations are strings resolved against its globals.
        user: StoredUser = Depends(require_user),  # noqa: B008
    ) -> dict[str, Any]:
        own = unit_of(store, user.name)
        if own is None:
            raise HTTPException(403, "You are in no unit: `opsporing users unit NAME UNIT`.")
        if unit is not None and unit != own:
            raise HTTPException(403, "You see only your own unit's due list.")
        code = _purpose(purpose)
        if code is None:
            policy = protection_policy()
            raise HTTPException(
                422, f"purpose = {purpose[:40]!r}: expected one of {', '.join(policy.purposes)}."
            )
        day = now().date()
        items = due(store, own, day, Reader(user.name, user.role, code, "api"))
        log.info("API: due list of %d plan(s) (role %s)", len(items), user.role)
        return {"unit": own, "today": day, "due": [i.to_dict() for i in items]}
