"""One evaluation for any data: own screenings and outcomes, or a synthetic population.

Both paths end in :func:`evaluation_from_scores`: score tables of the current (and the
earlier) screening, an outcome per child, evaluation-only groups. Suggestions come from
the public path, :func:`opsporing.decision.suggest_batch`, so the report measures what
a professional would be shown, and every child is accounted for: a red flag
(``kind="notify"``) bypasses the model, an abstention has probabilities but no step, a
form the instrument could not score has no band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem, ResponseValidationError
from ..instruments import get_instrument
from ..scoring import band_column, score_batch
from . import _checks as chk
from ._bootstrap import detection_intervals, group_difference_intervals
from ._compare import band_score
from ._fairness import age_band
from ._owndata import LABELS, MISSING_GROUP, OwnData, read_own_data
from ._report import Content, Lang, Section, report
from ._sections import evaluation_sections

#: The band rule's cut-off on the ordinal band score (grøn 0, gul 1, rød 2): "gul or rød
#: -> refer". The bands themselves come from the instruments (score_batch).
BAND_RULE_CUTOFF = 1.0

#: Score columns of the evaluation table, in report order.
MODEL_PROBABILITY = "model_p_needs_support"
MODEL_SUGGESTION = "model_suggestion"
MODEL_SUGGESTION_ABSTAIN_FLAGS = "model_suggestion_abstain_as_flag"
BAND_RULE = "band_rule"

_KIND_ORDER = ("step >= 1", "step 0", "abstain", "notify")


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation found: the per-child table, the report sections, provenance.

    Attributes
    ----------
    table : DataFrame
        One row per evaluated child: ``y_true``, the scores (model probability, model
        suggestion, band rule, and the oracle on synthetic data), ``kind``,
        ``suggested_step``, ``true_step`` (when the label is a step) and group columns.
    accounting : DataFrame
        Children by what they were suggested (step >= 1, step 0, abstain, notify) and
        by need; the counts the report states.
    sections : list of Section
    provenance : dict
        Model id and SHA-256, data SHA-256, label, counts of what was left out and why.
    path : Path or None
        The written report, when a path was given.
    """

    table: pd.DataFrame
    accounting: pd.DataFrame
    sections: list[Section]
    provenance: dict[str, Any]
    path: Path | None = field(default=None)

    def figures(self) -> pd.DataFrame:
        """The detection table (one row per score), as in the report."""
        for sec in self.sections:
            if sec.title == "Detection":
                return next(c for c in sec.content if isinstance(c, pd.DataFrame))
        raise chk.fail("sections", chk.text("no Detection section"), "a Detection section")


def model_identity(model: Any) -> dict[str, str]:
    """The model's id for a report: its file's SHA-256 when loaded with ``load_model``."""
    digest = getattr(model, "artifact_sha256_", None)
    parent = getattr(model, "parent_sha256_", None)
    out = {
        "model": type(model).__name__,
        "model_sha256": str(digest) if digest else "not saved (no file hash)",
    }
    if parent:
        out["parent_model_sha256"] = str(parent)
    return out


def _pick_screenings(data: OwnData) -> tuple[pd.DataFrame, pd.Index, pd.Index, np.ndarray]:
    """Usable screenings, the rows of each child's current and earlier one, and the rows
    dated after the child's outcome (not used)."""
    s = data.screenings
    outcome_date = data.outcomes["outcome_date"].reindex(s["child_id"]).to_numpy()
    after = (~pd.isna(outcome_date)) & (s["screening_date"].to_numpy() > outcome_date)
    usable = s[~after]
    ranked = usable.sort_values(["child_id", "screening_date"], ascending=[True, False])
    position = ranked.groupby("child_id").cumcount()
    return (
        usable,
        ranked.index[position.to_numpy() == 0],
        ranked.index[position.to_numpy() == 1],
        np.asarray(after, dtype=bool),
    )


