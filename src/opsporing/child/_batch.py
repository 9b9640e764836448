"""Screening rounds from a table: one row per form, several informants per child and round."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import Problem, ResponseValidationError, UnknownInstrumentError
from ..instruments import Instrument, get_instrument
from ..scoring import band_column, concept_column, score_batch, score_column, scoring_key
from ..scoring._batch import _is_missing, _label, _plain
from ._record import ChildRecord
from ._round import (
    InformantForm,
    ScreeningRound,
    build_round,
    check_child_id,
    domain_labels,
    informant_form,
)
from ._scale import domain_ranges

__all__ = ["ROUND_COLUMNS", "RoundsResult", "score_rounds"]

#: Columns every row of a rounds table has.
ROUND_COLUMNS = ("child_id", "round_id", "date", "instrument_id")
#: Columns a rounds table may have besides those and the items.
_OPTIONAL = ("instrument_version", "age_years", "setting")


@dataclass(frozen=True)
class RoundsResult:
    """What :func:`score_rounds` returns.

    Attributes
    ----------
    rounds : tuple of ScreeningRound
        Ordered by child, date and round id.
    rejected : DataFrame
        One row per problem (``row, field, value, expected, kind``); a round with one bad
        form is rejected whole (its other rows are named ``round_incomplete``), so no
        informant's voice is dropped silently.
    red_flags : dict
        Rejected rows whose valid answers raise a red flag: the duty to notify applies now.
    """

    rounds: tuple[ScreeningRound, ...]
    rejected: pd.DataFrame
    red_flags: dict[Any, tuple[str, ...]] = field(default_factory=dict)

    def records(self) -> list[ChildRecord]:
        """One :class:`ChildRecord` per child, in child id order."""
        by_child: dict[str, list[ScreeningRound]] = {}
        for r in self.rounds:
            by_child.setdefault(r.child_id, []).append(r)
        return [ChildRecord.build(c, rs) for c, rs in sorted(by_child.items())]

    def to_frame(self, lang: Literal["da", "en"] = "da") -> pd.DataFrame:
        """Every round's :meth:`ScreeningRound.to_frame`, one below the other."""
        frames = [r.to_frame(lang) for r in self.rounds]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _day(value: Any) -> date | None:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


_Catalogue = dict[tuple[str, str | None], Instrument]


def _catalogue(instruments: Iterable[Instrument] | None) -> _Catalogue:
    found: _Catalogue = {}
    for inst in instruments or ():
        found[(inst.id, inst.version)] = inst
        newest = found.get((inst.id, None))
        if newest is None or inst.version > newest.version:
            found[(inst.id, None)] = inst
    return found


