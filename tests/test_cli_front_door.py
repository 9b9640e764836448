"""The command line a newcomer meets: one language per run, 80 columns, machine formats,
every problem shown (and written on request), files written whole or not at all."""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsporing import _texts
from opsporing.cli import app
from opsporing.synthetic.__main__ import main as synthetic_main

runner = CliRunner()
SCHOOL = "opsporing.skole.trivsel"
EXAMPLE = str(Path(__file__).parents[1] / "src" / "opsporing" / "examples" / "skole_forms.csv")
NARROW = {"COLUMNS": "80"}


def _csv(folder: Path, text: str, name: str = "forms.csv") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- one --lang -------------------------------------------------------------------------------
LANG_VERBS = [
    ["demo", "--quick"],
    ["score", EXAMPLE, "-i", SCHOOL],
    ["suggest", EXAMPLE, "-i", SCHOOL],
    ["explain", EXAMPLE, "S001", "-i", SCHOOL],
    ["export-fhir", "topi"],
    ["instruments", "show", "topi"],
]


@pytest.mark.parametrize("verb", LANG_VERBS, ids=lambda v: v[0])
def test_every_verb_refuses_an_unknown_language_the_same_way(verb: list[str]) -> None:
    result = runner.invoke(app, [*verb, "--lang", "fr"])
    assert result.exit_code == 2
    assert "'fr' is not one of 'da', 'en'" in result.output or "fr" in result.output


def test_lang_is_one_option_definition() -> None:
    import typer.main

    command = typer.main.get_command(app)
    seen = []
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        subs = sub.commands.items() if hasattr(sub, "commands") else [(name, sub)]
        for _, cmd in subs:
            for param in cmd.params:
                if param.name == "lang":
                    seen.append((tuple(param.opts), param.help, repr(param.default)))
    # every verb that prints text has it (at least the six of the first CLI), defined once
    assert len(seen) >= 6 and len(set(seen)) == 1, seen


@pytest.mark.parametrize(
    ("lang", "mine", "other"),
    [
        ("da", ["samlet", "bekymringer", "ikke scoret", "Nedtrykthed"], ["overall", "concerns"]),
        ("en", ["overall", "concerns", "not scored", "Low mood"], ["samlet", "bekymr", "ikke"]),
    ],
)
def test_a_score_table_is_in_one_language(lang: str, mine: list[str], other: list[str]) -> None:
    result = runner.invoke(
        app, ["score", EXAMPLE, "-i", SCHOOL, "-k", "form_id", "--lang", lang], env=NARROW
    )
    assert result.exit_code == 0, result.output
    for word in mine:
        assert word in result.output, word
    for word in other:
        assert word not in result.output, word


# --- 80 columns -------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_score_and_demo_tables_fit_80_columns_without_losing_text(lang: str) -> None:
    # The score verb on the school example; the demo on the four age-fitted forms' examples.
    for args, ids in (
        (["score", EXAMPLE, "-i", SCHOOL, "-k", "form_id"], ("S001", "S005", "S008")),
        (["demo", "--quick"], ("A001", "B005", "C008", "E008")),
    ):
        result = runner.invoke(app, [*args, "--lang", lang], env=NARROW)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert max(len(line) for line in lines) <= 80
        assert "…" not in result.output  # folded, not cut
        for form_id in ids:
            assert form_id in result.output
        assert "§ 133" in result.output  # the red flag (S008, C008) survives the layout


def test_a_wide_terminal_shows_every_domain() -> None:
    result = runner.invoke(
        app, ["score", EXAMPLE, "-i", SCHOOL, "-k", "form_id"], env={"COLUMNS": "250"}
    )
    header = next(line for line in result.output.splitlines() if "emotional" in line)
    for domain in ("social", "behaviour", "development", "care", "safety", "resources"):
        assert domain in header


