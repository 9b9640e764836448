"""SDC Questionnaires that score themselves (opsporing.fhir, ``scoring=True``).

* Every exported resource (Questionnaire, CodeSystems, ValueSets, the Bundle) validates with
  fhir.resources (R4B models: the structure and data types of each element; it does not check
  profiles, extensions, FHIRPath, terminology or invariants; see docs/fhir.md).
* Every FHIRPath expression is run by an independent engine (fhirpathpy, with its R4 model) the
  way an SDC renderer runs it (root variables in order over the QuestionnaireResponse, then each
  item's calculatedExpression), on seeded random forms with random missingness and on the forms
  at and next to every band cut-off, and must give
  what :func:`opsporing.scoring.score_form` gives: each domain score and band, the total and its
  band, the overall band and the red flag. The core ``enableWhen`` of the red-flag notice must
  show it exactly when score_form raises a red flag.
"""

from __future__ import annotations

import math
import os
import random
import re
from decimal import Decimal
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.valueset import ValueSet

from opsporing.fhir import (
    CALCULATED_EXPRESSION_URL,
    OBSERVATION_EXTRACT_URL,
    SDC_PROFILES,
    VARIABLE_URL,
    from_questionnaire_response,
    to_code_systems,
    to_questionnaire,
    to_questionnaire_response,
    to_sdc_bundle,
    to_value_sets,
)
from opsporing.instruments import Instrument, list_instruments, load_instrument
from opsporing.scoring import score_form

fhirpathpy = pytest.importorskip("fhirpathpy")
from fhirpathpy.models import models  # noqa: E402

MINI = load_instrument(Path(__file__).parent / "data" / "mini_instrument.yaml")
INSTRUMENTS = [*list_instruments(), MINI]
IDS = [i.key for i in INSTRUMENTS]
#: Forms per instrument that fhirpathpy runs (it runs ~10 forms a second on the school form,
#: so FHIRPath, not Python, is the cost). They are not all blind draws: of a pool of
#: ``POOL_FACTOR`` times as many random forms, scored in Python (fast), every form at a band
#: cut-off of a domain or the total and the nearest on either side of it (about 30 forms an
#: instrument, see :func:`boundary_forms`), the edge cases of :func:`random_forms`, then
#: random forms up to ``N_FORMS``. Where a FHIRPath expression and score_form could disagree
#: (``>=`` vs ``>``, a prorated score at a cut-off, a strength band) every instrument has a
#: form; for any other disagreement, the 50-60 random forms an instrument (about 600 in all,
#: from one generator of the expressions) miss one that affects 1 % of forms with
#: probability 0.99^600 < 0.3 %. (Before: 200 blind draws, 2,600 forms, 2.5 minutes.)
#: Set OPSPORING_SDC_FORMS for more.
N_FORMS = int(os.environ.get("OPSPORING_SDC_FORMS", "100"))
POOL_FACTOR = 20
#: An instrument with at most this many possible forms is checked on every one of them.
EXHAUSTIVE = 200


def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out += walk(item.get("item", []))
    return out


def ext(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in element.get("extension", []) if e["url"] == url]


class SDCRenderer:
    """The SDC semantics a renderer applies, with fhirpathpy as the FHIRPath engine.

    Root ``variable`` extensions are evaluated in order (each sees the earlier ones), then
    each item's ``calculatedExpression`` in that environment.
    """

    def __init__(self, questionnaire: dict[str, Any]) -> None:
        r4 = models["r4"]
        self.variables = [
            (
                e["valueExpression"]["name"],
                fhirpathpy.compile(e["valueExpression"]["expression"], r4),
            )
            for e in ext(questionnaire, VARIABLE_URL)
        ]
        self.calculated = {
            item["linkId"]: fhirpathpy.compile(
                ext(item, CALCULATED_EXPRESSION_URL)[0]["valueExpression"]["expression"], r4
            )
            for item in walk(questionnaire["item"])
            if ext(item, CALCULATED_EXPRESSION_URL)
        }

    def fill(self, response: dict[str, Any]) -> dict[str, list[Any]]:
        env: dict[str, Any] = {"resource": response}
        for name, expression in self.variables:
            env[name] = expression(response, env)
        return {link: expression(response, env) for link, expression in self.calculated.items()}


