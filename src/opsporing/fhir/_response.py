"""QuestionnaireResponses of an instrument's Questionnaire: forms out, forms in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import pandas as pd

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument, ResponseScale
from ._common import (
    CANONICAL_BASE,
    GROUP_PREFIX,
    ResponseReader,
    code_system_url,
    iter_resources,
    questionnaire_url,
    type_name,
)
from ._sdc import computed_link_ids


def _check_instrument(instrument: Any) -> Instrument:
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [
                Problem(
                    "instrument", type(instrument).__name__, "an opsporing Instrument", kind="type"
                )
            ]
        )
    return instrument


def _expectation(scale: ResponseScale) -> str:
    if scale.number is not None:
        return f"a whole number from {scale.min} to {scale.max} (valueInteger)"
    values = ", ".join(str(v) for v in scale.values)
    labels = ", ".join(repr(o.label.da) for o in scale.options)
    return (
        f"one of {values} (valueCoding.code or valueInteger) or {labels} (valueString, "
        "or the English label)"
    )


def _whole_in(value: Any, scale: ResponseScale) -> bool:
    """A whole number within a number scale's range (checked without listing the range)."""
    if not isinstance(value, Real) or isinstance(value, bool):
        return False
    if isinstance(value, int):  # exact, however long (JSON integers have no limit)
        return scale.min <= value <= scale.max
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return False
    return math.isfinite(number) and number.is_integer() and scale.min <= number <= scale.max


def _read_value(
    reader: ResponseReader, link_id: str, key: str, value: Any, scale: ResponseScale, system: str
) -> int | None:
    """The stored value of one answer, or ``None`` after recording a problem."""
    if scale.is_number:
        # A count has no codes or labels: only an integer answer within the range.
        if key == "valueInteger" and _whole_in(value, scale):
            return int(value)
        kind = "out_of_range" if key == "valueInteger" else "wrong_type"
        reader.problem(link_id, value, _expectation(scale), kind=kind)
        return None
    allowed = scale.values
    if key == "valueCoding":
        if not isinstance(value, dict):
            reader.problem(link_id, type_name(value), "a Coding object", kind="structure")
            return None
        found_system = value.get("system")
        if found_system is not None and found_system != system:
            reader.problem(
                f"{link_id}.system", found_system, f"the code system {system}", kind="wrong_system"
            )
            return None
        code = value.get("code")
        match = [v for v in allowed if isinstance(code, str) and code == str(v)]
        if not match:
            reader.problem(link_id, code, _expectation(scale), kind="out_of_range")
            return None
        return match[0]
    if key == "valueInteger":
        if isinstance(value, int) and not isinstance(value, bool) and value in allowed:
            return value
        reader.problem(link_id, value, _expectation(scale), kind="out_of_range")
        return None
    if key == "valueString":
        for option in scale.options:
            if isinstance(value, str) and value in option.label.as_dict().values():
                return option.value
        reader.problem(link_id, value, _expectation(scale), kind="out_of_range")
        return None
    reader.problem(
        link_id, key, "an answer as valueCoding, valueInteger or valueString", kind="wrong_type"
    )
    return None


def _lookup(instrument: Instrument, base_url: str) -> dict[str, tuple[ResponseScale, str]]:
    """Each item id's scale and code system, computed once per call (not per answer)."""
    scales = {s.id: s for s in instrument.scales}
    return {
        i.id: (scales[i.scale], code_system_url(instrument, i.scale, base_url))
        for i in instrument.items
    }


def _read_response(
    resource: Any,
    instrument: Instrument,
    base_url: str,
    row: int | str | None,
    lookup: dict[str, tuple[ResponseScale, str]],
) -> tuple[dict[str, int | None], list[Problem]]:
    reader = ResponseReader(row)
    form: dict[str, int | None] = dict.fromkeys(instrument.item_ids)
    envelope = reader.envelope(resource)
    if envelope is None:
        return form, reader.problems
    reader.canonical(envelope, (questionnaire_url(instrument, base_url),), instrument.version)
    groups = {f"{GROUP_PREFIX}{d}" for d in instrument.domain_ids}
    computed = computed_link_ids(instrument)
    for found in reader.items(envelope, lambda link: link in groups):
        if found.link_id in computed:
            continue  # an SDC renderer's calculated answer: scores are recomputed, never read
        if found.is_group:
            if found.answer not in (None, []):
                reader.problem(
                    found.link_id, found.answer, "no answer on a group item", kind="structure"
                )
            continue
        if found.link_id not in lookup:
            reader.problem(
                found.link_id,
                found.path,
                f"a linkId of {instrument.key} (an item id or a domain group)",
                kind="unknown_item",
            )
            continue
        got = reader.single_value(found)
        if got is None:
            continue
        scale, system = lookup[found.link_id]
        form[found.link_id] = _read_value(reader, found.link_id, got[0], got[1], scale, system)
    if envelope.get("status") in _FINISHED:
        _check_required(reader, instrument, form, lookup)
    return form, reader.problems