def score_own_data(data: OwnData) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, int]]:
    """Score every screening; pick each child's current and earlier one.

    Returns the current scores, the earlier scores (or ``None``) and counts: screenings,
    children, screenings dated after the child's outcome (not used), other screenings
    not used (older than the earlier one).

    Raises
    ------
    ResponseValidationError
        Every bad answer of every form, with its row in the screenings table.
    """
    s = data.screenings
    usable, current_rows, earlier_rows, after = _pick_screenings(data)
    problems: list[Problem] = []
    scored: dict[str, pd.DataFrame] = {}
    meta = ["child_id", "age_years"]
    versions = (
        usable["instrument_version"].fillna("").astype(str)
        if "instrument_version" in usable.columns
        else pd.Series("", index=usable.index)
    )
    for (inst_id, version), rows in usable.groupby(["instrument_id", versions], sort=True):
        inst = get_instrument(str(inst_id), str(version) or None)
        own = {i.id for i in inst.items}
        cols = [c for c in rows.columns if c in own or c in ("instrument_id", *meta)]
        if version:
            cols.append("instrument_version")
        try:
            table = score_batch(inst, rows[cols], keep=meta)
        except ResponseValidationError as exc:
            problems += exc.problems
            continue
        scored[f"{inst_id}@{version}"] = table
    if problems:
        raise ResponseValidationError(problems, headline="invalid answers in the screenings")
    if not scored:
        raise ResponseValidationError(
            [
                Problem(
                    "screenings.screening_date",
                    "(every screening after its outcome)",
                    "at least one screening dated on or before its child's outcome",
                    kind="empty",
                )
            ],
            headline="no usable screenings",
        )
    every = pd.concat(scored.values()).sort_index()
    current = every.loc[every.index.intersection(current_rows)].reset_index(drop=True)
    earlier_part = every.loc[every.index.intersection(earlier_rows)].reset_index(drop=True)
    counts = {
        "screenings": len(s),
        "children screened": int(s["child_id"].nunique()),
        "screenings after the outcome date (not used)": int(after.sum()),
        "children with every screening after the outcome (not evaluated)": int(
            s["child_id"].nunique() - usable["child_id"].nunique()
        ),
        "screenings older than the earlier one (not used)": int(
            len(usable) - len(current_rows) - len(earlier_rows)
        ),
    }
    return current, (earlier_part if len(earlier_part) else None), counts


def _labels(outcomes: pd.DataFrame, label: str) -> pd.Series:
    values = outcomes[label]
    if label == "decided_step":
        return (values >= 1).astype("Int64")
    return values.astype("Int64")


