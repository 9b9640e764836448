"""StepSuggester: calibrated probabilities over the steps of the intervention staircase.

Why this learner
----------------
The staircase is *ordinal*: step 4 is more than step 3, and "needs more than
universal services" is the event ``step >= 1``. The model is therefore a sequential
(continuation-ratio) ordinal decomposition: one binary
:class:`~sklearn.ensemble.HistGradientBoostingClassifier` estimates
``P(step >= 1)``, and for each higher step ``k`` another estimates
``P(step >= k | step >= k - 1)`` from the children who reached step ``k - 1``. Then
``P(step >= k)`` is the product of the first ``k`` of them.

- Unlike ``K - 1`` independent models of ``P(step >= k)`` (Frank & Hall, 2001), the
  product can never give ``P(step >= 4) > P(step >= 3)``, so no probability needs
  clipping, and the models for the rare high steps train on the few hundred
  children who matter for them, which makes fitting several times faster.
- Gradient-boosted trees handle missing answers natively (NaN goes to whichever
  side of a split fits best), mix scores, flags and ages without scaling, and can be
  explained exactly with SHAP's TreeExplainer.
- Monotonic constraints (from :func:`~opsporing.model.monotonic_constraint`) make
  more concern never lower, and more protective factors never raise, each
  conditional probability, hence each ``P(step >= k)`` (a product of non-negative,
  non-decreasing factors): a professional who adds a concern must never see the
  risk fall.
- Probabilities are calibrated on a held-out split: isotonic regression on each
  binary model's margin (monotone, so it keeps the constraints), where the held-out
  children at that step give at least 20 of each outcome; otherwise the boosting's
  own log-loss probability is used.
- A second held-out half calibrates a *conformal* prediction interval over the
  ordered steps (the narrowest central interval of the predictive distribution that
  covers the true step for ``1 - conformal_alpha`` of the held-out children who
  need more than the lowest step: label-conditional split conformal), which
  :meth:`StepSuggester.abstain` uses to say "too uncertain — discuss in the team".

The suggested step (:meth:`StepSuggester.predict`) is chosen by the suggestion policy
(:mod:`opsporing.policy`, data in ``policy.yaml``): the step with the lowest expected
cost under the calibrated probabilities and the policy's cost matrix, near-ties going
down the staircase. The same rule, from the same place, gives the step of every
:class:`~opsporing.decision.Suggestion`. The model abstains (:meth:`abstain`) only for
data reasons from the same policy: too many missing answers, a required domain not
scorable, or inputs outside the range seen in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..errors import DataError, ModelError, NotFittedError
from ..policy import SuggestionPolicy, resolve_policy
from ._features import (
    check_no_forbidden,
    model_view,
    monotonic_constraint,
    outside_range_counts,
)

F64 = npt.NDArray[np.float64]

#: Fewest held-out children of each outcome for calibrating one binary model.
_MIN_CALIBRATION = 20

#: Tail probabilities tried when calibrating the conformal interval (coarse to fine).
_TAIL_GRID = np.concatenate([np.linspace(0.0, 0.2, 81), np.linspace(0.2125, 1.0, 64)])


class UnfittedModelError(NotFittedError, _SklearnNotFittedError):  # type: ignore[misc]
    """Raised on use before ``fit``: an opsporing and a scikit-learn ``NotFittedError``."""


class _Constant:
    """Stands in for a binary model whose training target had one value only."""

    def __init__(self, p: float) -> None:
        self.p = float(p)

    def decision_function(self, X: F64) -> F64:
        p = min(max(self.p, 1e-6), 1 - 1e-6)
        return np.full(len(X), np.log(p / (1 - p)))


def _sigmoid(z: F64) -> F64:
    out: F64 = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


class StepSuggester(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Suggests a staircase step with calibrated probabilities; never decides.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to each binary :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
        (early stopping off, so a fit is reproducible given ``random_state``).
    monotonic : {"auto", None} or dict
        ``"auto"``: constraints from the feature names when ``X`` is a DataFrame of
        :func:`~opsporing.model.build_features` columns (others get 0); ``None``: no
        constraints; a dict maps feature names to -1/0/+1.
    calibration : {"isotonic", "sigmoid", None}
        How each binary model is calibrated on the held-out split.
    calibration_fraction : float
        Share of the training rows held out for calibration and conformal intervals
        (half each). With fewer than 40 held-out rows, nothing is held out, the
        probabilities are the boosting's own and the interval is not calibrated.
    calibration_folds : int, default 0
        0: each binary model is calibrated on its half of the held-out rows. ``K >= 2``:
        cross-fitted calibration (scikit-learn's ``CalibratedClassifierCV`` with
        ``ensemble=False``): only the conformal half is held out, the binary models are
        fitted on every other row, and the calibration map is fitted on those rows'
        out-of-fold margins from ``K`` extra models per step. Many times more rows for the
        calibration map, so much less noise where a decision threshold meets it, for
        ``K`` times the fitting time.
    conformal_alpha : float
        Miscoverage of the conformal step interval (0.1: covers 90 % of children).
        The interval is shown beside a suggestion; it never makes the model abstain.
    min_probability, max_probability : float
        Every calibrated conditional probability is kept within ``[min_probability,
        max_probability]``: the top and bottom isotonic bins rest on few held-out
        children, and no child is ever shown as certain to need, or not to need, help.
        The floor is lower than the ceiling's complement because most children sit at
        the bottom, where a higher floor would merge bins and lose their order.
    policy : SuggestionPolicy, path or None
        The suggestion policy (cost matrix, tie tolerance, abstention rules); ``None``
        is the shipped ``opsporing/policy/data/policy.yaml``. Read when predicting,
        so a municipality's policy applies to an already fitted model.
    random_state : int, RandomState or None
        Seeds the held-out split.

    Attributes
    ----------
    classes_ : ndarray
        The steps seen in training, in order.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    n_iter_ : int
        Most boosting iterations of any binary model.
    estimators_ : list
        One binary model per step above the lowest: ``estimators_[0]`` gives
        ``P(step >= classes_[1])``, "needs more than universal services";
        ``estimators_[k - 1]`` gives ``P(step >= classes_[k] | step >= classes_[k - 1])``.
    calibrators_ : list
        The isotonic/sigmoid map of each binary model's margin (``None``: identity).
    monotonic_cst_ : ndarray of int
        The constraints used.
    interval_tail_ : float
        The calibrated tail mass of the conformal interval.
    feature_min_, feature_max_ : ndarray
        Smallest and largest value of each feature in training (NaN: never seen), for
        the policy's "inputs outside the training data" abstention.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 3))
    >>> y = np.clip(np.round(X[:, 0] + 0.3 * rng.normal(size=600)), 0, 2).astype(int)
    >>> model = StepSuggester(max_iter=30, random_state=0).fit(X, y)
    >>> model.classes_.tolist()
    [0, 1, 2]
    >>> proba = model.predict_proba(X[:2])
    >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
    ((2, 3), True)
    """

    #: Models saved before ``calibration_folds`` existed were calibrated on held-out rows.
    calibration_folds: int = 0

    def __init__(
        self,
        *,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        monotonic: Any = "auto",
        calibration: str | None = "isotonic",
        calibration_fraction: float = 0.2,
        calibration_folds: int = 0,
        conformal_alpha: float = 0.1,
        min_probability: float = 0.001,
        max_probability: float = 0.99,
        policy: Any = None,
        random_state: Any = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.monotonic = monotonic
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.calibration_folds = calibration_folds
        self.conformal_alpha = conformal_alpha
        self.min_probability = min_probability
        self.max_probability = max_probability
        self.policy = policy
        self.random_state = random_state

    # --- scikit-learn plumbing ----------------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "estimators_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimators_"):
            raise UnfittedModelError(
                f"This {type(self).__name__} instance is not fitted yet: call 'fit' with "
                "training data first (or load a trained model with opsporing.model.load_model)."
            )

    def _check_params(self) -> None:
        problems = []
        if self.calibration not in ("isotonic", "sigmoid", None):
            problems.append(
                f"calibration = {self.calibration!r}: expected 'isotonic', 'sigmoid' or None"
            )
        folds = self.calibration_folds
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0 or folds == 1:
            problems.append(
                f"calibration_folds = {folds!r}: expected 0 (held-out calibration) or a whole "
                "number of folds >= 2"
            )
        if not 0.0 <= float(self.calibration_fraction) < 1.0:
            problems.append(
                f"calibration_fraction = {self.calibration_fraction!r}: expected a number in [0, 1)"
            )
        if not 0.0 < float(self.conformal_alpha) < 1.0:
            problems.append(f"conformal_alpha = {self.conformal_alpha!r}: expected (0, 1)")
        if not 0.5 < float(self.max_probability) <= 1.0:
            problems.append(
                f"max_probability = {self.max_probability!r}: expected a number in (0.5, 1]"
            )
        if not 0.0 <= float(self.min_probability) < 0.5:
            problems.append(
                f"min_probability = {self.min_probability!r}: expected a number in [0, 0.5)"
            )
        try:
            resolve_policy(self.policy)
        except DataError as exc:
            problems.append(f"policy = {self.policy!r}: {exc}")
        if problems:
            raise ModelError("invalid StepSuggester parameters: " + "; ".join(problems))

    def _constraints(self, n_features: int) -> npt.NDArray[np.int64]:
        names = getattr(self, "feature_names_in_", None)
        if self.monotonic is None:
            return np.zeros(n_features, dtype=np.int64)
        if isinstance(self.monotonic, str) and self.monotonic == "auto":
            if names is None:
                return np.zeros(n_features, dtype=np.int64)
            return np.array([monotonic_constraint(str(n)) for n in names], dtype=np.int64)
        if isinstance(self.monotonic, dict):
            if names is None:
                raise ModelError(
                    "monotonic = dict needs X as a DataFrame with feature names: expected "
                    "a DataFrame, or monotonic='auto'/None"
                )
            unknown = sorted(set(self.monotonic) - {str(n) for n in names})
            if unknown:
                raise ModelError(f"monotonic names {unknown}: expected columns of X")
            return np.array([int(self.monotonic.get(str(n), 0)) for n in names], dtype=np.int64)
        raise ModelError(f"monotonic = {self.monotonic!r}: expected 'auto', None or a dict")

    def _booster(self, cst: npt.NDArray[np.int64]) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            monotonic_cst=cst.tolist() if cst.any() else None,
            early_stopping=False,
            random_state=0,
        )

    # --- fit ----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> StepSuggester:
        """Fit the binary models, the calibration and the conformal interval.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Features; NaN allowed. A DataFrame with a forbidden column (identifiers,
            sex, family background, ...) is refused with a
            :class:`~opsporing.errors.DataError`.
        y : array-like of shape (n_samples,)
            The step of each child (any ordered labels; sorted order is the order).

        Returns
        -------
        self
        """
        self._check_params()
        if isinstance(X, pd.DataFrame):
            check_no_forbidden(X.columns, "StepSuggester.fit(X)")
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        classes, rank = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DataError(
                f"y has 1 class ({classes[0]!r}): expected at least 2 classes (steps) to fit"
            )
        self.classes_ = classes
        n = len(y)
        # The range seen in training, for the policy's "inputs outside the training
        # data" abstention (NaN where a feature never had a value).
        seen = ~np.isnan(X)
        any_seen = seen.any(axis=0)
        self.feature_min_ = np.where(any_seen, np.where(seen, X, np.inf).min(axis=0), np.nan)
        self.feature_max_ = np.where(any_seen, np.where(seen, X, -np.inf).max(axis=0), np.nan)
        cst = self._constraints(X.shape[1])
        self.monotonic_cst_ = cst

        rng = check_random_state(self.random_state)
        n_held = round(float(self.calibration_fraction) * n)
        if self.calibration is None:
            n_held = round(float(self.calibration_fraction) * n / 2)
            n_held = n_held if n_held >= 20 else 0
        elif n_held < 40:
            n_held = 0
        order = rng.permutation(n)
        fit_rows = np.sort(order[n_held:]) if n_held else np.arange(n)
        held = order[:n_held]
        if self.calibration is None:
            cal_rows, conf_rows = held[:0], np.sort(held)
        else:
            cal_rows, conf_rows = np.sort(held[: n_held // 2]), np.sort(held[n_held // 2 :])
        folds = int(self.calibration_folds) if self.calibration is not None and n_held else 0
        if folds:
            # Cross-fitted calibration: the calibration half joins the fitting rows, and
            # the calibration map learns from every fitting row's out-of-fold margin.
            fit_rows = np.sort(np.concatenate([fit_rows, cal_rows]))
            cal_rows = fit_rows
            fold_of = np.empty(n, dtype=np.int64)
            fold_of[rng.permutation(fit_rows)] = np.arange(len(fit_rows)) % folds

        self.estimators_: list[Any] = []
        for k in range(1, len(classes)):
            rows = fit_rows[rank[fit_rows] >= k - 1]
            target = (rank[rows] >= k).astype(np.int64)
            if len(target) == 0 or target.min() == target.max():
                self.estimators_.append(_Constant(float(target.mean()) if len(target) else 0.5))
            else:
                Xk = X[rows]
                empty = np.isnan(Xk).all(axis=0)
                if empty.any():
                    # A feature with no value among these children (e.g. no earlier
                    # screening): constant 0 for this model, which then never splits on it.
                    Xk[:, empty] = 0.0
                self.estimators_.append(self._booster(cst).fit(Xk, target))

        self.n_iter_ = max([int(getattr(est, "n_iter_", 1)) for est in self.estimators_], default=1)
        self.calibrators_: list[Any] = []
        for k, est in enumerate(self.estimators_, start=1):
            rows = cal_rows[rank[cal_rows] >= k - 1]
            target = (rank[rows] >= k).astype(np.int64)
            n_pos = int(target.sum())
            if (
                self.calibration is None
                or isinstance(est, _Constant)
                or min(n_pos, len(target) - n_pos) < _MIN_CALIBRATION
            ):
                self.calibrators_.append(None)
                continue
            if folds:
                margin = self._out_of_fold_margin(X, rows, target, fold_of[rows], folds, cst)
            else:
                margin = est.decision_function(X[rows])
            if self.calibration == "isotonic":
                cal: Any = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                cal.fit(margin, target)
            else:
                from sklearn.linear_model import LogisticRegression

                cal = LogisticRegression(C=1e4).fit(margin[:, None], target)
            self.calibrators_.append(cal)

        self.interval_tail_ = float(self.conformal_alpha)
        self.n_calibration_ = len(cal_rows)
        self.n_conformal_ = len(conf_rows)
        if len(conf_rows):
            # Calibrated on the held-out children who need more than the lowest step
            # (when there are enough of them): the interval must cover *their* step for
            # 1 - alpha of them; with 95 % of children on step 0, coverage over everyone
            # would be met by intervals that ignore the children the model is for.
            needing = conf_rows[rank[conf_rows] >= 1]
            rows = needing if len(needing) >= _MIN_CALIBRATION else conf_rows
            self.interval_tail_ = self._conformal_tail(X[rows], rank[rows])
        return self

    def _out_of_fold_margin(
        self,
        X: F64,
        rows: npt.NDArray[np.int64],
        target: npt.NDArray[np.int64],
        fold: npt.NDArray[np.int64],
        folds: int,
        cst: npt.NDArray[np.int64],
    ) -> F64:
        """Each row's margin from a binary model fitted without the row's fold."""
        margin = np.empty(len(rows))
        for f in range(folds):
            inside, out = fold != f, fold == f
            if target[inside].min() == target[inside].max():
                margin[out] = 0.0 if target[inside][0] == 0 else 1.0
                continue
            Xk = X[rows[inside]]
            empty = np.isnan(Xk).all(axis=0)
            if empty.any():
                Xk[:, empty] = 0.0
            est = self._booster(cst).fit(Xk, target[inside])
            margin[out] = est.decision_function(X[rows[out]])
        return margin

    def _conformal_tail(self, X: F64, rank: npt.NDArray[np.int64]) -> float:
        """The largest tail mass whose interval covers the true step often enough.

        Intervals shrink as the tail mass grows (they are nested), so the coverage
        on held-out rows falls monotonically along the grid; split-conformal theory
        then guarantees coverage ``>= 1 - alpha`` on new children from the same
        population when the required rate is ``ceil((n + 1)(1 - alpha)) / n``.
        """
        cdf = np.cumsum(self._proba(X), axis=1)
        n = len(rank)
        need = min(1.0, np.ceil((n + 1) * (1 - float(self.conformal_alpha))) / n)
        best = 0.0
        for tail in _TAIL_GRID:
            lo, hi = self._interval_from_cdf(cdf, float(tail))
            if np.mean((lo <= rank) & (rank <= hi)) >= need:
                best = float(tail)
            else:
                break
        return best

    @staticmethod
    def _interval_from_cdf(cdf: F64, tail: float) -> tuple[npt.NDArray[np.int64], Any]:
        """Positions of the lowest and highest step of the central interval."""
        eps = 1e-12
        lo = (cdf < tail / 2 - eps).sum(axis=1)
        hi = (cdf < 1 - tail / 2 - eps).sum(axis=1)
        last = cdf.shape[1] - 1
        return np.minimum(lo, last), np.minimum(np.maximum(hi, lo), last)

    # --- prediction ---------------------------------------------------------------------------
    def _validate(self, X: Any) -> F64:
        self._check_fitted()
        if isinstance(X, pd.DataFrame):
            check_no_forbidden(X.columns, "StepSuggester(X)")
            X = model_view(X, getattr(self, "feature_names_in_", None))
        out: F64 = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        return out

    def calibrated(self, k: int, margin: Any) -> F64:
        """The calibrated conditional probability of binary model ``k`` at its ``margin``.

        The one home of the calibration map and of the probability bounds: the
        probabilities, the suggestions and the explanation plots all come through here.
        """
        m = np.asarray(margin, dtype=np.float64)
        cal = self.calibrators_[k]
        if cal is None:
            out: F64 = _sigmoid(m)
        elif isinstance(cal, IsotonicRegression):
            out = np.asarray(cal.predict(m), dtype=np.float64)
        else:
            out = np.asarray(cal.predict_proba(m[:, None])[:, 1], dtype=np.float64)
        low = float(getattr(self, "min_probability", 0.0))
        top = float(getattr(self, "max_probability", 1.0))
        result: F64 = np.clip(out, low, top)
        return result

    def _conditional(self, X: F64) -> F64:
        """Calibrated ``P(step >= k | step >= k - 1)`` for k = 1.. (n, K-1)."""
        out = np.empty((len(X), len(self.estimators_)))
        for j, est in enumerate(self.estimators_):
            out[:, j] = self.calibrated(j, est.decision_function(X))
        return out

    def _cumulative(self, X: F64) -> F64:
        """``P(step >= classes_[k])`` for k = 1.. (n, K-1): products of the conditionals."""
        out = np.cumprod(self._conditional(X), axis=1)
        return np.asarray(out, dtype=np.float64)

    def _proba(self, X: F64) -> F64:
        cum = self._cumulative(X)
        ones = np.ones((len(X), 1))
        zeros = np.zeros((len(X), 1))
        full = np.hstack([ones, cum, zeros])
        proba: F64 = full[:, :-1] - full[:, 1:]
        return proba

    def predict_proba(self, X: Any) -> F64:
        """Calibrated probability of each step in :attr:`classes_` (rows sum to 1)."""
        return self._proba(self._validate(X))

    def predict_cumulative(self, X: Any) -> F64:
        """``P(step >= classes_[k])`` for k = 1, ..., K-1, non-increasing along each row."""
        return self._cumulative(self._validate(X))

    def predict_needs_support(self, X: Any) -> F64:
        """``P(step >= classes_[1])``: "needs more than universal services"."""
        out: F64 = self._cumulative(self._validate(X))[:, 0]
        return out

    def _policy(self) -> SuggestionPolicy:
        return resolve_policy(self.policy)

    def _steps(self) -> npt.NDArray[np.int64]:
        """The staircase step of each class: the labels themselves when they are steps
        0-6, otherwise their ranks (the ordered labels of a generic ordinal problem)."""
        c = np.asarray(self.classes_)
        if (
            np.issubdtype(c.dtype, np.number)
            and np.all(c == np.round(c))
            and c.min() >= 0
            and (c.max() < 7)
        ):
            return c.astype(np.int64)
        if len(c) > 7:
            raise ModelError(
                f"classes_: {len(c)} classes: expected at most 7 ordered steps for the policy"
            )
        return np.arange(len(c), dtype=np.int64)

    def _suggest(self, proba: F64) -> npt.NDArray[np.int64]:
        """Position (in ``classes_``) of the step the policy chooses for each row."""
        return self._policy().choose(proba, self._steps())

    def predict(self, X: Any) -> Any:
        """The suggested step: the lowest expected cost under the suggestion policy.

        The same rule as :func:`opsporing.decision.suggest_batch` (where that suggests
        a step, the step is equal); see :mod:`opsporing.policy`.
        """
        positions = self._suggest(self._proba(self._validate(X)))
        return self.classes_[positions]

    def predict_interval(self, X: Any) -> tuple[Any, Any]:
        """Lowest and highest step of the conformal interval of each row."""
        Xv = self._validate(X)
        cdf = np.cumsum(self._proba(Xv), axis=1)
        lo, hi = self._interval_from_cdf(cdf, self.interval_tail_)
        return self.classes_[lo], self.classes_[hi]

    def abstain_reasons(self, X: Any) -> list[tuple[str, ...]]:
        """The data reasons to abstain for each row (empty: no reason).

        Reasons, from the policy's ``abstain`` section: ``"missing"`` (more than
        ``max_missing`` of the items unanswered; needs a ``missing_fraction`` column),
        ``"domain:<id>"`` (a required domain not scorable; needs ``score.<id>``),
        ``"input:<feature>"`` (a required input missing, e.g. the age),
        ``"range:<feature>"`` (a value more than ``range_margin`` of the training range
        outside it; the answered fractions are left to the "missing" rule). Never the
        width of the step interval: an uncertain step gets the lowest step the rule
        supports.
        """
        Xv = self._validate(X)
        return self._abstain_reasons(Xv)

    def _abstain_reasons(self, Xv: F64, policy: Any = None) -> list[tuple[str, ...]]:
        rules = (self._policy() if policy is None else resolve_policy(policy)).abstain
        names = [str(n) for n in getattr(self, "feature_names_in_", [])]
        reasons: list[list[str]] = [[] for _ in range(len(Xv))]
        if "missing_fraction" in names:
            miss = Xv[:, names.index("missing_fraction")]
            for r in np.flatnonzero(np.nan_to_num(miss, nan=1.0) > rules.max_missing):
                reasons[r].append("missing")
        required = [(f"score.{d}", f"domain:{d}") for d in rules.required_domains] + [
            (name, f"input:{name}") for name in rules.required_inputs
        ]
        if names:
            unknown = [col for col, _ in required if col not in names]
            if unknown:
                raise ModelError(
                    f"policy.abstain: {unknown} are not features of this model: expected "
                    "domains and inputs among its features (a misspelt name would switch the "
                    "rule off)"
                )
        for col, code in required:
            if col in names:
                for r in np.flatnonzero(np.isnan(Xv[:, names.index(col)])):
                    reasons[r].append(code)
        lo = getattr(self, "feature_min_", None)
        hi = getattr(self, "feature_max_", None)
        if lo is not None and hi is not None:
            margin = rules.range_margin * np.nan_to_num(hi - lo, nan=0.0)
            with np.errstate(invalid="ignore"):
                outside = (Xv < lo - margin - 1e-9) | (Xv > hi + margin + 1e-9)
            outside &= ~np.isnan(Xv)
            # Unanswered questions are the "missing" rule's business, not an input out of
            # range: a form with more blanks than any in training is not a stranger child;
            # nor is a child followed longer than any in training (outside_range_counts).
            counts = np.array(
                [outside_range_counts(n) for n in names] if names else [True] * Xv.shape[1]
            )
            outside &= counts
            for r, j in zip(*np.nonzero(outside), strict=True):
                reasons[r].append(f"range:{names[j] if names else j}")
        return [tuple(r) for r in reasons]

    def abstain(self, X: Any) -> npt.NDArray[np.bool_]:
        """Rows where the model should not suggest a step (discuss in the team).

        True where :meth:`abstain_reasons` names at least one data reason.
        """
        return np.array([bool(r) for r in self.abstain_reasons(X)], dtype=bool)

    def predict_summary(self, X: Any, policy: Any = None) -> dict[str, Any]:
        """Everything a suggestion needs, from one pass over the binary models.

        Returns a dict with ``proba`` (n, K), ``cumulative`` (n, K-1), ``costs`` (the
        policy's expected cost of each step, n × K), ``step`` (the suggested class, as
        :meth:`predict`), ``low`` and ``high`` (the conformal interval) and
        ``abstain_reasons`` (as :meth:`abstain_reasons`); ``staircase_step``,
        ``staircase_low``, ``staircase_high`` and ``staircase_steps`` give the same as
        staircase steps 0-6 (the labels when they are steps, otherwise their ranks).
        ``policy`` overrides the model's suggestion policy for this call (a municipality's
        own).
        """
        Xv = self._validate(X)
        cum = self._cumulative(Xv)
        ones, zeros = np.ones((len(Xv), 1)), np.zeros((len(Xv), 1))
        full = np.hstack([ones, cum, zeros])
        proba = full[:, :-1] - full[:, 1:]
        lo, hi = self._interval_from_cdf(np.cumsum(proba, axis=1), self.interval_tail_)
        rules = self._policy() if policy is None else resolve_policy(policy)
        steps = self._steps()
        chosen = rules.choose(proba, steps)
        return {
            "proba": proba,
            "cumulative": cum,
            "costs": rules.expected_costs(proba, steps),
            "step": self.classes_[chosen],
            "low": self.classes_[lo],
            "high": self.classes_[hi],
            # The same as staircase steps 0-6 (the labels, or their ranks: see _steps).
            "staircase_step": steps[chosen],
            "staircase_low": steps[lo],
            "staircase_high": steps[hi],
            "staircase_steps": steps,
            "abstain_reasons": self._abstain_reasons(Xv, rules),
        }

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Names of the :meth:`predict_proba` columns: ``p_step_<class>``."""
        self._check_fitted()
        return np.array([f"p_step_{c}" for c in self.classes_], dtype=object)
