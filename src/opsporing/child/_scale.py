"""The common scale on which domains of different instruments are compared.

A domain's raw score means different things on different forms: 0-12 on one, 0-15 on
another, and a strength domain counts the other way. Two informants, or the daycare form
and the school form, are compared on the **concern level**: the share of the domain's
score range in the direction of concern,

``level = (score - lo) / (hi - lo)`` for a concern domain and
``level = (hi - score) / (hi - lo)`` for a strength domain,

where ``lo, hi`` is :meth:`opsporing.instruments.Instrument.score_range`. 0 is the least
concern the form can show on the domain, 1 the most. The *band* (grøn/gul/rød) is the
other common scale: it already carries each instrument's own cut-offs, so disagreement
between informants is judged on bands, and the level is shown beside it.
"""

from __future__ import annotations

import math

from ..instruments import Instrument
from ..scoring._core import BANDS

__all__ = ["BANDS", "band_rank", "concern_level", "domain_ranges", "level_of"]


def band_rank(band: str | None) -> int | None:
    """0 for grøn, 1 for gul, 2 for rød, ``None`` for a domain that was not scored.

    Examples
    --------
    >>> [band_rank(b) for b in ("grøn", "gul", "rød", None)]
    [0, 1, 2, None]
    """
    return None if band is None else BANDS.index(band)


def concern_level(instrument: Instrument, domain: str, score: float | None) -> float | None:
    """``score`` of ``domain`` as a share of its range, higher = more concern.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> concern_level(inst, "emotional", 3.0)   # 3 of 0-12
    0.25
    >>> concern_level(inst, "resources", 18.0)  # a strength domain at its best
    0.0
    """
    lo, hi = instrument.score_range(domain)
    return level_of(score, lo, hi, instrument.domain(domain).direction)


def level_of(score: float | None, lo: float, hi: float, direction: str) -> float | None:
    """The concern level of ``score`` on a domain of range ``lo..hi`` and ``direction``."""
    if score is None or (isinstance(score, float) and math.isnan(score)) or hi <= lo:
        return None
    share = (float(score) - lo) / (hi - lo)
    if direction == "strength":
        share = 1.0 - share
    return min(1.0, max(0.0, share))


def domain_ranges(instrument: Instrument) -> dict[str, tuple[float, float]]:
    """Every domain's score range, computed once (each call walks the items)."""
    return {d.id: instrument.score_range(d.id) for d in instrument.domains}
