"""SDC (Structured Data Capture) content of an exported Questionnaire: a form that scores itself.

The scoring rules of an instrument become FHIRPath expressions that a form renderer (LHC-Forms,
any SDC "Advanced Behavior" renderer) evaluates while the form is filled in:

- one ``variable`` per domain collects the keyed answers of its items (reverse items as
  ``lo + hi - answer``), read from the QuestionnaireResponse (``%resource``) as the integer
  ``code`` of the chosen ``valueCoding``;
- the domain score is ``iif(n >= min_answered, sum * n_items / n, {})`` for a ``sum`` domain
  (prorated, exactly as :func:`opsporing.scoring.score_form`) and ``sum / n`` for a ``mean``
  domain; with fewer answers the score is *empty* (not scorable), never zero;
- the band compares the score with the cut-offs (``>=`` for concern, ``<=`` for strength);
- the total adds its domains (empty when any of them is: FHIRPath ``+`` propagates empty);
- a red flag is any answer meeting a red-flag evidence rule; the overall band is the worst of
  the domain and total bands, ``rød`` whenever a red flag is raised.

Calculated items (``calculatedExpression``) show the results read-only and carry a ``code``
from the instrument's ``scores`` code system with ``observationExtract``, so an SDC extraction
service turns them into Observations. A display item with core ``enableWhen`` tells the
professional about the duty to notify as soon as a red-flag answer is given.

What FHIRPath here does not do (and :func:`~opsporing.scoring.score_form` does): reject an
answer outside the scale (a renderer keeps to ``answerOption``; a response read back with
:func:`~opsporing.fhir.from_questionnaire_response` is checked), check the child's age, setting
and the instrument version, and report problems as typed errors. The reader ignores the
calculated answers of a response: scores are always recomputed, never trusted.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..instruments import Instrument
from ..vocabulary import Language, load_vocabulary
from ._common import CANONICAL_BASE, code_system_url, other_lang, translation

SDC_BASE = "http://hl7.org/fhir/uv/sdc/StructureDefinition"
#: SDC 3.0.0 (STU 3, on FHIR R4) profiles the exported Questionnaire claims.
SDC_PROFILES = (
    f"{SDC_BASE}/sdc-questionnaire|3.0.0",
    f"{SDC_BASE}/sdc-questionnaire-behave|3.0.0",
    f"{SDC_BASE}/sdc-questionnaire-extr-obsn|3.0.0",
)
CALCULATED_EXPRESSION_URL = f"{SDC_BASE}/sdc-questionnaire-calculatedExpression"
OBSERVATION_EXTRACT_URL = f"{SDC_BASE}/sdc-questionnaire-observationExtract"
#: The core (R4) extension for a named FHIRPath expression usable as ``%name`` below it.
VARIABLE_URL = "http://hl7.org/fhir/StructureDefinition/variable"

#: linkIds of the calculated items (``:`` never occurs in an item id, so they cannot clash).
SCORE_PREFIX = "score:"
BAND_PREFIX = "band:"
TOTAL_SCORE = "total:score"
TOTAL_BAND = "total:band"
OVERALL_BAND = "overall:band"
RED_FLAG = "red-flag"
RED_FLAG_NOTICE = "red-flag:notice"

_LABELS: dict[str, dict[Language, str]] = {
    "score": {"da": "Score (beregnet)", "en": "Score (calculated)"},
    "band": {"da": "Farve (grøn/gul/rød)", "en": "Band (grøn/gul/rød)"},
    "total": {"da": "Samlet score (beregnet)", "en": "Total score (calculated)"},
    "total_band": {"da": "Samlet score: farve", "en": "Total score: band"},
    "overall": {
        "da": "Samlet farve (beslutningsstøtte, ikke en afgørelse)",
        "en": "Overall band (decision support, not a decision)",
    },
    "red_flag": {"da": "Rødt flag", "en": "Red flag"},
    "notice": {
        "da": (
            "Et svar tyder på vold, overgreb eller selvskade: overvej underretning nu "
            "(barnets lov § 133). Skemaet erstatter aldrig den faglige vurdering."
        ),
        "en": (
            "An answer suggests violence, abuse or self-harm: consider notifying now "
            "(Children's Act § 133). The form never replaces the professional's judgment."
        ),
    },
}

_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")


def scores_system_url(instrument: Instrument, base_url: str = CANONICAL_BASE) -> str:
    """The code system of the calculated results (the codes of the extracted Observations)."""
    return f"{base_url.rstrip('/')}/CodeSystem/{instrument.id}.scores"


def computed_link_ids(instrument: Instrument) -> frozenset[str]:
    """linkIds of every calculated or display item :func:`add_scoring` adds."""
    ids = {TOTAL_SCORE, TOTAL_BAND, OVERALL_BAND, RED_FLAG, RED_FLAG_NOTICE}
    for d in instrument.domain_ids:
        ids |= {f"{SCORE_PREFIX}{d}", f"{BAND_PREFIX}{d}"}
    return frozenset(ids)


def result_codes(instrument: Instrument) -> list[tuple[str, dict[Language, str]]]:
    """``(code, label)`` of every result: ``score.<domain>`` …, ``score.total``, ``band.overall``.

    The codes are the column names :func:`opsporing.scoring.score_batch` gives the same results.
    """
    codes: list[tuple[str, dict[Language, str]]] = []
    for d in instrument.domains:
        codes.append((f"score.{d.id}", {"da": d.label.da, "en": d.label.en}))
    if instrument.total is not None:
        codes.append(
            ("score.total", {"da": instrument.total.label.da, "en": instrument.total.label.en})
        )
    codes.append(("band.overall", dict(_LABELS["overall"])))
    codes.append(("red_flag", dict(_LABELS["red_flag"])))
    return codes


def _names(instrument: Instrument) -> dict[str, str]:
    """A unique variable stem per domain id, e.g. ``Emotional`` (``emotional``).

    A variable name must be a FHIR ``id`` (letters, digits, ``-``, ``.``) and a plain FHIRPath
    identifier (letters, digits, ``_``): only letters and digits are both.
    """
    names: dict[str, str] = {}
    for k, d in enumerate(instrument.domain_ids):
        stem = "".join(w[:1].upper() + w[1:] for w in _NOT_NAME.split(d) if w)[:48]
        names[d] = stem if stem not in names.values() else f"{stem}{k}"
    return names


def answer_expression(item_id: str, number: bool = False) -> str:
    """FHIRPath for the raw answer of an item: the integer code of its ``valueCoding``, or
    its ``valueInteger`` when the item is on a number scale (``number``).

    Examples
    --------
    >>> answer_expression("emo_sad")
    "%resource.repeat(item).where(linkId='emo_sad').answer.value.code.toInteger()"
    >>> answer_expression("dev_absence_days", number=True)
    "%resource.repeat(item).where(linkId='dev_absence_days').answer.value"
    """
    # Item ids match ID_PATTERN (letters, digits, _ . -): nothing to escape in the literal.
    answer = f"%resource.repeat(item).where(linkId='{item_id}').answer.value"
    return answer if number else f"{answer}.code.toInteger()"


def _answer(instrument: Instrument, item_id: str) -> str:
    return answer_expression(item_id, instrument.scale(instrument.item(item_id).scale).is_number)


def _number(x: float) -> str:
    """A FHIRPath number literal (``4``, ``0.5``, ``0.00001``: never exponent notation).

    Examples
    --------
    >>> _number(4.0), _number(0.5), _number(1e-05), _number(-2)
    ('4', '0.5', '0.00001', '-2')
    """
    if float(x).is_integer():
        return str(int(x))
    return format(Decimal(repr(float(x))), "f")


def _band(score: str, yellow: float, red: float, strength: bool) -> str:
    op = "<=" if strength else ">="
    return (
        f"iif({score}.exists(), iif({score} {op} {_number(red)}, 'rød', "
        f"iif({score} {op} {_number(yellow)}, 'gul', 'grøn')), {{}})"
    )


def scoring_variables(instrument: Instrument) -> list[tuple[str, str]]:
    r"""``(name, FHIRPath)`` of every variable, in evaluation order (later ones use earlier ones).

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> variables = dict(scoring_variables(get_instrument("topi")))
    >>> list(variables)
    ['answersVurdering', 'scoreVurdering', 'bandVurdering', 'redFlag', 'overallBand']
    >>> print(variables["scoreVurdering"].replace(", ", ",\n    "))
    iif(%answersVurdering.count() >= 1,
        %answersVurdering.sum() * 1 / %answersVurdering.count(),
        {})
    """
    names = _names(instrument)
    out: list[tuple[str, str]] = []
    for d in instrument.domains:
        name = names[d.id]
        parts = []
        for item in instrument.items_in(d.id):
            raw = _answer(instrument, item.id)
            if item.reverse:
                scale = instrument.scale(item.scale)
                raw += f".select({scale.min + scale.max} - $this)"
            parts.append(raw)
        collected = parts[0] + "".join(f".combine({p})" for p in parts[1:])
        values = f"%answers{name}"
        per_item = 1 if d.method == "mean" else len(parts)
        out.append((f"answers{name}", collected))
        out.append(
            (
                f"score{name}",
                f"iif({values}.count() >= {d.min_answered}, "
                f"{values}.sum() * {per_item} / {values}.count(), {{}})",
            )
        )
        out.append(
            (
                f"band{name}",
                _band(f"%score{name}", d.bands.yellow, d.bands.red, d.direction == "strength"),
            )
        )
    bands = [f"%band{names[d]}" for d in instrument.domain_ids]
    if instrument.total is not None:
        total = " + ".join(f"%score{names[d]}" for d in instrument.total.domains)
        out.append(("totalScore", total))
        t = instrument.total.bands
        out.append(("totalBand", _band("%totalScore", t.yellow, t.red, False)))
        bands.append("%totalBand")
    out.append(("redFlag", _red_flag(instrument)))
    every = " | ".join(bands)
    out.append(
        (
            "overallBand",
            f"iif(%redFlag or 'rød' in ({every}), 'rød', iif('gul' in ({every}), 'gul', "
            f"iif('grøn' in ({every}), 'grøn', {{}})))",
        )
    )
    return out


def _red_flag_rules(instrument: Instrument) -> list[tuple[str, int | None, int | None]]:
    """``(item id, min, max)`` of every evidence rule whose concept is a red flag."""
    voc = load_vocabulary()
    return [
        (item.id, ev.min, ev.max)
        for item in instrument.items
        for ev in item.evidences
        if voc.concept(ev.code).red_flag
    ]


def _red_flag(instrument: Instrument) -> str:
    tests = [
        f"{_answer(instrument, item)}.where($this {'>=' if lo is not None else '<='} "
        f"{lo if lo is not None else hi}).exists()"
        for item, lo, hi in _red_flag_rules(instrument)
    ]
    return " or ".join(tests) if tests else "false"


def _ext_expression(url: str, expression: str, name: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"language": "text/fhirpath", "expression": expression}
    if name is not None:
        value = {"name": name, **value}
    return {"url": url, "valueExpression": value}


def _text(label: dict[Language, str], lang: Language) -> dict[str, Any]:
    other = other_lang(lang)
    return {"text": label[lang], "_text": translation(other, label[other])}


def _calculated(
    link_id: str,
    kind: str,
    variable: str,
    label: dict[Language, str],
    lang: Language,
    code: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A read-only item whose answer the renderer computes from ``%variable``."""
    item: dict[str, Any] = {
        "extension": [_ext_expression(CALCULATED_EXPRESSION_URL, f"%{variable}")],
        "linkId": link_id,
        **_text(label, lang),
        "type": kind,
        "readOnly": True,
    }
    if code is not None:
        item["extension"].append({"url": OBSERVATION_EXTRACT_URL, "valueBoolean": True})
        system, value = code
        item["code"] = [{"system": system, "code": value}]
    return item


