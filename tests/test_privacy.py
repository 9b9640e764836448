from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsporing.errors import DataError, ResponseValidationError
from opsporing.privacy import (
    CPR_MASK,
    find_cpr,
    looks_like_cpr,
    mask_cpr,
    pseudonymise,
    reject_cpr,
    valid_pseudonymous_id,
)

# 32 bytes from secrets.token_bytes, written out so the pseudonyms are the same every run.
KEY = bytes.fromhex("9f1c6e2a4b7d08e35a1f9c2d7e6b4a0813f5c9e27d4b6a1c0e8f3d5b7a9c2e41")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("010203-1234", True),
        ("0102031234", True),
        ("cpr: 311299-0001.", True),
        ("320199-1234", False),  # day 32
        ("011399-1234", False),  # month 13
        ("12345678901", False),  # an 11-digit run is not a CPR number
        ("D0001", False),
        ("", False),
    ],
)
def test_cpr_detection(text, found):
    assert looks_like_cpr(text) is found
    assert bool(find_cpr(text)) is found


def test_pseudonyms_are_stable_keyed_and_never_cpr_shaped():
    a = pseudonymise("010203-1234", KEY)
    assert a == pseudonymise("010203-1234", KEY)
    assert a != pseudonymise("010203-1235", KEY)
    assert a != pseudonymise("010203-1234", KEY + b"x")
    assert not any(ch.isdigit() for ch in a)


@given(st.text(min_size=1, max_size=20))
def test_no_pseudonym_looks_like_cpr(identifier):
    assert not looks_like_cpr(pseudonymise(identifier, KEY))


@pytest.mark.parametrize(
    ("identifier", "key"), [("x", b"short"), ("", KEY), (3, KEY), ("x", "str")]
)
def test_bad_pseudonymise_arguments(identifier, key):
    with pytest.raises(DataError):
        pseudonymise(identifier, key)


def test_reject_cpr_masks_the_number():
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(["D1", "010203-1234"], "form_id")
    assert info.value.problems[0].row == 1
    assert "010203" not in str(info.value)


# --- one CPR detector: every separator, a real date, everywhere ------------------------------

CPR_VARIANTS = [
    "010203-1234",
    "0102031234",
    "010203 1234",
    "010203.1234",
    "010203_1234",
    "01.02.03-1234",
    "01 02 03 1234",
    "010203\u20131234",  # en dash
    "010203\u20141234",  # em dash
    "010203\u22121234",  # minus sign
    "010203\u00a01234",  # no-break space
    "010203 - 1234",
    "01/02/03-1234",
    "290200-1234",  # 29 February 2000
    "\uff10\uff11\uff10\uff12\uff10\uff13\uff11\uff12\uff13\uff14",  # full-width digits
]


@pytest.mark.parametrize("cpr", CPR_VARIANTS)
def test_every_separator_is_found_masked_and_rejected(cpr):
    text = f"Barnet ({cpr}) kom i dag."
    assert looks_like_cpr(text)
    assert find_cpr(text) == [cpr]
    assert mask_cpr(text) == f"Barnet ({CPR_MASK}) kom i dag."
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(["S1", text], "reason")
    assert info.value.problems[0].row == 1
    assert cpr not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "310203-1234",  # 31 February
        "290201-1234",  # 29 February 2001
        "000203-1234",  # day 0
        "2026-11-23",  # an ISO date
        "12 34 56 78",  # a phone number (8 digits)
        "0102031234567",  # a longer run of digits
        "D-0001.12",
        "P" + "A" * 16,
    ],
)
def test_not_a_cpr_number(text):
    assert not looks_like_cpr(text)
    assert mask_cpr(text) == text


def test_a_failed_candidate_does_not_hide_a_later_cpr_number():
    # "99 01 02 03" is no date; the real number starts three characters later.
    assert find_cpr("99 010203-1234") == ["010203-1234"]
    assert mask_cpr("a 010203-1234 b 020304.5678 c") == f"a {CPR_MASK} b {CPR_MASK} c"


@pytest.mark.parametrize("value", [102031234, 102031234.0, 1102031234])
def test_numbers_read_from_a_csv_count(value):
    # A CSV column of CPR numbers without dashes is read as integers (the leading 0 lost).
    assert looks_like_cpr(value)


