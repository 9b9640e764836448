"""Model files: random, truncated and bit-flipped copies of the shipped model, mutated manifests.

Each load ends in a ModelIntegrityError (never a zip, JSON, numpy or skops error), and
nothing is built (``skops.io.loads``) before the manifest's signature, the file's size and
hash and the zip directory are checked. Damaged files whose manifest was rewritten *and
signed with a trusted key* (a municipality's key that signed a broken save) get past the
signature; they must still be refused or load the shipped content exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import resource
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import skops.io
from hypothesis import example, given
from hypothesis import strategies as st

from opsporing.errors import ModelIntegrityError
from opsporing.model import generate_keypair, load_model
from opsporing.model._keys import sign_bytes

from ._mutate import mutated
from .conftest import ROOT, budget, count

MODELS = ROOT / "models"
NAME = "step_suggester.skops"
MODEL_BYTES = (MODELS / NAME).read_bytes()
MANIFEST_RAW = (MODELS / "manifest.json").read_bytes()
MANIFEST = json.loads(MANIFEST_RAW)
SIGNATURE = (MODELS / "manifest.json.sig").read_bytes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("model")
    shutil.copy(MODELS / "manifest.json", d / "manifest.json")
    shutil.copy(MODELS / "manifest.json.sig", d / "manifest.json.sig")
    return d


@pytest.fixture(scope="module")
def own_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A municipality's key pair: the private key and the public key it trusts."""
    d = tmp_path_factory.mktemp("key")
    public = generate_keypair(d / "own.pem")
    return d / "own.pem", Path(public.source)


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


def _write(folder: Path, blob: bytes, manifest: Any, key: Path | None = None) -> Path:
    """Write the model file and manifest; sign the manifest with ``key`` if given."""
    path = folder / NAME
    path.write_bytes(blob)
    text = (
        MANIFEST_TEXT  # the shipped manifest, byte for byte (its signature fits)
        if manifest is MANIFEST
        else manifest
        if isinstance(manifest, str)
        else json.dumps(manifest, allow_nan=True, default=repr, skipkeys=True)
    )
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    if key is not None:
        (folder / "manifest.json.sig").write_text(
            sign_bytes(text.encode("utf-8"), key), encoding="utf-8"
        )
    else:
        (folder / "manifest.json.sig").write_bytes(SIGNATURE)
    return path


@contextlib.contextmanager
def _memory_cap(extra_bytes: int = 2 << 30) -> Iterator[None]:
    """Cap the address space at what the process uses now plus ``extra_bytes``.

    The checks before building must make any allocation beyond this impossible: a
    MemoryError here would be a bug (it is not caught as a ModelIntegrityError).
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _refused(
    path: Path, *, may_build: bool, trusted: Path | None = None
) -> ModelIntegrityError | None:
    """The error of loading ``path`` (``None`` if it loaded and may be built)."""
    count("model.load_model")
    with mock.patch("skops.io.loads", wraps=skops.io.loads) as build:
        try:
            load_model(path, trusted_keys=[trusted] if trusted else [])
        except ModelIntegrityError as exc:
            assert str(exc)
            if not may_build:
                assert not build.called, "built before the checks"
            return exc
    assert may_build, "a damaged model file was loaded"
    return None


@budget(120)
@given(blob=damaged())
@example(blob=b"")
@example(blob=MODEL_BYTES[:-1])
def test_damaged_model_file_is_refused_before_building(folder: Path, blob: bytes) -> None:
    path = _write(folder, blob, MANIFEST)
    exc = _refused(path, may_build=False)
    assert exc is not None and ("sha256" in str(exc) or "size" in str(exc))


@budget(40)
@given(blob=damaged())
@example(blob=MODEL_BYTES[:1000])  # a truncated zip
@example(blob=MODEL_BYTES[:-10])  # the central directory cut
@example(blob=MODEL_BYTES[:5000] + bytes([MODEL_BYTES[5000] ^ 1]) + MODEL_BYTES[5001:])  # CRC
@example(blob=b"\x80\x04K\x01.")  # a valid pickle of the int 1
def test_damaged_model_with_a_signed_matching_manifest_is_a_model_integrity_error(
    tmp_path_factory: pytest.TempPathFactory, own_key: tuple[Path, Path], blob: bytes
) -> None:
    """A corrupt file whose manifest was rewritten to match and signed with a trusted key."""
    folder = tmp_path_factory.mktemp("signed")
    manifest = dict(MANIFEST, sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
    path = _write(folder, blob, manifest, key=own_key[0])
    with _memory_cap():
        refused = _refused(path, may_build=True, trusted=own_key[1])
    if refused is None:
        # Loaded: only correct if every member holds the shipped content (bytes changed in
        # the zip's bookkeeping, never in what is read).
        with (
            zipfile.ZipFile(io.BytesIO(blob)) as got,
            zipfile.ZipFile(io.BytesIO(MODEL_BYTES)) as shipped,
        ):
            assert sorted(got.namelist()) == sorted(shipped.namelist())
            for name in shipped.namelist():
                assert got.read(name) == shipped.read(name), "a changed model loaded silently"


MANIFEST_TEXT = MANIFEST_RAW.decode("utf-8")


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
@example(manifest=MANIFEST_TEXT)
def test_mutated_manifest_loads_only_unchanged(folder: Path, manifest: Any) -> None:
    """The release signature fits the shipped manifest's exact bytes and nothing else."""
    count("model.load_model")
    path = _write(folder, MODEL_BYTES, manifest)
    with mock.patch("skops.io.loads", wraps=skops.io.loads) as build:
        for target in (path, folder):
            try:
                model = load_model(target)
            except ModelIntegrityError as exc:
                assert str(exc)
                continue
            assert manifest == MANIFEST_TEXT, "a changed manifest was accepted"
            assert model.artifact_sha256_ == MANIFEST["sha256"]
        if manifest != MANIFEST_TEXT:
            assert not build.called


def test_a_missing_manifest_or_model_is_a_model_integrity_error(tmp_path: Path) -> None:
    count("model.load_model")
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path / NAME)
    (tmp_path / "manifest.json").write_bytes(MANIFEST_RAW)
    (tmp_path / "manifest.json.sig").write_bytes(SIGNATURE)
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path / NAME)
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path)