#: Statuses of a finished response: every item of a ``required`` domain must be answered.
#: An ``in-progress`` or ``stopped`` response is unfinished by definition (FHIR's
#: ``Questionnaire.item.required`` binds a completed response), so it may lack them.
_FINISHED = ("completed", "amended")


def _check_required(
    reader: ResponseReader,
    instrument: Instrument,
    form: dict[str, int | None],
    lookup: dict[str, tuple[ResponseScale, str]],
) -> None:
    """A problem for each unanswered item of a ``required`` domain (safety): never read as 'no'."""
    reported = {p.field for p in reader.problems}
    for domain in instrument.domains:
        if not domain.required:
            continue
        for item in instrument.items_in(domain.id):
            if form[item.id] is None and item.id not in reported:
                reader.problem(
                    item.id,
                    None,
                    f"an answer: every item of domain {domain.id!r} must be answered in a "
                    f"finished response (a blank is never read as 'no'); "
                    f"{_expectation(lookup[item.id][0])}",
                    kind="required",
                )


def from_questionnaire_response(
    resource: Mapping[str, Any], instrument: Instrument, *, base_url: str = CANONICAL_BASE
) -> dict[str, int | None]:
    """Read a QuestionnaireResponse of an instrument's Questionnaire into a form.

    Parameters
    ----------
    resource : dict
        The QuestionnaireResponse as parsed JSON. ``questionnaire`` must be the
        instrument's canonical URL, optionally with ``|version`` (which must then be
        the instrument's version). Items may be nested in domain groups or flat.
        An answer is ``valueCoding`` (``code`` = the value; ``system``, if given, the
        scale's code system), ``valueInteger`` (the value) or ``valueString`` (the
        exact label in any language the instrument carries).
    instrument : Instrument
    base_url : str
        The base the Questionnaire was exported with (see :func:`to_questionnaire`).

    Returns
    -------
    dict of str to int or None
        Every item id of the instrument, ``None`` where not answered: a form for
        :func:`opsporing.scoring.score_form`.

    Raises
    ------
    ResponseValidationError
        Listing every problem: not a QuestionnaireResponse, wrong canonical or version,
        status ``entered-in-error``, unknown or repeated linkIds, answers outside the
        scale (each naming the linkId, the value and what was expected), and in a
        ``completed`` or ``amended`` response an unanswered item of a ``required``
        domain (safety items; kind ``required``: a blank is never read as "no").

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> topi = get_instrument("topi")
    >>> qr = {
    ...     "resourceType": "QuestionnaireResponse",
    ...     "questionnaire": "http://opsporing.example.org/fhir/Questionnaire/topi|1.0.0",
    ...     "status": "completed",
    ...     "item": [{"linkId": "1vurdering", "answer": [{"valueInteger": 1}]}],
    ... }
    >>> from_questionnaire_response(qr, topi)
    {'1vurdering': 1}
    >>> qr["item"][0]["answer"] = [{"valueString": "Lilla"}]
    >>> from_questionnaire_response(qr, topi)
    Traceback (most recent call last):
    ...
    opsporing.errors.ResponseValidationError: invalid QuestionnaireResponse for topi@1.0.0 (1 problem)
      - 1vurdering = 'Lilla': expected one of 0, 1, 2 (valueCoding.code or valueInteger) or 'Grøn', 'Gul', 'Rød' (valueString, or the English label)
    """  # noqa: E501
    instrument = _check_instrument(instrument)
    form, problems = _read_response(
        resource, instrument, base_url, None, _lookup(instrument, base_url)
    )
    if problems:
        raise ResponseValidationError(
            problems, headline=f"invalid QuestionnaireResponse for {instrument.key}"
        )
    return form


def from_questionnaire_responses(
    resources: Any, instrument: Instrument, *, base_url: str = CANONICAL_BASE
) -> pd.DataFrame:
    """Read many QuestionnaireResponses (a list or a Bundle) into a table of forms.

    Parameters
    ----------
    resources : list of dict, or a Bundle dict
        From a Bundle, the entries whose resource is a QuestionnaireResponse are read.
    instrument : Instrument
    base_url : str
        See :func:`from_questionnaire_response`.

    Returns
    -------
    DataFrame
        One row per response: ``form_id`` (the resource ``id``, or missing) and one
        nullable-integer column per item id, ready for
        ``score_batch(instrument, forms, keep=["form_id"])``.

    Raises
    ------
    ResponseValidationError
        Listing every problem of every response, each with its ``row`` (the position
        of the response).

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.scoring import score_batch
    >>> topi = get_instrument("topi")
    >>> qrs = [to_questionnaire_response(topi, {"1vurdering": v}, id=f"f{v}") for v in (0, 2)]
    >>> forms = from_questionnaire_responses(qrs, topi)
    >>> forms.to_dict("list")
    {'form_id': ['f0', 'f2'], '1vurdering': [0, 2]}
    >>> score_batch(topi, forms, keep=["form_id"])["band.overall"].tolist()
    ['grøn', 'rød']
    """
    instrument = _check_instrument(instrument)
    reader = ResponseReader()
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    lookup = _lookup(instrument, base_url)
    for k, resource in enumerate(iter_resources(resources, reader)):
        form, found = _read_response(resource, instrument, base_url, k, lookup)
        problems += found
        rid = resource.get("id") if isinstance(resource, dict) else None
        rows.append({"form_id": rid if isinstance(rid, str) else None, **form})
    problems = reader.problems + problems
    if problems:
        raise ResponseValidationError(
            problems, headline=f"invalid QuestionnaireResponses for {instrument.key}"
        )
    frame = pd.DataFrame(rows, columns=["form_id", *instrument.item_ids])
    for item_id in instrument.item_ids:
        frame[item_id] = frame[item_id].astype("Int64")
    return frame


