"""The suggestion policy: costs, the decision rule, abstention and the band rule, as data.

Examples
--------
>>> from opsporing.policy import load_policy
>>> policy = load_policy()
>>> policy.cost.tie_tolerance, policy.band_rule.refer_bands
(0.05, ('gul', 'rød'))
>>> round(policy.threshold_step_1(), 2)
0.1
"""

from ._policy import (
    N_STEPS,
    AbstainPolicy,
    BandRule,
    CostPolicy,
    SuggestionPolicy,
    load_policy,
    resolve_policy,
)

__all__ = [
    "N_STEPS",
    "AbstainPolicy",
    "BandRule",
    "CostPolicy",
    "SuggestionPolicy",
    "load_policy",
    "resolve_policy",
]
