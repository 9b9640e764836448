"""The shipped forms' cut-offs from a synthetic norm population (``-m opsporing.synthetic.norms``).

The cut-offs of the current educator forms (``instruments/forms.yaml``) are not guesses:
they are derived, per form (so per setting and age band), from the current educator screenings of
a synthetic **norm population** by :func:`opsporing.scoring.derive_norms`, the same rule
``opsporing norms`` applies to a municipality's own screenings, with the percentile rule
:data:`TOTAL_RULE` for the total and :data:`DOMAIN_RULE` for every domain (see
``docs/synthetic.md``, "Norms", for why these percentiles). The job writes the cut-offs
into each shipped YAML file (the ``bands`` of the domains and the total) and its ``norms``
block, keeping the file's wording, comments and version.

The norm population is the default scenario at its own seed, :data:`NORM_SEED`, which is
neither the training data's (20261123) nor the fresh children's the model card is measured
on (20261201): the cut-offs are not fitted to the children they are judged on. From the
repository root::

    python -m opsporing.synthetic.norms            # derive and write into the YAML files
    python -m opsporing.synthetic.norms --check    # exit 1 if a file differs from the rule

The ``safety`` domain keeps its rule-based bands ("Usikker" gul, a single "Ja" rød): a
handful of red-flag answers has no percentile to speak of.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..instruments import Instrument, PercentileRule, shipped_instrument_paths
from ._config import SyntheticConfig
from ._generate import generate
from ._model import INFORMANT_OF_TABLE, SAFETY_DOMAIN, SETTINGS, current_instruments
from ._population import SyntheticPopulation

#: Seed of the norm population: not the training seed (20261123), not the fresh seed
#: (20261201) of the model card's figures.
NORM_SEED = 20261130
#: Children in the norm population (its current screenings are the norm forms): every
#: age band then has more than 10,000 forms.
NORM_CHILDREN = 100_000
#: The total: gul from its 87th percentile, rød from its 96th.
TOTAL_RULE = PercentileRule(yellow=87, red=96)
#: Every domain: gul from its 90th percentile, rød from its 97th.
DOMAIN_RULE = PercentileRule(yellow=90, red=97)

_BANDS = re.compile(r"bands: \{yellow: [^,}]+, red: [^}]+\}")


def norm_population() -> SyntheticPopulation:
    """The synthetic norm population (default scenario, :data:`NORM_SEED`)."""
    return generate(SyntheticConfig(n_children=NORM_CHILDREN, seed=NORM_SEED), progress=False)


def norm_forms(pop: SyntheticPopulation, instrument: Instrument) -> pd.DataFrame:
    """The current screenings on ``instrument``: its item columns only.

    Only the educators' forms of the current wave (``pop.config.current_wave``) are norm
    forms: the earlier waves' and the parents' and children's own forms are not.
    """
    parts = []
    for table, forms in pop.forms.items():
        if INFORMANT_OF_TABLE.get(table) != "educator":
            continue
        rows = (
            (forms["wave"] == pop.config.current_wave)
            & (forms["instrument_id"] == instrument.id)
            & (forms["instrument_version"] == instrument.version)
        )
        if rows.any():
            parts.append(forms.loc[rows, list(instrument.item_ids)])
    return pd.concat(parts, ignore_index=True)


def derive_shipped_norms(pop: SyntheticPopulation | None = None) -> dict[str, Instrument]:
    """Each current educator form with cut-offs from the norm population, by instrument id.

    The returned instruments carry the derived bands and ``norms`` block (and the bumped
    version :func:`~opsporing.scoring.derive_norms` gives); :func:`write_norms` writes the
    bands and the block into the shipped file under its own version.
    """
    from ..scoring import derive_norms

    pop = norm_population() if pop is None else pop
    out: dict[str, Instrument] = {}
    for setting in SETTINGS:
        for inst in current_instruments(setting):
            forms = norm_forms(pop, inst)
            out[inst.id] = derive_norms(
                forms,
                inst,
                total=TOTAL_RULE,
                domains=DOMAIN_RULE,
                population_label={
                    "da": "Syntetisk normpopulation: "
                    + f"{len(forms):,}".replace(",", ".")
                    + f" aktuelle skemaer på denne form (seed {NORM_SEED}, ikke rigtige børn)",
                    "en": f"Synthetic norm population: {len(forms):,} current forms on "
                    f"this form (seed {NORM_SEED}, not real children)",
                },
                source=(
                    f"python -m opsporing.synthetic.norms (opsporing.synthetic, "
                    f"{NORM_CHILDREN} children, seed {NORM_SEED}, current wave)"
                ),
            )
    return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}".rstrip("0")


def _bands(yellow: float, red: float) -> str:
    return f"bands: {{yellow: {_number(yellow)}, red: {_number(red)}}}"


def normed_text(text: str, normed: Instrument) -> str:
    """``text`` (a shipped YAML file) with the bands and ``norms`` block of ``normed``."""
    lines = text.splitlines(keepends=True)
    section = ""
    domain: str | None = None
    for k, line in enumerate(lines):
        top = re.match(r"^([a-z_]+):", line)
        if top:
            section, domain = top.group(1), None
            continue
        match = re.match(r"^  - id: (\S+)", line)
        if section == "domains" and match:
            domain = match.group(1)
        if not _BANDS.search(line):
            continue
        if section == "domains" and domain is not None and domain != SAFETY_DOMAIN:
            bands = normed.domain(domain).bands
            lines[k] = _BANDS.sub(_bands(bands.yellow, bands.red), line)
        elif section == "total" and normed.total is not None:
            bands = normed.total.bands
            lines[k] = _BANDS.sub(_bands(bands.yellow, bands.red), line)
    text = "".join(lines)
    block = _norms_block(normed)
    if re.search(r"(?m)^norms:", text):  # replace the block written last time
        return re.sub(r"(?m)^norms:.*\n(?:[ \t].*\n)*", lambda _: block, text, count=1)
    return re.sub(r"(?m)^scales:", lambda m: block + "\n" + m.group(0), text, count=1)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _norms_block(normed: Instrument) -> str:
    norms = normed.norms
    assert norms is not None and norms.total is not None  # derive_norms writes both
    return (
        "norms:  # written by python -m opsporing.synthetic.norms; the safety domain keeps its\n"
        "        # rule-based bands (Usikker gul, a single Ja rød)\n"
        f"  total: {{yellow: {_number(norms.total.yellow)}, red: {_number(norms.total.red)}}}\n"
        f"  domains: {{yellow: {_number(norms.domains.yellow)}, "
        f"red: {_number(norms.domains.red)}}}\n"
        "  population:\n"
        f"    da: {_quoted(norms.population.da)}\n"
        f"    en: {_quoted(norms.population.en)}\n"
        f"  n: {norms.n}\n"
        f"  source: {_quoted(norms.source)}\n"
    )


def shipped_path(instrument: Instrument) -> Path:
    """The shipped YAML file of ``instrument``."""
    from ..instruments import load_instrument

    for path in shipped_instrument_paths():
        text = path.read_text(encoding="utf-8")
        if f"id: {instrument.id}\n" in text and load_instrument(path).key == instrument.key:
            return path
    raise FileNotFoundError(instrument.key)


def write_norms(check: bool = False) -> list[Path]:
    """Derive and write every current form's cut-offs; return the files that changed.

    With ``check=True`` nothing is written: the files that *would* change are returned.
    """
    from ..instruments import current_forms

    changed = []
    for inst_id, normed in derive_shipped_norms().items():
        inst = next(i for bands in current_forms().values() for i in bands if i.id == inst_id)
        path = shipped_path(inst)
        old = path.read_text(encoding="utf-8")
        new = normed_text(old, normed)
        if new != old:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m opsporing.synthetic.norms [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m opsporing.synthetic.norms")
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args(argv)
    changed = write_norms(check=args.check)
    for path in changed:
        print(("differs: " if args.check else "wrote: ") + str(path))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
