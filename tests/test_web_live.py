"""The web form served by uvicorn on loopback: a load test and an end-to-end browser test.

Both start the real server in a background thread on 127.0.0.1 with a free port.

* Load: 50 different submissions, each posted twice at the same moment (a double click),
  from 16 threads over HTTP, logged in and with the session's CSRF token: every submission
  is stored exactly once.
* Browser: Debian's chromium driven by Playwright logs in, fills a form with the keyboard
  and mouse, sees the suggestion panel, records an override with a reason, and both rows
  are in the database. Screenshots go to ``reports/``.
* Cross-site: a page on another origin (a second loopback port) that auto-submits a decision
  form to the logged-in user's server is refused, and nothing is stored.

The browser tests are skipped only when /usr/bin/chromium is absent and ``CI`` is not set;
in CI they always run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
import httpx
import uvicorn

from opsporing.instruments import get_instrument
from opsporing.vocabulary import load_vocabulary
from opsporing.web import AuditLog, add_user, create_app

SCHOOL = "opsporing.skole.trivsel"
REPORTS = Path(__file__).parent.parent / "reports"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
N_SUBMISSIONS = 50
N_THREADS = 16
USER, PASSWORD = "P-LOAD", "correct horse battery staple"


def _load_test_web() -> Any:
    """tests/test_web.py as a module, for its small test model (whatever the import mode).

    The module pytest already imported is reused, so the model is trained once per session.
    """
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == str(Path(__file__).with_name("test_web.py")):
            return module
    spec = importlib.util.spec_from_file_location(
        "_opsporing_test_web", Path(__file__).with_name("test_web.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_web = _load_test_web()


@pytest.fixture(scope="module")
def small_model() -> Any:
    """The small, deterministic model of tests/test_web.py (not the shipped model file)."""
    if not _web.decision_api_available():
        return None
    return _web.train_test_model()


class _Server:
    """uvicorn serving an app in a daemon thread on 127.0.0.1, on a port the OS picked."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def served(tmp_path: Path, small_model: Any) -> Iterator[tuple[_Server, Path]]:
    db = tmp_path / "audit.sqlite"
    add_user(AuditLog(db), USER, "skole", PASSWORD)
    with _Server(create_app(db, model=small_model)) as server:
        yield server, db


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert m, "no CSRF token on the page"
    return m.group(1)


def _login(http: httpx.Client) -> str:
    """Log ``http`` in as USER; the session's CSRF token."""
    token = _csrf(http.get("/login").text)
    r = http.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text[:300]
    return _csrf(http.get("/").text)


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


# --- load ---------------------------------------------------------------------------------------
def _submission(i: int, token: str) -> dict[str, str]:
    """A different school form for each i (some with a red flag), with a decision."""
    inst = get_instrument(SCHOOL)
    data = {
        "token": token,
        "lang": "da",
        "instrument_version": inst.version,
        "form_id": f"LOAD-{i:03d}",
        "age_years": str(6 + i % 10),
        "chosen_step": str(i % 3),
        "notify": "1",
        "reason": f"Begrundelse {i}",
    }
    for j, item in enumerate(inst.items):
        if item.domain == "safety":
            data[f"item.{item.id}"] = "1" if (i % 10 == 0 and j % 4 == 0) else "0"
        else:
            data[f"item.{item.id}"] = str((i + j) % 4)
    return data


def _shown_suggestion_id(model: Any, explainer: Any, data: dict[str, str]) -> str:
    """The id of the suggestion the result page shows for ``data``: opsporing.decision's own."""
    if model is None:
        return ""
    import pandas as pd

    from opsporing.decision import red_flag_suggestion, suggest
    from opsporing.scoring import score_batch

    answers = {k.removeprefix("item."): float(v) for k, v in data.items() if k.startswith("item.")}
    forms = pd.DataFrame([answers]).assign(age_years=float(data["age_years"]))
    table = score_batch(get_instrument(SCHOOL), forms, keep=["age_years"])
    if bool(table["red_flag"].iloc[0]):
        return red_flag_suggestion(table.iloc[0]).suggestion_id
    return suggest(model, table, explainer=explainer).suggestion_id


