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
    SIGNATURE_NAME,
    TRUSTED_TYPES,
    VERSION_POLICY,
    library_versions,
    load_model,
    read_manifest,
    save_model,
    sha256_file,
    sign_model,
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
    model_view,
    monotonic_constraint,
)
from ._keys import PublicKey, generate_keypair, read_public_key
from ._local import LocalTraining, train_own_data
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
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "TRUSTED_TYPES",
    "VERSION_POLICY",
    "LocalTraining",
    "PublicKey",
    "Recalibration",
    "StepSuggester",
    "UnfittedModelError",
    "adjust_prior",
    "build_features",
    "check_split",
    "clusters_of",
    "concept_codes",
    "domain_ranges",
    "family_split",
    "feature_groups",
    "feature_names",
    "generate_keypair",
    "is_forbidden",
    "is_model_instrument",
    "library_versions",
    "load_model",
    "model_view",
    "monotonic_constraint",
    "read_manifest",
    "read_public_key",
    "recalibrate",
    "save_model",
    "save_recalibrated",
    "sha256_file",
    "sign_model",
    "train_own_data",
]
