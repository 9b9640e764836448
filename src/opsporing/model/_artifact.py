"""Saving and loading the trained model with a manifest that is checked before loading.

A joblib file is a pickle, and **unpickling can run arbitrary code**. A model file
is therefore only loaded after its SHA-256 matches the manifest written next to it,
and only with the library versions it was saved with (a pickle from another
scikit-learn version may load and silently predict something else). Keep model
files and manifests where only the people who train models can write; the hash
protects against corruption and mix-ups, not against someone who can rewrite both
files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import sys
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from .._safeload import load_tree
from ..errors import DataError, ModelIntegrityError

#: Name of the manifest written next to a model file.
MANIFEST_NAME = "manifest.json"
#: The manifest format this library writes and reads.
MANIFEST_FORMAT = "opsporing-model-manifest/1"

#: Libraries whose versions are recorded, and how much of each version must match to load:
#: 2 = major.minor, 1 = major, 0 = recorded only.
VERSION_POLICY: dict[str, int] = {
    "scikit-learn": 2,
    "numpy": 1,
    "joblib": 1,
    "pandas": 0,
    "shap": 0,
    # The model is a pickle of opsporing's own classes: another minor version may have
    # changed them (attributes, feature building), so it must match as scikit-learn does.
    "opsporing": 2,
}


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


def save_model(
    model: Any,
    directory: str | Path,
    *,
    name: str = "step_suggester.joblib",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``model`` with joblib and a manifest next to it; return the manifest.

    The manifest holds the file's SHA-256, the library versions, the feature list
    and whatever ``extra`` adds (training-data hash, parameters, metrics).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    joblib.dump(_canonical_strings(copy.deepcopy(model)), path, compress=3)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "model_file": name,
        "sha256": sha256_file(path),
        "versions": library_versions(),
        "features": [str(f) for f in getattr(model, "feature_names_in_", [])],
        "classes": [int(c) for c in getattr(model, "classes_", [])],
        "params": {k: _plain(v) for k, v in sorted(model.get_params().items())},
    }
    manifest.update(extra or {})
    (directory / MANIFEST_NAME).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
        encoding="utf-8",
    )
    return manifest


def _canonical_strings(obj: Any, seen: set[int] | None = None) -> Any:
    """``obj`` with every string in its attributes interned (in place where possible).

    Pickle writes a string once and refers back to it when the *same object* appears
    again. Whether two equal strings are the same object depends on what else the process
    has run (Python interns some strings, not others), so without this the same model could
    be written as different bytes. With every string interned, equal strings are always the
    same object, and the file's bytes depend only on the model.
    """
    seen = set() if seen is None else seen
    if isinstance(obj, str):
        return sys.intern(obj)
    if id(obj) in seen or isinstance(obj, type):
        return obj
    seen.add(id(obj))
    if isinstance(obj, dict):
        items = [
            (_canonical_strings(k, seen) if isinstance(k, str) else k, _canonical_strings(v, seen))
            for k, v in obj.items()
        ]
        obj.clear()
        obj.update(items)
    elif isinstance(obj, list):
        obj[:] = [_canonical_strings(v, seen) for v in obj]
    elif isinstance(obj, tuple):
        return type(obj)(*(_canonical_strings(v, seen) for v in obj)) if hasattr(
            obj, "_fields"
        ) else tuple(_canonical_strings(v, seen) for v in obj)
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        flat = obj.reshape(-1)
        for i, value in enumerate(flat):
            flat[i] = _canonical_strings(value, seen)
    elif hasattr(obj, "__dict__"):
        _canonical_strings(vars(obj), seen)
    return obj


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a model directory or model file (``manifest.json`` next to it)."""
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path.parent / MANIFEST_NAME
    try:
        manifest = load_tree(manifest_path, fmt="json")  # size, depth, repeated keys
    except DataError as exc:
        raise ModelIntegrityError(
            f"manifest {manifest_path}: cannot be read ({exc}): expected the manifest.json "
            "written by save_model next to the model file"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ModelIntegrityError(
            f"manifest {manifest_path}: format = {got!r}: expected {MANIFEST_FORMAT!r}"
        )
    _check_fields(manifest, manifest_path)
    return manifest


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
            raise ModelIntegrityError(
                f"manifest {manifest_path}: {name} = {manifest.get(name, '<missing>')!r}: "
                f"expected {expected}"
            )


def _compatible(saved: str, running: str, parts: int) -> bool:
    if parts == 0:
        return True
    return saved.split(".")[:parts] == running.split(".")[:parts]


#: File name of the shipped model (in the repository's ``models/`` folder).
DEFAULT_MODEL_NAME = "step_suggester.joblib"


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


def load_model(path: str | Path | None = None) -> Any:
    """Load a model file after checking it against its manifest.

    Parameters
    ----------
    path : str or Path, optional
        The ``.joblib`` file (its ``manifest.json`` must sit next to it) or the
        directory holding both. Default: the shipped model
        (:func:`default_model_path`), from the source checkout or the installed wheel.

    Returns
    -------
    StepSuggester

    Raises
    ------
    ModelIntegrityError
        When no path is given and no shipped model is found, the manifest is missing,
        unreadable or malformed, the file's SHA-256 differs from
        the manifest's, a library version differs beyond :data:`VERSION_POLICY`, the
        file cannot be unpickled, or the loaded object is not the model the manifest
        describes. Nothing is
        unpickled before the hash and versions have been checked.
    """
    from ._estimator import StepSuggester

    path = default_model_path() if path is None else Path(path)
    manifest = read_manifest(path)
    model_path = path / str(manifest.get("model_file", "")) if path.is_dir() else path
    if not model_path.is_file():
        raise ModelIntegrityError(f"model file {model_path}: not found: expected a file")
    digest = sha256_file(model_path)
    if digest != manifest.get("sha256"):
        raise ModelIntegrityError(
            f"model file {model_path}: sha256 = {digest}: expected {manifest.get('sha256')} "
            "from the manifest; the file was changed or belongs to another manifest, "
            "and was not loaded"
        )
    saved_versions = manifest.get("versions", {})
    running = library_versions()
    for lib, parts in VERSION_POLICY.items():
        saved = str(saved_versions.get(lib, "missing"))
        if not _compatible(saved, running[lib], parts):
            raise ModelIntegrityError(
                f"model file {model_path}: {lib} version = {saved}: expected the running "
                f"{running[lib]} (first {parts} part{'s' if parts > 1 else ''}); retrain with "
                "python -m opsporing.model.train"
            )
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # a pickle can fail in many ways; none of them is the caller's
        raise ModelIntegrityError(
            f"model file {model_path}: cannot be unpickled ({type(exc).__name__}: {exc}): "
            "expected a model written by save_model"
        ) from None
    if not isinstance(model, StepSuggester):
        raise ModelIntegrityError(
            f"model file {model_path}: holds {type(model).__name__}: expected a StepSuggester"
        )
    features = [str(f) for f in getattr(model, "feature_names_in_", [])]
    if features != list(manifest.get("features", [])):
        raise ModelIntegrityError(
            f"model file {model_path}: features differ from the manifest's: expected "
            f"{len(manifest.get('features', []))} features as listed in the manifest"
        )
    # Suggestions made with this model carry the file's hash, so a decision can be traced
    # back to the exact model file.
    model.artifact_sha256_ = digest
    return model
