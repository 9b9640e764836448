"""Issue 11, "Model files run code": every attack replayed, each refused before anything runs.

- A pickle with a payload, a manifest rewritten to match it beside it: refused by the
  signature (or its absence) before the file is read; with the attacker's own key; with
  ``allow_unsigned=True``; signed by a key the loader trusts (an insider): never unpickled,
  because a pickle is not a skops file. ``serve --model`` loads through the same function.
- A skops file naming a type outside :data:`~opsporing.model.TRUSTED_TYPES`, signed by a
  trusted key: refused before any object is built.
- A zip bomb, a small file whose zip directory claims gigabytes, and an array header that
  claims gigabytes: refused before decompressing (or allocating), in well under a second.

Each payload writes a marker file when it runs, and each test first proves that it does.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import resource
import shutil
import struct
import time
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import skops.io as sio

from opsporing.errors import ModelIntegrityError
from opsporing.model import TRUSTED_TYPES, generate_keypair, load_model
from opsporing.model._artifact import MAX_UNCOMPRESSED_BYTES, model_bytes
from opsporing.model._keys import sign_bytes

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
NAME = "step_suggester.skops"
MANIFEST = json.loads((MODELS / "manifest.json").read_text(encoding="utf-8"))


class Payload:
    """Unpickling this object creates a file: the proof that a model file's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (Path(self.marker),))


class SkopsPayload:
    """Building this object from a skops file creates a file (through ``__setstate__``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["marker"]).touch()
        self.__dict__.update(state)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Two key pairs: the municipality's own (trusted in some tests) and an attacker's."""
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for who in ("own", "attacker"):
        public = generate_keypair(folder / f"{who}.pem")
        out[who] = (folder / f"{who}.pem", Path(public.source))
    return out


def _plant(
    folder: Path, blob: bytes, *, key: Path | None, keep_release_signature: bool = False
) -> Path:
    """Put ``blob`` where the model was, with a manifest rewritten to match it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NAME).write_bytes(blob)
    manifest = dict(MANIFEST, sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
    text = json.dumps(manifest, indent=2).encode("utf-8")
    (folder / "manifest.json").write_bytes(text)
    if keep_release_signature:
        shutil.copy(MODELS / "manifest.json.sig", folder / "manifest.json.sig")
    elif key is not None:
        (folder / "manifest.json.sig").write_text(sign_bytes(text, key), encoding="utf-8")
    return folder / NAME


def _pickle_payload(marker: Path) -> bytes:
    blob = pickle.dumps(Payload(marker))
    pickle.loads(blob)  # the payload really runs when unpickled ...
    assert marker.exists()
    marker.unlink()  # ... and the marker starts absent
    return blob


@pytest.mark.parametrize(
    ("case", "signer", "trust", "allow_unsigned", "expected"),
    [
        ("release signature kept", None, None, False, "does not verify"),
        ("signature removed", None, None, False, "sig = <missing>"),
        ("attacker's own key", "attacker", None, False, "key_id"),
        ("unsigned, allowed", None, None, True, "not a zip archive"),
        ("insider with a trusted key", "own", "own", False, "not a zip archive"),
    ],
)
def test_a_pickle_with_a_payload_is_refused_before_any_code_runs(
    tmp_path: Path,
    keys: dict[str, tuple[Path, Path]],
    case: str,
    signer: str | None,
    trust: str | None,
    allow_unsigned: bool,
    expected: str,
) -> None:
    marker = tmp_path / "pwned"
    path = _plant(
        tmp_path / "m",
        _pickle_payload(marker),
        key=keys[signer][0] if signer else None,
        keep_release_signature=case == "release signature kept",
    )
    with (
        mock.patch("pickle.loads", side_effect=AssertionError("unpickled")),
        mock.patch("skops.io.loads", wraps=sio.loads) as build,
        pytest.raises(ModelIntegrityError, match=expected),
    ):
        load_model(
            path, trusted_keys=[keys[trust][1]] if trust else [], allow_unsigned=allow_unsigned
        )
    assert not build.called
    assert not marker.exists(), f"{case}: the payload ran"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # nothing else written


def test_serve_with_a_planted_model_refuses_before_the_payload_runs(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from opsporing.web._suggest import load_suggester

    marker = tmp_path / "pwned"
    path = _plant(tmp_path / "m", _pickle_payload(marker), key=None, keep_release_signature=True)
    with pytest.raises(ModelIntegrityError, match="does not verify"):
        load_suggester(path)  # what `opsporing serve --model PATH` calls
    assert not marker.exists()


def test_a_skops_file_with_an_untrusted_type_is_refused_before_it_is_built(
    tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    marker = tmp_path / "pwned"
    blob = sio.dumps({"model": SkopsPayload(marker)})
    name = f"{SkopsPayload.__module__}.SkopsPayload"
    assert sio.get_untrusted_types(data=blob) == [name]
    assert name not in TRUSTED_TYPES
    sio.loads(blob, trusted=[name])  # trusted, the payload runs ...
    assert marker.exists()
    marker.unlink()
    path = _plant(tmp_path / "m", blob, key=keys["own"][0])
    with pytest.raises(ModelIntegrityError, match="untrusted types") as err:
        load_model(path, trusted_keys=[keys["own"][1]])
    assert name in str(err.value)
    assert not marker.exists()


def test_the_shipped_model_holds_only_trusted_types() -> None:
    """skops.io.get_untrusted_types, after allowing exactly TRUSTED_TYPES, is empty."""
    blob = (MODELS / NAME).read_bytes()
    untrusted = set(sio.get_untrusted_types(data=blob))
    assert untrusted, "skops does not trust our own classes by default"
    assert untrusted <= set(TRUSTED_TYPES)


def _capped(extra: int = 512 << 20) -> Any:
    """Limit the address space to what the process uses now plus ``extra`` bytes."""
    with open("/proc/self/status", encoding="ascii") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra, hard))
    return soft, hard


def _refused_cheaply(path: Path, trusted: Path, match: str) -> float:
    """Load ``path``: refused, nothing inflated (beyond headers) or built; return seconds."""
    limits = _capped()
    start = time.perf_counter()
    try:
        with (
            mock.patch("skops.io.loads", wraps=sio.loads) as build,
            pytest.raises(ModelIntegrityError, match=match),
        ):
            load_model(path, trusted_keys=[trusted])
    finally:
        resource.setrlimit(resource.RLIMIT_AS, limits)
    assert not build.called
    return time.perf_counter() - start


def test_a_zip_bomb_is_refused_before_decompressing(
    tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    buffer = io.BytesIO()
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("schema.json", b"{}")
        with zf.open("1.npy", "w", force_zip64=True) as fh:
            for _ in range(MAX_UNCOMPRESSED_BYTES // len(zeros) + 1):
                fh.write(zeros)
    blob = buffer.getvalue()
    assert len(blob) < 2 << 20  # about 1 MB on disk, more than 256 MB inflated
    path = _plant(tmp_path / "m", blob, key=keys["own"][0])
    with mock.patch("zipfile._get_decompressor", wraps=zipfile._get_decompressor) as inflate:
        seconds = _refused_cheaply(path, keys["own"][1], "once decompressed")
    assert not inflate.called
    assert seconds < 5


def _claim(blob: bytes, member: str, size: int) -> bytes:
    """``blob`` with the uncompressed size of ``member`` in the central directory set to ``size``."""
    data = bytearray(blob)
    end = data.rfind(b"PK\x05\x06")  # end of central directory: where the directory starts
    at = struct.unpack_from("<I", data, end + 16)[0]
    while data[at : at + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        if data[at + 46 : at + 46 + name_len].decode() == member:
            struct.pack_into("<I", data, at + 24, size)
            return bytes(data)
        at += 46 + name_len + extra_len + comment_len
    raise AssertionError(member)


def test_a_small_file_claiming_gigabytes_is_refused_cheaply(
    tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("schema.json", b"{}")
        zf.writestr("1.npy", np.random.default_rng(0).bytes(1 << 20))
    blob = _claim(buffer.getvalue(), "1.npy", 0xFFFF0000)  # "4 GB once decompressed"
    assert len(blob) < (1 << 20) + 1000
    path = _plant(tmp_path / "m", blob, key=keys["own"][0])
    assert _refused_cheaply(path, keys["own"][1], r"4294901762 bytes once decompressed") < 2


def test_an_array_header_claiming_gigabytes_is_refused_before_numpy_allocates(
    tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    """A real skops file whose one array's .npy header says (10**9,) float64 (8 GB)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
    )
    model = load_model()
    good = model_bytes(model)
    with zipfile.ZipFile(io.BytesIO(good)) as src:
        members = {n: src.read(n) for n in src.namelist()}
    victim = next(n for n in members if n.endswith(".npy"))
    members[victim] = header.getvalue() + b"\0" * 64
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path = _plant(tmp_path / "m", out.getvalue(), key=keys["own"][0])
    assert _refused_cheaply(path, keys["own"][1], f"array {victim}") < 10


