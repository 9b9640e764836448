"""Export an instrument as a FHIR R4 Questionnaire."""

from __future__ import annotations

import re
from typing import Any, Literal

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument, Item, LocalText
from ._common import (
    CANONICAL_BASE,
    GROUP_PREFIX,
    MAX_VALUE_URL,
    MIN_VALUE_URL,
    ORDINAL_VALUE_URL,
    UNIT_URL,
    check_lang,
    code_system_url,
    other_lang,
    questionnaire_url,
    resource_id,
    translation,
)
from ._sdc import SDC_PROFILES, domain_result_items, root_extensions, summary_items

PublicationStatus = Literal["draft", "active", "retired", "unknown"]
_STATUSES = ("draft", "active", "retired", "unknown")


def _name(instrument_id: str) -> str:
    """A computer-friendly name (``^[A-Z]([A-Za-z0-9_]){0,254}$``) from an instrument id."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", instrument_id) if w]
    name = "".join(w[0].upper() + w[1:] for w in words)
    return name if name[:1].isalpha() else f"Q{name}"


def _text(element: str, text: LocalText, lang: Literal["da", "en"]) -> dict[str, Any]:
    """``{element: text in lang, _element: translation into the other language}``."""
    other = other_lang(lang)
    return {element: text.get(lang), f"_{element}": translation(other, text.get(other))}


def _item(
    instrument: Instrument, item: Item, lang: Literal["da", "en"], base_url: str
) -> dict[str, Any]:
    scale = instrument.scale(item.scale)
    if scale.number is not None:
        # A count (days absent): an integer item with its range and unit (R4 core extensions).
        unit = scale.number.unit
        return {
            "extension": [
                {"url": MIN_VALUE_URL, "valueInteger": scale.number.min},
                {"url": MAX_VALUE_URL, "valueInteger": scale.number.max},
                # The unit is the scale's own words (dage/days), not a UCUM code.
                {"url": UNIT_URL, "valueCoding": _text("display", unit, lang)},
            ],
            "linkId": item.id,
            **_text("text", item.text, lang),
            "type": "integer",
            "required": False,
            "repeats": False,
        }
    system = code_system_url(instrument, scale.id, base_url)
    options = []
    for option in scale.options:
        coding: dict[str, Any] = {
            "extension": [{"url": ORDINAL_VALUE_URL, "valueDecimal": option.value}],
            "system": system,
            "code": str(option.value),
        }
        coding.update(_text("display", option.label, lang))
        options.append({"valueCoding": coding})
    return {
        "linkId": item.id,
        **_text("text", item.text, lang),
        "type": "choice",
        "required": False,
        "repeats": False,
        "answerOption": options,
    }


def to_questionnaire(
    instrument: Instrument,
    lang: Literal["da", "en"] = "da",
    *,
    base_url: str = CANONICAL_BASE,
    status: PublicationStatus = "active",
    group_by_domain: bool = True,
    scoring: bool = True,
) -> dict[str, Any]:
    """An instrument as a FHIR R4 Questionnaire (a JSON-ready dict).

    Parameters
    ----------
    instrument : Instrument
    lang : {"da", "en"}
        Language of ``title``, ``text`` and ``display``; the other language is given
        with the core ``translation`` extension on each of them.
    base_url : str
        Base of the canonical URLs: the Questionnaire is ``{base_url}/Questionnaire/{id}``
        and each response scale a code system ``{base_url}/CodeSystem/{id}.{scale}``.
    status : {"active", "draft", "retired", "unknown"}
        The publication status.
    group_by_domain : bool
        Put the items of each domain in a ``group`` item (linkId ``domain:<domain id>``).
        Without groups the items are flat, in the instrument's order.
    scoring : bool
        Add the SDC content that makes the form score itself (see :mod:`._sdc` and
        docs/fhir.md): root ``variable`` extensions with the scoring rules in FHIRPath,
        read-only ``calculatedExpression`` items for each domain's score and band (in its
        group, after its questions; without groups after all questions), the total, the
        overall band and the red flag (with ``observationExtract`` and a ``code`` from
        ``{base_url}/CodeSystem/{id}.scores``), a red-flag notice shown by ``enableWhen``,
        and ``meta.profile`` naming the SDC 3.0.0 profiles. ``False`` gives the plain R4
        Questionnaire of the questions only.

    Returns
    -------
    dict
        ``url``, ``identifier`` (the instrument id), ``version``, ``name``, ``title``,
        ``status`` and ``item``: one ``choice`` item per instrument item with
        ``linkId`` = the item id and one ``answerOption.valueCoding`` per answer
        (``code`` = the stored value, ``display`` = its label, and the value again in
        the ``ordinalValue`` extension); an item on a number scale (a count such as days
        absent) is an ``integer`` item with the ``minValue``, ``maxValue`` and
        ``questionnaire-unit`` extensions. The raw value is given, not the reverse-keyed
        score: scoring stays with :func:`opsporing.scoring.score_form`.

    Raises
    ------
    ResponseValidationError
        When ``instrument`` is not an Instrument or ``status`` is not a publication status.
    VocabularyError
        When ``lang`` is neither "da" nor "en".

    See Also
    --------
    to_questionnaire_response, from_questionnaire_response, to_json_schema

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> q = to_questionnaire(get_instrument("topi"))
    >>> q["url"], q["version"], q["status"]
    ('http://opsporing.example.org/fhir/Questionnaire/topi', '1.0.0', 'active')
    >>> item = q["item"][0]["item"][0]
    >>> item["linkId"], item["type"]
    ('1vurdering', 'choice')
    >>> [o["valueCoding"]["code"] + " " + o["valueCoding"]["display"] for o in item["answerOption"]]
    ['0 Grøn', '1 Gul', '2 Rød']
    """
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [
                Problem(
                    "instrument", type(instrument).__name__, "an opsporing Instrument", kind="type"
                )
            ]
        )
    lang = check_lang(lang)
    if status not in _STATUSES:
        raise ResponseValidationError(
            [Problem("status", status, f"one of {', '.join(_STATUSES)}", kind="invalid_status")]
        )
    url = questionnaire_url(instrument, base_url)
    q: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": resource_id(instrument),
        **({"meta": {"profile": list(SDC_PROFILES)}} if scoring else {}),
        "language": lang,
        "url": url,
        "identifier": [{"system": f"{base_url.rstrip('/')}/instrument-id", "value": instrument.id}],
        "version": instrument.version,
        "name": _name(instrument.id),
        **_text("title", instrument.title, lang),
        "status": status,
        "subjectType": ["Patient"],
        "publisher": "opsporing",
    }
    if instrument.description is not None:
        q.update(_text("description", instrument.description, lang))
    if scoring:
        q["extension"] = root_extensions(instrument)
    if group_by_domain:
        groups = []
        for domain in instrument.domains:
            members = instrument.items_in(domain.id)
            if not members:
                continue
            groups.append(
                {
                    "linkId": f"{GROUP_PREFIX}{domain.id}",
                    **_text("text", domain.label, lang),
                    "type": "group",
                    "item": [_item(instrument, i, lang, base_url) for i in members]
                    + (
                        domain_result_items(instrument, domain.id, lang, base_url)
                        if scoring
                        else []
                    ),
                }
            )
        q["item"] = groups
    else:
        q["item"] = [_item(instrument, i, lang, base_url) for i in instrument.items]
        if scoring:
            for domain in instrument.domains:
                q["item"] += domain_result_items(instrument, domain.id, lang, base_url)
    if scoring:
        q["item"] += summary_items(instrument, lang, base_url)
    return q
