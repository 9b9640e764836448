"""Reading SDQ responses from a file export, the informant taken from each response.

Two layouts are read (see ``docs/informants.md``):

- **KL Gateway (FHIR)**: ``QuestionnaireResponse`` resources of the KL Children
  implementation guide (``klgateway-children-sdq4-10``: parent report,
  ``klgateway-children-sdq11-17``: self-report), one resource, a ``Bundle`` of them, or
  NDJSON (one per line). The answers are read by
  :func:`opsporing.fhir.from_kl_sdq_response` (KL's linkIds and answer strings).
- **Table (CSV or JSON records)**: an ASSUMED layout, to be confirmed with KL: one row per
  response with ``respondent, child, date, age_years, sex, item1 … item25`` and the impact
  columns ``impact_difficulties, impact_distress, impact_home, impact_friendships,
  impact_classroom, impact_leisure``.

Every bad cell is a :class:`~opsporing.errors.Problem` naming the row, the field, the value
and what was expected, and all of them are raised together.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from .._safeload import read_text_limited
from ..errors import DataError, Problem, ResponseValidationError
from ..fhir import KL_SDQ_4_10, KL_SDQ_11_17, from_kl_sdq_response
from ..fhir._sdq import SDQ_ITEMS
from ..privacy import looks_like_cpr
from ._sdq import _IMPACT_LINKS, IMPACT_FIELDS, N_ITEMS, SdqInformant, SdqResponse

__all__ = ["TABLE_COLUMNS", "read_sdq", "sdq_responses_from_records"]

#: The largest export read (bytes); a bigger file is refused before it is parsed.
MAX_EXPORT_BYTES = 200 * 1024 * 1024
#: The columns of the assumed table layout, in order.
TABLE_COLUMNS = (
    "respondent", "child", "date", "age_years", "sex",
    *(f"item{n}" for n in range(1, N_ITEMS + 1)),
    *(f"impact_{f}" for f in IMPACT_FIELDS),
)  # fmt: skip
_REQUIRED = ("respondent", "child", *(f"item{n}" for n in range(1, N_ITEMS + 1)))
#: How a respondent may be written in the table layout (lower case).
_RESPONDENTS: dict[str, SdqInformant] = {
    "parent": "parent", "forælder": "parent", "foraelder": "parent",
    "teacher": "teacher", "lærer": "teacher", "laerer": "teacher", "pædagog": "teacher",
    "paedagog": "teacher", "self": "self", "selv": "self", "barn": "self", "child": "self",
}  # fmt: skip
_SEXES = {"boy": "boy", "dreng": "boy", "girl": "girl", "pige": "girl"}
#: KL Gateway SDQ questionnaires (canonical URL) -> who answers them.
KL_QUESTIONNAIRES: dict[str, SdqInformant] = {KL_SDQ_4_10: "parent", KL_SDQ_11_17: "self"}
#: Marks a cell missing from a short CSV row (a blank cell reads as "").
_SHORT: Any = object()


def _cell_int(value: Any, low: int, high: int) -> int | str | None:
    """The answer as an int, ``None`` for a blank, or the reason it is not an answer."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "bad"
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return "bad"
    elif isinstance(value, int | float):
        number = float(value)
    else:
        return "bad"
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        return "bad"
    return int(number)


def _choices(low: int, high: int) -> str:
    return f"one of {', '.join(str(v) for v in range(low, high + 1))}, or blank"


def sdq_responses_from_records(records: Sequence[Mapping[str, Any]]) -> list[SdqResponse]:
    """Responses from rows of the assumed table layout (:data:`TABLE_COLUMNS`).

    Raises
    ------
    ResponseValidationError
        Listing every bad cell of every row (row numbers count data rows from 1), every
        unknown or missing column, and every CPR-shaped child id.

    Examples
    --------
    >>> row = {"respondent": "lærer", "child": "B-17", **{f"item{n}": 0 for n in range(1, 26)}}
    >>> sdq_responses_from_records([row])[0].respondent
    'teacher'
    """
    problems: list[Problem] = []
    columns: set[str] = set()
    for rec in records:
        columns |= {str(k) for k in rec}
    problems += [
        Problem(c, "(unknown column)", f"a column of the SDQ layout {TABLE_COLUMNS[:5]}, "
                "item1..item25 or impact_*", kind="unknown_column")
        for c in sorted(columns - set(TABLE_COLUMNS))
    ]  # fmt: skip
    problems += [
        Problem(c, "(missing)", "a column of the SDQ layout", kind="missing_column")
        for c in _REQUIRED
        if records and c not in columns
    ]
    if problems:
        raise ResponseValidationError(problems, headline="the SDQ table has the wrong columns")
    out: list[SdqResponse] = []
    for number, rec in enumerate(records, start=1):
        found = _record(rec, number, problems)
        if found is not None:
            out.append(found)
    if problems:
        raise ResponseValidationError(problems, headline="invalid SDQ responses")
    return out


