"""The vectorised scorer against a plain, obviously-correct reference, on awkward scales.

The instrument below has a scale with negative values, a scale with gaps (0, 2, 4), a mean
domain, reverse items on different scales and evidence rules of both kinds, so every branch
of the block scorer in ``opsporing.scoring._core`` is exercised.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsporing.instruments import Instrument, build_instrument
from opsporing.scoring import score_batch

T = {"da": "x", "en": "x"}
TREE = {
    "id": "test.awkward",
    "version": "1.0.0",
    "title": T,
    "settings": ["skole"],
    "age_years": {"min": 6, "max": 16},
    "scales": [
        {"id": "bipolar", "options": [{"value": v, "label": T} for v in (-2, -1, 0, 1, 2)]},
        {"id": "gapped", "options": [{"value": v, "label": T} for v in (0, 2, 4)]},
        {"id": "yn", "options": [{"value": v, "label": T} for v in (0, 1)]},
    ],
    "domains": [
        {"id": "a", "label": T, "min_answered": 2, "bands": {"yellow": 0, "red": 3}},
        {"id": "b", "label": T, "method": "mean", "min_answered": 1, "bands": {"yellow": 1.5, "red": 3}},
        {"id": "c", "label": T, "direction": "strength", "min_answered": 1, "bands": {"yellow": 2, "red": 0}},
    ],
    "items": [
        {"id": "a1", "domain": "a", "scale": "bipolar", "text": T, "evidences": [{"code": "emotional.sadness", "min": 1}]},
        {"id": "a2", "domain": "a", "scale": "bipolar", "reverse": True, "text": T, "evidences": [{"code": "emotional.sadness", "max": -2}]},
        {"id": "a3", "domain": "a", "scale": "gapped", "text": T, "evidences": [{"code": "social.isolation", "min": 2}, {"code": "social.bullied", "min": 4}]},
        {"id": "b1", "domain": "b", "scale": "gapped", "reverse": True, "text": T},
        {"id": "b2", "domain": "b", "scale": "bipolar", "text": T, "evidences": [{"code": "safety.disclosure", "min": 2}]},
        {"id": "c1", "domain": "c", "scale": "yn", "text": T, "evidences": [{"code": "protective.friendship", "min": 1}]},
        {"id": "c2", "domain": "c", "scale": "gapped", "reverse": True, "text": T},
    ],
    "total": {"label": T, "domains": ["a", "b"], "bands": {"yellow": 1, "red": 5}},
}  # fmt: skip
INST = build_instrument(TREE)


def reference(inst: Instrument, form: dict[str, float | None]) -> dict[str, object]:
    """Score one form the slow, literal way."""
    out: dict[str, object] = {}
    rank = {"grøn": 0, "gul": 1, "rød": 2}
    bands = []
    for dom in inst.domains:
        keyed = []
        for item in inst.items_in(dom.id):
            value = form.get(item.id)
            if value is None:
                continue
            scale = inst.scale(item.scale)
            keyed.append(scale.min + scale.max - value if item.reverse else value)
        n = len(inst.items_in(dom.id))
        if len(keyed) < dom.min_answered:
            score, band = math.nan, None
        else:
            mean = sum(keyed) / len(keyed)
            score = mean if dom.method == "mean" else mean * n
            if dom.direction == "concern":
                band = (
                    "rød"
                    if score >= dom.bands.red
                    else "gul"
                    if score >= dom.bands.yellow
                    else "grøn"
                )
            else:
                band = (
                    "rød"
                    if score <= dom.bands.red
                    else "gul"
                    if score <= dom.bands.yellow
                    else "grøn"
                )
            bands.append(band)
        out[f"score.{dom.id}"], out[f"band.{dom.id}"] = score, band
    assert inst.total is not None
    total = sum(out[f"score.{d}"] for d in inst.total.domains)  # type: ignore[misc]
    total_band = None
    if not math.isnan(total):
        total_band = (
            "rød"
            if total >= inst.total.bands.red
            else "gul"
            if total >= inst.total.bands.yellow
            else "grøn"
        )
        bands.append(total_band)
    out["score.total"], out["band.total"] = total, total_band
    raised = set()
    for item in inst.items:
        value = form.get(item.id)
        for ev in item.evidences:
            if value is not None and (
                (ev.min is not None and value >= ev.min) or (ev.max is not None and value <= ev.max)
            ):
                raised.add(ev.code)
    red = "safety.disclosure" in raised
    overall = max(bands, key=rank.__getitem__) if bands else None
    out["band.overall"] = "rød" if red else overall
    out["red_flag"] = red
    out["concepts"] = raised
    out["n_missing"] = sum(form.get(i) is None for i in inst.item_ids)
    return out


def _forms() -> st.SearchStrategy[dict[str, float | None]]:
    return st.fixed_dictionaries(
        {
            item.id: st.one_of(st.none(), st.sampled_from(INST.scale(item.scale).values))
            for item in INST.items
        }
    )


@settings(max_examples=60, deadline=None)
@given(forms=st.lists(_forms(), min_size=1, max_size=40))
def test_vectorised_scores_equal_the_reference(forms):
    table = pd.DataFrame(forms, columns=list(INST.item_ids), dtype=float)
    out = score_batch(INST, table)
    for i, form in enumerate(forms):
        expected = reference(INST, form)
        row = out.iloc[i]
        for col, value in expected.items():
            if col == "concepts":
                got = {
                    c.removeprefix("concept.")
                    for c in out.columns
                    if c.startswith("concept.") and row[c]
                }
                assert got == value
            elif isinstance(value, float) and math.isnan(value):
                assert math.isnan(row[col]), col
            elif col.startswith("band."):
                assert (None if pd.isna(row[col]) else row[col]) == value, col
            else:
                assert row[col] == pytest.approx(value), col


def test_gapped_scale_values_are_checked():
    with pytest.raises(Exception, match=r"a3 = 1: expected one of 0, 2, 4"):
        score_batch(INST, pd.DataFrame({"a3": [1.0]}))


def test_large_batch_crosses_block_boundaries():
    from opsporing.scoring._core import BLOCK_ROWS

    n = 2 * BLOCK_ROWS + 17
    forms = [
        {"a1": float((i % 5) - 2), "a2": None if i % 3 else 2.0, "a3": float(2 * (i % 3))}
        for i in range(n)
    ]
    out = score_batch(INST, pd.DataFrame(forms, columns=list(INST.item_ids), dtype=float))
    for i in (0, BLOCK_ROWS - 1, BLOCK_ROWS, 2 * BLOCK_ROWS, n - 1):
        assert out["score.a"].iloc[i] == pytest.approx(reference(INST, forms[i])["score.a"])
