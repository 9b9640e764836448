"""The issue's bias scenario end to end: rater harshness against one group, band rule alone.

Synthetic children (``opsporing.synthetic``) are scored with the school form; the band rule
"gul or worse" is evaluated against the true need (step >= 1) by family background. With
the raters' harshness against one group switched on, the between-group gap in how often
children are flagged, and in specificity, is larger than with it switched off, while the
children's true need is the same.
"""

from __future__ import annotations

import pandas as pd
import pytest

from opsporing.evaluation import band_score, metrics_by_group
from opsporing.instruments import get_instrument
from opsporing.scoring import band_column, score_batch

synthetic = pytest.importorskip("opsporing.synthetic")


def _gaps(bias_against: str | None) -> pd.DataFrame:
    config = synthetic.SyntheticConfig(
        n_children=6000, seed=3, rater_bias_against=bias_against, rater_bias_size=0.8
    )
    pop = synthetic.generate(config, progress=False)
    school = get_instrument("opsporing.skole.0-6")  # the form of most school children
    forms = pop.forms["skole"]
    forms = forms[(forms["wave"] == forms["wave"].max()) & (forms["instrument_id"] == school.id)]
    meta = ["child_id", "form_id", "wave", "rater_id"]
    scores = score_batch(school, forms[[*meta, *school.item_ids]], keep=meta)
    # A form whose total is not scorable has no overall band: not a flag, not a non-flag.
    scores = scores[scores[band_column("overall")].notna()]
    data = scores.merge(pop.children, on="child_id", validate="one_to_one")
    data = data.assign(
        y_true=(data["true_step"] >= 1).astype(int),
        band_rule=band_score(data[band_column("overall")]),
    )
    g = metrics_by_group(data, y_score="band_rule", cutoff=1.0, groups=["family_background"])
    return g.gaps.set_index("metric")


def test_rater_bias_shows_as_a_larger_between_group_gap() -> None:
    off, on = _gaps(None), _gaps("indvandrer")
    for metric in ("flag_rate", "specificity"):
        assert on.loc[metric, "difference"] > off.loc[metric, "difference"] + 0.02, metric
    assert on.loc["flag_rate", "max_group"] == "indvandrer"
    assert on.loc["specificity", "min_group"] == "indvandrer"
