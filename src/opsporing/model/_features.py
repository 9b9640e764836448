"""From score tables to the model's numeric features.

The model sees *what the screening found*, never *who the child is*. Features are
built only from :func:`opsporing.scoring.score_batch` output, the child's age and the
setting. They are keyed by the vocabulary (domain ids, concept codes), never by an
instrument or a setting: any instrument whose domains are among :data:`DOMAINS`
gives the same columns, so adding an instrument (one YAML file) changes no model code
and no feature:

``setting.skole``
    1 at school, 0 in daycare (the two instruments differ, and so do base rates).
``age_years``
    Age at the screening (NaN when not given).
``score.<domain>``
    Domain scores scaled to 0-1 of the instrument's own range, so a daycare and a
    school score mean the same fraction of the scale (NaN when not scorable). The
    total is left out: it is the sum of five domain scores, adds nothing the trees
    cannot see, and would take the credit in explanations from the domains that
    actually raise the concern.
``answered.<domain>``, ``missing_fraction``
    Fraction of a domain's items answered, and of all items missing. Missing
    answers are information in their own right (a form filled in by someone who
    does not know the child), so they are features, not silently imputed.
``concept.<code>``
    1/0 when the form does/does not evidence a vocabulary concept, NaN when the
    child's instrument has no item for it (or the item was left blank). Every concept
    of the vocabulary has a column, whichever instruments exist.
``has_earlier``, ``change.<domain>``
    Whether an earlier screening exists, and the change of each scaled score
    since then (NaN when there is none, or a score is not scorable at either time).

Never features: identifiers (``child_id``, ``form_id``, ``rater_id``), names, CPR
numbers, the municipality, the family background, sex. Identifiers may travel in the
score table (to join screenings) but are never read as features; sensitive attributes
are refused outright, see :data:`FORBIDDEN_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
import pandas as pd

from ..errors import DataError, Problem
from ..instruments import Instrument, get_instrument
from ..privacy import reject_cpr
from ..scoring import scoring_key
from ..vocabulary import load_vocabulary

#: The domains shared by the shipped instruments, in feature order.
DOMAINS: tuple[str, ...] = (
    "emotional",
    "social",
    "behaviour",
    "development",
    "care",
    "safety",
    "resources",
)

#: Domains whose score counts *strengths*: more means less concern.
STRENGTH_DOMAINS: frozenset[str] = frozenset({"resources"})

#: Column names that must never be a feature (compared case-insensitively). Identifiers
#: may travel in a score table to join screenings; the estimator refuses all of them.
FORBIDDEN_COLUMNS: tuple[str, ...] = (
    "child_id",
    "form_id",
    "rater_id",
    "name",
    "first_name",
    "last_name",
    "cpr",
    "cpr_number",
    "cpr_nr",
    "municipality",
    "kommune",
    "family_background",
    "sex",
    "gender",
    "køn",
)

#: Columns that must not even be handed to the feature builder (sensitive attributes).
SENSITIVE_PARTS: tuple[str, ...] = ("cpr", "name", "navn", "family_background", "municipality")

_IDENTIFIERS = frozenset({"child_id", "form_id", "rater_id"})


def is_forbidden(column: object) -> bool:
    """Whether ``column`` names something that must never be a model feature.

    Examples
    --------
    >>> is_forbidden("family_background"), is_forbidden("CPR_nr"), is_forbidden("score.social")
    (True, True, False)
    """
    name = str(column).strip().lower()
    return name in FORBIDDEN_COLUMNS or any(part in name for part in SENSITIVE_PARTS)


def _is_sensitive(column: object) -> bool:
    name = str(column).strip().lower()
    return name not in _IDENTIFIERS and is_forbidden(name)


def check_no_forbidden(columns: Iterable[object], where: str) -> None:
    """Raise :class:`~opsporing.errors.DataError` naming every forbidden column."""
    bad = [str(c) for c in columns if is_forbidden(c)]
    if bad:
        raise DataError(
            f"{where}: columns {bad} must never be model features: expected only the features "
            "of build_features (no identifiers, names, CPR, municipality, sex or family "
            "background)"
        )


@cache
def concept_codes() -> tuple[str, ...]:
    """Every concept code of the vocabulary, in vocabulary order (one feature each).

    Taken from the vocabulary, not from the instruments, so that a new instrument never
    changes the model's features.
    """
    return tuple(load_vocabulary().concepts)


def is_model_instrument(inst: Instrument) -> bool:
    """Whether the model can read scores of ``inst``: its domains are all :data:`DOMAINS`.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> is_model_instrument(get_instrument("opsporing.skole.trivsel"))
    True
    >>> is_model_instrument(get_instrument("topi"))
    False
    """
    return bool(inst.domain_ids) and set(inst.domain_ids) <= set(DOMAINS)


@cache
def feature_names() -> tuple[str, ...]:
    """The model's features, in order.

    Examples
    --------
    >>> names = feature_names()
    >>> names[:3]
    ('setting.skole', 'age_years', 'score.emotional')
    >>> "concept.protective.trusted_adult" in names and "child_id" not in names
    True
    """
    return (
        "setting.skole",
        "age_years",
        *(f"score.{d}" for d in DOMAINS),
        *(f"answered.{d}" for d in DOMAINS),
        "missing_fraction",
        *(f"concept.{c}" for c in concept_codes()),
        "has_earlier",
        *(f"change.{d}" for d in DOMAINS),
    )


def monotonic_constraint(name: str) -> int:
    """+1 (more never lowers risk), -1 (more never raises it) or 0 for a feature.

    Concern scores and concerns raise risk; the resources score and protective
    factors lower it. Age, setting, missingness and change are left free: change
    is not monotone *given* the current score (a child whose earlier score was
    higher has shown the concern for longer).

    Examples
    --------
    >>> monotonic_constraint("score.social"), monotonic_constraint("score.resources")
    (1, -1)
    >>> monotonic_constraint("concept.protective.friendship"), monotonic_constraint("age_years")
    (-1, 0)
    """
    if name.startswith("score."):
        return -1 if name.removeprefix("score.") in STRENGTH_DOMAINS else 1
    if name.startswith("concept."):
        return -1 if load_vocabulary().concept(name.removeprefix("concept.")).is_protective else 1
    return 0


@cache
def _instrument_info(key: str) -> tuple[Instrument, dict[str, tuple[float, float]], int]:
    """Instrument, the 0-1 scaling range of each domain (and the total), number of items."""
    inst_id, _, version = key.partition("@")
    inst = get_instrument(inst_id, version or None)
    ranges = {d: inst.score_range(d) for d in inst.domain_ids}
    if inst.total is not None:
        lo = sum(ranges[d][0] for d in inst.total.domains)
        hi = sum(ranges[d][1] for d in inst.total.domains)
        ranges["total"] = (lo, hi)
    return inst, ranges, len(inst.items)


def _check_scores(scores: pd.DataFrame, field: str) -> None:
    if not isinstance(scores, pd.DataFrame):
        raise DataError(
            str(Problem(field, type(scores).__name__, "a DataFrame returned by score_batch"))
        )
    sensitive = [str(c) for c in scores.columns if _is_sensitive(c)]
    if sensitive:
        raise DataError(
            str(
                Problem(
                    field,
                    sensitive,
                    "no sensitive columns (names, CPR, municipality, family background): "
                    "they never belong in a table given to opsporing",
                    kind="forbidden_column",
                )
            )
        )
    needed = ["instrument", "n_missing"]
    missing = [c for c in needed if c not in scores.columns]
    if missing:
        raise DataError(
            str(Problem(field, f"missing columns {missing}", "the output of score_batch"))
        )
    duplicated = [str(c) for c in scores.columns[scores.columns.duplicated()].unique()]
    if duplicated:
        raise DataError(
            str(Problem(field, f"columns {duplicated} more than once", "each column once"))
        )


def _floats(frame: pd.DataFrame, rows: np.ndarray, column: str, field: str) -> np.ndarray:
    """The column's values in ``rows`` as floats (NaN when empty), or a DataError.

    Numbers and booleans pass; text ("3", "False"), complex numbers and infinite values do
    not: nothing is coerced silently.
    """
    values = frame.loc[rows, column]
    try:
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        out = None
    if out is None or np.isinf(out).any():
        bad = next((v for v in values.tolist() if not _is_plain_number(v)), values.tolist()[0])
        raise DataError(
            str(Problem(f"{field}.{column}", bad, "finite numbers (the output of score_batch)"))
        )
    return np.asarray(out, dtype=np.float64)


def _is_plain_number(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, bool | np.bool_):
        return True
    return isinstance(value, int | float | np.integer | np.floating) and not np.isinf(value)


def _scaled(
    scores: pd.DataFrame, field: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scaled scores (domains + total), answered fractions, missing fraction, setting, concepts.

    One pass per instrument present in the table; no Python loop per row.
    """
    n = len(scores)
    scaled = np.full((n, len(DOMAINS) + 1), np.nan)
    answered = np.full((n, len(DOMAINS)), np.nan)
    missing = np.full(n, np.nan)
    skole = np.full(n, np.nan)
    codes = concept_codes()
    concepts = np.full((n, len(codes)), np.nan)
    keys = _instrument_keys(scores["instrument"], field)
    for key in pd.unique(keys):
        rows = keys == key
        if not key:
            raise DataError(str(Problem(f"{field}.instrument", None, "an instrument key")))
        try:
            inst, ranges, n_items = _instrument_info(str(key))
        except Exception as exc:  # UnknownInstrumentError and friends
            raise DataError(
                str(Problem(f"{field}.instrument", key, f"a shipped instrument: {exc}"))
            ) from None
        if not is_model_instrument(inst):
            raise DataError(
                str(
                    Problem(
                        f"{field}.instrument",
                        key,
                        f"an instrument whose domains are among {list(DOMAINS)} (the model "
                        f"reads domain scores); this one has {list(inst.domain_ids)}",
                    )
                )
            )
        skole[rows] = 1.0 if "skole" in inst.settings else 0.0
        asked = set(scoring_key(inst).concepts)
        for j, code in enumerate(codes):
            col = f"concept.{code}"
            if code in asked and col in scores.columns:
                concepts[rows, j] = _floats(scores, rows, col, field)
        missing[rows] = _floats(scores, rows, "n_missing", field) / n_items
        for j, d in enumerate((*DOMAINS, "total")):
            col = f"score.{d}"
            if d in ranges and col in scores.columns:
                lo, hi = ranges[d]
                scaled[rows, j] = (_floats(scores, rows, col, field) - lo) / (hi - lo)
            if d != "total" and f"answered.{d}" in scores.columns and d in ranges:
                n_dom = len(inst.scored_items_in(d))
                answered[rows, j] = _floats(scores, rows, f"answered.{d}", field) / n_dom
    return scaled, answered, missing, skole, concepts


