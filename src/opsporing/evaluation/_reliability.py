"""Reliability of instruments: internal consistency per domain and agreement between raters.

Internal consistency (Cronbach's alpha, McDonald's omega, corrected item-total correlations)
is computed on *keyed* answers (reverse items turned round, as scoring does) and on complete
rows only (listwise deletion; ``n_complete`` says how many). Agreement between two raters of
the same child uses Cohen's weighted kappa and the intraclass correlation of Shrout & Fleiss
(1979).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.decomposition import FactorAnalysis

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument
from . import _checks as chk
from ._agreement import Weights, kappa_from_codes, label_codes
from ._checks import F64

#: How many bad answers a ResponseValidationError lists at most.
_MAX_PROBLEMS = 1000


def _matrix(items: Any, field: str = "items") -> tuple[F64, list[str]]:
    """Numeric item matrix (rows children, columns items) with NaN for missing answers."""
    if not isinstance(items, pd.DataFrame):
        arr = chk.as_array(items, field)
        if arr.ndim != 2:
            raise chk.fail(
                field, chk.text(f"an array of shape {arr.shape}"), "a table (rows × items)"
            )
        items = pd.DataFrame(arr)
    if items.columns.has_duplicates:
        dup = items.columns[items.columns.duplicated()][0]
        raise chk.fail(f"{field}[{dup!r}]", chk.text("a column named twice"), "each item once")
    if items.shape[1] < 2:
        raise chk.fail(field, chk.text(f"{items.shape[1]} item column(s)"), "at least 2 items")
    if items.shape[0] == 0:
        raise chk.fail(field, chk.text("a table without rows"), "at least one answered form")
    bad = [c for c in items.columns if not pd.api.types.is_numeric_dtype(items[c].dtype)]
    if bad:
        raise chk.fail(
            f"{field}[{bad[0]!r}]", chk.text(f"dtype {items[bad[0]].dtype}"), "numeric answers"
        )
    x = items.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(x).any():
        raise chk.fail(field, chk.text("inf"), "finite answers (NaN for missing)")
    return x, [str(c) for c in items.columns]


def _complete(x: F64) -> F64:
    return x[~np.isnan(x).any(axis=1)]


def _alpha_from_cov(c: F64) -> float:
    k = c.shape[0]
    total = c.sum()
    return float(k / (k - 1) * (1.0 - np.trace(c) / total)) if total > 0 else float("nan")


def _cov(x: F64) -> F64:
    return np.atleast_2d(np.cov(x, rowvar=False, ddof=1))


def cronbach_alpha(items: Any) -> float:
    """Cronbach's alpha of keyed item answers (rows with a missing answer are left out).

    ``α = k / (k - 1) · (1 - Σ var(item) / var(total))`` with sample variances (ddof 1).
    ``NaN`` with fewer than two complete rows or a constant total.

    Examples
    --------
    Three items, four children::

        item a  1 2 3 4      var 5/3
        item b  2 2 3 3      var 1/3
        item c  1 3 3 5      var 8/3        Σ var = 14/3
        total   4 7 9 12     var 34/3

    ``α = 3/2 · (1 - (14/3) / (34/3)) = 3/2 · 20/34 = 15/17 = 0.882353``

    >>> import pandas as pd
    >>> from opsporing.evaluation import cronbach_alpha
    >>> answers = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 3, 3], "c": [1, 3, 3, 5]})
    >>> round(cronbach_alpha(answers), 6)
    0.882353
    """
    x = _complete(_matrix(items)[0])
    if len(x) < 2:
        return float("nan")
    return _alpha_from_cov(_cov(x))


def mcdonald_omega(items: Any) -> float:
    """McDonald's omega (total) from a one-factor model of the keyed item answers.

    The factor model is :class:`sklearn.decomposition.FactorAnalysis` with one factor,
    fitted by maximum likelihood to the complete rows on the items' own scale; with loadings
    ``λ_j`` and unique variances ``ψ_j``

    ``ω = (Σ λ_j)² / ((Σ λ_j)² + Σ ψ_j)``

    is the share of the variance of the unit-weighted sum that the common factor explains
    (the loadings' overall sign is chosen so that ``Σ λ_j >= 0``). Omega does not assume
    equal loadings as alpha does; for one-factor data ``ω >= α`` up to sampling error.
    ``NaN`` with fewer than three complete rows, or when a constant item makes the model
    degenerate.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from opsporing.evaluation import mcdonald_omega
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=500)
    >>> items = pd.DataFrame({f"i{j}": f + rng.normal(size=500) for j in range(4)})
    >>> round(mcdonald_omega(items), 2)  # true value 4² / (4² + 4) = 0.8
    0.8
    """
    x = _complete(_matrix(items)[0])
    if len(x) < 3 or (np.var(x, axis=0) == 0).any():
        return float("nan")
    fa = FactorAnalysis(n_components=1, svd_method="lapack").fit(x)
    loadings = fa.components_[0]
    common = float(loadings.sum()) ** 2
    return common / (common + float(fa.noise_variance_.sum()))


def corrected_item_total(items: Any) -> pd.DataFrame:
    """Corrected item-total correlation and alpha-if-deleted of each item.

    The corrected correlation of item ``j`` is its Pearson correlation with the sum of the
    *other* items (the item is not correlated with itself). Computed on complete rows from
    the covariance matrix ``C``: ``cov(x_j, T - x_j) = Σ_i C_ji - C_jj``.

    Returns
    -------
    DataFrame
        Index: item; columns ``r_item_rest`` and ``alpha_if_deleted``.

    Examples
    --------
    Item b of the :func:`cronbach_alpha` example against the rest ``a + c = 2 5 6 9``:
    ``cov = 4/3``, ``var(b) = 1/3``, ``var(a + c) = 25/3``, so
    ``r = (4/3) / sqrt(1/3 · 25/3) = 0.8``; without b, alpha of (a, c) is ``0.96``.

    >>> import pandas as pd
    >>> from opsporing.evaluation import corrected_item_total
    >>> answers = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 3, 3], "c": [1, 3, 3, 5]})
    >>> corrected_item_total(answers).round(3)
          r_item_rest  alpha_if_deleted
    item
    a           0.992             0.615
    b           0.800             0.960
    c           0.894             0.800
    """
    x, names = _matrix(items)
    x = _complete(x)
    k = x.shape[1]
    out = pd.DataFrame(
        {"r_item_rest": np.nan, "alpha_if_deleted": np.nan},
        index=pd.Index(names, name="item"),
    )
    if len(x) < 2:
        return out
    c = _cov(x)
    var = np.diag(c)
    rowsum = c.sum(axis=1)
    total = c.sum()
    rest_var = total - 2.0 * rowsum + var
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (rowsum - var) / np.sqrt(var * rest_var)
        alpha_del = (
            (k - 1) / (k - 2) * (1.0 - (np.trace(c) - var) / rest_var)
            if k > 2
            else np.full(k, np.nan)
        )
    out["r_item_rest"] = np.where(np.isfinite(r), r, np.nan)
    out["alpha_if_deleted"] = np.where(np.isfinite(alpha_del), alpha_del, np.nan)
    return out


def keyed_answers(instrument: Instrument, answers: pd.DataFrame) -> pd.DataFrame:
    """The instrument's item columns of ``answers``, checked and reverse-keyed.

    Every answer must be one of its scale's values or missing; otherwise a
    :class:`~opsporing.errors.ResponseValidationError` lists every bad cell. Reverse items
    become ``min + max - answer`` so that, within a domain, higher always means the same
    direction. Items absent from the table are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.evaluation import keyed_answers
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> rev = next(i.id for i in inst.items if i.reverse)
    >>> keyed_answers(inst, pd.DataFrame({rev: [0, 3]}))[rev].tolist()
    [3.0, 0.0]
    """
    if not isinstance(answers, pd.DataFrame):
        raise chk.fail("answers", chk.text(type(answers).__name__), "a pandas DataFrame")
    # Number items (counts) are never summed into a domain: they have no place here.
    present = [i for i in instrument.items if i.id in answers.columns and instrument.is_scored(i)]
    if not present:
        raise chk.fail(
            "answers",
            chk.text("no item columns"),
            f"columns named like the items of {instrument.key}",
        )
    problems: list[Problem] = []
    out = {}
    for item in present:
        scale = instrument.scale(item.scale)
        col = answers[item.id]
        allowed = ", ".join(map(str, scale.values))
        if not (
            pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)
        ):
            x = pd.to_numeric(col.where(col.map(_is_number, na_action="ignore")), errors="coerce")
            bad = col.notna().to_numpy() & x.isna().to_numpy()
            x_np = x.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            x_np = col.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = np.zeros(len(col), dtype=bool)
        bad |= ~np.isnan(x_np) & ~np.isin(x_np, np.asarray(scale.values, dtype=np.float64))
        for r in np.flatnonzero(bad)[: _MAX_PROBLEMS - len(problems)].tolist():
            label = answers.index[r]
            problems.append(
                Problem(
                    field=item.id,
                    value=col.iat[r],
                    expected=f"one of {allowed} (or empty)",
                    row=label if isinstance(label, int | str) else str(label),
                    kind="out_of_range",
                )
            )
        out[item.id] = (scale.min + scale.max - x_np) if item.reverse else x_np
    if problems:
        raise ResponseValidationError(
            problems, headline=f"answers that do not fit {instrument.key}"
        )
    return pd.DataFrame(out, index=answers.index)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def reliability_by_domain(instrument: Instrument, answers: pd.DataFrame) -> pd.DataFrame:
    """Cronbach's alpha and McDonald's omega of every domain of an instrument.

    Parameters
    ----------
    instrument : Instrument
    answers : DataFrame
        One row per form, one column per item id (raw answers, as for scoring).

    Returns
    -------
    DataFrame
        One row per domain: ``domain, direction, n_items, n_complete, alpha, omega``.
        A domain with fewer than two items present gets ``NaN``.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.evaluation import reliability_by_domain
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> emo = [i.id for i in inst.items_in("emotional")]
    >>> answers = pd.DataFrame({emo[0]: [0, 1, 2, 3], emo[1]: [0, 1, 3, 3], emo[2]: [1, 1, 2, 3]})
    >>> t = reliability_by_domain(inst, answers)
    >>> t.loc[t.domain == "emotional", ["n_items", "n_complete"]].to_numpy().tolist()
    [[3, 4]]
    """
    keyed = keyed_answers(instrument, answers)
    rows = []
    for domain in instrument.domains:
        cols = [i.id for i in instrument.scored_items_in(domain.id) if i.id in keyed.columns]
        x = keyed[cols].to_numpy()
        n_complete = int((~np.isnan(x).any(axis=1)).sum()) if cols else 0
        enough = len(cols) >= 2
        rows.append(
            {
                "domain": domain.id,
                "direction": domain.direction,
                "n_items": len(cols),
                "n_complete": n_complete,
                "alpha": cronbach_alpha(keyed[cols]) if enough else np.nan,
                "omega": mcdonald_omega(keyed[cols]) if enough else np.nan,
            }
        )
    return pd.DataFrame(rows)


def item_total_by_domain(instrument: Instrument, answers: pd.DataFrame) -> pd.DataFrame:
    """Corrected item-total correlation (item vs the rest of its domain) of every item.

    Returns
    -------
    DataFrame
        ``domain, item, reverse, r_item_rest, alpha_if_deleted``; items of a domain with
        fewer than two items present get ``NaN``.
    """
    keyed = keyed_answers(instrument, answers)
    parts = []
    for domain in instrument.domains:
        items = [i for i in instrument.scored_items_in(domain.id) if i.id in keyed.columns]
        if not items:
            continue
        cols = [i.id for i in items]
        if len(cols) >= 2:
            table = corrected_item_total(keyed[cols]).reset_index()
        else:
            table = pd.DataFrame({"item": cols, "r_item_rest": np.nan, "alpha_if_deleted": np.nan})
        table.insert(0, "domain", domain.id)
        table.insert(2, "reverse", [i.reverse for i in items])
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def icc(ratings: Any) -> pd.DataFrame:
    """Intraclass correlations ICC(1,1), ICC(2,1) and ICC(3,1) of Shrout & Fleiss (1979).

    ``ratings`` has one row per target (child) and one column per rater, complete. From the
    two-way ANOVA mean squares (``n`` targets, ``k`` raters): between targets ``BMS``, between
    raters ``JMS``, residual ``EMS`` and within targets ``WMS``,

    - ICC(1,1) = (BMS - WMS) / (BMS + (k-1) WMS): each child rated by different raters;
    - ICC(2,1) = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n): raters are a random
      sample and their systematic differences count as disagreement (absolute agreement);
    - ICC(3,1) = (BMS - EMS) / (BMS + (k-1) EMS): these raters only, consistency (a
      rater who is harsher by a constant is not penalised).

    Returns
    -------
    DataFrame
        Index ``ICC(1,1), ICC(2,1), ICC(3,1)``; columns ``icc, F, df1, df2, p_value`` (the
        F-test of ICC = 0).

    Examples
    --------
    Shrout & Fleiss (1979), Table 2: six targets, four judges.

    >>> import pandas as pd
    >>> from opsporing.evaluation import icc
    >>> t = pd.DataFrame([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...                   [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> icc(t)["icc"].round(2).tolist()
    [0.17, 0.29, 0.71]
    """
    x, _ = _matrix(ratings, "ratings")
    if np.isnan(x).any():
        raise chk.fail("ratings", chk.text("a missing rating"), "every target rated by every rater")
    n, k = x.shape
    if n < 2:
        raise chk.fail("ratings", chk.text(f"{n} target"), "at least 2 targets (rows)")
    grand = x.mean()
    ss_rows = k * float(np.sum((x.mean(axis=1) - grand) ** 2))
    ss_cols = n * float(np.sum((x.mean(axis=0) - grand) ** 2))
    ss_total = float(np.sum((x - grand) ** 2))
    ss_err = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    wms = (ss_cols + ss_err) / (n * (k - 1))

    def _ratio(num: float, den: float) -> float:
        return num / den if den != 0 else float("nan")

    icc1 = _ratio(bms - wms, bms + (k - 1) * wms)
    icc2 = _ratio(bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n)
    icc3 = _ratio(bms - ems, bms + (k - 1) * ems)
    f1, f3 = _ratio(bms, wms), _ratio(bms, ems)
    df_w, df_e = n * (k - 1), (n - 1) * (k - 1)
    return pd.DataFrame(
        {
            "icc": [icc1, icc2, icc3],
            "F": [f1, f3, f3],
            "df1": [n - 1] * 3,
            "df2": [df_w, df_e, df_e],
            "p_value": [
                float(stats.f.sf(f1, n - 1, df_w)),
                float(stats.f.sf(f3, n - 1, df_e)),
                float(stats.f.sf(f3, n - 1, df_e)),
            ],
        },
        index=pd.Index(["ICC(1,1)", "ICC(2,1)", "ICC(3,1)"], name="type"),
    )


def rater_agreement(
    data: pd.DataFrame,
    rater_a: str = "rater_a",
    rater_b: str = "rater_b",
    *,
    labels: Sequence[Any] | None = None,
) -> pd.Series:
    """Agreement of two raters who scored the same children, one row per child.

    Parameters
    ----------
    data : DataFrame
    rater_a, rater_b : str
        Columns with the two ratings (scores, steps, or ordered labels such as bands).
    labels : sequence, optional
        The ordered categories (see :func:`cohen_kappa`). The ICCs use the positions in
        ``labels`` as numbers when the ratings are labels, the values themselves otherwise.

    Returns
    -------
    Series
        ``n, exact_agreement, kappa, kappa_linear, kappa_quadratic, icc_2_1, icc_3_1``.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import rater_agreement
    >>> d = pd.DataFrame({"rater_a": ["grøn", "grøn", "gul", "gul", "rød", "rød"],
    ...                   "rater_b": ["grøn", "gul", "gul", "rød", "rød", "rød"]})
    >>> r = rater_agreement(d, labels=["grøn", "gul", "rød"])
    >>> r[["exact_agreement", "kappa"]].round(4).tolist()
    [0.6667, 0.5]
    """
    a = chk.column(data, rater_a, "rater_a")
    b = chk.column(data, rater_b, "rater_b")
    ca, cb, labs = label_codes(a, b, labels, (rater_a, rater_b))
    k = len(labs)
    numeric = all(_is_number(v) for v in labs)
    values = (
        np.column_stack([np.asarray(labs, dtype=np.float64)[ca], np.asarray(labs, np.float64)[cb]])
        if numeric
        else np.column_stack([ca, cb]).astype(np.float64)
    )
    weights: tuple[Weights, ...] = (None, "linear", "quadratic")
    kappas = [kappa_from_codes(ca, cb, k, w) for w in weights]
    iccs = icc(values)["icc"] if len(ca) >= 2 else pd.Series([np.nan] * 3)
    return pd.Series(
        {
            "n": float(len(ca)),
            "exact_agreement": float(np.mean(ca == cb)),
            "kappa": kappas[0],
            "kappa_linear": kappas[1],
            "kappa_quadratic": kappas[2],
            "icc_2_1": float(iccs.iloc[1]),
            "icc_3_1": float(iccs.iloc[2]),
        },
        dtype=np.float64,
    )
