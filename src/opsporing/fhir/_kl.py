"""Reading the TOPI and SDQ QuestionnaireResponses of the KL Gateway children guide.

The KL Gateway children implementation guide (Kommunernes Landsforening, GitHub
``hl7dk/kl-children``, ``input/fsh/topi.fsh``, ``sdq4-10.fsh``, ``sdq11-17.fsh`` and
``questionnaireResponse.fsh``) reports each questionnaire as a flat
QuestionnaireResponse: ``questionnaire`` is the canonical URL of the KL Questionnaire,
each item has a ``linkId`` and one ``answer.valueString`` that must be *exactly* one of
the Questionnaire's answer strings ("only the exact strings … should be accepted").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument, get_instrument
from ._common import ResponseReader, shown, type_name
from ._sdq import (
    SDQ_BURDEN,
    SDQ_CHRONICITY,
    SDQ_DIFFICULTIES,
    SDQ_IMPACT_ITEMS,
    SDQ_ITEMS,
    SDQScore,
    score_sdq,
)

#: Canonical base of the KL Gateway children Questionnaires.
KL_QUESTIONNAIRE_BASE = "http://fhir.kl.dk/children/Questionnaire"
#: TOPI (Socialstyrelsen): one item ``1vurdering``, "Grøn"/"Gul"/"Rød".
KL_TOPI = f"{KL_QUESTIONNAIRE_BASE}/klgateway-children-topi"
#: SDQ completed by the parents of 4-10 year olds (SDQ P4-10), with impact supplement.
KL_SDQ_4_10 = f"{KL_QUESTIONNAIRE_BASE}/klgateway-children-sdq4-10"
#: SDQ self-report of 11-17 year olds (SDQ S11-17), with impact supplement.
KL_SDQ_11_17 = f"{KL_QUESTIONNAIRE_BASE}/klgateway-children-sdq11-17"

#: The TOPI item's linkId in KL Gateway and in the shipped ``topi`` instrument.
KL_TOPI_LINK_ID = "1vurdering"

#: Answer strings of the KL SDQ Questionnaires (their value is the position, 0-based).
#: These are the answer options the guide defines and the scoring key needs; no SDQ
#: item wording is shipped.
KL_SDQ_ANSWERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(SDQ_ITEMS, ("Passer ikke", "Passer delvist", "Passer godt")),
    SDQ_DIFFICULTIES: (
        "Nej",
        "Ja, mindre vanskeligheder",
        "Ja, tydelige vanskeligheder",
        "Ja, alvorlige vanskeligheder",
    ),
    SDQ_CHRONICITY: ("Mindre end 1 måned", "1-5 måneder", "6-12 måneder", "Mere end et år"),
    **dict.fromkeys(
        (*SDQ_IMPACT_ITEMS, SDQ_BURDEN), ("Slet ikke", "Kun lidt", "Ret meget", "Virkelig meget")
    ),
}


def _read_kl(
    resource: Any,
    canonicals: tuple[str, ...],
    answers: Mapping[str, tuple[tuple[str, int], ...]],
    check_questionnaire: bool,
    what: str,
) -> dict[str, int | None]:
    """A flat KL response: each linkId's exact valueString mapped to its value."""
    reader = ResponseReader()
    form: dict[str, int | None] = dict.fromkeys(answers)
    envelope = reader.envelope(resource)
    if envelope is not None:
        if check_questionnaire:
            reader.canonical(envelope, canonicals, None)
        for found in reader.items(envelope, lambda link: False):
            options = answers.get(found.link_id)
            if options is None:
                reader.problem(
                    found.link_id, found.path, f"a linkId of the KL Gateway {what}", "unknown_item"
                )
                continue
            got = reader.single_value(found)
            if got is None:
                continue
            key, value = got
            strings = ", ".join(repr(s) for s, _ in options)
            if key != "valueString":
                reader.problem(
                    found.link_id,
                    f"{key} = {shown(value)!r}",
                    f"valueString, exactly one of {strings}",
                    kind="wrong_type",
                )
                continue
            match = [v for s, v in options if isinstance(value, str) and value == s]
            if not match:
                reader.problem(
                    found.link_id,
                    value,
                    f"exactly one of {strings}",
                    kind="out_of_range",
                )
                continue
            form[found.link_id] = match[0]
    if reader.problems:
        raise ResponseValidationError(
            reader.problems, headline=f"invalid KL Gateway {what} QuestionnaireResponse"
        )
    return form


