"""SDQ (Strengths and Difficulties Questionnaire) scored by its public scoring rules.

Only the *scoring key* is here: which KL Gateway linkId belongs to which subscale, which
items are reverse-scored, and how the impact supplement is counted. The questionnaire's
wording is copyright youthinmind and is neither shipped nor reproduced; the linkIds are
the identifiers of the KL Gateway children implementation guide (``hl7dk/kl-children``).

Rules (R. Goodman's published scoring instructions for the SDQ for 4-17 year olds):

- Each of the 25 items is answered 0 "Passer ikke", 1 "Passer delvist", 2 "Passer godt";
  five items are reverse-scored (2 - answer).
- Five subscales of five items score 0-10. A subscale is scored when at least 3 of its 5
  items are answered: the mean of the answered items × 5, rounded half up (a score of
  4 from 3 items becomes 6.67, rounded to 7). With fewer answers it is missing.
- Total difficulties = emotional + conduct + hyperactivity + peer (0-40), missing when
  any of the four is; externalising = conduct + hyperactivity and internalising =
  emotional + peer (0-20 each). The prosocial scale is not part of the total.
- Impact (0-10): distress and the four impairment items (home, friendships, learning,
  leisure), each "Slet ikke"/"Kun lidt" = 0, "Ret meget" = 1, "Virkelig meget" = 2,
  summed when at least one of the five is answered (an unanswered one counts 0, as in
  the published scoring syntax); missing when none is. It is 0 when the overall
  question says there are no difficulties ("Nej"). Chronicity and burden on others are
  not scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from numbers import Real
from typing import Any

from ..errors import Problem, ResponseValidationError
from ._common import shown

#: The five subscales and their items (KL Gateway linkIds), in SDQ item order.
SDQ_SUBSCALES: dict[str, tuple[str, ...]] = {
    "emotional": ("3headache", "8oftenWorried", "13sad", "16uneasy", "24afraid"),
    "conduct": ("5angry", "7followInstructions", "12fighting", "18lying", "22steal"),
    "hyperactivity": ("2restless", "10restlessBody", "15distracted", "21consideration", "25finish"),
    "peer": ("6keepingToOneSelf", "11friend", "14liked", "19bullied", "23PreferAdults"),
    "prosocial": ("1friendly", "4sharing", "9helpfull", "17treatWell", "20offersHelp"),
}

#: Items scored 2 - answer (items 7, 11, 14, 21 and 25 of the SDQ).
SDQ_REVERSED = frozenset(
    {"7followInstructions", "11friend", "14liked", "21consideration", "25finish"}
)

#: The 25 symptom/strength items in questionnaire order (1-25).
SDQ_ITEMS: tuple[str, ...] = tuple(
    sorted(
        (i for items in SDQ_SUBSCALES.values() for i in items),
        key=lambda link: int("".join(c for c in link if c.isdigit())),
    )
)

#: Overall question of the impact supplement: 0 "Nej" … 3 (severe difficulties).
SDQ_DIFFICULTIES = "26difficulties"
#: How long the difficulties have lasted (0-3); reported, not scored.
SDQ_CHRONICITY = "27difficultiesPeriod"
#: Distress and impairment items summed into the impact score.
SDQ_IMPACT_ITEMS: tuple[str, ...] = (
    "28difficultiesUnhappy",
    "29affectFamilyLife",
    "30affectFriendships",
    "31affectLearning",
    "32affectLeisureActivities",
)
#: Burden on others (parent) / on those around (self-report); reported, not scored.
SDQ_BURDEN = "33AffectOthers"

#: Every linkId of the KL Gateway SDQ questionnaires with the number of answer options.
SDQ_LINK_IDS: dict[str, int] = {
    **dict.fromkeys(SDQ_ITEMS, 3),
    SDQ_DIFFICULTIES: 4,
    SDQ_CHRONICITY: 4,
    **dict.fromkeys(SDQ_IMPACT_ITEMS, 4),
    SDQ_BURDEN: 4,
}

#: Impact items: 0-1 ("not at all", "only a little") count 0, 2 counts 1, 3 counts 2.
_IMPACT_POINTS = (0, 0, 1, 2)
_SCALES = tuple(SDQ_SUBSCALES)


@dataclass(frozen=True, slots=True)
class SDQScore:
    """The SDQ scores of one form; ``None`` where a score is missing by the rules.

    Attributes
    ----------
    emotional, conduct, hyperactivity, peer, prosocial : int or None
        Subscale scores 0-10 (prorated from 3 or 4 answered items).
    total_difficulties : int or None
        0-40, the sum of the four problem scales.
    externalising, internalising : int or None
        conduct + hyperactivity, emotional + peer (0-20).
    impact : int or None
        0-10; ``None`` when no impact item is answered (and the overall question
        is not "Nej").
    answered : dict of str to int
        Items answered per subscale.
    """

    emotional: int | None
    conduct: int | None
    hyperactivity: int | None
    peer: int | None
    prosocial: int | None
    total_difficulties: int | None
    externalising: int | None
    internalising: int | None
    impact: int | None
    answered: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        d = asdict(self)
        d["answered"] = dict(self.answered)
        return d


def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def _sum(*scores: int | None) -> int | None:
    return None if any(s is None for s in scores) else sum(s for s in scores if s is not None)


def score_sdq(answers: Mapping[str, Any]) -> SDQScore:
    """Score one SDQ form by the public SDQ scoring rules.

    Parameters
    ----------
    answers : mapping of KL Gateway linkId to answer
        0-2 for the 25 items (0 "Passer ikke", 1 "Passer delvist", 2 "Passer godt",
        before reverse-scoring), 0-3 for the impact supplement items (their position
        in the answer list), ``None`` or left out when not answered. This is what
        :func:`from_kl_sdq_response` returns.

    Returns
    -------
    SDQScore

    Raises
    ------
    ResponseValidationError
        Listing every unknown linkId and every answer outside its range.

    Examples
    --------
    Four emotional items answered 1, 1, 1, 2 score (5 / 4) × 5 = 6.25, rounded to 6;
    ``7followInstructions`` is reverse-scored, so 0 counts 2:

    >>> s = score_sdq({"3headache": 1, "8oftenWorried": 1, "13sad": 1, "16uneasy": 2,
    ...                "5angry": 0, "7followInstructions": 0, "12fighting": 1})
    >>> s.emotional, s.conduct, s.hyperactivity, s.total_difficulties
    (6, 5, None, None)
    """
    if not isinstance(answers, Mapping):
        raise ResponseValidationError(
            [
                Problem(
                    "answers", type(answers).__name__, "a mapping of linkId to answer", kind="type"
                )
            ]
        )
    problems: list[Problem] = []
    values: dict[str, int] = {}
    for link, value in answers.items():
        n_options = SDQ_LINK_IDS.get(link) if isinstance(link, str) else None
        if n_options is None:
            problems.append(
                Problem(str(link), shown(value), "an SDQ linkId of KL Gateway", kind="unknown_item")
            )
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        elif (
            isinstance(value, Real)
            and not isinstance(value, bool)
            and value in range(n_options)  # 1 and 1.0, never "1", True, 1.5 or inf
        ):
            values[link] = int(float(value))
        else:
            problems.append(
                Problem(
                    link,
                    shown(value),
                    f"one of {', '.join(map(str, range(n_options)))} (or None)",
                    kind="out_of_range",
                )
            )
    if problems:
        raise ResponseValidationError(problems, headline="invalid SDQ answers")

    scores: dict[str, int | None] = {}
    answered: dict[str, int] = {}
    for scale, items in SDQ_SUBSCALES.items():
        points = [2 - values[i] if i in SDQ_REVERSED else values[i] for i in items if i in values]
        answered[scale] = len(points)
        scores[scale] = (
            _round_half_up(Fraction(sum(points) * len(items), len(points)))
            if len(points) >= 3
            else None
        )
    if values.get(SDQ_DIFFICULTIES) == 0:
        impact: int | None = 0
    elif any(i in values for i in SDQ_IMPACT_ITEMS):
        impact = sum(_IMPACT_POINTS[values[i]] for i in SDQ_IMPACT_ITEMS if i in values)
    else:
        impact = None
    return SDQScore(
        emotional=scores["emotional"],
        conduct=scores["conduct"],
        hyperactivity=scores["hyperactivity"],
        peer=scores["peer"],
        prosocial=scores["prosocial"],
        total_difficulties=_sum(
            scores["emotional"], scores["conduct"], scores["hyperactivity"], scores["peer"]
        ),
        externalising=_sum(scores["conduct"], scores["hyperactivity"]),
        internalising=_sum(scores["emotional"], scores["peer"]),
        impact=impact,
        answered=answered,
    )
