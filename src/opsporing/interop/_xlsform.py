"""Export an instrument as an XLSForm (ODK Collect, KoboToolbox, Enketo, SurveyCTO).

One ``select_one`` question per item inside one group per domain, the answer scales as choice
lists (choice name = the stored value), labels in each language of the file. Scoring stays with
opsporing: the tools' CSV export of submissions is read back with :func:`xlsform_column_map`
and scored by :func:`opsporing.scoring.score_batch`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from babel import Locale

from ..errors import Problem, ResponseValidationError
from ..instruments import Instrument, instrument_languages
from ..vocabulary import Text

#: An XML name as XLSForm needs for question and list names (no leading digit).
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
#: XLSForm language columns ``label::<name> (<code>)``: the shipped languages' names; any
#: further language of an instrument gets its English name from CLDR (e.g. ``Arabic (ar)``).
LANGUAGE_COLUMNS = {"da": "Dansk (da)", "en": "English (en)"}


def language_column(code: str) -> str:
    """The XLSForm language name of ``code``: ``Dansk (da)``, ``English (en)``, ``German (de)``.

    Examples
    --------
    >>> language_column("ar"), language_column("pt-BR")
    ('Arabic (ar)', 'Portuguese (Brazil) (pt-BR)')
    """
    if code in LANGUAGE_COLUMNS:
        return LANGUAGE_COLUMNS[code]
    name = Locale.parse(code, sep="-").get_display_name("en") or code
    return f"{name} ({code})"


def xlsform_name(item_id: str) -> str:
    """The XLSForm name of an item or scale id: the id, with ``_`` before a leading digit.

    Examples
    --------
    >>> xlsform_name("emo_sad"), xlsform_name("1vurdering")
    ('emo_sad', '_1vurdering')
    """
    return item_id if _XML_NAME.fullmatch(item_id) else f"_{item_id}"


def xlsform_column_map(instrument: Instrument) -> dict[str, str]:
    """XLSForm question name -> item id, to rename the columns of exported submissions.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> xlsform_column_map(get_instrument("topi"))
    {'_1vurdering': '1vurdering'}
    """
    return {xlsform_name(i): i for i in instrument.item_ids}


def from_xlsform_submissions(table: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Submissions exported by ODK Central, KoboToolbox or Enketo as forms for ``score_batch``.

    A column of a question is found by its name alone or by its group path: ``emo_sad``,
    ``domain_emotional-emo_sad`` (ODK Central), ``domain_emotional/emo_sad`` (KoboToolbox,
    Enketo). It becomes the item id; its choice names ("0", "1", …) become numbers, empty cells
    unanswered. Other columns (``KEY``, ``_id``, ``SubmissionDate``, the note …) are left as
    they are: pass the ones to keep with ``keep=`` to ``score_batch`` and drop the rest.

    Raises
    ------
    ResponseValidationError
        Two columns for one item, or a cell that is not a choice name, each named with
        its row, column and value.

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.instruments import get_instrument
    >>> subs = pd.DataFrame({"KEY": ["uuid:1", "uuid:2"],
    ...                      "domain_vurdering-_1vurdering": ["2", ""]})
    >>> from_xlsform_submissions(subs, get_instrument("topi")).to_dict("list")
    {'KEY': ['uuid:1', 'uuid:2'], '1vurdering': [2.0, nan]}
    """
    names = xlsform_column_map(instrument)
    renames: dict[str, str] = {}
    problems: list[Problem] = []
    for column in table.columns:
        leaf = re.split(r"[-/]", str(column))[-1]
        if leaf in names:
            item = names[leaf]
            if item in renames.values():
                problems.append(
                    Problem(str(column), item, "one column per question", kind="duplicate_column")
                )
            renames[str(column)] = item
    if problems:
        raise ResponseValidationError(problems, headline="invalid XLSForm submissions")
    out = table.rename(columns=renames)
    for item in renames.values():
        text = out[item].astype("string").str.strip()
        numbers = pd.to_numeric(text.mask(text == ""), errors="coerce")
        bad = numbers.isna() & text.fillna("").ne("")
        problems += [
            Problem(
                item,
                value,
                "a choice name of the item (its value) or empty",
                row=row if isinstance(row, int | str) else str(row),
            )
            for row, value in text[bad].items()
        ]
        out[item] = numbers.astype("float64")
    if problems:
        raise ResponseValidationError(problems, headline="invalid XLSForm submissions")
    return out


