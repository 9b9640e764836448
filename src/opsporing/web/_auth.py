"""Who is logged in, and what they may do: users, roles, passwords, sessions.

Modelled on Django's ``django.contrib.auth`` and OWASP ASVS V2/V3/V4:

* **Users** live in the audit log's ``users`` table (append-only and hash-chained like the
  rest), created on the command line only (``opsporing users add NAME --role ROLE``). A user
  has one role: a professional role of :data:`opsporing.decision.ROLES` or a role of
  ``access.yaml`` (``admin``). The name is what decisions are recorded under, so it must be a
  pseudonymous id, never a CPR number.
* **Passwords** are stored as Argon2id hashes (``argon2-cffi``, its default parameters), at
  least :data:`MIN_PASSWORD` characters. An unknown name costs as much time as a wrong
  password, and a name with too many failures is refused for a while (``access.yaml``).
* **The JSON API** (:mod:`._api`) takes the same users over HTTP Basic: every request
  names its user and password, checked by :func:`authenticate` and throttled like a login.
  :class:`VerifiedCredentials` remembers a verified password for a few minutes (as a keyed
  hash, in memory) so that a client's next request does not pay for Argon2 again.
* **Sessions** are signed cookies (Starlette's ``SessionMiddleware``, itsdangerous) holding
  the user's name, the version of their user row (a new password or disabling the user ends
  every session made before), and the session's CSRF token (see :mod:`._security`).
* **Permissions** are read from data: who may choose which step (the vocabulary's
  ``municipal_assessment_from_step`` and ``MUNICIPAL_ROLES``), who may read which receipt
  (``access.yaml``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .._texts import Lang
from ..errors import UserError
from ..privacy import looks_like_cpr
from ..vocabulary import Text, load_vocabulary
from ._forms import valid_pseudonymous_id
from ._store import AuditLog, StoredUser
from ._suggest import role_choices

__all__ = [
    "MIN_PASSWORD",
    "OIDC_MARK",
    "Access",
    "LoginThrottle",
    "VerifiedCredentials",
    "access_policy",
    "add_user",
    "authenticate",
    "disable_user",
    "may_choose_step",
    "may_decide",
    "may_read_receipt",
    "oidc_user",
    "set_password",
    "user_roles",
]

#: Shortest password accepted (ASVS 2.1.1: at least 12 characters).
MIN_PASSWORD = 12
#: Longest password accepted (ASVS 2.1.2 allows at least 64; Argon2 hashes any length).
MAX_PASSWORD = 256

#: Stored in place of a password hash for a user who logs in through the identity provider
#: (:mod:`._oidc`): no Argon2 hash, so no password ever matches it, yet the user is active.
OIDC_MARK = "!oidc"

_HASHER = PasswordHasher()


@dataclass(frozen=True)
class Access:
    """The web form's own access policy (``access.yaml``)."""

    extra_roles: Mapping[str, Text]
    read_every_receipt: frozenset[str]
    max_failed_logins: int
    failed_login_window_s: float
    session_max_age_s: int


@functools.cache
def access_policy() -> Access:
    """The policy of ``opsporing/web/access.yaml``, read once."""
    text = resources.files("opsporing.web").joinpath("access.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return Access(
        extra_roles={
            str(code): Text.of(label, f"extra_roles.{code}.label")
            for code, label in data["extra_roles"].items()
        },
        read_every_receipt=frozenset(str(r) for r in data["read_every_receipt"]),
        max_failed_logins=int(data["max_failed_logins"]),
        failed_login_window_s=float(data["failed_login_window_s"]),
        session_max_age_s=int(data["session_max_age_s"]),
    )


def _professional_roles() -> dict[str, str]:
    return dict(role_choices("da"))


def _municipal_roles() -> frozenset[str]:
    # The vocabulary's data (roles marked municipal), read by the protocol itself.
    from ..decision import MUNICIPAL_ROLES

    return frozenset(MUNICIPAL_ROLES)


