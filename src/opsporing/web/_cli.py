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
``audit access --child ID``      who read a child's records, when, how and why (the
``audit access --user NAME``     chained access log); both together narrow it down
``retention run [--dry-run]``    erase what ``protection.yaml`` keeps no longer (destroys
                                 the child's data keys) and report what was erased
``export --child ID``            everything recorded about one child, as Danish HTML and
                                 JSON, for a request for insight (logged: ``--user``,
                                 ``--purpose``)

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

__all__ = ["audit_app", "register", "retention_app", "users_app"]

users_app = typer.Typer(
    help="Users of the web form: add, list, passwd, disable.", no_args_is_help=True
)
audit_app = typer.Typer(
    help="Check the audit log's hash chain; export its head.", no_args_is_help=True
)

_DB = Annotated[Path, typer.Option(help="The SQLite audit log of the web form.")]
_DEFAULT_DB = Path("opsporing-audit.sqlite")


retention_app = typer.Typer(
    help="Erase what the retention periods keep no longer.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``users``, ``audit``, ``retention`` and ``export`` to the command line."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.command("export")(export_child)


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


@audit_app.command("access")
def audit_access(
    child: Annotated[
        str | None, typer.Option(help="The child's pseudonymous id (as on the form).")
    ] = None,
    user: Annotated[str | None, typer.Option(help="A user name (staff id).")] = None,
    db: _DB = _DEFAULT_DB,
) -> None:
    """Who read which child's records, when, through which channel, and why."""
    if child is None and user is None:
        _fail("child, user: expected --child ID, --user NAME, or both")
    try:
        entries = _store(db).access_log(child=child, user=user)
    except OpsporingError as exc:
        _fail(str(exc))
        return
    for e in entries:
        what = ",".join(e.what)
        typer.echo(
            f"{e.created_at}\t{e.user}\t{e.role}\t{e.purpose}\t{e.channel}\t"
            f"child {e.child_ref}\t{what}"
        )
    typer.echo(f"{len(entries)} read(s)")


@retention_app.command("run")
def retention_run(
    db: _DB = _DEFAULT_DB,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be erased; change nothing.")
    ] = False,
) -> None:
    """Erase every kind of record kept longer than protection.yaml allows; report it."""
    from ._retention import run_retention

    try:
        report = run_retention(_store(db), dry_run=dry_run)
    except OpsporingError as exc:
        _fail(str(exc))
        return
    verb = "would erase" if dry_run else "erased"
    for e in report.erased:
        typer.echo(
            f"{verb} {e.records} {e.kind} record(s) of child {e.child_ref} "
            f"(newest {e.newest}; {e.rule})"
        )
    per_kind = ", ".join(f"{k}: {n}" for k, n in sorted(report.by_kind().items())) or "none"
    children = len({e.child_ref for e in report.erased})
    typer.echo(f"{verb} {per_kind} (children: {children}); kept {report.kept} group(s)")
    if not report.scrubbed:
        typer.echo(
            "warning: a write-ahead log was busy and still holds erased bytes; "
            "run `opsporing retention run` again when the server is idle",
            err=True,
        )


def export_child(
    child: Annotated[str, typer.Option(help="The child's pseudonymous id (as on the form).")],
    user: Annotated[str, typer.Option(help="Who exports: an active user of the web form.")],
    purpose: Annotated[
        str, typer.Option(help="Why: a purpose code of protection.yaml, e.g. foraeldres_indsigt.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for <child>.html and <child>.json.")] = Path(
        "."
    ),
    db: _DB = _DEFAULT_DB,
) -> None:
    """Everything recorded about one child, as Danish HTML and JSON (a request for insight)."""
    from ._export import insight, insight_html, insight_json
    from ._files import write_private_atomically
    from ._records import Reader

    try:
        store = _store(db)
        who = store.user(user)
        if who is None or not who.active:
            _fail(f"user = {user[:64]!r}: expected an active user (opsporing users list)")
            return
        data = insight(store, child, Reader(who.name, who.role, purpose, "cli"))
    except OpsporingError as exc:
        _fail(str(exc))
        return
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in child)[:64] or "child"
    try:
        out.mkdir(parents=True, exist_ok=True)
        html, js = out / f"insight-{safe}.html", out / f"insight-{safe}.json"
        # The child's data: readable by the exporting account only, like the log itself.
        write_private_atomically(html, insight_html(data))
        write_private_atomically(js, insight_json(data))
    except OSError as exc:
        _fail(f"out = {str(out)[:80]!r}: cannot write there: {exc}")
        return
    typer.echo(f"wrote {html} and {js} ({len(data['records'])} record(s))")
