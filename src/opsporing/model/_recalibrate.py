"""Local recalibration: refit a fitted model's calibration on local children, boosters untouched.

A model trained where 5 % of children need support, used where 10 % do, ranks children
as well as before (AUC unchanged) but under-states every probability: calibration is
local. Two remedies, both returning a *new* model (the parent is never changed):

- :func:`recalibrate` (labelled local children): refit the isotonic map from each
  binary model's margin to its probability (``P(step >= 1)``, ``P(step >= 2 | step >= 1)``,
  ...) on the local children, where at least ``min_per_outcome`` of each outcome are
  available; the other maps are kept. The maps carry the local prevalence with them.
- :func:`adjust_prior` (no labels, a known local prevalence): shift the log-odds of
  ``P(step >= 1)`` by the one constant that makes its mean over the local children equal
  the known prevalence (the prior-shift correction of Saerens et al., 2002, in its
  mean-matching form). Higher steps are left as they are.

:func:`save_recalibrated` writes the new model with a manifest recording the parent
model's SHA-256, the local data's SHA-256 and the calibration before and after.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from ..errors import DataError, ModelError, Problem

F64 = npt.NDArray[np.float64]

#: Fewest local children of each outcome to refit one binary model's calibration.
MIN_PER_OUTCOME = 20
#: Folds of the cross-fitted "after" calibration (honest: each child's probability comes
#: from maps fitted without it).
_FOLDS = 5


def _logit(p: F64) -> F64:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    out: F64 = np.log(q / (1 - q))
    return out


def _sigmoid(z: F64) -> F64:
    out: F64 = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def _apply(cal: Any, margin: F64) -> F64:
    """A calibration map of :class:`StepSuggester` applied to margins (None: sigmoid)."""
    if cal is None:
        return _sigmoid(margin)
    if isinstance(cal, IsotonicRegression):
        return np.asarray(cal.predict(margin), dtype=np.float64)
    return np.asarray(cal.predict_proba(margin[:, None])[:, 1], dtype=np.float64)


class PriorShift:
    """A calibration map followed by a constant shift of the log-odds (label-free prior).

    Quacks like the maps :class:`~opsporing.model.StepSuggester` uses (``predict_proba``
    on a column of margins, and ``predict``), so the boosters and the rest of the model
    stay as they were.
    """

    def __init__(self, base: Any, shift: float) -> None:
        self.base = base
        self.shift = float(shift)

    def predict(self, margin: Any) -> F64:
        m = np.asarray(margin, dtype=np.float64).ravel()
        return _sigmoid(_logit(_apply(self.base, m)) + self.shift)

    def predict_proba(self, margin: Any) -> F64:
        p = self.predict(margin)
        return np.column_stack([1.0 - p, p])


@dataclass(frozen=True)
class Recalibration:
    """A recalibrated model and what changed.

    Attributes
    ----------
    model : StepSuggester
        The new model (a copy; the parent is unchanged).
    before, after : Series
        Calibration of ``P(step >= 1)`` on the local children under the parent and the
        new model: ``n, prevalence, mean_p, observed_over_expected, ece, auc`` and, among
        children the model suggests step >= 1, ``n_suggested``, ``observed_suggested``,
        ``expected_suggested``, ``observed_over_expected_suggested``. ``after`` is
        cross-fitted (5 folds) for :func:`recalibrate`, so it is not flattered by
        fitting and measuring on the same children.
    refit : tuple of bool
        Per binary model (step >= 1, >= 2 | >= 1, ...): whether its map was refitted.
    data_sha256 : str
        SHA-256 of the local features and labels.
    method : str
        ``"isotonic"`` or ``"prior"``.
    """

    model: Any
    before: pd.Series
    after: pd.Series
    refit: tuple[bool, ...]
    data_sha256: str
    method: str


def _check_model(model: Any) -> None:
    from ._estimator import StepSuggester

    if not isinstance(model, StepSuggester) or not hasattr(model, "estimators_"):
        raise ModelError(
            str(Problem("model", type(model).__name__, "a fitted StepSuggester (load_model)"))
        )


def _matrix(model: Any, X: Any) -> F64:
    """``X`` as the model's feature matrix (columns by name, in the model's order)."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(str(Problem("X", type(X).__name__, "a DataFrame from build_features")))
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise DataError(
            str(
                Problem(
                    "X",
                    f"{len(missing)} missing columns, e.g. {missing[0]!r}",
                    "the model's features (build_features)",
                )
            )
        )
    return np.asarray(X[names].to_numpy(dtype=np.float64), dtype=np.float64)


