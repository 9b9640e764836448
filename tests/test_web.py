"""The reference web form, through FastAPI's TestClient: pages, validation, decisions, storage."""

from __future__ import annotations

import functools
import html
import json
import logging
import re
import sqlite3
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_limits

from opsporing.errors import ModelError
from opsporing.instruments import get_instrument
from opsporing.scoring import score_batch, score_form
from opsporing.vocabulary import get_concept, load_vocabulary
from opsporing.web import AuditLog, StorageError, Submission, create_app
from opsporing.web._suggest import decision_api_available

from .conftest import opened_rows, signed_decision

needs_decision = pytest.mark.skipif(
    not decision_api_available(), reason="opsporing.decision is not installed"
)

SCHOOL = "opsporing.skole.trivsel"
DAYCARE = "opsporing.dagtilbud.trivsel"
NOW = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)
WEB = Path(__file__).parent.parent / "src" / "opsporing" / "web"

#: A school form with hand-computed scores: emotional = (2 + 3 + 1) × 4/3 = 8.0 (rød, red ≥ 7);
#: concerns sadness (emo_sad ≥ 2) and anxiety (emo_tense ≥ 2); a trusted adult (≥ 2).
ANSWERS = {"emo_sad": 2, "emo_tense": 3, "emo_withdrawn": 1, "res_trusted_adult": 3}


def _full(level: int) -> dict[str, int]:
    """Every school item answered: concern items ``level``, resources ``3 - level``, safety 0."""
    return {
        i.id: 0 if i.domain == "safety" else 3 - level if i.domain == "resources" else level
        for i in get_instrument(SCHOOL).items
    }


@functools.cache
def train_test_model(n: int = 400, seed: int = 0) -> Any:
    """A small StepSuggester on made-up forms: more concern, higher step (about a second).

    The tests do not use the shipped model file: it changes when it is retrained, and these
    tests need a model whose suggestions they can compute (fixture ``suggested``): ``_full(1)``
    gets step 1 or 2, ``_full(2)`` step 3 or more; ANSWERS (28 of 32 items missing) abstains.
    """
    from opsporing.model import StepSuggester, build_features

    rng = np.random.default_rng(seed)

    def table(key: str, need: Any, ages: Any, ids: list[str]) -> pd.DataFrame:
        cols = {}
        for item in get_instrument(key).items:
            v = np.clip(np.round(3 * need + rng.normal(0, 0.6, len(need))), 0, 3)
            cols[item.id] = (
                np.zeros(len(need)) if item.domain == "safety"
                else 3 - v if item.domain == "resources" else v
            )  # fmt: skip
        forms = pd.DataFrame(cols).assign(age_years=ages, child_id=ids)
        return score_batch(get_instrument(key), forms, keep=["child_id", "age_years"])

    need = rng.random(2 * n) ** 2
    ids = [f"T{i}" for i in range(2 * n)]

    def wave(shrink: float) -> pd.DataFrame:
        school_age = rng.integers(6, 16, n).astype(float)
        daycare_age = rng.integers(1, 6, n).astype(float)
        return pd.concat(
            [
                table(SCHOOL, need[:n] * shrink, school_age, ids[:n]),
                table(DAYCARE, need[n:] * shrink, daycare_age, ids[n:]),
            ],
            ignore_index=True,
        )

    # Half the children have an earlier screening, as in the synthetic population: a form
    # without one must not look like an input outside the training data.
    earlier = wave(0.8)
    current = wave(1.0)
    # An earlier screening is never at a later age than the current one (refused since).
    earlier["age_years"] = np.minimum(earlier["age_years"], current["age_years"] - 1.0)
    X = build_features(current, earlier.iloc[::2], id_column="child_id")
    y = np.digitize(need + rng.normal(0, 0.05, 2 * n), [0.15, 0.35, 0.6, 0.8])
    # One thread: OpenMP threads that spin-wait crawl on a machine busy with other work.
    with threadpool_limits(limits=1):
        return StepSuggester(max_iter=40, random_state=seed).fit(X, y)