# --- machine formats --------------------------------------------------------------------------
def test_score_prints_csv_and_json_for_programs() -> None:
    as_csv = runner.invoke(app, ["score", EXAMPLE, "-i", SCHOOL, "-k", "form_id", "-f", "csv"])
    assert as_csv.exit_code == 0
    table = pd.read_csv(io.StringIO(as_csv.stdout))
    assert table["form_id"].tolist() == [f"S00{i}" for i in range(1, 9)]
    assert table.loc[7, "band.overall"] == "rød" and bool(table.loc[7, "red_flag"])
    as_json = runner.invoke(app, ["score", EXAMPLE, "-i", SCHOOL, "-k", "form_id", "-f", "json"])
    records = json.loads(as_json.stdout)
    assert [r["form_id"] for r in records] == table["form_id"].tolist()
    assert [r["band.overall"] for r in records] == table["band.overall"].tolist()


# --- every problem, and the rejected rows on request -------------------------------------------
def test_all_problems_are_counted_and_written_with_rejected(tmp_path: Path) -> None:
    rows = "\n".join(f"F{i},7" for i in range(15))  # 1vurdering = 7 in every row: out of range
    forms = _csv(tmp_path, "form_id,1vurdering\n" + rows + "\n")
    rejected = tmp_path / "rejected.csv"
    result = runner.invoke(
        app, ["score", forms, "-i", "topi", "-k", "form_id", "--rejected", str(rejected)]
    )
    assert result.exit_code == 2
    shown = [line for line in result.output.splitlines() if line.startswith("  - row ")]
    assert len(shown) == 10
    assert "and 5 more" in result.output
    table = list(csv.DictReader(rejected.open(encoding="utf-8")))
    assert [r["row"] for r in table] == [str(i) for i in range(15)]
    assert {r["field"] for r in table} == {"1vurdering"} and {r["kind"] for r in table} == {
        "out_of_range"
    }
    assert "Traceback" not in result.output


def test_one_text_cell_is_named_by_row_column_and_value(tmp_path: Path) -> None:
    forms = _csv(tmp_path, "form_id,emo_sad,emo_tense\nS1,0,1\nS2,Ja,2\nS3,1,0\n")
    result = runner.invoke(app, ["score", forms, "-i", SCHOOL, "-k", "form_id"])
    assert result.exit_code == 2
    assert "row 1: emo_sad = 'Ja': expected a number" in result.output
    assert "(1 problem)" in result.output  # not every cell of the column


def test_a_shifted_csv_is_refused_on_the_command_line(tmp_path: Path) -> None:
    forms = _csv(tmp_path, "form_id,age_years,emo_sad\nS1,7,5,1\nS2,8,5,0\n")
    result = runner.invoke(app, ["score", forms, "-i", SCHOOL, "-k", "form_id"])
    assert result.exit_code == 2
    assert (
        "decimal comma" in result.output and "line 2" in result.output and "line 3" in result.output
    )


def test_a_danish_excel_csv_is_read_and_said_so(tmp_path: Path) -> None:
    forms = _csv(tmp_path, "form_id;age_years;emo_sad\nS1;7,5;1\nS2;8;3\n")
    result = runner.invoke(app, ["score", forms, "-i", SCHOOL, "-k", "form_id", "-f", "csv"])
    assert result.exit_code == 0, result.output
    assert "decimalkomma" in result.stderr
    assert pd.read_csv(io.StringIO(result.stdout))["form_id"].tolist() == ["S1", "S2"]


def test_a_message_echoes_a_huge_cell_capped(tmp_path: Path) -> None:
    forms = _csv(tmp_path, "form_id,emo_sad\nS1," + "x" * 900 + "\n")
    result = runner.invoke(app, ["score", forms, "-i", SCHOOL, "-k", "form_id"])
    assert result.exit_code == 2
    assert "(900 characters)" in result.output
    assert max(len(line) for line in result.output.splitlines()) < 300


# --- files written whole or not at all ---------------------------------------------------------
def test_explain_refuses_two_different_forms_under_one_id(tmp_path: Path) -> None:
    forms = _csv(tmp_path, "form_id,emo_sad\nS1,0\nS1,3\nS2,1\n")
    result = runner.invoke(app, ["explain", forms, "S1", "-i", SCHOOL])
    assert result.exit_code == 2
    assert "form_id = 'S1'" in result.output and "one form per id" in result.output


