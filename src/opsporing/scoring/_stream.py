"""Scoring (and suggesting) more forms than fit in memory: Parquet in chunks, or Dask.

:func:`score_parquet` reads a Parquet file (or a directory of them) one record batch at a
time with pyarrow, scores each batch with :func:`score_batch` and appends the result to a
Parquet file, so memory holds one batch, never the whole table. :func:`suggest_parquet` does
the same for :func:`opsporing.decision.suggest_batch` over a score file. :func:`score_dask` and
:func:`suggest_dask` map the same functions over the partitions of a Dask DataFrame. Each gives
exactly what the in-memory call gives on the same rows (the tests compare them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..errors import DataError, Problem, ResponseValidationError
from ..instruments import Instrument
from ._batch import score_batch

#: Rows per chunk: a few hundred MB at most for the shipped instruments.
DEFAULT_BATCH_ROWS = 262_144


@dataclass(frozen=True)
class StreamSummary:
    """What a streamed run did.

    Attributes
    ----------
    rows_read, rows_written : int
    batches : int
    problems : tuple of Problem
        Every problem of every rejected row (``errors="collect"``); row labels are the row
        numbers in the input (0-based, across all batches).
    destination : Path
    red_flags : dict
        Rejected rows whose *valid* answers raise a red flag (row -> concept codes), when
        :func:`score_batch` reports them: the duty to notify does not wait for the rest of
        the form to be fixed.
    """

    rows_read: int
    rows_written: int
    batches: int
    problems: tuple[Problem, ...]
    destination: Path
    red_flags: dict[Any, tuple[str, ...]] = field(default_factory=dict)


def _batches(
    source: str | Path, batch_rows: int, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    path = Path(source)
    if not path.exists():
        raise DataError(
            f"source = {str(path)[:200]!r}: expected an existing Parquet file or directory"
        )
    files = ds.dataset(path, format="parquet").files  # a directory's files, in order
    offset = 0
    for file in files:
        # ParquetFile reads one row group at a time; a dataset scanner would decode a whole
        # file ahead of the consumer (measured: the full 2-million-row file at once).
        with pq.ParquetFile(file, pre_buffer=False) as parquet:
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                yield _frame(batch, offset)
                offset += batch.num_rows


def _frame(batch: Any, offset: int) -> pd.DataFrame:
    frame: pd.DataFrame = batch.to_pandas()
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


def _row(label: Any) -> int | str | None:
    return None if label is None else int(label) if isinstance(label, Integral) else str(label)


class _Writer:
    """Appends DataFrames to one Parquet file with the schema of the first one."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination
        self._writer: Any = None
        self._schema: Any = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.destination, self._schema)
        else:
            table = table.cast(self._schema)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self, empty_like: pd.DataFrame | None) -> None:
        if self._writer is None and empty_like is not None:
            self.write(empty_like)
        if self._writer is not None:
            self._writer.close()


def _check_batch_rows(batch_rows: int) -> int:
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise DataError(f"batch_rows = {batch_rows!r}: expected a positive whole number of rows")
    return batch_rows


