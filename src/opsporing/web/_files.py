"""Files only the server's own user may read: the database, its keys and its head.

Everything the web form keeps beside its database is created with mode 0600 from the first
byte (``os.open`` with the mode, never ``open`` and ``chmod`` after), so no other account on
the machine can read children's data or a key, not even for a moment. Secrets are never in
the repository: they are made on first start, beside the database they protect.

The files beside ``audit.sqlite``:

``audit.sqlite.audit-key``    32 random bytes (hex): the HMAC key of the audit chain
``audit.sqlite.session-key``  32 random bytes (hex): signs the session cookies
``audit.sqlite.head``         the last known head of the audit chain (JSON)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from ..errors import StorageError

__all__ = [
    "PRIVATE_MODE",
    "beside",
    "create_private",
    "read_secret",
    "secret_file",
    "tighten",
    "write_private_atomically",
]

#: Read and write for the owner only.
PRIVATE_MODE = 0o600
#: Bytes of randomness in every key (HMAC-SHA256 and the session signer want at least 32).
KEY_BYTES = 32


def beside(db_path: Path, suffix: str) -> Path:
    """The file ``<db_path>.<suffix>`` in the database's folder.

    Examples
    --------
    >>> beside(Path("/srv/audit.sqlite"), "head").as_posix()
    '/srv/audit.sqlite.head'
    """
    return db_path.with_name(f"{db_path.name}.{suffix}")


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; ``True`` when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def tighten(path: Path) -> None:
    """Take every permission of group and others away from an existing file."""
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)


def secret_file(path: Path, *, create: bool) -> bytes:
    """The key stored in ``path``; with ``create``, a new random one when there is none."""
    if not path.exists():
        if not create:
            raise StorageError(f"the key file {path} is missing")
        text = secrets.token_hex(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
        except FileExistsError:
            return read_secret(path)  # another process made it a moment ago
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
    return read_secret(path)


def read_secret(path: Path) -> bytes:
    """A key file's 32 or more bytes; refuses a file that others can read or a short key."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"the key file {path} cannot be read: {exc}") from None
    if mode & 0o077:
        raise StorageError(
            f"the key file {path} has mode {mode:04o}: expected 0600 (readable by its owner "
            f"only); run chmod 600 {path}"
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise StorageError(f"the key file {path} holds no key of {KEY_BYTES} random bytes (hex)")
    return key


def write_private_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a reader sees the old or the new file)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