@dataclass(frozen=True)
class XLSForm:
    """The three sheets of an XLSForm as rows (dicts of column -> cell)."""

    survey: tuple[dict[str, Any], ...]
    choices: tuple[dict[str, Any], ...]
    settings: tuple[dict[str, Any], ...]

    def sheets(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "survey": list(self.survey),
            "choices": list(self.choices),
            "settings": list(self.settings),
        }

    def write(self, path: str | Path) -> Path:
        """Write the workbook (``.xlsx``); needs ``openpyxl`` (the ``[interop]`` extra)."""
        try:
            from openpyxl import Workbook
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ResponseValidationError(
                [Problem("openpyxl", "not installed", "pip install 'opsporing[interop]'")],
                headline="cannot write an XLSForm workbook",
            ) from exc
        book = Workbook()
        book.remove(book.active)
        for name, rows in self.sheets().items():
            sheet = book.create_sheet(name)
            columns = list(dict.fromkeys(k for row in rows for k in row))
            sheet.append(columns)
            for row in rows:
                sheet.append([row.get(c, "") for c in columns])
        out = Path(path)
        book.save(out)
        return out


def _labels(text: Text, languages: Sequence[str]) -> dict[str, str]:
    # A text without one of the form's languages shows its Danish there (Text.get falls back).
    return {f"label::{language_column(lang)}": text.get(lang) for lang in languages}


def to_xlsform(instrument: Instrument) -> XLSForm:
    """An instrument as an XLSForm.

    Parameters
    ----------
    instrument : Instrument

    Returns
    -------
    XLSForm
        ``survey``: ``begin_group``/``end_group`` per domain (name ``domain_<id>``) around
        one ``select_one <scale>`` per item (an ``integer`` with a range ``constraint`` for
        an item on a number scale; ``required: yes`` for the items of a required domain),
        named by :func:`xlsform_name`, labelled in Danish, English and every further
        language the instrument carries; an opening ``note`` says the form is decision
        support.
        ``choices``: each scale's values (name = the value) with their labels.
        ``settings``: ``form_id`` (the instrument id), ``version``, ``form_title``,
        ``default_language``.

    Examples
    --------
    >>> from opsporing.instruments import get_instrument
    >>> form = to_xlsform(get_instrument("topi"))
    >>> for row in form.survey:
    ...     print(row["type"], row["name"])
    note opsporing_note
    begin_group domain_vurdering
    select_one topi _1vurdering
    end_group domain_vurdering
    >>> [(r["list_name"], r["name"], r["label::Dansk (da)"]) for r in form.choices]
    [('topi', '0', 'Grøn'), ('topi', '1', 'Gul'), ('topi', '2', 'Rød')]
    """
    if not isinstance(instrument, Instrument):
        raise ResponseValidationError(
            [Problem("instrument", type(instrument).__name__, "an opsporing Instrument")]
        )
    note = Text(
        da="Beslutningsstøtte: skemaet erstatter aldrig den faglige vurdering eller "
        "underretningspligten (barnets lov § 133).",
        en="Decision support: the form never replaces the professional's judgment or "
        "the duty to notify (Children's Act § 133).",
    )
    # One label column per language: the shipped two, then any further one the file carries.
    languages = tuple(dict.fromkeys([*LANGUAGE_COLUMNS, *instrument_languages(instrument)]))
    survey: list[dict[str, Any]] = [
        {"type": "note", "name": "opsporing_note", **_labels(note, languages)}
    ]
    for domain in instrument.domains:
        members = instrument.items_in(domain.id)
        group = f"domain_{xlsform_name(domain.id).lstrip('_')}"
        survey.append({"type": "begin_group", "name": group, **_labels(domain.label, languages)})
        for item in members:
            scale = instrument.scale(item.scale)
            row: dict[str, Any] = {
                "type": f"select_one {xlsform_name(item.scale)}",
                "name": xlsform_name(item.id),
                **_labels(item.text, languages),
            }
            if scale.number is not None:
                # A count (e.g. days absent): a whole number within the scale's range.
                row["type"] = "integer"
                row["constraint"] = f". >= {scale.min} and . <= {scale.max}"
                # One message per language column, as the labels (pyxform warns otherwise).
                for lang, col in LANGUAGE_COLUMNS.items():
                    row[f"constraint_message::{col}"] = (
                        f"{scale.min}-{scale.max} {scale.number.unit.get(lang)}"
                    )
            if domain.required:
                # Safety items: a blank must never be read as "no".
                row["required"] = "yes"
            survey.append(row)
        survey.append({"type": "end_group", "name": group})
    choices = [
        {"list_name": xlsform_name(scale.id), "name": str(o.value), **_labels(o.label, languages)}
        for scale in instrument.scales
        for o in scale.options
    ]
    settings = [
        {
            "form_id": instrument.id,
            "version": instrument.version,
            "form_title": instrument.title.da,
            "default_language": LANGUAGE_COLUMNS["da"],
        }
    ]
    return XLSForm(tuple(survey), tuple(choices), tuple(settings))