def _steps(model: Any, y: Any, n: int) -> npt.NDArray[np.int64]:
    """Positions of ``y`` in ``model.classes_``; every bad value is reported."""
    values = pd.Series(y).reset_index(drop=True)
    if len(values) != n:
        raise DataError(str(Problem("y", f"{len(values)} values", f"{n} values, one per row")))
    classes = [int(c) for c in model.classes_]
    pos = {c: i for i, c in enumerate(classes)}
    out = np.empty(n, dtype=np.int64)
    bad = []
    for i, v in enumerate(values.tolist()):
        ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        if ok and float(v).is_integer() and int(v) in pos:
            out[i] = pos[int(v)]
        else:
            bad.append(Problem("y", v, f"a step of the model, one of {classes}", row=i))
    if bad:
        shown = "; ".join(str(p) for p in bad[:5])
        raise DataError(f"y: {len(bad)} bad values: {shown}")
    return out


def _margins(model: Any, matrix: F64) -> list[F64]:
    return [
        np.asarray(est.decision_function(matrix), dtype=np.float64) for est in model.estimators_
    ]


def _cumulative(maps: list[Any], margins: list[F64]) -> F64:
    cond = np.column_stack([_apply(c, m) for c, m in zip(maps, margins, strict=True)])
    out = np.cumprod(np.clip(cond, 0.0, 1.0), axis=1)
    return np.asarray(out, dtype=np.float64)


def data_sha256(X: pd.DataFrame, y: Any) -> str:
    """SHA-256 of local features and labels (content, not file encoding)."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=True).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(pd.Series(y), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def calibration_summary(
    p_needs: F64, needs: npt.NDArray[np.int64], suggested: npt.NDArray[np.bool_]
) -> pd.Series:
    """Calibration of ``P(step >= 1)`` overall and among children suggested step >= 1."""
    from ..evaluation import expected_calibration_error

    mean_p = float(p_needs.mean())
    both = 0 < needs.sum() < len(needs)
    obs_s = float(needs[suggested].mean()) if suggested.any() else float("nan")
    exp_s = float(p_needs[suggested].mean()) if suggested.any() else float("nan")
    return pd.Series(
        {
            "n": len(needs),
            "prevalence": float(needs.mean()),
            "mean_p": mean_p,
            "observed_over_expected": float(needs.mean()) / mean_p if mean_p else float("nan"),
            "ece": expected_calibration_error(needs, p_needs) if both else float("nan"),
            "auc": float(roc_auc_score(needs, p_needs)) if both else float("nan"),
            "n_suggested": int(suggested.sum()),
            "observed_suggested": obs_s,
            "expected_suggested": exp_s,
            "observed_over_expected_suggested": obs_s / exp_s if exp_s else float("nan"),
        },
        dtype=object,
    )


def _suggested(model: Any, cum: F64) -> npt.NDArray[np.bool_]:
    """Whether the model's own step rule (the suggestion policy) suggests step >= 1."""
    ones, zeros = np.ones((len(cum), 1)), np.zeros((len(cum), 1))
    full = np.hstack([ones, cum, zeros])
    proba = full[:, :-1] - full[:, 1:]
    positions = model._suggest(proba)  # the policy's rule: the same as predict's
    return np.asarray(np.asarray(model.classes_)[positions] >= 1, dtype=bool)


def _fit_map(margin: F64, target: npt.NDArray[np.int64]) -> IsotonicRegression:
    cal = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    cal.fit(margin, target)
    return cal


def _new_model(model: Any, maps: list[Any], info: Mapping[str, Any]) -> Any:
    new = copy.deepcopy(model)
    new.calibrators_ = list(maps)
    parent = getattr(model, "artifact_sha256_", None)
    new.parent_sha256_ = parent
    new.recalibration_ = dict(info)
    if hasattr(new, "artifact_sha256_"):
        del new.artifact_sha256_  # a new model: its hash is its own file's, once saved
    return new


