"""Scoring SDQ responses by the published rules, with published bands labelled by source.

The scoring key and the cut-offs are data (``interop/data/sdq.yaml``): item numbers,
subscale keys and numbers only, never the copyrighted SDQ wording. Reading responses from a
file is :mod:`._sdq_read`; this module turns :class:`SdqResponse` records into scores and
bands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .._safeload import load_tree
from ..errors import DataError, Problem

__all__ = [
    "IMPACT_FIELDS",
    "N_ITEMS",
    "SDQ_INFORMANTS",
    "BandSet",
    "SdqKey",
    "SdqResponse",
    "score_sdq",
    "sdq_bands",
    "sdq_key",
]

SdqInformant = Literal["parent", "teacher", "self"]
#: Who answered an SDQ: a parent, a teacher (or pædagog), or the child itself (11-17).
SDQ_INFORMANTS: tuple[SdqInformant, ...] = ("parent", "teacher", "self")
#: The 25 SDQ items, numbered 1-25 as on every version of the form.
N_ITEMS = 25
#: The impact supplement: "does the child have difficulties" (0 No … 3 severe), then how
#: much they upset the child and interfere with home, friendships, classroom and leisure
#: (each 0 not at all, 1 only a little, 2 quite a lot, 3 a great deal).
IMPACT_FIELDS = ("difficulties", "distress", "home", "friendships", "classroom", "leisure")
_FORMAT = "opsporing-sdq/1"
_SCALE_IDS = ("emotional", "conduct", "hyperactivity", "peer", "prosocial")


@dataclass(frozen=True)
class SdqResponse:
    """One completed SDQ: who answered, about which (pseudonymous) child, and the raw answers.

    ``items`` are the 25 answers exactly as marked (0, 1, 2; ``None`` = blank), before any
    reverse-scoring; ``impact`` maps :data:`IMPACT_FIELDS` to the raw 0-3 answers given.
    """

    respondent: SdqInformant
    child: str
    items: tuple[int | None, ...]
    date: str | None = None
    age_years: float | None = None
    sex: Literal["boy", "girl"] | None = None
    impact: Mapping[str, int | None] | None = None


@dataclass(frozen=True)
class BandSet:
    """Published cut-offs for one informant (and age range, and sex), with their source."""

    id: str
    label: Mapping[str, str]
    informant: SdqInformant
    age_min: float
    age_max: float
    default: bool
    sex: str | None
    bands: tuple[Mapping[str, str], ...]
    cutoffs: Mapping[str, tuple[int, ...]]
    source: str

    def applies(self, response: SdqResponse) -> bool:
        """Whether these norms are for this response's informant, age and sex."""
        if response.respondent != self.informant:
            return False
        if self.sex is not None and response.sex != self.sex:
            return False
        if response.age_years is None:
            return self.default
        return self.age_min <= response.age_years < self.age_max

    def band(self, scale: str, score: int, strength: bool) -> int:
        """The band index (0 = first band) of ``score`` on ``scale``."""
        cuts = self.cutoffs[scale]
        if strength:  # prosocial: a band starts at or BELOW its cut-off
            return sum(score <= c for c in cuts)
        return sum(score >= c for c in cuts)


@dataclass(frozen=True)
class SdqKey:
    """The scoring rules and band sets, read from ``sdq.yaml``."""

    reverse: frozenset[int]
    min_answered: int
    subscales: Mapping[str, tuple[int, ...]]
    strength: frozenset[str]
    labels: Mapping[str, Mapping[str, str]]
    informant_labels: Mapping[str, Mapping[str, str]]
    total_of: tuple[str, ...]
    impact_recode: tuple[int, ...]
    impact_items: Mapping[str, tuple[str, ...]]
    band_sets: tuple[BandSet, ...]


def _key_path() -> Path:
    return Path(str(resources.files("opsporing.interop").joinpath("data/sdq.yaml")))


