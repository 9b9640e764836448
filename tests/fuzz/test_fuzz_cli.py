"""The command line: random CSV files through ``opsporing score``, bad paths and knobs.

A verb ends with exit status 0 and its output, or with exit status 2, one line
``opsporing: error: ...`` and then at most 10 problems of one line each and a count of
the rest (no traceback), and writes no output file when it fails.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from opsporing.cli import app
from opsporing.instruments import load_instrument

from ..conftest import DATA
from .conftest import budget, count

MINI_PATH = DATA / "mini_instrument.yaml"
MINI = load_instrument(MINI_PATH)
INSTRUMENTS = {"topi": ("1vurdering",), str(MINI_PATH): MINI.item_ids}
META = ("form_id", "age_years", "setting", "instrument_id", "instrument_version")

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


def _check_failure(result: Any) -> None:
    """Exit 2: ``opsporing: error: ...``, then one line per problem (at most 10, then a count)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and lines[0].startswith("opsporing: error: "), result.output
    problems = [line for line in lines[1:] if not line.startswith("  ... and ")]
    assert len(problems) <= 10 and all(line.startswith("  - ") for line in problems), lines
    assert len(lines) - 1 - len(problems) <= 1  # the count of the rest, once
    assert "Traceback" not in result.output


def _check_failure_or_usage(result: Any) -> None:
    """An opsporing error as above, or click's usage error (exit 2) for a bad option value."""
    if "Usage:" in result.output:
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    else:
        _check_failure(result)


CELL = st.one_of(
    st.sampled_from(["", "0", "1", "2", "3", "4", "-1", "1.0", "2.5", "nan", "NA", "inf", "x"]),
    st.integers(-5, 5).map(str),
    st.text(max_size=6),
)
HEADER = st.one_of(st.sampled_from(META), st.text(max_size=8))


@st.composite
def csv_bytes(draw: st.DrawFn, items: tuple[str, ...]) -> tuple[bytes, list[str]]:
    """Random CSV bytes: headers from the items, meta columns and junk; random quoting."""
    header = draw(st.lists(st.one_of(st.sampled_from(items), HEADER), min_size=0, max_size=6))
    n_rows = draw(st.integers(0, 5))
    rows = [[draw(CELL) for _ in header] for _ in range(n_rows)]
    if draw(st.booleans()) and rows:  # ragged rows
        rows[draw(st.integers(0, len(rows) - 1))].append(draw(CELL))
    buf = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    writer = csv.writer(buf, quoting=quoting, delimiter=draw(st.sampled_from([",", ",", ";"])))
    if header or draw(st.booleans()):
        writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    if draw(st.booleans()):  # a random cut or splice: unbalanced quotes, half a line
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", '"', "\x00", "\r", "\n\n", ",,"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=60))
    return data, header


def _score(folder: Path, data: bytes, instrument: str, keep: list[str]) -> None:
    count("cli.score (CSV)")
    forms = folder / "forms.csv"
    out = folder / "scores.csv"
    forms.write_bytes(data)
    out.unlink(missing_ok=True)
    args = ["score", str(forms), "-i", instrument, "-o", str(out)]
    for k in keep:
        args += ["-k", k]
    result = runner.invoke(app, args)
    if result.exit_code == 0:
        assert result.exception is None
        assert out.is_file(), result.output
        scores = pd.read_csv(out)
        assert "band.overall" in scores.columns
        assert all(k in scores.columns for k in keep)
    else:
        _check_failure(result)
        assert not out.exists(), "a failed score must not leave an output file"


@budget(300)
@given(data=st.data(), instrument=st.sampled_from(sorted(INSTRUMENTS)))
@example(data=None, instrument="topi")
def test_random_csv_scores_or_fails_with_one_line(
    folder: Path, data: st.DataObject | None, instrument: str
) -> None:
    if data is None:  # a plain good file: the happy path is really taken
        _score(folder, b"form_id,1vurdering\na,0\nb,2\n", "topi", ["form_id"])
        assert (folder / "scores.csv").is_file()
        return
    content, header = data.draw(csv_bytes(INSTRUMENTS[instrument]))
    names = st.sampled_from(header) if header else HEADER
    keep = data.draw(st.lists(names, max_size=2) | st.lists(HEADER, max_size=1))
    _score(folder, content, instrument, keep)


MINI_STR = str(MINI_PATH)


