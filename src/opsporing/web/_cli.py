"""The ``opsporing users`` and ``opsporing audit`` verbs: who may log in, and is the log intact.

``users add NAME --role ROLE``   create a user; the password from a hidden prompt (twice), or
                                 one line of stdin with ``--password-stdin``
``users list``                   every user, role and whether they can log in
``users passwd NAME``            a new password (every session of the user ends)
``users disable NAME``           no more logins (every session of the user ends)
``audit verify [--head FILE]``   check the hash chain, and that it passes through the head
                                 kept beside the log and through an exported one;
                                 exit status 1 and the first broken entry when it does not
``audit head [--out FILE]``      the head now (entry count and last mac), as JSON, to keep
                                 somewhere the server cannot write

Every verb takes ``--db`` (default ``opsporing-audit.sqlite``). Errors: one line, status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import OpsporingError

if TYPE_CHECKING:  # pragma: no cover
    from ._store import AuditLog

__all__ = ["audit_app", "register", "users_app"]

users_app = typer.Typer(
    help="Users of the web form: add, list, passwd, disable.", no_args_is_help=True
)
audit_app = typer.Typer(
    help="Check the audit log's hash chain; export its head.", no_args_is_help=True
)

_DB = Annotated[Path, typer.Option(help="The SQLite audit log of the web form.")]
_DEFAULT_DB = Path("opsporing-audit.sqlite")


def register(app: typer.Typer) -> None:
    """Add ``users`` and ``audit`` to the ``opsporing`` command line."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")


def _fail(message: str, code: int = 2) -> None:
    message = "\\n".join(str(message).splitlines())
    typer.echo(f"opsporing: error: {message}", err=True)
    raise typer.Exit(code=code)


def _store(db: Path, *, create: bool = False) -> AuditLog:
    from ._store import AuditLog

    if not create and not db.exists():
        _fail(f"db = {str(db)!r}: no audit log there")
    return AuditLog(db)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Pseudonymous staff id (never a CPR number).")],
    role: Annotated[
        str, typer.Option(help="dagtilbud, skole, sundhedspleje, ppr, myndighed, admin.")
    ],
    db: _DB = _DEFAULT_DB,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
    ] = False,
) -> None:
    """Create a user of the web form (creates the audit log when there is none)."""
    from ._auth import add_user

    try:
        user = add_user(_store(db, create=True), name, role, _password(password_stdin))
    except OpsporingError as exc:
        _fail(str(exc))
        return
    typer.echo(f"added user {user.name} ({user.role})")


@users_app.command("list")
def users_list(db: _DB = _DEFAULT_DB) -> None:
    """List the users: name, role, active, since."""
    try:
        users = _store(db).users()
    except OpsporingError as exc:
        _fail(str(exc))
        return
    from .._texts import datetime_text
    from ._auth import OIDC_MARK

    for u in users:
        state = "disabled" if not u.active else "active"
        if u.password_hash == OIDC_MARK:
            state += " (identity provider)"
        # The listing is in English: the English long date and time, in Danish time.
        since = datetime_text(u.created_at, "en", "created_at")
        typer.echo(f"{u.name}\t{u.role}\t{state}\t{since}")
    if not users:
        typer.echo("no users: add one with `opsporing users add NAME --role ROLE`")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="The user.")],
    db: _DB = _DEFAULT_DB,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
    ] = False,
) -> None:
    """Give a user a new password (and enable them)."""
    from ._auth import set_password

    try:
        set_password(_store(db), name, _password(password_stdin))
    except OpsporingError as exc:
        _fail(str(exc))
    typer.echo(f"new password for {name}")


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="The user.")], db: _DB = _DEFAULT_DB
) -> None:
    """Disable a user: no more logins; their sessions end."""
    from ._auth import disable_user

    try:
        disable_user(_store(db), name)
    except OpsporingError as exc:
        _fail(str(exc))
    typer.echo(f"disabled {name}")


@audit_app.command("verify")
def audit_verify(
    db: _DB = _DEFAULT_DB,
    head: Annotated[
        Path | None, typer.Option(help="A head exported earlier with `opsporing audit head`.")
    ] = None,
) -> None:
    """Check every entry of the audit log's chain; exit 1 at the first broken one."""
    from ._chain import Head

    try:
        known = Head.from_json(head.read_text(encoding="utf-8"), str(head)) if head else None
        report = _store(db).verify(known)
    except (OSError, OpsporingError) as exc:
        _fail(str(exc))
        return
    if not report.ok:
        _fail(f"the audit log does not verify: {report.problem}", code=1)
    typer.echo(f"ok: {report.head.count} entries, head {report.head.mac}")


@audit_app.command("head")
def audit_head(
    db: _DB = _DEFAULT_DB,
    out: Annotated[Path | None, typer.Option(help="Write the head here (else stdout).")] = None,
) -> None:
    """The audit log's head now, as JSON, after checking the chain."""
    try:
        # The chain itself (not the kept head, which may be what is being restored).
        report = _store(db).verify(use_kept=False)
    except OpsporingError as exc:
        _fail(str(exc))
        return
    if not report.ok:
        _fail(f"the audit log does not verify: {report.problem}", code=1)
    text = report.head.to_json()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote the head ({report.head.count} entries) to {out}")
