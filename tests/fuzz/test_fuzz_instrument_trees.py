"""Instrument trees (build_instrument): random mutations of the shipped, valid ones.

Every mutated tree must either load or raise InstrumentDefinitionError: never
another exception, and never a half-built instrument.
"""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from opsporing.errors import InstrumentDefinitionError
from opsporing.instruments import Instrument, build_instrument, shipped_instrument_paths

from ._mutate import mutated
from .conftest import budget, count

TREES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in shipped_instrument_paths()]


@budget(400)
@given(data=st.data())
def test_mutated_instrument_trees_load_or_raise_an_instrument_error(data):
    count("build_instrument (mutated trees)")
    tree = data.draw(mutated(data.draw(st.sampled_from(TREES))))
    try:
        inst = build_instrument(tree, "fuzz")
    except InstrumentDefinitionError as exc:
        assert exc.problems, "an error must say what is wrong"
        assert all(p.field and p.expected for p in exc.problems)
        return
    assert isinstance(inst, Instrument)