def evaluation_from_scores(
    model: Any,
    current: pd.DataFrame,
    earlier: pd.DataFrame | None,
    outcomes: pd.DataFrame,
    *,
    label: str = "decided_step",
    groups: pd.DataFrame | None = None,
    families: pd.Series | None = None,
    extra_scores: pd.DataFrame | None = None,
    provenance: Mapping[str, Any] | None = None,
    counts: Mapping[str, int] | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> Evaluation:
    """The evaluation of ``model`` on score tables: the core both paths share.

    Parameters
    ----------
    model : StepSuggester
    current, earlier : DataFrame
        ``score_batch`` output of the current and earlier screening, with ``child_id``
        and ``age_years`` kept.
    outcomes : DataFrame
        Indexed by child id: ``decided_step``, ``notified``, ``investigation_result``.
    label : {"decided_step", "notified", "investigation_result"}
        What "in need" means: ``decided_step >= 1``, a notification, or an investigation
        that found a need. Children whose label is empty are counted, not evaluated.
    groups : DataFrame, optional
        Evaluation-only group columns by child id; never passed to the model.
    families : Series, optional
        Family id by child id: bootstrap clusters (else each child is its own cluster).
    extra_scores : DataFrame, optional
        More scores by child id (e.g. the oracle on synthetic data), probabilities.
    n_boot : int, default 500
        Bootstrap replicates of the intervals (0: no intervals).
    """
    from ..decision import suggest_batch

    if label not in LABELS:
        raise chk.fail("label", label, f"one of {list(LABELS)}")
    ids = current["child_id"].astype(str)
    y_all = _labels(outcomes, label).reindex(ids)
    labelled = y_all.notna().to_numpy()
    if not labelled.any():
        raise chk.fail(
            f"outcomes.{label}",
            chk.text("empty for every screened child"),
            f"a {label} outcome for at least some children (or another label=)",
        )
    cur = current[labelled].reset_index(drop=True)
    child = cur["child_id"].astype(str)
    ear = None
    if earlier is not None:
        ear = earlier[earlier["child_id"].astype(str).isin(set(child))].reset_index(drop=True)
    suggestions = suggest_batch(model, cur, ear, id_column="child_id")
    kind = np.array([s.kind for s in suggestions], dtype=object)
    step = pd.array([s.step for s in suggestions], dtype="Int64")
    p = np.array([np.nan if s.p_needs_support is None else s.p_needs_support for s in suggestions])
    flag = np.where(kind == "notify", 1.0, np.where(kind == "abstain", np.nan, 0.0))
    stepped = (kind == "step") & ~pd.isna(step)
    flag[stepped] = (step[stepped].astype(np.int64) >= 1).astype(np.float64)
    bands = band_score(cur[band_column("overall")].astype(object).reset_index(drop=True))
    y = y_all[labelled].astype(np.int64).to_numpy()
    table = pd.DataFrame(
        {
            "y_true": y,
            MODEL_PROBABILITY: p,
            MODEL_SUGGESTION: flag,
            MODEL_SUGGESTION_ABSTAIN_FLAGS: np.where(kind == "abstain", 1.0, flag),
            BAND_RULE: bands.to_numpy(),
            "kind": kind,
            "suggested_step": step,
        },
        index=pd.Index(child.to_numpy(), name="child_id"),
    )
    if label == "decided_step":
        table["true_step"] = outcomes["decided_step"].reindex(child).astype("Int64").to_numpy()
    probabilities = [MODEL_PROBABILITY]
    scores = [MODEL_PROBABILITY, MODEL_SUGGESTION, MODEL_SUGGESTION_ABSTAIN_FLAGS, BAND_RULE]
    if extra_scores is not None:
        for c in extra_scores.columns:
            table[c] = extra_scores[c].reindex(child).to_numpy(dtype=np.float64)
            scores.append(str(c))
            probabilities.append(str(c))
    table["age_band"] = age_band(cur["age_years"].astype(np.float64)).to_numpy()
    table["age_band"] = table["age_band"].astype(age_band([1.0]).dtype)
    group_cols = ["age_band"]
    if groups is not None:
        for g in groups.columns:
            table[g] = groups[g].reindex(child).fillna(MISSING_GROUP).to_numpy()
            group_cols.append(str(g))
    clusters = child.to_numpy(dtype=object)
    if families is not None:
        # a child without a family id is a family of its own
        fam = families.reindex(clusters).to_numpy(dtype=object)
        known = ~pd.isna(fam)
        clusters = np.where(known, "family:" + fam.astype(str), "child:" + clusters.astype(str))

    accounting = _accounting(table)
    unscored = int(table[BAND_RULE].isna().sum())
    cutoffs = {
        MODEL_PROBABILITY: float("nan"),
        MODEL_SUGGESTION: 1.0,
        MODEL_SUGGESTION_ABSTAIN_FLAGS: 1.0,
        BAND_RULE: BAND_RULE_CUTOFF,
    }
    intervals = group_intervals = None
    if n_boot:
        intervals = detection_intervals(
            table,
            scores=scores,
            cutoffs=cutoffs,
            probabilities=probabilities,
            clusters=clusters,
            n_boot=n_boot,
            seed=seed,
        )
        group_intervals = group_difference_intervals(
            table,
            score=MODEL_SUGGESTION_ABSTAIN_FLAGS,
            cutoff=1.0,
            groups=group_cols,
            clusters=clusters,
            n_boot=n_boot,
            seed=seed,
        )
    sections = evaluation_sections(
        table,
        scores=scores,
        cutoffs=cutoffs,
        probabilities=probabilities,
        groups=group_cols,
        fairness_score=MODEL_SUGGESTION_ABSTAIN_FLAGS,
        steps=("true_step", "suggested_step") if label == "decided_step" else None,
        intervals=intervals,
        group_intervals=group_intervals,
    )
    n_total = len(current)
    left_out = {
        "children screened, current screening": n_total,
        f"children without a {label} outcome (not evaluated)": int((~labelled).sum()),
        "children evaluated": len(table),
        "of these: current form without an overall band (band rule has no score)": unscored,
        **dict(counts or {}),
    }
    account: list[Content] = [
        _ACCOUNTING_TEXT.format(
            label=_LABEL_TEXT[label], clusters=("families" if families is not None else "children")
        ),
        pd.Series(left_out, name="children", dtype=object),
        accounting,
    ]
    sections.insert(1, Section("Accounting: who got which suggestion", tuple(account)))
    prov = {**model_identity(model), **dict(provenance or {}), "label": label}
    return Evaluation(table=table, accounting=accounting, sections=sections, provenance=prov)


_LABEL_TEXT = {
    "decided_step": "a decided step of 1 or more",
    "notified": "a later notification",
    "investigation_result": "an investigation that found a need for support",
}

_ACCOUNTING_TEXT = (
    (
        "In need means {label}. Every evaluated child is counted below by what it was "
        "suggested. A red flag (notify) bypasses the model: it has no probability and counts "
        "as flagged by the model's suggestion. An abstention (insufficient information, "
        "discuss in the team) has a probability but no step: '{s1}' leaves it out (NaN, "
        "n_no_score), '{s2}' counts it as flagged. The band rule flags gul or rød of the "
        "current form's overall band; a form without an overall band has no band-rule score. "
        "Intervals are percentile bootstrap intervals resampling {clusters}."
    )
    .replace("{s1}", MODEL_SUGGESTION)
    .replace("{s2}", MODEL_SUGGESTION_ABSTAIN_FLAGS)
)


def _accounting(table: pd.DataFrame) -> pd.DataFrame:
    step = table["suggested_step"]
    category = np.where(
        table["kind"] == "notify",
        "notify",
        np.where(
            table["kind"] == "abstain",
            "abstain",
            np.where(step.fillna(0).astype(np.int64) >= 1, "step >= 1", "step 0"),
        ),
    )
    need = np.where(table["y_true"] == 1, "in need", "not in need")
    out = pd.crosstab(pd.Categorical(category, categories=list(_KIND_ORDER)), need, dropna=False)
    for col in ("in need", "not in need"):
        if col not in out.columns:
            out[col] = 0
    out = out[["in need", "not in need"]].astype(np.int64)
    out["all"] = out.sum(axis=1)
    out.index = pd.Index([str(i) for i in out.index], name="suggestion")
    out.columns.name = None
    out.loc["all"] = out.sum(axis=0)
    return out.astype(object)


def evaluate_own_data(
    screenings: str | Path | pd.DataFrame,
    outcomes: str | Path | pd.DataFrame,
    *,
    model: Any = None,
    groups: Sequence[str] = (),
    label: str = "decided_step",
    path: str | Path | None = None,
    lang: Lang = "en",
    n_boot: int = 500,
    seed: int = 0,
    instrument_quality: bool = False,
    ignore: Sequence[str] = (),
) -> Evaluation:
    """Evaluate a model on one's own screenings and outcomes (the documented format).

    Parameters
    ----------
    screenings, outcomes : path or DataFrame
        See :func:`read_own_data` and ``docs/researcher-guide.md``.
    model : StepSuggester, optional
        Default: the shipped model (:func:`opsporing.model.load_model`).
    groups : sequence of str
        Evaluation-only group columns (either table); never seen by the model.
    label : {"decided_step", "notified", "investigation_result"}
    path : path, optional
        Write the HTML report here.
    lang : {"en", "da"}
        Number format of the report (Danish: decimal comma).
    n_boot : int, default 500
        Bootstrap replicates of the intervals (clustered by family when ``family_id`` is
        given, else by child); 0 for none.
    ignore : sequence of str
        Columns to leave out on purpose (see :func:`read_own_data`).
    instrument_quality : bool, default False
        Add per instrument: reliability with intervals, the factor structure of the
        domains and item DIF by every group column (:func:`instrument_quality_sections`).

    Returns
    -------
    Evaluation
    """
    from ..model import load_model

    if label not in LABELS:  # before any file is read
        raise chk.fail("label", label, f"one of {list(LABELS)}")
    data = read_own_data(screenings, outcomes, groups=groups, ignore=ignore)
    model = load_model() if model is None else model
    current, earlier, counts = score_own_data(data)
    evaluation = evaluation_from_scores(
        model,
        current,
        earlier,
        data.outcomes,
        label=label,
        groups=data.groups,
        families=data.families,
        provenance={
            "data_sha256": data.sha256,
            "screenings": data.sources["screenings"],
            "outcomes": data.sources["outcomes"],
        },
        counts=counts,
        n_boot=n_boot,
        seed=seed,
    )
    if instrument_quality:
        from ._quality import instrument_quality_sections

        evaluation = Evaluation(
            table=evaluation.table,
            accounting=evaluation.accounting,
            sections=[
                *evaluation.sections,
                *instrument_quality_sections(data, n_boot=min(n_boot, 200), seed=seed),
            ],
            provenance=evaluation.provenance,
        )
    if path is None:
        return evaluation
    return write_evaluation(
        evaluation, path, lang=lang, title="opsporing: detection quality on own data"
    )


def write_evaluation(
    evaluation: Evaluation, path: str | Path, *, lang: Lang = "en", title: str | None = None
) -> Evaluation:
    """Write an evaluation's HTML report (provenance under the heading); return it with path."""
    out = report(
        *evaluation.sections,
        path=path,
        title=title or "opsporing: detection-quality report",
        lang=lang,
        provenance=evaluation.provenance,
    )
    return Evaluation(
        table=evaluation.table,
        accounting=evaluation.accounting,
        sections=evaluation.sections,
        provenance=evaluation.provenance,
        path=out,
    )


def evaluate_population(
    pop: Any,
    *,
    model: Any = None,
    children: Sequence[str] | None = None,
    path: str | Path | None = None,
    lang: Lang = "en",
    n_boot: int = 500,
    seed: int = 0,
) -> Evaluation:
    """The same evaluation on a synthetic population, with the oracle as a third score.

    The model is given what the own-data format holds (each child's current and most
    recent earlier educator screening), and the oracle the same forms (no parents' or
    children's own forms, no older waves), so the two compare like with like.

    Parameters
    ----------
    pop : SyntheticPopulation
    model : StepSuggester, optional
        Default: the shipped model.
    children : sequence of str, optional
        Evaluate only these child ids (e.g. the model card's held-out children).
    path, lang, n_boot, seed
        As for :func:`evaluate_own_data`.

    Returns
    -------
    Evaluation
        The label is the true step (``decided_step`` = true step); the groups are
        :data:`~opsporing.evaluation._owndata.SYNTHETIC_GROUPS`; the data hash covers the
        children and every form. These are **not real children**.
    """
    from dataclasses import replace

    from ..model import load_model
    from ..model.train import current_wave, score_waves
    from ..synthetic import oracle_proba
    from ._owndata import SYNTHETIC_GROUPS, content_sha256

    model = load_model() if model is None else model
    current, earlier = score_waves(pop.forms)
    kids = pop.children.assign(child_id=pop.children["child_id"].astype(str)).set_index("child_id")
    if children is not None:
        keep = set(map(str, children))
        current = current[current["child_id"].astype(str).isin(keep)].reset_index(drop=True)
        if earlier is not None:
            earlier = earlier[earlier["child_id"].astype(str).isin(keep)].reset_index(drop=True)
    outcomes = pd.DataFrame(
        {
            "decided_step": kids["true_step"].astype("Int64"),
            "notified": pd.array([pd.NA] * len(kids), dtype="Int64"),
            "investigation_result": pd.array([pd.NA] * len(kids), dtype="Int64"),
        },
        index=kids.index,
    )
    # The oracle with what the model is given here (the own-data format's view): the
    # educators' forms of the current wave and of the one before, no other voices.
    newest = current_wave(pop.forms)
    seen = replace(pop, forms={k: t[t["wave"] >= newest - 1] for k, t in pop.forms.items()})
    oracle = oracle_proba(seen, informants=("educator",))
    oracle.index = oracle.index.astype(str)
    evaluation = evaluation_from_scores(
        model,
        current,
        earlier,
        outcomes,
        groups=kids[list(SYNTHETIC_GROUPS)].astype(str),
        extra_scores=pd.DataFrame({"oracle": 1.0 - oracle["p_step_0"]}),
        provenance={
            "data_sha256": content_sha256(pop.children, *pop.forms.values()),
            "data": "opsporing.synthetic population (synthetic children, not real children)",
        },
        n_boot=n_boot,
        seed=seed,
    )
    if path is None:
        return evaluation
    return write_evaluation(
        evaluation,
        path,
        lang=lang,
        title="opsporing: detection quality on synthetic children",
    )


def own_features(data: OwnData) -> tuple[pd.DataFrame, pd.Series]:
    """The model's features of every screened child, and the decided step where known.

    Returns ``X`` (one row per child, index ``child_id``; current and earlier screening as
    for :func:`score_own_data`) and ``step`` (``decided_step`` as nullable integers,
    aligned with ``X``; empty where the child has no decided step). Group columns are not
    in ``X``: they were taken out when the data were read.
    """
    from ..model import build_features

    current, earlier, _ = score_own_data(data)
    X = build_features(current, earlier, id_column="child_id")
    X.index = X.index.astype(str)
    step = data.outcomes["decided_step"].reindex(X.index).astype("Int64")
    return X, step
