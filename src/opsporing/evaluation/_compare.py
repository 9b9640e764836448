"""Several scores of the same children side by side: model vs band rule vs oracle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..scoring._core import BANDS
from . import _checks as chk
from ._calibration import expected_calibration_error
from ._detection import _counts_at, _rates

COMPARE_COLUMNS = (
    "score",
    "n",
    "n_no_score",
    "prevalence",
    "is_probability",
    "roc_auc",
    "average_precision",
    "brier",
    "ece",
    "cutoff",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "flag_rate",
    "f2",
)


def band_score(bands: Any) -> pd.Series:
    """Bands grøn / gul / rød as the ordinal score 0 / 1 / 2 (missing stays missing).

    The band rule "gul or worse" is then the cut-off 1, "rød" the cut-off 2.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import band_score
    >>> band_score(pd.Series(["grøn", "rød", "gul"])).tolist()
    [0.0, 2.0, 1.0]
    """
    s = bands if isinstance(bands, pd.Series) else pd.Series(chk.as_1d(bands, "bands"))
    values = s.astype(object)
    rank = {b: float(i) for i, b in enumerate(BANDS)}
    # One value at a time: a list or dict in the column is a bad band, not a TypeError.
    codes = pd.Series(
        [rank.get(v, np.nan) if isinstance(v, str) else np.nan for v in values.tolist()],
        index=values.index,
        dtype=np.float64,
    )
    bad = values.notna().to_numpy() & codes.isna().to_numpy()
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        label = s.index[r]
        raise chk.fail(
            "bands",
            values.iat[r],
            f"one of {', '.join(BANDS)}",
            row=label if isinstance(label, int | str) else r,
        )
    out: pd.Series = codes.astype(np.float64)
    out.name = s.name
    return out


def compare_scores(
    data: pd.DataFrame,
    *,
    y_true: str = "y_true",
    scores: Sequence[str],
    cutoffs: Mapping[str, float] | None = None,
    n_bins: int = 10,
    probabilities: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One table comparing any number of scores of the same children.

    Works before a model exists: pass the band rule (see :func:`band_score`), an oracle's
    true probabilities from synthetic data, a model's predicted probabilities, whatever
    columns there are.

    Parameters
    ----------
    data : DataFrame
        One row per child: ``y_true`` (0/1) and one column per score (higher = more concern).
        A missing score (``NaN``) means "no score for this child" (e.g. no suggestion: a
        red flag bypasses the model; an abstention has no step): that score is measured on
        the other children and ``n_no_score`` says how many it lacks. Count what the
        missing scores mean separately; this table cannot.
    y_true : str, default "y_true"
    scores : sequence of str
        The score columns, one output row each, in this order.
    cutoffs : dict of str to float, optional
        The rule ``score >= cutoff`` per column for sensitivity, specificity, PPV, NPV and
        F2. A column without a cut-off gets 0.5 if it is a probability, otherwise the
        rates are ``NaN``; a cut-off of ``NaN`` asks for no rates.
    n_bins : int, default 10
        Equal-width bins of the expected calibration error.
    probabilities : sequence of str, optional
        The scores that are probabilities (Brier score and ECE). By default a score is
        taken for a probability when its values lie in [0, 1] and it is not a 0/1 flag:
        a rule's yes/no (or a band rule without a rød) is never a probability.

    Returns
    -------
    DataFrame
        One row per score: ``score, n, n_no_score, prevalence, is_probability, roc_auc,
        average_precision, brier, ece, cutoff, sensitivity, specificity, ppv, npv, flag_rate,
        f2``. Brier score and ECE only for columns whose every value lies in [0, 1]
        (``is_probability``); ``NaN`` otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import compare_scores
    >>> d = pd.DataFrame({"y_true": [0, 0, 1, 1], "model": [0.1, 0.4, 0.35, 0.8],
    ...                   "band": [0, 1, 1, 2], "oracle": [0.05, 0.1, 0.9, 0.95]})
    >>> t = compare_scores(d, scores=["model", "band", "oracle"], cutoffs={"band": 1})
    >>> t[["score", "roc_auc", "brier", "sensitivity", "specificity"]].round(3)
        score  roc_auc  brier  sensitivity  specificity
    0   model    0.750  0.158          0.5          1.0
    1    band    0.875    NaN          1.0          0.5
    2  oracle    1.000  0.006          1.0          1.0
    """
    truth = chk.column(data, y_true, "y_true")
    y = chk.binary(truth, y_true)
    chk.both_classes(y, y_true)
    if isinstance(scores, str) or not len(scores):
        raise chk.fail("scores", scores, "a non-empty list of column names")
    cutoffs = dict(cutoffs or {})
    unknown = [c for c in cutoffs if c not in scores]
    if unknown:
        raise chk.fail("cutoffs", unknown[0], f"a key that is one of the scores {list(scores)}")
    if probabilities is not None:
        odd = [p for p in probabilities if p not in scores]
        if odd:
            raise chk.fail("probabilities", odd[0], f"one of the scores {list(scores)}")
    rows = []
    for name in scores:
        col = chk.column(data, name, "scores")
        if not pd.api.types.is_numeric_dtype(col.dtype) and col.isin(BANDS).any():
            first = col[col.isin(BANDS)].iloc[0]
            raise chk.fail(name, first, "a number (turn bands into 0/1/2 with band_score)")
        has = col.notna().to_numpy()
        if not has.any():
            raise chk.fail(name, chk.text("no score for any child"), "at least one score")
        yk = y[has]
        chk.both_classes(yk, f"{y_true} (children with a {name!r} score)")
        s = chk.scores(col[has], name)
        in_unit = bool(((s >= 0.0) & (s <= 1.0)).all())
        if probabilities is None:
            is_prob = in_unit and not bool(np.isin(s, (0.0, 1.0)).all())
        else:
            is_prob = name in probabilities
            if is_prob and not in_unit:
                chk.probabilities(s, name)  # raises, naming the value outside [0, 1]
        cut = cutoffs.get(name, 0.5 if is_prob else np.nan)
        if not isinstance(cut, int | float) or isinstance(cut, bool):
            raise chk.fail(f"cutoffs[{name!r}]", cut, "a number")
        row: dict[str, Any] = {
            "score": name,
            "n": len(yk),
            "n_no_score": int((~has).sum()),
            "prevalence": float(yk.mean()),
            "is_probability": is_prob,
            "roc_auc": float(skm.roc_auc_score(yk, s)),
            "average_precision": float(skm.average_precision_score(yk, s)),
            "brier": float(np.mean((s - yk) ** 2)) if is_prob else np.nan,
            "ece": expected_calibration_error(yk, s, n_bins=n_bins) if is_prob else np.nan,
            "cutoff": float(cut),
        }
        if np.isnan(cut):
            rates = dict.fromkeys(
                ("sensitivity", "specificity", "ppv", "npv", "flag_rate", "f2"), np.nan
            )
        else:
            tp, fp, tn, fn = _counts_at(yk, s, np.array([float(cut)]))
            rates = {k: float(v[0]) for k, v in _rates(tp, fp, tn, fn, (2.0,)).items()}
        row.update({k: rates[k] for k in COMPARE_COLUMNS if k in rates})
        rows.append(row)
    return pd.DataFrame(rows).loc[:, list(COMPARE_COLUMNS)]
