"""``opsporing interop …`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from opsporing.cli import app
from opsporing.instruments import get_instrument, load_instrument
from opsporing.interop._instrument_schema import schema_text
from opsporing.scoring import score_batch

runner = CliRunner()
SCHOOL = "opsporing.skole.trivsel"


def test_sdc_bundle_and_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["interop", "sdc", "topi", "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    bundle = json.loads((tmp_path / "b.json").read_text("utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["entry"][0]["resource"]["meta"]["profile"]
    result = runner.invoke(app, ["interop", "instrument-schema", "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 0 and (tmp_path / "s.json").read_text("utf-8") == schema_text()


def test_redcap_export_then_import_gives_the_instrument_back(tmp_path: Path) -> None:
    csv, yaml_file = tmp_path / "dd.csv", tmp_path / "back.yaml"
    assert runner.invoke(app, ["interop", "redcap-export", SCHOOL, "-o", str(csv)]).exit_code == 0
    result = runner.invoke(app, ["interop", "redcap-import", str(csv), "-o", str(yaml_file)])
    assert result.exit_code == 0, result.output
    assert load_instrument(yaml_file) == get_instrument(SCHOOL)


def test_xlsform_writes_a_workbook(tmp_path: Path) -> None:
    result = runner.invoke(app, ["interop", "xlsform", "topi", "-o", str(tmp_path / "f.xlsx")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "f.xlsx").read_bytes()[:2] == b"PK"  # a zip: an .xlsx workbook


def test_score_parquet_and_bad_input(tmp_path: Path) -> None:
    forms = pd.DataFrame({"form_id": ["a", "b", "c"], "1vurdering": [0.0, 2.0, None]})
    forms.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    args = ["interop", "score-parquet", "topi", str(tmp_path / "in.parquet"), "-o", str(out)]
    result = runner.invoke(app, [*args, "--keep", "form_id", "--batch-rows", "2"])
    assert result.exit_code == 0, result.output
    assert "3 forms in 2 chunks" in result.output
    want = score_batch(get_instrument("topi"), forms, keep=["form_id"])
    assert pd.read_parquet(out)["score.vurdering"].equals(want["score.vurdering"])
    forms.loc[1, "1vurdering"] = 7.0
    forms.to_parquet(tmp_path / "in.parquet")
    result = runner.invoke(app, [*args, "--keep", "form_id"])
    assert result.exit_code == 2
    assert "1vurdering = 7" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["interop", "sdc", "no-such-instrument", "-o", str(out)])
    assert result.exit_code == 2 and "no-such-instrument" in result.output
