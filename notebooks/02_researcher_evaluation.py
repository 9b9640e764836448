# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Evaluating detection quality on synthetic children
#
# This notebook is for a **researcher** who wants to know how well a detection rule
# works before anyone relies on it: the instrument's own band rule, the shipped step
# model, and the best any rule could do (the oracle), on the same children.
#
# > **Synthetic children are not real children.** Every child in this notebook comes
# > from `opsporing.synthetic`, a simulation whose true staircase step is known by
# > construction. The numbers below describe that simulation. They show that the
# > evaluation *methods* work and what they reveal; they say nothing about how the
# > instruments or the model would do on real children, whose cut-offs and performance
# > must be established on local data.
#
# Contents: data and the accounting of every child → one comparison table (band rule vs
# model vs oracle) → detection metrics with bootstrap confidence intervals → calibration
# and decision curve → staircase errors → fairness by group → instrument reliability →
# key figures per 1,000 children → a **rater-bias scenario** → an HTML report for a
# paper's appendix → the same evaluation on **a file of one's own** (the shipped example
# pair).
# The formulas and caveats of every metric are in `docs/researcher-guide.md`.

# %%
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib_inline.backend_inline import set_matplotlib_formats

from opsporing.evaluation import (
    DEFAULT_GROUPS,
    Section,
    average_precision,
    bootstrap_ci,
    compare_scores,
    decision_curve,
    detection_metrics,
    evaluate_own_data,
    evaluate_population,
    evaluation_sections,
    key_figure_change,
    key_figures,
    metrics_by_group,
    plot_decision_curve,
    plot_group_metric,
    plot_pr,
    plot_reliability,
    plot_roc,
    plot_step_confusion,
    reliability_by_domain,
    reliability_table,
    report,
    roc_auc,
    staircase_error,
)
from opsporing.examples import own_data_paths
from opsporing.instruments import get_instrument
from opsporing.model import load_model
from opsporing.policy import load_policy
from opsporing.synthetic import STEP_COLUMNS, SyntheticConfig, generate, oracle_proba

set_matplotlib_formats("png")  # the library returns matplotlib Figures; show them inline
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm, imported by shap

# No paths into the repository: the model, the synthetic generator and the example files
# come with the installed library, so a copy of this notebook runs anywhere. The report is
# written to ./reports under the folder the notebook runs in.
REPORTS = Path("reports")
started = time.perf_counter()

# %% [markdown]
# ## 1. Data: a fresh synthetic population, the shipped model
#
# **Why generate instead of loading the committed data set?** The shipped model
# (`models/step_suggester.skops`) was trained on 80,000 of the 100,000 children of the
# committed population (`opsporing.synthetic.load_default()`, seed 20261123). A new
# population from the same generator with **another seed** gives children the model has
# never seen, from the same distribution: an honest held-out set. 10,000 children keep
# the notebook to a minute or two on two cores (every child goes through
# `opsporing.decision.suggest_batch`, explanations included, as in practice) while still
# giving about 500 children in need. (The model card's own held-out fifth of the
# committed data is the alternative; `opsporing.model.train.split` reproduces it.)
#
# **Why not retrain?** The question here is how *the shipped model* behaves. Retraining
# would evaluate a different model, and would take longer than the whole notebook.

# %%
# The test suite, which checks that every cell runs and every assert holds, sets a smaller
# number (tests/test_notebooks.py); the text below describes 10,000.
N_CHILDREN = int(os.environ.get("OPSPORING_NOTEBOOK_CHILDREN", "10000"))
SEED = 20261124  # not the training seed (20261123): these children are new to the model

config = SyntheticConfig(n_children=N_CHILDREN, seed=SEED)
population = generate(config, progress=False)
model = load_model()  # the shipped model, checked against its signed manifest
policy = load_policy()  # the suggestion policy: the cost matrix that picks each step
# The P(step >= 1) above which step 1 beats step 0 under the policy's costs: the cut-off
# at which the model's probability is compared with the band rule and the oracle.
THRESHOLD = policy.threshold_step_1()

children = population.children
print(
    f"{len(children):,} synthetic children in {children['municipality'].nunique()} municipalities"
)
children["true_step"].value_counts().sort_index().rename("children per true step").to_frame().T

