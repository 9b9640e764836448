"""The step-suggestion model: features, estimator, saved artifact.

Nothing here decides anything: the model *suggests* a step of the intervention
staircase, and :mod:`opsporing.decision` is the only way to record what a named
professional decided.

Examples
--------
>>> from opsporing.model import feature_names, monotonic_constraint
>>> len(feature_names()) > 40
True
>>> monotonic_constraint("score.behaviour")
1
"""

from ._artifact import (
    MANIFEST_NAME,
    VERSION_POLICY,
    library_versions,
    load_model,
    read_manifest,
    save_model,
    sha256_file,
)
from ._estimator import StepSuggester, UnfittedModelError
from ._features import (
    DOMAINS,
    FORBIDDEN_COLUMNS,
    build_features,
    concept_codes,
    domain_ranges,
    feature_groups,
    feature_names,
    is_forbidden,
    is_model_instrument,
    monotonic_constraint,
)

__all__ = [
    "DOMAINS",
    "FORBIDDEN_COLUMNS",
    "MANIFEST_NAME",
    "VERSION_POLICY",
    "StepSuggester",
    "UnfittedModelError",
    "build_features",
    "concept_codes",
    "domain_ranges",
    "feature_groups",
    "feature_names",
    "is_forbidden",
    "is_model_instrument",
    "library_versions",
    "load_model",
    "monotonic_constraint",
    "read_manifest",
    "save_model",
    "sha256_file",
]
