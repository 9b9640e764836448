"""The exported SDC Questionnaire rendered and scored live by LHC-Forms in headless Chromium.

LHC-Forms (npm ``lforms``, the National Library of Medicine's FHIR form renderer, whose
FHIRPath engine is fhirpath.js) is installed with npm into a cache directory outside the
repository (``$OPSPORING_LFORMS_DIR``, else ``~/.cache/opsporing/lforms-<version>``); nothing is
vendored. The test answers each question with the keyboard as a person would, then reads the
QuestionnaireResponse LHC-Forms builds, whose calculated answers must equal score_form.

Skipped when Chromium or npm (or the network, for the first install) is missing, unless ``CI``
is set: then it fails instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import random
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsporing.fhir import to_questionnaire
from opsporing.instruments import Instrument, get_instrument
from opsporing.scoring import score_form

LFORMS_VERSION = "40.1.3"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGE = """<!doctype html><html lang="da"><head><meta charset="utf-8">
<link rel="stylesheet" href="/webcomponent/styles.css"></head>
<body><div id="form"></div>
<script src="/webcomponent/assets/lib/zone.min.js"></script>
<script src="/webcomponent/runtime.js"></script>
<script src="/webcomponent/polyfills.js"></script>
<script src="/webcomponent/main.js"></script>
<script src="/fhir/R4/lformsFHIR.min.js"></script>
</body></html>"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the LHC-Forms test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def lforms_dist() -> Path:
    if not CHROMIUM.exists():
        _unavailable("no /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright")
    cache = Path(
        os.environ.get("OPSPORING_LFORMS_DIR")
        or Path.home() / ".cache" / "opsporing" / f"lforms-{LFORMS_VERSION}"
    )
    dist = cache / "node_modules" / "lforms" / "dist" / "lforms"
    if not (dist / "webcomponent" / "main.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed: cannot install LHC-Forms")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(cache), f"lforms@{LFORMS_VERSION}", "--no-audit",
             "--no-fund", "--legacy-peer-deps", "--ignore-scripts"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not (dist / "webcomponent" / "main.js").exists():
            _unavailable(f"npm could not install lforms@{LFORMS_VERSION}: {done.stderr[-300:]}")
    return dist


@pytest.fixture(scope="module")
def page_url(lforms_dist: Path) -> Iterator[str]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/form.html":
                body = PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = socketserver.ThreadingTCPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(lforms_dist))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/form.html"
    finally:
        server.shutdown()
        server.server_close()


def _forms(instrument: Instrument, n: int, seed: int) -> list[dict[str, int]]:
    """Random forms; items of a required domain (safety) are always answered."""
    rng = random.Random(seed)
    forms = []
    for _ in range(n):
        p = rng.choice([0.2, 0.5])
        forms.append(
            {
                i.id: rng.choice(instrument.scale(i.scale).values)
                for i in instrument.items
                if instrument.domain(i.domain).required or rng.random() > p
            }
        )
    return forms


def _critical_only(instrument: Instrument) -> dict[str, int]:
    """Every item at its lowest, one safety item "Usikker": critical, no red flag (gul)."""
    form = {i.id: instrument.scale(i.scale).min for i in instrument.items}
    item = next(i for i in instrument.items if i.critical is not None and i.critical.min == 1)
    return form | {item.id: 1}


def _answers(response: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in response.get("item", []):
        out |= _answers(item)
        for answer in item.get("answer", []):
            (value,) = (v for k, v in answer.items() if k.startswith("value"))
            out[item["linkId"]] = value
    return out


CASES = [("topi", form) for form in ({}, {"1vurdering": 0}, {"1vurdering": 2})] + [
    ("opsporing.skole.trivsel", form)
    for form in _forms(get_instrument("opsporing.skole.trivsel"), 2, seed=7)
]
# An issue-17 form (overall: total; required safety items; a count typed as a number).
CASES += [
    ("opsporing.skole.0-6", form)
    for form in [
        *_forms(get_instrument("opsporing.skole.0-6"), 1, seed=3),
        _critical_only(get_instrument("opsporing.skole.0-6")),
    ]
]


@pytest.mark.slow
def test_lhc_forms_scores_the_questionnaire_live(page_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=30_000
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            for instrument_id, form in CASES:
                # A fresh page per form: an emptied container kept the previous form's
                # red-flag notice on the page (seen with a red-flag form, then one without).
                page.goto(page_url)
                page.wait_for_function("() => !!(window.LForms && window.LForms.FHIR)")
                instrument = get_instrument(instrument_id)
                q = to_questionnaire(instrument)
                page.evaluate(
                    "async (q) => { document.getElementById('form').innerHTML = '';"
                    " await LForms.Util.addFormToPage(q, 'form', {fhirVersion: 'R4'}); }",
                    q,
                )
                for item_id, value in form.items():
                    scale = instrument.scale(instrument.item(item_id).scale)
                    if scale.is_number:  # a count: an integer field, typed
                        page.locator(f'[id="{item_id}/1/1"]').fill(str(value))
                        continue
                    # Each answer list is an autocomplete field: focus, arrow down to the
                    # option, Enter, as someone using the keyboard would.
                    index = scale.values.index(value)
                    page.locator(f'[id="{item_id}/1/1"]').click()
                    for _ in range(index + 1):
                        page.keyboard.press("ArrowDown")
                    page.keyboard.press("Enter")
                page.keyboard.press("Tab")  # leave the last field so its answer is committed
                page.wait_for_timeout(300)
                response = page.evaluate(
                    "() => LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4',"
                    " document.getElementById('form'))"
                )
                got = _answers(response)
                expected = score_form(instrument, form)
                entered = {
                    k: v if isinstance(v, int) else int(v["code"])
                    for k, v in got.items()
                    if k in form
                }
                assert entered == form, (instrument_id, form)
                for d, s in expected.domains.items():
                    score = got.get(f"score:{d}")
                    assert (score is None) == (s.score is None), (form, d, score, s.score)
                    if s.score is not None:
                        assert score == pytest.approx(s.score, rel=1e-9), (form, d)
                    assert got.get(f"band:{d}") == s.band, (form, d)
                if instrument.total is not None:
                    total = got.get("total:score")
                    assert (total is None) == (expected.total is None)
                    if expected.total is not None:
                        assert total == pytest.approx(expected.total, rel=1e-9)
                    assert got.get("total:band") == expected.total_band
                assert got.get("overall:band") == expected.overall_band, form
                notice = page.get_by_text("overvej underretning nu")
                assert (notice.count() > 0) is expected.red_flag, form
                assert got.get("red-flag", False) is expected.red_flag, form
            assert errors == []
            page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / "lforms.png"))
        finally:
            browser.close()
