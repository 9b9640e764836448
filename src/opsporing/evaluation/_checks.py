"""Input checks shared by the evaluation modules.

Every public function validates its input here once, so a bad table fails early
with a :class:`~opsporing.errors.DataError` that names the field, the offending
value (and where it sits) and what was expected, instead of a bare ``ValueError``
from deep inside scikit-learn.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError, Problem

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: The steps of the intervention staircase (Indsatstrappen).
STEPS: tuple[int, ...] = tuple(range(7))

#: How many offending values an error message shows.
_SHOW = 5


class Text(str):
    """A description standing in for a value in a message (shown without quotes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def text(description: str) -> Text:
    """Mark ``description`` as words about a value, not the value itself."""
    return Text(description)


def fail(field: str, value: Any, expected: str, row: Hashable | None = None) -> DataError:
    """A :class:`DataError` for one bad value, worded like a :class:`Problem`."""
    where = row if isinstance(row, int | str) or row is None else str(row)
    return DataError(str(Problem(field=field, value=value, expected=expected, row=where)))


def _labels(values: Any, n: int) -> Sequence[Hashable]:
    if isinstance(values, pd.Series | pd.Index):
        return list(values.index) if isinstance(values, pd.Series) else list(range(n))
    return range(n)


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _bad(field: str, values: Any, raw: np.ndarray, bad: np.ndarray, expected: str) -> DataError:
    """One error naming the first few bad values (with their row labels) and how many."""
    where = np.flatnonzero(bad)
    labels = _labels(values, len(raw))
    shown = [
        str(Problem(field=field, value=_plain(raw[i]), expected=expected, row=_row(labels[i])))
        for i in where[:_SHOW]
    ]
    more = f" (and {len(where) - _SHOW} more)" if len(where) > _SHOW else ""
    head = f"{field}: {len(where)} bad value{'s' if len(where) != 1 else ''}{more}"
    return DataError(head + "\n  - " + "\n  - ".join(shown))


def _row(label: Hashable) -> int | str:
    label = _plain(label)
    return label if isinstance(label, int | str) else str(label)


def as_1d(values: Any, field: str) -> np.ndarray:
    """``values`` (list, array, Series) as a 1-d array; a DataFrame or matrix is refused."""
    if isinstance(values, pd.DataFrame):
        raise fail(
            field, text(f"a DataFrame with {values.shape[1]} columns"), "one column (a Series)"
        )
    arr = as_array(values.to_numpy() if isinstance(values, pd.Series) else values, field)
    if arr.ndim != 1:
        raise fail(field, text(f"an array of shape {arr.shape}"), "a 1-d sequence")
    if arr.size == 0:
        raise fail(field, text("an empty sequence"), "at least one value")
    return arr


def as_array(values: Any, field: str) -> np.ndarray:
    """``np.asarray(values)``, or an object array when NumPy cannot make one type of it.

    Mixed values (bytes next to text, ragged lists, ints beyond 64 bits) make NumPy raise
    UnicodeDecodeError, ValueError or OverflowError; they are kept as objects, so the
    checks that follow can name the bad value.
    """
    try:
        return np.asarray(values)
    except (TypeError, ValueError, OverflowError, UnicodeError):
        pass
    try:
        seq = list(values)
    except TypeError:
        raise fail(field, text(f"a {type(values).__name__}"), "a 1-d sequence") from None
    arr = np.empty(len(seq), dtype=object)
    for i, v in enumerate(seq):
        arr[i] = v
    return arr


def _numbers(values: Any, field: str) -> tuple[np.ndarray, F64]:
    """Raw 1-d array and its float view; strings and other non-numbers are refused."""
    raw = as_1d(values, field)
    dtype = values.dtype if isinstance(values, pd.Series) else None
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ):
        return raw, values.to_numpy(dtype=np.float64, na_value=np.nan)
    if raw.dtype.kind in "biuf":
        return raw, raw.astype(np.float64)
    if raw.dtype.kind == "O":
        isnum = np.fromiter(
            (
                isinstance(v, int | float | np.integer | np.floating) or v is None or v is pd.NA
                for v in raw
            ),
            bool,
            len(raw),
        )
        if isnum.all():
            out = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
            return raw, out.to_numpy(dtype=np.float64, na_value=np.nan)
        raise _bad(field, values, raw, ~isnum, "a number")
    raise _bad(field, values, raw, np.ones(len(raw), dtype=bool), "a number")


