"""Benchmark: a whole country's worth of synthetic children, and the oracle.

Run:  python benchmarks/bench_synthetic.py [--children 1000000] [--oracle-children 10000]

Prints the wall time and peak memory of generating ``--children`` children with all
their screening forms (default 1,000,000, about Denmark's children aged 0-17), and the
time of the oracle (exact P(step | observations) by quadrature) for
``--oracle-children`` of them. Peak memory is the process's maximum resident set size
(``resource.getrusage``), which includes the Python interpreter and the libraries, and
the peak of Python allocations during generation (``tracemalloc``, which sees NumPy's
buffers).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from opsporing.synthetic import SyntheticConfig, SyntheticPopulation, generate, oracle_proba


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024**2 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB else


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--oracle-children", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--trace", action="store_true", help="also measure with tracemalloc")
    args = parser.parse_args()

    cfg = SyntheticConfig(n_children=args.children, seed=args.seed)
    generate(SyntheticConfig(n_children=1_000, seed=1), progress=False)  # warm imports/caches
    rss_before = _max_rss_mb()
    t0 = time.perf_counter()
    pop = generate(cfg, progress=False)
    t_gen = time.perf_counter() - t0
    n_forms = sum(len(f) for f in pop.forms.values())
    print(
        f"generate: {args.children:,} children, {n_forms:,} forms in {t_gen:.2f} s "
        f"({args.children / t_gen:,.0f} children/s)"
    )
    print(f"  max RSS {_max_rss_mb():,.0f} MB (before generating: {rss_before:,.0f} MB)")
    if args.trace:
        del pop
        tracemalloc.start()
        pop = generate(cfg, progress=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  peak traced allocations during generation {peak / 1024**2:,.0f} MB")

    keep = set(pop.children["child_id"].iloc[: args.oracle_children])
    sub = SyntheticPopulation(
        children=pop.children[pop.children["child_id"].isin(keep)],
        forms={s: f[f["child_id"].isin(keep)] for s, f in pop.forms.items()},
        config=pop.config,
        raters=pop.raters,
    )
    t0 = time.perf_counter()
    proba = oracle_proba(sub)
    t_oracle = time.perf_counter() - t0
    print(
        f"oracle: {len(proba):,} children in {t_oracle:.2f} s "
        f"({len(proba) / t_oracle:,.0f} children/s)"
    )


if __name__ == "__main__":
    main()