def _instrument_keys(column: pd.Series, field: str) -> np.ndarray:
    """The instrument keys as Python strings ("" when empty); anything but text is refused.

    Not ``astype("string")``: that decodes bytes (pandas 3) or turns any object into its
    repr, so a mangled key would be read as some other text instead of being refused.
    """
    raw = column.to_numpy(dtype=object)
    empty = pd.isna(raw)
    text = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=len(raw))
    bad = ~(empty | text)
    if bad.any():
        value = raw[int(np.flatnonzero(bad)[0])]
        raise DataError(
            str(Problem(f"{field}.instrument", value, "an instrument key as text (id@version)"))
        )
    return np.where(empty, "", raw).astype(object)


def domain_ranges(instrument_keys: Iterable[object]) -> np.ndarray:
    """Lowest and highest score of each domain of each row's instrument.

    Returns an array (n, 2 * len(DOMAINS)): ``lo`` then ``hi`` per domain, in
    :data:`DOMAINS` order, NaN where the instrument has no such domain.

    Examples
    --------
    >>> domain_ranges(["opsporing.skole.trivsel"])[0, :2].tolist()  # emotional: 0-12
    [0.0, 12.0]
    """
    keys = [str(k) for k in instrument_keys]
    out = np.full((len(keys), 2 * len(DOMAINS)), np.nan)
    cache: dict[str, np.ndarray] = {}
    for r, key in enumerate(keys):
        if key not in cache:
            ranges = _instrument_info(key)[1]
            row = np.full(2 * len(DOMAINS), np.nan)
            for j, d in enumerate(DOMAINS):
                if d in ranges:
                    row[2 * j], row[2 * j + 1] = ranges[d]
            cache[key] = row
        out[r] = cache[key]
    return out


