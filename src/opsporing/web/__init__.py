"""The reference web form: screen a child, see the suggestion, record the decision.

Server-rendered HTML (FastAPI and Jinja2, plain CSS, no JavaScript), Danish by default
with an English switch (``?lang=en``), usable with the keyboard alone. An educator picks an
instrument, fills it in under a pseudonymous form id (never a CPR number, no names), sees the
scores, bands, concerns and protective factors, the model's suggestion (or "no model
available"), and must record a decision before anything is stored. A red flag puts the
duty-to-notify text (barnets lov § 133) first on the page.

The screening and its decision are stored together, in one SQLite transaction, in an
append-only audit log (see :class:`AuditLog`). Needs the ``[web]`` extra.

Examples
--------
>>> import tempfile, pathlib
>>> from fastapi.testclient import TestClient
>>> from opsporing.web import create_app
>>> client = TestClient(create_app(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite", model=None))
>>> page = client.get("/form/topi?lang=en")
>>> page.status_code, "TOPI" in page.text
(200, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._app import create_app
from ._store import AuditLog, IdempotencyConflictError, StorageError, StoredScreening, Submission

__all__ = [
    "DEFAULT_DB_PATH",
    "AuditLog",
    "IdempotencyConflictError",
    "StorageError",
    "StoredScreening",
    "Submission",
    "create_app",
    "run",
]

#: Where :func:`run` keeps the audit log unless told otherwise (relative to the working folder).
DEFAULT_DB_PATH = Path("opsporing-audit.sqlite")


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    db_path: str | Path = DEFAULT_DB_PATH,
    *,
    model: Any = "auto",
) -> None:
    """Serve the web form with uvicorn until interrupted (what ``opsporing serve`` runs).

    Parameters
    ----------
    host : str
        Interface to bind; loopback by default, so only this machine can reach the form.
        The form has no login: put it behind the municipality's own authentication before
        binding anything but loopback.
    port : int
    db_path : str or Path
        The SQLite audit log (created when missing).
    model : "auto", str, Path or None
        The model behind the suggestions (see :func:`create_app`); ``"auto"`` loads
        ``models/step_suggester.skops`` when it is there and passes its manifest check.
    """
    import uvicorn

    # Access logs show paths only (instrument ids and screening numbers), never form content.
    uvicorn.run(create_app(db_path, model=model), host=host, port=port, log_level="info")
