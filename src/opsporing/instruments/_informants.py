"""The rules a parent or child form must keep, checked when the file is loaded.

An educator form is read by professionals; a parent form and a child's own form are read
by the people the answers are about, so they carry rules of their own (issues 13 and 17):

- every item says for which ages it is meaningful (``fits_age``), and that range holds
  the form's whole age range;
- the safety domain is ``required`` (a blank is never read as "no"), answered on the
  three-point ``0 Nej / 1 Usikker / 2 Ja`` scale, and every safety item has an ``act_now``
  text for the professional who receives the form;
- an item about self-harm or thoughts of not wanting to live appears only on a form whose
  ``notices`` promise a same-day human response (in Danish and English);
- an item about the child's own substance use appears only on a form for ages 13 and up.

The rules are checked by :func:`opsporing.instruments.build_instrument` for every
instrument whose ``informant`` is ``parent`` or ``child``, so a municipality's own parent
form is held to them too.
"""

from __future__ import annotations

from ..errors import Problem
from ._schema import Instrument

__all__ = [
    "SAME_DAY_WORDS",
    "SELF_HARM_CONCEPT",
    "SUBSTANCE_MIN_AGE",
    "informant_problems",
    "is_substance_item",
    "promises_same_day_response",
]

#: The concept whose items need the same-day promise on the form.
SELF_HARM_CONCEPT = "emotional.self_harm"
#: How a notice promises a same-day response, per language (both must be said).
SAME_DAY_WORDS = {"da": "samme dag", "en": "same day"}
#: The youngest age at which a form may ask about the child's own substance use.
SUBSTANCE_MIN_AGE = 13
#: The safety scale every parent and child form uses: 0 Nej, 1 Usikker, 2 Ja.
_SAFETY_VALUES = (0, 1, 2)


def promises_same_day_response(instrument: Instrument) -> bool:
    """Whether one of the form's notices promises a same-day response, in Danish and English.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> promises_same_day_response(get_instrument("opsporing.child.11-12"))
    True
    """
    return any(
        SAME_DAY_WORDS["da"] in n.da.lower() and SAME_DAY_WORDS["en"] in n.en.lower()
        for n in instrument.notices
    )


def is_substance_item(item_id: str, codes: tuple[str, ...]) -> bool:
    """Whether an item asks about the child's own substance use (by its id or its concepts).

    Examples
    --------
    >>> is_substance_item("c_beh_substances", ()), is_substance_item("x", ("social.bullied",))
    (True, False)
    """
    return "substance" in item_id.lower() or any("substance" in c for c in codes)


def informant_problems(instrument: Instrument) -> list[Problem]:
    """Every way a parent or child form breaks the rules above (empty for educator forms).

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> informant_problems(get_instrument("opsporing.parent.skole"))
    []
    """
    if instrument.informant == "educator":
        return []
    problems: list[Problem] = []
    lo, hi = instrument.age_years.min, instrument.age_years.max
    same_day = promises_same_day_response(instrument)
    for item in instrument.items:
        where = f"items[{item.id}]"
        codes = tuple(e.code for e in item.evidences)
        if item.fits_age is None:
            problems.append(
                Problem(f"{where}.fits_age", None, "the ages the item fits", kind="informant")
            )
        elif not (item.fits_age.min <= lo and hi <= item.fits_age.max):
            problems.append(
                Problem(
                    f"{where}.fits_age",
                    item.fits_age.model_dump(),
                    f"a range holding the form's ages {lo:g}-{hi:g}",
                    kind="informant",
                )
            )
        if SELF_HARM_CONCEPT in codes and not same_day:
            problems.append(
                Problem(
                    where,
                    SELF_HARM_CONCEPT,
                    "a self-harm item only on a form whose notices promise a same-day "
                    f"response ({SAME_DAY_WORDS['da']!r} / {SAME_DAY_WORDS['en']!r})",
                    kind="informant",
                )
            )
        if is_substance_item(item.id, codes) and lo < SUBSTANCE_MIN_AGE:
            problems.append(
                Problem(
                    where,
                    f"age_years.min = {lo:g}",
                    f"substance-use items only on forms for ages {SUBSTANCE_MIN_AGE} and up",
                    kind="informant",
                )
            )
    if "safety" in instrument.domain_ids:
        problems += _safety_problems(instrument)
    return problems


def _safety_problems(instrument: Instrument) -> list[Problem]:
    problems: list[Problem] = []
    if not instrument.domain("safety").required:
        problems.append(
            Problem("domains[safety].required", False, "true on a parent or child form")
        )
    for item in instrument.items_in("safety"):
        where = f"items[{item.id}]"
        values = instrument.scale(item.scale).values
        if values != _SAFETY_VALUES:
            problems.append(
                Problem(
                    f"{where}.scale",
                    item.scale,
                    "the safety scale 0 Nej / 1 Usikker / 2 Ja",
                    kind="informant",
                )
            )
        if item.act_now is None:
            problems.append(
                Problem(f"{where}.act_now", None, "a text saying what to do now", kind="informant")
            )
    return problems
