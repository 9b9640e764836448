"""The command line's own words, in Danish and English, and numbers written per language.

One catalog: every label and sentence the CLI and the demo print is looked up here by
key, so a run in one language prints one language (error messages, which come from the
library, are English in both). Texts of the domain (concepts, steps, bands, items) come
from the vocabulary and the instruments, never from here.

Examples
--------
>>> text("wrote_scores", "da", n=2, path="s.csv")
'skrev 2 scorede skemaer til s.csv'
>>> number(0.25, "da"), number(0.25, "en")
('0,25', '0.25')
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CATALOG", "Lang", "integer", "number", "percent", "text"]

Lang = Literal["da", "en"]

#: key -> (Danish, English); placeholders in braces are filled by :func:`text`.
CATALOG: dict[str, tuple[str, str]] = {
    # score tables
    "overall": ("samlet", "overall"),
    "total": ("total", "total"),
    "concerns": ("bekymringer", "concerns"),
    "protective": ("beskyttende faktorer", "protective factors"),
    "protective_short": ("beskyt.", "protect."),
    "not_green": ("gul/rød", "yellow/red"),
    "not_scored": ("ikke scoret", "not scored"),
    "notify_flag": ("⚑ underretning § 133", "⚑ notify (§ 133)"),
    "notify_flag_short": ("⚑ § 133", "⚑ § 133"),
    "form": ("skema", "form"),
    "wrote_scores": ("skrev {n} scorede skemaer til {path}", "wrote {n} scored forms to {path}"),
    # suggestions
    "suggestion": ("forslag", "suggestion"),
    "p_support": ("P(trin ≥ 1)", "P(step ≥ 1)"),
    "interval": ("usikkerhed", "uncertainty"),
    "reason": ("begrundelse", "reason"),
    "kind_step": ("trin {step}", "step {step}"),
    "kind_abstain": ("drøft i teamet", "discuss in the team"),
    "kind_notify": ("underret nu (§ 133)", "notify now (§ 133)"),
    "red_flags": ("Røde flag: {flags}", "Red flags: {flags}"),
    "municipal": ("(kræver kommunens vurdering)", "(needs the municipality's assessment)"),
    "interval_steps": ("trin {low}-{high}", "steps {low}-{high}"),
    "wrote_suggestions": ("skrev {n} forslag til {path}", "wrote {n} suggestions to {path}"),
    "wrote_file": ("skrev {path}", "wrote {path}"),
    "wrote_rejected": (
        "skrev {n} problemer i afviste rækker til {path}",
        "wrote {n} problems of rejected rows to {path}",
    ),
    "not_decisions": (
        "Forslag, ikke beslutninger: en navngiven fagperson beslutter og registrerer det "
        "(opsporing.decision.Decision.record).",
        "Suggestions, not decisions: a named professional decides and records it "
        "(opsporing.decision.Decision.record).",
    ),
    "decision_support": (
        "Scorer og forslag er beslutningsstøtte. En fagperson beslutter, og "
        "underretningspligten (barnets lov § 133) venter aldrig på en score.",
        "Scores and suggestions are decision support. A professional decides, and the "
        "duty to notify (barnets lov § 133) never waits for a score.",
    ),
    "csv_dialect": (
        "læste {path} som ';'-separeret med decimalkomma (dansk Excel)",
        "read {path} as ';'-separated with decimal commas (Danish Excel)",
    ),
    # the demo
    "demo_title": (
        "Forslag for udvalgte syntetiske børn (held-out) — forslag, ikke beslutninger",
        "Suggestions for selected synthetic children (held out) — suggestions, not decisions",
    ),
    "child": ("barn", "child"),
    "overall_band": ("samlet bånd", "overall band"),
    "true_step": ("sandt trin*", "true step*"),
    "demo_footnote": (
        "* Syntetiske børn med kendt sandhed: ikke rigtige børn. Intet er besluttet: et "
        "forslag bliver først en beslutning, når en navngiven fagperson registrerer den "
        "(Decision.record).",
        "* Synthetic children with known truth: not real children. Nothing was decided: a "
        "suggestion becomes a decision only when a named professional records it "
        "(Decision.record).",
    ),
    "quality_title": (
        "Behov for mere end almene tilbud? {n} syntetiske børn (held-out), {share} med behov",
        "Needs more than universal services? {n} held-out synthetic children, {share} in need",
    ),
    "rule": ("regel", "rule"),
    "rule_model": ("modellen, P(trin ≥ 1)", "the model, P(step ≥ 1)"),
    "rule_band": ("båndreglen (gul/rød → henvis)", "band rule (gul/rød → refer)"),
    "rule_oracle": ("oraklet (Bayes-optimal)", "oracle (Bayes-optimal)"),
}


def text(key: str, lang: Lang, **values: object) -> str:
    """The catalog's text for ``key`` in ``lang``, with ``values`` filled in.

    Raises
    ------
    KeyError
        ``key`` is not in :data:`CATALOG` (a programming error, caught by the tests).
    """
    da, en = CATALOG[key]
    return (en if lang == "en" else da).format(**values)


def number(value: float, lang: Lang, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals: a decimal comma in Danish, a point in English."""
    shown = f"{value:.{digits}f}"
    return shown.replace(".", ",") if lang == "da" else shown


def integer(value: int, lang: Lang) -> str:
    """``value`` with thousands separated: ``50.000`` in Danish, ``50,000`` in English."""
    shown = f"{value:,}"
    return shown.replace(",", ".") if lang == "da" else shown


def percent(value: float, lang: Lang, digits: int = 1) -> str:
    """A share as a percentage: ``12,3 %`` in Danish, ``12.3%`` in English."""
    shown = f"{100 * value:.{digits}f}"
    return f"{shown.replace('.', ',')} %" if lang == "da" else f"{shown}%"
