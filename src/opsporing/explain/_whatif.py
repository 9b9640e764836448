"""What would change a suggestion: the smallest change of one domain score that moves it down.

For a suggestion of step ``s >= 1``, and for each searched domain on its own (every
scored domain, or the ones the caller names: suggestions search the three domains
pushing them up most, by SHAP value), the smallest move of that domain's score towards
*less* concern (a lower concern score, a higher resources score), in whole points of the
instrument's scale, after which the policy's rule suggests step ``s - 1`` or lower,
everything else on the form unchanged. The model's monotonic constraints make each step
a non-increasing function of such a move, so a bisection finds the smallest move, for
all children and domains at once. It is the smallest among the searched domains; a
domain not searched may need a smaller change.

This is a statement about the *model*, not about the child: it says which finding the
suggestion hinges on, so a professional can check that finding first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError, Problem
from ..model import DOMAINS, monotonic_constraint
from ..vocabulary import Language, Text
from ._labels import DOMAIN_LABELS

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The smallest change of one domain score that would move a suggestion one step down.

    Attributes
    ----------
    domain : str
        The domain id (``"behaviour"``, ...).
    label : Text
        The domain's score as it reads in a sentence.
    score_from, score_to : float
        The domain score on the form and the score at which the suggestion moves down,
        on the instrument's own scale.
    fraction : float
        The change as a share of the domain's range (0-1): how large a change it is.
    to_step : int
        The step that would then be suggested.
    """

    domain: str
    label: Text
    score_from: float
    score_to: float
    fraction: float
    to_step: int

    def sentence(self, lang: Language = "da") -> str:
        """One sentence, e.g. *If the behaviour score were 6 instead of 9, ...*.

        Examples
        --------
        >>> w = WhatIf("behaviour", DOMAIN_LABELS["behaviour"], 9.0, 6.5, 0.21, 0)
        >>> w.sentence("da")
        'Hvis scoren for adfærd var 6,5 i stedet for 9, ville forslaget være trin 0.'
        >>> w.sentence("en")
        'If the behaviour score were 6.5 instead of 9, the suggestion would be step 0.'
        """
        a, b = _num(self.score_to, lang), _num(self.score_from, lang)
        if lang == "da":
            return (
                f"Hvis {self.label.da} var {a} i stedet for {b}, "
                f"ville forslaget være trin {self.to_step}."
            )
        return (
            f"If {self.label.en} were {a} instead of {b}, "
            f"the suggestion would be step {self.to_step}."
        )


def _num(x: float, lang: Language) -> str:
    text = f"{x:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "da" else text


