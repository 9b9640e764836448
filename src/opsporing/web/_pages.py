"""What the pages show: the template environment, the page context and the view models.

Pure functions of instruments, scores and the vocabulary; no request handling (that is
:mod:`._app`) and no storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from .._texts import Lang
from ..instruments import Instrument, current_forms, list_instruments
from ..scoring import FormScore
from ..vocabulary import load_vocabulary
from ._forms import ITEM_PREFIX, FieldErrors
from ._i18n import UI
from ._store import StoredUser

__all__ = [
    "Context",
    "Pages",
    "domain_fieldsets",
    "error_list",
    "fmt",
    "score_view",
    "shown_instruments",
    "steps_view",
]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opsporing.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    return env


def fmt(value: float | None) -> str:
    """A score for display: at most two decimals, no trailing zeros."""
    if value is None:
        return "–"
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Context:
    """What every page needs: the language, the path, who is logged in, the CSRF token."""

    lang: Lang
    path: str
    user: StoredUser | None = None
    #: The session's CSRF token, put into every form that posts.
    csrf: str = ""
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


def shown_instruments() -> list[Instrument]:
    """The newest version of every shipped instrument, the current forms first.

    The current forms (``instruments/forms.yaml``: one per informant, setting and age band)
    lead, in that file's order, so the form a child of a given age gets is the first one
    offered; earlier forms (still loading and scoring) and TOPI follow.
    """
    newest: dict[str, Instrument] = {}
    for inst in list_instruments():
        newest[inst.id] = inst
    current = [i.id for bands in current_forms().values() for i in bands]
    first = [newest[i] for i in dict.fromkeys(current) if i in newest]
    return first + [inst for key, inst in newest.items() if key not in current]


def domain_fieldsets(
    inst: Instrument, lang: Lang, chosen: Mapping[str, str], errors: FieldErrors
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
                    # A count (e.g. days absent) is typed as a whole number in the range.
                    "number": (
                        {"min": scale.min, "max": scale.max, "unit": scale.number.unit.get(lang)}
                        if scale.number is not None
                        else None
                    ),
                    # Safety items: no "not answered" choice; a blank is never "no".
                    "required": dom.required,
                    "chosen": chosen.get(item.id, ""),
                    "errors": errors.get(f"{ITEM_PREFIX}{item.id}", []),
                }
            )
        fieldsets.append({"id": dom.id, "legend": dom.label.get(lang), "questions": items})
    return fieldsets


def score_view(inst: Instrument, score: FormScore, lang: Lang) -> dict[str, Any]:
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
        "critical": [
            {
                "text": inst.item(c.item).text.get(lang),
                "answer": c.answer,
                "act_now": c.act_now[lang] if c.act_now is not None else None,
            }
            for c in score.critical_answers
        ],
    }


def steps_view(lang: Lang) -> list[dict[str, Any]]:
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


def error_list(inst: Instrument, errors: FieldErrors, lang: Lang) -> list[dict[str, str]]:
    """The error summary at the top of a page: each message with a link to its field."""
    t = UI(lang)
    names = {
        "form_id": t["form_id"],
        "age_years": t["age"],
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


class Pages:
    """Renders the templates with what every page needs."""

    def __init__(self) -> None:
        self.env = _environment()

    def render(self, name: str, ctx: Context, status: int = 200, **values: Any) -> HTMLResponse:
        from ._auth import user_roles

        user = ctx.user
        html = self.env.get_template(name).render(
            t=ctx.t,
            lang=ctx.lang,
            other_lang_href=ctx.other_lang_href,
            csrf=ctx.csrf,
            user=user,
            user_role=user_roles(ctx.lang).get(user.role, user.role) if user else "",
            **values,
        )
        return HTMLResponse(html, status_code=status)
