"""``python -m opsporing.synthetic``: generate a synthetic population and write it to disk.

The committed default data set is regenerated, bit for bit on the same library
versions, from the repository root with::

    python -m opsporing.synthetic --out data/synthetic \\
        --n-children 50000 --seed 20261123 --no-progress
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from ..errors import OpsporingError
from ._config import SyntheticConfig
from ._generate import generate

_DEFAULT = SyntheticConfig()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, generate, save; return the exit status (2 on bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m opsporing.synthetic",
        description="Generate a synthetic population of children with known ground truth "
        "(Parquet + config.json + manifest.json). Every other knob keeps its documented "
        "default (see docs/synthetic.md).",
    )
    parser.add_argument("--out", required=True, help="output directory (created if needed)")
    parser.add_argument(
        "--n-children", type=int, default=_DEFAULT.n_children, help="default: %(default)s"
    )
    parser.add_argument("--seed", type=int, default=_DEFAULT.seed, help="default: %(default)s")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    args = parser.parse_args(argv)
    try:
        cfg = SyntheticConfig(n_children=args.n_children, seed=args.seed)
        start = time.perf_counter()
        pop = generate(cfg, progress=not args.no_progress)
        out = pop.save(args.out)
    except (OpsporingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_forms = sum(len(f) for f in pop.forms.values())
    print(
        f"wrote {len(pop.children):,} children and {n_forms:,} forms to {out} "
        f"in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
