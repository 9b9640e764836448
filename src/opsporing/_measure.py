"""Detection figures measured on the path users get: :func:`opsporing.decision.suggest_batch`.

Every figure of the model card, the README and the demo comes from here. Each child is
counted as what the user sees: a suggested step, an abstention ("discuss in the team")
or the duty to notify (red flag); nothing is dropped. The oracle (the exact
P(step | observations) of the synthetic generator) is put through the *same* policy
rule on the same children, so the gap between the two is the model's, not the rule's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .decision import suggest_batch
from .errors import DataError
from .evaluation import expected_calibration_error, roc_auc
from .policy import SuggestionPolicy, resolve_policy

#: The kinds of what a user gets, in the order the figures list them.
KINDS = ("step", "abstain", "notify")


def suggestion_table(
    model: Any,
    current: pd.DataFrame,
    earlier: pd.DataFrame | None = None,
    *,
    id_column: str = "child_id",
    policy: SuggestionPolicy | str | None = None,
) -> pd.DataFrame:
    """What ``suggest_batch`` gives each child, as a table (one row per child).

    Columns: ``kind``, ``step`` (NaN unless ``kind == "step"``), ``p_need``
    (P(step >= 1), NaN unless a step is suggested), ``abstain_codes`` (";"-joined).
    """
    suggestions = suggest_batch(model, current, earlier, id_column=id_column, policy=policy)
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

    The current screening (wave 1) with the earlier one (wave 0) where there is one,
    exactly as training saw them; the oracle through the same rule.
    """
    from .model.train import score_waves
    from .synthetic import oracle_proba

    rules = resolve_policy(policy if policy is not None else getattr(model, "policy", None))
    current, earlier = score_waves(pop.forms)
    table = suggestion_table(model, current, earlier, policy=rules)
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
    from .model.train import score_waves
    from .synthetic import oracle_proba

    base = resolve_policy(getattr(model, "policy", None))
    current, earlier = score_waves(pop.forms)
    # The oracle and the children do not depend on the weight: computed once.
    oracle_all = oracle_proba(pop)
    children_all = pop.children.set_index("child_id")
    rows = []
    for w in under_weights:
        policy = base.model_copy(
            update={"cost": base.cost.model_copy(update={"under": (float(w),) * 6})}
        )
        table = suggestion_table(model, current, earlier, policy=policy)
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


def main(argv: list[str] | None = None) -> int:
    """``python -m opsporing._measure --out docs/img/operating_points.png``."""
    import argparse

    from .model import load_model
    from .synthetic import SyntheticConfig, generate

    parser = argparse.ArgumentParser(prog="python -m opsporing._measure")
    parser.add_argument("--out", default="docs/img/operating_points.png")
    parser.add_argument("--n-children", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    pop = generate(SyntheticConfig(n_children=args.n_children, seed=args.seed), progress=False)
    points = operating_points(load_model(), pop)
    plot_operating_points(points, args.out)
    print(points.to_string(index=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
