"""SHAP explanations of the "needs more than universal services" model.

The explained quantity is the *margin* (log-odds) of the first binary model of a
:class:`~opsporing.model.StepSuggester`, ``P(step >= 1)`` before calibration. The
calibration is a monotone map of that margin, so a feature that raises the margin
raises the calibrated probability too; SHAP values add up exactly to the margin:
``base_value + sum(shap) == margin`` (checked by :meth:`Explainer.check_additivity`).

Features are grouped for people: domain scores by domain, concept flags by
vocabulary concept, and the rest as missing answers, change since the earlier
screening, age and setting (:func:`~opsporing.model.feature_groups`).

A reason never credits what was not observed: the contribution of a domain score that
could not be scored (NaN) and of a concept whose items were left unanswered goes to
"missing answers"; a concept the child's instrument does not ask about goes to
"daycare or school". Probabilities shown to people are the *calibrated*
``P(step >= 1)`` of the suggestion (:attr:`Explanation.probability`), never the margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import ModelError
from ..model import feature_groups, model_view
from ..vocabulary import Language, Text
from ._labels import group_items, group_label, join

F64 = npt.NDArray[np.float64]

#: Contributions smaller than this (log-odds) are not named in a sentence.
MIN_EFFECT = 0.05


@dataclass(frozen=True, slots=True)
class Reason:
    """One group of findings and how much it moved the suggestion.

    Attributes
    ----------
    group : str
        ``"concept:<code>"``, ``"domain:<id>"``, ``"total"``, ``"missing"``,
        ``"change"``, ``"age"`` or ``"setting"``.
    label : Text
        How the group reads in a sentence, in Danish and English.
    contribution : float
        SHAP value (log-odds of ``P(step >= 1)``); positive pushes the suggestion up.
    items : tuple of str
        The instrument's item ids behind the group (empty for context groups).
    """

    group: str
    label: Text
    contribution: float
    items: tuple[str, ...] = ()

    @property
    def direction(self) -> str:
        """``"up"`` or ``"down"``."""
        return "up" if self.contribution > 0 else "down"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the model leans the way it does for one child.

    Attributes
    ----------
    base_value : float
        The model's average margin (log-odds) before looking at this child.
    margin : float
        ``base_value`` plus every contribution: this child's margin.
    reasons : tuple of Reason
        Every group's contribution, largest absolute first.
    base_probability, probability : float or None
        The calibrated ``P(step >= 1)`` at ``base_value`` and at ``margin`` (what the
        suggestion shows); ``None`` when made without a model.
    """

    base_value: float
    margin: float
    reasons: tuple[Reason, ...]
    base_probability: float | None = None
    probability: float | None = None

    def up(self, top: int = 3, min_effect: float = MIN_EFFECT) -> tuple[Reason, ...]:
        """The ``top`` groups pushing the suggestion up by at least ``min_effect``."""
        return tuple(r for r in self.reasons if r.contribution >= min_effect)[:top]

    def down(self, top: int = 2, min_effect: float = MIN_EFFECT) -> tuple[Reason, ...]:
        """The ``top`` groups pulling the suggestion down by at least ``min_effect``."""
        return tuple(r for r in self.reasons if r.contribution <= -min_effect)[:top]

    def sentence(self, lang: Language = "da", top_up: int = 3, top_down: int = 2) -> str:
        """A short plain-language sentence.

        Examples
        --------
        >>> from opsporing.vocabulary import Text
        >>> e = Explanation(-2.0, -0.6, (
        ...     Reason("concept:emotional.withdrawal", Text("tilbagetrækning", "withdrawal"), 1.2),
        ...     Reason("concept:learning.absence", Text("højt fravær", "high absence"), 0.8),
        ...     Reason("concept:protective.trusted_adult",
        ...            Text("en fortrolig voksen", "a trusted adult"), -0.6)))
        >>> e.sentence("da")
        'Tilbagetrækning og højt fravær trækker forslaget op; en fortrolig voksen trækker ned.'
        >>> print(e.sentence("en"))
        The suggestion is pushed up by withdrawal and high absence,
        and pulled down by a trusted adult.
        """
        return render_sentence(self.up(top_up), self.down(top_down), lang)


