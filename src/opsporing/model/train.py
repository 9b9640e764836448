"""Train the shipped model reproducibly: ``python -m opsporing.model.train``.

Reads the committed synthetic population (:func:`opsporing.synthetic.load_default`),
scores every form with the shipped instruments, builds features from the current
round (the educator's form of the newest wave with the parents' and the child's own
forms of that wave) and the child's earlier educator screenings (change and
trajectory features), holds out a
fifth of the children (stratified by true step, fixed seed), fits a
:class:`~opsporing.model.StepSuggester` on the rest, and measures what users get:
every figure comes from :func:`opsporing.decision.suggest_batch` (suggested steps,
abstentions and red flags counted as what they are), on the held-out children and on
a freshly generated population at another seed (:data:`FRESH_SEED`), next to the
oracle under the same policy rule and the instruments' band rule. It writes
``models/step_suggester.skops``, ``models/manifest.json`` (signed into
``models/manifest.json.sig`` with ``--signing-key`` or ``$OPSPORING_SIGNING_KEY``) and
``models/MODEL_CARD.md``.

This module is the training *job*: it sits on top of the library and imports the
decision layer inside :func:`evaluate`, so the figures cannot drift from the product.

The same seed and data give the same model and the same metrics (training runs on one
thread, so the result does not depend on the machine's cores; two runs of the command
write the same file, byte for byte).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ..errors import DataError
from ..instruments import get_instrument
from ..scoring import score_batch
from ._artifact import save_model
from ._card import render_model_card
from ._estimator import StepSuggester
from ._features import OTHER_INFORMANTS, build_features
from ._keys import SIGNING_KEY_ENV

#: The seed of the shipped model.
SEED = 20261123

#: Share of children held out for the model card's metrics.
TEST_FRACTION = 0.2

#: The fresh population the model card's headline figures are measured on: generated
#: at a seed other than the training data's, default scenario.
FRESH_SEED = 20261201
FRESH_CHILDREN = 30_000

#: Hyper-parameters of the shipped model (chosen on a validation split of the training
#: children, never on the held-out ones; see docs/model.md). The suggested step and the
#: abstention rules are not parameters here: they are the suggestion policy's
#: (``opsporing/policy/data/policy.yaml``), read when suggesting.
PARAMS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "calibration": "isotonic",
    "calibration_fraction": 0.2,
    # Cross-fitted calibration: the map learns from every fitting row's out-of-fold margin
    # (docs/model.md); with one held-out tenth the share suggested step >= 1 moved by
    # +-3 points with the split's seed alone. Ten folds, not five: each fold's margins then
    # come from a booster fitted on 90 % of the rows, like the final one's. Chosen on a
    # validation population (30,000 children, seed 20261160, used for nothing else) after
    # the several-informants data of issue 13: with 5 folds the model found 3.1 points
    # fewer children in need than the oracle (target <= 3) and suggested 10.8 % step >= 1
    # (oracle 11.6 %); with 10, 1.9 points more and 13.4 %, under-suggestion by 2+ steps
    # 1.5 points above the oracle's (4.9 with 5 folds), expected cost 1.04x either way.
    "calibration_folds": 10,
    "conformal_alpha": 0.1,
}

#: Columns of a synthetic form table that are not answers (dropped or kept on scoring).
_FORM_META = ("form_id", "child_id", "wave", "rater_id")
#: Columns score_batch reads or keeps besides the items.
_SCORED_META = ("child_id", "instrument_id", "instrument_version", "age_years", "setting")


@dataclass(frozen=True)
class TrainingData:
    """Features, labels and evaluation-only attributes of every child, one row each."""

    X: pd.DataFrame
    step: pd.Series
    scores: pd.DataFrame  # current screening's scores (band rule, red flags)
    current: pd.DataFrame  # the current score table as suggest_batch takes it (child_id)
    earlier: tuple[pd.DataFrame, ...]  # earlier educator screenings, oldest first
    groups: pd.DataFrame  # evaluation only: setting, sex, family_background
    oracle: pd.DataFrame | None  # p_step_0..6 of the oracle, when available
    informants: dict[str, pd.DataFrame] = field(default_factory=dict)  # parent, child

    def tables_of(self, ids: Any) -> RoundTables:
        """The score tables of the children ``ids`` (as ``suggest_batch`` takes them)."""
        keep = set(ids)

        def rows(table: pd.DataFrame) -> pd.DataFrame:
            return table[table["child_id"].isin(keep)]

        return RoundTables(
            current=rows(self.current),
            earlier=tuple(rows(t) for t in self.earlier),
            informants={k: rows(t) for k, t in self.informants.items()},
        )


@dataclass(frozen=True)
class RoundTables:
    """A round of a synthetic population as ``suggest_batch`` takes it.

    Attributes
    ----------
    current : DataFrame
        Scores of the educators' forms of the round's wave (``child_id`` column).
    earlier : tuple of DataFrame
        Scores of the educators' forms of each earlier wave that has any, oldest first.
    informants : dict of str to DataFrame
        Scores of the parents' (``"parent"``) and the children's own (``"child"``) forms
        of the round's wave, where there are any.
    """

    current: pd.DataFrame
    earlier: tuple[pd.DataFrame, ...] = ()
    informants: dict[str, pd.DataFrame] = field(default_factory=dict)

    def latest_earlier(self) -> pd.DataFrame | None:
        """The most recent earlier wave's table (or None): what one earlier table meant."""
        return self.earlier[-1] if self.earlier else None


