"""Detection-quality evaluation for researchers: pandas in, pandas out.

Usable with any model's scores, with an instrument's band rule alone, or with the true
probabilities of synthetic data (an oracle):

- detection: :func:`detection_metrics`, :func:`cutoff_table`, :func:`roc_curve`,
  :func:`roc_auc`, :func:`pr_curve`, :func:`average_precision`, :func:`bootstrap_ci`;
- calibration: :func:`brier_score`, :func:`expected_calibration_error`,
  :func:`reliability_table`, :func:`decision_curve`;
- the staircase: :func:`step_confusion`, :func:`staircase_error`, :func:`step_costs`, ...;
- fairness on fairlearn's MetricFrame: :func:`metrics_by_group`, :func:`fairness_table`;
- instruments: :func:`cronbach_alpha`, :func:`mcdonald_omega`, :func:`reliability_by_domain`,
  :func:`item_total_by_domain`, :func:`cohen_kappa`, :func:`icc`, :func:`rater_agreement`;
- comparison: :func:`compare_scores` (model vs band rule vs oracle);
- population: :func:`key_figures`, :func:`key_figure_change` (per 1,000 children 0-17);
- one's own data: :func:`read_own_data` (the documented screenings and outcomes
  format), :func:`evaluate_own_data` and, for synthetic children, :func:`evaluate_population`
  (the same evaluation and report); :func:`write_own_data` writes a synthetic population in
  that format;
- intervals: :func:`bootstrap_frame` (clustered by family or child),
  :func:`detection_intervals`, :func:`group_difference_intervals`,
  :func:`reliability_intervals`, :func:`agreement_intervals`;
- figures and report: ``plot_*``, :class:`Section`, :func:`report`, and
  :func:`evaluation_sections` for the usual appendix in one call.

Bad input raises :class:`~opsporing.errors.DataError` (tables, labels, probabilities) or
:class:`~opsporing.errors.ResponseValidationError` (item answers), naming the field, the
value and what was expected. See ``docs/researcher-guide.md`` for formulas and caveats.

Examples
--------
>>> from opsporing.evaluation import roc_auc, staircase_error
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
>>> float(staircase_error([0, 3], [0, 2])["under_rate"])
0.5
"""

from ._agreement import cohen_kappa
from ._bootstrap import (
    agreement_intervals,
    bootstrap_frame,
    detection_intervals,
    group_difference_intervals,
    reliability_intervals,
)
from ._calibration import (
    brier_score,
    decision_curve,
    expected_calibration_error,
    reliability_table,
)
from ._compare import band_score, compare_scores
from ._detection import (
    average_precision,
    bootstrap_ci,
    cutoff_table,
    detection_metrics,
    pr_curve,
    roc_auc,
    roc_curve,
)
from ._fairness import (
    DEFAULT_GROUPS,
    GroupMetrics,
    age_band,
    default_metrics,
    fairness_table,
    metrics_by_group,
)
from ._keyfigures import key_figure_change, key_figures
from ._ordinal import (
    cost_weighted_step_error,
    mean_absolute_step_error,
    quadratic_weighted_kappa,
    staircase_error,
    step_confusion,
    step_costs,
)
from ._owndata import (
    OwnData,
    own_data_from_population,
    read_own_data,
    write_own_data,
)
from ._owneval import (
    Evaluation,
    evaluate_own_data,
    evaluate_population,
    evaluation_from_scores,
    score_own_data,
    write_evaluation,
)
from ._plots import (
    plot_decision_curve,
    plot_group_metric,
    plot_pr,
    plot_reliability,
    plot_roc,
    plot_step_confusion,
)
from ._quality import instrument_quality_sections
from ._reliability import (
    corrected_item_total,
    cronbach_alpha,
    icc,
    item_total_by_domain,
    keyed_answers,
    mcdonald_omega,
    rater_agreement,
    reliability_by_domain,
)
from ._report import Section, format_number, report
from ._sections import evaluation_sections
from ._structure import factor_structure, item_dif

__all__ = [
    "DEFAULT_GROUPS",
    "Evaluation",
    "GroupMetrics",
    "OwnData",
    "Section",
    "age_band",
    "agreement_intervals",
    "average_precision",
    "band_score",
    "bootstrap_ci",
    "bootstrap_frame",
    "brier_score",
    "cohen_kappa",
    "compare_scores",
    "corrected_item_total",
    "cost_weighted_step_error",
    "cronbach_alpha",
    "cutoff_table",
    "decision_curve",
    "default_metrics",
    "detection_intervals",
    "detection_metrics",
    "evaluate_own_data",
    "evaluate_population",
    "evaluation_from_scores",
    "evaluation_sections",
    "expected_calibration_error",
    "factor_structure",
    "fairness_table",
    "format_number",
    "group_difference_intervals",
    "icc",
    "instrument_quality_sections",
    "item_dif",
    "item_total_by_domain",
    "key_figure_change",
    "key_figures",
    "keyed_answers",
    "mcdonald_omega",
    "mean_absolute_step_error",
    "metrics_by_group",
    "own_data_from_population",
    "plot_decision_curve",
    "plot_group_metric",
    "plot_pr",
    "plot_reliability",
    "plot_roc",
    "plot_step_confusion",
    "pr_curve",
    "quadratic_weighted_kappa",
    "rater_agreement",
    "read_own_data",
    "reliability_by_domain",
    "reliability_intervals",
    "reliability_table",
    "report",
    "roc_auc",
    "roc_curve",
    "score_own_data",
    "staircase_error",
    "step_confusion",
    "step_costs",
    "write_evaluation",
    "write_own_data",
]
