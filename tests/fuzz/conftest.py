"""Shared pieces of the bad-input campaign (issue 7): budgets, garbage, and the case counter.

Every property test calls :func:`count` once per example with the public entry point it
exercises. At the end of the session the counts are printed ("fuzz: <entry point>: N cases")
and written to ``reports/fuzz_counts.json``, so the campaign can report what it tried.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from opsporing.errors import OpsporingError

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "reports" / "fuzz_counts.json"

#: Cases tried per public entry point in this session (every example hypothesis ran).
COUNTS: Counter[str] = Counter()


def count(entry_point: str) -> None:
    """Count one example run against ``entry_point``."""
    COUNTS[entry_point] += 1


#: The campaign's hypothesis profile: no deadline (the 2-core machine may be busy), the
#: database off (results do not depend on earlier runs), ``max_examples`` set per test.
settings.register_profile(
    "fuzz",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def budget(max_examples: int) -> settings:
    """The fuzz profile with a bounded number of examples."""
    return settings(settings.get_profile("fuzz"), max_examples=max_examples)


#: Scalars that break naive code: wrong types, NaN/inf, huge and negative numbers, unicode.
GARBAGE_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324]),
    st.text(max_size=8),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-1", "1e400", "٣", "ø", "\x00", "0x10"]),
    st.binary(max_size=4),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
)
GARBAGE: st.SearchStrategy[Any] = st.one_of(
    GARBAGE_SCALARS,
    st.lists(GARBAGE_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=4), GARBAGE_SCALARS, max_size=3),
)


def typed_or_result(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, OpsporingError | None]:
    """Call ``fn``: its result, or the :class:`OpsporingError` it raised (nothing else passes)."""
    try:
        return fn(*args, **kwargs), None
    except OpsporingError as exc:
        assert str(exc), "a typed error must say what is wrong"
        return None, exc


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist (``-n 2``) each worker counts its own cases: hand them to the
    # controller, which prints and writes the sum (pytest_testnodedown below).
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_counts"] = dict(COUNTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    COUNTS.update(getattr(node, "workeroutput", {}).get("fuzz_counts", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("fuzz cases")
    for name, n in sorted(COUNTS.items()):
        terminalreporter.write_line(f"fuzz: {name}: {n} cases")
    total = sum(COUNTS.values())
    terminalreporter.write_line(f"fuzz: total: {total} cases over {len(COUNTS)} entry points")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        json.dumps(
            {"total": total, "entry_points": dict(sorted(COUNTS.items()))},
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="session")
def fuzz_count() -> Any:
    """The counter as a fixture, for tests that prefer fixtures to imports."""
    return count