def _labelled(prefix: dict[Language, str], what: dict[Language, str]) -> dict[Language, str]:
    return {"da": f"{what['da']}: {prefix['da']}", "en": f"{what['en']}: {prefix['en']}"}


def domain_result_items(
    instrument: Instrument, domain_id: str, lang: Language, base_url: str
) -> list[dict[str, Any]]:
    """The calculated score and band items of one domain."""
    d = instrument.domain(domain_id)
    name = _names(instrument)[domain_id]
    system = scores_system_url(instrument, base_url)
    label: dict[Language, str] = {"da": d.label.da, "en": d.label.en}
    return [
        _calculated(
            f"{SCORE_PREFIX}{d.id}",
            "decimal",
            f"score{name}",
            _labelled(_LABELS["score"], label),
            lang,
            (system, f"score.{d.id}"),
        ),
        _calculated(
            f"{BAND_PREFIX}{d.id}",
            "string",
            f"band{name}",
            _labelled(_LABELS["band"], label),
            lang,
        ),
    ]


def summary_items(instrument: Instrument, lang: Language, base_url: str) -> list[dict[str, Any]]:
    """Total, overall band, red flag and the red-flag notice (shown only when it applies)."""
    system = scores_system_url(instrument, base_url)
    items = []
    if instrument.total is not None:
        items += [
            _calculated(
                TOTAL_SCORE,
                "decimal",
                "totalScore",
                _LABELS["total"],
                lang,
                (system, "score.total"),
            ),
            _calculated(TOTAL_BAND, "string", "totalBand", _LABELS["total_band"], lang),
        ]
    items.append(
        _calculated(
            OVERALL_BAND,
            "string",
            "overallBand",
            _LABELS["overall"],
            lang,
            (system, "band.overall"),
        )
    )
    items.append(
        _calculated(RED_FLAG, "boolean", "redFlag", _LABELS["red_flag"], lang, (system, "red_flag"))
    )
    rules = _red_flag_rules(instrument)
    if rules:
        # Core enableWhen (any renderer, no FHIRPath): the notice shows once any red-flag answer
        # is given. enableWhen compares codings by equality, so each qualifying value is listed.
        conditions = []
        for item_id, lo, hi in rules:
            item = instrument.item(item_id)
            scale = instrument.scale(item.scale)
            system_of_scale = code_system_url(instrument, scale.id, base_url)
            for v in scale.values:
                if (lo is not None and v >= lo) or (hi is not None and v <= hi):
                    conditions.append(
                        {
                            "question": item_id,
                            "operator": "=",
                            "answerCoding": {"system": system_of_scale, "code": str(v)},
                        }
                    )
        items.append(
            {
                "linkId": RED_FLAG_NOTICE,
                **_text(_LABELS["notice"], lang),
                "type": "display",
                "enableWhen": conditions,
                "enableBehavior": "any",
            }
        )
    return items


def root_extensions(instrument: Instrument) -> list[dict[str, Any]]:
    """The ``variable`` extensions on the Questionnaire root, in evaluation order."""
    return [
        _ext_expression(VARIABLE_URL, expression, name)
        for name, expression in scoring_variables(instrument)
    ]
