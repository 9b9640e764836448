"""Hostile YAML and JSON documents, through every reader that parses one.

Each class of bad document (too deep, YAML aliases, a repeated key, too large) is tried
on each reader (instrument files, vocabulary, synthetic config, model manifest) and must
give that reader's typed error with a Problem record, never a RecursionError or a
gigabyte of memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsporing import _safeload
from opsporing.errors import (
    DataError,
    InstrumentDefinitionError,
    ModelIntegrityError,
    OpsporingError,
    VocabularyError,
)
from opsporing.instruments import load_instrument
from opsporing.model import read_manifest
from opsporing.synthetic import SyntheticPopulation
from opsporing.vocabulary import read_vocabulary


def _deep_yaml() -> str:
    return "a: " + "[" * 50_000 + "]" * 50_000 + "\n"


def _deep_json() -> str:
    return '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"


def _laughs_yaml() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


DOCUMENTS: dict[str, tuple[str, str, str]] = {
    # name: (yaml text, json text, expected kind)
    "too_deep": (_deep_yaml(), _deep_json(), "too_deep"),
    "alias": (_laughs_yaml(), "", "alias"),
    "duplicate_key": ("id: a\nversion: 1\nid: b\n", '{"id": "a", "id": "b"}', "duplicate_key"),
}


def _instrument(tmp: Path, text: str, suffix: str) -> Any:
    path = tmp / f"inst{suffix}"
    path.write_text(text, encoding="utf-8")
    return load_instrument(path)


def _vocabulary(tmp: Path, text: str, suffix: str) -> Any:
    path = tmp / f"vocabulary{suffix}"
    path.write_text(text, encoding="utf-8")
    return read_vocabulary(path)


def _manifest(tmp: Path, text: str, suffix: str) -> Any:
    (tmp / "manifest.json").write_text(text, encoding="utf-8")
    return read_manifest(tmp)


def _synthetic_manifest(tmp: Path, text: str, suffix: str) -> Any:
    (tmp / "manifest.json").write_text(text, encoding="utf-8")
    return SyntheticPopulation.load(tmp)


Reader = Callable[[Path, str, str], Any]
YAML_READERS: list[tuple[Reader, type[OpsporingError]]] = [
    (_instrument, InstrumentDefinitionError),
    (_vocabulary, VocabularyError),
]
JSON_READERS: list[tuple[Reader, type[OpsporingError]]] = [
    (_instrument, InstrumentDefinitionError),
    (_manifest, ModelIntegrityError),
    (_synthetic_manifest, DataError),
]


@pytest.mark.parametrize("case", ["too_deep", "alias", "duplicate_key"])
@pytest.mark.parametrize(("reader", "error"), YAML_READERS)
def test_hostile_yaml_is_refused_by_every_yaml_reader(
    tmp_path: Path, case: str, reader: Reader, error: type[OpsporingError]
) -> None:
    text, _, kind = DOCUMENTS[case]
    with pytest.raises(error) as info:
        reader(tmp_path, text, ".yaml")
    assert [p.kind for p in info.value.problems] == [kind]
    assert len(str(info.value)) < 1_000


@pytest.mark.parametrize("case", ["too_deep", "duplicate_key"])
@pytest.mark.parametrize(("reader", "error"), JSON_READERS)
def test_hostile_json_is_refused_by_every_json_reader(
    tmp_path: Path, case: str, reader: Reader, error: type[OpsporingError]
) -> None:
    _, text, kind = DOCUMENTS[case]
    with pytest.raises(error) as info:
        reader(tmp_path, text, ".json")
    message = str(info.value)
    # The model manifest keeps its own wording and quotes the reader's problem.
    assert kind in [p.kind for p in info.value.problems] or "expected" in message
    assert "nested" in message or "each key once" in message
    assert len(message) < 1_000


def test_a_repeated_key_is_named_with_its_line() -> None:
    with pytest.raises(DataError) as info:
        _safeload.parse_tree("a: 1\nb:\n  c: 2\n  c: 3\n", "x.yaml")
    (problem,) = info.value.problems
    assert (problem.field, problem.value, problem.kind) == ("x.yaml: line 4", "c", "duplicate_key")


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    depth = _safeload.MAX_DEPTH
    assert _safeload.parse_tree("[" * depth + "]" * depth, "ok.yaml") is not None
    assert _safeload.parse_tree("[" * depth + "]" * depth, "ok.json") is not None
    with pytest.raises(DataError, match="nested"):
        _safeload.parse_tree("[" * (depth + 1) + "]" * (depth + 1), "deep.json")


def test_an_oversized_file_is_refused_without_reading_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_safeload, "MAX_DOCUMENT_BYTES", 1_000)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 5_000 + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        _safeload.load_tree(path)
    assert info.value.problems[0].kind == "too_large"
    assert "at most 1,000 bytes" in str(info.value)


def test_an_oversized_instrument_file_is_an_instrument_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_safeload, "MAX_DOCUMENT_BYTES", 1_000)
    with pytest.raises(InstrumentDefinitionError) as info:
        _instrument(tmp_path, json.dumps({"id": "x" * 5_000}), ".json")
    assert info.value.problems[0].kind == "too_large"


def test_the_shipped_documents_pass_the_safe_reader() -> None:
    from opsporing.instruments import list_instruments
    from opsporing.vocabulary import load_vocabulary

    assert len(list_instruments()) >= 3
    assert load_vocabulary().steps
