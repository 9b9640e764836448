"""Detection figures measured on the path users get: :func:`opsporing.decision.suggest_batch`.

Every figure of the model card, the README and the demo comes from here. Each child is
counted as what the user sees: a suggested step, an abstention ("discuss in the team")
or the duty to notify (red flag); nothing is dropped. The oracle (the exact
P(step | observations) of the synthetic generator) is put through the *same* policy
rule on the same children, so the gap between the two is the model's, not the rule's.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .decision import suggest_batch
from .errors import DataError, OpsporingError, Problem
from .evaluation import expected_calibration_error, roc_auc
from .policy import SuggestionPolicy, resolve_policy

#: The kinds of what a user gets, in the order the figures list them.
KINDS = ("step", "abstain", "notify")


def suggestion_table(
    model: Any,
    current: pd.DataFrame,
    earlier: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    *,
    informants: Mapping[str, pd.DataFrame | None] | None = None,
    id_column: str = "child_id",
    policy: SuggestionPolicy | str | None = None,
) -> pd.DataFrame:
    """What ``suggest_batch`` gives each child, as a table (one row per child).

    Columns: ``kind``, ``step`` (NaN unless ``kind == "step"``), ``p_need``
    (P(step >= 1), NaN unless a step is suggested), ``abstain_codes`` (";"-joined).
    """
    suggestions = suggest_batch(
        model, current, earlier, informants=informants, id_column=id_column, policy=policy
    )
    return suggestions_frame(suggestions, id_column)


def suggestions_frame(suggestions: list[Any], id_column: str = "child_id") -> pd.DataFrame:
    """A list of suggestions as the table :func:`detection_figures` counts."""
    return pd.DataFrame(
        {
            "kind": [s.kind for s in suggestions],
            "step": [np.nan if s.step is None else float(s.step) for s in suggestions],
            "p_need": [
                np.nan if s.p_needs_support is None else s.p_needs_support for s in suggestions
            ],
            "abstain_codes": [";".join(s.abstain_codes) for s in suggestions],
        },
        index=pd.Index([s.subject for s in suggestions], name=id_column),
    )


def _share(mask: np.ndarray, within: np.ndarray) -> float:
    return float(mask[within].mean()) if within.any() else float("nan")


def detection_figures(
    table: pd.DataFrame,
    true_step: np.ndarray,
    policy: SuggestionPolicy,
    oracle_proba: np.ndarray | None = None,
) -> dict[str, Any]:
    """The figures of one population from a :func:`suggestion_table` and the true steps.

    ``oracle_proba`` (n, 7), when given, is put through the same policy rule (red flags
    routed to notify alike) for the oracle's figures.
    """
    y = np.asarray(true_step, dtype=np.int64)
    if len(y) != len(table):
        raise DataError(f"true_step: {len(y)} values: expected one per row ({len(table)})")
    kind = table["kind"].to_numpy(dtype=object)
    step = table["step"].to_numpy(dtype=np.float64)
    need = y >= 1
    is_step, notify, abstain = kind == "step", kind == "notify", kind == "abstain"
    flagged = is_step & (np.nan_to_num(step, nan=0) >= 1)
    found = flagged | notify
    cost = policy.cost_matrix()
    s = np.nan_to_num(step, nan=0).astype(np.int64)
    p = table["p_need"].to_numpy(dtype=np.float64)
    high = (y >= 2) & is_step
    out: dict[str, Any] = {
        "n_children": len(y),
        "prevalence_step_ge_1": float(need.mean()),
        "found_among_need": _share(found, need),
        "suggested_step_ge_1_among_need": _share(flagged, need),
        "notify_among_need": _share(notify, need),
        "abstain_among_need": _share(abstain, need),
        "step_0_among_need": _share(is_step & (s == 0), need),
        "suggested_step_ge_1_share": float(flagged.mean()),
        "abstention_rate": float(abstain.mean()),
        "notify_rate": float(notify.mean()),
        "precision_step_ge_1": _share(need, flagged),
        "expected_cost": float(cost[y[is_step], s[is_step]].mean()) if is_step.any() else np.nan,
        "exact_step": _share(s == y, is_step),
        "under_2plus_among_step_2_6": _share((y - s) >= 2, high),
        "over_2plus": _share((s - y) >= 2, is_step),
        "auc_p_need": (
            roc_auc(need[is_step], p[is_step]) if len(set(need[is_step])) == 2 else np.nan
        ),
        "ece_p_need": expected_calibration_error(need[is_step], p[is_step]),
        "abstain_reasons": {
            code: int(n)
            for code, n in pd.Series(
                [c for codes in table["abstain_codes"] if codes for c in codes.split(";")],
                dtype=object,
            )
            .value_counts()
            .sort_index()
            .items()
        },
        "per_1000_true": _per_1000(y, len(y)),
        "per_1000_suggested": {
            **_per_1000(s[is_step], len(y)),
            "abstain": round(1000 * float(abstain.mean()), 1),
            "notify": round(1000 * float(notify.mean()), 1),
        },
    }
    if oracle_proba is not None:
        o = np.asarray(oracle_proba, dtype=np.float64)
        os_ = policy.choose(o)
        o_found = (os_ >= 1) | notify
        out["oracle"] = {
            "found_among_need": _share(o_found, need),
            "suggested_step_ge_1_share": float(((os_ >= 1) & ~notify).mean()),
            # Same children as the model's cost and under-suggestion: those given a step.
            "expected_cost": float(cost[y[is_step], os_[is_step]].mean()),
            "under_2plus_among_step_2_6": _share((y - os_) >= 2, high),
            "auc_p_need": roc_auc(need[is_step], 1 - o[is_step, 0]),
        }
        out["found_gap_to_oracle"] = out["oracle"]["found_among_need"] - out["found_among_need"]
        out["cost_ratio_to_oracle"] = out["expected_cost"] / out["oracle"]["expected_cost"]
        out["under_2plus_gap_to_oracle"] = (
            out["under_2plus_among_step_2_6"] - out["oracle"]["under_2plus_among_step_2_6"]
        )
    rounded: dict[str, Any] = _rounded(out)
    return rounded


def band_rule_figures(bands: Any, true_step: Any, policy: SuggestionPolicy) -> dict[str, float]:
    """The instruments' band rule on the same children: referred, rød, found, precision.

    ``red_rate`` is the share of children whose overall band is ``rød`` (the strongest
    band, a red flag always among them).
    """
    labels = np.asarray(bands, dtype=object).astype(str)
    refer = policy.refers(labels)
    need = np.asarray(true_step, dtype=np.int64) >= 1
    figures: dict[str, float] = _rounded(
        {
            "referral_rate": float(refer.mean()),
            "red_rate": float((labels == "rød").mean()),
            "found_among_need": float(refer[need].mean()) if need.any() else float("nan"),
            "precision": float(need[refer].mean()) if refer.any() else float("nan"),
        }
    )
    return figures


def band_rule_by_form(
    bands: Any, forms: Any, true_step: Any, policy: SuggestionPolicy
) -> dict[str, dict[str, float]]:
    """:func:`band_rule_figures` per form (``id@version``, i.e. per setting and age band).

    Issue 17's targets are per age band: gul + rød at most 20 % and rød at most 6 % of the
    children who get that form.
    """
    labels = np.asarray(bands, dtype=object).astype(str)
    keys = np.asarray(forms, dtype=object).astype(str)
    y = np.asarray(true_step, dtype=np.int64)
    out: dict[str, dict[str, float]] = {}
    for key in sorted(set(keys)):
        rows = keys == key
        out[key] = {"n_children": int(rows.sum())} | band_rule_figures(
            labels[rows], y[rows], policy
        )
    return out


def _per_1000(steps: np.ndarray, n: int) -> dict[str, float]:
    counts = np.bincount(np.asarray(steps, dtype=np.int64), minlength=7)
    return {str(k): round(1000 * float(c) / n, 1) for k, c in enumerate(counts)}


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return float("nan") if np.isnan(value) else round(float(value), 4)
    return value


def measure_population(
    model: Any,
    pop: Any,
    *,
    policy: SuggestionPolicy | str | None = None,
    group_columns: tuple[str, ...] = ("setting", "sex", "family_background"),
) -> dict[str, Any]:
    """Figures for a synthetic population through ``suggest_batch``, overall and by group.

    The current round (the educator's, the parents' and the child's own forms of the
    newest wave) with every earlier educator screening, exactly as training saw them;
    the oracle with the same information (every form), through the same rule.
    """
    from .model.train import score_rounds
    from .synthetic import oracle_proba

    rules = resolve_policy(policy if policy is not None else getattr(model, "policy", None))
    tables = score_rounds(pop.forms)
    current = tables.current
    table = suggestion_table(
        model, current, tables.earlier, informants=tables.informants, policy=rules
    )
    children = pop.children.set_index("child_id").reindex(table.index)
    y = children["true_step"].to_numpy(dtype=np.int64)
    oracle = oracle_proba(pop).reindex(table.index).to_numpy(dtype=np.float64)
    overall = detection_figures(table, y, rules, oracle)
    # The instruments' band rule on the same children, for comparison.
    scores = current.set_index("child_id").reindex(table.index)
    overall["band_rule"] = band_rule_figures(scores["band.overall"], y, rules)
    overall["band_rule"]["by_form"] = band_rule_by_form(
        scores["band.overall"], scores["instrument"], y, rules
    )
    by_group: dict[str, dict[str, dict[str, Any]]] = {}
    keys = (
        "found_among_need",
        "suggested_step_ge_1_share",
        "abstention_rate",
        "auc_p_need",
        "ece_p_need",
    )
    for col in group_columns:
        values = children[col].astype(str).to_numpy()
        by_group[col] = {}
        for g in sorted(set(values)):
            rows = values == g
            fig = detection_figures(table[rows], y[rows], rules, oracle[rows])
            by_group[col][g] = {k: fig[k] for k in keys} | {
                "n_children": int(rows.sum()),
                "oracle_found_among_need": fig["oracle"]["found_among_need"],
            }
    return {"overall": overall, "by_group": by_group, "policy_version": rules.version}


#: What each comparison of :func:`informant_figures` gives the model and the oracle.
INFORMATION = {
    "educator": "the educator's current form alone",
    "round": "the educator's, the parents' and the child's own forms of the current round",
    "round_and_history": "the current round and every earlier educator screening",
}
#: The figures of :func:`detection_figures` each comparison reports.
_COMPARED = ("n_children", "found_among_need", "auc_p_need", "under_2plus_among_step_2_6")


def current_round_view(pop: Any) -> Any:
    """``pop`` with only the forms of its current wave (what the oracle may see of a round).

    The oracle conditions on every form in ``pop.forms``: to compare it with a model that
    sees one round, it is given a population whose earlier waves are left out.
    """
    from dataclasses import replace

    from .model.train import current_wave

    wave = current_wave(pop.forms)
    return replace(pop, forms={k: t[t["wave"] == wave] for k, t in pop.forms.items()})


def informant_figures(
    model: Any,
    pop: Any,
    *,
    policy: SuggestionPolicy | str | None = None,
    measured: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """How much the other voices and the history add, through ``suggest_batch``.

    On ``pop`` (freshly generated children), three comparisons, each next to the oracle
    with the same information (:data:`INFORMATION`): ``educator`` (the educator's
    current form alone; the oracle on the current wave's educator forms), ``round``
    (the educator's, the parents' and the child's own forms of the current round; the
    oracle on every form of the current wave) and ``round_and_history`` (the round and
    every earlier educator screening; the oracle on every form). Each gives, from
    :func:`detection_figures` (the one home of the figures and of the policy rule): the
    AUC of P(step >= 1) for need among the children given a step, the share of children
    in need found, and the under-suggestion by 2+ steps among children on steps 2-6, each
    with the oracle's and the gap, signed so that positive means the model does worse
    (``auc_gap_to_oracle`` and ``found_gap_to_oracle``: oracle minus model;
    ``under_2plus_gap_to_oracle``: model minus oracle, as in :func:`detection_figures`).
    ``gain`` gives the model's AUC gain of ``round`` and ``round_and_history`` over
    ``educator``.

    ``measured``, when given, is what :func:`measure_population` already measured on the
    same ``pop`` with the same model and policy (its ``"overall"``): exactly the
    ``round_and_history`` comparison, so it is read from there instead of running the
    suggestions and the oracle over every form a second time.
    """
    from .model.train import score_rounds
    from .synthetic import oracle_proba

    rules = resolve_policy(policy if policy is not None else getattr(model, "policy", None))
    tables = score_rounds(pop.forms)
    single = current_round_view(pop)
    runs: dict[str, tuple[dict[str, Any], Any]] = {
        "educator": ({}, lambda: oracle_proba(single, informants=("educator",))),
        "round": ({"informants": tables.informants}, lambda: oracle_proba(single)),
        "round_and_history": (
            {"earlier": tables.earlier, "informants": tables.informants},
            lambda: oracle_proba(pop),
        ),
    }
    children = pop.children.set_index("child_id")
    out: dict[str, Any] = {"information": dict(INFORMATION)}
    for name, (given, oracle_of) in runs.items():
        if name == "round_and_history" and measured is not None:
            fig = dict(measured)
        else:
            table = suggestion_table(model, tables.current, policy=rules, **given)
            y = children["true_step"].reindex(table.index).to_numpy(dtype=np.int64)
            oracle = oracle_of().reindex(table.index).to_numpy(dtype=np.float64)
            fig = detection_figures(table, y, rules, oracle)
        row = {k: fig[k] for k in _COMPARED}
        row["oracle"] = {k: fig["oracle"][k] for k in _COMPARED[1:]}
        row["auc_gap_to_oracle"] = round(fig["oracle"]["auc_p_need"] - fig["auc_p_need"], 4)
        row["found_gap_to_oracle"] = fig["found_gap_to_oracle"]
        row["under_2plus_gap_to_oracle"] = fig["under_2plus_gap_to_oracle"]
        out[name] = row
    out["gain"] = {
        f"auc_{name}_minus_educator": round(
            out[name]["auc_p_need"] - out["educator"]["auc_p_need"], 4
        )
        for name in ("round", "round_and_history")
    }
    out["policy_version"] = rules.version
    return out


def found_table(table: pd.DataFrame) -> pd.Series:
    """Whether each child of a :func:`suggestion_table` is found: step >= 1 or notify.

    The same count as ``found_among_need`` of :func:`detection_figures`.
    """
    step = table["step"].to_numpy(dtype=np.float64)
    kind = table["kind"].to_numpy(dtype=object)
    found = (kind == "notify") | ((kind == "step") & (np.nan_to_num(step, nan=0) >= 1))
    return pd.Series(found, index=table.index)


def onsets(waves: pd.DataFrame) -> pd.Series:
    """The wave at which each followed child's need starts, from ``pop.waves``.

    A child's onset is the first wave ``k`` with true step 0 at ``k - 1`` and >= 1 at
    ``k`` while it was screened at both (followed). Children without one are left out.
    """
    w = waves.sort_values(["child_id", "wave"], kind="stable")
    step = w.pivot(index="child_id", columns="wave", values="true_step")
    seen = w.pivot(index="child_id", columns="wave", values="screened").fillna(False)
    s = step.to_numpy(dtype=np.float64)
    screened = seen.to_numpy(dtype=bool)
    if s.shape[1] < 2:  # one wave: no wave before it, so no onset
        return pd.Series([], index=step.index[:0], name="onset", dtype=np.int64)
    start = (s[:, :-1] == 0) & (s[:, 1:] >= 1) & screened[:, :-1] & screened[:, 1:]
    has = start.any(axis=1)
    first = np.argmax(start, axis=1) + 1
    cols = np.asarray(step.columns, dtype=np.int64)
    return pd.Series(cols[first[has]], index=step.index[has], name="onset")


def earlier_detection(
    model: Any, pop: Any, *, policy: SuggestionPolicy | str | None = None
) -> dict[str, Any]:
    """How many waves after the onset of need a suggestion first finds the child.

    For every child whose need starts while followed (:func:`onsets`, from ``pop.waves``;
    generate ``pop`` with many waves and ``share_earlier_screening=1.0``), each wave from
    the onset on is put through ``suggest_batch`` twice: ``with_history`` (that wave's
    round and every earlier educator screening) and ``without_history`` (that wave's
    round alone: the educator's, the parents' and the child's own forms). The child is
    found at the first wave with a suggested step >= 1 or the duty to notify (the same
    count as ``found_among_need``), and so is the oracle with the same forms (every
    form up to that wave, or that wave's alone) under the same rule. The delay is that
    wave minus the onset wave; a
    child never found within the observed waves has delay +inf. ``median_waves`` is the
    median over *all* these children with never-found counted as +inf (so it is None,
    i.e. infinite, when half or more are never found); ``never_found_share`` says how
    many. ``found_at_onset_share`` is the share with delay 0.
    """
    from dataclasses import replace

    from .model.train import score_rounds
    from .synthetic import oracle_proba

    rules = resolve_policy(policy if policy is not None else getattr(model, "policy", None))
    if pop.waves["wave"].nunique() < 2:
        raise DataError(
            Problem(
                "pop.waves",
                f"{pop.waves['wave'].nunique()} wave(s)",
                "a population followed over at least 2 waves (an onset of need is seen "
                "between two waves)",
            )
        )
    start = onsets(pop.waves)
    last = int(pop.waves["wave"].max())
    names = ("with_history", "without_history", "oracle_with_history", "oracle_without_history")
    delays = {name: pd.Series(np.inf, index=start.index) for name in names}
    for wave in range(int(start.min()) if len(start) else last + 1, last + 1):
        due = set(start.index[start <= wave])
        tables = score_rounds(pop.forms, wave=wave)

        def rows(table: pd.DataFrame, keep: set[Any] = due) -> pd.DataFrame:
            return table[table["child_id"].isin(keep)]

        current = rows(tables.current)
        if not len(current):
            continue
        informants = {k: rows(t) for k, t in tables.informants.items()}
        alone = replace(pop, forms={k: t[t["wave"] == wave] for k, t in pop.forms.items()})
        for name, earlier, seen in (
            ("with_history", tuple(rows(t) for t in tables.earlier), pop),
            ("without_history", (), alone),
        ):
            table = suggestion_table(model, current, earlier, informants=informants, policy=rules)
            # The oracle with the same information (forms up to this wave, or of it alone)
            # through the same rule; red flags routed to notify alike.
            oracle = oracle_proba(seen, wave=wave).reindex(table.index).to_numpy(np.float64)
            notify = (table["kind"] == "notify").to_numpy()
            oracle_found = pd.Series((rules.choose(oracle) >= 1) | notify, index=table.index)
            for key, found in ((name, found_table(table)), (f"oracle_{name}", oracle_found)):
                hit = found.index[found.to_numpy()]
                first = delays[key].index.isin(hit) & np.isinf(delays[key].to_numpy())
                delays[key][first] = wave - start[first].to_numpy()
    out: dict[str, Any] = {"n_children_with_onset": len(start), "n_waves": last + 1}
    for name, d in delays.items():
        values = d.to_numpy(dtype=np.float64)
        median = float(np.median(values)) if len(values) else float("nan")
        out[name] = _rounded(
            {
                "median_waves": median if np.isfinite(median) else None,
                "never_found_share": float(np.isinf(values).mean()) if len(values) else np.nan,
                "found_at_onset_share": float((values == 0).mean()) if len(values) else np.nan,
                "mean_waves_among_found": (
                    float(values[np.isfinite(values)].mean())
                    if np.isfinite(values).any()
                    else np.nan
                ),
            }
        )
    out["definition"] = (
        "waves from the onset of need (true step 0 -> >= 1 while screened) to the first "
        "suggested step >= 1 or notify; never found within the observed waves counts as "
        "+inf in the median (None = infinite); the oracle with the same forms, same rule"
    )
    return out


def operating_points(
    model: Any,
    pop: Any,
    under_weights: tuple[float, ...] = (2, 3, 5, 9, 15, 25),
) -> pd.DataFrame:
    """How the operating point moves with the cost of a missed step.

    For each weight ``w`` the shipped policy with ``cost.under = [w] * 6`` is put through
    ``suggest_batch`` on ``pop``; one row per weight with the share of children in need
    found, the share of all children suggested step >= 1, and the oracle's same figures.
    """
    from .model.train import score_rounds
    from .synthetic import oracle_proba

    base = resolve_policy(getattr(model, "policy", None))
    tables = score_rounds(pop.forms)
    # The oracle and the children do not depend on the weight: computed once.
    oracle_all = oracle_proba(pop)
    children_all = pop.children.set_index("child_id")
    rows = []
    for w in under_weights:
        policy = base.model_copy(
            update={"cost": base.cost.model_copy(update={"under": (float(w),) * 6})}
        )
        table = suggestion_table(
            model, tables.current, tables.earlier, informants=tables.informants, policy=policy
        )
        children = children_all.reindex(table.index)
        oracle = oracle_all.reindex(table.index).to_numpy(dtype=np.float64)
        fig = detection_figures(table, children["true_step"].to_numpy(), policy, oracle)
        rows.append(
            {
                "miss_weight": float(w),
                "threshold_step_1": round(policy.threshold_step_1(), 4),
                "found_among_need": fig["found_among_need"],
                "suggested_step_ge_1_share": fig["suggested_step_ge_1_share"],
                "oracle_found_among_need": fig["oracle"]["found_among_need"],
                "oracle_suggested_step_ge_1_share": fig["oracle"]["suggested_step_ge_1_share"],
            }
        )
    return pd.DataFrame(rows)


def plot_operating_points(points: pd.DataFrame, path: str) -> None:
    """Found among children in need against all children flagged, model and oracle."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    for prefix, label, style in (("", "model (suggest_batch)", "o-"), ("oracle_", "oracle", "s--")):
        ax.plot(
            points[f"{prefix}suggested_step_ge_1_share"],
            points[f"{prefix}found_among_need"],
            style,
            label=label,
        )
    for _, r in points.iterrows():
        ax.annotate(
            f"miss = {r['miss_weight']:g}",
            (r["suggested_step_ge_1_share"], r["found_among_need"]),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=7,
        )
    ax.set_xlabel("all children suggested step ≥ 1")
    ax.set_ylabel("children in need found (step ≥ 1 or notify)")
    ax.set_title("How the operating point moves with the cost of a missed step", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


#: The fresh populations of the informant figures: the training job's fresh seed, and
#: for the earlier detection a population followed over more waves.
INFORMANT_SEED = 20261201
DETECTION_WAVES = 6


def main(argv: list[str] | None = None) -> int:
    """``python -m opsporing._measure``: the operating points, or the informant figures.

    ``python -m opsporing._measure --out docs/img/operating_points.png`` plots how the
    operating point moves with the cost of a miss. ``python -m opsporing._measure
    --informants --n-children 30000 --json informants.json`` measures
    :func:`informant_figures` on freshly generated children (seed 20261201 unless
    ``--seed``) and :func:`earlier_detection` on children followed over
    ``--waves`` (6) waves (every child followed, seed + 1), with the shipped model (or
    ``--model``), and prints (and writes) them as JSON.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m opsporing._measure")
    parser.add_argument("--out", default="docs/img/operating_points.png")
    parser.add_argument("--n-children", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--informants", action="store_true")
    parser.add_argument("--waves", type=int, default=DETECTION_WAVES)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except OpsporingError as exc:  # one line, typed: never a traceback for a bad option
        print(f"python -m opsporing._measure: error: {exc}", file=sys.stderr)
        return 2


def _run(args: Any) -> int:
    """``main`` after the options are parsed."""
    import json

    from .model import load_model
    from .synthetic import SyntheticConfig, generate

    if args.informants:
        seed = INFORMANT_SEED if args.seed is None else args.seed
        if args.waves < 2:
            raise DataError(
                Problem("--waves", args.waves, "2 to 10 (an onset is seen between two waves)")
            )
        # Both scenarios are checked before anything slow (the model, the children).
        config = SyntheticConfig(n_children=args.n_children, seed=seed)
        followed_config = SyntheticConfig(
            n_children=args.n_children,
            seed=seed + 1,
            n_waves=args.waves,
            share_earlier_screening=1.0,
        )
        model = load_model(args.model) if args.model else load_model()
        pop = generate(config, progress=False)
        followed = generate(followed_config, progress=False)
        figures = {
            "seed": seed,
            "n_children": args.n_children,
            "informants": informant_figures(model, pop),
            "earlier_detection": {
                "seed": seed + 1,
                **earlier_detection(model, followed),
            },
        }
        text = json.dumps(figures, indent=2, ensure_ascii=False, sort_keys=True)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        print(text)
        return 0
    seed = 20261202 if args.seed is None else args.seed
    config = SyntheticConfig(n_children=args.n_children, seed=seed)
    model = load_model(args.model) if args.model else load_model()
    pop = generate(config, progress=False)
    points = operating_points(model, pop)
    plot_operating_points(points, args.out)
    print(points.to_string(index=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
