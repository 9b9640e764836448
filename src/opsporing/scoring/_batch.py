"""Batch scoring: a DataFrame of forms in, a DataFrame of scores out."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument
from ..privacy import CPR_MASK, looks_like_cpr
from ._core import BANDS, ScoreArrays, validate_and_score
from ._key import F64, ScoringKey, scoring_key

#: Columns a form table may carry besides the items; each is checked if present.
META_COLUMNS = ("instrument_id", "instrument_version", "age_years", "setting")

_BAND_DTYPE = pd.CategoricalDtype(list(BANDS), ordered=True)


def score_column(domain: str) -> str:
    """Name of the score column of ``domain`` (``"total"`` for the total)."""
    return f"score.{domain}"


def band_column(domain: str) -> str:
    """Name of the band column of ``domain`` (``"total"``, ``"overall"`` too)."""
    return f"band.{domain}"


def concept_column(code: str) -> str:
    """Name of the boolean column that says whether a form raised concept ``code``."""
    return f"concept.{code}"


@dataclass(frozen=True)
class ScoringResult:
    """What ``score_batch(..., errors="collect")`` returns.

    Attributes
    ----------
    scores : DataFrame
        Scores of the forms without problems, indexed like the input.
    rejected : DataFrame
        One row per problem (columns row, field, value, expected, kind); every
        input row is either in ``scores`` or named here, never silently dropped.
    red_flags : dict
        Rejected rows whose valid answers raise a red flag, with the red-flag concept
        codes: the duty to notify (barnets lov § 133) applies to them now.
    """

    scores: pd.DataFrame
    rejected: pd.DataFrame
    red_flags: dict[Any, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def n_rejected_rows(self) -> int:
        return int(self.rejected["row"].nunique())


# --- reading answers ---------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_missing(value: Any) -> bool:
    """Missing by pandas' rules, without trusting odd objects (pd.isna raises on sNaN)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _isna(col: pd.Series) -> np.ndarray:
    """``pd.isna`` for a column, falling back to one cell at a time for odd objects."""
    try:
        return np.asarray(pd.isna(col), dtype=bool)
    except (TypeError, ValueError, ArithmeticError):
        return np.fromiter((_is_missing(v) for v in col.to_numpy(dtype=object)), bool, len(col))


def _isin(col: pd.Series, allowed: Sequence[str]) -> np.ndarray:
    """``col.isin(allowed)``, falling back to one cell at a time for unhashable objects."""
    try:
        return col.isin(list(allowed)).to_numpy()
    except (TypeError, ValueError, ArithmeticError):
        return np.fromiter(
            (isinstance(v, str) and v in allowed for v in col.to_numpy(dtype=object)),
            bool,
            len(col),
        )


def _is_real_dtype(dtype: Any) -> bool:
    """Numbers that are neither booleans nor complex (both would be silently cast)."""
    return bool(
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )


def _numeric_column(col: pd.Series) -> tuple[F64, np.ndarray | None]:
    """The column as floats (NaN = missing) and a mask of cells that were not numbers.

    Numbers are accepted as they are; a string such as ``"3"`` is *not* turned into 3
    silently: it is reported, because it usually means the table was read wrongly.
    """
    dtype = col.dtype
    if not _is_real_dtype(dtype):
        values = col.to_numpy(dtype=object)
        missing = _isna(col)
        numeric = np.fromiter((_is_number(v) for v in values), bool, count=len(values))
        bad = ~missing & ~numeric
        out = np.full(len(values), np.nan)
        ok = numeric & ~missing
        out[ok] = values[ok].astype(np.float64)
        return out, bad
    return col.to_numpy(dtype=np.float64, na_value=np.nan), None