def score_rounds(
    forms: pd.DataFrame,
    *,
    instruments: Iterable[Instrument] | None = None,
    errors: Literal["raise", "collect"] = "raise",
) -> RoundsResult:
    """Score a table of forms from several informants into screening rounds.

    Parameters
    ----------
    forms : DataFrame
        One row per form, with columns ``child_id`` (pseudonymous), ``round_id``,
        ``date`` (ISO ``YYYY-MM-DD``), ``instrument_id``, optionally
        ``instrument_version``, ``age_years`` and ``setting``, and the item columns of
        every instrument used. A row's cells in another instrument's item columns must be
        empty. The informant comes from the instrument.
    instruments : iterable of Instrument, optional
        Instruments of one's own (looked up by id and version before the shipped ones).
    errors : {"raise", "collect"}
        ``"raise"``: any problem raises :class:`~opsporing.errors.ResponseValidationError`
        listing every problem of every row. ``"collect"``: the good rounds, and the
        problems in ``rejected``.

    Returns
    -------
    RoundsResult

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> inst = get_instrument("opsporing.skole.trivsel")
    >>> emo = [i.id for i in inst.items_in("emotional")]
    >>> table = pd.DataFrame([{"child_id": "C1", "round_id": "r1", "date": "2026-10-01",
    ...                        "instrument_id": inst.id, **dict.fromkeys(emo, 1)}])
    >>> score_rounds(table).rounds[0].domain("emotional").combined_band
    'gul'
    """
    if not isinstance(forms, pd.DataFrame):
        raise ResponseValidationError(
            [Problem("forms", type(forms).__name__, "a pandas DataFrame", kind="type")]
        )
    if errors not in ("raise", "collect"):
        raise ResponseValidationError(
            [Problem("errors", errors, "'raise' or 'collect'", kind="argument")]
        )
    table_problems = [
        Problem(c, "(missing)", "a column of the table", kind="missing_column")
        for c in ROUND_COLUMNS
        if c not in forms.columns
    ]
    if not all(isinstance(c, str) for c in forms.columns):
        table_problems.append(Problem("(columns)", "(column)", "column names that are text"))
    if forms.columns.duplicated().any():
        table_problems.append(Problem("(columns)", "(column)", "each column once"))
    if not forms.index.is_unique:
        table_problems.append(Problem("(index)", "(row labels)", "unique row labels"))
    if table_problems:
        raise ResponseValidationError(table_problems, headline="invalid rounds table")

    own = _catalogue(instruments)
    problems: list[Problem] = []
    bad: dict[Any, bool] = {}
    resolved: dict[Any, Instrument] = {}
    days: dict[Any, date] = {}
    meta = set(ROUND_COLUMNS) | set(_OPTIONAL)
    items = [c for c in forms.columns if c not in meta]

    def report(row: Any, name: str, value: Any, expected: str, kind: str = "invalid") -> None:
        problems.append(Problem(name, _plain(value), expected, row=_label(row), kind=kind))
        bad[row] = True

    has_version = "instrument_version" in forms.columns
    for row, rec in zip(forms.index, forms.to_dict("records"), strict=True):
        for p in check_child_id(rec["child_id"], row=_label(row)):
            problems.append(p)
            bad[row] = True
        if not _text(rec["round_id"]):
            report(row, "round_id", rec["round_id"], "a round id (text)")
        when = _day(rec["date"])
        if when is None:
            report(row, "date", rec["date"], "a date as YYYY-MM-DD", "not_a_date")
        else:
            days[row] = when
        version = rec.get("instrument_version") if has_version else None
        version = None if _is_missing(version) else version
        iid = rec["instrument_id"]
        inst = own.get((iid, version)) if isinstance(iid, str) else None
        if inst is None and isinstance(iid, str):
            try:
                inst = get_instrument(iid, None if version is None else str(version))
            except UnknownInstrumentError as err:
                report(row, "instrument_id", iid, str(err).split(": expected ")[-1][:300],
                       "unknown_instrument")  # fmt: skip
                continue
        if inst is None:
            report(row, "instrument_id", iid, "an instrument id (text)", "unknown_instrument")
            continue
        resolved[row] = inst
        own_items = set(inst.item_ids)
        for c in items:
            if c not in own_items and not _is_missing(rec[c]):
                report(row, c, rec[c], f"empty: not an item of {inst.key}", "unknown_item")

    red_flags: dict[Any, tuple[str, ...]] = {}
    scored: dict[Any, InformantForm] = {}
    by_instrument: dict[str, list[Any]] = {}
    for row, inst in resolved.items():
        by_instrument.setdefault(inst.key, []).append(row)
    for rows in by_instrument.values():
        inst = resolved[rows[0]]
        cols = [c for c in (*inst.item_ids, "age_years", "setting") if c in forms.columns]
        result = score_batch(inst, forms.loc[rows, cols], errors="collect")
        for rec in result.rejected.to_dict("records"):
            problems.append(
                Problem(
                    rec["field"], rec["value"], rec["expected"], row=rec["row"], kind=rec["kind"]
                )
            )
            bad[_row_of(forms.index, rec["row"])] = True
        red_flags.update(result.red_flags)
        scored.update(_forms(inst, result.scores, forms, days))

    rounds: dict[tuple[str, str], list[Any]] = {}
    for row in forms.index:
        child: Any = forms.at[row, "child_id"]
        round_id: Any = forms.at[row, "round_id"]
        if isinstance(child, str) and isinstance(round_id, str) and not check_child_id(child):
            rounds.setdefault((child, round_id), []).append(row)
    for members in rounds.values():
        informants = [resolved[m].informant for m in members if m in resolved]
        for m in members:
            if m in resolved and informants.count(resolved[m].informant) > 1:
                report(m, "informant", resolved[m].informant,
                       "one form per informant in a round", "duplicate_informant")  # fmt: skip
    out: list[ScreeningRound] = []
    for (child, round_id), members in rounds.items():
        broken = [m for m in members if bad.get(m)]
        if broken:
            for m in members:
                if not bad.get(m):
                    report(m, "round_id", round_id,
                           f"a round whose every form is valid (row {_label(broken[0])} is not)",
                           "round_incomplete")  # fmt: skip
            continue
        out.append(
            build_round(
                child,
                round_id,
                [scored[m] for m in members],
                domain_labels(resolved[m] for m in members),
            )
        )
    grouped = {m for ms in rounds.values() for m in ms}
    for row in forms.index:  # rows with no usable child or round id are bad already
        if row not in bad and row not in grouped:  # pragma: no cover - never silently dropped
            report(row, "child_id", forms.at[row, "child_id"], "a child and round id")
    if problems and errors == "raise":
        raise ResponseValidationError(
            problems, headline="invalid screening rounds", red_flags=red_flags
        )
    out.sort(key=lambda r: (r.child_id, r.date, r.round_id))
    return RoundsResult(
        rounds=tuple(out),
        rejected=ResponseValidationError(problems).to_frame(),
        red_flags=red_flags,
    )


