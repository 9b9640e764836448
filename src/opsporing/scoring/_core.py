"""Array-level scoring: validity and scores for a matrix of raw answers.

Everything here works on an ``(n_forms, n_items)`` float matrix with NaN for a
missing answer, in row blocks small enough to stay in the CPU cache. No Python
loop runs per form; per block, a handful of NumPy operations and one matrix
product do all the work.

How the domain sums avoid a keyed copy of the answers
-----------------------------------------------------
Reverse keying turns an answer ``a`` into ``lo + hi - a``. Instead of building a
keyed (and NaN-free) copy of every block, the key multiplies reverse items by -1
in the domain matrix (``signed``), fills missing cells with the scale's lowest
value in one pass (``np.fmax`` turns NaN into its second argument and leaves every
valid answer alone), and corrects both afterwards with a second, small product of
the missing-cell mask: it counts the missing items per domain and takes back what
the fill and the reverse offsets added for them (``missing_key``). The tests check
the result against scores computed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._key import F64, B, ScoringKey, critical_hits

#: Rows per block: a block's temporaries stay in the CPU cache.
BLOCK_ROWS = 16384

#: Band codes as stored in arrays; -1 = not scorable.
BANDS = ("grøn", "gul", "rød")


@dataclass(frozen=True)
class ScoreArrays:
    """Scores of a batch as arrays (one row per form)."""

    domain_score: F64  # (n, n_domains), NaN where not scorable
    domain_answered: F64  # (n, n_domains)
    domain_band: np.ndarray  # (n, n_domains) int8, -1 = not scorable
    total_score: F64  # (n,), NaN where not scorable or no total
    total_band: np.ndarray  # (n,) int8
    overall_band: np.ndarray  # (n,) int8
    concepts: B  # (n, n_concepts)
    red_flag: B  # (n,)
    n_missing: np.ndarray  # (n,) int
    critical: B  # (n,) a critical answer was given

    def take(self, rows: np.ndarray) -> ScoreArrays:
        """The scores of a subset of rows (a boolean mask or indices)."""
        return ScoreArrays(**{k: v[rows] for k, v in self.__dict__.items()})


def _bands(score: F64, yellow: F64 | float, red: F64 | float, strength: B | bool) -> np.ndarray:
    """0/1/2 for grøn/gul/rød, -1 where the score is NaN."""
    # A strength score is banded like a concern score of the opposite sign.
    flip = np.where(strength, -1.0, 1.0)
    oriented = score * flip
    codes = (oriented >= yellow * flip).astype(np.int8)
    codes += oriented >= red * flip
    codes[np.isnan(score)] = -1
    return codes


def validate_and_score(key: ScoringKey, answers: F64) -> tuple[ScoreArrays, B | None]:
    """Check every cell and score every form.

    Returns the scores and a mask of invalid cells (``None`` when all are valid).
    Invalid cells are scored as missing, so the scores of their rows must be
    discarded (raise) or set aside (collect) by the caller.

    All the work happens block by block: large temporaries would cost more in
    memory traffic and page faults than the arithmetic itself.
    """
    n, n_items = answers.shape
    n_dom = len(key.domains)
    # Column-major, so each domain's column is contiguous when it becomes a DataFrame column.
    out = ScoreArrays(
        domain_score=np.empty((n, n_dom), order="F"),
        domain_answered=np.empty((n, n_dom), order="F"),
        domain_band=np.empty((n, n_dom), dtype=np.int8, order="F"),
        total_score=np.empty(n),
        total_band=np.empty(n, dtype=np.int8),
        overall_band=np.empty(n, dtype=np.int8),
        concepts=np.zeros((n, len(key.concepts)), dtype=bool, order="F"),
        red_flag=np.empty(n, dtype=bool),
        n_missing=np.empty(n, dtype=np.int64),
        critical=np.empty(n, dtype=bool),
    )
    bad_blocks: list[tuple[int, B]] = []
    per_item = np.where(key.is_mean, 1.0, key.n_items)
    buffer = np.empty((min(n, BLOCK_ROWS), n_items), dtype=np.float32)
    for start in range(0, n, BLOCK_ROWS):
        rows = slice(start, min(start + BLOCK_ROWS, n))
        a = answers[rows]
        missing = np.isnan(a)
        ok = (a >= key.lo) & (a <= key.hi) & (a == np.floor(a))
        for j in key.gaps:  # scales whose allowed values have gaps, e.g. 0, 2, 4
            ok[:, j] &= np.isin(a[:, j], key.allowed[j])
        if np.count_nonzero(ok) + np.count_nonzero(missing) != a.size:
            bad = ~(ok | missing)
            bad_blocks.append((start, bad))
            a = np.where(bad, np.nan, a)
            missing |= bad

        # Domains run along the first axis (domains x rows): every per-domain step
        # below then reads contiguous memory, and so does the copy into the
        # column-major outputs. float32 halves the memory traffic; answers and counts
        # are small integers, exact in float32 up to 2**24.
        filled = np.fmax(a, key.lo, out=buffer[: len(a)], casting="same_kind")
        counts = key.missing_key.T @ missing.astype(np.float32).T
        n_miss = counts[:n_dom]
        sums = key.signed.T @ filled.T + (key.reverse_offset[:, None] - counts[n_dom : 2 * n_dom])
        answered = key.n_items[:, None] - n_miss
        with np.errstate(invalid="ignore", divide="ignore"):
            # A sum is prorated to all items (mean x n); exact when nothing is missing.
            score = sums * per_item[:, None] / answered
        score[answered < key.min_answered[:, None]] = np.nan
        out.domain_score[rows] = score.T
        out.domain_answered[rows] = answered.T
        out.n_missing[rows] = n_miss.sum(axis=0) + counts[2 * n_dom]
        band = _bands(score, key.yellow[:, None], key.red[:, None], key.is_strength[:, None])
        out.domain_band[rows] = band.T

        concepts = out.concepts[rows]
        for (is_min, cols, thresholds), (single_cols, single_ids, groups) in zip(
            key.ev_layers, key.ev_reduce, strict=True
        ):
            block = a if cols.size == n_items else a[:, cols]
            hits = block >= thresholds if is_min else block <= thresholds
            concepts[:, single_ids] |= hits[:, single_cols]
            for group_cols, concept in groups:
                concepts[:, concept] |= hits[:, group_cols].any(axis=1)
        red = concepts[:, key.red_flag].any(axis=1)
        out.red_flag[rows] = red

        if key.total_index.size:
            total = score[key.total_index].sum(axis=0)
            total_band = _bands(total, key.total_yellow, key.total_red, False)
        else:
            total = np.nan
            total_band = np.full(len(a), -1, dtype=np.int8)
        out.total_score[rows] = total
        out.total_band[rows] = total_band
        critical = critical_hits(key, a)[0].any(axis=1)
        out.critical[rows] = critical
        if key.overall_total:
            # The total's band, raised to at least gul by a concern domain at rød or a
            # critical answer; strength domains are reported beside, never raise it.
            concern_red = ((band == 2) & ~key.is_strength[:, None]).any(axis=0)
            overall = total_band.copy()
            overall[concern_red | critical] = np.maximum(overall[concern_red | critical], 1)
        else:
            overall = np.maximum(band.max(axis=0, initial=-1), total_band)
        overall[red] = 2
        out.overall_band[rows] = overall

    bad_cells = None
    if bad_blocks:
        bad_cells = np.zeros((n, n_items), dtype=bool)
        for start, bad in bad_blocks:
            bad_cells[start : start + len(bad)] = bad
    return out, bad_cells
