"""The web form with a number item, a required safety item and critical answers (issue 17),
on the small test instrument tests/data/total_instrument.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from opsporing.instruments import Instrument, get_instrument, load_instrument
from opsporing.web import create_app

from .test_web import NOW, _fields, _parse, _token

TOTAL = load_instrument(Path(__file__).parent / "data" / "total_instrument.yaml")
CALM: dict[str, Any] = {
    "m1": 0, "m2": 1, "m3": 3, "c1": 0, "absence": 2, "k1": 0,
    "s1": 0, "s2": 0, "r1": 3, "r2": 3,
}  # fmt: skip


@pytest.fixture
def client(tmp_path: Path, web_login: Any, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The app serving the test instrument as ``test.total`` (and the shipped ones)."""
    from opsporing.web import _app

    def lookup(instrument_id: str, version: str | None = None) -> Instrument:
        return TOTAL if instrument_id == TOTAL.id else get_instrument(instrument_id, version)

    monkeypatch.setattr(_app, "get_instrument", lookup)
    app = create_app(tmp_path / "audit.sqlite", clock=lambda: NOW, model=None)
    return web_login(app)  # type: ignore[no-any-return]


def _blank(client: TestClient) -> str:
    r = client.get(f"/form/{TOTAL.id}")
    assert r.status_code == 200
    return r.text


def _post(client: TestClient, answers: dict[str, Any], drop: tuple[str, ...] = ()) -> Any:
    data = _fields(_token(_blank(client)), answers, age="8")
    for item in drop:
        del data[f"item.{item}"]
    return client.post(f"/form/{TOTAL.id}", data=data)


def _fieldset(doc: str, item: str) -> str:
    start = doc.index(f'id="item.{item}-fieldset"')
    return doc[start : doc.index("</fieldset>", start)]


def test_number_item_is_a_bounded_number_input(client: TestClient) -> None:
    doc = _blank(client)
    controls = [c for c in _parse(doc).controls if c.get("name") == "item.absence"]
    assert len(controls) == 1
    (box,) = controls
    assert (box["type"], box["min"], box["max"], box["step"]) == ("number", "0", "65", "1")
    assert "dage" in _fieldset(doc, "absence")


def test_safety_items_have_no_not_answered_choice(client: TestClient) -> None:
    doc = _blank(client)
    radios = [c for c in _parse(doc).controls if c.get("name") == "item.s1"]
    assert [r["value"] for r in radios] == ["0", "1", "2"]
    assert all("required" in r for r in radios)
    assert "item.m1-none" in doc  # an ordinary item keeps "not answered"


def test_a_blank_safety_item_is_an_error_next_to_it(client: TestClient) -> None:
    r = _post(client, CALM, drop=("s2",))
    assert r.status_code == 422
    assert "et tomt svar læses aldrig som “nej”" in _fieldset(r.text, "s2")


def test_a_number_outside_the_range_names_the_range(client: TestClient) -> None:
    r = _post(client, {**CALM, "absence": 70})
    assert r.status_code == 422
    assert "Skriv et helt tal fra 0 til 65." in _fieldset(r.text, "absence")
    assert 'value="70"' in _fieldset(r.text, "absence")


def test_critical_answers_are_listed_with_what_to_do_now(client: TestClient) -> None:
    r = _post(client, {**CALM, "absence": 20})
    assert r.status_code == 200, r.text[:2000]
    section = re.search(r'<section class="critical".*?</section>', r.text, re.S)
    assert section is not None
    assert "Kontakt forældrene i dag" in section.group(0) and "(20)" in section.group(0)
    calm = _post(client, CALM)
    assert calm.status_code == 200 and 'class="critical"' not in calm.text