def _no_nan(field: str, values: Any, raw: np.ndarray, x: F64, expected: str) -> None:
    nan = np.isnan(x)
    if nan.any():
        raise _bad(field, values, raw, nan, expected + " (missing values are not allowed)")


def binary(values: Any, field: str = "y_true") -> I64:
    """0/1 labels (``bool`` accepted) as int64; anything else raises :class:`DataError`."""
    raw, x = _numbers(values, field)
    expected = "0 or 1 (or False/True)"
    _no_nan(field, values, raw, x, expected)
    bad = (x != 0) & (x != 1)
    if bad.any():
        raise _bad(field, values, raw, bad, expected)
    return x.astype(np.int64)


def scores(values: Any, field: str = "y_score") -> F64:
    """Finite real scores (any scale) as float64."""
    raw, x = _numbers(values, field)
    expected = "a finite number"
    _no_nan(field, values, raw, x, expected)
    bad = ~np.isfinite(x)
    if bad.any():
        raise _bad(field, values, raw, bad, expected)
    return x


def probabilities(values: Any, field: str = "y_prob") -> F64:
    """Probabilities in [0, 1] as float64."""
    raw, x = _numbers(values, field)
    expected = "a probability in [0, 1]"
    _no_nan(field, values, raw, x, expected)
    bad = ~((x >= 0.0) & (x <= 1.0))
    if bad.any():
        raise _bad(field, values, raw, bad, expected)
    return x


def steps(values: Any, field: str = "step") -> I64:
    """Staircase steps: whole numbers 0-6 as int64."""
    raw, x = _numbers(values, field)
    expected = "a staircase step, one of 0, 1, 2, 3, 4, 5, 6"
    _no_nan(field, values, raw, x, expected)
    bad = ~np.isin(x, np.arange(7, dtype=np.float64))
    if bad.any():
        raise _bad(field, values, raw, bad, expected)
    return x.astype(np.int64)


def ordinal(values: Any, field: str) -> np.ndarray:
    """Ordinal ratings (numbers or labels); missing values are refused."""
    raw = as_1d(values, field)
    missing = np.asarray(pd.isna(pd.Series(raw, dtype=object)), dtype=bool)
    if missing.any():
        raise _bad(field, values, raw, missing, "a rating (missing values are not allowed)")
    return raw


def same_length(**arrays: np.ndarray) -> int:
    """The common length of ``arrays``; mismatched lengths raise :class:`DataError`."""
    lengths = {name: len(a) for name, a in arrays.items()}
    first_name, first = next(iter(lengths.items()))
    for name, n in lengths.items():
        if n != first:
            raise fail(
                name,
                text(f"{n} values"),
                f"the same length as {first_name} ({first} values)",
            )
    return first


def both_classes(y: I64, field: str = "y_true") -> None:
    """At least one 0 and one 1 (AUC, sensitivity and specificity need both)."""
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        only = "1" if n_pos else "0"
        raise fail(field, text(f"only {only}s ({len(y)} values)"), "both 0s and 1s")


def column(data: pd.DataFrame, name: str, role: str) -> pd.Series:
    """Column ``name`` of ``data``; a missing column raises :class:`DataError`."""
    if not isinstance(data, pd.DataFrame):
        raise fail("data", text(type(data).__name__), "a pandas DataFrame")
    if name not in data.columns:
        cols = ", ".join(map(repr, list(data.columns)[:12]))
        raise fail(role, name, f"a column of the table (columns: {cols})")
    col = data[name]
    if isinstance(col, pd.DataFrame):
        raise fail(role, name, "a column name that appears once")
    return col


def positive_int(value: Any, field: str, minimum: int = 1) -> int:
    """An ``int`` of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise fail(field, value, f"a whole number >= {minimum}")
    return int(value)


def unit_interval(value: Any, field: str, *, open_: bool = True) -> float:
    """A number strictly between 0 and 1 (``open_``) or in [0, 1]."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (0.0 < v < 1.0) if open_ else (0.0 <= v <= 1.0)
    if not ok:
        raise fail(field, value, "a number strictly between 0 and 1" if open_ else "in [0, 1]")
    return float(value)
