"""Suggestions and decisions: the model suggests, a named professional decides.

``suggest`` / ``suggest_batch`` return frozen :class:`Suggestion` records (a step,
an abstention, or — for red flags — the duty to notify now). Nothing acts on a
suggestion: :meth:`Decision.record` is the only way to make a :class:`Decision`.

Examples
--------
>>> from opsporing.decision import ROLES
>>> sorted(ROLES)
['dagtilbud', 'myndighed', 'ppr', 'skole', 'sundhedspleje']
"""

from ._decision import MUNICIPAL_ROLES, ROLES, Decision, DecisionLog, verify_decision
from ._signing import DECISION_KEY_ENV, SigningKey, current_signing_key, set_signing_key
from ._suggestion import (
    ABSTAIN_TEXT,
    Suggestion,
    SuggestionKind,
    red_flag_suggestion,
    suggest,
    suggest_batch,
    unavailable_suggestion,
)

__all__ = [
    "ABSTAIN_TEXT",
    "DECISION_KEY_ENV",
    "MUNICIPAL_ROLES",
    "ROLES",
    "Decision",
    "DecisionLog",
    "SigningKey",
    "Suggestion",
    "SuggestionKind",
    "current_signing_key",
    "red_flag_suggestion",
    "set_signing_key",
    "suggest",
    "suggest_batch",
    "unavailable_suggestion",
    "verify_decision",
]
