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
    Whether an earlier screening exists, and the change of each scaled score since
    the most recent one (NaN when there is none, or a score is not scorable at either
    time).
``n_earlier``, ``slope.<domain>``, ``mean_earlier.<domain>``
    The trajectory: how many earlier educator screenings the child has, the
    least-squares slope of each scaled score per year over all of them and the current
    one (time from ``age_years``; NaN with fewer than two points), and the mean of the
    earlier scaled scores (NaN without any). The mean, not the maximum: in the
    synthetic law (and, we assume, in children) most of the need is a lasting trait
    seen through a different rater each time, so averaging the earlier forms gives
    the least noisy reading of it; a passing episode shows in the slope and the change.
``has_parent``, ``parent.score.<domain>``, ``parent.missing_fraction``
``has_child``, ``child.score.<domain>``, ``child.missing_fraction``
    The other voices of the same round (``informants=``): whether the parents' and the
    child's own form is there, its domain scores scaled to 0-1 of that form's own range
    like the educator's, and its share of unanswered items (NaN when absent).

Never features: identifiers (``child_id``, ``form_id``, ``rater_id``), names, CPR
numbers, the municipality, the family background, sex. Identifiers may travel in the
score table (to join screenings) but are never read as features; sensitive attributes
are refused outright, see :data:`FORBIDDEN_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import get_args

import numpy as np
import pandas as pd

from .._trajectory import slope_by_row
from ..errors import DataError, Problem
from ..instruments import MAX_AGE_YEARS, Informant, Instrument, get_instrument
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

#: The informants whose forms the model reads: the educator's form is the screening
#: (``scores``, ``earlier``); the others come with it as ``informants=``.
SCREENING_INFORMANT = "educator"
#: The other voices of a round, in feature order (the instruments' ``informant`` values).
OTHER_INFORMANTS: tuple[str, ...] = tuple(
    i for i in get_args(Informant) if i != SCREENING_INFORMANT
)


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
        "n_earlier",
        *(f"slope.{d}" for d in DOMAINS),
        *(f"mean_earlier.{d}" for d in DOMAINS),
        *(
            name
            for who in OTHER_INFORMANTS
            for name in (
                f"has_{who}",
                *(f"{who}.score.{d}" for d in DOMAINS),
                f"{who}.missing_fraction",
            )
        ),
    )


def outside_range_counts(name: str) -> bool:
    """Whether a value of this feature beyond the training data's is a reason to abstain.

    Not for unanswered questions (the educator's or an informant's): too many blanks is
    the policy's "missing" rule, not a stranger child. Not for the number of earlier
    screenings: a child followed longer than any training child is better known, not
    unknown (the trees read it as the most they saw). Every other feature: yes.

    Examples
    --------
    >>> outside_range_counts("score.social"), outside_range_counts("slope.care")
    (True, True)
    >>> outside_range_counts("n_earlier"), outside_range_counts("parent.missing_fraction")
    (False, False)
    """
    return not (
        name in ("missing_fraction", "n_earlier")
        or name.startswith("answered.")
        or name in {f"{who}.missing_fraction" for who in OTHER_INFORMANTS}
    )


def monotonic_constraint(name: str) -> int:
    """+1 (more never lowers risk), -1 (more never raises it) or 0 for a feature.

    Concern scores and concerns raise risk; the resources score and protective
    factors lower it. The same holds for the parents' and the child's own domain
    scores and for the mean of the earlier scores (more concern seen before, at the
    same current score, is more evidence of a lasting need). Age, setting,
    missingness, change and slopes are left free: change is not monotone *given* the
    current score (a child whose earlier score was higher has shown the concern for
    longer).

    Examples
    --------
    >>> monotonic_constraint("score.social"), monotonic_constraint("score.resources")
    (1, -1)
    >>> monotonic_constraint("concept.protective.friendship"), monotonic_constraint("age_years")
    (-1, 0)
    >>> monotonic_constraint("parent.score.care"), monotonic_constraint("slope.care")
    (1, 0)
    >>> monotonic_constraint("mean_earlier.resources")
    -1
    """
    for prefix in ("score.", "mean_earlier.", *(f"{who}.score." for who in OTHER_INFORMANTS)):
        if name.startswith(prefix):
            return -1 if name.removeprefix(prefix) in STRENGTH_DOMAINS else 1
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


def _floats(
    frame: pd.DataFrame,
    rows: np.ndarray,
    column: str,
    field: str,
    bounds: tuple[float, float] | None = None,
) -> np.ndarray:
    """The column's values in ``rows`` as floats (NaN when empty), or a DataError.

    Numbers and booleans pass; text ("3", "False"), complex numbers and infinite values do
    not: nothing is coerced silently. With ``bounds`` (the form's own range of the
    column), every row outside it is refused by name: a score of a million on a 0-12
    scale, or -50 questions missing, was never made by ``score_batch``.
    """
    out = _plain_floats(frame, rows, column, field)
    if bounds is not None:
        lo, hi = bounds
        slack = 1e-9 * max(1.0, abs(lo), abs(hi))  # a mean score's rounding, not more
        with np.errstate(invalid="ignore"):
            bad = (out < lo - slack) | (out > hi + slack)
        if bad.any():
            labels = frame.index[rows]
            raise DataError(
                *(
                    Problem(
                        f"{field}.{column}",
                        float(out[r]),
                        f"a value from {lo:g} to {hi:g} (this form's range)",
                        row=_row_label(labels[r]),
                    )
                    for r in np.flatnonzero(bad).tolist()
                )
            )
    return out


def _plain_floats(frame: pd.DataFrame, rows: np.ndarray, column: str, field: str) -> np.ndarray:
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
                concepts[rows, j] = _floats(scores, rows, col, field, (0.0, 1.0))
        missing[rows] = _floats(scores, rows, "n_missing", field, (0.0, n_items)) / n_items
        for j, d in enumerate((*DOMAINS, "total")):
            col = f"score.{d}"
            if d in ranges and col in scores.columns:
                lo, hi = ranges[d]
                scaled[rows, j] = (_floats(scores, rows, col, field, (lo, hi)) - lo) / (hi - lo)
            if d != "total" and f"answered.{d}" in scores.columns and d in ranges:
                n_dom = len(inst.scored_items_in(d))
                answered[rows, j] = (
                    _floats(scores, rows, f"answered.{d}", field, (0.0, n_dom)) / n_dom
                )
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


def _ages(table: pd.DataFrame, field: str) -> np.ndarray:
    """The ``age_years`` column as floats (NaN without one); every impossible age refused.

    An age is a number from 0 to :data:`~opsporing.instruments.MAX_AGE_YEARS` (or empty):
    an infinite or negative age would become a slope of infinity or a child screened
    before birth, never a feature.
    """
    if "age_years" not in table.columns:
        return np.full(len(table), np.nan)
    try:
        ages = np.asarray(
            pd.to_numeric(table["age_years"], errors="raise").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            dtype=np.float64,
        )
    except (TypeError, ValueError):
        raise DataError(
            str(Problem(f"{field}.age_years", "(not numbers)", "ages in years as numbers"))
        ) from None
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(ages) & ~((ages >= 0) & (ages <= MAX_AGE_YEARS))
    if bad.any():
        raise DataError(
            *(
                Problem(
                    f"{field}.age_years",
                    float(ages[r]),
                    f"an age in years from 0 to {MAX_AGE_YEARS:g}",
                    row=_row_label(table.index[r]),
                )
                for r in np.flatnonzero(bad).tolist()
            )
        )
    return ages


def _row_label(label: object) -> int | str:
    return label if isinstance(label, int | str) else str(label)


def _informant_problems(table: pd.DataFrame, field: str, informant: str) -> list[Problem]:
    """Every row whose instrument is not a form of ``informant`` (instrument metadata).

    Rows whose instrument is unknown are left to :func:`_scaled`, which names them.
    """
    keys = _instrument_keys(table["instrument"], field)
    problems = []
    for key in pd.unique(keys):
        try:
            inst = _instrument_info(str(key))[0]
        except Exception:  # unknown instruments: reported by _scaled with the reason
            continue
        if inst.informant == informant:
            continue
        expected = (
            f"a form filled in by the {informant} (instrument metadata informant: "
            f"{informant}); this one is the {inst.informant}'s"
        )
        if informant == SCREENING_INFORMANT:
            expected += " (pass parents' and children's own forms as informants=)"
        problems += [
            Problem(f"{field}.instrument", key, expected, row=_row_label(label), kind="informant")
            for label in table.index[keys == key]
        ]
    return problems


def _id_kind(ids: pd.Index) -> str:
    """ "text", "number" or the inferred kind of the ids (pandas' ``infer_dtype``)."""
    kind = pd.api.types.infer_dtype(ids, skipna=True)
    if kind in ("string", "unicode"):
        return "text"
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    return kind


def _positions(before: pd.Index, current: pd.Index, field: str) -> np.ndarray:
    """Where each current id sits in ``before`` (-1 when absent).

    Ids of another kind than the current table's ("17" against 17) are refused: they
    would match no child, and the whole table would be left out without a word.
    """
    kinds = (_id_kind(before), _id_kind(current))
    if len(before) and len(current) and kinds[0] != kinds[1] and "empty" not in kinds:
        raise DataError(
            str(
                Problem(
                    f"{field}.index",
                    f"{kinds[0]} ids",
                    f"ids of the same kind as in scores ({kinds[1]} ids)",
                )
            )
        )
    try:
        return np.asarray(before.get_indexer(current), dtype=np.int64)
    except (TypeError, ValueError):  # ids that cannot be compared (mixed or odd types)
        raise DataError(
            str(Problem(f"{field}.index", "(ids)", "ids of the same kind as in scores"))
        ) from None


def _check_joined(
    current: pd.DataFrame, other: pd.DataFrame, mine: np.ndarray, theirs: np.ndarray, field: str
) -> None:
    """Refuse rows matched by their label whose ``child_id`` columns disagree.

    Tables joined by the index (no ``id_column=``) that both carry a ``child_id`` column:
    two fresh ``score_batch`` tables are both numbered 0, 1, 2, ..., so without this the
    parents' form of one child would be read as another child's. With ``id_column`` the
    ids are the join and there is nothing to compare.
    """
    if "child_id" not in current.columns or "child_id" not in other.columns or not len(mine):
        return
    a = current["child_id"].to_numpy(dtype=object)[mine]
    b = other["child_id"].to_numpy(dtype=object)[theirs]
    differ = np.fromiter((x != y for x, y in zip(a, b, strict=True)), bool, len(a))
    if differ.any():
        r = int(np.flatnonzero(differ)[0])
        raise DataError(
            str(
                Problem(
                    f"{field}.child_id",
                    b[r],
                    f"the child_id of the screening its row label matches ({a[r]!r}); "
                    f"{int(differ.sum())} row(s) disagree: pass id_column='child_id' to "
                    "match the tables by child",
                )
            )
        )


def _earlier_tables(earlier: object) -> list[tuple[str, pd.DataFrame]]:
    """``earlier`` as (field name, table) pairs, oldest first."""
    if earlier is None:
        return []
    if isinstance(earlier, pd.DataFrame):
        return [("earlier", earlier)]
    if isinstance(earlier, str | bytes) or not isinstance(earlier, Sequence):
        raise DataError(
            str(
                Problem(
                    "earlier",
                    type(earlier).__name__,
                    "None, one score table or a list of score tables (oldest first)",
                )
            )
        )
    return [(f"earlier[{k}]", table) for k, table in enumerate(earlier)]


def _check_order(when: np.ndarray, ages: list[np.ndarray], labels: pd.Index, field: str) -> None:
    """Refuse every child whose earlier screening is older than a later one (by age).

    ``ages``: the current ages last, the earlier tables' before it, oldest first. Equal
    ages pass (no time between: no slope); a screening after the current one, or earlier
    tables out of order, would turn the slope's sign.
    """
    # Against the current age and every table already read (the oldest first).
    read = np.column_stack(ages[:-1]) if len(ages) > 1 else np.full((len(when), 0), np.nan)
    with np.errstate(invalid="ignore"):
        before = np.fmax.reduce(read, axis=1) if read.shape[1] else np.full(len(when), np.nan)
        bad = (when > ages[-1]) | (when < before)
    if bad.any():
        raise DataError(
            *(
                Problem(
                    f"{field}.age_years",
                    float(when[r]),
                    "an age not after the current screening's and not before the age in an "
                    "older earlier table (earlier tables oldest first)",
                    row=_row_label(labels[r]),
                    kind="order",
                )
                for r in np.flatnonzero(bad).tolist()
            )
        )


def _trajectory(
    current: pd.DataFrame,
    scaled: np.ndarray,
    age: np.ndarray,
    earlier: object,
    id_column: str | None,
) -> dict[str, np.ndarray]:
    """``has_earlier``, ``change.*``, ``n_earlier``, ``slope.*``, ``mean_earlier.*``."""
    n, n_dom = len(current), len(DOMAINS)
    latest = np.full((n, n_dom), np.nan)
    count = np.zeros(n)
    ages = [age]
    levels = [scaled[:, :n_dom]]
    for field, table in _earlier_tables(earlier):
        _check_scores(table, field)
        before = _indexed(table, id_column, field)
        bad = _informant_problems(before, field, SCREENING_INFORMANT)
        if bad:
            raise DataError(*bad)
        position = _positions(before.index, current.index, field)
        found = position >= 0
        _check_joined(current, before, np.flatnonzero(found), position[found], field)
        level = np.full((n, n_dom), np.nan)
        level[found] = _scaled(before, field)[0][position[found], :n_dom]
        when = np.full(n, np.nan)
        when[found] = _ages(before, field)[position[found]]
        _check_order(when, ages, current.index, field)
        # Oldest first: a later table overwrites, so each child keeps its most recent one.
        latest[found] = level[found]
        count += found
        ages.insert(-1, when)
        levels.insert(-1, level)
    out: dict[str, np.ndarray] = {"has_earlier": (count > 0).astype(np.float64)}
    change = scaled[:, :n_dom] - latest
    for j, d in enumerate(DOMAINS):
        out[f"change.{d}"] = change[:, j]
    out["n_earlier"] = count
    x = np.column_stack(ages)
    y = np.stack(levels, axis=1)  # (n, waves, domains), the current one last
    for j, d in enumerate(DOMAINS):
        out[f"slope.{d}"] = slope_by_row(x, y[:, :, j])
    before_levels = y[:, :-1, :]
    scored = (~np.isnan(before_levels)).sum(axis=1)
    total = np.nansum(before_levels, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(scored > 0, total / scored, np.nan)
    for j, d in enumerate(DOMAINS):
        out[f"mean_earlier.{d}"] = mean[:, j]
    return out


def _informant_features(
    informants: object, current: pd.DataFrame, id_column: str | None
) -> dict[str, np.ndarray]:
    """``has_<who>``, ``<who>.score.*`` and ``<who>.missing_fraction`` of each other voice.

    Every bad row of every table is reported at once: a key that is not an informant, a
    form of another informant, an id given twice, an id with no screening in ``scores``.
    """
    n = len(current)
    out: dict[str, np.ndarray] = {}
    for who in OTHER_INFORMANTS:
        out[f"has_{who}"] = np.zeros(n)
        for d in DOMAINS:
            out[f"{who}.score.{d}"] = np.full(n, np.nan)
        out[f"{who}.missing_fraction"] = np.full(n, np.nan)
    if informants is None:
        return out
    if not isinstance(informants, Mapping):
        raise DataError(
            str(
                Problem(
                    "informants",
                    type(informants).__name__,
                    f"a mapping of informant ({', '.join(OTHER_INFORMANTS)}) to a score table",
                )
            )
        )
    problems = [
        Problem(
            "informants",
            key,
            f"one of {list(OTHER_INFORMANTS)} (the educator's form is scores=)",
            kind="unknown_informant",
        )
        for key in informants
        if key not in OTHER_INFORMANTS
    ]
    tables: list[tuple[str, pd.DataFrame, np.ndarray]] = []
    for who in OTHER_INFORMANTS:
        table = informants.get(who)
        if table is None:
            continue
        field = f"informants[{who}]"
        _check_scores(table, field)
        if id_column is not None and id_column not in table.columns:
            raise DataError(Problem(field, id_column, "a column of the table (id_column=)"))
        ids = pd.Index(table[id_column] if id_column is not None else table.index)
        labelled = table.set_axis(ids, axis=0)
        problems += _informant_problems(labelled, field, who)
        try:
            repeated = ids.duplicated()
        except TypeError:  # unhashable ids
            raise DataError(
                Problem(f"{field}.index", "(unhashable ids)", "one id (text or number) per row")
            ) from None
        problems += [
            Problem(
                id_column or f"{field}.index",
                ids[r],
                f"one {who} form per child in a round",
                row=_row_label(ids[r]),
                kind="duplicate_id",
            )
            for r in np.flatnonzero(repeated).tolist()
        ]
        position = _positions(current.index, ids, field)
        if id_column is None:
            known = np.flatnonzero(position >= 0)
            _check_joined(current, labelled, position[known], known, field)
        problems += [
            Problem(
                id_column or f"{field}.index",
                ids[r],
                "the id of a screening in scores (an informant's form comes with the "
                "educator's form of the same round)",
                row=_row_label(ids[r]),
                kind="unknown_id",
            )
            for r in np.flatnonzero(position < 0).tolist()
        ]
        tables.append((who, labelled, position))
    if problems:
        raise DataError(*problems)
    for who, labelled, position in tables:
        field = f"informants[{who}]"
        reject_cpr(labelled.index, f"{field}.index")
        scaled, _, missing, _, _ = _scaled(labelled, field)
        out[f"has_{who}"][position] = 1.0
        for j, d in enumerate(DOMAINS):
            out[f"{who}.score.{d}"][position] = scaled[:, j]
        out[f"{who}.missing_fraction"][position] = missing
    return out


def build_features(
    scores: pd.DataFrame,
    earlier: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    *,
    informants: Mapping[str, pd.DataFrame | None] | None = None,
    id_column: str | None = None,
) -> pd.DataFrame:
    """The model's feature table from score tables.

    Parameters
    ----------
    scores : DataFrame
        The current screening: output of :func:`~opsporing.scoring.score_batch` for a
        shipped educator's form (several instruments may be concatenated). Pass
        ``keep=["age_years"]`` to ``score_batch`` to give the model the child's age.
    earlier : DataFrame or sequence of DataFrame, optional
        Earlier educator screenings of the same children, same shape: one table, or a
        list of tables oldest first (one per earlier round; a child may be missing from
        any). Rows are matched by ``id_column`` (or by the index). Children without one
        get ``has_earlier = 0``, ``n_earlier = 0`` and NaN changes, slopes and means.
        Slopes need ``age_years`` in every table.
    informants : mapping, optional
        The other voices of the same round: ``{"parent": table, "child": table}``
        (either may be left out or None), score tables of parent forms and children's
        own forms, matched to ``scores`` by the same ids. Each row's instrument must be
        a form of that informant (the instrument's ``informant``), each child at most
        once, and every id must have a screening in ``scores``.
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
        On a table that is not a score table, an unknown instrument, a form of the wrong
        informant, duplicate ids, informants' ids without a screening, or sensitive
        columns (names, CPR, municipality, family background); every bad row at once.

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

    The parents' form of the same round, and an earlier screening a year before:

    >>> parent_form = get_instrument("opsporing.parent.skole")
    >>> answers = {i.id: [3 if i.domain == "emotional" else 0] for i in parent_form.items}
    >>> parent = score_batch(parent_form, pd.DataFrame(answers))
    >>> before = score_batch(school, forms.assign(age_years=8.0, emo_sad=0),
    ...                      keep=["age_years"])
    >>> X = build_features(score_batch(school, forms, keep=["age_years"]), [before],
    ...                    informants={"parent": parent})
    >>> float(X.loc[0, "has_parent"]), float(X.loc[0, "parent.score.emotional"])
    (1.0, 1.0)
    >>> float(X.loc[0, "n_earlier"]), float(X.loc[0, "slope.emotional"])  # +3 of 12 a year
    (1.0, 0.25)
    """
    _check_scores(scores, "scores")
    current = _indexed(scores, id_column, "scores")
    bad = _informant_problems(current, "scores", SCREENING_INFORMANT)
    if bad:
        raise DataError(*bad)
    scaled, answered, missing, skole, concepts = _scaled(current, "scores")
    age = _ages(current, "scores")
    trajectory = _trajectory(current, scaled, age, earlier, id_column)
    voices = _informant_features(informants, current, id_column)

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
    columns.update(trajectory)
    columns.update(voices)
    frame = pd.DataFrame(
        {name: np.asarray(columns[name], dtype=np.float64) for name in feature_names()},
        index=current.index,
        copy=False,
    )
    return frame


def model_view(X: pd.DataFrame, names: Iterable[object] | None) -> pd.DataFrame:
    """``X`` with only the features a fitted model knows, in its order.

    A model fitted before a feature was added (the features of the informants and the
    trajectory came in issue 13) keeps working on tables from today's
    :func:`build_features`: the newer features it never saw are left out. Only
    features of :func:`feature_names` are ever dropped, the others are never reordered,
    and a feature the model needs but ``X`` lacks is never invented: anything else is
    left for the estimator's own check to refuse.

    Examples
    --------
    >>> X = pd.DataFrame({"age_years": [9.0], "score.social": [0.5], "has_parent": [1.0]})
    >>> list(model_view(X, ["age_years", "score.social"]).columns)
    ['age_years', 'score.social']
    >>> list(model_view(X, ["score.social", "age_years"]).columns)  # never reordered
    ['age_years', 'score.social', 'has_parent']
    """
    if names is None:
        return X
    wanted = [str(n) for n in names]
    have = [str(c) for c in X.columns]
    if have == wanted:
        return X
    known = set(feature_names())
    extra = [c for c in have if c not in wanted]
    kept = [c for c in have if c in set(wanted)]
    # Only newer features are left out: never reordered, never a column of another kind.
    if kept == wanted and all(c in known for c in extra):
        return X[wanted]
    return X


def feature_groups(names: Sequence[str] | None = None) -> dict[str, str]:
    """The explanation group of each feature: a domain, a concept, or a kind of context.

    ``domain:<id>`` for domain scores, ``concept:<code>`` for concepts,
    ``trajectory:<id>`` for a domain's slope and earlier mean,
    ``informant:<who>:<id>`` for the parents' or the child's own domain score,
    ``informant:<who>`` for whether that form is there and its missing answers, and
    ``total``, ``missing``, ``change``, ``age``, ``setting`` for the rest.

    Examples
    --------
    >>> g = feature_groups()
    >>> g["score.social"], g["concept.learning.absence"], g["answered.care"], g["change.care"]
    ('domain:social', 'concept:learning.absence', 'missing', 'change')
    >>> g["slope.emotional"], g["parent.score.social"], g["has_child"], g["n_earlier"]
    ('trajectory:emotional', 'informant:parent:social', 'informant:child', 'change')
    """
    out = {}
    voices = {f"has_{who}": who for who in OTHER_INFORMANTS} | {
        f"{who}.missing_fraction": who for who in OTHER_INFORMANTS
    }
    for name in names if names is not None else feature_names():
        who, _, rest = name.partition(".")
        if name == "score.total":
            out[name] = "total"
        elif name.startswith("score."):
            out[name] = "domain:" + name.removeprefix("score.")
        elif name.startswith("concept."):
            out[name] = "concept:" + name.removeprefix("concept.")
        elif name.startswith("answered.") or name == "missing_fraction":
            out[name] = "missing"
        elif name.startswith("change.") or name in ("has_earlier", "n_earlier"):
            out[name] = "change"
        elif name.startswith(("slope.", "mean_earlier.")):
            out[name] = "trajectory:" + rest
        elif name in voices:
            out[name] = f"informant:{voices[name]}"
        elif who in OTHER_INFORMANTS and rest.startswith("score."):
            out[name] = f"informant:{who}:{rest.removeprefix('score.')}"
        elif name == "age_years":
            out[name] = "age"
        else:
            out[name] = "setting"
    return out
