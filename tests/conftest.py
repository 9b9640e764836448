from __future__ import annotations

import os

# pytest-xdist's workers export COLUMNS=80 and LINES=24, and a rich Console fixes its width
# from COLUMNS when it is built (the CLI builds one at import): without this, every CLI test
# on a worker would print 80 columns whatever its own env= says. Before any opsporing import.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsporing.instruments import Instrument, load_instrument

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def mini() -> Instrument:
    """The hand-computable test instrument (tests/data/mini_instrument.yaml)."""
    return load_instrument(DATA / "mini_instrument.yaml")


@pytest.fixture(scope="session")
def mini_path() -> Path:
    return DATA / "mini_instrument.yaml"


# --- the web form: users and logged-in clients ---------------------------------------------------
#: The password of every test user of the web form.
WEB_PASSWORD = "correct horse battery staple"
#: The origin the test clients speak to (an allowed host by default).
WEB_BASE = "http://127.0.0.1"


def _csrf_of(page: str) -> str:
    import re

    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert m, "the page carries no CSRF token"
    return m.group(1)


@pytest.fixture
def web_login() -> object:
    """``web_login(app, name="P-0042", role="skole")``: a TestClient logged in to ``app``.

    Creates the user in the app's audit log unless it exists, logs in through ``/login``
    like a browser (the CSRF token of the login page, an ``Origin`` header), and returns a
    client whose ``post`` adds this session's CSRF token to form data that has none.
    """
    from fastapi.testclient import TestClient

    from opsporing.web import add_user

    class LoggedIn(TestClient):
        csrf = ""

        def post(self, url: str, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            data = kwargs.get("data")
            if isinstance(data, dict) and "csrf_token" not in data:
                kwargs["data"] = {**data, "csrf_token": self.csrf}
            return super().post(url, *args, **kwargs)  # type: ignore[arg-type]

    def login(app: object, name: str = "P-0042", role: str = "skole") -> LoggedIn:
        store = app.state.audit_log  # type: ignore[attr-defined]
        if store.user(name) is None:
            add_user(store, name, role, WEB_PASSWORD)
        client = LoggedIn(
            app, base_url=WEB_BASE, follow_redirects=False, headers={"Origin": WEB_BASE}
        )  # type: ignore[arg-type]
        token = _csrf_of(client.get("/login").text)
        r = client.post(
            "/login", data={"username": name, "password": WEB_PASSWORD, "csrf_token": token}
        )
        assert r.status_code == 303, r.text[:300]
        client.csrf = _csrf_of(client.get("/").text)
        return client

    return login


def signed_decision(
    chosen_step: int = 1, *, reason: str = "r", role: str = "skole", notify: bool = True
) -> dict[str, object]:
    """A decision record the protocol made and signed in this process (for store tests).

    The audit log refuses decision records that opsporing.decision did not sign.
    """
    from datetime import UTC, datetime

    from opsporing.decision import Decision, unavailable_suggestion

    return Decision.record(
        unavailable_suggestion(),
        professional_role=role,
        professional_id="P-1",
        chosen_step=chosen_step,
        reason=reason,
        notify=notify,
        clock=lambda: datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    ).to_dict()


def opened_rows(db: Path) -> list[dict[str, object]]:
    """Every stored screening with its decision, content opened (``AuditLog.get``), by id.

    Personal content is sealed in the database (issue 18): tests read it back through the
    log, never from the raw columns.
    """
    import sqlite3

    from opsporing.web import AuditLog

    with sqlite3.connect(db) as con:
        ids = [int(i) for (i,) in con.execute("SELECT id FROM screenings ORDER BY id")]
    log = AuditLog(db)
    rows = [log.get(i) for i in ids]
    return [r for r in rows if r is not None]


# --- the synthetic oracle's quadrature grids ------------------------------------------------------
@pytest.fixture
def oracle_grids(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, Any], None]:
    """``oracle_grids(grid, grid_d)``: the oracle's quadrature grids (F and R; D) for one test.

    pytest's doctest collection imports ``_oracle.py`` a second time (``--import-mode=
    importlib``), so ``opsporing.synthetic._oracle`` may not be the module whose globals
    ``oracle_proba`` reads: the grids are set in both, or a refinement test would compare
    the default grid with itself.
    """
    import sys

    from opsporing.synthetic import _oracle, oracle_proba

    def set_grids(grid: Any, grid_d: Any) -> None:
        copies = (vars(_oracle), oracle_proba.__globals__, vars(sys.modules[_oracle.__name__]))
        for space in {id(c): c for c in copies}.values():
            monkeypatch.setitem(space, "GRID", grid)
            monkeypatch.setitem(space, "GRID_D", grid_d)

    return set_grids


# --- the command line: build each Typer app's click command once --------------------------------
def _build_each_cli_once() -> None:
    """Make ``typer.testing.CliRunner.invoke`` build an app's click command once per session.

    Each ``invoke`` rebuilt the whole command tree of ``opsporing.cli.app`` (about 40
    commands, every annotation evaluated by ``typing.get_type_hints``): 0.17 s of every
    call, most of the time of the CLI tests and the CLI fuzz campaign. A click command is
    stateless between invocations (each gets a fresh Context), so the tests still run the
    very command ``opsporing`` builds from the same app; a different app (or a new object
    at the same address) is built afresh.
    """
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # another typer: nothing to cache, the tests just run slower
        return
    built: dict[int, tuple[object, object]] = {}

    def build_once(app: object) -> object:
        hit = built.get(id(app))
        if hit is None or hit[0] is not app:
            hit = built[id(app)] = (app, build(app))
        return hit[1]

    typer.testing._get_command = build_once  # type: ignore[attr-defined]


_build_each_cli_once()
