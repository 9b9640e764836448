"""Records of the common vocabulary: frozen, hashable, and in any number of languages."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

    from ..errors import Problem

#: A language code (BCP 47): a language, then optionally a script and a region, e.g.
#: ``"da"``, ``"en"``, ``"de"``, ``"ar"``, ``"uk"``, ``"so"``, ``"tr"``, ``"fa"``, ``"pt-BR"``,
#: ``"sr-Latn"``. Checked by :func:`check_language`, never trusted from outside.
Language: TypeAlias = str
ConceptKind = Literal["concern", "protective"]

#: The languages every *shipped* text carries (a test checks each shipped file). A text of
#: your own needs only Danish and may add any other language.
LANGUAGES: tuple[str, ...] = ("da", "en")

#: The one language a text must have; every other language falls back to it.
DANISH = "da"

#: Language (2-3 lowercase letters), optional script (``Latn``), optional region (``BR``, ``419``).
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-(?:[A-Z]{2}|[0-9]{3}))?$"
_LANGUAGE = re.compile(LANGUAGE_PATTERN)
_EXPECTED_CODE = "a language code (BCP 47) such as 'en', 'de', 'ar', 'uk' or 'pt-BR'"


@cache
def _known(primary: str) -> bool:
    """Whether CLDR (through Babel) knows the language, so ``xx`` or ``qq`` is refused."""
    from babel import localedata

    return bool(localedata.exists(primary))


def language_problem(code: object, field: str = "lang") -> Problem | None:
    """The problem with ``code`` as a language code, or ``None`` when it is one."""
    from ..errors import Problem

    if not isinstance(code, str) or not _LANGUAGE.fullmatch(code) or not _known(code.split("-")[0]):
        return Problem(field, code, _EXPECTED_CODE)
    return None


def check_language(code: object, field: str = "lang") -> Language:
    """``code`` when it is a language code, else a :class:`~opsporing.errors.VocabularyError`.

    Examples
    --------
    >>> check_language("ar"), check_language("pt-BR")
    ('ar', 'pt-BR')
    >>> check_language("Deutsch")
    Traceback (most recent call last):
    ...
    opsporing.errors.VocabularyError: lang = 'Deutsch': expected a language code (BCP 47) ...
    """
    problem = language_problem(code, field)
    if problem is not None:
        from ..errors import VocabularyError

        raise VocabularyError(problem)
    return str(code)


def text_problems(node: object, field: str) -> list[Problem]:
    """Every problem of ``node`` as a text: a mapping language -> non-empty string, with Danish.

    The one rule for a text, used by the vocabulary's reader, the instrument schema and
    :class:`Text` itself.
    """
    from ..errors import Problem

    if isinstance(node, Text):
        return []
    if not isinstance(node, Mapping):
        return [Problem(field, node, "a mapping of language codes to texts, with 'da'")]
    problems: list[Problem] = []
    for code, value in node.items():
        where = f"{field}.{code}"
        bad = language_problem(code, where)
        if bad is not None:
            problems.append(bad)
        elif not isinstance(value, str) or not value.strip():
            problems.append(Problem(where, value, "a non-empty string"))
    if DANISH not in node:
        needed = "a Danish text ('da'), which every text needs"
        problems.append(Problem(f"{field}.{DANISH}", None, needed))
    return problems


def _entry(problem: Problem) -> str:
    where = problem.field.removeprefix("text").removeprefix(".") or "text"
    got = "" if problem.value is None else f", got {str(problem.value)[:60]!r}"
    return f"{where}: expected {problem.expected}{got}"


class Text:
    """A text in Danish and any number of further languages (``{da: ..., en: ..., ar: ...}``).

    Danish is required: it is the language of the law and of the municipality, and the one a
    text falls back to. ``get(lang)`` gives the text in ``lang`` when the text carries it and
    the Danish otherwise, so a page in English shows a user's Danish-only instrument in Danish
    rather than failing; ``get(lang, fallback=False)`` raises instead. A code that is not a
    language code (``"Deutsch"``, ``"xx"``) is always a :class:`~opsporing.errors.VocabularyError`.
    Frozen and hashable; pydantic models take it as a field (see ``LocalText``) and read it
    from the same mapping.

    Examples
    --------
    >>> t = Text(da="Grøn", en="Green", ar="أخضر")
    >>> t.get("en"), t.get("ar"), t.get("de")
    ('Green', 'أخضر', 'Grøn')
    >>> t.languages, str(t)
    (('da', 'en', 'ar'), 'Grøn')
    >>> Text.of({"da": "Aldrig", "pt-BR": "Nunca"}).get("pt-BR")
    'Nunca'
    """

    __slots__ = ("_texts",)
    _texts: tuple[tuple[str, str], ...]

    def __init__(self, da: str, en: str | None = None, **more: str) -> None:
        texts: dict[str, Any] = {DANISH: da}
        if en is not None:
            texts["en"] = en
        texts.update(more)
        object.__setattr__(self, "_texts", self._checked(texts, "text"))

    @classmethod
    def of(cls, texts: Mapping[str, str] | Text, field: str = "text") -> Text:
        """A text from a mapping (any language codes, Danish required), checked.

        Raises :class:`~opsporing.errors.VocabularyError` naming every bad entry.
        """
        if isinstance(texts, Text):
            return texts
        new = cls.__new__(cls)
        object.__setattr__(new, "_texts", cls._checked(texts, field))
        return new

    @staticmethod
    def _checked(texts: Mapping[str, Any], field: str) -> tuple[tuple[str, str], ...]:
        problems = text_problems(texts, field)
        if problems:
            from ..errors import VocabularyError

            raise VocabularyError(*problems)
        # Danish first, then the others in the order the file wrote them.
        pairs = [(str(k), str(v).strip()) for k, v in texts.items()]
        return tuple(sorted(pairs, key=lambda kv: kv[0] != DANISH))

    # --- reading ----------------------------------------------------------------------------
    @property
    def languages(self) -> tuple[Language, ...]:
        """The languages this text carries, in the order given."""
        return tuple(k for k, _ in self._texts)

    def __contains__(self, lang: object) -> bool:
        return any(k == lang for k, _ in self._texts)

    def get(self, lang: Language = DANISH, *, fallback: bool = True) -> str:
        """The text in ``lang``; its Danish when it lacks ``lang`` (unless ``fallback=False``).

        Raises
        ------
        VocabularyError
            ``lang`` is not a language code, or the text lacks it and ``fallback`` is off.
        """
        for code, value in self._texts:
            if code == lang:
                return value
        check_language(lang)
        if not fallback:
            from ..errors import Problem, VocabularyError

            raise VocabularyError(Problem("lang", lang, f"one of {', '.join(self.languages)}"))
        return self.da

    @property
    def da(self) -> str:
        """The Danish text (always present)."""
        return self._texts[0][1]  # kept first by _checked

    @property
    def en(self) -> str:
        """The English text, or the Danish when the text has no English."""
        return self.get("en")

    def as_dict(self) -> dict[Language, str]:
        """``{language: text}``, the shape of the files (``{da: ..., en: ...}``)."""
        return dict(self._texts)

    def items(self) -> Iterator[tuple[Language, str]]:
        """``(language, text)`` pairs."""
        return iter(self._texts)

    # --- a frozen value ---------------------------------------------------------------------
    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Text is frozen; cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Text):
            return NotImplemented
        return dict(self._texts) == dict(other._texts)

    def __hash__(self) -> int:
        return hash(frozenset(self._texts))

    def __repr__(self) -> str:
        return f"Text({self.as_dict()!r})"

    def __str__(self) -> str:
        return self.da

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text.of, (self.as_dict(),))

    # --- pydantic ---------------------------------------------------------------------------
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        def build(value: Any) -> Text:
            problems = text_problems(value, "text")
            if problems:
                # pydantic names the field (loc); the message names each entry and its need.
                raise ValueError("; ".join(_entry(p) for p in problems))
            return value if isinstance(value, Text) else Text.of(value)

        return core_schema.no_info_plain_validator_function(
            build,
            ref="Text",  # one definition in a JSON Schema, referred to by every text field
            serialization=core_schema.plain_serializer_function_ser_schema(lambda t: t.as_dict()),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        text = {"type": "string", "minLength": 1}
        return {
            "title": "Text",
            "description": "A text by language code: Danish ('da') required, any other "
            "language (BCP 47 code) optional.",
            "type": "object",
            "required": [DANISH],
            "propertyNames": {"pattern": LANGUAGE_PATTERN},
            "additionalProperties": text,
            "properties": {DANISH: text},
        }


@dataclass(frozen=True, slots=True)
class Concept:
    """A concern or a protective factor of the common vocabulary.

    Attributes
    ----------
    code : str
        Stable code, e.g. ``"social.isolation"``; never renamed or reused.
    kind : {"concern", "protective"}
    label, definition : Text
    area : str
        The practice area, e.g. ``"social"`` (see :data:`Vocabulary.areas`).
    ics_domain : str
        Side of the ICS triangle: ``"child"``, ``"parenting"`` or ``"family"``.
    severity : str or None
        Default severity of a concern (``"low"``, ``"moderate"``, ``"high"``);
        ``None`` for protective factors.
    red_flag : bool
        ``True`` when the concern by itself triggers the duty to notify
        (barnets lov § 133). Red flags bypass every score and model.
    """

    code: str
    kind: ConceptKind
    label: Text
    definition: Text
    area: str
    ics_domain: str
    severity: str | None = None
    red_flag: bool = False

    @property
    def is_concern(self) -> bool:
        return self.kind == "concern"

    @property
    def is_protective(self) -> bool:
        return self.kind == "protective"


@dataclass(frozen=True, slots=True)
class Step:
    """A step of Indsatstrappen, the intervention staircase (0-6).

    ``requires_municipal_assessment`` is ``True`` from step 3: a daycare or a
    school can never place a child on those steps; the municipality decides
    after its own assessment (barnets lov §§ 18-20).
    """

    number: int
    label: Text
    description: Text
    legal_basis: Text
    who_acts: Text
    prevention_level: str
    requires_municipal_assessment: bool

    @property
    def is_placement(self) -> bool:
        """Out-of-home placement (steps 4-6)."""
        return self.number >= 4


@dataclass(frozen=True, slots=True)
class Band:
    """A TOPI band: ``grøn`` (thriving), ``gul`` (some concern), ``rød`` (serious concern)."""

    code: str
    rank: int
    label: Text
    description: Text
    action: Text


@dataclass(frozen=True, slots=True)
class PreventionLevel:
    """Primary, secondary or tertiary prevention (seed 004)."""

    code: str
    label: Text
    description: Text