def recalibrate(
    model: Any, X: pd.DataFrame, y: Any, *, min_per_outcome: int = MIN_PER_OUTCOME
) -> Recalibration:
    """Refit the calibration of a fitted model on local labelled children.

    Parameters
    ----------
    model : StepSuggester
        A fitted model, e.g. :func:`~opsporing.model.load_model`. Not changed.
    X : DataFrame
        The local children's features (:func:`~opsporing.model.build_features`).
    y : array-like
        Their steps (any of ``model.classes_``), e.g. the decided step.
    min_per_outcome : int, default 20
        A binary model's map is refitted only where the local children give at least this
        many of each outcome; otherwise the parent's map is kept (see ``refit``).

    Returns
    -------
    Recalibration

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from opsporing.model import StepSuggester
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=800)})
    >>> y = (X["a"] + rng.normal(size=800) > 1.5).astype(int)
    >>> m = StepSuggester(max_iter=20, random_state=0).fit(X, y)
    >>> y_local = (X["a"] + rng.normal(size=800) > 0.8).astype(int)  # more need locally
    >>> r = recalibrate(m, X, y_local)
    >>> r.refit, bool(abs(r.after["observed_over_expected"] - 1) < 0.1)
    ((True,), True)
    """
    _check_model(model)
    matrix = _matrix(model, X)
    rank = _steps(model, y, len(matrix))
    margins = _margins(model, matrix)
    old_maps = list(model.calibrators_)
    needs = (rank >= 1).astype(np.int64)

    def fit_maps(rows: npt.NDArray[np.int64]) -> tuple[list[Any], list[bool]]:
        maps, refit = [], []
        for k, (m, old) in enumerate(zip(margins, old_maps, strict=True), start=1):
            at = rows[rank[rows] >= k - 1]
            target = (rank[at] >= k).astype(np.int64)
            n_pos = int(target.sum())
            if min(n_pos, len(target) - n_pos) >= min_per_outcome:
                maps.append(_fit_map(m[at], target))
                refit.append(True)
            else:
                maps.append(old)
                refit.append(False)
        return maps, refit

    everyone = np.arange(len(rank))
    maps, refit = fit_maps(everyone)
    if not refit[0]:
        raise DataError(
            str(
                Problem(
                    "y",
                    f"{int(needs.sum())} children with step >= 1 of {len(needs)}",
                    f"at least {min_per_outcome} with and without a need to recalibrate",
                )
            )
        )
    # Cross-fitted "after": each child's probabilities from maps fitted on the other folds.
    folds = np.random.default_rng(0).permutation(len(rank)) % _FOLDS
    cum_after = np.empty((len(rank), len(margins)))
    for f in range(_FOLDS):
        fold_maps, _ = fit_maps(everyone[folds != f])
        held = folds == f
        cum_after[held] = _cumulative(fold_maps, [m[held] for m in margins])
    cum_before = _cumulative(old_maps, margins)
    digest = data_sha256(X, y)
    before = calibration_summary(cum_before[:, 0], needs, _suggested(model, cum_before))
    after = calibration_summary(cum_after[:, 0], needs, _suggested(model, cum_after))
    new = _new_model(
        model,
        maps,
        {"method": "isotonic", "data_sha256": digest, "n_children": len(rank), "refit": refit},
    )
    _refit_interval(new, matrix, rank, min_per_outcome)
    return Recalibration(new, before, after, tuple(refit), digest, "isotonic")


def _refit_interval(model: Any, matrix: F64, rank: npt.NDArray[np.int64], minimum: int) -> None:
    """Recalibrate the conformal step interval too, on the local children in need.

    The interval's tail mass was calibrated on the parent's probabilities; with new ones
    it would be too wide or too narrow (and abstain too often or too rarely). Refitted
    with the model's own rule when it has one and enough local children need support.
    """
    rule = getattr(model, "_conformal_tail", None)
    needing = rank >= 1
    if not callable(rule) or int(needing.sum()) < minimum:
        return
    try:
        model.interval_tail_ = float(rule(matrix[needing], rank[needing]))
    except (TypeError, ValueError, AttributeError):  # another model's rule: keep the parent's
        return


