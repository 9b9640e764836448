"""Researchers' own screenings and outcomes: the documented file format, read and checked.

Two tables (CSV files or DataFrames), described in ``docs/researcher-guide.md``:

**Screenings**, one row per filled-in form:

``child_id`` (required)
    A pseudonymous id of the child; never a CPR number (refused).
``family_id`` (optional)
    A pseudonymous id of the family (siblings share it): intervals and data splits are
    then clustered by family.
``screening_date`` (required)
    ``YYYY-MM-DD``.
``instrument_id`` (required), ``instrument_version`` (optional)
    One of the instruments the model knows (:data:`opsporing.model.INSTRUMENTS`).
``age_years`` (required)
    The child's age at the screening.
item columns
    One column per item id of the instruments used, answers as numbers, empty = not
    answered. A column of another instrument must be empty on this instrument's rows.

**Outcomes**, one row per child:

``child_id`` (required), ``outcome_date`` (required, ``YYYY-MM-DD``)
``decided_step`` (0-6), ``notified`` (0/1), ``investigation_result`` (0/1: the
    municipality's investigation found a need for support); each may be empty.

**Group columns** (either table) are evaluation-only: they are named in ``groups=``,
separated from the screenings before anything is scored, and never reach the model.
Anything else is an error, so a misspelt item cannot vanish.

Which screening counts: a child's *current* screening is the latest one dated on or
before its outcome date (the latest of all when it has no outcome); the one before it,
if any, is the *earlier* screening (change features). Screenings dated after the
outcome are not used (they could not have informed it) and are counted in the report.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument, get_instrument
from ..privacy import looks_like_cpr

#: Columns of the screenings table that are not answers.
SCREENING_COLUMNS: tuple[str, ...] = (
    "child_id",
    "family_id",
    "screening_date",
    "instrument_id",
    "instrument_version",
    "age_years",
)
#: Required columns of the screenings table.
SCREENING_REQUIRED: tuple[str, ...] = ("child_id", "screening_date", "instrument_id", "age_years")
#: Columns of the outcomes table.
OUTCOME_COLUMNS: tuple[str, ...] = (
    "child_id",
    "outcome_date",
    "decided_step",
    "notified",
    "investigation_result",
)
#: Required columns of the outcomes table.
OUTCOME_REQUIRED: tuple[str, ...] = ("child_id", "outcome_date")

#: Which outcome defines "in need" (``y_true = 1``) for the evaluation.
Label = Literal["decided_step", "notified", "investigation_result"]
LABELS: tuple[str, ...] = ("decided_step", "notified", "investigation_result")

#: What a missing group label becomes: a group of its own, shown, never dropped.
MISSING_GROUP = "(missing)"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHOW = 60  # longest value shown in a problem


@dataclass(frozen=True)
class OwnData:
    """Checked own data: what :func:`read_own_data` returns.

    Attributes
    ----------
    screenings : DataFrame
        The screenings, group columns removed, with ``screening_date`` as a datetime.
    outcomes : DataFrame
        One row per child, indexed by ``child_id``, outcome columns as nullable numbers.
    groups : DataFrame
        Evaluation-only group columns, one row per screened child (index ``child_id``);
        missing labels are :data:`MISSING_GROUP`.
    families : Series or None
        ``family_id`` per screened child, when the screenings have one.
    sha256 : str
        SHA-256 of the two tables' content (named in every report).
    sources : dict of str to str
        Where the tables came from (file paths, or ``"DataFrame"``).
    """

    screenings: pd.DataFrame
    outcomes: pd.DataFrame
    groups: pd.DataFrame
    families: pd.Series | None
    sha256: str
    sources: dict[str, str]


def _shown(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and len(value) > _SHOW:
        return value[:_SHOW] + "…"
    return value


def _missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT: an empty cell."""
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float | np.floating) and bool(np.isnan(value)))
    )


def _label(label: Hashable) -> int | str:
    if isinstance(label, np.generic):
        label = label.item()
    return label if isinstance(label, int | str) else str(label)


