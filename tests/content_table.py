"""The content table of the age-fitted educator forms, generated from their YAML.

``docs/instrument-content.md`` holds the output between two markers; the test
``test_the_content_table_in_the_docs_is_current`` fails when a form changes and the page
does not. Regenerate the page in place with::

    PYTHONPATH=src python -m tests.content_table

Which framework a concept covers is documentation, not policy, so it lives here: the
construct of an SDQ scale (scale names only; the SDQ wording is copyrighted and never
used), an ASQ:SE-2 area, the SHANARRI well-being indicators (GIRFEC) and the side of the
ICS triangle (read from the vocabulary's ``ics_domain``). A concept missing here is an
error, so a new concept cannot slip into a form undocumented.
"""

from __future__ import annotations

import sys
from pathlib import Path

from opsporing.instruments import Instrument, get_instrument
from opsporing.vocabulary import load_vocabulary

DOC = Path(__file__).resolve().parent.parent / "docs" / "instrument-content.md"
BEGIN = "<!-- BEGIN GENERATED: python -m tests.content_table -->"
END = "<!-- END GENERATED -->"

#: The age-fitted educator forms of issue 17, in age order.
FORMS = (
    "opsporing.dagtilbud.0-2",
    "opsporing.dagtilbud.3-5",
    "opsporing.skole.0-6",
    "opsporing.skole.7-10",
)

# concept -> (SDQ scale construct, ASQ:SE-2 area, SHANARRI indicators)
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "emotional.sadness": ("Emotional", "Affect", "Healthy"),
    "emotional.anxiety": ("Emotional", "Affect", "Healthy"),
    "emotional.withdrawal": ("Emotional", "Interaction with people", "Included"),
    "emotional.low_self_worth": ("Emotional", "Affect", "Respected"),
    "emotional.hard_to_comfort": ("", "Self-regulation", "Nurtured"),
    "emotional.somatic_complaints": ("Emotional", "", "Healthy"),
    "emotional.voiced_distress": ("", "", "Respected"),
    "emotional.self_harm": ("", "", "Safe, Healthy"),
    "social.isolation": ("Peer", "Interaction with people", "Included"),
    "social.peer_conflict": ("Peer", "Interaction with people", "Included"),
    "social.bullied": ("Peer", "", "Safe, Included"),
    "social.play_difficulty": ("Peer", "Social-communication", "Included"),
    "social.bullying_others": ("Conduct", "", "Responsible"),
    "social.online_harm": ("", "", "Safe"),
    "behaviour.aggression": ("Conduct", "Self-regulation", "Responsible"),
    "behaviour.restlessness": ("Hyperactivity", "Self-regulation", "Achieving"),
    "behaviour.rule_breaking": ("Conduct", "Compliance", "Responsible"),
    "behaviour.substance_use": ("", "", "Healthy, Safe"),
    "behaviour.sexualised": ("", "", "Safe"),
    "development.language_delay": ("", "Social-communication", "Achieving"),
    "development.motor_delay": ("", "", "Active, Achieving"),
    "development.regression": ("", "Adaptive functioning", "Healthy"),
    "development.nonverbal_communication": ("", "Social-communication", "Included"),
    "learning.absence": ("", "", "Achieving, Included"),
    "learning.academic_difficulty": ("", "", "Achieving"),
    "learning.low_engagement": ("", "", "Achieving, Active"),
    "learning.school_refusal": ("Emotional", "", "Achieving, Included"),
    "health.hygiene_neglect": ("", "", "Nurtured, Healthy"),
    "health.hunger": ("", "", "Nurtured, Healthy"),
    "health.tiredness": ("", "", "Healthy"),
    "health.untreated_condition": ("", "", "Healthy, Nurtured"),
    "health.sleep_difficulty": ("", "Adaptive functioning", "Healthy"),
    "health.eating_difficulty": ("", "Adaptive functioning", "Healthy"),
    "safety.disclosure": ("", "", "Safe"),
    "safety.unexplained_injury": ("", "", "Safe"),
    "safety.fear_of_adult": ("", "", "Safe"),
    "safety.domestic_violence": ("", "", "Safe, Nurtured"),
    "safety.dating_violence": ("", "", "Safe"),
    "safety.sexual_exploitation": ("", "", "Safe"),
    "parenting.unreliable_care": ("", "", "Nurtured"),
    "parenting.intoxicated_parent": ("", "", "Safe, Nurtured"),
    "parenting.low_responsiveness": ("", "", "Nurtured"),
    "family.cooperation_difficulty": ("", "", "Nurtured"),
    "family.major_life_event": ("", "", "Nurtured"),
    "family.parental_difficulties": ("", "", "Nurtured"),
    "family.low_network": ("", "", "Nurtured, Included"),
    "family.economic_strain": ("", "", "Nurtured"),
    "family.young_carer": ("", "", "Nurtured, Included"),
    "protective.trusted_adult": ("", "Interaction with people", "Nurtured"),
    "protective.friendship": ("Peer", "Interaction with people", "Included"),
    "protective.prosocial": ("Prosocial", "Interaction with people", "Responsible"),
    "protective.own_voice": ("", "Autonomy", "Respected"),
    "protective.engaged_parent": ("", "", "Nurtured"),
    "protective.self_regulation": ("", "Self-regulation", "Healthy"),
    "protective.thriving_in_setting": ("", "", "Included, Achieving"),
    "protective.interests": ("", "", "Active"),
    "protective.family_network": ("", "", "Nurtured"),
    "protective.self_efficacy": ("", "Autonomy", "Achieving"),
}

