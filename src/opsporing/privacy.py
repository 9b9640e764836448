"""Keeping personal identifiers out: CPR detection and keyed pseudonyms.

opsporing never needs to know who a child is. Applications pass pseudonymous ids;
these helpers make them from the ids a municipality holds, and find anything shaped
like a CPR number (the Danish personal identity number, ``DDMMYY-SSSS``) before it
reaches a table, a log, a report or a model file.

Examples
--------
>>> looks_like_cpr("Barnet 010203-1234 er ...")
True
>>> looks_like_cpr("form D0001, 12 items")
False
>>> p = pseudonymise("010203-1234", key=b"municipality secret")
>>> p.startswith("P") and len(p) == 17 and not looks_like_cpr(p)
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from .errors import DataError, Problem, ResponseValidationError

__all__ = ["CPR_PATTERN", "find_cpr", "looks_like_cpr", "pseudonymise", "reject_cpr"]

#: A CPR number: day 01-31, month 01-12, two-digit year, optional hyphen, four digits; not
#: part of a longer run of digits. The modulus-11 check is not used: since 2007 valid CPR
#: numbers need not pass it, so it would let real numbers through.
CPR_PATTERN = re.compile(r"(?<!\d)(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}-?\d{4}(?!\d)")


def find_cpr(text: str) -> list[str]:
    """Every CPR-shaped substring of ``text``."""
    return CPR_PATTERN.findall(text)


def looks_like_cpr(text: object) -> bool:
    """Whether ``text`` contains anything shaped like a CPR number."""
    return isinstance(text, str) and CPR_PATTERN.search(text) is not None


def reject_cpr(values: Iterable[object], field: str) -> None:
    """Raise if any value looks like a CPR number.

    Raises
    ------
    ResponseValidationError
        Naming the field and the position (the number itself is masked).
    """
    problems = [
        Problem(
            field=field,
            value="<masked>",
            expected="a pseudonymous id, never a CPR number",
            row=i,
            kind="personal_identifier",
        )
        for i, value in enumerate(values)
        if looks_like_cpr(value)
    ]
    if problems:
        raise ResponseValidationError(problems, headline=f"CPR-shaped values in {field}")


def pseudonymise(identifier: str, key: bytes, prefix: str = "P") -> str:
    """A stable pseudonym of ``identifier`` under a secret ``key`` (HMAC-SHA256).

    The same identifier and key always give the same pseudonym, so screenings of one
    child can be linked; without the key the pseudonym cannot be reversed or
    recomputed from a guessed CPR number. Keep the key outside the data.

    Parameters
    ----------
    identifier : str
        The municipality's own id (for example a CPR number).
    key : bytes
        The secret, at least 16 bytes.
    prefix : str
        A letter to start the pseudonym with, so it is never mistaken for a number.
    """
    if not isinstance(key, bytes) or len(key) < 16:
        raise DataError(f"key = {type(key).__name__}: expected a secret of at least 16 bytes")
    if not isinstance(identifier, str) or not identifier:
        raise DataError(f"identifier = {identifier!r}: expected a non-empty string")
    digest = hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
    # Letters only (hex digit -> A..P): a pseudonym can never contain a CPR-shaped run.
    return prefix + digest[:16].translate(_HEX_TO_LETTERS)


_HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "ABCDEFGHIJKLMNOP")
