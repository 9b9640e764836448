"""Model files: random, truncated and bit-flipped copies of the shipped model, mutated manifests.

Each load ends in a ModelIntegrityError (never a pickle, EOF, zlib or ValueError), and
nothing is unpickled before the file's hash matches its manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import resource
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import joblib
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.errors import ModelIntegrityError
from opsporing.model import load_model

from ._mutate import mutated
from .conftest import ROOT, budget, count

MODELS = ROOT / "models"
MODEL_BYTES = (MODELS / "step_suggester.joblib").read_bytes()
MANIFEST = json.loads((MODELS / "manifest.json").read_text(encoding="utf-8"))
NAME = "step_suggester.joblib"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("model")
    shutil.copy(MODELS / "manifest.json", d / "manifest.json")
    return d


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """Random bytes, or the shipped model truncated, bit-flipped, spliced or padded."""
    kind = draw(st.sampled_from(["random", "truncate", "flip", "splice", "pad"]))
    if kind == "random":
        return draw(st.binary(max_size=512))
    if kind == "truncate":
        return MODEL_BYTES[: draw(st.integers(0, len(MODEL_BYTES) - 1))]
    if kind == "pad":
        return MODEL_BYTES + draw(st.binary(min_size=1, max_size=16))
    data = bytearray(MODEL_BYTES)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            data[at : at + 8] = draw(st.binary(min_size=1, max_size=8))
    if data == MODEL_BYTES:  # a splice that wrote the same bytes back
        data[-1] ^= 1
    return bytes(data)


def _write(folder: Path, blob: bytes, manifest: Any) -> Path:
    path = folder / NAME
    path.write_bytes(blob)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest, allow_nan=True, default=repr, skipkeys=True)
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def _memory_cap(extra_bytes: int = 2 << 30) -> Iterator[None]:
    """Cap the address space at what the process uses now plus ``extra_bytes``.

    A corrupt model file *with a manifest rewritten to match it* can hold an array header
    that asks for tens of gigabytes: unbounded, joblib.load is killed by the OOM killer
    (found by this campaign; see the report). Under the cap it is a MemoryError, which
    load_model turns into a ModelIntegrityError.
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _refused(path: Path, *, may_unpickle: bool) -> ModelIntegrityError | None:
    """The error of loading ``path`` (``None`` if it loaded and may be unpickled)."""
    count("model.load_model")
    with mock.patch("joblib.load", wraps=joblib.load) as unpickle:
        try:
            load_model(path)
        except ModelIntegrityError as exc:
            assert str(exc)
            if not may_unpickle:
                assert not unpickle.called, "unpickled before the hash check"
            return exc
    assert may_unpickle, "a damaged model file was loaded"
    return None


@budget(120)
@given(blob=damaged())
@example(blob=b"")
@example(blob=MODEL_BYTES[:-1])
def test_damaged_model_file_is_refused_before_unpickling(folder: Path, blob: bytes) -> None:
    path = _write(folder, blob, MANIFEST)
    exc = _refused(path, may_unpickle=False)
    assert exc is not None and "sha256" in str(exc)


@budget(40)
@given(blob=damaged())
@example(blob=MODEL_BYTES[:1000])  # UnpicklingError
@example(blob=MODEL_BYTES[:-10])  # EOFError
@example(blob=MODEL_BYTES[:5000] + bytes([MODEL_BYTES[5000] ^ 1]) + MODEL_BYTES[5001:])  # zlib
@example(blob=b"\x80\x04K\x01.")  # a valid pickle of the int 1
def test_damaged_model_with_a_matching_manifest_is_a_model_integrity_error(
    folder: Path, blob: bytes
) -> None:
    """A corrupt file whose manifest was rewritten to match (e.g. a save cut short)."""
    manifest = dict(MANIFEST, sha256=hashlib.sha256(blob).hexdigest())
    path = _write(folder, blob, manifest)
    if not blob.startswith(MODEL_BYTES[:4]) and not blob.startswith(b"\x80\x04K"):
        # Random bytes are not unpickled even with a matching hash: hypothesis could build a
        # pickle that imports a module. They are still checked by the hash test above.
        return
    with _memory_cap():
        refused = _refused(path, may_unpickle=True)
    if refused is None:
        # Loaded: only correct if the pickle inside is the shipped one byte for byte (bytes
        # added after the compressed stream, or a changed zlib checksum, which joblib never
        # reads because the pickle ends first).
        assert _payload(blob) == _payload(MODEL_BYTES), "a changed model loaded silently"


def _payload(blob: bytes) -> bytes | None:
    """The deflate payload of a joblib zlib file, without checking its checksum."""
    try:
        return zlib.decompressobj(-15).decompress(blob[2:])
    except zlib.error:
        return None


MANIFEST_TEXT = json.dumps(MANIFEST)


@budget(80)
@given(
    manifest=st.one_of(
        mutated(MANIFEST, max_mutations=2),
        st.integers(0, len(MANIFEST_TEXT)).map(lambda n: MANIFEST_TEXT[:n]),
        st.text(max_size=40),
    )
)
@example(manifest={**MANIFEST, "versions": "x"})
@example(manifest={**MANIFEST, "model_file": "../" + NAME})
@example(manifest=[MANIFEST])
def test_mutated_manifest_loads_or_is_a_model_integrity_error(folder: Path, manifest: Any) -> None:
    count("model.load_model")
    path = _write(folder, MODEL_BYTES, manifest)
    with mock.patch("joblib.load", wraps=joblib.load) as unpickle:
        for target in (path, folder):
            try:
                model = load_model(target)
            except ModelIntegrityError as exc:
                assert str(exc)
                continue
            # Loaded: the manifest still names this file with its hash and versions.
            doc = json.loads(manifest) if isinstance(manifest, str) else manifest
            assert isinstance(doc, dict)
            assert doc.get("sha256") == hashlib.sha256(MODEL_BYTES).hexdigest()
            assert model.artifact_sha256_ == doc["sha256"]
        if manifest != MANIFEST_TEXT and (
            not isinstance(manifest, dict) or manifest.get("sha256") != MANIFEST["sha256"]
        ):
            assert not unpickle.called


class _Marker:
    """Unpickling this object creates a file: the proof that a pickle's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize(
    "manifest_change",
    [
        {},  # the shipped manifest: another file's hash
        {"sha256": "0" * 64},
        {"sha256": None},
        {"versions": {"scikit-learn": "0.1.0"}},  # the right hash, a foreign library version
    ],
)
def test_a_malicious_pickle_is_never_run_before_the_checks(
    tmp_path: Path, manifest_change: dict[str, Any]
) -> None:
    count("model.load_model")
    marker = tmp_path / "pwned"
    path = tmp_path / NAME
    joblib.dump(_Marker(marker), path)
    assert not marker.exists()
    manifest = dict(MANIFEST, **manifest_change)
    if "versions" in manifest_change:
        manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        manifest["versions"] = dict(MANIFEST["versions"], **manifest_change["versions"])
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelIntegrityError):
        load_model(path)
    assert not marker.exists(), "the file's content ran before the integrity check"
    # The marker really works: unpickling the file creates it.
    joblib.load(path)
    assert marker.exists()


def test_a_missing_manifest_or_model_is_a_model_integrity_error(tmp_path: Path) -> None:
    count("model.load_model")
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path / NAME)
    (tmp_path / "manifest.json").write_text(MANIFEST_TEXT, encoding="utf-8")
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path / NAME)
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path)