def test_reject_cpr_names_every_row_by_label():
    import pandas as pd

    ids = pd.Series(["S1", "010203.1234", "S3", "01.02.03-1234"], index=[10, 11, 12, 13])
    with pytest.raises(ResponseValidationError) as info:
        reject_cpr(ids, "form_id")
    assert [p.row for p in info.value.problems] == [11, 13]
    assert "1234" not in str(info.value)


@given(st.text(max_size=40))
def test_masked_text_never_holds_a_cpr_number(text):
    assert not looks_like_cpr(mask_cpr(text))


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (b"municipality secret", "19 bytes"),
        (bytes(32), "repeated"),
        (b"\x00" * 64, "repeated"),
        (b"ab" * 16, "repeated"),
        (bytes(range(16)) * 2, "repeated"),
        (b"\x00" * 31 + b"\x01", "entropy"),
        (b"aaaaaaaabbbbbbbbccccccccdddddddd", "entropy"),
    ],
)
def test_pseudonymise_refuses_weak_keys(key, why):
    with pytest.raises(DataError, match=why) as info:
        pseudonymise("010203-1234", key)
    assert "not shown" in str(info.value)


def test_pseudonymise_refuses_the_documented_example_key(monkeypatch):
    import opsporing.privacy as privacy

    example = bytes.fromhex("5d2e8a71c4b9f0361e7a2c5b8d4f9e03a6c1b7e2d9f4a8c3b6e1d7f2a9c4e8b5")
    monkeypatch.setattr(privacy, "_EXAMPLE_KEYS", privacy._EXAMPLE_KEYS | {example})
    with pytest.raises(DataError, match="example key"):
        pseudonymise("x", example)
    assert pseudonymise("x", KEY)  # a random key of the same length is fine


def test_error_messages_mask_cpr_numbers_in_every_subclass():
    from opsporing.errors import DecisionError, ModelIntegrityError, Problem, UnknownCodeError

    errors = [
        DataError("form_id = '010203.1234': expected a pseudonymous id"),
        ModelIntegrityError("x 01.02.03-1234"),
        DecisionError("010203_1234"),
        UnknownCodeError("step", "0102031234"),
        ResponseValidationError([Problem("form_id", "010203 1234", "an id")]),
    ]
    for exc in errors:
        assert not looks_like_cpr(str(exc)), str(exc)
        assert not looks_like_cpr(repr(exc)), repr(exc)
        assert CPR_MASK in str(exc)


# --- issue 11, "CPR numbers leak": every path replayed --------------------------------------------
SCHOOL_ID = "opsporing.skole.trivsel"
LEAKY_IDS = ["S1", "010203.1234", "010203_1234", "01.02.03-1234", "0102031234"]


def _forms_csv(tmp_path):
    import pandas as pd

    path = tmp_path / "forms.csv"
    pd.DataFrame({"form_id": LEAKY_IDS, "emo_sad": [1, 2, 3, 0, 1]}).to_csv(path, index=False)
    return path


def test_score_batch_refuses_cpr_numbers_in_kept_columns_and_row_labels():
    import pandas as pd

    from opsporing.instruments import get_instrument
    from opsporing.scoring import score_batch

    school = get_instrument(SCHOOL_ID)
    forms = pd.DataFrame({"form_id": LEAKY_IDS, "emo_sad": [1, 2, 3, 0, 1]})
    with pytest.raises(ResponseValidationError) as info:
        score_batch(school, forms, keep=["form_id"])
    assert [p.row for p in info.value.problems] == [1, 2, 3, 4]  # every row, not the first
    assert {p.kind for p in info.value.problems} == {"personal_identifier"}
    collected = score_batch(school, forms, keep=["form_id"], errors="collect")
    assert collected.scores["form_id"].tolist() == ["S1"]
    with pytest.raises(ResponseValidationError, match=r"\(row label\)"):
        score_batch(school, forms.set_index("form_id"))


def test_suggestions_refuse_cpr_shaped_subject_ids():
    import pandas as pd

    from opsporing.instruments import get_instrument
    from opsporing.model import build_features
    from opsporing.scoring import score_batch

    scores = score_batch(get_instrument(SCHOOL_ID), pd.DataFrame({"emo_sad": [1, 2]}))
    scores["form_id"] = ["S1", "01.02.03-1234"]
    with pytest.raises(ResponseValidationError) as info:
        build_features(scores, id_column="form_id")  # what suggest_batch builds its subjects from
    assert [p.row for p in info.value.problems] == [1]