# %% [markdown]
# Every child has a current screening (the newest of three yearly waves); half of the
# children are followed and also have one from each earlier wave they were old enough for
# (the model reads them as change and trend features), and most have a parents' form
# and, from age 6, their own form of the current round. Each form is
# scored with the instrument of its setting, and every child goes through
# `opsporing.decision.suggest_batch`, exactly as a municipality's system would:
# `evaluate_population` does all of it and returns one row per child plus an
# **accounting** of what every child was suggested. A red flag (`notify`) bypasses the
# model (no probability); an abstention (`abstain`: "insufficient information, discuss in
# the team", for data reasons only) has neither a probability nor a step. Nobody is
# dropped: the table below counts
# them, and each metric after it says which children it is computed on.

# %%
evaluation = evaluate_population(population, model=model, n_boot=0)
evaluation.accounting


# %%
def evaluation_table(ev, pop):
    """One row per child: truth, groups, band rule, model and oracle scores and steps."""
    oracle = oracle_proba(pop)
    oracle.index = oracle.index.astype(str)
    oracle_p = oracle.loc[ev.table.index, list(STEP_COLUMNS)].to_numpy()
    return ev.table.rename(columns={"model_p_needs_support": "model"}).assign(
        # the oracle's step by the same policy rule as the model's suggestions
        oracle_step=policy.choose(oracle_p),
        abstain=lambda d: d["kind"] == "abstain",
        red_flag=lambda d: d["kind"] == "notify",
    )


everyone = evaluation_table(evaluation, population)
# The model's probability exists for every child but the red flags, the band rule's score
# for every form the instrument could score: the metrics below are on the children with
# both; the others are in the accounting above.
data = everyone[everyone["model"].notna() & everyone["band_rule"].notna()].copy()
print(f"children with a model probability and a band: {len(data):,} of {len(everyone):,}")
print(f"prevalence of need (true step >= 1): {everyone['y_true'].mean():.3f}")
print(f"abstentions: {everyone['abstain'].mean():.1%}")
print(f"red flags (the model is bypassed): {everyone['red_flag'].mean():.1%}")
data.head()

# %% [markdown]
# Three scores of the same children, higher = more concern:
#
# * **`band_rule`**: the instrument alone, the overall band as 0 (grøn), 1 (gul),
#   2 (rød). Its rule is "gul or worse" (cut-off 1). This is what a municipality has
#   before any model.
# * **`model`**: the shipped model's calibrated P(step ≥ 1), "needs more than universal
#   services". It suggests step ≥ 1 when this reaches the threshold 0.25, so that is its
#   cut-off here.
# * **`oracle`**: the exact P(step ≥ 1 | everything on the forms) under the generator,
#   by quadrature (`opsporing.synthetic.oracle_proba`). No rule that sees only the forms
#   can beat it; the gap between the model and the oracle is what better modelling
#   could still gain, the oracle's own errors are irreducible.
#
# The probability metrics use every child with a model probability; the few with a red
# flag, whom the decision layer sends straight to the duty to notify, have none.

# %% [markdown]
# ## 2. One comparison table: band rule vs model vs oracle

# %%
SCORES = ["band_rule", "model", "oracle"]
CUTOFFS = {"band_rule": 1.0, "model": THRESHOLD, "oracle": THRESHOLD}
comparison = compare_scores(data, scores=SCORES, cutoffs=CUTOFFS)
comparison.set_index("score").T

# %% [markdown]
# How to read it: AUC and average precision rank children regardless of a cut-off;
# sensitivity, specificity, PPV, NPV, flag rate and F2 are those of the rule
# `score >= cutoff`. Brier score and ECE exist only for probabilities (the band rule is
# not one). With a prevalence of about 5 %, a rule that flags many children has a low
# PPV: the band rule finds most children in need but flags around 40 % of all children,
# most of whom need nothing more than universal services. Even the oracle's PPV at its
# cut-off stays below one half. That is why a flag starts a conversation with the parents
# and the team, never a decision.

# %%
plot_roc(data["y_true"], data[SCORES])

# %%
plot_pr(data["y_true"], data[SCORES])