def test_fifty_concurrent_submissions_are_each_stored_exactly_once(
    served: tuple[_Server, Path], small_model: Any
) -> None:
    server, db = served
    limits = httpx.Limits(max_connections=N_THREADS, max_keepalive_connections=N_THREADS)
    headers = {"Origin": server.url}  # what a browser sends with a form POST
    with httpx.Client(base_url=server.url, timeout=30.0, limits=limits, headers=headers) as http:
        start = time.perf_counter()
        csrf = _login(http)
        login_time = time.perf_counter() - start
        # Every submission comes from a form the server rendered (its own idempotency token),
        # and decides on the suggestion its result page shows (computed here with
        # opsporing.decision, as the server does; the server refuses any other).
        start = time.perf_counter()
        with ThreadPoolExecutor(N_THREADS) as pool:
            pages = list(pool.map(lambda _: http.get(f"/form/{SCHOOL}"), range(N_SUBMISSIONS)))
        prepare = time.perf_counter() - start
        tokens = [re.search(r'name="token" value="([0-9a-f]{32})"', p.text) for p in pages]
        subs = [
            _submission(i, m.group(1)) | {"csrf_token": csrf} for i, m in enumerate(tokens) if m
        ]
        assert len(subs) == N_SUBMISSIONS
        explainer = None
        if small_model is not None:
            from opsporing.explain import Explainer

            explainer = Explainer(small_model)
        for sub in subs:
            sub["suggestion_id"] = _shown_suggestion_id(small_model, explainer, sub)

        # Each submission twice (a double click), all 100 posts at once from 16 threads.
        work = [sub for sub in subs for _ in range(2)]
        start = time.perf_counter()
        with ThreadPoolExecutor(N_THREADS) as pool:
            answers = list(pool.map(lambda d: http.post(f"/form/{SCHOOL}/decision", data=d), work))
        wall = time.perf_counter() - start

    assert [r.status_code for r in answers] == [303] * len(work)
    ids = [int(re.search(r"/screenings/(\d+)", r.headers["location"]).group(1)) for r in answers]  # type: ignore[union-attr]
    # Both posts of a pair point at the same stored screening; different forms at different ones.
    assert all(ids[2 * k] == ids[2 * k + 1] for k in range(N_SUBMISSIONS))
    assert len(set(ids)) == N_SUBMISSIONS
    assert sum("duplicate=1" in r.headers["location"] for r in answers) == N_SUBMISSIONS

    assert AuditLog(db).verify().ok  # the chain holds under concurrent writers
    screenings = _rows(db, "SELECT idempotency_key, form_id FROM screenings")
    decisions = _rows(db, "SELECT screening_id, reason FROM decisions")
    assert len(screenings) == len(decisions) == N_SUBMISSIONS
    assert Counter(k for k, _ in screenings) == Counter(s["token"] for s in subs)
    assert sorted(f for _, f in screenings) == [f"LOAD-{i:03d}" for i in range(N_SUBMISSIONS)]
    assert sorted(s for s, _ in decisions) == sorted(set(ids))
    orphans = _rows(
        db, "SELECT COUNT(*) FROM screenings WHERE id NOT IN (SELECT screening_id FROM decisions)"
    )
    assert orphans == [(0,)]

    REPORTS.mkdir(exist_ok=True)
    figures = {
        "submissions": N_SUBMISSIONS,
        "posts": len(work),
        "threads": N_THREADS,
        "login_wall_time_s": round(login_time, 3),
        "stored_screenings": len(screenings),
        "stored_decisions": len(decisions),
        "open_forms_wall_time_s": round(prepare, 3),
        "decision_posts_wall_time_s": round(wall, 3),
    }
    (REPORTS / "web_load.json").write_text(json.dumps(figures, indent=2) + "\n", "utf-8")
    print(f"\nweb load test: {figures}")
    assert wall < 30


