"""Leakage-safe train/test splits: no family (or child) on both sides.

Siblings share a home, often a rater, and much of their need. A model tested on the
siblings of children it was trained on is graded on a test it has half seen: both the
first Allegheny model and the paused Danish decision-support model were found, after the
fact, to have over-stated their AUC that way. So a split here keeps every family (when a
family id is known, else every child, whose screenings are all one cluster) on one side,
and :func:`check_split` refuses a split that does not, naming the families it leaks.

Examples
--------
>>> import pandas as pd
>>> kids = pd.Series(["a", "b", "c", "d", "e", "f"])
>>> fams = pd.Series(["F1", "F1", "F2", "F3", "F3", "F4"])
>>> train, test = family_split(kids, fams, test_fraction=0.5, seed=1)
>>> check_split(kids, train, test, families=fams)  # no family on both sides: passes
>>> try:
...     check_split(kids, [0, 2, 3], [1, 4, 5], families=fams)
... except DataError as exc:
...     print(str(exc)[:60])
split: 2 families on both sides: F1 (train: a; test: b); F3
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError, Problem

I64 = npt.NDArray[np.int64]

#: How many leaking families an error names before it says "and N more".
_SHOW = 10


def _as_series(values: Any, field: str) -> pd.Series:
    s = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    if s.isna().any() and field == "children":
        r = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise DataError(str(Problem(field, None, "an id for every row", row=r)))
    return s.astype(object)


def clusters_of(children: Any, families: Any = None) -> pd.Series:
    """The cluster of each row: its family (``"family:<id>"``), else its child.

    A row without a family id is a family of its own child (never pooled with other
    children that lack one).
    """
    kids = _as_series(children, "children").astype(str)
    if families is None:
        return "child:" + kids
    fams = _as_series(families, "families")
    if len(fams) != len(kids):
        raise DataError(
            str(Problem("families", f"{len(fams)} values", f"{len(kids)}, one per row"))
        )
    known = fams.notna().to_numpy()
    out = np.where(known, "family:" + fams.astype(str), "child:" + kids)
    return pd.Series(out, dtype=object)


def family_split(
    children: Any,
    families: Any = None,
    *,
    strata: Any = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[I64, I64]:
    """Train and test row positions with every family (or child) on one side only.

    Parameters
    ----------
    children : array-like
        The child id of each row (a child may have several rows).
    families : array-like, optional
        The family id of each row; empty for a child without one.
    strata : array-like, optional
        A label per row (e.g. the step) to balance: clusters are shuffled within the
        stratum of their highest label, so rare high steps reach both sides.
    test_fraction : float, default 0.2
        Share of *rows* to hold out (met as closely as whole clusters allow).
    seed : int

    Returns
    -------
    (train, test) : arrays of row positions
    """
    if not isinstance(test_fraction, int | float) or not 0.0 < float(test_fraction) < 1.0:
        raise DataError(str(Problem("test_fraction", test_fraction, "a share in (0, 1)")))
    cluster = clusters_of(children, families)
    n = len(cluster)
    codes, _ = pd.factorize(cluster)
    sizes = np.bincount(codes)
    if strata is None:
        level = np.zeros(len(sizes), dtype=np.int64)
    else:
        st = pd.Series(np.asarray(strata)).reset_index(drop=True)
        if len(st) != n:
            raise DataError(str(Problem("strata", f"{len(st)} values", f"{n}, one per row")))
        ranked = pd.factorize(st, sort=True)[0]
        level = pd.Series(ranked).groupby(codes).max().to_numpy()
    rng = np.random.default_rng(seed)
    in_test = np.zeros(len(sizes), dtype=bool)
    for lev in np.unique(level):
        members = rng.permutation(np.flatnonzero(level == lev))
        target = float(test_fraction) * sizes[members].sum()
        taken = 0
        for c in members:
            if taken >= target:
                break
            # take a cluster when that brings the held-out rows closer to the target
            if abs(taken + sizes[c] - target) <= abs(taken - target) or taken == 0:
                in_test[c] = True
                taken += int(sizes[c])
    test_rows = in_test[codes]
    return np.flatnonzero(~test_rows), np.flatnonzero(test_rows)


def check_split(
    children: Any,
    train: Any,
    test: Any,
    *,
    families: Any = None,
    allow_leak: bool = False,
) -> None:
    """Refuse a split that puts a family (or a child) on both sides.

    Parameters
    ----------
    children, families
        As for :func:`family_split`.
    train, test : array-like of int
        Row positions of each side.
    allow_leak : bool, default False
        Only for studying leakage itself: then nothing is refused.

    Raises
    ------
    DataError
        A row on both sides, a position outside the table, or a family or child with
        rows on both sides; the message names how many and the first of them.
    """
    cluster = clusters_of(children, families)
    n = len(cluster)
    tr = np.asarray(train, dtype=np.int64).ravel()
    te = np.asarray(test, dtype=np.int64).ravel()
    outside = [int(v) for v in np.concatenate([tr, te]) if not 0 <= v < n]
    if outside:
        raise DataError(str(Problem("split", outside[0], f"a row position from 0 to {n - 1}")))
    both = np.intersect1d(tr, te)
    if len(both):
        raise DataError(
            str(
                Problem(
                    "split", f"row {int(both[0])} in train and test", "each row on one side only"
                )
            )
        )
    if allow_leak:
        return
    leaked = sorted(set(cluster.iloc[tr]) & set(cluster.iloc[te]))
    if not leaked:
        return
    kind = "families" if families is not None else "children"
    kids = _as_series(children, "children").astype(str)
    where = []
    for c in leaked[:_SHOW]:
        in_tr = sorted(set(kids.iloc[tr][cluster.iloc[tr] == c]))
        in_te = sorted(set(kids.iloc[te][cluster.iloc[te] == c]))
        where.append(
            f"{c.split(':', 1)[1]} (train: {', '.join(in_tr[:3])}; test: {', '.join(in_te[:3])})"
        )
    more = f" and {len(leaked) - _SHOW} more" if len(leaked) > _SHOW else ""
    raise DataError(
        f"split: {len(leaked)} {kind} on both sides: {'; '.join(where)}{more}: expected "
        "every family (or child) on one side only, so the test set is not half seen "
        "through siblings; use family_split, or allow_leak=True only to study leakage"
    )