def from_kl_topi_response(
    resource: Mapping[str, Any],
    instrument: Instrument | None = None,
    *,
    check_questionnaire: bool = True,
) -> dict[str, int | None]:
    """Read a KL Gateway TOPI QuestionnaireResponse into a form of the ``topi`` instrument.

    Parameters
    ----------
    resource : dict
        A QuestionnaireResponse with one item ``1vurdering`` whose
        ``answer.valueString`` is exactly "Grøn", "Gul" or "Rød".
    instrument : Instrument, optional
        The instrument to read into (default: the shipped ``topi``). Its item
        ``1vurdering`` maps each Danish answer label to the stored value.
    check_questionnaire : bool
        Require ``questionnaire`` to be the KL TOPI canonical
        (``http://fhir.kl.dk/children/Questionnaire/klgateway-children-topi``). The
        guide's own example ``TOPIRikke`` points at the SDQ 11-17 Questionnaire by
        mistake; pass ``False`` to read such a response by its linkId alone.

    Returns
    -------
    dict of str to int or None
        ``{"1vurdering": 0 | 1 | 2 | None}``, a form for
        :func:`opsporing.scoring.score_form`.

    Raises
    ------
    ResponseValidationError
        Naming each bad field: wrong canonical, unknown linkId, an answer that is not
        exactly one of the three strings.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.scoring import score_form
    >>> qr = {
    ...     "resourceType": "QuestionnaireResponse",
    ...     "questionnaire": "http://fhir.kl.dk/children/Questionnaire/klgateway-children-topi",
    ...     "status": "completed",
    ...     "item": [{"linkId": "1vurdering", "answer": [{"valueString": "Gul"}]}],
    ... }
    >>> form = from_kl_topi_response(qr)
    >>> form
    {'1vurdering': 1}
    >>> score_form(get_instrument("topi"), form).overall_band
    'gul'
    """
    if instrument is None:
        instrument = get_instrument("topi")
    if not isinstance(instrument, Instrument) or KL_TOPI_LINK_ID not in instrument.item_ids:
        raise ResponseValidationError(
            [
                Problem(
                    "instrument",
                    getattr(instrument, "key", type_name(instrument)),
                    f"an instrument with the item {KL_TOPI_LINK_ID!r} (the shipped 'topi')",
                    kind="type",
                )
            ]
        )
    scale = instrument.scale(instrument.item(KL_TOPI_LINK_ID).scale)
    options = tuple((o.label.da, o.value) for o in scale.options)
    form: dict[str, int | None] = dict.fromkeys(instrument.item_ids)
    form.update(
        _read_kl(resource, (KL_TOPI,), {KL_TOPI_LINK_ID: options}, check_questionnaire, "TOPI")
    )
    return form


def from_kl_sdq_response(
    resource: Mapping[str, Any], *, check_questionnaire: bool = True
) -> dict[str, int | None]:
    """Read a KL Gateway SDQ 4-10 or 11-17 QuestionnaireResponse into SDQ answers.

    Parameters
    ----------
    resource : dict
        A QuestionnaireResponse with linkIds such as ``1friendly`` … ``25finish`` and
        the impact supplement ``26difficulties`` … ``33AffectOthers``, each answered
        with exactly one of the KL answer strings (e.g. "Passer ikke",
        "Passer delvist", "Passer godt").
    check_questionnaire : bool
        Require ``questionnaire`` to be the KL SDQ 4-10 or 11-17 canonical. Both are
        scored alike.

    Returns
    -------
    dict of str to int or None
        Every KL SDQ linkId with the position of the answer (0-2 for the 25 items,
        0-3 for the supplement), ``None`` where not answered: input for
        :func:`score_sdq`.

    Raises
    ------
    ResponseValidationError
        Naming each bad field (linkId), the value and the accepted strings.

    Examples
    --------
    >>> qr = {
    ...     "resourceType": "QuestionnaireResponse",
    ...     "questionnaire": "http://fhir.kl.dk/children/Questionnaire/klgateway-children-sdq4-10",
    ...     "status": "completed",
    ...     "item": [{"linkId": "1friendly", "answer": [{"valueString": "Passer godt"}]},
    ...              {"linkId": "26difficulties", "answer": [{"valueString": "Nej"}]}],
    ... }
    >>> answers = from_kl_sdq_response(qr)
    >>> answers["1friendly"], answers["26difficulties"], answers["2restless"]
    (2, 0, None)
    """
    options = {
        link: tuple((s, k) for k, s in enumerate(strings))
        for link, strings in KL_SDQ_ANSWERS.items()
    }
    return _read_kl(resource, (KL_SDQ_4_10, KL_SDQ_11_17), options, check_questionnaire, "SDQ")


def score_kl_sdq(resource: Mapping[str, Any], *, check_questionnaire: bool = True) -> SDQScore:
    """Read a KL Gateway SDQ response and score it: ``score_sdq(from_kl_sdq_response(…))``.

    Parameters
    ----------
    resource : dict
        A KL Gateway SDQ 4-10 or 11-17 QuestionnaireResponse.
    check_questionnaire : bool
        See :func:`from_kl_sdq_response`.

    Returns
    -------
    SDQScore

    Raises
    ------
    ResponseValidationError
        As :func:`from_kl_sdq_response`.

    Examples
    --------
    >>> qr = {
    ...     "resourceType": "QuestionnaireResponse",
    ...     "questionnaire": "http://fhir.kl.dk/children/Questionnaire/klgateway-children-sdq11-17",
    ...     "status": "completed",
    ...     "item": [{"linkId": link, "answer": [{"valueString": "Passer delvist"}]}
    ...              for link in ("3headache", "8oftenWorried", "13sad")],
    ... }
    >>> score_kl_sdq(qr).emotional   # 3 of 5 items answered 1: (3 / 3) × 5 = 5
    5
    """
    return score_sdq(from_kl_sdq_response(resource, check_questionnaire=check_questionnaire))