def _row_of(index: pd.Index, label: Any) -> Any:
    """The index label a problem's (plain) row label stands for."""
    if label in index:
        return label
    return next((x for x in index if _label(x) == label), label)


def _forms(
    inst: Instrument, scores: pd.DataFrame, forms: pd.DataFrame, days: dict[Any, date]
) -> dict[Any, InformantForm]:
    key = scoring_key(inst)
    flags = zip(key.concepts, key.red_flag, strict=True)
    red = [concept_column(c) for c, is_red in flags if is_red]
    # Columns read once as arrays: a cell lookup per form and domain is slow in pandas.
    ranges = domain_ranges(inst)
    score = {d: scores[score_column(d)].to_numpy(float) for d in inst.domain_ids}
    band = {d: scores[band_column(d)].astype(object).to_numpy() for d in inst.domain_ids}
    overall = scores[band_column("overall")].astype(object).to_numpy()
    flagged = scores[red].to_numpy(bool) if red else np.zeros((len(scores), 0), bool)
    codes = [c.removeprefix("concept.") for c in red]
    meta = forms.loc[scores.index]
    none: list[Any] = [None] * len(meta)
    ages: Any = meta["age_years"].to_numpy(object) if "age_years" in meta else none
    settings: Any = meta["setting"].to_numpy(object) if "setting" in meta else none
    out = {}
    for i, row in enumerate(scores.index):
        if row not in days:
            continue
        pairs = {
            d: (None if math.isnan(score[d][i]) else float(score[d][i]), _band(band[d][i]))
            for d in inst.domain_ids
        }
        age, setting = ages[i], settings[i]
        out[row] = informant_form(
            inst,
            days[row],
            pairs,
            _band(overall[i]),
            [c for c, hit in zip(codes, flagged[i], strict=True) if hit],
            age_years=None if _is_missing(age) else float(age),
            setting=None if _is_missing(setting) else str(setting),
            ranges=ranges,
        )
    return out


def _band(value: Any) -> str | None:
    return None if _is_missing(value) else str(value)
