"""What the FHIR writers and readers share: canonical URLs, extensions, safe JSON reading.

Everything read here comes from outside (a file, a web request, another system), so
nothing assumes a shape: every access checks the type first and records a
:class:`~opsporing.errors.Problem` naming the field, the value found and what was
expected, instead of letting a ``KeyError`` or ``TypeError`` escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, VocabularyError
from ..instruments import Instrument
from ..vocabulary import LANGUAGES, Language

#: Default base of the canonical URLs of exported resources. ``example.org`` on purpose:
#: a municipality that publishes the Questionnaires passes its own ``base_url``.
CANONICAL_BASE = "http://opsporing.example.org/fhir"

#: The core extension for a translation of a string element (lang + content).
TRANSLATION_URL = "http://hl7.org/fhir/StructureDefinition/translation"

#: The R4 core extension for the numeric value of a coded answer (R5 calls it itemWeight).
ORDINAL_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
#: R4 core extensions for an integer item's range and unit (a count such as days absent).
MIN_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNIT_URL = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"

#: Prefix of the linkId of a domain group; ``:`` never occurs in an item id.
GROUP_PREFIX = "domain:"

#: QuestionnaireResponse.status codes (R4). ``entered-in-error`` is never read.
RESPONSE_STATUSES = ("in-progress", "completed", "amended", "entered-in-error", "stopped")

#: Deepest nesting of items the readers follow (groups in groups in …).
MAX_DEPTH = 8

_NOT_ID = re.compile(r"[^A-Za-z0-9.-]")


def check_lang(lang: object) -> Language:
    """``lang`` as a :data:`~opsporing.vocabulary.Language`, or a typed error."""
    if lang == "da":
        return "da"
    if lang == "en":
        return "en"
    raise VocabularyError(f"lang = {lang!r}: expected one of {', '.join(map(repr, LANGUAGES))}")


def other_lang(lang: Language) -> Language:
    return "en" if lang == "da" else "da"


def translation(lang: Language, content: str) -> dict[str, Any]:
    """The ``_element`` object carrying a translation extension.

    Examples
    --------
    >>> translation("en", "Never")["extension"][0]["extension"]
    [{'url': 'lang', 'valueCode': 'en'}, {'url': 'content', 'valueString': 'Never'}]
    """
    return {
        "extension": [
            {
                "url": TRANSLATION_URL,
                "extension": [
                    {"url": "lang", "valueCode": lang},
                    {"url": "content", "valueString": content},
                ],
            }
        ]
    }


def questionnaire_url(instrument: Instrument, base_url: str = CANONICAL_BASE) -> str:
    """The canonical URL of an instrument's Questionnaire (without version).

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> questionnaire_url(get_instrument("topi"))
    'http://opsporing.example.org/fhir/Questionnaire/topi'
    """
    return f"{base_url.rstrip('/')}/Questionnaire/{instrument.id}"


def code_system_url(instrument: Instrument, scale_id: str, base_url: str = CANONICAL_BASE) -> str:
    """The system of the codes of one response scale of an instrument."""
    return f"{base_url.rstrip('/')}/CodeSystem/{instrument.id}.{scale_id}"


def resource_id(instrument: Instrument) -> str:
    """A FHIR resource id (``[A-Za-z0-9-.]{1,64}``) for an instrument version."""
    return _NOT_ID.sub("-", f"{instrument.id}-{instrument.version}")[:64]


def shown(value: Any, limit: int = 120) -> Any:
    """``value`` itself when it is a scalar or a short string, else shortened for messages.

    Examples
    --------
    >>> shown("Grøn"), shown(3), shown("x" * 200)[-3:], shown({"a": [1, 2]})
    ('Grøn', 3, 'xx…', "{'a': [1, 2]}")
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    text = _brief(value, 3)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _brief(value: Any, depth: int) -> str:
    """A ``repr`` that stops at ``depth`` and after a few elements (safe on any nesting)."""
    if isinstance(value, dict):
        if depth <= 0:
            return "{…}"
        parts = [f"{_brief(k, 0)}: {_brief(v, depth - 1)}" for k, v in list(value.items())[:4]]
        return "{" + ", ".join(parts) + (", …}" if len(value) > 4 else "}")
    if isinstance(value, list | tuple):
        if depth <= 0:
            return "[…]"
        parts = [_brief(v, depth - 1) for v in list(value)[:4]]
        return "[" + ", ".join(parts) + (", …]" if len(value) > 4 else "]")
    text = (
        repr(value) if isinstance(value, str | int | float | bool | None) else type(value).__name__
    )
    return text if len(text) <= 40 else text[:39] + "…"


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@dataclass
class Found:
    """One item of a QuestionnaireResponse: its linkId, where it was, its ``answer`` list."""

    link_id: str
    path: str
    answer: Any
    is_group: bool


