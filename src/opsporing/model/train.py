"""Train the shipped model reproducibly: ``python -m opsporing.model.train``.

Reads the committed synthetic population (:func:`opsporing.synthetic.load_default`),
scores every form with the shipped instruments, builds features from the current
screening (wave 1) with the earlier one (wave 0) as change features, holds out a
fifth of the children (stratified by true step, fixed seed), fits a
:class:`~opsporing.model.StepSuggester` on the rest, measures it on the held-out
children against the oracle and the instruments' band rule, and writes
``models/step_suggester.skops``, ``models/manifest.json`` (signed into
``models/manifest.json.sig`` with ``--signing-key`` or ``$OPSPORING_SIGNING_KEY``) and
``models/MODEL_CARD.md``.

The same seed and data give the same model and the same metrics (training runs on one
thread, so the result does not depend on the machine's cores; two runs of the command
write the same file, byte for byte).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ..errors import DataError
from ..instruments import get_instrument
from ..scoring import score_batch
from ._artifact import save_model
from ._card import render_model_card
from ._estimator import StepSuggester
from ._features import INSTRUMENTS, build_features
from ._keys import SIGNING_KEY_ENV
from ._metrics import auc, expected_calibration_error, metrics_by_group, under_suggestion_rate

#: The seed of the shipped model.
SEED = 20261123

#: Share of children held out for the model card's metrics.
TEST_FRACTION = 0.2

#: Hyper-parameters of the shipped model (chosen on a validation split of the training
#: children, never on the held-out ones; see docs/model.md). ``threshold = 0.25``: the
#: suggested step is the lowest k that the child's need exceeds with less than 25 %
#: probability. With 0.5 (the median) even the oracle under-suggests by 2+ steps for
#: about 72 % of the children on steps 2-6 of this population; 0.25 roughly halves the
#: children with a need who are suggested step 0, at the price of suggesting step 1 or
#: more for about 7 % of all children (5 % have a need), and step 1 is the cheapest help.
PARAMS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "calibration": "isotonic",
    "calibration_fraction": 0.2,
    "threshold": 0.25,
    "conformal_alpha": 0.1,
    "max_missing": 0.25,
    "max_interval": 5,
}

#: Columns of a synthetic form table that are not answers (dropped or kept on scoring).
_FORM_META = ("form_id", "child_id", "wave", "rater_id")


@dataclass(frozen=True)
class TrainingData:
    """Features, labels and evaluation-only attributes of every child, one row each."""

    X: pd.DataFrame
    step: pd.Series
    scores: pd.DataFrame  # current screening's scores (band rule, red flags)
    groups: pd.DataFrame  # evaluation only: setting, sex, family_background
    oracle: pd.DataFrame | None  # p_step_0..6 of the oracle, when available


def score_population(forms: dict[str, pd.DataFrame], wave: int) -> pd.DataFrame:
    """Scores of one wave of a synthetic population's forms, all settings, by child."""
    parts = []
    for setting, table in forms.items():
        if setting not in INSTRUMENTS:
            raise DataError(
                f"forms[{setting!r}]: unknown setting: expected one of {list(INSTRUMENTS)}"
            )
        rows = table[table["wave"] == wave]
        if rows.empty:
            continue
        inst = get_instrument(INSTRUMENTS[setting], str(rows["instrument_version"].iloc[0]))
        answers = rows.drop(columns=[c for c in _FORM_META if c != "child_id"])
        parts.append(score_batch(inst, answers, keep=["child_id", "age_years"]))
    if not parts:
        raise DataError(f"forms: no forms of wave {wave}: expected at least one")
    return pd.concat(parts, ignore_index=True)


def prepare(pop: Any) -> TrainingData:
    """Everything the model and its evaluation need from a synthetic population."""
    current = score_population(pop.forms, wave=1)
    try:
        earlier: pd.DataFrame | None = score_population(pop.forms, wave=0)
    except DataError:
        earlier = None
    X = build_features(current, earlier, id_column="child_id")
    children = pop.children.set_index("child_id").reindex(X.index)
    if children["true_step"].isna().any():
        raise DataError("children: some screened children have no true_step: expected all")
    try:
        from ..synthetic import oracle_proba

        oracle: pd.DataFrame | None = oracle_proba(pop).reindex(X.index)
    except ImportError:  # pragma: no cover - the synthetic layer is part of the library
        oracle = None
    return TrainingData(
        X=X,
        step=children["true_step"].astype(np.int64),
        scores=current.set_index("child_id").reindex(X.index),
        groups=children[["setting", "sex", "family_background"]].astype(str),
        oracle=oracle,
    )


