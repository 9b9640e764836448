"""The README's Python example runs exactly as written, from any folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)  # nothing in it may depend on the repository's folder
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    result = namespace["result"]
    # The values the README's comments state.
    assert result.domains["emotional"].score == 12.0  # type: ignore[attr-defined]
    assert result.domains["emotional"].band == "rød"  # type: ignore[attr-defined]
    assert result.overall_band == "gul"  # type: ignore[attr-defined]
    assert namespace["school"].id == "opsporing.skole.0-6"  # type: ignore[attr-defined]
    suggestions = namespace["suggestions"]
    printed = capsys.readouterr().out.splitlines()
    assert len(suggestions) == len(printed) == 8  # type: ignore[arg-type]  # every example form
    assert [line.split()[0] for line in printed] == [f"C00{i}" for i in range(1, 9)]
    assert any(" notify " in line for line in printed)  # C008 has a red-flag answer
    decision = namespace["decision"]
    assert decision.chosen_step == 1  # type: ignore[attr-defined]
    assert decision.suggestion_id == suggestions[0].suggestion_id  # type: ignore[attr-defined,index]