def _record(rec: Mapping[str, Any], row: int, problems: list[Problem]) -> SdqResponse | None:
    start = len(problems)
    raw_resp = rec.get("respondent")
    respondent = _RESPONDENTS.get(str(raw_resp).strip().lower()) if raw_resp is not None else None
    if respondent is None:
        problems.append(
            Problem("respondent", raw_resp, "parent, teacher or self (forælder, lærer, "
                    "pædagog, selv)", row, "invalid")
        )  # fmt: skip
    child = _child(rec.get("child"), "child", row, problems)
    when = _date(rec.get("date"), "date", row, problems)
    age = _age(rec.get("age_years"), row, problems)
    sex_raw = rec.get("sex")
    sex = None
    if sex_raw is not None and str(sex_raw).strip() != "":
        sex = _SEXES.get(str(sex_raw).strip().lower())
        if sex is None:
            problems.append(Problem("sex", sex_raw, "boy or girl (dreng, pige), or blank", row))
    items: list[int | None] = []
    for n in range(1, N_ITEMS + 1):
        v = _cell_int(rec.get(f"item{n}"), 0, 2)
        if v == "bad":
            problems.append(Problem(f"item{n}", rec.get(f"item{n}"), _choices(0, 2), row))
            v = None
        items.append(v if isinstance(v, int) else None)
    impact: dict[str, int | None] = {}
    for f in IMPACT_FIELDS:
        v = _cell_int(rec.get(f"impact_{f}"), 0, 3)
        if v == "bad":
            problems.append(Problem(f"impact_{f}", rec.get(f"impact_{f}"), _choices(0, 3), row))
            v = None
        impact[f] = v if isinstance(v, int) else None
    if len(problems) > start or respondent is None or child is None:
        return None
    return SdqResponse(respondent, child, tuple(items), when, age, sex, impact)  # type: ignore[arg-type]


def _child(value: Any, field: str, row: int | str, problems: list[Problem]) -> str | None:
    text = "" if value is None else str(value).strip()
    if text == "" or (isinstance(value, float) and math.isnan(value)):
        problems.append(Problem(field, value, "a pseudonymous child id", row, "missing"))
        return None
    if looks_like_cpr(text):
        problems.append(
            Problem(field, "(CPR number)", "a pseudonym, never a CPR number", row,
                    "personal_identifier")
        )  # fmt: skip
        return None
    if len(text) > 64 or not text.isprintable():
        problems.append(Problem(field, text, "a printable id of at most 64 characters", row))
        return None
    return text


