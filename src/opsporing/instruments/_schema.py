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

from ..vocabulary import Text

Setting = Literal["dagtilbud", "skole"]
Direction = Literal["concern", "strength"]
Method = Literal["sum", "mean"]
#: Who answers the form: the educator or teacher, a parent, or the child.
Informant = Literal["educator", "parent", "child"]

#: The ages (years) a form may be made for: from birth up to the end of after-care
#: (efterværn, to 23) with room to spare. Also the ages a screening may carry.
MAX_AGE_YEARS = 25.0
#: How the overall band is formed. ``worst``: the worst of every domain band and the total
#: (format 1's original rule). ``total``: the total's band, raised to at least ``gul`` by any
#: concern domain at ``rød`` or a critical answer, and to ``rød`` by a red flag; strength
#: domains (resources) are reported beside and never raise it.
OverallRule = Literal["worst", "total"]

#: Item, scale and domain ids: letters, digits, ``_``, ``-`` and ``.``; they become
#: DataFrame columns and FHIR linkIds, so they must be plain.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_ID = re.compile(ID_PATTERN)
#: Semantic version "MAJOR.MINOR.PATCH".
VERSION_PATTERN = r"^\d+\.\d+\.\d+$"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


#: Wording in Danish (required) and any further languages: the one text type of the package,
#: :class:`opsporing.vocabulary.Text`, read from the same ``{da: ..., en: ...}`` mapping.
LocalText = Text


class ScaleOption(_Record):
    """One answer of a response scale: the stored value and its wording."""

    value: int
    label: LocalText


class NumberRange(_Record):
    """A count asked as a number, e.g. days absent in the last three months (0-65).

    Items on a number scale are never summed into a domain score: they raise concepts
    through their evidence rules and may be critical.
    """

    min: int
    max: int
    unit: LocalText

    @model_validator(mode="after")
    def _ordered(self) -> NumberRange:
        if self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self


class ResponseScale(_Record):
    """A response scale: ordinal options (0 "Aldrig" … 3 "Næsten altid") or a number.

    Give ``options`` (at least two) for an ordinal scale, or ``number`` for a count.
    """

    id: str = Field(pattern=ID_PATTERN)
    options: tuple[ScaleOption, ...] = ()
    number: NumberRange | None = None

    @model_validator(mode="after")
    def _ordered_unique(self) -> ResponseScale:
        if self.number is not None:
            if self.options:
                raise ValueError("give either 'options' or 'number', not both")
            return self
        values = [o.value for o in self.options]
        if len(values) < 2:
            raise ValueError("an ordinal scale needs at least two options (or give 'number')")
        if values != sorted(set(values)):
            raise ValueError(f"option values {values} must be distinct and increasing")
        return self

    @property
    def is_number(self) -> bool:
        """Whether answers are counts (``number``) rather than ordinal options."""
        return self.number is not None

    @property
    def values(self) -> tuple[int, ...]:
        if self.number is not None:
            return tuple(range(self.number.min, self.number.max + 1))
        return tuple(o.value for o in self.options)

    @property
    def min(self) -> int:
        return self.number.min if self.number is not None else self.options[0].value

    @property
    def max(self) -> int:
        return self.number.max if self.number is not None else self.options[-1].value

    @property
    def is_contiguous(self) -> bool:
        return self.number is not None or self.values == tuple(range(self.min, self.max + 1))


class AgeRange(_Record):
    """Inclusive age range in years."""

    min: float = Field(ge=0)
    max: float = Field(le=MAX_AGE_YEARS)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Bound(_Record):
    """A rule on an item's *raw* answer: at least ``min`` or at most ``max`` (exactly one).

    Raw, not reverse-keyed, so the rule reads like the question.
    """

    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Bound:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of 'min' or 'max'")
        return self

    def holds(self, raw: float) -> bool:
        """Whether the raw answer meets the bound."""
        return raw >= self.min if self.min is not None else raw <= self.max  # type: ignore[operator]


