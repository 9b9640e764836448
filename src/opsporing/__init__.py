"""opsporing: early detection of children in vulnerable positions.

Decision *support* for Danish daycare and school: a common vocabulary, screening
instruments as versioned data, scoring, and (later layers) an explainable model
that suggests a step of the intervention staircase. Nothing here decides: a
named professional always does.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opsporing")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
