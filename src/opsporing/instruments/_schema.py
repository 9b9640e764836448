"""The schema of an instrument file: typed, frozen records validated by pydantic.

An instrument is *data*: these classes only describe and check it. Scoring lives
in :mod:`opsporing.scoring`. Cross-references (an item's domain, its scale, the
concept it evidences, band cut-offs within the reachable score range) are checked
in :mod:`._validate`, which reports every problem of a file at once.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..vocabulary import Language

Setting = Literal["dagtilbud", "skole"]
Direction = Literal["concern", "strength"]
Method = Literal["sum", "mean"]

#: Item, scale and domain ids: letters, digits, ``_``, ``-`` and ``.``; they become
#: DataFrame columns and FHIR linkIds, so they must be plain.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_ID = re.compile(ID_PATTERN)
#: Semantic version "MAJOR.MINOR.PATCH".
VERSION_PATTERN = r"^\d+\.\d+\.\d+$"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class LocalText(_Record):
    """Danish and English wording."""

    da: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: Language = "da") -> str:
        return self.en if lang == "en" else self.da


class ScaleOption(_Record):
    """One answer of a response scale: the stored value and its wording."""

    value: int
    label: LocalText


class ResponseScale(_Record):
    """An ordinal response scale, e.g. 0 "Passer ikke" … 3 "Passer helt"."""

    id: str = Field(pattern=ID_PATTERN)
    options: tuple[ScaleOption, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _ordered_unique(self) -> ResponseScale:
        values = [o.value for o in self.options]
        if values != sorted(set(values)):
            raise ValueError(f"option values {values} must be distinct and increasing")
        return self

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    @property
    def min(self) -> int:
        return self.options[0].value

    @property
    def max(self) -> int:
        return self.options[-1].value

    @property
    def is_contiguous(self) -> bool:
        return self.values == tuple(range(self.min, self.max + 1))


class Evidence(_Record):
    """An item evidences a concept when its *raw* answer is at least ``min`` or at most ``max``.

    Raw, not reverse-keyed, so the rule reads like the question: "has a good friend"
    answered 2 or more evidences ``protective.friendship``; answered 0, ``social.isolation``.
    """

    code: str
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Evidence:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of 'min' or 'max'")
        return self


class Item(_Record):
    """A question of the instrument."""

    id: str = Field(pattern=ID_PATTERN)
    text: LocalText
    domain: str
    scale: str
    reverse: bool = False
    evidences: tuple[Evidence, ...] = ()


class Cutoffs(_Record):
    """Band cut-offs on a score.

    For a ``concern`` score (higher = more concern): ``gul`` from ``yellow``, ``rød``
    from ``red`` (inclusive). For a ``strength`` score (higher = more resources):
    ``gul`` at or below ``yellow``, ``rød`` at or below ``red``.
    """

    yellow: float
    red: float


class Domain(_Record):
    """A group of items scored together."""

    id: str = Field(pattern=ID_PATTERN)
    label: LocalText
    direction: Direction = "concern"
    method: Method = "sum"
    #: Fewest answered items for the domain to be scored; with fewer it is *not scorable*
    #: (never zero). Between this and all items, a ``sum`` is prorated: mean × number of items.
    min_answered: int = Field(ge=1)
    bands: Cutoffs


class Total(_Record):
    """The total score: the sum of some ``concern`` domains, scorable when all of them are."""

    label: LocalText
    domains: tuple[str, ...] = Field(min_length=1)
    bands: Cutoffs


class AgeRange(_Record):
    """Inclusive age range in years."""

    min: float = Field(ge=0)
    max: float = Field(le=25)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


FormatName = Literal["opsporing-instrument/1"]
#: The file format this schema reads; a later, incompatible format gets a new number.
FORMAT: FormatName = "opsporing-instrument/1"


class InstrumentHeader(_Record):
    """What an instrument file says about itself, before its scales, domains and items."""

    format: FormatName = FORMAT
    id: str = Field(pattern=ID_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    title: LocalText
    description: LocalText | None = None
    settings: tuple[Setting, ...] = Field(min_length=1)
    age_years: AgeRange
    respondent: LocalText | None = None


class Instrument(InstrumentHeader):
    """A screening instrument, loaded from versioned data.

    Load one with :func:`opsporing.instruments.get_instrument` (shipped) or
    :func:`opsporing.instruments.load_instrument` (a file of your own).
    """

    scales: tuple[ResponseScale, ...] = Field(min_length=1)
    domains: tuple[Domain, ...] = Field(min_length=1)
    items: tuple[Item, ...] = Field(min_length=1)
    total: Total | None = None

    # --- convenient views (cheap; the scoring key caches what is hot) -------------------------
    @property
    def key(self) -> str:
        """``"id@version"``, the identity stamped on every score."""
        return f"{self.id}@{self.version}"

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.items)

    @property
    def domain_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.domains)

    def scale(self, scale_id: str) -> ResponseScale:
        for s in self.scales:
            if s.id == scale_id:
                return s
        raise KeyError(scale_id)

    def domain(self, domain_id: str) -> Domain:
        for d in self.domains:
            if d.id == domain_id:
                return d
        raise KeyError(domain_id)

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(item_id)

    def items_in(self, domain_id: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.domain == domain_id)

    def score_range(self, domain_id: str) -> tuple[float, float]:
        """Lowest and highest score the domain can take."""
        d = self.domain(domain_id)
        scales = [self.scale(i.scale) for i in self.items_in(domain_id)]
        lo = sum(s.min for s in scales)
        hi = sum(s.max for s in scales)
        if d.method == "mean" and scales:
            return lo / len(scales), hi / len(scales)
        return float(lo), float(hi)