# %% [markdown]
# ## 3. Detection metrics with bootstrap confidence intervals
#
# A point estimate on 10,000 children still has sampling error, and it is largest where
# it matters (the ~500 children in need). `bootstrap_ci` resamples children with
# replacement, within the children in need and the others separately (stratified), and
# reports percentile intervals. 200 replicates keep this quick; use 1,000 or more for a
# paper.


# %%
def detection(cutoff):
    def metrics(y, s):
        rates = detection_metrics(y, s >= cutoff)[
            ["sensitivity", "specificity", "ppv", "npv", "f2"]
        ]
        return pd.concat(
            [
                pd.Series({"roc_auc": roc_auc(y, s), "average_precision": average_precision(y, s)}),
                rates,
            ]
        )

    return metrics


ci = pd.concat(
    {
        name: bootstrap_ci(data["y_true"], data[name], detection(CUTOFFS[name]), n_boot=200, seed=1)
        for name in SCORES
    },
    names=["score"],
)
ci[["estimate", "lower", "upper"]].round(3).unstack("score").swaplevel(axis=1).sort_index(axis=1)

# %% [markdown]
# ## 4. Calibration and decision curve
#
# A probability is calibrated when, among children given 20 %, about 20 % are in need.
# The reliability diagram bins the predictions (10 equal-width bins) and plots the
# observed rate against the mean prediction; the histogram below shows that almost all
# children sit in the lowest bin, so the upper bins rest on few children.

# %%
plot_reliability(data["y_true"], data[["model", "oracle"]])

# %%
reliability_table(data["y_true"], data["model"]).round(3)

# %% [markdown]
# The decision curve asks whether acting on the model is worth it at a given
# **threshold probability** p_t (the risk at which one would discuss a child): net
# benefit = TP/n − FP/n · p_t/(1 − p_t), against "refer all" and "refer none". A useful
# rule lies above both across the thresholds people would actually use.

# %%
plot_decision_curve(data["y_true"], data[["model", "oracle"]])

# %%
thresholds = [0.05, 0.1, 0.25, 0.5]
pd.concat(
    {
        name: decision_curve(data["y_true"], data[name], thresholds).set_index("threshold")[
            ["net_benefit", "n_referred", "refer_all"]
        ]
        for name in ["model", "oracle"]
    },
    axis=1,
).round(4)

# %% [markdown]
# ## 5. The staircase: under- and over-suggestion
#
# The model suggests a step, not only a flag. Errors on the staircase are not symmetric:
# **suggesting too low** (missing a child who needs step 3) is worse than discussing one
# step too many, so the cost-weighted error counts 2 per step under and 1 per step over,
# and under- and over-suggestion are reported separately. The oracle with the same
# suggestion rule shows how much of the error is irreducible.
#
# Look at `under_rate_in_need`: most children in need are suggested a step *below*
# their true one, by the oracle as well as by the model. One screening form simply does
# not carry enough information to place a child on the staircase; a suggestion of step 1
# or more is a reason to look closer (and steps 3-6 always need the municipality's own
# assessment), not a placement.

# %%
stepped = data[data["suggested_step"].notna()].astype({"suggested_step": int})
print(f"children with a suggested step: {len(stepped):,} (abstentions have none)")
staircase = pd.DataFrame(
    {
        "model": staircase_error(stepped["true_step"], stepped["suggested_step"]),
        "oracle (same rule)": staircase_error(stepped["true_step"], stepped["oracle_step"]),
    }
)
staircase.round(4)

# %%
plot_step_confusion(
    stepped["true_step"], stepped["suggested_step"], title="Model: suggested vs true step"
)

# %% [markdown]
# ## 6. Fairness: every metric by group
#
# `metrics_by_group` runs fairlearn's `MetricFrame` for each group column (sex, age band,
# setting, municipality, family background) and reports each metric per group and the
# **largest difference between groups**. Family background is an *evaluation* group
# only: it is never a model input, and the generator gives the groups different mean
# family strain, so different prevalences are expected; what should not differ much is
# how well the rule works *given* the need (sensitivity, specificity). Small groups give
# noisy gaps: look at `smallest_n`.

