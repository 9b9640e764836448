"""``python -m opsporing.synthetic``: an alias of ``opsporing synth`` (same options, same data).

The committed default data set is regenerated, bit for bit on the same library
versions, from the repository root with::

    python -m opsporing.synthetic --out data/synthetic \\
        --n-children 100000 --seed 20261123 --no-progress
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``opsporing synth`` with ``argv``; return the exit status (2 on bad input)."""
    from ..cli import synth_app

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        synth_app(args=args, prog_name="python -m opsporing.synthetic")
    except SystemExit as exc:  # the command line always ends this way, also on success
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