@pytest.mark.parametrize("verb", ["score", "suggest"])
def test_the_cli_writes_and_prints_no_cpr_numbers(tmp_path, verb):
    from typer.testing import CliRunner

    from opsporing.cli import app

    out = tmp_path / "out.csv"
    args = [verb, str(_forms_csv(tmp_path)), "-i", SCHOOL_ID, "-o", str(out)]
    args += ["-k", "form_id"] if verb == "score" else ["--id", "form_id"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "personal" in result.output or "CPR" in result.output
    assert not looks_like_cpr(result.output)
    assert not out.exists()


def test_debug_tracebacks_mask_cpr_numbers(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "opsporing",
            "--debug",
            "score",
            str(_forms_csv(tmp_path)),
            "-i",
            SCHOOL_ID,
            "-k",
            "form_id",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "Traceback" in run.stderr and "ResponseValidationError" in run.stderr
    assert CPR_MASK in run.stderr
    assert not looks_like_cpr(run.stdout + run.stderr)


def test_the_html_report_refuses_cpr_columns_and_values(tmp_path):
    import pandas as pd

    from opsporing.evaluation import Section, report

    cases = [
        pd.DataFrame({"cpr_nr": ["x"], "auc": [0.8]}),
        pd.DataFrame({"child": ["010203.1234"], "auc": [0.8]}),
        pd.DataFrame({"auc": [0.8]}, index=pd.Index(["01.02.03-1234"], name="child")),
        pd.DataFrame({"auc": [0.8]}, index=pd.Index(["S1"], name="CPR")),
        "Barnet 0102031234 er med i tabellen.",
    ]
    for content in cases:
        path = tmp_path / "r.html"
        with pytest.raises(DataError, match="CPR") as info:
            report(Section("Detection", (content,)), path=path)
        assert not looks_like_cpr(str(info.value))
        assert not path.exists()
    with pytest.raises(DataError, match="CPR"):
        report(Section("Barn 010203-1234", ()), path=tmp_path / "r.html")
    fine = report(Section("Detection", (pd.DataFrame({"auc": [0.8]}),)), path=tmp_path / "ok.html")
    assert "0.800" in fine.read_text(encoding="utf-8")


def test_one_cpr_detector_in_the_code():
    """Every module asks opsporing.privacy; no other CPR pattern is defined anywhere."""
    import re
    from pathlib import Path

    import opsporing
    from opsporing import privacy

    root = Path(opsporing.__file__).parent
    pattern = re.compile(r"re\.compile\([^)]*\\d\{6\}|\\d\{6\}-\?|CPR_PATTERN\s*=|_CPR\s*=")
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "privacy.py" and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    pytest.importorskip("fastapi")
    from opsporing.web import _forms

    assert _forms.looks_like_cpr is privacy.looks_like_cpr


@pytest.mark.parametrize("tail", ["\n", "\r\n", " ", "\t"])
def test_a_pseudonymous_id_with_trailing_whitespace_is_not_one(tail):
    # Python's `$` also matches before a final newline: the rule must use the whole text,
    # or "P-0042\n" would become a child id (and a file name, a log line, a record key).
    assert valid_pseudonymous_id("P-0042")
    assert not valid_pseudonymous_id("P-0042" + tail)
    assert not valid_pseudonymous_id(tail + "P-0042")


def test_no_anchored_validator_in_the_library_uses_match():
    # The class of the bug above: a pattern anchored with `$` checked by `.match`/`.search`
    # accepts a trailing newline. Every such validator must use `.fullmatch`.
    import ast
    import pathlib

    import opsporing

    root = pathlib.Path(opsporing.__file__).parent
    anchored: set[str] = set()
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # NAME = re.compile(r"...$") at module level
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "attr", "") == "compile"
                and node.value.args
                and isinstance(node.value.args[0], ast.Constant)
                and str(node.value.args[0].value).endswith("$")
            ):
                anchored.update(t.id for t in node.targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"match", "search"}
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in anchored
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno} {node.func.value.id}")
    assert not offenders, offenders
