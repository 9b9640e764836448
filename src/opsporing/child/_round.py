"""A screening round: several informants' forms for one child at one time, scored together.

Each informant's domain scores and bands are kept as they are. The combined view of a
domain is the *worst* band any informant gives it, shown next to every informant's own
band and a disagreement level: disagreement is information (the educator sees rød where
the parents see grøn), and nothing here averages it away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

import pandas as pd

from .._texts import Lang, tr
from ..errors import Problem, ResponseValidationError
from ..instruments import Informant, Instrument
from ..privacy import CPR_MASK, looks_like_cpr
from ..scoring import FormScore, score_form
from ..vocabulary import Text, load_vocabulary
from ._scale import BANDS, band_rank, domain_ranges, level_of

__all__ = [
    "DISAGREEMENT_LEVELS",
    "INFORMANTS",
    "Disagreement",
    "DomainRound",
    "DomainView",
    "InformantForm",
    "RoundForm",
    "ScreeningRound",
    "score_round",
]

#: The informants, in the order they are shown.
INFORMANTS: tuple[str, ...] = get_args(Informant)

Disagreement = Literal["unscored", "single", "agree", "differ", "conflict"]
#: How far apart the informants' bands on a domain are: nobody scored it, one voice
#: only, the same band, one band apart (grøn/gul, gul/rød), grøn against rød.
DISAGREEMENT_LEVELS: tuple[str, ...] = get_args(Disagreement)
_BY_GAP: tuple[Disagreement, ...] = ("agree", "differ", "conflict")


@dataclass(frozen=True, slots=True)
class RoundForm:
    """One filled-in form of a round, before scoring (the input of :func:`score_round`).

    Attributes
    ----------
    child_id : str
        The child's pseudonymous id (never a CPR number).
    round_id : str
        Names the screening round (e.g. ``"2026-efterår"``); every form of a round has it.
    date : datetime.date
        When the form was filled in.
    instrument : Instrument
        The form; its ``informant`` says who answered.
    answers : mapping of item id to answer
    age_years, setting : optional
        Checked against the instrument when given.
    """

    child_id: str
    round_id: str
    date: date
    instrument: Instrument
    answers: Mapping[str, Any]
    age_years: float | None = None
    setting: str | None = None


@dataclass(frozen=True, slots=True)
class DomainView:
    """What one informant's form says about one domain.

    ``level`` is the common scale: the share of the domain's score range in the
    direction of concern (0 = least concern, 1 = most; see :mod:`opsporing.child`).
    ``score``, ``band`` and ``level`` are ``None`` when the domain was not scorable.
    """

    informant: str
    instrument: str
    domain: str
    score: float | None
    band: str | None
    level: float | None
    direction: str
    #: Lowest and highest score the domain can take on this instrument (for the level's SEM).
    score_range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True, slots=True)
class InformantForm:
    """One informant's scored form within a round."""

    informant: str
    instrument: str
    date: date
    overall_band: str | None
    red_flags: tuple[str, ...]
    views: tuple[DomainView, ...]
    age_years: float | None = None
    setting: str | None = None

    def view(self, domain: str) -> DomainView | None:
        """This informant's view of ``domain`` (``None`` if the form has no such domain)."""
        return next((v for v in self.views if v.domain == domain), None)