@cache
def sdq_key() -> SdqKey:
    """The shipped SDQ scoring key and band sets (read once).

    Examples
    --------
    >>> key = sdq_key()
    >>> key.subscales["conduct"], sorted(key.reverse)
    ((5, 7, 12, 18, 22), [7, 11, 14, 21, 25])
    >>> [b.id for b in key.band_sets][:2]
    ['uk-3band-parent', 'uk-4band-teacher']
    """
    path = _key_path()
    tree: Any = load_tree(path)
    try:
        if tree.get("format") != _FORMAT:
            raise ValueError(f"format {_FORMAT}")
        subs = {s["id"]: tuple(int(i) for i in s["items"]) for s in tree["subscales"]}
        labels = {s["id"]: dict(s["label"]) for s in tree["subscales"]}
        labels["total"] = dict(tree["total"]["label"])
        labels["impact"] = dict(tree["impact"]["label"])
        numbers = sorted(i for items in subs.values() for i in items)
        if tuple(subs) != _SCALE_IDS or numbers != list(range(1, N_ITEMS + 1)):
            raise ValueError(f"subscales {_SCALE_IDS} covering items 1-{N_ITEMS} once each")
        sets = tuple(
            BandSet(
                id=str(b["id"]),
                label=dict(b["label"]),
                informant=b["informant"],
                age_min=float(b["age_years"]["min"]),
                age_max=float(b["age_years"]["max"]),
                default=bool(b.get("default", False)),
                sex=b.get("sex"),
                bands=tuple(dict(x) for x in b["bands"]),
                cutoffs={k: tuple(int(c) for c in v) for k, v in b["cutoffs"].items()},
                source=" ".join(str(b["source"]).split()),
            )
            for b in tree["band_sets"]
        )
        for b in sets:
            if b.informant not in SDQ_INFORMANTS or b.sex not in (None, "boy", "girl"):
                raise ValueError(f"band set {b.id}: informant {SDQ_INFORMANTS}, sex boy/girl")
            if set(b.cutoffs) != {*_SCALE_IDS, "total"} or any(
                len(c) != len(b.bands) - 1 for c in b.cutoffs.values()
            ):
                raise ValueError(f"band set {b.id}: one cut-off per band after the first")
        return SdqKey(
            reverse=frozenset(int(i) for i in tree["reverse"]),
            min_answered=int(tree["min_answered"]),
            subscales=subs,
            strength=frozenset(
                s["id"] for s in tree["subscales"] if s.get("direction") == "strength"
            ),
            labels=labels,
            informant_labels={k: dict(v) for k, v in tree["informants"].items()},
            total_of=tuple(tree["total"]["of"]),
            impact_recode=tuple(int(v) for v in tree["impact"]["recode"]),
            impact_items={k: tuple(v) for k, v in tree["impact"]["items"].items()},
            band_sets=sets,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            Problem(str(path), "(file)", f"an SDQ key file ({exc})", kind="schema")
        ) from None


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _subscale(key: SdqKey, items: Sequence[int | None], scale: str) -> int | None:
    values = [
        (2 - v if n in key.reverse else v)
        for n in key.subscales[scale]
        if (v := items[n - 1]) is not None
    ]
    if len(values) < key.min_answered:
        return None
    # Prorated like the published syntax: the mean of the answered items times five.
    return _round_half_up(sum(values) / len(values) * len(key.subscales[scale]))


def _impact(key: SdqKey, response: SdqResponse) -> int | None:
    answers = response.impact or {}
    difficulties = answers.get("difficulties")
    if difficulties is None:
        return None
    if difficulties == 0:
        return 0
    raw = [answers.get(name) for name in key.impact_items[response.respondent]]
    if any(v is None for v in raw):
        return None
    return sum(key.impact_recode[v] for v in raw if v is not None)


