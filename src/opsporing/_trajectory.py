"""The least-squares slope of a child's scores over time: one home for the rule.

Both the model's trajectory features (:mod:`opsporing.model`) and the child record's
(:func:`opsporing.child.trajectory_features`) read a slope per child and domain. This
module sits below both (it imports only NumPy), so neither imports the other for it.

The rule: over the points of a group whose time *and* value are known, the slope is
``sum(dx * dy) / sum(dx ** 2)`` with ``dx``, ``dy`` the deviations from the group's
means; NaN with fewer than two such points or no time between them (``sum(dx ** 2)``
at most :data:`MIN_SPREAD`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_SPREAD", "slope_by_group", "slope_by_row"]

#: A group whose times spread less than this (sum of squared deviations) has no slope.
MIN_SPREAD = 1e-12

F64 = npt.NDArray[np.float64]


def slope_by_group(groups: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike, n_groups: int) -> F64:
    """Least-squares slope of ``y`` on ``x`` within each group ``0 .. n_groups - 1``.

    Parameters
    ----------
    groups : array of int
        The group of each point (``0 <= g < n_groups``).
    x, y : array of float
        Time and value of each point; a point with either NaN is left out.
    n_groups : int

    Returns
    -------
    ndarray of float, shape (n_groups,)
        NaN for groups with fewer than two usable points or no spread in time.

    Examples
    --------
    >>> slope_by_group([0, 0, 0, 1], [0.0, 1.0, 2.0, 5.0], [0.0, 1.0 / 3, 1.0, 0.2], 2).round(3)
    array([0.5, nan])
    """
    g = np.asarray(groups, dtype=np.int64)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    ok = ~(np.isnan(xs) | np.isnan(ys))
    g, xs, ys = g[ok], xs[ok], ys[ok]
    count = np.bincount(g, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.bincount(g, xs, minlength=n_groups) / count
        my = np.bincount(g, ys, minlength=n_groups) / count
        dx = xs - mx[g]
        dy = ys - my[g]
        sxy = np.bincount(g, dx * dy, minlength=n_groups)
        sxx = np.bincount(g, dx * dx, minlength=n_groups)
        slope: F64 = np.where((count >= 2) & (sxx > MIN_SPREAD), sxy / sxx, np.nan)
    return slope


def slope_by_row(x: npt.ArrayLike, y: npt.ArrayLike) -> F64:
    """The slope of each row of ``y`` (n, k) on the times in the same row of ``x`` (n, k).

    Examples
    --------
    >>> slope_by_row([[8.0, 9.0, 10.0], [9.0, np.nan, 10.0]],
    ...              [[0.1, 0.2, 0.3], [0.5, 0.9, np.nan]]).round(3)
    array([0.1, nan])
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = xs.shape[0]
    rows = np.repeat(np.arange(n), xs.shape[1] if xs.ndim == 2 else 1)
    return slope_by_group(rows, xs.ravel(), ys.ravel(), n)