def what_would_change(
    model: Any,
    X: pd.DataFrame,
    steps: Any,
    ranges: F64,
    *,
    policy: Any = None,
    domains: Any = None,
    top: int = 2,
) -> list[tuple[WhatIf, ...]]:
    """For each row of ``X`` suggested a step >= 1, the smallest single-domain changes.

    The search is over whole points of the instrument's scale (tenths on a scale
    shorter than 4 points), by bisection: the policy's step never rises as a concern
    score falls or a resources score rises (the model's monotonic constraints).

    Parameters
    ----------
    model : StepSuggester
        Fitted on :func:`~opsporing.model.build_features` columns.
    X : DataFrame
        Features of the rows (columns of the model).
    steps : array of int
        The step suggested for each row (rows with step 0 get an empty tuple).
    ranges : array (n, 2 * len(DOMAINS))
        For each row and domain, the lowest and highest score of the row's instrument
        (:func:`~opsporing.model.domain_ranges`).
    policy : SuggestionPolicy, optional
        The policy whose rule chose ``steps`` (default: the model's).
    domains : list of sequences of str, optional
        The domains to try for each row (default: every scored domain). Suggestions
        pass the domains pushing the suggestion up most (by SHAP value), which keeps
        the search cheap for a whole municipality.
    top : int
        How many domains to name per suggestion, smallest change first.

    Returns
    -------
    list of tuple of WhatIf
    """
    steps = np.asarray(steps, dtype=np.int64)
    ranges = np.asarray(ranges, dtype=np.float64)
    if not isinstance(X, pd.DataFrame):
        raise DataError(str(Problem("X", type(X).__name__, "a DataFrame of model features")))
    if steps.shape != (len(X),):
        raise DataError(
            str(Problem("steps", f"shape {steps.shape}", f"one step per row ({len(X)})"))
        )
    if ranges.shape != (len(X), 2 * len(DOMAINS)):
        raise DataError(
            str(
                Problem(
                    "ranges",
                    f"shape {ranges.shape}",
                    f"({len(X)}, {2 * len(DOMAINS)}): lo and hi of each domain per row "
                    "(opsporing.model.domain_ranges)",
                )
            )
        )
    if domains is not None and len(domains) != len(X):
        raise DataError(str(Problem("domains", len(domains), f"one entry per row ({len(X)})")))
    out: list[tuple[WhatIf, ...]] = [() for _ in range(len(X))]
    rows = np.flatnonzero(steps >= 1)
    names = [str(c) for c in X.columns]
    if not len(rows):
        return out
    base = X.to_numpy(dtype=np.float64)[rows]
    pairs: list[tuple[int, int, int, int]] = []  # row, domain, score column, change column
    for pos, at in enumerate(rows):
        tried = DOMAINS if domains is None else tuple(domains[int(at)])
        for d in tried:
            if f"score.{d}" not in names or d not in DOMAINS:
                continue
            c = names.index(f"score.{d}")
            if np.isnan(base[pos, c]):
                continue
            ch = names.index(f"change.{d}") if f"change.{d}" in names else -1
            pairs.append((pos, DOMAINS.index(d), c, ch))
    if not pairs:
        return out
    pr = np.array(pairs, dtype=np.int64)
    sign = np.array([monotonic_constraint(f"score.{DOMAINS[j]}") for j in pr[:, 1]], dtype=float)
    current = base[pr[:, 0], pr[:, 2]]
    dlo = ranges[rows[pr[:, 0]], 2 * pr[:, 1]]
    dhi = ranges[rows[pr[:, 0]], 2 * pr[:, 1] + 1]
    span = np.where(np.isfinite(dhi - dlo) & (dhi > dlo), dhi - dlo, 1.0)
    unit = np.where(span >= 4, 1.0, 0.1)
    raw = dlo + current * span
    # Candidate scores: whole units towards less concern, down to the scale's end.
    bound = np.where(sign > 0, dlo, dhi)
    n_units = np.ceil(np.abs(raw - bound) / unit - 1e-9).astype(np.int64)
    n_units = np.where(sign == 0, 0, n_units)
    keep = n_units > 0
    pr, sign, current, raw = pr[keep], sign[keep], current[keep], raw[keep]
    unit, span, n_units, dlo, dhi = unit[keep], span[keep], n_units[keep], dlo[keep], dhi[keep]
    target = steps[rows][pr[:, 0]] - 1

    def score_at(k: npt.NDArray[np.int64]) -> F64:
        moved = (
            np.where(
                sign > 0,
                np.floor(raw / unit - 1e-9) - (k - 1),
                np.ceil(raw / unit + 1e-9) + (k - 1),
            )
            * unit
        )
        moved = np.where(k == 0, raw, moved)
        out: F64 = np.clip(moved, np.minimum(dlo, dhi), np.maximum(dlo, dhi))
        return out

    def step_after(k: npt.NDArray[np.int64], which: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        m = base[pr[which, 0]].copy()
        idx = np.arange(len(which))
        new = (score_at(k)[which] - dlo[which]) / span[which]
        delta = new - current[which]
        m[idx, pr[which, 2]] = new
        has_change = pr[which, 3] >= 0
        ci = pr[which, 3][has_change]
        m[idx[has_change], ci] = m[idx[has_change], ci] + delta[has_change]
        frame = pd.DataFrame(m, columns=X.columns)
        # The model's own rule (predict's, under the given policy) over its own steps, as
        # staircase steps: the same function predict_summary uses, without its extras.
        steps_of = np.asarray(model._steps(), dtype=np.int64)
        rules = model._policy() if policy is None else policy
        chosen = rules.choose(model.predict_proba(frame), steps_of)
        result: npt.NDArray[np.int64] = steps_of[chosen]
        return result

    everything = np.arange(len(pr))
    final_step = np.full(len(pr), -1, dtype=np.int64)
    if len(pr):
        final_step = step_after(n_units, everything)
    reachable = final_step <= target
    lo = np.zeros(len(pr), dtype=np.int64)  # not enough
    hi = n_units.copy()  # enough (where reachable)
    while True:
        open_ = np.flatnonzero(reachable & (hi - lo > 1))
        if not len(open_):
            break
        mid = (lo + hi) // 2
        got = step_after(mid, open_)
        ok = got <= target[open_]
        hi[open_[ok]] = mid[open_[ok]]
        final_step[open_[ok]] = got[ok]
        lo[open_[~ok]] = mid[open_[~ok]]
    to = score_at(hi)
    found: dict[int, list[WhatIf]] = {}
    for pair in np.flatnonzero(reachable):
        k = int(pair)
        row = int(rows[int(pr[k, 0])])
        d = DOMAINS[int(pr[k, 1])]
        found.setdefault(row, []).append(
            WhatIf(
                d,
                DOMAIN_LABELS[d],
                float(raw[k]),
                float(to[k]),
                float(abs(raw[k] - to[k]) / span[k]),
                int(final_step[k]),
            )
        )
    for row_id, items in found.items():
        out[row_id] = tuple(sorted(items, key=lambda w: w.fraction)[:top])
    return out