def _form_wave(table: pd.DataFrame, where: str) -> pd.Series:
    if "wave" not in table.columns:
        raise DataError(
            f"forms[{where!r}]: no wave column: expected the forms of a synthetic population"
        )
    return table["wave"]


def informant_rows(table: pd.DataFrame, informant: str = "educator") -> np.ndarray:
    """Which rows of a synthetic form table are forms of ``informant``.

    Read from each form's instrument (its ``informant`` metadata), not from the name of
    the table the form sits in.
    """
    if not len(table):
        return np.zeros(0, dtype=bool)
    keys = table["instrument_id"].astype(str) + "@" + table["instrument_version"].astype(str)
    whose = {k: get_instrument(*k.split("@", 1)).informant for k in pd.unique(keys)}
    return np.asarray(keys.map(whose).to_numpy() == informant, dtype=bool)


def current_wave(forms: dict[str, pd.DataFrame]) -> int:
    """The newest wave of a synthetic population's forms (its current round)."""
    waves = [int(_form_wave(t, k).max()) for k, t in forms.items() if len(t)]
    if not waves:
        raise DataError("forms: no forms at all: expected at least one")
    return max(waves)


def score_population(
    forms: dict[str, pd.DataFrame], wave: int, informant: str = "educator"
) -> pd.DataFrame:
    """Scores of one wave's forms of one informant, all settings, by child.

    Which informant a form is comes from its instrument's metadata (``informant``),
    not from the name of the table it sits in.
    """
    part = _score_wave(forms, wave, informant)
    if part is None:
        raise DataError(f"forms: no {informant} forms of wave {wave}: expected at least one")
    return part


def _score_wave(forms: dict[str, pd.DataFrame], wave: int, informant: str) -> pd.DataFrame | None:
    parts = []
    for setting, table in forms.items():
        if "instrument_id" not in table.columns or "instrument_version" not in table.columns:
            raise DataError(
                f"forms[{setting!r}]: no instrument_id/instrument_version columns: expected "
                "the forms of a synthetic population"
            )
        rows = table[_form_wave(table, setting) == wave]
        # Each form names its instrument: the data, not a map in code, says which it is.
        for (inst_id, version), group in rows.groupby(
            ["instrument_id", "instrument_version"], sort=True
        ):
            inst = get_instrument(str(inst_id), str(version))
            if inst.informant != informant:
                continue
            answers = group.drop(
                columns=[c for c in _FORM_META if c != "child_id" and c in group.columns]
            )
            # A table has a column for every item of its forms: the columns of another
            # form's items are empty on this form's rows (anything in them is an error of
            # the data, and score_batch reports it as an unknown column).
            foreign = [
                c
                for c in answers.columns
                if c not in inst.item_ids and c not in _SCORED_META and answers[c].isna().all()
            ]
            answers = answers.drop(columns=foreign)
            parts.append(score_batch(inst, answers, keep=["child_id", "age_years"]))
    return pd.concat(parts, ignore_index=True) if parts else None


def score_rounds(forms: dict[str, pd.DataFrame], wave: int | None = None) -> RoundTables:
    """The round of ``wave`` (default: the current, newest one) of a synthetic population.

    The educators' forms of that wave, the educators' forms of every earlier wave (oldest
    first; waves without any are left out) and the parents' and children's own forms of
    that wave (the informants of the instruments' metadata).

    Examples
    --------
    >>> from opsporing.synthetic import SyntheticConfig, generate
    >>> pop = generate(SyntheticConfig(n_children=60, seed=5), progress=False)
    >>> tables = score_rounds(pop.forms)
    >>> len(tables.current) == 60, all("child_id" in t for t in tables.earlier)
    (True, True)
    """
    wave = current_wave(forms) if wave is None else wave
    current = score_population(forms, wave)
    earlier = tuple(t for k in range(wave) if (t := _score_wave(forms, k, "educator")) is not None)
    informants = {
        who: t for who in OTHER_INFORMANTS if (t := _score_wave(forms, wave, who)) is not None
    }
    return RoundTables(current=current, earlier=earlier, informants=informants)