# %%
fair = metrics_by_group(data, y_score="model", cutoff=THRESHOLD, groups=list(DEFAULT_GROUPS))
gaps = fair.gaps.set_index(["group_column", "metric"])
gaps.loc[(slice(None), ["prevalence", "flag_rate", "sensitivity", "specificity", "roc_auc"]), :][
    ["overall", "group_min", "group_max", "difference", "min_group", "max_group", "smallest_n"]
].round(3)

# %%
plot_group_metric(fair.by_group[fair.by_group["group_column"] != "municipality"], "sensitivity")

# %% [markdown]
# The same for the staircase: how often each group is suggested too low.

# %%
steps_by_group = metrics_by_group(
    stepped,
    y_true="true_step",
    y_pred="suggested_step",
    task="steps",
    groups=["family_background", "setting"],
)
steps_by_group.by_group.pivot_table(
    index=["group_column", "group"], columns="metric", values="value"
)[
    ["mean_suggested_step", "under_rate", "under_2plus_rate", "over_rate", "cost_weighted_error"]
].round(4)

# %% [markdown]
# ## 7. Instrument reliability
#
# Internal consistency of each domain of each instrument on the current screenings:
# Cronbach's alpha, and McDonald's omega from a one-factor model (which does not assume
# equal loadings). Answers are keyed first, so reverse-keyed items count in the domain's
# direction. The safety domain consists of rare yes/no red-flag items; a low value there
# is expected and no argument against asking them. Inter-rater agreement (Cohen's
# weighted kappa, ICC) needs two raters scoring the same child, which this synthetic
# population does not have (see `rater_agreement` in the researcher guide).

# %%
reliability = pd.concat(
    {
        setting: reliability_by_domain(
            # each form names its instrument; one instrument per setting in this population
            get_instrument(str(forms["instrument_id"].iloc[0])),
            forms[forms["wave"] == config.current_wave],
        ).set_index("domain")
        for setting, forms in population.forms.items()
        if setting in ("dagtilbud", "skole")  # the educators' forms
    },
    names=["setting"],
)
reliability.round(3)

# %% [markdown]
# ## 8. Key figures per 1,000 children
#
# Municipalities follow children per staircase step per 1,000 children aged 0-17 (seed
# 003). Here the denominator is the synthetic children of each municipality (ages
# 0.5-16), as the simulation has no others; with real data it is the municipality's whole
# child population from Statistics Denmark. The table compares the true steps with what
# the model would suggest for the same children (those with a suggested step; abstentions
# and red flags have none). Similar totals per step do not mean the
# same children: the staircase errors above show how many are suggested too low or too
# high.

# %%
population_size = (
    children.groupby("municipality")
    .size()
    .rename("children_0_17")
    .reset_index()
    .assign(period=config.year)
)
per_1000 = {
    "true step": key_figures(data.assign(period=config.year), population_size, step="true_step"),
    "suggested step": key_figures(
        stepped.assign(period=config.year), population_size, step="suggested_step"
    ),
}
overall_per_1000 = pd.DataFrame(
    {
        name: k.groupby("step")["children"].sum() / population_size["children_0_17"].sum() * 1000
        for name, k in per_1000.items()
    }
)
overall_per_1000.round(1).T

# %%
per_1000["true step"].pivot_table(index="municipality", columns="step", values="per_1000").round(1)

# %% [markdown]
# A change between two periods (`key_figure_change`): the same municipalities a year
# later in a scenario where needs grow (`drift_per_year=0.2`, year 2027). Only the true
# steps are needed, so no forms are scored.

# %%
later = generate(replace(config, year=2027, drift_per_year=0.2), progress=False).children
both_years = pd.concat(
    [
        children[["municipality", "true_step"]].assign(period=2026),
        later[["municipality", "true_step"]].assign(period=2027),
    ]
)
both_sizes = (
    both_years.groupby(["municipality", "period"]).size().rename("children_0_17").reset_index()
)
change = key_figure_change(key_figures(both_years, both_sizes, step="true_step"), 2026, 2027)
change.groupby("step")[["per_1000_before", "per_1000_after", "change"]].mean().round(2)

