"""Ed25519 keys and detached signatures for model manifests (minisign-style).

A model directory holds the model file, ``manifest.json`` (the file's SHA-256 and exact
size, library versions, features, metrics) and ``manifest.json.sig``: an Ed25519
signature over the manifest's exact bytes, naming the key that made it. Whoever can
replace the model file and rewrite the manifest still cannot make a signature that a
trusted public key accepts, so :func:`~opsporing.model.load_model` refuses the files
before it reads the model.

Public keys are small text files (``*.pub``): an ``untrusted comment:`` line and the
32-byte key in base64, as minisign writes them. The keys opsporing trusts by default
live in the package (``opsporing/model/keys/``); the private key of the release lives
outside the repository. A municipality makes its own pair with ``opsporing model
keygen`` and trusts its public key with ``load_model(path, trusted_keys=[...])`` or the
environment variable ``OPSPORING_TRUSTED_KEYS`` (paths separated by ``os.pathsep``).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> public = generate_keypair(folder / "k.pem")
>>> signature = sign_bytes(b"manifest", folder / "k.pem")
>>> verify_bytes(b"manifest", signature, [public]) == public.key_id
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..errors import ModelIntegrityError

#: Folder of the public keys shipped in the package (trusted by default).
PACKAGE_KEY_DIR = Path(__file__).parent / "keys"
#: Environment variable naming extra trusted public key files (``os.pathsep``-separated).
TRUSTED_KEYS_ENV = "OPSPORING_TRUSTED_KEYS"
#: Environment variable naming the private key ``train`` signs with.
SIGNING_KEY_ENV = "OPSPORING_SIGNING_KEY"
#: Format tag of a signature file.
SIGNATURE_FORMAT = "opsporing-signature/1"
#: Largest key or signature file read (a few hundred bytes are enough).
_MAX_SMALL_FILE = 16 * 1024


@dataclass(frozen=True)
class PublicKey:
    """A trusted Ed25519 public key and where it came from.

    Attributes
    ----------
    key_id : str
        First 16 hex digits of the SHA-256 of the raw 32-byte key.
    key : Ed25519PublicKey
    source : str
        The file (or ``"<object>"``) it was read from, for messages.
    """

    key_id: str
    key: Ed25519PublicKey
    source: str


def _key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read_small(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_SMALL_FILE + 1)
    except OSError as exc:
        raise ModelIntegrityError(
            f"{what} {path}: cannot be read ({exc.strerror}): expected a readable file"
        ) from None
    if len(data) > _MAX_SMALL_FILE:
        raise ModelIntegrityError(
            f"{what} {path}: larger than {_MAX_SMALL_FILE} bytes: expected a small key or "
            "signature file"
        )
    return data


def public_key_text(key: Ed25519PublicKey) -> str:
    """The ``.pub`` file text of ``key`` (minisign layout: a comment line, then base64)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return (
        f"untrusted comment: opsporing model signing key {_key_id(key)}\n"
        f"{base64.b64encode(raw).decode('ascii')}\n"
    )


def read_public_key(path: str | Path) -> PublicKey:
    """Read a ``.pub`` file written by :func:`generate_keypair`.

    Raises
    ------
    ModelIntegrityError
        The file is missing, too large or does not hold exactly one 32-byte key.
    """
    path = Path(path)
    lines = [
        line.strip()
        for line in _read_small(path, "public key").decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith(("untrusted comment:", "#"))
    ]
    try:
        raw = base64.b64decode(lines[0], validate=True) if len(lines) == 1 else b""
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ModelIntegrityError(
            f"public key {path}: not an Ed25519 public key: expected a comment line and one "
            "line of base64 holding 32 bytes (as written by opsporing model keygen)"
        )
    key = Ed25519PublicKey.from_public_bytes(raw)
    return PublicKey(_key_id(key), key, str(path))


