"""Cohen's kappa (unweighted, linear, quadratic) on ordinal labels, vectorised."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import _checks as chk
from ._checks import F64, I64

Weights = Literal["linear", "quadratic"] | None


def _categories(values: Any) -> list[Any] | None:
    dtype = values.dtype if isinstance(values, pd.Series) else None
    if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
        return list(dtype.categories)
    return None


def label_codes(
    a: Any, b: Any, labels: Sequence[Any] | None, fields: tuple[str, str]
) -> tuple[I64, I64, list[Any]]:
    """Both raters' labels as positions 0..k-1 in the ordered ``labels``.

    Without ``labels``: the categories of an ordered categorical, else the sorted union of
    the values seen.
    """
    ra = chk.ordinal(a, fields[0])
    rb = chk.ordinal(b, fields[1])
    chk.same_length(**{fields[0]: ra, fields[1]: rb})
    if labels is None:
        labels = _categories(a) or _categories(b)
    if labels is None:
        try:
            # Object arrays throughout: numpy's common string dtype would decode bytes.
            both = np.concatenate([np.asarray(ra, dtype=object), np.asarray(rb, dtype=object)])
            labels = sorted(pd.unique(both).tolist())
        except (TypeError, ValueError, UnicodeDecodeError):
            raise chk.fail(
                "labels", chk.text("values of mixed types"), "ratings of one type, or labels= given"
            ) from None
    labels = list(labels)
    if len(set(labels)) != len(labels) or not labels:
        raise chk.fail("labels", labels, "distinct labels, at least one")
    codes = []
    for field, raw in zip(fields, (ra, rb), strict=True):
        code = np.asarray(pd.Index(labels, dtype=object).get_indexer(raw), dtype=np.int64)
        if (code < 0).any():
            bad = int(np.flatnonzero(code < 0)[0])
            raise chk.fail(field, raw[bad], f"one of {labels}", row=bad)
        codes.append(code)
    return codes[0], codes[1], labels


def confusion(a: I64, b: I64, k: int) -> F64:
    """k x k counts, rows ``a``, columns ``b`` (one bincount, no loop)."""
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(np.float64)


def kappa_from_codes(a: I64, b: I64, k: int, weights: Weights) -> float:
    """Cohen's kappa of two code arrays; ``NaN`` when chance disagreement is zero."""
    observed = confusion(a, b, k)
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j).astype(np.float64)
    elif weights == "quadratic":
        w = ((i - j) ** 2).astype(np.float64)
    else:
        raise chk.fail("weights", weights, "None, 'linear' or 'quadratic'")
    chance = float((w * expected).sum())
    if chance == 0.0:
        return float("nan")
    return float(1.0 - (w * observed).sum() / chance)


def cohen_kappa(
    rater_a: Any,
    rater_b: Any,
    *,
    weights: Weights = None,
    labels: Sequence[Any] | None = None,
) -> float:
    """Cohen's kappa between two ratings of the same children, optionally weighted.

    ``κ = 1 - Σ w_ij O_ij / Σ w_ij E_ij`` with observed counts ``O``, chance counts
    ``E_ij = row_i · col_j / n`` and disagreement weights ``w_ij`` = 1 off the diagonal
    (unweighted), ``|i - j|`` (linear) or ``(i - j)²`` (quadratic), ``i, j`` being positions in
    the ordered ``labels``. Same value as :func:`sklearn.metrics.cohen_kappa_score`.

    Parameters
    ----------
    rater_a, rater_b : array-like
        Ratings (numbers, or labels such as grøn/gul/rød); no missing values.
    weights : {None, "linear", "quadratic"}, default None
    labels : sequence, optional
        The ordered categories. Default: an ordered categorical's categories, else the
        sorted values seen. Give them for ordinal text labels whose sort order is not the
        scale order, and so that unused categories still count as distances.

    Returns
    -------
    float
        ``NaN`` when both raters used a single, identical category (chance agreement 1).

    Examples
    --------
    Two raters, six children on the bands 0/1/2::

        a: 0 0 1 1 2 2
        b: 0 1 1 2 2 2    O = [[1,1,0],[0,1,1],[0,0,2]], rows a, columns b

    Unweighted: observed agreement 4/6, chance ``(2·1 + 2·2 + 2·3)/36 = 1/3``,
    ``κ = (2/3 - 1/3) / (1 - 1/3) = 0.5``. Quadratic weights ``[[0,1,4],[1,0,1],[4,1,0]]``:
    observed ``Σ w O = 1 + 1 = 2``, chance ``Σ w E = 8`` (``E_ij = row_i · col_j / 6``), so
    ``κ = 1 - 2/8 = 0.75``.

    >>> from opsporing.evaluation import cohen_kappa
    >>> a, b = [0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 2]
    >>> cohen_kappa(a, b)
    0.5
    >>> cohen_kappa(a, b, weights="quadratic")
    0.75
    """
    ca, cb, labs = label_codes(rater_a, rater_b, labels, ("rater_a", "rater_b"))
    return kappa_from_codes(ca, cb, len(labs), weights)
