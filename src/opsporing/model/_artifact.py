"""Saving and loading the trained model: skops, a signed manifest, nothing that runs code.

A pickle (joblib) runs whatever code it names while it is read, so a model file that
could be replaced was a way to run code on every machine that loads it. The model is
therefore written with :mod:`skops.io`, which stores arrays and a JSON description and
builds only the types it is told to trust: :data:`TRUSTED_TYPES`, a list fixed in this
module and never read from the file.

Before anything of the model file is read, :func:`load_model` checks, in this order:

1. the Ed25519 signature (``manifest.json.sig``) over the exact bytes of
   ``manifest.json``, with a trusted public key (:mod:`opsporing.model._keys`);
2. the model file's size against the manifest's, and the size against
   :data:`MAX_MODEL_BYTES`; then its SHA-256 against the manifest's;
3. the library versions against :data:`VERSION_POLICY`;
4. the zip directory of the skops file: at most :data:`MAX_MEMBERS` members, only the
   names skops writes, and at most :data:`MAX_UNCOMPRESSED_BYTES` once decompressed
   (a small file that claims gigabytes is refused before any byte is decompressed);
   then each array's ``.npy`` header, which must describe exactly the bytes its member
   holds (numpy would allocate what a header claims before reading the data);
5. the types in the file: skops audits them against :data:`TRUSTED_TYPES` (what
   :func:`skops.io.get_untrusted_types` lists must all be in it) before it builds one.

Only then is the model built, from the bytes that were hashed (the file is read once).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import zipfile
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .._safeload import parse_tree
from ..errors import DataError, ModelIntegrityError
from ._keys import PublicKey, sign_bytes, trusted_keys, verify_bytes

#: Name of the manifest written next to a model file.
MANIFEST_NAME = "manifest.json"
#: Name of the detached signature of the manifest.
SIGNATURE_NAME = MANIFEST_NAME + ".sig"
#: The manifest format this library writes and reads (1 was a joblib pickle: refused).
MANIFEST_FORMAT = "opsporing-model-manifest/2"

#: The only types, beyond what skops trusts by default (numpy, builtins, scikit-learn's
#: estimators), that a model file may hold. Fixed here: a file never widens it.
TRUSTED_TYPES: tuple[str, ...] = (
    "opsporing.model._estimator.StepSuggester",
    "opsporing.model._estimator._Constant",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # A recalibrated model's label-free prior adjustment: a calibration map and a float.
    "opsporing.model._recalibrate.PriorShift",
)

#: Largest model file read (the shipped one is about 2 MB).
MAX_MODEL_BYTES = 64 * 1024 * 1024
#: Largest total size of a model file's members once decompressed (the shipped: ~7 MB).
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
#: Most members a model file may hold (the shipped: ~4,000 arrays).
MAX_MEMBERS = 100_000
#: Largest manifest read.
MAX_MANIFEST_BYTES = 1024 * 1024
#: Names skops writes: its schema and numbered arrays.
_MEMBER = re.compile(r"schema\.json|[0-9]{1,20}\.npy")

#: Libraries whose versions are recorded, and how much of each version must match to load:
#: 2 = major.minor, 1 = major, 0 = recorded only.
VERSION_POLICY: dict[str, int] = {
    "scikit-learn": 2,
    "numpy": 1,
    # skops 0.x: a minor version may change the format.
    "skops": 2,
    "pandas": 0,
    "shap": 0,
    # The file stores opsporing's own classes by attribute: another minor version may have
    # changed them (attributes, feature building), so it must match as scikit-learn does.
    "opsporing": 2,
}

#: File name of the shipped model (in the repository's ``models/`` folder).
DEFAULT_MODEL_NAME = "step_suggester.skops"


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries in :data:`VERSION_POLICY`."""
    out = {"python": platform.python_version()}
    for lib in VERSION_POLICY:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:  # pragma: no cover - opsporing from a source tree
            out[lib] = "unknown"
    return out


