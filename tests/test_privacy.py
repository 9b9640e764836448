from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsporing.errors import DataError, ResponseValidationError
from opsporing.privacy import (
    CPR_MASK,
    find_cpr,
    looks_like_cpr,
    mask_cpr,
    pseudonymise,
    reject_cpr,
)

# 32 bytes from secrets.token_bytes, written out so the pseudonyms are the same every run.
KEY = bytes.fromhex("9f1c6e2a4b7d08e35a1f9c2d7e6b4a0813f5c9e27d4b6a1c0e8f3d5b7a9c2e41")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("010203-1234", True),
        ("0102031234", True),
        ("cpr: 311299-0001.", True),
        ("320199-1234", False),  # day 32
        ("011399-1234", False),  # month 13
        ("12345678901", False),  # an 11-digit run is not a CPR number
        ("D0001", False),
        ("", False),
    ],
)
def test_cpr_detection(text, found):
    assert looks_like_cpr(text) is found
    assert bool(find_cpr(text)) is found


def test_pseudonyms_are_stable_keyed_and_never_cpr_shaped():
    a = pseudonymise("010203-1234", KEY)
    assert a == pseudonymise("010203-1234", KEY)
    assert a != pseudonymise("010203-1235", KEY)
    assert a != pseudonymise("010203-1234", KEY + b"x")
    assert not any(ch.isdigit() for ch in a)


@given(st.text(min_size=1, max_size=20))
def test_no_pseudonym_looks_like_cpr(identifier):
    assert not looks_like_cpr(pseudonymise(identifier, KEY))


@pytest.mark.parametrize(("identifier", "key"), [("x", b"short"), ("", KEY), (3, KEY), ("x", "str")])
def test_bad_pseudonymise_arguments(identifier, key):
    with pytest.raises(DataError):
        pseudonymise(identifier, key)


def test_reject_cpr_masks_the_number():
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(["D1", "010203-1234"], "form_id")
    assert info.value.problems[0].row == 1
    assert "010203" not in str(info.value)


# --- one CPR detector: every separator, a real date, everywhere ------------------------------

CPR_VARIANTS = [
    "010203-1234",
    "0102031234",
    "010203 1234",
    "010203.1234",
    "010203_1234",
    "01.02.03-1234",
    "01 02 03 1234",
    "010203\u20131234",  # en dash
    "010203\u20141234",  # em dash
    "010203\u22121234",  # minus sign
    "010203\u00a01234",  # no-break space
    "010203 - 1234",
    "01/02/03-1234",
    "290200-1234",  # 29 February 2000
    "\uff10\uff11\uff10\uff12\uff10\uff13\uff11\uff12\uff13\uff14",  # full-width digits
]


@pytest.mark.parametrize("cpr", CPR_VARIANTS)
def test_every_separator_is_found_masked_and_rejected(cpr):
    text = f"Barnet ({cpr}) kom i dag."
    assert looks_like_cpr(text)
    assert find_cpr(text) == [cpr]
    assert mask_cpr(text) == f"Barnet ({CPR_MASK}) kom i dag."
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(["S1", text], "reason")
    assert info.value.problems[0].row == 1
    assert cpr not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "310203-1234",  # 31 February
        "290201-1234",  # 29 February 2001
        "000203-1234",  # day 0
        "2026-11-23",  # an ISO date
        "12 34 56 78",  # a phone number (8 digits)
        "0102031234567",  # a longer run of digits
        "D-0001.12",
        "P" + "A" * 16,
    ],
)
def test_not_a_cpr_number(text):
    assert not looks_like_cpr(text)
    assert mask_cpr(text) == text


def test_a_failed_candidate_does_not_hide_a_later_cpr_number():
    # "99 01 02 03" is no date; the real number starts three characters later.
    assert find_cpr("99 010203-1234") == ["010203-1234"]
    assert mask_cpr("a 010203-1234 b 020304.5678 c") == f"a {CPR_MASK} b {CPR_MASK} c"


@pytest.mark.parametrize("value", [102031234, 102031234.0, 1102031234])
def test_numbers_read_from_a_csv_count(value):
    # A CSV column of CPR numbers without dashes is read as integers (the leading 0 lost).
    assert looks_like_cpr(value)


def test_reject_cpr_names_every_row_by_label():
    import pandas as pd

    ids = pd.Series(["S1", "010203.1234", "S3", "01.02.03-1234"], index=[10, 11, 12, 13])
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(ids, "form_id")
    assert [p.row for p in info.value.problems] == [11, 13]
    assert "1234" not in str(info.value)


@given(st.text(max_size=40))
def test_masked_text_never_holds_a_cpr_number(text):
    assert not looks_like_cpr(mask_cpr(text))


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (b"municipality secret", "19 bytes"),
        (bytes(32), "repeated"),
        (b"\x00" * 64, "repeated"),
        (b"ab" * 16, "repeated"),
        (bytes(range(16)) * 2, "repeated"),
        (b"\x00" * 31 + b"\x01", "entropy"),
        (b"aaaaaaaabbbbbbbbccccccccdddddddd", "entropy"),
    ],
)
def test_pseudonymise_refuses_weak_keys(key, why):
    with pytest.raises(DataError, match=why) as info:
        pseudonymise("010203-1234", key)
    assert "not shown" in str(info.value)


def test_pseudonymise_refuses_the_documented_example_key(monkeypatch):
    import opsporing.privacy as privacy

    example = bytes.fromhex("5d2e8a71c4b9f0361e7a2c5b8d4f9e03a6c1b7e2d9f4a8c3b6e1d7f2a9c4e8b5")
    monkeypatch.setattr(privacy, "_EXAMPLE_KEYS", privacy._EXAMPLE_KEYS | {example})
    with pytest.raises(DataError, match="example key"):
        pseudonymise("x", example)
    assert pseudonymise("x", KEY)  # a random key of the same length is fine


def test_error_messages_mask_cpr_numbers_in_every_subclass():
    from opsporing.errors import DecisionError, ModelIntegrityError, Problem, UnknownCodeError

    errors = [
        DataError("form_id = '010203.1234': expected a pseudonymous id"),
        ModelIntegrityError("x 01.02.03-1234"),
        DecisionError("010203_1234"),
        UnknownCodeError("step", "0102031234"),
        ResponseValidationError([Problem("form_id", "010203 1234", "an id")]),
    ]
    for exc in errors:
        assert not looks_like_cpr(str(exc)), str(exc)
        assert not looks_like_cpr(repr(exc)), repr(exc)
        assert CPR_MASK in str(exc)
