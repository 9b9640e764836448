"""Scoring and suggesting in streamed Parquet chunks and on Dask: identical to in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import ResponseValidationError
from opsporing.instruments import get_instrument
from opsporing.scoring import score_batch, score_dask, score_parquet

SCHOOL = get_instrument("opsporing.skole.trivsel")


def forms(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = {}
    for item in SCHOOL.items:
        values = np.array(SCHOOL.scale(item.scale).values, dtype=float)
        col = rng.choice(values, size=n)
        col[rng.random(n) < 0.15] = np.nan
        table[item.id] = col
    frame = pd.DataFrame(table)
    frame.insert(0, "form_id", [f"F{i:06d}" for i in range(n)])
    return frame


@pytest.mark.parametrize("batch_rows", [1, 97, 10_000])
def test_streamed_parquet_equals_in_memory(tmp_path: Path, batch_rows: int) -> None:
    data = forms(1_000 if batch_rows > 1 else 50)
    # Two files in one directory: read as one dataset, in order.
    (tmp_path / "in").mkdir()
    data.iloc[: len(data) // 3].to_parquet(tmp_path / "in" / "part-0.parquet")
    data.iloc[len(data) // 3 :].to_parquet(tmp_path / "in" / "part-1.parquet")
    summary = score_parquet(
        SCHOOL, tmp_path / "in", tmp_path / "out.parquet", keep=["form_id"], batch_rows=batch_rows
    )
    assert (summary.rows_read, summary.rows_written) == (len(data), len(data))
    assert summary.batches >= -(-len(data) // batch_rows)
    got = pd.read_parquet(tmp_path / "out.parquet")
    want = score_batch(SCHOOL, data, keep=["form_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_categorical=False, check_dtype=False)
    assert got["band.overall"].astype(object).equals(want["band.overall"].astype(object))


def test_streamed_errors_name_every_bad_row_across_batches(tmp_path: Path) -> None:
    data = forms(300)
    data.loc[5, "emo_sad"] = 9
    data.loc[250, "soc_bullied"] = -1
    data.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(ResponseValidationError) as exc:
        score_parquet(
            SCHOOL,
            tmp_path / "in.parquet",
            tmp_path / "out.parquet",
            keep=["form_id"],
            batch_rows=100,
        )
    assert exc.value.rows == [5, 250]
    assert not (tmp_path / "out.parquet").exists()  # no half-written output left behind
    summary = score_parquet(
        SCHOOL, tmp_path / "in.parquet", tmp_path / "out.parquet", keep=["form_id"],
        errors="collect", batch_rows=100,
    )  # fmt: skip
    assert summary.rows_written == 298 and [p.row for p in summary.problems] == [5, 250]
    kept = pd.read_parquet(tmp_path / "out.parquet")["form_id"]
    assert "F000005" not in set(kept) and len(kept) == 298


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_batch_rows_and_missing_source_are_typed_errors(tmp_path: Path, bad: object) -> None:
    from opsporing.errors import DataError

    with pytest.raises(DataError, match="batch_rows"):
        score_parquet(SCHOOL, tmp_path, tmp_path / "o.parquet", batch_rows=bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="expected an existing Parquet"):
        score_parquet(SCHOOL, tmp_path / "nope.parquet", tmp_path / "o.parquet")


@pytest.mark.slow
def test_dask_on_a_local_cluster_equals_in_memory(model: object) -> None:
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    from opsporing.decision import suggest_batch
    from opsporing.scoring import suggest_dask
    from opsporing.scoring._stream import _suggestion_rows

    data = forms(2_000, seed=3)
    data["age_years"] = 10.0
    scores = scored(90, seed=9)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        ddf = dd.from_pandas(data, npartitions=4)
        got = score_dask(SCHOOL, ddf, keep=["form_id", "age_years"]).compute()
        suggested = suggest_dask(
            model, dd.from_pandas(scores, npartitions=3), id_column="form_id"
        ).compute()
        bad = data.copy()
        bad.loc[[10, 1900], "emo_sad"] = 9.0  # in the first and the last partition
        good, rejected = dask.compute(
            *score_dask(
                SCHOOL, dd.from_pandas(bad, npartitions=4), keep=["form_id"], errors="collect"
            )
        )
    want = score_batch(SCHOOL, data, keep=["form_id", "age_years"])
    pd.testing.assert_frame_equal(got, want, check_categorical=False, check_dtype=False)
    assert sorted(rejected["row"]) == [10, 1900] and len(good) == len(data) - 2
    pd.testing.assert_frame_equal(
        good, score_batch(SCHOOL, bad.drop(index=[10, 1900]), keep=["form_id"]),
        check_categorical=False, check_dtype=False,
    )  # fmt: skip
    expected = _suggestion_rows(suggest_batch(model, scores, id_column="form_id"))
    # A signature (where suggestions are signed) is made with each process's own key unless
    # the cluster shares one (OPSPORING_DECISION_KEY): compare the content, not the signature.
    pd.testing.assert_frame_equal(
        suggested.reset_index(drop=True).drop(columns=["signature"], errors="ignore"),
        expected.drop(columns=["signature"], errors="ignore"),
        check_dtype=False,
    )


@pytest.fixture(scope="module")
def model() -> object:
    from opsporing.model import load_model

    return load_model()  # the shipped model, wherever this version keeps it


def scored(n: int, seed: int) -> pd.DataFrame:
    data = forms(n, seed=seed)
    data["age_years"] = 10.0
    return score_batch(SCHOOL, data, keep=["form_id", "age_years"])


def test_streamed_suggestions_equal_in_memory(tmp_path: Path, model: object) -> None:
    from opsporing.decision import suggest_batch
    from opsporing.scoring import suggest_parquet
    from opsporing.scoring._stream import _suggestion_rows

    scores = scored(120, seed=5)
    assert scores["red_flag"].any() and not scores["red_flag"].all()
    scores.to_parquet(tmp_path / "scores.parquet")
    summary = suggest_parquet(
        model,
        tmp_path / "scores.parquet",
        tmp_path / "s.parquet",
        id_column="form_id",
        batch_rows=50,
    )
    assert (summary.rows_read, summary.rows_written, summary.batches) == (120, 120, 3)
    got = pd.read_parquet(tmp_path / "s.parquet")
    want = _suggestion_rows(suggest_batch(model, scores, id_column="form_id"))
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert set(got["kind"]) >= {"notify", "step"}
