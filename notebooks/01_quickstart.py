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
# # opsporing quickstart: from a filled-in form to a recorded decision
#
# This notebook is for an **application developer** who wants to put opsporing behind a
# form in a municipality's system. It walks the whole path once:
#
# 1. load a screening instrument (versioned data, validated on load);
# 2. score one form, then a small batch, including a row that is rejected;
# 3. ask the shipped model for a **suggestion** (`opsporing.decision.suggest`);
# 4. show why, in plain Danish and English, and as a plot;
# 5. see what happens with a **red-flag** answer: the model is bypassed and the duty to
#    notify (barnets lov § 133) applies at once;
# 6. record what a named professional **decided** (`Decision.record`), here an override
#    with a reason, and serialise it to JSON.
#
# The one rule to keep in mind: **opsporing never decides anything about a child.** A
# score or a suggestion is input to a professional's judgment, the conversation with the
# parents and the team. Only `Decision.record`, called for a named professional, turns a
# suggestion into a decision.
#
# The forms below are made up; no real child is described anywhere in this notebook.

# %%
import json
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib_inline.backend_inline import set_matplotlib_formats

from opsporing.decision import Decision, DecisionLog, suggest
from opsporing.errors import DecisionError
from opsporing.explain import Explainer, plot_waterfall
from opsporing.instruments import get_instrument, list_instruments
from opsporing.model import build_features, load_model
from opsporing.scoring import score_batch, score_form

# The library draws on matplotlib Figure objects (no pyplot); show them inline as PNG.
set_matplotlib_formats("png")
# shap imports tqdm, which warns about Jupyter widgets that this notebook does not use.
warnings.filterwarnings("ignore", message="IProgress not found")

# The notebook runs from the repository root (CI) or from notebooks/ (Jupyter).
ROOT = Path.cwd() if (Path.cwd() / "pyproject.toml").is_file() else Path.cwd().parent
assert (ROOT / "pyproject.toml").is_file(), f"run from the repository root, not {Path.cwd()}"

# %% [markdown]
# ## 1. Load an instrument
#
# Instruments are YAML data shipped with the package: items, response scales, reverse
# keys, domains with missing-data rules and band cut-offs. Loading validates all of it.
# `get_instrument` takes the id (and optionally a version); the result is immutable.

# %%
pd.DataFrame(
    [
        {
            "key": i.key,
            "title": i.title.en,
            "settings": ", ".join(i.settings),
            "items": len(i.items),
        }
        for i in list_instruments()
    ]
)

# %%
school = get_instrument("opsporing.skole.trivsel")
print(school.key, "-", school.title.en)
print("settings:", school.settings, "| items:", len(school.items))
pd.DataFrame(
    [
        {"domain": d.id, "direction": d.direction, "items": len(school.items_in(d.id))}
        for d in school.domains
    ]
)

# %% [markdown]
# ## 2. Score one form
#
# `score_form` takes a mapping of item id to answer (0-3 on the frequency scale, 0/1 on
# yes/no items). Items left out count as *not answered*: a domain with too few answers is
# **not scorable** (`None`), never silently zero; a domain with a few missing answers is
# prorated.

# %%
# fmt: off
answers = {
    "emo_sad": 1, "emo_tense": 0, "emo_withdrawn": 0, "emo_self_critical": 0,
    "soc_bullied": 1, "soc_conflicts": 1, "soc_cooperation": 0,
    "beh_hits": 0, "beh_reacts": 0, "beh_unrest": 0, "beh_rules": 2,
    "dev_keeps_up": 1, "dev_focus": 1, "dev_engaged": 2, "dev_language": 2, "dev_absence": 0,
    "care_hygiene": 3, "care_hungry": 0, "care_tired": 1, "care_health": 2,
    "care_parent_contact": 2,
    "saf_disclosure": 0, "saf_injury": 0, "saf_fear": 0, "saf_self_harm": 0,
    "res_friends": 0, "res_calms_down": 3, "res_likes_school": 2, "res_persists": 2,
    "res_parents": 2,
}  # soc_part_of_class and res_trusted_adult were left unanswered
# fmt: on
result = score_form(school, answers, age_years=11.2)

pd.DataFrame(
    [
        {"domain": k, "score": d.score, "band": d.band, "answered": f"{d.answered}/{d.n_items}"}
        for k, d in result.domains.items()
    ]
)

# %%
print("overall band:      ", result.overall_band)
print("concerns:          ", result.concerns)
print("protective factors:", result.protective_factors)
print("red flag:          ", result.red_flag)
print("missing items:     ", result.missing_items)

# %% [markdown]
# ## 3. Score a batch, and see a bad row rejected
#
# A system scores many forms at once with `score_batch` (vectorised, one row per form,
# one column per item id). Bad input is never coerced: by default one
# `ResponseValidationError` lists **every** problem of every row. With
# `errors="collect"` the good rows are scored and the bad ones come back in a table of
# problems, so an import job can report them without losing the rest.
#
# The shipped example forms are the starting point; we add one form with an answer that
# is not on the scale (`7`) and one with an age outside the instrument's range.