def model_bytes(model: Any) -> bytes:
    """The skops file of ``model``, the same bytes for the same model in any process.

    skops names arrays and memo entries after ``id()`` of the objects, shares a node
    between two attributes that hold the same object (which a pickle round trip may or may
    not keep), and stamps the current time on zip members. Here every node gets its own
    number in the order it appears (each array its own member), and the zip is written
    with fixed times and members in that order. Nothing is lost: a fitted model never
    relies on two of its attributes being the same object.
    """
    import skops.io as sio

    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as raw:
        schema = json.loads(raw.read("schema.json"))
        arrays = {n: raw.read(n) for n in raw.namelist() if n != "schema.json"}
    members: list[tuple[str, bytes]] = []

    def renumber(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                renumber(child)
        elif isinstance(node, dict):
            if isinstance(node.get("__id__"), int):
                number = len(members) + 1
                node["__id__"] = number
                name, data = "", b""
                if isinstance(node.get("file"), str) and node["file"] in arrays:
                    name, data = f"{number}.npy", arrays[node["file"]]
                    node["file"] = name
                members.append((name, data))
            for key, child in node.items():
                if key != "__id__":
                    renumber(child)

    renumber(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        files = [("schema.json", json.dumps(schema, separators=(",", ":")).encode())]
        files += [(name, data) for name, data in members if name]
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)
    return out.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_model(
    model: Any,
    directory: str | Path,
    *,
    name: str = DEFAULT_MODEL_NAME,
    extra: Mapping[str, Any] | None = None,
    signing_key: str | Path | None = None,
) -> dict[str, Any]:
    """Write ``model`` with skops and a manifest next to it, signed if a key is given.

    The manifest holds the file's SHA-256 and exact size, the library versions, the
    feature list and whatever ``extra`` adds (training-data hash, parameters, metrics).
    With ``signing_key`` (a private key file from ``opsporing model keygen``) the
    manifest's signature is written to ``manifest.json.sig``; without one, any old
    signature is removed, and :func:`load_model` refuses the model unless called with
    ``allow_unsigned=True``.

    Returns
    -------
    dict
        The manifest.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if Path(name).name != name or not name:
        raise ModelIntegrityError(f"name = {name!r}: expected a file name (no folders)")
    data = model_bytes(model)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "model_file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "versions": library_versions(),
        "features": [str(f) for f in getattr(model, "feature_names_in_", [])],
        "classes": [int(c) for c in getattr(model, "classes_", [])],
        "params": {k: _plain(v) for k, v in sorted(model.get_params().items())},
    }
    manifest.update(extra or {})
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    _write_atomic(directory / name, data)
    (directory / SIGNATURE_NAME).unlink(missing_ok=True)  # never a stale signature
    _write_atomic(directory / MANIFEST_NAME, text.encode("utf-8"))
    if signing_key is not None:
        sign_model(directory, signing_key)
    return manifest


def sign_model(directory: str | Path, private_key: str | Path) -> str:
    """Sign a model directory's manifest with ``private_key``; return the key id.

    The model file is checked against the manifest first (size and SHA-256), so a key
    never vouches for a manifest that does not describe the file beside it.
    """
    directory = Path(directory)
    text = _read_manifest_bytes(directory / MANIFEST_NAME)
    manifest = _parse_manifest(text, directory / MANIFEST_NAME)
    _read_model_bytes(directory / manifest["model_file"], manifest)
    signature = sign_bytes(text, private_key)
    _write_atomic(directory / SIGNATURE_NAME, signature.encode("ascii"))
    return str(json.loads(signature)["key_id"])


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _read_manifest_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            text = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ModelIntegrityError(
            f"manifest {path}: cannot be read ({exc.strerror}): expected the manifest.json "
            "written by save_model next to the model file"
        ) from None
    if len(text) > MAX_MANIFEST_BYTES:
        raise ModelIntegrityError(
            f"manifest {path}: larger than {MAX_MANIFEST_BYTES} bytes: expected a manifest "
            "written by save_model"
        )
    return text


def _parse_manifest(text: bytes, manifest_path: Path) -> dict[str, Any]:
    try:
        # The very bytes the signature was checked over, parsed with the safe reader
        # (depth, repeated keys, size): never a second read of the file.
        manifest = parse_tree(text.decode("utf-8"), str(manifest_path), fmt="json")
    except (UnicodeDecodeError, DataError) as exc:
        raise ModelIntegrityError(
            f"manifest {manifest_path}: cannot be read ({exc}): expected the manifest.json "
            "written by save_model next to the model file"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        hint = (
            "; format 1 was a pickle and is no longer loaded: retrain, or convert and sign "
            "(see docs/model.md)"
            if got == "opsporing-model-manifest/1"
            else ""
        )
        raise ModelIntegrityError(
            f"manifest {manifest_path}: format = {str(got)[:80]!r}: expected "
            f"{MANIFEST_FORMAT!r}{hint}"
        )
    _check_fields(manifest, manifest_path)
    return manifest


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a model directory or model file (``manifest.json`` next to it).

    The signature is not checked here: :func:`load_model` does that before it reads
    anything else.
    """
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path.parent / MANIFEST_NAME
    return _parse_manifest(_read_manifest_bytes(manifest_path), manifest_path)


def _check_fields(manifest: dict[str, Any], manifest_path: Path) -> None:
    """Raise unless the fields :func:`load_model` relies on have the shape save_model writes."""
    checks: list[tuple[str, bool, str]] = [
        (
            "model_file",
            isinstance(manifest.get("model_file"), str)
            and bool(manifest["model_file"])
            and Path(manifest["model_file"]).name == manifest["model_file"],
            "the model's file name (no folders)",
        ),
        (
            "sha256",
            isinstance(manifest.get("sha256"), str)
            and len(manifest["sha256"]) == 64
            and all(c in "0123456789abcdef" for c in manifest["sha256"]),
            "64 lower-case hex digits",
        ),
        (
            "size",
            type(manifest.get("size")) is int and 0 < manifest["size"] <= MAX_MODEL_BYTES,
            f"the file's size in bytes (1 to {MAX_MODEL_BYTES})",
        ),
        (
            "versions",
            isinstance(manifest.get("versions"), dict)
            and all(isinstance(v, str) for v in manifest["versions"].values()),
            "an object of library name to version string",
        ),
        (
            "features",
            isinstance(manifest.get("features"), list)
            and all(isinstance(f, str) for f in manifest["features"]),
            "a list of feature names",
        ),
    ]
    for name, ok, expected in checks:
        if not ok:
            shown = repr(manifest.get(name, "<missing>"))
            raise ModelIntegrityError(
                f"manifest {manifest_path}: {name} = {shown[:80]}: expected {expected}"
            )


def _compatible(saved: str, running: str, parts: int) -> bool:
    if parts == 0:
        return True
    return saved.split(".")[:parts] == running.split(".")[:parts]


def default_model_path() -> Path:
    """Where the shipped model is: the source checkout's ``models/`` first, then the wheel's.

    An installed wheel carries the model as data files under
    ``<prefix>/share/opsporing/models/`` (see ``docs/release.md``).

    Raises
    ------
    ModelIntegrityError
        Neither a source checkout nor an installed wheel holds the model.
    """
    from .. import _shipped_folder

    folder = _shipped_folder("models")
    if folder is None or not (folder / DEFAULT_MODEL_NAME).is_file():
        raise ModelIntegrityError(
            f"shipped model {DEFAULT_MODEL_NAME}: not found: expected it in the source "
            "checkout's models/ or an installed wheel's share/opsporing/models/; pass a path, "
            "or retrain with python -m opsporing.model.train"
        )
    return folder / DEFAULT_MODEL_NAME


def _read_model_bytes(model_path: Path, manifest: Mapping[str, Any]) -> bytes:
    """The model file's bytes, after its size and SHA-256 matched the manifest's."""
    try:
        with model_path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size != manifest["size"]:
                raise ModelIntegrityError(
                    f"model file {model_path}: size = {size} bytes: expected "
                    f"{manifest['size']} from the manifest; not read"
                )
            data = fh.read(size + 1)
    except OSError as exc:
        raise ModelIntegrityError(
            f"model file {model_path}: cannot be read ({exc.strerror}): expected a file"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != manifest["size"] or digest != manifest["sha256"]:
        raise ModelIntegrityError(
            f"model file {model_path}: sha256 = {digest}: expected {manifest['sha256']} "
            "from the manifest; the file was changed or belongs to another manifest, "
            "and was not loaded"
        )
    return data


def _check_archive(data: bytes, model_path: Path) -> None:
    """Refuse a skops file whose zip directory is not what save_model writes.

    Only the central directory is read here: nothing is decompressed. Python's zipfile
    never inflates a member past the size its directory entry states, so the sum checked
    here bounds what loading can decompress.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ModelIntegrityError(
            f"model file {model_path}: not a zip archive ({exc}): expected a skops file "
            "written by save_model (pickles are not loaded)"
        ) from None
    if len(infos) > MAX_MEMBERS:
        raise ModelIntegrityError(
            f"model file {model_path}: {len(infos)} members: expected at most {MAX_MEMBERS}"
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ModelIntegrityError(
            f"model file {model_path}: {total} bytes once decompressed: expected at most "
            f"{MAX_UNCOMPRESSED_BYTES}; not decompressed"
        )
    names = [i.filename for i in infos]
    odd = [n for n in names if not _MEMBER.fullmatch(n)]
    odd += [
        i.filename
        for i in infos
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
    ]
    if odd or "schema.json" not in names or len(set(names)) != len(names):
        raise ModelIntegrityError(
            f"model file {model_path}: members = {sorted(set(odd))[:5] or names[:5]!r}: "
            "expected one schema.json and numbered .npy arrays (stored or deflated), "
            "each once"
        )
    _check_array_headers(data, infos, model_path)


def _check_array_headers(data: bytes, infos: list[zipfile.ZipInfo], model_path: Path) -> None:
    """Refuse an array whose ``.npy`` header claims more data than its member holds.

    numpy allocates the whole array its header describes before reading the data, so a
    header claiming gigabytes in a small member would take that memory; only the first
    bytes of each member (the header) are decompressed here.
    """
    import numpy as np
    from numpy.lib import format as npy

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            try:
                with zf.open(info) as fh:
                    major, _ = npy.read_magic(fh)
                    read = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
                    shape, _, dtype = read(fh)
                    header = fh.tell()
                claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                ok = not dtype.hasobject and header + claimed == info.file_size
            except Exception:  # a damaged header fails in many ways; all mean "refuse"
                ok = False
            if not ok:
                raise ModelIntegrityError(
                    f"model file {model_path}: array {info.filename} = header not matching "
                    f"its {info.file_size} bytes: expected a plain numeric .npy array "
                    "written by save_model; not loaded"
                )


def load_model(
    path: str | Path | None = None,
    *,
    trusted_keys: Iterable[str | Path | PublicKey] = (),
    allow_unsigned: bool = False,
) -> Any:
    """Load a model file after checking its signature, manifest, size and types.

    Parameters
    ----------
    path : str or Path, optional
        The ``.skops`` file (its ``manifest.json`` and ``manifest.json.sig`` must sit
        next to it) or the directory holding them. Default: the shipped model
        (:func:`default_model_path`), from the source checkout or the installed wheel.
    trusted_keys : iterable of path or PublicKey
        Public keys (``.pub`` files from ``opsporing model keygen``) trusted besides
        the package's own and those named in ``OPSPORING_TRUSTED_KEYS``: how a
        municipality loads the model it trained and signed itself.
    allow_unsigned : bool
        Load a model without ``manifest.json.sig`` (a model trained without a key,
        for experiments). A signature that is present is always checked.

    Returns
    -------
    StepSuggester

    Raises
    ------
    ModelIntegrityError
        No shipped model is found; the signature is missing (and ``allow_unsigned`` is
        false), malformed, made by an untrusted key or does not verify; the manifest is
        missing, unreadable or malformed; the file's size or SHA-256 differs from the
        manifest's; a library version differs beyond :data:`VERSION_POLICY`; the zip
        directory holds too much or odd members; the file names a type outside
        :data:`TRUSTED_TYPES`; or the loaded object is not the model the manifest
        describes. Nothing of the model file is read before the signature verified.

    Examples
    --------
    >>> model = load_model()
    >>> model.artifact_sha256_ == read_manifest(default_model_path())["sha256"]
    True
    """
    from ._estimator import StepSuggester

    path = default_model_path() if path is None else Path(path)
    folder = path if path.is_dir() else path.parent
    manifest_path = folder / MANIFEST_NAME
    text = _read_manifest_bytes(manifest_path)
    signature_path = folder / SIGNATURE_NAME
    if signature_path.is_file():
        with signature_path.open("rb") as fh:
            signature = fh.read(16 * 1024 + 1)
        try:
            verify_bytes(text, signature, _trusted(trusted_keys))
        except ModelIntegrityError as exc:
            raise ModelIntegrityError(f"model {folder}: {exc}; nothing was loaded") from None
    elif not allow_unsigned:
        raise ModelIntegrityError(
            f"model {folder}: {SIGNATURE_NAME} = <missing>: expected a signature by a trusted "
            "key (sign with opsporing model sign --key PRIVATE_KEY, or pass "
            "allow_unsigned=True for an experiment); nothing was loaded"
        )
    manifest = _parse_manifest(text, manifest_path)
    model_path = folder / manifest["model_file"]
    if not path.is_dir() and path.name != manifest["model_file"]:
        raise ModelIntegrityError(
            f"model file {path}: not the manifest's model_file {manifest['model_file']!r}: "
            "expected the file the manifest describes"
        )
    saved_versions = manifest["versions"]
    running = library_versions()
    for lib, parts in VERSION_POLICY.items():
        saved = str(saved_versions.get(lib, "missing"))
        if not _compatible(saved, running[lib], parts):
            raise ModelIntegrityError(
                f"model file {model_path}: {lib} version = {saved[:40]}: expected the running "
                f"{running[lib]} (first {parts} part{'s' if parts > 1 else ''}); retrain with "
                "python -m opsporing.model.train"
            )
    data = _read_model_bytes(model_path, manifest)
    _check_archive(data, model_path)
    model = _build(data, model_path)
    if not isinstance(model, StepSuggester):
        raise ModelIntegrityError(
            f"model file {model_path}: holds {type(model).__name__}: expected a StepSuggester"
        )
    features = [str(f) for f in getattr(model, "feature_names_in_", [])]
    if features != list(manifest["features"]):
        raise ModelIntegrityError(
            f"model file {model_path}: features differ from the manifest's: expected "
            f"{len(manifest['features'])} features as listed in the manifest"
        )
    # Suggestions made with this model carry the file's hash, so a decision can be traced
    # back to the exact model file.
    model.artifact_sha256_ = manifest["sha256"]
    return model


def _trusted(extra: Iterable[str | Path | PublicKey]) -> list[PublicKey]:
    return trusted_keys(extra)


def _build(data: bytes, model_path: Path) -> Any:
    """The object in a skops file, built only from :data:`TRUSTED_TYPES` and skops' defaults."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        # skops audits every type against the list before it builds anything, and raises
        # on a type outside it: the same answer as get_untrusted_types, in one pass.
        return sio.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        raise ModelIntegrityError(
            f"model file {model_path}: untrusted types ({str(exc)[:200]}): expected only "
            "opsporing's StepSuggester and scikit-learn/numpy types (TRUSTED_TYPES); "
            "nothing was built"
        ) from None
    except Exception as exc:  # a damaged schema fails in many ways; none is the caller's
        raise ModelIntegrityError(
            f"model file {model_path}: cannot be built ({type(exc).__name__}): "
            "expected a model written by save_model"
        ) from None