def trusted_keys(extra: Iterable[str | Path | PublicKey] = ()) -> list[PublicKey]:
    """The package's public keys, those named in ``OPSPORING_TRUSTED_KEYS``, and ``extra``."""
    keys = [read_public_key(p) for p in sorted(PACKAGE_KEY_DIR.glob("*.pub"))]
    named = os.environ.get(TRUSTED_KEYS_ENV, "")
    keys += [read_public_key(p) for p in named.split(os.pathsep) if p.strip()]
    if isinstance(extra, str | Path | PublicKey):
        extra = [extra]
    keys += [k if isinstance(k, PublicKey) else read_public_key(k) for k in extra]
    return keys


def generate_keypair(private_path: str | Path, public_path: str | Path | None = None) -> PublicKey:
    """Make a new Ed25519 key pair: the private key (PEM, mode 0600) and the ``.pub`` file.

    Refuses to overwrite an existing private key. ``public_path`` defaults to the private
    key's path with the suffix ``.pub``.
    """
    private_path = Path(private_path)
    public_path = Path(public_path) if public_path is not None else private_path.with_suffix(".pub")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: never overwrite a key that may have signed models; 0600 from the start.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ModelIntegrityError(
            f"private key {private_path}: already exists: expected a new path (a key that "
            "signed models is never overwritten)"
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = key.public_key()
    public_path.write_text(public_key_text(public), encoding="utf-8")
    return PublicKey(_key_id(public), public, str(public_path))


def read_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read a private key written by :func:`generate_keypair`.

    Raises
    ------
    ModelIntegrityError
        The file is missing, readable by other users (POSIX), or not an Ed25519 key.
    """
    path = Path(path)
    data = _read_small(path, "private key")
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ModelIntegrityError(
            f"private key {path}: readable by other users: expected mode 0600 (chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ModelIntegrityError(
            f"private key {path}: not an unencrypted Ed25519 PEM key: expected a file "
            "written by opsporing model keygen"
        )
    return key


def sign_bytes(message: bytes, private_key: str | Path | Ed25519PrivateKey) -> str:
    """The signature file text (JSON) for ``message`` under ``private_key``.

    Ed25519 signatures are deterministic: the same key and message give the same text.
    """
    key = (
        private_key if isinstance(private_key, Ed25519PrivateKey) else read_private_key(private_key)
    )
    doc = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "ed25519",
        "key_id": _key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(message)).decode("ascii"),
    }
    return json.dumps(doc, indent=2) + "\n"


def verify_bytes(message: bytes, signature_text: str | bytes, keys: Iterable[PublicKey]) -> str:
    """Check ``signature_text`` over ``message`` against ``keys``; return the key id.

    Raises
    ------
    ModelIntegrityError
        The signature file is malformed, names no trusted key, or does not verify.
    """
    try:
        doc: Any = json.loads(signature_text)
    except ValueError:
        doc = None
    ok = (
        isinstance(doc, dict)
        and doc.get("format") == SIGNATURE_FORMAT
        and doc.get("algorithm") == "ed25519"
        and isinstance(doc.get("key_id"), str)
        and isinstance(doc.get("signature"), str)
    )
    try:
        raw = base64.b64decode(doc["signature"], validate=True) if ok else b""
    except binascii.Error:
        raw = b""
    if len(raw) != 64:
        raise ModelIntegrityError(
            f"signature: malformed: expected {SIGNATURE_FORMAT} JSON with an ed25519 "
            "signature of 64 bytes in base64"
        )
    known = [k for k in keys if k.key_id == doc["key_id"]]
    if not known:
        raise ModelIntegrityError(
            f"signature: key_id = {str(doc['key_id'])[:32]!r}: expected one of the trusted "
            f"keys {sorted({k.key_id for k in keys})} (pass trusted_keys= or set "
            f"{TRUSTED_KEYS_ENV} to trust your own public key)"
        )
    for key in known:
        try:
            key.key.verify(raw, message)
        except InvalidSignature:
            continue
        return key.key_id
    raise ModelIntegrityError(
        f"signature: does not verify with key {doc['key_id']}: expected a signature over "
        "this exact manifest; the manifest was changed after signing"
    )