class Evidence(Bound):
    """An item evidences a concept when its *raw* answer is at least ``min`` or at most ``max``.

    "has a good friend" answered 2 or more evidences ``protective.friendship``; answered 0,
    ``social.isolation``.
    """

    code: str


class Item(_Record):
    """A question of the instrument."""

    id: str = Field(pattern=ID_PATTERN)
    text: LocalText
    domain: str
    scale: str
    reverse: bool = False
    evidences: tuple[Evidence, ...] = ()
    #: The most serious answers: meeting this bound raises the overall band to at least
    #: ``gul`` whatever the sums say (e.g. "Næsten altid" on being bullied).
    critical: Bound | None = None
    #: Ages (years) for which the observed behaviour is meaningful; the instrument's age
    #: range must lie within it (checked by the tests of every shipped instrument).
    fits_age: AgeRange | None = None
    #: What to do now when the item raises a red flag or a critical answer: shown on the
    #: form and in the result (e.g. "Talk to your leader today; the duty to notify applies").
    act_now: LocalText | None = None


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
    #: Every item must be answered (safety items): a blank is an error naming the item,
    #: never read as "no".
    required: bool = False


class Total(_Record):
    """The total score: the sum of some ``concern`` domains, scorable when all of them are."""

    label: LocalText
    domains: tuple[str, ...] = Field(min_length=1)
    bands: Cutoffs


class PercentileRule(_Record):
    """Cut-offs as percentiles of a norm population (``gul`` from yellow, ``rød`` from red)."""

    yellow: float = Field(gt=0, lt=100)
    red: float = Field(gt=0, lt=100)

    @model_validator(mode="after")
    def _ordered(self) -> PercentileRule:
        if self.yellow >= self.red:
            raise ValueError(f"yellow {self.yellow} must be below red {self.red}")
        return self


class Norms(_Record):
    """Where the band cut-offs come from: a norm population and a percentile rule.

    Written by ``opsporing norms`` (:func:`opsporing.scoring.derive_norms`); the cut-offs
    themselves stay in each domain's and the total's ``bands``.
    """

    total: PercentileRule | None = None
    domains: PercentileRule
    population: LocalText
    n: int = Field(ge=1)
    source: str = Field(min_length=1, max_length=500)


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
    informant: Informant = "educator"
    overall: OverallRule = "worst"
    #: Texts shown on the form before the first item, in order (e.g. for a child: what
    #: happens with the answers, the limits of confidentiality, who answers the same day).
    notices: tuple[LocalText, ...] = ()
    norms: Norms | None = None


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
        """Every item of the domain, including number items (which are not summed)."""
        return tuple(i for i in self.items if i.domain == domain_id)

    def is_scored(self, item: Item) -> bool:
        """Whether the item's answer is summed into its domain's score.

        Items on a ``number`` scale (counts such as days absent) never are: they raise
        concepts through their evidence rules and may be critical.
        """
        return not self.scale(item.scale).is_number

    def scored_items_in(self, domain_id: str) -> tuple[Item, ...]:
        """The items summed into the domain's score: its size for ``min_answered``,
        prorating, the score range and answered fractions.

        Examples
        --------
        >>> from opsporing.instruments import get_instrument
        >>> inst = get_instrument("topi")
        >>> [i.id for i in inst.scored_items_in("vurdering")]
        ['1vurdering']
        """
        return tuple(i for i in self.items_in(domain_id) if self.is_scored(i))

    def score_range(self, domain_id: str) -> tuple[float, float]:
        """Lowest and highest score the domain can take (number items are not summed)."""
        d = self.domain(domain_id)
        scales = [self.scale(i.scale) for i in self.scored_items_in(domain_id)]
        lo = sum(s.min for s in scales)
        hi = sum(s.max for s in scales)
        if d.method == "mean" and scales:
            return lo / len(scales), hi / len(scales)
        return float(lo), float(hi)
