"""Benchmark: batch scoring of 1,000,000 forms against the bare NumPy floor.

Run:  python benchmarks/bench_scoring.py [--forms 1000000] [--repeat 3]

Prints forms per second and the ratio of the library's batch scoring time (with
full validation: types, scale values, missing-data rules, bands, concepts) to a
bare NumPy matrix product of the same answers with the scoring key, both measured
in this run on this machine. Target: ratio <= 10.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _timing import best_of

from opsporing.instruments import get_instrument
from opsporing.scoring import score_batch, scoring_key


def synthetic_forms(n: int, instrument_id: str, seed: int = 0) -> pd.DataFrame:
    """Valid random answers (about 5% missing) for every item of the instrument."""
    inst = get_instrument(instrument_id)
    key = scoring_key(inst)
    rng = np.random.default_rng(seed)
    span = (key.hi - key.lo + 1).astype(np.int64)
    answers = key.lo + rng.integers(0, 2**31, size=(n, len(key.items))) % span
    answers = answers.astype(np.float64)
    answers[rng.random(answers.shape) < 0.05] = np.nan
    return pd.DataFrame(answers, columns=list(key.items))



def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--forms", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instrument", default="opsporing.skole.trivsel")
    args = parser.parse_args()

    inst = get_instrument(args.instrument)
    key = scoring_key(inst)
    forms = synthetic_forms(args.forms, args.instrument)
    floor_input = np.nan_to_num(forms.to_numpy(dtype=np.float64))  # prepared outside the timing

    score_batch(inst, forms.head(1000))  # warm caches (scoring key, imports)
    t_floor = best_of(args.repeat, lambda: floor_input @ key.membership)
    t_lib = best_of(args.repeat, lambda: score_batch(inst, forms))

    print(f"instrument          {inst.key} ({len(key.items)} items, {len(key.domains)} domains)")
    print(f"forms               {args.forms:,}")
    print(f"numpy floor         {t_floor:8.3f} s  (answers @ scoring key)")
    print(f"score_batch         {t_lib:8.3f} s  (validation on)")
    print(f"forms/s             {args.forms / t_lib:,.0f}")
    print(f"ratio to floor      {t_lib / t_floor:.1f}x  (target <= 10x)")


if __name__ == "__main__":
    main()
