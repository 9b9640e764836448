"""Training and validating a model on local data, split by family so nothing leaks.

:func:`train_own_data` reads one's own screenings and outcomes (the format of
``docs/researcher-guide.md``), holds out whole families (or whole children when there are
no family ids) with :func:`~opsporing.model.family_split`, refuses any split that puts a
family on both sides (:func:`~opsporing.model.check_split`), fits a
:class:`~opsporing.model.StepSuggester` with the shipped hyper-parameters on the rest, and
evaluates it on the held-out families with the same evaluation as for the shipped model
(:func:`opsporing.evaluation.evaluation_from_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ..errors import DataError, Problem
from ._split import check_split, family_split


@dataclass(frozen=True)
class LocalTraining:
    """A model trained on local data and its evaluation on held-out families.

    Attributes
    ----------
    model : StepSuggester
    train_children, test_children : tuple of str
        The child ids on each side (no family on both).
    evaluation : Evaluation
        The evaluation on the held-out children (see :mod:`opsporing.evaluation`).
    manifest : dict or None
        The saved model's manifest (``None`` when not saved).
    """

    model: Any
    train_children: tuple[str, ...]
    test_children: tuple[str, ...]
    evaluation: Any
    manifest: dict[str, Any] | None


def _card_metrics(
    model: Any, current: pd.DataFrame, earlier: pd.DataFrame | None, step: pd.Series
) -> dict[str, Any]:
    """The card's figures on the held-out children, through ``suggest_batch`` (as shipped)."""
    from .. import _measure  # the training job sits on top of the library (see train.py)

    table = _measure.suggestion_table(model, current, earlier, policy=model.policy)
    y = step.reindex(table.index.astype(str)).to_numpy(dtype=np.int64)
    rules = model._policy()
    overall = _measure.detection_figures(table, y, rules)
    overall["policy_version"] = rules.version
    bands = current.set_index("child_id")["band.overall"]
    bands.index = bands.index.astype(str)
    band = _measure.band_rule_figures(bands.reindex(table.index.astype(str)), y, rules)
    return {"overall": overall, "band_rule": band}


def train_own_data(
    screenings: Any,
    outcomes: Any,
    out_dir: str | Path | None = None,
    *,
    groups: Sequence[str] = (),
    seed: int | None = None,
    params: dict[str, Any] | None = None,
    test_fraction: float = 0.2,
    split: tuple[Sequence[str], Sequence[str]] | None = None,
    allow_leak: bool = False,
    n_boot: int = 500,
    signing_key: str | Path | None = None,
) -> LocalTraining:
    """Train on one's own children, validate on held-out families, optionally save.

    Parameters
    ----------
    screenings, outcomes : path or DataFrame
        The documented own-data format; the label is ``decided_step``.
    out_dir : path, optional
        Write the model, its manifest and ``EVALUATION.html`` (held-out families) here.
    groups : sequence of str
        Evaluation-only group columns; never features.
    signing_key : path, optional
        The municipality's private key (``opsporing model keygen``) to sign the saved model
        with; without it the model is saved unsigned and ``load_model`` refuses it unless
        called with ``allow_unsigned=True``.
    seed : int, optional
        Seeds the split and the model (default: the shipped model's seed).
    params : dict, optional
        Overrides of the shipped hyper-parameters (``opsporing.model.train.PARAMS``).
    test_fraction : float, default 0.2
    split : (train child ids, test child ids), optional
        One's own split instead of :func:`family_split`; refused if it leaks.
    allow_leak : bool, default False
        Only to study leakage itself.
    n_boot : int, default 500
        Bootstrap replicates of the evaluation's intervals.

    Raises
    ------
    DataError
        A split with a family (or child) on both sides, or too few children with a
        decided step.
    """
    from ..evaluation import read_own_data
    from ..evaluation._owneval import evaluation_from_scores, own_features, score_own_data
    from ._artifact import save_model
    from ._estimator import StepSuggester
    from .train import PARAMS, SEED, data_hash

    seed = SEED if seed is None else seed
    data = read_own_data(screenings, outcomes, groups=groups)
    X_all, step_all = own_features(data)
    known = step_all.notna().to_numpy()
    X, step = X_all[known], step_all[known].astype(np.int64)
    if len(step) < 50 or step.nunique() < 2:
        raise DataError(
            str(
                Problem(
                    "outcomes.decided_step",
                    f"{len(step)} children, {step.nunique()} steps",
                    "at least 50 children with a decided step, and two different steps",
                )
            )
        )
    children = pd.Series(X.index.astype(str))
    families = (
        data.families.reindex(X.index).reset_index(drop=True) if data.families is not None else None
    )
    if split is None:
        train_rows, test_rows = family_split(
            children, families, strata=step.to_numpy(), test_fraction=test_fraction, seed=seed
        )
    else:
        position = {c: i for i, c in enumerate(children)}
        unknown = [c for c in (*split[0], *split[1]) if str(c) not in position]
        if unknown:
            raise DataError(str(Problem("split", unknown[0], "a child with a decided step")))
        train_rows = np.array([position[str(c)] for c in split[0]], dtype=np.int64)
        test_rows = np.array([position[str(c)] for c in split[1]], dtype=np.int64)
    check_split(children, train_rows, test_rows, families=families, allow_leak=allow_leak)

    model = StepSuggester(**{**PARAMS, **(params or {})}, random_state=seed)
    with threadpool_limits(limits=1):  # the same model on any machine (see train.py)
        model.fit(X.iloc[train_rows], step.iloc[train_rows])
    train_ids = tuple(children.iloc[train_rows])
    test_ids = tuple(children.iloc[test_rows])
    current, earlier, _ = score_own_data(data)
    test_set = set(test_ids)
    current = current[current["child_id"].astype(str).isin(test_set)].reset_index(drop=True)
    if earlier is not None:
        earlier = earlier[earlier["child_id"].astype(str).isin(test_set)].reset_index(drop=True)
    card_metrics = _card_metrics(model, current, earlier, step)
    manifest = None
    if out_dir is not None:
        extra = {
            "seed": seed,
            "training_data": {
                "source": "own data (opsporing.evaluation.read_own_data)",
                "data_sha256": data.sha256,
                "n_children": len(children),
                "n_train": len(train_rows),
                "n_test": len(test_rows),
                "split": "by family" if families is not None else "by child",
                "sha256": data_hash(X.iloc[train_rows], step.iloc[train_rows]),
                "step_counts": {
                    str(k): int(v) for k, v in step.value_counts().sort_index().items()
                },
            },
        }
        extra["metrics"] = card_metrics
        extra["policy"] = model._policy().model_dump(mode="json")
        manifest = save_model(model, out_dir, extra=extra, signing_key=signing_key)
        model.artifact_sha256_ = manifest["sha256"]
        from ._card import render_local_model_card

        Path(out_dir, "MODEL_CARD.md").write_text(
            render_local_model_card(manifest), encoding="utf-8"
        )
    evaluation = evaluation_from_scores(
        model,
        current,
        earlier,
        data.outcomes,
        groups=data.groups,
        families=data.families,
        provenance={"data_sha256": data.sha256, "evaluated on": "held-out families"},
        n_boot=n_boot,
        seed=seed,
    )
    if out_dir is not None:
        from ..evaluation import write_evaluation

        evaluation = write_evaluation(
            evaluation,
            Path(out_dir) / "EVALUATION.html",
            title="opsporing: a locally trained model on held-out families",
        )
    return LocalTraining(model, train_ids, test_ids, evaluation, manifest)