@dataclass(frozen=True, slots=True)
class DomainRound:
    """One domain in a round: who said what, the combined band and the disagreement.

    Attributes
    ----------
    domain : str
    label : Text
        The domain's name in Danish and English (from the first form that has it).
    views : tuple of DomainView
        Every informant's view, in the order of :data:`INFORMANTS`.
    combined_band : str or None
        The worst band any informant gives the domain (disagreement is never averaged).
    band_gap : int or None
        Bands between the most and the least concerned informant (0, 1 or 2).
    level_spread : float or None
        Highest minus lowest concern level among the informants who scored the domain.
    disagreement : {"unscored", "single", "agree", "differ", "conflict"}
    """

    domain: str
    label: Text
    views: tuple[DomainView, ...]
    combined_band: str | None
    band_gap: int | None
    level_spread: float | None
    disagreement: Disagreement

    @property
    def scored(self) -> tuple[DomainView, ...]:
        """The views with a band."""
        return tuple(v for v in self.views if v.band is not None)

    def sentence(self, lang: Lang = "da") -> str:
        """The domain's views and their agreement in one plain sentence.

        Examples
        --------
        >>> view = lambda who, band: DomainView(who, "x@1", "social", 1.0, band, 0.1, "concern")
        >>> d = DomainRound("social", Text("Socialt", "Social"),
        ...                 (view("educator", "rød"), view("parent", "grøn")),
        ...                 "rød", 2, 0.6, "conflict")
        >>> d.sentence("en")  # doctest: +NORMALIZE_WHITESPACE
        'Social: the educator sees red, the parent sees green. The informants see the child
        very differently here: talk together about what each of them sees before anything
        is decided.'
        """
        name = self.label.get(lang)
        scored = self.scored
        views = ", ".join(
            tr("{who} sees {band}", lang, who=_who(v.informant, lang), band=_band(v.band, lang))
            for v in scored
        )
        if self.disagreement == "unscored":
            return tr(
                "{domain}: no informant answered enough items to score it.", lang, domain=name
            )
        if self.disagreement == "single":
            v = scored[0]
            return tr(
                "{domain}: only {who} scored it ({band}).",
                lang,
                domain=name,
                who=_who(v.informant, lang),
                band=_band(v.band, lang),
            )
        if self.disagreement == "agree":
            return tr("{domain}: {views}; they agree.", lang, domain=name, views=views)
        if self.disagreement == "differ":
            return tr(
                "{domain}: {views}. The views differ by one band: ask what each of them sees.",
                lang,
                domain=name,
                views=views,
            )
        return tr(
            "{domain}: {views}. The informants see the child very differently here: talk "
            "together about what each of them sees before anything is decided.",
            lang,
            domain=name,
            views=views,
        )


def _who(informant: str, lang: Lang) -> str:
    # One literal tr() per informant, so the catalog's extractor finds each message.
    if informant == "parent":
        return tr("the parent", lang)
    if informant == "child":
        return tr("the child", lang)
    return tr("the educator", lang)


def _band(band: str | None, lang: Lang) -> str:
    if band is None:
        return "-"
    return load_vocabulary().band(band).label.get(lang).lower()


@dataclass(frozen=True, slots=True)
class ScreeningRound:
    """Several informants' forms for one child at one time, scored together.

    Make one with :func:`score_round` (or :func:`score_rounds` for a table).

    Attributes
    ----------
    child_id, round_id : str
    date : datetime.date
        The earliest form date of the round (its place in the child's time line).
    forms : tuple of InformantForm
        One per informant, in the order of :data:`INFORMANTS`.
    domains : tuple of DomainRound
        Every domain any form scores, with who said what and the disagreement.
    """

    child_id: str
    round_id: str
    date: date
    forms: tuple[InformantForm, ...]
    domains: tuple[DomainRound, ...]

    @property
    def informants(self) -> tuple[str, ...]:
        return tuple(f.informant for f in self.forms)

    @property
    def overall_band(self) -> str | None:
        """The worst overall band of any informant's form."""
        ranks = [r for f in self.forms if (r := band_rank(f.overall_band)) is not None]
        return BANDS[max(ranks)] if ranks else None

    @property
    def red_flags(self) -> tuple[str, ...]:
        """Every red flag any form raised: the duty to notify applies now."""
        return tuple(sorted({c for f in self.forms for c in f.red_flags}))

    def form(self, informant: str) -> InformantForm | None:
        return next((f for f in self.forms if f.informant == informant), None)

    def domain(self, domain: str) -> DomainRound:
        for d in self.domains:
            if d.domain == domain:
                return d
        raise KeyError(domain)

    def disagreements(self) -> tuple[DomainRound, ...]:
        """The domains on which the informants' bands differ (``differ`` or ``conflict``)."""
        return tuple(d for d in self.domains if d.disagreement in ("differ", "conflict"))

    def to_frame(self, lang: Lang = "da") -> pd.DataFrame:
        """One row per domain: each informant's band and level, the combined band, the
        disagreement and its sentence.

        Columns ``child_id, round_id, date, domain, label``, then ``band.<informant>`` and
        ``level.<informant>`` for every informant of the round, ``combined_band``,
        ``band_gap``, ``level_spread``, ``disagreement`` and ``sentence``.
        """
        rows = []
        for d in self.domains:
            row: dict[str, Any] = {
                "child_id": self.child_id,
                "round_id": self.round_id,
                "date": self.date,
                "domain": d.domain,
                "label": d.label.get(lang),
            }
            for who in self.informants:
                v = next((v for v in d.views if v.informant == who), None)
                row[f"band.{who}"] = v.band if v else None
                row[f"level.{who}"] = v.level if v else None
            row.update(
                combined_band=d.combined_band,
                band_gap=d.band_gap,
                level_spread=d.level_spread,
                disagreement=d.disagreement,
                sentence=d.sentence(lang),
            )
            rows.append(row)
        return pd.DataFrame(rows)



