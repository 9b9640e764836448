"""The CodeSystems and ValueSets an exported Questionnaire refers to, and a Bundle of all."""

from __future__ import annotations

import re
from typing import Any, Literal

from ..instruments import Instrument
from ._common import (
    CANONICAL_BASE,
    ORDINAL_VALUE_URL,
    check_lang,
    code_system_url,
    other_lang,
    resource_id,
)
from ._questionnaire import PublicationStatus, to_questionnaire
from ._sdc import result_codes, scores_system_url

_NOT_ID = re.compile(r"[^A-Za-z0-9.-]")


def _value_set_url(instrument: Instrument, scale_id: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/ValueSet/{instrument.id}.{scale_id}"


def _id(instrument: Instrument, suffix: str) -> str:
    """A resource id (``[A-Za-z0-9-.]{1,64}``): the suffix kept whole, the instrument part cut."""
    tail = _NOT_ID.sub("-", f".{suffix}")[-40:]
    return resource_id(instrument)[: 64 - len(tail)] + tail


def _designation(lang: str, value: str) -> list[dict[str, Any]]:
    return [{"language": lang, "value": value}]


def _code_system(
    instrument: Instrument,
    url: str,
    suffix: str,
    title: str,
    concepts: list[dict[str, Any]],
    lang: Literal["da", "en"],
    status: PublicationStatus,
) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": _id(instrument, suffix),
        "language": lang,
        "url": url,
        "version": instrument.version,
        "name": "".join(w[:1].upper() + w[1:] for w in f"{instrument.id}.{suffix}".split(".")),
        "title": title,
        "status": status,
        "publisher": "opsporing",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def to_code_systems(
    instrument: Instrument,
    lang: Literal["da", "en"] = "da",
    *,
    base_url: str = CANONICAL_BASE,
    status: PublicationStatus = "active",
) -> list[dict[str, Any]]:
    """The CodeSystems of an instrument: one per response scale, and one of its results.

    Parameters
    ----------
    instrument : Instrument
    lang : {"da", "en"}
        Language of ``display``; the other language is a ``designation``.
    base_url : str
        As for :func:`to_questionnaire`: the scale ``s`` is ``{base_url}/CodeSystem/{id}.s``,
        the results ``{base_url}/CodeSystem/{id}.scores``.
    status : {"active", "draft", "retired", "unknown"}

    Returns
    -------
    list of dict
        One CodeSystem per scale (``code`` = the stored value, ``display`` = its label, the
        value again as ``ordinalValue``), then the results code system (``score.<domain>``,
        ``score.total``, ``band.overall``, ``red_flag``: the codes of the Observations an SDC
        extraction makes, and the column names of :func:`opsporing.scoring.score_batch`).

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> systems = to_code_systems(get_instrument("topi"))
    >>> for s in systems:
    ...     print(s["url"].rsplit("/", 1)[1], [c["code"] for c in s["concept"]])
    topi.topi ['0', '1', '2']
    topi.scores ['score.vurdering', 'band.overall', 'red_flag']
    """
    lang = check_lang(lang)
    other = other_lang(lang)
    out = []
    for scale in instrument.scales:
        if scale.is_number:
            continue  # a count has no codes
        concepts = [
            {
                "extension": [{"url": ORDINAL_VALUE_URL, "valueDecimal": o.value}],
                "code": str(o.value),
                "display": o.label.get(lang),
                "designation": _designation(other, o.label.get(other)),
            }
            for o in scale.options
        ]
        out.append(
            _code_system(
                instrument,
                code_system_url(instrument, scale.id, base_url),
                scale.id,
                f"{instrument.title.get(lang)}: {scale.id}",
                concepts,
                lang,
                status,
            )
        )
    results = [
        {"code": code, "display": label[lang], "designation": _designation(other, label[other])}
        for code, label in result_codes(instrument)
    ]
    out.append(
        _code_system(
            instrument,
            scores_system_url(instrument, base_url),
            "scores",
            f"{instrument.title.get(lang)}: scores",
            results,
            lang,
            status,
        )
    )
    return out


def to_value_sets(
    instrument: Instrument,
    lang: Literal["da", "en"] = "da",
    *,
    base_url: str = CANONICAL_BASE,
    status: PublicationStatus = "active",
) -> list[dict[str, Any]]:
    """One ValueSet per response scale: every code of its CodeSystem, in order.

    The Questionnaire lists the same codes inline (``answerOption``: FHIR R4 allows either
    that or ``answerValueSet`` on an item, not both); the ValueSets are for terminology
    servers and for systems that bind the answers elsewhere.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> vs = to_value_sets(get_instrument("topi"))[0]
    >>> vs["url"], vs["compose"]["include"][0]["system"]
    ('http://opsporing.example.org/fhir/ValueSet/topi.topi', 'http://opsporing.example.org/fhir/CodeSystem/topi.topi')
    """
    lang = check_lang(lang)
    return [
        {
            "resourceType": "ValueSet",
            "id": _id(instrument, scale.id),
            "language": lang,
            "url": _value_set_url(instrument, scale.id, base_url),
            "version": instrument.version,
            "name": "".join(
                w[:1].upper() + w[1:] for w in f"{instrument.id}.{scale.id}".split(".")
            ),
            "title": f"{instrument.title.get(lang)}: {scale.id}",
            "status": status,
            "compose": {
                "include": [
                    {
                        "system": code_system_url(instrument, scale.id, base_url),
                        "version": instrument.version,
                        "concept": [
                            {"code": str(o.value), "display": o.label.get(lang)}
                            for o in scale.options
                        ],
                    }
                ]
            },
        }
        for scale in instrument.scales
        if not scale.is_number  # a count has no codes
    ]


def to_sdc_bundle(
    instrument: Instrument,
    lang: Literal["da", "en"] = "da",
    *,
    base_url: str = CANONICAL_BASE,
    status: PublicationStatus = "active",
) -> dict[str, Any]:
    """A ``collection`` Bundle of the SDC Questionnaire with every CodeSystem and ValueSet.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> bundle = to_sdc_bundle(get_instrument("topi"))
    >>> [e["resource"]["resourceType"] for e in bundle["entry"]]
    ['Questionnaire', 'CodeSystem', 'CodeSystem', 'ValueSet']
    """
    resources = [
        to_questionnaire(instrument, lang, base_url=base_url, status=status),
        *to_code_systems(instrument, lang, base_url=base_url, status=status),
        *to_value_sets(instrument, lang, base_url=base_url, status=status),
    ]
    return {
        "resourceType": "Bundle",
        "id": resource_id(instrument),
        "type": "collection",
        "entry": [{"fullUrl": r["url"], "resource": r} for r in resources],
    }
