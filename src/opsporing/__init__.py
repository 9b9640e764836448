"""opsporing: early detection of children in vulnerable positions.

Decision *support* for Danish daycare and school: a common vocabulary, screening
instruments as versioned data, scoring, and (later layers) an explainable model
that suggests a step of the intervention staircase. Nothing here decides: a
named professional always does.
"""

from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

try:
    __version__ = version("opsporing")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]

#: Where an installed wheel puts the folders shipped beside the package, relative to the
#: installation prefix (``[tool.setuptools.data-files]`` in pyproject.toml).
_SHARE = "share/opsporing"


def _shipped_folder(relative: str) -> Path | None:
    """A folder shipped with opsporing (``"models"``, ``"data/synthetic"``), or ``None``.

    The source checkout's folder comes first (``<repository>/models`` when this package
    is ``<repository>/src/opsporing``), then the copy an installed wheel put under
    ``<prefix>/share/opsporing/``, found through the distribution's own file list so it
    works for any installation scheme (venv, ``--user``, ``--prefix``).
    """
    root = Path(__file__).resolve().parents[2]
    checkout = root / relative
    if (root / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    try:
        files = distribution("opsporing").files or []
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return None
    marker = f"{_SHARE}/{relative}/"
    for file in files:
        text = file.as_posix()
        at = text.find(marker)
        if at >= 0:
            folder = Path(str(file.locate())).parent
            # The folder itself, even if this file sits deeper inside it.
            for _ in text[at + len(marker) :].split("/")[1:]:
                folder = folder.parent
            if folder.is_dir():
                return folder.resolve()
    return None
