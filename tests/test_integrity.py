"""Integrity: damaged or mismatched files refuse with a typed error that says what and where.

Already covered elsewhere (not repeated here):

- a model file with a flipped byte, a manifest naming another scikit-learn version, a missing
  model manifest: ``tests/test_model.py::test_load_model_checks_signature_hash_and_versions``;
  forged, oversized and code-running model files: ``tests/test_attacks_models.py``;
- a truncated Parquet file caught by its SHA-256, missing files and a missing default data
  set: ``tests/test_synthetic.py::test_loading_a_missing_or_damaged_file_is_a_data_error``;
- an unknown instrument version asked of the registry:
  ``tests/test_instruments.py::test_unknown_instrument_and_version``; a batch whose
  ``instrument_version`` column is wrong: ``tests/test_scoring.py``; a FHIR
  QuestionnaireResponse for another version: ``tests/test_fhir.py``.

This file adds the cases those leave open, and the audit log killed mid-write.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opsporing.errors import (
    DataError,
    ModelIntegrityError,
    OpsporingError,
    ResponseValidationError,
)
from opsporing.instruments import get_instrument
from opsporing.model import generate_keypair, load_model, read_manifest
from opsporing.model._artifact import default_model_path, library_versions
from opsporing.model._keys import sign_bytes
from opsporing.scoring import score_batch, score_form
from opsporing.synthetic import SyntheticPopulation, _population

from .conftest import opened_rows

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SYNTHETIC = ROOT / "data" / "synthetic"
SCHOOL = "opsporing.skole.trivsel"


# --- the model file ------------------------------------------------------------------------------
# A manifest rewritten by hand no longer fits the release signature (tests/test_attacks_models.py).
# To reach the checks behind the signature, these tests sign their rewritten manifests with
# a key of their own and trust it, as a municipality signs the model it retrains.
@pytest.fixture(scope="module")
def own_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("key")
    public = generate_keypair(folder / "own.pem")
    return folder / "own.pem", Path(public.source)


@pytest.fixture
def model_dir(tmp_path: Path, own_key: tuple[Path, Path]) -> Path:
    """A private copy of the shipped model directory, to damage."""
    shutil.copytree(MODELS, tmp_path / "m")
    return tmp_path / "m"


def _sign(directory: Path, text: bytes, key: Path) -> None:
    (directory / "manifest.json").write_bytes(text)
    (directory / "manifest.json.sig").write_text(sign_bytes(text, key), encoding="utf-8")


def _rewrite_manifest(directory: Path, key: Path, **changes: Any) -> None:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(changes)
    _sign(directory, json.dumps(manifest).encode("utf-8"), key)


def test_the_default_model_path_is_the_source_checkouts() -> None:
    assert default_model_path() == MODELS / "step_suggester.skops"
    assert load_model().artifact_sha256_ == read_manifest(MODELS)["sha256"]


@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_one_flipped_byte_anywhere_refuses_to_load(model_dir: Path, where: float) -> None:
    path = model_dir / "step_suggester.skops"
    raw = bytearray(path.read_bytes())
    at = int(where * len(raw)) if where >= 0 else len(raw) - 1
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message
    assert f"sha256 = {hashlib.sha256(raw).hexdigest()}" in message
    assert f"expected {read_manifest(MODELS)['sha256']}" in message


def test_a_longer_or_shorter_file_is_refused_by_its_size_before_hashing(model_dir: Path) -> None:
    path = model_dir / "step_suggester.skops"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match=r"size = \d+ bytes: expected \d+") as err:
        load_model(path)
    assert "sha256" not in str(err.value)  # refused by its size, never read


@pytest.mark.parametrize(
    ("library", "saved"),
    [("numpy", "1.26.4"), ("skops", "0.9.0"), ("opsporing", "0.0.9"), ("opsporing", "1.1.0")],
)
def test_a_model_from_another_library_version_refuses(
    model_dir: Path, own_key: tuple[Path, Path], library: str, saved: str
) -> None:
    manifest = read_manifest(model_dir)
    _rewrite_manifest(model_dir, own_key[0], versions={**manifest["versions"], library: saved})
    with pytest.raises(ModelIntegrityError) as err:
        load_model(model_dir, trusted_keys=[own_key[1]])
    running = library_versions()[library]
    assert str(model_dir / "step_suggester.skops") in str(err.value)
    assert f"{library} version = {saved}: expected the running {running}" in str(err.value)


def test_a_model_of_the_same_opsporing_minor_version_loads(
    model_dir: Path, own_key: tuple[Path, Path]
) -> None:
    running = library_versions()["opsporing"]
    patch = ".".join([*running.split(".")[:2], "999"])
    manifest = read_manifest(model_dir)
    _rewrite_manifest(model_dir, own_key[0], versions={**manifest["versions"], "opsporing": patch})
    model = load_model(model_dir, trusted_keys=[own_key[1]])
    assert model.classes_.tolist() == list(range(7))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "cannot be read"),
        ('{"format": "opsporing-model-manifest/2", "sha2', "cannot be read"),
        ("\udcff", "cannot be read"),
        ("[1, 2]", "format = 'list': expected 'opsporing-model-manifest/2'"),
        ('{"format": "other/9"}', "format = 'other/9': expected 'opsporing-model-manifest/2'"),
        ('{"format": "opsporing-model-manifest/1"}', "format 1 was a pickle"),
    ],
)
def test_a_garbled_manifest_refuses(
    model_dir: Path, own_key: tuple[Path, Path], text: str, expected: str
) -> None:
    _sign(model_dir, text.encode("utf-8", "surrogateescape"), own_key[0])
    with pytest.raises(ModelIntegrityError) as err:
        load_model(model_dir, trusted_keys=[own_key[1]])
    assert str(model_dir / "manifest.json") in str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        # Each of these used to end in AttributeError/TypeError or a misleading message.
        ("versions", ["scikit-learn"], "versions = ['scikit-learn']: expected an object"),
        ("versions", None, "versions = None: expected an object"),
        ("versions", {"numpy": 2}, "versions = {'numpy': 2}: expected an object"),
        ("features", 3, "features = 3: expected a list of feature names"),
        ("sha256", None, "sha256 = None: expected 64 lower-case hex digits"),
        ("sha256", "abc", "sha256 = 'abc': expected 64 lower-case hex digits"),
        ("size", "1560641", "size = '1560641': expected the file's size in bytes"),
        ("size", 10**12, "size = 1000000000000: expected the file's size in bytes"),
        ("size", True, "size = True: expected the file's size"),
        ("model_file", 5, "model_file = 5: expected the model's file name"),
        ("model_file", "../x.skops", "model_file = '../x.skops': expected the model's file"),
    ],
)
def test_a_manifest_with_a_garbled_field_refuses(
    model_dir: Path, own_key: tuple[Path, Path], field: str, value: object, expected: str
) -> None:
    _rewrite_manifest(model_dir, own_key[0], **{field: value})
    with pytest.raises(ModelIntegrityError) as err:
        load_model(model_dir, trusted_keys=[own_key[1]])
    assert str(model_dir / "manifest.json") in str(err.value)
    assert expected in str(err.value)


def test_a_manifest_without_a_field_refuses(model_dir: Path, own_key: tuple[Path, Path]) -> None:
    manifest = read_manifest(model_dir)
    del manifest["sha256"]
    _sign(model_dir, json.dumps(manifest).encode("utf-8"), own_key[0])
    with pytest.raises(ModelIntegrityError, match="sha256 = '<missing>': expected 64"):
        load_model(model_dir, trusted_keys=[own_key[1]])


def test_a_damaged_file_with_a_matching_signed_manifest_is_a_typed_error(
    model_dir: Path, own_key: tuple[Path, Path]
) -> None:
    """Someone rewrote the hash and signed it: the zip still fails, and says so in our words."""
    path = model_dir / "step_suggester.skops"
    path.write_bytes(path.read_bytes()[:4000])
    blob = path.read_bytes()
    _rewrite_manifest(
        model_dir, own_key[0], sha256=hashlib.sha256(blob).hexdigest(), size=len(blob)
    )
    with pytest.raises(ModelIntegrityError) as err:
        load_model(path, trusted_keys=[own_key[1]])
    assert f"model file {path}: not a zip archive" in str(err.value)
    assert "expected a skops file written by save_model" in str(err.value)


# --- the synthetic data --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pristine copy of data/synthetic (16 MB), copied again per test below."""
    out = tmp_path_factory.mktemp("pristine") / "synthetic"
    shutil.copytree(SYNTHETIC, out)
    return out