def _date(value: Any, field: str, row: int | str, problems: list[Problem]) -> str | None:
    if (
        value is None
        or str(value).strip() == ""
        or (isinstance(value, float) and math.isnan(value))
    ):
        return None
    text = str(value).strip()[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        problems.append(Problem(field, value, "a date YYYY-MM-DD, or blank", row))
        return None


def _age(value: Any, row: int, problems: list[Problem]) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        age = float(str(value).replace(",", ".")) if not isinstance(value, bool) else math.nan
    except ValueError:
        age = math.nan
    if isinstance(value, float) and math.isnan(value):
        return None
    if not (math.isfinite(age) and 2 <= age < 19):
        problems.append(Problem("age_years", value, "an age in years from 2 to 18, or blank", row))
        return None
    return age


# --- KL Gateway (FHIR QuestionnaireResponse) ---------------------------------------------------
def _fhir_resources(tree: Any, problems: list[Problem]) -> list[tuple[str, Any]]:
    if isinstance(tree, Mapping) and tree.get("resourceType") == "Bundle":
        entries = tree.get("entry") or []
        if not isinstance(entries, list):
            problems.append(Problem("Bundle.entry", type(entries).__name__, "a list"))
            return []
        return [
            (f"entry[{i}]", e.get("resource") if isinstance(e, Mapping) else e)
            for i, e in enumerate(entries)
        ]
    return [("resource[0]", tree)]


def _questionnaire_response(
    resource: Any, where: str, problems: list[Problem]
) -> SdqResponse | None:
    start = len(problems)
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "QuestionnaireResponse":
        kind = (
            resource.get("resourceType")
            if isinstance(resource, Mapping)
            else type(resource).__name__
        )
        problems.append(Problem("resourceType", kind, "QuestionnaireResponse", where))
        return None
    row = f"{where} {resource.get('id')}" if resource.get("id") else where
    canonical = str(resource.get("questionnaire", "")).split("|")[0].rstrip("/")
    respondent = KL_QUESTIONNAIRES.get(canonical)
    if respondent is None:
        problems.append(
            Problem(
                "questionnaire",
                resource.get("questionnaire"),
                f"a KL Gateway SDQ questionnaire ({', '.join(KL_QUESTIONNAIRES)})",
                row,
            )
        )
    if resource.get("status") not in ("completed", "amended"):
        problems.append(Problem("status", resource.get("status"), "completed or amended", row))
    subject = resource.get("subject")
    ref = subject.get("reference") if isinstance(subject, Mapping) else None
    if ref is not None and not isinstance(ref, str):  # a list or object is no reference
        problems.append(Problem("subject.reference", ref, "a reference text Patient/<id>", row))
        child = None
    else:
        child = _child(ref.rsplit("/", 1)[-1] if ref else None, "subject.reference", row, problems)
    when = _date(resource.get("authored"), "authored", row, problems)
    try:  # the answers, by the one reader of KL Gateway SDQ responses
        answers = from_kl_sdq_response(resource, check_questionnaire=False)
    except ResponseValidationError as exc:
        problems += [replace(p, row=row) for p in exc.problems]
        return None
    if len(problems) > start or respondent is None or child is None:
        return None
    items = tuple(answers[link] for link in SDQ_ITEMS)
    impact = {name: answers[link] for name, link in _IMPACT_LINKS.items()}
    return SdqResponse(respondent, child, items, when, None, None, impact)


def _from_fhir(trees: list[tuple[str, Any]]) -> list[SdqResponse]:
    problems: list[Problem] = []
    resources: list[tuple[str, Any]] = []
    for where, tree in trees:
        for sub, res in _fhir_resources(tree, problems):
            resources.append((sub if where == "" else f"{where} {sub}", res))
    out = [r for where, res in resources if (r := _questionnaire_response(res, where, problems))]
    if problems:
        raise ResponseValidationError(problems, headline="invalid SDQ responses (KL Gateway)")
    return out


# --- files --------------------------------------------------------------------------------------
def read_sdq(path: str | Path) -> list[SdqResponse]:
    """SDQ responses from a KL Gateway FHIR export or a table in the assumed layout.

    ``.json``: a FHIR ``QuestionnaireResponse`` or ``Bundle`` (KL Gateway), or a list of
    records in the table layout; ``.ndjson``: one FHIR resource per line; ``.csv``: the
    table layout (``,`` or ``;`` separated, UTF-8).

    Raises
    ------
    DataError
        The file cannot be read or parsed.
    ResponseValidationError
        With every bad cell of every response (see :func:`sdq_responses_from_records`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> head = "respondent,child," + ",".join(f"item{n}" for n in range(1, 26))
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "sdq.csv").write_text(head + "\\nparent,P-1" + ",1" * 25 + "\\n")
    >>> [r.respondent for r in read_sdq(folder / "sdq.csv")]
    ['parent']
    """
    path = Path(path)
    text = read_text_limited(path, limit=MAX_EXPORT_BYTES, encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return sdq_responses_from_records(_csv_records(text, path))
    if suffix == ".ndjson":
        # Every line that is no JSON is reported, not only the first.
        lines: list[tuple[str, Any]] = []
        syntax: list[Problem] = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    lines.append((f"line {i}", _json(line, path, i)))
                except DataError as exc:
                    syntax += exc.problems
        if syntax:
            raise DataError(*syntax)
        return _from_fhir(lines)
    if suffix == ".json":
        tree = _json(text, path, None)
        if isinstance(tree, list) and all(
            isinstance(r, Mapping) and "resourceType" not in r for r in tree
        ):
            return sdq_responses_from_records(tree)
        if isinstance(tree, list):
            return _from_fhir([(f"[{i}]", t) for i, t in enumerate(tree)])
        return _from_fhir([("", tree)])
    raise DataError(
        Problem(str(path), suffix or "(no suffix)", "a .csv, .json or .ndjson file", kind="format")
    )


def _json(text: str, path: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f"{path}" if line is None else f"{path} line {line}"
        raise DataError(Problem(where, "(syntax)", f"valid JSON ({exc})", kind="syntax")) from None


def _csv_records(text: str, path: Path) -> list[dict[str, Any]]:
    first = text.split("\n", 1)[0]
    sep = ";" if first.count(";") > first.count(",") else ","
    try:
        reader = csv.DictReader(io.StringIO(text), delimiter=sep, strict=True, restval=_SHORT)
        rows = list(reader)
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise DataError(
            Problem(str(path), "(syntax)", f"valid CSV ({exc})", kind="syntax")
        ) from None
    dupes = sorted({h for h in header if header.count(h) > 1})
    problems = [
        Problem(h, "(duplicated)", "each column once", kind="duplicate_column") for h in dupes
    ]
    problems += [
        Problem("(extra cells)", row[None], f"at most {len(header)} cells", n, "ragged")
        for n, row in enumerate(rows, start=1)
        if None in row
    ]
    problems += [
        Problem("(missing cells)", sum(v is _SHORT for v in row.values()),
                f"{len(header)} cells, as in the header", n, "ragged")
        for n, row in enumerate(rows, start=1)
        if any(v is _SHORT for v in row.values())
    ]  # fmt: skip
    if problems:
        raise ResponseValidationError(problems, headline=f"cannot read {path.name} as an SDQ table")
    return [{k: v for k, v in row.items() if k is not None} for row in rows]
