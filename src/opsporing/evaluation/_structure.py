"""Instrument quality for researchers: factor structure of the domains, and item DIF by group.

- :func:`factor_structure`: does each domain hold together as one factor, and do the
  domains separate? A confirmatory factor analysis (one factor per domain, factors
  correlated; ``factor_analyzer``'s ``ConfirmatoryFactorAnalyzer``, maximum likelihood) with
  standardised loadings and the usual fit indices (chi-square, CFI, TLI, RMSEA, SRMR)
  computed from its implied covariance.
- :func:`item_dif`: differential item functioning by group (Mantel-Haenszel): among
  children with the same rest score of the domain, are children of one group more likely
  to get a concern answer on an item? The common odds ratio, the ETS delta
  (``-2.35 ln OR``) and the ETS class A (negligible), B (moderate), C (large).

Answers are keyed first (:func:`keyed_answers`), so reverse-keyed items count in the
domain's direction. Domains of yes/no items (the red-flag safety items) are left out of
the factor analysis: rare binary items are not for a linear factor model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from ..instruments import Instrument
from . import _checks as chk
from ._reliability import keyed_answers

#: ETS classification of Mantel-Haenszel DIF by |delta| (Zwick, 2012): A below 1, C from 1.5.
ETS_B, ETS_C = 1.0, 1.5


def _domains(instrument: Instrument, keyed: pd.DataFrame) -> dict[str, list[str]]:
    out = {}
    for domain in instrument.domains:
        items = [i.id for i in instrument.scored_items_in(domain.id) if i.id in keyed.columns]
        values = keyed[items].to_numpy(dtype=np.float64) if items else np.empty((0, 0))
        graded = bool(items) and np.nanmax(values, initial=0.0) > 1.0
        if len(items) >= 3 and graded:
            out[domain.id] = items
    return out


def _fit_indices(s: np.ndarray, sigma: np.ndarray, n: int, n_free: int) -> dict[str, float]:
    p = s.shape[0]
    _, logdet_sigma = np.linalg.slogdet(sigma)
    _, logdet_s = np.linalg.slogdet(s)
    f_ml = logdet_sigma + np.trace(s @ np.linalg.inv(sigma)) - logdet_s - p
    stat = (n - 1) * max(f_ml, 0.0)
    df = p * (p + 1) / 2 - n_free
    # the independence model: only the variances
    f_0 = float(np.sum(np.log(np.diag(s))) - logdet_s)
    stat_0, df_0 = (n - 1) * f_0, p * (p - 1) / 2
    d = np.sqrt(np.outer(np.diag(s), np.diag(s)))
    resid = (s - sigma) / d
    lower = np.tril_indices(p)
    return {
        "n": float(n),
        "chi2": float(stat),
        "df": float(df),
        "p_value": float(chi2.sf(stat, df)) if df > 0 else float("nan"),
        "cfi": float(1 - max(stat - df, 0) / max(stat_0 - df_0, stat - df, 1e-12)),
        "tli": float(((stat_0 / df_0) - (stat / df)) / ((stat_0 / df_0) - 1))
        if df > 0
        else float("nan"),
        "rmsea": float(np.sqrt(max(stat - df, 0) / (df * (n - 1)))) if df > 0 else float("nan"),
        "srmr": float(np.sqrt(np.mean(resid[lower] ** 2))),
    }


def _unpack(theta: np.ndarray, p: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loadings, factor correlations (always positive definite) and error variances."""
    lam = theta[:p]
    psi = np.exp(theta[p : 2 * p])
    low = np.zeros((k, k))
    low[np.tril_indices(k, -1)] = theta[2 * p :]
    low[np.diag_indices(k)] = 1.0
    cov = low @ low.T
    d = np.sqrt(np.diag(cov))
    return lam, cov / np.outer(d, d), psi