def read_table(source: str | Path | pd.DataFrame, name: str) -> tuple[pd.DataFrame, str]:
    """A table from a CSV path or a DataFrame; ids and dates are read as text.

    Returns the table and a description of where it came from.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame"
    if not isinstance(source, str | Path):
        raise ResponseValidationError(
            [Problem(name, type(source).__name__, "a CSV path or a DataFrame", kind="type")],
            headline=f"cannot read the {name} table",
        )
    path = Path(source)
    text_cols = {c: str for c in ("child_id", "family_id", "screening_date", "outcome_date")}
    try:
        table = pd.read_csv(path, dtype=text_cols, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise ResponseValidationError(
            [Problem(str(path), "(file)", f"a readable CSV file ({exc})", kind="io")],
            headline=f"cannot read the {name} table",
        ) from None
    return table, path.name  # the name only: a report travels, the folders need not


def _column_problems(
    table: pd.DataFrame, name: str, required: Sequence[str], known: set[str]
) -> list[Problem]:
    out = []
    cols = [str(c) for c in table.columns]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    out += [
        Problem(f"{name}.{c}", "(duplicated)", "each column once", kind="duplicate_column")
        for c in dupes
    ]
    out += [
        Problem(f"{name}.{c}", "(missing)", "a column of the table", kind="missing_column")
        for c in required
        if c not in cols
    ]
    out += [
        Problem(
            f"{name}.{c}",
            "(unknown column)",
            "a format column, an item id of a known instrument, or a group named in groups=",
            kind="unknown_column",
        )
        for c in cols
        if c not in known
    ]
    return out


def _ids(
    table: pd.DataFrame, column: str, name: str, problems: list[Problem], required: bool = True
) -> pd.Series:
    """Pseudonymous ids as text; empty (when ``required``) and CPR-shaped ids are problems."""
    col = table[column]
    for label, value in col.items():
        if _missing(value) or str(value) == "":
            if not required:
                continue
            problems.append(
                Problem(f"{name}.{column}", None, "a pseudonymous id", _label(label), "missing")
            )
        elif not isinstance(value, str | int | np.integer):
            problems.append(
                Problem(
                    f"{name}.{column}",
                    _shown(value),
                    "a pseudonymous id (text)",
                    _label(label),
                    "type",
                )
            )
        elif looks_like_cpr(str(value)):
            problems.append(
                Problem(
                    f"{name}.{column}",
                    "<masked>",
                    "a pseudonymous id, never a CPR number",
                    _label(label),
                    "personal_identifier",
                )
            )
    return col.map(lambda v: str(v) if isinstance(v, str | int | np.integer) else None)


def _dates(table: pd.DataFrame, column: str, name: str, problems: list[Problem]) -> pd.Series:
    col = table[column]
    values: list[Any] = []
    for label, value in col.items():
        ok = isinstance(value, str) and _DATE.fullmatch(value.strip()) is not None
        parsed = pd.to_datetime(value.strip(), format="%Y-%m-%d", errors="coerce") if ok else pd.NaT
        if pd.isna(parsed):
            problems.append(
                Problem(
                    f"{name}.{column}", _shown(value), "a date YYYY-MM-DD", _label(label), "date"
                )
            )
        values.append(parsed)
    return pd.Series(pd.to_datetime(values), index=table.index)


def _numbers(
    table: pd.DataFrame,
    column: str,
    name: str,
    allowed: Sequence[int],
    problems: list[Problem],
) -> pd.Series:
    """A nullable integer column whose values must be in ``allowed`` (empty is fine)."""
    col = table[column]
    values: list[Any] = []
    expected = f"empty or one of {', '.join(map(str, allowed))}"
    for label, value in col.items():
        values.append(pd.NA)
        if _missing(value):
            continue
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value.strip().replace(",", "."))
            except ValueError:
                number = None
        ok = (
            isinstance(number, int | float | np.integer | np.floating)
            and not isinstance(number, bool)
            and float(number) in {float(a) for a in allowed}
        )
        if ok:
            values[-1] = int(number)
        else:
            problems.append(Problem(f"{name}.{column}", _shown(value), expected, _label(label)))
    return pd.Series(pd.array(values, dtype="Int64"), index=table.index)


def _instruments() -> dict[str, Instrument]:
    """Every shipped instrument the model can read (its domains are the vocabulary's)."""
    from ..instruments import list_instruments
    from ..model import is_model_instrument

    return {
        inst.id: get_instrument(inst.id) for inst in list_instruments() if is_model_instrument(inst)
    }


def _item_ids(instruments: dict[str, Instrument]) -> dict[str, set[str]]:
    return {k: {i.id for i in inst.items} for k, inst in instruments.items()}


def content_sha256(*tables: pd.DataFrame) -> str:
    """SHA-256 of the tables' column names and values (not of a file's encoding)."""
    digest = hashlib.sha256()
    for table in tables:
        digest.update("\x1f".join(map(str, table.columns)).encode("utf-8"))
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_own_data(
    screenings: str | Path | pd.DataFrame,
    outcomes: str | Path | pd.DataFrame,
    *,
    groups: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> OwnData:
    """Read and check a screenings table and an outcomes table in the documented format.

    Parameters
    ----------
    screenings, outcomes : path or DataFrame
        CSV files (UTF-8, comma-separated, header row) or DataFrames; see the module
        docstring and ``docs/researcher-guide.md`` for the columns.
    groups : sequence of str
        Evaluation-only group columns (e.g. ``["sex", "municipality"]``), in either
        table. They are taken out here and never reach the model.
    ignore : sequence of str
        Other columns to leave out on purpose (neither evaluated nor seen by the model);
        any column not named anywhere is an error, so a misspelt item cannot vanish.

    Returns
    -------
    OwnData

    Raises
    ------
    ResponseValidationError
        Listing *every* problem of both tables at once (``.problems``, ``.to_frame()``):
        missing, unknown or duplicated columns, missing or CPR-shaped ids, bad dates,
        unknown instruments, steps outside 0-6, 0/1 columns with other values, two
        outcome rows for a child, an outcome for a child never screened, two screenings
        of a child on one day, a family id that changes between a child's screenings.
        Bad answers are reported when the forms are scored.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"child_id": ["A"], "screening_date": ["2026-03-01"],
    ...                   "instrument_id": ["opsporing.skole.trivsel"], "age_years": [9.0],
    ...                   "emo_sad": [2], "sex": ["pige"]})
    >>> o = pd.DataFrame({"child_id": ["A"], "outcome_date": ["2027-03-01"],
    ...                   "decided_step": [1]})
    >>> d = read_own_data(s, o, groups=["sex"])
    >>> list(d.groups.columns), "sex" in d.screenings.columns
    (['sex'], False)
    """
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, Sequence):
        raise ResponseValidationError(
            [Problem("groups", type(groups).__name__, "a list of column names", kind="argument")]
        )
    groups = [str(g) for g in groups]
    ignore = [str(c) for c in ([ignore] if isinstance(ignore, str) else ignore)]
    s_table, s_source = read_table(screenings, "screenings")
    o_table, o_source = read_table(outcomes, "outcomes")
    s_table = s_table.drop(columns=[c for c in ignore if c in s_table.columns])
    o_table = o_table.drop(columns=[c for c in ignore if c in o_table.columns])
    s_table.columns = [str(c) for c in s_table.columns]
    o_table.columns = [str(c) for c in o_table.columns]
    problems: list[Problem] = []
    format_cols = set(SCREENING_COLUMNS) | set(OUTCOME_COLUMNS)
    problems += [
        Problem("groups", g, "a column that is not a format column", kind="argument")
        for g in groups
        if g in format_cols
    ]
    problems += [
        Problem("groups", g, "a column of the screenings or the outcomes table", kind="argument")
        for g in groups
        if g not in s_table.columns and g not in o_table.columns
    ]
    instruments = _instruments()
    items = _item_ids(instruments)
    all_items = set().union(*items.values())
    problems += _column_problems(
        s_table, "screenings", SCREENING_REQUIRED, set(SCREENING_COLUMNS) | all_items | set(groups)
    )
    problems += _column_problems(
        o_table, "outcomes", OUTCOME_REQUIRED, set(OUTCOME_COLUMNS) | set(groups)
    )
    if problems:  # the columns must be right before the rows can be checked
        raise ResponseValidationError(problems, headline="invalid own data (columns)")
    if s_table.empty:
        raise ResponseValidationError(
            [Problem("screenings", "(no rows)", "at least one screening", kind="empty")],
            headline="invalid own data",
        )

    s_table = s_table.reset_index(drop=True)
    o_table = o_table.reset_index(drop=True)
    child = _ids(s_table, "child_id", "screenings", problems)
    family = (
        _ids(s_table, "family_id", "screenings", problems, required=False)
        if "family_id" in s_table.columns
        else None
    )
    s_dates = _dates(s_table, "screening_date", "screenings", problems)
    inst_col = s_table["instrument_id"]
    for label, value in inst_col.items():
        if value not in instruments:
            problems.append(
                Problem(
                    "screenings.instrument_id",
                    _shown(value),
                    f"one of {sorted(instruments)}",
                    _label(label),
                    "unknown_instrument",
                )
            )
    # An answer to an item the row's instrument does not have is a misfiled form.
    item_cols = [c for c in s_table.columns if c in all_items]
    for inst_id, own in items.items():
        rows = (inst_col == inst_id).to_numpy()
        for c in item_cols:
            if c in own:
                continue
            filled = rows & s_table[c].notna().to_numpy()
            for r in np.flatnonzero(filled)[:_SHOW].tolist():
                problems.append(
                    Problem(
                        f"screenings.{c}",
                        _shown(s_table[c].iat[r]),
                        f"empty: {c!r} is not an item of {inst_id}",
                        r,
                        "wrong_instrument",
                    )
                )
    # Two screenings of one child on one day: which one is current would be a guess.
    key = pd.DataFrame({"c": child, "d": s_dates})
    dup = key.duplicated(keep=False) & key["c"].notna() & key["d"].notna()
    for r in np.flatnonzero(dup.to_numpy()).tolist():
        problems.append(
            Problem(
                "screenings.screening_date",
                _shown(s_table["screening_date"].iat[r]),
                "one screening per child and day",
                r,
                "duplicate",
            )
        )
    if family is not None:
        per_child = pd.DataFrame({"c": child, "f": family}).dropna().drop_duplicates()
        changing = per_child["c"][per_child["c"].duplicated()].unique()
        for c in changing[:_SHOW]:
            problems.append(
                Problem(
                    "screenings.family_id",
                    f"child {_shown(c)}",
                    "the same family id on every screening of a child",
                    None,
                    "inconsistent",
                )
            )

    o_child = _ids(o_table, "child_id", "outcomes", problems)
    o_dates = _dates(o_table, "outcome_date", "outcomes", problems)
    outcome_values: dict[str, pd.Series] = {}
    for col, allowed in (
        ("decided_step", list(range(7))),
        ("notified", [0, 1]),
        ("investigation_result", [0, 1]),
    ):
        if col in o_table.columns:
            outcome_values[col] = _numbers(o_table, col, "outcomes", allowed, problems)
        else:
            outcome_values[col] = pd.Series(pd.NA, index=o_table.index, dtype="Int64")
    dup_child = o_child.duplicated(keep=False) & o_child.notna()
    for r in np.flatnonzero(dup_child.to_numpy()).tolist():
        problems.append(
            Problem(
                "outcomes.child_id",
                _shown(o_child.iat[r]),
                "one outcome row per child",
                r,
                "duplicate",
            )
        )
    screened = set(child.dropna())
    for r, c in enumerate(o_child.tolist()):
        if c is not None and c not in screened:
            problems.append(
                Problem(
                    "outcomes.child_id",
                    _shown(c),
                    "a child of the screenings table",
                    r,
                    "unknown_child",
                )
            )
    if problems:
        raise ResponseValidationError(problems, headline="invalid own data")

    s_clean = s_table.drop(columns=[g for g in groups if g in s_table.columns])
    s_clean = s_clean.assign(child_id=child, screening_date=s_dates)
    if family is not None:
        s_clean = s_clean.assign(family_id=family)
    out_frame = pd.DataFrame(
        {
            "outcome_date": o_dates.to_numpy(),
            **{k: v.to_numpy() for k, v in outcome_values.items()},
        },
        index=pd.Index(o_child.to_numpy(), name="child_id"),
    ).astype({k: "Int64" for k in outcome_values})

    children = pd.Index(pd.unique(child.to_numpy()), name="child_id")
    group_frame = pd.DataFrame(index=children)
    for g in groups:
        if g in o_table.columns:
            values = pd.Series(o_table[g].to_numpy(), index=o_child.to_numpy()).reindex(children)
        else:
            # a screening-level attribute: the value on the child's latest screening
            latest = (
                pd.DataFrame({"c": child, "d": s_dates, "v": s_table[g]})
                .sort_values(["c", "d"])
                .groupby("c")["v"]
                .last()
            )
            values = latest.reindex(children)
        group_frame[g] = [MISSING_GROUP if _missing(v) else str(v) for v in values.tolist()]
    families = None
    if family is not None:
        families = (
            pd.Series(family.to_numpy(), index=child.to_numpy())
            .groupby(level=0)
            .first()
            .reindex(children)
            .rename("family_id")
        )
    return OwnData(
        screenings=s_clean,
        outcomes=out_frame,
        groups=group_frame,
        families=families,
        sha256=content_sha256(s_table, o_table),
        sources={"screenings": s_source, "outcomes": o_source},
    )


#: Day of the year of the synthetic screenings (autumn) and of the outcomes.
_SCREENING_DAY = "09-15"
_OUTCOME_DAY = "12-01"

#: Child attributes written as evaluation-only group columns of the outcomes table.
SYNTHETIC_GROUPS: tuple[str, ...] = ("sex", "municipality", "setting", "family_background")


def own_data_from_population(pop: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic population as a screenings and an outcomes table in the documented format.

    Every educator's form of every wave becomes a screening row (the current wave dated
    15 September of the config's year, each earlier wave a year before the next); the
    parents' and the children's own forms are left out (the format has no informant
    column yet); every child an outcome row dated 1 December
    with ``decided_step`` = its true step. ``notified`` and ``investigation_result`` stay
    empty (the generator has no notifications), and no ``family_id`` is written (the
    generator has no siblings). The group columns :data:`SYNTHETIC_GROUPS` sit in the
    outcomes table. These are **not real children**.

    Examples
    --------
    >>> from opsporing.synthetic import SyntheticConfig, generate
    >>> pop = generate(SyntheticConfig(n_children=50, seed=3), progress=False)
    >>> s, o = own_data_from_population(pop)
    >>> len(o), sorted(set(s["screening_date"]))[-1]
    (50, '2026-09-15')
    """
    from ..model.train import current_wave, informant_rows

    year = int(pop.config.year)
    newest = current_wave(pop.forms)
    parts = []
    for forms in pop.forms.values():
        # The format holds one professional's screenings: the educators' forms (the
        # parents' and the children's own forms have no place in it yet).
        educator = forms[informant_rows(forms)]
        if not len(educator):
            continue
        table = educator.drop(columns=[c for c in ("form_id", "rater_id") if c in educator])
        dates = (year - newest + table["wave"].astype(int)).astype(str) + "-" + _SCREENING_DAY
        parts.append(table.drop(columns=["wave"]).assign(screening_date=dates.to_numpy()))
    forms_all = pd.concat(parts, ignore_index=True)
    items = [c for c in forms_all.columns if c not in SCREENING_COLUMNS]
    screenings = (
        forms_all.loc[
            :,
            [
                "child_id",
                "screening_date",
                "instrument_id",
                "instrument_version",
                "age_years",
                *items,
            ],
        ]
        .sort_values(["child_id", "screening_date"], kind="stable")
        .reset_index(drop=True)
    )
    children = pop.children
    outcomes = pd.DataFrame(
        {
            "child_id": children["child_id"].astype(str).to_numpy(),
            "outcome_date": f"{year}-{_OUTCOME_DAY}",
            "decided_step": children["true_step"].astype(int).to_numpy(),
            "notified": pd.array([pd.NA] * len(children), dtype="Int64"),
            "investigation_result": pd.array([pd.NA] * len(children), dtype="Int64"),
            **{g: children[g].astype(str).to_numpy() for g in SYNTHETIC_GROUPS},
        }
    )
    return screenings, outcomes


def write_own_data(pop: Any, directory: str | Path) -> tuple[Path, Path]:
    """Write any synthetic population as ``screenings.csv`` and ``outcomes.csv``.

    See :func:`own_data_from_population` for what is written. Returns the two paths.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    screenings, outcomes = own_data_from_population(pop)
    s_path, o_path = out / "screenings.csv", out / "outcomes.csv"
    # "%.10g": answers 0-3 are written as 0, 1, 2, 3, not 0.0; ages keep their decimals.
    screenings.to_csv(s_path, index=False, float_format="%.10g", lineterminator="\n")
    outcomes.to_csv(o_path, index=False, lineterminator="\n")
    return s_path, o_path
