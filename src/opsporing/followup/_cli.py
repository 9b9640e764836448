"""The follow-up verbs of the ``opsporing`` command line (issue 14).

``due --unit UNIT [--today DATE] [--json]``   the unit's plans whose review is overdue or due
                                              this week
``draft SCREENING_ID [--out FILE]``           a Danish notification draft from a stored
                                              screening, its decision and the child's plans;
                                              printed or written, never sent
``figures --population N [--as-of DATE]``     the key figures of the follow-up process
(each of the three also ``--user NAME --purpose CODE``)
``users unit NAME UNIT``                      put a user of the web form in a unit (a daycare
                                              or a school)

``due``, ``draft`` and ``figures`` read children's records: like ``opsporing export`` they
take ``--user`` (an active user of the web form) and ``--purpose`` (a code of
``protection.yaml``), and every child's read is in the access log
(``opsporing audit access``). Every verb takes ``--db`` (default ``opsporing-audit.sqlite``).
Errors: one line, status 2.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import OpsporingError

if TYPE_CHECKING:  # pragma: no cover
    from ..web._records import Reader
    from ..web._store import AuditLog

__all__ = ["register"]

_DB = Annotated[Path, typer.Option(help="The SQLite audit log of the web form.")]
_DEFAULT_DB = Path("opsporing-audit.sqlite")
_USER = Annotated[str, typer.Option(help="Who reads: an active user of the web form.")]
_PURPOSE = Annotated[
    str, typer.Option(help="Why: a purpose code of protection.yaml, e.g. opsporing.")
]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"opsporing: error: {' '.join(str(message).splitlines())}", err=True)
    raise typer.Exit(code=code)


def _store(db: Path) -> AuditLog:
    from ..web._store import AuditLog

    if not db.exists():
        _fail(f"db = {str(db)!r}: no audit log there")
    store = AuditLog(db)
    store.check()
    return store


def _reader(store: AuditLog, user: str, purpose: str) -> Reader:
    """The reader the access log records (the one rule of ``opsporing export`` too)."""
    from ..web._records import Reader

    who = store.user(user)
    if who is None or not who.active:
        _fail(f"user = {user[:64]!r}: expected an active user (opsporing users list)")
        raise AssertionError  # unreachable: _fail exits
    return Reader(who.name, who.role, purpose, "cli")


def _day(value: str | None, field: str) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{field} = {value[:40]!r}: expected a date YYYY-MM-DD")
        raise  # unreachable: _fail exits


def due_command(
    unit: Annotated[str, typer.Option(help="The daycare or school.")],
    user: _USER,
    purpose: _PURPOSE,
    db: _DB = _DEFAULT_DB,
    today: Annotated[str | None, typer.Option(help="Today (YYYY-MM-DD); default today.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Plans of UNIT whose review is overdue or due this week."""
    from ._log import due

    day = _day(today, "today")
    try:
        store = _store(db)
        items = due(store, unit, day, _reader(store, user, purpose))
    except OpsporingError as exc:
        _fail(str(exc))
        return
    if as_json:
        for item in items:
            typer.echo(json.dumps(item.to_dict(), sort_keys=True))
        return
    if not items:
        typer.echo(f"nothing due for {unit} this week ({day.isoformat()})")
        return
    for item in items:
        late = f"{item.days} days late" if item.status == "overdue" else "due"
        typer.echo(
            f"{item.due_on.isoformat()}  {item.status:8}  {item.plan.child_id:20}  "
            f"{item.plan.responsible_role:14}  {late}"
        )


def draft_command(
    screening: Annotated[int, typer.Argument(help="The stored screening's number.")],
    user: _USER,
    purpose: _PURPOSE,
    db: _DB = _DEFAULT_DB,
    out: Annotated[Path | None, typer.Option(help="Write the draft here (else stdout).")] = None,
) -> None:
    """A Danish notification draft to edit; the library never sends it."""
    from ._draft import notification_draft
    from ._log import screening_records

    try:
        store = _store(db)
        reader = _reader(store, user, purpose)
        found = screening_records(store, screening, reader) if 0 < screening < 2**63 else None
        if found is None:
            _fail(f"screening = {screening}: expected a stored (not erased) screening's number")
            return
        row, records = found
        draft = notification_draft(row, records.plans, records.reviews)
    except OpsporingError as exc:
        _fail(str(exc))
        return
    if out is None:
        typer.echo(draft.text, nl=False)
    else:
        out.write_text(draft.text, encoding="utf-8")
        typer.echo(f"wrote the draft to {out} (not sent: edit it and send it yourself)")
    if not draft.parents_told_first:
        typer.echo(
            "NB: suspected violence or abuse: the parents are not to be told first.", err=True
        )


def figures_command(
    population: Annotated[int, typer.Option(help="Children aged 0-17 in the municipality.")],
    user: _USER,
    purpose: _PURPOSE,
    db: _DB = _DEFAULT_DB,
    as_of: Annotated[str | None, typer.Option(help="Up to this day (YYYY-MM-DD).")] = None,
) -> None:
    """Key figures of the follow-up process, as JSON."""
    from ._figures import key_figures

    day = _day(as_of, "as_of") if as_of is not None else None
    try:
        store = _store(db)
        figures = key_figures(store, population, _reader(store, user, purpose), as_of=day)
    except OpsporingError as exc:
        _fail(str(exc))
        return
    typer.echo(json.dumps(figures.to_dict(), indent=2, sort_keys=True))


def users_unit(
    name: Annotated[str, typer.Argument(help="The user.")],
    unit: Annotated[str, typer.Argument(help="The daycare or school, e.g. skole-nord.")],
    db: _DB = _DEFAULT_DB,
) -> None:
    """Put a user in a unit (a daycare or a school): their due list and their children."""
    from ._log import set_unit

    try:
        set_unit(_store(db), name, unit)
    except OpsporingError as exc:
        _fail(str(exc))
    typer.echo(f"{name} works in {unit}")


def register(app: typer.Typer) -> None:
    """Add ``due``, ``draft``, ``figures`` and ``users unit`` to the command line."""
    from ..web._cli import users_app

    app.command("due")(due_command)
    app.command("draft")(draft_command)
    app.command("figures")(figures_command)
    users_app.command("unit")(users_unit)
