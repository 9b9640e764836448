"""The scoring key: an instrument compiled once into NumPy arrays.

Batch scoring is a handful of array operations and two small matrix products with
these arrays, so a million forms cost about as much as the arithmetic itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from ..instruments import Instrument, ResponseScale
from ..vocabulary import load_vocabulary

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class ScoringKey:
    """Arrays derived from an :class:`Instrument` for vectorised scoring.

    Attributes
    ----------
    items : tuple of str
        Item ids; the column order of every answer matrix.
    lo, hi : ndarray (n_items,)
        Lowest and highest allowed raw answer.
    gaps : ndarray of int
        Items whose scale skips integers between ``lo`` and ``hi`` (checked one by one).
    membership : ndarray (n_items, n_domains)
        1.0 where an item belongs to a domain.
    n_items, min_answered : ndarray (n_domains,)
    is_mean, is_strength : ndarray of bool (n_domains,)
    yellow, red : ndarray (n_domains,)
        Band cut-offs per domain.
    total_index : ndarray of int
        Domains that add up to the total (empty without a total).
    ev_layers : tuple of (is_min, cols, thresholds)
        Evidence rules, grouped so each item appears once per layer: a cell evidences
        when ``raw[:, cols] >= thresholds`` (``is_min``) or ``<= thresholds``.
    ev_reduce : tuple of (single_cols, single_ids, groups), one per layer
        How a layer's hits become concepts: hit column ``single_cols[i]`` alone raises
        concept ``single_ids[i]``; for each ``(cols, id)`` in ``groups`` any of the
        columns raises concept ``id``.
    concepts : tuple of str
        Concept codes any item can evidence, in first-seen order.
    signed : ndarray (n_items, n_domains)
        ``membership`` with reverse items negated.
    reverse_offset : ndarray (n_domains,)
        ``lo + hi`` summed over the reverse items of each domain.
    missing_key : ndarray float32 (n_items, 2 * n_domains + 1)
        ``missing @ missing_key`` gives missing counts per domain (first block),
        what to take back from ``fmax(raw, lo) @ signed + reverse_offset`` for the
        missing cells (second block; see :mod:`opsporing.scoring._core`) and the
        missing unsummed (number) items (last column).
    red_flag, protective : ndarray of bool (n_concepts,)
        Which concepts are red flags, and which are protective factors.
    scored : ndarray of bool (n_items,)
        Items summed into their domain; ``False`` for items on a number scale, whose
        rows of ``membership`` are zero (they never size or fill a domain).
    required : ndarray of int
        Items of ``required`` domains: a blank there is an error, never "no".
    critical : tuple of (is_min, cols, thresholds)
        Critical-answer rules in at most two layers (``min`` and ``max`` bounds): a
        form has a critical answer when ``raw[:, cols] >= thresholds`` (or ``<=``).
    expected : tuple of str
        What each item accepts, in words, for error messages.
    overall_total : bool
        ``True`` for ``overall: total`` (the total's band, raised by concern domains at
        rød, critical answers and red flags); ``False`` for ``worst``.
    """

    instrument: Instrument
    items: tuple[str, ...]
    lo: F64
    hi: F64
    allowed: tuple[tuple[int, ...], ...]
    domains: tuple[str, ...]
    membership: F64
    n_items: F64
    min_answered: F64
    is_mean: B
    is_strength: B
    yellow: F64
    red: F64
    total_index: I64
    total_yellow: float
    total_red: float
    gaps: I64
    ev_layers: tuple[tuple[bool, I64, F64], ...]
    ev_reduce: tuple[tuple[I64, I64, tuple[tuple[I64, int], ...]], ...]
    concepts: tuple[str, ...]
    signed: npt.NDArray[np.float32]
    reverse_offset: npt.NDArray[np.float32]
    missing_key: npt.NDArray[np.float32]
    red_flag: B
    protective: B
    scored: B
    required: I64
    critical: tuple[tuple[bool, I64, F64], ...]
    expected: tuple[str, ...]
    overall_total: bool


@cache
def scoring_key(instrument: Instrument) -> ScoringKey:
    """Compile (and cache) the scoring key of ``instrument``."""
    inst = instrument
    scales = [inst.scale(i.scale) for i in inst.items]
    lo = np.array([s.min for s in scales], dtype=np.float64)
    hi = np.array([s.max for s in scales], dtype=np.float64)
    reverse = np.array([i.reverse for i in inst.items])
    domains = inst.domain_ids
    scored = np.array([not s.is_number for s in scales], dtype=bool)
    membership = np.zeros((len(inst.items), len(domains)))
    for j, item in enumerate(inst.items):
        # Number items keep a zero row: never summed, never counted in a domain's size.
        membership[j, domains.index(item.domain)] = float(scored[j])
    required_domains = {d.id for d in inst.domains if d.required}

    ev_layers, ev_reduce, concepts = _evidence_layers(inst)
    voc = load_vocabulary()

    total_index = (
        np.array([domains.index(d) for d in inst.total.domains], dtype=np.int64)
        if inst.total is not None
        else np.zeros(0, dtype=np.int64)
    )
    return ScoringKey(
        instrument=inst,
        items=inst.item_ids,
        # A number scale is contiguous and checked by lo/hi alone: never list its range.
        allowed=tuple(s.values if not s.is_number else () for s in scales),
        domains=domains,
        n_items=membership.sum(axis=0),
        min_answered=np.array([d.min_answered for d in inst.domains], dtype=np.float64),
        is_mean=np.array([d.method == "mean" for d in inst.domains]),
        is_strength=np.array([d.direction == "strength" for d in inst.domains]),
        yellow=np.array([d.bands.yellow for d in inst.domains]),
        red=np.array([d.bands.red for d in inst.domains]),
        total_index=total_index,
        total_yellow=inst.total.bands.yellow if inst.total else np.nan,
        total_red=inst.total.bands.red if inst.total else np.nan,
        gaps=np.array([j for j, s in enumerate(scales) if not s.is_contiguous], dtype=np.int64),
        ev_layers=ev_layers,
        ev_reduce=ev_reduce,
        concepts=concepts,
        **_sum_arrays(lo, hi, reverse, membership, scored),
        scored=scored,
        required=np.array(
            [j for j, i in enumerate(inst.items) if i.domain in required_domains], dtype=np.int64
        ),
        critical=_critical_layers(inst),
        expected=tuple(_expected(s) for s in scales),
        overall_total=inst.overall == "total",
        red_flag=np.array([voc.concept(c).red_flag for c in concepts], dtype=bool),
        protective=np.array([voc.concept(c).is_protective for c in concepts], dtype=bool),
        lo=lo,
        hi=hi,
        membership=membership,
    )


def _evidence_layers(
    inst: Instrument,
) -> tuple[
    tuple[tuple[bool, I64, F64], ...],
    tuple[tuple[I64, I64, tuple[tuple[I64, int], ...]], ...],
    tuple[str, ...],
]:
    """Group evidence rules into layers of one comparison each (see :class:`ScoringKey`)."""
    n_items = len(inst.items)
    rules = [
        (j, ev.min is not None, float(ev.min if ev.min is not None else ev.max), ev.code)  # type: ignore[arg-type]
        for j, item in enumerate(inst.items)
        for ev in item.evidences
    ]
    concepts = tuple(dict.fromkeys(code for *_, code in rules))
    layers: list[tuple[bool, dict[int, tuple[float, str]]]] = []
    for j, is_min, bound, code in rules:
        for layer_is_min, members in layers:
            if layer_is_min == is_min and j not in members:
                members[j] = (bound, code)
                break
        else:
            layers.append((is_min, {j: (bound, code)}))
    out_layers, reduce = [], []
    for is_min, members in layers:
        if len(members) > n_items // 2:
            # Comparing every column (a never-true bound where there is no rule) is
            # cheaper than gathering most of them.
            cols = np.arange(n_items)
            thresholds = np.full(n_items, np.inf if is_min else -np.inf)
            for j, (bound, _) in members.items():
                thresholds[j] = bound
        else:
            cols = np.array(sorted(members), dtype=np.int64)
            thresholds = np.array([members[int(j)][0] for j in cols])
        out_layers.append((is_min, cols, thresholds))
        position = {int(j): p for p, j in enumerate(cols)}
        by_concept: dict[str, list[int]] = {}
        for j, (_, code) in members.items():
            by_concept.setdefault(code, []).append(position[j])
        singles = {code: p[0] for code, p in by_concept.items() if len(p) == 1}
        groups = tuple(
            (np.array(p, dtype=np.int64), concepts.index(code))
            for code, p in by_concept.items()
            if len(p) > 1
        )
        reduce.append(
            (
                np.array(list(singles.values()), dtype=np.int64),
                np.array([concepts.index(c) for c in singles], dtype=np.int64),
                groups,
            )
        )
    return tuple(out_layers), tuple(reduce), concepts


def _expected(scale: ResponseScale) -> str:
    """What an item on ``scale`` accepts, in words."""
    if scale.number is not None:
        return (
            f"a whole number from {scale.min} to {scale.max} "
            f"({scale.number.unit.get('en')}) (or empty)"
        )
    return f"one of {', '.join(str(v) for v in scale.values)} (or empty)"


def _critical_layers(inst: Instrument) -> tuple[tuple[bool, I64, F64], ...]:
    """Critical-answer rules as at most two comparisons (``>=`` bounds, ``<=`` bounds)."""
    layers = []
    for is_min in (True, False):
        rules = [
            (j, float(b.min if is_min else b.max))  # type: ignore[arg-type]
            for j, item in enumerate(inst.items)
            if (b := item.critical) is not None and (b.min is not None) == is_min
        ]
        if rules:
            layers.append(
                (
                    is_min,
                    np.array([j for j, _ in rules], dtype=np.int64),
                    np.array([t for _, t in rules], dtype=np.float64),
                )
            )
    return tuple(layers)


def critical_hits(key: ScoringKey, answers: F64) -> tuple[B, I64]:
    """Which critical rules each row meets: a ``(n, n_rules)`` mask and the rules' item columns.

    NaN (not answered) never meets a rule.
    """
    hits, cols = [], []
    for is_min, c, thresholds in key.critical:
        block = answers[:, c]
        hits.append(block >= thresholds if is_min else block <= thresholds)
        cols.append(c)
    if not hits:
        return np.zeros((len(answers), 0), dtype=bool), np.zeros(0, dtype=np.int64)
    return np.hstack(hits), np.concatenate(cols)


def _sum_arrays(lo: F64, hi: F64, reverse: B, membership: F64, scored: B) -> dict[str, Any]:
    """The arrays that give keyed domain sums without a keyed copy of the answers."""
    sign = np.where(reverse, -1.0, 1.0)
    offset = np.where(reverse, lo + hi, 0.0)
    # A missing cell was filled with lo and entered as sign * lo; a missing reverse item
    # also must not get its offset: take both back per missing cell.
    take_back = membership * (offset + sign * lo)[:, None]
    return {
        "signed": (membership * sign[:, None]).astype(np.float32),
        "reverse_offset": (offset @ membership).astype(np.float32),
        # The last column counts missing unsummed (number) items, for n_missing.
        "missing_key": np.hstack([membership, take_back, (~scored)[:, None]]).astype(np.float32),
    }
