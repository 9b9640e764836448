"""Random mutations of valid JSON/YAML-like trees (shared by the fuzz tests)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from .conftest import GARBAGE


def paths(node: Any, prefix: tuple[Any, ...] = (), limit: int = 4000) -> list[tuple[Any, ...]]:
    """Every path into a tree of dicts and lists (the root is ``()``)."""
    out = [prefix]
    stack = [(node, prefix)]
    while stack and len(out) < limit:
        cur, pre = stack.pop()
        children = (
            list(cur.items()) if isinstance(cur, dict) else list(enumerate(cur))
            if isinstance(cur, list) else []
        )  # fmt: skip
        for k, v in children:
            out.append((*pre, k))
            stack.append((v, (*pre, k)))
    return out


def mutate(tree: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    """A copy of ``tree`` with the node at ``path`` replaced, deleted, duplicated or re-keyed."""
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
    elif action == "rekey" and isinstance(parent, dict):
        try:
            parent[value] = parent.pop(last)
        except TypeError:  # an unhashable key: replace the value instead
            parent[last] = value
    else:
        parent[last] = value
    return tree


@st.composite
def mutated(draw: st.DrawFn, tree: Any, max_mutations: int = 3) -> Any:
    """``tree`` after 1 to ``max_mutations`` random mutations."""
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(paths(tree)))
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "rekey"]))
        tree = mutate(tree, path, action, draw(GARBAGE))
    return tree