def score_waves(forms: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The current educators' screening and the most recent earlier one (or None).

    The one-earlier-table view of :func:`score_rounds` (own-data evaluation, whose
    format has one earlier screening per child).
    """
    tables = score_rounds(forms)
    return tables.current, tables.latest_earlier()


def prepare(pop: Any) -> TrainingData:
    """Everything the model and its evaluation need from a synthetic population.

    The current round with every informant and every earlier wave: the oracle is asked
    with the same information (:func:`opsporing.synthetic.oracle_proba`, all forms).
    """
    tables = score_rounds(pop.forms)
    X = build_features(
        tables.current, tables.earlier, informants=tables.informants, id_column="child_id"
    )
    children = pop.children.set_index("child_id").reindex(X.index)
    if children["true_step"].isna().any():
        raise DataError("children: some screened children have no true_step: expected all")
    try:
        from ..synthetic import oracle_proba

        oracle: pd.DataFrame | None = oracle_proba(pop).reindex(X.index)
    except ImportError:  # pragma: no cover - the synthetic layer is part of the library
        oracle = None
    return TrainingData(
        X=X,
        step=children["true_step"].astype(np.int64),
        scores=tables.current.set_index("child_id").reindex(X.index),
        current=tables.current,
        earlier=tables.earlier,
        groups=children[["setting", "sex", "family_background"]].astype(str),
        oracle=oracle,
        informants=tables.informants,
    )


def split(data: TrainingData, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Train and test positions: a stratified (by true step) random fifth is held out."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(data.step), dtype=bool)
    steps = data.step.to_numpy()
    for s in np.unique(steps):
        rows = np.flatnonzero(steps == s)
        take = round(TEST_FRACTION * len(rows))
        test[rng.choice(rows, size=take, replace=False)] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def data_hash(X: pd.DataFrame, y: pd.Series) -> str:
    """SHA-256 of the training features and labels (content, not file encoding)."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=True).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(y, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def evaluate(
    model: StepSuggester, data: TrainingData, rows: np.ndarray, policy: Any = None
) -> dict[str, Any]:
    """The model card's figures on ``rows`` (held-out children), through ``suggest_batch``.

    Returns ``{"overall": ..., "band_rule": ...}``: the figures of
    :func:`opsporing._measure.detection_figures` (with the oracle under the same rule)
    and the instruments' band rule on the same children.
    """
    from .. import _measure
    from ..evaluation import roc_auc
    from ..policy import resolve_policy

    rules = resolve_policy(policy if policy is not None else model.policy)
    ids = data.X.index[rows]
    tables = data.tables_of(ids)
    table = _measure.suggestion_table(
        model, tables.current, tables.earlier, informants=tables.informants, policy=rules
    ).reindex(ids)
    y = data.step.to_numpy()[rows]
    oracle = data.oracle.iloc[rows].to_numpy(dtype=np.float64) if data.oracle is not None else None
    overall = _measure.detection_figures(table, y, rules, oracle)
    # One rule, one path: wherever suggest_batch suggests a step, predict gives the same.
    given = (table["kind"] == "step").to_numpy()
    predicted = np.asarray(model.predict(data.X.iloc[rows]), dtype=np.float64)
    overall["predict_equals_suggestion"] = int(
        (predicted[given] == table["step"].to_numpy()[given]).sum()
    )
    overall["n_suggested_a_step"] = int(given.sum())
    bands = data.scores.iloc[rows]["band.overall"]
    band = _measure.band_rule_figures(bands, y, rules)
    refer = rules.refers(bands.astype(str))
    band["auc"] = round(roc_auc(y >= 1, refer.astype(float)), 4)
    return {"overall": overall, "band_rule": band}