def test_the_model_verbs_make_a_key_sign_and_verify(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from opsporing.cli import app

    runner = CliRunner()
    private = tmp_path / "keys" / "kommune.pem"
    made = runner.invoke(app, ["model", "keygen", str(private)])
    assert made.exit_code == 0, made.output
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    public = private.with_suffix(".pub")
    assert public.read_text(encoding="utf-8").startswith("untrusted comment:")
    again = runner.invoke(app, ["model", "keygen", str(private)])
    assert again.exit_code == 2 and "already exists" in again.output

    folder = tmp_path / "m"
    shutil.copytree(MODELS, folder)
    (folder / "manifest.json.sig").unlink()
    unsigned = runner.invoke(app, ["model", "verify", str(folder)])
    assert unsigned.exit_code == 2 and "sig = <missing>" in unsigned.output
    signed = runner.invoke(app, ["model", "sign", str(folder), "--key", str(private)])
    assert signed.exit_code == 0, signed.output
    untrusted = runner.invoke(app, ["model", "verify", str(folder)])
    assert untrusted.exit_code == 2 and "key_id" in untrusted.output
    trusted = runner.invoke(app, ["model", "verify", str(folder), "--trusted-key", str(public)])
    assert trusted.exit_code == 0 and "signature verified" in trusted.output

    private.chmod(0o644)  # a private key others can read is refused, not used
    loose = runner.invoke(app, ["model", "sign", str(folder), "--key", str(private)])
    assert loose.exit_code == 2 and "readable by other users" in loose.output
    private.chmod(0o600)
    (folder / NAME).write_bytes((folder / NAME).read_bytes()[:-1])
    broken = runner.invoke(app, ["model", "sign", str(folder), "--key", str(private)])
    assert broken.exit_code == 2 and "size" in broken.output  # never signs a damaged file