#: The gaps issue 17 names, each with the concepts whose items close it.
GAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Prosocial behaviour (SDQ prosocial)", ("protective.prosocial",)),
    ("Sleep (ASQ:SE-2 adaptive functioning)", ("health.sleep_difficulty",)),
    ("Eating (ASQ:SE-2 adaptive functioning)", ("health.eating_difficulty",)),
    (
        "Non-verbal communication: eye contact, name, pointing (ASQ:SE-2 social-communication)",
        ("development.nonverbal_communication",),
    ),
    (
        "Attachment and being comforted (0-2)",
        ("emotional.hard_to_comfort", "protective.trusted_adult"),
    ),
    ("Withdrawal in the youngest", ("emotional.withdrawal",)),
    ("The child's own voice", ("protective.own_voice", "emotional.voiced_distress")),
    ("Substance use (from 13)", ("behaviour.substance_use",)),
    ("Online risk", ("social.online_harm", "safety.sexual_exploitation")),
    ("School refusal", ("learning.school_refusal",)),
    ("Dating violence", ("safety.dating_violence",)),
    ("Young carers", ("family.young_carer",)),
    ("Bullying others (as well as being bullied)", ("social.bullying_others", "social.bullied")),
    ("Violence in the family (a red flag that had no item)", ("safety.domestic_violence",)),
    (
        "A parent under the influence (a red flag that had no item)",
        ("parenting.intoxicated_parent",),
    ),
    ("Absence as a number of days, not a rating", ("learning.absence",)),
    (
        "Language asked across all the child's languages (Danish as a second language is not a "
        "delay)",
        ("development.language_delay",),
    ),
    (
        "Sexualised behaviour worded as beyond ordinary body curiosity for the age",
        ("behaviour.sexualised",),
    ),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _frameworks(code: str) -> tuple[str, str, str, str]:
    voc = load_vocabulary()
    if code not in FRAMEWORKS:
        raise KeyError(f"concept {code!r} has no framework mapping in tests/content_table.py")
    sdq, asq, shanarri = FRAMEWORKS[code]
    return sdq, asq, shanarri, voc.concept(code).ics_domain


def _join(values: list[str]) -> str:
    seen: list[str] = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if part and part not in seen:
                seen.append(part)
    return ", ".join(seen) or "–"


def _rows(inst: Instrument) -> list[str]:
    out = [
        "| item | text (da) | domain | concepts | SDQ | ASQ:SE-2 | SHANARRI | ICS triangle |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in inst.items:
        codes = list(dict.fromkeys(e.code for e in item.evidences))
        maps = [_frameworks(c) for c in codes]
        marks = []
        if item.reverse:
            marks.append("reverse")
        if item.critical is not None:
            bound = item.critical.min if item.critical.min is not None else item.critical.max
            op = "≥" if item.critical.min is not None else "≤"
            marks.append(f"critical {op} {bound}")
        if inst.scale(item.scale).is_number:
            marks.append("number")
        note = f" ({', '.join(marks)})" if marks else ""
        out.append(
            "| `{}`{} | {} | {} | {} | {} | {} | {} | {} |".format(
                item.id,
                note,
                _cell(item.text.da),
                item.domain,
                ", ".join(f"`{c}`" for c in codes) or "–",
                _join([m[0] for m in maps]),
                _join([m[1] for m in maps]),
                _join([m[2] for m in maps]),
                _join([m[3] for m in maps]),
            )
        )
    return out


def render_generated() -> str:
    """The generated part of the page, markers included."""
    forms = [get_instrument(i) for i in FORMS]
    lines = [BEGIN, ""]
    for inst in forms:
        counts = {d: len(inst.items_in(d)) for d in inst.domain_ids}
        lines += [
            f"### {inst.title.en} (`{inst.key}`)",
            "",
            f"Ages {inst.age_years.min:g} to under {inst.age_years.max:g}, "
            f"{len(inst.items)} items: " + ", ".join(f"{d} {n}" for d, n in counts.items()) + ".",
            "",
            *_rows(inst),
            "",
        ]
    lines += [
        "### Gaps closed",
        "",
        "| gap named in issue 17 | items that close it |",
        "|---|---|",
    ]
    for gap, codes in GAPS:
        cells = []
        for inst in forms:
            ids = [i.id for i in inst.items if any(e.code in codes for e in i.evidences)]
            if ids:
                cells.append(f"{inst.id}: " + ", ".join(f"`{x}`" for x in ids))
        if not cells:
            raise ValueError(f"gap {gap!r} is not closed by any age-fitted form")
        lines.append(f"| {gap} | {'; '.join(cells)} |")
    lines += ["", END]
    return "\n".join(lines)


def write(path: Path = DOC) -> None:
    """Replace the generated part of ``path`` (between the markers) with a fresh render."""
    text = path.read_text(encoding="utf-8")
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    path.write_text(text[:start] + render_generated() + text[stop:], encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOC)
