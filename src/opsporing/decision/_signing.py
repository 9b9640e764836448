"""Keyed signatures (HMAC-SHA256) of suggestions and decisions.

A frozen dataclass can still be forged inside the process: ``object.__new__`` and
``object.__setattr__``, an edited pickle, or the private flag that
:meth:`~opsporing.decision.Decision.record` sets. What cannot be forged without the
secret key is a signature. So every :class:`~opsporing.decision.Suggestion` the library
makes is signed when it is made, :meth:`~opsporing.decision.Decision.record` accepts only
suggestions whose signature matches their content, every decision is signed when it is
recorded, and :class:`~opsporing.decision.DecisionLog`, :func:`verify_decision` and
:meth:`~opsporing.decision.Decision.from_dict` check the decision's signature.

The key
-------
One :class:`SigningKey` per process: the file named by ``OPSPORING_DECISION_KEY`` (a
secret written by :meth:`SigningKey.write`, mode 0600) when set, else a random key made
when first needed, so that a stored decision verifies only in the process that made it.
An installation that stores decisions (the web form) sets its own key file, so
decisions verify after a restart. The key is a secret of the installation: anyone who
can read it, or run code inside the process, can sign.

Examples
--------
>>> key = SigningKey.generate()
>>> tag = key.sign("example", {"b": 1, "a": [1, 2]})
>>> key.verify("example", {"a": [1, 2], "b": 1}, tag), key.verify("example", {"a": 1}, tag)
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import DecisionError
from ..privacy import check_secret_key

#: Environment variable naming the installation's decision key file.
DECISION_KEY_ENV = "OPSPORING_DECISION_KEY"
#: What a signature is made for: a suggestion and a decision never share a signature.
SUGGESTION_PURPOSE = "opsporing-suggestion/1"
DECISION_PURPOSE = "opsporing-decision/1"
_ATTRIBUTE = "_signature"


class _Signable(Protocol):
    def signed_payload(self) -> dict[str, Any]: ...


_S = TypeVar("_S", bound=_Signable)


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """The one JSON text that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


class SigningKey:
    """The secret that signs suggestions and decisions (HMAC-SHA256).

    Parameters
    ----------
    secret : bytes
        At least 32 random bytes (:func:`opsporing.privacy.check_secret_key`).

    Attributes
    ----------
    key_id : str
        16 hex digits naming the key (a hash of it), safe to log.
    """

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        self._secret = check_secret_key(secret, "decision key")
        self.key_id = hashlib.sha256(b"key-id\n" + secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a SigningKey is never pickled: keep the key in its file")

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key (32 bytes from :mod:`secrets`)."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_file(cls, path: str | Path) -> SigningKey:
        """Read a key file written by :meth:`write` (hex text).

        Raises
        ------
        DecisionError
            The file is missing, readable by other users (POSIX) or not a key.
        """
        path = Path(path)
        try:
            with path.open("rb") as fh:
                text = fh.read(4097)
            mode = path.stat().st_mode
        except OSError as exc:
            raise DecisionError(
                f"decision key {path}: cannot be read ({exc.strerror}): expected a key file "
                "written by SigningKey.write"
            ) from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise DecisionError(
                f"decision key {path}: readable by other users: expected mode 0600 "
                f"(chmod 600 {path})"
            )
        try:
            secret = bytes.fromhex(text.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            secret = b""
        try:
            return cls(secret)
        except Exception as exc:  # the secret's own DataError says what is wrong with it
            raise DecisionError(f"decision key {path}: {exc}") from None

    def write(self, path: str | Path) -> Path:
        """Write the key as hex to a new file with mode 0600 (never overwrites)."""
        path = Path(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise DecisionError(
                f"decision key {path}: cannot be created ({exc.strerror}): expected a new file"
            ) from None
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(self._secret.hex() + "\n")
        return path

    def sign(self, purpose: str, payload: Mapping[str, Any]) -> str:
        """Hex HMAC-SHA256 of ``purpose`` and the canonical JSON of ``payload``."""
        message = purpose.encode("utf-8") + b"\n" + canonical_json(payload)
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, purpose: str, payload: Mapping[str, Any], signature: object) -> bool:
        """Whether ``signature`` is this key's signature of ``payload`` (constant time)."""
        if not isinstance(signature, str):
            return False
        try:
            expected = self.sign(purpose, payload)
        except (TypeError, ValueError):  # not JSON: never signed by this library
            return False
        return hmac.compare_digest(expected, signature)


_current: SigningKey | None = None


def current_signing_key() -> SigningKey:
    """The process's key: set with :func:`set_signing_key`, else from the environment.

    Without ``OPSPORING_DECISION_KEY`` a random key is made on first use (decisions then
    verify only in this process).
    """
    global _current
    if _current is None:
        named = os.environ.get(DECISION_KEY_ENV)
        _current = SigningKey.from_file(named) if named else SigningKey.generate()
    return _current


def set_signing_key(key: SigningKey | None) -> SigningKey | None:
    """Use ``key`` from now on (``None``: back to the environment's or a random key).

    Returns the key used before, so a test or a server can restore it.
    """
    global _current
    if key is not None and not isinstance(key, SigningKey):
        raise DecisionError(f"key = {type(key).__name__}: expected a SigningKey")
    previous, _current = _current, key
    return previous


def sign_suggestion(suggestion: _S) -> _S:
    """Sign a suggestion the library just made (called by ``_make``); return it.

    The signature covers :meth:`Suggestion.signed_payload` (``to_dict`` without the
    signature), so changing any field (dropping a red flag, another step) afterwards
    breaks it. It is kept outside the dataclass fields: ``dataclasses.replace`` and the
    constructor give unsigned suggestions.
    """
    signature = current_signing_key().sign(SUGGESTION_PURPOSE, suggestion.signed_payload())
    object.__setattr__(suggestion, _ATTRIBUTE, signature)
    return suggestion


def suggestion_is_authentic(suggestion: Any, key: SigningKey | None = None) -> bool:
    """Whether ``suggestion`` was made by this library under ``key`` and is unchanged."""
    key = key if key is not None else current_signing_key()
    signature = getattr(suggestion, "__dict__", {}).get(_ATTRIBUTE)
    try:
        payload = suggestion.signed_payload()
    except Exception:  # a forged object's fields may not even serialise
        return False
    return key.verify(SUGGESTION_PURPOSE, payload, signature)