# --- building ----------------------------------------------------------------------------------
def informant_form(
    instrument: Instrument,
    when: date,
    scores: Mapping[str, tuple[float | None, str | None]],
    overall_band: str | None,
    red_flags: Iterable[str],
    *,
    age_years: float | None = None,
    setting: str | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> InformantForm:
    """An :class:`InformantForm` from one form's domain ``(score, band)`` pairs.

    ``ranges`` (:func:`domain_ranges` of the instrument) saves recomputing them per form.
    """
    ranges = domain_ranges(instrument) if ranges is None else ranges
    views = []
    for dom in instrument.domains:
        score, band = scores.get(dom.id, (None, None))
        if score is not None and math.isnan(score):
            score, band = None, None
        views.append(
            DomainView(
                informant=instrument.informant,
                instrument=instrument.key,
                domain=dom.id,
                score=None if score is None else float(score),
                band=band,
                level=level_of(score, *ranges[dom.id], dom.direction),
                direction=dom.direction,
                score_range=ranges[dom.id],
            )
        )
    return InformantForm(
        informant=instrument.informant,
        instrument=instrument.key,
        date=when,
        overall_band=overall_band,
        red_flags=tuple(sorted(set(red_flags))),
        views=tuple(views),
        age_years=age_years,
        setting=setting,
    )


def _from_form_score(form: RoundForm, scored: FormScore) -> InformantForm:
    return informant_form(
        form.instrument,
        _day(form.date) or date.min,
        {d: (s.score, s.band) for d, s in scored.domains.items()},
        scored.overall_band,
        scored.red_flags,
        age_years=form.age_years,
        setting=form.setting,
    )


def build_round(
    child_id: str,
    round_id: str,
    forms: Sequence[InformantForm],
    labels: Mapping[str, Text],
) -> ScreeningRound:
    """A :class:`ScreeningRound` from validated, scored forms (one per informant)."""
    ordered = tuple(sorted(forms, key=lambda f: INFORMANTS.index(f.informant)))
    domains: list[str] = []
    for f in ordered:
        domains += [v.domain for v in f.views if v.domain not in domains]
    out = []
    for dom in domains:
        views = tuple(v for f in ordered if (v := f.view(dom)) is not None)
        ranks = [r for v in views if (r := band_rank(v.band)) is not None]
        levels = [v.level for v in views if v.level is not None and v.band is not None]
        if not ranks:
            level: Disagreement = "unscored"
        elif len(ranks) == 1:
            level = "single"
        else:
            level = _BY_GAP[max(ranks) - min(ranks)]
        out.append(
            DomainRound(
                domain=dom,
                label=labels[dom],
                views=views,
                combined_band=BANDS[max(ranks)] if ranks else None,
                band_gap=max(ranks) - min(ranks) if len(ranks) > 1 else None,
                level_spread=max(levels) - min(levels) if len(levels) > 1 else None,
                disagreement=level,
            )
        )
    return ScreeningRound(
        child_id=child_id,
        round_id=round_id,
        date=min(f.date for f in ordered),
        forms=ordered,
        domains=tuple(out),
    )


def domain_labels(instruments: Iterable[Instrument]) -> dict[str, Text]:
    """Each domain's name from the first instrument that has it, in informant order
    (the educator's form names it if it has it), so the input order never matters."""
    labels: dict[str, Text] = {}
    for inst in sorted(instruments, key=lambda i: INFORMANTS.index(i.informant)):
        for d in inst.domains:
            labels.setdefault(d.id, Text(da=d.label.da, en=d.label.en))
    return labels


def _day(value: object) -> date | None:
    """A date (a datetime counts as its day), or ``None`` if ``value`` is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def check_child_id(
    value: object, field: str = "child_id", row: int | str | None = None
) -> list[Problem]:
    """Problems with a pseudonymous child id: text, not empty, never a CPR number."""
    if looks_like_cpr(value):
        return [
            Problem(
                field,
                CPR_MASK,
                "a pseudonymous id, never a CPR number",
                row=row,
                kind="personal_identifier",
            )
        ]
    if not isinstance(value, str) or not value.strip():
        return [Problem(field, value, "a pseudonymous id (non-empty text)", row=row)]
    return []


def score_round(forms: Sequence[RoundForm]) -> ScreeningRound:
    """Score several informants' forms of one child and one round together.

    Parameters
    ----------
    forms : sequence of RoundForm
        At most one form per informant; all of the same ``child_id`` and ``round_id``.

    Returns
    -------
    ScreeningRound
        Per informant the domain scores and bands; per domain who said what, the
        combined (worst) band, the disagreement level and a plain sentence.

    Raises
    ------
    ResponseValidationError
        Listing every problem of every form (``row`` = the form's position): answers
        that do not fit, a CPR number as child id, forms of different children or
        rounds, two forms of one informant, a date that is not a date.

    Examples
    --------
    >>> from datetime import date
    >>> from opsporing.instruments import get_instrument
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> emo = [i.id for i in inst.items_in("emotional")]
    >>> r = score_round([RoundForm("C1", "2026-efterår", date(2026, 10, 1), inst,
    ...                            dict.fromkeys(emo, 3))])
    >>> d = r.domain("emotional")
    >>> d.combined_band, d.disagreement
    ('rød', 'single')
    >>> d.sentence("en")
    'Emotional well-being: only the educator scored it (red).'
    """
    if isinstance(forms, RoundForm) or not isinstance(forms, Sequence) or not forms:
        raise ResponseValidationError(
            [Problem("forms", _kind(forms), "a non-empty sequence of RoundForm", kind="type")]
        )
    problems: list[Problem] = []
    scored: list[InformantForm] = []
    red_flags: dict[Any, tuple[str, ...]] = {}
    first = forms[0] if isinstance(forms[0], RoundForm) else None
    seen: dict[str, int] = {}
    for i, form in enumerate(forms):
        if not isinstance(form, RoundForm):
            problems.append(Problem("forms", _kind(form), "a RoundForm", row=i, kind="type"))
            continue
        id_problems = check_child_id(form.child_id, row=i)
        problems += id_problems
        if not id_problems and first is not None and form.child_id != first.child_id:
            problems.append(_other("child_id", form.child_id, first.child_id, i))
        if not isinstance(form.round_id, str) or not form.round_id.strip():
            problems.append(Problem("round_id", form.round_id, "a round id (text)", row=i))
        elif first is not None and form.round_id != first.round_id:
            problems.append(_other("round_id", form.round_id, first.round_id, i))
        if _day(form.date) is None:
            problems.append(
                Problem("date", form.date, "a date (datetime.date)", row=i, kind="not_a_date")
            )
        if not isinstance(form.instrument, Instrument):
            problems.append(
                Problem("instrument", _kind(form.instrument), "an Instrument", row=i, kind="type")
            )
            continue
        who = form.instrument.informant
        if who in seen:
            problems.append(
                Problem(
                    "informant",
                    who,
                    f"one form per informant in a round (form {seen[who]} is also {who!r})",
                    row=i,
                    kind="duplicate_informant",
                )
            )
        seen.setdefault(who, i)
        try:
            result = score_form(
                form.instrument, form.answers, age_years=form.age_years, setting=form.setting
            )
        except ResponseValidationError as err:
            problems += [_at(p, i) for p in err.problems]
            flagged = {c for codes in err.red_flags.values() for c in codes}
            if flagged:
                red_flags[i] = tuple(sorted(flagged))
            continue
        if result.red_flags:
            red_flags[i] = result.red_flags
        scored.append(_from_form_score(form, result))
    if problems:
        raise ResponseValidationError(
            problems, headline="invalid screening round", red_flags=red_flags
        )
    assert first is not None  # every form is a RoundForm once there are no problems
    return build_round(
        first.child_id,
        first.round_id,
        scored,
        domain_labels(f.instrument for f in forms),
    )


def _at(p: Problem, row: int) -> Problem:
    return Problem(p.field, p.value, p.expected, row=row, kind=p.kind)


def _other(field: str, value: object, wanted: object, row: int) -> Problem:
    shown = CPR_MASK if looks_like_cpr(wanted) else wanted
    return Problem(
        field,
        value,
        f"{shown!r}, as in the round's first form (one child, one round)",
        row=row,
        kind="different_round",
    )


def _kind(value: object) -> str:
    return type(value).__name__
