"""opsporing.decision: suggestions, red flags, abstention, and the only way to decide."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pickle
import pkgutil
import typing
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import opsporing
from opsporing.decision import (
    ABSTAIN_TEXT,
    Decision,
    DecisionLog,
    SigningKey,
    Suggestion,
    current_signing_key,
    red_flag_suggestion,
    set_signing_key,
    suggest,
    suggest_batch,
    verify_decision,
)
from opsporing.decision._decision import _decision_id
from opsporing.errors import DataError, DecisionError, OpsporingError
from opsporing.explain import Explainer
from opsporing.instruments import get_instrument
from opsporing.model import DOMAINS, build_features, domain_ranges, load_model
from opsporing.policy import load_policy
from opsporing.scoring import score_batch
from opsporing.vocabulary import load_vocabulary

MODELS = Path(__file__).parent.parent / "models"
SCHOOL = get_instrument("opsporing.skole.trivsel")
AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def clock() -> datetime:
    return AT


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP thread: small predictions are faster, and a busy machine cannot stall them."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def model():
    return load_model(MODELS / "step_suggester.skops")


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)


def _scores(**answers: list[float | None]) -> pd.DataFrame:
    n = len(next(iter(answers.values())))
    forms = pd.DataFrame({"form_id": [f"F{i}" for i in range(n)], "age_years": 10.0, **answers})
    return score_batch(SCHOOL, forms, keep=["form_id", "age_years"])


def _full(value: int, resources: int, n: int = 1, **override: list[float | None]) -> pd.DataFrame:
    """A complete school form: every concern item ``value``, resources ``resources``."""
    answers: dict[str, list[float | None]] = {}
    for item in SCHOOL.items:
        if item.domain == "safety":
            answers[item.id] = [0] * n
        elif item.domain == "resources":
            answers[item.id] = [resources] * n
        else:
            answers[item.id] = [3 - value if item.reverse else value] * n
    answers.update(override)
    return _scores(**answers)


@pytest.fixture(scope="module")
def thriving(model, explainer):
    return suggest(model, _full(0, 3), id_column="form_id", explainer=explainer)


@pytest.fixture(scope="module")
def struggling(model, explainer):
    return suggest(model, _full(3, 0), id_column="form_id", explainer=explainer)


# --- suggestions -------------------------------------------------------------------------------
def test_a_thriving_child_gets_universal_services(thriving):
    assert thriving.kind == "step" and thriving.step == 0
    assert thriving.p_needs_support < 0.05
    assert thriving.step_info == load_vocabulary().step(0)
    assert "protective.trusted_adult" in thriving.protective_factors
    assert thriving.subject == "F0"


def test_the_suggested_step_has_the_lowest_expected_cost(model, explainer):
    scores = pd.concat([_full(v, r) for v, r in [(0, 3), (1, 2), (2, 1), (2, 2), (3, 0)]])
    scores["form_id"] = [f"F{i}" for i in range(len(scores))]
    cost = load_policy().cost_matrix()
    steps = []
    for s in suggest_batch(model, scores, id_column="form_id", explainer=explainer):
        assert s.kind == "step"
        expected = np.asarray(s.probabilities) @ cost
        np.testing.assert_allclose(s.expected_costs, expected, atol=1e-9)
        best = expected.min()
        assert s.step == int(np.flatnonzero(expected <= best * 1.05 + 1e-12)[0])
        assert abs(sum(s.probabilities) - 1) < 1e-9
        assert s.p_needs_support == pytest.approx(1 - s.probabilities[0])
        assert f"{s.step}" in s.rule.da and "forventede omkostning" in s.rule.da
        steps.append(s.step)
    assert steps[0] == 0 and max(steps) >= 1  # the rule separates thriving from struggling


def test_a_municipality_can_supply_its_own_costs(model, explainer, tmp_path):
    own = tmp_path / "policy.yaml"
    own.write_text(
        "version: 'K101-1'\ncost: {over: [1, 2, 4, 8, 8, 8], under: [1, 1, 1, 1, 1, 1],"
        " tie_tolerance: 0.0}\n",
        encoding="utf-8",
    )
    scores = _full(1, 2)
    shipped = suggest(model, scores, id_column="form_id", explainer=explainer)
    cautious = suggest(model, scores, id_column="form_id", explainer=explainer, policy=own)
    assert cautious.policy_version == "K101-1" and shipped.policy_version != "K101-1"
    assert cautious.step <= shipped.step  # misses cost less: never a higher step
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: x\ncost: {over: [1, 2], under: [9, 9, 9, 9, 9, 9]}\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match="over"):
        suggest(model, scores, id_column="form_id", explainer=explainer, policy=bad)


def test_predict_gives_the_step_suggest_batch_gives(model, explainer):
    scores = pd.concat([_full(v, r) for v, r in [(0, 3), (1, 2), (2, 1), (2, 2), (3, 0), (1, 1)]])
    scores["form_id"] = [f"F{i}" for i in range(len(scores))]
    suggestions = suggest_batch(model, scores, id_column="form_id", explainer=explainer)
    predicted = model.predict(build_features(scores, id_column="form_id"))
    for s, p in zip(suggestions, predicted, strict=True):
        assert s.kind == "step" and s.step == int(p)


def test_what_would_change_moves_the_suggestion_down(model, explainer):
    from opsporing.explain import DOMAIN_LABELS

    scores = _full(2, 1)
    s = suggest(model, scores, id_column="form_id", explainer=explainer)
    assert s.kind == "step" and s.step >= 1 and s.what_would_change
    w = s.what_would_change[0]
    assert w.to_step <= s.step - 1 and w.score_to < w.score_from  # a concern domain falls
    assert w.label == DOMAIN_LABELS[w.domain]
    # Apply the change to the form: the suggestion really moves down.
    features = build_features(scores, id_column="form_id")
    lo, hi = domain_ranges(scores["instrument"])[0, 2 * DOMAINS.index(w.domain) :][:2]
    changed = features.copy()
    changed[f"score.{w.domain}"] = (w.score_to - lo) / (hi - lo)
    assert int(model.predict(changed)[0]) <= s.step - 1
    # ... and one whole point less of a change does not: it is the smallest change.
    less = features.copy()
    less[f"score.{w.domain}"] = (min(w.score_to + 1, w.score_from) - lo) / (hi - lo)
    assert int(model.predict(less)[0]) > s.step - 1
    assert w.sentence("da").startswith("Hvis ")
    assert any(line.startswith("If ") for line in s.message("en").splitlines())


def test_more_concern_raises_the_suggestion(thriving, struggling):
    assert struggling.p_needs_support > 0.5 > thriving.p_needs_support
    assert struggling.kind == "step" and struggling.step >= 1  # uncertain is not abstain
    assert struggling.reasons and struggling.reasons[0].contribution > 0
    assert "trækker forslaget op" in struggling.explanation.da
    assert "pushed up by" in struggling.explanation.en


def test_steps_from_3_need_the_municipality(model, explainer):
    voc = load_vocabulary()
    scores = _full(3, 0)
    s = suggest(model, scores, id_column="form_id", explainer=explainer)
    if s.kind == "step":
        assert s.requires_municipal_assessment == (s.step >= 3)
        assert s.step_info.who_acts == voc.step(s.step).who_acts
    assert (
        voc.step(3).requires_municipal_assessment and not voc.step(2).requires_municipal_assessment
    )
    assert "§ 18" in voc.step(3).who_acts.da


def test_red_flags_bypass_the_model():
    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the model was used ({name}) despite a red flag")

    scores = _scores(saf_disclosure=[1], emo_sad=[3])
    s = suggest(Untouchable(), scores, id_column="form_id")
    voc = load_vocabulary()
    assert s.kind == "notify" and s.step is None and s.probabilities is None
    assert s.red_flags == ("safety.disclosure",)
    assert s.duty_to_notify == voc.duty_to_notify
    assert "§ 133" in s.message("da") and "duty to notify" in s.message("en")


def test_too_many_missing_answers_abstain(model, explainer):
    s = suggest(
        model,
        _scores(emo_sad=[3], emo_tense=[3], emo_withdrawn=[3]),
        id_column="form_id",
        explainer=explainer,
    )
    assert s.kind == "abstain" and s.step is None and s.abstain_codes == ("missing",)
    assert s.abstain_reason.en == "91% of the questions are unanswered (the limit is 25%)."
    assert s.abstain_reason.da == "91 % af spørgsmålene er ubesvarede (grænsen er 25 %)."
    assert ABSTAIN_TEXT.da in s.message("da")
    # While abstaining: why, and nothing else (no probabilities for placement steps).
    assert s.probabilities is None and s.p_needs_support is None and s.reasons == ()
    assert "%" not in s.message("en").replace("91%", "").replace("25%", "")


def test_suggestions_are_frozen_and_identified_by_content(model, explainer, thriving):
    with pytest.raises(dataclasses.FrozenInstanceError):
        thriving.step = 3  # type: ignore[misc]
    again = suggest(model, _full(0, 3), id_column="form_id", explainer=explainer)
    assert again.suggestion_id == thriving.suggestion_id
    assert again.model_id == json.loads((MODELS / "manifest.json").read_text())["sha256"]
    assert json.loads(json.dumps(thriving.to_dict()))["step"] == 0


def test_suggest_wants_one_row(model):
    with pytest.raises(DataError, match="exactly one row"):
        suggest(model, _full(0, 3, n=2))


# --- decisions ---------------------------------------------------------------------------------
def test_following_a_suggestion_needs_no_reason(thriving):
    d = Decision.record(
        thriving, professional_role="skole", professional_id="T-1", chosen_step=0, clock=clock
    )
    assert d.follows_suggestion and d.reason is None
    assert d.decided_at == "2026-11-23T08:00:00+00:00"
    assert d.suggestion_id == thriving.suggestion_id
    record = json.loads(d.to_json())
    assert record == d.to_dict() and record["chosen_step"] == 0
    again = Decision.record(
        thriving, professional_role="skole", professional_id="T-1", chosen_step=0, clock=clock
    )
    assert again.decision_id == d.decision_id  # content hash


def test_a_different_step_needs_a_reason(thriving):
    with pytest.raises(DecisionError, match="reason = None: expected a reason: chosen step 1"):
        Decision.record(
            thriving, professional_role="skole", professional_id="T-1", chosen_step=1, clock=clock
        )
    with pytest.raises(DecisionError, match="reason"):
        Decision.record(
            thriving,
            professional_role="skole",
            professional_id="T-1",
            chosen_step=1,
            reason="   ",
            clock=clock,
        )
    d = Decision.record(
        thriving,
        professional_role="skole",
        professional_id="T-1",
        chosen_step=1,
        reason="Forældrene beder om en samtale",
        clock=clock,
    )
    assert not d.follows_suggestion and d.reason == "Forældrene beder om en samtale"


def test_overriding_a_red_flag_needs_a_reason():
    s = suggest(object(), _scores(saf_injury=[1]), id_column="form_id")
    with pytest.raises(DecisionError, match="overriding a red flag"):
        Decision.record(
            s,
            professional_role="dagtilbud",
            professional_id="P-9",
            chosen_step=1,
            notify=False,
            clock=clock,
        )
    ok = Decision.record(
        s,
        professional_role="dagtilbud",
        professional_id="P-9",
        chosen_step=1,
        notify=True,
        clock=clock,
    )
    assert ok.follows_suggestion and ok.red_flags == ("safety.unexplained_injury",)


def test_an_abstention_always_needs_the_teams_reason(model, explainer):
    s = suggest(model, _scores(emo_sad=[3]), id_column="form_id", explainer=explainer)
    assert s.kind == "abstain"
    with pytest.raises(DecisionError, match="abstained"):
        Decision.record(
            s, professional_role="skole", professional_id="T-1", chosen_step=0, clock=clock
        )
    assert (
        Decision.record(
            s,
            professional_role="skole",
            professional_id="T-1",
            chosen_step=1,
            reason="Drøftet i teamet",
            clock=clock,
        ).reason
        == "Drøftet i teamet"
    )


def test_only_the_municipality_chooses_steps_from_3(thriving):
    with pytest.raises(DecisionError, match="chosen_step = 4: expected 0-2 for role 'skole'"):
        Decision.record(
            thriving,
            professional_role="skole",
            professional_id="T-1",
            chosen_step=4,
            reason="x",
            clock=clock,
        )
    d = Decision.record(
        thriving,
        professional_role="myndighed",
        professional_id="M-3",
        chosen_step=4,
        reason="Børnefaglig undersøgelse (§ 20)",
        clock=clock,
    )
    assert d.chosen_step == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"professional_role": "rektor"}, "professional_role = 'rektor'"),
        ({"professional_id": " "}, "professional_id"),
        ({"professional_id": "010203-1234"}, "never a CPR number"),
        ({"chosen_step": 7}, "chosen_step = 7"),
        ({"chosen_step": True}, "chosen_step = True"),
        ({"notify": "yes"}, "notify = 'yes'"),
        ({"clock": lambda: datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_bad_decisions_name_field_value_and_expectation(thriving, kwargs, match):
    args = {
        "professional_role": "skole",
        "professional_id": "T-1",
        "chosen_step": 0,
        "clock": clock,
        **kwargs,
    }
    with pytest.raises(DecisionError, match=match):
        Decision.record(thriving, **args)


def test_a_decision_cannot_be_made_any_other_way(thriving):
    d = Decision.record(
        thriving, professional_role="skole", professional_id="T-1", chosen_step=0, clock=clock
    )
    with pytest.raises(DecisionError, match="constructed directly"):
        Decision(**{f.name: getattr(d, f.name) for f in dataclasses.fields(d)})
    with pytest.raises(DecisionError, match="constructed directly"):
        dataclasses.replace(d, chosen_step=2)
    with pytest.raises(DecisionError, match="expected a Suggestion"):
        Decision.record(
            thriving.to_dict(),
            professional_role="skole",  # type: ignore[arg-type]
            professional_id="T-1",
            chosen_step=0,
        )


def test_the_decision_log_only_appends(thriving):
    log = DecisionLog()
    d = Decision.record(
        thriving, professional_role="skole", professional_id="T-1", chosen_step=0, clock=clock
    )
    log.append(d)
    with pytest.raises(DecisionError, match="not yet in the log"):
        log.append(d)
    assert len(log) == 1 and log.entries == (d,)
    assert [json.loads(line) for line in log.to_jsonl().splitlines()] == [d.to_dict()]
    public = {n for n in dir(log) if not n.startswith("_")}
    assert public == {"append", "entries", "to_jsonl"}
    for name in ("__setitem__", "__delitem__", "remove", "pop", "clear", "insert"):
        assert not hasattr(log, name)


# --- nothing else acts on a suggestion ---------------------------------------------------------
FINALISING = (
    "decide",
    "decision",
    "record",
    "approve",
    "accept",
    "final",
    "commit",
    "execute",
    "confirm",
    "submit",
)


def _public_api():
    """Every public name of every opsporing module that declares ``__all__``."""
    seen = {}
    for info in pkgutil.walk_packages(opsporing.__path__, "opsporing."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # an optional extra (e.g. the web form's server)
            if exc.name and exc.name.split(".")[0] == "opsporing":
                raise
            continue
        for name in getattr(module, "__all__", ()):
            seen[f"{info.name}.{name}"] = getattr(module, name)
    return seen


def _mentions_decision(func) -> bool:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the raw annotation
        hints = getattr(func, "__annotations__", {})
    return "Decision" in str(hints.get("return", "")).replace("DecisionLog", "").replace(
        "DecisionError", ""
    )


def test_only_decision_record_returns_a_decision():
    api = _public_api()
    assert "opsporing.decision.Decision" in api and "opsporing.decision.suggest" in api
    offenders = []
    for qualname, obj in api.items():
        if inspect.isclass(obj):
            for name, member in inspect.getmembers(obj, callable):
                if name.startswith("_") and name != "__init__":
                    continue
                # record makes decisions; from_dict/from_json only read back a recorded one
                # whose signature verifies (tests below forge them and see them refused).
                if obj is Decision and name in ("record", "from_dict", "from_json"):
                    continue
                if _mentions_decision(member):
                    offenders.append(f"{qualname}.{name}")
        elif callable(obj) and _mentions_decision(obj):
            offenders.append(qualname)
    assert offenders == []


def test_a_suggestion_finalises_nothing():
    methods = [
        n for n, m in inspect.getmembers(Suggestion) if callable(m) and not n.startswith("_")
    ]
    # reading and writing only: from_dict/from_json verify, never decide or sign anew
    assert sorted(methods) == [
        "from_dict",
        "from_json",
        "message",
        "signed_payload",
        "to_dict",
        "to_json",
    ]
    assert not any(word in n for n in methods for word in FINALISING)


def test_no_cli_verb_decides():
    from opsporing import cli

    verbs = [c.name or c.callback.__name__ for c in cli.app.registered_commands]
    assert not any(word in v for v in verbs for word in FINALISING)


# --- issue 11: decisions cannot be forged in-process ---------------------------------------------
def _recorded(suggestion, **kwargs):
    args = {
        "professional_role": "skole",
        "professional_id": "T-1",
        "chosen_step": 0,
        "clock": clock,
        **kwargs,
    }
    return Decision.record(suggestion, **args)


def _red_flag():
    scores = score_batch(SCHOOL, pd.DataFrame({"saf_injury": [1]}))
    return red_flag_suggestion(scores.iloc[0], subject="S7")


def test_a_decision_forged_with_object_new_is_refused(thriving):
    genuine = _recorded(thriving)
    forged = object.__new__(Decision)
    for f in dataclasses.fields(Decision):
        object.__setattr__(forged, f.name, getattr(genuine, f.name))
    object.__setattr__(forged, "chosen_step", 6)
    object.__setattr__(forged, "professional_role", "myndighed")
    with pytest.raises(DecisionError, match="signature does not match"):
        DecisionLog().append(forged)
    with pytest.raises(DecisionError, match="signature does not match"):
        verify_decision(forged)
    empty = object.__new__(Decision)  # no fields at all
    with pytest.raises(DecisionError, match="signature does not match"):
        DecisionLog().append(empty)


def test_a_forged_decision_with_a_recomputed_id_is_refused(thriving):
    genuine = _recorded(thriving)
    forged = object.__new__(Decision)
    fields = {**genuine.to_dict(), "chosen_step": 2, "reason": "forged"}
    fields["decision_id"] = _decision_id(fields)  # the id is public: anyone can recompute it
    for name, value in fields.items():
        object.__setattr__(forged, name, tuple(value) if name == "red_flags" else value)
    with pytest.raises(DecisionError, match="signature does not match"):
        verify_decision(forged)


def test_an_edited_pickle_is_refused(thriving):
    genuine = _recorded(thriving, professional_id="T-1234x")
    blob = pickle.dumps(genuine)
    assert pickle.loads(blob) == genuine
    verify_decision(pickle.loads(blob))  # an unedited copy is the same decision
    edited = pickle.loads(blob.replace(b"T-1234x", b"T-9999x"))
    assert edited.professional_id == "T-9999x"
    with pytest.raises(DecisionError, match="signature does not match"):
        DecisionLog().append(edited)


def test_the_private_recording_flag_does_not_help(thriving):
    from opsporing.decision._decision import _RECORDING

    genuine = _recorded(thriving)
    token = _RECORDING.set(True)
    try:
        forged = Decision(
            **{
                **{f.name: getattr(genuine, f.name) for f in dataclasses.fields(Decision)},
                "chosen_step": 5,
                "professional_role": "myndighed",
            }
        )
    finally:
        _RECORDING.reset(token)
    with pytest.raises(DecisionError, match="signature does not match"):
        DecisionLog().append(forged)


def test_record_refuses_a_hand_made_suggestion(thriving):
    copy = Suggestion(**{f.name: getattr(thriving, f.name) for f in dataclasses.fields(thriving)})
    assert copy == thriving  # equal in every field, but not made by the library
    with pytest.raises(DecisionError, match="unsigned or changed"):
        _recorded(copy)
    with pytest.raises(DecisionError, match="unsigned or changed"):
        _recorded(dataclasses.replace(thriving))


def test_record_refuses_a_suggestion_whose_red_flag_was_dropped():
    flagged = _red_flag()
    assert flagged.kind == "notify" and flagged.red_flags
    # Overriding the red flag needs a reason; a suggestion without it would not.
    with pytest.raises(DecisionError, match="overriding a red flag"):
        _recorded(flagged, chosen_step=0, notify=False)
    quiet = pickle.loads(pickle.dumps(flagged))  # keeps the signature, then edited
    object.__setattr__(quiet, "red_flags", ())
    object.__setattr__(quiet, "kind", "step")
    object.__setattr__(quiet, "step", 0)
    with pytest.raises(DecisionError, match="unsigned or changed"):
        _recorded(quiet, chosen_step=0, notify=False)
    replaced = dataclasses.replace(flagged, red_flags=(), kind="step", step=0)
    with pytest.raises(DecisionError, match="unsigned or changed"):
        _recorded(replaced, chosen_step=0, notify=False)


def test_record_refuses_cpr_numbers_in_the_reason_and_the_professional_id(thriving):
    for cpr in ("010203.1234", "010203_1234", "01.02.03-1234", "0102031234", "010203 1234"):
        with pytest.raises(DecisionError, match="holds a CPR number") as err:
            _recorded(thriving, chosen_step=1, reason=f"Talte med mor ({cpr}) i dag")
        assert cpr not in str(err.value)
        with pytest.raises(DecisionError, match="looks like a CPR number"):
            _recorded(thriving, professional_id=cpr)


def test_from_dict_and_from_json_round_trip_and_re_verify(thriving):
    genuine = _recorded(thriving, chosen_step=1, reason="Mor har bedt om hjælp")
    assert Decision.from_dict(genuine.to_dict()) == genuine
    assert Decision.from_json(genuine.to_json()) == genuine
    assert set(genuine.to_dict()) == {f.name for f in dataclasses.fields(Decision)}
    changes = [
        {"chosen_step": 2},
        {"reason": "something else"},
        {"red_flags": ["concept.safety.disclosure"]},
        {"signature": "0" * 64},
        {"decision_id": "0" * 64},
    ]
    for change in changes:
        with pytest.raises(DecisionError, match="signature does not match"):
            Decision.from_dict({**genuine.to_dict(), **change})
    with pytest.raises(DecisionError, match="missing \\['signature'\\]"):
        Decision.from_dict({k: v for k, v in genuine.to_dict().items() if k != "signature"})
    with pytest.raises(DecisionError, match="unexpected \\['admin'\\]"):
        Decision.from_dict({**genuine.to_dict(), "admin": True})
    with pytest.raises(DecisionError, match="chosen_step = '1'"):
        Decision.from_dict({**genuine.to_dict(), "chosen_step": "1"})
    with pytest.raises(DecisionError, match="not JSON"):
        Decision.from_json("{")
    with pytest.raises(DecisionError, match="expected a mapping"):
        Decision.from_dict([genuine.to_dict()])  # type: ignore[arg-type]


def test_a_decision_verifies_only_under_the_key_that_signed_it(thriving, tmp_path, monkeypatch):
    genuine = _recorded(thriving)
    other = SigningKey.generate()
    with pytest.raises(DecisionError, match="signature does not match"):
        verify_decision(genuine, key=other)
    # An installation key in a file (OPSPORING_DECISION_KEY) survives a restart.
    path = other.write(tmp_path / "decision.key")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("OPSPORING_DECISION_KEY", str(path))
    previous = set_signing_key(None)  # as a fresh process: read the environment
    try:
        assert current_signing_key().key_id == other.key_id
        suggestion = _red_flag()  # made and signed under the file's key
        stored = _recorded(suggestion, chosen_step=1, notify=True).to_json()
        assert Decision.from_json(stored, key=SigningKey.from_file(path)).chosen_step == 1
        set_signing_key(SigningKey.generate())  # another installation, or a restart
        with pytest.raises(DecisionError, match="unsigned or changed"):
            _recorded(suggestion, chosen_step=1, notify=True)  # signed under another key
        with pytest.raises(DecisionError, match="signature does not match"):
            Decision.from_json(stored)
    finally:
        set_signing_key(previous)


@pytest.mark.parametrize(
    ("content", "mode", "match"),
    [
        ("00" * 32, 0o600, "repeated"),
        ("ab" * 8, 0o600, "8 bytes"),
        ("not hex at all", 0o600, "0 bytes"),
        (None, 0o644, "readable by other users"),
    ],
)
def test_bad_decision_key_files_are_refused(tmp_path, content, mode, match):
    path = tmp_path / "k"
    path.write_text(content if content is not None else SigningKey.generate()._secret.hex())
    path.chmod(mode)
    with pytest.raises(OpsporingError, match=match):
        SigningKey.from_file(path)


def test_a_signing_key_never_leaves_in_a_pickle_or_repr():
    key = SigningKey.generate()
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(key)
    assert key._secret.hex() not in repr(key) and key.key_id in repr(key)


def test_a_suggestion_read_back_must_carry_this_installations_signature():
    """from_dict never signs: a dict whose id is the content hash (computable offline) but
    whose signature is missing or forged is refused; an unaltered one reads back."""
    import hashlib as _hashlib

    from opsporing.decision import red_flag_suggestion
    from opsporing.decision._suggestion import _content

    s = red_flag_suggestion(_scores(saf_disclosure=[1]).iloc[0], subject="S1")
    data = s.to_dict()
    assert Suggestion.from_json(s.to_json()) == s
    for forged in (None, "0" * 64, data["signature"][::-1]):
        with pytest.raises(DataError, match="signature"):
            Suggestion.from_dict({**data, "signature": forged})
    # an offline forgery: drop the red flag and recompute the content hash
    edited = {k: v for k, v in data.items() if k not in ("suggestion_id", "signature")}
    fields = {**s.__dict__, "red_flags": ()}
    payload = json.dumps(_content(fields), sort_keys=True, ensure_ascii=False)
    edited.update(
        red_flags=[],
        suggestion_id=_hashlib.sha256(payload.encode()).hexdigest(),
        signature=data["signature"],
    )
    with pytest.raises(DataError, match="signature"):
        Suggestion.from_dict(edited)