# --- a real browser -----------------------------------------------------------------------------
def _needs_browser() -> None:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(
            "no /usr/bin/chromium here (apt-get install chromium); "
            "the browser test always runs when CI is set"
        )


def test_end_to_end_in_headless_chromium(served: tuple[_Server, Path]) -> None:
    _needs_browser()
    from playwright.sync_api import expect, sync_playwright

    server, db = served
    voc = load_vocabulary()
    REPORTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/")
            expect(page.locator("html")).to_have_attribute("lang", "da")
            # Not logged in: the login page first, then back to where the user was going.
            expect(page.get_by_role("heading", name="Log ind")).to_be_visible()
            page.get_by_label("Medarbejder-id").fill(USER)
            page.get_by_label("Adgangskode").fill(PASSWORD)
            page.get_by_role("button", name="Log ind").click()
            expect(page.locator("#whoami")).to_contain_text(USER)
            page.get_by_role("link", name=get_instrument(SCHOOL).title.da).click()

            # The child's details, typed.
            page.get_by_label("Skema-id (pseudonymt)").fill("E2E-0001")
            page.get_by_label("Barnets alder (år)").fill("10")
            # Answers: with the keyboard for the first item (focus a radio, arrow to the next),
            # clicks on labels for the rest.
            first = page.locator('[id="item.emo_sad-0"]')
            first.focus()
            assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") in {
                "solid",
                "auto",
            }
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            expect(page.locator('[id="item.emo_sad-2"]')).to_be_checked()
            # The rest: a child with some concern everywhere (``_full(1)`` of tests/test_web.py)
            # and a trusted adult, every item answered so that the model can suggest a step.
            for item, value in _web._full(1).items():
                if item != "emo_sad":
                    page.locator(f'label[for="item.{item}-{value}"]').click()
            page.get_by_role("button", name="Beregn og se resultat").click()

            # The result page: scores, then the suggestion panel (or "no model available").
            expect(page.get_by_role("heading", name="Scorer")).to_be_visible()
            panel = page.locator("#model-suggestion, #no-model")
            expect(panel).to_be_visible()
            if _web.decision_api_available():
                expect(page.locator("#model-suggestion")).to_contain_text("Foreslået trin")
            badge = page.locator(".step-option:has(.badge) input")
            suggested_step = int(badge.get_attribute("value") or -1) if badge.count() else None
            chosen = 2 if suggested_step != 2 else 1  # an override: not the suggested step

            if _web.decision_api_available():
                expect(page.locator("#model-suggestion .probabilities")).to_be_visible()
                expect(page.locator("#explanation-plot")).to_be_visible()
            page.locator(f'label[for="chosen_step-{chosen}"]').click()
            page.screenshot(path=str(REPORTS / "e2e_result.png"), full_page=True)
            # Without a reason the override is refused (and nothing is stored) ...
            page.get_by_role("button", name="Registrér beslutning og gem").click()
            expect(page.locator("#reason-error")).to_be_visible()
            assert _rows(db, "SELECT COUNT(*) FROM screenings") == [(0,)]
            # ... with one it is stored.
            reason = "Forældrene har selv bedt om hjælp; vi starter med et forløb i PPR-regi."
            page.get_by_label("Begrundelse").fill(reason)
            page.get_by_role("button", name="Registrér beslutning og gem").click()
            expect(page.locator("#saved")).to_be_visible()
            screening_id = int(page.locator("#screening-id").inner_text())
            page.screenshot(path=str(REPORTS / "e2e_saved.png"), full_page=True)

            # A red flag: the duty-to-notify notice is the topmost thing the browser shows.
            page.goto(f"{server.url}/form/{SCHOOL}?lang=en")
            page.get_by_label("Form id (pseudonymous)").fill("E2E-0002")
            page.get_by_label("The child's age (years)").fill("8")
            page.locator('label[for="item.saf_disclosure-1"]').click()
            page.get_by_role("button", name="Score and see result").click()
            notice = page.locator("#red-flag-notice")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text(voc.duty_to_notify_basis.en)
            top = notice.bounding_box()
            h1 = page.locator("h1").bounding_box()
            assert top is not None and h1 is not None and top["y"] < h1["y"]
            assert top["y"] < 50
            page.screenshot(path=str(REPORTS / "e2e_red_flag.png"))

            # The same red flag on a form that is rejected (an age that is no number):
            # the error page still opens with the duty-to-notify notice.
            page.goto(f"{server.url}/form/{SCHOOL}")
            page.get_by_label("Skema-id (pseudonymt)").fill("E2E-0003")
            page.get_by_label("Barnets alder (år)").fill("ti år")
            page.locator('label[for="item.saf_disclosure-1"]').click()
            page.get_by_role("button", name="Beregn og se resultat").click()
            notice = page.locator("#red-flag-notice")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text(voc.duty_to_notify_basis.da)
            expect(page.locator(".error-summary")).to_be_visible()
            top = notice.bounding_box()
            assert top is not None and top["y"] < 50
            page.screenshot(path=str(REPORTS / "e2e_red_flag_error_page.png"))
        finally:
            browser.close()

    s = _rows(db, "SELECT id, form_id, instrument, answers_json FROM screenings")
    d = _rows(
        db,
        "SELECT screening_id, chosen_step, suggested_step, role, professional_id, reason"
        " FROM decisions",
    )
    assert len(s) == len(d) == 1  # the red-flag form was only looked at, never decided on
    assert s[0][:3] == (screening_id, "E2E-0001", get_instrument(SCHOOL).key)
    answers = json.loads(s[0][3])
    assert answers == _web._full(1) | {"emo_sad": 2}
    assert d[0] == (screening_id, chosen, suggested_step, "skole", USER, reason)
    assert (REPORTS / "e2e_result.png").stat().st_size > 10_000


