"""The population record and its files: deterministic Parquet, config and manifest."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._safeload import load_tree
from ..errors import DataError, Problem
from ._config import FORMAT, SyntheticConfig
from ._model import FORM_TABLES, INFORMANT_OF_TABLE, table_instruments

#: Where the committed default dataset lives in a source checkout (``data/synthetic``).
_CHECKOUT_DIRECTORY = Path(__file__).resolve().parents[3] / "data" / "synthetic"


def _default_directory() -> Path:
    """The source checkout's ``data/synthetic`` first, then an installed wheel's copy."""
    from .. import _shipped_folder

    return _shipped_folder("data/synthetic") or _CHECKOUT_DIRECTORY


#: Where :func:`load_default` reads the default dataset: the source checkout's
#: ``data/synthetic`` when there is one, otherwise the copy an installed wheel put under
#: ``<prefix>/share/opsporing/data/synthetic`` (see ``docs/release.md``).
DEFAULT_DIRECTORY = _default_directory()

#: The Parquet files of a population (``<name>.parquet``): the children, one file per form
#: table (:data:`._model.FORM_TABLES`), the raters and the per-wave truth.
_TABLES = (
    "children",
    *(f"forms_{t}" for t in FORM_TABLES),
    "raters",
    "waves",
)
_VERSIONED = ("numpy", "pandas", "pyarrow", "scipy", "opsporing")

#: The columns of each table a generated population has (``load`` refuses any other: a
#: manifest is a checksum, not a signature, so a file and its hash can be replaced
#: together). Form tables: these, then the items of the table's current forms.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "children": (
        "child_id",
        "municipality",
        "setting",
        "age_years",
        "sex",
        "family_background",
        "latent_difficulties",
        "latent_family_strain",
        "latent_safety_risk",
        "latent_resources",
        "true_step",
        "episode",
    ),
    "raters": ("rater_id", "municipality", "setting", "wave", "harshness"),
    "waves": ("child_id", "wave", "age_years", "setting", "screened", "episode", "true_step"),
}
_FORM_META = (
    "form_id",
    "child_id",
    "wave",
    "rater_id",
    "instrument_id",
    "instrument_version",
    "age_years",
)


@dataclass(frozen=True, eq=False)
class SyntheticPopulation:
    """A synthetic population: children with their truth, and their screening forms.

    Attributes
    ----------
    children : DataFrame
        One row per child: ``child_id``, ``municipality``, ``setting``, ``age_years``,
        ``sex``, ``family_background`` (evaluation group only), ``latent_difficulties``,
        ``latent_family_strain``, ``latent_safety_risk``, ``latent_resources``,
        ``true_step`` (0-6) and ``episode`` (0/1), both at the current wave.
    forms : dict of str to DataFrame
        Per form table (:data:`FORM_TABLES`): the educators' forms per setting
        (``"dagtilbud"``, ``"skole"``), one row per screening: ``form_id``, ``child_id``,
        ``wave`` (0 .. ``config.current_wave``), ``rater_id``, ``instrument_id``,
        ``instrument_version``, ``age_years``, then one float column per item (NaN = not
        answered); a child's earlier form can be in the other setting's table. The
        parents' (``"parent"``) and the children's own forms (``"child"``) have the same
        columns without ``rater_id``. Rows are sorted by child, then wave.
    config : SyntheticConfig
        The scenario that generated it.
    raters : DataFrame
        One row per rater: ``rater_id``, ``municipality``, ``setting``, ``wave``,
        ``harshness`` (the latent shift; for studying rater effects, never a model input).
    waves : DataFrame
        One row per child and wave ``0 .. current_wave`` (screened or not): ``child_id``,
        ``wave``, ``age_years`` (negative before birth), ``setting`` (then), ``screened``
        (the child has an educator form that wave), ``episode`` (0/1) and ``true_step``;
        sorted by child (in the order of ``children``), then wave.
    """

    children: pd.DataFrame
    forms: dict[str, pd.DataFrame]
    config: SyntheticConfig
    raters: pd.DataFrame = field(default_factory=pd.DataFrame)
    waves: pd.DataFrame = field(default_factory=pd.DataFrame)

    def save(self, directory: str | Path) -> Path:
        """Write Parquet files, ``config.json`` and ``manifest.json`` into ``directory``.

        The Parquet files carry no pandas metadata and no timestamps, so the same
        population written with the same library versions gives the same bytes. The
        manifest records those versions and a SHA-256 per file.

        Returns
        -------
        Path
            The directory.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        for name, frame in self._tables().items():
            table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
            path = out / f"{name}.parquet"
            pq.write_table(
                table,
                path,
                compression="zstd",
                compression_level=9,
                row_group_size=1 << 20,
                write_statistics=False,
            )
            files[path.name] = {"rows": len(frame), "sha256": _sha256(path)}
        config_path = out / "config.json"
        config_path.write_text(_dumps({"format": FORMAT, "config": self.config.to_dict()}))
        files[config_path.name] = {"sha256": _sha256(config_path)}
        manifest = {
            "format": FORMAT,
            "versions": library_versions(),
            "files": files,
        }
        (out / "manifest.json").write_text(_dumps(manifest))
        return out

    @classmethod
    def load(cls, directory: str | Path) -> SyntheticPopulation:
        """Read a population written by :meth:`save`, checking every file's SHA-256.

        Raises
        ------
        DataError
            A file is missing, unreadable, truncated or altered (hash mismatch), or the
            directory has another layout (``format`` in ``manifest.json``, e.g. the
            two-wave layout without parent and child forms).
        """
        import pyarrow.parquet as pq

        root = Path(directory)
        manifest = _read_json(root / "manifest.json")
        # A manifest of another layout is named as such (a missing format is left to the
        # checks below: the files and config.json's own format).
        if manifest.get("format", FORMAT) != FORMAT:
            raise DataError(
                Problem(
                    f"{root / 'manifest.json'}: format",
                    manifest.get("format", "<missing>"),
                    f"{FORMAT!r}: an older layout (without the waves table and the parent and "
                    "child forms) is not read; regenerate it with `python -m opsporing.synthetic "
                    f"--out {root}`",
                )
            )
        listed = manifest.get("files")
        if not isinstance(listed, dict):
            raise DataError(f"{root / 'manifest.json'}: expected a 'files' mapping")
        for name in [*(f"{t}.parquet" for t in _TABLES), "config.json"]:
            path = root / name
            if not isinstance(listed.get(name), dict):
                raise DataError(
                    f"{root / 'manifest.json'}: files.{name} = {listed.get(name, '<missing>')!r}: "
                    "expected an entry with the file's sha256"
                )
            if not path.is_file():
                raise DataError(f"{path}: file missing (expected by the manifest)")
            digest = _sha256(path)
            if digest != listed[name].get("sha256"):
                raise DataError(
                    f"{path}: SHA-256 {digest[:12]}… does not match the manifest's "
                    f"{str(listed[name].get('sha256'))[:12]}… (truncated or altered file)"
                )
        config_doc = _read_json(root / "config.json")
        if config_doc.get("format") != FORMAT:
            raise DataError(
                f"{root / 'config.json'}: format {config_doc.get('format')!r}: expected {FORMAT!r}"
            )
        try:
            config = SyntheticConfig.from_dict(config_doc.get("config"))
        except DataError as exc:  # name the file, not only the field
            raise DataError(f"{root / 'config.json'}: {exc}") from None
        tables: dict[str, pd.DataFrame] = {}
        for name in _TABLES:
            try:
                tables[name] = pq.read_table(root / f"{name}.parquet").to_pandas()
            except Exception as exc:  # pyarrow raises several unrelated types
                raise DataError(
                    f"{root / name}.parquet: not a readable Parquet file ({exc})"
                ) from None
        _check_layout(tables, config, root)
        return cls(
            children=tables["children"],
            forms={t: tables[f"forms_{t}"] for t in FORM_TABLES},
            config=config,
            raters=tables["raters"],
            waves=tables["waves"],
        )

    def _tables(self) -> dict[str, pd.DataFrame]:
        missing = [t for t in FORM_TABLES if t not in self.forms]
        if missing:
            raise DataError(
                Problem(
                    "forms", sorted(self.forms), f"a form table for each of {list(FORM_TABLES)}"
                )
            )
        return {
            "children": self.children,
            **{f"forms_{t}": self.forms[t] for t in FORM_TABLES},
            "raters": self.raters,
            "waves": self.waves,
        }


