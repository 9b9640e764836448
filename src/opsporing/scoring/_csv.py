"""Reading a CSV of forms: the one place where text from a file becomes a table.

Every reader of form CSVs (the command line, the demo, your own scripts) goes through
:func:`read_forms`, so each of these is handled once:

* a row with more fields than the header (e.g. an unquoted decimal comma ``7,5``) is
  refused, naming every such line, never read with shifted columns;
* a ``;``-separated file with decimal commas (Danish Excel's "CSV") is recognised from
  its header and read as such; the table's ``attrs["csv"]`` says how it was read;
* a text cell in a number column (``"Ja"`` among the answers) stays that one cell, so
  scoring names its row, column and value instead of failing the whole column;
* a file larger than ``max_bytes`` or a cell longer than :data:`MAX_CELL_CHARS` is
  refused with a clear error instead of filling the memory.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument

__all__ = ["MAX_CELL_CHARS", "MAX_CSV_BYTES", "read_forms"]

#: Largest CSV of forms accepted: about 700,000 school forms, read in about 1 GB of memory
#: (measured: 68 MB, 500,000 forms, 2.1 s and 0.7 GB peak). 50,000 forms are about 7 MB.
MAX_CSV_BYTES = 100 * 1024 * 1024

#: Longest cell accepted: answers, ages and ids are short, so a long cell is a broken file.
MAX_CELL_CHARS = 1_000

#: Cells read as "not answered" (pandas' usual spellings of a missing value).
_MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", "<NA>"})

#: Separators recognised from the header, in order of preference on a tie.
_SEPARATORS = (",", ";", "\t")

#: How many problems of one file are collected before reading stops.
_MAX_PROBLEMS = 1_000


def _refuse(path: Path, problems: list[Problem]) -> ResponseValidationError:
    return ResponseValidationError(problems, headline=f"cannot read {path}")


def _text(path: Path, max_bytes: int) -> str:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _refuse(
                path,
                [
                    Problem(
                        str(path),
                        f"{size:,} bytes",
                        f"a CSV of at most {max_bytes:,} bytes (split it, or raise max_bytes=)",
                        kind="too_large",
                    )
                ],
            )
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _refuse(
            path,
            [Problem(str(path), "(file)", f"a readable CSV of forms ({exc.strerror})", kind="io")],
        ) from None
    if len(data) > max_bytes:  # grew while we looked
        raise _refuse(
            path,
            [
                Problem(
                    str(path), "(file)", f"a CSV of at most {max_bytes:,} bytes", kind="too_large"
                )
            ],
        )
    try:
        return data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        raise _refuse(
            path,
            [
                Problem(
                    str(path),
                    f"byte {exc.start}",
                    "UTF-8 text (in Excel: save as 'CSV UTF-8')",
                    kind="encoding",
                )
            ],
        ) from None


def _separator(header_line: str) -> str:
    """The separator that splits the header into the most fields (',' on a tie)."""
    counts = {sep: len(next(csv.reader([header_line], delimiter=sep), [])) for sep in _SEPARATORS}
    return max(_SEPARATORS, key=lambda sep: counts[sep])


def _rows(path: Path, text: str, sep: str) -> tuple[list[str], list[list[str]]]:
    """The careful reader: every line checked, every bad line named (slow, only on trouble)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    problems: list[Problem] = []
    header: list[str] | None = None
    rows: list[list[str]] = []
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if header is None:
                header = record
                continue
            if len(record) > len(header):
                problems.append(
                    Problem(
                        f"line {reader.line_num}",
                        f"{len(record)} fields",
                        f"at most {len(header)} fields, as in the header (an unquoted decimal "
                        f"comma? quote the number, or separate fields with ';')",
                        row=len(rows),
                        kind="too_many_fields",
                    )
                )
                if len(problems) >= _MAX_PROBLEMS:
                    break
            rows.append(record)
    except csv.Error as exc:
        # the csv module's own limit (131,072 characters a field) or a broken quote
        problems.append(
            Problem(f"line {reader.line_num}", "(text)", f"well-formed CSV ({exc})", kind="syntax")
        )
    if header is None:
        problems.append(Problem(str(path), "(empty)", "a header line and forms", kind="empty"))
    if problems:
        raise _refuse(path, problems)
    assert header is not None
    return header, rows


def _header(text: str, sep: str) -> list[str] | None:
    """The first non-blank record, as written (repeated names kept: scoring names them)."""
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=sep):
            if record and not (len(record) == 1 and not record[0].strip()):
                return record
    except csv.Error:
        return None  # the careful reader says what is wrong
    return None


