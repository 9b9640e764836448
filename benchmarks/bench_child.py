"""Benchmark: screening rounds and trajectory features for the shipped synthetic children.

Run:  python benchmarks/bench_child.py [--children 4000] [--repeat 1]

Takes a sample of the children of ``data/synthetic/`` (both waves, both settings: some
move from the daycare to the school form), scores their forms into rounds
(``score_rounds``) and computes ``trajectory_features``; prints the time of each and, since
the synthetic children do not change between waves, the share flagged as a reliable
deterioration or improvement per domain (nominally 2.5 % each way).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of

from opsporing.child import score_rounds, trajectory_features

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
DOMAINS = ["emotional", "social", "behaviour", "development", "care", "resources"]


def sample(n: int, seed: int = 20261201) -> pd.DataFrame:
    """The forms of ``n`` children as a rounds table (wave -> round id and a date)."""
    forms = pd.concat(
        [pd.read_parquet(DATA / f"forms_{s}.parquet") for s in ("dagtilbud", "skole")],
        ignore_index=True,
    )
    kids = forms.loc[forms["wave"] == 0, "child_id"].unique()
    pick = set(np.random.default_rng(seed).choice(kids, size=n, replace=False))
    forms = forms[forms["child_id"].isin(pick)].drop(columns=["form_id", "rater_id"])
    forms = forms.reset_index(drop=True)
    forms["round_id"] = forms.pop("wave").map({0: "w0", 1: "w1"})
    forms["date"] = forms["round_id"].map({"w0": "2025-10-01", "w1": "2026-10-01"})
    return forms


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    forms = sample(args.children)
    result = score_rounds(forms)
    records = result.records()
    t_rounds = best_of(args.repeat, lambda: score_rounds(forms))
    t_features = best_of(args.repeat, lambda: trajectory_features(records, domains=DOMAINS))
    features = trajectory_features(records, domains=DOMAINS)
    both = features[features["traj.n_rounds"] == 2]
    print(f"{len(forms):,} forms, {len(result.rounds):,} rounds, {len(records):,} children")
    print(f"score_rounds {t_rounds:.1f} s, trajectory_features {t_features:.1f} s")
    for d in DOMAINS:
        worse, better = both[f"traj.worse.{d}"].mean(), both[f"traj.better.{d}"].mean()
        print(f"{d:12s} reliable deterioration {worse:6.2%}  improvement {better:6.2%}")


if __name__ == "__main__":
    main()
