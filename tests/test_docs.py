"""The examples in docs/ must work as written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from opsporing.instruments import build_instrument
from opsporing.scoring import score_form

DOCS = Path(__file__).parent.parent / "docs"


def test_instrument_file_example_loads_and_scores():
    text = (DOCS / "instrument-files.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    inst = build_instrument(yaml.safe_load(block.group(1)), "docs example")
    assert inst.key == "kommune.x.trivsel@1.0.0"
    result = score_form(inst, {"mood_sad": 3, "mood_cheerful": 0, "mood_worried": 1})
    assert result.domains["mood"].score == 7.0  # 3 + (3 - 0) + 1
    assert result.overall_band == "rød"
    assert result.concerns == ("emotional.sadness",)
