"""SDQ responses of any informant scored in batch, with published bands labelled by source.

The scoring rules have one home, :func:`opsporing.fhir.score_sdq` (the public SDQ
scoring key, keyed by KL Gateway linkIds); this module feeds it one response at a time and
adds what a screening needs around it: the informant, the child, the date, and the
published bands of ``interop/data/sdq.yaml`` (cut-off numbers and their sources only, never
the copyrighted SDQ wording). Reading responses from a file is :mod:`._sdq_read`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .._safeload import load_tree
from ..errors import DataError, Problem
from ..fhir import SDQ_IMPACT_ITEMS, SDQ_SUBSCALES
from ..fhir import score_sdq as _score_one
from ..fhir._sdq import SDQ_DIFFICULTIES, SDQ_ITEMS

__all__ = [
    "BANDED",
    "IMPACT_FIELDS",
    "N_ITEMS",
    "SDQ_INFORMANTS",
    "BandSet",
    "SdqKey",
    "SdqResponse",
    "score_sdq_responses",
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
#: The impact fields as the KL Gateway linkIds the scoring key uses (one home for the key).
_IMPACT_LINKS = dict(zip(IMPACT_FIELDS, (SDQ_DIFFICULTIES, *SDQ_IMPACT_ITEMS), strict=True))
_FORMAT = "opsporing-sdq/1"
_SCALE_IDS = tuple(SDQ_SUBSCALES)
#: The scales that bands are given for, in report order.
BANDED = ("total", *_SCALE_IDS)


@dataclass(frozen=True)
class SdqResponse:
    """One completed SDQ: who answered, about which (pseudonymous) child, and the raw answers.

    ``items`` are the 25 answers exactly as marked (0, 1, 2; ``None`` = blank), before any
    reverse-scoring; ``impact`` maps :data:`IMPACT_FIELDS` to the raw 0-3 answers given
    (a teacher answers distress, friendships and classroom).
    """

    respondent: SdqInformant
    child: str
    items: tuple[int | None, ...]
    date: str | None = None
    age_years: float | None = None
    sex: Literal["boy", "girl"] | None = None
    impact: Mapping[str, int | None] | None = None

    def answers(self) -> dict[str, int | None]:
        """The answers keyed by KL Gateway linkId: input for :func:`opsporing.fhir.score_sdq`."""
        out: dict[str, int | None] = dict(zip(SDQ_ITEMS, self.items, strict=True))
        for name, value in (self.impact or {}).items():
            out[_IMPACT_LINKS[name]] = value
        return out


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
    """Labels and band sets, read from ``sdq.yaml`` (the scoring rules are in ``fhir``)."""

    strength: frozenset[str]
    labels: Mapping[str, Mapping[str, str]]
    informant_labels: Mapping[str, Mapping[str, str]]
    band_sets: tuple[BandSet, ...]


def _key_path() -> Path:
    return Path(str(resources.files("opsporing.interop").joinpath("data/sdq.yaml")))


@cache
def sdq_key() -> SdqKey:
    """The shipped SDQ labels and band sets (read once).

    Examples
    --------
    >>> [b.id for b in sdq_key().band_sets][:2]
    ['uk-3band-parent', 'uk-4band-teacher']
    """
    path = _key_path()
    tree: Any = load_tree(path)
    try:
        if tree.get("format") != _FORMAT:
            raise ValueError(f"format {_FORMAT}")
        labels = {str(k): dict(v) for k, v in tree["labels"].items()}
        if set(labels) != {*BANDED, "impact"}:
            raise ValueError(f"labels for {(*BANDED, 'impact')}")
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
            if set(b.cutoffs) != set(BANDED) or any(
                len(c) != len(b.bands) - 1 for c in b.cutoffs.values()
            ):
                raise ValueError(f"band set {b.id}: one cut-off per band after the first")
        return SdqKey(
            strength=frozenset(tree["strength"]),
            labels=labels,
            informant_labels={k: dict(v) for k, v in tree["informants"].items()},
            band_sets=sets,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            Problem(str(path), "(file)", f"an SDQ band file ({exc})", kind="schema")
        ) from None


def score_sdq_responses(responses: Sequence[SdqResponse]) -> pd.DataFrame:
    """Subscale, total-difficulties and impact scores, one row per response.

    Each response is scored by :func:`opsporing.fhir.score_sdq` (the published rules).

    Parameters
    ----------
    responses : sequence of SdqResponse
        As read by :func:`read_sdq` (or built by hand).

    Returns
    -------
    DataFrame
        ``respondent, child, date, age_years, sex, n_answered`` and ``score.<scale>`` for
        emotional, conduct, hyperactivity, peer, prosocial, total, externalising,
        internalising and impact (nullable integers: ``<NA>`` = not scorable, never zero).

    Examples
    --------
    >>> answers = (1,) * 25  # "somewhat true" everywhere
    >>> row = score_sdq_responses([SdqResponse("parent", "P-1", answers)]).iloc[0]
    >>> int(row["score.emotional"]), int(row["score.total"]), row["score.impact"]
    (5, 20, <NA>)
    """
    rows: list[dict[str, Any]] = []
    for r in responses:
        s = _score_one(r.answers())
        rows.append(
            {
                "respondent": r.respondent,
                "child": r.child,
                "date": r.date,
                "age_years": r.age_years,
                "sex": r.sex,
                "n_answered": sum(v is not None for v in r.items),
                **{f"score.{k}": getattr(s, k) for k in _SCALE_IDS},
                "score.total": s.total_difficulties,
                "score.externalising": s.externalising,
                "score.internalising": s.internalising,
                "score.impact": s.impact,
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
    *(f"score.{s}" for s in _SCALE_IDS), "score.total", "score.externalising",
    "score.internalising", "score.impact",
]  # fmt: skip


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
    scores = score_sdq_responses(responses) if scores is None else scores
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