@pytest.mark.parametrize(
    ("content", "keep", "instrument"),
    [
        (b"", ["form_id"], "topi"),  # empty file
        (b"\xff\xfe\x00", ["form_id"], "topi"),  # half a UTF-16 BOM
        (b'form_id,1vurdering\n"a,1\n', ["form_id"], "topi"),  # unbalanced quote
        (b"form_id,1vurdering,1vurdering\na,1,2\n", ["form_id"], "topi"),  # duplicated column
        (b"form_id,1vurdering\na,1e400\n", ["form_id"], "topi"),  # a number beyond float
        (b"\x00\x00\x00", ["form_id"], "topi"),  # NUL bytes
        # Regressions found by the property test above:
        (b"\x1e\r\n", [], MINI_STR),  # a header that is a line break: a two-line message
        (b"m1\r\n", ["m1", "m1"], MINI_STR),  # keep named twice: ValueError from pandas
        (b"red_flag,m1\nx,1\n", ["red_flag"], MINI_STR),  # kept column overwritten silently
    ],
)
def test_known_bad_csv_files(
    folder: Path, content: bytes, keep: list[str], instrument: str
) -> None:
    _score(folder, content, instrument, keep)
    if keep == ["red_flag"]:
        assert not (folder / "scores.csv").exists()


def test_output_in_a_missing_folder_fails_with_one_line(folder: Path) -> None:
    count("cli.score (CSV)")
    forms = folder / "ok.csv"
    forms.write_text("form_id,1vurdering\na,1\n", encoding="utf-8")
    for out in (folder / "missing" / "scores.csv", folder):
        before = sorted(p.name for p in folder.iterdir())
        result = runner.invoke(
            app, ["score", str(forms), "-i", "topi", "-k", "form_id", "-o", str(out)]
        )
        _check_failure(result)
        assert "--output" in result.output
        assert not (folder / "missing").exists()
        assert sorted(p.name for p in folder.iterdir()) == before  # no temporary file left


def test_export_fhir_to_a_missing_folder_fails_with_one_line(folder: Path) -> None:
    """Regression: FileNotFoundError with a traceback (fixed in opsporing/cli.py)."""
    count("cli.export-fhir")
    result = runner.invoke(app, ["export-fhir", "topi", "-o", str(folder / "none" / "q.json")])
    _check_failure(result)
    assert not (folder / "none").exists()


# --- export-fhir, instruments show, synth: garbage arguments ----------------------------------
ARG = st.one_of(
    st.sampled_from(["topi", "opsporing.skole.trivsel", str(MINI_PATH), "x.yaml", "x.json", ""]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12).filter(
        lambda s: "\x00" not in s and not s.startswith("-")
    ),
)


@budget(100)
@given(instrument=ARG, lang=st.one_of(st.sampled_from(["da", "en", "de", ""]), st.text(max_size=3)))
def test_export_fhir_with_garbage_arguments(folder: Path, instrument: str, lang: str) -> None:
    count("cli.export-fhir")
    out = folder / "q.json"
    out.unlink(missing_ok=True)
    result = runner.invoke(app, ["export-fhir", instrument, "--lang", lang, "-o", str(out)])
    if result.exit_code == 0:
        assert out.is_file()
    else:
        _check_failure_or_usage(result)  # --lang is a choice: a bad one is a usage error
        assert not out.exists()


@budget(60)
@given(instrument=ARG, lang=st.text(max_size=3))
def test_instruments_show_with_garbage_arguments(instrument: str, lang: str) -> None:
    count("cli.instruments show")
    result = runner.invoke(app, ["instruments", "show", instrument, "--lang", lang])
    if result.exit_code != 0:
        _check_failure_or_usage(result)


NUMBER_TEXT = st.one_of(
    st.sampled_from(
        ["0", "-1", "1e9", "nan", "inf", "-inf", "1.5", "x", "", "99999999999999999999"]
    ),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
SYNTH_OPTIONS = [
    "--n-children", "--seed", "--year", "--prevalence-shift", "--drift-per-year",
    "--rater-harshness-sd", "--rater-bias-against", "--rater-bias-size", "--missing-rate",
]  # fmt: skip


@budget(60)
@given(
    knobs=st.dictionaries(
        st.sampled_from(SYNTH_OPTIONS),
        NUMBER_TEXT | st.sampled_from(["dansk", "nobody"]),
        max_size=3,
    )
)
@example(knobs={"--missing-rate": "nan"})
@example(knobs={"--n-children": "0"})
def test_synth_with_garbage_knobs_writes_nothing_on_error(
    folder: Path, knobs: dict[str, str]
) -> None:
    count("cli.synth")
    out = folder / "pop"
    args = ["synth", "--out", str(out), "--no-progress"]
    # Keep a good run small: a knob that makes the population large is capped.
    knobs = {k: v for k, v in knobs.items() if k != "--n-children" or not _big(v)}
    for k, v in knobs.items():
        args += [k, v]
    if "--n-children" not in knobs:
        args += ["--n-children", "40"]
    result = runner.invoke(app, args)
    if result.exit_code == 0:
        assert (out / "manifest.json").is_file()
        import shutil

        shutil.rmtree(out)
    else:
        # A usage error of click (not a number) or opsporing's error; no folder written.
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        if "Usage:" not in result.output:
            _check_failure(result)
        assert not out.exists()


def _big(text: str) -> bool:
    try:
        return int(text) > 200
    except ValueError:
        return False
