"""SQL shared by the audit log's schemas (no imports, so every schema module can use it)."""

from __future__ import annotations

__all__ = ["append_only"]


def append_only(*tables: str) -> str:
    """Triggers that refuse every UPDATE and DELETE on ``tables``: the rows are append-only.

    >>> print(append_only("users").splitlines()[0])
    CREATE TRIGGER IF NOT EXISTS users_append_only_u BEFORE UPDATE ON users
    """
    return "".join(
        f"""CREATE TRIGGER IF NOT EXISTS {t}_append_only_u BEFORE UPDATE ON {t}
    BEGIN SELECT RAISE(ABORT, '{t} is an append-only audit log'); END;
CREATE TRIGGER IF NOT EXISTS {t}_append_only_d BEFORE DELETE ON {t}
    BEGIN SELECT RAISE(ABORT, '{t} is an append-only audit log'); END;
"""
        for t in tables
    )