def load_default() -> SyntheticPopulation:
    """The committed default population (``data/synthetic/``, 100,000 children).

    Read from the source checkout's ``data/synthetic/`` or, when opsporing runs from an
    installed wheel, from the copy the wheel installed (:data:`DEFAULT_DIRECTORY`).

    Raises
    ------
    DataError
        The directory or a file is missing, or a file does not match the manifest.
    """
    if not DEFAULT_DIRECTORY.is_dir():
        raise DataError(
            f"{DEFAULT_DIRECTORY}: the default synthetic data set is missing; regenerate it with "
            "`python -m opsporing.synthetic --out data/synthetic` from the repository root"
        )
    return SyntheticPopulation.load(DEFAULT_DIRECTORY)


def _expected_columns(name: str) -> tuple[str, ...]:
    """The columns table ``name`` of a generated population has, in order."""
    if name in _COLUMNS:
        return _COLUMNS[name]
    table = name.removeprefix("forms_")
    meta = [c for c in _FORM_META if c != "rater_id" or INFORMANT_OF_TABLE[table] == "educator"]
    items = dict.fromkeys(i.id for inst in table_instruments(table) for i in inst.items)
    return (*meta, *items)


def _check_layout(tables: dict[str, pd.DataFrame], config: SyntheticConfig, root: Path) -> None:
    """Refuse tables that are not what the generator writes, naming every odd column.

    No column beyond the layout (a ``family_background`` or a name in a form table
    would reach whoever reads forms), no CPR-shaped child id, no form of a child who is
    not in ``children``, and one ``waves`` row per child and wave in the documented order.
    """
    from ..privacy import reject_cpr

    problems = []
    for name, frame in tables.items():
        expected = _expected_columns(name)
        problems += [
            Problem(f"{root / name}.parquet", str(c), f"only the columns {list(expected)}")
            for c in frame.columns
            if str(c) not in expected
        ]
        problems += [
            Problem(f"{root / name}.parquet", c, "a column of the layout", kind="missing_column")
            for c in expected
            if c not in frame.columns
        ]
    if problems:
        raise DataError(*problems)
    children = tables["children"]["child_id"]
    reject_cpr(children.tolist(), f"{root / 'children.parquet'}: child_id")
    known = pd.Index(children)
    for table in FORM_TABLES:
        ids = tables[f"forms_{table}"]["child_id"]
        stray = ~ids.isin(known)
        if stray.any():
            raise DataError(
                Problem(
                    f"{root}/forms_{table}.parquet: child_id",
                    ids[stray].iloc[0],
                    f"a child of children.parquet ({int(stray.sum())} forms name another)",
                )
            )
    waves = tables["waves"]
    n = config.n_waves
    want_ids = children.to_numpy().repeat(n)
    ok = len(waves) == len(want_ids) and bool(
        (waves["child_id"].to_numpy() == want_ids).all()
        and (waves["wave"].to_numpy() == np.tile(np.arange(n), len(children))).all()
    )
    if not ok:
        raise DataError(
            Problem(
                f"{root / 'waves.parquet'}",
                f"{len(waves)} rows",
                f"one row per child of children.parquet and wave 0..{n - 1} "
                f"({len(want_ids)} rows), by child then wave",
            )
        )


def library_versions() -> dict[str, str]:
    """Versions that decide the bytes of the files (Python and the libraries that write them)."""
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            found[name] = "unknown"
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(Problem(str(path), "(missing)", "a file", kind="io"))
    doc = load_tree(path, fmt="json")  # size, depth and repeated keys checked there
    if not isinstance(doc, dict):
        raise DataError(Problem(str(path), type(doc).__name__, "a JSON object", kind="type"))
    return doc
