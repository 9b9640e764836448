"""The child: several informants in one screening round, and the child over time.

- A **screening round** (:func:`score_round`, :func:`score_rounds` for a table): the
  educator's, the parents' and the child's own forms for one child at one time, scored
  together. Each informant keeps its own domain scores and bands; the combined band of a
  domain is the *worst* any informant gives (never an average), and each domain says how
  far the informants are apart (``agree``, ``differ``, ``conflict``) in a plain sentence
  in Danish or English.
- The **child over time** (:class:`ChildRecord`): the rounds and the recorded decisions
  in time order, across the move from daycare to school; per-domain trajectories
  (:meth:`ChildRecord.trajectory`), the reliable change index (:func:`reliable_change`),
  a figure (:func:`plot_trajectory`) and trajectory features for a model
  (:func:`trajectory_features`).

The common scale
----------------
Different instruments (the daycare and the school form, a parent form and a child's
self-report) are compared on the **concern level**: a domain's score as a share of its
score range, turned so that higher is always more concern (``(score - lo) / (hi - lo)``
for concern domains, ``(hi - score) / (hi - lo)`` for strength domains). Disagreement
between informants is judged on the **band** (each instrument's own cut-offs), with the
level beside it. See ``docs/child-over-time.md``.

Examples
--------
>>> from datetime import date
>>> from opsporing.instruments import get_instrument
>>> from opsporing.child import RoundForm, score_round
>>> inst = get_instrument("opsporing.dagtilbud.trivsel")
>>> soc = [i.id for i in inst.items_in("social")]
>>> r = score_round([RoundForm("C1", "2026-efterår", date(2026, 10, 1), inst,
...                            dict.fromkeys(soc, 1))])
>>> r.informants, r.domain("social").combined_band
(('educator',), 'gul')
"""

from ._batch import RoundsResult, score_rounds
from ._change import reliable_change, reliable_change_index
from ._features import trajectory_features
from ._plot import plot_trajectory
from ._record import ChildRecord, DecisionLike
from ._reliability import DomainReliability, shipped_reliability
from ._round import (
    DISAGREEMENT_LEVELS,
    INFORMANTS,
    Disagreement,
    DomainRound,
    DomainView,
    InformantForm,
    RoundForm,
    ScreeningRound,
    score_round,
)
from ._scale import concern_level

__all__ = [
    "DISAGREEMENT_LEVELS",
    "INFORMANTS",
    "ChildRecord",
    "DecisionLike",
    "Disagreement",
    "DomainReliability",
    "DomainRound",
    "DomainView",
    "InformantForm",
    "RoundForm",
    "RoundsResult",
    "ScreeningRound",
    "concern_level",
    "plot_trajectory",
    "reliable_change",
    "reliable_change_index",
    "score_round",
    "score_rounds",
    "shipped_reliability",
    "trajectory_features",
]