def random_forms(instrument: Instrument, n: int, seed: int) -> list[dict[str, int | None]]:
    """Random forms with random missingness, plus the edge cases: nothing, everything.

    Each form draws its own missing rate, so some domains land just above and just below
    ``min_answered``; answers are drawn uniformly from each item's scale (a count: any whole
    number in its range). Items of a ``required`` domain (safety) are always answered: a blank
    there is an error, tested in tests/test_fhir.py.
    """
    rng = random.Random(seed)
    required = {i.id for i in instrument.items if instrument.domain(i.domain).required}
    lowest = {i.id: instrument.scale(i.scale).min for i in instrument.items if i.id in required}
    forms: list[dict[str, int | None]] = [lowest, {i.id: None for i in instrument.items} | lowest]
    for scale_end in (0, -1):
        forms.append({i.id: instrument.scale(i.scale).values[scale_end] for i in instrument.items})
    for item in instrument.items:  # one critical answer on an otherwise lowest form
        if (bound := item.critical) is not None:
            lowest_form = {i.id: instrument.scale(i.scale).min for i in instrument.items}
            forms.append(lowest_form | {item.id: bound.min if bound.min is not None else bound.max})
    while len(forms) < n:
        p_missing = rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 0.9])
        form: dict[str, int | None] = {}
        for item in instrument.items:
            u = rng.random()
            if u >= p_missing or item.id in required:  # a required item is never blank
                form[item.id] = rng.choice(instrument.scale(item.scale).values)
            elif u < p_missing / 2:
                form[item.id] = None  # answered "not answered" rather than left out
        forms.append(form)
    return forms


def boundary_forms(instrument: Instrument, pool: list[dict[str, int | None]]) -> list[int]:
    """Indexes into ``pool`` of the forms at and next to each band cut-off.

    For each cut-off (yellow, red) of each domain score and of the total: the first form
    scored exactly at it, and the forms with the nearest score below and above it. These
    are where an expression that compares or prorates differently from score_form shows.
    """
    scores = [score_form(instrument, form) for form in pool]
    rules: list[tuple[Any, Any]] = [
        (lambda s, d=d.id: s.domains[d].score, d.bands) for d in instrument.domains
    ]
    if instrument.total is not None:
        rules.append((lambda s: s.total, instrument.total.bands))
    picked: dict[int, None] = {}  # ordered, no repeats
    for score_of, bands in rules:
        values = [(v, k) for k, s in enumerate(scores) if (v := score_of(s)) is not None]
        for cut in (bands.yellow, bands.red):
            at = [k for v, k in values if v == cut]
            below = [(v, -k) for v, k in values if v < cut]  # highest, then first
            above = [(-v, -k) for v, k in values if v > cut]  # lowest, then first
            picked |= dict.fromkeys([min(at)] if at else [])
            picked |= dict.fromkeys([-max(side)[1] for side in (below, above) if side])
    return list(picked)


def enabled(when: dict[str, Any], answer: int | None) -> bool:
    """Core ``enableWhen`` on a coded (``=``) or integer (``>=``/``<=``) answer."""
    if answer is None:
        return False
    if "answerCoding" in when:
        assert when["operator"] == "="
        return answer == int(when["answerCoding"]["code"])
    bound = when["answerInteger"]
    return {">=": answer >= bound, "<=": answer <= bound}[when["operator"]]


def one(values: list[Any]) -> Any:
    assert len(values) <= 1, values
    return values[0] if values else None


def same_number(fhirpath: Any, python: float | None) -> bool:
    if python is None:
        return fhirpath is None
    return fhirpath is not None and math.isclose(float(Decimal(fhirpath)), python, rel_tol=1e-12)


# --- structure -----------------------------------------------------------------------------------
@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
def test_sdc_bundle_validates_and_every_reference_resolves(instrument: Instrument) -> None:
    bundle = to_sdc_bundle(instrument)
    Bundle.model_validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    q = resources[0]
    Questionnaire.model_validate(q)
    assert q["meta"]["profile"] == list(SDC_PROFILES)
    systems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}
    for r in resources[1:]:
        (CodeSystem if r["resourceType"] == "CodeSystem" else ValueSet).model_validate(r)
    ids = [(r["resourceType"], r["id"]) for r in resources]
    assert len(ids) == len(set(ids))
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(resources)

    # Every coding the Questionnaire uses is a concept of an exported CodeSystem, same display.
    every = walk(q["item"])
    codings = [o["valueCoding"] for i in every for o in i.get("answerOption", [])]
    codings += [c for i in every for c in i.get("code", [])]
    codings += [w["answerCoding"] for i in every for w in i.get("enableWhen", [])]
    assert codings
    for coding in codings:
        concepts = {c["code"]: c for c in systems[coding["system"]]["concept"]}
        assert coding["code"] in concepts
        if "display" in coding:
            assert concepts[coding["code"]]["display"] == coding["display"]
    # Every ValueSet includes a whole exported CodeSystem.
    for vs in (r for r in resources if r["resourceType"] == "ValueSet"):
        include = vs["compose"]["include"][0]
        assert [c["code"] for c in include["concept"]] == [
            c["code"] for c in systems[include["system"]]["concept"]
        ]
    # Every variable used is defined before use; every calculated item uses one.
    names = [e["valueExpression"]["name"] for e in ext(q, VARIABLE_URL)]
    assert len(names) == len(set(names)) and all(re.fullmatch(r"[A-Za-z0-9]+", n) for n in names)
    for k, e in enumerate(ext(q, VARIABLE_URL)):
        used = set(re.findall(r"%([A-Za-z][A-Za-z0-9]*)", e["valueExpression"]["expression"]))
        assert used - {"resource"} <= set(names[:k])
    calculated = [i for i in every if ext(i, CALCULATED_EXPRESSION_URL)]
    assert len(calculated) == 2 * len(instrument.domains) + 2 * (instrument.total is not None) + 2
    for item in calculated:
        assert item["readOnly"] is True
        expression = ext(item, CALCULATED_EXPRESSION_URL)[0]["valueExpression"]["expression"]
        assert expression.lstrip("%") in names
    extracted = [i for i in every if ext(i, OBSERVATION_EXTRACT_URL)]
    assert {i["code"][0]["code"] for i in extracted} == {
        *(f"score.{d}" for d in instrument.domain_ids),
        *(["score.total"] if instrument.total else []),
        "band.overall",
        "red_flag",
    }


