"""A draft of a dialogue-based notification (dialogbaseret underretning), for the professional.

From a stored screening, its concerns, the decision on it and the child's follow-up plans and
reviews, :func:`notification_draft` writes a Danish notification text with the facts observed,
the concerns in the common language, what was tried, the parents' view and the child's own
view. The professional edits it and sends it the municipality's usual way: **the library never
sends anything.**

Dialogue-based notification (seed 000): the professional writes the notification together
with the parents and they meet a social worker. Not when telling the parents first could put
the child at risk: when the concerns include a red flag of suspected violence or abuse
(``parents_not_told_first`` in ``followup.yaml``), the draft opens by saying that the parents
are **not** to be told first, and that the municipality is to be contacted at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._texts import date_text
from ..vocabulary import load_vocabulary
from ._catalogue import load_catalogue
from ._records import FollowUpPlan, Review

__all__ = ["NotificationDraft", "notification_draft"]


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    """A notification text to edit, and whether the parents may be told first.

    Attributes
    ----------
    text : str
        The Danish draft.
    parents_told_first : bool
        ``False`` when a red flag of suspected violence or abuse is among the concerns.
    violence_flags : tuple of str
        Those red-flag codes.
    """

    text: str
    parents_told_first: bool
    violence_flags: tuple[str, ...]


def _day(moment: str, field: str) -> str:
    """A stored date or timestamp as Danish writes a date: ``1. december 2026`` (Danish time).

    A value that is no ISO 8601 date is a :class:`~opsporing.errors.DataError` naming ``field``.
    """
    return date_text(moment, "da", field)


def _lower_first(text: str) -> str:
    """``"Drøftelse på RCM"`` as ``"drøftelse på RCM"`` (abbreviations keep their capitals)."""
    return text[:1].lower() + text[1:]


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value):.1f}".rstrip("0").rstrip(".").replace(".", ",")


def notification_draft(
    screening: Mapping[str, Any],
    plans: Sequence[FollowUpPlan] = (),
    reviews: Sequence[Review] = (),
) -> NotificationDraft:
    """Draft a Danish notification from a stored screening with its decision.

    Parameters
    ----------
    screening : mapping
        A stored screening and its decision (a row of
        :func:`opsporing.followup.timeline` or ``AuditLog.get``): ``form_id``,
        ``instrument``, ``age_years``, ``scores_json``, ``created_at``, ``chosen_step``,
        ``notify``, ``role``, ``professional_id``, ``decision_json``.
    plans, reviews : sequences
        The child's follow-up plans and reviews (what was tried, the parents' view).

    Returns
    -------
    NotificationDraft

    Examples
    --------
    >>> row = {"form_id": "B-1", "instrument": "opsporing.skole.trivsel@1.0.0",
    ...        "age_years": 9, "created_at": "2026-12-01T09:00:00+00:00", "chosen_step": 2,
    ...        "notify": 1, "role": "skole", "professional_id": "P-7",
    ...        "scores_json": '{"overall_band": "rød", "concerns": ["safety.disclosure"],'
    ...                       ' "red_flags": ["safety.disclosure"], "domains": {}}',
    ...        "decision_json": '{"red_flags": ["safety.disclosure"]}'}
    >>> draft = notification_draft(row)
    >>> draft.parents_told_first
    False
    >>> "Forældrene må ikke orienteres først" in draft.text
    True
    >>> "udfyldt 1. december 2026" in draft.text  # dates as Danish writes them
    True
    """
    voc = load_vocabulary()
    cat = load_catalogue()
    scores = json.loads(str(screening.get("scores_json") or "{}"))
    decision = json.loads(str(screening.get("decision_json") or "{}"))
    concerns: list[str] = list(scores.get("concerns") or [])
    for plan in plans:
        concerns += [c for c in plan.concerns if c not in concerns]
    flags = sorted(
        set(scores.get("red_flags") or [])
        | set(decision.get("red_flags") or [])
        | {c for c in concerns if voc.concept(c).red_flag}
    )
    violence = tuple(c for c in flags if c in cat.parents_not_told_first)
    lines = ["UDKAST – underretning til kommunen (barnets lov § 133)", ""]
    lines.append(
        "Dette er et udkast. Det er ikke sendt. Læs det igennem, ret det til, og send det selv "
        "ad kommunens sædvanlige vej."
    )
    lines.append("")
    if violence:
        labels = ", ".join(voc.concept(c).label.da for c in violence)
        lines += [
            f"VIGTIGT: Der er mistanke om vold eller overgreb ({labels}). Forældrene må ikke "
            "orienteres først: kontakt kommunen straks. Kommunen beslutter, hvornår og hvordan "
            "forældrene orienteres. Underretningen skrives derfor ikke sammen med forældrene.",
            "",
        ]
    else:
        lines += [
            "Dialogbaseret underretning: skriv underretningen sammen med forældrene, og aftal et "
            "møde med en rådgiver fra kommunen, hvor I gennemgår den sammen.",
            "",
        ]
    lines += [
        f"Barnets id (pseudonymt): {screening.get('form_id', '')}",
        f"Alder: {_num(screening.get('age_years'))} år",
        f"Skema: {screening.get('instrument', '')}, "
        f"udfyldt {_day(str(screening.get('created_at', '')), 'created_at')}",
        "",
        "1. Det har vi observeret",
    ]
    band = scores.get("overall_band")
    if band:
        b = voc.band(band)
        lines.append(f"- Samlet vurdering: {b.label.da}. {b.description.da}")
    for dom, ds in sorted((scores.get("domains") or {}).items()):
        if isinstance(ds, Mapping) and ds.get("band") in ("gul", "rød"):
            lines.append(
                f"- Området {dom}: score {_num(ds.get('score'))}, {voc.band(ds['band']).label.da}"
            )
    lines.append("- [Beskriv med dine egne ord, hvad du har set og hørt, og hvornår.]")
    lines += ["", "2. Bekymringen i det fælles sprog"]
    if concerns:
        for code in concerns:
            c = voc.concept(code)
            mark = " (rødt flag)" if c.red_flag else ""
            lines.append(f"- {c.label.da}{mark}: {c.definition.da}")
    else:
        lines.append("- [Ingen bekymringer registreret i skemaet; beskriv bekymringen.]")
    lines += ["", "3. Det har vi gjort"]
    if plans:
        by_plan = {p.plan_id: [r for r in reviews if r.plan_id == p.plan_id] for p in plans}
        for plan in plans:
            actions = "; ".join(_lower_first(cat.measure(a).label.da) for a in plan.actions)
            role = voc.roles[plan.responsible_role].da if plan.responsible_role in voc.roles else ""
            lines.append(
                f"- Plan af {_day(plan.created_at, 'created_at')} (trin {plan.decision_step}): "
                f"{actions}. Ansvarlig: {role}. "
                f"Opfølgning aftalt til {_day(plan.review_on, 'review_on')}."
            )
            for r in by_plan[plan.plan_id]:
                lines.append(
                    f"  - Opfølgning {_day(r.reviewed_at, 'reviewed_at')}: {r.happened} "
                    f"({_lower_first(cat.outcomes[r.outcome].da)})."
                )
    else:
        lines.append("- [Beskriv, hvad I har gjort i dagtilbuddet eller skolen indtil nu.]")
    lines += ["", "4. Forældrenes syn"]
    views = [p.parents_view for p in plans if p.parents_view]
    if violence:
        lines.append("- [Forældrene er ikke orienteret: se ovenfor.]")
    elif views:
        lines += [
            f"- {_day(p.created_at, 'created_at')}: »{p.parents_view}«"
            for p in plans
            if p.parents_view
        ]
    else:
        lines.append("- [Skriv forældrenes syn med deres egne ord.]")
    lines += ["", "5. Barnets eget syn"]
    child = [p for p in plans if p.child_view]
    if child:
        lines += [f"- {_day(p.created_at, 'created_at')}: »{p.child_view}«" for p in child]
    else:
        lines.append("- [Skriv barnets eget syn, hvis barnet kan udtrykke det.]")
    role = str(screening.get("role"))
    step = screening.get("chosen_step")
    lines += ["", "6. Vores vurdering"]
    if step is not None:
        s = voc.step(int(step))
        lines.append(f"- Vi vurderer, at barnet har brug for: trin {s.number}, {s.label.da}.")
    lines += [
        "",
        f"Udarbejdet af: {screening.get('professional_id', '')} "
        f"({voc.roles[role].da if role in voc.roles else ''})",
        f"Underretningspligten: {voc.duty_to_notify_basis.da}.",
    ]
    return NotificationDraft("\n".join(lines) + "\n", not violence, violence)