# %%
examples = pd.read_csv(ROOT / "src" / "opsporing" / "examples" / "skole_forms.csv")
bad = pd.DataFrame(
    [
        {"form_id": "S098", "age_years": 9, "emo_sad": 7, "instrument_version": "1.0.0"},
        {"form_id": "S099", "age_years": 30, "emo_sad": 1, "instrument_version": "1.0.0"},
    ]
)
forms = pd.concat([examples, bad], ignore_index=True)

batch = score_batch(school, forms, errors="collect", keep=["form_id", "age_years"])
print(f"{len(batch.scores)} forms scored, {batch.n_rejected_rows} rows rejected")
batch.rejected

# %%
batch.scores[["form_id", "score.total", "band.overall", "red_flag", "n_missing"]]

# %%
# Every input row is either scored or named among the rejected ones: nothing vanishes.
assert len(batch.scores) + batch.n_rejected_rows == len(forms)
assert set(forms.loc[batch.rejected["row"].unique(), "form_id"]) == {"S098", "S099"}

# %% [markdown]
# ## 4. A suggestion from the shipped model
#
# `load_model` checks the model file against its manifest (SHA-256 and library versions)
# **before** unpickling it; a changed file is refused. The model was trained on
# synthetic children only (see `models/MODEL_CARD.md`).
#
# `suggest` takes a score table with exactly one row (`suggest_batch` takes many). It
# builds the model's features from the scores and the age, never from who the child is:
# identifiers are carried through but never used, and sensitive columns (names, CPR,
# municipality, family background) are refused. The rule it follows:
#
# * red flag → `kind="notify"`: the model is not run (section 6);
# * a data reason (more than 25 % of the questions unanswered, an input outside the
#   training data) → `kind="abstain"`: "insufficient information — discuss in the team",
#   with the reason and no probabilities;
# * otherwise `kind="step"`: the step with the **lowest expected cost** under the
#   calibrated probabilities and the suggestion policy's cost matrix
#   (`opsporing/policy/data/policy.yaml`: a missed step of need costs 9, a step too
#   high 1-8 by how intrusive it is), near-ties going down the staircase.

# %%
model = load_model(ROOT / "models" / "step_suggester.skops")
explainer = Explainer(model)  # build once, reuse for every suggestion (SHAP set-up is slow)

form = pd.DataFrame([{"form_id": "F-0001", "age_years": 11.2, **answers}])
scores = score_batch(school, form, keep=["form_id", "age_years"])
suggestion = suggest(model, scores, id_column="form_id", explainer=explainer)

print("kind:", suggestion.kind, "| step:", suggestion.step, "| interval:", suggestion.interval)
print(f"P(needs more than universal services) = {suggestion.p_needs_support:.2f}")
print(suggestion.rule.en)  # the rule in one sentence, with the numbers behind it
pd.Series(suggestion.probabilities, index=[f"step {k}" for k in range(7)], name="P").round(3)

# %% [markdown]
# The step comes with its meaning, legal basis and who acts on it, from the vocabulary.
# A daycare or school acts on steps 0-2; from step 3 the municipality must make its own
# assessment (barnets lov §§ 18-20), which `requires_municipal_assessment` says.

# %%
info = suggestion.step_info
print(info.label.da, "/", info.label.en)
print("legal basis:", info.legal_basis.en)
print("who acts:   ", info.who_acts.en)
print("needs the municipality's assessment:", suggestion.requires_municipal_assessment)

# %% [markdown]
# ## 5. Why? The explanation in plain language, and as a plot
#
# Each suggestion names the findings that push it up and pull it down: SHAP values of the
# "needs more than universal services" model, grouped by domain, vocabulary concept and
# context (missing answers, change since an earlier screening, age, setting), rendered as
# one sentence in Danish and in English. `message()` is what a user interface shows.

# %%
print(suggestion.message("da"))
print()
print(suggestion.message("en"))

# %% [markdown]
# For a suggestion of step 1 or more, `what_would_change` names, among the three domains
# pushing it up most, the smallest change of one domain score (on the instrument's own
# scale) after which the suggestion would be one step lower: a finding the suggestion
# hinges on, to check first.

# %%
for w in suggestion.what_would_change:
    print(w.sentence("en"))

# %%
pd.DataFrame(
    [
        {
            "group": r.group,
            "label (en)": r.label.en,
            "contribution": round(r.contribution, 3),
            "items": ", ".join(r.items),
        }
        for r in suggestion.reasons
    ]
)

# %% [markdown]
# The same explanation as a waterfall in probabilities: from the calibrated probability
# of the average child to this child's (the number the suggestion shows), each finding's
# bar its share of the change. `Explainer` and `plot_waterfall` are the library's own;
# the figure needs no display backend, so a web service can save it with `fig.savefig(...)`.

# %%
explanation = explainer.explain(build_features(scores, id_column="form_id"), [school.key])[0]
assert abs(explanation.probability - suggestion.p_needs_support) < 1e-9
print(explanation.sentence("en"))
plot_waterfall(explanation, lang="da")

