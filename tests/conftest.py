from __future__ import annotations

from pathlib import Path

import pytest

from opsporing.instruments import Instrument, load_instrument

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def mini() -> Instrument:
    """The hand-computable test instrument (tests/data/mini_instrument.yaml)."""
    return load_instrument(DATA / "mini_instrument.yaml")


@pytest.fixture(scope="session")
def mini_path() -> Path:
    return DATA / "mini_instrument.yaml"
