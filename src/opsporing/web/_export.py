"""Insight: everything recorded about one child, for a parent's (or the child's) request.

:func:`insight` reads every record about the child through the logged path
(:meth:`AuditLog.read_child`, so the export itself is in the access log), and returns it as
one JSON-serialisable dict: screenings with the instrument's questions and answer texts,
suggestions with their reasons, decisions, follow-up plans (the agreed actions, the parents'
and the child's views) and their reviews, any other kind of record, erased records (that
they existed, when, and that the content is gone), and the child's access log.
:func:`insight_html` renders it as a readable Danish HTML page (no scripts, printable to
PDF from any browser). ``opsporing export --child ID`` writes both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .._texts import date_text, datetime_text
from ..errors import DataError, UnknownInstrumentError
from ..instruments import Instrument, get_instrument
from ..vocabulary import load_vocabulary
from ._records import PersonalRecord, Reader, protection_policy
from ._store import AuditLog

__all__ = ["insight", "insight_html", "insight_json"]

#: The order in which the page shows the kinds it knows; other kinds follow, by name.
_KNOWN = ("screening", "suggestion", "decision", "plan", "review")


def _instrument(key: str) -> Instrument | None:
    name, _, version = key.partition("@")
    try:
        return get_instrument(name, version or None)
    except UnknownInstrumentError:
        return None


def _da(value: Any) -> str:
    """A ``{"da": .., "en": ..}`` text in Danish; anything else as text."""
    if isinstance(value, Mapping):
        return str(value.get("da", value.get("en", "")))
    return "" if value is None else str(value)


def _screening_view(content: Mapping[str, Any]) -> dict[str, Any]:
    inst = _instrument(str(content.get("instrument", "")))
    answers = content.get("answers") or {}
    rows = []
    for item_id, value in answers.items():
        question, answer = item_id, "" if value is None else str(value)
        if inst is not None and item_id in inst.item_ids:
            item = inst.item(item_id)
            question = item.text.get("da")
            labels = {o.value: o.label.get("da") for o in inst.scale(item.scale).options}
            answer = labels.get(value, answer) if value is not None else "Ikke besvaret"
        rows.append({"item": item_id, "question": question, "answer": answer, "value": value})
    scores = content.get("scores") or {}
    return {
        "instrument": content.get("instrument"),
        "title": inst.title.get("da") if inst is not None else content.get("instrument"),
        "age_years": content.get("age_years"),
        "answers": rows,
        "domains": scores.get("domains", scores.get("domain_scores")),
        "red_flags": list(scores.get("red_flags", [])),
    }


def _step_label(step: Any) -> str:
    if isinstance(step, int) and not isinstance(step, bool):
        try:
            return load_vocabulary().step(step).label.get("da")
        except (KeyError, ValueError, LookupError):
            return str(step)
    return ""


def _suggestion_view(content: Mapping[str, Any]) -> dict[str, Any]:
    s = content.get("suggestion") or {}
    reasons = [
        {"label": _da(r.get("label")), "contribution": r.get("contribution")}
        for r in s.get("reasons", []) or []
        if isinstance(r, Mapping)
    ]
    return {
        "available": s.get("available", True),
        "kind": s.get("kind"),
        "step": s.get("step"),
        "step_label": _step_label(s.get("step")),
        "rule": _da(s.get("rule")),
        "note": _da(s.get("note")),
        "explanation": _da(s.get("explanation")),
        "abstain_reason": _da(s.get("abstain_reason")),
        "reasons": reasons,
        "red_flags": list(s.get("red_flags", []) or []),
        "model_id": s.get("model_id"),
    }


def _decision_view(content: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "chosen_step": content.get("chosen_step"),
        "step_label": _step_label(content.get("chosen_step")),
        "notify": content.get("notify"),
        "reason": content.get("reason"),
        "role": content.get("role"),
        "professional_id": content.get("professional_id"),
    }


def _labels(codes: Any, label: Any) -> list[str]:
    out = []
    for code in codes or []:
        try:
            out.append(label(str(code)))
        except (KeyError, LookupError, ValueError):
            out.append(str(code))  # a code the catalogue no longer has: shown as recorded
    return out


def _plan_view(content: Mapping[str, Any]) -> dict[str, Any]:
    from ..followup import load_catalogue

    voc, cat = load_vocabulary(), load_catalogue()
    role = str(content.get("responsible_role", ""))
    return {
        "decision_step": content.get("decision_step"),
        "step_label": _step_label(content.get("decision_step")),
        "concerns": _labels(content.get("concerns"), lambda c: voc.concept(c).label.get("da")),
        "actions": _labels(content.get("actions"), lambda a: cat.measure(a).label.get("da")),
        "responsible": voc.roles[role].get("da") if role in voc.roles else role,
        "parents_view": content.get("parents_view"),
        "child_view": content.get("child_view"),
        "review_on": content.get("review_on"),
        "unit": content.get("unit"),
        "created_by": content.get("created_by"),
    }


def _review_view(content: Mapping[str, Any]) -> dict[str, Any]:
    from ..followup import load_catalogue

    outcome = str(content.get("outcome", ""))
    outcomes = load_catalogue().outcomes
    return {
        "happened": content.get("happened"),
        "outcome": outcomes[outcome].get("da") if outcome in outcomes else outcome,
        "on_time": content.get("on_time"),
        "reviewed_by": content.get("reviewed_by"),
        "reviewed_at": content.get("reviewed_at"),
    }


_VIEWS = {
    "screening": _screening_view,
    "suggestion": _suggestion_view,
    "decision": _decision_view,
    "plan": _plan_view,
    "review": _review_view,
}


def _entry(record: PersonalRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "record_id": record.record_id,
        "kind": record.kind,
        "link": record.link,
        "created_at": record.created_at,
        "erased": record.erased,
        "content": None if record.content is None else dict(record.content),
    }
    view = _VIEWS.get(record.kind)
    if record.content is not None and view is not None:
        entry["view"] = view(record.content)
    return entry


def insight(store: AuditLog, pseudonym: str, reader: Reader) -> dict[str, Any]:
    """Everything recorded about the child ``pseudonym``; the read is logged first.

    Parameters
    ----------
    store : AuditLog
    pseudonym : str
        The child's pseudonymous id, as the records were written under.
    reader : Reader
        Who exports, and why (e.g. purpose ``foraeldres_indsigt``).

    Returns
    -------
    dict
        ``child``, ``generated_at``, ``generated_by``, ``purpose``, ``records`` (every
        record, in the order written, erased ones included), ``by_kind`` (record ids per
        kind) and ``access_log`` (every read of the child's records, this one included).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> _ = log.append_record("decision", "B-7", {"chosen_step": 1, "reason": "samtale"})
    >>> data = insight(log, "B-7", Reader("P-1", "myndighed", "foraeldres_indsigt", "cli"))
    >>> [r["kind"] for r in data["records"]], len(data["access_log"])
    (['decision'], 1)
    """
    records = store.read_child(pseudonym, reader)
    entries = [_entry(r) for r in records]
    present = {r.kind for r in records}
    kinds = [k for k in _KNOWN if k in present] + sorted(present - set(_KNOWN))
    policy = protection_policy()
    return {
        "child": pseudonym,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generated_by": {"user": reader.user, "role": reader.role},
        "purpose": {"code": reader.purpose, "label": policy.purpose_label(reader.purpose)},
        "records": entries,
        "by_kind": {k: [e["record_id"] for e in entries if e["kind"] == k] for k in kinds},
        "access_log": [
            {**asdict(a), "what": list(a.what), "purpose_label": _purpose_label(a.purpose)}
            for a in store.access_log(child=pseudonym)
        ],
        "retention_days": dict(policy.retention_days),
    }


def _purpose_label(code: str) -> str:
    purposes = protection_policy().purposes
    return purposes[code].get("da") if code in purposes else code


def _when(value: object) -> str:
    """A stored date or date-time as Danish writes it (``1. december 2026 21.15``, Danish time).

    The one convention of :mod:`opsporing._texts`; a stored value that is no ISO 8601 date is
    shown as it was stored (the page shows every record, whatever it holds).
    """
    if not isinstance(value, str):
        return "" if value is None else str(value)
    try:
        return datetime_text(value, "da") if len(value) > 10 else date_text(value, "da")
    except DataError:
        return value


def insight_json(data: Mapping[str, Any]) -> str:
    """The insight as indented JSON (UTF-8 text, Danish letters as they are)."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def insight_html(data: Mapping[str, Any]) -> str:
    """The insight as one readable Danish HTML page (escaped; no scripts)."""
    env = Environment(
        loader=PackageLoader("opsporing.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env.get_template("insight.html").render(d=data, json=insight_json)