# %% [markdown]
# ## 9. Scenario: raters who rate one group harsher
#
# Does the fairness section catch a biased *input*? The generator can make every rater
# rate the children of one family-background group harsher
# (`SyntheticConfig(rater_bias_against="indvandrer", rater_bias_size=0.5)`: +0.5 SD on
# every concern item), **without any change in those children's real situation or true
# step**. Same seed, same children, same true steps; only the ratings differ.
#
# The shipped model is applied unchanged, deliberately: the scenario is "the model is
# deployed where raters are biased". No retraining is needed (and none would help: the
# model never sees family background, so it cannot learn to correct for it; it simply
# reads the harsher answers as more concern). We compare the between-group gaps of the
# model's rule, bias off (the population above) vs bias on.

# %%
BIASED_GROUP = "indvandrer"
biased_population = generate(
    replace(config, rater_bias_against=BIASED_GROUP, rater_bias_size=0.5), progress=False
)
assert (
    biased_population.children["true_step"].to_numpy() == children["true_step"].to_numpy()
).all()
biased_all = evaluation_table(
    evaluate_population(biased_population, model=model, n_boot=0), biased_population
)
biased = biased_all[biased_all["model"].notna()]

scenario = {
    "bias off": fair,
    "bias on": metrics_by_group(
        biased, y_score="model", cutoff=THRESHOLD, groups=["family_background"]
    ),
}
scenario_gaps = pd.concat(
    {
        name: g.gaps[g.gaps["group_column"] == "family_background"].set_index("metric")
        for name, g in scenario.items()
    },
    names=["scenario"],
)
scenario_gaps.loc[
    (slice(None), ["prevalence", "flag_rate", "specificity", "sensitivity", "mean_score"]), :
][["group_min", "group_max", "difference", "min_group", "max_group"]].round(3)

# %%
gap = {
    metric: {name: float(scenario_gaps.loc[(name, metric), "difference"]) for name in scenario}
    for metric in ("flag_rate", "specificity")
}
for metric, values in gap.items():
    print(
        f"between-group gap in {metric:<11} by family background: "
        f"bias off {values['bias off']:.3f}, bias on {values['bias on']:.3f}"
    )

# The fairness section must show the bias: a larger gap with it on, in the biased group.
assert gap["flag_rate"]["bias on"] > gap["flag_rate"]["bias off"]
assert gap["specificity"]["bias on"] > gap["specificity"]["bias off"]
assert scenario_gaps.loc[("bias on", "flag_rate"), "max_group"] == BIASED_GROUP
assert scenario_gaps.loc[("bias on", "specificity"), "min_group"] == BIASED_GROUP

# %% [markdown]
# The true prevalence per group is identical in both scenarios (same children), yet with
# biased raters the children of the biased group are flagged far more often and the
# rule's specificity in that group drops: they are referred for concerns that are in the
# raters, not in the children. Side by side, with the library's own group plot:

# %%
side_by_side = pd.concat(
    [
        g.by_group[g.by_group["group_column"] == "family_background"].assign(
            group_column=f"family background, {name}"
        )
        for name, g in scenario.items()
    ],
    ignore_index=True,
)
bias_figure = plot_group_metric(
    side_by_side, "flag_rate", title="Flag rate of the model's rule, rater bias off vs on"
)
for ax in bias_figure.axes:  # one scale for both panels, so the bars compare directly
    ax.set_xlim(0, 1.1 * side_by_side.loc[side_by_side["metric"] == "flag_rate", "value"].max())
bias_figure

# %% [markdown]
# A fairness report cannot tell *why* a gap exists: here we know it is the raters because
# we built the simulation that way. With real data the same signature (a group flagged
# much more often at an equal or similar need) calls for looking at who rates whom, e.g.
# with the raters' identifiers and a second rater for a sample of children.
#
# ## 10. The HTML report
#
# `evaluation_sections` builds the usual appendix (data, detection, calibration,
# staircase, fairness) in one call; we add the reliability, key-figure and bias sections
# and write one self-contained HTML file (figures embedded, no timestamp, so the same
# inputs give the same bytes) to `reports/`, which git ignores.

