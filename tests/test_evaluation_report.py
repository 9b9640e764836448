"""The HTML report: self-contained, deterministic, with the expected headings and images."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsporing.errors import DataError
from opsporing.evaluation import (
    Section,
    compare_scores,
    evaluation_sections,
    fairness_table,
    plot_decision_curve,
    plot_group_metric,
    plot_pr,
    plot_reliability,
    plot_roc,
    plot_step_confusion,
    report,
    staircase_error,
)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    n = 800
    p = rng.beta(1, 8, size=n)
    return pd.DataFrame(
        {
            "y_true": (rng.random(n) < p).astype(int),
            "model": p,
            "band": np.digitize(p, [0.1, 0.25]).astype(float),
            "sex": np.where(rng.random(n) < 0.5, "pige", "dreng"),
            "true_step": rng.choice(7, size=n, p=[0.8, 0.1, 0.05, 0.02, 0.01, 0.01, 0.01]),
        }
    ).assign(suggested=lambda d: np.clip(d["true_step"] + rng.integers(-1, 2, size=n), 0, 6))


def _sections(data: pd.DataFrame) -> list[Section]:
    y = data["y_true"]
    fair = fairness_table(data, y_score="model", groups=["sex"], cutoff=0.2)
    return [
        Section(
            "Detection <model vs band rule>",
            (
                "Synthetic children; not real cases.",
                compare_scores(data, scores=["model", "band"], cutoffs={"band": 1}),
                plot_roc(y, data[["model", "band"]]),
                plot_pr(y, {"model": data["model"]}),
            ),
        ),
        Section(
            "Calibration",
            (plot_reliability(y, data["model"]), plot_decision_curve(y, data["model"])),
        ),
        Section(
            "Staircase",
            (
                staircase_error(data["true_step"], data["suggested"]).rename("value"),
                plot_step_confusion(data["true_step"], data["suggested"]),
            ),
        ),
        Section("Fairness", (fair, plot_group_metric(fair, "sensitivity"))),
    ]


def test_report_contents(tmp_path: Path, data: pd.DataFrame) -> None:
    path = report(*_sections(data), path=tmp_path / "appendix.html", title="Appendix A")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for heading in (
        "<h1>Appendix A</h1>",
        "<h2>Calibration</h2>",
        "<h2>Staircase</h2>",
        "<h2>Fairness</h2>",
    ):
        assert heading in text
    assert "<h2>Detection &lt;model vs band rule&gt;</h2>" in text  # escaped
    for column in ("roc_auc", "brier", "sensitivity", "under_rate", "difference"):
        assert f"<th>{column}</th>" in text or f">{column}</th>" in text
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert len(images) == 6  # roc, pr, reliability, decision curve, steps, groups
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert "<p>Synthetic children; not real cases.</p>" in text
    assert "http" not in text.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_report_is_deterministic(tmp_path: Path, data: pd.DataFrame) -> None:
    a = report(*_sections(data), path=tmp_path / "a.html")
    b = report(*_sections(data), path=tmp_path / "b.html")
    assert a.read_bytes() == b.read_bytes()
    dated = report(*_sections(data)[:1], path=tmp_path / "c.html", date="2026-11-23")
    assert "2026-11-23" in dated.read_text(encoding="utf-8")
    assert "2026" not in a.read_text(encoding="utf-8").split("<h2>")[0]


def test_section_accepts_one_item_or_a_list() -> None:
    assert Section("x", "one paragraph").content == ("one paragraph",)  # type: ignore[arg-type]
    assert len(Section("x", [pd.DataFrame({"a": [1]}), "text"]).content) == 2  # type: ignore[arg-type]


def test_report_refuses_odd_content(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="content\\[0\\] = int"):
        report(Section("x", (3,)), path=tmp_path / "x.html")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at least one Section"):
        report(path=tmp_path / "x.html")


def test_evaluation_sections_make_the_usual_appendix(tmp_path: Path, data: pd.DataFrame) -> None:
    sections = evaluation_sections(
        data,
        scores=["model", "band"],
        cutoffs={"band": 1, "model": 0.2},
        groups=["sex"],
        steps=("true_step", "suggested"),
    )
    assert [s.title for s in sections] == [
        "Data",
        "Detection",
        "Calibration",
        "Staircase",
        "Fairness",
    ]
    text = report(*sections, path=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "not real children" in text
    assert text.count("data:image/png;base64,") == 2 + 2 + 1 + 2
    assert ">smallest_n</th>" in text and ">cost_weighted_error</th>" in text
    with pytest.raises(DataError, match="fairness_score = 'nope'"):
        evaluation_sections(data, scores=["model"], groups=["sex"], fairness_score="nope")
    with pytest.raises(DataError, match="no cut-off for 'band'"):
        evaluation_sections(data, scores=["band"], groups=["sex"])