# %%
plot_waterfall(explanation, lang="en")

# %% [markdown]
# ## 6. A red flag bypasses the model
#
# Some answers are red flags: a disclosure of violence or abuse, unexplained injuries,
# fear of going home, self-harm. Then **the duty to notify (underretningspligt, barnets
# lov § 133) applies now**: it never waits for a score. `suggest` does not run the model
# at all: the suggestion has `kind="notify"`, no step and no probabilities, and carries
# the duty-to-notify text.

# %%
flagged = pd.DataFrame([{"form_id": "F-0002", "age_years": 8.5, **{**answers, "saf_injury": 1}}])
flag_scores = score_batch(school, flagged, keep=["form_id", "age_years"])
red = suggest(model, flag_scores, id_column="form_id", explainer=explainer)

print("kind:", red.kind, "| step:", red.step, "| probabilities:", red.probabilities)
print("red flags:", red.red_flags)
print()
print(red.message("da"))
print()
print(red.message("en"))

# %%
assert red.kind == "notify" and red.step is None and red.probabilities is None
assert "§ 133" in red.message("da")

# %% [markdown]
# ## 7. Nothing is decided until a professional records it
#
# A `Suggestion` is a frozen record: it has `message()` and `to_dict()`, and nothing
# that decides, records or acts. It cannot be changed, and a `Decision` cannot be made
# by hand.

# %%
print(
    [
        name
        for name in dir(suggestion)
        if not name.startswith("_") and callable(getattr(suggestion, name))
    ]
)

try:
    suggestion.step = 3  # type: ignore[misc]
except AttributeError as exc:  # dataclasses.FrozenInstanceError
    print("changing a suggestion:", type(exc).__name__)

try:
    Decision(  # type: ignore[call-arg]
        decision_id="x",
        suggestion_id=suggestion.suggestion_id,
        suggestion_kind="step",
        suggested_step=suggestion.step,
        chosen_step=2,
        notify=False,
        follows_suggestion=False,
        reason=None,
        professional_role="skole",
        professional_id="T-17",
        decided_at="2026-11-23T09:30:00+00:00",
        red_flags=(),
        signature="0" * 64,
    )
except DecisionError as exc:
    print("constructing a Decision directly:", exc)

log = DecisionLog()
print("decisions in the log so far:", len(log))

# %% [markdown]
# `Decision.record` is the only way. It needs the professional's role and a pseudonymous
# id (a CPR number is refused), the step they act on, and a **reason whenever the
# decision differs from the suggestion**. Only the municipality (`myndighed`) can choose
# steps 3-6; a school or daycare records the step it acts on and `notify=True`.
#
# Here the teacher has talked with the parents and the team and chooses a different
# step from the suggestion, so a reason is required. First without one:

# %%
chosen = 2 if suggestion.step != 2 else 1
try:
    Decision.record(
        suggestion, professional_role="skole", professional_id="T-17", chosen_step=chosen
    )
except DecisionError as exc:
    print(exc)

# %% [markdown]
# And with the reason. The clock is fixed here so the notebook gives the same record
# every time; a real system leaves `clock` out (UTC now).

# %%
decision = Decision.record(
    suggestion,
    professional_role="skole",
    professional_id="T-17",
    chosen_step=chosen,
    reason=(
        "Forældrene ønsker selv et forløb i netværksgruppe; aftalt på forældremøde "
        "med skolens AKT-vejleder."
    ),
    clock=lambda: datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
)
log.append(decision)

print("suggested step:", decision.suggested_step, "| chosen step:", decision.chosen_step)
print("follows the suggestion:", decision.follows_suggestion)
print(json.dumps(decision.to_dict(), indent=2, ensure_ascii=False))

# %% [markdown]
# The record names the suggestion it answers (`suggestion_id`, the SHA-256 of the
# suggestion's content, which includes the model file's hash) and is itself identified by
# the SHA-256 of its content. It serialises to one line of JSON for an append-only log.
#
# For the red-flag form, following the suggestion means notifying:

# %%
notified = Decision.record(
    red,
    professional_role="skole",
    professional_id="T-17",
    chosen_step=1,
    notify=True,
    clock=lambda: datetime(2026, 11, 23, 9, 35, tzinfo=UTC),
)
log.append(notified)
print(log.to_jsonl())

# %%
restored = [json.loads(line) for line in log.to_jsonl().splitlines()]
assert restored[0]["suggestion_id"] == suggestion.suggestion_id
assert restored[0]["follows_suggestion"] is False and restored[0]["reason"]
assert restored[1]["notify"] is True and restored[1]["follows_suggestion"] is True
assert len(log) == 2

# %% [markdown]
# ## Where next
#
# * `docs/decision.md`: the suggestion rule and the decision protocol in full.
# * `docs/model.md` and `models/MODEL_CARD.md`: how the model was trained, on synthetic
#   children only, and how well it does there.
# * `notebooks/02_researcher_evaluation.py`: how to evaluate detection quality, calibration
#   and fairness before anyone relies on a suggestion.
