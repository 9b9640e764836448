"""The one reader of YAML and JSON documents: instrument files, the vocabulary, manifests.

Every file opsporing parses as a tree comes through here, so every one is refused the
same way when it is hostile:

* larger than :data:`MAX_DOCUMENT_BYTES` (read no further than the limit);
* nested deeper than :data:`MAX_DEPTH` (instead of a ``RecursionError`` from the parser);
* YAML aliases (``*name``): "billion laughs" expands a few lines into gigabytes, and no
  opsporing file needs them;
* a key repeated in one mapping (YAML and JSON alike keep the *last* silently otherwise).

Each refusal is a :class:`~opsporing.errors.DataError` carrying one
:class:`~opsporing.errors.Problem`; callers re-raise it as their own kind of error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .errors import DataError, Problem

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "load_tree",
    "parse_tree",
    "read_limited",
    "read_text_limited",
]

#: Deepest nesting of mappings and lists accepted (opsporing's own files use at most 6).
MAX_DEPTH = 32

#: Largest YAML/JSON document accepted (the shipped vocabulary is about 25 kB).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _StrictLoader(_Base):  # type: ignore[valid-type, misc]
    """PyYAML's safe loader that refuses a key repeated within one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: SafeConstructor reports it just below
            if repeated:
                raise _Refused(
                    Problem(
                        f"line {key_node.start_mark.line + 1}",
                        key,
                        "each key once per mapping (a repeated key would silently win)",
                        kind="duplicate_key",
                    )
                )
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_limited(path: str | Path, *, limit: int | None = None) -> bytes:
    """The bytes of ``path``, refusing a file larger than ``limit`` without reading it whole.

    ``limit`` defaults to :data:`MAX_DOCUMENT_BYTES`.

    Raises
    ------
    DataError
        The file is missing, unreadable or too large.
    """
    path = Path(path)
    limit = MAX_DOCUMENT_BYTES if limit is None else limit
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise DataError(
            Problem(str(path), "(file)", f"a readable file ({exc.strerror or exc})", kind="io")
        ) from None
    if len(data) > limit:
        raise DataError(
            Problem(
                str(path),
                f"more than {limit:,} bytes",
                f"a file of at most {limit:,} bytes",
                kind="too_large",
            )
        )
    return data


def _check_yaml_events(text: str) -> None:
    # The event stream is produced without recursion, so depth and aliases are
    # checked before the (recursive) composer ever sees the document.
    depth = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise _Refused(
                Problem(
                    f"line {line}",
                    f"*{event.anchor}",
                    "no YAML aliases (write the value out instead)",
                    kind="alias",
                )
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise _Refused(
                    Problem(
                        f"line {line}",
                        f"nesting depth {depth}",
                        f"at most {MAX_DEPTH} nested mappings or lists",
                        kind="too_deep",
                    )
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(
                Problem(
                    "(key)",
                    key,
                    "each key once per object (a repeated key would silently win)",
                    kind="duplicate_key",
                )
            )
        out[key] = value
    return out


def _depth(tree: Any) -> int:
    """Nesting depth of a parsed tree, without recursion."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            level += 1
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level) for child in children)
    return deepest


def parse_tree(text: str, source: str, *, fmt: str | None = None) -> Any:
    """Parse a YAML or JSON document safely (see the module docstring for what is refused).

    Parameters
    ----------
    text : str
        The document.
    source : str
        Its name in messages; a name ending in ``.json`` selects JSON unless ``fmt`` is given.
    fmt : {"yaml", "json"}, optional

    Raises
    ------
    DataError
        With one :class:`~opsporing.errors.Problem` saying what was refused and where.

    Examples
    --------
    >>> parse_tree("a: 1\\nb: [2, 3]", "x.yaml")
    {'a': 1, 'b': [2, 3]}
    >>> parse_tree("a: 1\\na: 2", "x.yaml")
    Traceback (most recent call last):
    ...
    opsporing.errors.DataError: x.yaml: line 2 = 'a': expected each key once per mapping ...
    """
    fmt = fmt or ("json" if source.endswith(".json") else "yaml")
    if len(text) > MAX_DOCUMENT_BYTES:
        raise DataError(
            Problem(
                source,
                f"{len(text):,} characters",
                f"a document of at most {MAX_DOCUMENT_BYTES:,} characters",
                kind="too_large",
            )
        )
    try:
        if fmt == "json":
            tree = json.loads(text, object_pairs_hook=_no_repeated_keys)
            if _depth(tree) > MAX_DEPTH:
                raise RecursionError
            return tree
        _check_yaml_events(text)
        return yaml.load(text, Loader=_StrictLoader)
    except _Refused as exc:
        p = exc.problem
        raise DataError(Problem(f"{source}: {p.field}", p.value, p.expected, kind=p.kind)) from None
    except RecursionError:
        raise DataError(
            Problem(
                source,
                "(deeply nested)",
                f"at most {MAX_DEPTH} nested objects or lists",
                kind="too_deep",
            )
        ) from None
    except yaml.YAMLError as exc:
        # libyaml >= 0.2.5 stops at 1,000 levels itself, while scanning ahead of our check.
        deep = "maximum nesting depth" in str(exc)
        raise DataError(
            Problem(
                source,
                "(deeply nested)" if deep else "(syntax)",
                f"at most {MAX_DEPTH} nested mappings or lists" if deep else f"valid YAML ({exc})",
                kind="too_deep" if deep else "syntax",
            )
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            Problem(source, "(syntax)", f"valid {fmt.upper()} ({exc})", kind="syntax")
        ) from None


def read_text_limited(
    path: str | Path, *, limit: int | None = None, encoding: str = "utf-8"
) -> str:
    """A UTF-8 file's text, read no further than ``limit`` (see :func:`read_limited`).

    ``encoding="utf-8-sig"`` also skips a byte-order mark. Not UTF-8: a
    :class:`~opsporing.errors.DataError` of kind ``encoding`` naming the file.
    """
    data = read_limited(path, limit=limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            Problem(str(path), "(file)", f"UTF-8 text ({exc.reason})", kind="encoding")
        ) from None


def load_tree(path: str | Path, *, fmt: str | None = None) -> Any:
    """Read and parse a YAML or JSON file (UTF-8, size-limited); see :func:`parse_tree`."""
    path = Path(path)
    text = read_text_limited(path)
    return parse_tree(text, str(path), fmt=fmt or ("json" if path.suffix == ".json" else "yaml"))
