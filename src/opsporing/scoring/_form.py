"""Scoring one form: a mapping of item id to answer in, a frozen record out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument
from ._batch import _is_number, _number_expected, _plain, age_expectation, required_expected
from ._core import BANDS, validate_and_score
from ._key import critical_hits, scoring_key


@dataclass(frozen=True, slots=True)
class DomainScore:
    """The score of one domain of one form.

    ``score`` and ``band`` are ``None`` when the domain is not scorable (too few
    answers): an unanswered domain is *unknown*, never zero.
    """

    domain: str
    score: float | None
    band: str | None
    answered: int
    n_items: int
    scorable: bool
    direction: str


@dataclass(frozen=True, slots=True)
class CriticalAnswer:
    """A critical answer on one form: the item, the raw answer and what to do now.

    ``act_now`` holds the item's act-now text by language (``{"da": ..., "en": ...}``),
    or is ``None`` when the item has none.
    """

    item: str
    answer: float
    act_now: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class FormScore:
    """Everything the scoring of one form found.

    Attributes
    ----------
    instrument : str
        ``"id@version"`` of the instrument used.
    domains : dict of str to DomainScore
    total, total_band : float or None, str or None
    overall_band : str or None
        By the instrument's ``overall`` rule: ``worst``, the worst band of the total
        and the domains; ``total``, the total's band, at least ``"gul"`` with a
        concern domain at ``"rød"`` or a critical answer. ``"rød"`` whenever a red
        flag is raised; ``None`` when nothing could be scored.
    concerns, protective_factors, red_flags : tuple of str
        Vocabulary codes evidenced by the answers.
    missing_items : tuple of str
        Items not answered.
    critical_answers : tuple of CriticalAnswer
        The items answered at their critical bound, with their act-now texts.
    """

    instrument: str
    domains: Mapping[str, DomainScore]
    total: float | None
    total_band: str | None
    overall_band: str | None
    concerns: tuple[str, ...]
    protective_factors: tuple[str, ...]
    red_flags: tuple[str, ...]
    missing_items: tuple[str, ...]
    critical_answers: tuple[CriticalAnswer, ...] = ()

    @property
    def red_flag(self) -> bool:
        """Whether any red-flag concern was raised: the duty to notify applies now."""
        return bool(self.red_flags)

    @property
    def critical(self) -> bool:
        """Whether any critical answer was given (the overall band is at least gul)."""
        return bool(self.critical_answers)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        d = asdict(self)
        d["domains"] = {k: asdict(v) for k, v in self.domains.items()}
        return d


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _band(code: int) -> str | None:
    return BANDS[code] if code >= 0 else None


def score_form(
    instrument: Instrument,
    answers: Mapping[str, Any],
    *,
    age_years: float | None = None,
    setting: str | None = None,
    version: str | None = None,
) -> FormScore:
    """Score one filled-in form.

    Parameters
    ----------
    instrument : Instrument
    answers : mapping of item id to answer
        A number from the item's scale, or ``None`` for not answered. Items left out
        count as not answered.
    age_years : float, optional
        The child's age; checked against the instrument's age range.
    setting : {"dagtilbud", "skole"}, optional
        Checked against the instrument's settings.
    version : str, optional
        The instrument version the form was filled in with; must match.

    Raises
    ------
    ResponseValidationError
        Listing every problem: unknown items, answers outside the scale, wrong
        version, age or setting.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> result = score_form(get_instrument("topi"), {"1vurdering": 1})
    >>> result.overall_band
    'gul'
    >>> score_form(get_instrument("topi"), {"1vurdering": 5})
    Traceback (most recent call last):
    ...
    opsporing.errors.ResponseValidationError: invalid answers for topi@1.0.0 (1 problem)
      - 1vurdering = 5: expected one of 0, 1, 2 (or empty)
    """
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [
                Problem(
                    "instrument", type(instrument).__name__, "an opsporing Instrument", kind="type"
                )
            ]
        )
    if not isinstance(answers, Mapping):
        raise ResponseValidationError(
            [
                Problem(
                    "answers", type(answers).__name__, "a mapping of item id to answer", kind="type"
                )
            ]
        )
    key = scoring_key(instrument)
    problems: list[Problem] = []
    row = np.full((1, len(key.items)), np.nan)
    index = {item: j for j, item in enumerate(key.items)}
    for item, value in answers.items():
        j = index.get(item) if isinstance(item, str) else None
        if j is None:
            problems.append(
                Problem(
                    field=str(item),
                    value=value,
                    expected=f"an item id of {instrument.key}",
                    kind="unknown_item",
                )
            )
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        elif not _is_number(value) or not math.isfinite(value):
            problems.append(
                Problem(
                    field=item,
                    value=value,
                    expected=_number_expected(key, j),
                    kind="not_a_number",
                )
            )
        else:
            row[0, j] = float(value)
    s, bad = validate_and_score(key, row)
    for k in np.flatnonzero(bad[0]).tolist() if bad is not None else []:
        problems.append(
            Problem(
                field=key.items[k],
                value=answers[key.items[k]],
                expected=key.expected[k],
                kind="out_of_range",
            )
        )
    for k in key.required.tolist():
        if np.isnan(row[0, k]) and _is_blank(answers.get(key.items[k])):
            problems.append(
                Problem(
                    field=key.items[k],
                    value=None,
                    expected=required_expected(key, k),
                    kind="required",
                )
            )
    if version is not None and version != instrument.version:
        problems.append(
            Problem(
                field="instrument_version",
                value=version,
                expected=f"{instrument.version!r} ({instrument.key})",
                kind="wrong_instrument",
            )
        )
    if age_years is not None:
        if not _is_number(age_years) or not math.isfinite(age_years):
            problems.append(
                Problem(
                    field="age_years",
                    value=age_years,
                    expected="a number of years",
                    kind="not_a_number",
                )
            )
        elif not instrument.age_years.min <= age_years <= instrument.age_years.max:
            problems.append(
                Problem(
                    field="age_years",
                    value=age_years,
                    expected=age_expectation(instrument),
                    kind="age_out_of_range",
                )
            )
    if setting is not None and setting not in instrument.settings:
        problems.append(
            Problem(
                field="setting",
                value=setting,
                expected=f"one of {list(instrument.settings)} for {instrument.key}",
                kind="wrong_setting",
            )
        )
    if problems:
        from ._batch import red_flags_of

        raise ResponseValidationError(
            problems,
            headline=f"invalid answers for {instrument.key}",
            red_flags=red_flags_of(key, s, pd.RangeIndex(1), np.ones(1, dtype=bool)),
        )

    domains = {
        dom: DomainScore(
            domain=dom,
            score=_none_if_nan(s.domain_score[0, d]),
            band=_band(int(s.domain_band[0, d])),
            answered=int(s.domain_answered[0, d]),
            n_items=int(key.n_items[d]),
            scorable=not math.isnan(s.domain_score[0, d]),
            direction=instrument.domains[d].direction,
        )
        for d, dom in enumerate(key.domains)
    }
    hits, cols = critical_hits(key, row)
    critical = []
    for j in sorted(set(cols[hits[0]].tolist())):
        item = instrument.items[j]
        text = item.act_now
        critical.append(
            CriticalAnswer(
                item=item.id,
                answer=_plain(row[0, j]),
                act_now={"da": text.da, "en": text.en} if text is not None else None,
            )
        )
    raised = s.concepts[0]
    codes = np.array(key.concepts, dtype=object)
    return FormScore(
        instrument=instrument.key,
        domains=domains,
        total=_none_if_nan(s.total_score[0]),
        total_band=_band(int(s.total_band[0])),
        overall_band=_band(int(s.overall_band[0])),
        concerns=tuple(codes[raised & ~key.protective]),
        protective_factors=tuple(codes[raised & key.protective]),
        red_flags=tuple(codes[raised & key.red_flag]),
        missing_items=tuple(key.items[j] for j in np.flatnonzero(np.isnan(row[0]))),
        critical_answers=tuple(critical),
    )


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