def render_sentence(up: tuple[Reason, ...], down: tuple[Reason, ...], lang: Language) -> str:
    """The sentence for given reasons up and down."""
    ups = join([r.label.get(lang) for r in up], lang)
    downs = join([r.label.get(lang) for r in down], lang)
    if lang == "da":
        parts = ([f"{ups} trækker forslaget op"] if up else []) + (
            [f"{downs} trækker ned" if up else f"{downs} trækker forslaget ned"] if down else []
        )
        text = "; ".join(parts) if parts else "ingen enkelt oplysning flytter forslaget væsentligt"
    else:
        # The passive voice keeps the verb right whether a label is singular ("high
        # absence") or plural ("missing answers", "unexplained injuries").
        if up and down:
            text = f"the suggestion is pushed up by {ups}, and pulled down by {downs}"
        elif up:
            text = f"the suggestion is pushed up by {ups}"
        elif down:
            text = f"the suggestion is pulled down by {downs}"
        else:
            text = "no single finding moves the suggestion much"
    return text[0].upper() + text[1:] + "."


class Explainer:
    """SHAP (TreeExplainer) for the ``P(step >= 1)`` model of a fitted StepSuggester.

    Parameters
    ----------
    model : StepSuggester
        Fitted on a DataFrame of :func:`~opsporing.model.build_features` columns.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from opsporing.model import StepSuggester, feature_names
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.random((400, len(feature_names()))), columns=feature_names())
    >>> y = (X["score.social"] + 0.2 * rng.random(400) > 0.8).astype(int)
    >>> ex = Explainer(StepSuggester(max_iter=20, random_state=0).fit(X, y))
    >>> bool(ex.check_additivity(X.head(50)) < 1e-6)
    True
    """

    def __init__(self, model: Any) -> None:
        import warnings

        with warnings.catch_warnings():  # shap's colour maps use soon-deprecated matplotlib
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap

        if not hasattr(model, "estimators_"):
            raise ModelError("model: not fitted: expected a fitted StepSuggester")
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            raise ModelError(
                "model: fitted without feature names: expected a StepSuggester fitted on "
                "the DataFrame of opsporing.model.build_features"
            )
        self.model = model
        self.booster = model.estimators_[0]
        if not hasattr(self.booster, "predict_proba"):
            raise ModelError(
                "model: the P(step >= 1) model is constant: expected a boosted model to explain"
            )
        self.feature_names: tuple[str, ...] = tuple(str(n) for n in names)
        self.tree = shap.TreeExplainer(self.booster)
        base = np.ravel(np.asarray(self.tree.expected_value, dtype=np.float64))
        self.base_value = float(base[-1])
        groups = feature_groups(self.feature_names)
        self.groups: tuple[str, ...] = tuple(dict.fromkeys(groups.values()))
        position = {g: j for j, g in enumerate(self.groups)}
        self._group_matrix = np.zeros((len(self.feature_names), len(self.groups)))
        for i, name in enumerate(self.feature_names):
            self._group_matrix[i, position[groups[name]]] = 1.0
        # For concept groups: the feature whose value says present (1) / absent (0).
        self._concept_feature = {
            g: self.feature_names.index("concept." + g.removeprefix("concept:"))
            for g in self.groups
            if g.startswith("concept:")
        }
        if "change" in self.groups and "has_earlier" in self.feature_names:
            # "change" reads "no earlier screening" for a child without one.
            self._concept_feature["change"] = self.feature_names.index("has_earlier")
        for g in self.groups:
            # An informant's group reads "no form from ..." for a child without that form.
            who = g.removeprefix("informant:")
            if g.startswith("informant:") and f"has_{who}" in self.feature_names:
                self._concept_feature[g] = self.feature_names.index(f"has_{who}")
        # Where a NaN feature's contribution goes (a reason never credits what was not
        # observed): domain scores and asked concepts to "missing"; concepts the row's
        # instrument does not ask, to "setting"; a trend that could not be computed to
        # "change" (which reads "no earlier screening" without one); an informant's
        # domain score that is not there to that informant's form (which reads "no form
        # from ..." without one).
        self._missing_group = position.get("missing", -1)
        self._setting_group = position.get("setting", -1)
        self._movable = np.array([n.startswith(("score.", "concept.")) for n in self.feature_names])
        self._nan_target = np.full(len(self.feature_names), -1, dtype=np.int64)
        for i, name in enumerate(self.feature_names):
            group = groups[name]
            if group.startswith("trajectory:"):
                self._nan_target[i] = position.get("change", -1)
            elif group.startswith("informant:") and group.count(":") == 2:
                self._nan_target[i] = position.get(group.rpartition(":")[0], -1)
        self._asked_cache: dict[str, npt.NDArray[np.bool_]] = {}
        # "missing" reads "all questions answered" when nothing is missing.
        self._missing_feature = (
            self.feature_names.index("missing_fraction")
            if "missing" in self.groups and "missing_fraction" in self.feature_names
            else None
        )

    def probability(self, margin: Any) -> F64:
        """The calibrated ``P(step >= 1)`` at a margin of the first binary model."""
        m = np.atleast_1d(np.asarray(margin, dtype=np.float64))
        if hasattr(self.model, "calibrated"):
            out: F64 = self.model.calibrated(0, m)  # the model's own map and bounds
            return out
        return np.asarray(1.0 / (1.0 + np.exp(-m)), dtype=np.float64)

    def _asked(self, instrument: str | None) -> npt.NDArray[np.bool_]:
        """Which features an instrument observes (every feature when it is not known)."""
        if instrument is None:
            return np.ones(len(self.feature_names), dtype=bool)
        if instrument not in self._asked_cache:
            self._asked_cache[instrument] = np.array(
                [
                    not n.startswith("concept.")
                    or bool(group_items("concept:" + n.removeprefix("concept."), instrument))
                    for n in self.feature_names
                ]
            )
        return self._asked_cache[instrument]

    def _regroup(
        self, matrix: F64, values: F64, instruments: Sequence[str | None] | None = None
    ) -> F64:
        """SHAP values summed per group, NaN features moved to missing/setting."""
        grouped: F64 = values @ self._group_matrix
        grouped = self._move_unseen(matrix, values, grouped)
        if self._missing_group < 0 or self._setting_group < 0:
            return grouped
        nan = np.isnan(matrix) & self._movable
        if not nan.any():
            return grouped
        rows = instruments if instruments is not None else [None] * len(matrix)
        asked = np.array([self._asked(i) for i in rows]).reshape(matrix.shape)
        moved = np.where(nan, values, 0.0)
        grouped = grouped - moved @ self._group_matrix
        grouped[:, self._missing_group] += np.where(asked, moved, 0.0).sum(axis=1)
        grouped[:, self._setting_group] += np.where(asked, 0.0, moved).sum(axis=1)
        return grouped

    def _move_unseen(self, matrix: F64, values: F64, grouped: F64) -> F64:
        """NaN trends to "change", NaN informant scores to that informant's form."""
        targets = self._nan_target >= 0
        if not targets.any():
            return grouped
        nan = np.isnan(matrix) & targets
        if not nan.any():
            return grouped
        moved = np.where(nan, values, 0.0)
        out: F64 = grouped - moved @ self._group_matrix
        for j in np.unique(self._nan_target[targets]).tolist():
            out[:, j] += moved[:, self._nan_target == j].sum(axis=1)
        return out

    def _matrix(self, X: Any) -> F64:
        if isinstance(X, pd.DataFrame):
            view = model_view(X, self.feature_names)
            if tuple(map(str, view.columns)) != self.feature_names:
                raise ModelError(
                    "X: columns differ from the model's features: expected the columns of "
                    "opsporing.model.build_features in their order"
                )
            table: F64 = view.to_numpy(dtype=np.float64)
            return table
        out: F64 = np.asarray(X, dtype=np.float64)
        return out

    def shap_values(self, X: Any) -> pd.DataFrame:
        """SHAP value of every feature (rows like ``X``), in log-odds of ``P(step >= 1)``."""
        values = np.asarray(self.tree.shap_values(self._matrix(X)), dtype=np.float64)
        if values.ndim == 3:  # some shap versions: one slice per class
            values = values[..., -1]
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(values, columns=list(self.feature_names), index=index)

    def margin(self, X: Any) -> F64:
        """The explained quantity: the ``P(step >= 1)`` model's margin (log-odds)."""
        out: F64 = self.booster.decision_function(self._matrix(X))
        return out

    def check_additivity(self, X: Any, atol: float = 1e-6) -> float:
        """Largest ``|base_value + sum(shap) - margin|``; raises ModelError above ``atol``."""
        err = float(
            np.max(np.abs(self.base_value + self.shap_values(X).sum(axis=1) - self.margin(X)))
        )
        if err > atol:
            raise ModelError(f"SHAP additivity: error = {err:.3g}: expected at most {atol:g}")
        return err

    def group_values(self, shap_values: pd.DataFrame) -> pd.DataFrame:
        """SHAP values summed within each group (columns :attr:`groups`)."""
        return pd.DataFrame(
            shap_values.to_numpy() @ self._group_matrix,
            columns=list(self.groups),
            index=shap_values.index,
        )

    def explain(self, X: Any, instruments: Sequence[str | None] | None = None) -> list[Explanation]:
        """One :class:`Explanation` per row of ``X`` (features of build_features).

        ``instruments`` (the ``instrument`` column of the score table, one per row) names
        the items behind each reason; without it the reasons carry no item ids.
        """
        matrix = self._matrix(X)
        values = np.asarray(self.tree.shap_values(matrix), dtype=np.float64)
        if values.ndim == 3:
            values = values[..., -1]
        return self.from_values(matrix, values, instruments=instruments)

    def from_values(
        self,
        matrix: F64,
        values: F64,
        keep: int | None = None,
        instruments: Sequence[str | None] | None = None,
    ) -> list[Explanation]:
        """Explanations from a feature matrix and its SHAP values (no SHAP call).

        With ``keep``, each explanation holds only the ``keep`` strongest groups pushing
        up and the ``keep`` strongest pulling down (enough for a suggestion, and much
        faster for a whole municipality); ``margin`` is exact either way. ``instruments``
        as for :meth:`explain`.
        """
        grouped = self._regroup(matrix, values, instruments)
        order = np.argsort(-np.abs(grouped), axis=1, kind="stable")
        margins = self.base_value + values.sum(axis=1)
        base_p = float(self.probability(self.base_value)[0])
        probs = self.probability(margins) if len(margins) else np.zeros(0)
        labels: dict[tuple[str, bool], Text] = {}
        out = []
        for r in range(len(matrix)):
            instrument = instruments[r] if instruments is not None else None
            reasons = []
            n_up = n_down = 0
            for j in order[r]:
                value = float(grouped[r, j])
                if value == 0.0:
                    break  # sorted by |value|: only zeros remain
                if keep is not None:
                    if value > 0:
                        n_up += 1
                        if n_up > keep:
                            if n_down >= keep:
                                break
                            continue
                    else:
                        n_down += 1
                        if n_down > keep:
                            if n_up >= keep:
                                break
                            continue
                group = self.groups[j]
                col = self._concept_feature.get(group)
                present = col is None or matrix[r, col] == 1.0
                if group == "missing" and self._missing_feature is not None:
                    present = bool(matrix[r, self._missing_feature] > 0)
                key = (group, present)
                if key not in labels:
                    labels[key] = group_label(group, present)
                items = (
                    group_items(group, instrument)
                    if instrument is not None and (present or col is None)
                    else ()
                )
                reasons.append(Reason(group, labels[key], value, items))
            out.append(
                Explanation(
                    self.base_value, float(margins[r]), tuple(reasons), base_p, float(probs[r])
                )
            )
        return out


def global_importance(explainer: Explainer, X: Any, by: str = "group") -> pd.DataFrame:
    """Mean absolute SHAP value per group (or feature) over the rows of ``X``.

    Returns a table sorted by importance with columns ``mean_abs_shap``, ``share``
    (of the total), and ``label_da``/``label_en`` (groups only).
    """
    values = explainer.shap_values(X)
    if by == "group":
        values = explainer.group_values(values)
    elif by != "feature":
        raise ModelError(f"by = {by!r}: expected 'group' or 'feature'")
    mean_abs = values.abs().mean(axis=0).sort_values(ascending=False)
    out = pd.DataFrame({"mean_abs_shap": mean_abs, "share": mean_abs / mean_abs.sum()})
    if by == "group":
        out["label_da"] = [group_label(g).da for g in out.index]
        out["label_en"] = [group_label(g).en for g in out.index]
    out.index.name = by
    return out