def user_roles(lang: Lang = "da") -> dict[str, str]:
    """Every role a user can have, code to label: the professional roles, then ``admin``.

    Examples
    --------
    >>> list(user_roles())[-2:]
    ['myndighed', 'admin']
    """
    roles = dict(role_choices(lang))
    roles.update({code: text.get(lang) for code, text in access_policy().extra_roles.items()})
    return roles


def may_decide(role: str) -> bool:
    """Whether a user with ``role`` may record decisions (the professional roles may)."""
    return role in _professional_roles()


def may_choose_step(role: str, step: int) -> bool:
    """Whether ``role`` may choose staircase step ``step``.

    From the vocabulary's ``municipal_assessment_from_step`` upward only the municipality's
    roles may (barnets lov §§ 18-20).

    Examples
    --------
    >>> may_choose_step("skole", 2), may_choose_step("skole", 3), may_choose_step("myndighed", 6)
    (True, False, True)
    """
    if not may_decide(role):
        return False
    return step < load_vocabulary().municipal_assessment_from_step or role in _municipal_roles()


def may_read_receipt(user: StoredUser, recorded_by: str) -> bool:
    """Whether ``user`` may read the receipt of a decision recorded by ``recorded_by``."""
    return user.name == recorded_by or user.role in access_policy().read_every_receipt


def _shown(name: object) -> str:
    """A user name for a message: capped, and never a CPR number."""
    text = str(name)
    if looks_like_cpr(text) or looks_like_cpr(text.replace(" ", "")):
        return "(not shown: looks like a CPR number)"
    return repr(text[:40])