def split(data: TrainingData, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Train and test positions: a stratified (by true step) random fifth is held out."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(data.step), dtype=bool)
    steps = data.step.to_numpy()
    for s in np.unique(steps):
        rows = np.flatnonzero(steps == s)
        take = round(TEST_FRACTION * len(rows))
        test[rng.choice(rows, size=take, replace=False)] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def data_hash(X: pd.DataFrame, y: pd.Series) -> str:
    """SHA-256 of the training features and labels (content, not file encoding)."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=True).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(y, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def evaluate(model: StepSuggester, data: TrainingData, rows: np.ndarray) -> dict[str, Any]:
    """The model card's metrics on ``rows`` (held-out children)."""
    X = data.X.iloc[rows]
    y = data.step.to_numpy()[rows]
    needs = (y >= 1).astype(np.int64)
    proba = model.predict_proba(X)
    p1 = 1.0 - proba[:, 0]
    suggested = model.predict(X)
    lo, hi = model.predict_interval(X)
    abstain = model.abstain(X)
    scores = data.scores.iloc[rows]
    band = scores["band.overall"].astype(str).to_numpy()
    band_refer = np.isin(band, ["gul", "rød"])
    band_rank = pd.Series(band).map({"grøn": 0, "gul": 1, "rød": 2}).fillna(1).to_numpy()
    red = scores["red_flag"].to_numpy(dtype=bool)

    # The model at the band rule's referral rate: refer the same number of children.
    k = int(band_refer.sum())
    top = np.argsort(-p1, kind="stable")[:k]
    model_refer = np.zeros(len(y), dtype=bool)
    model_refer[top] = True

    def recall(refer: np.ndarray) -> float:
        return float(refer[needs == 1].mean()) if needs.any() else float("nan")

    def precision(refer: np.ndarray) -> float:
        return float(needs[refer].mean()) if refer.any() else float("nan")

    overall: dict[str, Any] = {
        "n_children": len(y),
        "prevalence_step_ge_1": round(float(needs.mean()), 4),
        "auc_step_ge_1": round(auc(needs, p1), 4),
        "ece_step_ge_1": round(expected_calibration_error(needs, p1), 4),
        "band_rule_auc": round(auc(needs, band_refer.astype(float)), 4),
        "band_ordinal_auc": round(auc(needs, band_rank), 4),
        "band_rule_referral_rate": round(float(band_refer.mean()), 4),
        "band_rule_recall": round(recall(band_refer), 4),
        "band_rule_precision": round(precision(band_refer), 4),
        "model_recall_at_band_rate": round(recall(model_refer), 4),
        "model_precision_at_band_rate": round(precision(model_refer), 4),
        "step_accuracy": round(float(np.mean(suggested == y)), 4),
        "step_mean_abs_error": round(float(np.mean(np.abs(suggested - y))), 4),
        "under_suggestion_2plus": round(under_suggestion_rate(y, suggested), 4),
        "under_suggestion_2plus_among_step_ge_2": round(
            under_suggestion_rate(y[y >= 2], suggested[y >= 2]) if (y >= 2).any() else np.nan, 4
        ),
        "over_suggestion_2plus": round(under_suggestion_rate(suggested, y), 4),
        "interval_coverage": round(float(np.mean((lo <= y) & (y <= hi))), 4),
        "interval_coverage_among_step_ge_1": round(
            float(np.mean(((lo <= y) & (y <= hi))[y >= 1])) if (y >= 1).any() else np.nan, 4
        ),
        "abstention_rate": round(float(abstain.mean()), 4),
        "red_flag_rate": round(float(red.mean()), 4),
    }
    overall["auc_margin_over_band_rule"] = round(
        overall["auc_step_ge_1"] - overall["band_rule_auc"], 4
    )
    if data.oracle is not None:
        oracle_p1 = 1.0 - data.oracle.iloc[rows]["p_step_0"].to_numpy(dtype=np.float64)
        overall["oracle_auc_step_ge_1"] = round(auc(needs, oracle_p1), 4)
        overall["auc_gap_to_oracle"] = round(
            overall["oracle_auc_step_ge_1"] - overall["auc_step_ge_1"], 4
        )
        overall["oracle_ece_step_ge_1"] = round(expected_calibration_error(needs, oracle_p1), 4)
        # The oracle with the same suggestion rule: how much under-suggestion is irreducible.
        oracle_cum = 1.0 - np.cumsum(data.oracle.iloc[rows].to_numpy(dtype=np.float64), axis=1)
        oracle_step = (oracle_cum[:, :-1] >= float(model.threshold)).sum(axis=1)
        overall["oracle_under_suggestion_2plus"] = round(under_suggestion_rate(y, oracle_step), 4)
        overall["oracle_under_suggestion_2plus_among_step_ge_2"] = round(
            under_suggestion_rate(y[y >= 2], oracle_step[y >= 2]) if (y >= 2).any() else np.nan, 4
        )

    table = pd.DataFrame(
        {"y": y, "needs": needs, "p1": p1, "suggested": suggested, "abstain": abstain}
    )
    group_metrics = {
        "auc_step_ge_1": lambda t: auc(t["needs"], t["p1"]),
        "ece_step_ge_1": lambda t: expected_calibration_error(t["needs"], t["p1"]),
        "prevalence_step_ge_1": lambda t: float(t["needs"].mean()),
        "mean_p_step_ge_1": lambda t: float(t["p1"].mean()),
        "under_suggestion_2plus": lambda t: under_suggestion_rate(t["y"], t["suggested"]),
        "abstention_rate": lambda t: float(t["abstain"].mean()),
    }
    groups = data.groups.iloc[rows]
    by_group = metrics_by_group(
        group_metrics, table, {c: groups[c].to_numpy() for c in groups.columns}
    )
    return {"overall": overall, "by_group": {k: v for k, v in by_group.items() if k != "overall"}}


def train(
    pop: Any = None,
    out_dir: str | Path | None = "models",
    *,
    seed: int = SEED,
    params: dict[str, Any] | None = None,
    progress: bool | None = None,
    signing_key: str | Path | None = None,
) -> dict[str, Any]:
    """Train, evaluate and (unless ``out_dir`` is None) save the model; return the manifest.

    Parameters
    ----------
    pop : synthetic population, optional
        Defaults to :func:`opsporing.synthetic.load_default`.
    out_dir : path or None
        Where to write the model file, manifest and model card.
    seed : int
        Seeds the held-out split and the model.
    params : dict, optional
        Overrides of :data:`PARAMS`.
    progress : bool, optional
        Print progress lines; by default only when stderr is a terminal.
    signing_key : path, optional
        Private key (``opsporing model keygen``) to sign the manifest with; default the
        file named by ``OPSPORING_SIGNING_KEY``, else the model is written unsigned
        (``load_model`` then needs ``allow_unsigned=True``).
    """
    show = progress if progress is not None else sys.stderr.isatty()

    def say(msg: str) -> None:
        if show:
            print(msg, file=sys.stderr, flush=True)

    if pop is None:
        from ..synthetic import load_default

        say("loading the synthetic population ...")
        pop = load_default()
    say("scoring forms and building features ...")
    data = prepare(pop)
    train_rows, test_rows = split(data, seed)
    model = StepSuggester(**{**PARAMS, **(params or {})}, random_state=seed)
    say(f"fitting on {len(train_rows)} children ...")
    # One thread: the order of floating-point sums in the boosting's histograms then does
    # not depend on the machine, so the model file is the same byte for byte everywhere
    # (and a busy machine does not slow OpenMP threads to a crawl).
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        model.fit(data.X.iloc[train_rows], data.step.iloc[train_rows])
        seconds = time.perf_counter() - start
        say(f"evaluating on {len(test_rows)} held-out children ...")
        metrics = evaluate(model, data, test_rows)
    extra = {
        "seed": seed,
        "training_data": {
            "source": "opsporing.synthetic (synthetic children; no real child's data)",
            "n_children": len(data.step),
            "n_train": len(train_rows),
            "n_test": len(test_rows),
            "sha256": data_hash(data.X.iloc[train_rows], data.step.iloc[train_rows]),
            "step_counts": {
                str(k): int(v) for k, v in data.step.value_counts().sort_index().items()
            },
        },
        "metrics": metrics,
    }
    if out_dir is None:
        from ._artifact import library_versions

        return {
            "versions": library_versions(),
            "features": list(data.X.columns),
            **extra,
            "fit_seconds": seconds,
            "model": model,
        }
    signing_key = signing_key or os.environ.get(SIGNING_KEY_ENV) or None
    manifest = save_model(model, out_dir, extra=extra, signing_key=signing_key)
    Path(out_dir, "MODEL_CARD.md").write_text(render_model_card(manifest), encoding="utf-8")
    signed = "signed" if signing_key else "UNSIGNED"
    say(f"wrote {out_dir}/{manifest['model_file']}, manifest.json ({signed}), MODEL_CARD.md "
        f"({seconds:.1f} s)")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opsporing.model.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default="models", help="output directory (default: models)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--signing-key", default=None,
        help=f"private key to sign the manifest with (default: ${SIGNING_KEY_ENV})",
    )
    args = parser.parse_args(argv)
    manifest = train(
        out_dir=args.out, seed=args.seed, progress=not args.quiet, signing_key=args.signing_key
    )
    overall = manifest["metrics"]["overall"]
    for key in ("auc_step_ge_1", "oracle_auc_step_ge_1", "band_rule_auc", "ece_step_ge_1",
                "under_suggestion_2plus"):
        if key in overall:
            print(f"{key}: {overall[key]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
