"""Benchmark: scoring forms from Parquet in bounded chunks, and on Dask, against in memory.

Run:  python benchmarks/bench_stream.py [--n 10000000] [--batch-rows 262144] [--dask-n 200000]

1. Writes ``--n`` random school forms (15 % missing) to a Parquet file, in chunks.
2. Scores the file with ``score_parquet`` (streamed) and, unless ``--no-in-memory``, with
   ``pd.read_parquet`` + ``score_batch`` (everything in memory), each in a fresh process,
   printing wall time and peak resident memory (the process's own ``ru_maxrss``) and the
   ratios streamed / in memory. Target: streamed peak memory under 2 GB at 10 million forms.
3. With ``--suggest-n N`` (e.g. 1100000, every child in Denmark): scores N forms and writes
   suggestions with explanations for them with ``suggest_parquet`` (streamed, in a fresh
   process), printing wall time, rate and peak memory.
4. Scores the first ``--dask-n`` rows with ``score_dask`` on a ``LocalCluster`` of 2 worker
   processes and with ``score_batch`` in this process, and prints the time ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from opsporing.instruments import get_instrument
from opsporing.scoring import score_batch, score_dask, score_parquet

INSTRUMENT = "opsporing.skole.trivsel"


def write_forms(path: Path, n: int, chunk: int = 500_000, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    inst = get_instrument(INSTRUMENT)
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        cols = {}
        for item in inst.items:
            values = np.array(inst.scale(item.scale).values, dtype=np.float64)
            col = rng.choice(values, size=m)
            col[rng.random(m) < 0.15] = np.nan
            cols[item.id] = col
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=131_072)
    assert writer is not None
    writer.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _streamed(src: str, dst: str, batch_rows: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    t0 = time.perf_counter()
    summary = score_parquet(get_instrument(INSTRUMENT), src, dst, batch_rows=batch_rows)
    out.put((time.perf_counter() - t0, _peak_mb(), summary.rows_written))


def _in_memory(src: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    t0 = time.perf_counter()
    scores = score_batch(get_instrument(INSTRUMENT), pd.read_parquet(src))
    out.put((time.perf_counter() - t0, _peak_mb(), len(scores)))


def _suggest(src: str, dst: str, batch_rows: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from threadpoolctl import threadpool_limits

    from opsporing.model import load_model
    from opsporing.scoring import suggest_parquet

    model = load_model()
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):  # the machine is shared: one core
        summary = suggest_parquet(model, src, dst, id_column="form_id", batch_rows=batch_rows)
    out.put((time.perf_counter() - t0, _peak_mb(), summary.rows_written))


def _run(target: object, *args: object) -> tuple[float, float, int]:
    ctx = mp.get_context("spawn")  # a fresh process: its peak memory is this phase's alone
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))  # type: ignore[arg-type]
    proc.start()
    result = queue.get()
    proc.join()
    return result  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=262_144)
    parser.add_argument("--dask-n", type=int, default=200_000)
    parser.add_argument("--no-in-memory", action="store_true")
    parser.add_argument("--suggest-n", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        src, dst = Path(tmp) / "forms.parquet", Path(tmp) / "scores.parquet"
        t0 = time.perf_counter()
        write_forms(src, args.n)
        print(f"wrote {args.n:,} forms ({src.stat().st_size / 2**20:.0f} MB Parquet) "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        s_time, s_peak, s_rows = _run(_streamed, str(src), str(dst), args.batch_rows)
        print(f"streamed  : {s_rows:,} forms in {s_time:.1f} s ({s_rows / s_time:,.0f}/s), "
              f"peak RSS {s_peak:,.0f} MB, batch_rows={args.batch_rows:,}")  # fmt: skip
        if not args.no_in_memory:
            m_time, m_peak, m_rows = _run(_in_memory, str(src))
            print(f"in memory : {m_rows:,} forms in {m_time:.1f} s, peak RSS {m_peak:,.0f} MB")
            print(f"ratio streamed/in-memory: time {s_time / m_time:.2f}, "
                  f"peak memory {s_peak / m_peak:.2f}")  # fmt: skip

        if args.suggest_n:
            children = Path(tmp) / "children.parquet"
            scores = Path(tmp) / "children_scores.parquet"
            write_forms(children, args.suggest_n, seed=1)
            ids = pd.read_parquet(children)
            ids.insert(0, "form_id", [f"C{i:07d}" for i in range(len(ids))])
            ids["age_years"] = 10.0
            ids.to_parquet(children)
            del ids
            score_parquet(
                get_instrument(INSTRUMENT), children, scores, keep=["form_id", "age_years"]
            )
            g_time, g_peak, g_rows = _run(
                _suggest, str(scores), str(Path(tmp) / "s.parquet"), 16_384
            )
            print(f"suggest   : {g_rows:,} children with explanations in {g_time:.1f} s "
                  f"({g_rows / g_time:,.0f}/s), peak RSS {g_peak:,.0f} MB")  # fmt: skip

        if args.dask_n:
            import dask.dataframe as dd
            from distributed import Client, LocalCluster

            rows = pd.read_parquet(src).iloc[: args.dask_n] if args.n <= 2_000_000 else (
                next(__import__("pyarrow.parquet", fromlist=["x"]).ParquetFile(src)
                     .iter_batches(batch_size=args.dask_n)).to_pandas()
            )  # fmt: skip
            inst = get_instrument(INSTRUMENT)
            t0 = time.perf_counter()
            single = score_batch(inst, rows)
            t_single = time.perf_counter() - t0
            with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as c, \
                    Client(c):  # fmt: skip
                ddf = dd.from_pandas(rows, npartitions=4)
                t0 = time.perf_counter()
                distributed_scores = score_dask(inst, ddf).compute()
                t_dask = time.perf_counter() - t0
            same = np.allclose(
                distributed_scores["score.total"].to_numpy(dtype=float),
                single["score.total"].to_numpy(dtype=float),
                equal_nan=True,
            )
            print(f"dask (2 workers): {len(rows):,} forms in {t_dask:.2f} s; single process "
                  f"{t_single:.2f} s; ratio dask/single {t_dask / t_single:.2f}; "
                  f"same totals: {same}")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
