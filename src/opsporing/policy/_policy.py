"""The suggestion policy: one home for the rule that turns probabilities into a step.

Everything that is *policy* rather than statistics lives in one data file
(``opsporing/policy/data/policy.yaml``) and is read here:

* the **cost matrix** over (true step, suggested step), built from per-step weights for
  suggesting too much (``cost.over``) and too little (``cost.under``), or given whole;
* the **decision rule**: the suggested step minimises the expected cost under the
  model's calibrated step probabilities; steps whose expected cost is within
  ``tie_tolerance`` of the lowest count as ties, and the lowest of them wins (the
  staircase points down);
* the **abstention rules**: only data reasons (too many missing answers, a required
  domain not scorable, inputs outside the training data);
* the **band rule** of the instruments (overall band gul or rød → refer), the
  comparison for every detection figure.

:class:`~opsporing.model.StepSuggester.predict`, :func:`opsporing.decision.suggest_batch`,
the model card and the evaluation all call :meth:`SuggestionPolicy.choose`; nothing else
turns probabilities into a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._safeload import load_tree, parse_tree
from ..errors import DataError, Problem
from ..vocabulary import Language

F64 = npt.NDArray[np.float64]

#: Steps of the staircase the policy covers (0-6).
N_STEPS = 7

#: Largest cost a policy may give one step: far beyond any sensible weighing, and small
#: enough that the sums over six steps and the expected costs stay exact finite numbers.
MAX_COST = 1e6


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CostPolicy(_Frozen):
    """Costs of suggesting a step other than the child's true step.

    Either ``over`` and ``under`` (weights per step crossed, steps 1-6), or ``matrix``
    (7 × 7, rows the true step, columns the suggested step) is given.
    """

    over: tuple[float, ...] | None = None
    under: tuple[float, ...] | None = None
    matrix: tuple[tuple[float, ...], ...] | None = None
    tie_tolerance: float = Field(default=0.05, ge=0.0, le=1.0)

    @field_validator("over", "under")
    @classmethod
    def _weights(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        if len(value) != N_STEPS - 1 or any(
            not np.isfinite(w) or not 0 < w <= MAX_COST for w in value
        ):
            raise ValueError(
                f"expected {N_STEPS - 1} positive numbers up to {MAX_COST:g} (one per step 1-6)"
            )
        return value

    @field_validator("matrix")
    @classmethod
    def _matrix(
        cls, value: tuple[tuple[float, ...], ...] | None
    ) -> tuple[tuple[float, ...], ...] | None:
        if value is None:
            return None
        m = np.asarray(value, dtype=np.float64)
        if m.shape != (N_STEPS, N_STEPS):
            raise ValueError(f"expected {N_STEPS} rows of {N_STEPS} numbers")
        if not np.isfinite(m).all() or (m < 0).any() or (m > 6 * MAX_COST).any():
            raise ValueError(f"expected finite costs from 0 to {6 * MAX_COST:g}")
        if np.diag(m).any():
            raise ValueError("expected 0 on the diagonal (the right step costs nothing)")
        if (m[~np.eye(N_STEPS, dtype=bool)] == 0).any():
            raise ValueError("expected a positive cost for every wrong step")
        return value

    def cost_matrix(self) -> F64:
        """The 7 × 7 cost matrix ``C[true, suggested]``."""
        if self.matrix is not None:
            return np.asarray(self.matrix, dtype=np.float64)
        assert self.over is not None and self.under is not None  # checked by SuggestionPolicy
        over = np.concatenate([[0.0], np.cumsum(self.over)])
        under = np.concatenate([[0.0], np.cumsum(self.under)])
        c = np.zeros((N_STEPS, N_STEPS))
        for true in range(N_STEPS):
            for sug in range(N_STEPS):
                if sug > true:
                    c[true, sug] = over[sug] - over[true]
                elif sug < true:
                    c[true, sug] = under[true] - under[sug]
        return c


class AbstainPolicy(_Frozen):
    """When the model says "insufficient information" instead of a step.

    ``required_domains`` and ``required_inputs`` name model features (``score.<domain>``
    and feature names such as ``age_years``); the model checks them against its own
    features and refuses names it does not have, so a typo never switches a rule off.
    """

    max_missing: float = Field(default=0.25, ge=0.0, le=1.0)
    required_domains: tuple[str, ...] = ()
    required_inputs: tuple[str, ...] = ()
    range_margin: float = Field(default=0.1, ge=0.0, le=10.0)

    @field_validator("required_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from ..instruments import list_instruments

        known = sorted({d for inst in list_instruments() for d in inst.domain_ids})
        unknown = [d for d in value if d not in known]
        if unknown:
            raise ValueError(f"expected domains of the shipped instruments {known}")
        return value


class BandRule(_Frozen):
    """The instruments' own referral rule: refer a form whose overall band is one of these."""

    refer_bands: tuple[str, ...] = ("gul", "rød")

    @field_validator("refer_bands")
    @classmethod
    def _bands(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from ..vocabulary import load_vocabulary

        known = list(load_vocabulary().bands)
        unknown = [b for b in value if b not in known]
        if unknown or not value:
            raise ValueError(f"expected one or more of the vocabulary's bands {known}")
        return value


class SuggestionPolicy(_Frozen):
    """The suggestion policy: costs, decision rule, abstention, band rule.

    Examples
    --------
    >>> import numpy as np
    >>> policy = load_policy()
    >>> float(policy.cost_matrix()[0, 1]), float(policy.cost_matrix()[1, 0])  # too high / too low
    (1.0, 9.0)
    >>> proba = np.array([[0.95, 0.05, 0, 0, 0, 0, 0],    # P(need) 5 %: universal services
    ...                   [0.80, 0.15, 0.05, 0, 0, 0, 0]])  # P(need) 20 %: step 1
    >>> policy.choose(proba).tolist()
    [0, 1]
    """

    version: str
    cost: CostPolicy
    abstain: AbstainPolicy = AbstainPolicy()
    band_rule: BandRule = BandRule()
    source: str = "opsporing/policy/data/policy.yaml"

    def model_post_init(self, _context: Any) -> None:
        c = self.cost
        if c.matrix is None and (c.over is None or c.under is None):
            raise ValueError("cost: expected 'over' and 'under', or 'matrix'")
        if c.matrix is not None and (c.over is not None or c.under is not None):
            raise ValueError("cost: expected either 'over'/'under' or 'matrix', not both")

    def cost_matrix(self) -> F64:
        """The 7 × 7 cost matrix ``C[true step, suggested step]``."""
        return self.cost.cost_matrix()

    def expected_costs(self, proba: Any, steps: Any = None) -> F64:
        """Expected cost of suggesting each step: ``proba @ C`` (n, columns of ``proba``).

        ``steps`` names the step of each column of ``proba`` (default 0-6); a model that
        saw only some steps in training gives probabilities over those.
        """
        p, idx = _proba(proba, steps)
        out: F64 = p @ self.cost_matrix()[np.ix_(idx, idx)]
        return out

    def choose(self, proba: Any, steps: Any = None) -> npt.NDArray[np.int64]:
        """The suggested step of each row: the lowest step within ``tie_tolerance`` of the
        smallest expected cost.

        ``proba`` has one column per step (``steps``, default 0-6; rows sum to 1).
        Returns the *column position* of the chosen step (equal to the step for 0-6).
        """
        e = self.expected_costs(proba, steps)
        best = e.min(axis=1, keepdims=True)
        tie = e <= best * (1.0 + self.cost.tie_tolerance) + 1e-12
        out: npt.NDArray[np.int64] = np.argmax(tie, axis=1).astype(np.int64)
        return out

    def refers(self, bands: Any) -> npt.NDArray[np.bool_]:
        """The band rule: which overall bands are referred for a closer look."""
        values = np.asarray(bands, dtype=object).astype(str)
        out: npt.NDArray[np.bool_] = np.isin(values, list(self.band_rule.refer_bands))
        return out

    def threshold_step_1(self) -> float:
        """P(step >= 1) above which step 1 beats step 0 (for a need of at most step 1)."""
        c = self.cost_matrix()
        return float(c[0, 1] / (c[0, 1] + c[1, 0]))

    def rule_sentence(
        self, costs: Sequence[float], step: int, p_need: float, lang: Language = "da"
    ) -> str:
        """The rule in one sentence with the numbers behind it (for one suggestion)."""
        costs = [float(x) for x in costs]
        c = self.cost_matrix()
        # After a near-tie went down the staircase the step is not the cheapest: say so.
        tie = costs[step] > min(costs) + 1e-12
        tol = (
            f"{100 * self.cost.tie_tolerance:g} %"
            if lang == "da"
            else (f"{100 * self.cost.tie_tolerance:g}%")
        )
        w = _RULE_WORDS[lang]
        shown = [k for k in (step - 1, step, step + 1) if 0 <= k < len(costs)]
        parts = "; ".join(f"{w['step']} {k}: {_num(costs[k], lang)}" for k in shown)
        head = (w["tie"] if tie else w["lowest"]).format(step=step, tol=tol)
        return w["sentence"].format(
            head=head,
            parts=parts,
            p=_pct(p_need, lang),
            miss=_num(c[1, 0], lang),
            over=_num(c[0, 1], lang),
        )


#: The rule sentence's words, per language (the numbers are filled in by rule_sentence).
_RULE_WORDS: dict[str, dict[str, str]] = {
    "da": {
        "step": "trin",
        "lowest": "Trin {step} har den laveste forventede omkostning",
        "tie": "Trin {step} er det laveste trin inden for {tol} af den laveste forventede "
        "omkostning (ved næsten lige valg peger trappen nedad)",
        "sentence": "{head} ({parts}) ved {p} sandsynlighed for behov ud over almene tilbud; "
        "et overset trin vejer {miss}, et trin for højt {over} (mere for de mere indgribende "
        "trin).",
    },
    "en": {
        "step": "step",
        "lowest": "Step {step} has the lowest expected cost",
        "tie": "Step {step} is the lowest step within {tol} of the lowest expected cost "
        "(near-ties point down the staircase)",
        "sentence": "{head} ({parts}) at a {p} probability of needing more than universal "
        "services; a missed step weighs {miss}, a step too high {over} (more for more "
        "intrusive steps).",
    },
}


def _num(x: float, lang: Language) -> str:
    text = f"{x:.2f}"
    return text.replace(".", ",") if lang == "da" else text


def _pct(p: float, lang: Language) -> str:
    text = f"{100 * p:.0f} %"
    return text if lang == "da" else text.replace(" %", "%")


def _proba(proba: Any, steps: Any) -> tuple[F64, npt.NDArray[np.int64]]:
    p = np.asarray(proba, dtype=np.float64)
    idx = np.arange(N_STEPS) if steps is None else np.asarray(steps, dtype=np.int64)
    if (
        idx.ndim != 1
        or len(np.unique(idx)) != len(idx)
        or idx.min(initial=0) < 0
        or (idx.max(initial=0) >= N_STEPS)
    ):
        raise DataError(str(Problem("steps", list(idx), f"distinct steps from 0 to {N_STEPS - 1}")))
    if p.ndim != 2 or p.shape[1] != len(idx):
        raise DataError(
            str(Problem("proba", f"shape {p.shape}", f"one column per step ({len(idx)})"))
        )
    if not np.isfinite(p).all():
        raise DataError(str(Problem("proba", "NaN or infinite values", "probabilities")))
    return p, idx


def _parse(tree: Any, source: str) -> SuggestionPolicy:
    if not isinstance(tree, dict):
        raise DataError(str(Problem(source, type(tree).__name__, "a mapping of policy keys")))
    try:
        return SuggestionPolicy(**{**tree, "source": source})
    except ValidationError as exc:
        problems = [
            Problem(f"{source}: {'.'.join(map(str, e['loc']))}", e.get("input"), e["msg"])
            for e in exc.errors()
        ]
        raise DataError("; ".join(str(p) for p in problems)) from None
    except (TypeError, ValueError) as exc:
        raise DataError(str(Problem(source, "(policy)", str(exc)))) from None


@cache
def _shipped() -> SuggestionPolicy:
    text = (
        resources.files("opsporing.policy").joinpath("data/policy.yaml").read_text(encoding="utf-8")
    )
    return _parse(
        parse_tree(text, "opsporing/policy/data/policy.yaml"), "opsporing/policy/data/policy.yaml"
    )


def load_policy(path: str | Path | None = None) -> SuggestionPolicy:
    """The shipped suggestion policy, or a municipality's own policy file.

    Parameters
    ----------
    path : path, optional
        A YAML file with the keys of the shipped ``policy.yaml``.

    Raises
    ------
    DataError
        When the file cannot be read or a value is out of range (every problem named).
    """
    if path is None:
        return _shipped()
    p = Path(path)
    # The one safe reader: size-limited, no aliases, no repeated keys, no deep nesting.
    return _parse(load_tree(p, fmt="yaml"), str(p))


def resolve_policy(policy: SuggestionPolicy | str | Path | None) -> SuggestionPolicy:
    """A policy object from ``None`` (the shipped one), a path, or a policy.

    A policy object is validated again (``model_copy(update=...)`` skips validation, so a
    copied policy could carry a NaN limit that switches a rule off).
    """
    if policy is None:
        return load_policy()
    if isinstance(policy, SuggestionPolicy):
        if policy is _shipped():
            return policy
        try:
            return SuggestionPolicy.model_validate(policy.model_dump())
        except (ValidationError, ValueError) as exc:
            raise DataError(str(Problem("policy", "(policy object)", str(exc)[:300]))) from None
    if isinstance(policy, str | Path):
        return load_policy(Path(policy))
    raise DataError(
        str(Problem("policy", type(policy).__name__, "None, a SuggestionPolicy or a YAML path"))
    )