def adjust_prior(model: Any, X: pd.DataFrame, prevalence: float) -> Recalibration:
    """Shift ``P(step >= 1)`` so its mean over local children is a known prevalence.

    No labels needed: only the local children's features and the share of them known
    (from registers, say) to need more than universal services.

    Parameters
    ----------
    model : StepSuggester
    X : DataFrame
        The local children's features.
    prevalence : float
        The known local share with step >= 1, strictly between 0 and 1.

    Returns
    -------
    Recalibration
        ``before`` / ``after`` hold ``n``, ``mean_p`` and ``shift`` (log-odds); there is
        no observed outcome to compare with.
    """
    _check_model(model)
    ok = isinstance(prevalence, int | float) and not isinstance(prevalence, bool)
    if not ok or not 0.0 < float(prevalence) < 1.0:
        raise DataError(str(Problem("prevalence", prevalence, "a share strictly in (0, 1)")))
    matrix = _matrix(model, X)
    margins = _margins(model, matrix)
    base = model.calibrators_[0]
    logit = _logit(_apply(base, margins[0]))
    # The model keeps every probability within its bounds (min/max_probability): the
    # shift is solved for the bounded probability the model will show.
    low = float(getattr(model, "min_probability", 0.0))
    top = float(getattr(model, "max_probability", 1.0))

    def shown(d: float) -> F64:
        return np.clip(_sigmoid(logit + d), low, top)

    # The mean of the bounded sigmoid(logit + d) rises with d: bisection finds the shift.
    lo, hi = -20.0, 20.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if shown(mid).mean() < prevalence:
            lo = mid
        else:
            hi = mid
    shift = (lo + hi) / 2
    maps = [PriorShift(base, shift), *model.calibrators_[1:]]
    digest = data_sha256(X, np.zeros(len(X)))
    before = pd.Series(
        {"n": len(X), "mean_p": float(shown(0.0).mean()), "shift": 0.0}, dtype=object
    )
    after = pd.Series(
        {"n": len(X), "mean_p": float(shown(shift).mean()), "shift": shift}, dtype=object
    )
    new = _new_model(
        model,
        maps,
        {
            "method": "prior",
            "data_sha256": digest,
            "n_children": len(X),
            "prevalence": float(prevalence),
            "shift": shift,
        },
    )
    return Recalibration(new, before, after, (True,) + (False,) * (len(maps) - 1), digest, "prior")


def save_recalibrated(
    result: Recalibration, directory: str | Path, *, signing_key: str | Path | None = None
) -> dict[str, Any]:
    """Write the recalibrated model and a manifest naming its parent and the local data.

    The one place that calls :func:`~opsporing.model.save_model` for recalibrated models.
    Also writes ``RECALIBRATION.md``: the calibration before and after, in words. Sign it
    with the municipality's own key (``signing_key``, see ``opsporing model keygen``):
    :func:`~opsporing.model.load_model` refuses an unsigned model unless told otherwise.

    Returns
    -------
    dict
        The manifest.
    """
    from ._artifact import save_model

    def plain(s: pd.Series) -> dict[str, Any]:
        return {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in s.items()}

    extra = {
        "parent_model_sha256": getattr(result.model, "parent_sha256_", None),
        "recalibration": {
            "method": result.method,
            "data_sha256": result.data_sha256,
            "refit": list(result.refit),
            "before": plain(result.before),
            "after": plain(result.after),
        },
    }
    manifest = save_model(result.model, directory, extra=extra, signing_key=signing_key)
    Path(directory, "RECALIBRATION.md").write_text(render_recalibration(result), encoding="utf-8")
    return manifest


def _cell(value: Any) -> str:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f"{int(value):,}"
    return f"{float(value):.3f}"


def render_recalibration(result: Recalibration) -> str:
    """The before/after calibration as a short Markdown page."""
    parent = getattr(result.model, "parent_sha256_", None) or "an unsaved model"
    lines = [
        "# Recalibrated model",
        "",
        f"- Parent model: `{parent}`",
        f"- Method: {result.method}",
        f"- Local data SHA-256: `{result.data_sha256}`",
        f"- Maps refitted (step >= 1, >= 2 | >= 1, ...): {list(result.refit)}",
        "",
        "| | before | after |",
        "|---|---|---|",
    ]
    for key in result.before.index:
        b, a = result.before[key], result.after.get(key, float("nan"))
        lines.append(f"| {key} | {_cell(b)} | {_cell(a)} |")
    if result.method == "isotonic":
        lines += ["", "`after` is cross-fitted (5 folds) on the same local children."]
    lines += [
        "",
        "The boosters are the parent's: children are ranked as before (an isotonic map may "
        "tie a few, so the AUC can move in the third decimal); the probabilities, and the "
        "suggested steps that follow from them, are local.",
        "",
    ]
    return "\n".join(lines)
