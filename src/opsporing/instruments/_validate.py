"""Turn the raw tree of an instrument file into an :class:`Instrument`, or list every problem.

Each section (scales, domains, items, total) is validated record by record, so one
bad item does not hide the next; cross-references are then checked on every record
that parsed. Only when nothing at all is wrong is an :class:`Instrument` built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import InstrumentDefinitionError, Problem, UnknownCodeError
from ..vocabulary import Vocabulary, load_vocabulary
from ._schema import (
    Bound,
    Domain,
    Instrument,
    InstrumentHeader,
    Item,
    ResponseScale,
    Total,
)

_SECTIONS = ("scales", "domains", "items", "total")
#: Largest magnitude of a number scale's bounds: counts stay exact in the scoring's float32
#: arithmetic (exact up to 2**24), and a count beyond a million is not a screening answer.
MAX_NUMBER = 1_000_000
_R = TypeVar("_R", bound=BaseModel)


def _short(value: Any, limit: int = 60) -> Any:
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 3] + "..."


def _parse(model: type[_R], node: Any, where: str, problems: list[Problem]) -> _R | None:
    try:
        return model.model_validate(node)
    except ValidationError as exc:
        for err in exc.errors():
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            problems.append(
                Problem(
                    field=f"{where}{loc}",
                    value=_short(err.get("input")),
                    expected=err["msg"],
                    kind="schema",
                )
            )
        return None


def _records(
    model: type[_R], tree: Mapping[str, Any], key: str, problems: list[Problem]
) -> list[_R]:
    node = tree.get(key)
    if not isinstance(node, Sequence) or isinstance(node, str | bytes) or not node:
        problems.append(Problem(key, _short(node), "a non-empty list", kind="schema"))
        return []
    parsed = [_parse(model, sub, f"{key}[{i}]", problems) for i, sub in enumerate(node)]
    return [r for r in parsed if r is not None]


def _duplicates(ids: Sequence[str], where: str, problems: list[Problem]) -> None:
    for value, count in Counter(ids).items():
        if count > 1:
            problems.append(
                Problem(where, value, f"unique ids (used {count} times)", kind="duplicate")
            )


def build_instrument(
    tree: Any, source: str = "<dict>", vocabulary: Vocabulary | None = None
) -> Instrument:
    """Validate a parsed instrument file completely and build the :class:`Instrument`.

    Parameters
    ----------
    tree : mapping
        The parsed YAML/JSON document.
    source : str
        Where it came from, for messages.
    vocabulary : Vocabulary, optional
        Concept codes are checked against it; the shipped vocabulary by default.

    Raises
    ------
    InstrumentDefinitionError
        With *every* problem found, each naming the field, the value and what was expected.
    """
    problems: list[Problem] = []
    if not isinstance(tree, Mapping):
        raise InstrumentDefinitionError(
            source,
            [Problem("<root>", _short(tree), "a mapping of instrument fields", kind="schema")],
        )
    voc = vocabulary or load_vocabulary()

    header = _parse(
        InstrumentHeader, {k: v for k, v in tree.items() if k not in _SECTIONS}, "", problems
    )
    scales = _records(ResponseScale, tree, "scales", problems)
    domains = _records(Domain, tree, "domains", problems)
    items = _records(Item, tree, "items", problems)
    total = (
        _parse(Total, tree["total"], "total", problems) if tree.get("total") is not None else None
    )

    _duplicates([s.id for s in scales], "scales[].id", problems)
    _duplicates([d.id for d in domains], "domains[].id", problems)
    _duplicates([i.id for i in items], "items[].id", problems)

    for s in scales:
        if s.number is not None:
            for name, value in (("min", s.number.min), ("max", s.number.max)):
                if abs(value) > MAX_NUMBER:
                    problems.append(
                        Problem(
                            f"scales[{s.id}].number.{name}",
                            value,
                            f"a count from {-MAX_NUMBER:,} to {MAX_NUMBER:,} (answers are "
                            "scored exactly as 32-bit floats)",
                            kind="range",
                        )
                    )
    scale_by_id = {s.id: s for s in scales}
    domain_by_id = {d.id: d for d in domains}
    n_in_domain: Counter[str] = Counter()
    lo_in_domain: Counter[str] = Counter()
    hi_in_domain: Counter[str] = Counter()

    for item in items:
        where = f"items[{item.id}]"
        scale = scale_by_id.get(item.scale)
        if scale is None:
            problems.append(
                Problem(
                    f"{where}.scale", item.scale, f"one of {sorted(scale_by_id)}", kind="reference"
                )
            )
        if item.domain not in domain_by_id:
            problems.append(
                Problem(
                    f"{where}.domain",
                    item.domain,
                    f"one of {sorted(domain_by_id)}",
                    kind="reference",
                )
            )
        elif scale is not None and not scale.is_number:
            # Number items (counts) are never summed: they do not size the domain.
            n_in_domain[item.domain] += 1
            lo_in_domain[item.domain] += scale.min
            hi_in_domain[item.domain] += scale.max
        for ev in item.evidences:
            try:
                voc.concept(ev.code)
            except UnknownCodeError as exc:
                problems.append(
                    Problem(
                        f"{where}.evidences.code",
                        ev.code,
                        f"a vocabulary code ({exc})",
                        kind="reference",
                    )
                )
            _check_bound(ev, scale, f"{where}.evidences[{ev.code}]", problems)
        if item.critical is not None:
            _check_bound(item.critical, scale, f"{where}.critical", problems)

    ranges: dict[str, tuple[float, float]] = {}
    for d in domains:
        where = f"domains[{d.id}]"
        n = n_in_domain[d.id]
        if n == 0:
            problems.append(
                Problem(
                    f"{where}",
                    d.id,
                    "at least one item on an ordinal scale in the domain "
                    "(items on a number scale are never summed)",
                    kind="reference",
                )
            )
            continue
        if d.min_answered > n:
            problems.append(
                Problem(
                    f"{where}.min_answered",
                    d.min_answered,
                    f"at most the domain's {n} items",
                    kind="range",
                )
            )
        lo, hi = float(lo_in_domain[d.id]), float(hi_in_domain[d.id])
        if d.method == "mean":
            lo, hi = lo / n, hi / n
        ranges[d.id] = (lo, hi)
        _check_cutoffs(d.bands.yellow, d.bands.red, d.direction, lo, hi, f"{where}.bands", problems)

    if total is not None:
        for dom in total.domains:
            member = domain_by_id.get(dom)
            if member is None:
                problems.append(
                    Problem(
                        "total.domains", dom, f"one of {sorted(domain_by_id)}", kind="reference"
                    )
                )
            elif member.direction != "concern":
                problems.append(
                    Problem(
                        "total.domains",
                        dom,
                        "a domain with direction 'concern' (a total adds up concern)",
                        kind="reference",
                    )
                )
        _duplicates(list(total.domains), "total.domains", problems)
        if all(dom in ranges for dom in total.domains):
            lo = sum(ranges[dom][0] for dom in total.domains)
            hi = sum(ranges[dom][1] for dom in total.domains)
            _check_cutoffs(
                total.bands.yellow, total.bands.red, "concern", lo, hi, "total.bands", problems
            )

    if header is not None:
        if header.overall == "total" and total is None:
            problems.append(
                Problem(
                    "overall",
                    header.overall,
                    "a 'total' section (overall: total bands the total), or overall: worst",
                    kind="reference",
                )
            )
        if header.norms is not None and header.norms.total is not None and total is None:
            problems.append(
                Problem(
                    "norms.total",
                    header.norms.total.model_dump(),
                    "no total percentile rule without a 'total' section",
                    kind="reference",
                )
            )

    if problems or header is None:
        raise InstrumentDefinitionError(source, problems)
    return Instrument(
        **header.model_dump(),
        scales=tuple(scales),
        domains=tuple(domains),
        items=tuple(items),
        total=total,
    )


def _check_cutoffs(
    yellow: float,
    red: float,
    direction: str,
    lo: float,
    hi: float,
    where: str,
    problems: list[Problem],
) -> None:
    for name, value in (("yellow", yellow), ("red", red)):
        if not lo <= value <= hi:
            problems.append(
                Problem(
                    f"{where}.{name}",
                    value,
                    f"a cut-off within the reachable score range [{lo:g}, {hi:g}]",
                    kind="range",
                )
            )
    ordered = yellow < red if direction == "concern" else yellow > red
    if not ordered:
        rule = (
            "yellow < red for a concern score (higher = more concern)"
            if direction == "concern"
            else "yellow > red for a strength score (lower = fewer resources)"
        )
        problems.append(Problem(where, {"yellow": yellow, "red": red}, rule, kind="range"))


def _check_bound(
    bound: Bound, scale: ResponseScale | None, where: str, problems: list[Problem]
) -> None:
    """An evidence or critical bound must be an answer the item's scale allows."""
    value = bound.min if bound.min is not None else bound.max
    if scale is None:
        return
    if scale.is_number:  # any whole number in the range (never listed: it may be long)
        if value is not None and scale.min <= value <= scale.max:
            return
    elif value in scale.values:
        return
    expected = (
        f"a whole number from {scale.min} to {scale.max} (scale {scale.id})"
        if scale.is_number
        else f"a value of scale {scale.id} {list(scale.values)}"
    )
    problems.append(Problem(where, value, expected, kind="range"))
