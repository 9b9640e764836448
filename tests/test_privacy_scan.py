"""Privacy scan: nothing the library writes holds a CPR number or a name field.

The test makes, in ``tmp_path``, what the suite and a user produce: an evaluation report,
FHIR and JSON Schema exports, a CLI score file, the web form's audit log and log output;
it reads the committed artifacts (model manifest and card, the synthetic data, its
datasheet, config and manifest). Everything is scanned for CPR-shaped text
(:func:`opsporing.privacy.find_cpr`) and every key or column name for a name-like field.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from opsporing.instruments import get_instrument, list_instruments
from opsporing.privacy import find_cpr

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SYNTHETIC = ROOT / "data" / "synthetic"
SCHOOL = "opsporing.skole.trivsel"

#: Keys and column names that would hold a person's name or CPR number (Danish and English).
NAME_FIELDS = frozenset(
    {
        "name", "navn", "fornavn", "efternavn", "mellemnavn", "first_name", "last_name",
        "firstname", "lastname", "fullname", "full_name", "surname", "given_name",
        "family_name", "cpr", "cpr_nr", "cprnr", "cpr_number", "personnummer",
    }
)  # fmt: skip

#: Keys that are called "name" by a standard and name a thing, never a person:
#: (artifact, key path) -> why it is allowed.
ALLOWED = {
    ("fhir-questionnaire", "name"): "FHIR R4 Questionnaire.name: the instrument's computer name",
    ("fhir-questionnaire", "extension[].valueExpression.name"): (
        "FHIR Expression.name: the name of an SDC scoring variable, e.g. scoreEmotional"
    ),
}

#: Columns that must never be a model input (evaluation groups and identifiers).
FORBIDDEN_FEATURES = (
    "family_background", "municipality", "child_id", "rater_id", "sex", "form_id",
    "herkomst", "kommune", "køn",
)  # fmt: skip

_DATA_URI = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+")


def name_like(key: str) -> bool:
    """Whether a key or column name looks like a name or CPR field (``child_name`` too)."""
    k = key.strip().lower()
    tokens = [t for t in re.split(r"[^a-zæøå0-9]+", k) if t]
    joined = "_".join(tokens)
    return joined in NAME_FIELDS or any(t in NAME_FIELDS for t in tokens)


def _keys(doc: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (key path, key) of a JSON document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            here = f"{path}.{k}" if path else str(k)
            yield here, str(k)
            yield from _keys(v, here)
    elif isinstance(doc, list):
        for v in doc:
            yield from _keys(v, f"{path}[]")


class Findings:
    """What the scan found, per artifact; empty when all is well."""

    def __init__(self) -> None:
        self.cpr: list[tuple[str, str]] = []
        self.names: list[tuple[str, str]] = []
        self.scanned: dict[str, int] = {}

    def text(self, artifact: str, text: str) -> None:
        text = _DATA_URI.sub("data:image", text)  # base64 pictures are not text
        self.scanned[artifact] = self.scanned.get(artifact, 0) + len(text)
        self.cpr += [(artifact, hit) for hit in find_cpr(text)]

    def key(self, artifact: str, path: str, key: str) -> None:
        if name_like(key) and (artifact, path) not in ALLOWED:
            self.names.append((artifact, path))

    def json(self, artifact: str, doc: Any) -> None:
        self.text(artifact, json.dumps(doc, ensure_ascii=False))
        for path, key in _keys(doc):
            self.key(artifact, path, key)

    def frame(self, artifact: str, frame: pd.DataFrame) -> None:
        for column in frame.columns:
            self.key(artifact, str(column), str(column))
        self.text(artifact, " ".join(map(str, frame.columns)))
        for column in frame.columns:
            values = frame[column]
            if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
                self.text(f"{artifact}:{column}", "\n".join(map(str, values.dropna().unique())))


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> Findings:
    return Findings()


# --- the committed artifacts ------------------------------------------------------------------------
def test_committed_model_manifest_and_card(findings: Findings) -> None:
    manifest = json.loads((MODELS / "manifest.json").read_text(encoding="utf-8"))
    findings.json("models/manifest.json", manifest)
    findings.text("models/MODEL_CARD.md", (MODELS / "MODEL_CARD.md").read_text(encoding="utf-8"))
    assert not findings.cpr and not findings.names


def test_the_model_has_no_identifier_or_group_among_its_features() -> None:
    features = json.loads((MODELS / "manifest.json").read_text(encoding="utf-8"))["features"]
    assert len(features) > 50
    bad = [
        f
        for f in features
        for part in f.lower().split(".")
        for word in FORBIDDEN_FEATURES
        if part == word or part.startswith((f"{word}_", f"{word}="))
    ]
    assert bad == []
    assert not [f for f in features if name_like(f)]
    # A forbidden word inside a legitimate code is not a hit (behaviour.sexualised is a concern).
    assert "concept.behaviour.sexualised" in features


def test_committed_synthetic_data(findings: Findings) -> None:
    for name in ("DATASHEET.md",):
        findings.text(f"data/synthetic/{name}", (SYNTHETIC / name).read_text(encoding="utf-8"))
    for name in ("config.json", "manifest.json"):
        findings.json(f"data/synthetic/{name}", json.loads((SYNTHETIC / name).read_text("utf-8")))
    parquet = sorted(SYNTHETIC.glob("*.parquet"))
    assert [p.name for p in parquet] == [
        "children.parquet", "forms_child.parquet", "forms_dagtilbud.parquet",
        "forms_parent.parquet", "forms_skole.parquet", "raters.parquet", "waves.parquet",
    ]  # fmt: skip
    for path in parquet:
        frame = pd.read_parquet(path)
        findings.frame(f"data/synthetic/{path.name}", frame)
        # The ids are pseudonymous codes: a letter and digits, never 10 digits.
        for column in [c for c in frame.columns if str(c).endswith("_id")]:
            ids = frame[column].dropna().astype(str)
            if column == "instrument_id":
                continue
            assert ids.str.fullmatch(r"[A-Z][A-Z0-9-]*\d+").all(), (path.name, column)
    assert findings.scanned["data/synthetic/children.parquet:child_id"] > 100_000
    assert not findings.cpr and not findings.names


# --- what the library writes -------------------------------------------------------------------
def test_evaluation_report(tmp_path: Path, findings: Findings) -> None:
    from opsporing.evaluation import evaluation_sections, report

    rng = np.random.default_rng(3)
    n = 300
    p = rng.beta(1, 6, size=n)
    data = pd.DataFrame(
        {
            "child_id": [f"C{i:07d}" for i in range(n)],
            "y_true": (rng.random(n) < p).astype(int),
            "model": p,
            "band": np.digitize(p, [0.1, 0.25]).astype(float),
            "sex": np.where(rng.random(n) < 0.5, "pige", "dreng"),
        }
    )
    sections = evaluation_sections(
        data, scores=["model", "band"], cutoffs={"band": 1, "model": 0.2}, groups=["sex"]
    )
    text = report(*sections, path=tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Detection</h2>" in text
    findings.text("report.html", text)
    assert "C0000001" not in text  # the report shows aggregates, never a child's row
    assert not findings.cpr


def test_fhir_and_json_schema_exports(findings: Findings) -> None:
    from opsporing.fhir import to_json_schema, to_questionnaire, to_questionnaire_response

    for inst in list_instruments():
        questionnaire = to_questionnaire(inst)
        findings.json("fhir-questionnaire", questionnaire)
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", questionnaire["name"])  # a computer name
        findings.json("json-schema", to_json_schema(inst))
    school = get_instrument(SCHOOL)
    response = to_questionnaire_response(school, {"emo_sad": 2, "res_trusted_adult": 3})
    findings.json("fhir-questionnaire-response", response)
    assert not findings.cpr and not findings.names


def test_cli_score_output(tmp_path: Path, findings: Findings) -> None:
    from importlib import resources

    from typer.testing import CliRunner

    from opsporing.cli import app

    with resources.as_file(resources.files("opsporing.examples") / "skole_forms.csv") as forms:
        out = tmp_path / "scores.csv"
        result = CliRunner().invoke(
            app, ["score", str(forms), "-i", SCHOOL, "-k", "form_id", "-o", str(out)]
        )
    assert result.exit_code == 0, result.output
    findings.text("cli-output", result.output)
    findings.text("scores.csv", out.read_text(encoding="utf-8"))
    findings.frame("scores.csv", pd.read_csv(out))
    assert not findings.cpr and not findings.names


def test_web_audit_log_and_log_output(
    tmp_path: Path, findings: Findings, caplog: pytest.LogCaptureFixture, web_login: Any
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from opsporing.model import load_model
    from opsporing.web import create_app

    db = tmp_path / "audit.sqlite"
    with caplog.at_level(logging.DEBUG):
        client: TestClient = web_login(create_app(db, model=load_model()))
        page = client.get(f"/form/{SCHOOL}").text
        token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
        assert token is not None
        answers = {i.id: 1 for i in get_instrument(SCHOOL).items if i.domain != "safety"}
        data = {
            "token": token.group(1),
            "lang": "da",
            "instrument_version": get_instrument(SCHOOL).version,
            "form_id": "B-2026-041",
            "age_years": "9",
            **{f"item.{k}": str(v) for k, v in answers.items()},
        }
        result = client.post(f"/form/{SCHOOL}", data=data)
        assert result.status_code == 200, result.text[:300]
        suggestion = re.search(r'name="suggestion_id" value="([0-9a-f]*)"', result.text)
        assert suggestion is not None
        decision = {
            "suggestion_id": suggestion.group(1),
            "chosen_step": "1",
            "reason": "Samtale med forældrene først.",
        }
        # A CPR number typed into a free-text field or the id is refused, and not logged
        # (the log and the database are scanned below). The professional id is the login's.
        for field, value in (("reason", "Barnet 010203-1234"),):
            r = client.post(f"/form/{SCHOOL}/decision", data=data | decision | {field: value})
            assert r.status_code == 422, (field, r.status_code)
        r = client.post(f"/form/{SCHOOL}", data=data | {"form_id": "311299-0001"})
        assert r.status_code == 422
        r = client.post(f"/form/{SCHOOL}/decision", data=data | decision)
        assert r.status_code == 303, r.text[:300]
        findings.text("web-receipt", client.get(r.headers["location"]).text)
    assert caplog.records, "the web app logged nothing at DEBUG"
    findings.text("web-log", caplog.text)
    with sqlite3.connect(db) as con:
        for table in ("screenings", "decisions"):
            frame = pd.read_sql_query(f"SELECT * FROM {table}", con)
            assert len(frame) == 1
            findings.frame(f"audit-log:{table}", frame)
            for column in [c for c in frame.columns if c.endswith("_json")]:
                findings.json(f"audit-log:{table}.{column}", json.loads(frame[column].iloc[0]))
    assert not findings.cpr and not findings.names


def test_the_scan_saw_every_artifact(findings: Findings) -> None:
    """Runs last in this file: every artifact above was scanned, and none was empty."""
    if not findings.scanned:
        pytest.skip("checks the scans of the tests above; run the whole file")
    expected = {
        "models/manifest.json", "models/MODEL_CARD.md", "data/synthetic/DATASHEET.md",
        "data/synthetic/config.json", "data/synthetic/manifest.json",
        "data/synthetic/children.parquet", "data/synthetic/forms_dagtilbud.parquet",
        "data/synthetic/forms_skole.parquet", "data/synthetic/raters.parquet", "report.html",
        "data/synthetic/forms_parent.parquet", "data/synthetic/forms_child.parquet",
        "data/synthetic/waves.parquet",
        "fhir-questionnaire", "json-schema", "fhir-questionnaire-response", "scores.csv",
        "cli-output", "web-log", "web-receipt", "audit-log:screenings", "audit-log:decisions",
    }  # fmt: skip
    size = {
        a: sum(n for s, n in findings.scanned.items() if s == a or s.startswith(f"{a}:"))
        for a in expected
    }
    assert [a for a, n in size.items() if n == 0] == []
    assert findings.cpr == [] and findings.names == []


def test_the_scanner_would_catch_a_leak() -> None:
    probe = Findings()
    probe.text("x", "barnet 010203-1234 og 3112991234")
    probe.json("y", {"patient": {"Fornavn": "A", "child_name": "B", "cpr_nr": "C", "form_id": "D"}})
    probe.frame("z", pd.DataFrame({"Navn": ["A"], "last-name": ["B"], "step": [1]}))
    assert [hit for _, hit in probe.cpr] == ["010203-1234", "3112991234"]
    assert sorted(path for _, path in probe.names) == sorted(
        ["patient.Fornavn", "patient.child_name", "patient.cpr_nr", "Navn", "last-name"]
    )
    assert not name_like("instrument_id") and not name_like("concept.behaviour.sexualised")