def score_sdq(responses: Sequence[SdqResponse]) -> pd.DataFrame:
    """Subscale, total-difficulties and impact scores, one row per response.

    Parameters
    ----------
    responses : sequence of SdqResponse
        As read by :func:`read_sdq` (or built by hand).

    Returns
    -------
    DataFrame
        ``respondent, child, date, age_years, sex, n_answered`` and ``score.<scale>`` for
        emotional, conduct, hyperactivity, peer, prosocial, total and impact (nullable
        integers: ``<NA>`` = not scorable, never zero).

    Examples
    --------
    >>> answers = (1,) * 25  # "somewhat true" everywhere
    >>> row = score_sdq([SdqResponse("parent", "P-1", answers)]).iloc[0]
    >>> int(row["score.emotional"]), int(row["score.total"]), row["score.impact"]
    (5, 20, <NA>)
    """
    key = sdq_key()
    rows: list[dict[str, Any]] = []
    for r in responses:
        scores = {s: _subscale(key, r.items, s) for s in key.subscales}
        parts = [scores[s] for s in key.total_of]
        total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        rows.append(
            {
                "respondent": r.respondent,
                "child": r.child,
                "date": r.date,
                "age_years": r.age_years,
                "sex": r.sex,
                "n_answered": sum(v is not None for v in r.items),
                **{f"score.{s}": v for s, v in scores.items()},
                "score.total": total,
                "score.impact": _impact(key, r),
            }
        )
    frame = pd.DataFrame(rows, columns=_SCORE_COLUMNS)
    for col in frame.columns:
        if col.startswith("score.") or col == "n_answered":
            frame[col] = frame[col].astype("Int64")
    frame["age_years"] = frame["age_years"].astype("Float64")
    return frame


_SCORE_COLUMNS = [
    "respondent", "child", "date", "age_years", "sex", "n_answered",
    *(f"score.{s}" for s in _SCALE_IDS), "score.total", "score.impact",
]  # fmt: skip

#: The scales that bands are given for, in report order.
BANDED = ("total", *_SCALE_IDS)


def sdq_bands(responses: Sequence[SdqResponse], scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every published band of every response, each labelled with its source.

    One row per response, scale and applicable band set; a response no band set applies to
    (e.g. a self-report: no verified cut-offs are shipped) gets rows with empty band columns,
    so no response disappears. The impact score is one row per response without a band (no
    verified impact cut-offs are shipped).

    Returns
    -------
    DataFrame
        ``response`` (0-based position), ``respondent``, ``child``, ``scale``, ``score``,
        ``band_set``, ``band``, ``band_da``, ``band_en``, ``source``.

    Examples
    --------
    >>> r = SdqResponse("parent", "P-1", (1,) * 25, age_years=6, sex="boy")
    >>> table = sdq_bands([r])
    >>> table.query("scale == 'total'")[["band_set", "score", "band"]].values.tolist()
    [['uk-3band-parent', 20, 'abnormal'], ['dk-parent-5-7-boys', 20, 'abnormal']]
    """
    key = sdq_key()
    scores = score_sdq(responses) if scores is None else scores
    rows: list[dict[str, Any]] = []
    for pos, r in enumerate(responses):
        sets = [b for b in key.band_sets if b.applies(r)]
        impact = scores.iloc[pos]["score.impact"]
        rows.append(  # impact: scored, no verified bands shipped
            {"response": pos, "respondent": r.respondent, "child": r.child, "scale": "impact",
             "score": None if pd.isna(impact) else int(impact), "band_set": None, "band": None,
             "band_da": None, "band_en": None, "source": None}
        )  # fmt: skip
        for scale in BANDED:
            value = scores.iloc[pos][f"score.{scale}"]
            score = None if pd.isna(value) else int(value)
            base: dict[str, Any] = {"response": pos, "respondent": r.respondent, "child": r.child}
            base |= {"scale": scale, "score": score}
            if not sets:
                rows.append({**base, "band_set": None, "band": None, "band_da": None,
                             "band_en": None, "source": None})  # fmt: skip
            for b in sets:
                strength = scale in key.strength
                band = None if score is None else b.bands[b.band(scale, score, strength)]
                # on a strength scale a band reads the other way ("very low", not "very high")
                names = (
                    {}
                    if band is None
                    else {
                        lang: band.get(f"strength_{lang}", band[lang]) if strength else band[lang]
                        for lang in ("da", "en")
                    }
                )
                rows.append(
                    {
                        **base,
                        "band_set": b.id,
                        "band": None if band is None else band["id"],
                        "band_da": names.get("da"),
                        "band_en": names.get("en"),
                        "source": b.source,
                    }
                )
    frame = pd.DataFrame(rows, columns=_BAND_COLUMNS)
    frame["score"] = frame["score"].astype("Int64")
    return frame


_BAND_COLUMNS = [
    "response", "respondent", "child", "scale", "score", "band_set", "band", "band_da",
    "band_en", "source",
]  # fmt: skip