def _blank_ids(ids: pd.Index, rows: pd.Index, field: str) -> list[Problem]:
    """Every empty, blank or missing id, by row: a child must never become subject 'nan'."""
    if ids.dtype.kind in "iub":
        return []  # integer ids cannot be missing
    values = ids.to_numpy(dtype=object)
    bad = np.fromiter(
        (
            v is None
            or (isinstance(v, float | np.floating) and bool(np.isnan(v)))
            or v is pd.NA
            or v is pd.NaT
            or (isinstance(v, str) and not v.strip())
            for v in values
        ),
        bool,
        len(values),
    )
    return [
        Problem(
            field,
            values[r],
            "an id in every row (not empty)",
            row=rows[r] if isinstance(rows[r], int | str) else str(rows[r]),
            kind="missing_id",
        )
        for r in np.flatnonzero(bad).tolist()
    ]


def _indexed(scores: pd.DataFrame, id_column: str | None, field: str) -> pd.DataFrame:
    if id_column is None:
        out = scores
    else:
        if id_column not in scores.columns:
            raise DataError(Problem(field, id_column, "a column of the table (id_column=)"))
        out = scores.set_index(id_column)
    try:
        duplicated = out.index.has_duplicates
    except TypeError:  # unhashable ids (lists, dicts)
        raise DataError(
            Problem(f"{field}.index", "(unhashable ids)", "one id (text or number) per row")
        ) from None
    blank = _blank_ids(out.index, scores.index, id_column or f"{field}.index")
    if blank:
        raise DataError(*blank)
    if duplicated:
        dup = out.index[out.index.duplicated()][:3].tolist()
        raise DataError(Problem(f"{field}.index", dup, "one row per child (unique ids)"))
    # The ids become a suggestion's subject and every output row's label: never a CPR number.
    reject_cpr(out.index, f"{field}.index")
    return out