def score_parquet(
    instrument: Instrument,
    source: str | Path,
    destination: str | Path,
    *,
    keep: Iterable[str] = (),
    errors: Literal["raise", "collect"] = "raise",
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> StreamSummary:
    """Score a Parquet file of forms in chunks and write the scores to a Parquet file.

    Parameters
    ----------
    instrument : Instrument
    source : str or Path
        A Parquet file or a directory of Parquet files (read as one dataset, in order),
        with the columns :func:`score_batch` accepts.
    destination : str or Path
        The Parquet file to write: the columns of :func:`score_batch`, one row per
        accepted form, in input order.
    keep, errors
        As for :func:`score_batch`. ``"raise"`` reads the whole input, collects every
        problem of every row, then raises (and removes ``destination``); ``"collect"``
        writes the good rows and returns every problem in the summary.
    batch_rows : int
        Rows per chunk: memory is bounded by one chunk, not by the file.

    Returns
    -------
    StreamSummary

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> from opsporing.instruments import get_instrument
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"1vurdering": [0, 2, None, 1]}).to_parquet(folder / "forms.parquet")
    >>> summary = score_parquet(get_instrument("topi"), folder / "forms.parquet",
    ...                         folder / "scores.parquet", batch_rows=3)
    >>> summary.rows_written, summary.batches
    (4, 2)
    >>> pd.read_parquet(folder / "scores.parquet")["band.overall"].tolist()
    ['grøn', 'rød', nan, 'gul']
    """
    batch_rows = _check_batch_rows(batch_rows)
    if errors not in ("raise", "collect"):
        raise DataError(f"errors = {errors!r}: expected 'raise' or 'collect'")
    keep = list(keep)
    out = Path(destination)
    writer = _Writer(out)
    problems: list[Problem] = []
    red_flags: dict[Any, tuple[str, ...]] = {}
    read = batches = 0
    empty: pd.DataFrame | None = None
    try:
        for frame in _batches(source, batch_rows):
            batches += 1
            read += len(frame)
            result = score_batch(instrument, frame, errors="collect", keep=keep)
            red_flags.update(result.red_flags)
            problems += [
                Problem(
                    str(r["field"]),
                    r["value"],
                    str(r["expected"]),
                    row=_row(r["row"]),
                    kind=str(r["kind"]),
                )
                for r in result.rejected.to_dict("records")
            ]
            if empty is None:
                empty = result.scores.iloc[:0]
            if len(result.scores):
                writer.write(result.scores)
    finally:
        writer.close(empty)
    if errors == "raise" and problems:
        out.unlink(missing_ok=True)
        headline = f"invalid forms in {str(source)[:200]} for {instrument.key}"
        raise ResponseValidationError(problems, headline=headline, red_flags=red_flags)
    return StreamSummary(read, writer.rows, batches, tuple(problems), out, red_flags)


#: Columns of a suggestion row that are numbers; every other column is text.
_SUGGESTION_NUMBERS = {"step": "Int64", "p_needs_support": "Float64"}


def _suggestion_rows(suggestions: list[Any]) -> pd.DataFrame:
    """Suggestions as flat rows with fixed dtypes (scalars as they are, the rest as JSON text).

    The dtypes do not depend on the rows (a chunk without any abstention still has a text
    ``abstain_reason`` column), so every chunk and partition has the same schema.
    """
    rows = []
    for s in suggestions:
        row = {}
        for key, value in s.to_dict().items():
            scalar = value is None or isinstance(value, str | int | float | bool)
            row[key] = value if scalar else json.dumps(value, ensure_ascii=False, default=str)
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.astype({c: _SUGGESTION_NUMBERS.get(c, pd.StringDtype()) for c in frame.columns})


def suggest_parquet(
    model: Any,
    source: str | Path,
    destination: str | Path,
    *,
    id_column: str | None = None,
    batch_rows: int = 65_536,
    explainer: Any = None,
) -> StreamSummary:
    """Suggestions with explanations for a Parquet file of scores, in chunks.

    ``source`` holds the output of :func:`score_batch` (or :func:`score_parquet`); each
    chunk goes through :func:`opsporing.decision.suggest_batch` and its suggestions are
    appended to ``destination`` as rows of :meth:`Suggestion.to_dict` (lists and records
    as JSON text). Earlier screenings are not joined here (that needs both tables by child);
    use :func:`suggest_batch` with ``earlier`` for that.
    """
    from ..decision import suggest_batch
    from ..explain import Explainer

    batch_rows = _check_batch_rows(batch_rows)
    explainer = explainer if explainer is not None else Explainer(model)
    out = Path(destination)
    writer = _Writer(out)
    read = batches = 0
    try:
        for frame in _batches(source, batch_rows):
            batches += 1
            read += len(frame)
            suggestions = suggest_batch(model, frame, id_column=id_column, explainer=explainer)
            writer.write(_suggestion_rows(suggestions))
    finally:
        writer.close(None)
    return StreamSummary(read, writer.rows, batches, (), out)


def score_dask(
    instrument: Instrument,
    forms: Any,
    *,
    keep: Iterable[str] = (),
    errors: Literal["raise", "collect"] = "raise",
) -> Any:
    """Score a Dask DataFrame of forms, partition by partition (lazy; call ``.compute()``).

    Parameters
    ----------
    instrument : Instrument
    forms : dask.dataframe.DataFrame
    keep : iterable of str
        As for :func:`score_batch`.
    errors : {"raise", "collect"}
        ``"raise"``: the result is the scores; a partition with bad rows fails with a
        :class:`~opsporing.errors.ResponseValidationError` listing every problem of that
        partition. ``"collect"``: a pair ``(scores, rejected)`` of lazy frames, the scores
        of the good rows and one row per problem of every bad row (the ``rejected`` table
        of :class:`ScoringResult`); compute both in one pass with
        ``dask.compute(scores, rejected)``.

    Returns
    -------
    dask.dataframe.DataFrame, or a pair of them
        The columns and dtypes of :func:`score_batch`, with the partitions' index.
    """
    keep = list(keep)
    if errors == "raise":
        meta = score_batch(instrument, forms._meta, keep=keep)
        return forms.map_partitions(_score_partition, instrument, keep, meta=meta)
    if errors != "collect":
        raise DataError(f"errors = {errors!r}: expected 'raise' or 'collect'")
    empty = score_batch(instrument, forms._meta, keep=keep, errors="collect")
    scores = forms.map_partitions(_collect_partition, instrument, keep, "scores", meta=empty.scores)
    rejected = forms.map_partitions(
        _collect_partition, instrument, keep, "rejected", meta=empty.rejected.astype(object)
    )
    return scores, rejected


def _collect_partition(
    frame: pd.DataFrame, instrument: Instrument, keep: list[str], part: str
) -> pd.DataFrame:
    result = score_batch(instrument, frame, keep=keep, errors="collect")
    if part == "scores":
        return result.scores
    return result.rejected.astype(object)


def _score_partition(frame: pd.DataFrame, instrument: Instrument, keep: list[str]) -> pd.DataFrame:
    scores = score_batch(instrument, frame, keep=keep)
    scores.index = frame.index
    return scores


def suggest_dask(model: Any, scores: Any, *, id_column: str | None = None) -> Any:
    """Suggestions for a Dask DataFrame of scores, as flat rows (see :func:`suggest_parquet`)."""
    from ..decision import suggest_batch

    sample = _suggestion_rows(
        suggest_batch(model, scores.head(1, npartitions=-1), id_column=id_column)
    )
    return scores.map_partitions(_suggest_partition, model, id_column, meta=sample.iloc[:0])


def _suggest_partition(frame: pd.DataFrame, model: Any, id_column: str | None) -> pd.DataFrame:
    from ..decision import suggest_batch

    rows = _suggestion_rows(suggest_batch(model, frame, id_column=id_column))
    rows.index = frame.index
    return rows