def _answers(
    key: ScoringKey, forms: pd.DataFrame, problems: list[Problem]
) -> tuple[F64, np.ndarray]:
    """The answer matrix in the key's item order, and a per-row 'was not a number' mask.

    Whether each number is an allowed answer is checked later, with the scoring.
    """
    n = len(forms)
    present = [c for c in key.items if c in forms.columns]
    row_bad = np.zeros(n, dtype=bool)
    if len(present) == len(key.items) and all(_is_real_dtype(t) for t in forms[present].dtypes):
        return forms[list(key.items)].to_numpy(dtype=np.float64, na_value=np.nan), row_bad
    answers = np.full((n, len(key.items)), np.nan)
    for c in present:
        j = key.items.index(c)
        answers[:, j], bad = _numeric_column(forms[c])
        if bad is not None and bad.any():
            for r in np.flatnonzero(bad).tolist():
                problems.append(
                    Problem(
                        row=_label(forms.index[r]),
                        field=c,
                        value=_plain(forms[c].iat[r]),
                        expected=_number_expected(key, j),
                        kind="not_a_number",
                    )
                )
            row_bad |= bad
    return answers, row_bad


def _range_problems(
    key: ScoringKey, answers: F64, bad: np.ndarray, index: pd.Index, problems: list[Problem]
) -> None:
    rows, cols = np.nonzero(bad)
    for r, j in zip(rows.tolist(), cols.tolist(), strict=True):
        problems.append(
            Problem(
                row=_label(index[r]),
                field=key.items[j],
                value=_plain(answers[r, j]),
                expected=key.expected[j],
                kind="out_of_range",
            )
        )


def _number_expected(key: ScoringKey, j: int) -> str:
    """What a cell that is not a number should have been."""
    return key.expected[j] if not key.scored[j] else f"a number, {key.expected[j]}"


def required_expected(key: ScoringKey, j: int) -> str:
    """What a blank answer to a required item should have been (batch and single form)."""
    item = key.instrument.items[j]
    return (
        f"an answer: every item of domain {item.domain!r} must be answered "
        f"(a blank is never read as 'no'); {key.expected[j].removesuffix(' (or empty)')}"
    )


def _required_problems(key: ScoringKey, forms: pd.DataFrame, problems: list[Problem]) -> np.ndarray:
    """Rows with a blank answer to an item of a ``required`` domain, each blank reported."""
    row_bad = np.zeros(len(forms), dtype=bool)
    for j in key.required.tolist():
        item = key.items[j]
        blank = _isna(forms[item])
        for r in np.flatnonzero(blank).tolist():
            problems.append(
                Problem(
                    row=_label(forms.index[r]),
                    field=item,
                    value=None,
                    expected=required_expected(key, j),
                    kind="required",
                )
            )
        row_bad |= blank
    return row_bad