# --- helpers ------------------------------------------------------------------------------------
class _Inputs(HTMLParser):
    """Collects form controls, labels, fieldsets and legends of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: list[str] = []
        self.ids: list[str] = []
        self.fieldsets = 0
        self.legends = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag in {"input", "select", "textarea"}:
            self.controls.append({"tag": tag, **a})
        elif tag == "label" and "for" in a:
            self.label_for.append(a["for"])
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "legend":
            self.legends += 1


def _parse(html: str) -> _Inputs:
    p = _Inputs()
    p.feed(html)
    return p


def _token(html: str) -> str:
    m = re.search(r'name="token" value="([0-9a-f]{32})"', html)
    assert m, "the form carries no idempotency token"
    return m.group(1)


def _fields(
    token: str,
    answers: dict[str, Any] | None = None,
    *,
    form_id: str = "B-2026-041",
    age: str = "9",
    lang: str = "da",
    **extra: str,
) -> dict[str, str]:
    data = {
        "token": token,
        "lang": lang,
        "instrument_version": "1.0.0",
        "form_id": form_id,
        "age_years": age,
    }
    data.update({f"item.{k}": str(v) for k, v in (ANSWERS if answers is None else answers).items()})
    data.update(extra)
    return data


def _decision(**overrides: str | None) -> dict[str, str]:
    d: dict[str, str | None] = {
        "chosen_step": "1",
        "reason": "Tæt samarbejde med forældrene; støtte i klassen først.",
    }
    d.update(overrides)
    return {k: v for k, v in d.items() if v is not None}


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as con:
        return (
            con.execute("SELECT COUNT(*) FROM screenings").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM decisions").fetchone()[0],
        )


def _norm(text: str) -> str:
    """Entities decoded, whitespace runs as one space: what a reader sees."""
    return re.sub(r"\s+", " ", html.unescape(text))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture(scope="module")
def small_model() -> Any:
    if not decision_api_available():
        return None
    return train_test_model()


@pytest.fixture(scope="module")
def suggested(small_model: Any) -> dict[int, int | None]:
    """The step opsporing.decision suggests for ``_full(level)``, level 0-3, with the model."""
    if small_model is None:
        return {}
    from opsporing.decision import suggest

    out = {}
    for level in range(4):
        forms = pd.DataFrame([_full(level)]).assign(age_years=9.0)
        table = score_batch(get_instrument(SCHOOL), forms, keep=["age_years"])
        out[level] = suggest(small_model, table).step
    assert out[1] in (1, 2) and (out[2] or 0) >= 3, out
    return out


def _other_step(step: int | None) -> str:
    """A step a school can choose (0-2) that is not ``step``: an override."""
    return "1" if step != 1 else "2"


@pytest.fixture
def with_model(db: Path, small_model: Any, web_login: Any) -> TestClient:
    """The app with the small test model, logged in as school staff P-0042."""
    return web_login(create_app(db, clock=lambda: NOW, model=small_model))  # type: ignore[no-any-return]


@pytest.fixture
def client(db: Path, web_login: Any) -> TestClient:
    """The app without a model (the "no model available" adapter), logged in as P-0042."""
    return web_login(create_app(db, clock=lambda: NOW, model=None))  # type: ignore[no-any-return]


def _as(client: TestClient, web_login: Any, name: str, role: str) -> TestClient:
    """Another logged-in client of the same app: user ``name`` with ``role``."""
    return web_login(client.app, name, role)  # type: ignore[no-any-return]


def _suggestion_id(page: str) -> str:
    m = re.search(r'name="suggestion_id" value="([0-9a-f]*)"', page)
    assert m, "the decision form does not say which suggestion it decides on"
    return m.group(1)


def _decide(
    client: TestClient,
    answers: dict[str, Any] | None = None,
    decision: dict[str, str] | None = None,
    **fields: str,
) -> tuple[Any, Any]:
    """Open a form, score it, decide on it: (result page, decision response)."""
    data = _fields(_token(_blank(client)), answers, **fields)
    result = client.post(f"/form/{SCHOOL}", data=data)
    assert result.status_code == 200, result.text[:500]
    data["suggestion_id"] = _suggestion_id(result.text)
    return result, client.post(
        f"/form/{SCHOOL}/decision", data=data | (_decision() if decision is None else decision)
    )


def _blank(client: TestClient, instrument: str = SCHOOL, lang: str | None = None) -> str:
    r = client.get(f"/form/{instrument}" + (f"?lang={lang}" if lang else ""))
    assert r.status_code == 200
    return r.text


# --- rendering ----------------------------------------------------------------------------------
def test_index_lists_every_shipped_instrument(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    for key in (SCHOOL, DAYCARE, "topi"):
        inst = get_instrument(key)
        assert f'href="/form/{key}?lang=da"' in r.text
        assert inst.title.da in r.text


@pytest.mark.parametrize("instrument", [SCHOOL, DAYCARE, "topi"])
def test_every_input_has_a_label_and_every_item_a_fieldset(
    client: TestClient, instrument: str
) -> None:
    doc = _blank(client, instrument)
    page = _parse(doc)
    inst = get_instrument(instrument)
    visible = [c for c in page.controls if c.get("type") != "hidden"]
    # One radio per scale option plus "not answered", for every item; form id; age.
    n_radios = sum(len(inst.scale(i.scale).options) + 1 for i in inst.items)
    assert len(visible) == n_radios + 2
    for control in visible:
        assert control.get("id"), control
        assert page.label_for.count(control["id"]) == 1, control["id"]
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    # A fieldset and legend per domain, per item, and one for the child's details.
    assert page.fieldsets == page.legends == len(inst.domains) + len(inst.items) + 1
    names = {c["name"] for c in page.controls}
    assert names == {
        "csrf_token",
        "token",
        "lang",
        "instrument_version",
        "form_id",
        "age_years",
    } | {f"item.{i}" for i in inst.item_ids}
    assert not any("name" in n.lower() and n != "name" for n in names - {"form_id"})


def test_result_page_decision_form_labels_every_input(client: TestClient) -> None:
    r = client.post(f"/form/{SCHOOL}", data=_fields(_token(_blank(client))))
    assert r.status_code == 200
    page = _parse(r.text)
    visible = [
        c
        for c in page.controls
        if c.get("type") not in ("hidden", "submit") and c["tag"] != "button"
    ]
    names = {c.get("name") for c in visible}
    # Who decides and in which role is the login, never a field of the form.
    assert names == {"chosen_step", "notify", "reason"}
    assert len(visible) == 2 + 7  # notify, reason, steps 0-6
    for control in visible:
        assert page.label_for.count(control["id"]) == 1, control["id"]


def test_danish_by_default_english_on_request(with_model: TestClient) -> None:
    item = get_instrument(SCHOOL).item("emo_sad")
    da = _blank(with_model)
    assert '<html lang="da">' in da
    assert item.text.da in da and item.text.en not in da
    assert "Ikke besvaret" in da and "Beregn og se resultat" in da
    assert 'href="/form/opsporing.skole.trivsel?lang=en"' in da  # the switch
    en = _blank(with_model, lang="en")
    assert '<html lang="en">' in en
    assert item.text.en in en and item.text.da not in en
    assert "Not answered" in en and "Score and see result" in en
    assert 'name="lang" value="en"' in en  # the choice survives the POST
    r = with_model.post(f"/form/{SCHOOL}", data=_fields(_token(en), lang="en"))
    assert "The model&#39;s suggestion" in r.text and "Record decision and store" in r.text


def test_unknown_instrument_is_404(client: TestClient) -> None:
    assert client.get("/form/no.such.form").status_code == 404


# --- validation: 422, messages next to the fields, nothing stored ---------------------------------
@pytest.mark.parametrize("cpr", ["010203-1234", "0102031234", "B-0102031234"])
def test_cpr_shaped_form_id_is_refused(client: TestClient, db: Path, cpr: str) -> None:
    token = _token(_blank(client))
    r = client.post(f"/form/{SCHOOL}", data=_fields(token, form_id=cpr))
    assert r.status_code == 422
    assert 'id="form_id-error"' in r.text and "ligner et CPR-nummer" in r.text
    assert f'value="{cpr}"' in r.text  # shown back so it can be corrected ...
    # ... and never stored, not even when posted straight to the decision endpoint.
    r = client.post(f"/form/{SCHOOL}/decision", data=_fields(token, form_id=cpr) | _decision())
    assert r.status_code == 422
    r = client.post(
        f"/form/{SCHOOL}/decision", data=_fields(token) | _decision(reason="barnet 010203-1234")
    )
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert _counts(db) == (0, 0)


def test_scoring_errors_are_shown_next_to_their_fields(client: TestClient, db: Path) -> None:
    token = _token(_blank(client))
    bad = dict(ANSWERS, emo_sad=7, beh_hits="x")
    r = client.post(f"/form/{SCHOOL}", data=_fields(token, bad, age="3"))
    assert r.status_code == 422
    doc = r.text
    # The opsporing messages, each inside its item's fieldset.
    for item, message in (
        ("emo_sad", "Vælg en af mulighederne."),
        ("beh_hits", "Vælg en af mulighederne."),
    ):
        start = doc.index(f'id="item.{item}-fieldset"')
        end = doc.index("</fieldset>", start)
        assert f'id="item.{item}-error"' in doc[start:end]
        assert message in doc[start:end]
    start = doc.index('<label for="age_years">')
    assert "Alderen skal være fra 5 til 17 år" in doc[start : doc.index("<input", start)]
    # Each message in the page's language alone (never "forventet an age ...").
    assert "forventet" not in doc and "expected" not in doc
    assert 'aria-invalid="true"' in doc
    # The error summary links to the fields; the answers given are kept.
    assert 'class="error-summary"' in doc and 'href="#item.emo_sad-fieldset"' in doc
    assert 'id="item.emo_tense-3" name="item.emo_tense" value="3" checked' in doc
    assert _counts(db) == (0, 0)


def test_scoring_errors_on_an_english_page_are_english(client: TestClient, db: Path) -> None:
    token = _token(_blank(client, lang="en"))
    bad = dict(ANSWERS, emo_sad=7)
    r = client.post(f"/form/{SCHOOL}", data=_fields(token, bad, age="3", lang="en"))
    assert r.status_code == 422
    assert "Choose one of the options." in r.text
    assert "The age must be from 5 to 17 years for this form." in r.text
    assert "Vælg" not in r.text and "Alderen" not in r.text
    assert _counts(db) == (0, 0)


def test_missing_form_id_and_age_are_required(client: TestClient, db: Path) -> None:
    r = client.post(f"/form/{SCHOOL}", data=_fields(_token(_blank(client)), form_id="", age=""))
    assert r.status_code == 422
    assert r.text.count("Skal udfyldes.") == 2 * 2  # next to each field and in the summary
    assert _counts(db) == (0, 0)


def test_a_forged_token_is_refused(client: TestClient, db: Path) -> None:
    r = client.post(f"/form/{SCHOOL}/decision", data=_fields("not-a-token") | _decision())
    assert r.status_code == 422 and "Åbn et nyt skema" in r.text
    assert _counts(db) == (0, 0)


# --- the result page ----------------------------------------------------------------------------
def test_result_shows_scores_bands_concerns_and_protective_factors(
    client: TestClient, db: Path
) -> None:
    r = client.post(f"/form/{SCHOOL}", data=_fields(_token(_blank(client))))
    assert r.status_code == 200
    doc = _norm(r.text)
    voc = load_vocabulary()
    emotional = get_instrument(SCHOOL).domain("emotional").label.da
    # emotional = 8 (prorated from 3 of 4 answers), band rød; 3/4 answered.
    assert re.search(
        rf"<th scope=\"row\">{emotional}</th> <td>8</td> <td>3/4</td> "
        rf"<td><span class=\"band band-rød\">{voc.band('rød').label.da}</span>",
        doc,
    )
    assert "Ikke scoret (for få svar)" in doc  # unanswered domains are unknown, not zero
    for code in ("emotional.sadness", "emotional.anxiety"):
        assert get_concept(code).label.da in doc
    assert get_concept("protective.trusted_adult").label.da in doc
    assert 'id="overall-band">Rød</span>' in doc
    assert 'id="red-flag-notice"' not in doc
    assert _counts(db) == (0, 0)  # seeing a result stores nothing


@pytest.mark.parametrize("lang", ["da", "en"])
def test_red_flag_notice_is_the_first_thing_on_the_page(client: TestClient, lang: str) -> None:
    answers = dict(ANSWERS, saf_disclosure=1)
    token = _token(_blank(client, lang=lang))
    r = client.post(f"/form/{SCHOOL}", data=_fields(token, answers, lang=lang))
    assert r.status_code == 200
    doc = _norm(r.text)
    voc = load_vocabulary()
    body = doc[doc.index("<body>") + len("<body>") :].lstrip()
    assert body.startswith('<section class="notice red-flag" id="red-flag-notice" role="alert"')
    notice = body[: body.index("</section>")]
    assert _norm(voc.duty_to_notify.get(lang)) in notice  # type: ignore[arg-type]
    assert voc.duty_to_notify_basis.get(lang) in notice  # type: ignore[arg-type]
    assert get_concept("safety.disclosure").label.get(lang) in notice  # type: ignore[arg-type]
    for later in ("<header", "<h1>", 'id="scores-title"', 'id="suggestion-title"', "<form"):
        assert doc.index('id="red-flag-notice"') < doc.index(later)


@pytest.mark.parametrize(
    ("bad", "lang"),
    [
        ({"age": "ti år"}, "da"),  # an age that is not a number
        ({"age": ""}, "en"),  # no age
        ({"form_id": ""}, "da"),  # no id
        ({"answers": {"emo_sad": 9}}, "da"),  # another item out of range
        ({"token": "x"}, "en"),  # a broken form token
    ],
)
def test_the_duty_to_notify_shows_on_the_error_page_too(
    client: TestClient, db: Path, bad: dict[str, Any], lang: str
) -> None:
    """Whatever else is wrong with the form, a red-flag answer shows the § 133 notice."""
    answers = dict(ANSWERS, saf_disclosure=1, **bad.get("answers", {}))
    token = bad.get("token") or _token(_blank(client, lang=lang))
    fields = _fields(
        token, answers, lang=lang, form_id=bad.get("form_id", "B-2026-041"), age=bad.get("age", "9")
    )
    r = client.post(f"/form/{SCHOOL}", data=fields)
    assert r.status_code == 422  # the form is rejected ...
    doc = _norm(r.text)
    voc = load_vocabulary()
    # ... and the notice is still the first thing on the page
    body = doc[doc.index("<body>") + len("<body>") :].lstrip()
    assert body.startswith('<section class="notice red-flag" id="red-flag-notice" role="alert"')
    assert get_concept("safety.disclosure").label.get(lang) in body[: body.index("</section>")]
    assert voc.duty_to_notify_basis.get(lang) in doc  # type: ignore[arg-type]
    assert _counts(db) == (0, 0)


def test_an_error_page_without_a_red_flag_has_no_notice(client: TestClient) -> None:
    token = _token(_blank(client))
    r = client.post(
        f"/form/{SCHOOL}", data=_fields(token, dict(ANSWERS, saf_disclosure=0), age="ti")
    )
    assert r.status_code == 422 and 'id="red-flag-notice"' not in r.text


# --- the suggestion panel ----------------------------------------------------------------------
@needs_decision
def test_the_panel_shows_the_models_suggestion_probabilities_reasons_and_plot(
    with_model: TestClient, small_model: Any
) -> None:
    from opsporing.decision import suggest
    from opsporing.explain import Explainer

    answers = _full(1)
    r = with_model.post(f"/form/{SCHOOL}", data=_fields(_token(_blank(with_model)), answers))
    assert r.status_code == 200
    # What opsporing.decision itself suggests for this form.
    table = score_batch(
        get_instrument(SCHOOL), pd.DataFrame([answers]).assign(age_years=9.0), keep=["age_years"]
    )
    expected = suggest(small_model, table, explainer=Explainer(small_model))
    assert expected.kind == "step" and expected.step is not None
    assert expected.probabilities is not None and expected.explanation is not None
    doc = _norm(r.text)
    panel = doc[doc.index('id="model-suggestion"') : doc.index('id="decision-title"')]
    step = load_vocabulary().step(expected.step)
    assert f"Foreslået trin: {step.number} – {step.label.da}" in panel
    assert step.who_acts.da in panel
    for k, p in enumerate(expected.probabilities):
        label = load_vocabulary().step(k).label.da
        mark = (
            ' <strong class="suggested-mark">◀ Foreslået trin</strong>'
            if k == expected.step
            else ""
        )
        assert f'<th scope="row">{k} – {label}{mark}</th> <td>{p * 100:.0f} %' in panel
    assert panel.count("suggested-mark") == 1  # the suggested step is marked in the table
    assert _norm(expected.rule.da) in panel  # the rule in one sentence with its numbers
    for w in expected.what_would_change:
        assert _norm(w.sentence("da")) in panel
    assert expected.explanation.da in panel
    for reason in expected.reasons:
        assert reason.label.da in panel
    assert 'id="explanation-plot"' in panel and "data:image/png;base64," in panel
    # The suggested step is marked in the decision form, and the form says which suggestion.
    marked = re.findall(
        r'<label for="chosen_step-(\d)">\s*<strong>[^<]*</strong>\s*<span class="badge"', r.text
    )
    assert marked == [str(expected.step)]
    assert _suggestion_id(r.text) == expected.suggestion_id


@needs_decision
def test_an_abstaining_panel_shows_why_and_no_probabilities(with_model: TestClient) -> None:
    """3 of 32 items answered: the panel says why, and shows no step probabilities,
    no reasons crediting domains it marks as not scored, and no plot."""
    answers = {"emo_sad": 3, "soc_bullied": 3, "beh_hits": 3}
    r = with_model.post(f"/form/{SCHOOL}", data=_fields(_token(_blank(with_model)), answers))
    assert r.status_code == 200
    doc = _norm(r.text)
    panel = doc[doc.index('id="model-suggestion"') : doc.index('id="decision-title"')]
    assert 'data-kind="abstain"' in panel
    assert "Utilstrækkelig information" in panel and "af spørgsmålene er ubesvarede" in panel
    assert 'class="probabilities"' not in panel and " %" not in panel.replace("25 %", "").replace(
        "91 %", ""
    )
    assert 'id="explanation-plot"' not in panel and 'class="reasons"' not in panel


def test_without_a_model_the_panel_says_so_and_a_reason_is_required(
    client: TestClient, db: Path
) -> None:
    result, r = _decide(client, _full(1), _decision(chosen_step="1", reason=""))
    assert 'id="no-model"' in result.text and "Ingen model tilgængelig" in result.text
    assert 'class="badge"' not in result.text  # no step is marked as suggested
    assert "Påkrævet: der er intet foreslået trin at følge" in result.text
    assert _suggestion_id(result.text) == ""
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert _counts(db) == (0, 0)
    _, r = _decide(client, _full(1), _decision(chosen_step="1"))
    assert r.status_code == 303
    row = opened_rows(db)[0]
    suggestion, decision = row["suggestion_json"], row["decision_json"]
    assert json.loads(suggestion)["available"] is False
    assert json.loads(suggestion)["step"] is None
    assert json.loads(decision)["follows_suggestion"] is False


@needs_decision
def test_a_model_that_fails_shows_no_suggestion(
    with_model: TestClient, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opsporing.decision

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ModelError("X: columns differ from the model's features")

    monkeypatch.setattr(opsporing.decision, "suggest", broken)
    result, r = _decide(with_model, _full(1), _decision(chosen_step="1"))
    assert 'id="no-model"' in result.text
    assert "Modellen kunne ikke give et forslag" in result.text
    assert r.status_code == 303
    suggestion = opened_rows(db)[0]["suggestion_json"]
    assert json.loads(suggestion)["model_failed"] is True


# --- the decision ----------------------------------------------------------------------------
@needs_decision
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"chosen_step": None}, "chosen_step"),
        ({"chosen_step": "7"}, "chosen_step"),
        ({"chosen_step": "OVERRIDE", "reason": ""}, "reason"),  # another step, no reason
        ({"chosen_step": "3", "reason": "x"}, "chosen_step"),  # only the municipality: 3-6
    ],
)
def test_a_decision_is_required_before_anything_is_stored(
    with_model: TestClient,
    db: Path,
    suggested: dict[int, int | None],
    change: dict[str, str | None],
    field: str,
) -> None:
    if change.get("chosen_step") == "OVERRIDE":
        change = change | {"chosen_step": _other_step(suggested[1])}
    result, r = _decide(with_model, _full(1), _decision(**change))
    assert f"Foreslået trin: {suggested[1]}" in result.text
    assert r.status_code == 422
    assert f'id="{field}-error"' in r.text
    assert 'class="error-summary"' in r.text
    if change.get("chosen_step") == "3":
        assert "Trin 3-6 kræver kommunens egen vurdering" in r.text
    assert _counts(db) == (0, 0)


@needs_decision
def test_following_the_suggestion_needs_no_reason_and_stores_both_rows(
    with_model: TestClient,
    db: Path,
    suggested: dict[int, int | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = _full(1)
    step = suggested[1]
    with caplog.at_level(logging.DEBUG):
        result, r = _decide(with_model, answers, _decision(chosen_step=str(step), reason=None))
    assert r.status_code == 303
    assert r.headers["location"] == "/screenings/1?lang=da&purpose=opsporing"
    assert _counts(db) == (1, 1)
    with sqlite3.connect(db) as con:
        (key,) = con.execute("SELECT idempotency_key FROM screenings").fetchone()
    s = d = opened_rows(db)[0]
    inst = get_instrument(SCHOOL)
    assert key == _token(result.text)
    assert (s["form_id"], s["instrument"], s["age_years"]) == ("B-2026-041", inst.key, 9.0)
    assert json.loads(s["answers_json"]) == answers
    assert json.loads(s["scores_json"]) == json.loads(
        json.dumps(score_form(inst, answers, age_years=9).to_dict())
    )
    assert s["created_at"] == d["created_at"] == NOW.isoformat(timespec="microseconds")
    assert (d["screening_id"], d["decision_id"]) == (1, 1)
    assert (d["suggested_step"], d["chosen_step"], d["notify"]) == (step, step, 0)
    assert (d["role"], d["professional_id"], d["reason"]) == ("skole", "P-0042", None)
    suggestion = json.loads(d["suggestion_json"])
    decision = json.loads(d["decision_json"])
    assert suggestion["suggestion_id"] == _suggestion_id(result.text)
    assert (suggestion["kind"], suggestion["step"]) == ("step", step)
    assert decision["suggestion_id"] == suggestion["suggestion_id"]
    assert decision["follows_suggestion"] is True
    assert decision["decided_at"] == NOW.isoformat()
    assert len(decision["decision_id"]) == 64  # made by Decision.record, hashed
    # The receipt.
    receipt = with_model.get(r.headers["location"])
    assert receipt.status_code == 200 and 'id="screening-id">1<' in receipt.text
    # No personal identifier reaches the logs.
    for secret in ("B-2026-041", "P-0042"):
        assert secret not in caplog.text
    assert "screening 1 and decision 1 stored" in caplog.text


@needs_decision
def test_an_override_with_a_reason_is_stored_as_an_override(
    with_model: TestClient, db: Path, suggested: dict[int, int | None]
) -> None:
    reason = _decision()["reason"]
    chosen = _other_step(suggested[1])
    _, r = _decide(with_model, _full(1), _decision(chosen_step=chosen))
    assert r.status_code == 303
    o = opened_rows(db)[0]
    row = (o["suggested_step"], o["chosen_step"], o["reason"], o["decision_json"])
    assert row[:3] == (suggested[1], int(chosen), reason)
    assert json.loads(row[3])["follows_suggestion"] is False
    assert json.loads(row[3])["reason"] == reason


@needs_decision
def test_a_municipal_step_is_followed_by_notifying(
    with_model: TestClient, db: Path, suggested: dict[int, int | None], web_login: Any
) -> None:
    # Step 3 or more suggested: a school follows it by acting on step 0-2 and notifying.
    step = suggested[2]
    result, r = _decide(with_model, _full(2), _decision(chosen_step="2", notify="1", reason=None))
    assert f"Foreslået trin: {step}" in result.text
    assert "Trinnet kræver kommunens egen vurdering" in result.text
    assert r.status_code == 303
    # The municipality itself may choose it: a user logged in with the role myndighed.
    municipality = _as(with_model, web_login, "M-0001", "myndighed")
    _, r = _decide(municipality, _full(2), _decision(chosen_step=str(step), reason=None))
    assert r.status_code == 303
    rows = [(o["role"], o["chosen_step"], o["notify"], o["decision_json"]) for o in opened_rows(db)]
    got = [(a, b, c, json.loads(d)["follows_suggestion"]) for a, b, c, d in rows]
    assert got == [("skole", 2, 1, True), ("myndighed", step, 0, True)]
    ids = [o["professional_id"] for o in opened_rows(db)]
    assert ids == ["P-0042", "M-0001"]  # who was logged in


@needs_decision
def test_a_red_flag_is_followed_by_notifying_and_overridden_only_with_a_reason(
    client: TestClient, db: Path
) -> None:
    # No model is needed: a red flag bypasses it.
    answers = dict(ANSWERS, saf_disclosure=1)
    result, r = _decide(client, answers, _decision(chosen_step="1", reason=None))
    assert 'data-kind="notify"' in result.text
    assert "Rødt flag: følg underretningspligten nu" in result.text
    assert r.status_code == 422 and 'id="reason-error"' in r.text  # notify not ticked
    assert _counts(db) == (0, 0)
    _, r = _decide(client, answers, _decision(chosen_step="1", reason=None, notify="1"))
    assert r.status_code == 303
    receipt = client.get(r.headers["location"]).text
    assert 'id="notified">Ja<' in receipt
    assert receipt.lstrip().startswith("<!doctype html>")
    assert receipt.index('id="red-flag-notice"') < receipt.index("<header")
    _, r = _decide(client, answers, _decision(chosen_step="1"))  # override, reason
    assert r.status_code == 303
    rows = [
        (o["notify"], o["reason"], o["suggestion_json"], o["decision_json"])
        for o in opened_rows(db)
    ]
    got = [
        (n, reason, json.loads(s)["kind"], json.loads(d)["follows_suggestion"])
        for n, reason, s, d in rows
    ]
    assert got == [(1, None, "notify", True), (0, _decision()["reason"], "notify", False)]


@needs_decision
def test_a_decision_on_another_suggestion_is_refused(with_model: TestClient, db: Path) -> None:
    data = _fields(_token(_blank(with_model)), _full(1), suggestion_id="0" * 64)
    r = with_model.post(f"/form/{SCHOOL}/decision", data=data | _decision())
    assert r.status_code == 422
    assert "Forslaget er ændret" in r.text
    assert _suggestion_id(r.text) != "0" * 64  # the page shows the current suggestion
    assert _counts(db) == (0, 0)


def test_a_double_submit_stores_once(client: TestClient, db: Path) -> None:
    result, first = _decide(client)
    data = _fields(_token(result.text), suggestion_id=_suggestion_id(result.text)) | _decision()
    second = client.post(f"/form/{SCHOOL}/decision", data=data)
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == "/screenings/1?lang=da&purpose=opsporing&duplicate=1"
    assert 'id="duplicate"' in client.get(second.headers["location"]).text
    assert _counts(db) == (1, 1)


def test_a_reused_token_with_other_answers_is_refused(client: TestClient, db: Path) -> None:
    result, first = _decide(client)
    assert first.status_code == 303
    other = _fields(_token(result.text), dict(ANSWERS, emo_sad=0))
    page = client.post(f"/form/{SCHOOL}", data=other)
    other["suggestion_id"] = _suggestion_id(page.text)
    r = client.post(f"/form/{SCHOOL}/decision", data=other | _decision())
    assert r.status_code == 409
    assert _counts(db) == (1, 1)


def test_each_rendered_form_has_its_own_token(client: TestClient) -> None:
    assert _token(_blank(client)) != _token(_blank(client))


# --- the audit log ------------------------------------------------------------------------------
def test_the_web_code_has_no_update_or_delete_statement() -> None:
    forbidden = re.compile(
        r"\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bREPLACE\s+INTO\b|\bINSERT\s+OR\s+REPLACE\b"
        r"|\bDO\s+UPDATE\b|\bDROP\s+TABLE\b|\bTRUNCATE\b",
        re.IGNORECASE,
    )
    files = sorted(WEB.rglob("*.py"))
    assert WEB / "_store.py" in files
    # The key store is not the log: destroying a child's key is its one job (issue 18). It
    # removes rows only from its own table, in its own file.
    keystore = WEB / "_keystore.py"
    files.remove(keystore)
    deletes = re.findall(r"\bDELETE\s+FROM\s+(\w+)", keystore.read_text(encoding="utf-8"))
    assert deletes == ["child_keys"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not forbidden.search(text), f"{path.name}: {forbidden.search(text)}"


def test_the_database_refuses_changes_to_stored_rows(client: TestClient, db: Path) -> None:
    assert _decide(client)[1].status_code == 303
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for statement in (
            "UPDATE screenings SET form_id = 'x'",
            "DELETE FROM screenings",
            "UPDATE decisions SET chosen_step = 0",
            "DELETE FROM decisions",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(statement)
    assert _counts(db) == (1, 1)


def test_a_failing_decision_insert_leaves_no_screening(db: Path) -> None:
    log = AuditLog(db)
    sub = Submission(
        idempotency_key="a" * 32,
        form_id="B-1",
        instrument="topi@1.0.0",
        age_years=4.0,
        answers={"1vurdering": 1},
        scores={},
        suggestion={},
        suggested_step=None,
        chosen_step=9,  # breaks the decisions table's CHECK, after the screening's INSERT
        notify=False,
        role="paedagog",
        professional_id="P-1",
        reason="r",
        decision=signed_decision(1),  # a real decision: the store checks its signature first
    )
    with pytest.raises(StorageError, match="not stored"):
        log.record(sub)
    assert log.counts() == {"screenings": 0, "decisions": 0}


def test_an_unopenable_database_raises_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StorageError, match="cannot open"):
        AuditLog(tmp_path / "dir.sqlite")


# --- one language per page, Danish dates --------------------------------------------------------
def test_the_receipt_says_when_in_the_page_language_and_danish_time(client: TestClient) -> None:
    _, r = _decide(client)
    assert r.status_code == 303
    stamp = NOW.isoformat(timespec="microseconds")  # 08:00 UTC = 09:00 in Copenhagen (CET)
    # The receipt asks why first (issue 18): the purpose of the receipt after recording.
    da = client.get("/screenings/1?lang=da&purpose=opsporing").text
    assert f'<time datetime="{stamp}">23. november 2026 09.00</time>' in da
    en = client.get("/screenings/1?lang=en&purpose=opsporing").text
    assert f'<time datetime="{stamp}">23 November 2026, 09:00</time>' in en


@pytest.mark.parametrize("lang", ["da", "en"])
def test_every_page_speaks_one_language(client: TestClient, lang: str) -> None:
    from opsporing.web._i18n import UI

    other = "en" if lang == "da" else "da"
    ours = {UI(lang)[k] for k in UI(lang)}
    # Messages of the other language that differ from ours and are long enough to be telling
    # (the language switch names the other language on purpose).
    foreign = {
        text
        for key in UI(other)
        if key != "switch_lang" and len(text := UI(other)[key]) >= 8 and text not in ours
    }
    page = html.unescape(_blank(client, lang=lang))
    assert not [text for text in foreign if text.split("{")[0] in page]
    assert UI(lang)["score_button"] in page


def test_the_current_forms_lead_the_index_and_days_absent_is_typed_as_a_number(
    client: TestClient,
) -> None:
    """The age-fitted forms come first; a count item is a number field, and it scores."""
    index = client.get("/").text
    positions = [index.find(f"/form/{i}") for i in ("opsporing.dagtilbud.0-2",
                 "opsporing.skole.7-10", "opsporing.skole.trivsel")]
    assert -1 < positions[0] < positions[1] < positions[2]
    new = "opsporing.skole.0-6"
    page = _blank(client, new)
    assert re.search(r'<input type="number" id="item\.dev_absence_days" '
                     r'name="item\.dev_absence_days" value=""\s+min="0" max="65"', page)
    inst = get_instrument(new)
    answers: dict[str, Any] = {i.id: 0 for i in inst.items}
    answers["dev_absence_days"] = 14  # critical from 13 days: at least gul
    data = _fields(_token(page), answers)
    result = client.post(f"/form/{new}", data=data)
    assert result.status_code == 200, result.text[:500]
    # All zeros but 14 days: the critical answer alone raises the overall band to gul.
    overall = re.search(r'band-(\w+)" id="overall-band"', result.text)
    assert overall and overall.group(1) == "gul", result.text[:2000]
    bad = client.post(f"/form/{new}", data=_fields(_token(_blank(client, new)),
                                                   answers | {"dev_absence_days": 70}))
    assert bad.status_code in (200, 422) and "dev_absence_days" in bad.text
