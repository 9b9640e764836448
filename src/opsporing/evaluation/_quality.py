"""Instrument quality in the own-data report: reliability, factor structure, item DIF."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..instruments import get_instrument
from ._owndata import OwnData
from ._owneval import _pick_screenings
from ._report import Content, Section


def instrument_quality_sections(
    data: OwnData, *, n_boot: int = 200, seed: int = 0
) -> list[Section]:
    """Per instrument, on each child's current screening: reliability with intervals
    (clustered by family or child), the factor structure of the domains (CFA) and item DIF
    by every group column (Mantel-Haenszel, ETS classes)."""
    from ._bootstrap import reliability_intervals
    from ._structure import dif_by_groups, factor_structure

    _, current_rows, _, _ = _pick_screenings(data)
    current = data.screenings.loc[current_rows]
    out = []
    for inst_id, forms in current.groupby("instrument_id", sort=True):
        inst = get_instrument(str(inst_id))
        answers = forms[[i.id for i in inst.items if i.id in forms.columns]].reset_index(drop=True)
        kids = forms["child_id"].astype(str).to_numpy()
        clusters = kids
        if data.families is not None:
            fam = data.families.reindex(kids).to_numpy(dtype=object)
            clusters = np.where(pd.isna(fam), "child:" + kids, "family:" + fam.astype(str))
        content: list[Content] = [
            f"{len(forms):,} current screenings. Reliability per domain with bootstrap "
            "intervals (resampling families when given, else children):",
        ]
        if n_boot:
            rel = reliability_intervals(inst, answers, clusters=clusters, n_boot=n_boot, seed=seed)
            content.append(rel[["estimate", "lower", "upper"]])
        try:
            fs = factor_structure(inst, answers)
            content += [
                "Confirmatory factor analysis, one correlated factor per domain of graded "
                "items (maximum likelihood; good fit: CFI, TLI >= 0.95, RMSEA <= 0.06, "
                "SRMR <= 0.08). Standardised loadings below 0.4 say little about the domain.",
                fs["fit"],
                fs["loadings"],
            ]
        except ValueError as exc:  # DataError: too few complete forms
            content.append(f"No factor analysis: {exc}")
        if len(data.groups.columns):
            dif = dif_by_groups(
                inst,
                answers,
                data.groups.reindex(kids).reset_index(drop=True),
                list(data.groups.columns),
            )
            flagged = dif[dif["ets_class"] != "A"]
            content += [
                "Differential item functioning (Mantel-Haenszel, matched on the purified "
                "domain rest score; ETS class B moderate, C large; delta > 0: the group gets "
                f"more concern answers than the reference group). {len(flagged)} of "
                f"{len(dif)} item-group pairs are B or C:",
                flagged if len(flagged) else "none",
            ]
        out.append(Section(f"Instrument quality: {inst.key}", tuple(content)))
    return out
