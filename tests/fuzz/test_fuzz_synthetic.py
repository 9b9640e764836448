"""Synthetic data: garbage knobs for SyntheticConfig, damaged population folders for load."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.errors import DataError
from opsporing.synthetic import SyntheticConfig, SyntheticPopulation, generate

from ._mutate import mutated
from .conftest import GARBAGE, budget, count

FIELDS = [f.name for f in dataclasses.fields(SyntheticConfig)]
DEFAULTS = SyntheticConfig().to_dict()


def _config(fn: Any, *args: Any, **kwargs: Any) -> SyntheticConfig | None:
    try:
        cfg = fn(*args, **kwargs)
    except DataError as exc:
        assert str(exc).startswith("SyntheticConfig."), str(exc)
        return None
    assert isinstance(cfg, SyntheticConfig)
    assert SyntheticConfig.from_dict(cfg.to_dict()) == cfg  # a config that was made round-trips
    return cfg


@budget(300)
@given(knobs=st.dictionaries(st.sampled_from(FIELDS), GARBAGE, max_size=4))
@example(knobs={"n_children": 10**30})
@example(knobs={"missing_rate": float("nan")})
@example(knobs={"group_shares": [0.5, 0.5]})
def test_garbage_knobs_make_a_config_or_raise_a_data_error(knobs: dict[str, Any]) -> None:
    count("synthetic.SyntheticConfig")
    _config(SyntheticConfig, **knobs)


@budget(300)
@given(
    data=st.one_of(
        mutated(DEFAULTS, max_mutations=3),
        GARBAGE,
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), GARBAGE, max_size=3),
    )
)
@example(data={"n_children": 10, 1: 2, "zz": 3})  # regression: sorting int and str keys
@example(data={1: 2})  # regression: cls(**{1: 2}) is a TypeError
def test_from_dict_of_garbage_makes_a_config_or_raises_a_data_error(data: Any) -> None:
    count("synthetic.SyntheticConfig.from_dict")
    _config(SyntheticConfig.from_dict, data)


# --- SyntheticPopulation.load -------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small population written once; each example damages a copy."""
    out = tmp_path_factory.mktemp("population") / "good"
    generate(SyntheticConfig(n_children=60, seed=3), progress=False).save(out)
    return out


FILES = [
    "children.parquet", "forms_dagtilbud.parquet", "forms_skole.parquet",
    "forms_parent.parquet", "forms_child.parquet", "raters.parquet", "waves.parquet",
    "config.json", "manifest.json",
]  # fmt: skip


def _rehash(folder: Path) -> None:
    """Rewrite the manifest's hashes to match the files (a damaged but consistent folder)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest["files"].items():
        entry["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@st.composite
def damage(draw: st.DrawFn, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "random", "empty"]))
    if kind == "empty" or not original:
        return b""
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


def _load(folder: Path) -> None:
    count("synthetic.SyntheticPopulation.load")
    try:
        pop = SyntheticPopulation.load(folder)
    except DataError as exc:
        assert str(exc)
        return
    assert isinstance(pop, SyntheticPopulation)


@budget(120)
@given(data=st.data(), name=st.sampled_from(FILES), rehash=st.booleans())
def test_damaged_population_files_load_or_raise_a_data_error(
    saved: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, name: str,
    rehash: bool,
) -> None:  # fmt: skip
    folder = saved.parent / "damaged"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved, folder)
    path = folder / name
    path.write_bytes(data.draw(damage(path.read_bytes())))
    if rehash and name != "manifest.json":
        _rehash(folder)
    _load(folder)


MANIFEST_PATHS = ["manifest.json", "config.json"]


@budget(120)
@given(data=st.data(), name=st.sampled_from(MANIFEST_PATHS))
def test_mutated_manifest_and_config_load_or_raise_a_data_error(
    saved: Path, data: st.DataObject, name: str
) -> None:
    folder = saved.parent / "mutated"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved, folder)
    path = folder / name
    tree = data.draw(mutated(json.loads(path.read_text(encoding="utf-8")), max_mutations=2))
    path.write_text(json.dumps(tree, default=repr, skipkeys=True), encoding="utf-8")
    if name == "config.json":
        _rehash(folder)
    _load(folder)