def _plain(value: Any) -> Any:
    """A value as a user would write it: 7 rather than np.float64(7.0)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _label(label: Hashable) -> int | str:
    if isinstance(label, np.integer):
        return int(label)
    return label if isinstance(label, int | str) else str(label)


# --- checking the columns and the meta data ----------------------------------------------------
def _check_columns(key: ScoringKey, forms: pd.DataFrame, keep: Sequence[str]) -> list[Problem]:
    problems = []
    known = set(key.items) | set(META_COLUMNS) | set(keep)
    dupes = forms.columns[forms.columns.duplicated()].unique()
    for c in dupes:
        problems.append(
            Problem(
                field=str(c), value="(column)", expected="each column once", kind="duplicate_column"
            )
        )
    for c in forms.columns:
        if c not in known:
            problems.append(
                Problem(
                    field=str(c),
                    value="(column)",
                    expected=(
                        f"an item id of {key.instrument.key}, one of {list(META_COLUMNS)}, "
                        "or a column named in keep="
                    ),
                    kind="unknown_item",
                )
            )
    for j in key.required.tolist():
        if key.items[j] not in forms.columns:
            problems.append(
                Problem(
                    field=key.items[j],
                    value="(missing)",
                    expected=(
                        f"a column: item {key.items[j]} is in a required domain of "
                        f"{key.instrument.key} (every form must answer it)"
                    ),
                    kind="missing_column",
                )
            )
    produced = set(_output_columns(key))
    for c in keep:
        if c not in forms.columns:
            problems.append(
                Problem(
                    field=str(c),
                    value="(missing)",
                    expected="a column of the table (named in keep=)",
                    kind="missing_column",
                )
            )
        elif c in produced:
            # Kept, it would be overwritten by the score column of the same name.
            problems.append(
                Problem(
                    field=str(c),
                    value="(keep)",
                    expected="a kept column whose name is not one of the output's columns",
                    kind="keep_clash",
                )
            )
    return problems


def _output_columns(key: ScoringKey) -> list[str]:
    """Names of the columns :func:`_frame` writes (besides the kept ones)."""
    cols = ["instrument", band_column("overall"), "red_flag", "critical", "n_missing"]
    for dom in key.domains:
        cols += [score_column(dom), band_column(dom), f"answered.{dom}", f"scorable.{dom}"]
    if key.instrument.total is not None:
        cols += [score_column("total"), band_column("total")]
    cols += [concept_column(code) for code in key.concepts]
    return cols


def age_expectation(inst: Instrument) -> str:
    """What an age must be for ``inst``, in words (shared by batch and single-form errors)."""
    return f"an age from {inst.age_years.min:g} to {inst.age_years.max:g} years for {inst.key}"


def _check_meta(inst: Instrument, forms: pd.DataFrame, problems: list[Problem]) -> np.ndarray:
    n = len(forms)
    row_bad = np.zeros(n, dtype=bool)
    labels = forms.index

    def report(mask: np.ndarray, field: str, expected: str, kind: str) -> None:
        for r in np.flatnonzero(mask).tolist():
            problems.append(
                Problem(
                    row=_label(labels[r]),
                    field=field,
                    value=_plain(forms[field].iat[r]),
                    expected=expected,
                    kind=kind,
                )
            )
        row_bad[mask] = True

    for field, wanted in (("instrument_id", inst.id), ("instrument_version", inst.version)):
        if field in forms.columns:
            col = forms[field]
            # Compared as text: "1.0.0" is the only sane spelling of a version.
            mask = ~_isin(col, [wanted]) | _isna(col)
            report(mask, field, f"{wanted!r} ({inst.key})", "wrong_instrument")
    if "age_years" in forms.columns:
        age, not_number = _numeric_column(forms["age_years"])
        if not_number is not None:
            report(not_number, "age_years", "a number of years", "not_a_number")
        with np.errstate(invalid="ignore"):
            out = ~np.isnan(age) & ((age < inst.age_years.min) | (age > inst.age_years.max))
        report(
            out,
            "age_years",
            age_expectation(inst),
            "age_out_of_range",
        )
    if "setting" in forms.columns:
        col = forms["setting"]
        mask = ~_isin(col, inst.settings) & ~_isna(col)
        report(mask, "setting", f"one of {list(inst.settings)} for {inst.key}", "wrong_setting")
    return row_bad


# --- the output table --------------------------------------------------------------------------
def _frame(
    key: ScoringKey, s: ScoreArrays, index: pd.Index, passthrough: pd.DataFrame | None
) -> pd.DataFrame:
    cols: dict[str, Any] = {}
    if passthrough is not None:
        for c in passthrough.columns:
            cols[c] = passthrough[c].to_numpy()
    cols["instrument"] = pd.Categorical.from_codes(
        np.zeros(len(index), dtype=np.int8), dtype=pd.CategoricalDtype([key.instrument.key])
    )
    for d, dom in enumerate(key.domains):
        cols[score_column(dom)] = s.domain_score[:, d]
        cols[band_column(dom)] = pd.Categorical.from_codes(s.domain_band[:, d], dtype=_BAND_DTYPE)
        cols[f"answered.{dom}"] = s.domain_answered[:, d].astype(np.int16)
        cols[f"scorable.{dom}"] = ~np.isnan(s.domain_score[:, d])
    if key.instrument.total is not None:
        cols[score_column("total")] = s.total_score
        cols[band_column("total")] = pd.Categorical.from_codes(s.total_band, dtype=_BAND_DTYPE)
    cols[band_column("overall")] = pd.Categorical.from_codes(s.overall_band, dtype=_BAND_DTYPE)
    cols["red_flag"] = s.red_flag
    cols["critical"] = s.critical
    cols["n_missing"] = s.n_missing.astype(np.int16)
    for k, code in enumerate(key.concepts):
        cols[concept_column(code)] = s.concepts[:, k]
    return pd.DataFrame(cols, index=index, copy=False)


# --- public API --------------------------------------------------------------------------------
@overload
def score_batch(
    instrument: Instrument,
    forms: pd.DataFrame,
    *,
    errors: Literal["raise"] = ...,
    keep: Iterable[str] = ...,
) -> pd.DataFrame: ...


@overload
def score_batch(
    instrument: Instrument,
    forms: pd.DataFrame,
    *,
    errors: Literal["collect"],
    keep: Iterable[str] = ...,
) -> ScoringResult: ...


def score_batch(
    instrument: Instrument,
    forms: pd.DataFrame,
    *,
    errors: Literal["raise", "collect"] = "raise",
    keep: Iterable[str] = (),
) -> pd.DataFrame | ScoringResult:
    """Score many forms at once (vectorised; no Python loop per form).

    Parameters
    ----------
    instrument : Instrument
    forms : DataFrame
        One row per form. Columns: item ids (numbers; empty = not answered; an item
        column may be absent altogether), optionally ``instrument_id``,
        ``instrument_version``, ``age_years`` and ``setting`` (each checked against the
        instrument), and any columns named in ``keep`` (copied to the output, e.g. a
        pseudonymous form id). Any other column is an error: a misspelt item id must
        not vanish silently.
    errors : {"raise", "collect"}
        ``"raise"`` (default): if any row has a problem, raise
        :class:`~opsporing.errors.ResponseValidationError` listing every problem of
        every row. ``"collect"``: return a :class:`ScoringResult` with the scores of
        the good rows and a table of every problem of the rejected rows.
        Problems with the table itself (unknown or duplicate columns) always raise.
    keep : iterable of str
        Extra columns to carry through to the output.

    Returns
    -------
    DataFrame or ScoringResult
        Per form: ``score.<domain>`` (NaN when not scorable, never 0),
        ``band.<domain>`` (grøn/gul/rød, NaN when not scorable), ``answered.<domain>``
        (items summed: items on a number scale never are),
        ``scorable.<domain>``, ``score.total``, ``band.total``, ``band.overall``
        (the worst band; ``rød`` whenever a red flag is raised), ``red_flag``,
        ``critical`` (True when a critical answer was given, see ``Item.critical``),
        ``n_missing`` and ``concept.<code>`` (True when the form evidences the concept).
        ``band.overall`` follows the instrument's ``overall`` rule: ``worst`` as above;
        ``total``: the total's band, at least ``gul`` with a concern domain at ``rød``
        or a critical answer, ``rød`` with a red flag.

        A blank answer to an item of a ``required`` domain is a problem of its row
        (kind ``required``), never read as "no"; an absent column of such an item is
        a problem of the table.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> topi = get_instrument("topi")
    >>> out = score_batch(topi, pd.DataFrame({"1vurdering": [0, 2, None]}))
    >>> out["band.overall"].tolist()
    ['grøn', 'rød', nan]
    """
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [
                Problem(
                    "instrument", type(instrument).__name__, "an opsporing Instrument", kind="type"
                )
            ]
        )
    if not isinstance(forms, pd.DataFrame):
        raise ResponseValidationError(
            [
                Problem(
                    "forms",
                    type(forms).__name__,
                    "a pandas DataFrame (one row per form)",
                    kind="type",
                )
            ]
        )
    if errors not in ("raise", "collect"):
        raise ResponseValidationError(
            [Problem("errors", errors, "'raise' or 'collect'", kind="argument")]
        )
    if isinstance(keep, str):
        keep = [keep]
    try:
        keep = list(keep)
    except TypeError:
        keep = [keep]  # type: ignore[list-item]  # reported just below
    bad_keep = [k for k in keep if not isinstance(k, str)]
    if bad_keep:
        raise ResponseValidationError(
            [Problem("keep", _plain(k), "column names as text", kind="argument") for k in bad_keep]
        )
    keep = list(dict.fromkeys(keep))  # a column named twice is kept once
    key = scoring_key(instrument)
    if not all(isinstance(c, str) for c in forms.columns):
        bad = [c for c in forms.columns if not isinstance(c, str)]
        raise ResponseValidationError(
            [
                Problem(repr(c), "(column)", "column names that are text", kind="unknown_item")
                for c in bad
            ],
            headline="invalid form table",
        )
    table_problems = _check_columns(key, forms, keep)
    if table_problems:
        raise ResponseValidationError(table_problems, headline="invalid form table")

    problems: list[Problem] = []
    answers, row_bad = _answers(key, forms, problems)
    row_bad |= _check_meta(instrument, forms, problems)
    scores, bad_cells = validate_and_score(key, answers)
    if bad_cells is not None:
        _range_problems(key, answers, bad_cells, forms.index, problems)
        row_bad |= bad_cells.any(axis=1)
    row_bad |= _required_problems(key, forms, problems)
    row_bad |= _cpr_problems(forms, keep, problems)
    passthrough = forms[keep] if keep else None

    if errors == "raise":
        if problems:
            # Every row's red flags, the valid rows' too: none of them is returned now.
            raise ResponseValidationError(
                problems,
                headline=f"invalid answers for {instrument.key}",
                red_flags=red_flags_of(key, scores, forms.index, np.ones(len(forms), bool)),
            )
        return _frame(key, scores, forms.index, passthrough)

    good = ~row_bad
    frame = _frame(
        key,
        scores.take(good),
        forms.index[good],
        passthrough[good] if passthrough is not None else None,
    )
    return ScoringResult(
        scores=frame,
        rejected=ResponseValidationError(problems).to_frame(),
        red_flags=red_flags_of(key, scores, forms.index, row_bad),
    )


def red_flags_of(
    key: Any, scores: Any, index: pd.Index, rows: np.ndarray
) -> dict[Any, tuple[str, ...]]:
    """The red flags raised by the *valid* answers of the given rows (invalid cells are
    scored as missing), by row label: a rejected form still shows the duty to notify."""
    flagged = np.flatnonzero(np.asarray(rows, dtype=bool) & scores.red_flag)
    codes = [c for c, red in zip(key.concepts, key.red_flag, strict=True) if red]
    columns = np.flatnonzero(key.red_flag)
    return {
        _label(index[i]): tuple(codes[k] for k, j in enumerate(columns) if scores.concepts[i, j])
        for i in flagged.tolist()
    }


def _cpr_problems(forms: pd.DataFrame, keep: Sequence[str], problems: list[Problem]) -> Any:
    """Flag every row whose label or kept columns hold a CPR number (they reach the output)."""
    bad = np.zeros(len(forms), dtype=bool)
    columns = [("(row label)", forms.index)] + [(c, forms[c]) for c in keep]
    for name, values in columns:
        for i, (label, value) in enumerate(zip(forms.index, values, strict=True)):
            if looks_like_cpr(value):
                bad[i] = True
                problems.append(
                    Problem(
                        name,
                        CPR_MASK,
                        "a pseudonymous id, never a CPR number",
                        row=CPR_MASK if looks_like_cpr(label) else label,
                        kind="personal_identifier",
                    )
                )
    return bad