def _fit_cfa(s: np.ndarray, pattern: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Maximum-likelihood CFA, each item on one factor, factor variances fixed at 1.

    Minimises ``F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p`` with
    ``Sigma = Lambda Phi Lambda' + Psi`` (L-BFGS-B from loadings 0.7 SD, error variances
    half the item variances, uncorrelated factors).
    """
    from scipy.optimize import minimize

    p = s.shape[0]
    _, logdet_s = np.linalg.slogdet(s)
    rows = np.arange(p)

    def loss(theta: np.ndarray) -> float:
        lam_raw, phi, psi = _unpack(theta, p, k)
        lam = np.zeros((p, k))
        lam[rows, pattern] = lam_raw
        sigma = lam @ phi @ lam.T + np.diag(psi)
        sign, logdet = np.linalg.slogdet(sigma)
        if sign <= 0:
            return 1e10
        return float(logdet + np.trace(s @ np.linalg.inv(sigma)) - logdet_s - p)

    sd = np.sqrt(np.diag(s))
    start = np.concatenate([0.7 * sd, np.log(0.5 * np.diag(s)), np.zeros(k * (k - 1) // 2)])
    best = minimize(loss, start, method="L-BFGS-B", options={"maxiter": 2000})
    return _unpack(np.asarray(best.x), p, k)


def factor_structure(instrument: Instrument, answers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Confirmatory factor analysis: one correlated factor per domain of graded items.

    Parameters
    ----------
    instrument : Instrument
    answers : DataFrame
        One row per form, one column per item id (raw answers). Forms with a missing answer
        on an analysed item are left out (listwise); ``fit["n"]`` says how many counted.

    Returns
    -------
    dict of str to DataFrame
        ``"loadings"``: one row per item (``domain, item, loading`` standardised, ``r2``);
        ``"factor_correlations"``: domain by domain; ``"fit"``: one row of ``n, chi2, df,
        p_value, cfi, tli, rmsea, srmr``. Conventional reading: CFI and TLI of 0.95 or
        more, RMSEA of 0.06 or less and SRMR of 0.08 or less suggest a good fit (Hu &
        Bentler, 1999); a standardised loading below 0.4 marks an item that says little
        about its domain.
    """
    keyed = keyed_answers(instrument, answers)
    domains = _domains(instrument, keyed)
    if len(domains) < 2:
        raise chk.fail(
            "answers",
            chk.text(f"{len(domains)} domains of 3+ graded items answered"),
            "at least two domains to analyse",
        )
    items = [i for cols in domains.values() for i in cols]
    x = keyed[items].dropna()
    if len(x) < 10 * len(items):
        raise chk.fail(
            "answers",
            chk.text(f"{len(x)} complete forms"),
            f"at least {10 * len(items)} complete forms (10 per item)",
        )
    s = np.cov(x.to_numpy(dtype=np.float64), rowvar=False)
    pattern = np.array([list(domains).index(d) for d, cols in domains.items() for _ in cols])
    lam_raw, phi, psi_raw = _fit_cfa(s, pattern, len(domains))
    lam = np.zeros((len(items), len(domains)))
    lam[np.arange(len(items)), pattern] = lam_raw
    psi = np.diag(psi_raw)
    sigma = lam @ phi @ lam.T + psi
    sd_f = np.sqrt(np.diag(phi))
    std = lam * sd_f / np.sqrt(np.diag(sigma))[:, None]
    names = list(domains)
    domain_of = [d for d, cols in domains.items() for _ in cols]
    loading = std[np.arange(len(items)), [names.index(d) for d in domain_of]]
    n_free = 2 * len(items) + len(names) * (len(names) - 1) // 2
    return {
        "loadings": pd.DataFrame(
            {"domain": domain_of, "item": items, "loading": loading, "r2": loading**2}
        ),
        "factor_correlations": pd.DataFrame(phi / np.outer(sd_f, sd_f), index=names, columns=names),
        "fit": pd.DataFrame([_fit_indices(s, sigma, len(x), n_free)]),
    }


def _mantel_haenszel(
    item: np.ndarray, focal: np.ndarray, strata: np.ndarray
) -> tuple[float, float, int]:
    """Common odds ratio (reference vs focal), MH chi-square p-value, children counted."""
    num = den = 0.0
    a_sum = e_sum = v_sum = 0.0
    counted = 0
    for k in np.unique(strata):
        m = strata == k
        ref, foc = ~focal[m], focal[m]
        a, b = float(item[m][ref].sum()), float((1 - item[m][ref]).sum())
        c, d = float(item[m][foc].sum()), float((1 - item[m][foc]).sum())
        t = a + b + c + d
        if t < 2 or (a + b) == 0 or (c + d) == 0:
            continue
        counted += int(t)
        num += a * d / t
        den += b * c / t
        m1, n_ref, n_foc = a + c, a + b, c + d
        a_sum += a
        e_sum += n_ref * m1 / t
        v_sum += n_ref * n_foc * m1 * (t - m1) / (t * t * (t - 1))
    odds = num / den if den > 0 else float("nan")
    stat = (abs(a_sum - e_sum) - 0.5) ** 2 / v_sum if v_sum > 0 else float("nan")
    return odds, float(chi2.sf(stat, 1)) if v_sum > 0 else float("nan"), counted


