"""Finding instruments: the ones shipped with opsporing, and files of your own."""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources
from pathlib import Path

from .._safeload import load_tree
from ..errors import DataError, InstrumentDefinitionError, UnknownInstrumentError
from ..vocabulary import Vocabulary
from ._schema import Instrument
from ._validate import build_instrument


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def load_instrument(path: str | Path, vocabulary: Vocabulary | None = None) -> Instrument:
    """Load and fully validate an instrument file (YAML or JSON) from disk.

    Parameters
    ----------
    path : str or Path
        The file. See ``docs/instrument-files.md`` for the format.
    vocabulary : Vocabulary, optional
        Concept codes are checked against this vocabulary (default: the shipped one).

    Raises
    ------
    InstrumentDefinitionError
        Listing every problem in the file, or saying why it could not be read.

    Examples
    --------
    >>> from opsporing.instruments import shipped_instrument_paths
    >>> path = next(p for p in shipped_instrument_paths() if p.name == "dagtilbud_trivsel.yaml")
    >>> load_instrument(path).key
    'opsporing.dagtilbud.trivsel@1.0.0'
    """
    path = Path(path)
    try:
        tree = load_tree(path)
    except DataError as exc:
        raise InstrumentDefinitionError(str(path), exc.problems) from None
    return build_instrument(tree, str(path), vocabulary)


def shipped_instrument_paths() -> list[Path]:
    """Paths of the instrument files shipped in the package, sorted by name."""
    root = resources.files("opsporing.instruments").joinpath("data")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))


@cache
def _shipped() -> dict[str, dict[str, Instrument]]:
    found: dict[str, dict[str, Instrument]] = {}
    for path in shipped_instrument_paths():
        inst = load_instrument(path)
        found.setdefault(inst.id, {})[inst.version] = inst
    return found


def list_instruments() -> list[Instrument]:
    """Every shipped instrument (all versions), sorted by id and version.

    Examples
    --------
    >>> keys = [i.key for i in list_instruments()]
    >>> [k for k in keys if k.startswith("opsporing.skole.")]
    ['opsporing.skole.0-6@1.0.0', 'opsporing.skole.7-10@1.0.0', 'opsporing.skole.trivsel@1.0.0']
    >>> "topi@1.0.0" in keys and "opsporing.skole.7-10@1.0.0" in keys
    True
    >>> "opsporing.parent.skole@1.0.0" in keys, keys[-1]
    (True, 'topi@1.0.0')
    """
    return [
        versions[v]
        for _, versions in sorted(_shipped().items())
        for v in sorted(versions, key=_version_key)
    ]


def get_instrument(instrument_id: str, version: str | None = None) -> Instrument:
    """A shipped instrument by id; the newest version unless ``version`` is given.

    Raises
    ------
    UnknownInstrumentError
        Naming the known ids (or versions) and the closest match to a typo.
    """
    shipped = _shipped()
    if instrument_id not in shipped:
        close = difflib.get_close_matches(str(instrument_id), list(shipped), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownInstrumentError(
            f"unknown instrument {instrument_id!r}: expected one of {sorted(shipped)}{hint}"
        )
    versions = shipped[instrument_id]
    if version is None:
        return versions[max(versions, key=_version_key)]
    if version not in versions:
        raise UnknownInstrumentError(
            f"instrument {instrument_id!r} has no version {version!r}: "
            f"expected one of {sorted(versions, key=_version_key)}"
        )
    return versions[version]
