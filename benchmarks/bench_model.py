"""Benchmark: suggestions with explanations against the bare model + SHAP calls.

Run:  python benchmarks/bench_model.py [--children 9048] [--repeat 3]

In one run, on this machine:

1. suggestions + explanations (``opsporing.decision.suggest_batch``: features from the
   score tables, red-flag bypass, calibrated probabilities, the suggestion policy's
   expected costs and rule sentence, conformal interval, data-reason abstention, SHAP
   reasons, "what would change it" (a bisection over domain scores for every suggestion
   of step >= 1), Danish and English sentences, frozen Suggestion records)
   for an average municipality's 9,048 children, as a ratio to the bare
   ``model.predict_proba(X)`` + ``shap.TreeExplainer(booster).shap_values(X)`` on the
   same rows with the features already built;
2. the same for one child;
3. the training time of the shipped model's fit on 50,000 children (one thread, as
   ``python -m opsporing.model.train`` does).

Target: overhead ratio <= 2.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of
from threadpoolctl import threadpool_limits

from opsporing.decision import suggest_batch
from opsporing.model import StepSuggester, build_features, load_model
from opsporing.model.train import PARAMS, SEED, prepare, score_rounds
from opsporing.synthetic import load_default

MODELS = Path(__file__).parent.parent / "models"



def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=9048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--single-repeat", type=int, default=30)
    args = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    model = load_model(MODELS / "step_suggester.skops")
    pop = load_default()
    tables = score_rounds(pop.forms)
    current, earlier = tables.current, tables.latest_earlier()
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(current), size=args.children, replace=False))
    scores = current.iloc[rows].reset_index(drop=True)
    before = earlier[earlier["child_id"].isin(scores["child_id"])].reset_index(drop=True)
    X = build_features(scores, before, id_column="child_id")  # built outside the bare timing
    one = scores.iloc[[int(np.flatnonzero(~scores["red_flag"].to_numpy())[0])]]
    one_before = before[before["child_id"].isin(one["child_id"])]
    X1 = build_features(one, one_before, id_column="child_id")

    def bare(features: pd.DataFrame) -> None:
        model.predict_proba(features)
        shap.TreeExplainer(model.estimators_[0]).shap_values(features.to_numpy())

    def library(s: pd.DataFrame, e: pd.DataFrame) -> list[object]:
        return suggest_batch(model, s, e, id_column="child_id")

    library(one, one_before)  # warm caches (instruments, vocabulary, scoring keys)
    bare(X1)
    t_bare = best_of(args.repeat, lambda: bare(X))
    t_lib = best_of(args.repeat, lambda: library(scores, before))
    t_bare1 = best_of(args.single_repeat, lambda: bare(X1))
    t_lib1 = best_of(args.single_repeat, lambda: library(one, one_before))
    n_red = int(scores["red_flag"].sum())
    made = library(scores, before)
    n_what_if = sum(bool(getattr(x, "what_would_change", ())) for x in made)
    print(f"{n_what_if:,} suggestions of step >= 1 carry a 'what would change it'")
    print(f"suggestions + explanations, {args.children:,} children ({n_red} red flags bypass "
          f"the model): {t_lib:.3f} s; bare predict_proba + TreeExplainer: {t_bare:.3f} s; "
          f"ratio {t_lib / t_bare:.2f}x (target <= 2)")
    print(f"one child: {1000 * t_lib1:.1f} ms; bare: {1000 * t_bare1:.1f} ms; "
          f"ratio {t_lib1 / t_bare1:.2f}x (target <= 2)")

    data = prepare(pop)
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        StepSuggester(**PARAMS, random_state=SEED).fit(data.X, data.step)
        t_fit = time.perf_counter() - t0
    print(f"training (fit, one thread) on {len(data.X):,} children: {t_fit:.1f} s")


if __name__ == "__main__":
    main()