def item_dif(
    instrument: Instrument,
    answers: pd.DataFrame,
    group: Any,
    *,
    reference: Any = None,
    concern_from: int = 2,
) -> pd.DataFrame:
    """Mantel-Haenszel DIF of every graded item, each other group against a reference group.

    An item answer counts as a concern when its keyed value is at least ``concern_from``
    (e.g. "often" or more). Children are matched on the rest score of the item's domain
    (the domain's keyed sum without the item, complete answers only).

    Parameters
    ----------
    instrument : Instrument
    answers : DataFrame
        One row per form, raw answers.
    group : array-like
        The group of each form (evaluation only), same length as ``answers``.
    reference : optional
        The reference group; default the largest.
    concern_from : int, default 2

    Returns
    -------
    DataFrame
        One row per item and focal group: ``domain, item, group, reference, n,
        odds_ratio`` (odds of a concern answer in the reference over the focal group, at
        the same rest score; below 1: the focal group gets more concern answers),
        ``delta`` (ETS, ``-2.35 ln OR``: positive when the focal group gets *more* concern
        answers than reference children with the same rest score), ``p_value`` (MH
        chi-square, continuity-corrected) and ``ets_class`` (A: |delta| < 1 or not
        significant; C: |delta| >= 1.5 and significant; B otherwise).

    Notes
    -----
    An item with DIF biases the rest score that the others are matched on, and can make
    them look biased the other way. So the matching is purified once (Holland & Thayer,
    1988): items of class C in a first pass are left out of the rest score of the others
    in the second, reported pass.
    """
    keyed = keyed_answers(instrument, answers)
    g = pd.Series(chk.as_1d(group, "group"), dtype=object).reset_index(drop=True)
    chk.same_length(answers=np.empty(len(keyed)), group=g.to_numpy())
    if g.isna().any():
        raise chk.fail(
            "group",
            None,
            "a group label for every form",
            row=int(np.flatnonzero(g.isna().to_numpy())[0]),
        )
    labels = g.astype(str).to_numpy()
    ref = str(reference) if reference is not None else str(g.astype(str).value_counts().index[0])
    if ref not in set(labels):
        raise chk.fail("reference", reference, f"one of the groups {sorted(set(labels))}")
    keyed = keyed.reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    for domain, items in _domains(instrument, keyed).items():
        block = keyed[items]
        complete = block.notna().all(axis=1).to_numpy()
        first = _dif_pass(block, items, complete, labels, ref, concern_from, excluded=set())
        flagged = {r["item"] for r in first if r["ets_class"] == "C"}
        final = _dif_pass(block, items, complete, labels, ref, concern_from, excluded=flagged)
        rows += [{"domain": domain, **r} for r in final]
    return pd.DataFrame(rows)


def _dif_pass(
    block: pd.DataFrame,
    items: list[str],
    complete: np.ndarray,
    labels: np.ndarray,
    ref: str,
    concern_from: int,
    excluded: set[str],
) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        matching = [c for c in items if c != item and c not in excluded]
        rest = block[matching].sum(axis=1).to_numpy()
        concern = (block[item].to_numpy() >= concern_from).astype(np.float64)
        for focal_label in sorted(set(labels) - {ref}):
            use = complete & np.isin(labels, [ref, focal_label])
            odds, p, counted = _mantel_haenszel(concern[use], labels[use] == focal_label, rest[use])
            delta = -2.35 * np.log(odds) if odds > 0 and np.isfinite(odds) else np.nan
            significant = bool(p < 0.05) if np.isfinite(p) else False
            cls = (
                "C"
                if significant and abs(delta) >= ETS_C
                else "B"
                if significant and abs(delta) >= ETS_B
                else "A"
            )
            rows.append(
                {
                    "item": item,
                    "group": focal_label,
                    "reference": ref,
                    "n": counted,
                    "odds_ratio": odds,
                    "delta": delta,
                    "p_value": p,
                    "ets_class": cls,
                }
            )
    return rows


def dif_by_groups(
    instrument: Instrument,
    answers: pd.DataFrame,
    groups: pd.DataFrame,
    columns: Sequence[str],
) -> pd.DataFrame:
    """:func:`item_dif` for several group columns, stacked with a ``group_column``."""
    parts = [
        item_dif(instrument, answers, groups[c].to_numpy()).assign(group_column=c) for c in columns
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