@pytest.fixture
def data_dir(synthetic_copy: Path, tmp_path: Path) -> Path:
    shutil.copytree(synthetic_copy, tmp_path / "s")
    return tmp_path / "s"


def _rehash(directory: Path, name: str) -> None:
    """Update the manifest to the file's new hash: the damage is then past the hash check."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][name]["sha256"] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_the_default_directory_is_the_source_checkouts() -> None:
    assert _population.DEFAULT_DIRECTORY == SYNTHETIC


@pytest.mark.parametrize("name", ["children.parquet", "raters.parquet", "forms_dagtilbud.parquet"])
@pytest.mark.parametrize("rehash", [False, True], ids=["hash-check", "past-hash-check"])
def test_a_truncated_parquet_file_refuses(data_dir: Path, name: str, rehash: bool) -> None:
    path = data_dir / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    if rehash:
        _rehash(data_dir, name)
    with pytest.raises(DataError) as err:
        SyntheticPopulation.load(data_dir)
    message = str(err.value)
    assert str(path) in message
    expected = "not a readable Parquet file" if rehash else "(truncated or altered file)"
    assert expected in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda t: t[: len(t) // 2], "expected valid JSON"),
        (lambda t: "", "expected valid JSON"),
        (lambda t: "[]", "expected a JSON object"),
        (
            lambda t: t.replace('"format": "opsporing-synthetic/2"', '"format": "x/2"'),
            "format 'x/2': expected 'opsporing-synthetic/2'",
        ),
        (
            lambda t: t.replace('"n_children": 100000', '"n_children": "many"'),
            "SyntheticConfig.n_children = 'many': expected a whole number",
        ),
        (
            lambda t: t.replace('"seed": 20261123', '"seed": 1, "sed": 2'),
            "a field of SyntheticConfig",
        ),
    ],
)
@pytest.mark.parametrize("rehash", [False, True], ids=["hash-check", "past-hash-check"])
def test_a_truncated_or_garbled_config_refuses(
    data_dir: Path, damage: Any, expected: str, rehash: bool
) -> None:
    path = data_dir / "config.json"
    changed = damage(path.read_text(encoding="utf-8"))
    assert changed != path.read_text(encoding="utf-8")
    path.write_text(changed, encoding="utf-8")
    if rehash:
        _rehash(data_dir, "config.json")
    with pytest.raises(DataError) as err:
        SyntheticPopulation.load(data_dir)
    message = str(err.value)
    assert str(path) in message  # the file is named, also for a bad field
    assert (expected if rehash else "SHA-256") in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"files": {"children.parq', "manifest.json = '(syntax)': expected valid JSON"),
        ('{"files": []}', "manifest.json: expected a 'files' mapping"),
        (
            '{"files": {"children.parquet": "702746"}}',
            "files.children.parquet = '702746': expected an entry with the file's sha256",
        ),
        ('{"files": {}}', "files.children.parquet = '<missing>': expected an entry"),
    ],
)
def test_a_garbled_data_manifest_refuses(data_dir: Path, text: str, expected: str) -> None:
    (data_dir / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        SyntheticPopulation.load(data_dir)
    assert str(data_dir / "manifest.json") in str(err.value)
    assert expected in str(err.value)


# --- a form that declares an instrument version that does not exist ------------------------------
def test_a_form_declaring_an_unknown_instrument_version_refuses() -> None:
    school = get_instrument(SCHOOL)
    with pytest.raises(ResponseValidationError) as err:
        score_form(school, {"emo_sad": 1}, age_years=9, version="9.9.9")
    (problem,) = err.value.problems
    assert (problem.field, problem.value, problem.kind) == (
        "instrument_version",
        "9.9.9",
        "wrong_instrument",
    )
    assert problem.expected == f"'{school.version}' ({school.key})"
    assert f"instrument_version = '9.9.9': expected '{school.version}'" in str(err.value)

    forms = pd.DataFrame(
        {"form_id": ["A", "B"], "instrument_version": [school.version, "9.9.9"], "emo_sad": [1, 2]}
    )
    with pytest.raises(ResponseValidationError) as err:
        score_batch(school, forms, keep=["form_id"])
    assert [(p.row, p.field, p.value) for p in err.value.problems] == [
        (1, "instrument_version", "9.9.9")
    ]


def test_the_web_form_refuses_an_unknown_instrument_version_and_stores_nothing(
    tmp_path: Path, web_login: Any
) -> None:
    pytest.importorskip("fastapi")
    import html
    import re

    from fastapi.testclient import TestClient

    from opsporing.web import AuditLog, create_app

    db = tmp_path / "audit.sqlite"
    client: TestClient = web_login(create_app(db, model=None))
    page = client.get(f"/form/{SCHOOL}").text
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
    assert token is not None
    data = {
        "token": token.group(1),
        "lang": "en",
        "instrument_version": "9.9.9",
        "form_id": "B-1",
        "age_years": "9",
        "item.emo_sad": "1",
    }
    r = client.post(f"/form/{SCHOOL}", data=data)
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert "'9.9.9'" in text and f"'{get_instrument(SCHOOL).version}'" in text
    decision = {"chosen_step": "0", "reason": "x"}
    r = client.post(f"/form/{SCHOOL}/decision", data=data | decision)
    assert r.status_code == 422
    assert AuditLog(db).counts() == {"screenings": 0, "decisions": 0}


def test_every_integrity_error_is_an_opsporing_error() -> None:
    assert issubclass(ModelIntegrityError, OpsporingError)
    assert issubclass(DataError, OpsporingError)


# --- the audit log, killed mid-write ---------------------------------------------------------------
_WRITER = textwrap.dedent(
    """
    import sys
    from opsporing.web import AuditLog, Submission

    from datetime import UTC, datetime

    from opsporing.decision import Decision, unavailable_suggestion

    log = AuditLog(sys.argv[1])
    run = sys.argv[2]
    i = 0
    while True:
        i += 1
        # Signed by this process (the audit log refuses unsigned decisions); the reason
        # names the screening, so the test can check each decision sits with its own.
        decision = Decision.record(
            unavailable_suggestion(), professional_role="skole", professional_id="P-1",
            chosen_step=i % 3, reason=f"test {i}", notify=False,
            clock=lambda: datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        ).to_dict()
        stored = log.record(Submission(
            idempotency_key=f"{run}-{i}", form_id=f"F-{run}-{i}",
            instrument="opsporing.skole.trivsel@1.0.0", age_years=9.0,
            answers={"emo_sad": i % 4}, scores={"overall": "grøn", "pad": "x" * 2000},
            suggestion={"kind": "none"}, suggested_step=None, chosen_step=i % 3,
            notify=False, role="skole", professional_id="P-1", reason="test",
            decision=decision,
        ))
        print(f"{run}-{i} {stored.screening_id}", flush=True)
    """
)


def test_the_audit_log_survives_a_writer_killed_mid_write(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    rng = random.Random(20261123)
    started = time.monotonic()
    confirmed: set[str] = set()
    for run in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db), f"r{run}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first record is committed: writing is under way
        assert first, proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.02, 0.3))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        out = proc.stdout.read()  # through the same buffer readline used (not communicate)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
        # Every record the writer saw committed; the line being printed may be cut short.
        lines = [first, *out.splitlines()]
        confirmed |= {line.split()[0] for line in lines if len(line.split()) == 2}

        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            keys = [k for (k,) in con.execute("SELECT idempotency_key FROM screenings")]
            orphans = con.execute(
                "SELECT COUNT(*) FROM screenings AS s LEFT JOIN decisions AS d"
                " ON d.screening_id = s.id WHERE d.id IS NULL"
            ).fetchone()[0]
            widows = con.execute(
                "SELECT COUNT(*) FROM decisions AS d LEFT JOIN screenings AS s"
                " ON d.screening_id = s.id WHERE s.id IS NULL"
            ).fetchone()[0]
            doubled = con.execute(
                "SELECT COUNT(*) FROM (SELECT screening_id FROM decisions"
                " GROUP BY screening_id HAVING COUNT(*) > 1)"
            ).fetchone()[0]
        assert (orphans, widows, doubled) == (0, 0, 0)
        assert len(keys) == len(set(keys)), "a screening was stored twice"
        assert confirmed <= set(keys), f"lost: {sorted(confirmed - set(keys))[:5]}"
        # Nothing beyond what the writers confirmed, except at most the one being printed per run.
        assert len(set(keys) - confirmed) <= run + 1
        # Each decision belongs to its own screening (content sealed: read through the log).
        pairs = [(str(o["form_id"]), o["chosen_step"], str(o["decision_json"])) for o in opened_rows(db)]
        for form_id, chosen, decision_json in pairs:
            i = int(form_id.rsplit("-", 1)[1])
            record = json.loads(decision_json)
            assert (chosen, record["chosen_step"], record["reason"]) == (i % 3, i % 3, f"test {i}")
    # The log opens again after the last kill (opening writes: WAL mode, schema).
    from opsporing.web import AuditLog

    counts = AuditLog(db).counts()
    assert counts["screenings"] == counts["decisions"] == len(keys) >= 5
    assert AuditLog(db).verify().ok  # the hash chain too: a kill never leaves it broken
    assert time.monotonic() - started < 180  # a hang guard, not a speed goal (benchmarks)