def build_features(
    scores: pd.DataFrame,
    earlier: pd.DataFrame | None = None,
    *,
    id_column: str | None = None,
) -> pd.DataFrame:
    """The model's feature table from score tables.

    Parameters
    ----------
    scores : DataFrame
        The current screening: output of :func:`~opsporing.scoring.score_batch` for a
        shipped instrument (several instruments may be concatenated). Pass
        ``keep=["age_years"]`` to ``score_batch`` to give the model the child's age.
    earlier : DataFrame, optional
        An earlier screening of the same children, same shape; rows are matched by
        ``id_column`` (or by the index). Children without one get ``has_earlier = 0``
        and NaN changes.
    id_column : str, optional
        A pseudonymous id column (e.g. ``"child_id"``) that becomes the index of the
        result; it is never a feature.

    Returns
    -------
    DataFrame
        One row per row of ``scores`` (same order), columns :func:`feature_names`.

    Raises
    ------
    DataError
        On a table that is not a score table, an unknown instrument, duplicate ids,
        or sensitive columns (names, CPR, municipality, family background).

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> from opsporing.scoring import score_batch
    >>> school = get_instrument("opsporing.skole.trivsel")
    >>> forms = pd.DataFrame({"age_years": [9.0], "emo_sad": [3], "emo_tense": [3],
    ...                       "emo_withdrawn": [0], "emo_self_critical": [0]})
    >>> X = build_features(score_batch(school, forms, keep=["age_years"]))
    >>> float(X.loc[0, "score.emotional"])  # 6 of 0-12
    0.5
    >>> float(X.loc[0, "setting.skole"]), float(X.loc[0, "has_earlier"])
    (1.0, 0.0)
    """
    _check_scores(scores, "scores")
    current = _indexed(scores, id_column, "scores")
    scaled, answered, missing, skole, concepts = _scaled(current, "scores")
    age = np.full(len(current), np.nan)
    if "age_years" in current.columns:
        try:
            age = pd.to_numeric(current["age_years"], errors="raise").to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(
                str(Problem("scores.age_years", "(not numbers)", "ages in years as numbers"))
            ) from None
    change = np.full((len(current), len(DOMAINS) + 1), np.nan)
    has_earlier = np.zeros(len(current))
    if earlier is not None:
        _check_scores(earlier, "earlier")
        before = _indexed(earlier, id_column, "earlier")
        before_scaled = _scaled(before, "earlier")[0]
        try:
            position = before.index.get_indexer(current.index)
        except (TypeError, ValueError):  # ids that cannot be compared (mixed or odd types)
            raise DataError(
                str(Problem("earlier.index", "(ids)", "ids of the same kind as in scores"))
            ) from None
        has_earlier = (position >= 0).astype(np.float64)
        aligned = np.full_like(scaled, np.nan)
        found = position >= 0
        aligned[found] = before_scaled[position[found]]
        change = scaled - aligned

    columns: dict[str, np.ndarray] = {
        "setting.skole": skole,
        "age_years": age,
    }
    for j, d in enumerate(DOMAINS):
        columns[f"score.{d}"] = scaled[:, j]
    for j, d in enumerate(DOMAINS):
        columns[f"answered.{d}"] = answered[:, j]
    columns["missing_fraction"] = missing
    for j, code in enumerate(concept_codes()):
        columns[f"concept.{code}"] = concepts[:, j]
    columns["has_earlier"] = np.asarray(has_earlier, dtype=np.float64)
    for j, d in enumerate(DOMAINS):
        columns[f"change.{d}"] = change[:, j]
    return pd.DataFrame(columns, index=current.index, copy=False)


def feature_groups(names: Sequence[str] | None = None) -> dict[str, str]:
    """The explanation group of each feature: a domain, a concept, or a kind of context.

    ``domain:<id>`` for domain scores, ``concept:<code>`` for concepts, and
    ``total``, ``missing``, ``change``, ``age``, ``setting`` for the rest.

    Examples
    --------
    >>> g = feature_groups()
    >>> g["score.social"], g["concept.learning.absence"], g["answered.care"], g["change.care"]
    ('domain:social', 'concept:learning.absence', 'missing', 'change')
    """
    out = {}
    for name in names if names is not None else feature_names():
        if name == "score.total":
            out[name] = "total"
        elif name.startswith("score."):
            out[name] = "domain:" + name.removeprefix("score.")
        elif name.startswith("concept."):
            out[name] = "concept:" + name.removeprefix("concept.")
        elif name.startswith("answered.") or name == "missing_fraction":
            out[name] = "missing"
        elif name.startswith("change.") or name == "has_earlier":
            out[name] = "change"
        elif name == "age_years":
            out[name] = "age"
        else:
            out[name] = "setting"
    return out