# --- a cross-site post in a real browser -----------------------------------------------------------
class _Attacker:
    """A plain HTTP server on another loopback port serving one page (another origin)."""

    def __init__(self, page: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Attacker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_cross_site_form_post_is_refused_in_chromium(served: tuple[_Server, Path]) -> None:
    """Issue 11: a page on another origin made Chromium post a municipal step-6 decision.

    The victim is logged in. The attacker's page (127.0.0.1 on another port: the same *site*,
    so even a SameSite=Strict cookie goes along) auto-submits a complete decision form with a
    well-formed token. The server refuses it before any view runs, and nothing is stored.
    """
    _needs_browser()
    from playwright.sync_api import sync_playwright

    server, db = served
    forged = _submission(6, "ab" * 16) | {
        "chosen_step": "6", "role": "myndighed", "professional_id": "M-1", "csrf_token": "0" * 64,
    }  # fmt: skip
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in forged.items())
    attack = (
        f'<!doctype html><form id="f" method="post" action="{server.url}/form/{SCHOOL}/decision">'
        f"{inputs}</form><script>document.getElementById('f').submit()</script>"
    )
    with _Attacker(attack) as evil, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=30_000
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            # The victim logs in on the real server ...
            page.goto(f"{server.url}/login")
            page.get_by_label("Medarbejder-id").fill(USER)
            page.get_by_label("Adgangskode").fill(PASSWORD)
            page.get_by_role("button", name="Log ind").click()
            page.wait_for_url(f"{server.url}/")
            # ... then opens the attacker's page, which posts the form at once.
            with page.expect_response(lambda r: r.url.startswith(server.url)) as answer:
                page.goto(evil.url)
            response = answer.value
            assert response.request.method == "POST"
            assert response.request.headers.get("origin") == evil.url
            assert response.status == 403
            assert "Cross-site request refused" in response.text()
        finally:
            browser.close()
    assert _rows(db, "SELECT COUNT(*) FROM screenings") == [(0,)]
    assert _rows(db, "SELECT COUNT(*) FROM decisions") == [(0,)]