def to_questionnaire_response(
    instrument: Instrument,
    form: Mapping[str, Any],
    *,
    base_url: str = CANONICAL_BASE,
    status: str = "completed",
    id: str | None = None,
    group_by_domain: bool = True,
) -> dict[str, Any]:
    """A filled-in form as a QuestionnaireResponse to the instrument's Questionnaire.

    Parameters
    ----------
    instrument : Instrument
    form : mapping of item id to answer
        Values from each item's scale; ``None``/NaN or a left-out item is unanswered
        and gets no item in the response.
    base_url : str
        See :func:`to_questionnaire`.
    status : str
        The response status, ``"completed"`` by default.
    id : str, optional
        The resource id (e.g. a pseudonymous form id; never a CPR number).
    group_by_domain : bool
        Nest the answers in domain groups, as :func:`to_questionnaire` does.

    Returns
    -------
    dict
        ``questionnaire`` = ``url|version``; each answer a ``valueCoding`` with the
        value as ``code`` and its Danish label as ``display``.

    Raises
    ------
    ResponseValidationError
        For unknown item ids and answers outside the scale, and, in a ``completed`` or
        ``amended`` response, for every unanswered item of a ``required`` domain (the
        safety items): all of them.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> qr = to_questionnaire_response(get_instrument("topi"), {"1vurdering": 2})
    >>> qr["questionnaire"]
    'http://opsporing.example.org/fhir/Questionnaire/topi|1.0.0'
    >>> qr["item"][0]["item"][0]["answer"][0]["valueCoding"]["display"]
    'Rød'
    """
    instrument = _check_instrument(instrument)
    if not isinstance(form, Mapping):
        raise ResponseValidationError(
            [Problem("form", type(form).__name__, "a mapping of item id to answer", kind="type")]
        )
    problems: list[Problem] = []
    answers: dict[str, dict[str, Any]] = {}
    items = set(instrument.item_ids)
    for item_id, value in form.items():
        if item_id not in items:
            problems.append(
                Problem(str(item_id), value, f"an item id of {instrument.key}", kind="unknown_item")
            )
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        scale = instrument.scale(instrument.item(item_id).scale)
        if scale.is_number:
            if not _whole_in(value, scale):
                problems.append(Problem(item_id, value, _expectation(scale), kind="out_of_range"))
                continue
            answers[item_id] = {"linkId": item_id, "answer": [{"valueInteger": int(value)}]}
            continue
        option = next(
            (
                o
                for o in scale.options
                if isinstance(value, Real) and not isinstance(value, bool) and value == o.value
            ),
            None,
        )
        if option is None:
            problems.append(
                Problem(
                    item_id,
                    value,
                    f"one of {', '.join(map(str, scale.values))} (or None)",
                    kind="out_of_range",
                )
            )
            continue
        coding = {
            "system": code_system_url(instrument, scale.id, base_url),
            "code": str(option.value),
            "display": option.label.da,
        }
        answers[item_id] = {"linkId": item_id, "answer": [{"valueCoding": coding}]}
    if status in _FINISHED:
        # What from_questionnaire_response refuses is never written: a finished response
        # answers every item of a required domain (a blank safety item is never a "no").
        bad = {p.field for p in problems}
        problems += [
            Problem(
                item.id,
                None,
                f"an answer: every item of domain {domain.id!r} must be answered in a "
                f"{status!r} response (or status 'in-progress')",
                kind="required",
            )
            for domain in instrument.domains
            if domain.required
            for item in instrument.items_in(domain.id)
            if item.id not in answers and item.id not in bad
        ]
    if problems:
        raise ResponseValidationError(problems, headline=f"invalid answers for {instrument.key}")
    qr: dict[str, Any] = {"resourceType": "QuestionnaireResponse"}
    if id is not None:
        qr["id"] = id
    qr["questionnaire"] = f"{questionnaire_url(instrument, base_url)}|{instrument.version}"
    qr["status"] = status
    if group_by_domain:
        groups = []
        for domain in instrument.domains:
            members = [answers[i.id] for i in instrument.items_in(domain.id) if i.id in answers]
            if members:
                groups.append({"linkId": f"{GROUP_PREFIX}{domain.id}", "item": members})
        qr["item"] = groups
    else:
        qr["item"] = [answers[i] for i in instrument.item_ids if i in answers]
    if not qr["item"]:
        del qr["item"]
    return qr