def _fast(text: str, sep: str, decimal: str, width: int) -> pd.DataFrame | None:
    """pandas' C parser with its own number parsing, or None at the first sign of trouble.

    A row longer than the header is a warning in pandas (with data lost) or an error; both
    send the file to the careful reader, which names every such line.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                io.StringIO(text),
                sep=sep,
                decimal=decimal,
                header=0,
                names=range(width),  # positions: repeated names in the header stay apart
                index_col=False,  # never the first column as an index
                na_values=sorted(_MISSING),
                keep_default_na=False,
                skip_blank_lines=True,
                engine="c",
            )
        except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
            return None


def _careful(path: Path, text: str, sep: str) -> tuple[list[str], pd.DataFrame]:
    """Every cell as text through the csv module (raises naming every bad line)."""
    header, rows = _rows(path, text, sep)
    width = len(header)
    raw = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=range(width))
    return header, raw.astype(object)


def _long_cells(header: list[str], frame: pd.DataFrame) -> list[Problem]:
    """Cells kept as text that are too long (a number of any length was read as a number)."""
    found = [
        Problem(
            name,
            name,
            f"a column name of at most {MAX_CELL_CHARS:,} characters",
            kind="cell_too_large",
        )
        for name in header
        if len(name) > MAX_CELL_CHARS
    ]
    for j, name in enumerate(header):
        column = frame.iloc[:, j]
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue  # numbers only: nothing kept as text
        values = column.to_numpy(dtype=object)
        long = np.flatnonzero(
            np.fromiter(
                (isinstance(v, str) and len(v) > MAX_CELL_CHARS for v in values), bool, len(values)
            )
        )
        for r in long[:_MAX_PROBLEMS].tolist():
            found.append(
                Problem(
                    name,
                    column.iat[r],
                    f"a cell of at most {MAX_CELL_CHARS:,} characters",
                    row=r,
                    kind="cell_too_large",
                )
            )
    return found


def _column(cells: pd.Series, decimal: str, numeric: bool) -> Any:
    """One column: numbers if every cell is one; mixed if ``numeric``; else text.

    pandas parses the whole column at once; only the cells it could not read (usually a
    few missing answers) are looked at one by one.
    """
    quick = pd.to_numeric(cells, errors="coerce")
    failed = quick.isna().to_numpy()
    if not failed.any():  # the usual case: every cell a number
        return quick.to_numpy()
    rest = cells[failed].str.strip()
    missing = rest.isin(_MISSING).to_numpy()
    retry = (
        pd.to_numeric(rest.str.replace(",", ".", regex=False), errors="coerce").to_numpy()
        if decimal == ","
        else np.full(len(rest), np.nan)
    )
    readable = missing | ~np.isnan(retry)
    numbers = quick.to_numpy(dtype=np.float64).copy()
    numbers[failed] = np.where(missing, np.nan, retry)
    if readable.all():
        return numbers
    if numeric:
        # Numbers where the file has numbers; the text cells stay text, so the scoring
        # names exactly those cells (row, column, value), not the whole column.
        out = numbers.astype(object)
        positions = np.flatnonzero(failed)[~readable]
        out[positions] = cells.to_numpy(dtype=object)[positions]
        return out
    text = cells.to_numpy(dtype=object).copy()
    text[np.flatnonzero(failed)[missing]] = np.nan
    return text


def read_forms(
    path: str | Path,
    instrument: Instrument | None = None,
    *,
    numeric: Collection[str] = (),
    max_bytes: int = MAX_CSV_BYTES,
) -> pd.DataFrame:
    """Read a CSV of forms strictly: every problem of the file is named, nothing is shifted.

    Parameters
    ----------
    path : str or Path
        A CSV with a header line. Comma-, semicolon- (Danish Excel, with decimal commas)
        and tab-separated files are recognised from the header; UTF-8, with or without
        a byte-order mark.
    instrument : Instrument, optional
        Its items and ``age_years`` are number columns: a text cell there (``"Ja"``) is
        kept as that one text cell, which scoring then reports by row and column.
    numeric : collection of str
        More columns to treat as number columns.
    max_bytes : int
        Largest file accepted.

    Returns
    -------
    DataFrame
        Columns as in the header; a column of numbers becomes numbers, other columns
        text (NaN for an empty cell). ``attrs["csv"]`` holds ``sep`` and ``decimal``.

    Raises
    ------
    ResponseValidationError
        The file is missing, too large, not UTF-8, empty, or has rows with more fields
        than its header or oversized cells; ``problems`` names each (line and row).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "excel.csv").write_text("form_id;age_years\\nA1;7,5\\n", encoding="utf-8")
    >>> forms = read_forms(folder / "excel.csv")
    >>> forms["age_years"].tolist(), forms.attrs["csv"]
    ([7.5], {'sep': ';', 'decimal': ','})
    >>> _ = (folder / "shifted.csv").write_text("form_id,age_years\\nA1,7,5\\n", encoding="utf-8")
    >>> read_forms(folder / "shifted.csv")
    Traceback (most recent call last):
    ...
    opsporing.errors.ResponseValidationError: cannot read ... (1 problem)
      - row 0: line 2 = '3 fields': expected at most 2 fields, as in the header ...
    """
    path = Path(path)
    text = _text(path, max_bytes)
    first = next((line for line in text.splitlines() if line.strip()), "")
    sep = _separator(first)
    decimal = "," if sep == ";" else "."
    numbers = set(numeric)
    if instrument is not None:
        numbers |= {item.id for item in instrument.items} | {"age_years"}
    header = _header(text, sep)
    fast = _fast(text, sep, decimal, len(header)) if header else None
    if header is not None and fast is not None:
        frame = fast.copy()
        for j, name in enumerate(header):
            column = frame[j]
            if name in numbers and not pd.api.types.is_numeric_dtype(column.dtype):
                # Some cell of a number column is text: keep only that cell as text.
                written = column.astype(object).where(column.notna(), "").astype(str)
                frame[j] = _column(written, decimal, True)
    else:
        header, raw = _careful(path, text, sep)
        frame = pd.DataFrame(
            {j: _column(raw[j], decimal, name in numbers) for j, name in enumerate(header)},
            index=pd.RangeIndex(len(raw)),
        )
    too_long = _long_cells(header, frame)
    if too_long:
        raise _refuse(path, too_long)
    frame.columns = pd.Index(header)  # kept as written, duplicates too (scoring names them)
    frame.attrs["csv"] = {"sep": sep, "decimal": decimal}
    return frame
