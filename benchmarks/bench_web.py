"""Benchmark: the web form's throughput with access logging and encryption, next to before.

Run:  python benchmarks/bench_web.py [--submissions 50] [--threads 16] [--baseline-src PATH]

The web form served by uvicorn on 127.0.0.1, one logged-in browser session (login and CSRF as
in use). 50 different school forms, each rendered by the server (its own token), are posted
with a decision twice (a double click: 100 posts) from 16 threads; then each receipt is read
once from 16 threads (the read the access log records, with the purpose the redirect
carries). No model (the model's cost is the same on both sides and is measured in
bench_model.py): what is timed is the storing and the reading.

Both sides run in this run, on this machine, each in its own process: this checkout
(``src/`` beside this folder: content sealed per child, reads logged) and a baseline checkout
(default ``/work/main/src``: the log as it was before issue 18). Prints the seconds of each
phase and the ratios this/baseline. Target: the whole under 2x the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHOOL = "opsporing.skole.trivsel"
USER, PASSWORD = "B-0001", "correct horse battery staple"


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    if not m:
        raise RuntimeError("no CSRF token on the page")
    return m.group(1)


def _submission(i: int, token: str, csrf: str) -> dict[str, str]:
    from opsporing.instruments import get_instrument

    inst = get_instrument(SCHOOL)
    data = {
        "token": token, "lang": "da", "instrument_version": inst.version,
        "form_id": f"BENCH-{i:03d}", "age_years": str(6 + i % 10), "chosen_step": str(i % 3),
        "notify": "1", "reason": f"Begrundelse {i}", "suggestion_id": "", "csrf_token": csrf,
    }  # fmt: skip
    for j, item in enumerate(inst.items):
        data[f"item.{item.id}"] = "0" if item.domain == "safety" else str((i + j) % 4)
    return data


def measure(n: int, threads: int) -> dict[str, float]:
    """One side: serve, log in, post ``n`` forms twice, read each receipt; seconds per phase."""
    import httpx
    import uvicorn

    from opsporing.web import AuditLog, add_user, create_app

    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    db = folder / "audit.sqlite"
    os.environ.setdefault("OPSPORING_MASTER_KEY", "5a" * 32)  # ignored by the baseline
    add_user(AuditLog(db), USER, "skole", PASSWORD)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        create_app(db, model=None), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    try:
        with httpx.Client(
            base_url=url, timeout=60.0, limits=limits, headers={"Origin": url}
        ) as http:
            token = _csrf(http.get("/login").text)
            http.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
            csrf = _csrf(http.get("/").text)
            with ThreadPoolExecutor(threads) as pool:
                pages = list(pool.map(lambda _: http.get(f"/form/{SCHOOL}"), range(n)))
            tokens = [re.search(r'name="token" value="([0-9a-f]{32})"', p.text) for p in pages]
            subs = [_submission(i, m.group(1), csrf) for i, m in enumerate(tokens) if m]
            work = [s for s in subs for _ in range(2)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                posted = list(
                    pool.map(lambda d: http.post(f"/form/{SCHOOL}/decision", data=d), work)
                )
            t_post = time.perf_counter() - t0
            if [r.status_code for r in posted] != [303] * len(work):
                raise RuntimeError(f"posts: {sorted({r.status_code for r in posted})}")
            # One read per stored screening (a double click's second answer names the same).
            receipts = sorted({r.headers["location"].replace("&duplicate=1", "") for r in posted})
            t0 = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                read = list(pool.map(http.get, receipts))
            t_read = time.perf_counter() - t0
            if [r.status_code for r in read] != [200] * len(receipts):
                raise RuntimeError(f"receipts: {sorted({r.status_code for r in read})}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    if not AuditLog(db).verify().ok:
        raise RuntimeError("the chain does not verify after the run")
    return {"post": t_post, "read": t_read, "total": t_post + t_read, "stored": len(receipts)}


def _side(src: Path, n: int, threads: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, __file__, "--one", "--submissions", str(n), "--threads", str(threads)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--baseline-src", type=Path, default=Path("/work/main/src"))
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.submissions, args.threads)))
        return
    this = _side(HERE.parent / "src", args.submissions, args.threads)
    base = _side(args.baseline_src, args.submissions, args.threads)
    print(
        f"{args.submissions} submissions x 2 posts from {args.threads} threads, then each "
        "receipt read once (no model)"
    )
    print(f"{'phase':<10}{'this (s)':>10}{'baseline (s)':>14}{'ratio':>8}")
    for phase in ("post", "read", "total"):
        ratio = this[phase] / base[phase]
        print(f"{phase:<10}{this[phase]:>10.2f}{base[phase]:>14.2f}{ratio:>8.2f}")
    print(f"stored: this {this['stored']:.0f}, baseline {base['stored']:.0f} screenings")


if __name__ == "__main__":
    main()
