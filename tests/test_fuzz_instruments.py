"""Bad-input campaign for instrument files: random mutations of a valid file.

Every mutated tree must either load or raise InstrumentDefinitionError: never
another exception, and never a half-built instrument.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsporing.errors import InstrumentDefinitionError
from opsporing.instruments import Instrument, build_instrument, shipped_instrument_paths

TREES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in shipped_instrument_paths()]

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(tree: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    tree = copy.deepcopy(tree)
    if not path:
        return value
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = value
    return tree


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_instrument_files_load_or_raise_an_instrument_error(data):
    tree = data.draw(st.sampled_from(TREES))
    mutations = data.draw(st.integers(min_value=1, max_value=3))
    for _ in range(mutations):
        path = data.draw(st.sampled_from(_paths(tree)))
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        tree = _mutate(tree, path, action, data.draw(junk))
    try:
        inst = build_instrument(tree, "fuzz")
    except InstrumentDefinitionError as exc:
        assert exc.problems, "an error must say what is wrong"
        assert all(p.field and p.expected for p in exc.problems)
        return
    assert isinstance(inst, Instrument)
