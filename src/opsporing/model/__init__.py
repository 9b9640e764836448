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
    INSTRUMENTS,
    build_features,
    concept_codes,
    feature_groups,
    feature_names,
    is_forbidden,
    monotonic_constraint,
)
from ._local import LocalTraining, train_own_data
from ._metrics import auc, expected_calibration_error, under_suggestion_rate
from ._recalibrate import (
    Recalibration,
    adjust_prior,
    recalibrate,
    save_recalibrated,
)
from ._split import check_split, clusters_of, family_split

__all__ = [
    "DOMAINS",
    "FORBIDDEN_COLUMNS",
    "INSTRUMENTS",
    "MANIFEST_NAME",
    "VERSION_POLICY",
    "LocalTraining",
    "Recalibration",
    "StepSuggester",
    "UnfittedModelError",
    "adjust_prior",
    "auc",
    "build_features",
    "check_split",
    "clusters_of",
    "concept_codes",
    "expected_calibration_error",
    "family_split",
    "feature_groups",
    "feature_names",
    "is_forbidden",
    "library_versions",
    "load_model",
    "monotonic_constraint",
    "read_manifest",
    "recalibrate",
    "save_model",
    "save_recalibrated",
    "sha256_file",
    "train_own_data",
    "under_suggestion_rate",
]
