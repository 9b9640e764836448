"""Records of the common vocabulary: frozen, hashable, and bilingual."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["da", "en"]
ConceptKind = Literal["concern", "protective"]

LANGUAGES: tuple[Language, ...] = ("da", "en")


@dataclass(frozen=True, slots=True)
class Text:
    """A text in Danish and English.

    Examples
    --------
    >>> t = Text(da="Grøn", en="Green")
    >>> t.get("en")
    'Green'
    >>> str(t)
    'Grøn'
    """

    da: str
    en: str

    def get(self, lang: Language = "da") -> str:
        """The text in ``lang`` ("da" or "en")."""
        if lang == "en":
            return self.en
        if lang == "da":
            return self.da
        # Imported here so the records module has no dependency beyond the standard library.
        from ..errors import Problem, VocabularyError

        raise VocabularyError(Problem("lang", lang, "one of 'da', 'en'"))

    def __str__(self) -> str:
        return self.da


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
