"""Where each domain's reliability comes from: one data file, or the caller's own figures.

The reliable change index needs, per instrument and domain, a reliability coefficient and
the standard deviation of the domain score. The shipped values live in
``opsporing/child/data/reliability.yaml`` (measured on the synthetic population with
:func:`opsporing.evaluation.reliability_by_domain`; the file says how). A municipality
with its own data measures its own and passes them as ``reliability=``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .._safeload import parse_tree
from ..errors import DataError, Problem

__all__ = ["DomainReliability", "ReliabilityTable", "resolve_reliability", "shipped_reliability"]


@dataclass(frozen=True, slots=True)
class DomainReliability:
    """The reliability of one domain score of one instrument.

    Attributes
    ----------
    alpha : float
        Reliability coefficient (Cronbach's alpha, or a test-retest correlation), in (0, 1).
    sd : float
        Standard deviation of the domain score in raw points (a norm population).
    source : str
        Where the figures come from.
    """

    alpha: float
    sd: float
    source: str = ""

    @property
    def sem(self) -> float:
        """Standard error of measurement in raw points: ``sd * sqrt(1 - alpha)``."""
        return self.sd * math.sqrt(1.0 - self.alpha)


#: ``{instrument key ("id@version"): {domain: DomainReliability}}``.
ReliabilityTable = Mapping[str, Mapping[str, DomainReliability]]


def _figure(value: Any, field: str, low: float, high: float, problems: list[Problem]) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and math.isfinite(value) and low < value < high:
        return float(value)
    problems.append(Problem(field, value, f"a number above {low:g} and below {high:g}"))
    return math.nan


def _parse(tree: Any, source: str, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """``{key: {domain: DomainReliability}}`` from ``{key: {domain: {alpha, sd}}}``."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(tree, Mapping):
        problems.append(Problem("reliability", type(tree).__name__, "a mapping by instrument key"))
        return out
    for key, domains in tree.items():
        if isinstance(domains, Mapping) and "domains" in domains:
            domains = domains["domains"]
        if not isinstance(key, str) or "@" not in key or not isinstance(domains, Mapping):
            problems.append(
                Problem(str(key), "(entry)", "'id@version' mapped to {domain: {alpha, sd}}")
            )
            continue
        out[key] = {}
        for domain, fig in domains.items():
            where = f"{key}.{domain}"
            if isinstance(fig, DomainReliability):
                out[key][str(domain)] = fig
                continue
            if isinstance(fig, Mapping):
                alpha, sd = fig.get("alpha"), fig.get("sd")
            elif isinstance(fig, tuple | list) and len(fig) == 2:
                alpha, sd = fig
            else:
                problems.append(Problem(where, fig, "{alpha: a, sd: s} or (alpha, sd)"))
                continue
            a = _figure(alpha, f"{where}.alpha", 0.0, 1.0, problems)
            s = _figure(sd, f"{where}.sd", 0.0, math.inf, problems)
            out[key][str(domain)] = DomainReliability(a, s, source)
    return out


@cache
def shipped_reliability() -> ReliabilityTable:
    """The documented reliabilities of the shipped instruments (``data/reliability.yaml``).

    Examples
    --------
    >>> r = shipped_reliability()["opsporing.skole.trivsel@1.0.0"]["emotional"]
    >>> r.alpha, r.sd, round(r.sem, 3)
    (0.659, 2.025, 1.183)
    """
    path = resources.files("opsporing.child").joinpath("data/reliability.yaml")
    tree = parse_tree(path.read_text(encoding="utf-8"), "reliability.yaml")
    problems: list[Problem] = []
    table = _parse(tree.get("instruments"), str(tree.get("source", "")), problems)
    if problems:  # pragma: no cover - the shipped file is checked by the tests
        raise DataError(*problems)
    return table


def resolve_reliability(given: Mapping[str, Any] | None) -> ReliabilityTable:
    """The shipped table, with the caller's figures (if any) taking precedence per domain.

    ``given`` maps ``"id@version"`` to ``{domain: (alpha, sd)}``, ``{domain: {"alpha": a,
    "sd": s}}`` or ``{domain: DomainReliability}``.

    Raises
    ------
    DataError
        Naming every figure that is not a number in range.
    """
    if given is None:
        return shipped_reliability()
    problems: list[Problem] = []
    own = _parse(given, "given by the caller", problems)
    if problems:
        raise DataError(*problems)
    merged = {k: dict(v) for k, v in shipped_reliability().items()}
    for key, domains in own.items():
        merged.setdefault(key, {}).update(domains)
    return merged
