"""The reference web form: screen a child, see the suggestion, record the decision.

Server-rendered HTML (FastAPI and Jinja2, plain CSS, no JavaScript), Danish by default
with an English switch (``?lang=en``), usable with the keyboard alone. An educator picks an
instrument, fills it in under a pseudonymous form id (never a CPR number, no names), sees the
scores, bands, concerns and protective factors, the model's suggestion (or "no model
available"), and must record a decision before anything is stored. A red flag puts the
duty-to-notify text (barnets lov § 133) first on the page.

Every user logs in (users are made with ``opsporing users add``, or, when configured, come
from the municipality's identity provider through OpenID Connect: :func:`load_oidc_config`);
the decision is recorded under the logged-in user and their role, never under what a form
says. The screening and
its decision are stored together, in one SQLite transaction, in an append-only audit log
whose rows are chained by a keyed hash (see :class:`AuditLog`, ``opsporing audit verify``).
Personal content is sealed per child and kind (AES-256-GCM), every read of it is logged with
its purpose (:class:`Reader`), retention destroys keys (:func:`run_retention`), and a parent's
insight is one export (:func:`insight`); see ``docs/data-protection.md``.
Cross-site posts, foreign hosts, framing and oversized bodies are refused before any view
runs. Applications use the same server through its JSON API under ``/api/v1/`` (HTTP Basic
with the same users, problem details, an OpenAPI document; ``docs/http-api.md``). Needs the
``[web]`` extra. See ``docs/security.md``.

Examples
--------
>>> import tempfile, pathlib
>>> from fastapi.testclient import TestClient
>>> from opsporing.web import AuditLog, add_user, create_app
>>> db = pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite"
>>> _ = add_user(AuditLog(db), "P-0042", "skole", "correct horse battery")
>>> client = TestClient(create_app(db, model=None), base_url="http://127.0.0.1")
>>> login = client.get("/login")
>>> csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
>>> _ = client.post("/login", data={"username": "P-0042", "password": "correct horse battery",
...     "csrf_token": csrf}, headers={"Origin": "http://127.0.0.1"})
>>> page = client.get("/form/topi?lang=en")
>>> page.status_code, "TOPI" in page.text
(200, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import UserError
from ._app import create_app
from ._auth import add_user
from ._export import insight, insight_html, insight_json
from ._oidc import OidcConfig, OidcProvider, load_oidc_config
from ._records import AccessEntry, PersonalRecord, Protection, Reader, protection_policy
from ._retention import Erased, RetentionReport, run_retention
from ._security import DEFAULT_ALLOWED_HOSTS
from ._store import (
    AuditLog,
    IdempotencyConflictError,
    StorageError,
    StoredRecord,
    StoredScreening,
    Submission,
)

__all__ = [
    "DEFAULT_DB_PATH",
    "AccessEntry",
    "AuditLog",
    "Erased",
    "IdempotencyConflictError",
    "OidcConfig",
    "OidcProvider",
    "PersonalRecord",
    "Protection",
    "Reader",
    "RetentionReport",
    "StorageError",
    "StoredRecord",
    "StoredScreening",
    "Submission",
    "add_user",
    "create_app",
    "insight",
    "insight_html",
    "insight_json",
    "load_oidc_config",
    "protection_policy",
    "run",
    "run_retention",
]

#: Where :func:`run` keeps the audit log unless told otherwise (relative to the working folder).
DEFAULT_DB_PATH = Path("opsporing-audit.sqlite")


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    db_path: str | Path = DEFAULT_DB_PATH,
    *,
    model: Any = "auto",
    allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
    https_only: bool = False,
    oidc_config: str | Path | None = None,
) -> None:
    """Serve the web form with uvicorn until interrupted (what ``opsporing serve`` runs).

    Parameters
    ----------
    host : str
        Interface to bind; loopback by default, so only this machine can reach the form.
        Beyond loopback, serve it behind TLS (see ``docs/security.md``).
    port : int
    db_path : str or Path
        The SQLite audit log (created when missing, unless its head says it held rows).
    model : "auto", str, Path or None
        The model behind the suggestions (see :func:`create_app`); ``"auto"`` loads
        ``models/step_suggester.skops`` when it is there and passes its manifest check.
    allowed_hosts : iterable of str
        The host names answered (see :func:`create_app`).
    https_only : bool
        Session cookies only over HTTPS.
    oidc_config : str or Path, optional
        A YAML file configuring the login with the municipality's identity provider (see
        :func:`load_oidc_config` and ``docs/security.md``). Off when not given.

    Raises
    ------
    UserError
        The audit log has no active user and no identity provider is configured: nobody
        could log in.
    OidcError
        The identity-provider configuration is invalid.
    AuditChainError
        The audit log does not verify (see :meth:`AuditLog.verify`).
    """
    import uvicorn

    store = AuditLog(db_path)
    oidc = load_oidc_config(oidc_config) if oidc_config is not None else None
    if oidc is None and not any(u.active for u in store.users()):
        raise UserError(
            f"users = none in {db_path}: expected at least one user; create one with "
            f"`opsporing users add NAME --role ROLE --db {db_path}`, or log in with the "
            "municipality's identity provider (--oidc-config FILE)"
        )
    app = create_app(
        db_path, model=model, allowed_hosts=allowed_hosts, https_only=https_only, oidc=oidc
    )
    # Access logs show paths only (instrument ids and screening numbers), never form content.
    uvicorn.run(app, host=host, port=port, log_level="info")
