"""Loading and querying the common vocabulary."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._safeload import load_tree, parse_tree
from ..errors import DataError, Problem, UnknownCodeError, VocabularyError
from ._model import Band, Concept, PreventionLevel, Step, Text, text_problems

#: Spellings accepted for the bands, mapped to the canonical Danish TOPI code.
_BAND_ALIASES = {
    "grøn": "grøn", "gron": "grøn", "green": "grøn", "g": "grøn",
    "gul": "gul", "yellow": "gul", "y": "gul",
    "rød": "rød", "rod": "rød", "red": "rød", "r": "rød",
}  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """The whole common vocabulary: concepts, staircase steps, bands, prevention levels.

    Use :func:`load_vocabulary` to get the shipped one.

    Examples
    --------
    >>> voc = load_vocabulary()
    >>> voc.concept("social.isolation").label.en
    'Social isolation'
    >>> voc.step(3).requires_municipal_assessment
    True
    >>> voc.band("red").code
    'rød'
    """

    version: str
    concepts: Mapping[str, Concept]
    steps: tuple[Step, ...]
    bands: Mapping[str, Band]
    prevention_levels: Mapping[str, PreventionLevel]
    areas: Mapping[str, Text]
    ics_domains: Mapping[str, Text]
    severities: Mapping[str, Text]
    duty_to_notify: Text
    duty_to_notify_basis: Text
    municipal_assessment_from_step: int
    roles: Mapping[str, Text] = field(default_factory=dict)
    municipal_roles: frozenset[str] = frozenset()
    _codes: tuple[str, ...] = field(default=(), repr=False)

    # --- lookups ------------------------------------------------------------------------------
    def concept(self, code: str) -> Concept:
        """The concept with ``code``; a typo raises :class:`UnknownCodeError` with close matches."""
        try:
            return self.concepts[code]
        except (KeyError, TypeError):
            raise UnknownCodeError("concept code", code, _close(code, self.concepts)) from None

    def step(self, number: int) -> Step:
        """Staircase step ``number`` (0-6)."""
        if isinstance(number, bool) or not isinstance(number, int | str):
            raise UnknownCodeError("staircase step", number, [str(s.number) for s in self.steps])
        try:
            n = int(number)
        except ValueError:
            n = -1
        if not 0 <= n < len(self.steps) or str(number).strip() != str(n):
            raise UnknownCodeError("staircase step", number, [str(s.number) for s in self.steps])
        return self.steps[n]

    def band(self, code: str) -> Band:
        """The TOPI band ``code``; accepts ``grøn/gul/rød`` and ``green/yellow/red``."""
        canonical = _BAND_ALIASES.get(str(code).strip().lower()) if isinstance(code, str) else None
        if canonical is None:
            raise UnknownCodeError("band", code, list(self.bands))
        return self.bands[canonical]

    def prevention_level(self, code: str) -> PreventionLevel:
        try:
            return self.prevention_levels[code]
        except (KeyError, TypeError):
            raise UnknownCodeError(
                "prevention level", code, _close(code, self.prevention_levels)
            ) from None

    # --- views --------------------------------------------------------------------------------
    @property
    def concerns(self) -> tuple[Concept, ...]:
        return tuple(c for c in self.concepts.values() if c.kind == "concern")

    @property
    def protective_factors(self) -> tuple[Concept, ...]:
        return tuple(c for c in self.concepts.values() if c.kind == "protective")

    @property
    def red_flags(self) -> tuple[Concept, ...]:
        return tuple(c for c in self.concepts.values() if c.red_flag)

    def to_frame(self, lang: str = "da") -> Any:
        """All concepts as a pandas DataFrame (one row per code), labels in ``lang``."""
        import pandas as pd

        rows = [
            {
                "code": c.code,
                "kind": c.kind,
                "label": c.label.get(lang),
                "area": c.area,
                "ics_domain": c.ics_domain,
                "severity": c.severity,
                "red_flag": c.red_flag,
                "definition": c.definition.get(lang),
            }
            for c in self.concepts.values()
        ]
        return pd.DataFrame(rows).set_index("code")


def _without(node: Any, key: str) -> Any:
    return {k: v for k, v in node.items() if k != key} if isinstance(node, Mapping) else node


def _close(code: object, known: Mapping[str, Any]) -> list[str]:
    if not isinstance(code, str):
        return []
    matches = difflib.get_close_matches(code, list(known), n=3, cutoff=0.6)
    if not matches:
        # A bare name without its area prefix ("isolation") is a common slip.
        matches = [k for k in known if k.split(".")[-1] == code.split(".")[-1]][:3]
    return matches


# --- parsing -----------------------------------------------------------------------------------
class _Parser:
    """Reads the YAML tree, collecting every problem before failing."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def text(self, node: Any, where: str) -> Text:
        problems = text_problems(node, where)
        if problems:
            self.problems.extend(problems)
            return Text("?", "?")
        return Text.of(node, where)

    def mapping(self, node: Any, where: str) -> Mapping[Any, Any]:
        if not isinstance(node, Mapping):
            self.problems.append(Problem(where, node, "a mapping"))
            return {}
        return node

    def choice(self, value: Any, where: str, allowed: Mapping[str, Any]) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.problems.append(Problem(where, value, f"one of {', '.join(map(str, allowed))}"))
        return str(value)

    def integer(self, value: Any, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problems.append(Problem(where, value, f"a whole number from {low} to {high}"))
            return low
        return value


def _parse(tree: Any, source: str) -> Vocabulary:
    p = _Parser(source)
    root = p.mapping(tree, "<root>")
    ics = {
        k: p.text(v, f"ics_domains.{k}")
        for k, v in p.mapping(root.get("ics_domains"), "ics_domains").items()
    }
    areas = {k: p.text(v, f"areas.{k}") for k, v in p.mapping(root.get("areas"), "areas").items()}
    # A severity is its wording beside its ``rank`` (the order, read where severities are ranked).
    sev = {
        k: p.text(_without(v, "rank"), f"severities.{k}")
        for k, v in p.mapping(root.get("severities"), "severities").items()
    }

    concepts: dict[str, Concept] = {}
    for kind, key in (("concern", "concerns"), ("protective", "protective_factors")):
        for code, node in p.mapping(root.get(key), key).items():
            where = f"{key}.{code}"
            node = p.mapping(node, where)
            if (
                not isinstance(code, str)
                or "." not in code
                or (kind == "protective") != code.startswith("protective.")
            ):
                p.problems.append(
                    Problem(
                        where,
                        code,
                        "a dotted code starting with 'protective.'"
                        if kind == "protective"
                        else "a dotted code not starting with 'protective.'",
                    )
                )
            if code in concepts:
                p.problems.append(Problem(where, code, "a code used once"))
            severity = node.get("severity")
            if kind == "concern":
                p.choice(severity, f"{where}.severity", sev)
            red_flag = node.get("red_flag", False)
            if not isinstance(red_flag, bool) or (red_flag and kind != "concern"):
                p.problems.append(
                    Problem(f"{where}.red_flag", red_flag, "true/false, only on concerns")
                )
            concepts[str(code)] = Concept(
                code=str(code),
                kind=kind,  # type: ignore[arg-type]
                label=p.text(node.get("label"), f"{where}.label"),
                definition=p.text(node.get("definition"), f"{where}.definition"),
                area=p.choice(node.get("area"), f"{where}.area", areas),
                ics_domain=p.choice(node.get("ics_domain"), f"{where}.ics_domain", ics),
                severity=str(severity) if kind == "concern" else None,
                red_flag=bool(red_flag),
            )

    levels = {
        str(k): PreventionLevel(
            code=str(k),
            label=p.text(
                p.mapping(v, f"prevention_levels.{k}").get("label"), f"prevention_levels.{k}.label"
            ),
            description=p.text(
                p.mapping(v, f"prevention_levels.{k}").get("description"),
                f"prevention_levels.{k}.description",
            ),
        )
        for k, v in p.mapping(root.get("prevention_levels"), "prevention_levels").items()
    }

    from_step = p.integer(
        root.get("municipal_assessment_from_step", 3), "municipal_assessment_from_step", 0, 7
    )
    steps_node = p.mapping(root.get("steps"), "steps")
    numbers = sorted(k for k in steps_node if isinstance(k, int) and not isinstance(k, bool))
    if numbers != list(range(7)) or len(steps_node) != 7:
        p.problems.append(Problem("steps", sorted(steps_node, key=str), "steps numbered 0 to 6"))
    steps = []
    for n in numbers:
        node = p.mapping(steps_node[n], f"steps.{n}")
        steps.append(
            Step(
                number=n,
                label=p.text(node.get("label"), f"steps.{n}.label"),
                description=p.text(node.get("description"), f"steps.{n}.description"),
                legal_basis=p.text(node.get("legal_basis"), f"steps.{n}.legal_basis"),
                who_acts=p.text(node.get("who_acts"), f"steps.{n}.who_acts"),
                prevention_level=p.choice(
                    node.get("prevention_level"), f"steps.{n}.prevention_level", levels
                ),
                requires_municipal_assessment=n >= from_step,
            )
        )

    bands = {}
    for code, node in p.mapping(root.get("bands"), "bands").items():
        node = p.mapping(node, f"bands.{code}")
        bands[str(code)] = Band(
            code=str(code),
            rank=p.integer(node.get("rank", -1), f"bands.{code}.rank", -1, 1000),
            label=p.text(node.get("label"), f"bands.{code}.label"),
            description=p.text(node.get("description"), f"bands.{code}.description"),
            action=p.text(node.get("action"), f"bands.{code}.action"),
        )
    if sorted(bands) != sorted(["grøn", "gul", "rød"]):
        p.problems.append(Problem("bands", sorted(bands), "exactly grøn, gul, rød"))

    roles: dict[str, Text] = {}
    municipal_roles: set[str] = set()
    for code, node in p.mapping(root.get("roles"), "roles").items():
        node = p.mapping(node, f"roles.{code}")
        roles[str(code)] = p.text(node.get("label"), f"roles.{code}.label")
        municipal = node.get("municipal", False)
        if not isinstance(municipal, bool):
            p.problems.append(Problem(f"roles.{code}.municipal", municipal, "true or false"))
        elif municipal:
            municipal_roles.add(str(code))
    if roles and not municipal_roles:
        p.problems.append(Problem("roles", sorted(roles), "at least one role marked municipal"))

    duty = p.mapping(root.get("duty_to_notify"), "duty_to_notify")
    duty_text = p.text(duty.get("text"), "duty_to_notify.text")
    duty_basis = p.text(duty.get("legal_basis"), "duty_to_notify.legal_basis")

    if p.problems:
        raise VocabularyError(
            f"invalid vocabulary {source}:\n" + "\n".join(f"  - {x}" for x in p.problems)
        )
    return Vocabulary(
        version=str(root.get("version", "")),
        concepts=concepts,
        steps=tuple(steps),
        bands=dict(sorted(bands.items(), key=lambda kv: kv[1].rank)),
        prevention_levels=levels,
        areas=areas,
        ics_domains=ics,
        severities=sev,
        duty_to_notify=duty_text,
        duty_to_notify_basis=duty_basis,
        municipal_assessment_from_step=from_step,
        roles=roles,
        municipal_roles=frozenset(municipal_roles),
        _codes=tuple(concepts),
    )


def read_vocabulary(path: str | Path) -> Vocabulary:
    """Read a vocabulary file from disk (for municipalities that extend the shipped one)."""
    path = Path(path)
    try:
        tree = load_tree(path, fmt="yaml")
    except DataError as exc:
        raise VocabularyError(*exc.problems) from None
    return _parse(tree, str(path))


@cache
def load_vocabulary() -> Vocabulary:
    """The vocabulary shipped with opsporing (read once, then cached)."""
    text = (
        resources.files("opsporing.vocabulary").joinpath("data/vocabulary.yaml").read_text("utf-8")
    )
    source = "opsporing/vocabulary/data/vocabulary.yaml"
    return _parse(parse_tree(text, source, fmt="yaml"), source)


def get_concept(code: str) -> Concept:
    """Look up a concept of the shipped vocabulary.

    Examples
    --------
    >>> get_concept("safety.disclosure").red_flag
    True
    >>> get_concept("social.isolaton")
    Traceback (most recent call last):
    ...
    opsporing.errors.UnknownCodeError: unknown concept code 'social.isolaton'; did you mean ...
    """
    return load_vocabulary().concept(code)


def get_step(number: int) -> Step:
    """Staircase step ``number`` (0-6) of the shipped vocabulary."""
    return load_vocabulary().step(number)


def get_band(code: str) -> Band:
    """TOPI band of the shipped vocabulary (``grøn/gul/rød`` or ``green/yellow/red``)."""
    return load_vocabulary().band(code)