@pytest.mark.parametrize(
    "verb",
    [
        ["score", EXAMPLE, "-i", SCHOOL, "-k", "form_id", "-o"],
        ["suggest", EXAMPLE, "-i", SCHOOL, "-o"],
        ["explain", EXAMPLE, "S003", "-i", SCHOOL, "--plot"],
    ],
    ids=lambda v: v[0],
)
def test_writing_into_a_missing_folder_is_one_error_and_no_file(
    tmp_path: Path, verb: list[str]
) -> None:
    target = tmp_path / "nowhere" / "out.csv"
    result = runner.invoke(app, [*verb, str(target)])
    assert result.exit_code == 2
    assert "expected a file that can be written" in result.output
    assert "Traceback" not in result.output and not target.parent.exists()


# --- python -m opsporing.synthetic is the synth verb -------------------------------------------
def test_the_synthetic_module_is_an_alias_of_synth(tmp_path: Path) -> None:
    args = ["--n-children", "200", "--seed", "7", "--no-progress"]
    assert synthetic_main(["--out", str(tmp_path / "alias"), *args]) == 0
    verb = runner.invoke(app, ["synth", "--out", str(tmp_path / "verb"), *args])
    assert verb.exit_code == 0, verb.output
    files = sorted(p.name for p in (tmp_path / "verb").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "alias").iterdir())
    for name in files:
        assert (tmp_path / "alias" / name).read_bytes() == (tmp_path / "verb" / name).read_bytes()
    assert synthetic_main(["--out", str(tmp_path / "x"), "--no-such-option"]) == 2


# --- the catalog --------------------------------------------------------------------------------
SRC = Path(__file__).parents[1] / "src" / "opsporing"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _messages() -> set[str]:
    """Every message the CLI, the demo and the web form say, as Babel's extractor finds them."""
    from babel.messages.extract import extract_from_file

    found = set()
    names = ("cli.py", "_demo.py", "web/_i18n.py", "web/_followup.py", "_cli_round.py")
    for name in (*names, "child/_round.py", "child/_plot.py"):
        keywords = {"tr": None, "N_": None}
        for _, message, _, _ in extract_from_file("python", SRC / name, keywords=keywords):
            found.add(message)
    return found


def test_every_message_has_a_danish_translation_with_the_same_placeholders() -> None:
    catalog = _texts.catalog("da")
    messages = _messages()
    assert len(messages) > 20
    for message in messages:
        entry = catalog.get(message)
        assert entry is not None and entry.string, f"no Danish for {message!r}"
        assert _fields(entry.string) == _fields(message), message


def test_the_catalog_holds_no_stale_messages() -> None:
    in_catalog = {m.id for m in _texts.catalog("da") if m.id}
    assert in_catalog == _messages()


def test_a_message_missing_from_the_catalog_falls_back_to_english() -> None:
    assert _texts.tr("no such message {x}", "da", x=1) == "no such message 1"


@pytest.mark.parametrize(
    ("value", "da", "en"), [(0.25, "0,25", "0.25"), (1.0, "1,00", "1.00"), (0.926, "0,93", "0.93")]
)
def test_numbers_use_the_decimal_comma_in_danish(value: float, da: str, en: str) -> None:
    assert (_texts.number(value, "da"), _texts.number(value, "en")) == (da, en)


def test_scores_are_short_and_exact_to_two_decimals() -> None:
    assert [_texts.short(v, "da") for v in (16.0, 4.6667, 1.5)] == ["16", "4,67", "1,5"]
    assert [_texts.short(v, "en") for v in (16.0, 4.6667, 1.5)] == ["16", "4.67", "1.5"]


def test_counts_and_shares_per_language() -> None:
    assert _texts.integer(50_000, "da") == "50.000" and _texts.integer(50_000, "en") == "50,000"
    assert _texts.percent(0.123, "da") == "12,3\xa0%" and _texts.percent(0.123, "en") == "12.3%"
