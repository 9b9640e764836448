"""Release shape: the wheel builds, installs in a fresh venv and works outside the repository.

The wheel must carry the instruments, examples, templates and ``py.typed`` as package data,
and the shipped model and default synthetic data as data files (``share/opsporing/``, see
``docs/release.md``); ``load_model()`` and ``load_default()`` must find them there.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import textwrap
import time
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]

pytestmark = pytest.mark.slow


def _run(args: list[str | Path], cwd: Path, timeout: float = 120) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def _backend_available() -> bool:
    """Whether this environment can build without isolation (setuptools new enough)."""
    try:
        major = int(version("setuptools").split(".")[0])
    except Exception:
        return False
    wanted = PYPROJECT["build-system"]["requires"][0]
    floor = int(re.search(r">=\s*(\d+)", wanted).group(1))  # type: ignore[union-attr]
    return major >= floor


def _running_site_dirs() -> list[str]:
    """The site-packages of the running interpreter: its own, a base one, the user's.

    In a virtual environment ``venv --system-site-packages`` would see the *base*
    Python's site-packages, not this environment's, where the dependencies are.
    """
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def _venv_seeing_our_packages(venv: Path, cwd: Path) -> Path:
    """A fresh venv whose ``sys.path`` ends with the running interpreter's site dirs.

    The dirs are listed in a ``.pth`` file as plain paths, so the venv imports the
    dependencies from there, but ``.pth`` files inside them (an editable opsporing) are
    not run: opsporing comes from the wheel installed into the venv itself.
    """
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd)
    python = venv / "bin" / "python"
    own = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd)
    (Path(own.strip()) / "_opsporing_test_deps.pth").write_text(
        "\n".join(_running_site_dirs()) + "\n", encoding="utf-8"
    )
    return python


def test_the_test_venv_sees_the_running_interpreters_packages(tmp_path: Path) -> None:
    python = _venv_seeing_our_packages(tmp_path / "venv", tmp_path)
    code = "import importlib.util, pandas, sys; print(sys.prefix, importlib.util.find_spec('opsporing'))"
    prefix, spec = _run([python, "-c", code], tmp_path).split()
    assert Path(prefix).name == "venv"  # a venv of its own, with pandas from ours
    assert spec == "None"  # but not our opsporing: the wheel test installs its own


def test_version_is_the_pyprojects() -> None:
    import opsporing

    assert opsporing.__version__ == VERSION
    assert (ROOT / "src" / "opsporing" / "py.typed").is_file()
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)


def test_the_wheel_installs_and_works_outside_the_repository(tmp_path: Path) -> None:
    started = time.monotonic()
    where = "import opsporing; print(opsporing.__file__)"
    main_before = _run([sys.executable, "-c", where], tmp_path)
    # 1. Build from a clean copy of what the wheel is made of, so the work tree stays clean.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    shutil.copytree(ROOT / "models", source / "models", ignore=ignore)
    shutil.copytree(ROOT / "data" / "synthetic", source / "data" / "synthetic", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source]
    if _backend_available():
        build.insert(4, "--no-build-isolation")
    # Otherwise pip fetches the build backend named in pyproject.toml from the package index.
    _run(build, cwd=tmp_path, timeout=300)
    (wheel,) = dist.glob("opsporing-*.whl")
    assert wheel.name == f"opsporing-{VERSION}-py3-none-any.whl"
    built = time.monotonic()

    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"opsporing-{VERSION}.data/data/share/opsporing"
    for expected in [
        "opsporing/py.typed",
        "opsporing/__main__.py",
        "opsporing/instruments/data/skole_trivsel.yaml",
        "opsporing/instruments/data/dagtilbud_trivsel.yaml",
        "opsporing/instruments/data/topi.yaml",
        "opsporing/instruments/data/skole_0_6.yaml",
        "opsporing/instruments/data/dagtilbud_0_2.yaml",
        "opsporing/instruments/forms.yaml",
        "opsporing/vocabulary/data/vocabulary.yaml",
        "opsporing/examples/skole_forms.csv",
        "opsporing/examples/dagtilbud_forms.csv",
        "opsporing/examples/skole_7_10_forms.csv",
        "opsporing/examples/dagtilbud_3_5_forms.csv",
        "opsporing/web/templates/form.html",
        "opsporing/web/static/style.css",
        f"{data}/models/step_suggester.skops",
        f"{data}/models/manifest.json",
        f"{data}/models/manifest.json.sig",
        f"{data}/models/MODEL_CARD.md",
        "opsporing/model/keys/opsporing-release.pub",  # load_model() verifies with it
        *(f"{data}/data/synthetic/{p.name}" for p in (ROOT / "data" / "synthetic").iterdir()),
    ]:
        assert expected in names, expected
    package = ROOT / "src" / "opsporing"
    shipped = {p.relative_to(package.parent).as_posix() for p in package.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}  # fmt: skip
    assert shipped <= names, sorted(shipped - names)

    # 2. A fresh venv that sees the installed dependencies but gets opsporing from the wheel,
    # whether this interpreter is a system Python or itself a venv.
    venv = tmp_path / "venv"
    python = _venv_seeing_our_packages(venv, tmp_path)
    _run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", wheel],
        cwd=tmp_path,
    )

    # 3. From a folder outside the repository.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "Usage" in _run([python, "-m", "opsporing", "--help"], elsewhere)
    demo = _run([python, "-m", "opsporing", "demo", "--quick"], elsewhere)
    assert "opsporing.skole.0-6" in demo and "opsporing.dagtilbud.0-2" in demo
    snippet = textwrap.dedent(
        f"""
        import importlib.resources, pathlib, sys
        import opsporing
        from opsporing.instruments import list_instruments
        from opsporing.model import load_model
        from opsporing.model._artifact import default_model_path
        from opsporing.synthetic import load_default
        from opsporing.synthetic._population import DEFAULT_DIRECTORY

        venv = pathlib.Path({str(venv)!r}).resolve()
        here = pathlib.Path(opsporing.__file__).resolve()
        assert venv in here.parents, f"opsporing from {{here}}, not from the wheel"
        assert opsporing.__version__ == {VERSION!r}, opsporing.__version__
        assert importlib.resources.files("opsporing").joinpath("py.typed").is_file()
        share = venv / "share" / "opsporing"
        assert default_model_path() == share / "models" / "step_suggester.skops"
        assert DEFAULT_DIRECTORY == share / "data" / "synthetic", DEFAULT_DIRECTORY
        model = load_model()
        assert model.classes_.tolist() == list(range(7))
        pop = load_default()
        assert len(pop.children) == 100_000, len(pop.children)
        ids = sorted(i.id for i in list_instruments())
        print("instruments", *ids)
        print("ok", len(model.feature_names_in_), len(pop.forms["skole"]))
        """
    )
    out = _run([python, "-c", snippet], elsewhere)
    assert "opsporing.skole.trivsel" in out and "topi" in out
    assert re.search(r"^ok \d+ \d+$", out, re.M), out
    installed = time.monotonic()

    # 4. The main environment still imports what it imported before (the editable checkout).
    assert _run([sys.executable, "-c", where], tmp_path) == main_before
    print(f"build {built - started:.1f} s, install and run {installed - built:.1f} s")
    assert time.monotonic() - started < 120
