"""read_vocabulary: mutated vocabulary files and random bytes end in a VocabularyError."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.errors import VocabularyError
from opsporing.vocabulary import Vocabulary, read_vocabulary

from ._mutate import mutate, mutated
from .conftest import budget, count

SHIPPED = (
    resources.files("opsporing.vocabulary").joinpath("data/vocabulary.yaml").read_text("utf-8")
)
TREE = yaml.safe_load(SHIPPED)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vocabulary")


def _read(path: Path) -> Vocabulary | None:
    count("vocabulary.read_vocabulary")
    try:
        voc = read_vocabulary(path)
    except VocabularyError as exc:
        assert str(exc)
        return None
    assert isinstance(voc, Vocabulary)
    return voc


def test_the_shipped_vocabulary_reads(folder: Path) -> None:
    path = folder / "ok.yaml"
    path.write_text(SHIPPED, encoding="utf-8")
    voc = _read(path)
    assert voc is not None and len(voc.steps) == 7


CONCERN = next(iter(TREE["concerns"]))
# Regressions (found by this test, fixed in opsporing/vocabulary/_vocabulary.py): each raised
# TypeError or ValueError instead of a VocabularyError.
REGRESSIONS = [
    mutate(TREE, ("concerns", CONCERN, "area"), "replace", ["social"]),  # unhashable choice
    mutate(TREE, ("steps", 3), "rekey", "x"),  # sorting mixed int/str step numbers
    mutate(TREE, ("bands", "rød", "rank"), "replace", "high"),  # int("high")
    mutate(TREE, ("municipal_assessment_from_step",), "replace", "3"),  # 3 >= "3"
    mutate(TREE, ("areas",), "replace", {1: {"da": "x", "en": "y"}}),  # ", ".join of ints
]


@budget(200)
@given(tree=mutated(TREE))
@example(tree=REGRESSIONS[0])
@example(tree=REGRESSIONS[1])
@example(tree=REGRESSIONS[2])
@example(tree=REGRESSIONS[3])
@example(tree=REGRESSIONS[4])
def test_mutated_vocabulary_reads_or_raises_a_vocabulary_error(folder: Path, tree: Any) -> None:
    path = folder / "mutated.yaml"
    try:
        text = yaml.safe_dump(tree, allow_unicode=True)
    except yaml.YAMLError:
        return  # not representable as YAML (e.g. complex numbers): nothing to read
    path.write_text(text, encoding="utf-8")
    _read(path)


@budget(150)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(SHIPPED.encode())).map(lambda n: SHIPPED.encode()[:n]),
        st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")),
    )
)
def test_random_and_truncated_files_raise_a_vocabulary_error(folder: Path, data: bytes) -> None:
    path = folder / "bytes.yaml"
    path.write_bytes(data)
    _read(path)


def test_a_missing_file_or_a_folder_is_a_vocabulary_error(folder: Path) -> None:
    for path in (folder / "nope.yaml", folder):
        with pytest.raises(VocabularyError):
            read_vocabulary(path)
