"""The README's Python example runs as written (with the shipped example forms as forms.csv)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_example_runs():
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None
    with resources.as_file(resources.files("opsporing.examples").joinpath("skole_forms.csv")) as path:
        code = block.group(1).replace('"forms.csv"', repr(str(path)))
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["result"].domains["emotional"].score == 8.0  # type: ignore[attr-defined]
    decision = namespace["decision"]
    assert decision.chosen_step == 1  # type: ignore[attr-defined]
