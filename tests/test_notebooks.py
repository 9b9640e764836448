"""The notebooks in notebooks/ run from top to bottom, and stay readable jupytext scripts.

Each ``notebooks/*.py`` is a jupytext "percent" script (``# %%`` cells), so a diff shows
code and prose, not JSON and outputs. Here each one is converted with jupytext and executed
in a fresh ``python3`` kernel with nbclient, from the repository root; any cell that raises
(including the notebooks' own ``assert`` cells, e.g. the rater-bias gaps) fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.py"))

# The one line jupytext rewrites on every save: the version of jupytext that wrote it.
_VERSION_STAMP = re.compile(r"^#\s+jupytext_version: .*$", re.M)


def _ids(path: Path) -> str:
    return path.name


def test_the_issue_notebooks_exist() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.py", "02_researcher_evaluation.py"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_a_jupytext_percent_script(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent")
    representation = nb.metadata["jupytext"]["text_representation"]
    assert representation["format_name"] == "percent"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    # Round trip: reading and writing again gives the same text (apart from the version
    # stamp of the jupytext that writes it), so a save from Jupyter makes no spurious diff.
    again = jupytext.writes(nb, fmt="py:percent")
    assert _VERSION_STAMP.sub("", again) == _VERSION_STAMP.sub("", text)
    kinds = {cell.cell_type for cell in nb.cells}
    assert kinds == {"code", "markdown"}, "a notebook explains itself in markdown cells"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), "outputs are never stored in the script"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_executes_without_errors(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The researcher notebook on 3,000 fresh children instead of 10,000 (its own knob; the
    # kernel inherits the environment): a third of the time, and every cell still runs on
    # the same code paths. Its rater-bias asserts keep their power: the biased group has
    # about 220 children, and the bias raises that group's flag-rate gap from about 0.05
    # to 0.19 (specificity gap 0.05 to 0.15), several standard errors (about 0.03) apart.
    monkeypatch.setenv("OPSPORING_NOTEBOOK_CHILDREN", "3000")
    nb = jupytext.read(path)
    client = NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError naming the cell on any error
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors
    # The figures are the library's own (matplotlib Figures) and are shown, not just named.
    images = [o for cell in code for o in cell.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: no figure was displayed"


def test_researcher_notebook_states_that_synthetic_children_are_not_real() -> None:
    text = (NOTEBOOK_DIR / "02_researcher_evaluation.py").read_text(encoding="utf-8")
    assert text.count("not real children") >= 2
    assert "rater_bias_against=BIASED_GROUP" in text
    assert 'assert gap["flag_rate"]["bias on"] > gap["flag_rate"]["bias off"]' in text
