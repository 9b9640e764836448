"""Benchmark: a whole country's worth of synthetic children, and the oracle.

Run:  python benchmarks/bench_synthetic.py [--children 1000000] [--oracle-children 10000]

Prints the wall time and peak memory of generating ``--children`` children with all
their screening forms (default 1,000,000, about Denmark's children aged 0-17), and the
time of the oracle (exact P(step | observations) by quadrature) for
``--oracle-children`` of them. Peak memory is the process's maximum resident set size
(``resource.getrusage``), which includes the Python interpreter and the libraries, and
the peak of Python allocations during generation (``tracemalloc``, which sees NumPy's
buffers).

The oracle is timed on every form of every wave and informant (the default) and, as the
baseline of the same run, on the current educator form alone (one form per child, the
information the oracle had before issue 13); both the best of ``--repeat`` runs. The
ratio is the cost of the episode recursion over the waves and the parent and child
forms. Target: ratio <= 6.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from _timing import best_of

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
    parser.add_argument("--repeat", type=int, default=3, help="oracle timings, best of")
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
    n = len(sub.children)
    current = {k: f[f["wave"] == cfg.current_wave] for k, f in sub.forms.items()}
    one_form = SyntheticPopulation(sub.children, current, sub.config, sub.raters)
    t_all = best_of(args.repeat, lambda: oracle_proba(sub))
    t_one = best_of(args.repeat, lambda: oracle_proba(one_form, informants=("educator",)))
    t_now = best_of(args.repeat, lambda: oracle_proba(one_form))
    n_forms = sum(len(f) for f in sub.forms.values())
    print(f"oracle: {n:,} children, {n_forms:,} forms of {cfg.n_waves} waves")
    print(f"  every wave and informant   {t_all / n * 1e4:.2f} s per 10,000 children")
    print(f"  current wave, every inf.   {t_now / n * 1e4:.2f} s per 10,000 children")
    print(f"  current educator form only {t_one / n * 1e4:.2f} s per 10,000 children (baseline)")
    print(f"  ratio to baseline          {t_all / t_one:.1f}x  (target <= 6x)")


if __name__ == "__main__":
    main()