def _check_password(password: str, name: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(
            f"password = (not shown, {len(password) if isinstance(password, str) else '?'} "
            f"characters): expected {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )
    if password.strip().casefold() == name.casefold():
        raise UserError("password = (not shown): expected something other than the user name")


def add_user(store: AuditLog, name: str, role: str, password: str) -> StoredUser:
    """Create user ``name`` with ``role`` and ``password`` (stored as an Argon2 hash).

    Raises
    ------
    UserError
        The name is not a pseudonymous id (or looks like a CPR number), it is taken, the
        role is unknown, or the password is too short or too long.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> add_user(store, "P-0042", "skole", "correct horse battery").role
    'skole'
    >>> add_user(store, "P-0043", "rektor", "correct horse battery")
    Traceback (most recent call last):
    ...
    opsporing.errors.UserError: role = 'rektor': expected one of [...]
    """
    if not isinstance(name, str) or not valid_pseudonymous_id(name):
        raise UserError(
            f"name = {_shown(name)}: expected a pseudonymous id of 1-64 letters, digits, "
            "'.', '-' or '_' (never a CPR number or a person's name)"
        )
    roles = user_roles()
    if role not in roles:
        raise UserError(f"role = {str(role)[:40]!r}: expected one of {list(roles)}")
    _check_password(password, name)
    if store.user(name) is not None:
        raise UserError(f"name = {name!r}: expected a new name; this user exists")
    return store.add_user_row(name, role, _HASHER.hash(password))


def _existing(store: AuditLog, name: str) -> StoredUser:
    user = store.user(name)
    if user is None:
        raise UserError(f"name = {_shown(name)}: expected an existing user")
    return user


def set_password(store: AuditLog, name: str, password: str) -> StoredUser:
    """Give user ``name`` a new password (and enable them); their sessions end."""
    user = _existing(store, name)
    _check_password(password, name)
    return store.add_user_row(name, user.role, _HASHER.hash(password))


def disable_user(store: AuditLog, name: str) -> StoredUser:
    """Disable user ``name``: no more logins, and their sessions end."""
    user = _existing(store, name)
    return store.add_user_row(name, user.role, None)


def oidc_user(store: AuditLog, name: str, role: str) -> StoredUser:
    """The user a verified identity-provider login is recorded as (added or updated here).

    The name is the provider's pseudonymous subject; the role is the one mapped from its
    claim. A new user, or a new role since the last login, is a new row of ``users`` (so a
    session made under the old role ends). Refused: a name that is not a pseudonymous id or
    looks like a CPR number, a name held by a local password user (a provider login never
    takes over a local account), and a user disabled here with ``opsporing users disable``.

    Raises
    ------
    OidcLoginError
        ``reason`` is ``bad_id``, ``local_user`` or ``disabled``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> oidc_user(store, "7f3c9a", "skole").version == oidc_user(store, "7f3c9a", "skole").version
    True
    >>> oidc_user(store, "7f3c9a", "myndighed").role
    'myndighed'
    """
    from ._oidc import OidcLoginError

    if not isinstance(name, str) or not valid_pseudonymous_id(name):
        raise OidcLoginError("bad_id", f"subject {_shown(name)} is not a pseudonymous id")
    if role not in user_roles():
        raise OidcLoginError("no_role", f"role {role[:40]!r} is unknown")
    user = store.user(name)
    if user is not None and user.password_hash != OIDC_MARK:
        raise OidcLoginError("disabled" if not user.active else "local_user", _shown(name))
    if user is not None and user.role == role:
        return user
    return store.add_user_row(name, role, OIDC_MARK)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that both cost the same time."""
    return _HASHER.hash(secrets.token_hex(16))


def authenticate(store: AuditLog, name: str, password: str) -> StoredUser | None:
    """The user when ``password`` is theirs and they are active, else ``None``."""
    user = store.user(name) if valid_pseudonymous_id(name) else None
    hashed = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return user


class LoginThrottle:
    """Counts failed logins per name; refuses a name after too many (ASVS 2.2.1).

    In memory: a restart forgets the counts, and one server process is assumed.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(name, []) if now - t < self.window_s]
        if times:
            self._failures[name] = times
        else:
            self._failures.pop(name, None)
        return times

    def blocked(self, name: str) -> bool:
        with self._lock:
            return len(self._recent(name, time.monotonic())) >= self.limit

    def failed(self, name: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._failures[name] = [*self._recent(name, now), now]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


class VerifiedCredentials:
    """The passwords verified lately, so that an API client's requests skip Argon2.

    HTTP Basic sends the password with every request; Argon2id is slow on purpose (about
    0.15 s on a busy 2-core machine), so verifying it each time would make every request
    slow and let a client tie up the CPU. After a successful :func:`authenticate`, this
    keeps, per user name, an HMAC of the password under a key made for this process (never
    the password, never written anywhere) with the user's row version and the time. A
    request within ``ttl_s`` whose password has the same HMAC, for the same version of the
    user, is let in without Argon2; a new password or a disabled user is a new version, so
    it ends at once. Anything else goes through :func:`authenticate` (and the throttle).
    At most ``size`` users are kept (least recently used dropped).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> _ = add_user(store, "P-0042", "skole", "correct horse battery")
    >>> seen = VerifiedCredentials()
    >>> seen.authenticate(store, "P-0042", "correct horse battery").role
    'skole'
    >>> seen.authenticate(store, "P-0042", "wrong horse battery") is None
    True
    """

    def __init__(self, ttl_s: float = 300.0, size: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[str, tuple[int, bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, name: str, password: str) -> bytes:
        message = (
            name.encode("utf-8", "surrogatepass")
            + b"\0"
            + password.encode("utf-8", "surrogatepass")
        )
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def authenticate(self, store: AuditLog, name: str, password: str) -> StoredUser | None:
        """:func:`authenticate`, answered from memory when this password was just verified."""
        user = store.user(name) if valid_pseudonymous_id(name) else None
        now = time.monotonic()
        if user is not None and user.active:
            mac = self._mac(name, password)
            with self._lock:
                seen = self._seen.get(name)
                if (
                    seen is not None
                    and seen[0] == user.version
                    and now - seen[2] < self.ttl_s
                    and hmac.compare_digest(seen[1], mac)
                ):
                    self._seen.move_to_end(name)
                    return user
        verified = authenticate(store, name, password)
        if verified is not None:
            with self._lock:
                self._seen[name] = (verified.version, self._mac(name, password), now)
                self._seen.move_to_end(name)
                while len(self._seen) > self.size:
                    self._seen.popitem(last=False)
        return verified
