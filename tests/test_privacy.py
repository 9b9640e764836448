from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsporing.errors import DataError, ResponseValidationError
from opsporing.privacy import find_cpr, looks_like_cpr, pseudonymise, reject_cpr

KEY = b"0123456789abcdef-test-key"


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


@pytest.mark.parametrize(("identifier", "key"), [("x", b"short"), ("", KEY), (3, KEY)])
def test_bad_pseudonymise_arguments(identifier, key):
    with pytest.raises(DataError):
        pseudonymise(identifier, key)


def test_reject_cpr_masks_the_number():
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(["D1", "010203-1234"], "form_id")
    assert info.value.problems[0].row == 1
    assert "010203" not in str(info.value)