def train(
    pop: Any = None,
    out_dir: str | Path | None = "models",
    *,
    seed: int = SEED,
    params: dict[str, Any] | None = None,
    progress: bool | None = None,
    signing_key: str | Path | None = None,
) -> dict[str, Any]:
    """Train, evaluate and (unless ``out_dir`` is None) save the model; return the manifest.

    Parameters
    ----------
    pop : synthetic population, optional
        Defaults to :func:`opsporing.synthetic.load_default`.
    out_dir : path or None
        Where to write the model file, manifest and model card.
    seed : int
        Seeds the held-out split and the model.
    params : dict, optional
        Overrides of :data:`PARAMS`.
    progress : bool, optional
        Print progress lines; by default only when stderr is a terminal.
    signing_key : path, optional
        Private key (``opsporing model keygen``) to sign the manifest with; default the
        file named by ``OPSPORING_SIGNING_KEY``, else the model is written unsigned
        (``load_model`` then needs ``allow_unsigned=True``).
    """
    show = progress if progress is not None else sys.stderr.isatty()

    def say(msg: str) -> None:
        if show:
            print(msg, file=sys.stderr, flush=True)

    if pop is None:
        from ..synthetic import load_default

        say("loading the synthetic population ...")
        pop = load_default()
    say("scoring forms and building features ...")
    data = prepare(pop)
    train_rows, test_rows = split(data, seed)
    model = StepSuggester(**{**PARAMS, **(params or {})}, random_state=seed)
    say(f"fitting on {len(train_rows)} children ...")
    # One thread: the order of floating-point sums in the boosting's histograms then does
    # not depend on the machine, so the model file is the same byte for byte everywhere
    # (and a busy machine does not slow OpenMP threads to a crawl).
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        model.fit(data.X.iloc[train_rows], data.step.iloc[train_rows])
        seconds = time.perf_counter() - start
        say(f"evaluating on {len(test_rows)} held-out children ...")
        metrics = evaluate(model, data, test_rows)
        say(f"generating {FRESH_CHILDREN} fresh children (seed {FRESH_SEED}) and measuring ...")
        from .. import _measure
        from ..synthetic import SyntheticConfig, generate

        fresh_config = SyntheticConfig(n_children=FRESH_CHILDREN, seed=FRESH_SEED)
        fresh = generate(fresh_config, progress=False)
        metrics["fresh"] = _measure.measure_population(model, fresh)
        metrics["fresh"]["seed"] = FRESH_SEED
        # Issue 13: what the other voices and the history add, on the same fresh children,
        # each next to the oracle given the same forms (the model card's table).
        say("measuring the educator form alone, the round, and the round with history ...")
        metrics["fresh"]["informants"] = _measure.informant_figures(
            model, fresh, measured=metrics["fresh"]["overall"]
        )
    extra = {
        "seed": seed,
        "training_data": {
            "source": "opsporing.synthetic (synthetic children; no real child's data)",
            "n_children": len(data.step),
            "n_train": len(train_rows),
            "n_test": len(test_rows),
            "sha256": data_hash(data.X.iloc[train_rows], data.step.iloc[train_rows]),
            "step_counts": {
                str(k): int(v) for k, v in data.step.value_counts().sort_index().items()
            },
        },
        "metrics": metrics,
        # The suggestion policy the figures were measured with (the card states it).
        "policy": model._policy().model_dump(mode="json"),
    }
    if out_dir is None:
        from ._artifact import library_versions

        return {
            "versions": library_versions(),
            "features": list(data.X.columns),
            **extra,
            "fit_seconds": seconds,
            "model": model,
        }
    signing_key = signing_key or os.environ.get(SIGNING_KEY_ENV) or None
    manifest = save_model(model, out_dir, extra=extra, signing_key=signing_key)
    Path(out_dir, "MODEL_CARD.md").write_text(render_model_card(manifest), encoding="utf-8")
    signed = "signed" if signing_key else "UNSIGNED"
    say(
        f"wrote {out_dir}/{manifest['model_file']}, manifest.json ({signed}), MODEL_CARD.md "
        f"({seconds:.1f} s)"
    )
    return manifest


def run_training(
    out: str | Path = "models",
    *,
    seed: int = SEED,
    signing_key: str | Path | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train, measure and save (the ``opsporing train`` verb); print the headline figures."""
    manifest = train(out_dir=out, seed=seed, progress=progress, signing_key=signing_key)
    fresh = manifest["metrics"]["fresh"]["overall"]
    for key in (
        "found_among_need",
        "suggested_step_ge_1_share",
        "abstention_rate",
        "found_gap_to_oracle",
        "cost_ratio_to_oracle",
        "auc_p_need",
    ):
        print(f"{key}: {fresh[key]}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m opsporing.model.train``: a thin alias of ``opsporing train`` (one CLI)."""
    from ..cli import train_app

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        train_app(args=args, prog_name="python -m opsporing.model.train")
    except SystemExit as exc:  # the command line always ends this way, also on success
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