def test_the_plain_questionnaire_has_no_sdc_content() -> None:
    q = to_questionnaire(MINI, scoring=False)
    assert "meta" not in q and "extension" not in q
    assert all(i["type"] in {"group", "choice"} for i in walk(q["item"]))


def test_terminology_by_hand() -> None:
    systems = to_code_systems(MINI, "en", base_url="https://kommune.example.dk/fhir")
    f4 = systems[0]
    assert f4["url"] == "https://kommune.example.dk/fhir/CodeSystem/test.mini.f4"
    assert f4["content"] == "complete" and f4["count"] == len(f4["concept"])
    scores = systems[-1]
    assert scores["url"] == "https://kommune.example.dk/fhir/CodeSystem/test.mini.scores"
    assert [c["code"] for c in scores["concept"]] == [
        "score.mood", "score.play", "score.safe", "score.res", "score.total", "band.overall", "red_flag"
    ]  # fmt: skip
    assert [v["url"].rsplit("/", 1)[1] for v in to_value_sets(MINI)] == [
        "test.mini.f4",
        "test.mini.yn",
    ]


# --- the expressions, run by an independent engine -------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=IDS)
def test_fhirpath_scores_equal_score_form(instrument: Instrument) -> None:
    q = to_questionnaire(instrument)
    renderer = SDCRenderer(q)
    notice = next((i for i in walk(q["item"]) if i["linkId"] == "red-flag:notice"), None)
    choices = [
        [
            *([] if instrument.domain(i.domain).required else [None]),
            *instrument.scale(i.scale).values,
        ]
        for i in instrument.items
    ]
    if math.prod(map(len, choices)) <= EXHAUSTIVE:  # every form there is
        forms = [dict(zip(instrument.item_ids, c, strict=True)) for c in product(*choices)]
    else:
        pool = random_forms(instrument, POOL_FACTOR * N_FORMS, seed=len(instrument.items))
        n_edge = len(random_forms(instrument, 0, seed=0))  # the edge cases open the pool
        must = dict.fromkeys([*range(n_edge), *boundary_forms(instrument, pool)])
        fill = [k for k in range(n_edge, len(pool)) if k not in must]  # random, in order
        forms = [pool[k] for k in [*must, *fill[: max(0, N_FORMS - len(must))]]]
    seen_unscorable = seen_red = seen_critical_only = 0
    for form in forms:
        expected = score_form(instrument, form)
        qr = to_questionnaire_response(instrument, form)
        got = {link: one(v) for link, v in renderer.fill(qr).items()}
        for d, s in expected.domains.items():
            assert same_number(got[f"score:{d}"], s.score), (form, d, got[f"score:{d}"], s.score)
            assert got[f"band:{d}"] == s.band, (form, d)
            seen_unscorable += not s.scorable
        if instrument.total is not None:
            assert same_number(got["total:score"], expected.total), form
            assert got["total:band"] == expected.total_band, form
        assert got["overall:band"] == expected.overall_band, form
        assert got["red-flag"] is expected.red_flag, form
        seen_red += expected.red_flag
        seen_critical_only += expected.critical and not expected.red_flag
        if notice is not None:
            answers = {k: v for k, v in form.items() if v is not None}
            shown = any(enabled(w, answers.get(w["question"])) for w in notice["enableWhen"])
            assert shown is expected.red_flag, form
        # A renderer's calculated answers travel in the response; the reader ignores them.
        filled = dict(
            qr,
            item=[
                *qr.get("item", []),
                {"linkId": "overall:band", "answer": [{"valueString": "grøn"}]},
            ],
        )
        assert from_questionnaire_response(filled, instrument) == from_questionnaire_response(qr, instrument)  # fmt: skip
    # The forms reached the rules under test, not just the easy cases.
    assert seen_unscorable > 0
    assert seen_red > 0 or notice is None
    assert seen_critical_only > 0 or not any(i.critical for i in instrument.items)
