"""A self-contained HTML report: tables and figures in one file for a paper's appendix.

A report never prints a CPR number: a table with a column named like one (``cpr``,
``CPR_nr``), or any cell, label or text holding one, is refused with a DataError.

The file holds everything (figures as base64 PNG, CSS inline), and its content depends only
on its inputs: no timestamp unless one is passed as ``date``, PNGs saved without metadata.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..privacy import looks_like_cpr
from . import _checks as chk

_CSS = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { padding: 0.2em 0.6em; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; } img { max-width: 100%; } .caption { color: #555; font-size: 0.9em; }
""".strip()

Content = pd.DataFrame | pd.Series | Figure | str


@dataclass(frozen=True)
class Section:
    """One titled section of a :func:`report`.

    Parameters
    ----------
    title : str
        The section heading.
    content : tuple
        In order: DataFrames and Series (tables), matplotlib Figures (embedded PNGs) and
        strings (paragraphs; a blank line starts a new one).

    Examples
    --------
    >>> import pandas as pd
    >>> from opsporing.evaluation import Section
    >>> Section("Detection", (pd.DataFrame({"auc": [0.8]}), "AUC on the test set.")).title
    'Detection'
    """

    title: str
    content: tuple[Content, ...] = ()

    def __post_init__(self) -> None:
        # one item, or a list, is accepted and kept as a tuple
        items = self.content
        if isinstance(items, pd.DataFrame | pd.Series | Figure | str):
            items = (items,)
        object.__setattr__(self, "content", tuple(items))


Lang = Literal["en", "da"]


def format_number(value: Any, digits: int = 3, lang: Lang = "en") -> str:
    """A number as a person reads it: counts as integers, Danish decimal comma on ``"da"``.

    Integers (``int``, NumPy integers) keep no decimals and get a thousands separator;
    floats get ``digits`` decimals; missing values are "–"; anything else is ``str``.

    Examples
    --------
    >>> format_number(10000), format_number(0.36125), format_number(12345.5, 1, "da")
    ('10,000', '0.361', '12.345,5')
    >>> format_number(float("nan")), format_number(True)
    ('–', 'True')
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        text = f"{int(value):,}"
    elif isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "–" if np.isnan(value) else str(float(value))
        text = f"{float(value):,.{digits}f}"
    elif value is None or value is pd.NA or value is pd.NaT:
        return "–"
    else:
        return str(value)
    if lang == "da":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def _table(obj: pd.DataFrame | pd.Series, digits: int, lang: Lang = "en") -> str:
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    show_index = not isinstance(frame.index, pd.RangeIndex)
    # Formatted cell by cell: a column mixing counts and rates (object dtype) shows each
    # as what it is, and an integer column is never printed as "10000.000".
    shown = frame.astype(object).map(lambda v: format_number(v, digits, lang))
    if show_index and not isinstance(shown.index, pd.MultiIndex):
        shown.index = pd.Index(
            [format_number(v, digits, lang) if isinstance(v, float) else v for v in shown.index],
            name=frame.index.name,
        )
    return shown.to_html(index=show_index, border=0, escape=True)


def _image(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(fig.get_suptitle() or (fig.axes[0].get_title() if fig.axes else "figure"))
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in parts)


def _refuse_cpr(item: pd.DataFrame | pd.Series | str, where: str) -> None:
    """Raise if a table or text would print a CPR number or a CPR column (ASVS V8.3)."""
    if isinstance(item, str):
        if looks_like_cpr(item):
            raise chk.fail(where, chk.text("text with a CPR number"), "text without CPR numbers")
        return
    frame = item.to_frame() if isinstance(item, pd.Series) else item
    names = [str(c) for c in frame.columns] + [str(n) for n in frame.index.names if n is not None]
    cpr_named = [n for n in names if "cpr" in n.casefold()]
    if cpr_named:
        raise chk.fail(where, chk.text(f"column {cpr_named[0]!r}"), "a table without a CPR column")
    cells = [frame.index, frame.columns, *(frame.iloc[:, j] for j in range(frame.shape[1]))]
    for values in cells:
        if any(looks_like_cpr(v) for v in values):
            raise chk.fail(
                where, chk.text("a CPR number in the table"), "a table without CPR numbers"
            )


def _render(item: Any, where: str, digits: int, dpi: int, lang: Lang = "en") -> str:
    if isinstance(item, pd.DataFrame | pd.Series | str):
        _refuse_cpr(item, where)
    if isinstance(item, pd.DataFrame | pd.Series):
        return _table(item, digits, lang)
    if isinstance(item, Figure):
        return _image(item, dpi)
    if isinstance(item, str):
        return _paragraphs(item)
    raise chk.fail(
        where, chk.text(type(item).__name__), "a DataFrame, Series, matplotlib Figure or str"
    )


def report(
    *sections: Section,
    path: str | Path,
    title: str = "opsporing: detection-quality report",
    date: str | None = None,
    digits: int = 3,
    dpi: int = 100,
    lang: Lang = "en",
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write a self-contained HTML report of tables and figures.

    Parameters
    ----------
    *sections : Section
        The sections in order.
    path : str or Path
        Where to write the HTML (UTF-8). Its folder must exist.
    title : str
        The report's heading.
    date : str, optional
        Shown under the heading when given; the report never reads the clock, so the same
        inputs always give the same bytes.
    digits : int, default 3
        Decimals of floats in tables.
    dpi : int, default 100
        Resolution of the embedded PNGs.
    lang : {"en", "da"}, default "en"
        The page's language: ``"da"`` writes numbers with a decimal comma and "." between
        thousands (0,361; 10.000).
    provenance : mapping, optional
        What the numbers come from, shown as a table under the heading: e.g. the model
        id and SHA-256 and the data's SHA-256 (the evaluation reports always give them).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from opsporing.evaluation import Section, plot_roc, report
    >>> fig = plot_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> sec = Section("Detection", (pd.DataFrame({"auc": [0.75]}), fig))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = report(sec, path=pathlib.Path(d) / "r.html").read_text(encoding="utf-8")
    >>> "<h2>Detection</h2>" in text and "data:image/png;base64," in text
    True
    """
    if not sections:
        raise chk.fail("sections", chk.text("none"), "at least one Section")
    digits = chk.positive_int(digits, "digits", minimum=0)
    dpi = chk.positive_int(dpi, "dpi", minimum=10)
    if lang not in ("en", "da"):
        raise chk.fail("lang", lang, "'en' or 'da'")
    _refuse_cpr(str(title), "title")
    body = [f"<h1>{html.escape(title)}</h1>"]
    if date is not None:
        body.append(f'<p class="caption">{html.escape(str(date))}</p>')
    if provenance:
        prov = pd.Series({str(k): v for k, v in provenance.items()}, dtype=object, name="")
        prov.index.name = "provenance"
        body.append(_table(prov, digits, lang))
    for k, sec in enumerate(sections):
        if not isinstance(sec, Section):
            raise chk.fail(f"sections[{k}]", chk.text(type(sec).__name__), "a Section")
        _refuse_cpr(str(sec.title), f"sections[{k}].title")
        body.append(f"<h2>{html.escape(sec.title)}</h2>")
        body += [
            _render(item, f"{sec.title!r} content[{j}]", digits, dpi, lang)
            for j, item in enumerate(sec.content)
        ]
    doc = "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{lang}">',
            '<head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>\n{_CSS}\n</style></head>",
            "<body>",
            *body,
            "</body></html>",
            "",
        ]
    )
    out = Path(path)
    out.write_text(doc, encoding="utf-8")
    return out
