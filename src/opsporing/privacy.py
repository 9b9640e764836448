"""Keeping personal identifiers out: the one CPR detector, and keyed pseudonyms.

opsporing never needs to know who a child is. Applications pass pseudonymous ids;
these helpers make them from the ids a municipality holds, and find anything shaped
like a CPR number (the Danish personal identity number, ``DDMMYY-SSSS``) before it
reaches a table, a log, a report, an error message or a model file. Every part of the
library that looks for CPR numbers calls this module (OWASP ASVS V8.3): one rule.

A CPR number is found whatever separates its parts: nothing, a hyphen, a space, a dot,
an underscore, a slash, an en or em dash or a minus sign (up to three of them between
two parts, so ``01.02.03 - 1234`` counts), as long as the first six digits are a real
date (day and month; 29 February only in years divisible by four). It is never part
of a longer run of digits. The modulus-11 check is not used: since 2007 valid CPR
numbers need not pass it, so it would let real numbers through.

Examples
--------
>>> looks_like_cpr("Barnet 010203-1234 er ...")
True
>>> [looks_like_cpr(t) for t in ("010203.1234", "010203_1234", "01.02.03-1234", "0102031234")]
[True, True, True, True]
>>> looks_like_cpr("form D0001, 12 items"), looks_like_cpr("310203-1234")  # 31 February
(False, False)
>>> mask_cpr("Mor ringede om 010203 1234 i går.")
'Mor ringede om [CPR] i går.'
>>> import secrets
>>> p = pseudonymise("010203-1234", key=secrets.token_bytes(32))
>>> p.startswith("P") and len(p) == 17 and not looks_like_cpr(p)
True
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import Counter
from collections.abc import Iterable

from .errors import DataError, Problem, ResponseValidationError

__all__ = [
    "CPR_MASK",
    "CPR_PATTERN",
    "PSEUDONYM_PATTERN",
    "check_secret_key",
    "find_cpr",
    "looks_like_cpr",
    "mask_cpr",
    "pseudonymise",
    "reject_cpr",
    "valid_pseudonymous_id",
]

#: What a CPR number is replaced with in messages and output.
CPR_MASK = "[CPR]"

_SEP = r"[\s.\-_/\u2010-\u2015\u2212]{0,3}"
#: A CPR *candidate*: DD MM YY SSSS with any of the separators between the parts, not
#: inside a longer run of digits. :func:`find_cpr` keeps only those with a real date.
CPR_PATTERN = re.compile(rf"(?<!\d)(\d\d){_SEP}(\d\d){_SEP}(\d\d){_SEP}\d\d{_SEP}\d\d(?!\d)")

_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_date(day: str, month: str, year: str) -> bool:
    d, m, y = int(day), int(month), int(year)  # int() reads any Unicode decimal digits
    if not (1 <= m <= 12 and 1 <= d <= _DAYS[m - 1]):
        return False
    return not (m == 2 and d == 29 and y % 4 != 0)


def _spans(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    while (m := CPR_PATTERN.search(text, pos)) is not None:
        if _real_date(*m.groups()):
            spans.append(m.span())
            pos = m.end()
        else:
            pos = m.start() + 1  # a later start may still be a CPR number
    return spans


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # A CSV column of CPR numbers without a dash is read as integers: 0102031234 -> 102031234.
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    digits = str(int(value))
    return digits.zfill(10) if len(digits) == 9 else digits


def find_cpr(text: object) -> list[str]:
    """Every CPR-shaped substring of ``text`` (as written, separators included).

    Numbers count too: an integer column read from a CSV has lost its leading zero.
    """
    value = _as_text(text)
    return [] if value is None else [value[a:b] for a, b in _spans(value)]


def looks_like_cpr(text: object) -> bool:
    """Whether ``text`` (a string, or a number read from a table) holds a CPR number."""
    return bool(find_cpr(text))


#: A pseudonymous id (a form, a child, a user): 1-64 letters, digits, ``.-_``, starting with
#: a letter or digit. The web form, the JSON API and the follow-up records all check this one.
PSEUDONYM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)


def valid_pseudonymous_id(text: object) -> bool:
    """Whether ``text`` is a pseudonymous id: 1-64 letters, digits, ``.-_``, no CPR number.

    Examples
    --------
    >>> valid_pseudonymous_id("P-0042"), valid_pseudonymous_id("0102031234")
    (True, False)
    """
    return isinstance(text, str) and bool(_PSEUDONYM.fullmatch(text)) and not looks_like_cpr(text)


def mask_cpr(text: str) -> str:
    """``text`` with every CPR number replaced by :data:`CPR_MASK`."""
    if not isinstance(text, str):
        return text
    out, last = [], 0
    for a, b in _spans(text):
        out += [text[last:a], CPR_MASK]
        last = b
    return "".join([*out, text[last:]])


def reject_cpr(values: Iterable[object], field: str) -> None:
    """Raise if any value looks like a CPR number; name every such row.

    ``values`` may be a pandas Series: its index labels name the rows.

    Raises
    ------
    ResponseValidationError
        Naming the field and each row (the number itself is masked).
    """
    items = values.items() if hasattr(values, "items") else enumerate(values)
    problems = [
        Problem(
            field=field,
            value=CPR_MASK,
            expected="a pseudonymous id or text without CPR numbers",
            row=CPR_MASK if looks_like_cpr(row) else row,
            kind="personal_identifier",
        )
        for row, value in items
        if looks_like_cpr(value)
    ]
    if problems:
        raise ResponseValidationError(problems, headline=f"CPR-shaped values in {field}")


#: Keys that appeared as examples in this library's documentation: never secrets.
_EXAMPLE_KEYS = frozenset({b"municipality secret", b"0123456789abcdef-test-key"})
#: Fewest bytes of a secret key, and least entropy (bits, by byte frequency) it must show.
MIN_KEY_BYTES = 32
_MIN_KEY_BITS = 128


def check_secret_key(key: object, what: str = "key") -> bytes:
    """Return ``key`` if it can serve as a secret; raise :class:`DataError` otherwise.

    A secret is at least 32 bytes, is not an example from the documentation, is not one
    byte or a short block repeated, and carries at least 128 bits by its byte frequencies
    (all zeros carries none). Make one with ``secrets.token_bytes(32)``. The key itself
    is never shown in the message.
    """
    if not isinstance(key, bytes):
        raise DataError(f"{what} = {type(key).__name__}: expected bytes (secrets.token_bytes(32))")
    counts = Counter(key)
    bits = -sum(c * math.log2(c / len(key)) for c in counts.values()) if key else 0.0
    period = next(
        (
            p
            for p in range(1, len(key) // 2 + 1)
            if key == (key[:p] * (len(key) // p + 1))[: len(key)]
        ),
        None,
    )
    why = (
        f"{len(key)} bytes"
        if len(key) < MIN_KEY_BYTES
        else "the documentation's example key"
        if key in _EXAMPLE_KEYS
        else f"a block of {period} byte(s) repeated"
        if period is not None
        else f"about {bits:.0f} bits of entropy"
        if bits < _MIN_KEY_BITS
        else None
    )
    if why is not None:
        raise DataError(
            f"{what} = (secret, not shown; {why}): expected at least {MIN_KEY_BYTES} random "
            "bytes, e.g. secrets.token_bytes(32), kept outside the data"
        )
    return key


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
        The secret: at least 32 random bytes (see :func:`check_secret_key`).
    prefix : str
        A letter to start the pseudonym with, so it is never mistaken for a number.
    """
    check_secret_key(key)
    if not isinstance(identifier, str) or not identifier:
        raise DataError(f"identifier = {identifier!r}: expected a non-empty string")
    digest = hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
    # Letters only (hex digit -> A..P): a pseudonym can never contain a CPR-shaped run.
    return prefix + digest[:16].translate(_HEX_TO_LETTERS)


_HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "ABCDEFGHIJKLMNOP")