# %%
SYNTHETIC_NOTE = (
    f"All children in this report are synthetic (opsporing.synthetic, {N_CHILDREN:,} children, "
    f"seed {SEED}). Synthetic children are not real children: the numbers describe the "
    "simulation and show what the methods reveal; they are not evidence that any cut-off, "
    "instrument or model works for real children."
)
sections = [
    Section("Synthetic children are not real children", SYNTHETIC_NOTE),
    *evaluation_sections(
        data,
        scores=SCORES,
        cutoffs=CUTOFFS,
        groups=list(DEFAULT_GROUPS),
        fairness_score="model",
        steps=("true_step", "suggested_step"),
        probabilities=["model", "oracle"],
    ),
    Section(
        "Instrument reliability",
        (
            "Cronbach's alpha and McDonald's omega per domain, current screenings.",
            reliability.reset_index(),
        ),
    ),
    Section(
        "Key figures per 1,000 children",
        (
            "Children per step per 1,000 synthetic children: true vs suggested step.",
            overall_per_1000.round(1).T,
        ),
    ),
    Section(
        "Scenario: rater bias against one group",
        (
            f"Raters rate children of the group {BIASED_GROUP!r} 0.5 SD harsher on every concern "
            "item, with no change in their true step. Between-group gaps by family background of "
            f"the model's rule (P(step >= 1) >= {THRESHOLD:g}), bias off vs on.",
            scenario_gaps.reset_index()[
                [
                    "scenario",
                    "metric",
                    "group_min",
                    "group_max",
                    "difference",
                    "min_group",
                    "max_group",
                ]
            ],
            bias_figure,
        ),
    ),
]
REPORTS.mkdir(exist_ok=True)
path = report(
    *sections,
    path=REPORTS / "02_researcher_evaluation.html",
    title="opsporing: detection quality on synthetic children",
    provenance=evaluation.provenance,
)
html = path.read_text(encoding="utf-8")
assert "Synthetic children are not real children" in html and "<h2>Fairness</h2>" in html
print(f"wrote {path} ({len(html) / 1e6:.1f} MB, {len(sections)} sections)")

# %% [markdown]
# ## 11. Your own data: the same evaluation from two files
#
# A researcher with real screenings brings two CSV files in the format described in
# `docs/researcher-guide.md`: **screenings** (pseudonymous child id, optional family id,
# date, instrument, age, one column per item) and **outcomes** (child id, date, decided
# step, later notification, investigation result). Group columns for the fairness section
# (sex, municipality, ...) may sit in either file; they are named in `groups=`, taken out
# before anything is scored, and never reach the model. Every problem in the files is
# reported at once, with its row.
#
# The library ships an example pair in that format, written from 800 synthetic children
# (`opsporing.examples.write_own_data_example`; **not real children**). Replace the two
# paths by your own files; the command line does the same:
# `opsporing evaluate --screenings FILE --outcomes FILE -g sex -g municipality`.

# %%
screenings_file, outcomes_file = own_data_paths()
own = evaluate_own_data(
    screenings_file,
    outcomes_file,
    model=model,
    groups=["sex", "municipality", "setting", "family_background"],
    path=REPORTS / "02_own_data.html",
    n_boot=200,
)
own.accounting

# %%
own.figures().set_index("score")[
    ["n", "n_no_score", "roc_auc", "brier", "ece", "sensitivity", "specificity", "flag_rate"]
].round(3)

# %% [markdown]
# The intervals resample whole children (whole families when the screenings have a
# `family_id`), so siblings are never counted as independent:

# %%
intervals = next(
    c for c in next(s for s in own.sections if s.title == "Detection").content
    if isinstance(c, pd.DataFrame) and "lower" in c.columns
)
intervals.loc[["model_p_needs_support", "band_rule"], ["estimate", "lower", "upper"]].round(3)

# %%
print(f"wrote {own.path}; model {own.provenance['model_sha256'][:12]}…, "
      f"data {own.provenance['data_sha256'][:12]}…")
print(f"notebook computed in {time.perf_counter() - started:.0f} s")

# %% [markdown]
# **Once more: these are synthetic children, not real children.** The report's numbers
# demonstrate the evaluation; before any use with real children, the instruments'
# cut-offs and the model must be validated on local data, with the same tables.
