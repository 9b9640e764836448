"""Explanations of model suggestions: SHAP values grouped into plain language.

Examples
--------
>>> from opsporing.explain import group_label
>>> group_label("concept:learning.absence").da
'højt fravær'
"""

from ._labels import DOMAIN_LABELS, OTHER_LABELS, group_items, group_label
from ._plot import plot_waterfall
from ._shap import MIN_EFFECT, Explainer, Explanation, Reason, global_importance, render_sentence
from ._whatif import WhatIf, what_would_change

__all__ = [
    "DOMAIN_LABELS",
    "MIN_EFFECT",
    "OTHER_LABELS",
    "Explainer",
    "Explanation",
    "Reason",
    "WhatIf",
    "global_importance",
    "group_items",
    "group_label",
    "plot_waterfall",
    "render_sentence",
    "what_would_change",
]