class ResponseReader:
    """Collects the problems of one QuestionnaireResponse while it is read.

    Parameters
    ----------
    row : int or str or None
        Stamped on every problem (the position of the response in a batch).
    """

    def __init__(self, row: int | str | None = None) -> None:
        self.row = row
        self.problems: list[Problem] = []

    def problem(self, field: str, value: Any, expected: str, kind: str = "invalid") -> None:
        self.problems.append(Problem(field, shown(value), expected, row=self.row, kind=kind))

    # --- the envelope --------------------------------------------------------------------------
    def envelope(self, resource: Any) -> dict[str, Any] | None:
        """The resource as a dict if it is a QuestionnaireResponse that may be read."""
        if not isinstance(resource, dict):
            self.problem(
                "resource",
                type_name(resource),
                "a QuestionnaireResponse as a JSON object",
                kind="structure",
            )
            return None
        kind = resource.get("resourceType")
        if kind != "QuestionnaireResponse":
            self.problem(
                "resourceType", kind, "'QuestionnaireResponse'", kind="wrong_resource_type"
            )
            return None
        status = resource.get("status")
        if status == "entered-in-error":
            self.problem(
                "status",
                status,
                "a response not marked entered-in-error (it was recorded by mistake)",
                kind="entered_in_error",
            )
        elif status not in RESPONSE_STATUSES:
            self.problem(
                "status",
                status,
                f"one of {', '.join(s for s in RESPONSE_STATUSES if s != 'entered-in-error')}",
                kind="invalid_status",
            )
        return resource

    def canonical(
        self, resource: dict[str, Any], urls: tuple[str, ...], version: str | None
    ) -> str | None:
        """Check ``questionnaire`` (``url`` or ``url|version``); the url found, or ``None``."""
        value = resource.get("questionnaire")
        wanted = " or ".join(f"{u}|{version}" if version else u for u in urls)
        if not isinstance(value, str) or not value:
            self.problem("questionnaire", value, f"the canonical {wanted}", kind="wrong_instrument")
            return None
        url, _, found_version = value.partition("|")
        if url not in urls:
            self.problem("questionnaire", value, f"the canonical {wanted}", kind="wrong_instrument")
            return None
        if version is not None and found_version and found_version != version:
            self.problem(
                "questionnaire",
                value,
                f"version {version!r} ({url}|{version})",
                kind="wrong_instrument",
            )
            return None
        return url

    # --- the items -----------------------------------------------------------------------------
    def items(self, resource: dict[str, Any], is_group: Callable[[str], bool]) -> list[Found]:
        """Every item of the response, groups followed into, in document order."""
        found: list[Found] = []
        self._walk(resource.get("item"), "item", is_group, found, 0)
        seen: dict[str, str] = {}
        for f in found:
            if f.link_id in seen:
                self.problem(
                    f.link_id,
                    f"{seen[f.link_id]} and {f.path}",
                    "each linkId once",
                    kind="duplicate_item",
                )
            else:
                seen[f.link_id] = f.path
        return found

    def _walk(
        self,
        items: Any,
        path: str,
        is_group: Callable[[str], bool],
        found: list[Found],
        depth: int,
    ) -> None:
        if items is None:
            return
        if not isinstance(items, list):
            self.problem(path, type_name(items), "an array of items", kind="structure")
            return
        if depth >= MAX_DEPTH:
            self.problem(path, "…", f"items nested at most {MAX_DEPTH} deep", kind="structure")
            return
        for k, item in enumerate(items):
            where = f"{path}[{k}]"
            if not isinstance(item, dict):
                self.problem(where, type_name(item), "an item object", kind="structure")
                continue
            link = item.get("linkId")
            if not isinstance(link, str) or not link:
                self.problem(f"{where}.linkId", link, "a non-empty string", kind="structure")
                continue
            group = is_group(link)
            found.append(Found(link, where, item.get("answer"), group))
            self._walk(item.get("item"), f"{where}.item", is_group, found, depth + 1)
            answers = item.get("answer")
            if isinstance(answers, list):
                for j, answer in enumerate(answers):
                    if isinstance(answer, dict) and "item" in answer:
                        self._walk(
                            answer["item"], f"{where}.answer[{j}].item", is_group, found, depth + 1
                        )

    def single_value(self, f: Found) -> tuple[str, Any] | None:
        """The one ``value[x]`` of an item's answer as ``(key, value)``; ``None`` if unanswered."""
        answers = f.answer
        if answers is None or answers == []:
            return None
        if not isinstance(answers, list):
            self.problem(f.link_id, type_name(answers), "an array of answers", kind="structure")
            return None
        if len(answers) > 1:
            self.problem(
                f.link_id,
                f"{len(answers)} answers",
                "at most one answer (the item does not repeat)",
                kind="repeated_answer",
            )
            return None
        answer = answers[0]
        if not isinstance(answer, dict):
            self.problem(f.link_id, type_name(answer), "an answer object", kind="structure")
            return None
        keys = [k for k in answer if isinstance(k, str) and k.startswith("value")]
        if len(keys) != 1:
            self.problem(
                f.link_id,
                shown(answer),
                "an answer with exactly one value[x]",
                kind="structure",
            )
            return None
        return keys[0], answer[keys[0]]


def iter_resources(resources: Any, reader: ResponseReader) -> Iterator[Any]:
    """The resources of a Bundle (its QuestionnaireResponse entries) or of a list."""
    if isinstance(resources, dict):
        if resources.get("resourceType") != "Bundle":
            reader.problem(
                "resources",
                resources.get("resourceType"),
                "a Bundle or a list of QuestionnaireResponses",
                kind="structure",
            )
            return
        entries = resources.get("entry", [])
        if not isinstance(entries, list):
            reader.problem("entry", type_name(entries), "an array of entries", kind="structure")
            return
        for k, entry in enumerate(entries):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(res, dict):
                reader.problem(f"entry[{k}].resource", shown(res), "a resource", kind="structure")
            elif res.get("resourceType") == "QuestionnaireResponse":
                yield res
        return
    if isinstance(resources, list | tuple):
        yield from resources
        return
    reader.problem(
        "resources",
        type_name(resources),
        "a Bundle or a list of QuestionnaireResponses",
        kind="structure",
    )
