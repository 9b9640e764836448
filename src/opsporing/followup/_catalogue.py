"""The catalogue of step-1 and step-2 measures, and when a plan is looked at again (as data).

One file, ``opsporing/followup/data/followup.yaml``, holds the measures (id, Danish and English
label, step, the seed it is drawn from), the days from a plan to its review by step, and what a
review may conclude. :func:`load_catalogue` reads it once; :func:`review_days` is the one
function that says how long until a review.

Examples
--------
>>> cat = load_catalogue()
>>> cat.measure("s2.group").label.da, cat.measure("s2.group").step
('Netværks- eller samtalegruppe', 2)
>>> review_days(0), review_days(1)
(14, 42)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from .._safeload import parse_tree
from ..errors import DataError, FollowUpError, Problem
from ..vocabulary import Text, load_vocabulary, text_problems

__all__ = [
    "OUTCOMES",
    "Catalogue",
    "Measure",
    "default_review_date",
    "load_catalogue",
    "review_days",
]

_SOURCE = "opsporing/followup/data/followup.yaml"


@dataclass(frozen=True, slots=True)
class Measure:
    """One agreed action a daycare or school can take with the parents.

    Attributes
    ----------
    id : str
        Stable id, e.g. ``"s1.parent_talk"``.
    step : int
        The staircase step the measure belongs to (1 or 2).
    label : Text
    source : str
        The seed (``shared/seeds``) it is drawn from.
    """

    id: str
    step: int
    label: Text
    source: str


@dataclass(frozen=True)
class Catalogue:
    """The parsed ``followup.yaml``: measures, review intervals and review outcomes."""

    version: str
    measures: Mapping[str, Measure]
    review_after_days: Mapping[int, int]
    outcomes: Mapping[str, Text]
    #: Red-flag concerns (suspected violence or abuse) for which the parents are not told
    #: before the municipality (no dialogue-based notification).
    parents_not_told_first: frozenset[str]

    def measure(self, measure_id: str) -> Measure:
        """The measure ``measure_id``; :class:`~opsporing.errors.FollowUpError` if unknown."""
        try:
            return self.measures[measure_id]
        except (KeyError, TypeError):
            raise FollowUpError(
                Problem("actions", str(measure_id), f"one of {sorted(self.measures)}")
            ) from None


def _text(node: Any, where: str, problems: list[Problem]) -> Text:
    # The vocabulary's one rule for a text: Danish required, any further language code.
    found = text_problems(node, where)
    if found:
        problems.extend(found)
        return Text("?")  # never used: the problems are raised before the catalogue is built
    return Text.of(node, where)


def _parse(tree: Any) -> Catalogue:
    problems: list[Problem] = []
    if not isinstance(tree, Mapping):
        raise DataError(Problem(_SOURCE, type(tree).__name__, "a mapping"))
    steps = {s.number for s in load_vocabulary().steps}
    municipal_from = load_vocabulary().municipal_assessment_from_step
    measures: dict[str, Measure] = {}
    for mid, node in dict(tree.get("measures") or {}).items():
        where = f"measures.{mid}"
        if not isinstance(node, Mapping):
            problems.append(Problem(where, node, "a mapping with step, source and label"))
            continue
        step = node.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or not 1 <= step < municipal_from:
            problems.append(
                Problem(f"{where}.step", step, f"a step from 1 to {municipal_from - 1}")
            )
            step = 1
        source = node.get("source")
        if not isinstance(source, str) or not source.startswith("seed "):
            problems.append(Problem(f"{where}.source", source, "the seed it is drawn from"))
        measures[str(mid)] = Measure(
            str(mid), step, _text(node.get("label"), f"{where}.label", problems), str(source)
        )
    days: dict[int, int] = {}
    raw_days = tree.get("review_after_days")
    for step_key, value in dict(raw_days if isinstance(raw_days, Mapping) else {}).items():
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 366
        if step_key not in steps or not ok:
            problems.append(
                Problem(f"review_after_days.{step_key}", value, "1-366 days for a step 0-6")
            )
            continue
        days[int(step_key)] = int(value)
    missing = sorted(steps - set(days))
    if missing:
        problems.append(Problem("review_after_days", missing, "a number of days for every step"))
    outcomes = {
        str(code): _text(label, f"outcomes.{code}", problems)
        for code, label in dict(tree.get("outcomes") or {}).items()
    }
    if set(outcomes) != {"resolved", "continues", "escalates"}:
        problems.append(Problem("outcomes", sorted(outcomes), "resolved, continues, escalates"))
    if not measures:
        problems.append(Problem("measures", None, "at least one measure"))
    voc = load_vocabulary()
    red_flags = {c.code for c in voc.red_flags}
    not_first = tree.get("parents_not_told_first")
    if not isinstance(not_first, list) or not not_first:
        problems.append(Problem("parents_not_told_first", not_first, "a list of red-flag codes"))
        not_first = []
    for code in not_first:
        if code not in red_flags:
            problems.append(
                Problem("parents_not_told_first", code, f"a red-flag concern {sorted(red_flags)}")
            )
    if problems:
        raise DataError(*problems)
    return Catalogue(
        str(tree.get("version", "")), measures, days, outcomes, frozenset(map(str, not_first))
    )


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with opsporing (read once)."""
    text = resources.files("opsporing.followup").joinpath("data/followup.yaml").read_text("utf-8")
    return _parse(parse_tree(text, _SOURCE, fmt="yaml"))


#: What a review may conclude (codes of ``outcomes`` in followup.yaml).
OUTCOMES: tuple[str, ...] = ("resolved", "continues", "escalates")


def review_days(step: int) -> int:
    """Days from a plan to its review, for a plan following a decision at ``step``.

    The one reader of ``review_after_days``.

    Examples
    --------
    >>> review_days(2)
    56
    >>> review_days(9)
    Traceback (most recent call last):
    ...
    opsporing.errors.FollowUpError: step = 9: expected a staircase step 0-6
    """
    table = load_catalogue().review_after_days
    if isinstance(step, bool) or step not in table:
        raise FollowUpError(Problem("step", step, "a staircase step 0-6"))
    return table[step]


def default_review_date(step: int, start: date) -> date:
    """The review date of a plan made on ``start`` after a decision at ``step``.

    Examples
    --------
    >>> default_review_date(1, date(2026, 12, 1))
    datetime.date(2027, 1, 12)
    """
    return start + timedelta(days=review_days(step))
